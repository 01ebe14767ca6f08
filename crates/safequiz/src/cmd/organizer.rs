//! `safequiz organizer`: create organizer accounts, reset their passwords, list them.
//!
//! A new or reset account gets a one-time password, printed once on standard output and never
//! stored in clear; the organizer must replace it at first login.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use safequiz_domain::scope::Scope;
use safequiz_server::accounts;
use safequiz_sql::organizers::{AddOrganizerError, NewOrganizer};

use super::leaderboards::with_campaign;

/// `safequiz organizer ...`
#[derive(clap::Subcommand)]
pub enum Command {
    /// Create an account that sees one unit's subtree; prints its one-time password.
    Add(AddArgs),
    /// Give an account a new one-time password and end its sessions.
    ResetPassword(ResetArgs),
    /// List a campaign's accounts.
    List(ListArgs),
}

/// Arguments of `safequiz organizer add`.
#[derive(clap::Args)]
pub struct AddArgs {
    /// The campaign id.
    #[arg(long)]
    campaign: String,
    /// The unit whose subtree the organizer sees (a unit code, or `*` for the whole campaign).
    #[arg(long)]
    unit: String,
    /// The login name (letters, digits, `.`, `_`, `-`; unique over all campaigns).
    #[arg(long)]
    username: String,
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
}

/// Arguments of `safequiz organizer reset-password`.
#[derive(clap::Args)]
pub struct ResetArgs {
    /// The login name.
    #[arg(long)]
    username: String,
    /// The campaign id.
    #[arg(long)]
    campaign: String,
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
}

/// Arguments of `safequiz organizer list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// The campaign id.
    #[arg(long)]
    campaign: String,
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
}

/// Runs an `organizer` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Add(args) => add(args),
        Command::ResetPassword(args) => reset(args),
        Command::List(args) => list(args),
    }
}

fn valid_username(name: &str) -> bool {
    (3..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn add(args: AddArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        valid_username(&args.username),
        "the username must be 3 to 64 letters, digits, '.', '_' or '-'"
    );
    with_campaign(&args.config, &args.campaign, |state, campaign| async move {
        let scope = Scope::parse(&args.unit)
            .ok()
            .filter(|scope| scope.resolve(&campaign.units).is_ok())
            .with_context(|| format!("campaign {} has no unit `{}`", campaign.id, args.unit))?;
        state.store.migrate().await?;
        let password = accounts::one_time_password();
        let hash = accounts::hash_password(&password).map_err(anyhow::Error::msg)?;
        let now = state.clock.now().as_millisecond();
        let added = state
            .store
            .add_organizer(&NewOrganizer {
                campaign_id: &campaign.id,
                scope: &scope,
                username: &args.username,
                password_hash: &hash,
                created_at_ms: now,
            })
            .await;
        match added {
            Ok(id) => {
                eprintln!(
                    "organizer {} (id {id}) sees {scope} ({}) of campaign {}; one-time password:",
                    args.username,
                    scope.name(&campaign.units),
                    campaign.id
                );
                println!("{password}");
                Ok(ExitCode::SUCCESS)
            }
            Err(AddOrganizerError::UsernameTaken(name)) => {
                anyhow::bail!("the username {name} is taken")
            }
            Err(AddOrganizerError::Store(error)) => Err(error.into()),
        }
    })
}

fn reset(args: ResetArgs) -> anyhow::Result<ExitCode> {
    with_campaign(&args.config, &args.campaign, |state, campaign| async move {
        state.store.migrate().await?;
        let account = state
            .store
            .organizer_by_username(&args.username)
            .await?
            .filter(|account| account.campaign_id == campaign.id)
            .with_context(|| {
                format!(
                    "campaign {} has no organizer {}",
                    campaign.id, args.username
                )
            })?;
        let password = accounts::one_time_password();
        let hash = accounts::hash_password(&password).map_err(anyhow::Error::msg)?;
        state
            .store
            .set_organizer_password(account.organizer_id, &hash, true)
            .await?;
        eprintln!(
            "organizer {}: sessions ended; one-time password:",
            args.username
        );
        println!("{password}");
        Ok(ExitCode::SUCCESS)
    })
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    with_campaign(&args.config, &args.campaign, |state, campaign| async move {
        state.store.migrate().await?;
        for account in state.store.organizers(&campaign.id).await? {
            let pending = if account.must_change_password {
                "  (one-time password not yet changed)"
            } else {
                ""
            };
            println!("{}\t{}{pending}", account.username, account.scope);
        }
        Ok(ExitCode::SUCCESS)
    })
}
