//! Request extractors shared by handlers: the verified participant, and paths and JSON bodies
//! read in place.

use std::borrow::Cow;
use std::fmt;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError};
use actix_web::http::header::CONTENT_TYPE;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Visitor};

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
    payload: web::Payload,
    limit: usize,
) -> Result<Option<T>, ApiError> {
    let body = body_bytes(payload, limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(invalid_json)
}

/// A body of at most `limit` bytes, whole. The first chunk is kept as it came (a small body,
/// such as a save's, arrives in one): nothing is copied unless a second one follows.
pub async fn body_bytes(mut payload: web::Payload, limit: usize) -> Result<Bytes, ApiError> {
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|error| ApiError::BadRequest(format!("unreadable body: {error}")))?;
        let so_far = joined.as_ref().map_or(first.len(), BytesMut::len);
        if so_far + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        match joined.as_mut() {
            Some(joined) => joined.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let mut both = BytesMut::with_capacity(so_far + chunk.len());
                both.extend_from_slice(&first);
                both.extend_from_slice(&chunk);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

/// A required JSON body read by `body_bytes`, deserialized in place: its strings borrow from
/// `body` where they have no escapes. The same checks and errors as actix's `web::Json` under
/// the route table's `JsonConfig`: the content type must be JSON (`*/json` or `*/*+json`), and
/// malformed JSON is a `400`. For the hot save, whose body actix's extractor would parse into
/// owned strings after parsing its content type into a `Mime`.
pub fn json_body<'a, T: Deserialize<'a>>(
    request: &HttpRequest,
    body: &'a [u8],
) -> Result<T, ApiError> {
    if !is_json(request) {
        return Err(not_json());
    }
    serde_json::from_slice(body).map_err(invalid_json)
}

/// Whether the request's content type is JSON, as actix's `web::Json` decides it: a subtype of
/// `json` or with the `+json` suffix, any type, parameters ignored, case ignored.
fn is_json(request: &HttpRequest) -> bool {
    let Some(value) = request.headers().get(CONTENT_TYPE) else {
        return false;
    };
    let essence = value
        .as_bytes()
        .split(|&byte| byte == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let Some(slash) = essence.iter().position(|&byte| byte == b'/') else {
        return false;
    };
    let subtype = &essence[slash + 1..];
    let suffix = subtype.len().checked_sub(5).map(|at| &subtype[at..]);
    subtype.eq_ignore_ascii_case(b"json")
        || suffix.is_some_and(|s| s.eq_ignore_ascii_case(b"+json"))
}

/// The error a JSON body earns (the route table's `JsonConfig` and the readers above).
pub fn json_error(error: JsonPayloadError, limit: usize) -> ApiError {
    match error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge(limit)
        }
        JsonPayloadError::ContentType => not_json(),
        JsonPayloadError::Deserialize(error) => invalid_json(error),
        other => ApiError::BadRequest(format!("unreadable body: {other}")),
    }
}

fn not_json() -> ApiError {
    ApiError::BadRequest("the body must be JSON (Content-Type: application/json)".to_owned())
}

fn invalid_json(error: serde_json::Error) -> ApiError {
    ApiError::BadRequest(format!("invalid JSON body: {error}"))
}

/// The error a path earns that does not deserialize (the route table's `PathConfig` and
/// `path_segments`).
pub fn path_error(error: PathError) -> ApiError {
    ApiError::BadRequest(format!("invalid path: {error}"))
}

/// The matched route's segments as `T`, deserialized in place as `web::Path` would, with the same
/// percent-decoding and the same error, but with [`Text`] segments borrowed from the path when
/// they need no decoding (`web::Path` takes owned values only: a `String` per segment).
pub fn path_segments<'r, T: Deserialize<'r>>(request: &'r HttpRequest) -> Result<T, ApiError> {
    request
        .match_info()
        .load()
        .map_err(|error| path_error(PathError::Deserialize(error)))
}

/// A string read in place: borrowed from the input when it has no escapes (JSON) or
/// percent-encoding (a path), copied only when it has. serde's own `Cow<str>` is always copied
/// inside a `Vec` or an `Option`, and `&str` refuses a string that needs unescaping.
#[derive(Debug)]
pub struct Text<'a>(pub Cow<'a, str>);

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'a>, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::Text;

    #[test]
    fn a_text_is_borrowed_unless_it_had_escapes() {
        let plain: Vec<Text<'_>> = serde_json::from_str(r#"["A", "ticket.x-1"]"#).expect("JSON");
        assert!(plain.iter().all(|text| matches!(text.0, Cow::Borrowed(_))));
        let escaped: Vec<Text<'_>> = serde_json::from_str(r#"["\u0041"]"#).expect("JSON");
        assert!(matches!(&escaped[0].0, Cow::Owned(text) if text == "A"));
        let absent: Option<Text<'_>> = serde_json::from_str("null").expect("JSON");
        assert!(absent.is_none());
        assert!(
            serde_json::from_str::<Text<'_>>("1").is_err(),
            "a number is no text"
        );
    }
}
