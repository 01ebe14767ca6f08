//! Organizer passwords: argon2id hashes, one-time passwords and the password rule.
//!
//! Hashing is deliberately slow (argon2id with the crate's default cost: 19 MiB, 2 passes,
//! about 20-40 ms of one core here), so handlers run it on a blocking thread and login is
//! rate-limited (see `http/organizer.rs`). Only the PHC string (`$argon2id$v=19$...`) is
//! stored; it carries its own salt and parameters, so a later cost increase still verifies old
//! hashes.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngExt;

/// Characters of one-time passwords: no 0/O, 1/l/I, which people misread when a password is
/// passed on by phone or on paper.
const ONE_TIME_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";

/// Length of a one-time password: 14 characters of 56 are about 81 bits.
const ONE_TIME_LENGTH: usize = 14;

/// Fewest characters of a chosen password.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Most characters of a password (argon2 hashes any length; this bounds the work per login).
pub const MAX_PASSWORD_CHARS: usize = 128;

/// A fresh random one-time password, for `safequiz organizer add` and password resets.
pub fn one_time_password() -> String {
    let mut rng = rand::rng();
    (0..ONE_TIME_LENGTH)
        .map(|_| char::from(ONE_TIME_ALPHABET[rng.random_range(0..ONE_TIME_ALPHABET.len())]))
        .collect()
}

/// The hash of a random password nobody knows, made once: login verifies against it when the
/// username does not exist, so that both answers cost the same time and reveal nothing.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password(&one_time_password()).unwrap_or_default());
    &DUMMY
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|error| error.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| error.to_string())
}

/// Whether `password` matches the stored PHC string; a malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// Why a chosen password is refused; the message is shown to the organizer.
pub fn check_new_password(username: &str, password: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err("新密码至少 10 个字符");
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err("新密码最多 128 个字符");
    }
    if password.eq_ignore_ascii_case(username) {
        return Err("新密码不能与用户名相同");
    }
    let letters = password.chars().any(char::is_alphabetic);
    let digits = password.chars().any(|c| c.is_ascii_digit());
    if !(letters && digits) {
        return Err("新密码需同时包含字母和数字");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse 42").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse 42", &hash));
        assert!(!verify_password("correct horse 43", &hash));
        assert!(!verify_password("correct horse 42", "not a hash"));
    }

    #[test]
    fn one_time_passwords_avoid_misread_characters_and_differ() {
        let first = one_time_password();
        assert_eq!(first.chars().count(), ONE_TIME_LENGTH);
        assert!(!first.contains(['0', 'O', '1', 'l', 'I']), "{first}");
        assert_ne!(first, one_time_password());
    }

    #[test]
    fn the_password_rule_names_what_is_missing() {
        assert_eq!(
            check_new_password("zhang", "short1"),
            Err("新密码至少 10 个字符")
        );
        assert_eq!(
            check_new_password("zhang", "onlyletters"),
            Err("新密码需同时包含字母和数字")
        );
        assert_eq!(
            check_new_password("zhang12345", "ZHANG12345"),
            Err("新密码不能与用户名相同")
        );
        assert_eq!(check_new_password("zhang", "安全生产月2026年"), Ok(()));
    }
}
