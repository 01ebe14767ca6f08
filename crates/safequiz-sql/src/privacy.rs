//! A person's information in the record: what is held about them, the deletion of their
//! registration, and the purge of a campaign at the end of its retention (issue 20;
//! docs/privacy.md).
//!
//! Deleting never removes a row of the record: the name, the masked phone, the phone hash, the
//! sealed phone (issue 19) and a guardian's name are emptied and `erased_at_ms` set, in
//! `participants` and in the roll-ups' `participant_totals`. The fair-play observations and flags
//! of the participants concerned (issue 21: device tokens, networks) are deleted.
//! The participant id, unit and attempts stay as anonymous rows, so every unit's totals, the
//! roll-ups, the boards rebuilt from the record and `reconcile` are what they were.

use crate::record::{ParticipantRow, RecordRow};
use crate::statement::Statement;
use crate::{Store, StoreError};

/// What the record holds about one participant (their own view, `GET .../me/privacy`).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct HeldParticipant {
    /// The name as registered (empty once erased).
    pub name: String,
    /// `138****5678` (empty once erased).
    pub phone_masked: String,
    /// The unit registered with.
    pub unit_id: String,
    /// Unix ms.
    pub registered_at_ms: i64,
    /// The notice version consented to.
    pub consent_version: Option<String>,
    /// When, Unix ms.
    pub consented_at_ms: Option<i64>,
    /// The guardian who consented for a child under 14.
    pub guardian_name: Option<String>,
    /// 1 when the record keeps the phone number sealed for the winners' notification.
    pub phone_kept: i32,
    /// When the registration was deleted or purged.
    pub erased_at_ms: Option<i64>,
    /// Attempts the record holds.
    pub attempts: i64,
}

/// What a purge removed, or would remove (dry run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeCounts {
    /// Participants whose name and phone hash are (or would be) emptied.
    pub participants: u64,
    /// Of those, the ones with a guardian's name.
    pub guardians: u64,
    /// Participants already anonymous (deleted before), left as they are.
    pub already_erased: u64,
}

/// The statements that empty the personal columns of the participants `condition` selects
/// (parameters `$1` the instant, `$2` the campaign, then the condition's own).
const ERASE_PARTICIPANTS: &str = "UPDATE participants SET name = '', phone_masked = '', \
     phone_hash = '', phone_sealed = NULL, guardian_name = NULL, erased_at_ms = $1 \
     WHERE campaign_id = $2 AND erased_at_ms IS NULL";
const ERASE_TOTALS: &str = "UPDATE participant_totals SET name = '', phone_masked = '' \
     WHERE campaign_id = $1 AND (name <> '' OR phone_masked <> '')";

/// The fair-play data of the participants a condition selects (`$1` the campaign, then the
/// condition's own): their observed requests (device token, network, instants) and the flags
/// computed from them (issue 21). Exclusions stay: they are organizers' audited decisions.
const ERASE_FAIR_PLAY: [&str; 2] = [
    "DELETE FROM observations WHERE campaign_id = $1",
    "DELETE FROM flags WHERE campaign_id = $1",
];

impl Store {
    /// What the record holds about participant `participant_id` of `campaign_id`; `None` before
    /// the flusher wrote their registration.
    pub async fn participant_privacy(
        &self,
        campaign_id: &str,
        participant_id: i64,
    ) -> Result<Option<HeldParticipant>, StoreError> {
        Ok(Statement::new(
            "SELECT p.name, p.phone_masked, p.unit_id, p.registered_at_ms, p.consent_version, \
             p.consented_at_ms, p.guardian_name, \
             CASE WHEN p.phone_sealed IS NULL THEN 0 ELSE 1 END AS phone_kept, p.erased_at_ms, \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM attempts a \
              WHERE a.campaign_id = p.campaign_id AND a.participant_id = p.participant_id) \
             AS attempts \
             FROM participants p WHERE p.campaign_id = $1 AND p.participant_id = $2",
        )
        .bind(campaign_id)
        .bind(participant_id)
        .fetch_optional(self)
        .await?)
    }

    /// Erases one participant's personal information; `anonymous` is their registration row as
    /// Redis knew it with name, masked phone and phone hash already emptied.
    ///
    /// The row is first inserted if the flusher has not written it yet (through
    /// [`Store::insert_batch`], so the roll-ups count the registration exactly once, and the
    /// stream entry flushed later finds the row present and changes nothing); then the personal
    /// columns of the row and of its participant totals are emptied. Idempotent. Returns whether
    /// this call erased anything.
    pub async fn erase_participant(
        &self,
        anonymous: &ParticipantRow,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let mut row = anonymous.clone();
        row.name.clear();
        row.phone_masked.clear();
        row.phone_hash.clear();
        row.phone_sealed = None;
        if let Some(consent) = row.consent.as_mut() {
            consent.guardian_name = None;
        }
        self.insert_batch(&[RecordRow::Participant(row)]).await?;
        let mut tx = self.begin_write().await?;
        let erased = Statement::new(&format!("{ERASE_PARTICIPANTS} AND participant_id = $3"))
            .bind(at_ms)
            .bind(anonymous.campaign_id.as_str())
            .bind(anonymous.participant_id)
            .execute_in(&mut tx)
            .await?;
        Statement::new(&format!("{ERASE_TOTALS} AND participant_id = $2"))
            .bind(anonymous.campaign_id.as_str())
            .bind(anonymous.participant_id)
            .execute_in(&mut tx)
            .await?;
        for erase in ERASE_FAIR_PLAY {
            Statement::new(&format!("{erase} AND participant_id = $2"))
                .bind(anonymous.campaign_id.as_str())
                .bind(anonymous.participant_id)
                .execute_in(&mut tx)
                .await?;
        }
        // The row inserted above already carries no name: mark it erased too.
        let marked = Statement::new(
            "UPDATE participants SET erased_at_ms = $1 \
             WHERE campaign_id = $2 AND participant_id = $3 AND erased_at_ms IS NULL",
        )
        .bind(at_ms)
        .bind(anonymous.campaign_id.as_str())
        .bind(anonymous.participant_id)
        .execute_in(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(erased + marked > 0)
    }

    /// What purging `campaign_id` would remove, without changing anything.
    pub async fn purge_preview(&self, campaign_id: &str) -> Result<PurgeCounts, StoreError> {
        let (participants, guardians, already_erased): (i64, i64, i64) = Statement::new(
            "SELECT \
             CAST(COALESCE(SUM(CASE WHEN erased_at_ms IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN erased_at_ms IS NULL AND guardian_name IS NOT NULL \
                  THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN erased_at_ms IS NULL THEN 0 ELSE 1 END), 0) AS BIGINT) \
             FROM participants WHERE campaign_id = $1",
        )
        .bind(campaign_id)
        .fetch_one(self)
        .await?;
        Ok(PurgeCounts {
            participants: participants as u64,
            guardians: guardians as u64,
            already_erased: already_erased as u64,
        })
    }

    /// Empties the name, masked phone, phone hash and guardian's name of every participant of
    /// `campaign_id`, in `participants` and `participant_totals`, and deletes the campaign's
    /// fair-play observations and flags, in one transaction; attempts, roll-ups, exclusions and
    /// the audit trail stay. Returns what it removed.
    pub async fn purge_campaign(
        &self,
        campaign_id: &str,
        at_ms: i64,
    ) -> Result<PurgeCounts, StoreError> {
        let counts = self.purge_preview(campaign_id).await?;
        let mut tx = self.begin_write().await?;
        Statement::new(ERASE_PARTICIPANTS)
            .bind(at_ms)
            .bind(campaign_id)
            .execute_in(&mut tx)
            .await?;
        Statement::new(ERASE_TOTALS)
            .bind(campaign_id)
            .execute_in(&mut tx)
            .await?;
        for erase in ERASE_FAIR_PLAY {
            Statement::new(erase)
                .bind(campaign_id)
                .execute_in(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(counts)
    }
}
