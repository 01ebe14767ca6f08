//! Tokens verify only as signed, expire, and name nothing but what was signed.

use super::*;

fn keys(secret: &str) -> AuthKeys {
    AuthKeys::derive(&SecretString::from(secret))
}

fn claims() -> ParticipantClaims {
    ParticipantClaims {
        campaign: "safety-month".to_owned(),
        participant: 42,
        unit: "110101".to_owned(),
        expires_at: "2026-07-01T00:00:00Z".parse().expect("instant"),
    }
}

fn before_expiry() -> Timestamp {
    "2026-06-15T00:00:00Z".parse().expect("instant")
}

#[test]
fn a_signed_token_verifies_to_its_claims() {
    let keys = keys("a test secret of enough length, 32+");
    let token = keys.sign(&claims());
    assert!(token.starts_with("1.safety-month.42.110101."), "{token}");
    assert_eq!(keys.verify(&token, before_expiry()), Ok(claims()));
}

#[test]
fn altered_foreign_and_garbage_tokens_are_invalid() {
    let keys = keys("a test secret of enough length, 32+");
    let token = keys.sign(&claims());
    let other = self::keys("another secret entirely, also long").sign(&claims());
    let altered_participant = token.replacen(".42.", ".43.", 1);
    let altered_unit = token.replacen(".110101.", ".110102.", 1);
    let mut flipped = token.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ASCII");
    let cases = [
        (other.as_str(), "signed with another secret"),
        (altered_participant.as_str(), "another participant"),
        (altered_unit.as_str(), "another unit"),
        (flipped.as_str(), "a changed signature"),
        ("", "empty"),
        ("garbage", "no signature"),
        ("1.a.b.c.d.", "an empty signature"),
        (
            "1.safety-month.42.110101.999.!!!!",
            "a signature that is not base64",
        ),
    ];
    for (token, why) in cases {
        assert_eq!(
            keys.verify(token, before_expiry()),
            Err(TokenError::Invalid),
            "{why}"
        );
    }
}

#[test]
fn a_token_expires_at_its_instant() {
    let keys = keys("a test secret of enough length, 32+");
    let token = keys.sign(&claims());
    assert_eq!(
        keys.verify(&token, claims().expires_at),
        Err(TokenError::Expired)
    );
}

#[test]
fn phone_hashes_are_keyed_and_per_campaign() {
    let phone = Phone::parse("13812345678").expect("valid");
    let a = keys("a test secret of enough length, 32+");
    let b = keys("another secret entirely, also long");
    assert_eq!(a.phone_hash("c1", &phone), a.phone_hash("c1", &phone));
    assert_ne!(a.phone_hash("c1", &phone), b.phone_hash("c1", &phone));
    assert_ne!(a.phone_hash("c1", &phone), a.phone_hash("c2", &phone));
}
