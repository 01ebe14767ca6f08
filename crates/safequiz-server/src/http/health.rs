//! Liveness and readiness probes for load balancers and orchestrators.
//!
//! `/readyz` also says (field `placement`) when a campaign's shards all live on one primary of
//! a Redis Cluster that has several: still ready, but one node takes all of that campaign's
//! writes (docs/operations.md).

use std::sync::atomic::Ordering;

use actix_web::{HttpResponse, web};
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

/// `GET /metrics`: Prometheus text format. The flusher's lag, summed over campaigns and shards;
/// when Redis is unreachable the lag gauges are absent and `safequiz_redis_up` is 0.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut text = String::new();
    let lag = flush_lag(&state).await;
    let gauge = |text: &mut String, name: &str, help: &str, value: String| {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    };
    gauge(
        &mut text,
        "safequiz_redis_up",
        "Whether Redis answered this scrape.",
        u8::from(lag.is_ok()).to_string(),
    );
    if let Ok(lag) = lag {
        gauge(
            &mut text,
            "safequiz_flush_pending_entries",
            "Stream entries delivered to a flusher and not yet acknowledged.",
            lag.pending.to_string(),
        );
        gauge(
            &mut text,
            "safequiz_flush_undelivered_entries",
            "Stream entries no flusher has read yet.",
            lag.undelivered.to_string(),
        );
        gauge(
            &mut text,
            "safequiz_flush_oldest_unflushed_age_seconds",
            "Age of the oldest stream entry not yet written to SQL (0 when none).",
            format!("{:.3}", lag.oldest_age_ms.unwrap_or(0) as f64 / 1000.0),
        );
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text)
}
