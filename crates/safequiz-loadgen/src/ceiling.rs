//! The ceiling run: register participants, hold some attempts open to weigh them, then play
//! attempts back to back on every connection and measure CPU per unit of work.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use http::{Method, StatusCode};
use serde_json::json;

use crate::client::Connection;
use crate::measure::{RedisProbe, percentile, process_cpu_micros, process_rss_bytes};
use crate::wire::{OpenAttempt, Registration, Started, Submitted, register_all};

/// Arguments of `ceiling`.
#[derive(clap::Args)]
pub struct Args {
    /// The service, `127.0.0.1:8080`.
    #[arg(long)]
    addr: SocketAddr,
    /// The campaign.
    #[arg(long, default_value = "safety-month")]
    campaign: String,
    /// Participants to register (each plays at most one attempt).
    #[arg(long, default_value_t = 20_000)]
    participants: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Longest measured phase, seconds.
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,
    /// Attempts held open (started, not submitted) to weigh an open attempt; played afterwards.
    #[arg(long, default_value_t = 2_000)]
    open_attempts: usize,
    /// Participants kept apart for the per-script phase after the measured run.
    #[arg(long, default_value_t = 3_000)]
    script_participants: usize,
    /// First phone number's serial (phones are 13 followed by 9 digits).
    #[arg(long, default_value_t = 0)]
    first_phone: u64,
    /// Leaf units participants register in, round robin.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "110101,130102,440106,510104,660100,CE001"
    )]
    units: Vec<String>,
    /// The service's process id, to measure its CPU and memory.
    #[arg(long)]
    service_pid: Option<u32>,
    /// A separate `safequiz flush` process, to measure its CPU.
    #[arg(long)]
    flusher_pid: Option<u32>,
    /// Redis, to measure its CPU, memory and per-script costs.
    #[arg(long)]
    redis_url: Option<String>,
    /// Where to write `attempt_id score` of every submit that answered 200.
    #[arg(long)]
    results: PathBuf,
    /// Where to write the summary (JSON).
    #[arg(long)]
    summary: Option<PathBuf>,
}

/// Latencies (µs) and outcomes of one connection.
#[derive(Default)]
struct Tally {
    start: Vec<u32>,
    save: Vec<u32>,
    submit: Vec<u32>,
    errors: usize,
    results: Vec<(String, u32)>,
}

/// CPU and memory counters at an instant.
struct Snapshot {
    at: Instant,
    own_cpu: u64,
    service_cpu: u64,
    flusher_cpu: u64,
    redis_cpu: u64,
}

fn snapshot(args: &Args, redis: &mut Option<RedisProbe>) -> anyhow::Result<Snapshot> {
    Ok(Snapshot {
        at: Instant::now(),
        own_cpu: process_cpu_micros(std::process::id())?,
        service_cpu: args
            .service_pid
            .map(process_cpu_micros)
            .transpose()?
            .unwrap_or(0),
        flusher_cpu: args
            .flusher_pid
            .map(process_cpu_micros)
            .transpose()?
            .unwrap_or(0),
        redis_cpu: redis
            .as_mut()
            .map(RedisProbe::cpu_micros)
            .transpose()?
            .unwrap_or(0),
    })
}

/// Runs the ceiling: prints a summary and exits 1 on any failed request.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut redis = args
        .redis_url
        .as_deref()
        .map(RedisProbe::connect)
        .transpose()?;
    let args = Arc::new(args);

    // Phase 1: registrations (not part of the attempt figures).
    let memory_before = redis
        .as_mut()
        .map(RedisProbe::used_memory_outside_streams)
        .transpose()?;
    let registered = Instant::now();
    let mut tokens: Vec<String> = register_all(Registration {
        addr: args.addr,
        campaign: &args.campaign,
        units: &args.units,
        first_phone: args.first_phone,
        count: args.participants,
        connections: args.connections.min(64),
    })
    .await?
    .into_iter()
    .map(|(_, token)| token)
    .collect();
    let apart = tokens.split_off(tokens.len().saturating_sub(args.script_participants));
    let registration_secs = registered.elapsed().as_secs_f64();
    let memory_registered = redis
        .as_mut()
        .map(RedisProbe::used_memory_outside_streams)
        .transpose()?;

    // Phase 2: open attempts, to weigh one in Redis and in the service.
    let open = args.open_attempts.min(tokens.len());
    let rss_before = args.service_pid.map(process_rss_bytes).transpose()?;
    let opened = start_many(&args, &tokens[..open]).await?;
    let memory_open = redis
        .as_mut()
        .map(RedisProbe::used_memory_outside_streams)
        .transpose()?;
    let rss_open = args.service_pid.map(process_rss_bytes).transpose()?;

    // Phase 3: the measured run. The open attempts are resumed and played first.
    if let Some(redis) = redis.as_mut() {
        redis.reset_stats()?;
    }
    let before = snapshot(&args, &mut redis)?;
    let next = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(tokens);
    let deadline = Instant::now() + Duration::from_secs(args.duration_secs);
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (args, next, tokens) = (args.clone(), next.clone(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            play(&args, &tokens, &next, deadline).await
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        let part = task.await??;
        tally.start.extend(part.start);
        tally.save.extend(part.save);
        tally.submit.extend(part.submit);
        tally.errors += part.errors;
        tally.results.extend(part.results);
    }
    let after = snapshot(&args, &mut redis)?;
    let stats = redis.as_mut().map(RedisProbe::command_stats).transpose()?;
    let attempts_measured = tally.results.len();
    let per_script = match redis.as_mut() {
        Some(redis) => json!(per_script(&args, &apart, redis, &mut tally.results).await?),
        None => json!(null),
    };

    let secs = (after.at - before.at).as_secs_f64();
    let attempts = attempts_measured;
    let requests = tally.start.len() + tally.save.len() + tally.submit.len();
    let per = |micros: u64, count: usize| micros as f64 / count.max(1) as f64;
    let latency = |values: &mut Vec<u32>| {
        values.sort_unstable();
        json!({
            "count": values.len(),
            "p50_ms": f64::from(percentile(values, 50.0)) / 1000.0,
            "p90_ms": f64::from(percentile(values, 90.0)) / 1000.0,
            "p99_ms": f64::from(percentile(values, 99.0)) / 1000.0,
            "max_ms": f64::from(values.last().copied().unwrap_or(0)) / 1000.0,
        })
    };
    let scripts: Vec<_> = stats
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, calls, _)| *calls > 0)
        .map(|(name, calls, micros)| json!({"command": name, "calls": calls, "usec_per_call": micros}))
        .collect();
    let summary = json!({
        "connections": args.connections,
        "seconds": secs,
        "attempts": attempts,
        "attempts_per_sec": attempts as f64 / secs,
        "requests": requests,
        "requests_per_sec": requests as f64 / secs,
        "errors": tally.errors,
        "latency": {
            "start": latency(&mut tally.start),
            "save": latency(&mut tally.save),
            "submit": latency(&mut tally.submit),
        },
        "cpu_us": {
            "service_per_request": per(after.service_cpu - before.service_cpu, requests),
            "service_per_attempt": per(after.service_cpu - before.service_cpu, attempts),
            "redis_per_request": per(after.redis_cpu - before.redis_cpu, requests),
            "redis_per_attempt": per(after.redis_cpu - before.redis_cpu, attempts),
            "generator_per_request": per(after.own_cpu - before.own_cpu, requests),
            "flusher_per_attempt": per(after.flusher_cpu - before.flusher_cpu, attempts),
        },
        "redis_commands": scripts,
        "redis_per_script": per_script,
        "memory": {
            "redis_bytes_per_participant": match (memory_before, memory_registered) {
                (Some(a), Some(b)) => json!(b.saturating_sub(a) as f64 / tokens.len().max(1) as f64),
                _ => json!(null),
            },
            "redis_bytes_per_open_attempt": match (memory_registered, memory_open) {
                (Some(a), Some(b)) => json!(b.saturating_sub(a) as f64 / opened.max(1) as f64),
                _ => json!(null),
            },
            "service_rss_bytes": rss_open,
            "service_bytes_per_open_attempt": match (rss_before, rss_open) {
                (Some(a), Some(b)) => json!(b.saturating_sub(a) as f64 / opened.max(1) as f64),
                _ => json!(null),
            },
        },
        "registration": {
            "participants": tokens.len(),
            "per_sec": tokens.len() as f64 / registration_secs,
        },
    });
    // Every submit that answered 200, the per-script phase's too, for the zero-loss check.
    let mut file = std::io::BufWriter::new(std::fs::File::create(&args.results)?);
    for (attempt, score) in &tally.results {
        writeln!(file, "{attempt} {score}")?;
    }
    file.flush()?;
    let text = serde_json::to_string_pretty(&summary)?;
    if let Some(path) = &args.summary {
        std::fs::write(path, &text)?;
    }
    println!("{text}");
    Ok(if tally.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Each script's cost, one kind of request at a time over all connections: `INFO commandstats`
/// lumps every script under `evalsha`, so the phases are run apart (all starts, then all saves,
/// then all submits) and each is read on its own. Returns, per script: calls, EVALSHA µs per
/// call, and Redis CPU µs per request (the script plus reading, parsing and answering).
async fn per_script(
    args: &Arc<Args>,
    tokens: &[String],
    redis: &mut RedisProbe,
    results: &mut Vec<(String, u32)>,
) -> anyhow::Result<serde_json::Value> {
    let path = Arc::new(format!("/api/v1/campaigns/{}/attempts", args.campaign));
    let tokens: Arc<Vec<String>> = Arc::new(tokens.to_vec());
    let mut figures = serde_json::Map::new();

    // One phase: `requests(token_index)` lists the requests of one participant in this phase.
    let started: Arc<std::sync::Mutex<Vec<Option<OpenAttempt>>>> = Arc::new(std::sync::Mutex::new(
        (0..tokens.len()).map(|_| None).collect(),
    ));
    for phase in ["start", "save", "submit"] {
        redis.reset_stats()?;
        let cpu_before = redis.cpu_micros()?;
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..args.connections {
            let (args, next, tokens, started, path) = (
                args.clone(),
                next.clone(),
                tokens.clone(),
                started.clone(),
                path.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut connection = Connection::new(args.addr);
                let mut requests = 0usize;
                let mut submitted = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else {
                        return Ok::<_, anyhow::Error>((requests, submitted));
                    };
                    let token = Some(token.as_str());
                    match phase {
                        "start" => {
                            let (status, body) =
                                connection.send(Method::POST, &path, token, None).await?;
                            anyhow::ensure!(status.is_success(), "start answered {status}");
                            let attempt: Started<'_> = serde_json::from_slice(&body)?;
                            started.lock().expect("not poisoned")[i] = Some(attempt.to_open());
                            requests += 1;
                        }
                        _ => {
                            let Some(attempt) = started.lock().expect("not poisoned")[i].take()
                            else {
                                continue;
                            };
                            if phase == "save" {
                                for (path, body) in attempt.saves() {
                                    let (status, _) = connection
                                        .send(Method::PUT, &path, token, Some(body))
                                        .await?;
                                    anyhow::ensure!(status.is_success(), "save answered {status}");
                                    requests += 1;
                                }
                                started.lock().expect("not poisoned")[i] = Some(attempt);
                            } else {
                                let path =
                                    format!("/api/v1/attempts/{}/submit", attempt.attempt_id);
                                let (status, body) =
                                    connection.send(Method::POST, &path, token, None).await?;
                                anyhow::ensure!(status.is_success(), "submit answered {status}");
                                let result: Submitted<'_> = serde_json::from_slice(&body)?;
                                submitted.push((result.attempt_id.to_owned(), result.score));
                                requests += 1;
                            }
                        }
                    }
                }
            }));
        }
        let mut requests = 0;
        for task in tasks {
            let (count, submitted) = task.await??;
            requests += count;
            results.extend(submitted);
        }
        let cpu = redis.cpu_micros()? - cpu_before;
        let stats = redis.command_stats()?;
        let (calls, micros) = stats
            .iter()
            .find(|(name, _, _)| name == "evalsha")
            .map_or((0, 0.0), |(_, calls, micros)| (*calls, *micros));
        figures.insert(
            phase.to_owned(),
            json!({
                "requests": requests,
                "evalsha_calls": calls,
                "evalsha_usec_per_call": micros,
                "redis_cpu_usec_per_request": cpu as f64 / requests.max(1) as f64,
            }),
        );
    }
    Ok(serde_json::Value::Object(figures))
}

async fn start_many(args: &Arc<Args>, tokens: &[String]) -> anyhow::Result<usize> {
    let mut connection = Connection::new(args.addr);
    let path = format!("/api/v1/campaigns/{}/attempts", args.campaign);
    for token in tokens {
        let (status, body) = connection
            .send(Method::POST, &path, Some(token), None)
            .await?;
        anyhow::ensure!(
            status == StatusCode::CREATED,
            "start answered {status}: {body:?}"
        );
    }
    Ok(tokens.len())
}

/// Plays attempts on one connection until participants run out or time is up.
async fn play(
    args: &Args,
    tokens: &[String],
    next: &AtomicUsize,
    deadline: Instant,
) -> anyhow::Result<Tally> {
    let mut connection = Connection::new(args.addr);
    let mut tally = Tally::default();
    let start_path = format!("/api/v1/campaigns/{}/attempts", args.campaign);
    while Instant::now() < deadline {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(token) = tokens.get(i) else { break };
        let token = Some(token.as_str());

        let sent = Instant::now();
        let (status, body) = connection
            .send(Method::POST, &start_path, token, None)
            .await?;
        tally.start.push(micros(sent));
        if !status.is_success() {
            tally.errors += 1;
            continue;
        }
        let started: Started<'_> = serde_json::from_slice(&body).context("a start's body")?;
        for (path, body) in started.saves() {
            let sent = Instant::now();
            let (status, _) = connection
                .send(Method::PUT, &path, token, Some(body))
                .await?;
            tally.save.push(micros(sent));
            if status != StatusCode::NO_CONTENT {
                tally.errors += 1;
            }
        }
        let path = format!("/api/v1/attempts/{}/submit", started.attempt_id);
        let sent = Instant::now();
        let (status, body) = connection.send(Method::POST, &path, token, None).await?;
        tally.submit.push(micros(sent));
        if status != StatusCode::OK {
            tally.errors += 1;
            continue;
        }
        let submitted: Submitted<'_> = serde_json::from_slice(&body).context("a submit's body")?;
        tally
            .results
            .push((submitted.attempt_id.to_owned(), submitted.score));
    }
    Ok(tally)
}

fn micros(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX)
}
