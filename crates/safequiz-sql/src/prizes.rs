//! The record of prize draws (docs/prizes.md): the eligible list frozen from the participant
//! totals, the draw and its winners, and the reads the result pages and the winners export make.
//!
//! The draw itself is pure domain code (`safequiz_domain::prizes`); this module only reads its
//! input and keeps its output. One draw per campaign: a second is refused, so that nobody can
//! redraw until the result suits them.

use futures_util::TryStreamExt;
use safequiz_domain::prizes::{Eligible, PrizeWinners};
use safequiz_domain::score::{Candidate, Counted};

use crate::statement::Statement;
use crate::{Store, StoreError};

/// A campaign's stored draw.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DrawRow {
    /// The campaign.
    pub campaign_id: String,
    /// The public value the seed was derived from.
    pub seed_from: String,
    /// SHA-256 of the eligible list file, hex.
    pub list_digest: String,
    /// The seed, hex.
    pub seed: String,
    /// Participants on the eligible list.
    pub eligible: i64,
    /// When the draw was stored, Unix ms.
    pub drawn_at_ms: i64,
}

/// One stored winner, with what the pages and the export show of them.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct WinnerRow {
    /// The prize's position in the campaign file.
    pub prize_index: i32,
    /// The winner's position within the prize.
    pub position: i32,
    /// The prize's name.
    pub prize: String,
    /// The award: the tier's name, or the prize's.
    pub award: String,
    /// The participant.
    pub participant_id: i64,
    /// Their line on the eligible list.
    pub rank: i64,
    /// Their name as registered (unmasked: callers mask it for public pages).
    pub name: String,
    /// The masked phone number.
    pub phone_masked: String,
    /// The phone number sealed for the winners' notification (issue 19; `None` for a campaign
    /// without prizes at registration, or a person who deleted their registration); the
    /// service opens it for the winners' export only.
    pub phone_sealed: Option<String>,
    /// Their unit.
    pub unit_id: String,
    /// Their points.
    pub points: i64,
}

#[derive(sqlx::FromRow)]
struct AttemptPoints {
    attempt_id: String,
    participant_id: i64,
    points: i32,
    time_used_ms: i64,
    finished_at_ms: i64,
    full_marks: bool,
}

#[derive(sqlx::FromRow)]
struct TotalsRow {
    participant_id: i64,
    points: i64,
    time_used_ms: i64,
    last_finished_at_ms: Option<i64>,
    attempts: i64,
    full_marks: i64,
}

/// Why a draw was not stored.
#[derive(Debug, thiserror::Error)]
pub enum RecordDrawError {
    /// The campaign already has a draw; it is never replaced.
    #[error("campaign {0} already has a draw; a draw is never replaced")]
    AlreadyDrawn(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RecordDrawError {
    fn from(error: sqlx::Error) -> RecordDrawError {
        RecordDrawError::Store(error.into())
    }
}

const WINNER_COLUMNS: &str = "w.prize_index, w.position, w.prize, w.award, w.participant_id, \
     w.rank, t.name, t.phone_masked, p.phone_sealed, t.unit_id, t.points";
/// The winners' rows with their totals and their registration.
const WINNERS_FROM: &str = "FROM prize_winners w JOIN participant_totals t \
     ON t.campaign_id = w.campaign_id AND t.participant_id = w.participant_id \
     LEFT JOIN participants p \
     ON p.campaign_id = w.campaign_id AND p.participant_id = w.participant_id";

impl Store {
    /// Every participant of `campaign_id` with at least one final attempt whose results count
    /// (not excluded), in no particular order (`EligibleList::new` orders them), with their
    /// points and time as the campaign counts them (`counted`), the order of the individual
    /// boards. Under `sum`, from the totals the flusher keeps, and full marks means every final
    /// attempt had full marks; under `best` or `last`, from the attempts (one read of the
    /// campaign's rows, as a draw is made once): the counted attempt's points and time
    /// (`Counted::prefers` picks it), full marks when that attempt had them.
    pub async fn eligible_participants(
        &self,
        campaign_id: &str,
        counted: Counted,
    ) -> Result<Vec<Eligible>, StoreError> {
        if counted != Counted::Sum {
            return self.eligible_by_attempt(campaign_id, counted).await;
        }
        let rows: Vec<TotalsRow> = Statement::new(
            "SELECT participant_id, points, time_used_ms, last_finished_at_ms, attempts, \
             full_marks FROM participant_totals WHERE campaign_id = $1 AND attempts > 0",
        )
        .bind(campaign_id)
        .fetch_all(self)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| Eligible {
                participant: row.participant_id as u64,
                points: row.points,
                time_used_ms: row.time_used_ms,
                last_finished_ms: row.last_finished_at_ms.unwrap_or(0),
                full_marks: row.full_marks == row.attempts,
            })
            .collect())
    }

    /// [`Store::eligible_participants`] under `best` or `last`: the participants' attempts in
    /// participant order, each participant's counted attempt kept as they stream by.
    async fn eligible_by_attempt(
        &self,
        campaign_id: &str,
        counted: Counted,
    ) -> Result<Vec<Eligible>, StoreError> {
        let mut rows = Statement::new(
            "SELECT attempt_id, participant_id, points, time_used_ms, finished_at_ms, full_marks \
             FROM attempts WHERE campaign_id = $1 AND participant_id NOT IN \
             (SELECT participant_id FROM exclusions WHERE campaign_id = $1 \
             AND undone_at_ms IS NULL) ORDER BY participant_id",
        )
        .bind(campaign_id)
        .fetch::<AttemptPoints>(self);
        let mut eligible: Vec<Eligible> = Vec::new();
        let mut kept = Candidate::default();
        while let Some(row) = rows.try_next().await? {
            let number = crate::record::attempt_number(&row.attempt_id);
            let candidate = Candidate {
                number,
                points: u32::try_from(row.points).unwrap_or(0),
                time_used_ms: row.time_used_ms,
            };
            let participant = row.participant_id as u64;
            let first = eligible.last().is_none_or(|e| e.participant != participant);
            if first {
                eligible.push(Eligible {
                    participant,
                    points: i64::from(row.points),
                    time_used_ms: row.time_used_ms,
                    last_finished_ms: row.finished_at_ms,
                    full_marks: row.full_marks,
                });
                kept = candidate;
                continue;
            }
            let Some(current) = eligible.last_mut() else {
                continue;
            };
            current.last_finished_ms = current.last_finished_ms.max(row.finished_at_ms);
            if counted.prefers(candidate, kept) {
                kept = candidate;
                current.points = i64::from(row.points);
                current.time_used_ms = row.time_used_ms;
                current.full_marks = row.full_marks;
            }
        }
        Ok(eligible)
    }

    /// Stores `draw` and its winners in one transaction; refused when the campaign has a draw.
    pub async fn record_draw(
        &self,
        draw: &DrawRow,
        prizes: &[PrizeWinners],
    ) -> Result<(), RecordDrawError> {
        let mut tx = self.begin_write().await?;
        let inserted = Statement::new(
            "INSERT INTO prize_draws (campaign_id, seed_from, list_digest, seed, eligible, \
             drawn_at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(draw.campaign_id.as_str())
        .bind(draw.seed_from.as_str())
        .bind(draw.list_digest.as_str())
        .bind(draw.seed.as_str())
        .bind(draw.eligible)
        .bind(draw.drawn_at_ms)
        .execute_in(&mut tx)
        .await?;
        if inserted == 0 {
            return Err(RecordDrawError::AlreadyDrawn(draw.campaign_id.clone()));
        }
        for (prize_index, prize) in prizes.iter().enumerate() {
            for (position, winner) in prize.winners.iter().enumerate() {
                Statement::new(
                    "INSERT INTO prize_winners (campaign_id, prize_index, position, prize, \
                     award, participant_id, rank) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(draw.campaign_id.as_str())
                .bind(prize_index as i32)
                .bind(position as i32)
                .bind(prize.prize.as_str())
                .bind(winner.award.as_str())
                .bind(winner.participant as i64)
                .bind(i64::from(winner.rank))
                .execute_in(&mut tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The campaign's draw, if it has one.
    pub async fn prize_draw(&self, campaign_id: &str) -> Result<Option<DrawRow>, StoreError> {
        Ok(Statement::new(
            "SELECT campaign_id, seed_from, list_digest, seed, eligible, drawn_at_ms \
             FROM prize_draws WHERE campaign_id = $1",
        )
        .bind(campaign_id)
        .fetch_optional(self)
        .await?)
    }

    /// Every winner of the campaign's draw, prize by prize in file order.
    pub async fn prize_winners(&self, campaign_id: &str) -> Result<Vec<WinnerRow>, StoreError> {
        Ok(Statement::new(&format!(
            "SELECT {WINNER_COLUMNS} {WINNERS_FROM} WHERE w.campaign_id = $1 \
             ORDER BY w.prize_index, w.position"
        ))
        .bind(campaign_id)
        .fetch_all(self)
        .await?)
    }

    /// What `participant_id` won in the campaign's draw (empty: nothing, or no draw yet).
    pub async fn participant_prizes(
        &self,
        campaign_id: &str,
        participant_id: i64,
    ) -> Result<Vec<WinnerRow>, StoreError> {
        Ok(Statement::new(&format!(
            "SELECT {WINNER_COLUMNS} {WINNERS_FROM} WHERE w.campaign_id = $1 AND w.participant_id = $2 \
             ORDER BY w.prize_index, w.position"
        ))
        .bind(campaign_id)
        .bind(participant_id)
        .fetch_all(self)
        .await?)
    }
}
