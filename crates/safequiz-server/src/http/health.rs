//! Liveness and readiness probes for load balancers and orchestrators.

use actix_web::{HttpResponse, web};
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
    if down.is_empty() {
        Ok(HttpResponse::Ok().json(Ready {
            status: "ok",
            redis: "ok",
            database: "ok",
        }))
    } else {
        Err(ApiError::NotReady(format!(
            "not ready: {} unreachable",
            down.join(" and ")
        )))
    }
}
