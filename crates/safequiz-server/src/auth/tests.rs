//! Tokens verify only as signed, expire, and name nothing but what was signed.

use super::*;

fn keys(secret: &str) -> AuthKeys {
    AuthKeys::derive(&SecretString::from(secret))
}

fn claims() -> ParticipantClaims {
    ParticipantClaims::new(
        "safety-month",
        42,
        "110101",
        "2026-07-01T00:00:00Z".parse().expect("instant"),
    )
}

fn before_expiry() -> Timestamp {
    "2026-06-15T00:00:00Z".parse().expect("instant")
}

#[test]
fn a_signed_token_verifies_to_its_claims() {
    let keys = keys("a test secret of enough length, 32+");
    let token = keys.sign(&claims());
    assert!(token.starts_with("2.k1.safety-month.42.110101."), "{token}");
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
        ("2.k1.AAAA", "no fields"),
        ("1.AAAA", "no fields in the old format"),
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

const OLD: &str = "the secret before the rotation, 32+ bytes";
const NEW: &str = "the secret after the rotation, also 32+ bytes";

fn rotated(until: &str) -> AuthKeys {
    AuthKeys::new("k2", &SecretString::from(NEW))
        .with_previous(
            "k1",
            &SecretString::from(OLD),
            until.parse().expect("instant"),
        )
        .with_phone_secret(&SecretString::from(OLD))
}

/// A token in the format before key ids (`1.` / `o1.`), signed with `secret`.
fn legacy_token(secret: &str, text: &str) -> String {
    let keys = SigningKeys::derive("unused", &SecretString::from(secret));
    signed_text(&keys.token, text.to_owned())
}

#[test]
fn after_a_rotation_old_tokens_verify_until_the_window_ends_and_new_ones_name_the_new_key() {
    let before = keys(OLD).sign(&claims());
    let session = SessionClaims {
        organizer: 7,
        epoch: 3,
        expires_at: claims().expires_at,
    };
    let old_session = keys(OLD).sign_session(&session);
    let legacy = legacy_token(OLD, "1.safety-month.42.110101.1782864000");
    let keys = rotated("2026-06-20T00:00:00Z");
    let in_window = before_expiry();
    let after_window: Timestamp = "2026-06-20T00:00:00Z".parse().expect("instant");

    let after = keys.sign(&claims());
    assert!(after.starts_with("2.k2."), "{after}");
    assert!(keys.sign_session(&session).starts_with("o2.k2.7.3."));
    assert_eq!(keys.verify(&after, after_window), Ok(claims()));
    assert_eq!(keys.verify(&before, in_window), Ok(claims()));
    // Verified in the window, a previous key's token is not remembered: the window ends it.
    assert!(recent::claims(keys.instance, &before).is_none());
    assert_eq!(keys.verify_session(&old_session, in_window), Ok(session));
    assert_eq!(keys.verify(&legacy, in_window), Ok(claims()));
    assert!(recent::claims(keys.instance, &legacy).is_none());
    // A token under the current key is.
    assert!(recent::claims(keys.instance, &after).is_some());

    assert_eq!(keys.verify(&before, after_window), Err(TokenError::Expired));
    assert_eq!(
        keys.verify_session(&old_session, after_window),
        Err(TokenError::Expired)
    );
    assert_eq!(keys.verify(&legacy, after_window), Err(TokenError::Expired));

    // A token claiming the old key id but signed with the new secret, or naming a key id
    // nobody has, is not ours.
    let relabelled = after.replacen("2.k2.", "2.k1.", 1);
    assert_eq!(
        keys.verify(&relabelled, in_window),
        Err(TokenError::Invalid)
    );
    let unknown = after.replacen("2.k2.", "2.k9.", 1);
    assert_eq!(keys.verify(&unknown, in_window), Err(TokenError::Invalid));
    let foreign = self::keys("someone else's secret, 32+ bytes long").sign(&claims());
    assert_eq!(keys.verify(&foreign, in_window), Err(TokenError::Invalid));
}

#[test]
fn without_a_rotation_tokens_of_the_format_before_key_ids_still_verify() {
    let keys = keys(OLD);
    let legacy = legacy_token(OLD, "1.safety-month.42.110101.1782864000");
    assert_eq!(keys.verify(&legacy, before_expiry()), Ok(claims()));
    let other = legacy_token(NEW, "1.safety-month.42.110101.1782864000");
    assert_eq!(
        keys.verify(&other, before_expiry()),
        Err(TokenError::Invalid)
    );
}

#[test]
fn phone_hashes_survive_a_rotation_through_the_phone_secret() {
    let phone = Phone::parse("13812345678").expect("valid");
    let before = keys(OLD).phone_hash("c1", &phone);
    assert_eq!(
        rotated("2026-06-20T00:00:00Z").phone_hash("c1", &phone),
        before
    );
    assert_ne!(keys(NEW).phone_hash("c1", &phone), before);
}

#[test]
fn a_sealed_phone_opens_only_with_its_secret_and_campaign_and_intact() {
    let phone = Phone::parse("13812345678").expect("valid");
    let sealer = keys(OLD);
    let sealed = sealer.seal_phone("c1", &phone);
    assert!(
        sealed.starts_with("1.") && !sealed.contains("13812345678"),
        "{sealed}"
    );
    assert_ne!(
        sealer.seal_phone("c1", &phone),
        sealed,
        "a fresh nonce per seal"
    );
    assert_eq!(
        sealer.open_phone("c1", &sealed).as_deref(),
        Some("13812345678")
    );
    assert_eq!(
        rotated("2026-06-20T00:00:00Z")
            .open_phone("c1", &sealed)
            .as_deref(),
        Some("13812345678"),
        "the phone secret outlives a rotation of the token secret"
    );
    assert_eq!(keys(NEW).open_phone("c1", &sealed), None, "another secret");
    assert_eq!(sealer.open_phone("c2", &sealed), None, "another campaign");
    let mut bytes = sealed.into_bytes();
    let last = bytes.len() - 1;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).expect("text");
    assert_eq!(sealer.open_phone("c1", &tampered), None, "tampered");
    for junk in ["", "1.", "2.AAAA", "1.!!!", "1.AAAAAAAAAAAAAAAA"] {
        assert_eq!(sealer.open_phone("c1", junk), None, "{junk:?}");
    }
}

#[test]
fn the_auth_settings_build_the_rotated_keys() {
    let settings = crate::config::AuthSettings {
        secret: SecretString::from(NEW),
        participant_token_ttl_hours: 720,
        organizer_session_hours: 12,
        key_id: "k2".to_owned(),
        previous_secret: Some(SecretString::from(OLD)),
        previous_key_id: Some("k1".to_owned()),
        previous_valid_until: Some("2026-06-20T08:00:00+08:00".to_owned()),
        phone_secret: Some(SecretString::from(OLD)),
        organizer_lockout_failures: 5,
        organizer_lockout_minutes: 30,
        organizer_idle_minutes: 30,
        organizer_password_days: 90,
        organizer_totp_required: false,
    };
    let keys = AuthKeys::from_settings(&settings);
    let before = self::keys(OLD).sign(&claims());
    assert_eq!(keys.verify(&before, before_expiry()), Ok(claims()));
    let end: Timestamp = "2026-06-20T00:00:00Z".parse().expect("instant");
    assert_eq!(keys.verify(&before, end), Err(TokenError::Expired));
    assert!(keys.sign(&claims()).starts_with("2.k2."));
    let phone = Phone::parse("13812345678").expect("valid");
    assert_eq!(
        keys.phone_hash("c1", &phone),
        self::keys(OLD).phone_hash("c1", &phone)
    );
}

#[test]
fn a_remembered_token_still_expires_and_is_not_taken_by_other_keys() {
    let keys_a = keys("a test secret of enough length, 32+");
    let token = keys_a.sign(&claims());
    // Verified twice on this thread: the second is the remembered one.
    assert_eq!(keys_a.verify(&token, before_expiry()), Ok(claims()));
    assert!(recent::claims(keys_a.instance, &token).is_some());
    assert_eq!(keys_a.verify(&token, before_expiry()), Ok(claims()));
    assert_eq!(
        keys_a.verify(&token, claims().expires_at),
        Err(TokenError::Expired)
    );
    // Other keys under the same key id, or the same secret made apart, remember nothing of it.
    let keys_b = keys("another test secret, also 32+ bytes");
    assert_eq!(
        keys_b.verify(&token, before_expiry()),
        Err(TokenError::Invalid)
    );
    let keys_a_again = keys("a test secret of enough length, 32+");
    assert!(recent::claims(keys_a_again.instance, &token).is_none());
    assert_eq!(keys_a_again.verify(&token, before_expiry()), Ok(claims()));
}

#[test]
fn a_token_altered_before_its_remembered_mac_is_refused() {
    let keys = keys("a test secret of enough length, 32+");
    let token = keys.sign(&claims());
    assert_eq!(keys.verify(&token, before_expiry()), Ok(claims()));
    // The same MAC, so the same slot, over another participant and another unit.
    for altered in [
        token.replacen(".42.", ".43.", 1),
        token.replacen(".110101.", ".110102.", 1),
        token.replacen("2.k1.", "2.k1.x", 1),
    ] {
        assert_ne!(altered, token);
        assert_eq!(
            keys.verify(&altered, before_expiry()),
            Err(TokenError::Invalid)
        );
    }
    assert_eq!(keys.verify(&token, before_expiry()), Ok(claims()));
}

#[test]
fn tokens_sharing_a_slot_each_verify_to_their_own_claims() {
    let keys = keys("a test secret of enough length, 32+");
    // Many more tokens than slots: each verifies to its own claims, found or not.
    let tokens: Vec<(String, ParticipantClaims)> = (0..3 * 4096_u64)
        .map(|participant| {
            let claims =
                ParticipantClaims::new("safety-month", participant, "110101", claims().expires_at);
            (keys.sign(&claims), claims)
        })
        .collect();
    for _ in 0..2 {
        for (token, claims) in &tokens {
            assert_eq!(keys.verify(token, before_expiry()).as_ref(), Ok(claims));
        }
    }
}
