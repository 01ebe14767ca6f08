//! Request limits (`[limits]`, docs/design.md §2.7): what one client may ask before `429
//! rate_limited` with `Retry-After`, and the cap on live streams per replica (`503
//! too_many_streams`).
//!
//! Where each is counted, and why:
//! - registrations per client address and per phone: in Redis, so every replica agrees. A
//!   participant's phone is counted by `register.lua` itself, in the shard the phone picks
//!   ([`phone_limit`], [`phone_limited`]): a registration with the address limit off is one
//!   round trip. The address (and what else is counted like a registration: an organization's
//!   credit code, an administrator's application by phone) is one pipeline on `{limits}` keys
//!   before it ([`check_registration`], [`check_address`]), a second round trip only when that
//!   limit is on, as an address's counter cannot live in the shard a phone picks;
//! - requests per participant token: in this replica's memory ([`ParticipantWindows`], checked by
//!   the `Participant` extractor), because a Redis call there would double the hot path's round
//!   trips and a counter field written by every attempt script would add a write (and AOF bytes)
//!   to each save, and above all to reads, which write nothing today. With N replicas a
//!   participant gets at most N times the limit; the limit exists to bound a script's cost, and
//!   N times a bound is still a bound;
//! - live streams: per replica by nature (they hold this process's connections), an atomic count.
//!
//! Every window is fixed: it starts at its first hit (Redis) or at a multiple of its length
//! since the process started (memory), and `Retry-After` is the time left in it.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderValue};
use safequiz_redis::keys::registration_hits;
use safequiz_redis::participants::PhoneLimit;

use super::AppState;
use super::client_address;
use super::error::ApiError;
use crate::auth::ParticipantClaims;
use crate::config::LimitSettings;

/// The limits one replica enforces, built from `[limits]` at start and shared by every worker.
#[derive(Debug)]
pub struct Limits {
    settings: LimitSettings,
    participants: ParticipantWindows,
    streams: Arc<AtomicU64>,
}

impl Limits {
    /// The limits `settings` describe, with empty counters.
    pub fn new(settings: &LimitSettings) -> Limits {
        Limits {
            settings: settings.clone(),
            participants: ParticipantWindows::new(
                settings.participant_requests,
                Duration::from_secs(settings.participant_window_secs.max(1)),
            ),
            streams: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &LimitSettings {
        &self.settings
    }

    /// Counts one request of the participant `claims` names; `429 rate_limited` once their
    /// window's allowance is used. No I/O: a lock of one of 64 shards and a hash-map lookup.
    pub fn participant_request(&self, claims: &ParticipantClaims) -> Result<(), ApiError> {
        match self
            .participants
            .hit(claims.campaign(), claims.participant, Instant::now())
        {
            Ok(()) => Ok(()),
            Err(retry_after) => Err(ApiError::RateLimited {
                retry_after_secs: whole_secs(retry_after),
                message: "请求过于频繁，请稍后再试".to_owned(),
            }),
        }
    }

    /// A place for one more live stream on this replica, held until the returned slot is
    /// dropped (the stream ended or its client went away); `503 too_many_streams` when
    /// `live_streams_per_replica` are open.
    pub fn open_stream(&self) -> Result<StreamSlot, ApiError> {
        let cap = self.settings.live_streams_per_replica;
        let before = self.streams.fetch_add(1, Ordering::AcqRel);
        let slot = StreamSlot(Arc::clone(&self.streams));
        if cap != 0 && before >= cap {
            drop(slot);
            return Err(ApiError::TooManyStreams);
        }
        Ok(slot)
    }

    /// Live streams open on this replica now.
    pub fn open_streams(&self) -> u64 {
        self.streams.load(Ordering::Acquire)
    }
}

/// One open live stream's place in the per-replica count; released when dropped.
#[derive(Debug)]
pub struct StreamSlot(Arc<AtomicU64>);

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Counts a registration to `campaign` from the request's client address and under `who` (a
/// phone's keyed hash: the plain number never reaches Redis; or a credit code), across every
/// replica; `429 rate_limited` when either is over its limit. One Redis round trip, none when
/// both limits are off. A refused registration is counted too, so a script that keeps trying
/// stays refused until the window ends. A participant's own registration counts its phone in
/// `register.lua` instead ([`check_address`], [`phone_limit`]).
pub async fn check_registration(
    state: &AppState,
    request: &HttpRequest,
    campaign: &str,
    who: &[u8],
) -> Result<(), ApiError> {
    count_registration(state, request, campaign, Some(who)).await
}

/// [`check_registration`] for a participant's registration: the client address only (no round
/// trip when that limit is off); `register.lua` counts the phone.
pub async fn check_address(
    state: &AppState,
    request: &HttpRequest,
    campaign: &str,
) -> Result<(), ApiError> {
    count_registration(state, request, campaign, None).await
}

/// The phone limit `register.lua` applies (`limits.registrations_per_phone` per
/// `limits.phone_window_secs`; 0 for none).
pub fn phone_limit(state: &AppState) -> PhoneLimit {
    let limits = state.limits.settings();
    PhoneLimit {
        allowed: limits.registrations_per_phone,
        window_secs: limits.phone_window_secs,
    }
}

/// The refusal of a registration over its phone's limit, `retry_after_ms` before its window ends.
pub fn phone_limited(retry_after_ms: u64) -> ApiError {
    ApiError::RateLimited {
        retry_after_secs: whole_secs(Duration::from_millis(retry_after_ms)),
        message: PHONE_LIMITED.to_owned(),
    }
}

const PHONE_LIMITED: &str = "该手机号的报名次数过多，请稍后再试";

async fn count_registration(
    state: &AppState,
    request: &HttpRequest,
    campaign: &str,
    who: Option<&[u8]>,
) -> Result<(), ApiError> {
    let limits = state.limits.settings();
    let mut counters = Vec::with_capacity(2);
    let mut caps = Vec::with_capacity(2);
    if limits.registrations_per_address > 0 {
        let address = request_address(request, state);
        counters.push((
            registration_hits(campaign, "addr", &address),
            limits.address_window_secs,
        ));
        caps.push((
            limits.registrations_per_address,
            "该网络地址的报名次数过多，请稍后再试",
        ));
    }
    if let Some(who) = who
        && limits.registrations_per_phone > 0
    {
        let hex: String = who.iter().map(|byte| format!("{byte:02x}")).collect();
        counters.push((
            registration_hits(campaign, "phone", &hex),
            limits.phone_window_secs,
        ));
        caps.push((limits.registrations_per_phone, PHONE_LIMITED));
    }
    if counters.is_empty() {
        return Ok(());
    }
    let counts = state.hot.count_hits(&counters).await?;
    for ((hits, (cap, message)), (key, window_secs)) in counts.iter().zip(caps).zip(&counters) {
        if *hits > cap {
            let left_ms = state.hot.window_left_ms(key, *window_secs).await?;
            return Err(ApiError::RateLimited {
                retry_after_secs: whole_secs(Duration::from_millis(left_ms)),
                message: message.to_owned(),
            });
        }
    }
    Ok(())
}

/// The address the per-address limits count a request under: the TCP peer, or behind a trusted
/// proxy the client its forwarding headers name (see [`client_address`]).
pub fn request_address(request: &HttpRequest, state: &AppState) -> String {
    let Some(peer) = request.peer_addr() else {
        // Only requests built in tests have no peer.
        return "unknown".to_owned();
    };
    let headers = request.headers();
    client_address::client_address(
        peer.ip(),
        &state.trusted_proxies,
        headers
            .get_all(header::X_FORWARDED_FOR)
            .map(HeaderValue::as_bytes),
        headers
            .get_all(header::FORWARDED)
            .map(HeaderValue::as_bytes),
    )
    .to_string()
}

/// Seconds for `Retry-After`: `left` rounded up, at least 1.
fn whole_secs(left: Duration) -> u64 {
    left.as_millis().div_ceil(1000).max(1) as u64
}

/// Shards of the participant counters: requests of different participants rarely meet on one
/// lock, whatever the worker count.
const SHARDS: usize = 64;

/// Fixed-window request counters per participant, in memory.
///
/// Memory is bounded by the participants seen in one window: when a shard's window ends its map
/// is replaced by an empty one sized like the last, so a participant who stopped asking costs
/// nothing after one window.
#[derive(Debug)]
pub struct ParticipantWindows {
    limit: u64,
    window: Duration,
    epoch: Instant,
    hasher: RandomState,
    shards: Box<[Mutex<Window>]>,
}

#[derive(Debug, Default)]
struct Window {
    number: u64,
    counts: HashMap<(u64, u64), u32>,
}

impl ParticipantWindows {
    /// `limit` requests per participant per `window` (0: no limit).
    pub fn new(limit: u64, window: Duration) -> ParticipantWindows {
        ParticipantWindows {
            limit,
            window,
            epoch: Instant::now(),
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    /// Counts one request of `participant` of `campaign` at `now`; `Err` with the time left in
    /// the window once the limit is reached.
    pub fn hit(&self, campaign: &str, participant: u64, now: Instant) -> Result<(), Duration> {
        if self.limit == 0 {
            return Ok(());
        }
        let window_ns = self.window.as_nanos().max(1);
        let since = now.saturating_duration_since(self.epoch).as_nanos();
        let number = (since / window_ns) as u64;
        let key = (self.hasher.hash_one(campaign), participant);
        let shard = &self.shards[(participant % SHARDS as u64) as usize];
        // A poisoned lock only means another request panicked mid-count; the counts are still
        // plain numbers.
        let mut window = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if window.number != number {
            let size = window.counts.len();
            *window = Window {
                number,
                counts: HashMap::with_capacity(size),
            };
        }
        let count = window.counts.entry(key).or_insert(0);
        if u64::from(*count) >= self.limit {
            let left = window_ns - since % window_ns;
            return Err(Duration::from_nanos(left as u64));
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::ParticipantWindows;

    #[test]
    fn a_participant_gets_the_limit_per_window_and_the_next_window_starts_afresh() {
        let windows = ParticipantWindows::new(3, Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(windows.hit("c", 7, start), Ok(()));
        }
        let refused = windows
            .hit("c", 7, start)
            .expect_err("the fourth is refused");
        assert!(refused > Duration::ZERO && refused <= Duration::from_secs(60));
        assert_eq!(windows.hit("c", 8, start), Ok(()), "another participant");
        assert_eq!(windows.hit("other", 7, start), Ok(()), "another campaign");
        let later = start + Duration::from_secs(61);
        assert_eq!(windows.hit("c", 7, later), Ok(()), "the next window");
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let windows = ParticipantWindows::new(0, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(windows.hit("c", 1, now), Ok(()));
        }
    }
}
