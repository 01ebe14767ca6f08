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
//! full-mark attempts) are applied by the same pass, before its board writes: they are in the
//! shard's slot, so `board_apply.lua` adds the increments of the entries the pass read after the
//! shard's `totals:applied` marker and moves the marker past them in one atomic step, exactly
//! once whatever happens to the board writes after it. It applies them only for the lease's
//! holder and only from the marker the pass read when it took the lease, so a writer that
//! stalled past its lease adds nothing another writer has added meanwhile. What an entry adds
//! is decided here (`TotalsIncrements`) from the fields `streams::board_record` reads. Finalize
//! used to do both itself, one `HINCRBY` per unit level and field and one `ZREM` and `ZADD` per
//! board for every attempt; a pass pays them once per distinct field and board for hundreds of
//! attempts (issue 16).
//!
//! Writers of the version before (`board_feed.lua`, which read the entries inside the script)
//! keep the same lease, cursor and marker with the same meaning, so a rolling upgrade mixes the
//! two safely: whichever holds a shard applies its entries, and the marker counts them once.
//!
//! # Order, and why replays are harmless
//!
//! The two writes of an attempt are only right after those of the participant's previous
//! attempt, so a shard's entries are applied in stream order by one writer at a time: the
//! writer holding the shard's lease (`{c:s}:boards:lease`, a few seconds, extended on every
//! pass, `lease.lua`) reads from just after the shard's cursor (`{c:s}:boards:cursor`),
//! writes, then moves the cursor (`lease_move.lua`). A writer that dies between writing and
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
//! Per pass and shard: `lease.lua`, one plain `XRANGE` of up to `count` entries read
//! here, `board_apply.lua` (one `HINCRBY` per totals field touched), one `ZREM` and one `ZADD`
//! per board touched (members of many attempts together), `lease_move.lua`. On one Redis the
//! board writes are one pipeline; on a cluster one pipeline per board slot, concurrently.
//!
//! The entries are read by the writer, not by a script: inside Lua every field of every entry
//! became a Lua string and the entry a table, which cost Redis 10-11 µs of CPU per attempt
//! entry, against 1.7 µs for the plain `XRANGE` and the apply together (docs/performance.md,
//! "The board feed read by the writer"). The writer pays for it instead, in a process that
//! scales out: its entries' whole fields cross the network, questions and answers included.

use std::collections::HashMap;

use redis::Cmd;
use safequiz_domain::board::{BoardMember, BoardScore, IndividualBoards};
use safequiz_domain::scope::WHOLE_CAMPAIGN;

use crate::boards::PACKED_FIELDS;
use crate::connection::{Connection, ShardPipelines, Slot};
use crate::keys::{self, Shard, ShardKeys};
use crate::scripts::{BOARD_APPLY, Call, LEASE, LEASE_MOVE};
use crate::streams::{self, BoardRecord};
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

/// One entry's change to the boards: an attempt's (or an undone exclusion's) new member and
/// the one it replaces, or an exclusion's member to remove.
struct BoardUpdate<'a> {
    path: &'a str,
    /// The new member and its score; `None` for an exclusion (`exclusions`).
    added: Option<(BoardScore, BoardMember)>,
    previous: Option<BoardMember>,
}

impl<'a> BoardUpdate<'a> {
    fn of(record: &BoardRecord<'a>) -> Option<BoardUpdate<'a>> {
        match record {
            BoardRecord::Attempt(attempt) => Some(BoardUpdate {
                path: attempt.path,
                added: Some((
                    attempt.totals,
                    BoardMember {
                        last_finished_ms: attempt.last_ms,
                        participant: attempt.participant,
                    },
                )),
                // 0 before the participant's first final attempt: no entry to move.
                previous: (attempt.previous_last_ms > 0).then_some(BoardMember {
                    last_finished_ms: attempt.previous_last_ms,
                    participant: attempt.participant,
                }),
            }),
            // An exclusion takes the participant's member off every board of their path; an
            // inclusion adds it back, as a first attempt's would.
            BoardRecord::Exclusion(exclusion) => {
                let member = BoardMember {
                    last_finished_ms: exclusion.last_ms,
                    participant: exclusion.participant,
                };
                Some(if exclusion.excluded {
                    BoardUpdate {
                        path: exclusion.path,
                        added: None,
                        previous: (exclusion.last_ms > 0).then_some(member),
                    }
                } else {
                    BoardUpdate {
                        path: exclusion.path,
                        added: Some((exclusion.totals, member)),
                        previous: None,
                    }
                })
            }
            BoardRecord::Nothing | BoardRecord::Incomplete => None,
        }
    }
}

/// One packed counter's high part (`boards::pack`), as an increment.
const HIGH: i64 = 1 << 32;

/// The unit totals' increments of a pass, per field in first-use order (so that the same
/// entries always make the same `board_apply.lua` call). A field is a unit (`*` for the whole
/// campaign) and one of `boards::PACKED_FIELDS`, borrowed from the entries read until the call
/// is made.
#[derive(Default)]
struct TotalsIncrements<'a> {
    order: Vec<(&'a str, usize)>,
    sums: HashMap<(&'a str, usize), i64>,
}

impl<'a> TotalsIncrements<'a> {
    fn add(&mut self, field: (&'a str, usize), delta: i64) {
        match self.sums.get_mut(&field) {
            Some(sum) => *sum += delta,
            None => {
                self.order.push(field);
                self.sums.insert(field, delta);
            }
        }
    }

    /// Adds the packed increments `pa` and `nf` (`boards::PACKED_FIELDS`) to the whole
    /// campaign (`*`) and to every unit of `path`; an `nf` of 0 touches no field.
    fn add_path(&mut self, path: &'a str, pa: i64, nf: i64) {
        let units = path.split(',').filter(|unit| !unit.is_empty());
        for unit in std::iter::once(WHOLE_CAMPAIGN).chain(units) {
            self.add((unit, 0), pa);
            if nf != 0 {
                self.add((unit, 1), nf);
            }
        }
    }

    /// The field-increment pairs, in first-use order, as `board_apply.lua` takes them.
    fn args(&self, call: &mut Call<'_>) {
        for field @ (unit, packed) in &self.order {
            call.arg(format!("{unit}:{}", PACKED_FIELDS[*packed]))
                .arg(self.sums[field]);
        }
    }

    /// What `record` adds to the unit totals: an attempt adds one attempt and its unit points
    /// to every unit of its path and the campaign, a participant when it is their first final
    /// attempt, and a full-mark attempt (`safequiz_domain::score::is_full_marks`, read from the
    /// entry); an exclusion takes off the participant's attempts, counted points, the
    /// participant and their full-mark attempts, and an inclusion adds them back.
    fn add_record(&mut self, record: &BoardRecord<'a>) {
        match record {
            BoardRecord::Attempt(attempt) => {
                let mut nf = 0;
                if attempt.first {
                    nf += HIGH;
                }
                if attempt.full_marks {
                    nf += 1;
                }
                self.add_path(attempt.path, HIGH + attempt.unit_points, nf);
            }
            BoardRecord::Exclusion(exclusion) => {
                let sign = if exclusion.excluded { -1 } else { 1 };
                self.add_path(
                    exclusion.path,
                    sign * (exclusion.attempts * HIGH + exclusion.totals.points),
                    sign * (HIGH + exclusion.full_marks),
                );
            }
            BoardRecord::Nothing | BoardRecord::Incomplete => {}
        }
    }
}

impl HotState {
    /// One pass of the board writer named `writer` over `shard`: if it holds the shard's lease
    /// (taking it when free, for `lease_ms`), applies up to `count` stream entries after the
    /// shard's cursor to the unit totals (once) and to the `kept` boards, and moves the cursor
    /// past them.
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
        let mut lease = LEASE.call();
        lease
            .key(keys.board_lease())
            .key(keys.board_cursor())
            .key(keys.totals_applied())
            .arg(writer)
            .arg(lease_ms);
        let mut connection = self.connection().await?;
        let held: Option<(String, String)> = lease.invoke(&mut connection).await?;
        let Some((cursor, applied)) = held else {
            return Ok(BoardPass::default());
        };
        let entries =
            streams::entries_after(&mut connection, &keys.stream(), &cursor, count).await?;
        let mut pass = BoardPass {
            holder: true,
            entries: entries.len(),
            ..BoardPass::default()
        };
        let Some(last) = entries.last().map(|entry| entry.id.as_str()) else {
            return Ok(pass);
        };
        // Per board (`None`: the campaign's), borrowed from the entries: its key is made once.
        let mut boards: HashMap<Option<&str>, BoardWrites> = HashMap::new();
        let mut order: Vec<Option<&str>> = Vec::new();
        let mut totals = TotalsIncrements::default();
        for entry in &entries {
            let record = streams::board_record(entry);
            if record == BoardRecord::Incomplete {
                pass.skipped += 1;
                continue;
            }
            // Entries up to `applied` had their totals applied by an earlier pass whose board
            // writes or cursor move failed: their board writes are replayed, not their totals.
            if streams::stream_id_less(&applied, &entry.id) {
                totals.add_record(&record);
            }
            let Some(update) = BoardUpdate::of(&record) else {
                continue;
            };
            let added = update
                .added
                .map(|(score, member)| (score.to_redis_score(), member.encode()));
            let previous = update.previous.map(|previous| previous.encode());
            let path = update.path.split(',').filter(|u| !u.is_empty());
            let units = std::iter::once(None).chain(kept.kept_units(path).map(Some));
            for unit in units {
                let writes = match boards.get_mut(&unit) {
                    Some(writes) => writes,
                    None => {
                        order.push(unit);
                        boards.entry(unit).or_default()
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
        if streams::stream_id_less(&applied, last) {
            let mut apply = BOARD_APPLY.call();
            apply
                .key(keys.board_lease())
                .key(keys.totals())
                .key(keys.totals_applied())
                .arg(writer)
                .arg(&applied)
                .arg(last);
            totals.args(&mut apply);
            let done: i64 = apply.invoke(&mut connection).await?;
            if done != 1 {
                // The lease passed to another writer (this one stalled past it): it applies
                // these entries itself.
                return Ok(BoardPass::default());
            }
        }
        let mut pipelines = ShardPipelines::new();
        for unit in &order {
            let key = keys::board(campaign, *unit);
            for command in boards[unit].commands(&key) {
                pipelines.add(Slot::Board(key.clone()), command);
            }
        }
        let _: Vec<redis::Value> = pipelines.query(&connection).await?;
        let mut commit = LEASE_MOVE.call();
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
