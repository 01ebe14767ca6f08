//! The route table: reading this file shows the whole HTTP surface.

use actix_web::error::QueryPayloadError;
use actix_web::guard::{Guard, GuardContext};
use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpRequest, HttpResponse, Resource, Responder, Route, web};

use super::error::ApiError;
use super::extract::{json_error, path_error};
use super::organizer::{
    account, exports, figures, headcounts, participants as organizer_participants, progress,
    questions, security,
};
use super::{
    attempts, audit, campaigns, certificates, fair_play, health, leaderboards, live, openapi,
    organizations, pages, participants, practice, privacy, prizes,
};

/// Registers every route, the extractor error handlers and the JSON 404 fallback.
pub fn configure(max_body_bytes: usize) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config: &mut web::ServiceConfig| {
        config
            .app_data(
                web::JsonConfig::default()
                    .limit(max_body_bytes)
                    .error_handler(move |error, _req| json_error(error, max_body_bytes).into()),
            )
            .app_data(
                web::PathConfig::default().error_handler(|error, _req| path_error(error).into()),
            )
            .app_data(
                web::QueryConfig::default().error_handler(|error, _req| query_error(error).into()),
            )
            // The API first and the participant's hot routes first within it: the router tries
            // routes in order, and every pattern with a {placeholder} is a regex match.
            .service(
                web::scope("/api/v1")
                    // The contract (`http::openapi`): every route here has an operation there.
                    .route("/openapi.json", get().to(openapi::openapi_json))
                    .route("/docs", get().to(openapi::docs))
                    .service(
                        web::scope("/attempts")
                            .service(hot(
                                "/api/v1/attempts",
                                "/{aid}/answers/{index}",
                                Method::PUT,
                                attempts::save,
                            ))
                            .service(hot(
                                "/api/v1/attempts",
                                "/{aid}/submit",
                                Method::POST,
                                attempts::submit,
                            ))
                            .service(hot(
                                "/api/v1/attempts",
                                "/{aid}",
                                Method::GET,
                                attempts::read,
                            )),
                    )
                    .service(
                        web::scope("/campaigns")
                            .route("", get().to(campaigns::list))
                            .service(hot(
                                "/api/v1/campaigns",
                                "/{cid}/attempts",
                                Method::POST,
                                attempts::start,
                            ))
                            .route("/{cid}/participants", post().to(participants::register))
                            .route("/{cid}/me", get().to(participants::me))
                            .route("/{cid}/notice", get().to(privacy::notice))
                            .route("/{cid}/me/privacy", get().to(privacy::held))
                            .route(
                                "/{cid}/me/deletion",
                                post().to(privacy::delete_registration),
                            )
                            .route("/{cid}/practice", get().to(practice::room))
                            .route("/{cid}/practice", post().to(practice::start))
                            .route("/{cid}/practice/submit", post().to(practice::submit))
                            .route("/{cid}/prizes/me", get().to(prizes::me))
                            .route("/{cid}/prizes/winners", get().to(prizes::winners))
                            .route("/{cid}/certificate", get().to(certificates::status))
                            .route("/{cid}/certificate.pdf", get().to(certificates::pdf))
                            .route("/{cid}/units", get().to(campaigns::units))
                            .route("/{cid}/organizations", post().to(organizations::register))
                            .route("/{cid}/organizations", get().to(organizations::search))
                            .route(
                                "/{cid}/organizations/{oid}/admin-applications",
                                post().to(organizations::apply),
                            )
                            .route("/{cid}/leaderboards/units", get().to(leaderboards::units))
                            .route(
                                "/{cid}/leaderboards/participants",
                                get().to(leaderboards::participants),
                            )
                            .route(
                                "/{cid}/leaderboards/organizations",
                                get().to(leaderboards::organizations),
                            )
                            .route("/{cid}/leaderboards/stream", get().to(live::stream)),
                    )
                    .route(
                        "/certificates/{serial}",
                        get().to(certificates::verify_json),
                    )
                    .service(
                        web::scope("/organizer")
                            .route("/login", post().to(account::login))
                            .route("/logout", post().to(account::logout))
                            .route("/me", get().to(account::me))
                            .route("/password", put().to(account::change_password))
                            .route("/audit", get().to(audit::audit_page))
                            .route("/totp", post().to(security::start_totp))
                            .route("/totp/confirm", post().to(security::confirm_totp))
                            .route("/progress", get().to(progress::progress))
                            .route(
                                "/participants",
                                get().to(organizer_participants::participants),
                            )
                            .route("/flags", get().to(fair_play::flags))
                            .route(
                                "/participants/{pid}/exclusion",
                                post().to(fair_play::exclude),
                            )
                            .route(
                                "/participants/{pid}/exclusion",
                                delete().to(fair_play::undo_exclusion),
                            )
                            .route(
                                "/participants/{pid}/attempts",
                                get().to(organizer_participants::participant_attempts),
                            )
                            .route("/figures", get().to(figures::figures))
                            .route("/daily", get().to(figures::daily))
                            .route("/questions", get().to(questions::questions))
                            .route(
                                "/units/{unit}/headcount",
                                put().to(headcounts::set_headcount),
                            )
                            .route("/headcounts", post().to(headcounts::upload_headcounts))
                            .route(
                                "/exports/participants.{format}",
                                get().to(exports::participants),
                            )
                            .route("/exports/winners.csv", get().to(prizes::export_winners))
                            .route("/exports/units.{format}", get().to(exports::units))
                            .route("/exports/daily.{format}", get().to(exports::daily))
                            .route("/organizations", get().to(organizations::figures))
                            .route("/admin-applications", get().to(organizations::queue))
                            .route(
                                "/admin-applications/{id}/file",
                                get().to(organizations::file),
                            )
                            .route(
                                "/admin-applications/{id}/approval",
                                post().to(organizations::approve),
                            )
                            .route(
                                "/admin-applications/{id}/refusal",
                                post().to(organizations::refuse),
                            ),
                    ),
            )
            .route("/healthz", get().to(health::healthz))
            .route("/readyz", get().to(health::readyz))
            .route("/metrics", get().to(health::metrics))
            .route("/", get().to(pages::shell))
            .route("/c/{cid}", get().to(pages::shell))
            .route("/c/{cid}/", get().to(pages::shell))
            .route("/organizer", get().to(pages::organizer_shell))
            .route("/verify/{serial}", get().to(certificates::verify_page))
            .route("/organizer/", get().to(pages::organizer_shell))
            .route("/static/{file}", get().to(pages::asset))
            .default_service(web::to(not_found));
    }
}

/// A route answering one method. Every route of the table above is a resource of its own whose
/// method guard decides whether the resource matches at all, so another method falls through to
/// the JSON 404, never to actix-web's 405. actix-web's own method guards (`web::get()` and the
/// like) still record each method they check in the request's extensions, for the `Allow`
/// header of a 405 this table never answers: a boxed vector inserted into a map and cleared
/// again on every request (the clear alone was 2.5% of the service's samples at the ceiling,
/// docs/performance.md, "Method guards that only compare"). This guard only compares.
fn method(method: Method) -> Route {
    web::route().guard(MethodIs(method))
}

fn get() -> Route {
    method(Method::GET)
}

fn post() -> Route {
    method(Method::POST)
}

fn put() -> Route {
    method(Method::PUT)
}

fn delete() -> Route {
    method(Method::DELETE)
}

/// A hot route (the attempt's): like the others, and named by its whole pattern, the scope's
/// `prefix` and its `path`. The request metrics label a request by the route that matched it,
/// and for a named one they read the name in place (`HttpRequest::match_name`), where an
/// unnamed one's pattern is joined into a new `String` on every request (`match_pattern`).
fn hot<F, Args>(prefix: &str, path: &str, method: Method, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .name(&format!("{prefix}{path}"))
        .guard(MethodIs(method))
        .to(handler)
}

struct MethodIs(Method);

impl Guard for MethodIs {
    fn check(&self, context: &GuardContext<'_>) -> bool {
        context.head().method == self.0
    }
}

async fn not_found(_request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such resource"))
}

fn query_error(error: QueryPayloadError) -> ApiError {
    ApiError::BadRequest(format!("invalid query string: {error}"))
}
