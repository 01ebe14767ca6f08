//! Leaderboards: the shards' partial unit roll-ups, merged on read, and the individual boards.
//!
//! Finalize (in `lua/attempt_prelude.lua`) adds each attempt to its shard's totals of every unit
//! on the participant's path; a read asks every shard (one pipeline on a single node; on a
//! cluster one per shard, concurrently) and adds them up (exact). Individual boards are one
//! sorted set per unit in a slot of its own, which the board writer keeps (`board_writer`). The
//! order, and the score and member that spell it in Redis, are `safequiz_domain::board`'s.
//!
//! Each read costs Redis about what it returns (issue 22):
//! - `unit_totals`: one `HMGET` per shard of exactly the fields of the units asked;
//! - `top_participants`: one `ZRANGE` of the board, then the rows' names, one `HMGET` per shard;
//! - `my_standing`: the participant's hash, then one `ZRANK` per board, whatever the shard count.

use redis::Cmd;
pub use safequiz_domain::board::UnitTotals;
use safequiz_domain::board::{BoardMember, BoardScore};

use crate::connection::{Connection, ShardPipelines, Slot};
use crate::keys::{self, Shard, ShardKeys};
use crate::scripts::{Call, RANK, is_no_script};
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
    /// The standing from the participant hash's fields `pts, ms, att, last, open, day, dn`, in
    /// this order (missing ones `None`), as `standing` reads them.
    fn from_fields(fields: &[Option<i64>]) -> Standing {
        let field = |i: usize| fields.get(i).copied().flatten();
        Standing {
            points: field(0).unwrap_or(0),
            time_used_ms: field(1).unwrap_or(0),
            attempts: field(2).unwrap_or(0) as u32,
            last_finished_ms: field(3).unwrap_or(0),
            // "0" once the open attempt is final.
            open: field(4).filter(|n| *n > 0).map(|n| n as u32),
            last_start_day: field(5).map(|day| day as i32),
            starts_that_day: field(6).unwrap_or(0) as u32,
        }
    }

    /// The score these totals have on every board of the participant.
    fn score(&self) -> BoardScore {
        BoardScore {
            points: self.points,
            time_used_ms: self.time_used_ms,
        }
    }

    /// The member these totals make for `participant` on every board, encoded.
    fn member(&self, participant: u64) -> String {
        BoardMember {
            last_finished_ms: self.last_finished_ms,
            participant,
        }
        .encode()
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

    /// The best `limit` participants of `unit`'s board (the campaign's for `None`), best first,
    /// names and units included: one `ZRANGE` of the board, then one `HMGET` of the people
    /// index per shard the rows fall in, in one round trip (one pipeline per shard on a
    /// cluster).
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
        let mut connection = self.connection().await?;
        let rows: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(keys::board(campaign, unit))
            .arg(0)
            .arg(limit - 1)
            .arg("WITHSCORES")
            .query_async(&mut connection)
            .await?;
        let rows: Vec<(BoardMember, BoardScore)> = rows
            .into_iter()
            .filter_map(|(member, score)| {
                // Scores are integers below 2^53, exact in f64.
                Some((
                    BoardMember::parse(&member)?,
                    BoardScore::from_redis_score(score as i64),
                ))
            })
            .collect();
        let mut by_shard: Vec<(Shard, Vec<usize>)> = Vec::new();
        for (at, (member, _)) in rows.iter().enumerate() {
            let shard = Shard::of_participant(member.participant, shards);
            match by_shard.iter_mut().find(|(s, _)| *s == shard) {
                Some((_, positions)) => positions.push(at),
                None => by_shard.push((shard, vec![at])),
            }
        }
        let mut pipelines = ShardPipelines::new();
        for (shard, positions) in &by_shard {
            let mut command = redis::cmd("HMGET");
            command.arg(ShardKeys::new(campaign, *shard).people());
            for at in positions {
                command.arg(rows[*at].0.participant);
            }
            pipelines.add(*shard, command);
        }
        let people: Vec<Vec<Option<String>>> = pipelines.query(&connection).await?;
        let mut persons: Vec<Option<String>> = vec![None; rows.len()];
        for ((_, positions), records) in by_shard.iter().zip(people) {
            for (at, record) in positions.iter().zip(records) {
                persons[*at] = record;
            }
        }
        Ok(rows
            .into_iter()
            .zip(persons)
            .map(|((member, score), person)| {
                let person = person.unwrap_or_default();
                let mut fields = person.split('\t');
                let name = fields.next().unwrap_or_default().to_owned();
                let unit = fields.nth(1).unwrap_or_default().to_owned();
                BoardEntry {
                    participant: member.participant,
                    points: score.points,
                    time_used_ms: score.time_used_ms,
                    last_finished_ms: member.last_finished_ms,
                    name,
                    unit,
                }
            })
            .collect())
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
        Ok(Standing::from_fields(&fields))
    }

    /// The participant's rank (1 is best) on each of `boards` (`None`: the campaign's), counted
    /// against the given totals whether or not the board holds them yet: one `rank.lua` per
    /// board. The reference [`HotState::my_standing`] is held equal to in the tests, and what
    /// an operator's tool may use for one board.
    #[tracing::instrument(skip_all, fields(participant, boards = boards.len()))]
    pub async fn ranks(
        &self,
        campaign: &str,
        participant: u64,
        standing: &Standing,
        boards: &[Option<&str>],
    ) -> Result<Vec<u64>, RedisError> {
        let member = standing.member(participant);
        let calls: Vec<_> = boards
            .iter()
            .map(|board| {
                let key = keys::board(campaign, *board);
                let mut call = RANK.call();
                call.key(&key)
                    .arg(standing.score().to_redis_score())
                    .arg(&member);
                (Slot::Board(key), call)
            })
            .collect();
        let connection = self.connection().await?;
        let before: Vec<u64> = invoke_per_slot(&calls, &connection).await?;
        Ok(before.into_iter().map(|count| count + 1).collect())
    }

    /// The participant's standing and, once they have a final attempt, their rank (1 is best)
    /// on each of `boards` (`None`: the campaign's): their hash read once, then one `ZRANK` per
    /// board in one round trip (one per board slot on a cluster, concurrently), whatever the
    /// shard count. A board the writer has not yet brought up to their latest attempt (a pass,
    /// about 100 ms, see `board_writer`) is counted against their new score, so an attempt
    /// finished a moment ago is counted at once: two `ZCOUNT`s (before the score, and on it),
    /// and `rank.lua` only when others share the score exactly. Ranks are empty before a final
    /// attempt.
    #[tracing::instrument(skip_all, fields(participant, boards = boards.len()))]
    pub async fn my_standing(
        &self,
        campaign: &str,
        shards: u16,
        participant: u64,
        boards: &[Option<&str>],
    ) -> Result<(Standing, Vec<u64>), RedisError> {
        let standing = self.standing(campaign, shards, participant).await?;
        if standing.attempts == 0 {
            return Ok((standing, Vec::new()));
        }
        let member = standing.member(participant);
        let mut pipelines = ShardPipelines::new();
        for board in boards {
            let key = keys::board(campaign, *board);
            pipelines.add(Slot::Board(key.clone()), Cmd::zrank(key, &member));
        }
        let connection = self.connection().await?;
        let held: Vec<Option<u64>> = pipelines.query(&connection).await?;
        // Boards the writer has not brought up to date: members strictly before the score,
        // and how many share it, with two plain counts each.
        let score = standing.score().to_redis_score();
        let behind: Vec<Option<&str>> = boards
            .iter()
            .zip(&held)
            .filter(|(_, rank)| rank.is_none())
            .map(|(board, _)| *board)
            .collect();
        let mut counts = ShardPipelines::new();
        for board in &behind {
            let key = keys::board(campaign, *board);
            let slot = Slot::Board(key.clone());
            counts.add(slot.clone(), Cmd::zcount(&key, "-inf", format!("({score}")));
            counts.add(slot, Cmd::zcount(&key, score, score));
        }
        let counted: Vec<u64> = counts.query(&connection).await?;
        // A tie on the score is ordered by member, which `rank.lua` settles (rare but for
        // attempts that ran out of time with equal points).
        let tied: Vec<Option<&str>> = behind
            .iter()
            .zip(counted.chunks(2))
            .filter(|(_, counts)| counts[1] > 0)
            .map(|(board, _)| *board)
            .collect();
        let mut settled = if tied.is_empty() {
            Vec::new()
        } else {
            self.ranks(campaign, participant, &standing, &tied).await?
        }
        .into_iter();
        let mut counted = counted.chunks(2);
        let ranks = held
            .into_iter()
            .map(|rank| match rank {
                Some(rank) => rank + 1,
                None => match counted.next() {
                    Some([before, 0]) => before + 1,
                    _ => settled.next().unwrap_or(1),
                },
            })
            .collect();
        Ok((standing, ranks))
    }
}

/// Runs script calls, each on the slot whose keys it names, as one pipeline (one per slot on a
/// cluster): by hash first, and with the scripts' text when a node does not know one (see
/// `scripts`). Replies come back in the order of `calls`.
async fn invoke_per_slot<T: redis::FromRedisValue>(
    calls: &[(Slot, Call<'_>)],
    connection: &Connection,
) -> Result<Vec<T>, RedisError> {
    let pipelines = |by_hash| {
        let mut pipelines = ShardPipelines::new();
        for (slot, call) in calls {
            pipelines.add(slot.clone(), call.command(by_hash));
        }
        pipelines
    };
    Ok(match pipelines(true).query(connection).await {
        Err(error) if is_no_script(&error) => pipelines(false).query(connection).await?,
        other => other?,
    })
}
