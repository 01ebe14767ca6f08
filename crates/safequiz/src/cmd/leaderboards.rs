//! `safequiz leaderboards rebuild`: rewrite a campaign's hot state from the SQL record, and
//! the report roll-ups from the record's raw rows; `rebuild-reports`: the roll-ups alone.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use safequiz_domain::campaign::Campaign;
use safequiz_server::clock::Clock;
use safequiz_server::http::AppState;
use safequiz_server::recovery::RecoveryOptions;
use safequiz_server::startup::build_state;
use safequiz_server::{recovery, telemetry};

/// `safequiz leaderboards ...`
#[derive(clap::Subcommand)]
pub enum Command {
    /// Recompute every roll-up, individual board and participant total (and restore
    /// registrations and day counters) from SQL in batches of participants, after Redis was
    /// lost, then the organizer reports' roll-ups in SQL from the raw rows. Stop the service
    /// first.
    Rebuild(RebuildArgs),
    /// Recompute only the organizer reports' roll-ups in SQL from the raw rows (after
    /// `reconcile` found them different). Safe while the service runs: flushes wait meanwhile.
    RebuildReports(Args),
}

/// `rebuild`'s arguments: the campaign, and how many participants it handles at once.
#[derive(clap::Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    campaign: Args,
    /// Participants read from SQL and written to Redis at once; memory grows with it, not with
    /// the campaign.
    #[arg(long, default_value_t = RecoveryOptions::default().participants_per_batch)]
    batch: i64,
}

/// Which campaign, and where the configuration is.
#[derive(clap::Args)]
pub struct Args {
    /// The campaign id.
    #[arg(long)]
    campaign: String,
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
}

/// Runs the subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Rebuild(RebuildArgs {
            campaign: args,
            batch,
        }) => {
            anyhow::ensure!(batch > 0, "--batch must be positive");
            let options = RecoveryOptions {
                participants_per_batch: batch,
            };
            with_campaign(&args.config, &args.campaign, |state, campaign| async move {
                let restored = recovery::rebuild_with(&state, &campaign, options).await?;
                println!(
                    "rebuilt campaign {}: {} participants registered, {} with totals, {} final \
                     attempts",
                    campaign.id, restored.people, restored.participants, restored.attempts
                );
                rebuild_reports(&state, &campaign).await
            })
        }
        Command::RebuildReports(args) => {
            with_campaign(&args.config, &args.campaign, |state, campaign| async move {
                rebuild_reports(&state, &campaign).await
            })
        }
    }
}

/// Recomputes the campaign's report roll-ups from the record's raw rows.
async fn rebuild_reports(state: &AppState, campaign: &Campaign) -> anyhow::Result<ExitCode> {
    let rebuilt = state.store.rebuild_rollups(&campaign.id).await?;
    println!(
        "rebuilt the report roll-ups of campaign {} from {} registrations and {} attempts",
        campaign.id, rebuilt.participants, rebuilt.attempts
    );
    Ok(ExitCode::SUCCESS)
}

/// Loads the configuration, builds the shared state and runs `work` for campaign `id`.
pub fn with_campaign<F, Fut>(config: &Path, id: &str, work: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(AppState, Arc<Campaign>) -> Fut,
    Fut: Future<Output = anyhow::Result<ExitCode>>,
{
    telemetry::init();
    let Some((loaded, catalogue)) = super::config::load_all(config) else {
        return Ok(ExitCode::FAILURE);
    };
    let Some(campaign) = catalogue.campaign(id).cloned() else {
        let known: Vec<&str> = catalogue.campaigns.iter().map(|c| c.id.as_str()).collect();
        anyhow::bail!(
            "no campaign has id `{id}` (configured: {})",
            known.join(", ")
        );
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let state = build_state(&loaded.settings, Arc::new(catalogue), Clock::system())?;
        work(state, campaign).await
    })
}
