//! The one error type of the HTTP layer and the JSON shape of every error response.
//!
//! Every 4xx and 5xx leaves as `{"error": "<stable code>", "message": "<human text>",
//! "request_id": "<id>"}` (the id of `X-Request-Id`, see `http::request_id`), plus
//! `next_attempt_at` for `daily_limit_reached` and `rows` for a refused upload. The codes are a
//! public contract: clients branch on them, so they never change meaning. [`ApiError::CODES`]
//! lists them all (a test keeps `docs/api.md`'s table equal to it), and this file's one `match`
//! maps each to its status. Unexpected errors answer 500 with a generic message and their cause
//! is logged once, here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use jiff::Timestamp;
use safequiz_domain::scope::ScopeError;
use serde::Serialize;

use crate::auth::TokenError;
use crate::export::ExportError;
use crate::telemetry::RequestId;

/// Every error a handler or extractor can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The path names nothing (or something the caller may not see).
    #[error("{0}")]
    NotFound(&'static str),
    /// The request is not acceptable JSON, or its fields have the wrong types.
    #[error("{0}")]
    BadRequest(String),
    /// No token, or one that is forged, altered or expired.
    #[error("{0}")]
    Unauthorized(String),
    /// The body is larger than `http.max_body_bytes`.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// Well-formed, but a value is not acceptable; `code` names which.
    #[error("{message}")]
    Invalid {
        /// `invalid_name`, `invalid_phone`, `invalid_unit`, `invalid_index`,
        /// `invalid_choice`, `invalid_password` or `invalid_headcount`.
        code: &'static str,
        /// What is wrong, for the person who typed it.
        message: String,
    },
    /// An uploaded table has bad rows; nothing of it was written.
    #[error("{message}")]
    InvalidRows {
        /// `invalid_headcount`.
        code: &'static str,
        /// A summary naming the rows, for the organizer.
        message: String,
        /// Each bad row with what is wrong in it.
        rows: Vec<RowProblem>,
    },
    /// The phone number is registered under another name.
    #[error("该手机号已由其他姓名报名；请核对姓名，或换用本人手机号")]
    PhoneTaken,
    /// Today's attempts are used up.
    #[error("今日答题次数已用完，请于 {local} 后再来")]
    DailyLimitReached {
        /// When the next attempt may start.
        next_attempt_at: Timestamp,
        /// The same instant as people read it in the campaign's zone (`2026-06-03 00:00`).
        local: String,
    },
    /// The attempts allowed over the whole campaign (`attempts_total`) are used up.
    #[error("本次竞赛的答题次数（共 {total} 次）已用完")]
    TotalLimitReached {
        /// The campaign's `attempts_total`.
        total: u32,
    },
    /// The campaign is not open at this instant.
    #[error("{0}")]
    CampaignClosed(String),
    /// The attempt is final, or its time (with grace) has run out.
    #[error("本次答题已结束（已提交或已超过答题时间），答案未再保存")]
    AttemptClosed,
    /// Authenticated, but not allowed: `out_of_scope` (another unit's subtree) or
    /// `password_change_required` (the one-time password must be replaced first).
    #[error("{message}")]
    Forbidden {
        /// `out_of_scope` or `password_change_required`.
        code: &'static str,
        /// What is refused, for the organizer.
        message: String,
    },
    /// Too many failed logins; try again after `retry_after_secs`.
    #[error("登录失败次数过多，请 {} 分钟后再试", retry_after_secs.div_ceil(60))]
    TooManyAttempts {
        /// Seconds until the window ends (also sent as `Retry-After`).
        retry_after_secs: u64,
    },
    /// A client asked more than `[limits]` allows (registrations per address or phone, a
    /// participant's requests); try again after `retry_after_secs` (`http::limits`).
    #[error("{message}")]
    RateLimited {
        /// Seconds until the window ends (also sent as `Retry-After`).
        retry_after_secs: u64,
        /// Which limit, for the person who hit it.
        message: String,
    },
    /// This replica already serves `limits.live_streams_per_replica` live streams; answered
    /// `503` with `Retry-After` ([`ApiError::STREAMS_RETRY_AFTER_SECS`]), since another replica
    /// (or this one a moment later) can take the stream.
    #[error("实时榜单连接已满，请稍后重试")]
    TooManyStreams,
    /// A dependency (Redis, SQL) is not reachable, or a Redis Cluster is failing over; answered
    /// with `Retry-After` ([`ApiError::RETRY_AFTER_SECS`]).
    #[error("{0}")]
    NotReady(String),
    /// Anything unexpected; the cause is logged, not sent.
    #[error("internal error")]
    Internal(String),
    /// The request conflicts with what the record holds (issue 18): `already_registered` (an
    /// organization's credit code or name), `application_exists`, `not_pending`.
    #[error("{message}")]
    Conflict {
        /// Which conflict.
        code: &'static str,
        /// What is refused, for the person who asked.
        message: String,
    },
    /// The campaign hides this public ranking (`public_rankings`; docs/fair-play.md).
    #[error("本竞赛不公开此排行榜")]
    RankingsHidden,
    /// The campaign keeps no individual board at this unit's level (`individual_board_levels`;
    /// docs/design.md §3.8).
    #[error("本竞赛不设此单位的个人排行榜，请查看全国或上级单位的排行榜")]
    BoardNotKept,
}

/// What is wrong with one row of an uploaded table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowProblem {
    /// The row's number as a spreadsheet shows it (the first line is 1).
    pub row: usize,
    /// What is wrong, for the organizer.
    pub message: String,
}

/// The JSON body of every error response.
///
/// Also the OpenAPI document's one error schema (`ErrorBody`), which every 4xx and 5xx
/// response of `http::openapi` references; `error` lists [`ApiError::CODES`] there.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// A stable, machine-readable code.
    #[schema(value_type = String)]
    pub error: &'a str,
    /// A human-readable explanation.
    pub message: String,
    /// The request's id, as in its `X-Request-Id` header and on its log lines: what a user
    /// reads out to support.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub request_id: Option<RequestId>,
    /// For `daily_limit_reached`: when the next attempt may start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
    /// For a refused upload: every bad row.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<RowProblem>>)]
    pub rows: Option<&'a [RowProblem]>,
}

impl ApiError {
    /// Seconds a `503 not_ready` asks the client to wait (`Retry-After`): about what a Redis
    /// Cluster failover takes (node timeout 1 s plus the election), or a dependency's restart.
    pub const RETRY_AFTER_SECS: u64 = 2;

    /// Seconds a `503 too_many_streams` asks a live page to wait before reconnecting.
    pub const STREAMS_RETRY_AFTER_SECS: u64 = 10;

    /// Every code any error response carries.
    pub const CODES: [&'static str; 49] = [
        "not_found",
        "bad_request",
        "unauthorized",
        "payload_too_large",
        "invalid_name",
        "invalid_phone",
        "invalid_unit",
        "invalid_index",
        "invalid_choice",
        "invalid_password",
        "invalid_headcount",
        "phone_taken",
        "daily_limit_reached",
        "total_limit_reached",
        "certificate_not_yet_available",
        "certificate_expired",
        "certificate_below_threshold",
        "campaign_closed",
        "attempt_closed",
        "out_of_scope",
        "password_change_required",
        "too_many_attempts",
        "rate_limited",
        "too_many_streams",
        "not_ready",
        "internal",
        "consent_required",
        "guardian_consent_required",
        "under_14_refused",
        "confirmation_required",
        "account_locked",
        "totp_required",
        "password_expired",
        "totp_enrollment_required",
        "invalid_totp",
        "already_registered",
        "application_exists",
        "not_pending",
        "invalid_credit_code",
        "invalid_region",
        "invalid_staff",
        "invalid_file",
        "invalid_post",
        "invalid_public_kind",
        "rankings_hidden",
        "board_not_kept",
        "invalid_reason",
        "already_excluded",
        "not_excluded",
    ];

    /// A `422` naming the field `code` concerns.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            code,
            message: message.into(),
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Invalid { code, .. } | ApiError::InvalidRows { code, .. } => code,
            ApiError::PhoneTaken => "phone_taken",
            ApiError::DailyLimitReached { .. } => "daily_limit_reached",
            ApiError::TotalLimitReached { .. } => "total_limit_reached",
            ApiError::CampaignClosed(_) => "campaign_closed",
            ApiError::AttemptClosed => "attempt_closed",
            ApiError::Forbidden { code, .. } => code,
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::TooManyStreams => "too_many_streams",
            ApiError::NotReady(_) => "not_ready",
            ApiError::Internal(_) => "internal",
            ApiError::Conflict { code, .. } => code,
            ApiError::RankingsHidden => "rankings_hidden",
            ApiError::BoardNotKept => "board_not_kept",
        }
    }
}

impl From<safequiz_sql::StoreError> for ApiError {
    fn from(error: safequiz_sql::StoreError) -> ApiError {
        if error.is_data_error() {
            ApiError::Internal(error.to_string())
        } else {
            tracing::warn!(error = %error, "the database is not reachable");
            ApiError::NotReady("数据库暂不可用，请稍后重试".to_owned())
        }
    }
}

impl From<safequiz_sql::reports::ReportError> for ApiError {
    fn from(error: safequiz_sql::reports::ReportError) -> ApiError {
        use safequiz_sql::reports::ReportError;
        match error {
            ReportError::DayRange { .. } => ApiError::BadRequest(format!(
                "统计区间有误：开始日期不能晚于结束日期，且最长 {} 天",
                safequiz_sql::reports::MAX_DAYS
            )),
            ReportError::UnknownUnits(units) => ApiError::invalid(
                "invalid_headcount",
                format!("这些单位不存在或不在管理范围内：{}", units.join("、")),
            ),
            ReportError::NegativeHeadcount(unit) => ApiError::invalid(
                "invalid_headcount",
                format!("单位 {unit} 的应参与人数不能为负数"),
            ),
            ReportError::Record { .. } => ApiError::Internal(error.to_string()),
            ReportError::Store(error) => error.into(),
        }
    }
}

impl From<ExportError> for ApiError {
    fn from(error: ExportError) -> ApiError {
        match error {
            ExportError::Rows(cause) => match cause.downcast::<safequiz_sql::StoreError>() {
                Ok(store) => (*store).into(),
                Err(other) => ApiError::Internal(other.to_string()),
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ScopeError> for ApiError {
    fn from(error: ScopeError) -> ApiError {
        match error {
            ScopeError::Empty | ScopeError::UnknownUnit(_) => {
                ApiError::NotFound("the campaign has no unit with this id")
            }
            ScopeError::OutOfScope(_) => ApiError::Forbidden {
                code: "out_of_scope",
                message: "该单位不在您的管理范围内".to_owned(),
            },
            // Only a change asks for a unit below the organizer's own: a headcount.
            ScopeError::OwnUnit(_) => ApiError::Forbidden {
                code: "out_of_scope",
                message: "本单位的应参与人数由上级单位设置".to_owned(),
            },
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> ApiError {
        ApiError::Unauthorized(error.to_string())
    }
}

impl From<safequiz_redis::RedisError> for ApiError {
    fn from(error: safequiz_redis::RedisError) -> ApiError {
        if error.is_unavailable() {
            // Redis down or too slow, or a cluster between two topologies (a failover, slots
            // moving): the request may be retried, so never a 500.
            tracing::warn!(error = %error, "Redis is not reachable");
            ApiError::NotReady("服务繁忙，请稍后重试".to_owned())
        } else {
            ApiError::Internal(error.to_string())
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) | ApiError::RankingsHidden | ApiError::BoardNotKept => {
                StatusCode::NOT_FOUND
            }
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Invalid { .. } | ApiError::InvalidRows { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::PhoneTaken
            | ApiError::DailyLimitReached { .. }
            | ApiError::TotalLimitReached { .. }
            | ApiError::CampaignClosed(_)
            | ApiError::AttemptClosed
            | ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::TooManyAttempts { .. } | ApiError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::NotReady(_) | ApiError::TooManyStreams => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error.cause = %cause, "request failed unexpectedly");
        }
        let next_attempt_at = match self {
            ApiError::DailyLimitReached {
                next_attempt_at, ..
            } => Some(*next_attempt_at),
            _ => None,
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthorized(_)) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        match self {
            ApiError::TooManyAttempts { retry_after_secs }
            | ApiError::RateLimited {
                retry_after_secs, ..
            } => {
                response.insert_header(("Retry-After", retry_after_secs.to_string()));
            }
            ApiError::TooManyStreams => {
                response.insert_header((
                    "Retry-After",
                    ApiError::STREAMS_RETRY_AFTER_SECS.to_string(),
                ));
            }
            ApiError::NotReady(_) => {
                response.insert_header(("Retry-After", ApiError::RETRY_AFTER_SECS.to_string()));
            }
            _ => {}
        }
        let rows = match self {
            ApiError::InvalidRows { rows, .. } => Some(rows.as_slice()),
            _ => None,
        };
        response.json(ErrorBody {
            error: self.code(),
            message: self.to_string(),
            request_id: RequestId::current(),
            next_attempt_at,
            rows,
        })
    }
}
