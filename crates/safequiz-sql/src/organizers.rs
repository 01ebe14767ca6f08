//! Organizer accounts: who may read which subtree of a campaign.
//!
//! Queries are written once: both SQLite and PostgreSQL take `$1`-style parameters, and
//! [`on_pool!`](crate::on_pool) runs the same statement on whichever pool the store has.

use crate::{Store, StoreError, on_pool};

/// An organizer account as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizerRecord {
    /// The account's id.
    pub organizer_id: i64,
    /// The campaign it belongs to.
    pub campaign_id: String,
    /// The unit whose subtree it sees; `*` is the whole campaign.
    pub unit_id: String,
    /// The login name.
    pub username: String,
    /// The argon2id hash of the password (PHC string).
    pub password_hash: String,
    /// Whether the password is still the one-time password the CLI printed.
    pub must_change_password: bool,
    /// Session tokens carry this; raising it ends every session issued before.
    pub session_epoch: i64,
    /// When the account was created, Unix ms.
    pub created_at_ms: i64,
}

/// A new account.
#[derive(Clone, Debug)]
pub struct NewOrganizer<'a> {
    /// The campaign.
    pub campaign_id: &'a str,
    /// The unit whose subtree it sees (`*`: the whole campaign).
    pub unit_id: &'a str,
    /// The login name, unique over all campaigns.
    pub username: &'a str,
    /// The argon2id hash of its one-time password.
    pub password_hash: &'a str,
    /// Now, Unix ms.
    pub created_at_ms: i64,
}

type Row = (i64, String, String, String, String, i64, i64, i64);

/// The selected columns, in [`Row`] order, as a literal so statements stay `&'static str`.
macro_rules! select_organizers {
    ($rest:literal) => {
        concat!(
            "SELECT organizer_id, campaign_id, unit_id, username, password_hash, ",
            "CAST(must_change_password AS BIGINT), CAST(session_epoch AS BIGINT), ",
            "created_at_ms FROM organizers ",
            $rest
        )
    };
}

fn record(row: Row) -> OrganizerRecord {
    OrganizerRecord {
        organizer_id: row.0,
        campaign_id: row.1,
        unit_id: row.2,
        username: row.3,
        password_hash: row.4,
        must_change_password: row.5 != 0,
        session_epoch: row.6,
        created_at_ms: row.7,
    }
}

/// Why an account could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddOrganizerError {
    /// Another account already has this login name.
    #[error("the username {0} is taken")]
    UsernameTaken(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Adds an account that must change its password at first login; returns its id.
    pub async fn add_organizer(&self, new: &NewOrganizer<'_>) -> Result<i64, AddOrganizerError> {
        let sql = "INSERT INTO organizers \
            (campaign_id, unit_id, username, password_hash, must_change_password, created_at_ms) \
            VALUES ($1, $2, $3, $4, 1, $5) RETURNING organizer_id";
        let inserted: Result<(i64,), sqlx::Error> = on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(new.campaign_id)
                .bind(new.unit_id)
                .bind(new.username)
                .bind(new.password_hash)
                .bind(new.created_at_ms)
                .fetch_one(pool)
                .await
        });
        match inserted {
            Ok((id,)) => Ok(id),
            Err(error) => {
                let error = StoreError::from(error);
                if error.is_data_error() {
                    Err(AddOrganizerError::UsernameTaken(new.username.to_owned()))
                } else {
                    Err(error.into())
                }
            }
        }
    }

    /// The account with this login name.
    pub async fn organizer_by_username(
        &self,
        username: &str,
    ) -> Result<Option<OrganizerRecord>, StoreError> {
        let sql = select_organizers!("WHERE username = $1");
        let row: Option<Row> = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(username).fetch_optional(pool).await?
        });
        Ok(row.map(record))
    }

    /// The account with this id.
    pub async fn organizer(
        &self,
        organizer_id: i64,
    ) -> Result<Option<OrganizerRecord>, StoreError> {
        let sql = select_organizers!("WHERE organizer_id = $1");
        let row: Option<Row> = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(organizer_id).fetch_optional(pool).await?
        });
        Ok(row.map(record))
    }

    /// Every account of a campaign, by username.
    pub async fn organizers(&self, campaign_id: &str) -> Result<Vec<OrganizerRecord>, StoreError> {
        let sql = select_organizers!("WHERE campaign_id = $1 ORDER BY username");
        let rows: Vec<Row> = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(campaign_id).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(record).collect())
    }

    /// Replaces the password hash and ends every session; `must_change` marks a password the
    /// organizer was given rather than chose. Returns the new session epoch, `None` when there
    /// is no such account.
    pub async fn set_organizer_password(
        &self,
        organizer_id: i64,
        password_hash: &str,
        must_change: bool,
    ) -> Result<Option<i64>, StoreError> {
        let sql = "UPDATE organizers SET password_hash = $1, must_change_password = $2, \
            session_epoch = session_epoch + 1 WHERE organizer_id = $3 \
            RETURNING CAST(session_epoch AS BIGINT)";
        let row: Option<(i64,)> = on_pool!(self, pool => {
            sqlx::query_as(sql)
                .bind(password_hash)
                .bind(i32::from(must_change))
                .bind(organizer_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(epoch,)| epoch))
    }

    /// Ends every session of the account (logout). Returns whether the account exists.
    pub async fn end_organizer_sessions(&self, organizer_id: i64) -> Result<bool, StoreError> {
        let sql = "UPDATE organizers SET session_epoch = session_epoch + 1 WHERE organizer_id = $1";
        let done = on_pool!(self, pool => {
            sqlx::query(sql).bind(organizer_id).execute(pool).await?.rows_affected()
        });
        Ok(done == 1)
    }
}
