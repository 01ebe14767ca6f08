//! The OpenAPI 3.1 document of the HTTP API, and the page that renders it.
//!
//! The document is generated at compile time from each handler's `#[utoipa::path]` attribute
//! and the wire types' `ToSchema`/`IntoParams` derives (serde's field names, the same structs
//! the handlers serialize), so it cannot drift from the code; `tests/it/openapi.rs` fails when
//! a route of `routes.rs` has no operation here or an operation has no summary, and
//! `tests/schemathesis/run` fuzzes the running service against it. Every 4xx and 5xx response
//! references the one error schema, [`ErrorBody`].
//!
//! Served at `GET /api/v1/openapi.json`; `GET /api/v1/docs` is a small page of our own, compiled
//! into the binary, that renders the document's operations and schemas with plain JavaScript.
//! No viewer from a CDN: the machine serving a county's competition may have no internet, and a
//! vendored viewer would be a megabyte of someone else's script to pin and update for a page
//! that only lists what the document says.
//!
//! Adding a route: give its handler a `#[utoipa::path(...)]` (method, full path, tag, summary,
//! params, every status with `ErrorBody` for errors) and list it in [`ApiDoc`]'s `paths`.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::header;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use super::error::{ApiError, ErrorBody};
use super::organizer::{
    account, exports, figures, headcounts, participants as organizer_participants, progress,
    questions, security,
};
use super::{
    attempts, audit, campaigns, certificates, fair_play, health, leaderboards, live, organizations,
    pages, participants, practice, privacy, prizes,
};

/// The document: every operation of the route table, the error schema and the security schemes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "safequiz",
        description = "The safequiz HTTP API: the participant's quiz (registration, attempts, \
                       boards), the organizer back office, health probes and pages. The prose, \
                       rules and ranking order are in docs/api.md. Every error is JSON \
                       `{\"error\", \"message\", \"request_id\"}` (`ErrorBody`)."
    ),
    paths(
        campaigns::list,
        campaigns::units,
        participants::register,
        participants::me,
        privacy::notice,
        privacy::held,
        privacy::delete_registration,
        practice::room,
        practice::start,
        practice::submit,
        prizes::me,
        prizes::winners,
        prizes::export_winners,
        certificates::status,
        certificates::pdf,
        certificates::verify_json,
        certificates::verify_page,
        attempts::start,
        attempts::save,
        attempts::submit,
        attempts::read,
        leaderboards::units,
        leaderboards::participants,
        leaderboards::organizations,
        live::stream,
        account::login,
        account::logout,
        account::me,
        account::change_password,
        audit::audit_page,
        security::start_totp,
        security::confirm_totp,
        progress::progress,
        organizer_participants::participants,
        organizer_participants::participant_attempts,
        figures::figures,
        figures::daily,
        questions::questions,
        headcounts::set_headcount,
        fair_play::flags,
        fair_play::exclude,
        fair_play::undo_exclusion,
        headcounts::upload_headcounts,
        exports::participants,
        exports::units,
        exports::daily,
        organizations::register,
        organizations::search,
        organizations::apply,
        organizations::queue,
        organizations::file,
        organizations::approve,
        organizations::refuse,
        organizations::figures,
        openapi_json,
        docs,
        health::healthz,
        health::readyz,
        health::metrics,
        pages::shell,
        campaign_page,
        campaign_page_slash,
        pages::organizer_shell,
        organizer_page,
        pages::asset,
    ),
    components(schemas(ErrorBody<'_>)),
    modifiers(
        &SecuritySchemes,
        &ErrorCodes,
        &Unavailable,
        &RateLimited,
        &ExtractorErrors,
        &OptionalBodies
    ),
    tags(
        (name = "participant", description = "The quiz: campaigns, registration, attempts, boards; \
                                              a participant token (`participant`) where needed"),
        (name = "organizer", description = "The back office: an organizer session (`organizer` or \
                                            `organizer_cookie`) limited to the account's scope"),
        (name = "organization", description = "Self-registered organizations: registration, search, \
                                               administrator applications (issue 18)"),
        (name = "health", description = "Probes and metrics for balancers and operators"),
        (name = "pages", description = "The web pages and their assets (HTML, scripts, styles)"),
        (name = "docs", description = "This document and its page"),
    )
)]
pub struct ApiDoc;

/// The document as served, built once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
});

/// The docs page (Chinese chrome, the document's own English summaries).
const DOCS_PAGE: &str = include_str!("../../web/api-docs.html");

/// `GET /api/v1/openapi.json`: the OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "docs",
    summary = "This OpenAPI 3.1 document",
    responses((status = 200, description = "The document", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(DOCUMENT.as_str())
}

/// `GET /api/v1/docs`: the page rendering the document, with nothing loaded from elsewhere.
#[utoipa::path(
    get,
    path = "/api/v1/docs",
    tag = "docs",
    summary = "A page rendering this document's operations and schemas (works offline)",
    responses((status = 200, description = "The page", content_type = "text/html", body = String)),
)]
pub async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self' 'unsafe-inline'; \
             style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; \
             frame-ancestors 'none'",
        ))
        .body(DOCS_PAGE)
}

/// `GET /c/{cid}`: the same shell as `/` (`pages::shell`); documentation only.
#[utoipa::path(
    get,
    path = "/c/{cid}",
    tag = "pages",
    summary = "The participant's pages for one campaign (the shell of `/`)",
    params(("cid" = String, Path, description = "The campaign id, read by the page's script")),
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
    ),
)]
#[allow(dead_code)]
fn campaign_page() {}

/// `GET /c/{cid}/`: as `/c/{cid}`; documentation only.
#[utoipa::path(
    get,
    path = "/c/{cid}/",
    tag = "pages",
    summary = "The participant's pages for one campaign (the shell of `/`)",
    params(("cid" = String, Path, description = "The campaign id, read by the page's script")),
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
    ),
)]
#[allow(dead_code)]
fn campaign_page_slash() {}

/// `GET /organizer`: the same shell as `/organizer/` (`pages::organizer_shell`); documentation
/// only.
#[utoipa::path(
    get,
    path = "/organizer",
    tag = "pages",
    summary = "The organizer's pages (the shell of `/organizer/`)",
    responses(
        (status = 200, description = "The page", content_type = "text/html", body = String),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
    ),
)]
#[allow(dead_code)]
fn organizer_page() {}

/// The three ways a request authenticates: a participant's token, an organizer's session token
/// as a bearer token (API clients) or in the `sq_org` cookie (the pages).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "participant",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("safequiz participant token")
                    .description(Some(
                        "The `token` a registration answers, as `Authorization: Bearer <token>`; \
                         valid for its own campaign only.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "organizer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("safequiz organizer session")
                    .description(Some(
                        "The `token` of `POST /api/v1/organizer/login`, as \
                         `Authorization: Bearer <token>`.",
                    ))
                    .build(),
            ),
        );
        let mut cookie = ApiKeyValue::new(account::SESSION_COOKIE);
        cookie.description = Some(
            "The session cookie login sets (HttpOnly, SameSite=Strict); a request that changes \
             anything must also send `X-Requested-With`, or it answers 400."
                .to_owned(),
        );
        components.add_security_scheme(
            "organizer_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(cookie)),
        );
    }
}

/// Lists every stable error code ([`ApiError::CODES`]) as the values of `ErrorBody.error`.
struct ErrorCodes;

impl Modify for ErrorCodes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = openapi
            .components
            .as_mut()
            .and_then(|components| components.schemas.get_mut("ErrorBody"))
            .and_then(|schema| match schema {
                RefOr::T(Schema::Object(object)) => object.properties.get_mut("error"),
                _ => None,
            });
        if let Some(RefOr::T(Schema::Object(error))) = error {
            error.enum_values = Some(ApiError::CODES.iter().map(|&code| code.into()).collect());
        }
    }
}

/// Adds `503 not_ready` to every operation that reads Redis or SQL (everything under
/// `/api/v1` but this document): a dependency down or a Redis Cluster failing over answers it
/// with `Retry-After`, on any of them.
struct Unavailable;

impl Modify for Unavailable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let response = ResponseBuilder::new()
            .description(
                "`not_ready`: Redis or the database is unreachable, or a Redis Cluster is \
                 failing over; retry after `Retry-After` seconds",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for (path, item) in &mut openapi.paths.paths {
            let documentation = ["/api/v1/openapi.json", "/api/v1/docs"].contains(&path.as_str());
            if !path.starts_with("/api/v1/") || documentation {
                continue;
            }
            for operation in operations_mut(item) {
                operation
                    .responses
                    .responses
                    .entry("503".to_owned())
                    .or_insert_with(|| response.clone().into());
            }
        }
    }
}

/// Adds `429 rate_limited` where `[limits]` can refuse (`http::limits`): every operation taking
/// a participant token (the `Participant` extractor counts each request of a token) and
/// registration (counted per address and per phone). Declared here once, as the extractor is
/// one, rather than on each handler.
struct RateLimited;

impl Modify for RateLimited {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let response = ResponseBuilder::new()
            .description(
                "`rate_limited`: more requests than `[limits]` allows (a participant token's \
                 requests, or registrations per address or phone); retry after `Retry-After` \
                 seconds",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for (path, item) in &mut openapi.paths.paths {
            let registration = path == "/api/v1/campaigns/{cid}/participants";
            for operation in operations_mut(item) {
                let participant = operation.security.iter().flatten().any(|requirement| {
                    serde_json::to_value(requirement)
                        .is_ok_and(|value| value.get("participant").is_some())
                });
                if participant || registration {
                    operation
                        .responses
                        .responses
                        .entry("429".to_owned())
                        .or_insert_with(|| response.clone().into());
                }
            }
        }
    }
}

/// The refusals of the shared extractors, on every operation that uses them, where its handler
/// does not already document the status: a JSON body that is malformed, not JSON or too large
/// (`routes.rs`' `JsonConfig`: `400`, `413`), a change authenticated by the organizer cookie
/// without `X-Requested-With` (`organizer::session_token`: `400`), and a missing or invalid
/// credential (`401`).
struct ExtractorErrors;

impl Modify for ExtractorErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        let bad_body =
            error("`bad_request`: the body is not JSON, is malformed or has unknown fields");
        let too_large = error("`payload_too_large`: the body is larger than `http.max_body_bytes`");
        let no_header = error(
            "`bad_request`: a change authenticated by the session cookie without `X-Requested-With`",
        );
        let unauthorized = error("`unauthorized`: no credential, or an invalid or ended one");
        for item in openapi.paths.paths.values_mut() {
            let changes = [
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in changes.into_iter().filter_map(Option::as_mut) {
                let by_cookie = operation.security.iter().flatten().any(|requirement| {
                    serde_json::to_value(requirement)
                        .is_ok_and(|value| value.get("organizer_cookie").is_some())
                });
                if by_cookie {
                    let responses = &mut operation.responses.responses;
                    responses
                        .entry("400".to_owned())
                        .or_insert_with(|| no_header.clone().into());
                }
            }
            for operation in operations_mut(item) {
                let json_body = operation
                    .request_body
                    .as_ref()
                    .is_some_and(|body| match body {
                        RefOr::T(body) => body.content.contains_key("application/json"),
                        RefOr::Ref(_) => false,
                    });
                let credentials = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let responses = &mut operation.responses.responses;
                if json_body {
                    responses
                        .entry("400".to_owned())
                        .or_insert_with(|| bad_body.clone().into());
                    responses
                        .entry("413".to_owned())
                        .or_insert_with(|| too_large.clone().into());
                }
                if credentials {
                    responses
                        .entry("401".to_owned())
                        .or_insert_with(|| unauthorized.clone().into());
                }
            }
        }
    }
}

/// An optional body (`request_body(content = Option<T>)`, read by `extract::optional_json`) is
/// one that may be left out, not one that may be JSON `null` (which that reader refuses): utoipa
/// spells it `oneOf: [T, null]`, so the `null` branch is dropped and the body stays not
/// required.
struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations_mut(item) {
                let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
                    continue;
                };
                if body.required.is_some() {
                    continue;
                }
                for content in body.content.values_mut() {
                    let RefOr::T(content) = content else {
                        continue;
                    };
                    let Some(RefOr::T(Schema::OneOf(one_of))) = content.schema.as_ref() else {
                        continue;
                    };
                    let branches: Vec<&RefOr<Schema>> = one_of
                        .items
                        .iter()
                        .filter(|branch| {
                            !serde_json::to_value(branch)
                                .is_ok_and(|value| value.get("type") == Some(&"null".into()))
                        })
                        .collect();
                    if let [only] = branches.as_slice() {
                        content.schema = Some((*only).clone());
                    }
                }
            }
        }
    }
}

/// Every operation of a path item, whatever its method.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// The document as JSON text, as `GET /api/v1/openapi.json` serves it.
pub fn document() -> &'static str {
    DOCUMENT.as_str()
}
