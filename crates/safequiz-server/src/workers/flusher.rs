//! The flusher: copies finalized attempts and registrations from the shard streams to SQL.
//!
//! Every replica runs one by default (`flusher.enabled`), and `safequiz flush` runs one on its
//! own; each is a consumer of the `flusher` group on every shard's stream. A pass over a shard
//! takes, in this order, this consumer's own pending entries (delivered before and never
//! acknowledged: a failed insert), entries another consumer has held for `claim_idle_secs` (a
//! flusher that died: `XAUTOCLAIM`), or new entries. It decodes them, inserts the batch in one
//! transaction (idempotent: attempt and participant ids are primary keys), and only then
//! acknowledges; then it trims the stream below what every flusher is done with.
//!
//! SQL unavailable: nothing is acknowledged, the entries wait in Redis and are written when SQL
//! returns; the hot path never waits for SQL (DESIGN §2.5). A row SQL refuses for its data is
//! retried alone; once delivered `max_deliveries` times it moves to the shard's dead-letter
//! stream with the reason, logged, never dropped. An entry that does not decode moves there at
//! once.

use std::sync::atomic::Ordering;
use std::time::Duration;

use safequiz_domain::campaign::Campaign;
use safequiz_redis::keys::Shard;
use safequiz_redis::streams::StreamEntry;
use safequiz_sql::record::{AttemptRow, ParticipantRow, RecordRow};
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
    /// The consumer name in the group; unique per process.
    pub consumer: String,
    /// Most entries per transaction.
    pub batch_rows: usize,
    /// Pause between passes that found nothing.
    pub idle: Duration,
    /// How long another consumer may hold an entry before this one claims it.
    pub claim_idle: Duration,
    /// Deliveries after which a row SQL keeps refusing goes to the dead-letter stream.
    pub max_deliveries: u32,
}

/// Brings the schema up to date and syncs every campaign's units into the record.
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
        let wait = match flush_once(&state, &options).await {
            Ok(0) => options.idle,
            // More may be waiting: go again at once.
            Ok(_) => Duration::ZERO,
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
            // The pass above finished its batch; whatever is left stays pending for the next start.
            return;
        }
    }
}

/// One pass over every campaign and shard; returns how many entries it wrote (or found already
/// written) and acknowledged.
pub async fn flush_once(state: &AppState, options: &FlusherOptions) -> Result<usize, FlushError> {
    let mut flushed = 0;
    for campaign in &state.catalogue.campaigns {
        for shard in Shard::all(state.shards) {
            flushed += flush_shard(state, options, campaign, shard).await?;
        }
    }
    Ok(flushed)
}

async fn flush_shard(
    state: &AppState,
    options: &FlusherOptions,
    campaign: &Campaign,
    shard: Shard,
) -> Result<usize, FlushError> {
    let hot = &state.hot;
    let id = campaign.id.as_str();
    hot.ensure_group(id, shard).await?;
    let mut entries = hot
        .read_group(id, shard, &options.consumer, options.batch_rows, true)
        .await?;
    if entries.is_empty() {
        let idle_ms = u64::try_from(options.claim_idle.as_millis()).unwrap_or(u64::MAX);
        entries = hot
            .claim_stale(id, shard, &options.consumer, idle_ms, options.batch_rows)
            .await?;
        if !entries.is_empty() {
            tracing::info!(entries = entries.len(), shard = %shard,
                "claimed entries a stopped flusher left unacknowledged");
        }
    }
    if entries.is_empty() {
        entries = hot
            .read_group(id, shard, &options.consumer, options.batch_rows, false)
            .await?;
    }
    if entries.is_empty() {
        return Ok(0);
    }
    let mut rows = Vec::with_capacity(entries.len());
    let mut ids = Vec::with_capacity(entries.len());
    for entry in &entries {
        match decode(campaign, entry) {
            Ok(row) => {
                rows.push(row);
                ids.push(entry.id.clone());
            }
            Err(reason) => {
                tracing::error!(stream.id = %entry.id, reason,
                    "moving an unreadable stream entry to the dead-letter stream");
                hot.dead_letter(id, shard, entry, reason).await?;
            }
        }
    }
    match state.store.insert_batch(&rows).await {
        Ok(_) => hot.ack(id, shard, &ids).await?,
        Err(error) if error.is_data_error() => {
            insert_one_by_one(state, options, campaign, shard, &entries, &rows, &ids).await?;
        }
        Err(error) => return Err(error.into()),
    }
    hot.trim_flushed(id, shard).await?;
    Ok(ids.len())
}

/// After a batch failed on some row's data: writes the rows one at a time, so one bad row
/// cannot hold back the others.
async fn insert_one_by_one(
    state: &AppState,
    options: &FlusherOptions,
    campaign: &Campaign,
    shard: Shard,
    entries: &[StreamEntry],
    rows: &[RecordRow],
    ids: &[String],
) -> Result<(), FlushError> {
    let deliveries = state.hot.deliveries(&campaign.id, shard, ids).await?;
    for ((row, id), delivered) in rows.iter().zip(ids).zip(deliveries) {
        match state.store.insert_batch(std::slice::from_ref(row)).await {
            Ok(_) => {
                state
                    .hot
                    .ack(&campaign.id, shard, std::slice::from_ref(id))
                    .await?
            }
            Err(error) if !error.is_data_error() => return Err(error.into()),
            Err(error) if delivered >= options.max_deliveries as usize => {
                let entry = entries
                    .iter()
                    .find(|entry| &entry.id == id)
                    .ok_or_else(|| FlushError::Lost(id.clone()))?;
                tracing::error!(stream.id = %id, error = %error, deliveries = delivered,
                    "SQL keeps refusing a row; moving its entry to the dead-letter stream");
                state
                    .hot
                    .dead_letter(&campaign.id, shard, entry, &error.to_string())
                    .await?;
            }
            Err(error) => {
                tracing::warn!(stream.id = %id, error = %error, deliveries = delivered,
                    "SQL refused a row; it stays pending and is retried");
            }
        }
    }
    Ok(())
}

/// The record row a stream entry stands for.
fn decode(campaign: &Campaign, entry: &StreamEntry) -> Result<RecordRow, &'static str> {
    let text = |field: &str| entry.get(field).ok_or("a field is missing");
    let number = |field: &str| -> Result<i64, &'static str> {
        text(field)?
            .parse()
            .map_err(|_| "a number field is not a number")
    };
    match text("type")? {
        "participant" => Ok(RecordRow::Participant(ParticipantRow {
            campaign_id: campaign.id.clone(),
            participant_id: number("participant")?,
            name: text("name")?.to_owned(),
            phone_masked: text("phone_masked")?.to_owned(),
            phone_hash: text("phone_hash")?.to_owned(),
            unit_id: text("unit")?.to_owned(),
            registered_at_ms: number("registered")?,
        })),
        "attempt" => Ok(RecordRow::Attempt(AttemptRow {
            campaign_id: campaign.id.clone(),
            attempt_id: text("attempt")?.to_owned(),
            participant_id: number("participant")?,
            unit_id: text("unit")?.to_owned(),
            day: number("day")? as i32,
            started_at_ms: number("started")?,
            deadline_ms: number("deadline")?,
            finished_at_ms: number("finished")?,
            time_used_ms: number("time_used")?,
            points: number("points")? as i32,
            correct: number("correct")? as i32,
            auto_submitted: number("auto")? == 1,
            questions: questions_json(text("questions")?, text("key")?, text("answers")?)?,
        })),
        _ => Err("unknown entry type"),
    }
}

/// The attempt's questions as JSON: `[{"id", "order", "key", "chosen"}]` in display order,
/// `order` the bank's option indices in display order, `key` and `chosen` bit sets over display
/// positions (bit 0 is the option shown first).
fn questions_json(questions: &str, key: &str, answers: &str) -> Result<String, &'static str> {
    let (key, answers) = (key.as_bytes(), answers.as_bytes());
    let mut items = Vec::new();
    for (index, entry) in questions.split(',').enumerate() {
        let (id, order) = entry
            .split_once('/')
            .ok_or("a question entry has no order")?;
        let order: Vec<u8> = order.bytes().map(|b| b.wrapping_sub(b'0')).collect();
        let bits = |set: &[u8]| set.get(index).map(|b| b.wrapping_sub(b'0'));
        items.push(serde_json::json!({
            "id": id,
            "order": order,
            "key": bits(key).ok_or("the key is shorter than the questions")?,
            "chosen": bits(answers).ok_or("the answers are shorter than the questions")?,
        }));
    }
    Ok(serde_json::Value::Array(items).to_string())
}
