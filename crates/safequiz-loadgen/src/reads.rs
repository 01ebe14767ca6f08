//! The reads run (issue 22): what each kind of request costs, and what a participant's whole
//! journey costs against the attempt alone, in one run.
//!
//! First the boards are filled: `--board-participants` participants register and finish one
//! attempt each (not measured; submitted at once with 0 to 5 answers, so the boards hold a few
//! hundred distinct scores and long ties, a hard case for ranks), and the flusher catches up. Then every kind is run apart at full
//! speed on keep-alive connections, so that each window holds one kind only: `units`,
//! `register`, `start`, `save`, `submit` (each of a fresh set of participants), and `me`,
//! `unit_board` (`leaderboards/units?parent=region`, the journey's board) and `people_board`
//! (`leaderboards/participants?limit=100`) for `--read-secs` each. Last come two mixes, each
//! connection playing them back to back: `attempt` (start, 5 saves, submit) and `journey`
//! (units, register, start, 5 saves, submit, me, one unit board), each on fresh participants.
//!
//! Each window runs from the first request until the last answer and the flusher has written
//! what the window produced (so the flusher's stream reads fall in the window that caused
//! them); it reads the service's and the flusher's CPU from `/proc`, Redis's from `INFO cpu`,
//! and Redis's commands from `INFO commandstats`. Every submit that answered 200 is written to
//! `--results` for the zero-loss check; the figures go to `--summary` as JSON.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::client::Connection;
use crate::measure::{RedisProbe, percentile, process_cpu_micros};
use crate::wire::{OpenAttempt, Registered, Started, Submitted};

/// Arguments of `reads`.
#[derive(clap::Args)]
pub struct Args {
    /// The service, `127.0.0.1:8080`.
    #[arg(long)]
    addr: SocketAddr,
    /// The campaign.
    #[arg(long, default_value = "safety-month")]
    campaign: String,
    /// Participants put on the boards (one finished attempt each) before anything is measured.
    #[arg(long, default_value_t = 100_000)]
    board_participants: usize,
    /// Participants of each measured kind that writes (register, start, save, submit) and of
    /// each mix (attempt, journey).
    #[arg(long, default_value_t = 4_000)]
    per_kind: usize,
    /// Seconds each read kind (units, me, the boards) runs at full speed.
    #[arg(long, default_value_t = 5)]
    read_secs: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// First phone number's serial (phones are 13 followed by 9 digits); each set of
    /// participants takes the next 10,000,000.
    #[arg(long, default_value_t = 0)]
    first_phone: u64,
    /// Leaf units participants register in, round robin.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "110101,130102,440106,510104,660100,CE001"
    )]
    units: Vec<String>,
    /// The service's process id.
    #[arg(long)]
    service_pid: u32,
    /// A separate `safequiz flush` process, to measure its CPU.
    #[arg(long)]
    flusher_pid: Option<u32>,
    /// Redis, to measure its CPU and commands.
    #[arg(long)]
    redis_url: String,
    /// Where to write `attempt_id score` of every submit that answered 200.
    #[arg(long)]
    results: PathBuf,
    /// Where to write the figures (JSON).
    #[arg(long)]
    summary: Option<PathBuf>,
}

/// What one window runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Units,
    Register,
    Start,
    Save,
    Submit,
    Me,
    UnitBoard,
    PeopleBoard,
    /// Start, 5 saves, submit of an already registered participant.
    Attempt,
    /// Units, register, start, 5 saves, submit, me, one unit board.
    Journey,
    /// Register, start and submit with 0 to 5 answers: fills the boards.
    Fill,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Units => "units",
            Kind::Register => "register",
            Kind::Start => "start",
            Kind::Save => "save",
            Kind::Submit => "submit",
            Kind::Me => "me",
            Kind::UnitBoard => "unit_board",
            Kind::PeopleBoard => "people_board",
            Kind::Attempt => "attempt",
            Kind::Journey => "journey",
            Kind::Fill => "fill",
        }
    }
}

/// One participant of a set: their token once registered, their open attempt once started.
#[derive(Default)]
struct Player {
    token: Option<String>,
    attempt: Option<OpenAttempt>,
}

/// A set of participants, phones `13<serial>` from `first_phone` on.
struct Players {
    first_phone: u64,
    players: Vec<Mutex<Player>>,
}

impl Players {
    fn new(first_phone: u64, count: usize) -> Arc<Players> {
        Arc::new(Players {
            first_phone,
            players: (0..count).map(|_| Mutex::new(Player::default())).collect(),
        })
    }

    fn get(&self, i: usize) -> std::sync::MutexGuard<'_, Player> {
        self.players[i].lock().expect("not poisoned")
    }
}

/// Paths and settings every request needs.
struct Plan {
    api: String,
    units: Vec<String>,
}

/// What one connection did in a window.
#[derive(Default)]
struct Tally {
    latencies: Vec<u32>,
    errors: usize,
    /// Items done (participants of a set, or requests of a read kind).
    items: usize,
    results: Vec<(String, u32)>,
}

/// Sends one request; records its latency and counts it as an error unless `expected`.
async fn send(
    connection: &mut Connection,
    tally: &mut Tally,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Bytes>,
    expected: StatusCode,
) -> anyhow::Result<Option<Bytes>> {
    let sent = Instant::now();
    let (status, body) = connection.send(method, path, token, body).await?;
    tally
        .latencies
        .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
    if status == expected {
        Ok(Some(body))
    } else {
        tally.errors += 1;
        Ok(None)
    }
}

async fn register(
    plan: &Plan,
    connection: &mut Connection,
    tally: &mut Tally,
    players: &Players,
    i: usize,
) -> anyhow::Result<Option<String>> {
    let body = json!({
        "name": "压测者",
        "phone": format!("13{:09}", players.first_phone + i as u64),
        "unit_id": plan.units[i % plan.units.len()],
        "consent": true,
    });
    let path = format!("{}/participants", plan.api);
    let body = Bytes::from(body.to_string());
    let Some(answer) = send(
        connection,
        tally,
        Method::POST,
        &path,
        None,
        Some(body),
        StatusCode::CREATED,
    )
    .await?
    else {
        return Ok(None);
    };
    let registered: Registered = serde_json::from_slice(&answer).context("a registration")?;
    players.get(i).token = Some(registered.token.clone());
    Ok(Some(registered.token))
}

async fn start(
    plan: &Plan,
    connection: &mut Connection,
    tally: &mut Tally,
    players: &Players,
    i: usize,
) -> anyhow::Result<()> {
    let Some(token) = players.get(i).token.clone() else {
        return Ok(());
    };
    let path = format!("{}/attempts", plan.api);
    let answer = send(
        connection,
        tally,
        Method::POST,
        &path,
        Some(&token),
        None,
        StatusCode::CREATED,
    )
    .await?;
    if let Some(answer) = answer {
        let started: Started<'_> = serde_json::from_slice(&answer).context("a start")?;
        players.get(i).attempt = Some(started.to_open());
    }
    Ok(())
}

async fn save_all(
    connection: &mut Connection,
    tally: &mut Tally,
    players: &Players,
    i: usize,
) -> anyhow::Result<()> {
    let (token, saves) = {
        let player = players.get(i);
        let Some(attempt) = &player.attempt else {
            return Ok(());
        };
        (player.token.clone(), attempt.saves().collect::<Vec<_>>())
    };
    for (path, body) in saves {
        send(
            connection,
            tally,
            Method::PUT,
            &path,
            token.as_deref(),
            Some(body),
            StatusCode::NO_CONTENT,
        )
        .await?;
    }
    Ok(())
}

/// Submits participant `i`'s open attempt, answering its first `answered` questions with their
/// first option in the submit's body (the fill's way to spread points without saves).
async fn submit(
    connection: &mut Connection,
    tally: &mut Tally,
    players: &Players,
    i: usize,
    answered: usize,
) -> anyhow::Result<()> {
    let (token, attempt_id, body) = {
        let mut player = players.get(i);
        let Some(attempt) = player.attempt.take() else {
            return Ok(());
        };
        let answers: serde_json::Map<String, Value> = attempt
            .keys
            .iter()
            .take(answered)
            .enumerate()
            .map(|(index, key)| (index.to_string(), json!([key])))
            .collect();
        let body =
            (!answers.is_empty()).then(|| Bytes::from(json!({ "answers": answers }).to_string()));
        (player.token.clone(), attempt.attempt_id, body)
    };
    let path = format!("/api/v1/attempts/{attempt_id}/submit");
    let answer = send(
        connection,
        tally,
        Method::POST,
        &path,
        token.as_deref(),
        body,
        StatusCode::OK,
    )
    .await?;
    if let Some(answer) = answer {
        let submitted: Submitted<'_> = serde_json::from_slice(&answer).context("a submit")?;
        tally
            .results
            .push((submitted.attempt_id.to_owned(), submitted.score));
    }
    Ok(())
}

async fn get(
    connection: &mut Connection,
    tally: &mut Tally,
    path: &str,
    token: Option<&str>,
) -> anyhow::Result<()> {
    send(
        connection,
        tally,
        Method::GET,
        path,
        token,
        None,
        StatusCode::OK,
    )
    .await?;
    Ok(())
}

/// One item of `kind` on one connection: participant `i` of `players` (the `me` kind reads
/// participant `i mod len` of `readers`).
async fn item(
    kind: Kind,
    plan: &Plan,
    connection: &mut Connection,
    tally: &mut Tally,
    players: &Players,
    readers: &[String],
    i: usize,
) -> anyhow::Result<()> {
    let unit_board = format!("{}/leaderboards/units?parent=region", plan.api);
    match kind {
        Kind::Units => {
            let path = format!("{}/units?entry=region", plan.api);
            get(connection, tally, &path, None).await?;
        }
        Kind::Register => {
            register(plan, connection, tally, players, i).await?;
        }
        Kind::Start => start(plan, connection, tally, players, i).await?,
        Kind::Save => save_all(connection, tally, players, i).await?,
        Kind::Submit => submit(connection, tally, players, i, 0).await?,
        Kind::Me => {
            let token = &readers[i % readers.len().max(1)];
            let path = format!("{}/me", plan.api);
            get(connection, tally, &path, Some(token)).await?;
        }
        Kind::UnitBoard => get(connection, tally, &unit_board, None).await?,
        Kind::PeopleBoard => {
            let path = format!("{}/leaderboards/participants?limit=100", plan.api);
            get(connection, tally, &path, None).await?;
        }
        Kind::Attempt => {
            start(plan, connection, tally, players, i).await?;
            save_all(connection, tally, players, i).await?;
            submit(connection, tally, players, i, 0).await?;
        }
        Kind::Fill => {
            if register(plan, connection, tally, players, i)
                .await?
                .is_some()
            {
                start(plan, connection, tally, players, i).await?;
                submit(connection, tally, players, i, 0).await?;
            }
        }
        Kind::Journey => {
            let path = format!("{}/units?entry=region", plan.api);
            get(connection, tally, &path, None).await?;
            let Some(token) = register(plan, connection, tally, players, i).await? else {
                return Ok(());
            };
            start(plan, connection, tally, players, i).await?;
            save_all(connection, tally, players, i).await?;
            submit(connection, tally, players, i, 0).await?;
            let path = format!("{}/me", plan.api);
            get(connection, tally, &path, Some(&token)).await?;
            get(connection, tally, &unit_board, None).await?;
        }
    }
    tally.items += 1;
    Ok(())
}

/// The service, the flusher and Redis around a window.
struct Meter<'a> {
    args: &'a Args,
    redis: RedisProbe,
    base: Connection,
}

/// CPU counters at an instant, µs.
struct Counters {
    at: Instant,
    own: u64,
    service: u64,
    flusher: u64,
    redis: u64,
}

impl Meter<'_> {
    fn counters(&mut self) -> anyhow::Result<Counters> {
        Ok(Counters {
            at: Instant::now(),
            own: process_cpu_micros(std::process::id())?,
            service: process_cpu_micros(self.args.service_pid)?,
            flusher: self
                .args
                .flusher_pid
                .map(process_cpu_micros)
                .transpose()?
                .unwrap_or(0),
            redis: self.redis.cpu_micros()?,
        })
    }

    /// Waits until the board writer has applied every finalized attempt and, with a flusher,
    /// the flusher has written every stream entry (`/readyz`: nothing pending, undelivered or
    /// unapplied), at most `limit`.
    async fn flushed(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let (_, body) = self.base.send(Method::GET, "/readyz", None, None).await?;
            let ready: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let mut waiting = ready["boards"]["unapplied"].as_u64().unwrap_or(1);
            if self.args.flusher_pid.is_some() {
                waiting += ready["flush"]["pending"].as_u64().unwrap_or(1)
                    + ready["flush"]["undelivered"].as_u64().unwrap_or(1);
            }
            if waiting == 0 {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the flusher or the board writer did not catch up within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Runs `kind` over items `0..count` (or for `secs` when given) on every connection; returns
/// the window's tally and figures.
#[allow(clippy::too_many_arguments)]
async fn window(
    meter: &mut Meter<'_>,
    plan: &Arc<Plan>,
    kind: Kind,
    players: &Arc<Players>,
    readers: &Arc<Vec<String>>,
    count: usize,
    secs: Option<u64>,
    results: &mut Vec<(String, u32)>,
) -> anyhow::Result<Value> {
    meter.flushed(Duration::from_secs(600)).await?;
    meter.redis.reset_stats()?;
    let before = meter.counters()?;
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = secs.map(|secs| Instant::now() + Duration::from_secs(secs));
    let mut tasks = Vec::new();
    for _ in 0..meter.args.connections {
        let (plan, players, readers, next) =
            (plan.clone(), players.clone(), readers.clone(), next.clone());
        let addr = meter.args.addr;
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::new(addr);
            let mut tally = Tally::default();
            loop {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if deadline.is_none() && i >= count {
                    break;
                }
                item(
                    kind,
                    &plan,
                    &mut connection,
                    &mut tally,
                    &players,
                    &readers,
                    i,
                )
                .await?;
            }
            Ok::<_, anyhow::Error>(tally)
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        let part = task.await??;
        tally.latencies.extend(part.latencies);
        tally.errors += part.errors;
        tally.items += part.items;
        tally.results.extend(part.results);
    }
    let answered = Instant::now();
    meter.flushed(Duration::from_secs(600)).await?;
    let after = meter.counters()?;
    let stats = meter.redis.command_stats()?;
    results.append(&mut tally.results);

    let requests = tally.latencies.len();
    let per = |micros: u64, count: usize| micros as f64 / count.max(1) as f64;
    tally.latencies.sort_unstable();
    let ms = |p: f64| f64::from(percentile(&tally.latencies, p)) / 1000.0;
    let mut commands: Vec<(String, u64, f64)> = stats
        .into_iter()
        .filter(|(name, calls, _)| *calls > 0 && name != "info" && name != "config|resetstat")
        .collect();
    commands.sort_by(|a, b| (b.1 as f64 * b.2).total_cmp(&(a.1 as f64 * a.2)));
    let commands: Vec<Value> = commands
        .into_iter()
        .map(|(name, calls, usec)| {
            json!({
                "command": name,
                "calls_per_item": calls as f64 / tally.items.max(1) as f64,
                "usec_per_call": usec,
            })
        })
        .collect();
    let seconds = (answered - before.at).as_secs_f64();
    Ok(json!({
        "kind": kind.name(),
        "items": tally.items,
        "requests": requests,
        "errors": tally.errors,
        "seconds": seconds,
        "window_seconds": (after.at - before.at).as_secs_f64(),
        "requests_per_sec": requests as f64 / seconds,
        "p50_ms": ms(50.0),
        "p99_ms": ms(99.0),
        "cpu_us": {
            "service_per_request": per(after.service - before.service, requests),
            "redis_per_request": per(after.redis - before.redis, requests),
            "flusher_per_request": per(after.flusher - before.flusher, requests),
            "generator_per_request": per(after.own - before.own, requests),
            "service_per_item": per(after.service - before.service, tally.items),
            "redis_per_item": per(after.redis - before.redis, tally.items),
            "flusher_per_item": per(after.flusher - before.flusher, tally.items),
        },
        "redis_commands": commands,
    }))
}

/// Runs the reads run; exits 1 on any failed request.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let args = Arc::new(args);
    let plan = Arc::new(Plan {
        api: format!("/api/v1/campaigns/{}", args.campaign),
        units: args.units.clone(),
    });
    let mut meter = Meter {
        args: &args,
        redis: RedisProbe::connect(&args.redis_url)?,
        base: Connection::new(args.addr),
    };
    let mut results = Vec::new();
    let no_readers = Arc::new(Vec::new());
    let set = |n: u64, count: usize| Players::new(args.first_phone + n * 10_000_000, count);

    // The boards: participants with one finished attempt each (not measured).
    let filling = Instant::now();
    let board = set(0, args.board_participants);
    let mut kinds = serde_json::Map::new();
    let fill = window(
        &mut meter,
        &plan,
        Kind::Fill,
        &board,
        &no_readers,
        args.board_participants,
        None,
        &mut results,
    )
    .await?;
    let mut errors = fill["errors"].as_u64().unwrap_or(0);
    let readers: Arc<Vec<String>> = Arc::new(
        board
            .players
            .iter()
            .filter_map(|player| player.lock().expect("not poisoned").token.clone())
            .collect(),
    );
    let fill_secs = filling.elapsed().as_secs_f64();
    eprintln!(
        "reads: {} participants on the boards in {fill_secs:.0} s",
        readers.len()
    );

    // Each kind apart.
    let apart = set(1, args.per_kind);
    for kind in [
        Kind::Units,
        Kind::Register,
        Kind::Start,
        Kind::Save,
        Kind::Submit,
        Kind::Me,
        Kind::UnitBoard,
        Kind::PeopleBoard,
    ] {
        let secs = matches!(
            kind,
            Kind::Units | Kind::Me | Kind::UnitBoard | Kind::PeopleBoard
        )
        .then_some(args.read_secs);
        let figures = window(
            &mut meter,
            &plan,
            kind,
            &apart,
            &readers,
            args.per_kind,
            secs,
            &mut results,
        )
        .await?;
        errors += figures["errors"].as_u64().unwrap_or(0);
        eprintln!("reads: {} done", kind.name());
        kinds.insert(kind.name().to_owned(), figures);
    }

    // The mixes: the attempt alone (its participants registered first, not measured), then
    // the whole journey.
    let alone = set(2, args.per_kind);
    window(
        &mut meter,
        &plan,
        Kind::Register,
        &alone,
        &no_readers,
        args.per_kind,
        None,
        &mut results,
    )
    .await?;
    let mut mixes = serde_json::Map::new();
    let journeys = set(3, args.per_kind);
    for (kind, players) in [(Kind::Attempt, &alone), (Kind::Journey, &journeys)] {
        let figures = window(
            &mut meter,
            &plan,
            kind,
            players,
            &readers,
            args.per_kind,
            None,
            &mut results,
        )
        .await?;
        errors += figures["errors"].as_u64().unwrap_or(0);
        eprintln!("reads: {} done", kind.name());
        mixes.insert(kind.name().to_owned(), figures);
    }
    let per_item = |mix: &str, what: &str| mixes[mix]["cpu_us"][what].as_f64().unwrap_or(0.0);
    let ratio = |what: &str| per_item("journey", what) / per_item("attempt", what).max(1e-9);
    let summary = json!({
        "connections": args.connections,
        "board_participants": readers.len(),
        "fill_seconds": fill_secs,
        "fill_window": fill,
        "per_kind": args.per_kind,
        "read_secs": args.read_secs,
        "kinds": kinds,
        "mixes": mixes,
        "journey_over_attempt": {
            "redis": ratio("redis_per_item"),
            "service": ratio("service_per_item"),
        },
        "errors": errors,
    });

    let mut file = std::io::BufWriter::new(std::fs::File::create(&args.results)?);
    for (attempt, score) in &results {
        writeln!(file, "{attempt} {score}")?;
    }
    file.flush()?;
    let text = serde_json::to_string_pretty(&summary)?;
    if let Some(path) = &args.summary {
        std::fs::write(path, &text)?;
    }
    println!("{text}");
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
