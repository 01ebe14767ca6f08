//! Recovery: rebuilding hot state from the SQL record, and proving Redis and SQL agree.
//!
//! `safequiz leaderboards rebuild` and `safequiz reconcile` call these. Both walk the record in
//! batches of participants in id order ([`RecoveryOptions::participants_per_batch`], 5,000 by
//! default): a batch's registrations, then its participants' attempts streamed and folded into
//! one sum per participant (`safequiz_redis::restore::RestoredParticipant`) as they are read,
//! then written to (or compared with) Redis in pipelines per shard, then dropped. What outlives
//! a batch is bounded by the campaign's configuration, not its size: unit totals per unit and
//! shard, board sizes per board and shard, the participant counters per shard. So memory does
//! not grow with the number of attempts or participants (measured in docs/operations.md).
//!
//! No rule is spelled here: full marks are the record's `full_marks` column (the flusher's
//! `safequiz_domain::score::is_full_marks`), totals and the board order
//! `safequiz_domain::board`'s, and the hot state's encodings `safequiz_redis::restore`'s.

use std::collections::{BTreeMap, HashMap};

use futures_util::TryStreamExt;
use safequiz_domain::board::{BoardMember, Finish, ParticipantTotals, UnitTotals};
use safequiz_domain::campaign::Campaign;
use safequiz_domain::scope::WHOLE_CAMPAIGN;
use safequiz_redis::attempts::AttemptId;
use safequiz_redis::exclusions::Exclusion;
use safequiz_redis::restore::{
    BoardEntry, Restored, RestoredAttempt, RestoredParticipant, RestoredPerson,
};
use safequiz_sql::recovery::{AttemptSummary, IdRange};

use crate::http::AppState;
use crate::http::health::flush_lag;

/// Why a recovery command stopped.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] safequiz_redis::RedisError),
    /// SQL failed.
    #[error(transparent)]
    Store(#[from] safequiz_sql::StoreError),
    /// The streams still hold results SQL does not have; rebuilding now would lose them.
    #[error(
        "{0} stream entries are not yet in SQL; run `safequiz flush` (or let the service's flusher catch up) first"
    )]
    Unflushed(u64),
    /// A row of the record cannot be turned back into hot state.
    #[error("the record cannot be rebuilt: {0}")]
    Record(String),
}

/// How recovery walks the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// Participants read, folded and written (or compared) at once. Memory grows with it (a
    /// few hundred bytes a participant, plus their attempt rows as they stream past); the
    /// number of round trips falls with it.
    pub participants_per_batch: i64,
}

impl Default for RecoveryOptions {
    fn default() -> RecoveryOptions {
        RecoveryOptions {
            participants_per_batch: 5_000,
        }
    }
}

/// [`rebuild_with`] with the default options.
pub async fn rebuild(state: &AppState, campaign: &Campaign) -> Result<Restored, RecoveryError> {
    rebuild_with(state, campaign, RecoveryOptions::default()).await
}

/// Rewrites the campaign's hot state from SQL: registrations, every participant's totals and
/// counters, unit roll-ups and individual boards, batch by batch. Refuses while results wait
/// in the streams. A final attempt's own fields are not written back: reviews read SQL.
pub async fn rebuild_with(
    state: &AppState,
    campaign: &Campaign,
    options: RecoveryOptions,
) -> Result<Restored, RecoveryError> {
    let lag = flush_lag(state).await?;
    if lag.pending + lag.undelivered > 0 {
        return Err(RecoveryError::Unflushed(lag.pending + lag.undelivered));
    }
    let units: Vec<&str> = campaign
        .units
        .units()
        .iter()
        .map(|u| u.id.as_str())
        .collect();
    state
        .hot
        .clear_derived(&campaign.id, state.shards, &units)
        .await?;
    let mut restorer = state
        .hot
        .restorer(&campaign.id, state.shards, campaign.individual_boards)
        .await?;
    let exclusions = state.store.excluded_participants(&campaign.id).await?;
    let limit = options.participants_per_batch.max(1);
    let mut paths = Paths::new(campaign);
    let mut after = i64::MIN;
    loop {
        let people = state
            .store
            .participant_batch(&campaign.id, after, limit)
            .await?;
        let ids: Vec<i64> = people.iter().map(|row| row.participant_id).collect();
        let range = IdRange::of_batch(after, &ids, limit);
        let people: Vec<RestoredPerson> = people
            .into_iter()
            .map(|row| RestoredPerson {
                participant: row.participant_id as u64,
                phone_hash: row.phone_hash,
                name: row.name,
                phone_masked: row.phone_masked,
                unit: row.unit_id,
                registered_ms: row.registered_at_ms,
            })
            .collect();
        restorer.add_people(&people).await?;
        let mut problems = Vec::new();
        let mut folded = fold(state, campaign, &mut paths, range, &mut problems).await?;
        if let Some(problem) = problems.into_iter().next() {
            return Err(RecoveryError::Record(problem));
        }
        // Excluded participants keep their marked hash, attempts or not.
        for person in &people {
            let Some(exclusion) = exclusions.get(&(person.participant as i64)) else {
                continue;
            };
            let sums = match folded.remove(&person.participant) {
                Some(sums) => sums,
                None => match paths.of(&person.unit) {
                    Some(path) => RestoredParticipant::new(person.participant, path.clone()),
                    None => continue,
                },
            };
            let mark = Exclusion {
                at_ms: exclusion.at_ms,
                reason: exclusion.reason.clone(),
            };
            folded.insert(person.participant, sums.excluded(Some(mark)));
        }
        drop(people);
        let participants: Vec<RestoredParticipant> = folded.into_values().collect();
        restorer.add_participants(&participants).await?;
        match range.upto {
            Some(upto) => after = upto,
            None => break,
        }
    }
    Ok(restorer.finish().await?)
}

/// Each unit's path from the root as ids, computed once per unit.
struct Paths<'c> {
    campaign: &'c Campaign,
    known: HashMap<String, Vec<String>>,
}

impl<'c> Paths<'c> {
    fn new(campaign: &'c Campaign) -> Paths<'c> {
        Paths {
            campaign,
            known: HashMap::new(),
        }
    }

    /// The path of unit `id`, `None` when the campaign has no such unit; organizations and
    /// 五进 groups carry their region in their id (`safequiz_domain::organization`).
    fn of(&mut self, id: &str) -> Option<&Vec<String>> {
        let units = &self.campaign.units;
        if !self.known.contains_key(id) {
            let path = safequiz_domain::organization::unit_path(units, id)?;
            let path = path.into_iter().map(str::to_owned).collect();
            self.known.insert(id.to_owned(), path);
        }
        self.known.get(id)
    }
}

/// Streams the attempts of the participants in `range` and sums them per participant; a row
/// that cannot count (its unit is not configured, its id is malformed) is skipped and
/// described in `problems`.
async fn fold(
    state: &AppState,
    campaign: &Campaign,
    paths: &mut Paths<'_>,
    range: IdRange,
    problems: &mut Vec<String>,
) -> Result<BTreeMap<u64, RestoredParticipant>, RecoveryError> {
    let mut folded: BTreeMap<u64, RestoredParticipant> = BTreeMap::new();
    let mut rows = state.store.attempt_summaries(&campaign.id, range);
    while let Some(row) = rows.try_next().await? {
        let AttemptSummary {
            attempt_id,
            participant_id,
            unit_id,
            day,
            finished_at_ms,
            time_used_ms,
            points,
            full_marks,
        } = row;
        let participant = participant_id as u64;
        let Some(id) = AttemptId::parse(&attempt_id).filter(|id| id.participant == participant)
        else {
            problems.push(format!(
                "attempt {attempt_id}: the id is not <participant {participant_id}>-<number>"
            ));
            continue;
        };
        let sums = match folded.get_mut(&participant) {
            Some(sums) => sums,
            None => {
                let Some(path) = paths.of(&unit_id) else {
                    problems.push(format!(
                        "attempt {attempt_id}: unit {unit_id} is not configured"
                    ));
                    continue;
                };
                folded.entry(participant).or_insert_with(|| {
                    RestoredParticipant::new(participant, path.clone())
                        .counting(campaign.scoring.counted)
                })
            }
        };
        sums.add(RestoredAttempt {
            number: id.number,
            day,
            points: u32::try_from(points).unwrap_or(0),
            full_marks,
            finish: Finish {
                finished_ms: finished_at_ms,
                time_used_ms,
            },
        });
    }
    Ok(folded)
}

/// [`reconcile_with`] with the default options, the differences collected.
pub async fn reconcile(
    state: &AppState,
    campaign: &Campaign,
) -> Result<Vec<String>, RecoveryError> {
    let mut differences = Vec::new();
    reconcile_with(state, campaign, RecoveryOptions::default(), &mut |d| {
        differences.push(d)
    })
    .await?;
    Ok(differences)
}

/// Stream entries counted per shard when reconcile reports what the board writer has yet to
/// apply.
const BOARD_BACKLOG_CAP: usize = 10_000;

/// Hands `difference` every difference between the campaign's hot state and its SQL record,
/// one line each, as it finds them (so that millions of them need no memory); returns how many.
///
/// Batch by batch: every participant's totals in their hash, and their member and score on the
/// campaign's board and on the board of every unit of their path the campaign keeps
/// (`IndividualBoards`). At the end: the number of registrations, every unit's totals, and every
/// board's size. Equal sizes with every expected member present at its score means no board
/// holds anything else, so the boards are compared exactly without reading them whole.
pub async fn reconcile_with(
    state: &AppState,
    campaign: &Campaign,
    options: RecoveryOptions,
    difference: &mut dyn FnMut(String),
) -> Result<u64, RecoveryError> {
    let mut found = 0;
    let mut report = |line: String| {
        found += 1;
        difference(line);
    };
    let lag = flush_lag(state).await?;
    if lag.pending + lag.undelivered > 0 {
        report(format!(
            "streams: {} entries not yet flushed to SQL ({} pending, {} unread)",
            lag.pending + lag.undelivered,
            lag.pending,
            lag.undelivered
        ));
    }
    let unapplied = state
        .hot
        .board_backlog(&campaign.id, state.shards, BOARD_BACKLOG_CAP)
        .await?;
    if unapplied > 0 {
        report(format!(
            "boards: {unapplied} stream entries not yet applied by the board writer \
             (counted up to {BOARD_BACKLOG_CAP} a shard)"
        ));
    }
    let limit = options.participants_per_batch.max(1);
    let exclusions = state.store.excluded_participants(&campaign.id).await?;
    let mut paths = Paths::new(campaign);
    let mut people: u64 = 0;
    let mut units: HashMap<String, UnitTotals> = HashMap::new();
    let mut board_sizes: HashMap<Option<String>, u64> = HashMap::new();
    let mut after = i64::MIN;
    loop {
        let ids = state
            .store
            .participant_ids(&campaign.id, after, limit)
            .await?;
        people += ids.len() as u64;
        let range = IdRange::of_batch(after, &ids, limit);
        drop(ids);
        let mut problems = Vec::new();
        let mut folded = fold(state, campaign, &mut paths, range, &mut problems).await?;
        problems.into_iter().for_each(&mut report);
        // An excluded participant counts on no board and in no unit; their hash keeps its
        // totals and carries the mark, which is compared apart (`exclusion_differences`).
        let excluded: BTreeMap<u64, RestoredParticipant> = folded
            .extract_if(.., |id, _| exclusions.contains_key(&(*id as i64)))
            .collect();
        for sums in folded.values() {
            for unit in std::iter::once(WHOLE_CAMPAIGN).chain(sums.path.iter().map(String::as_str))
            {
                let figures = units.entry(unit.to_owned()).or_default();
                *figures = figures.merge(sums.units);
            }
            let kept = campaign.individual_boards.kept(&sums.path);
            for board in std::iter::once(None).chain(kept.iter().cloned().map(Some)) {
                *board_sizes.entry(board).or_default() += 1;
            }
        }
        participant_differences(state, campaign, &folded, false, &mut report).await?;
        participant_differences(state, campaign, &excluded, true, &mut report).await?;
        match range.upto {
            Some(upto) => after = upto,
            None => break,
        }
    }
    let redis_people = state.hot.people_count(&campaign.id, state.shards).await?;
    if redis_people != people {
        report(format!("participants: redis={redis_people} sql={people}"));
    }
    unit_differences(state, campaign, &units, &mut report).await?;
    board_size_differences(state, campaign, &board_sizes, &mut report).await?;
    Ok(found)
}

/// Every unit's totals in Redis against the sums of the record.
async fn unit_differences(
    state: &AppState,
    campaign: &Campaign,
    units: &HashMap<String, UnitTotals>,
    report: &mut dyn FnMut(String),
) -> Result<(), RecoveryError> {
    let mut ids: Vec<&str> = vec![WHOLE_CAMPAIGN];
    ids.extend(campaign.units.units().iter().map(|u| u.id.as_str()));
    let redis_totals = state
        .hot
        .unit_totals(&campaign.id, state.shards, &ids)
        .await?;
    for (id, redis) in ids.iter().zip(redis_totals) {
        let sql = units.get(*id).copied().unwrap_or_default();
        let figures = |t: UnitTotals| [t.points, t.attempts, t.participants, t.full_marks];
        for (name, (r, s)) in ["points", "attempts", "participants", "full_marks"]
            .iter()
            .zip(figures(redis).into_iter().zip(figures(sql)))
        {
            if r != s {
                report(format!("unit {id}: {name} redis={r} sql={s}"));
            }
        }
    }
    Ok(())
}

/// Every board holds as many members as the record puts on it: none on a board of a level the
/// campaign does not keep.
async fn board_size_differences(
    state: &AppState,
    campaign: &Campaign,
    expected: &HashMap<Option<String>, u64>,
    report: &mut dyn FnMut(String),
) -> Result<(), RecoveryError> {
    let mut boards: Vec<Option<&str>> = vec![None];
    boards.extend(campaign.units.units().iter().map(|u| Some(u.id.as_str())));
    let sizes = state.hot.board_sizes(&campaign.id, &boards).await?;
    for (unit, redis) in boards.into_iter().zip(sizes) {
        let sql = expected.get(&unit.map(str::to_owned)).copied().unwrap_or(0);
        if redis != sql {
            report(format!(
                "board {}: members redis={redis} sql={sql}",
                unit.unwrap_or(WHOLE_CAMPAIGN)
            ));
        }
    }
    Ok(())
}

/// One batch's participants: their totals in Redis, and their member and score on every board
/// they belong on, against the record.
async fn participant_differences(
    state: &AppState,
    campaign: &Campaign,
    folded: &BTreeMap<u64, RestoredParticipant>,
    excluded: bool,
    report: &mut dyn FnMut(String),
) -> Result<(), RecoveryError> {
    let ids: Vec<u64> = folded.keys().copied().collect();
    let standings = state
        .hot
        .standings(&campaign.id, state.shards, &ids)
        .await?;
    let shown = |t: &ParticipantTotals| (t.points, t.time_used_ms, t.attempts, t.last_finished_ms);
    let mut entries = Vec::new();
    for ((id, sums), (standing, marked)) in folded.iter().zip(standings) {
        if standing != sums.totals {
            report(format!(
                "participant {id}: (points, time used ms, attempts, last finish) redis={:?} sql={:?}",
                shown(&standing),
                shown(&sums.totals)
            ));
        }
        if marked != excluded {
            report(format!(
                "participant {id}: excluded redis={marked} sql={excluded}"
            ));
        }
        // An excluded participant's board entries are absent: the board sizes show any left.
        if excluded {
            continue;
        }
        let member = BoardMember {
            last_finished_ms: sums.totals.last_finished_ms,
            participant: *id,
        };
        entries.push(BoardEntry { unit: None, member });
        let kept = campaign.individual_boards.kept(&sums.path);
        entries.extend(kept.iter().map(|unit| BoardEntry {
            unit: Some(unit.as_str()),
            member,
        }));
    }
    let scores = state.hot.entry_scores(&campaign.id, &entries).await?;
    for (entry, score) in entries.iter().zip(scores) {
        let sums = &folded[&entry.member.participant];
        let expected = sums.totals.score().to_redis_score();
        if score != Some(expected) {
            let board = match entry.unit {
                None => "campaign board".to_owned(),
                Some(unit) => format!("board of unit {unit}"),
            };
            report(format!(
                "participant {}: {board} score redis={score:?} sql={expected}",
                entry.member.participant
            ));
        }
    }
    Ok(())
}
