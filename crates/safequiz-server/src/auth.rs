//! Signed participant tokens, organizer session tokens and keyed phone hashes.
//!
//! A token is readable text and an HMAC-SHA256 over it:
//! `1.<campaign>.<participant>.<unit>.<expires, Unix s>.<MAC, base64url>`. Verifying needs the
//! secret and nothing else (docs/design.md §2.1: no lookup, any replica). Campaign ids and unit
//! codes never contain a dot, so the fields split unambiguously.
//!
//! An organizer session token is `o1.<organizer id>.<session epoch>.<expires, Unix s>.<MAC>`.
//! Unlike a participant's, it is checked against the account on every request (organizer
//! requests are few and not the hot path): the epoch must still be the account's, so logout and
//! a password change end it at once on every replica.
//!
//! Three keys are derived from `auth.secret`, one per purpose, so a MAC made for one purpose
//! can never be replayed for another. Changing the secret logs everybody out and makes
//! registered phones unrecognizable: never change it during a campaign.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use safequiz_domain::participant::Phone;
use secrecy::{ExposeSecret, SecretString};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const TOKEN_VERSION: &str = "1";
const SESSION_VERSION: &str = "o1";

/// What a verified organizer session token says; the account still has to confirm the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionClaims {
    /// The organizer account.
    pub organizer: i64,
    /// The account's session epoch when the token was issued.
    pub epoch: i64,
    /// When the token stops being accepted.
    pub expires_at: Timestamp,
}

/// What a verified participant token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParticipantClaims {
    /// The campaign the participant registered for.
    pub campaign: String,
    /// The participant id.
    pub participant: u64,
    /// The participant's unit.
    pub unit: String,
    /// When the token stops being accepted.
    pub expires_at: Timestamp,
}

/// Why a token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token this service signed (or altered since).
    #[error("the token is not valid; register again")]
    Invalid,
    /// Signed by us, but too old.
    #[error("the token has expired; register again with the same name and phone")]
    Expired,
}

/// The keys derived from the secret; cheap to clone per use.
#[derive(Clone)]
pub struct AuthKeys {
    token: HmacSha256,
    phone: HmacSha256,
    session: HmacSha256,
}

impl AuthKeys {
    /// Derives the token and phone keys from `secret`.
    pub fn derive(secret: &SecretString) -> AuthKeys {
        let derive = |purpose: &[u8]| {
            let mut mac = keyed(secret.expose_secret().as_bytes());
            mac.update(purpose);
            keyed(&mac.finalize().into_bytes())
        };
        AuthKeys {
            token: derive(b"safequiz token key v1"),
            phone: derive(b"safequiz phone key v1"),
            session: derive(b"safequiz organizer session key v1"),
        }
    }

    /// Signs a token carrying `claims`.
    pub fn sign(&self, claims: &ParticipantClaims) -> String {
        let token = format!(
            "{TOKEN_VERSION}.{}.{}.{}.{}",
            claims.campaign,
            claims.participant,
            claims.unit,
            claims.expires_at.as_second()
        );
        signed_text(&self.token, token)
    }

    /// Verifies `token` at instant `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<ParticipantClaims, TokenError> {
        let signed = verified_text(&self.token, token)?;
        let mut fields = signed.split('.');
        let (
            Some(TOKEN_VERSION),
            Some(campaign),
            Some(participant),
            Some(unit),
            Some(expires),
            None,
        ) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        )
        else {
            return Err(TokenError::Invalid);
        };
        let participant = participant.parse().map_err(|_| TokenError::Invalid)?;
        let expires_at = expires
            .parse::<i64>()
            .ok()
            .and_then(|seconds| Timestamp::from_second(seconds).ok())
            .ok_or(TokenError::Invalid)?;
        if now >= expires_at {
            return Err(TokenError::Expired);
        }
        Ok(ParticipantClaims {
            campaign: campaign.to_owned(),
            participant,
            unit: unit.to_owned(),
            expires_at,
        })
    }

    /// Signs an organizer session token carrying `claims`.
    pub fn sign_session(&self, claims: &SessionClaims) -> String {
        let token = format!(
            "{SESSION_VERSION}.{}.{}.{}",
            claims.organizer,
            claims.epoch,
            claims.expires_at.as_second()
        );
        signed_text(&self.session, token)
    }

    /// Verifies an organizer session token at instant `now` (signature and expiry only).
    pub fn verify_session(&self, token: &str, now: Timestamp) -> Result<SessionClaims, TokenError> {
        let signed = verified_text(&self.session, token)?;
        let fields: Vec<&str> = signed.split('.').collect();
        let [SESSION_VERSION, organizer, epoch, expires] = fields[..] else {
            return Err(TokenError::Invalid);
        };
        let organizer = organizer.parse().map_err(|_| TokenError::Invalid)?;
        let epoch = epoch.parse().map_err(|_| TokenError::Invalid)?;
        let expires_at = expires
            .parse::<i64>()
            .ok()
            .and_then(|seconds| Timestamp::from_second(seconds).ok())
            .ok_or(TokenError::Invalid)?;
        if now >= expires_at {
            return Err(TokenError::Expired);
        }
        Ok(SessionClaims {
            organizer,
            epoch,
            expires_at,
        })
    }

    /// The keyed hash of a phone number within a campaign: 16 bytes of HMAC-SHA256.
    ///
    /// Keyed, so a stolen database cannot be turned back into numbers by hashing all 10^10
    /// candidates without the secret.
    pub fn phone_hash(&self, campaign: &str, phone: &Phone) -> [u8; 16] {
        let mut mac = self.phone.clone();
        mac.update(campaign.as_bytes());
        mac.update(b"\0");
        mac.update(phone.digits().as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut hash = [0u8; 16];
        hash.copy_from_slice(&digest[..16]);
        hash
    }
}

/// `text.<MAC of text under key>`.
fn signed_text(key: &HmacSha256, mut text: String) -> String {
    let mut mac = key.clone();
    mac.update(text.as_bytes());
    text.push('.');
    URL_SAFE_NO_PAD.encode_string(mac.finalize().into_bytes(), &mut text);
    text
}

/// The signed text of `token` when its MAC under `key` is right.
fn verified_text<'t>(key: &HmacSha256, token: &'t str) -> Result<&'t str, TokenError> {
    let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
    let mut expected = [0u8; 32];
    match URL_SAFE_NO_PAD.decode_slice(signature, &mut expected) {
        Ok(32) => {}
        _ => return Err(TokenError::Invalid),
    }
    let mut mac = key.clone();
    mac.update(signed.as_bytes());
    // Constant-time comparison: a timing difference must not reveal a valid prefix.
    mac.verify_slice(&expected)
        .map_err(|_| TokenError::Invalid)?;
    Ok(signed)
}

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; the error branch cannot happen.
    <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

#[cfg(test)]
mod tests;
