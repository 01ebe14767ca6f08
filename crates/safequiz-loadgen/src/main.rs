//! `safequiz-loadgen`: what `loadtest/run` uses where k6 is too costly.
//!
//! k6 spends about 60 µs of CPU per request on this machine, so on 2 shared cores it cannot push
//! the service to its limit. This generator keeps one hand-written HTTP/1.1 connection per task
//! (`client`), with keep-alive, and plays whole attempts (start, 5 saves, submit) without think time. It measures
//! its own CPU and, over exactly its measured window, the service's (`/proc/<pid>/stat`) and
//! Redis's (`INFO cpu`, `INFO commandstats`), so every figure is CPU per unit of work.
//!
//! Subcommands: `ceiling` (the ceiling run), `hello` (an actix-web hello-world, the framework
//! floor), `floor` (drives `hello`, or one GET path of the service, the same way), `verify`
//! (zero loss: every submit that answered 200 is in SQL with the same score), `month` (one
//! attempt a day for many campaign days, weighing what Redis keeps per participant).
//!
//! Dependency rule: a tool beside the service; it depends on `safequiz-sql` only to read the
//! record back, and on nothing else of safequiz.

/// mimalloc, as the service: the generator allocates and frees small buffers for every request
/// and answer, and glibc's malloc and free were about 17% of its CPU at the ceiling (a profile,
/// docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod ceiling;
mod client;
mod crowd;
#[allow(dead_code)] // Shared with the service's fair-play test, which reads every field.
mod crowd_plan;
mod hello;
mod measure;
mod month;
mod reads;
mod verify;
mod wire;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Load generator and checks for safequiz's load tests.
#[derive(Parser)]
#[command(name = "safequiz-loadgen", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register participants, then play attempts back to back on keep-alive connections.
    Ceiling(ceiling::Args),
    /// Serve an actix-web hello-world (the framework floor).
    Hello(hello::ServeArgs),
    /// Drive the hello-world (or one GET path of the service) with the same connection model.
    Floor(hello::FloorArgs),
    /// Check that every recorded submit is in SQL with the same score.
    Verify(verify::Args),
    /// CPU per request of each kind apart, and of the journey against the attempt alone.
    Reads(reads::Args),
    /// Play one attempt a day for many campaign days and weigh what Redis keeps per participant.
    Month(month::Args),
    /// The scripted-crowd figures of the fair-play signals (issue 21), at full size.
    Crowd(crowd::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Hello(args) => hello::serve(args),
        // One thread: a connection's task never wakes another thread, and the other core is
        // left to what is measured.
        command => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|runtime| {
                runtime.block_on(async move {
                    match command {
                        Command::Ceiling(args) => ceiling::run(args).await,
                        Command::Floor(args) => hello::floor(args).await,
                        Command::Verify(args) => verify::run(args).await,
                        Command::Reads(args) => reads::run(args).await,
                        Command::Month(args) => month::run(args).await,
                        Command::Crowd(args) => crowd::run(args).await,
                        Command::Hello(_) => unreachable!("served above"),
                    }
                })
            }),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
