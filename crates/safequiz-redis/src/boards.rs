//! Leaderboards: the shards' partial roll-ups and individual boards, merged on read.
//!
//! Finalize (in `lua/attempt_prelude.lua`) adds each attempt to its shard's totals of every unit
//! on the participant's path and to its shard's individual boards. A read asks every shard (one
//! pipeline on a single node; on a cluster one per shard, concurrently) and merges: totals by
//! addition (exact), individual boards by merging each shard's best `limit` in the board order
//! (exact, because the order is total). The order, and the score and member that spell it in
//! Redis, are `safequiz_domain::board`'s.
//!
//! Each read costs Redis about what it returns, in one round trip per shard (issue 22):
//! - `unit_totals`: one `HMGET` per shard of exactly the fields of the units asked;
//! - `top_participants`: one `top.lua` per shard, the board's best `limit` with their names;
//! - `my_standing`: one `standing.lua` per shard, every level's count at once (the participant's
//!   own shard first, since its totals make the score the other shards count against).

pub use safequiz_domain::board::UnitTotals;
use safequiz_domain::board::{BoardMember, BoardScore};

use crate::connection::Connection;
use crate::connection::ShardPipelines;
use crate::keys::{Shard, ShardKeys};
use crate::scripts::{Call, RANK, STANDING, TOP, is_no_script};
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
    /// this order (missing ones `None`), as `standing` and `standing.lua` read them.
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
    /// names and units included: one `top.lua` call per shard, all in one round trip (one
    /// pipeline per shard on a cluster), then each shard's best `limit` merged in the board
    /// order (exact, because the order is total).
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
        let calls: Vec<_> = Shard::all(shards)
            .map(|shard| {
                let keys = ShardKeys::new(campaign, shard);
                let mut call = TOP.call();
                call.key(keys.board(unit)).key(keys.people()).arg(limit);
                (shard, call)
            })
            .collect();
        let connection = self.connection().await?;
        let replies: Vec<Vec<Option<String>>> = invoke_per_shard(&calls, &connection).await?;
        let mut merged: Vec<(i64, String, Option<String>)> = Vec::new();
        for reply in replies {
            for row in reply.chunks_exact(3) {
                let [Some(member), Some(score), person] = row else {
                    continue;
                };
                // Scores are integers below 2^53, so the text Redis sends parses exactly.
                let Ok(score) = score.parse::<f64>() else {
                    continue;
                };
                merged.push((score as i64, member.clone(), person.clone()));
            }
        }
        merged.sort_unstable();
        merged.truncate(limit);
        Ok(merged
            .into_iter()
            .filter_map(|(score, member, person)| {
                let member = BoardMember::parse(&member)?;
                let score = BoardScore::from_redis_score(score);
                let person = person.unwrap_or_default();
                let mut fields = person.split('\t');
                let name = fields.next().unwrap_or_default().to_owned();
                let unit = fields.nth(1).unwrap_or_default().to_owned();
                Some(BoardEntry {
                    participant: member.participant,
                    points: score.points,
                    time_used_ms: score.time_used_ms,
                    last_finished_ms: member.last_finished_ms,
                    name,
                    unit,
                })
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

    /// The participant's rank (1 is best) on each of `boards` (`None`: the campaign's), exact
    /// over all shards. Only meaningful once they have a final attempt.
    ///
    /// One `rank.lua` call per board per shard: the reference [`HotState::my_standing`] is held
    /// equal to in the tests, and what an operator's tool may use for one board.
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
        let connection = self.connection().await?;
        let before: Vec<u64> = invoke_per_shard(&calls, &connection).await?;
        let per_board = usize::from(shards.max(1));
        Ok(before
            .chunks(per_board)
            .map(|counts| counts.iter().sum::<u64>() + 1)
            .collect())
    }

    /// The participant's standing and, once they have a final attempt, their rank (1 is best)
    /// on each of `boards` (`None`: the campaign's), exact over all shards: one `standing.lua`
    /// call per shard. Their own shard's call reads their totals and counts there (one round
    /// trip); the other shards' calls, given the score and member those totals make, follow as
    /// one pipeline (one per shard on a cluster). Nothing is cached, so an attempt finished a
    /// moment ago is counted. Ranks are empty before a final attempt.
    #[tracing::instrument(skip_all, fields(participant, boards = boards.len()))]
    pub async fn my_standing(
        &self,
        campaign: &str,
        shards: u16,
        participant: u64,
        boards: &[Option<&str>],
    ) -> Result<(Standing, Vec<u64>), RedisError> {
        let own = Shard::of_participant(participant, shards);
        let keys = ShardKeys::new(campaign, own);
        let mut call = STANDING.call();
        call.key(keys.participant(participant));
        for board in boards {
            call.key(keys.board(*board));
        }
        call.arg("").arg(participant);
        let mut connection = self.connection().await?;
        let reply: Vec<Option<i64>> = call.invoke(&mut connection).await?;
        let (fields, counts) = reply.split_at(reply.len().min(STANDING_FIELDS));
        let standing = Standing::from_fields(fields);
        if standing.attempts == 0 {
            return Ok((standing, Vec::new()));
        }
        let mut ranks: Vec<u64> = counts
            .iter()
            .map(|count| count.unwrap_or(0) as u64 + 1)
            .collect();
        ranks.resize(boards.len(), 1);
        let score = standing.score().to_redis_score();
        let member = BoardMember {
            last_finished_ms: standing.last_finished_ms,
            participant,
        }
        .encode();
        let calls: Vec<_> = Shard::all(shards)
            .filter(|shard| *shard != own)
            .map(|shard| {
                let keys = ShardKeys::new(campaign, shard);
                let mut call = STANDING.call();
                for board in boards {
                    call.key(keys.board(*board));
                }
                call.arg(score).arg(&member);
                (shard, call)
            })
            .collect();
        let others: Vec<Vec<u64>> = invoke_per_shard(&calls, &connection).await?;
        for counts in others {
            for (rank, count) in ranks.iter_mut().zip(counts) {
                *rank += count;
            }
        }
        Ok((standing, ranks))
    }
}

/// The fields of a participant's hash `standing.lua` returns before its counts.
const STANDING_FIELDS: usize = 7;

/// Runs script calls, each on the shard whose keys it names, as one pipeline (one per shard on
/// a cluster): by hash first, and with the scripts' text when a node does not know one (see
/// `scripts`). Replies come back in the order of `calls`.
async fn invoke_per_shard<T: redis::FromRedisValue>(
    calls: &[(Shard, Call<'_>)],
    connection: &Connection,
) -> Result<Vec<T>, RedisError> {
    let pipelines = |by_hash| {
        let mut pipelines = ShardPipelines::new();
        for (shard, call) in calls {
            pipelines.add(*shard, call.command(by_hash));
        }
        pipelines
    };
    Ok(match pipelines(true).query(connection).await {
        Err(error) if is_no_script(&error) => pipelines(false).query(connection).await?,
        other => other?,
    })
}
