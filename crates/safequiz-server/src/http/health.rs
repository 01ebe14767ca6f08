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
use super::error::ApiError;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    server_time: String,
}

/// `GET /healthz`: the process serves HTTP. Touches neither Redis nor SQL, so a slow dependency
/// never makes a balancer kill healthy replicas.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        server_time: state.clock.now().to_string(),
    })
}

#[derive(Serialize)]
struct Ready {
    status: &'static str,
    redis: &'static str,
    database: &'static str,
    flush: FlushView,
    /// One warning per campaign whose shards do not spread over the cluster's primaries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    placement: Vec<String>,
}

/// How far the SQL record is behind the hot state; informative, never a reason to refuse
/// traffic (the hot path does not need SQL).
#[derive(Serialize)]
struct FlushView {
    pending: u64,
    undelivered: u64,
    oldest_unflushed_age_ms: Option<i64>,
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

/// `GET /readyz`: Redis and SQL both answer; `503 not_ready` naming the one that does not.
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
        let placement = placement_warnings(&state).await;
        Ok(HttpResponse::Ok().json(Ready {
            status: "ok",
            redis: "ok",
            database: "ok",
            flush: FlushView {
                pending: lag.pending,
                undelivered: lag.undelivered,
                oldest_unflushed_age_ms: lag.oldest_age_ms,
            },
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
            "Stream entries delivered to a flusher and not yet acknowledged",
            count(lag.pending),
        );
        scrape.register(
            "safequiz_flush_undelivered_entries",
            "Stream entries no flusher has read yet",
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
