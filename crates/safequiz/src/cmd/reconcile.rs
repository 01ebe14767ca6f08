//! `safequiz reconcile`: compare a campaign's hot state with its SQL record.

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

/// Prints every difference, one per line; exits 1 when there is any, 0 when Redis and SQL agree.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::leaderboards::with_campaign(&args.config, &args.campaign, |state, campaign| async move {
        let differences = recovery::reconcile(&state, &campaign).await?;
        for difference in &differences {
            println!("{difference}");
        }
        if differences.is_empty() {
            println!("campaign {}: Redis and SQL agree", campaign.id);
            Ok(ExitCode::SUCCESS)
        } else {
            println!(
                "campaign {}: {} difference(s)",
                campaign.id,
                differences.len()
            );
            Ok(ExitCode::FAILURE)
        }
    })
}
