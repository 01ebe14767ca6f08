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
//! - `my_standing`: the participant's hash, then one `ZRANK` per board, whatever the shard count;
//!   a board the writer has not yet brought up to date costs one `ZCOUNT` and one short
//!   `ZREVRANGEBYSCORE` of the last ties more, and `rank.lua` only past `TIES_READ` ties; within
//!   `COUNT_WITHIN_MS` of the latest finish, the counts alone, two round trips in all.

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

/// How many of the members sharing a participant's score `my_standing` reads, from the last, to
/// place them among those ties when the board writer has not yet passed (a reply of at most
/// `TIES_READ` members of 25 bytes); past that, `rank.lua` searches. Right after a submit the
/// participant's member is the newest finish, so it sorts after every tie the board holds but
/// those of the few later finishes another shard's writer already applied: 8 covers them, and
/// each member read costs Redis and the service (64 cost a `ZREVRANGEBYSCORE` of 10.8 µs,
/// `20261205-012314-reads-sqlite`).
const TIES_READ: usize = 8;

/// For how long after a participant's latest finish `my_standing` counts every board at once
/// instead of asking `ZRANK` first. A board the writer has not passed answers `ZRANK` with
/// nothing, and costs a second round trip of counts; the writer passes every 100 ms or so, but
/// lags by seconds under a peak, and nearly every view of the result page comes within seconds
/// of its submit. Counting a board the writer has passed is exact too, and costs a few
/// microseconds more than a `ZRANK` (a `ZCOUNT` and a short `ZREVRANGEBYSCORE`), so 10 s
/// trades little for the views after it.
pub const COUNT_WITHIN_MS: i64 = 10_000;

/// How many members sharing the score sort from `member` on, given `last_ties`, the last of
/// them in Redis's order reversed (descending bytes); `None` when all those read do and the
/// board may hold more.
fn ties_from(last_ties: &[String], member: &str) -> Option<u64> {
    let from = last_ties.partition_point(|tied| tied.as_str() >= member);
    (from < last_ties.len() || last_ties.len() < TIES_READ).then_some(from as u64)
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
    /// When the final attempt before the last finished, Unix ms (0 before a second one): the
    /// member the boards hold for the participant until the writer applies the last one.
    pub previous_finished_ms: i64,
    /// When an organizer excluded the participant's results (issue 21, `exclusions`), Unix ms;
    /// `None` when they count.
    pub excluded_ms: Option<i64>,
}

/// The participant hash's fields a standing is read from, in `Standing::from_fields`'s order.
const STANDING_FIELDS: [&str; 9] = ["pts", "ms", "att", "last", "open", "day", "dn", "pl", "x"];

impl Standing {
    /// The standing from the participant hash's [`STANDING_FIELDS`], in this order (missing
    /// ones `None`), as `standing` reads them.
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
            previous_finished_ms: field(7).unwrap_or(0),
            excluded_ms: field(8),
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
            .arg(&STANDING_FIELDS)
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
    /// on each of `boards` (`None`: the campaign's) at `now_ms`: their hash read once, then one
    /// `ZRANK` per board in one round trip (one per board slot on a cluster, concurrently),
    /// whatever the shard count. Ranks are empty while the participant is excluded
    /// (`exclusions`). A board the writer has not yet brought up to their latest attempt (a
    /// pass, about 100 ms, see `board_writer`) is counted against their new score, so an attempt
    /// finished a moment ago is counted at once: a `ZCOUNT` up to the score and the last ties on
    /// it, and `rank.lua` only when more than those share the score exactly. Within
    /// [`COUNT_WITHIN_MS`] of the latest attempt's finish (the result page's view, right after
    /// a submit) every board is counted at once, without asking `ZRANK` first: the count is
    /// exact whether or not the writer has passed, and a round trip less (issue 22). Ranks are
    /// empty before a final attempt.
    #[tracing::instrument(skip_all, fields(participant, boards = boards.len()))]
    pub async fn my_standing(
        &self,
        campaign: &str,
        shards: u16,
        participant: u64,
        boards: &[Option<&str>],
        now_ms: i64,
    ) -> Result<(Standing, Vec<u64>), RedisError> {
        let standing = self.standing(campaign, shards, participant).await?;
        // Excluded results are on no board (`exclusions`): no rank either.
        if standing.attempts == 0 || standing.excluded_ms.is_some() {
            return Ok((standing, Vec::new()));
        }
        let member = standing.member(participant);
        let connection = self.connection().await?;
        // A clock behind the finish (another replica's) reads as recent too: counting is exact.
        let held: Vec<Option<u64>> =
            if now_ms.saturating_sub(standing.last_finished_ms) < COUNT_WITHIN_MS {
                vec![None; boards.len()]
            } else {
                let mut pipelines = ShardPipelines::new();
                for board in boards {
                    let key = keys::board(campaign, *board);
                    pipelines.add(Slot::Board(key.clone()), Cmd::zrank(key, &member));
                }
                pipelines.query(&connection).await?
            };
        // Boards the writer has not brought up to date: the members up to the score
        // inclusive, and the last members sharing it (in Redis's order, the members' bytes),
        // in one pipeline; those of the ties from the member on are counted here and taken
        // off. Right after a submit the member is the newest finish, so it sorts at the end of
        // its ties and the few read settle it however many share the score.
        let score = standing.score().to_redis_score();
        let behind: Vec<Option<&str>> = boards
            .iter()
            .zip(&held)
            .filter(|(_, rank)| rank.is_none())
            .map(|(board, _)| *board)
            .collect();
        // Until the writer applies the last attempt, a board may still hold the participant's
        // member of the attempt before (`pl`): counted among those before the new score
        // when it sorts there (an attempt that added no points, or did not count), it is taken
        // off again.
        let previous = (standing.previous_finished_ms > 0
            && standing.previous_finished_ms != standing.last_finished_ms)
            .then(|| {
                BoardMember {
                    last_finished_ms: standing.previous_finished_ms,
                    participant,
                }
                .encode()
            });
        let mut counts = ShardPipelines::new();
        for board in &behind {
            let key = keys::board(campaign, *board);
            let slot = Slot::Board(key.clone());
            counts.add(slot.clone(), Cmd::zcount(&key, "-inf", score));
            counts.add(
                slot.clone(),
                Cmd::zrevrangebyscore_limit(&key, score, score, 0, TIES_READ as isize),
            );
            // Before a second attempt no member of the participant's may be stale: no `ZSCORE`.
            if let Some(previous) = &previous {
                counts.add(slot, Cmd::zscore(&key, previous));
            }
        }
        let replies: Vec<redis::Value> = counts.query(&connection).await?;
        let counted = replies
            .chunks(if previous.is_some() { 3 } else { 2 })
            .map(|replies| {
                let up_to: u64 = redis::from_redis_value_ref(&replies[0])?;
                let last_ties: Vec<String> = redis::from_redis_value_ref(&replies[1])?;
                let stale: Option<f64> = match replies.get(2) {
                    Some(reply) => redis::from_redis_value_ref(reply)?,
                    None => None,
                };
                let stale_before = match (stale, previous.as_deref()) {
                    (Some(old), Some(old_member)) => {
                        let new = score as f64;
                        u64::from(old < new || (old == new && old_member < member.as_str()))
                    }
                    _ => 0,
                };
                Ok(ties_from(&last_ties, &member)
                    .map(|from| up_to.saturating_sub(from).saturating_sub(stale_before)))
            })
            .collect::<Result<Vec<Option<u64>>, redis::RedisError>>()?;
        // More than `TIES_READ` members share the score and all of those read sort from the
        // member on (rare: it needs that many later finishes with the same score before the
        // writer's pass): `rank.lua` settles those boards.
        let crowded: Vec<Option<&str>> = behind
            .iter()
            .zip(&counted)
            .filter(|(_, before)| before.is_none())
            .map(|(board, _)| *board)
            .collect();
        let mut settled = if crowded.is_empty() {
            Vec::new()
        } else {
            self.ranks(campaign, participant, &standing, &crowded)
                .await?
        }
        .into_iter();
        let mut counted = counted.into_iter();
        let ranks = held
            .into_iter()
            .map(|rank| match rank {
                Some(rank) => rank + 1,
                None => match counted.next().flatten() {
                    Some(before) => before + 1,
                    None => settled.next().unwrap_or(1),
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
