//! `safequiz seed`: fill a campaign's record with synthetic registrations and attempts, for
//! measuring the organizer reports at scale (`loadtest/reports`).
//!
//! The rows go through `Store::insert_batch`, the flusher's own insert, so the roll-ups are
//! kept exactly as in a real campaign, and the question fold worker runs beside the writers as
//! beside a flusher; the command ends once every batch is folded. Participants are spread over
//! the campaign's leaf units in turn, their attempts over its first days at random and written
//! day after day as a campaign records them, each attempt drawn with the campaign's own
//! draw and answered at random (right about two times in three). It refuses to run in
//! production, and on a campaign whose record already has participants: synthetic rows must
//! never mix with real ones.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use safequiz_domain::bank::Choices;
use safequiz_domain::calendar;
use safequiz_domain::campaign::Campaign;
use safequiz_domain::draw::draw;
use safequiz_domain::score::{self, Score};
use safequiz_server::clock::Clock;
use safequiz_server::config::Environment;
use safequiz_server::startup::build_state;
use safequiz_server::telemetry;
use safequiz_server::workers;
use safequiz_server::workers::flusher::prepare_record;
use safequiz_sql::Store;
use safequiz_sql::record::{AttemptRow, ParticipantRow, RecordRow, StoredQuestion};
use tokio::sync::{mpsc, watch};

#[cfg(test)]
mod tests;

/// Arguments of `safequiz seed`.
#[derive(clap::Args)]
pub struct Args {
    /// The campaign id; its record must have no participants yet.
    #[arg(long)]
    campaign: String,
    /// Participants to register.
    #[arg(long)]
    participants: u64,
    /// Attempts to record, spread evenly over the participants.
    #[arg(long)]
    attempts: u64,
    /// Days from the campaign's first day over which the attempts are spread.
    #[arg(long, default_value_t = 16)]
    days: u32,
    /// Rows per `insert_batch`.
    #[arg(long, default_value_t = 2_000)]
    batch_rows: usize,
    /// Batches written at once.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// The random generator's seed: the same seed makes the same record.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    telemetry::init();
    let Some((loaded, catalogue)) = super::config::load_all(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    if loaded.environment == Environment::Production {
        anyhow::bail!("seed writes synthetic rows; it refuses to run in production (SAFEQUIZ_ENV)");
    }
    if args.participants == 0 || args.days == 0 || args.batch_rows == 0 || args.writers == 0 {
        anyhow::bail!("--participants, --days, --batch-rows and --writers must be positive");
    }
    if args.days > 256 {
        anyhow::bail!("--days is at most 256 (a day is kept as a byte while seeding)");
    }
    let Some(campaign) = catalogue.campaign(&args.campaign).cloned() else {
        anyhow::bail!("no campaign has id `{}`", args.campaign);
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let state = build_state(&loaded.settings, Arc::new(catalogue), Clock::system())?;
        prepare_record(&state)
            .await
            .context("cannot prepare the database")?;
        let existing = state.store.participant_count(&campaign.id).await?;
        if existing > 0 {
            anyhow::bail!(
                "campaign {} already has {existing} participants in the record; seed only fills an \
                 empty one",
                campaign.id
            );
        }
        // The question fold worker beside the writers, as beside a flusher.
        let (stop, stopped) = watch::channel(false);
        let folder = tokio::spawn(workers::questions::run(state.clone(), stopped));
        let seeded = seed(&state.store, &campaign, &args).await;
        // A send error only means the worker already ended.
        let _ = stop.send(true);
        folder.await.context("the question fold task failed")?;
        seeded?;
        fold_the_rest(&state.store, &campaign).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Generates the record and writes it in batches: every registration, then the attempts day
/// by day.
async fn seed(store: &Store, campaign: &Campaign, args: &Args) -> anyhow::Result<()> {
    let leaves: Vec<String> = campaign
        .units
        .units()
        .iter()
        .filter(|unit| unit.children.is_empty())
        .map(|unit| unit.id.clone())
        .collect();
    anyhow::ensure!(!leaves.is_empty(), "the campaign has no units");
    // Bounded: the generator waits when the writers are behind, so memory stays a few batches.
    let (batches, receiver) = mpsc::channel::<Vec<RecordRow>>(args.writers * 2);
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let mut writers = Vec::new();
    for _ in 0..args.writers {
        let (store, receiver) = (store.clone(), receiver.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let batch = receiver.lock().await.recv().await;
                let Some(batch) = batch else {
                    return Ok::<_, anyhow::Error>(());
                };
                store.insert_batch(&batch).await?;
            }
        }));
    }
    let started = Instant::now();
    let mut progress = Progress::new(args.attempts);
    let mut rng = StdRng::seed_from_u64(args.seed);
    let first_day = calendar::day_number(campaign.day_of(campaign.opens_at));
    let unit_of = |participant: u64| &leaves[(participant as usize - 1) % leaves.len()];
    // Attempts spread evenly: the first `attempts % participants` get one more.
    let base = args.attempts / args.participants;
    let extra = args.attempts % args.participants;
    let count_of = |participant: u64| base + u64::from(participant <= extra);
    // Each participant's days (offsets from the first day, sorted), one byte each, in
    // participant order: 20 MB for 20,000,000 attempts.
    let mut days: Vec<u8> = Vec::with_capacity(args.attempts as usize);
    for participant in 1..=args.participants {
        let start = days.len();
        days.extend((0..count_of(participant)).map(|_| rng.random_range(0..args.days) as u8));
        days[start..].sort_unstable();
    }
    let mut batch: Vec<RecordRow> = Vec::with_capacity(args.batch_rows + 64);
    let send = async |batch: &mut Vec<RecordRow>, progress: &mut Progress| {
        let full = std::mem::replace(batch, Vec::with_capacity(args.batch_rows + 64));
        batches.send(full).await.context("a writer stopped")?;
        progress.report(started, false);
        anyhow::Ok(())
    };
    // Every registration first, then the record as a campaign writes it: day after day, each
    // day's attempts in participant order. (Written a participant at a time, days at random,
    // the question fold met earlier days of its cells at almost every write, the slow path of
    // its running totals, which a real campaign takes only around midnight.)
    for participant in 1..=args.participants {
        batch.push(RecordRow::Participant(registration(
            campaign,
            participant,
            unit_of(participant),
        )));
        if batch.len() >= args.batch_rows {
            send(&mut batch, &mut progress).await?;
        }
    }
    for day in 0..args.days {
        let mut at = 0;
        for participant in 1..=args.participants {
            let theirs = &days[at..at + count_of(participant) as usize];
            at += theirs.len();
            for (n, _) in theirs
                .iter()
                .enumerate()
                .filter(|&(_, &d)| u32::from(d) == day)
            {
                batch.push(RecordRow::Attempt(play(
                    campaign,
                    &mut rng,
                    participant,
                    n as u32 + 1,
                    unit_of(participant),
                    first_day + day as i32,
                    first_day,
                )));
                progress.attempts += 1;
            }
            if batch.len() >= args.batch_rows {
                send(&mut batch, &mut progress).await?;
            }
        }
    }
    if !batch.is_empty() {
        batches.send(batch).await.context("a writer stopped")?;
    }
    drop(batches);
    for writer in writers {
        writer.await.context("a writer panicked")??;
    }
    progress.report(started, true);
    Ok(())
}

/// Folds what the fold worker beside the writers left queued, once they are done.
async fn fold_the_rest(store: &Store, campaign: &Campaign) -> anyhow::Result<()> {
    let pending = store.questions_pending(&campaign.id).await?;
    if pending > 0 {
        tracing::info!(
            attempts = pending,
            "folding the question counters still queued"
        );
        let fold_started = Instant::now();
        store.fold_all_questions().await?;
        tracing::info!(
            seconds = fold_started.elapsed().as_secs_f64(),
            "question counters folded"
        );
    }
    Ok(())
}

/// A synthetic registration: the phone hash is the id's, never a real number's.
fn registration(campaign: &Campaign, participant: u64, unit: &str) -> ParticipantRow {
    ParticipantRow {
        campaign_id: campaign.id.clone(),
        participant_id: participant as i64,
        name: format!("测试{participant}"),
        phone_masked: format!("199****{:04}", participant % 10_000),
        phone_hash: format!("{participant:064x}"),
        unit_id: unit.to_owned(),
        registered_at_ms: campaign.opens_at.as_millisecond() + participant as i64,
        consent: None,
        phone_sealed: None,
    }
}

/// One attempt on `day`, drawn as the start handler draws and answered at random.
fn play(
    campaign: &Campaign,
    rng: &mut StdRng,
    participant: u64,
    n: u32,
    unit: &str,
    day: i32,
    first_day: i32,
) -> AttemptRow {
    let mut questions = Vec::new();
    let mut correct = 0_u32;
    for drawn in draw(&campaign.pool, &campaign.plan, rng) {
        let question = campaign
            .pool
            .get(drawn.question)
            .expect("a drawn question is in its pool");
        let key = drawn.options.shown(question.answer);
        let options = question.options.len().max(1);
        let chosen = if rng.random_range(0..3) < 2 {
            key
        } else if rng.random_range(0..10) == 0 {
            Choices::NONE
        } else {
            Choices::NONE.with(rng.random_range(0..options))
        };
        if score::is_correct(key, chosen) {
            correct += 1;
        }
        questions.push(StoredQuestion {
            chosen: chosen.bits(),
            id: question.id.clone(),
            key: key.bits(),
            order: drawn.options.as_slice().to_vec(),
        });
    }
    let day_start = campaign.opens_at.as_millisecond() + i64::from(day - first_day) * 86_400_000;
    let started_at_ms = day_start + rng.random_range(0..36_000_000) + i64::from(n);
    let limit_ms = i64::from(campaign.time_limit_secs) * 1_000;
    let used = rng.random_range(10_000..=limit_ms.max(10_000));
    let score = Score::new(
        campaign.points_per_question,
        correct,
        questions.len() as u32,
    );
    AttemptRow {
        campaign_id: campaign.id.clone(),
        attempt_id: format!("{participant}-{n}"),
        participant_id: participant as i64,
        unit_id: unit.to_owned(),
        day,
        started_at_ms,
        deadline_ms: started_at_ms + limit_ms,
        finished_at_ms: started_at_ms + used,
        time_used_ms: used,
        points: score.points as i32,
        correct: correct as i32,
        auto_submitted: used >= limit_ms,
        full_marks: score.is_full_marks(),
        questions: StoredQuestion::encode_all(&questions),
    }
}

/// Progress lines on standard output, at most every few seconds.
struct Progress {
    total: u64,
    attempts: u64,
    last: Option<Instant>,
}

impl Progress {
    fn new(total: u64) -> Progress {
        Progress {
            total,
            attempts: 0,
            last: None,
        }
    }

    fn report(&mut self, started: Instant, done: bool) {
        let now = Instant::now();
        if !done
            && self
                .last
                .is_some_and(|last| now - last < Duration::from_secs(5))
        {
            return;
        }
        self.last = Some(now);
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "{} {} of {} attempts in {:.0} s ({:.0} attempts/s)",
            if done { "seeded" } else { "seeding:" },
            self.attempts,
            self.total,
            elapsed,
            self.attempts as f64 / elapsed.max(0.001)
        );
    }
}
