//! The audit trail from the service (issue 20; `safequiz_sql::audit`, docs/privacy.md): one row
//! per security-relevant action, written by the handler that performs it, and the back-office
//! reading of the trail by the organizer of the whole campaign.
//!
//! A handler writes its row before it answers: an export's row before its first byte, a
//! deletion's after the deletion succeeded; when the row cannot be written the request fails
//! (`503`), so no audited action happens without its row. Nothing here edits or deletes a row,
//! and there is no route that could.

use actix_web::{HttpResponse, web};
use safequiz_domain::scope::Scope;
use safequiz_sql::audit::{AuditEntry, AuditQuery, AuditRow, action};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::organizer::period::parse_date;
use super::organizer::{Organizer, Session};

/// Rows one page of the back office shows at most.
pub const MAX_PER_PAGE: u32 = 200;

/// Appends `entry`, stamped now.
pub(crate) async fn record(state: &AppState, mut entry: AuditEntry) -> Result<(), ApiError> {
    entry.at_ms = state.clock.now().as_millisecond();
    state.store.append_audit(&entry).await?;
    Ok(())
}

impl Session {
    /// Appends a row for an action of this organizer on `scope` (`""`: none), succeeded.
    pub(crate) async fn audit(
        &self,
        action: &str,
        scope: &str,
        detail: impl Into<String>,
    ) -> Result<(), ApiError> {
        record(
            self.state(),
            AuditEntry {
                campaign_id: self.account.campaign_id.clone(),
                actor: format!("organizer:{}", self.account.username),
                action: action.to_owned(),
                scope: scope.to_owned(),
                detail: detail.into(),
                address: self.address.clone(),
                outcome: safequiz_sql::audit::OK.to_owned(),
                ..AuditEntry::default()
            },
        )
        .await
    }
}

/// The query of `GET /organizer/audit`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    /// First day, `YYYY-MM-DD` in the campaign's zone (default: 30 days ago).
    from: Option<String>,
    /// Last day, included (default: today).
    to: Option<String>,
    /// Rows written before this row id (the previous page's `next`).
    before: Option<i64>,
    /// Rows per page, at most 200 (default 50).
    per_page: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct AuditPage {
    #[schema(value_type = Vec<Object>)]
    rows: Vec<AuditRow>,
    /// The `before` of the next page; `null` on the last.
    next: Option<i64>,
}

/// The instants `[from, to + 1 day)` of the days `from` and `to` in the campaign's zone.
pub(crate) fn day_range(
    zone: &jiff::tz::TimeZone,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
) -> Result<(i64, i64), ApiError> {
    let start = |day: jiff::civil::Date| {
        day.to_zoned(zone.clone())
            .map(|zoned| zoned.timestamp().as_millisecond())
            .map_err(|error| ApiError::BadRequest(error.to_string()))
    };
    let after = to
        .tomorrow()
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    Ok((start(from)?, start(after)?))
}

/// `GET /api/v1/organizer/audit`: the campaign's audit trail, newest first, a page at a time;
/// only for an organizer of the whole campaign.
#[utoipa::path(
    get,
    path = "/api/v1/organizer/audit",
    tag = "organizer",
    security(("organizer" = []), ("organizer_cookie" = [])),
    summary = "The audit trail of the campaign, newest first (organizers of the whole campaign)",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of rows and the `before` of the next", body = AuditPage),
        (status = 400, description = "`bad_request`: a malformed date or page", body = ErrorBody<'_>),
        (status = 401, description = "`unauthorized`", body = ErrorBody<'_>),
        (status = 403, description = "`out_of_scope`: not an organizer of the whole campaign", body = ErrorBody<'_>),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn audit_page(
    state: web::Data<AppState>,
    Organizer(session): Organizer,
    query: web::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    if *session.scope() != Scope::WholeCampaign {
        return Err(ApiError::Forbidden {
            code: "out_of_scope",
            message: "审计日志仅向全竞赛范围的组织者开放".to_owned(),
        });
    }
    let campaign = session.campaign()?;
    let today = campaign.day_of(state.clock.now());
    let to = match query.to.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(text) => parse_date("to", text)?,
        None => today,
    };
    let from = match query.from.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(text) => parse_date("from", text)?,
        None => to.checked_sub(jiff::ToSpan::days(30)).unwrap_or(to),
    };
    if from > to {
        return Err(ApiError::BadRequest("from: 不能晚于 to".to_owned()));
    }
    let per_page = query.per_page.unwrap_or(50);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::BadRequest(format!(
            "per_page: 应为 1 至 {MAX_PER_PAGE}"
        )));
    }
    let (from_ms, to_ms) = day_range(&campaign.time_zone, from, to)?;
    let rows = state
        .store
        .audit_page(
            &AuditQuery {
                campaign_id: Some(&campaign.id),
                from_ms,
                to_ms,
            },
            query.before,
            per_page,
        )
        .await?;
    session
        .audit(
            action::AUDIT_READ,
            Scope::WholeCampaign.as_str(),
            format!("from={from} to={to} before={:?}", query.before),
        )
        .await?;
    let next = (rows.len() == per_page as usize)
        .then(|| rows.last().map(|row| row.audit_id))
        .flatten();
    Ok(HttpResponse::Ok().json(AuditPage { rows, next }))
}

impl Session {
    /// The row of an action of this organizer on `scope`, to be stamped and appended later
    /// (an export's row after its last data row).
    pub(crate) fn audit_entry(&self, action: &str, scope: &str, detail: String) -> AuditEntry {
        AuditEntry {
            campaign_id: self.account.campaign_id.clone(),
            actor: format!("organizer:{}", self.account.username),
            action: action.to_owned(),
            scope: scope.to_owned(),
            detail,
            address: self.address.clone(),
            outcome: safequiz_sql::audit::OK.to_owned(),
            ..AuditEntry::default()
        }
    }
}

/// `rows`, counted as they pass; after the last one, `entry` is appended with ` rows=N` added
/// to its detail. A download the client abandons writes no such row (its start row stays).
pub(crate) fn count_then_audit<S, T, E>(
    state: web::Data<AppState>,
    entry: AuditEntry,
    rows: S,
) -> impl futures_util::Stream<Item = Result<T, E>> + 'static
where
    S: futures_util::Stream<Item = Result<T, E>> + 'static,
    T: 'static,
    E: 'static,
{
    use futures_util::StreamExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let count = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&count);
    rows.inspect(move |row| {
        if row.is_ok() {
            counted.fetch_add(1, Ordering::Relaxed);
        }
    })
    .chain(
        futures_util::stream::once(async move {
            let mut entry = entry;
            entry.detail = format!("{} rows={}", entry.detail, count.load(Ordering::Relaxed));
            if let Err(error) = record(&state, entry).await {
                tracing::warn!(%error, "the audit row of a finished export was not written");
            }
        })
        .filter_map(|()| async { None }),
    )
}
