//! Leaderboards: the shards' partial roll-ups and individual boards, merged on read.
//!
//! Finalize (in `lua/attempt_prelude.lua`) adds each attempt to its shard's totals of every unit
//! on the participant's path and to its shard's individual boards. A read asks every shard (one
//! pipeline on a single node; on a cluster one per shard, concurrently) and merges: totals by addition (exact), individual boards by merging each
//! shard's best `limit` in the board order (exact, because the order is total). The order, and
//! the score and member that spell it in Redis, are `safequiz_domain::board`'s.

pub use safequiz_domain::board::UnitTotals;
use safequiz_domain::board::{BoardMember, BoardScore};

use crate::connection::ShardPipelines;
use crate::keys::{Shard, ShardKeys};
use crate::scripts::{RANK, is_no_script};
use crate::{HotState, RedisError};

/// Unit totals pack two counters into one field as `high << 32 | low` (see the prelude):
/// `<unit>:pa` holds attempts and points, `<unit>:nf` participants and full-mark attempts.
pub(crate) const PACKED_FIELDS: [&str; 2] = ["pa", "nf"];

/// One packed counter field from two counters.
pub(crate) fn pack(high: u64, low: u64) -> u64 {
    (high << 32) | low
}

fn unpack(packed: u64) -> (u64, u64) {
    (packed >> 32, packed & 0xFFFF_FFFF)
}

/// One participant on an individual board.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardEntry {
    /// The participant.
    pub participant: u64,
    /// Their points.
    pub points: i64,
    /// Their total time used, ms.
    pub time_used_ms: i64,
    /// When their last final attempt finished, Unix ms.
    pub last_finished_ms: i64,
    /// Their name as registered (callers mask it before showing it).
    pub name: String,
    /// Their unit.
    pub unit: String,
}

/// A participant's own totals and today's counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Standing {
    /// Points of all final attempts.
    pub points: i64,
    /// Time used over all final attempts, ms.
    pub time_used_ms: i64,
    /// Final attempts.
    pub attempts: u32,
    /// When the last final attempt finished, Unix ms (0 before any).
    pub last_finished_ms: i64,
    /// The open attempt's number, if one is open.
    pub open: Option<u32>,
    /// Day number of the last start.
    pub last_start_day: Option<i32>,
    /// Starts on that day.
    pub starts_that_day: u32,
}

impl Standing {
    /// The score these totals have on every board of the participant.
    fn score(&self) -> BoardScore {
        BoardScore {
            points: self.points,
            time_used_ms: self.time_used_ms,
        }
    }
}

impl HotState {
    /// The totals of each of `units` (the whole campaign's for
    /// `safequiz_domain::scope::WHOLE_CAMPAIGN`), summed over shards.
    #[tracing::instrument(skip_all, fields(units = units.len()))]
    pub async fn unit_totals(
        &self,
        campaign: &str,
        shards: u16,
        units: &[&str],
    ) -> Result<Vec<UnitTotals>, RedisError> {
        let mut totals = vec![UnitTotals::default(); units.len()];
        if units.is_empty() {
            return Ok(totals);
        }
        let mut pipelines = ShardPipelines::new();
        for shard in Shard::all(shards) {
            let mut command = redis::cmd("HMGET");
            command.arg(ShardKeys::new(campaign, shard).totals());
            for unit in units {
                for field in PACKED_FIELDS {
                    command.arg(format!("{unit}:{field}"));
                }
            }
            pipelines.add(shard, command);
        }
        let connection = self.connection().await?;
        let replies: Vec<Vec<Option<u64>>> = pipelines.query(&connection).await?;
        for reply in replies {
            for (unit, figures) in totals.iter_mut().zip(reply.chunks(2)) {
                let [attempts_points, participants_full] = figures else {
                    continue;
                };
                let (attempts, points) = unpack(attempts_points.unwrap_or(0));
                let (participants, full_marks) = unpack(participants_full.unwrap_or(0));
                *unit = unit.merge(UnitTotals {
                    points,
                    attempts,
                    participants,
                    full_marks,
                });
            }
        }
        Ok(totals)
    }

    /// The best `limit` participants of `unit`'s board (the campaign's for `None`), best first.
    #[tracing::instrument(skip_all, fields(limit))]
    pub async fn top_participants(
        &self,
        campaign: &str,
        shards: u16,
        unit: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BoardEntry>, RedisError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipelines = ShardPipelines::new();
        for shard in Shard::all(shards) {
            let mut command = redis::cmd("ZRANGE");
            command
                .arg(ShardKeys::new(campaign, shard).board(unit))
                .arg(0)
                .arg(limit - 1)
                .arg("WITHSCORES");
            pipelines.add(shard, command);
        }
        let connection = self.connection().await?;
        let replies: Vec<Vec<(String, f64)>> = pipelines.query(&connection).await?;
        let mut merged: Vec<(i64, String)> = replies
            .into_iter()
            .flatten()
            // Scores are integers below 2^53, so the f64 Redis sends is exact.
            .map(|(member, score)| (score as i64, member))
            .collect();
        merged.sort_unstable();
        merged.truncate(limit);

        let mut entries: Vec<BoardEntry> = merged
            .iter()
            .filter_map(|(score, member)| {
                let member = BoardMember::parse(member)?;
                let score = BoardScore::from_redis_score(*score);
                Some(BoardEntry {
                    participant: member.participant,
                    points: score.points,
                    time_used_ms: score.time_used_ms,
                    last_finished_ms: member.last_finished_ms,
                    name: String::new(),
                    unit: String::new(),
                })
            })
            .collect();
        if entries.is_empty() {
            return Ok(entries);
        }
        let mut pipelines = ShardPipelines::new();
        for entry in &entries {
            let shard = Shard::of_participant(entry.participant, shards);
            let mut command = redis::cmd("HGET");
            command
                .arg(ShardKeys::new(campaign, shard).people())
                .arg(entry.participant);
            pipelines.add(shard, command);
        }
        let people: Vec<Option<String>> = pipelines.query(&connection).await?;
        for (entry, person) in entries.iter_mut().zip(people) {
            let person = person.unwrap_or_default();
            let mut fields = person.split('\t');
            entry.name = fields.next().unwrap_or_default().to_owned();
            entry.unit = fields.nth(1).unwrap_or_default().to_owned();
        }
        Ok(entries)
    }

    /// A participant's totals and day counter.
    #[tracing::instrument(skip_all, fields(participant))]
    pub async fn standing(
        &self,
        campaign: &str,
        shards: u16,
        participant: u64,
    ) -> Result<Standing, RedisError> {
        let key = ShardKeys::new(campaign, Shard::of_participant(participant, shards))
            .participant(participant);
        let mut connection = self.connection().await?;
        let fields: Vec<Option<i64>> = redis::cmd("HMGET")
            .arg(key)
            .arg(&["pts", "ms", "att", "last", "open", "day", "dn"])
            .query_async(&mut connection)
            .await?;
        let field = |i: usize| fields.get(i).copied().flatten();
        Ok(Standing {
            points: field(0).unwrap_or(0),
            time_used_ms: field(1).unwrap_or(0),
            attempts: field(2).unwrap_or(0) as u32,
            last_finished_ms: field(3).unwrap_or(0),
            // "0" once the open attempt is final.
            open: field(4).filter(|n| *n > 0).map(|n| n as u32),
            last_start_day: field(5).map(|day| day as i32),
            starts_that_day: field(6).unwrap_or(0) as u32,
        })
    }

    /// The participant's rank (1 is best) on each of `boards` (`None`: the campaign's), exact
    /// over all shards. Only meaningful once they have a final attempt.
    #[tracing::instrument(skip_all, fields(participant, boards = boards.len()))]
    pub async fn ranks(
        &self,
        campaign: &str,
        shards: u16,
        participant: u64,
        standing: &Standing,
        boards: &[Option<&str>],
    ) -> Result<Vec<u64>, RedisError> {
        let score = standing.score().to_redis_score();
        let member = BoardMember {
            last_finished_ms: standing.last_finished_ms,
            participant,
        }
        .encode();
        let calls: Vec<_> = boards
            .iter()
            .flat_map(|board| {
                Shard::all(shards).map(|shard| {
                    let mut call = RANK.call();
                    call.key(ShardKeys::new(campaign, shard).board(*board))
                        .arg(score)
                        .arg(&member);
                    (shard, call)
                })
            })
            .collect();
        let pipelines = |by_hash| {
            let mut pipelines = ShardPipelines::new();
            for (shard, call) in &calls {
                pipelines.add(*shard, call.command(by_hash));
            }
            pipelines
        };
        let connection = self.connection().await?;
        // By hash first; a node that does not know the script (see `scripts`) gets its text.
        let before: Vec<u64> = match pipelines(true).query(&connection).await {
            Err(error) if is_no_script(&error) => pipelines(false).query(&connection).await?,
            other => other?,
        };
        let per_board = usize::from(shards.max(1));
        Ok(before
            .chunks(per_board)
            .map(|counts| counts.iter().sum::<u64>() + 1)
            .collect())
    }
}
