//! HTTP: the route table, extractor configuration, handlers and the one error type.
//!
//! Handlers stay short: parse, decide through the domain, one call into Redis or SQL, map to a
//! response. Every error leaves as JSON `{"error": code, "message": text}` (see [`error`]).

pub mod error;
pub mod health;
pub mod routes;

use std::sync::Arc;

use safequiz_redis::HotState;
use safequiz_sql::Store;

use crate::catalogue::Catalogue;
use crate::clock::Clock;

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
}
