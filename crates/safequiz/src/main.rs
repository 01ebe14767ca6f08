//! The one safequiz binary: `serve`, `flush`, `bank`, `units`, `config`, `leaderboards`,
//! `reconcile`, `organizer`, `seed` and `prizes`.
//!
//! Each subcommand lives in its own module under `cmd/`; this file only parses the command line
//! and dispatches. Errors from commands are reported once, here, with their cause chain.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc rather than the system allocator: a request allocates and frees many small buffers
/// across threads, and glibc's malloc took about 9% of the service's CPU at the ceiling
/// (`perf record`, docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Timed online safety-knowledge quiz engine (安全生产网络知识竞赛).
#[derive(Parser)]
#[command(name = "safequiz", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve(cmd::serve::Args),
    /// Copy finalized attempts from the Redis streams to SQL, without serving HTTP.
    Flush(cmd::flush::Args),
    /// Check question banks, or import an organizer's spreadsheet.
    #[command(subcommand)]
    Bank(cmd::bank::Command),
    /// Refresh unit trees from their sources.
    #[command(subcommand)]
    Units(cmd::units::Command),
    /// Check a configuration folder without starting anything.
    #[command(subcommand)]
    Config(cmd::config::Command),
    /// Rebuild leaderboards and totals in Redis from the SQL record.
    #[command(subcommand)]
    Leaderboards(cmd::leaderboards::Command),
    /// Compare Redis with the SQL record; print every difference, exit 1 on any.
    Reconcile(cmd::reconcile::Args),
    /// Organizer accounts: add (prints a one-time password), reset-password, list.
    #[command(subcommand)]
    Organizer(cmd::organizer::Command),
    /// Fill an empty campaign's record with synthetic participants and attempts, for
    /// measurements; refused in production.
    Seed(cmd::seed::Args),
    /// Prize draws anyone can audit: draw (once, after the close), verify.
    #[command(subcommand)]
    Prizes(cmd::prizes::Command),
    /// Remove a campaign's names and phone hashes at the end of its retention (or earlier,
    /// forced with a reason); `--dry-run` prints what it would remove.
    Purge(cmd::purge::Args),
    /// The audit trail: export a period as CSV.
    #[command(subcommand)]
    Audit(cmd::audit::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Flush(args) => cmd::flush::run(args),
        Command::Bank(command) => cmd::bank::run(command),
        Command::Units(command) => cmd::units::run(command),
        Command::Config(command) => cmd::config::run(command),
        Command::Leaderboards(command) => cmd::leaderboards::run(command),
        Command::Reconcile(args) => cmd::reconcile::run(args),
        Command::Organizer(command) => cmd::organizer::run(command),
        Command::Seed(args) => cmd::seed::run(args),
        Command::Prizes(command) => cmd::prizes::run(command),
        Command::Purge(args) => cmd::purge::run(args),
        Command::Audit(command) => cmd::audit::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
