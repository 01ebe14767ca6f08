//! `safequiz flush`: run the stream-to-SQL flusher alone (with the fair-play worker, which
//! writes the replicas' observations and computes their signals), until SIGINT/SIGTERM.
//!
//! For deployments that keep `flusher.enabled = false` in the service replicas and run flushers
//! as their own processes; any number may run, each a consumer of the same group.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use safequiz_server::clock::Clock;
use safequiz_server::startup::{build_state, flusher_options};
use safequiz_server::{telemetry, workers};
use tokio::sync::watch;

/// Arguments of `safequiz flush`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
}

/// Flushes until a shutdown signal arrives; the batch in progress finishes first.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    telemetry::init();
    let Some((loaded, catalogue)) = super::config::load_all(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let state = build_state(&loaded.settings, Arc::new(catalogue), Clock::system())?;
        let options = flusher_options(&loaded.settings);
        tracing::info!(consumer = %options.consumer, "flusher started");
        let (stop, stopped) = watch::channel(false);
        // The fair-play worker writes the replicas' observations and computes their signals
        // here, off the replicas that serve (docs/fair-play.md).
        let fair_play = tokio::spawn(workers::fair_play::run(
            state.clone(),
            Some(options.consumer.clone()),
            stopped.clone(),
        ));
        let questions = tokio::spawn(workers::questions::run(state.clone(), stopped.clone()));
        let flusher = tokio::spawn(workers::flusher::run(state, options, stopped));
        super::serve::shutdown_signal().await;
        // A send error only means the workers already ended.
        let _ = stop.send(true);
        flusher.await.context("the flusher task failed")?;
        questions.await.context("the question fold task failed")?;
        fair_play.await.context("the fair-play task failed")?;
        tracing::info!("flusher stopped");
        Ok(ExitCode::SUCCESS)
    })
}
