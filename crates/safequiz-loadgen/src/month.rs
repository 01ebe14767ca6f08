//! The month scenario: one attempt a day for many campaign days, to weigh what Redis keeps per
//! participant once finished attempts leave it for SQL (docs/operations.md, "A month in Redis").
//!
//! It drives `safequiz serve` itself, because a day is played by restarting the service with
//! one more day of test-only clock offset (`SAFEQUIZ__CLOCK__OFFSET_SECS`, refused in
//! production). It registers the participants, then every day starts the service, plays one
//! whole attempt per participant at full speed (start, a save per question, submit), waits until
//! the service's flusher has written everything to SQL (and so had Redis forget it), and stops
//! the service. On day 1 the flusher is held back first, to weigh Redis as it was before
//! attempts were forgotten (every attempt kept) beside what it keeps now.
//!
//! At the end it reports Redis `used_memory` above the empty-campaign baseline per participant,
//! with a breakdown by kind of key (`MEMORY USAGE`), the board entries per participant, and the
//! zero-loss check: every submit that answered 200 is in SQL with the same score, read back a
//! page at a time so that millions of attempts fit in memory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use http::{Method, StatusCode};
use safequiz_sql::{DatabaseSettings, Store};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::client::Connection;
use crate::measure::RedisProbe;
use crate::wire::{Registration, Started, Submitted, register_all};

/// Redis, weighed: `used_memory`, and each key's `MEMORY USAGE`.
struct Weigher {
    probe: RedisProbe,
    connection: redis::Connection,
}

impl Weigher {
    fn connect(url: &str) -> anyhow::Result<Weigher> {
        Ok(Weigher {
            probe: RedisProbe::connect(url)?,
            connection: redis::Client::open(url)?.get_connection()?,
        })
    }

    /// `used_memory`, bytes.
    fn used_memory(&mut self) -> anyhow::Result<u64> {
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query(&mut self.connection)?;
        info.lines()
            .find_map(|line| line.strip_prefix("used_memory:"))
            .and_then(|value| value.trim().parse().ok())
            .context("INFO memory has no used_memory")
    }

    /// `used_memory` less the streams (the flusher trims them), bytes.
    fn used_memory_outside_streams(&mut self) -> anyhow::Result<u64> {
        self.probe.used_memory_outside_streams()
    }

    /// Every key, by `SCAN`.
    fn keys(&mut self) -> anyhow::Result<Vec<String>> {
        let keys: Vec<String> = redis::cmd("SCAN")
            .cursor_arg(0)
            .arg("COUNT")
            .arg(10_000)
            .clone()
            .iter(&mut self.connection)?
            .collect::<Result<_, _>>()?;
        Ok(keys)
    }

    /// `MEMORY USAGE key SAMPLES 0` (every element counted) of each key, in one pipeline.
    fn memory_usage(&mut self, keys: &[String]) -> anyhow::Result<Vec<u64>> {
        let mut pipeline = redis::pipe();
        for key in keys {
            pipeline
                .cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0);
        }
        let usages: Vec<Option<u64>> = pipeline.query(&mut self.connection)?;
        Ok(usages.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// The members of each key that is a sorted set (a board or a deadline index), else 0.
    fn board_cards(&mut self, keys: &[String]) -> anyhow::Result<Vec<u64>> {
        let mut pipeline = redis::pipe();
        for key in keys {
            if kind_of(key) == "boards" {
                pipeline.zcard(key);
            } else {
                pipeline.cmd("ECHO").arg(0);
            }
        }
        Ok(pipeline.query(&mut self.connection)?)
    }
}

/// Seconds in a campaign day, as the clock offset counts them.
const DAY_SECS: i64 = 86_400;

/// Arguments of `month`.
#[derive(clap::Args)]
pub struct Args {
    /// The `safequiz` binary to run the service with.
    #[arg(long)]
    safequiz: PathBuf,
    /// The configuration folder given to `safequiz serve`.
    #[arg(long, default_value = "config")]
    config: PathBuf,
    /// Where the service listens (it gets `SAFEQUIZ_HTTP_ADDR`); the other settings come from
    /// the environment this command runs in.
    #[arg(long)]
    addr: SocketAddr,
    /// Redis, to weigh.
    #[arg(long)]
    redis_url: String,
    /// The database the service records into, for the zero-loss check.
    #[arg(long)]
    database_url: String,
    /// The campaign.
    #[arg(long, default_value = "safety-month")]
    campaign: String,
    /// Participants, each playing one attempt a day.
    #[arg(long, default_value_t = 100_000)]
    participants: usize,
    /// Campaign days to play.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// First phone number's serial (phones are 13 followed by 9 digits).
    #[arg(long, default_value_t = 0)]
    first_phone: u64,
    /// Leaf units participants register in, round robin (the load kit's usual mix of depths).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "110101,130102,440106,510104,660100,CE001"
    )]
    units: Vec<String>,
    /// Where the service's log goes (appended, every day).
    #[arg(long)]
    service_log: PathBuf,
    /// Where to write `attempt_id score` of every submit that answered 200.
    #[arg(long)]
    results: PathBuf,
    /// Where to write the summary (JSON).
    #[arg(long)]
    summary: PathBuf,
}

/// One running `safequiz serve`.
struct Service {
    child: Child,
}

impl Service {
    /// Starts the service `day` days ahead, with or without its flusher, and waits until it is
    /// ready.
    async fn start(args: &Args, day: u32, flusher: bool) -> anyhow::Result<Service> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&args.service_log)?;
        // Tokens are issued on day 0 and must outlive the month.
        let token_hours = (args.days + 2) * 24;
        let child = Command::new(&args.safequiz)
            .args(["serve", "--config"])
            .arg(&args.config)
            .env("SAFEQUIZ_HTTP_ADDR", args.addr.to_string())
            .env(
                "SAFEQUIZ__CLOCK__OFFSET_SECS",
                (i64::from(day) * DAY_SECS).to_string(),
            )
            .env("SAFEQUIZ__FLUSHER__ENABLED", flusher.to_string())
            .env(
                "SAFEQUIZ__AUTH__PARTICIPANT_TOKEN_TTL_HOURS",
                token_hours.to_string(),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", args.safequiz.display()))?;
        let mut service = Service { child };
        let started = Instant::now();
        let mut connection = Connection::new(args.addr);
        loop {
            if let Ok((StatusCode::OK, _)) =
                connection.send(Method::GET, "/readyz", None, None).await
            {
                return Ok(service);
            }
            if let Some(status) = service.child.try_wait()? {
                anyhow::bail!(
                    "the service exited with {status}; see {}",
                    args.service_log.display()
                );
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(120),
                "the service did not become ready; see {}",
                args.service_log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the service's flusher has written every finalized attempt to SQL and its
    /// board writer has applied them to the boards.
    async fn wait_flushed(args: &Args) -> anyhow::Result<()> {
        let mut connection = Connection::new(args.addr);
        let started = Instant::now();
        loop {
            let (_, body) = connection.send(Method::GET, "/readyz", None, None).await?;
            let ready: Value = serde_json::from_slice(&body)?;
            let waiting = ready["flush"]["pending"].as_u64().unwrap_or(1)
                + ready["flush"]["undelivered"].as_u64().unwrap_or(1)
                + ready["boards"]["unapplied"].as_u64().unwrap_or(1);
            if waiting == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(1800),
                "the flusher did not catch up: {ready}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops the service as a service manager does (SIGTERM) and waits for it.
    async fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while self.child.try_wait()?.is_none() {
            if started.elapsed() > Duration::from_secs(60) {
                self.child.kill()?;
                anyhow::bail!("the service did not stop on SIGTERM within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

/// Runs the month: prints the summary and exits 1 on any failed request, any loss, or an
/// unreachable target.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let args = Arc::new(args);
    let mut redis = Weigher::connect(&args.redis_url)?;
    let begun = Instant::now();

    // The empty campaign: the service started once (stream groups made, record migrated).
    let service = Service::start(&args, 0, false).await?;
    let baseline = redis.used_memory()?;
    let registered_at = Instant::now();
    let people = register_all(Registration {
        addr: args.addr,
        campaign: &args.campaign,
        units: &args.units,
        first_phone: args.first_phone,
        count: args.participants,
        connections: args.connections,
    })
    .await?;
    let registration_secs = registered_at.elapsed().as_secs_f64();
    let registered = redis.used_memory_outside_streams()?;
    let people = Arc::new(people);

    let mut results: Vec<(u64, u32, u32)> =
        Vec::with_capacity(args.participants * args.days as usize);
    let mut errors = 0usize;
    let mut days = Vec::new();
    let mut service = Some(service);
    let mut before_forgetting = None;
    let mut after_forgetting = None;
    for day in 0..args.days {
        let current = match service.take() {
            Some(current) => current,
            None => Service::start(&args, day, true).await?,
        };
        let played_at = Instant::now();
        let (played, failed) = play_day(&args, &people).await?;
        let play_secs = played_at.elapsed().as_secs_f64();
        errors += failed;
        let answered = played.len();
        results.extend(played);
        let current = if day == 0 {
            // Day 1 was played with the flusher held back: every attempt is still in Redis, as
            // it was before attempts were forgotten.
            before_forgetting = Some(redis.used_memory_outside_streams()?);
            current.stop().await?;
            Service::start(&args, day, true).await?
        } else {
            current
        };
        let flushed_at = Instant::now();
        Service::wait_flushed(&args).await?;
        let flush_wait_secs = flushed_at.elapsed().as_secs_f64();
        if day == 0 {
            after_forgetting = Some(redis.used_memory_outside_streams()?);
        }
        let used = redis.used_memory()?;
        eprintln!(
            "day {}/{}: {answered} attempts in {play_secs:.1} s ({:.0}/s), {failed} failed; \
             flushed {flush_wait_secs:.1} s later; Redis {:.0} B/participant above the baseline",
            day + 1,
            args.days,
            answered as f64 / play_secs.max(1e-9),
            used.saturating_sub(baseline) as f64 / people.len().max(1) as f64
        );
        days.push(json!({
            "day": day + 1,
            "attempts": answered,
            "failed": failed,
            "play_seconds": play_secs,
            "attempts_per_sec": answered as f64 / play_secs.max(1e-9),
            "flush_wait_seconds": flush_wait_secs,
            "redis_used_memory": used,
        }));
        if day + 1 == args.days {
            service = Some(current);
        } else {
            current.stop().await?;
        }
    }

    // Weighed with the service still up and idle, every attempt flushed and forgotten.
    let used_end = redis.used_memory()?;
    let outside_streams_end = redis.used_memory_outside_streams()?;
    let breakdown = breakdown(&mut redis, people.len())?;
    if let Some(service) = service.take() {
        service.stop().await?;
    }

    let mut file = std::io::BufWriter::new(std::fs::File::create(&args.results)?);
    for (participant, number, score) in &results {
        use std::io::Write;
        writeln!(file, "{participant}-{number} {score}")?;
    }
    drop(file);
    let loss = zero_loss(&args, &mut results).await?;

    let n = people.len().max(1) as f64;
    let per = |bytes: u64| bytes as f64 / n;
    let before = before_forgetting.unwrap_or(registered);
    let after = after_forgetting.unwrap_or(before);
    // What one attempt's fields weigh in its participant's hash: day 1 weighed with every
    // attempt kept, then once they were forgotten (totals and board entries are in both).
    let per_attempt_kept = before.saturating_sub(after) as f64 / n;
    let end = per(used_end.saturating_sub(baseline));
    let summary = json!({
        "participants": people.len(),
        "days": args.days,
        "attempts_answered": results.len(),
        "failed_requests": errors,
        "seconds": begun.elapsed().as_secs_f64(),
        "registration_per_sec": people.len() as f64 / registration_secs.max(1e-9),
        "redis_bytes": {
            "baseline_used_memory": baseline,
            "registered_outside_streams": registered,
            "day1_before_forgetting_outside_streams": before,
            "day1_after_forgetting_outside_streams": after,
            "end_used_memory": used_end,
            "end_outside_streams": outside_streams_end,
        },
        "per_participant": {
            "end_used_memory_above_baseline": per(used_end.saturating_sub(baseline)),
            "end_outside_streams_above_baseline": per(outside_streams_end.saturating_sub(baseline)),
            "after_registration": per(registered.saturating_sub(baseline)),
            "attempt_kept_in_redis_before_forgetting": per_attempt_kept,
            // A lower bound: a hash past 128 fields (22 attempts) leaves the compact listpack
            // encoding and weighs several times more per field.
            "without_forgetting_after_all_days_at_least": end
                + per_attempt_kept * f64::from(args.days),
            "target": 600,
        },
        "breakdown": breakdown,
        "zero_loss": loss,
        "days_played": days,
    });
    std::fs::write(&args.summary, serde_json::to_string_pretty(&summary)?)?;
    let total = per(used_end.saturating_sub(baseline));
    println!(
        "month: {} participants × {} days, {} attempts answered, {errors} failed requests; Redis \
         {total:.0} B/participant above the empty campaign at the end (target ≤ 600; without \
         forgetting it would be at least {:.0}); zero loss: {} missing, {} different",
        people.len(),
        args.days,
        results.len(),
        end + per_attempt_kept * f64::from(args.days),
        loss["missing"],
        loss["different"],
    );
    let lost = loss["missing"].as_u64() != Some(0) || loss["different"].as_u64() != Some(0);
    Ok(if errors == 0 && !lost {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One whole attempt per participant on every connection; each answered submit as
/// `(participant, attempt number, score)`, and the count of failed requests.
async fn play_day(
    args: &Arc<Args>,
    people: &Arc<Vec<(u64, String)>>,
) -> anyhow::Result<(Vec<(u64, u32, u32)>, usize)> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (args, next, people) = (args.clone(), next.clone(), people.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::new(args.addr);
            let start_path = format!("/api/v1/campaigns/{}/attempts", args.campaign);
            let mut played = Vec::new();
            let mut failed = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((_, token)) = people.get(i) else {
                    return Ok::<_, anyhow::Error>((played, failed));
                };
                let token = Some(token.as_str());
                let (status, body) = connection
                    .send(Method::POST, &start_path, token, None)
                    .await?;
                if status != StatusCode::CREATED {
                    failed += 1;
                    if failed <= 3 {
                        eprintln!(
                            "start answered {status}: {}",
                            String::from_utf8_lossy(&body)
                        );
                    }
                    continue;
                }
                let started: Started<'_> =
                    serde_json::from_slice(&body).context("a start's body")?;
                for (path, body) in started.saves() {
                    let (status, _) = connection
                        .send(Method::PUT, &path, token, Some(body))
                        .await?;
                    if status != StatusCode::NO_CONTENT {
                        failed += 1;
                    }
                }
                let path = format!("/api/v1/attempts/{}/submit", started.attempt_id);
                let (status, body) = connection.send(Method::POST, &path, token, None).await?;
                if status != StatusCode::OK {
                    failed += 1;
                    continue;
                }
                let submitted: Submitted<'_> =
                    serde_json::from_slice(&body).context("a submit's body")?;
                let (participant, number) = split_attempt(submitted.attempt_id)
                    .context("a submit named a malformed attempt id")?;
                played.push((participant, number, submitted.score));
            }
        }));
    }
    let mut played = Vec::with_capacity(people.len());
    let mut failed = 0;
    for task in tasks {
        let (part, count) = task.await??;
        played.extend(part);
        failed += count;
    }
    Ok((played, failed))
}

/// `<participant>-<n>` as numbers.
fn split_attempt(id: &str) -> Option<(u64, u32)> {
    let (participant, number) = id.split_once('-')?;
    Some((participant.parse().ok()?, number.parse().ok()?))
}

/// Redis by kind of key, per participant: `MEMORY USAGE` summed over every key of each kind
/// (participant hashes, the people and phones hashes, boards, unit totals, deadline indexes,
/// streams), the board entries, and what the keyspace itself costs beyond the values.
fn breakdown(redis: &mut Weigher, participants: usize) -> anyhow::Result<Value> {
    let keys = redis.keys()?;
    let mut bytes: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    let mut board_entries = 0u64;
    let mut boards = 0u64;
    for chunk in keys.chunks(1000) {
        let usages = redis.memory_usage(chunk)?;
        let cards = redis.board_cards(chunk)?;
        for ((key, usage), card) in chunk.iter().zip(usages).zip(cards) {
            let kind = kind_of(key);
            let entry = bytes.entry(kind).or_default();
            entry.0 += usage;
            entry.1 += 1;
            if kind == "boards" {
                board_entries += card;
                boards += 1;
            }
        }
    }
    let n = participants.max(1) as f64;
    let values: u64 = bytes.values().map(|(b, _)| b).sum();
    let mut kinds = serde_json::Map::new();
    for (kind, (b, count)) in &bytes {
        kinds.insert(
            (*kind).to_owned(),
            json!({"keys": count, "bytes": b, "bytes_per_participant": *b as f64 / n}),
        );
    }
    Ok(json!({
        "by_kind": kinds,
        "values_bytes_per_participant": values as f64 / n,
        "boards": boards,
        "board_entries_per_participant": board_entries as f64 / n,
        "keys": keys.len(),
    }))
}

/// The kind of a key by its last part (the shapes are `safequiz_redis::keys`').
fn kind_of(key: &str) -> &'static str {
    let tail = key.rsplit_once('}').map_or(key, |(_, tail)| tail);
    // An individual board is a key of its own, `{campaign:board:<unit>}`, nothing after the tag.
    if tail.is_empty() && key.contains(":board:") {
        return "boards";
    }
    match tail {
        ":people" => "people",
        ":phones" => "phones",
        ":totals" => "unit_totals",
        ":deadlines" => "deadlines",
        ":stream" | ":dead" => "streams",
        ":seq" => "sequences",
        ":boards:cursor" | ":boards:lease" => "board_writer",
        _ if tail.starts_with(":p:") => "participant_hashes",
        // The per-phone registration counters: transient, gone a window after registering.
        _ if tail.starts_with(":reg:") => "registration_counters",
        _ => "other",
    }
}

/// Every answered submit against the record, a page of attempts at a time.
async fn zero_loss(args: &Args, results: &mut [(u64, u32, u32)]) -> anyhow::Result<Value> {
    let store = Store::connect_lazy(&DatabaseSettings {
        url: SecretString::from(args.database_url.clone()),
        max_connections: 2,
    })?;
    results.sort_unstable();
    let mut seen = vec![false; results.len()];
    let mut after = String::new();
    let mut rows = 0u64;
    let mut different = 0u64;
    loop {
        let page = store
            .recorded_points(&args.campaign, &after, 20_000)
            .await?;
        let Some((last, _)) = page.last() else { break };
        after = last.clone();
        for (attempt, points) in &page {
            rows += 1;
            let Some((participant, number)) = split_attempt(attempt) else {
                continue;
            };
            let at = results.binary_search_by(|(p, n, _)| (*p, *n).cmp(&(participant, number)));
            if let Ok(at) = at {
                seen[at] = true;
                if i64::from(results[at].2) != i64::from(*points) {
                    different += 1;
                }
            }
        }
    }
    let missing = seen.iter().filter(|seen| !**seen).count();
    for ((participant, number, score), _) in
        results.iter().zip(&seen).filter(|(_, s)| !**s).take(20)
    {
        eprintln!("missing in SQL: attempt {participant}-{number} (score {score})");
    }
    Ok(json!({
        "answered_submits": results.len(),
        "rows_in_sql": rows,
        "missing": missing,
        "different": different,
    }))
}
