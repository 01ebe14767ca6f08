//! The board writer: applies each shard's stream of finalized attempts to the unit totals and
//! the individual boards.
//!
//! Individual boards are one sorted set per unit (and one for the whole campaign), each in a
//! hash slot of its own (`keys::board`), so that a participant's rank on a board is one `ZRANK`
//! however many shards the campaign has (issue 22: `GET .../me` used to count on every board of
//! every shard). Finalize runs in the participant's shard and cannot write keys of other slots on
//! a cluster, so it appends the participant's new totals and unit path to the attempt entry
//! (`streams`), and this writer moves their board entries: for each attempt, on the campaign's
//! board and every board of the path the campaign keeps (`IndividualBoards`), `ZREM` of the
//! member their previous totals made and `ZADD` of the new one (the order and its spelling are
//! `safequiz_domain::board`'s).
//!
//! The unit totals (the shard's part of every unit's attempts, points, participants and
//! full-mark attempts) are applied by the same pass, inside `board_feed.lua`: they are in the
//! shard's slot, so the script adds the increments of the entries it reads and moves the
//! shard's `totals:applied` marker in one atomic step, exactly once whatever happens to the
//! board writes after it. Finalize used to do both itself, one `HINCRBY` per unit level and
//! field and one `ZREM` and `ZADD` per board for every attempt; a pass pays them once per
//! distinct field and board for hundreds of attempts (issue 16).
//!
//! # Order, and why replays are harmless
//!
//! The two writes of an attempt are only right after those of the participant's previous
//! attempt, so a shard's entries are applied in stream order by one writer at a time: the
//! writer holding the shard's lease (`{c:s}:boards:lease`, a few seconds, extended on every
//! pass) reads from just after the shard's cursor (`{c:s}:boards:cursor`), writes, then moves
//! the cursor (`board_feed.lua`, `board_commit.lua`). A writer that dies between writing and
//! moving the cursor leaves entries that the next holder applies again, in the same order, from
//! the same starting state or a later one: each attempt's writes take a participant from their
//! previous member to their new one, so replaying a run of them in order ends in the same state.
//! Every replica runs a writer for every shard; the lease makes one of them do the work and
//! another take over within the lease when it stops.
//!
//! The stream is trimmed only below the cursor as well as below the flusher's position
//! (`streams::trim_flushed`), so no entry leaves Redis before its board writes are done.
//!
//! # Freshness
//!
//! Totals and boards follow finalize by one pass: the service's writer runs every 100 ms
//! (`workers::boards`) and goes again at once while a pass is full. Until then `my_standing`
//! counts the participant against the board with their new score (`boards`), so the result page
//! shows a rank at once; it may count their own previous entry for that moment, one place at
//! most per board.
//!
//! # Cost
//!
//! Per pass and shard: one `board_feed.lua` (one `XRANGE`, one `HINCRBY` per totals field
//! touched; six short fields per attempt cross the network, not its questions and answers),
//! one `ZREM` and one `ZADD` per board touched
//! (members of many attempts together), one `board_commit.lua`. On one Redis the board writes
//! are one pipeline; on a cluster one pipeline per board slot, concurrently.

use std::collections::HashMap;

use redis::Cmd;
use safequiz_domain::board::{BoardMember, BoardScore, IndividualBoards};

use crate::connection::{Connection, ShardPipelines, Slot};
use crate::keys::{self, Shard, ShardKeys};
use crate::scripts::{BOARD_COMMIT, BOARD_FEED};
use crate::{HotState, RedisError};

/// What one pass of the writer over one shard did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BoardPass {
    /// Whether this writer holds the shard; when not, it did nothing.
    pub holder: bool,
    /// Stream entries read past (registrations included).
    pub entries: usize,
    /// Attempt entries applied to the boards.
    pub applied: usize,
    /// Attempt entries without the fields the boards need (written by an older version), left
    /// to `leaderboards rebuild`.
    pub skipped: usize,
}

/// The final state of the members a pass touched on one board, in first-use order: the new
/// score, or `None` for a member removed. A member's last state is what the pass's sequence of
/// removals and additions leaves, so writing all removals, then all additions, gives exactly the
/// sequential result: a member added then removed is gone; one removed then added (the same last
/// finish twice) has its new score.
#[derive(Default)]
struct BoardWrites {
    order: Vec<String>,
    state: HashMap<String, Option<i64>>,
}

impl BoardWrites {
    fn set(&mut self, member: &str, score: Option<i64>) {
        match self.state.get_mut(member) {
            Some(state) => *state = score,
            None => {
                self.order.push(member.to_owned());
                self.state.insert(member.to_owned(), score);
            }
        }
    }

    /// The `ZREM` and `ZADD` that leave the board in this state (none for an empty side).
    fn commands(&self, key: &str) -> impl Iterator<Item = Cmd> + use<> {
        let mut removed = Vec::new();
        let mut added = Vec::new();
        for member in &self.order {
            match self.state[member] {
                Some(score) => added.push((score, member.as_str())),
                None => removed.push(member.as_str()),
            }
        }
        let remove = (!removed.is_empty()).then(|| Cmd::zrem(key, &removed));
        let add = (!added.is_empty()).then(|| Cmd::zadd_multiple(key, &added));
        remove.into_iter().chain(add)
    }
}

/// One entry's board fields, as `board_feed.lua` returns them: an attempt's (or an undone
/// exclusion's) new member and the one it replaces, or an exclusion's member to remove.
struct BoardUpdate<'a> {
    path: &'a str,
    /// The new member and its score; `None` for an exclusion (`exclusions`).
    added: Option<(BoardScore, BoardMember)>,
    previous: Option<BoardMember>,
}

impl<'a> BoardUpdate<'a> {
    fn parse(row: &'a [String]) -> Option<BoardUpdate<'a>> {
        let [participant, path, points, time, last, previous] = row else {
            return None;
        };
        let participant: u64 = participant.parse().ok()?;
        let previous_last: i64 = previous.parse().ok()?;
        // "x": an exclusion, whose row names the member to take off in `previous`.
        let added = match points.as_str() {
            "x" => None,
            points => Some((
                BoardScore {
                    points: points.parse().ok()?,
                    time_used_ms: time.parse().ok()?,
                },
                BoardMember {
                    last_finished_ms: last.parse().ok()?,
                    participant,
                },
            )),
        };
        Some(BoardUpdate {
            path,
            added,
            // 0 before the participant's first final attempt: no entry to move.
            previous: (previous_last > 0).then_some(BoardMember {
                last_finished_ms: previous_last,
                participant,
            }),
        })
    }
}

impl HotState {
    /// One pass of the board writer named `writer` over `shard`: if it holds the shard's lease
    /// (taking it when free, for `lease_ms`), applies up to `count` stream entries after the
    /// shard's cursor to the `kept` boards and moves the cursor past them.
    #[tracing::instrument(skip_all, fields(%shard))]
    pub async fn write_boards(
        &self,
        campaign: &str,
        kept: IndividualBoards,
        shard: Shard,
        writer: &str,
        count: usize,
        lease_ms: u64,
    ) -> Result<BoardPass, RedisError> {
        let keys = ShardKeys::new(campaign, shard);
        let mut feed = BOARD_FEED.call();
        feed.key(keys.board_lease())
            .key(keys.board_cursor())
            .key(keys.stream())
            .key(keys.totals())
            .key(keys.totals_applied())
            .arg(writer)
            .arg(lease_ms)
            .arg(count);
        let mut connection = self.connection().await?;
        let reply: Option<Vec<String>> = feed.invoke(&mut connection).await?;
        let Some(reply) = reply else {
            return Ok(BoardPass::default());
        };
        let mut pass = BoardPass {
            holder: true,
            ..BoardPass::default()
        };
        let [_cursor, last, read, rows @ ..] = reply.as_slice() else {
            return Ok(pass);
        };
        pass.entries = read.parse().unwrap_or(0);
        if last.is_empty() {
            return Ok(pass);
        }
        let mut boards: HashMap<String, BoardWrites> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        for row in rows.chunks_exact(6) {
            let Some(update) = BoardUpdate::parse(row) else {
                pass.skipped += 1;
                continue;
            };
            let added = update
                .added
                .map(|(score, member)| (score.to_redis_score(), member.encode()));
            let previous = update.previous.map(|previous| previous.encode());
            let path = update.path.split(',').filter(|u| !u.is_empty());
            let units = std::iter::once(None).chain(kept.kept_units(path).map(Some));
            for unit in units {
                let key = keys::board(campaign, unit);
                let writes = match boards.get_mut(&key) {
                    Some(writes) => writes,
                    None => {
                        order.push(key.clone());
                        boards.entry(key).or_default()
                    }
                };
                if let Some(previous) = &previous {
                    writes.set(previous, None);
                }
                if let Some((score, member)) = &added {
                    writes.set(member, Some(*score));
                }
            }
            pass.applied += 1;
        }
        let mut pipelines = ShardPipelines::new();
        for key in &order {
            for command in boards[key].commands(key) {
                pipelines.add(Slot::Board(key.clone()), command);
            }
        }
        let _: Vec<redis::Value> = pipelines.query(&connection).await?;
        let mut commit = BOARD_COMMIT.call();
        commit
            .key(keys.board_lease())
            .key(keys.board_cursor())
            .arg(writer)
            .arg(last);
        let moved: i64 = commit.invoke(&mut connection).await?;
        pass.holder = moved == 1;
        Ok(pass)
    }
}

/// The ids of up to `cap` entries of one shard's stream after its board cursor, oldest first:
/// what the board writer has yet to apply. Two commands (the cursor, then `XRANGE` past it); a
/// stream id starts with the instant it was written, in ms.
pub async fn unapplied_ids(
    connection: &mut Connection,
    campaign: &str,
    shard: Shard,
    cap: usize,
) -> Result<Vec<String>, RedisError> {
    let keys = ShardKeys::new(campaign, shard);
    let cursor: Option<String> = redis::cmd("GET")
        .arg(keys.board_cursor())
        .query_async(connection)
        .await?;
    let after: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(keys.stream())
        .arg(format!("({}", cursor.as_deref().unwrap_or("0-0")))
        .arg("+")
        .arg("COUNT")
        .arg(cap)
        .query_async(connection)
        .await?;
    Ok(after.into_iter().map(|(id, _)| id).collect())
}

impl HotState {
    /// How many entries of the campaign's streams the board writer has yet to apply, summed
    /// over its `shards`, each counted up to `cap_per_shard` (reconcile, `/readyz` and tests
    /// wait on it).
    pub async fn board_backlog(
        &self,
        campaign: &str,
        shards: u16,
        cap_per_shard: usize,
    ) -> Result<usize, RedisError> {
        let mut connection = self.connection().await?;
        let mut backlog = 0;
        for shard in Shard::all(shards) {
            backlog += unapplied_ids(&mut connection, campaign, shard, cap_per_shard)
                .await?
                .len();
        }
        Ok(backlog)
    }
}
