//! Roll-ups: the organizer reports' figures kept as the record is written, so that a report
//! reads a few rows per unit and day whatever the number of attempts (docs/design.md, "Reports
//! at scale").
//!
//! Tables (migration `0005_rollups`): `unit_ancestors` (every unit with itself and its
//! ancestors, kept by `sync_units`), `unit_days` (attempts, points, full marks and participants
//! per unit at every level, the whole campaign included, and day, the participants counted by
//! their previous active day so that any period's distinct participants are one sum),
//! `question_counts` (answers per unit, day and question; migration `0006_question_counts`,
//! keyed by the integers `rollup_keys` gives units and questions), `participant_totals` and
//! `participant_days` (each participant's totals, overall and per day, for the searches; overall
//! the counted score under `best` and `last`, by the policy `campaign_scoring` holds).
//!
//! [`Store::insert_batch`] adds the attempts it actually inserted (not the duplicates its
//! `ON CONFLICT DO NOTHING` skipped) in the same transaction, so the roll-ups are exactly as
//! durable as the rows and count each attempt once; the question counters alone it queues in
//! that transaction (`question_pending`) for the question fold ([`Store::fold_questions`], module
//! `fold`), which adds them a moment later, exactly once. [`Store::rebuild_rollups`] recomputes a
//! campaign's from the raw rows (after a unit tree change, or an upgrade), and
//! [`Store::check_rollups`] compares them with such a rebuild. The rule itself, what a batch
//! adds, is the pure `increments` function, which all three run.
//!
//! This module writes roll-ups; the reports (`reports`) read them.

mod fold;
mod increments;
mod rebuild;
mod write;

#[cfg(test)]
mod tests;

pub use fold::{FOLD_ATTEMPTS, FOLD_BATCHES, Folded};
pub use increments::NO_PREVIOUS_DAY;
pub use rebuild::{Rebuilt, RollupDifference};

pub(crate) use rebuild::{ATTEMPT_COLUMNS, rebuild_in};
pub(crate) use write::{
    Questions, UnitRow, add_attempts, add_registrations, lock_campaign, remove_participant,
    restore_participant,
};

use safequiz_domain::score::Counted;

use crate::statement::{Statement, Transaction};
use crate::{Store, StoreError};

impl Store {
    /// Records which attempts make `campaign_id`'s participant totals (`counted`, docs/design.md
    /// §3.4): called at every start from the configuration, before any flush. A campaign whose
    /// policy changed has its roll-ups rebuilt from the raw rows in the same transaction, so its
    /// participants' totals follow the new policy at once (once, at the first start after the
    /// change of the campaign file).
    pub async fn sync_counting(
        &self,
        campaign_id: &str,
        counted: Counted,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let before = recorded_counting(&mut tx, campaign_id).await?;
        if before != counted {
            Statement::new(
                "INSERT INTO campaign_scoring (campaign_id, counted) VALUES ($1, $2) \
                 ON CONFLICT (campaign_id) DO UPDATE SET counted = excluded.counted",
            )
            .bind(campaign_id)
            .bind(counted.as_str())
            .execute_in(&mut tx)
            .await?;
            let rebuilt = rebuild_in(&mut tx, campaign_id).await?;
            if rebuilt.attempts > 0 {
                tracing::info!(
                    campaign.id = campaign_id,
                    counted = counted.as_str(),
                    attempts = rebuilt.attempts,
                    "the counted policy changed: participant totals rebuilt"
                );
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The counted policy `campaign_scoring` holds for `campaign_id` (`sum` when none).
pub(crate) async fn recorded_counting(
    tx: &mut Transaction,
    campaign_id: &str,
) -> Result<Counted, StoreError> {
    let names: Vec<String> =
        Statement::new("SELECT counted FROM campaign_scoring WHERE campaign_id = $1")
            .bind(campaign_id)
            .fetch_scalars_in(tx)
            .await?;
    Ok(names
        .first()
        .and_then(|name| Counted::parse(name))
        .unwrap_or(Counted::Sum))
}

impl Store {
    /// Builds the roll-ups of every campaign a migration left without them (a record written
    /// before roll-ups existed), one transaction each; called by [`Store::migrate`].
    ///
    /// Two processes migrating at once build each campaign once: the second finds it done.
    pub(crate) async fn build_pending_rollups(&self) -> Result<(), StoreError> {
        let pending: Vec<String> =
            Statement::new("SELECT campaign_id FROM rollup_rebuilds ORDER BY campaign_id")
                .fetch_all::<Pending>(self)
                .await?
                .into_iter()
                .map(|row| row.campaign_id)
                .collect();
        for campaign_id in pending {
            let mut tx = self.begin_write().await?;
            let claimed = Statement::new("DELETE FROM rollup_rebuilds WHERE campaign_id = $1")
                .bind(campaign_id.as_str())
                .execute_in(&mut tx)
                .await?;
            if claimed == 1 {
                let rebuilt = rebuild_in(&mut tx, &campaign_id).await?;
                tx.commit().await?;
                tracing::info!(
                    campaign.id = campaign_id,
                    attempts = rebuilt.attempts,
                    "built the roll-ups of a campaign recorded before they existed"
                );
            }
        }
        Ok(())
    }
}

/// A campaign waiting for its roll-ups.
#[derive(sqlx::FromRow)]
struct Pending {
    campaign_id: String,
}
