//! Request extractors shared by handlers: the verified participant, and an optional JSON body.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::auth::ParticipantClaims;

/// The participant a request's `Authorization: Bearer <token>` names, verified by signature
/// alone: no Redis or SQL lookup (docs/design.md §2.1).
#[derive(Clone, Debug)]
pub struct Participant(pub ParticipantClaims);

impl FromRequest for Participant {
    type Error = ApiError;
    type Future = Ready<Result<Participant, ApiError>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(verify(request))
    }
}

fn verify(request: &HttpRequest) -> Result<Participant, ApiError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("the application state is missing".to_owned()))?;
    let header = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::Unauthorized("需要登录凭证（Authorization: Bearer <token>）".to_owned())
        })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthorized("凭证格式应为 Bearer <token>".to_owned()))?;
    let claims = state.auth.verify(token.trim(), state.clock.now())?;
    crate::telemetry::note_participant(claims.participant);
    // In memory, no I/O: the hot path keeps its one Redis round trip (`http::limits`).
    state.limits.participant_request(&claims)?;
    Ok(Participant(claims))
}

/// Reads a JSON body of at most `limit` bytes; an empty body is `None`.
///
/// For endpoints whose body is optional (submit): actix's `Option<Json<T>>` would silently
/// turn malformed JSON into `None`, which must be a `400` instead.
pub async fn optional_json<T: DeserializeOwned>(
    mut payload: web::Payload,
    limit: usize,
) -> Result<Option<T>, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|error| ApiError::BadRequest(format!("unreadable body: {error}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|error| ApiError::BadRequest(format!("invalid JSON body: {error}")))
}
