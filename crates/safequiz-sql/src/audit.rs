//! The audit trail: one append-only row per security-relevant action (issue 20; docs/privacy.md).
//!
//! Who did what, when, from where, to which scope, and with what result: every organizer login
//! (success or failure), export, view of a participant's attempts, headcount change, password
//! change, second-factor change, a participant's deletion of their registration, and a purge.
//! Other modules call [`Store::append_audit`] (or [`append`]) once per action.
//!
//! The table is append-only in the database itself (`0008_privacy.sql`: triggers refuse every
//! `UPDATE` and `DELETE`, and `TRUNCATE` on PostgreSQL), and this module has no statement that
//! changes a row: nothing the service or its API does can edit or remove the trail, and
//! `purge` leaves it whole, so it is kept well beyond the 180 days the Cybersecurity Law asks.
//! A row's `detail` never holds a full name or phone number.

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::Serialize;

use crate::statement::Statement;
use crate::{Store, StoreError};

/// The actions the service writes, as stored in `audit_log.action`.
pub mod action {
    /// An organizer's login (outcome `ok`, `bad_password`, `locked`, `bad_code`, ...).
    pub const LOGIN: &str = "login";
    /// An organizer's logout.
    pub const LOGOUT: &str = "logout";
    /// An export: detail names the table, the dates and the number of rows.
    pub const EXPORT: &str = "export";
    /// An organizer read one participant's attempts: detail names the participant id.
    pub const VIEW_ATTEMPTS: &str = "view_attempts";
    /// An organizer searched participants: detail holds the query's kind, never its text.
    pub const SEARCH_PARTICIPANTS: &str = "search_participants";
    /// A headcount changed: detail holds the unit(s) and the new figure(s).
    pub const HEADCOUNT: &str = "headcount";
    /// An organizer changed their password.
    pub const PASSWORD_CHANGE: &str = "password_change";
    /// An organizer enrolled, confirmed or removed a second factor.
    pub const TOTP: &str = "totp";
    /// A participant deleted their registration.
    pub const SELF_DELETION: &str = "self_deletion";
    /// A campaign's personal information was purged (`safequiz purge`).
    pub const PURGE: &str = "purge";
    /// The audit trail itself was read or exported.
    pub const AUDIT_READ: &str = "audit_read";
    /// A campaign's prizes were drawn (`safequiz prizes draw`): detail holds the list's digest,
    /// the public value and the number eligible and drawn.
    pub const PRIZE_DRAW: &str = "prize_draw";
    /// An organizer excluded a participant's results (docs/fair-play.md): detail holds the
    /// participant id and the reason.
    pub const EXCLUSION: &str = "exclusion";
    /// An organizer undid an exclusion: detail holds the participant id and the reason.
    pub const EXCLUSION_UNDONE: &str = "exclusion_undone";
    /// An organizer approved an application to administer an organization: detail names the
    /// application, the organization's unit and the account created.
    pub const ADMIN_APPROVE: &str = "admin_approve";
    /// An organizer refused an application to administer an organization: detail names the
    /// application and the organization's unit (the reason is kept with the application).
    pub const ADMIN_REFUSE: &str = "admin_refuse";
    /// An organizer downloaded an application's authorization file.
    pub const ADMIN_FILE: &str = "admin_file";
}

/// The outcome of a successful action.
pub const OK: &str = "ok";

/// One action to record. `actor` is `organizer:<username>`, `participant:<id>` or
/// `cli:<name>`; `scope` a unit id, `*` for the whole campaign, or empty; `address` the client
/// address (empty for the command line); `outcome` [`OK`] or why it failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When, Unix ms.
    pub at_ms: i64,
    /// The campaign the action is about.
    pub campaign_id: String,
    /// Who.
    pub actor: String,
    /// What (see [`action`]).
    pub action: String,
    /// Which unit's subtree, `*`, or empty.
    pub scope: String,
    /// What exactly, in a few words; never a full name or phone number.
    pub detail: String,
    /// From where.
    pub address: String,
    /// [`OK`] or why it failed.
    pub outcome: String,
}

/// A recorded row: its id (the order rows were written in) and the entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    /// Increasing in the order rows were written.
    pub audit_id: i64,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The campaign.
    pub campaign_id: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Which scope.
    pub scope: String,
    /// What exactly.
    pub detail: String,
    /// From where.
    pub address: String,
    /// The result.
    pub outcome: String,
}

/// Which rows to read: a campaign (or all), an interval of instants `[from_ms, to_ms)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery<'a> {
    /// Only this campaign's rows; `None`: every campaign (the command line's export).
    pub campaign_id: Option<&'a str>,
    /// From this instant, Unix ms, included.
    pub from_ms: i64,
    /// Until this instant, Unix ms, excluded.
    pub to_ms: i64,
}

const COLUMNS: &str = "CAST(audit_id AS BIGINT) AS audit_id, at_ms, campaign_id, actor, action, \
                       scope, detail, address, outcome";

fn select(query: &AuditQuery<'_>, after: Option<i64>, limit: Option<i64>) -> Statement {
    let mut statement = Statement::new(&format!("SELECT {COLUMNS} FROM audit_log WHERE at_ms >= "));
    statement.push_bind(query.from_ms).push(" AND at_ms < ");
    statement.push_bind(query.to_ms);
    if let Some(campaign_id) = query.campaign_id {
        statement.push(" AND campaign_id = ").push_bind(campaign_id);
    }
    if let Some(after) = after {
        statement.push(" AND audit_id < ").push_bind(after);
    }
    match limit {
        // The newest first: the back office shows the latest actions on top.
        Some(limit) => {
            statement
                .push(" ORDER BY audit_id DESC LIMIT ")
                .push_bind(limit);
        }
        None => {
            statement.push(" ORDER BY audit_id");
        }
    }
    statement
}

impl Store {
    /// Appends one row; returns its id. The only statement of this module that writes.
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
        Ok(Statement::new(
            "INSERT INTO audit_log \
             (at_ms, campaign_id, actor, action, scope, detail, address, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING CAST(audit_id AS BIGINT)",
        )
        .bind(entry.at_ms)
        .bind(entry.campaign_id.as_str())
        .bind(entry.actor.as_str())
        .bind(entry.action.as_str())
        .bind(entry.scope.as_str())
        .bind(entry.detail.as_str())
        .bind(entry.address.as_str())
        .bind(entry.outcome.as_str())
        .fetch_scalar(self)
        .await?)
    }

    /// One page of rows, the newest first: at most `limit` rows written before the row
    /// `before` (`None`: from the newest). The next page starts before the last row's id.
    pub async fn audit_page(
        &self,
        query: &AuditQuery<'_>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(select(query, before, Some(i64::from(limit)))
            .fetch_all(self)
            .await?)
    }

    /// Every row of the query in the order written, streamed in bounded memory (the export).
    pub fn audit_stream<'a>(
        &'a self,
        query: &AuditQuery<'_>,
    ) -> BoxStream<'a, Result<AuditRow, StoreError>> {
        select(query, None, None)
            .fetch::<AuditRow>(self)
            .map(|row| row.map_err(StoreError::from))
            .boxed()
    }
}

/// Appends one row to the trail of `store`; see [`Store::append_audit`].
pub async fn append(store: &Store, entry: &AuditEntry) -> Result<i64, StoreError> {
    store.append_audit(entry).await
}
