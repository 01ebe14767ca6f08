//! Organizer logins at 等保 2.0 level 3, by configuration (`[auth] organizer_*`; issue 20,
//! docs/privacy.md): account lockout after repeated failures, idle logout, password expiry and
//! the optional TOTP second factor with recovery codes, and the audit rows of every login.
//!
//! The lockout is counted in SQL on the account (`safequiz_sql::logins`), so replicas agree; it
//! comes on top of the Redis rate limits of `account`, which are per window and per address. A
//! locked account answers `403 account_locked` whatever the password. Idle logout: a session
//! whose account made no request (other than a page's background poll, which sends
//! `X-Background: 1`) for `organizer_idle_minutes` ends (`401`), on every replica. An expired
//! password, like a one-time one, allows only `me`, `password`, `logout` and the second-factor
//! enrolment (`403 password_expired`); an account without a second factor when one is required
//! allows the same (`403 totp_enrollment_required`).

use actix_web::{HttpResponse, web};
use jiff::SignedDuration;
use safequiz_sql::audit::{AuditEntry, action};
use safequiz_sql::logins::{Activity, LoginSecurity};
use safequiz_sql::organizers::OrganizerRecord;
use serde::{Deserialize, Serialize};

use super::{AnySession, Session};
use crate::accounts;
use crate::config::AuthSettings;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::totp;

/// The login policy from `[auth]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Failures in a row that lock an account; `None`: never.
    pub lockout_failures: Option<u32>,
    /// How long a lockout lasts.
    pub lockout: SignedDuration,
    /// Inactivity that ends the sessions; `None`: never.
    pub idle: Option<SignedDuration>,
    /// A password's longest life; `None`: for ever.
    pub password_max_age: Option<SignedDuration>,
    /// Every organizer must log in with a second factor (a campaign file may also require it:
    /// `organizer_totp_required = true`).
    pub totp_required: bool,
}

impl LoginPolicy {
    /// The policy the settings give.
    pub fn from_settings(auth: &AuthSettings) -> LoginPolicy {
        let minutes = |m: u32| SignedDuration::from_mins(i64::from(m));
        LoginPolicy {
            lockout_failures: (auth.organizer_lockout_failures > 0)
                .then_some(auth.organizer_lockout_failures),
            lockout: minutes(auth.organizer_lockout_minutes),
            idle: (auth.organizer_idle_minutes > 0).then(|| minutes(auth.organizer_idle_minutes)),
            password_max_age: (auth.organizer_password_days > 0)
                .then(|| SignedDuration::from_hours(24 * i64::from(auth.organizer_password_days))),
            totp_required: auth.organizer_totp_required,
        }
    }
}

/// Idle activity is written at most this often per account.
const TOUCH_EVERY_MS: i64 = 30_000;

/// Appends a login row for `account` (or an unknown username: no campaign, no name).
async fn audit_login(
    state: &AppState,
    account: Option<&OrganizerRecord>,
    address: &str,
    outcome: &str,
    detail: String,
) -> Result<(), ApiError> {
    crate::http::audit::record(
        state,
        AuditEntry {
            campaign_id: account.map_or(String::new(), |a| a.campaign_id.clone()),
            actor: account.map_or("organizer:(unknown username)".to_owned(), |a| {
                format!("organizer:{}", a.username)
            }),
            action: action::LOGIN.to_owned(),
            scope: account.map_or(String::new(), |a| a.scope.as_str().to_owned()),
            detail,
            address: address.to_owned(),
            outcome: outcome.to_owned(),
            ..AuditEntry::default()
        },
    )
    .await
}

/// Refuses a login to a locked account (`403 account_locked`), with its audit row.
pub(crate) async fn refuse_if_locked(
    state: &AppState,
    account: &OrganizerRecord,
    address: &str,
) -> Result<(), ApiError> {
    let now = state.clock.now().as_millisecond();
    let security = state.store.login_security(account.organizer_id).await?;
    let Some(until) = security
        .and_then(|s| s.locked_until_ms)
        .filter(|until| *until > now)
    else {
        return Ok(());
    };
    audit_login(state, Some(account), address, "locked", String::new()).await?;
    let minutes = (until - now + 59_999) / 60_000;
    Err(ApiError::Forbidden {
        code: "account_locked",
        message: format!("登录失败次数过多，账号已锁定，请 {minutes} 分钟后再试"),
    })
}

/// Records a failed login (`why`: `bad_password`, `bad_code`): the audit row, and for a known
/// account its count, which may lock it.
pub(crate) async fn failed(
    state: &AppState,
    account: Option<&OrganizerRecord>,
    address: &str,
    why: &str,
) -> Result<(), ApiError> {
    let mut detail = String::new();
    if let (Some(account), Some(max)) = (account, state.login_policy.lockout_failures) {
        let failure = state
            .store
            .record_login_failure(
                account.organizer_id,
                state.clock.now().as_millisecond(),
                i64::from(max),
                state.login_policy.lockout.as_millis() as i64,
            )
            .await?;
        if failure.locked_until_ms.is_some() {
            detail = format!("locked after {max} failures");
        }
    }
    audit_login(state, account, address, why, detail).await
}

/// Checks the second factor of a login whose password was right: nothing when the account has
/// none; else `code` must be a current TOTP code not used before, or an unused recovery code.
pub(crate) async fn check_second_factor(
    state: &AppState,
    account: &OrganizerRecord,
    code: Option<&str>,
    address: &str,
) -> Result<(), ApiError> {
    let Some(security) = state.store.login_security(account.organizer_id).await? else {
        return Ok(());
    };
    let Some(secret) = security
        .totp_secret
        .as_deref()
        .filter(|_| security.totp_enabled)
        .and_then(totp::from_hex)
    else {
        return Ok(());
    };
    let Some(code) = code.map(str::trim).filter(|code| !code.is_empty()) else {
        return Err(ApiError::Forbidden {
            code: "totp_required",
            message: "请输入动态验证码（或一个恢复码）".to_owned(),
        });
    };
    let now = state.clock.now();
    let accepted = match totp::verify(&secret, now.as_second(), code) {
        Some(step) => {
            state
                .store
                .use_totp_step(account.organizer_id, step)
                .await?
        }
        None => use_recovery_code(state, account.organizer_id, code).await?,
    };
    if accepted {
        return Ok(());
    }
    failed(state, Some(account), address, "bad_code").await?;
    Err(ApiError::Unauthorized("动态验证码错误或已使用".to_owned()))
}

/// Whether `code` is one of the account's unused recovery codes, which it then uses up.
async fn use_recovery_code(
    state: &AppState,
    organizer_id: i64,
    code: &str,
) -> Result<bool, ApiError> {
    let code = code.trim().to_lowercase();
    if code.len() != 9 {
        return Ok(false);
    }
    let hashes = state.store.unused_recovery_codes(organizer_id).await?;
    let matched = web::block(move || {
        hashes
            .into_iter()
            .find(|hash| accounts::verify_password(&code, hash))
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))?;
    match matched {
        Some(hash) => Ok(state
            .store
            .use_recovery_code(organizer_id, &hash, state.clock.now().as_millisecond())
            .await?),
        None => Ok(false),
    }
}

/// A successful login: the count starts again, and its audit row.
pub(crate) async fn succeeded(
    state: &AppState,
    account: &OrganizerRecord,
    address: &str,
) -> Result<(), ApiError> {
    state
        .store
        .record_login_success(account.organizer_id, state.clock.now().as_millisecond())
        .await?;
    audit_login(
        state,
        Some(account),
        address,
        safequiz_sql::audit::OK,
        String::new(),
    )
    .await
}

/// The idle check of every authenticated request: ends the account's sessions and answers
/// `401` after `organizer_idle_minutes` without a request of the person; the account's security
/// state otherwise.
pub(crate) async fn check_session(
    state: &AppState,
    account: &OrganizerRecord,
    background: bool,
) -> Result<LoginSecurity, ApiError> {
    let security = state
        .store
        .login_security(account.organizer_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("登录已失效，请重新登录".to_owned()))?;
    if let Some(idle) = state.login_policy.idle {
        let activity = state
            .store
            .check_activity(
                account.organizer_id,
                security.last_active_ms,
                state.clock.now().as_millisecond(),
                idle.as_millis() as i64,
                !background,
                TOUCH_EVERY_MS,
            )
            .await?;
        if activity == Activity::Idle {
            state
                .store
                .end_organizer_sessions(account.organizer_id)
                .await?;
            return Err(ApiError::Unauthorized(
                "长时间未操作，已自动退出，请重新登录".to_owned(),
            ));
        }
    }
    Ok(security)
}

/// What a settled session may not do yet: an expired password or a missing second factor.
pub(crate) fn settled(state: &AppState, session: &Session) -> Result<(), ApiError> {
    if password_expired(state, &session.security) {
        return Err(ApiError::Forbidden {
            code: "password_expired",
            message: "密码已到期，请先修改密码".to_owned(),
        });
    }
    let required = state.login_policy.totp_required
        || session
            .campaign()
            .is_ok_and(|campaign| campaign.organizer_totp_required);
    if required && !session.security.totp_enabled {
        return Err(ApiError::Forbidden {
            code: "totp_enrollment_required",
            message: "请先绑定动态验证码（双因素认证）".to_owned(),
        });
    }
    Ok(())
}

/// Whether the password is older than `organizer_password_days`.
pub(crate) fn password_expired(state: &AppState, security: &LoginSecurity) -> bool {
    state.login_policy.password_max_age.is_some_and(|age| {
        state.clock.now().as_millisecond() - security.password_set_at_ms > age.as_millis() as i64
    })
}

#[derive(Serialize, utoipa::ToSchema)]
struct Enrolment {
    /// The secret in base32, for typing into an authenticator app.
    secret: String,
    /// The `otpauth://` URI an authenticator app scans.
    otpauth_uri: String,
}

/// `POST /api/v1/organizer/totp`: starts (or restarts) the enrolment of a second factor: a new
/// secret, off until a first code confirms it.
#[utoipa::path(
    post,
    path = "/api/v1/organizer/totp",
    tag = "organizer",
    summary = "Start enrolling a TOTP second factor: a new secret and its otpauth URI",
    security(("organizer" = []), ("organizer_cookie" = [])),
    responses(
        (status = 200, description = "The secret, shown once", body = Enrolment),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn start_totp(
    state: web::Data<AppState>,
    session: AnySession,
) -> Result<HttpResponse, ApiError> {
    let session = session.0;
    let secret = totp::new_secret();
    state
        .store
        .set_totp_secret(session.account.organizer_id, &totp::to_hex(&secret))
        .await?;
    session.audit(action::TOTP, "", "enrolment started").await?;
    Ok(HttpResponse::Ok().json(Enrolment {
        secret: totp::base32(&secret),
        otpauth_uri: totp::otpauth_uri("safequiz", &session.account.username, &secret),
    }))
}

/// The body of `POST /organizer/totp/confirm`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Confirmed {
    /// Ten one-time recovery codes, shown once: each logs in once in place of a TOTP code.
    recovery_codes: Vec<String>,
}

/// `POST /api/v1/organizer/totp/confirm` `{code}`: turns the second factor on when `code` is
/// right for the secret being enrolled; answers the recovery codes, once.
#[utoipa::path(
    post,
    path = "/api/v1/organizer/totp/confirm",
    tag = "organizer",
    summary = "Confirm the TOTP enrolment with a first code; answers ten recovery codes once",
    security(("organizer" = []), ("organizer_cookie" = [])),
    request_body = ConfirmBody,
    responses(
        (status = 200, description = "The second factor is on", body = Confirmed),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 422, description = "`invalid_totp`: no enrolment started, or a wrong code", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn confirm_totp(
    state: web::Data<AppState>,
    session: AnySession,
    body: web::Json<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let session = session.0;
    let invalid = || ApiError::invalid("invalid_totp", "验证码不正确，请核对手机时间后重试");
    let secret = session
        .security
        .totp_secret
        .as_deref()
        .and_then(totp::from_hex)
        .ok_or_else(invalid)?;
    let step =
        totp::verify(&secret, state.clock.now().as_second(), &body.code).ok_or_else(invalid)?;
    if !state
        .store
        .use_totp_step(session.account.organizer_id, step)
        .await?
    {
        return Err(invalid());
    }
    let codes = totp::recovery_codes();
    let to_hash = codes.clone();
    let hashes = web::block(move || {
        to_hash
            .iter()
            .map(|code| accounts::hash_password(code))
            .collect::<Result<Vec<String>, String>>()
    })
    .await
    .map_err(|error| ApiError::Internal(error.to_string()))?
    .map_err(ApiError::Internal)?;
    state
        .store
        .enable_totp(session.account.organizer_id, &hashes)
        .await?;
    session.audit(action::TOTP, "", "enabled").await?;
    Ok(HttpResponse::Ok().json(Confirmed {
        recovery_codes: codes,
    }))
}
