//! `safequiz config check`: load a configuration folder as `serve` would and report problems.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use safequiz_server::catalogue::Catalogue;
use safequiz_server::config::{self, Loaded};

/// Subcommands of `safequiz config`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Load settings, banks, campaigns and unit trees; print every problem; exit non-zero on any.
    Check {
        /// The configuration folder.
        #[arg(long, default_value = "config")]
        config: PathBuf,
    },
}

/// Runs a `config` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check { config } => match load_all(&config) {
            Some((loaded, catalogue)) => {
                println!("{}", loaded.redacted_summary());
                for campaign in &catalogue.campaigns {
                    println!(
                        "campaign {}: {} questions from {} bank(s), {} units, {} question(s) per attempt",
                        campaign.id,
                        campaign.pool.questions().len(),
                        campaign.banks.len(),
                        campaign.units.len(),
                        campaign.questions_per_attempt()
                    );
                }
                println!("configuration OK");
                Ok(ExitCode::SUCCESS)
            }
            None => Ok(ExitCode::FAILURE),
        },
    }
}

/// Loads settings and catalogue from `dir`, printing every problem to standard error.
///
/// Shared by `serve` and `config check` so both accept exactly the same configurations.
pub fn load_all(dir: &Path) -> Option<(Loaded, Catalogue)> {
    let loaded = match config::load(dir) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprint!("error: {error}");
            return None;
        }
    };
    match Catalogue::load(&loaded.dir, &loaded.banks_dir(), &loaded.campaigns_dir()) {
        Ok(catalogue) => Some((loaded, catalogue)),
        Err(problems) => {
            eprintln!(
                "error: the configuration has {} problem(s):",
                problems.len()
            );
            for problem in problems {
                eprintln!("  - {problem}");
            }
            None
        }
    }
}
