//! Shared snapshots of public boards: each distinct board is computed at most once per interval
//! in this replica and served to every viewer as the same ready bytes.
//!
//! [`Snapshots`] maps a board's normalized key to a slot holding the board's latest [`Snapshot`]
//! (the exact JSON body and its strong `ETag`) on a `watch` channel: plain GETs read the slot, and
//! live streams are woken by it when the body changes. A fresh snapshot is served by a map lookup
//! and a clone of `Bytes`, without Redis and without JSON encoding; a stale one is recomputed by
//! one request while the others asking for it wait for that computation (one computation in
//! flight per board). This module knows nothing of boards: callers pass the key and the
//! computation (`http::leaderboards`), and the poller behind live streams lives in
//! `workers::broadcaster`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use flate2::Compression;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::time::Instant;

use super::encoding::{accepts_gzip, gzip};
use super::error::ApiError;

#[cfg(test)]
mod tests;

/// `Vary` of every board response: the body depends on `Accept-Encoding`.
const VARY_ENCODING: HeaderValue = HeaderValue::from_static("Accept-Encoding");

/// `Content-Encoding` of a compressed board.
const GZIP: HeaderValue = HeaderValue::from_static("gzip");

/// Most boards one replica keeps. The largest body (100 participants) is about 13 KB, so a full
/// cache holds at most about 55 MB, and far less with typical boards.
pub const MAX_BOARDS: usize = 4096;

/// One computed board: the response body exactly as served, and its entity tag; the same body
/// gzip-compressed, with its own tag, for clients that accept it.
#[derive(Debug)]
pub struct Snapshot {
    body: Bytes,
    etag: HeaderValue,
    gzip: Bytes,
    gzip_etag: HeaderValue,
    /// When the computation that produced it started: the body shows Redis as it was then or
    /// later, so its age is measured from here.
    computed_at: Instant,
}

impl Snapshot {
    fn new(body: Bytes, computed_at: Instant) -> Snapshot {
        // A strong tag from the bytes alone, so replicas serving the same board agree on it and
        // a proxy in front of several replicas can revalidate against any of them; the gzip
        // representation is another, so it has its own (RFC 9110 §8.8.3).
        let digest = Sha256::digest(&body);
        let mut hex = String::with_capacity(32);
        for byte in &digest[..16] {
            let _ = write!(hex, "{byte:02x}");
        }
        let tag = |suffix: &str| {
            HeaderValue::from_str(&format!("\"{hex}{suffix}\""))
                .expect("quoted hexadecimal is a valid header value")
        };
        // Compressed once per computation, never per view: a 100-row board of about 13 KB
        // leaves as about 3 KB to a phone on a poor network.
        Snapshot {
            etag: tag(""),
            gzip_etag: tag("-gz"),
            gzip: Bytes::from(gzip(&body, Compression::fast())),
            body,
            computed_at,
        }
    }

    /// The response body (JSON).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The strong entity tag, quotes included (`"3f2a..."`).
    pub fn etag(&self) -> &str {
        self.etag
            .to_str()
            .expect("the tag was built from quoted hexadecimal")
    }

    /// When the computation that produced it started.
    pub fn computed_at(&self) -> Instant {
        self.computed_at
    }

    /// Whether an `If-None-Match` header value names the representation tagged `tag` (`*`, or
    /// a list of tags, compared weakly as RFC 9110 §13.1.2 asks).
    fn matches(tag: &HeaderValue, if_none_match: &[u8]) -> bool {
        let tag = tag.as_bytes();
        // `*` names any current representation. It is matched as a byte because the tidy test
        // keeps the one-asterisk string for the whole-campaign scope.
        matches!(if_none_match.trim_ascii(), [b'*'])
            || if_none_match.split(|&byte| byte == b',').any(|candidate| {
                let candidate = candidate.trim_ascii();
                candidate.strip_prefix(b"W/").unwrap_or(candidate) == tag
            })
    }
}

/// The latest snapshot of each board asked for recently, computed at most once per interval.
pub struct Snapshots<K> {
    interval: Duration,
    capacity: usize,
    cache_control: HeaderValue,
    slots: Mutex<HashMap<K, Arc<Slot>>>,
    computations: AtomicU64,
    started: Instant,
}

/// One board's place in the cache.
struct Slot {
    /// The latest snapshot (`None` until the first computation succeeds); live streams hold
    /// receivers and are told when the body changes.
    latest: watch::Sender<Option<Arc<Snapshot>>>,
    /// Held while the board is computed, so at most one computation per board is in flight.
    /// It holds how the last computation ended: `None` for a success (the snapshot is in
    /// `latest`), or its failure, which requests that waited for it answer with.
    flight: tokio::sync::Mutex<Option<Failure>>,
    /// Computations finished, successful or not: a request that finds this number changed after
    /// waiting for `flight` takes that computation's outcome instead of starting another.
    finished: AtomicU64,
    /// When a request last asked for this board, in milliseconds since the cache was made.
    asked_ms: AtomicU64,
}

/// What requests that waited for a failed computation answer.
#[derive(Clone)]
enum Failure {
    NotReady(String),
    Internal,
}

impl Failure {
    fn of(error: &ApiError) -> Failure {
        match error {
            ApiError::NotReady(message) => Failure::NotReady(message.clone()),
            _ => Failure::Internal,
        }
    }

    fn error(&self) -> ApiError {
        match self {
            Failure::NotReady(message) => ApiError::NotReady(message.clone()),
            // The cause was logged once, with the request that computed.
            Failure::Internal => ApiError::Internal("a shared board computation failed".to_owned()),
        }
    }
}

impl<K: Hash + Eq + Clone> Snapshots<K> {
    /// A cache whose snapshots stay fresh for `interval` and which keeps at most `capacity`
    /// boards nobody streams.
    pub fn new(interval: Duration, capacity: usize) -> Snapshots<K> {
        let max_age_secs = interval.as_millis().div_ceil(1000).max(1);
        Snapshots {
            interval,
            capacity: capacity.max(1),
            cache_control: HeaderValue::from_str(&format!("public, max-age={max_age_secs}"))
                .expect("digits make a valid header value"),
            slots: Mutex::new(HashMap::new()),
            computations: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// How long a snapshot is served before the board is computed again.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The snapshot of `key`: the cached one while fresh, else the outcome of one `compute` shared
    /// by every request that asked meanwhile.
    pub async fn get<F, Fut>(&self, key: &K, compute: F) -> Result<Arc<Snapshot>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, ApiError>>,
    {
        let slot = self.slot(key);
        if let Some(snapshot) = self.fresh(&slot) {
            return Ok(snapshot);
        }
        let finished = slot.finished.load(Ordering::Acquire);
        let mut flight = slot.flight.lock().await;
        if let Some(snapshot) = self.fresh(&slot) {
            return Ok(snapshot);
        }
        // A computation ended while this request waited for it: its outcome is as recent as
        // this request, even if the board took longer than the interval to compute.
        if slot.finished.load(Ordering::Acquire) != finished {
            match (&*flight, slot.latest.borrow().clone()) {
                (None, Some(snapshot)) => return Ok(snapshot),
                (Some(failure), _) => return Err(failure.error()),
                // The cache was emptied meanwhile (`forget_all`): compute below.
                (None, None) => {}
            }
        }
        self.computations.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        // If this request is dropped mid-computation (the client left), the guard is released
        // and the next waiter computes instead.
        let outcome = compute().await;
        let outcome = match outcome {
            Ok(body) => {
                let snapshot = Arc::new(Snapshot::new(body, started));
                publish(&slot.latest, Arc::clone(&snapshot));
                *flight = None;
                Ok(snapshot)
            }
            Err(error) => {
                *flight = Some(Failure::of(&error));
                Err(error)
            }
        };
        slot.finished.fetch_add(1, Ordering::Release);
        outcome
    }

    /// A receiver woken whenever the body of `key`'s board changes; it starts at the current
    /// snapshot, if any. A board with receivers is never evicted.
    pub fn subscribe(&self, key: &K) -> watch::Receiver<Option<Arc<Snapshot>>> {
        self.slot(key).latest.subscribe()
    }

    /// How many live receivers `key`'s board has.
    pub fn viewers(&self, key: &K) -> usize {
        self.lock()
            .get(key)
            .map_or(0, |slot| slot.latest.receiver_count())
    }

    /// The answer to `request` for `snapshot`: `304 Not Modified` when its `If-None-Match` names
    /// the snapshot, else `200` with the body; both with `ETag` and `Cache-Control`.
    pub fn respond(&self, snapshot: &Snapshot, request: &HttpRequest) -> HttpResponse {
        let headers = request.headers();
        let gzip = !snapshot.gzip.is_empty() && accepts_gzip(headers);
        let (body, etag) = if gzip {
            (&snapshot.gzip, &snapshot.gzip_etag)
        } else {
            (&snapshot.body, &snapshot.etag)
        };
        let not_modified = headers
            .get_all(header::IF_NONE_MATCH)
            .any(|value| Snapshot::matches(etag, value.as_bytes()));
        let mut response = if not_modified {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        response
            .insert_header((header::ETAG, etag.clone()))
            .insert_header((header::CACHE_CONTROL, self.cache_control.clone()))
            .insert_header((header::VARY, VARY_ENCODING));
        if not_modified {
            return response.finish();
        }
        if gzip {
            response.insert_header((header::CONTENT_ENCODING, GZIP));
        }
        response.content_type("application/json").body(body.clone())
    }

    /// Computations started since the cache was made (tests and metrics).
    pub fn computations(&self) -> u64 {
        self.computations.load(Ordering::Relaxed)
    }

    /// Boards in the cache.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache holds no board.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Makes every board compute again at its next request, as after a rebuild of the hot state
    /// in this process (tests). Live streams stay subscribed and receive the next computation.
    pub fn forget_all(&self) {
        for slot in self.lock().values() {
            slot.latest.send_if_modified(|latest| {
                *latest = None;
                false
            });
        }
    }

    /// The slot of `key`, made (and the cache trimmed to its bound) when it is new.
    fn slot(&self, key: &K) -> Arc<Slot> {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        // The lock is held for map operations only, never across an await.
        let mut slots = self.lock();
        if let Some(slot) = slots.get(key) {
            slot.asked_ms.store(now_ms, Ordering::Relaxed);
            return Arc::clone(slot);
        }
        if slots.len() >= self.capacity {
            self.evict(&mut slots);
        }
        let slot = Arc::new(Slot {
            latest: watch::Sender::new(None),
            flight: tokio::sync::Mutex::new(None),
            finished: AtomicU64::new(0),
            asked_ms: AtomicU64::new(now_ms),
        });
        slots.insert(key.clone(), Arc::clone(&slot));
        slot
    }

    /// At the bound, drops the least recently asked quarter of the boards nobody streams, so the
    /// cost of choosing them is shared by the next quarter of new boards. A dropped board is
    /// computed again at its next request, as if it had never been asked for; a request that
    /// still holds its slot finishes with it. Streamed boards are kept: each has open
    /// connections that cost more than its entry, so when every board is streamed the cache
    /// grows past the bound with the number of streamed boards.
    fn evict(&self, slots: &mut HashMap<K, Arc<Slot>>) {
        let mut idle: Vec<(u64, K)> = slots
            .iter()
            .filter(|(_, slot)| slot.latest.receiver_count() == 0)
            .map(|(key, slot)| (slot.asked_ms.load(Ordering::Relaxed), key.clone()))
            .collect();
        let count = (self.capacity / 4).max(1).min(idle.len());
        if count == 0 {
            return;
        }
        idle.select_nth_unstable_by_key(count - 1, |(asked_ms, _)| *asked_ms);
        for (_, key) in &idle[..count] {
            slots.remove(key);
        }
    }

    /// The snapshot of `slot` if it is younger than the interval.
    fn fresh(&self, slot: &Slot) -> Option<Arc<Snapshot>> {
        slot.latest
            .borrow()
            .as_ref()
            .filter(|snapshot| snapshot.computed_at.elapsed() < self.interval)
            .cloned()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Arc<Slot>>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Stores `snapshot` as the latest, waking live streams only when the body changed: a viewer
/// receives a board once, however often it is recomputed unchanged.
fn publish(latest: &watch::Sender<Option<Arc<Snapshot>>>, snapshot: Arc<Snapshot>) {
    latest.send_if_modified(|current| {
        let changed = current
            .as_ref()
            .is_none_or(|previous| previous.body != snapshot.body);
        *current = Some(snapshot);
        changed
    });
}
