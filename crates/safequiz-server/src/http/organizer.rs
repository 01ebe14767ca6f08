//! The organizer back office API: login, sessions, and figures of the organizer's own subtree.
//!
//! An organizer account (created by `safequiz organizer add`) sees one unit's subtree of one
//! campaign (`*`: the whole campaign). Every endpoint resolves the session to the account and
//! checks each unit it is asked about with [`Session::check_scope`]: another subtree answers
//! `403 out_of_scope`, never its data.
//!
//! Sessions: login answers a signed session token (see `auth`) in the body, for API clients,
//! and in an `HttpOnly; SameSite=Strict` cookie, for the pages (downloads through plain links
//! carry it). A request authenticated by the cookie must also send `X-Requested-With` when it
//! changes anything, which a cross-site form cannot do. Each request loads the account from SQL
//! and compares its session epoch, so logout and a password change end a session on every
//! replica at once.
//!
//! Logins are rate-limited across replicas in Redis: after [`MAX_FAILURES_PER_USER`] failures of
//! one username, or [`MAX_FAILURES_PER_ADDRESS`] from one client address (the TCP peer, or
//! behind one of `http.trusted_proxies` the client it forwards for), within
//! [`FAILURE_WINDOW_SECS`], login answers `429 too_many_attempts` until the window ends,
//! whether or not the password is right. A one-time password must be changed before anything
//! but `me`, `password` and `logout` answers (`403 password_change_required`).

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use jiff::Timestamp;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::units::{UnitIx, UnitTree};
use safequiz_redis::keys::login_failures;
use safequiz_sql::organizers::OrganizerRecord;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::client_address;
use super::error::ApiError;
use super::leaderboards::{Figures, UnitSort};
use crate::accounts;
use crate::auth::SessionClaims;

/// The session cookie the pages use.
pub const SESSION_COOKIE: &str = "sq_org";

/// Failed logins of one username allowed per window.
pub const MAX_FAILURES_PER_USER: u64 = 5;

/// Failed logins from one client address allowed per window (a county office shares one
/// address, so this is higher than the per-user limit).
pub const MAX_FAILURES_PER_ADDRESS: u64 = 30;

/// The rate-limit window, from a counter's first failure.
pub const FAILURE_WINDOW_SECS: u64 = 15 * 60;

/// A verified organizer session: the account as SQL has it now, and its campaign.
pub struct Session {
    /// The account.
    pub account: OrganizerRecord,
    /// The session's token claims.
    pub claims: SessionClaims,
    /// Whether the token came in the cookie (then changes need `X-Requested-With`).
    pub by_cookie: bool,
    state: web::Data<AppState>,
}

impl Session {
    /// The organizer's campaign.
    pub fn campaign(&self) -> Result<&Campaign, ApiError> {
        self.state
            .catalogue
            .campaign(&self.account.campaign_id)
            .map(|campaign| &**campaign)
            .ok_or_else(|| ApiError::Internal("an organizer's campaign is not loaded".to_owned()))
    }

    /// Whether the whole campaign is visible.
    pub fn sees_everything(&self) -> bool {
        self.account.unit_id == "*"
    }

    /// The unit `unit` names (`*`: the campaign), when it is within the organizer's subtree;
    /// `404` for a unit the campaign does not have, `403 out_of_scope` for one outside.
    pub fn check_scope(&self, unit: &str) -> Result<Option<UnitIx>, ApiError> {
        let campaign = self.campaign()?;
        let tree = &campaign.units;
        let target = if unit == "*" {
            None
        } else {
            Some(
                tree.find(unit)
                    .ok_or(ApiError::NotFound("the campaign has no unit with this id"))?,
            )
        };
        let allowed = match (tree.find(&self.account.unit_id), target) {
            _ if self.sees_everything() => true,
            (Some(scope), Some(target)) => tree.is_within(target, scope),
            _ => false,
        };
        if allowed {
            Ok(target)
        } else {
            Err(ApiError::Forbidden {
                code: "out_of_scope",
                message: "该单位不在您的管理范围内".to_owned(),
            })
        }
    }
}

/// An organizer whose password is settled: what every figure endpoint takes.
pub struct Organizer(pub Session);

/// Any valid session, also one that must still change its one-time password.
pub struct AnySession(pub Session);

impl FromRequest for AnySession {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<AnySession, ApiError>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move { authenticate(&request).await.map(AnySession) })
    }
}

impl FromRequest for Organizer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Organizer, ApiError>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let session = authenticate(&request).await?;
            if session.account.must_change_password {
                return Err(ApiError::Forbidden {
                    code: "password_change_required",
                    message: "请先修改初始密码".to_owned(),
                });
            }
            Ok(Organizer(session))
        })
    }
}

async fn authenticate(request: &HttpRequest) -> Result<Session, ApiError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("the application state is missing".to_owned()))?;
    let header = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    let (token, by_cookie) = match header {
        Some(token) => (token, false),
        None => match request.cookie(SESSION_COOKIE) {
            Some(cookie) => (cookie.value().to_owned(), true),
            None => return Err(ApiError::Unauthorized("请先登录".to_owned())),
        },
    };
    if by_cookie
        && request.method() != Method::GET
        && !request.headers().contains_key("x-requested-with")
    {
        return Err(ApiError::BadRequest(
            "a change authenticated by the session cookie must send X-Requested-With".to_owned(),
        ));
    }
    let claims = state
        .auth
        .verify_session(token.trim(), state.clock.now())
        .map_err(|_| ApiError::Unauthorized("登录已失效，请重新登录".to_owned()))?;
    let account = state
        .store
        .organizer(claims.organizer)
        .await?
        .filter(|account| account.session_epoch == claims.epoch)
        .ok_or_else(|| ApiError::Unauthorized("登录已失效，请重新登录".to_owned()))?;
    Ok(Session {
        account,
        claims,
        by_cookie,
        state,
    })
}

/// The body of `POST /organizer/login`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
}

#[derive(Serialize)]
struct LoginAnswer<'a> {
    token: String,
    expires_at: Timestamp,
    must_change_password: bool,
    organizer: AccountView<'a>,
}

#[derive(Serialize)]
struct AccountView<'a> {
    username: &'a str,
    campaign_id: &'a str,
    campaign_title: &'a str,
    unit_id: &'a str,
    unit_name: &'a str,
    must_change_password: bool,
}

fn account_view<'a>(
    account: &'a OrganizerRecord,
    campaign: Option<&'a Campaign>,
) -> AccountView<'a> {
    let unit_name = match campaign {
        _ if account.unit_id == "*" => "全部单位",
        Some(campaign) => campaign
            .units
            .find(&account.unit_id)
            .map_or("", |ix| campaign.units.get(ix).name.as_str()),
        None => "",
    };
    AccountView {
        username: &account.username,
        campaign_id: &account.campaign_id,
        campaign_title: campaign.map_or("", |campaign| campaign.title.as_str()),
        unit_id: &account.unit_id,
        unit_name,
        must_change_password: account.must_change_password,
    }
}

/// The address the per-address login limit counts a request under: the TCP peer, or behind a
/// trusted proxy the client its forwarding headers name (see [`client_address`]).
fn login_address(request: &HttpRequest, state: &AppState) -> String {
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

/// `POST /api/v1/organizer/login` `{username, password}`: a session token (and cookie).
#[tracing::instrument(skip_all)]
pub async fn login(
    request: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let LoginBody { username, password } = body.into_inner();
    let username = username.trim().to_owned();
    if username.is_empty() || username.len() > 64 || password.chars().count() > 128 {
        return Err(ApiError::Unauthorized("用户名或密码错误".to_owned()));
    }
    let keys = [
        login_failures("user", &username),
        login_failures("addr", &login_address(&request, &state)),
    ];
    let counts = state.hot.failures(&keys).await?;
    if counts[0] >= MAX_FAILURES_PER_USER || counts[1] >= MAX_FAILURES_PER_ADDRESS {
        return Err(ApiError::TooManyAttempts {
            retry_after_secs: FAILURE_WINDOW_SECS,
        });
    }
    let account = state.store.organizer_by_username(&username).await?;
    // Verify even when there is no such account, against a fixed hash, so the answer takes as
    // long either way and does not reveal which usernames exist.
    let phc = account.as_ref().map_or_else(
        || accounts::dummy_hash().to_owned(),
        |account| account.password_hash.clone(),
    );
    let matches = web::block(move || accounts::verify_password(&password, &phc))
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let account = match account {
        Some(account) if matches => account,
        _ => {
            state.hot.count_failure(&keys, FAILURE_WINDOW_SECS).await?;
            tracing::info!(username = %username, "organizer login refused");
            return Err(ApiError::Unauthorized("用户名或密码错误".to_owned()));
        }
    };
    state.hot.clear_failures(&keys[0]).await?;
    let expires_at = state
        .clock
        .now()
        .checked_add(state.session_ttl)
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let token = state.auth.sign_session(&SessionClaims {
        organizer: account.organizer_id,
        epoch: account.session_epoch,
        expires_at,
    });
    let campaign = state.catalogue.campaign(&account.campaign_id).map(|c| &**c);
    let cookie = session_cookie(&request, &state, token.clone());
    tracing::info!(organizer = account.organizer_id, "organizer logged in");
    Ok(HttpResponse::Ok().cookie(cookie).json(LoginAnswer {
        token,
        expires_at,
        must_change_password: account.must_change_password,
        organizer: account_view(&account, campaign),
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
#[tracing::instrument(skip_all)]
pub async fn logout(
    state: web::Data<AppState>,
    session: AnySession,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .end_organizer_sessions(session.0.account.organizer_id)
        .await?;
    Ok(HttpResponse::NoContent().cookie(expired_cookie()).finish())
}

/// `GET /api/v1/organizer/me`: the account and its scope.
#[tracing::instrument(skip_all)]
pub async fn me(session: AnySession) -> Result<HttpResponse, ApiError> {
    let session = session.0;
    let campaign = session.campaign().ok();
    Ok(HttpResponse::Ok().json(account_view(&session.account, campaign)))
}

/// The body of `PUT /organizer/password`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// `PUT /api/v1/organizer/password` `{current_password, new_password}`: replaces the password
/// and ends every session, this one too (the answer carries a fresh token and cookie).
#[tracing::instrument(skip_all)]
pub async fn change_password(
    request: HttpRequest,
    state: web::Data<AppState>,
    session: AnySession,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let account = session.0.account;
    let PasswordBody {
        current_password,
        new_password,
    } = body.into_inner();
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
    let hash = hash.map_err(ApiError::Internal)?;
    let epoch = state
        .store
        .set_organizer_password(account.organizer_id, &hash, false)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("登录已失效，请重新登录".to_owned()))?;
    let expires_at = state
        .clock
        .now()
        .checked_add(state.session_ttl)
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let token = state.auth.sign_session(&SessionClaims {
        organizer: account.organizer_id,
        epoch,
        expires_at,
    });
    let cookie = session_cookie(&request, &state, token.clone());
    tracing::info!(
        organizer = account.organizer_id,
        "organizer changed password"
    );
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .json(serde_json::json!({"token": token, "expires_at": expires_at})))
}

/// The query of `GET /organizer/progress`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgressQuery {
    /// The unit whose children are listed; the organizer's own unit when absent.
    unit: Option<String>,
    /// Which figure orders the children.
    #[serde(default)]
    sort: UnitSort,
}

#[derive(Serialize)]
struct ProgressItem<'a> {
    unit_id: &'a str,
    name: &'a str,
    has_children: bool,
    started: bool,
    #[serde(flatten)]
    figures: Figures,
}

/// One step of the way from the organizer's own unit down to the unit shown.
#[derive(Serialize)]
struct PathStep<'a> {
    unit_id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Progress<'a> {
    unit_id: &'a str,
    name: &'a str,
    /// From the organizer's own unit (`*` for a national account) down to this one, for the
    /// pages' breadcrumbs.
    path: Vec<PathStep<'a>>,
    at: Timestamp,
    totals: Figures,
    sort: UnitSort,
    items: Vec<ProgressItem<'a>>,
    not_started: Vec<&'a str>,
}

/// The units from the session's own unit down to `target` (`None`: the whole campaign).
fn path_from_own_unit<'t>(
    session: &Session,
    tree: &'t UnitTree,
    target: Option<UnitIx>,
) -> Vec<PathStep<'t>> {
    let mut path = Vec::new();
    if session.sees_everything() {
        path.push(PathStep {
            unit_id: "*",
            name: "全部单位",
        });
    }
    let own = tree.find(&session.account.unit_id);
    if let Some(target) = target {
        path.extend(
            tree.path(target)
                .into_iter()
                .skip_while(|&unit| !session.sees_everything() && Some(unit) != own)
                .map(|ix| {
                    let unit = tree.get(ix);
                    PathStep {
                        unit_id: &unit.id,
                        name: &unit.name,
                    }
                }),
        );
    }
    path
}

/// `GET /api/v1/organizer/progress?unit=ID&sort=points|participants|attempts`: live figures
/// (from the hot state, up to the second) of a unit within the organizer's subtree and of each
/// of its children, sorted, with the children nobody in has finished an attempt yet.
#[tracing::instrument(skip_all)]
pub async fn progress(
    state: web::Data<AppState>,
    organizer: Organizer,
    query: web::Query<ProgressQuery>,
) -> Result<HttpResponse, ApiError> {
    let session = &organizer.0;
    let unit = query.unit.as_deref().unwrap_or(&session.account.unit_id);
    let target = session.check_scope(unit)?;
    let campaign = session.campaign()?;
    let tree = &campaign.units;
    let (unit_id, name, children): (&str, &str, Vec<UnitIx>) = match target {
        Some(ix) => {
            let unit = tree.get(ix);
            (&unit.id, &unit.name, unit.children.clone())
        }
        None => (
            "*",
            "全部单位",
            (0..campaign.entries.len())
                .flat_map(|entry| tree.roots(entry).iter().copied())
                .collect(),
        ),
    };
    let mut ids: Vec<&str> = children
        .iter()
        .map(|&ix| tree.get(ix).id.as_str())
        .collect();
    ids.push(unit_id);
    let mut totals = state
        .hot
        .unit_totals(&campaign.id, state.shards, &ids)
        .await?;
    let own = totals.pop().unwrap_or_default();
    let mut items: Vec<ProgressItem<'_>> = children
        .iter()
        .zip(totals)
        .map(|(&ix, figures)| {
            let unit = tree.get(ix);
            ProgressItem {
                unit_id: &unit.id,
                name: &unit.name,
                has_children: !unit.children.is_empty(),
                started: figures.attempts > 0,
                figures: figures.into(),
            }
        })
        .collect();
    let key = |item: &ProgressItem<'_>| match query.sort {
        UnitSort::Points => item.figures.points,
        UnitSort::Participants => item.figures.participants,
        UnitSort::Attempts => item.figures.attempts,
    };
    // Stable: equal figures keep the unit file's order.
    items.sort_by_key(|item| std::cmp::Reverse(key(item)));
    let not_started = items
        .iter()
        .filter(|item| !item.started)
        .map(|item| item.name)
        .collect();
    Ok(HttpResponse::Ok().json(Progress {
        unit_id,
        name,
        path: path_from_own_unit(session, tree, target),
        at: state.clock.now(),
        totals: own.into(),
        sort: query.sort,
        items,
        not_started,
    }))
}
