//! Organizer accounts: who may read which subtree of a campaign.
//!
//! An account's scope is stored in `organizers.unit_id` in its wire form (a unit id, or `*` for
//! the whole campaign) and read back as a [`Scope`].

use safequiz_domain::scope::Scope;

use crate::statement::Statement;
use crate::{Store, StoreError};

/// An organizer account as the record keeps it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct OrganizerRecord {
    /// The account's id.
    pub organizer_id: i64,
    /// The campaign it belongs to.
    pub campaign_id: String,
    /// What it sees: one unit's subtree, or the whole campaign.
    #[sqlx(rename = "unit_id", try_from = "String")]
    pub scope: Scope,
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
    /// What it sees.
    pub scope: &'a Scope,
    /// The login name, unique over all campaigns.
    pub username: &'a str,
    /// The argon2id hash of its one-time password.
    pub password_hash: &'a str,
    /// Now, Unix ms.
    pub created_at_ms: i64,
}

/// The accounts `condition` selects (its parameters bound by the caller), in
/// [`OrganizerRecord`]'s columns.
fn select_organizers(condition: &str) -> Statement {
    Statement::new(&format!(
        "SELECT organizer_id, campaign_id, unit_id, username, password_hash, \
         must_change_password <> 0 AS must_change_password, \
         CAST(session_epoch AS BIGINT) AS session_epoch, created_at_ms FROM organizers \
         {condition}"
    ))
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
        let inserted: Result<i64, sqlx::Error> = Statement::new(
            "INSERT INTO organizers \
             (campaign_id, unit_id, username, password_hash, must_change_password, created_at_ms) \
             VALUES ($1, $2, $3, $4, 1, $5) RETURNING organizer_id",
        )
        .bind(new.campaign_id)
        .bind(new.scope.as_str())
        .bind(new.username)
        .bind(new.password_hash)
        .bind(new.created_at_ms)
        .fetch_scalar(self)
        .await;
        match inserted {
            Ok(id) => Ok(id),
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
        Ok(select_organizers("WHERE username = $1")
            .bind(username)
            .fetch_optional(self)
            .await?)
    }

    /// The account with this id.
    pub async fn organizer(
        &self,
        organizer_id: i64,
    ) -> Result<Option<OrganizerRecord>, StoreError> {
        Ok(select_organizers("WHERE organizer_id = $1")
            .bind(organizer_id)
            .fetch_optional(self)
            .await?)
    }

    /// Every account of a campaign, by username.
    pub async fn organizers(&self, campaign_id: &str) -> Result<Vec<OrganizerRecord>, StoreError> {
        Ok(
            select_organizers("WHERE campaign_id = $1 ORDER BY username")
                .bind(campaign_id)
                .fetch_all(self)
                .await?,
        )
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
        let epoch: Option<(i64,)> = Statement::new(
            "UPDATE organizers SET password_hash = $1, must_change_password = $2, \
             session_epoch = session_epoch + 1 WHERE organizer_id = $3 \
             RETURNING CAST(session_epoch AS BIGINT)",
        )
        .bind(password_hash)
        .bind(i32::from(must_change))
        .bind(organizer_id)
        .fetch_optional(self)
        .await?;
        Ok(epoch.map(|(epoch,)| epoch))
    }

    /// Ends every session of the account (logout). Returns whether the account exists.
    pub async fn end_organizer_sessions(&self, organizer_id: i64) -> Result<bool, StoreError> {
        let ended = Statement::new(
            "UPDATE organizers SET session_epoch = session_epoch + 1 WHERE organizer_id = $1",
        )
        .bind(organizer_id)
        .execute(self)
        .await?;
        Ok(ended == 1)
    }
}
