//! TOTP, the organizers' optional second factor (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1,
//! 30-second steps from the Unix epoch, 6 digits, and a code of the step before or after also
//! accepted (a phone's clock a little off). Issue 20; docs/privacy.md.
//!
//! The secret is 20 random bytes, shown to the organizer once as base32 in an `otpauth://` URI
//! (what authenticator apps scan) and kept in SQL in hex. A code's step is recorded when it is
//! accepted (`Store::use_totp_step`), so the same code cannot log in twice.

use hmac::{KeyInit, Mac};
use rand::{Rng, RngExt};

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;

/// Digits of a code.
pub const DIGITS: u32 = 6;

/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

/// RFC 4226 HOTP: the `digits`-digit code of `secret` at `counter`.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac =
        <HmacSha1 as KeyInit>::new_from_slice(secret).expect("HMAC accepts a key of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = (u32::from(digest[offset]) & 0x7f) << 24
        | u32::from(digest[offset + 1]) << 16
        | u32::from(digest[offset + 2]) << 8
        | u32::from(digest[offset + 3]);
    binary % 10u32.pow(digits)
}

/// The step of the Unix instant `unix_secs`.
pub fn step_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The step `code` is right for at `unix_secs` (this step, the one before or the one after),
/// if any.
pub fn verify(secret: &[u8], unix_secs: i64, code: &str) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let now = step_of(unix_secs);
    [now - 1, now, now + 1]
        .into_iter()
        .filter(|step| *step >= 0)
        .find(|step| hotp(secret, *step as u64, DIGITS) == wanted)
}

/// A new random secret.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    secret
}

/// RFC 4648 base32 (`A-Z2-7`) without padding, as authenticator apps read secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Lowercase hex, as the secret is kept in SQL.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The bytes of a hex secret; `None` when it is not hex.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The `otpauth://totp/...` URI an authenticator app scans, for `username` under `issuer`.
pub fn otpauth_uri(issuer: &str, username: &str, secret: &[u8]) -> String {
    let escape = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        escape(issuer),
        escape(username),
        base32(secret),
        escape(issuer)
    )
}

/// Ten fresh recovery codes, `xxxx-xxxx` of lowercase letters and digits without look-alikes.
pub fn recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..10)
        .map(|_| {
            let mut code: String = (0..8)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect();
            code.insert(4, '-');
            code
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows: the 8-digit codes of the ASCII secret
    /// "12345678901234567890" at each time; a 6-digit code is the last six digits.
    const VECTORS: [(i64, u32); 6] = [
        (59, 94287082),
        (1111111109, 7081804),
        (1111111111, 14050471),
        (1234567890, 89005924),
        (2000000000, 69279037),
        (20000000000, 65353130),
    ];

    #[test]
    fn the_rfc_6238_sha1_vectors_hold() {
        let secret = b"12345678901234567890";
        for (time, code) in VECTORS {
            let step = step_of(time) as u64;
            assert_eq!(hotp(secret, step, 8), code, "8 digits at {time}");
            assert_eq!(
                hotp(secret, step, 6),
                code % 1_000_000,
                "6 digits at {time}"
            );
            let six = format!("{:06}", code % 1_000_000);
            assert_eq!(verify(secret, time, &six), Some(step as i64), "at {time}");
        }
    }

    #[test]
    fn a_code_of_the_neighbouring_steps_is_accepted_and_no_other() {
        let secret = b"12345678901234567890";
        let code = |step: i64| format!("{:06}", hotp(secret, step as u64, 6));
        let now = 1_234_567_890;
        let step = step_of(now);
        assert_eq!(verify(secret, now, &code(step - 1)), Some(step - 1));
        assert_eq!(verify(secret, now, &code(step + 1)), Some(step + 1));
        assert_eq!(verify(secret, now, &code(step - 2)), None);
        assert_eq!(verify(secret, now, &code(step + 2)), None);
        assert_eq!(verify(secret, now, "12345"), None, "too short");
        assert_eq!(verify(secret, now, "abcdef"), None, "not digits");
    }

    #[test]
    fn base32_and_hex_spell_the_secret() {
        // RFC 4648 section 10.
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        let secret = new_secret();
        assert_eq!(from_hex(&to_hex(&secret)), Some(secret));
        assert!(otpauth_uri("安全 竞赛", "a b", b"12345").contains("secret=GEZDGNBV"));
        let codes = recovery_codes();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|code| code.len() == 9));
    }
}
