//! `safequiz reconcile`: compare a campaign's hot state with its SQL record, and the report
//! roll-ups with the record's raw rows.

use std::path::PathBuf;
use std::process::ExitCode;

use safequiz_server::recovery::{self, RecoveryOptions};

/// Arguments of `safequiz reconcile`.
#[derive(clap::Args)]
pub struct Args {
    /// The campaign id.
    #[arg(long)]
    campaign: String,
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
    /// Participants compared at once; memory grows with it, not with the campaign.
    #[arg(long, default_value_t = RecoveryOptions::default().participants_per_batch)]
    batch: i64,
}

/// Prints every difference, one per line; exits 1 when there is any, 0 when Redis and SQL agree
/// and the roll-ups equal a rebuild from the raw rows.
///
/// The roll-up check rebuilds them in a transaction it rolls back: flushes wait while it runs.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.batch > 0, "--batch must be positive");
    let options = RecoveryOptions {
        participants_per_batch: args.batch,
    };
    super::leaderboards::with_campaign(&args.config, &args.campaign, |state, campaign| async move {
        // Printed as found: a Redis emptied by accident differs on every participant.
        let differences = recovery::reconcile_with(&state, &campaign, options, &mut |difference| {
            println!("{difference}");
        })
        .await?;
        if differences == 0 {
            println!("campaign {}: Redis and SQL agree", campaign.id);
        } else {
            println!("campaign {}: {differences} difference(s)", campaign.id);
        }
        let rollups = state.store.check_rollups(&campaign.id).await?;
        for difference in &rollups {
            println!("{difference}");
        }
        if rollups.is_empty() {
            println!(
                "campaign {}: the report roll-ups agree with the SQL rows",
                campaign.id
            );
        } else {
            println!(
                "campaign {}: {} roll-up difference(s); `safequiz leaderboards rebuild-reports` \
                 recomputes them",
                campaign.id,
                rollups.len()
            );
        }
        Ok(if differences == 0 && rollups.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
