//! The framework floor: an actix-web hello-world, and a driver that loads it exactly like the
//! ceiling run loads the service, so the service's CPU per request reads as a ratio to it. The
//! same driver loads one GET path of the service (`--path`, e.g. a board), optionally at a set
//! rate, and with `--redis-pid` also reports Redis's CPU per request.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use http::Method;
use serde_json::json;

use crate::client::Connection;
use crate::measure::{percentile, process_cpu_micros};

/// Arguments of `hello`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long)]
    addr: SocketAddr,
    /// HTTP workers (as the service: one per core by default).
    #[arg(long, default_value_t = 0)]
    workers: usize,
}

/// Serves `GET /` with a short text until killed.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let mut server = HttpServer::new(|| {
            App::new().route(
                "/",
                web::get().to(|| async { HttpResponse::Ok().body("hello world") }),
            )
        });
        if args.workers > 0 {
            server = server.workers(args.workers);
        }
        server.bind(args.addr)?.run().await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `floor`.
#[derive(clap::Args)]
pub struct FloorArgs {
    /// The hello-world server.
    #[arg(long)]
    addr: SocketAddr,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// The server's process id, to measure its CPU.
    #[arg(long)]
    server_pid: u32,
    /// The path to GET (the hello-world's `/` by default; a board to measure board views).
    #[arg(long, default_value = "/")]
    path: String,
    /// Requests per second over all connections; 0 sends as fast as answers come.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// redis-server's process id, to report its CPU per request too (`/proc/<pid>/stat`).
    #[arg(long)]
    redis_pid: Option<u32>,
}

/// Loads the hello-world and prints requests/s and CPU per request (server and generator).
pub async fn floor(args: FloorArgs) -> anyhow::Result<ExitCode> {
    let args = Arc::new(args);
    let redis_cpu = |pid: Option<u32>| pid.map(process_cpu_micros).transpose();
    let own_before = process_cpu_micros(std::process::id())?;
    let server_before = process_cpu_micros(args.server_pid)?;
    let redis_before = redis_cpu(args.redis_pid)?;
    let began = Instant::now();
    let deadline = began + Duration::from_secs(args.duration_secs);
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let args = args.clone();
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::new(args.addr);
            let mut latencies = Vec::new();
            // Each connection sends its share of the rate; a late answer delays the next
            // request rather than bunching the missed ones.
            let mut pace = (args.rate > 0.0).then(|| {
                let every = Duration::from_secs_f64(args.connections as f64 / args.rate);
                let mut pace = tokio::time::interval(every);
                pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                pace
            });
            while Instant::now() < deadline {
                if let Some(pace) = &mut pace {
                    pace.tick().await;
                }
                let sent = Instant::now();
                let (status, _) = connection.send(Method::GET, &args.path, None, None).await?;
                anyhow::ensure!(status.is_success(), "{} answered {status}", args.path);
                latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let secs = began.elapsed().as_secs_f64();
    let server = process_cpu_micros(args.server_pid)? - server_before;
    let own = process_cpu_micros(std::process::id())? - own_before;
    let redis = match (redis_cpu(args.redis_pid)?, redis_before) {
        (Some(after), Some(before)) => Some(after - before),
        _ => None,
    };
    latencies.sort_unstable();
    let requests = latencies.len().max(1) as f64;
    let summary = json!({
        "requests": latencies.len(),
        "requests_per_sec": requests / secs,
        "p50_ms": f64::from(percentile(&latencies, 50.0)) / 1000.0,
        "p99_ms": f64::from(percentile(&latencies, 99.0)) / 1000.0,
        "cpu_us": {
            "server_per_request": server as f64 / requests,
            "generator_per_request": own as f64 / requests,
            "redis_per_request": redis.map(|redis| redis as f64 / requests),
        },
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}
