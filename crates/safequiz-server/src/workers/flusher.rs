//! The flusher: copies finalized attempts and registrations from the shard streams to SQL.
//!
//! Every replica runs one by default (`flusher.enabled`), and `safequiz flush` runs one on its
//! own. Each shard's stream is written by one flusher at a time, from a position of its own
//! (`safequiz_redis::streams`, "The flusher's position"): a pass says that this flusher runs,
//! counts the flushers running, and takes or keeps the lease of at most its share of the
//! shards, giving back the rest. For each shard it holds it reads the entries past the shard's
//! cursor and decodes them; it inserts the rows of the shards read in one transaction
//! (idempotent: attempt and participant ids are primary keys), and only then moves each
//! shard's cursor; then it trims each stream below what it and the board writer are done
//! with. Between the commit and the moves it has Redis forget the attempts just written (their
//! fields leave the participants' hashes, `safequiz_redis::archive`), so Redis memory stays
//! bounded per participant however many days they play; the service reads such an attempt
//! from SQL.
//!
//! It parses nothing itself: an entry's format is `safequiz_redis::streams`' ([`decode`] gives a
//! typed [`StreamRecord`]), the `attempts.questions` column's is `safequiz_sql::record`'s
//! ([`StoredQuestion`]); this module maps one onto the other.
//!
//! SQL unavailable: the cursor stays, the entries wait in Redis and are written when SQL
//! returns; the hot path never waits for SQL (docs/design.md §2.5). A row SQL refuses for its
//! data is retried alone and keeps the cursor before its entry; once refused `max_deliveries`
//! times its entry is copied to the shard's dead-letter stream with the reason, logged, never
//! dropped, and passed. An entry that does not decode goes there at once.

use std::sync::atomic::Ordering;
use std::time::Duration;

use safequiz_domain::campaign::Campaign;
use safequiz_domain::score::is_full_marks;
use safequiz_redis::attempts::AttemptId;
use safequiz_redis::keys::Shard;
use safequiz_redis::streams::{
    AttemptEntry, EntryError, ParticipantEntry, StreamEntry, StreamRecord, decode,
};
use safequiz_sql::record::{AttemptRow, Consent, ParticipantRow, RecordRow, StoredQuestion};
use safequiz_sql::units::UnitRecord;
use tokio::sync::watch;

use crate::http::AppState;

/// Why a flush pass stopped; the next pass retries.
#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] safequiz_redis::RedisError),
    /// SQL failed; the entries stay pending.
    #[error(transparent)]
    Store(#[from] safequiz_sql::StoreError),
    /// A row's entry went missing between reading and writing (a bug).
    #[error("stream entry {0} vanished during its flush")]
    Lost(String),
}

/// What a flusher is called and how big its batches are.
#[derive(Clone, Debug)]
pub struct FlusherOptions {
    /// This flusher's name, which its leases carry; unique per process.
    pub consumer: String,
    /// Most entries read from one shard in a pass. A transaction takes the entries of the
    /// shards read until it holds this many, so at most twice this.
    pub batch_rows: usize,
    /// Pause after a pass in which no shard filled its batch of `batch_rows` entries, so that
    /// batches fill while the entries wait safely in the streams.
    pub idle: Duration,
    /// How long a lease on a shard lasts unless its holder takes it again: how long the shards
    /// of a flusher that stopped wait before another takes them.
    pub claim_idle: Duration,
    /// Refusals by SQL after which a row's entry goes to the dead-letter stream.
    pub max_deliveries: u32,
}

/// Brings the schema up to date and syncs every campaign's units and counted policy into the
/// record.
pub async fn prepare_record(state: &AppState) -> Result<(), safequiz_sql::StoreError> {
    state.store.migrate().await?;
    for campaign in &state.catalogue.campaigns {
        let tree = &campaign.units;
        let units: Vec<UnitRecord> = tree
            .units()
            .iter()
            .map(|unit| UnitRecord {
                unit_id: unit.id.clone(),
                parent_id: unit.parent.map(|parent| tree.get(parent).id.clone()),
                name: unit.name.clone(),
                kind: unit.kind.as_str().to_owned(),
                entry_id: campaign.entries[unit.entry].id.clone(),
                depth: i32::from(unit.depth),
            })
            .collect();
        state.store.sync_units(&campaign.id, &units).await?;
        state
            .store
            .sync_counting(&campaign.id, campaign.scoring.counted)
            .await?;
    }
    state.record_ready.store(true, Ordering::Release);
    Ok(())
}

/// Prepares the record, retrying every second while SQL is down; false when `shutdown` came
/// first. Every `serve` runs it (with or without its flusher), so the organizer tables exist
/// wherever organizers are served.
pub async fn prepare_until_done(state: &AppState, shutdown: &mut watch::Receiver<bool>) -> bool {
    loop {
        match prepare_record(state).await {
            Ok(()) => return true,
            Err(error) => {
                tracing::warn!(error = %error, "cannot prepare the database yet; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return false,
                }
            }
        }
    }
}

/// Prepares the record (retrying while SQL is down), then flushes until `shutdown` turns true.
pub async fn run(state: AppState, options: FlusherOptions, mut shutdown: watch::Receiver<bool>) {
    if !prepare_until_done(&state, &mut shutdown).await {
        return;
    }
    loop {
        let outcome = flush_pass(&state, &options).await;
        match &outcome {
            Ok(_) => state.metrics.flush_pass(false, state.clock.now()),
            Err(FlushError::Store(_)) => state.metrics.flush_pass(true, state.clock.now()),
            Err(_) => {}
        }
        let wait = match outcome {
            // A shard filled its batch: more is probably waiting there, go again at once.
            Ok(pass) if pass.full => Duration::ZERO,
            // Every shard wrote less (or nothing): wait, so that the next pass writes larger
            // batches. A transaction per few entries costs the flusher (and SQL) several times
            // more per entry than one per hundreds, and the entries are safe in the streams
            // meanwhile; the wait adds at most `batch_max_ms` to the flush lag
            // (docs/design.md §2.5, "Batches").
            Ok(_) => options.idle,
            Err(error) => {
                tracing::warn!(error = %error, "flush failed; the entries stay pending and are retried");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            // The pass above finished its batch. HTTP has stopped before the workers are told
            // (`startup::run_until`), so nothing new arrives: drain what is left.
            drain(&state, &options).await;
            return;
        }
    }
}

/// Longest a stopping flusher keeps writing what the streams still hold.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// At a stop (SIGTERM): passes until the streams are empty, SQL fails or [`DRAIN_LIMIT`] has
/// passed, so a clean stop leaves the record complete; whatever is left stays pending in Redis
/// for the next flusher, never lost.
async fn drain(state: &AppState, options: &FlusherOptions) {
    let until = tokio::time::Instant::now() + DRAIN_LIMIT;
    let mut drained = 0;
    while tokio::time::Instant::now() < until {
        match tokio::time::timeout_at(until, flush_once(state, options)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(flushed)) => drained += flushed,
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "stopping: the streams' rest stays pending for the next flusher");
                break;
            }
            Err(_) => {
                tracing::warn!("stopping: the drain took too long; the rest stays pending");
                break;
            }
        }
    }
    if drained > 0 {
        tracing::info!(
            entries = drained,
            "stopping: flushed what the streams still held"
        );
    }
    if let Err(error) = step_down(state, options).await {
        tracing::warn!(error = %error, "stopping: the shards stay this flusher's until its leases run out");
    }
}

/// At a stop: this flusher no longer counts as running and gives back the shards it holds, so
/// that the others take them at their next pass rather than after `claim_idle`.
async fn step_down(state: &AppState, options: &FlusherOptions) -> Result<(), FlushError> {
    state.hot.flushers_running(&options.consumer, 0).await?;
    for campaign in &state.catalogue.campaigns {
        for shard in Shard::all(state.shards) {
            state
                .hot
                .flush_give(&campaign.id, shard, &options.consumer)
                .await?;
        }
    }
    Ok(())
}

/// One pass over the shards this flusher holds; returns how many entries it wrote (or found
/// already written) and passed.
pub async fn flush_once(state: &AppState, options: &FlusherOptions) -> Result<usize, FlushError> {
    Ok(flush_pass(state, options).await?.entries)
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Entries written (or found already written) and passed, over every shard it held.
    pub entries: usize,
    /// Whether some shard's batch was full (`batch_rows` entries): more may be waiting there.
    pub full: bool,
}

/// One pass: says that this flusher runs, holds at most its share of the shards of every
/// campaign (giving back the rest), reads the entries of each shard it holds, and writes them
/// together: one transaction for the shards read until `batch_rows` entries are in hand, and
/// another for the next such group (each shard in its own when SQL refuses a row of the whole).
pub async fn flush_pass(state: &AppState, options: &FlusherOptions) -> Result<Pass, FlushError> {
    let hot = &state.hot;
    let lease_ms = u64::try_from(options.claim_idle.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let running = hot.flushers_running(&options.consumer, lease_ms).await?;
    let shards: Vec<(&Campaign, Shard)> = state
        .catalogue
        .campaigns
        .iter()
        .flat_map(|campaign| Shard::all(state.shards).map(move |shard| (&**campaign, shard)))
        .collect();
    let share = shards.len().div_ceil(running.max(1));
    // Flushers that start together ask for different shards first.
    let first = first_shard(&options.consumer, shards.len());
    let mut held = 0;
    let mut pass = Pass::default();
    let mut batch = Batch::default();
    for i in 0..shards.len() {
        let (campaign, shard) = shards[(first + i) % shards.len()];
        if held >= share {
            if hot
                .flush_give(&campaign.id, shard, &options.consumer)
                .await?
            {
                tracing::info!(campaign = %campaign.id, shard = %shard, flushers = running,
                    "gave back a shard beyond this flusher's share");
            }
            continue;
        }
        let Some(cursor) = hot
            .flush_hold(&campaign.id, shard, &options.consumer, lease_ms)
            .await?
        else {
            continue;
        };
        held += 1;
        read_shard(state, options, campaign, shard, &cursor, &mut batch).await?;
        // A transaction takes the shards' entries until it holds `batch_rows` of them, so it
        // never holds more than twice that (a catching-up flusher's shards each fill theirs).
        if batch.entries() >= options.batch_rows {
            pass.add(options, &write_batch(state, options, &batch).await?);
            batch = Batch::default();
        }
    }
    pass.add(options, &write_batch(state, options, &batch).await?);
    Ok(pass)
}

impl Pass {
    /// Counts what a batch's shards passed.
    fn add(&mut self, options: &FlusherOptions, passed: &[usize]) {
        for &entries in passed {
            self.entries += entries;
            self.full |= entries >= options.batch_rows;
        }
    }
}

/// What a pass read from the shards it holds: each shard's entries, and the rows they stand
/// for, of every shard in turn.
#[derive(Default)]
struct Batch<'c> {
    shards: Vec<ShardRead<'c>>,
    rows: Vec<RecordRow>,
}

impl Batch<'_> {
    /// The entries read, over every shard.
    fn entries(&self) -> usize {
        self.shards.iter().map(|read| read.entries.len()).sum()
    }
}

/// The entries read from one shard past its cursor.
struct ShardRead<'c> {
    campaign: &'c Campaign,
    shard: Shard,
    entries: Vec<StreamEntry>,
    /// This shard's rows in [`Batch::rows`].
    rows: std::ops::Range<usize>,
    /// The position in `entries` of each of those rows' entry.
    sources: Vec<usize>,
}

/// Where in the list of `count` shards flusher `name` starts asking: its own place, the same
/// on every pass.
fn first_shard(name: &str, count: usize) -> usize {
    if count == 0 {
        return 0;
    }
    (crate::http::pages::fnv1a(name.as_bytes()) % count as u64) as usize
}

/// Reads the entries of a shard this flusher holds past `cursor` (the last entry written) into
/// `batch`, with the rows they stand for. An entry that does not decode is copied to the
/// dead-letter stream (and passed with the others).
async fn read_shard<'c>(
    state: &AppState,
    options: &FlusherOptions,
    campaign: &'c Campaign,
    shard: Shard,
    cursor: &str,
    batch: &mut Batch<'c>,
) -> Result<(), FlushError> {
    let hot = &state.hot;
    let entries = hot
        .flush_read(&campaign.id, shard, cursor, options.batch_rows)
        .await?;
    if entries.is_empty() {
        return Ok(());
    }
    let first_row = batch.rows.len();
    let mut sources = Vec::with_capacity(entries.len());
    for (position, entry) in entries.iter().enumerate() {
        match record_row(campaign, entry) {
            Ok(Some(row)) => {
                batch.rows.push(row);
                sources.push(position);
            }
            // An entry for the board writer alone (an exclusion): nothing to write.
            Ok(None) => {}
            Err(reason) => {
                tracing::error!(stream.id = %entry.id, reason = %reason,
                    "moving an unreadable stream entry to the dead-letter stream");
                hot.dead_letter(&campaign.id, shard, entry, &reason.to_string())
                    .await?;
            }
        }
    }
    batch.shards.push(ShardRead {
        campaign,
        shard,
        entries,
        rows: first_row..batch.rows.len(),
        sources,
    });
    Ok(())
}

/// Writes what a pass read and moves each shard's cursor past what was written; how many
/// entries each shard passed, in the order of `batch.shards`.
///
/// Every shard's rows go in one transaction: a transaction per shard wrote the pages of the
/// record's indexes and roll-ups to SQLite's log once per shard instead of once per pass, and
/// cost the flusher 13-21% more CPU per attempt at the ceiling's four shards
/// (docs/performance.md, "One transaction per pass"). When SQL refuses a row of the whole, each
/// shard is written alone, as if read alone, so that one bad row holds back only its own shard.
async fn write_batch(
    state: &AppState,
    options: &FlusherOptions,
    batch: &Batch<'_>,
) -> Result<Vec<usize>, FlushError> {
    let together = if batch.shards.len() > 1 && !batch.rows.is_empty() {
        match state.store.insert_batch(&batch.rows).await {
            Ok(inserted) => Some(inserted.attempts == attempt_rows(&batch.rows)),
            Err(error) if error.is_data_error() => None,
            Err(error) => return Err(error.into()),
        }
    } else {
        None
    };
    let mut passed = Vec::with_capacity(batch.shards.len());
    for read in &batch.shards {
        let id = read.campaign.id.as_str();
        let rows = &batch.rows[read.rows.clone()];
        let count = match together {
            Some(all_new) => {
                forget_flushed(state, id, read.shard, rows, all_new).await?;
                read.entries.len()
            }
            None => write_shard(state, options, read, rows).await?,
        };
        if let Some(done) = count
            .checked_sub(1)
            .map(|last| read.entries[last].id.as_str())
        {
            if state
                .hot
                .flush_move(id, read.shard, &options.consumer, done)
                .await?
            {
                state.hot.trim_flushed(id, read.shard).await?;
            } else {
                tracing::warn!(shard = %read.shard,
                    "this flusher's lease ran out during its pass; the next holder writes the same entries again");
            }
        }
        passed.push(count);
    }
    if !batch.rows.is_empty() {
        // The batch queued its attempts for the question counters (or found them recorded,
        // and the fold then finds nothing to do); the fold worker decides whether to start.
        state.fold_wanted.notify_one();
    }
    Ok(passed)
}

/// How many attempt rows `rows` holds.
fn attempt_rows(rows: &[RecordRow]) -> u64 {
    rows.iter()
        .filter(|row| matches!(row, RecordRow::Attempt(_)))
        .count() as u64
}

/// Writes one shard's `rows` in their own transaction; how many of its entries the cursor may
/// pass: all of them, unless SQL refused a row.
async fn write_shard(
    state: &AppState,
    options: &FlusherOptions,
    read: &ShardRead<'_>,
    rows: &[RecordRow],
) -> Result<usize, FlushError> {
    let id = read.campaign.id.as_str();
    if rows.is_empty() {
        return Ok(read.entries.len());
    }
    match state.store.insert_batch(rows).await {
        Ok(inserted) => {
            let all_new = inserted.attempts == attempt_rows(rows);
            forget_flushed(state, id, read.shard, rows, all_new).await?;
            Ok(read.entries.len())
        }
        Err(error) if error.is_data_error() => {
            let sources: Vec<&StreamEntry> = read
                .sources
                .iter()
                .map(|&position| &read.entries[position])
                .collect();
            match insert_one_by_one(state, options, read.campaign, read.shard, rows, &sources)
                .await?
            {
                // Those before the first row still refused. (An unreadable entry after it is
                // copied to the dead-letter stream again at the next pass, with the same
                // `source_id`.)
                Some(refused) => Ok(read
                    .entries
                    .iter()
                    .position(|entry| entry.id == refused)
                    .unwrap_or(read.entries.len())),
                None => Ok(read.entries.len()),
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// After a batch failed on some row's data: writes the rows one at a time, so one bad row
/// cannot hold back the others. A row refused `max_deliveries` times has its entry copied to
/// the dead-letter stream; the id of the first entry whose row is still refused (the cursor
/// stays before it, and the next pass tries it again), or `None`.
async fn insert_one_by_one<'e>(
    state: &AppState,
    options: &FlusherOptions,
    campaign: &Campaign,
    shard: Shard,
    rows: &[RecordRow],
    sources: &[&'e StreamEntry],
) -> Result<Option<&'e str>, FlushError> {
    let hot = &state.hot;
    let mut first_refused = None;
    for (row, entry) in rows.iter().zip(sources) {
        match state.store.insert_batch(std::slice::from_ref(row)).await {
            Ok(inserted) => {
                forget_flushed(
                    state,
                    &campaign.id,
                    shard,
                    std::slice::from_ref(row),
                    inserted.attempts == attempt_rows(std::slice::from_ref(row)),
                )
                .await?;
                hot.flush_forgive(&campaign.id, shard, &entry.id).await?;
            }
            Err(error) if !error.is_data_error() => return Err(error.into()),
            Err(error) => {
                let refusals = hot.flush_refused(&campaign.id, shard, &entry.id).await?;
                if refusals >= options.max_deliveries {
                    tracing::error!(stream.id = %entry.id, error = %error, refusals,
                        "SQL keeps refusing a row; moving its entry to the dead-letter stream");
                    hot.dead_letter(&campaign.id, shard, entry, &error.to_string())
                        .await?;
                } else {
                    tracing::warn!(stream.id = %entry.id, error = %error, refusals,
                        "SQL refused a row; it is tried again at the next pass");
                    first_refused.get_or_insert(entry.id.as_str());
                }
            }
        }
    }
    Ok(first_refused)
}

/// Removes the attempts of `rows`, now committed to SQL, from their participants' hashes in
/// Redis (`safequiz_redis::archive`), so hot state holds per participant only what the rules
/// read and not every attempt ever played.
///
/// It runs after the commit and before the cursor moves: the row is in SQL, so nothing is
/// lost, and a forget that fails leaves the cursor before the entries, so the next pass writes
/// them again (a no-op) and forgets again. With the cursor moved first, a failed forget would
/// leave the fields in Redis for ever.
///
/// `all_new`: the insert wrote every attempt of `rows` (none was in the record before), so
/// none needs comparing with what the record holds.
async fn forget_flushed(
    state: &AppState,
    campaign: &str,
    shard: Shard,
    rows: &[RecordRow],
    all_new: bool,
) -> Result<(), FlushError> {
    let written: Vec<&AttemptRow> = rows
        .iter()
        .filter_map(|row| match row {
            RecordRow::Attempt(attempt) => Some(attempt),
            RecordRow::Participant(_) => None,
        })
        .collect();
    let mut attempts = Vec::with_capacity(written.len());
    for attempt in &written {
        let Some(id) = AttemptId::parse(&attempt.attempt_id) else {
            continue;
        };
        // Every row of the batch was new (the usual case), or this one is in the record as
        // the entry says (written again after a crash between the commit and the cursor's move).
        // A row the record holds with other content (after a failover lost writes, Redis
        // finalized the same attempt again) keeps its Redis copy, which the boards count, and
        // is logged: reconcile reports it, and forgetting it would leave reviews showing the
        // record's older version.
        if all_new || same_as_recorded(state, attempt, id).await? {
            attempts.push(id);
        } else {
            tracing::error!(attempt = %attempt.attempt_id,
                "the record holds this attempt with other content; kept in Redis, run reconcile");
        }
    }
    if !attempts.is_empty() {
        state.hot.forget_flushed(campaign, shard, &attempts).await?;
    }
    Ok(())
}

/// Whether the record holds `attempt` (attempt `id`) with the same result and answers.
async fn same_as_recorded(
    state: &AppState,
    attempt: &AttemptRow,
    id: AttemptId,
) -> Result<bool, FlushError> {
    let Ok(participant) = i64::try_from(id.participant) else {
        return Ok(false);
    };
    let Some(recorded) = state
        .store
        .archived_attempt(&attempt.campaign_id, participant, id.number)
        .await?
    else {
        return Ok(false);
    };
    let row = &recorded.row;
    Ok(row.points == attempt.points
        && row.correct == attempt.correct
        && row.finished_at_ms == attempt.finished_at_ms
        && row.time_used_ms == attempt.time_used_ms
        && row.auto_submitted == attempt.auto_submitted
        && row.questions == attempt.questions)
}

/// The record row a stream entry stands for; `None` for an entry the record already holds
/// in its own way (an exclusion, which the organizer's request wrote to SQL first).
fn record_row(campaign: &Campaign, entry: &StreamEntry) -> Result<Option<RecordRow>, EntryError> {
    Ok(match decode(entry)? {
        StreamRecord::Participant(participant) => Some(RecordRow::Participant(participant_row(
            campaign,
            &participant,
        )?)),
        StreamRecord::Attempt(attempt) => {
            Some(RecordRow::Attempt(attempt_row(campaign, &attempt)?))
        }
        StreamRecord::Exclusion { .. } => None,
    })
}

fn participant_row(
    campaign: &Campaign,
    entry: &ParticipantEntry<'_>,
) -> Result<ParticipantRow, EntryError> {
    Ok(ParticipantRow {
        campaign_id: campaign.id.clone(),
        participant_id: i64::try_from(entry.participant)
            .map_err(|_| EntryError::Malformed("participant"))?,
        name: entry.name.to_owned(),
        phone_masked: entry.phone_masked.to_owned(),
        phone_hash: entry.phone_hash.to_owned(),
        unit_id: entry.unit.to_owned(),
        registered_at_ms: entry.registered_ms,
        // The consent is given with the registration, so it is recorded at its instant.
        consent: entry.consent.map(|version| Consent {
            notice_version: version.to_owned(),
            at_ms: entry.registered_ms,
            guardian_name: entry.guardian.map(str::to_owned),
        }),
        phone_sealed: entry.phone_sealed.map(str::to_owned),
    })
}

fn attempt_row(campaign: &Campaign, entry: &AttemptEntry<'_>) -> Result<AttemptRow, EntryError> {
    let questions: Vec<StoredQuestion> = entry
        .questions
        .iter()
        .map(|question| StoredQuestion {
            id: question.id.to_owned(),
            order: question.order.as_slice().to_vec(),
            key: question.key.bits(),
            chosen: question.chosen.bits(),
        })
        .collect();
    Ok(AttemptRow {
        campaign_id: campaign.id.clone(),
        attempt_id: entry.attempt.to_string(),
        participant_id: i64::try_from(entry.participant)
            .map_err(|_| EntryError::Malformed("participant"))?,
        unit_id: entry.unit.to_owned(),
        day: entry.day,
        started_at_ms: entry.started_ms,
        deadline_ms: entry.deadline_ms,
        finished_at_ms: entry.finish.finished_ms,
        time_used_ms: entry.finish.time_used_ms,
        points: i32::try_from(entry.points).map_err(|_| EntryError::Malformed("points"))?,
        correct: i32::try_from(entry.correct).map_err(|_| EntryError::Malformed("correct"))?,
        auto_submitted: entry.auto_submitted,
        full_marks: is_full_marks(
            entry.correct,
            u32::try_from(questions.len()).map_err(|_| EntryError::Questions)?,
        ),
        questions: StoredQuestion::encode_all(&questions),
    })
}
