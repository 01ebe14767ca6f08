//! Organizer login security at 等保 2.0 level 3 (issue 20; docs/privacy.md): failed-login
//! counting and lockout, the password's age, the idle logout and the TOTP second factor with
//! its recovery codes.
//!
//! Counted in SQL, on the account's row, so every replica agrees (the Redis rate limits of
//! `safequiz_redis::limits` come first and are per window; this lockout is per account and
//! survives them). Recovery codes are kept only as argon2id hashes, which the server computes.

use crate::statement::Statement;
use crate::{Store, StoreError};

/// The security state of an account.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginSecurity {
    /// Consecutive failed logins since the last success or lockout.
    pub failed_logins: i64,
    /// Logins are refused until then, Unix ms.
    pub locked_until_ms: Option<i64>,
    /// When the password was last set (the account's creation before any change), Unix ms.
    pub password_set_at_ms: i64,
    /// The TOTP secret, hex (also while enrolment awaits its first code).
    pub totp_secret: Option<String>,
    /// Whether the second factor is on (a first code was confirmed).
    pub totp_enabled: bool,
    /// The last time step a code was accepted for.
    pub totp_last_step: Option<i64>,
    /// The last request of any of the account's sessions, Unix ms.
    pub last_active_ms: Option<i64>,
}

/// What a failed login did to the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Failure {
    /// Failures counted now (0 right after a lockout began).
    pub failed_logins: i64,
    /// Set when this failure locked the account.
    pub locked_until_ms: Option<i64>,
}

/// The idle check's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activity {
    /// Active; the last activity is recorded (at most once per `touch_every_ms`).
    Active,
    /// No request for longer than the idle limit: the sessions ended.
    Idle,
}

impl Store {
    /// The security state of account `organizer_id`.
    pub async fn login_security(
        &self,
        organizer_id: i64,
    ) -> Result<Option<LoginSecurity>, StoreError> {
        Ok(Statement::new(
            "SELECT CAST(failed_logins AS BIGINT) AS failed_logins, locked_until_ms, \
             COALESCE(password_set_at_ms, created_at_ms) AS password_set_at_ms, totp_secret, \
             totp_enabled <> 0 AS totp_enabled, totp_last_step, last_active_ms \
             FROM organizers WHERE organizer_id = $1",
        )
        .bind(organizer_id)
        .fetch_optional(self)
        .await?)
    }

    /// Counts a failed login; the `max_failures`th in a row locks the account until
    /// `now_ms + lock_ms` and starts the count again.
    pub async fn record_login_failure(
        &self,
        organizer_id: i64,
        now_ms: i64,
        max_failures: i64,
        lock_ms: i64,
    ) -> Result<Failure, StoreError> {
        Ok(Statement::new(
            "UPDATE organizers SET \
             locked_until_ms = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until_ms END, \
             failed_logins = CASE WHEN failed_logins + 1 >= $3 THEN 0 ELSE failed_logins + 1 END \
             WHERE organizer_id = $4 \
             RETURNING CAST(failed_logins AS BIGINT) AS failed_logins, \
             CASE WHEN failed_logins = 0 THEN locked_until_ms ELSE NULL END AS locked_until_ms",
        )
        .bind(max_failures)
        .bind(now_ms + lock_ms)
        .bind(max_failures)
        .bind(organizer_id)
        .fetch_one(self)
        .await?)
    }

    /// A successful login: the failure count starts again, the lockout ends, the account is
    /// active now.
    pub async fn record_login_success(
        &self,
        organizer_id: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        Statement::new(
            "UPDATE organizers SET failed_logins = 0, locked_until_ms = NULL, last_active_ms = $1 \
             WHERE organizer_id = $2",
        )
        .bind(now_ms)
        .bind(organizer_id)
        .execute(self)
        .await?;
        Ok(())
    }

    /// Records that the password was set now (its age counts from here).
    pub async fn mark_password_set(
        &self,
        organizer_id: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        Statement::new("UPDATE organizers SET password_set_at_ms = $1 WHERE organizer_id = $2")
            .bind(now_ms)
            .bind(organizer_id)
            .execute(self)
            .await?;
        Ok(())
    }

    /// The idle check of a request at `now_ms`, given the account's `last` activity (from
    /// [`Store::login_security`]): [`Activity::Idle`] when it is more than `idle_ms` ago; else
    /// records the activity when `touch` (a request of the person, not a page's background
    /// poll) and the last record is older than `touch_every_ms`, so a busy account writes at
    /// most once per interval.
    pub async fn check_activity(
        &self,
        organizer_id: i64,
        last: Option<i64>,
        now_ms: i64,
        idle_ms: i64,
        touch: bool,
        touch_every_ms: i64,
    ) -> Result<Activity, StoreError> {
        // An account that never logged in since this column existed counts from now.
        if last.is_some_and(|last| now_ms - last > idle_ms) {
            return Ok(Activity::Idle);
        }
        if touch && last.is_none_or(|last| now_ms - last >= touch_every_ms) {
            Statement::new("UPDATE organizers SET last_active_ms = $1 WHERE organizer_id = $2")
                .bind(now_ms)
                .bind(organizer_id)
                .execute(self)
                .await?;
        }
        Ok(Activity::Active)
    }

    /// Starts (or restarts) enrolment: a new secret, not yet enabled.
    pub async fn set_totp_secret(
        &self,
        organizer_id: i64,
        secret_hex: &str,
    ) -> Result<(), StoreError> {
        Statement::new(
            "UPDATE organizers SET totp_secret = $1, totp_enabled = 0, totp_last_step = NULL \
             WHERE organizer_id = $2",
        )
        .bind(secret_hex)
        .bind(organizer_id)
        .execute(self)
        .await?;
        Ok(())
    }

    /// Turns the second factor on with these recovery code hashes (replacing any before).
    pub async fn enable_totp(
        &self,
        organizer_id: i64,
        code_hashes: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        Statement::new("UPDATE organizers SET totp_enabled = 1 WHERE organizer_id = $1")
            .bind(organizer_id)
            .execute_in(&mut tx)
            .await?;
        Statement::new("DELETE FROM organizer_recovery_codes WHERE organizer_id = $1")
            .bind(organizer_id)
            .execute_in(&mut tx)
            .await?;
        for hash in code_hashes {
            Statement::new(
                "INSERT INTO organizer_recovery_codes (organizer_id, code_hash) VALUES ($1, $2)",
            )
            .bind(organizer_id)
            .bind(hash.as_str())
            .execute_in(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Accepts a TOTP code's time step once: `false` when a code of this or a later step was
    /// already used (a replayed code).
    pub async fn use_totp_step(&self, organizer_id: i64, step: i64) -> Result<bool, StoreError> {
        let used = Statement::new(
            "UPDATE organizers SET totp_last_step = $1 WHERE organizer_id = $2 \
             AND (totp_last_step IS NULL OR totp_last_step < $3)",
        )
        .bind(step)
        .bind(organizer_id)
        .bind(step)
        .execute(self)
        .await?;
        Ok(used == 1)
    }

    /// The hashes of the account's unused recovery codes.
    pub async fn unused_recovery_codes(
        &self,
        organizer_id: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = Statement::new(
            "SELECT code_hash FROM organizer_recovery_codes \
             WHERE organizer_id = $1 AND used_at_ms IS NULL",
        )
        .bind(organizer_id)
        .fetch_all(self)
        .await?;
        Ok(rows.into_iter().map(|(hash,)| hash).collect())
    }

    /// Marks a recovery code used; `false` when it was used already.
    pub async fn use_recovery_code(
        &self,
        organizer_id: i64,
        code_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let used = Statement::new(
            "UPDATE organizer_recovery_codes SET used_at_ms = $1 \
             WHERE organizer_id = $2 AND code_hash = $3 AND used_at_ms IS NULL",
        )
        .bind(now_ms)
        .bind(organizer_id)
        .bind(code_hash)
        .execute(self)
        .await?;
        Ok(used == 1)
    }
}
