//! Liveness and readiness probes for load balancers and orchestrators.
//!
//! `/readyz` also says (field `placement`) when a campaign's shards all live on one primary of
//! a Redis Cluster that has several: still ready, but one node takes all of that campaign's
//! writes (docs/operations.md).

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{HttpResponse, web};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use safequiz_redis::keys::Shard;
use safequiz_redis::streams::FlushLag;
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, ErrorBody};

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
    server_time: String,
}

/// `GET /healthz`: the process serves HTTP. Touches neither Redis nor SQL, so a slow dependency
/// never makes a balancer kill healthy replicas.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    summary = "Liveness: the process serves HTTP (touches neither Redis nor SQL)",
    responses((status = 200, description = "Alive", body = Health)),
)]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        server_time: state.clock.now().to_string(),
    })
}

#[derive(Serialize, utoipa::ToSchema)]
struct Ready {
    status: &'static str,
    redis: &'static str,
    database: &'static str,
    flush: FlushView,
    boards: BoardsView,
    /// One warning per campaign whose shards do not spread over the cluster's primaries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    placement: Vec<String>,
}

/// How far the SQL record is behind the hot state; informative, never a reason to refuse
/// traffic (the hot path does not need SQL).
#[derive(Serialize, utoipa::ToSchema)]
struct FlushView {
    /// Stream entries not yet in SQL in shards a flusher holds (waiting for its next batch).
    pending: u64,
    /// Stream entries not yet in SQL in shards no flusher holds (none runs, or one stopped
    /// and its lease has not run out yet).
    undelivered: u64,
    oldest_unflushed_age_ms: Option<i64>,
    /// Since when this replica's flusher has failed on SQL (read-only, full, refusing): the
    /// results wait in the streams. Absent while it writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    failing_since: Option<jiff::Timestamp>,
}

/// How far the individual boards are behind the streams (docs/design.md §2.4); informative.
#[derive(Serialize, utoipa::ToSchema)]
struct BoardsView {
    /// Finalized attempts the board writer has yet to apply, summed over campaigns and shards
    /// (counted up to 10,000 a shard).
    unapplied: usize,
}

/// Finalized attempts the board writer has yet to apply, over every campaign and shard.
async fn boards_unapplied(state: &AppState) -> Result<usize, safequiz_redis::RedisError> {
    let mut unapplied = 0;
    for campaign in &state.catalogue.campaigns {
        unapplied += state
            .hot
            .board_backlog(&campaign.id, state.shards, 10_000)
            .await?;
    }
    Ok(unapplied)
}

/// The flusher's lag over every campaign and shard.
pub async fn flush_lag(state: &AppState) -> Result<FlushLag, safequiz_redis::RedisError> {
    let now_ms = state.clock.now().as_millisecond();
    let mut lag = FlushLag::default();
    for campaign in &state.catalogue.campaigns {
        for shard in Shard::all(state.shards) {
            lag = lag.merge(state.hot.flush_lag(&campaign.id, shard, now_ms).await?);
        }
    }
    Ok(lag)
}

/// What is wrong with where the campaigns' shards live (see `HotState::placement`): one
/// warning per campaign whose shards all live on one of several primaries. On a single Redis,
/// nothing, without a round trip. A failed check is logged and left out: placement never makes
/// the service unready.
pub async fn placement_warnings(state: &AppState) -> Vec<String> {
    let mut warnings = Vec::new();
    for campaign in &state.catalogue.campaigns {
        match state.hot.placement(&campaign.id, state.shards).await {
            Ok(placement) => warnings.extend(placement.warning(&campaign.id)),
            Err(error) => {
                tracing::warn!(error = %error, campaign = %campaign.id, "cannot read where the shards live");
            }
        }
    }
    warnings
}

/// `GET /readyz`: Redis and SQL both answer; `503 not_ready` naming the one that does not. A
/// database that answers but refuses the flusher's writes is `200` with `"status": "degraded"`
/// and `"database": "refusing_writes"`.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    summary = "Readiness: Redis and SQL answer and the record is migrated",
    responses(
        (status = 200, description = "Ready, with the flusher's and the board writer's lag", body = Ready),
        (status = 503, description = "`not_ready`: naming what does not answer (`Retry-After`)", body = ErrorBody<'_>),
    ),
)]
#[tracing::instrument(skip_all)]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (redis, database) = tokio::join!(state.hot.ping(), state.store.ping());
    let mut down = Vec::new();
    if let Err(error) = redis {
        tracing::warn!(error = %error, "readiness: Redis does not answer");
        down.push("Redis");
    }
    if let Err(error) = database {
        tracing::warn!(error = %error, "readiness: the database does not answer");
        down.push("the database");
    }
    if down.is_empty() && !state.record_ready.load(Ordering::Acquire) {
        return Err(ApiError::NotReady(
            "not ready: the database's tables are being prepared (migrations, units)".to_owned(),
        ));
    }
    if down.is_empty() {
        let lag = flush_lag(&state).await?;
        let unapplied = boards_unapplied(&state).await?;
        let placement = placement_warnings(&state).await;
        // SQL answers but refuses the flusher's writes (read-only, disk full): still ready, since
        // the hot path never needs SQL and the results wait safely in the streams, but said so
        // (docs/operations.md "Faults").
        let failing_since = state.metrics.flush_failing_since();
        let degraded = failing_since.is_some();
        Ok(HttpResponse::Ok().json(Ready {
            status: if degraded { "degraded" } else { "ok" },
            redis: "ok",
            database: if degraded { "refusing_writes" } else { "ok" },
            flush: FlushView {
                pending: lag.pending,
                undelivered: lag.undelivered,
                oldest_unflushed_age_ms: lag.oldest_age_ms,
                failing_since,
            },
            boards: BoardsView { unapplied },
            placement,
        }))
    } else {
        Err(ApiError::NotReady(format!(
            "not ready: {} unreachable",
            down.join(" and ")
        )))
    }
}

/// `GET /metrics`: the `OpenMetrics` text format (Prometheus reads it; docs/operations.md "What
/// to watch"). The kept metrics of `crate::metrics`, then what is read from Redis at each scrape:
/// `safequiz_redis_up` and the flusher's lag summed over campaigns and shards. When Redis is
/// unreachable the lag gauges are absent and `safequiz_redis_up` is 0.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    summary = "Prometheus metrics (OpenMetrics text)",
    responses(
        (status = 200, description = "The metrics", content_type = "application/openmetrics-text", body = String),
    ),
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let lag = flush_lag(&state).await;
    if lag.is_err() {
        state.metrics.redis_error("scrape");
    }
    // The scrape's own figures, in a registry of their own so that absent means unknown.
    let mut scrape = Registry::default();
    let up = Gauge::<i64>::default();
    up.set(i64::from(lag.is_ok()));
    scrape.register(
        "safequiz_redis_up",
        "Whether Redis answered this scrape",
        up,
    );
    if let Ok(lag) = lag {
        let count = |value: u64| {
            let gauge = Gauge::<i64>::default();
            gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
            gauge
        };
        scrape.register(
            "safequiz_flush_pending_entries",
            "Stream entries not yet in SQL in shards a flusher holds",
            count(lag.pending),
        );
        scrape.register(
            "safequiz_flush_undelivered_entries",
            "Stream entries not yet in SQL in shards no flusher holds",
            count(lag.undelivered),
        );
        let age = Gauge::<f64, AtomicU64>::default();
        age.set(lag.oldest_age_ms.unwrap_or(0) as f64 / 1000.0);
        scrape.register(
            "safequiz_flush_oldest_unflushed_age_seconds",
            "Age of the oldest stream entry not yet written to SQL (0 when none)",
            age,
        );
    }
    let mut text = String::with_capacity(16 * 1024);
    let encoded = state
        .metrics
        .encode(&mut text)
        .and_then(|()| encode_registry(&mut text, &scrape))
        .and_then(|()| encode_eof(&mut text));
    if let Err(error) = encoded {
        tracing::error!(error = %error, "cannot encode the metrics");
        return HttpResponse::InternalServerError().finish();
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text)
}
