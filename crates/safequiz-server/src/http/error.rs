//! The one error type of the HTTP layer and the JSON shape of every error response.
//!
//! Every 4xx and 5xx leaves as `{"error": "<stable code>", "message": "<human text>"}`. The codes
//! are a public contract: clients branch on them, so they never change meaning. Unexpected errors
//! answer 500 with a generic message and their cause is logged once, here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// Every error a handler or extractor can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The path names nothing.
    #[error("no such resource")]
    NotFound,
    /// The request body is not acceptable JSON, or its fields are wrong.
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than `http.max_body_bytes`.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// A dependency (Redis, SQL) is not reachable.
    #[error("{0}")]
    NotReady(String),
    /// Anything unexpected; the cause is logged, not sent.
    #[error("internal error")]
    Internal(String),
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// A stable, machine-readable code.
    pub error: &'a str,
    /// A human-readable explanation.
    pub message: String,
}

impl ApiError {
    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::NotReady(_) => "not_ready",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotReady(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error.cause = %cause, "request failed unexpectedly");
        }
        HttpResponse::build(self.status_code()).json(ErrorBody {
            error: self.code(),
            message: self.to_string(),
        })
    }
}
