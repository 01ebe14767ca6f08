//! The organizer back office API: login, sessions, and figures of the organizer's own subtree.
//!
//! An organizer account (created by `safequiz organizer add`) sees one [`Scope`] of one
//! campaign: a unit's subtree, or the whole campaign. Every endpoint resolves the session to the
//! account and checks each unit it is asked about with [`Session::check_scope`] (through
//! [`Target::resolve`] for the reports): another subtree answers `403 out_of_scope`, never its
//! data; the SQL reports also limit every statement to the scope they are given.
//!
//! The modules, one per part of the back office:
//! - [`account`]: login (rate-limited), logout, `me`, password change, the session cookie.
//! - [`progress`]: live figures of a unit and its children, from the hot state.
//! - [`period`]: the days and periods reports cover.
//! - [`participants`]: participant search and a participant's attempts, from SQL.
//! - [`figures`]: unit figures (the statistics forms) and the per-day series, from SQL.
//! - [`questions`]: the question analysis, from SQL.
//! - [`headcounts`]: setting headcounts, one or by CSV upload.
//! - [`exports`]: CSV and XLSX downloads of the participants, unit figures and series.
//!
//! Sessions: login answers a signed session token (see `auth`) in the body, for API clients,
//! and in an `HttpOnly; SameSite=Strict` cookie, for the pages (downloads through plain links
//! carry it). A request authenticated by the cookie must also send `X-Requested-With` when it
//! changes anything, which a cross-site form cannot do. Each request loads the account from SQL
//! and compares its session epoch, so logout and a password change end a session on every
//! replica at once. A one-time password must be changed before anything but `me`, `password`
//! and `logout` answers (`403 password_change_required`).

pub mod account;
pub mod exports;
pub mod figures;
pub mod headcounts;
pub mod participants;
pub mod period;
pub mod progress;
pub mod questions;
pub mod security;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};
use safequiz_domain::campaign::Campaign;
use safequiz_domain::scope::{Scope, ScopeError};
use safequiz_domain::units::UnitIx;
use safequiz_sql::organizers::OrganizerRecord;

use super::AppState;
use super::error::ApiError;
use crate::auth::SessionClaims;

/// A verified organizer session: the account as SQL has it now, and its campaign.
pub struct Session {
    /// The account.
    pub account: OrganizerRecord,
    /// The session's token claims.
    pub claims: SessionClaims,
    /// Whether the token came in the cookie (then changes need `X-Requested-With`).
    pub by_cookie: bool,
    /// The client address (as the login limits count it), for the audit trail.
    pub address: String,
    /// The account's login security (issue 20: idle, password age, second factor).
    pub security: safequiz_sql::logins::LoginSecurity,
    state: web::Data<AppState>,
}

impl Session {
    /// The application state the session was verified with.
    pub(crate) fn state(&self) -> &AppState {
        &self.state
    }

    /// The organizer's campaign.
    pub fn campaign(&self) -> Result<&Campaign, ApiError> {
        self.state
            .catalogue
            .campaign(&self.account.campaign_id)
            .map(|campaign| &**campaign)
            .ok_or_else(|| ApiError::Internal("an organizer's campaign is not loaded".to_owned()))
    }

    /// What the organizer sees.
    pub fn scope(&self) -> &Scope {
        &self.account.scope
    }

    /// The unit of `campaign` that `wanted` names (`None`: the whole campaign), when it is
    /// within the organizer's scope: [`ScopeError::UnknownUnit`] for a unit the campaign does
    /// not have, [`ScopeError::OutOfScope`] for one outside (`404` and `403 out_of_scope`).
    pub fn check_scope(
        &self,
        campaign: &Campaign,
        wanted: &Scope,
    ) -> Result<Option<UnitIx>, ScopeError> {
        // Organizations and 五进 groups are not in the tree; their ids carry their region
        // (issue 18). Such a target resolves to no unit of the tree: `Target::dynamic` says so.
        if let Some(checked) = safequiz_domain::organization::check_dynamic_scope(
            &campaign.units,
            &self.account.scope,
            wanted,
        ) {
            return checked.map(|()| None);
        }
        self.account.scope.check(&campaign.units, wanted)
    }
}

/// The part of the campaign a request is about, once checked against the session's scope.
pub(crate) struct Target<'c> {
    /// The unit's subtree, or the whole campaign.
    pub(crate) scope: Scope,
    /// The unit (`None`: the whole campaign).
    pub(crate) unit: Option<UnitIx>,
    /// Its name as organizers read it: an organization's or a 五进 group's from the record
    /// (the tree has no such unit).
    pub(crate) name: Cow<'c, str>,
    /// An organization or a 五进 group (issue 18): `unit` is `None` without meaning the whole
    /// campaign.
    pub(crate) dynamic: bool,
}

impl<'c> Target<'c> {
    /// Checks `unit` (the organizer's own scope when absent or blank) against the session.
    pub(crate) async fn resolve(
        session: &Session,
        campaign: &'c Campaign,
        unit: Option<&str>,
    ) -> Result<Target<'c>, ApiError> {
        let scope = match unit.filter(|unit| !unit.is_empty()) {
            Some(unit) => Scope::parse(unit)?,
            None => session.scope().clone(),
        };
        Target::checked(session, campaign, scope).await
    }

    /// Checks `scope` against the session; an organization or a 五进 group is named from the
    /// record (one read, only for such a target).
    pub(crate) async fn checked(
        session: &Session,
        campaign: &'c Campaign,
        scope: Scope,
    ) -> Result<Target<'c>, ApiError> {
        let unit = session.check_scope(campaign, &scope)?;
        let dynamic = safequiz_domain::organization::is_dynamic_scope(&campaign.units, &scope);
        let name = if dynamic {
            Cow::Owned(
                super::organizations::unit_name(&session.state, campaign, scope.as_str()).await?,
            )
        } else {
            Cow::Borrowed(scope.name(&campaign.units))
        };
        Ok(Target {
            dynamic,
            name,
            scope,
            unit,
        })
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
            security::settled(&session.state, &session)?;
            Ok(Organizer(session))
        })
    }
}

/// The session token of `request` (the `Authorization` header, else the cookie) and whether it
/// came in the cookie.
fn session_token(request: &HttpRequest) -> Result<(String, bool), ApiError> {
    let header = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::to_owned);
    let (token, by_cookie) = match header {
        Some(token) => (token, false),
        None => match request.cookie(account::SESSION_COOKIE) {
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
    Ok((token, by_cookie))
}

async fn authenticate(request: &HttpRequest) -> Result<Session, ApiError> {
    let state = request
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("the application state is missing".to_owned()))?;
    let (token, by_cookie) = session_token(request)?;
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
    // A page's background poll does not count as the person's activity (idle logout).
    let background = request.headers().contains_key("x-background");
    let security = security::check_session(&state, &account, background).await?;
    Ok(Session {
        account,
        claims,
        by_cookie,
        address: account::login_address(request, &state),
        security,
        state,
    })
}
