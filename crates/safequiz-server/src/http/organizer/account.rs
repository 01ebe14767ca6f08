//! An organizer's account: login, logout, `me` and the password change, and the session
//! cookie they set.
//!
//! Logins are rate-limited across replicas in Redis: after [`MAX_FAILURES_PER_USER`] failures of
//! one username, or [`MAX_FAILURES_PER_ADDRESS`] from one client address (the TCP peer, or
//! behind one of `http.trusted_proxies` the client it forwards for), within
//! [`FAILURE_WINDOW_SECS`], login answers `429 too_many_attempts` until the window ends,
//! whether or not the password is right.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use jiff::Timestamp;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::scope::{Scope, WHOLE_CAMPAIGN_NAME};
use safequiz_redis::keys::login_failures;
use safequiz_sql::organizers::OrganizerRecord;
use serde::{Deserialize, Serialize};

use super::{AnySession, security};
use crate::accounts;
use crate::auth::SessionClaims;
use crate::http::AppState;
use crate::http::client_address;
use crate::http::error::{ApiError, ErrorBody};

/// The session cookie the pages use.
pub const SESSION_COOKIE: &str = "sq_org";

/// Failed logins of one username allowed per window.
pub const MAX_FAILURES_PER_USER: u64 = 5;

/// Failed logins from one client address allowed per window (a county office shares one
/// address, so this is higher than the per-user limit).
pub const MAX_FAILURES_PER_ADDRESS: u64 = 30;

/// The rate-limit window, from a counter's first failure.
pub const FAILURE_WINDOW_SECS: u64 = 15 * 60;

/// The body of `POST /organizer/login`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
    /// The second factor: a TOTP code or a recovery code, when the account has one.
    #[serde(default)]
    totp_code: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct LoginAnswer<'a> {
    token: String,
    expires_at: Timestamp,
    must_change_password: bool,
    /// The password is older than `auth.organizer_password_days`: change it first.
    password_expired: bool,
    /// A second factor is required and the account has none: enrol first.
    totp_enrollment_required: bool,
    organizer: AccountView<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct AccountView<'a> {
    username: &'a str,
    campaign_id: &'a str,
    campaign_title: &'a str,
    unit_id: &'a str,
    unit_name: &'a str,
    must_change_password: bool,
    /// The campaign takes self-registered organizations: the pages show the organizations
    /// report and the administrator applications (issue 18).
    organizations: bool,
}

/// The name of the account's scope as the pages head it: a unit's from the tree, an
/// administrator's organization's (or 五进 group's) from the record.
async fn scope_name(
    state: &AppState,
    account: &OrganizerRecord,
    campaign: Option<&Campaign>,
) -> Result<String, ApiError> {
    Ok(match (campaign, &account.scope) {
        (Some(campaign), Scope::Unit(id))
            if safequiz_domain::organization::is_dynamic_scope(&campaign.units, &account.scope) =>
        {
            crate::http::organizations::unit_name(state, campaign, id).await?
        }
        (Some(campaign), scope) => scope.name(&campaign.units).to_owned(),
        (None, Scope::WholeCampaign) => WHOLE_CAMPAIGN_NAME.to_owned(),
        (None, Scope::Unit(_)) => String::new(),
    })
}

fn account_view<'a>(
    account: &'a OrganizerRecord,
    campaign: Option<&'a Campaign>,
    unit_name: &'a str,
) -> AccountView<'a> {
    AccountView {
        username: &account.username,
        campaign_id: &account.campaign_id,
        campaign_title: campaign.map_or("", |campaign| campaign.title.as_str()),
        unit_id: account.scope.as_str(),
        unit_name,
        must_change_password: account.must_change_password,
        organizations: campaign.is_some_and(Campaign::has_organizations),
    }
}

/// The address the per-address login limit counts a request under: the TCP peer, or behind a
/// trusted proxy the client its forwarding headers name (see [`client_address`]).
pub(crate) fn login_address(request: &HttpRequest, state: &AppState) -> String {
    let Some(peer) = request.peer_addr() else {
        // Only requests built in tests have no peer.
        return "unknown".to_owned();
    };
    let headers = request.headers();
    client_address::client_address(
        peer.ip(),
        &state.trusted_proxies,
        headers
            .get_all(header::X_FORWARDED_FOR)
            .map(HeaderValue::as_bytes),
        headers
            .get_all(header::FORWARDED)
            .map(HeaderValue::as_bytes),
    )
    .to_string()
}

/// The login-failure counters of `username` and of the request's address, refused with `429`
/// while either is at its limit.
async fn login_counters(
    request: &HttpRequest,
    state: &AppState,
    username: &str,
) -> Result<[String; 2], ApiError> {
    let keys = [
        login_failures("user", username),
        login_failures("addr", &login_address(request, state)),
    ];
    let counts = state.hot.failures(&keys).await?;
    if counts[0] >= MAX_FAILURES_PER_USER || counts[1] >= MAX_FAILURES_PER_ADDRESS {
        return Err(ApiError::TooManyAttempts {
            retry_after_secs: FAILURE_WINDOW_SECS,
        });
    }
    Ok(keys)
}

/// The account `username` names when `password` is its password.
///
/// The password is verified even when there is no such account, against a fixed hash, so the
/// answer takes as long either way and does not reveal which usernames exist.
async fn verified_account(
    state: &AppState,
    username: &str,
    password: String,
) -> Result<Option<OrganizerRecord>, ApiError> {
    let account = state.store.organizer_by_username(username).await?;
    let phc = account.as_ref().map_or_else(
        || accounts::dummy_hash().to_owned(),
        |account| account.password_hash.clone(),
    );
    let matches = web::block(move || accounts::verify_password(&password, &phc))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok(account.filter(|_| matches))
}

/// A new session token for `organizer` at session epoch `epoch`, its expiry and its cookie.
fn new_session(
    request: &HttpRequest,
    state: &AppState,
    organizer: i64,
    epoch: i64,
) -> Result<(String, Timestamp, Cookie<'static>), ApiError> {
    let expires_at = state
        .clock
        .now()
        .checked_add(state.session_ttl)
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let token = state.auth.sign_session(&SessionClaims {
        organizer,
        epoch,
        expires_at,
    });
    let cookie = session_cookie(request, state, token.clone());
    Ok((token, expires_at, cookie))
}

/// `POST /api/v1/organizer/login` `{username, password}`: a session token (and cookie).
#[utoipa::path(
    post,
    path = "/api/v1/organizer/login",
    tag = "organizer",
    summary = "Log in: a session token in the body and in the `sq_org` cookie",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in", body = LoginAnswer<'_>),
        (status = 400, description = "`bad_request`: a malformed body", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: wrong username, password or second-factor code", body = ErrorBody<'_>),
        (status = 403, description = "`account_locked`: too many failures in a row; `totp_required`: the account has a second factor and no `totp_code` was sent", body = ErrorBody<'_>),
        (status = 413, description = "`payload_too_large`", body = ErrorBody<'_>),
        (status = 429, description = "`too_many_attempts`: too many failed logins (`Retry-After`)", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn login(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let LoginBody {
        username,
        password,
        totp_code,
    } = body.into_inner();
    let username = username.trim().to_owned();
    if username.is_empty() || username.len() > 64 || password.chars().count() > 128 {
        return Err(ApiError::Unauthorized("用户名或密码错误".to_owned()));
    }
    let keys = login_counters(&request, &state, &username).await?;
    let address = login_address(&request, &state);
    // The account's lockout (issue 20) before the password: a locked account answers the same
    // whatever is typed.
    let known = state.store.organizer_by_username(&username).await?;
    if let Some(known) = &known {
        security::refuse_if_locked(&state, known, &address).await?;
    }
    let Some(account) = verified_account(&state, &username, password).await? else {
        state.hot.count_failure(&keys, FAILURE_WINDOW_SECS).await?;
        security::failed(&state, known.as_ref(), &address, "bad_password").await?;
        // Not the username: it is typed by anyone (a forged log line once came through it), it
        // may be a person's name, and a password typed into the wrong field lands there too.
        // The address is what an operator needs to see a guessing run.
        tracing::info!(
            client.address = %login_address(&request, &state),
            "organizer login refused"
        );
        return Err(ApiError::Unauthorized("用户名或密码错误".to_owned()));
    };
    security::check_second_factor(&state, &account, totp_code.as_deref(), &address).await?;
    security::succeeded(&state, &account, &address).await?;
    let login_security = state.store.login_security(account.organizer_id).await?;
    let password_expired = login_security
        .as_ref()
        .is_some_and(|s| security::password_expired(&state, s));
    let totp_enrollment_required = (state.login_policy.totp_required
        || state
            .catalogue
            .campaign(&account.campaign_id)
            .is_some_and(|c| c.organizer_totp_required))
        && !login_security.as_ref().is_some_and(|s| s.totp_enabled);
    state.hot.clear_failures(&keys[0]).await?;
    let (token, expires_at, cookie) = new_session(
        &request,
        &state,
        account.organizer_id,
        account.session_epoch,
    )?;
    let campaign = state.catalogue.campaign(&account.campaign_id).map(|c| &**c);
    let unit_name = scope_name(&state, &account, campaign).await?;
    tracing::info!(organizer = account.organizer_id, "organizer logged in");
    Ok(HttpResponse::Ok().cookie(cookie).json(LoginAnswer {
        token,
        expires_at,
        must_change_password: account.must_change_password,
        password_expired,
        totp_enrollment_required,
        organizer: account_view(&account, campaign, &unit_name),
    }))
}

/// The session cookie carrying `token`: `HttpOnly`, `SameSite=Strict`, `Secure` over HTTPS.
fn session_cookie(request: &HttpRequest, state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_https(request, state))
        .max_age(actix_web::cookie::time::Duration::seconds(
            state.session_ttl.as_secs(),
        ))
        .finish()
}

/// Whether the browser reached us over HTTPS: the listener's own scheme, or, from a trusted
/// proxy (`http.trusted_proxies`), the scheme its `X-Forwarded-Proto` or `Forwarded: proto=`
/// reports. Anyone else's forwarding headers are not believed, as for the client address.
fn over_https(request: &HttpRequest, state: &AppState) -> bool {
    let from_trusted_proxy = request
        .peer_addr()
        .is_some_and(|peer| state.trusted_proxies.contains(peer.ip()));
    if from_trusted_proxy {
        request.connection_info().scheme() == "https"
    } else {
        request.app_config().secure()
    }
}

fn expired_cookie() -> Cookie<'static> {
    let mut cookie = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    cookie.make_removal();
    cookie
}

/// `POST /api/v1/organizer/logout`: ends every session of the account.
#[utoipa::path(
    post,
    path = "/api/v1/organizer/logout",
    tag = "organizer",
    summary = "Log out: end every session of the account",
    security(("organizer" = []), ("organizer_cookie" = [])),
    responses(
        (status = 204, description = "Every session ended; the cookie is removed"),
        (status = 400, description = "`bad_request`: the cookie without `X-Requested-With`", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn logout(
    state: web::Data<AppState>,
    session: AnySession,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .end_organizer_sessions(session.0.account.organizer_id)
        .await?;
    session
        .0
        .audit(safequiz_sql::audit::action::LOGOUT, "", String::new())
        .await?;
    Ok(HttpResponse::NoContent().cookie(expired_cookie()).finish())
}

/// `GET /api/v1/organizer/me`: the account and its scope.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/me",
    tag = "organizer",
    summary = "The account and its scope",
    security(("organizer" = []), ("organizer_cookie" = [])),
    responses(
        (status = 200, description = "The account", body = AccountView<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn me(session: AnySession) -> Result<HttpResponse, ApiError> {
    let session = session.0;
    let campaign = session.campaign().ok();
    let unit_name = scope_name(session.state(), &session.account, campaign).await?;
    Ok(HttpResponse::Ok().json(account_view(&session.account, campaign, &unit_name)))
}

/// The answer of `PUT /organizer/password` (documentation only: it is built as JSON).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct PasswordChanged {
    token: String,
    expires_at: Timestamp,
}

/// The body of `PUT /organizer/password`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// The hash of `new_password` when it is acceptable and `current_password` is the account's:
/// `422 invalid_password` otherwise.
async fn new_password_hash(
    account: &OrganizerRecord,
    current_password: String,
    new_password: String,
) -> Result<String, ApiError> {
    accounts::check_new_password(&account.username, &new_password)
        .map_err(|message| ApiError::invalid("invalid_password", message))?;
    if new_password == current_password {
        return Err(ApiError::invalid(
            "invalid_password",
            "新密码不能与原密码相同",
        ));
    }
    let phc = account.password_hash.clone();
    let (matches, hash) = web::block(move || {
        let matches = accounts::verify_password(&current_password, &phc);
        let hash = matches.then(|| accounts::hash_password(&new_password));
        (matches, hash)
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))?;
    let Some(hash) = hash.filter(|_| matches) else {
        return Err(ApiError::invalid("invalid_password", "原密码不正确"));
    };
    hash.map_err(ApiError::Internal)
}

/// `PUT /api/v1/organizer/password` `{current_password, new_password}`: replaces the password
/// and ends every session, this one too (the answer carries a fresh token and cookie).
#[utoipa::path(
    put,
    path = "/api/v1/organizer/password",
    tag = "organizer",
    summary = "Change the password; every other session ends",
    security(("organizer" = []), ("organizer_cookie" = [])),
    request_body = PasswordBody,
    responses(
        (status = 200, description = "Changed: a fresh session token (and cookie)", body = PasswordChanged),
        (status = 400, description = "`bad_request`: a malformed body, or the cookie without `X-Requested-With`", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`: no session, or an ended one", body = ErrorBody<'_>),
        (status = 413, description = "`payload_too_large`", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_password`: the current one is wrong or the new one too weak", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn change_password(
    request: HttpRequest,
    state: web::Data<AppState>,
    session: AnySession,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let session = session.0;
    let account = &session.account;
    let PasswordBody {
        current_password,
        new_password,
    } = body.into_inner();
    let hash = new_password_hash(account, current_password, new_password).await?;
    let epoch = state
        .store
        .set_organizer_password(account.organizer_id, &hash, false)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("登录已失效，请重新登录".to_owned()))?;
    state
        .store
        .mark_password_set(account.organizer_id, state.clock.now().as_millisecond())
        .await?;
    session
        .audit(
            safequiz_sql::audit::action::PASSWORD_CHANGE,
            "",
            String::new(),
        )
        .await?;
    let (token, expires_at, cookie) = new_session(&request, &state, account.organizer_id, epoch)?;
    tracing::info!(
        organizer = account.organizer_id,
        "organizer changed password"
    );
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .json(serde_json::json!({"token": token, "expires_at": expires_at})))
}
