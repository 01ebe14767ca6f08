//! Registration: one participant per phone per campaign, found again by the same phone and name.

use crate::keys::{Shard, ShardKeys};
use crate::scripts::REGISTER;
use crate::{HotState, RedisError};

/// A registration as the register script stores it; the phone arrives only hashed and masked.
#[derive(Clone, Copy, Debug)]
pub struct Registration<'a> {
    /// The campaign id.
    pub campaign: &'a str,
    /// The campaign's shard count.
    pub shards: u16,
    /// The phone number's keyed hash (16 bytes of an HMAC).
    pub phone_hash: &'a [u8; 16],
    /// The name as typed (trimmed).
    pub name: &'a str,
    /// The masked phone (`138****5678`).
    pub phone_masked: &'a str,
    /// The unit chosen.
    pub unit: &'a str,
    /// Now, Unix ms.
    pub now_ms: i64,
}

/// The consent given with a registration (issue 20): the notice's version, and for a child
/// under 14 the guardian who consented. Recorded in the stream entry (hence in SQL) when the
/// registration creates the participant; the consent instant is the registration's.
#[derive(Clone, Copy, Debug)]
pub struct RegistrationConsent<'a> {
    /// The campaign notice's `version`.
    pub notice_version: &'a str,
    /// The guardian's name, for a participant under 14.
    pub guardian_name: Option<&'a str>,
}

/// What a new participant's stream entry records beyond the people entry: fields for the record
/// (SQL) only, never kept in a Redis hash, so they cost Redis nothing once flushed. Each one set
/// becomes one field of the entry (`streams::ParticipantEntry`).
#[derive(Clone, Copy, Debug, Default)]
pub struct RecordFields<'a> {
    /// The consent given with the registration (issue 20).
    pub consent: Option<RegistrationConsent<'a>>,
    /// The phone number sealed for the winners' notification (issue 19), for a campaign with
    /// prizes: opaque text only the service's phone key opens.
    pub phone_sealed: Option<&'a str>,
}

impl<'a> RecordFields<'a> {
    /// The entry's field/value pairs, in a fixed order.
    fn pairs(&self) -> impl Iterator<Item = (&'static str, &'a str)> {
        let consent = self
            .consent
            .map(|consent| ("consent", consent.notice_version));
        let guardian = self
            .consent
            .and_then(|consent| consent.guardian_name)
            .filter(|name| !name.is_empty())
            .map(|name| ("guardian", name));
        let phone = self.phone_sealed.map(|sealed| ("phone_sealed", sealed));
        consent.into_iter().chain(guardian).chain(phone)
    }
}

/// What a registration found or made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// A new participant.
    Created {
        /// Their id.
        participant: u64,
        /// Their unit.
        unit: String,
    },
    /// The same phone and name registered before (a new device): the same participant, in
    /// the unit they first chose.
    Existing {
        /// Their id.
        participant: u64,
        /// The unit they registered with first.
        unit: String,
    },
    /// The phone belongs to a participant with another name.
    PhoneTaken,
    /// The phone is over its registration limit ([`PhoneLimit`]); nothing was written.
    Limited {
        /// Milliseconds until the window ends.
        retry_after_ms: u64,
    },
}

/// Registrations allowed with one phone per window, counted by the register script itself in
/// the shard the phone picks (one round trip, issue 22). `allowed = 0` counts nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhoneLimit {
    /// Registrations allowed per window; 0 for no limit.
    pub allowed: u64,
    /// The window, in seconds from its first registration.
    pub window_secs: u64,
}

impl HotState {
    /// Finds the participant with this phone, or registers a new one.
    pub async fn register(
        &self,
        registration: &Registration<'_>,
    ) -> Result<RegisterOutcome, RedisError> {
        self.register_with(
            registration,
            &RecordFields::default(),
            PhoneLimit::default(),
        )
        .await
    }

    /// [`HotState::register`], recording `record` with a new participant (nothing of it is
    /// stored for a participant found again), and counting the registration against the phone's
    /// `limit` first: over it, [`RegisterOutcome::Limited`] and nothing else written.
    #[tracing::instrument(skip_all, fields(campaign = registration.campaign))]
    pub async fn register_with(
        &self,
        registration: &Registration<'_>,
        record: &RecordFields<'_>,
        limit: PhoneLimit,
    ) -> Result<RegisterOutcome, RedisError> {
        let shard = Shard::of_phone_hash(registration.phone_hash, registration.shards);
        let keys = ShardKeys::new(registration.campaign, shard);
        let mut hash = String::with_capacity(32);
        for byte in registration.phone_hash {
            hash.push_str(&format!("{byte:02x}"));
        }
        let mut invocation = REGISTER.call();
        invocation
            .key(keys.phones())
            .key(keys.people())
            .key(keys.sequence())
            .key(keys.stream())
            .key(keys.phone_hits(&hash))
            .arg(hash)
            .arg(registration.name)
            .arg(registration.phone_masked)
            .arg(registration.unit)
            .arg(registration.now_ms)
            .arg(registration.shards.max(1))
            .arg(shard.0)
            .arg(limit.allowed)
            .arg(limit.window_secs);
        for (field, value) in record.pairs() {
            invocation.arg(field).arg(value);
        }
        let mut connection = self.connection().await?;
        let reply: Vec<String> = invocation.invoke(&mut connection).await?;
        let participant = || {
            reply
                .get(1)
                .and_then(|id| id.parse().ok())
                .ok_or_else(|| RedisError::Reply(format!("malformed register reply: {reply:?}")))
        };
        let unit = || reply.get(2).cloned().unwrap_or_default();
        match reply.first().map(String::as_str) {
            Some("created") => Ok(RegisterOutcome::Created {
                participant: participant()?,
                unit: unit(),
            }),
            Some("existing") => Ok(RegisterOutcome::Existing {
                participant: participant()?,
                unit: unit(),
            }),
            Some("taken") => Ok(RegisterOutcome::PhoneTaken),
            Some("limited") => Ok(RegisterOutcome::Limited {
                retry_after_ms: reply.get(1).and_then(|ms| ms.parse().ok()).ok_or_else(|| {
                    RedisError::Reply(format!("malformed register reply: {reply:?}"))
                })?,
            }),
            _ => Err(RedisError::Reply(format!(
                "unexpected register reply: {reply:?}"
            ))),
        }
    }
}
