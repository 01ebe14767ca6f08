//! Signed participant tokens, organizer session tokens and keyed phone hashes.
//!
//! A token is readable text and an HMAC-SHA256 over it:
//! `2.<key id>.<campaign>.<participant>.<unit>.<expires, Unix s>.<MAC, base64url>`. Verifying
//! needs the secret and nothing else (docs/design.md §2.1: no lookup, any replica). Key ids,
//! campaign ids and unit codes never contain a dot, so the fields split unambiguously.
//!
//! An organizer session token is `o2.<key id>.<organizer id>.<session epoch>.<expires, Unix
//! s>.<MAC>`. Unlike a participant's, it is checked against the account on every request
//! (organizer requests are few and not the hot path): the epoch must still be the account's, so
//! logout and a password change end it at once on every replica.
//!
//! Rotation: tokens are signed with `auth.secret` under `auth.key_id`. After a rotation the
//! previous secret (`auth.previous_*`) still verifies the tokens that name its key id until
//! `auth.previous_valid_until`, then they are refused as expired; a token of the format before
//! key ids (`1.`, `o1.`) is tried with the current secret, then the previous one within its
//! window. Phone hashes do not rotate: they are keyed by `auth.phone_secret` when set (it must
//! be the secret the phones were registered under), else by `auth.secret`.
//!
//! Three keys are derived from a secret, one per purpose, so a MAC made for one purpose can
//! never be replayed for another.
//!
//! Sealed phones (issue 19): a campaign with prizes keeps each registration's phone number for
//! the winners' notification, sealed with ChaCha20-Poly1305 under a fourth key derived from the
//! phone secret (so it never rotates either), a random nonce per seal and the campaign id as
//! associated data: `1.<nonce and ciphertext, base64url>`. The record holds only that text; only
//! a service holding the secret opens it, and only the winners' export does (docs/prizes.md).

use std::fmt::{self, Write as _};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit as _, Payload};
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use rand::Rng;
use safequiz_domain::participant::Phone;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{AuthSettings, DEFAULT_KEY_ID};

mod recent;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const TOKEN_VERSION: &str = "2";
const SESSION_VERSION: &str = "o2";
/// The formats before key ids: verified, never signed any more.
const LEGACY_TOKEN_VERSION: &str = "1";
const LEGACY_SESSION_VERSION: &str = "o1";

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
    /// The campaign id, then the unit id, in one text: every participant request verifies a
    /// token, and one allocation holds both (docs/performance.md, "Allocations per request").
    texts: String,
    /// Where the campaign id ends in `texts`.
    campaign_len: usize,
    /// The participant id.
    pub participant: u64,
    /// When the token stops being accepted.
    pub expires_at: Timestamp,
}

impl ParticipantClaims {
    /// The claims of `participant` of `campaign`, in `unit`, until `expires_at`.
    pub fn new(
        campaign: &str,
        participant: u64,
        unit: &str,
        expires_at: Timestamp,
    ) -> ParticipantClaims {
        let mut texts = String::with_capacity(campaign.len() + unit.len());
        texts.push_str(campaign);
        texts.push_str(unit);
        ParticipantClaims {
            texts,
            campaign_len: campaign.len(),
            participant,
            expires_at,
        }
    }

    /// The campaign the participant registered for.
    pub fn campaign(&self) -> &str {
        &self.texts[..self.campaign_len]
    }

    /// The participant's unit.
    pub fn unit(&self) -> &str {
        &self.texts[self.campaign_len..]
    }
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

/// The keys derived from one signing secret.
#[derive(Clone)]
struct SigningKeys {
    id: String,
    token: HmacSha256,
    session: HmacSha256,
    save_ticket: HmacSha256,
}

impl SigningKeys {
    fn derive(id: &str, secret: &SecretString) -> SigningKeys {
        SigningKeys {
            id: id.to_owned(),
            token: derive(secret, b"safequiz token key v1"),
            session: derive(secret, b"safequiz organizer session key v1"),
            save_ticket: derive(secret, b"safequiz save ticket key v1"),
        }
    }
}

/// The purpose-specific key `purpose` of `secret`.
fn derive(secret: &SecretString, purpose: &[u8]) -> HmacSha256 {
    let mut mac = keyed(secret.expose_secret().as_bytes());
    mac.update(purpose);
    keyed(&mac.finalize().into_bytes())
}

/// Which of a token's two MAC keys to use.
#[derive(Clone, Copy)]
enum Purpose {
    Token,
    Session,
}

impl Purpose {
    fn key(self, keys: &SigningKeys) -> &HmacSha256 {
        match self {
            Purpose::Token => &keys.token,
            Purpose::Session => &keys.session,
        }
    }

    /// The version prefixes of this purpose: the current one and the one before key ids.
    fn versions(self) -> (&'static str, &'static str) {
        match self {
            Purpose::Token => (TOKEN_VERSION, LEGACY_TOKEN_VERSION),
            Purpose::Session => (SESSION_VERSION, LEGACY_SESSION_VERSION),
        }
    }
}

/// The keys derived from the secrets; cheap to clone per use.
#[derive(Clone)]
pub struct AuthKeys {
    /// Which keys these are, for the tokens each thread has verified lately ([`recent`]): two
    /// `AuthKeys` made apart never share a remembered token, even with the same secret.
    instance: u64,
    current: SigningKeys,
    /// The secret before the last rotation, and the instant its tokens stop being accepted.
    previous: Option<(SigningKeys, Timestamp)>,
    phone: HmacSha256,
    phone_seal: ChaCha20Poly1305,
}

/// The version prefix of a sealed phone.
const SEAL_VERSION: &str = "1";
/// The nonce's length, bytes (ChaCha20-Poly1305's 96 bits).
const SEAL_NONCE: usize = 12;

/// The AEAD key that seals phones, derived from the phone secret.
fn seal_key(secret: &SecretString) -> ChaCha20Poly1305 {
    let key = derive(secret, b"safequiz phone seal v1")
        .chain_update(b"key")
        .finalize()
        .into_bytes();
    ChaCha20Poly1305::new_from_slice(&key).expect("a 32-byte key")
}

impl AuthKeys {
    /// Keys from one `secret` under the default key id, with no rotation (benches and tests).
    pub fn derive(secret: &SecretString) -> AuthKeys {
        AuthKeys::new(DEFAULT_KEY_ID, secret)
    }

    /// Signs with `secret` under `key_id`; phones are hashed with `secret` too.
    pub fn new(key_id: &str, secret: &SecretString) -> AuthKeys {
        AuthKeys {
            instance: recent::new_instance(),
            current: SigningKeys::derive(key_id, secret),
            previous: None,
            phone: derive(secret, b"safequiz phone key v1"),
            phone_seal: seal_key(secret),
        }
    }

    /// Also verifies tokens signed with `secret` under `key_id` until `valid_until`.
    pub fn with_previous(
        mut self,
        key_id: &str,
        secret: &SecretString,
        valid_until: Timestamp,
    ) -> AuthKeys {
        self.previous = Some((SigningKeys::derive(key_id, secret), valid_until));
        self
    }

    /// Hashes phones with `secret` (the one they were registered under) instead.
    pub fn with_phone_secret(mut self, secret: &SecretString) -> AuthKeys {
        self.phone = derive(secret, b"safequiz phone key v1");
        self.phone_seal = seal_key(secret);
        self
    }

    /// The keys `[auth]` describes (validated: see `config`).
    pub fn from_settings(auth: &AuthSettings) -> AuthKeys {
        let mut keys = AuthKeys::new(&auth.key_id, &auth.secret);
        if let Some(previous) = auth.previous() {
            keys = keys.with_previous(&previous.key_id, &previous.secret, previous.valid_until);
        }
        if let Some(phone) = &auth.phone_secret {
            keys = keys.with_phone_secret(phone);
        }
        keys
    }

    /// Signs a token carrying `claims`.
    pub fn sign(&self, claims: &ParticipantClaims) -> String {
        let token = format!(
            "{TOKEN_VERSION}.{}.{}.{}.{}.{}",
            self.current.id,
            claims.campaign(),
            claims.participant,
            claims.unit(),
            claims.expires_at.as_second()
        );
        signed_text(&self.current.token, token)
    }

    /// A save ticket: `fields` and a MAC, under the current key, of `bound` (what the request
    /// carries elsewhere: campaign, participant, attempt) and `fields` together
    /// (`http::attempts`, "Save tickets" in docs/design.md). Tickets live as long as an
    /// attempt, so they are not verified under a previous key: after a rotation an older ticket
    /// is refused and its save takes the checked way, which is only slower.
    pub fn sign_save_ticket(&self, bound: &impl fmt::Display, fields: &str) -> String {
        let mut ticket = String::with_capacity(fields.len() + 1 + SAVE_TICKET_MAC_TEXT);
        ticket.push_str(fields);
        ticket.push('.');
        let tag = save_ticket_mac(&self.current.save_ticket, bound, fields).finalize();
        URL_SAFE_NO_PAD.encode_string(&tag.into_bytes()[..SAVE_TICKET_MAC], &mut ticket);
        ticket
    }

    /// The fields of `ticket` when its MAC is right for `bound`.
    pub fn verify_save_ticket<'t>(
        &self,
        bound: &impl fmt::Display,
        ticket: &'t str,
    ) -> Option<&'t str> {
        let (fields, tag_text) = ticket.rsplit_once('.')?;
        let mut tag = [0u8; SAVE_TICKET_MAC];
        match URL_SAFE_NO_PAD.decode_slice(tag_text, &mut tag) {
            Ok(SAVE_TICKET_MAC) => {}
            _ => return None,
        }
        // Constant-time comparison, as for tokens.
        save_ticket_mac(&self.current.save_ticket, bound, fields)
            .verify_truncated_left(&tag)
            .ok()?;
        Some(fields)
    }

    /// The fields of `token` after its version and key id, when a key it may name verifies
    /// its MAC at `now`: `Expired` for a previous key's token after the rotation window.
    fn verified_fields<'t>(
        &self,
        purpose: Purpose,
        token: &'t str,
        now: Timestamp,
    ) -> Result<&'t str, TokenError> {
        let (version, rest) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let (current_version, legacy_version) = purpose.versions();
        let previous_in_window = || {
            self.previous
                .as_ref()
                .map(|(keys, until)| (keys, now < *until))
        };
        if version == current_version {
            let (id, _) = rest.split_once('.').ok_or(TokenError::Invalid)?;
            let (keys, in_window) = if id == self.current.id {
                (&self.current, true)
            } else {
                match previous_in_window() {
                    Some((keys, in_window)) if keys.id == id => (keys, in_window),
                    _ => return Err(TokenError::Invalid),
                }
            };
            let signed = verified_text(purpose.key(keys), token)?;
            if !in_window {
                return Err(TokenError::Expired);
            }
            signed
                .get(version.len() + 1 + id.len() + 1..)
                .ok_or(TokenError::Invalid)
        } else if version == legacy_version {
            let fields =
                |signed: &'t str| signed.get(version.len() + 1..).ok_or(TokenError::Invalid);
            match verified_text(purpose.key(&self.current), token) {
                Ok(signed) => fields(signed),
                Err(error) => match previous_in_window() {
                    Some((keys, in_window)) => {
                        let signed = verified_text(purpose.key(keys), token)?;
                        if in_window {
                            fields(signed)
                        } else {
                            Err(TokenError::Expired)
                        }
                    }
                    None => Err(error),
                },
            }
        } else {
            Err(TokenError::Invalid)
        }
    }

    /// Verifies `token` at instant `now`.
    ///
    /// A token this thread verified lately under the current key is found among them
    /// ([`recent`]) and its MAC is not computed again; its expiry is checked all the same.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<ParticipantClaims, TokenError> {
        if let Some(claims) = recent::claims(self.instance, token) {
            if now >= claims.expires_at {
                return Err(TokenError::Expired);
            }
            return Ok(claims);
        }
        let claims = self.verify_signed(token, now)?;
        if self.signed_by_current_key(token) {
            recent::remember(self.instance, token, &claims);
        }
        Ok(claims)
    }

    /// Whether `token` names the current key: only such a token is remembered, as nothing but
    /// its expiry can end it (a previous key's tokens end with the rotation window too).
    fn signed_by_current_key(&self, token: &str) -> bool {
        token
            .strip_prefix(TOKEN_VERSION)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.strip_prefix(self.current.id.as_str()))
            .is_some_and(|rest| rest.starts_with('.'))
    }

    /// [`AuthKeys::verify`] with the MAC computed.
    fn verify_signed(&self, token: &str, now: Timestamp) -> Result<ParticipantClaims, TokenError> {
        let signed = self.verified_fields(Purpose::Token, token, now)?;
        let mut fields = signed.split('.');
        let (Some(campaign), Some(participant), Some(unit), Some(expires), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
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
        Ok(ParticipantClaims::new(
            campaign,
            participant,
            unit,
            expires_at,
        ))
    }

    /// Signs an organizer session token carrying `claims`.
    pub fn sign_session(&self, claims: &SessionClaims) -> String {
        let token = format!(
            "{SESSION_VERSION}.{}.{}.{}.{}",
            self.current.id,
            claims.organizer,
            claims.epoch,
            claims.expires_at.as_second()
        );
        signed_text(&self.current.session, token)
    }

    /// Verifies an organizer session token at instant `now` (signature and expiry only).
    pub fn verify_session(&self, token: &str, now: Timestamp) -> Result<SessionClaims, TokenError> {
        let signed = self.verified_fields(Purpose::Session, token, now)?;
        let fields: Vec<&str> = signed.split('.').collect();
        let [organizer, epoch, expires] = fields[..] else {
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

    /// The MAC of a study-hour certificate's serial (`http::certificates`): the first 10 bytes
    /// of an HMAC of the campaign and participant, in hex. Keyed like the phone hashes, by the
    /// secret that never rotates, so a certificate stays verifiable after a token key rotation;
    /// the `certificate:` prefix keeps it apart from every phone hash (which MACs digits).
    pub fn certificate_mac(&self, campaign: &str, participant: u64) -> String {
        let mut mac = self.phone.clone();
        mac.update(campaign.as_bytes());
        mac.update(b"\0certificate:");
        mac.update(participant.to_string().as_bytes());
        let digest = mac.finalize().into_bytes();
        digest[..10]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// `phone` sealed for the record of `campaign`: `1.<nonce and ciphertext, base64url>`, a
    /// different text each time (a random nonce), opened only by [`AuthKeys::open_phone`] with
    /// the same phone secret and campaign.
    pub fn seal_phone(&self, campaign: &str, phone: &Phone) -> String {
        let mut nonce = [0u8; SEAL_NONCE];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .phone_seal
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: phone.digits().as_bytes(),
                    aad: campaign.as_bytes(),
                },
            )
            .expect("sealing a short text cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        let mut text = format!("{SEAL_VERSION}.");
        URL_SAFE_NO_PAD.encode_string(bytes, &mut text);
        text
    }

    /// The phone number `sealed` holds, when it was sealed by [`AuthKeys::seal_phone`] for
    /// `campaign` under this phone secret and is intact; `None` otherwise.
    pub fn open_phone(&self, campaign: &str, sealed: &str) -> Option<String> {
        let (version, body) = sealed.split_once('.')?;
        if version != SEAL_VERSION {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).ok()?;
        if bytes.len() <= SEAL_NONCE {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(SEAL_NONCE);
        let plain = self
            .phone_seal
            .decrypt(
                nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad: campaign.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
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

/// Bytes of a save ticket's MAC kept (128 bits), and the length of their base64url text.
const SAVE_TICKET_MAC: usize = 16;
const SAVE_TICKET_MAC_TEXT: usize = 22;

/// The MAC of `bound`'s text, a newline and `fields`. `bound` is written straight into the MAC
/// (no text is built for it: a save verifies one on every request).
fn save_ticket_mac(key: &HmacSha256, bound: &impl fmt::Display, fields: &str) -> HmacSha256 {
    let mut mac = key.clone();
    // Feeding the MAC cannot fail.
    let _ = write!(MacText(&mut mac), "{bound}");
    mac.update(b"\n");
    mac.update(fields.as_bytes());
    mac
}

/// Text written into a MAC as its bytes.
struct MacText<'a>(&'a mut HmacSha256);

impl fmt::Write for MacText<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.0.update(text.as_bytes());
        Ok(())
    }
}

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; the error branch cannot happen.
    <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

#[cfg(test)]
mod tests;
