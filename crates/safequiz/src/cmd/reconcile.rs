//! `safequiz reconcile`: compare a campaign's hot state with its SQL record, and the report
//! roll-ups with the record's raw rows.

use std::path::PathBuf;
use std::process::ExitCode;

use safequiz_server::recovery;

/// Arguments of `safequiz reconcile`.
#[derive(clap::Args)]
pub struct Args {
    /// The campaign id.
    #[arg(long)]
    campaign: String,
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
}

/// Prints every difference, one per line; exits 1 when there is any, 0 when Redis and SQL agree
/// and the roll-ups equal a rebuild from the raw rows.
///
/// The roll-up check rebuilds them in a transaction it rolls back: flushes wait while it runs.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::leaderboards::with_campaign(&args.config, &args.campaign, |state, campaign| async move {
        let differences = recovery::reconcile(&state, &campaign).await?;
        for difference in &differences {
            println!("{difference}");
        }
        if differences.is_empty() {
            println!("campaign {}: Redis and SQL agree", campaign.id);
        } else {
            println!(
                "campaign {}: {} difference(s)",
                campaign.id,
                differences.len()
            );
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
        Ok(if differences.is_empty() && rollups.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
