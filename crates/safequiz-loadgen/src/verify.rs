//! Zero loss: every submit that answered 200 has its row in SQL, with the same score.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use safequiz_sql::{DatabaseSettings, Store};
use secrecy::SecretString;

/// Arguments of `verify`.
#[derive(clap::Args)]
pub struct Args {
    /// `attempt_id score` lines written by `ceiling` (or by the k6 scripts).
    #[arg(long, required = true)]
    results: Vec<PathBuf>,
    /// The database the service records into.
    #[arg(long)]
    database_url: String,
    /// The campaign.
    #[arg(long, default_value = "safety-month")]
    campaign: String,
}

/// Compares; prints what is missing or different and exits 1 on any.
pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut expected: HashMap<String, i64> = HashMap::new();
    for path in &args.results {
        for line in std::fs::read_to_string(path)?.lines() {
            let Some((attempt, score)) = line.split_once(' ') else {
                continue;
            };
            expected.insert(attempt.to_owned(), score.trim().parse()?);
        }
    }
    let store = Store::connect_lazy(&DatabaseSettings {
        url: SecretString::from(args.database_url.clone()),
        max_connections: 2,
    })?;
    let rows: HashMap<String, i64> = store
        .attempts(&args.campaign)
        .await?
        .into_iter()
        .map(|row| (row.attempt_id, i64::from(row.points)))
        .collect();
    let mut problems = 0;
    for (attempt, score) in &expected {
        match rows.get(attempt) {
            None => {
                problems += 1;
                if problems <= 20 {
                    println!("missing in SQL: attempt {attempt} (score {score})");
                }
            }
            Some(points) if points != score => {
                problems += 1;
                println!("attempt {attempt}: the API said {score}, SQL holds {points}");
            }
            Some(_) => {}
        }
    }
    println!(
        "zero-loss check: {} submits answered 200, {} rows in SQL, {problems} missing or different",
        expected.len(),
        rows.len()
    );
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
