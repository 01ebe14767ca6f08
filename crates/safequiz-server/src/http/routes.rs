//! The route table: reading this file shows the whole HTTP surface.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, web};

use super::error::ApiError;
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
                    .route("/openapi.json", web::get().to(openapi::openapi_json))
                    .route("/docs", web::get().to(openapi::docs))
                    .service(
                        web::scope("/attempts")
                            .route("/{aid}/answers/{index}", web::put().to(attempts::save))
                            .route("/{aid}/submit", web::post().to(attempts::submit))
                            .route("/{aid}", web::get().to(attempts::read)),
                    )
                    .service(
                        web::scope("/campaigns")
                            .route("", web::get().to(campaigns::list))
                            .route("/{cid}/attempts", web::post().to(attempts::start))
                            .route(
                                "/{cid}/participants",
                                web::post().to(participants::register),
                            )
                            .route("/{cid}/me", web::get().to(participants::me))
                            .route("/{cid}/notice", web::get().to(privacy::notice))
                            .route("/{cid}/me/privacy", web::get().to(privacy::held))
                            .route(
                                "/{cid}/me/deletion",
                                web::post().to(privacy::delete_registration),
                            )
                            .route("/{cid}/practice", web::get().to(practice::room))
                            .route("/{cid}/practice", web::post().to(practice::start))
                            .route("/{cid}/practice/submit", web::post().to(practice::submit))
                            .route("/{cid}/prizes/me", web::get().to(prizes::me))
                            .route("/{cid}/prizes/winners", web::get().to(prizes::winners))
                            .route("/{cid}/certificate", web::get().to(certificates::status))
                            .route("/{cid}/certificate.pdf", web::get().to(certificates::pdf))
                            .route("/{cid}/units", web::get().to(campaigns::units))
                            .route(
                                "/{cid}/organizations",
                                web::post().to(organizations::register),
                            )
                            .route("/{cid}/organizations", web::get().to(organizations::search))
                            .route(
                                "/{cid}/organizations/{oid}/admin-applications",
                                web::post().to(organizations::apply),
                            )
                            .route(
                                "/{cid}/leaderboards/units",
                                web::get().to(leaderboards::units),
                            )
                            .route(
                                "/{cid}/leaderboards/participants",
                                web::get().to(leaderboards::participants),
                            )
                            .route(
                                "/{cid}/leaderboards/organizations",
                                web::get().to(leaderboards::organizations),
                            )
                            .route("/{cid}/leaderboards/stream", web::get().to(live::stream)),
                    )
                    .route(
                        "/certificates/{serial}",
                        web::get().to(certificates::verify_json),
                    )
                    .service(
                        web::scope("/organizer")
                            .route("/login", web::post().to(account::login))
                            .route("/logout", web::post().to(account::logout))
                            .route("/me", web::get().to(account::me))
                            .route("/password", web::put().to(account::change_password))
                            .route("/audit", web::get().to(audit::audit_page))
                            .route("/totp", web::post().to(security::start_totp))
                            .route("/totp/confirm", web::post().to(security::confirm_totp))
                            .route("/progress", web::get().to(progress::progress))
                            .route(
                                "/participants",
                                web::get().to(organizer_participants::participants),
                            )
                            .route("/flags", web::get().to(fair_play::flags))
                            .route(
                                "/participants/{pid}/exclusion",
                                web::post().to(fair_play::exclude),
                            )
                            .route(
                                "/participants/{pid}/exclusion",
                                web::delete().to(fair_play::undo_exclusion),
                            )
                            .route(
                                "/participants/{pid}/attempts",
                                web::get().to(organizer_participants::participant_attempts),
                            )
                            .route("/figures", web::get().to(figures::figures))
                            .route("/daily", web::get().to(figures::daily))
                            .route("/questions", web::get().to(questions::questions))
                            .route(
                                "/units/{unit}/headcount",
                                web::put().to(headcounts::set_headcount),
                            )
                            .route("/headcounts", web::post().to(headcounts::upload_headcounts))
                            .route(
                                "/exports/participants.{format}",
                                web::get().to(exports::participants),
                            )
                            .route(
                                "/exports/winners.csv",
                                web::get().to(prizes::export_winners),
                            )
                            .route("/exports/units.{format}", web::get().to(exports::units))
                            .route("/exports/daily.{format}", web::get().to(exports::daily))
                            .route("/organizations", web::get().to(organizations::figures))
                            .route("/admin-applications", web::get().to(organizations::queue))
                            .route(
                                "/admin-applications/{id}/file",
                                web::get().to(organizations::file),
                            )
                            .route(
                                "/admin-applications/{id}/approval",
                                web::post().to(organizations::approve),
                            )
                            .route(
                                "/admin-applications/{id}/refusal",
                                web::post().to(organizations::refuse),
                            ),
                    ),
            )
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz))
            .route("/metrics", web::get().to(health::metrics))
            .route("/", web::get().to(pages::shell))
            .route("/c/{cid}", web::get().to(pages::shell))
            .route("/c/{cid}/", web::get().to(pages::shell))
            .route("/organizer", web::get().to(pages::organizer_shell))
            .route("/verify/{serial}", web::get().to(certificates::verify_page))
            .route("/organizer/", web::get().to(pages::organizer_shell))
            .route("/static/{file}", web::get().to(pages::asset))
            .default_service(web::to(not_found));
    }
}

async fn not_found(_request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such resource"))
}

fn json_error(error: JsonPayloadError, limit: usize) -> ApiError {
    match error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge(limit)
        }
        JsonPayloadError::ContentType => ApiError::BadRequest(
            "the body must be JSON (Content-Type: application/json)".to_owned(),
        ),
        JsonPayloadError::Deserialize(error) => {
            ApiError::BadRequest(format!("invalid JSON body: {error}"))
        }
        other => ApiError::BadRequest(format!("unreadable body: {other}")),
    }
}

fn path_error(error: PathError) -> ApiError {
    ApiError::BadRequest(format!("invalid path: {error}"))
}

fn query_error(error: QueryPayloadError) -> ApiError {
    ApiError::BadRequest(format!("invalid query string: {error}"))
}
