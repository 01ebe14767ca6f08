//! HTTP: the route table, extractor configuration, handlers and the one error type.
//!
//! Handlers stay short: parse, decide through the domain, one call into Redis or SQL, map to a
//! response. Every error leaves as JSON `{"error": code, "message": text}` (see [`error`]).

pub mod attempts;
pub mod audit;
pub mod campaigns;
pub mod certificates;
pub mod client_address;
mod encoding;
pub mod error;
pub mod extract;
pub mod fair_play;
pub mod health;
mod json_writer;
pub mod leaderboards;
pub mod limits;
pub mod live;
pub mod openapi;
pub mod organizations;
pub mod organizer;
pub mod pages;
pub mod participants;
pub mod practice;
pub mod privacy;
pub mod prizes;
pub mod request_id;
pub mod routes;
pub mod snapshots;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use jiff::SignedDuration;
use safequiz_redis::HotState;
use safequiz_sql::Store;

use crate::auth::AuthKeys;
use crate::catalogue::Catalogue;
use crate::clock::Clock;
use crate::http::client_address::TrustedProxies;
use crate::http::leaderboards::BoardKey;
use crate::http::snapshots::Snapshots;
use crate::workers::broadcaster::Broadcaster;

/// Two decimals, as the pages and boards show averages.
pub(crate) fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// What every handler receives: shared, read-only or internally synchronised.
#[derive(Clone)]
pub struct AppState {
    /// Banks, campaigns and unit trees loaded at start.
    pub catalogue: Arc<Catalogue>,
    /// Redis hot state.
    pub hot: HotState,
    /// The SQL record.
    pub store: Store,
    /// The one clock.
    pub clock: Clock,
    /// Token and phone-hash keys.
    pub auth: AuthKeys,
    /// Shards participants are spread over (`hot.shards`).
    pub shards: u16,
    /// How long a participant token stays valid.
    pub token_ttl: SignedDuration,
    /// How long an organizer session lasts.
    pub session_ttl: SignedDuration,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Peers whose forwarding headers name the client (`http.trusted_proxies`).
    pub trusted_proxies: TrustedProxies,
    /// Public boards, each computed at most once per `http.board_snapshot_ms` and shared by
    /// every GET and stream of it.
    pub boards: Arc<Snapshots<BoardKey>>,
    /// The pollers refreshing the boards live streams watch (over `boards`).
    pub broadcaster: Arc<Broadcaster<BoardKey>>,
    /// Set once this process has migrated the record and synced the unit tables
    /// (`workers::flusher::prepare_record`); until then `/readyz` answers 503, since organizer
    /// accounts and headcounts need those tables.
    pub record_ready: Arc<AtomicBool>,
    /// Woken by this process's flusher after each batch it records, so that on PostgreSQL the
    /// question fold (`workers::questions`) starts at once instead of at its next interval:
    /// during a peak the fold runs beside the flush on another core, and the question analysis
    /// lags the record by one fold rather than by a second or two.
    pub fold_wanted: Arc<tokio::sync::Notify>,
    /// What `/metrics` reports between scrapes (`crate::metrics`), shared by every worker.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Request limits (`[limits]`): the per-participant counters and the live-stream count of
    /// this replica, the settings of the registration limits counted in Redis.
    pub limits: Arc<crate::http::limits::Limits>,
    /// Organizer login policy (`[auth] organizer_*`): lockout, idle logout, password expiry,
    /// second factor.
    pub login_policy: crate::http::organizer::security::LoginPolicy,
    /// This replica's fair-play observations, written to SQL by `workers::fair_play`, and the
    /// page-load token key (docs/fair-play.md).
    pub fair_play: Arc<crate::http::fair_play::FairPlay>,
}
