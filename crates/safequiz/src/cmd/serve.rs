//! `safequiz serve`: load and check the configuration, then run the service until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use safequiz_server::config::Environment;
use safequiz_server::startup::{self, Application};
use safequiz_server::telemetry;

/// Arguments of `safequiz serve`.
#[derive(clap::Args)]
pub struct Args {
    /// The configuration folder (base.toml, local.toml or production.toml, campaigns/, units/).
    #[arg(long, default_value = "config")]
    config: PathBuf,
}

/// Runs the service; returns when a shutdown signal arrived and in-flight work finished.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    telemetry::init();
    let Some((loaded, catalogue)) = super::config::load_all(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    tracing::info!(config = %loaded.redacted_summary(), "configuration loaded");
    if loaded.settings.auth.secret_is_default() {
        tracing::warn!("auth.secret is the shipped default: fine locally, refused in production");
    }
    for campaign in &catalogue.campaigns {
        tracing::info!(
            campaign.id = %campaign.id,
            campaign.questions = campaign.pool.questions().len(),
            campaign.units = campaign.units.len(),
            "campaign loaded"
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        if loaded.environment == Environment::Production {
            let persistence = startup::check_redis_persistence(&loaded.settings.redis).await;
            for warning in &persistence.warnings {
                tracing::warn!("{warning}");
            }
            if !persistence.refusals.is_empty() {
                for refusal in &persistence.refusals {
                    tracing::error!("production refuses to start: {refusal}");
                    eprintln!("error: production refuses to start: {refusal}");
                }
                return Ok(ExitCode::FAILURE);
            }
        }
        let clock = loaded.settings.clock.clock();
        let app = Application::build(&loaded.settings, Arc::new(catalogue), clock)?;
        tracing::info!(http.port = app.port(), "listening");
        app.run_until(shutdown_signal())
            .await
            .context("the HTTP server failed")?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what service managers send).
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(terminate) => terminate,
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("shutdown signal received");
}
