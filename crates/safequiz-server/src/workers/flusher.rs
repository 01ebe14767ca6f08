//! The flusher: copies finalized attempts and registrations from the shard streams to SQL.
//!
//! Every replica runs one by default (`flusher.enabled`), each a consumer of the `flusher`
//! group on every shard's stream. A pass reads this consumer's pending entries first (delivered
//! before and never acknowledged: a failed insert, a crash) and new ones when none are pending;
//! it decodes them, inserts the batch in one transaction (idempotent: the attempt id and the
//! participant id are primary keys), and only then acknowledges. SQL down means entries stay in
//! Redis and are written when it returns; the hot path never waits for SQL (DESIGN §2.5).
//!
//! Still to come (issue 5): claiming entries of dead consumers (XAUTOCLAIM), trimming below the
//! oldest pending entry, moving entries that keep failing SQL to the dead-letter stream, lag
//! metrics.

use std::time::Duration;

use safequiz_domain::campaign::Campaign;
use safequiz_redis::keys::Shard;
use safequiz_redis::streams::StreamEntry;
use safequiz_sql::record::{AttemptRow, ParticipantRow, RecordRow};
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
}

/// Migrates the schema (retrying while SQL is down), then flushes until `shutdown` turns true.
pub async fn run(state: AppState, options: FlusherOptions, mut shutdown: watch::Receiver<bool>) {
    loop {
        match state.store.migrate().await {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(error = %error, "cannot migrate the database yet; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
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
    state.hot.ensure_group(&campaign.id, shard).await?;
    let mut entries = state
        .hot
        .read_group(
            &campaign.id,
            shard,
            &options.consumer,
            options.batch_rows,
            true,
        )
        .await?;
    if entries.is_empty() {
        entries = state
            .hot
            .read_group(
                &campaign.id,
                shard,
                &options.consumer,
                options.batch_rows,
                false,
            )
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
                tracing::error!(stream.id = %entry.id, reason, "moving an unreadable stream entry to the dead-letter stream");
                state
                    .hot
                    .dead_letter(&campaign.id, shard, entry, reason)
                    .await?;
            }
        }
    }
    state.store.insert_batch(&rows).await?;
    state.hot.ack(&campaign.id, shard, &ids).await?;
    Ok(ids.len())
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
