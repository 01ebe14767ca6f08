//! `safequiz audit export`: the audit trail of a period as CSV on standard output (issue 20;
//! docs/privacy.md), for an inspection or an archive. Read only: the trail has no command that
//! changes it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use futures_util::StreamExt;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use safequiz_sql::Store;
use safequiz_sql::audit::AuditQuery;

/// `safequiz audit ...`
#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the rows of a period as CSV (UTF-8 with BOM, for Excel/WPS).
    Export(ExportArgs),
}

/// Arguments of `safequiz audit export`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// First day, YYYY-MM-DD (Asia/Shanghai), included.
    #[arg(long)]
    from: Date,
    /// Last day, YYYY-MM-DD (Asia/Shanghai), included.
    #[arg(long)]
    to: Date,
    /// Only this campaign's rows (default: every campaign).
    #[arg(long)]
    campaign: Option<String>,
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
}

/// Runs `safequiz audit`.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Export(args) => export(args),
    }
}

/// A CSV field: quoted, quotes doubled, and a leading `= + - @` neutralized so a spreadsheet
/// never runs it as a formula.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.from <= args.to, "--from must not be after --to");
    let Some((loaded, _catalogue)) = super::config::load_all(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    let zone = TimeZone::get("Asia/Shanghai").context("the time zone database")?;
    let start = |day: Date| -> anyhow::Result<i64> {
        Ok(day.to_zoned(zone.clone())?.timestamp().as_millisecond())
    };
    let from_ms = start(args.from)?;
    let to_ms = start(args.to.tomorrow()?)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = Store::connect_lazy(&loaded.settings.database)?;
        store.migrate().await?;
        let query = AuditQuery {
            campaign_id: args.campaign.as_deref(),
            from_ms,
            to_ms,
        };
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        out.write_all("\u{feff}".as_bytes())?;
        writeln!(
            out,
            "id,time,campaign,actor,action,scope,detail,address,outcome"
        )?;
        let mut rows = store.audit_stream(&query);
        let mut count = 0u64;
        while let Some(row) = rows.next().await {
            let row = row?;
            let time = Timestamp::from_millisecond(row.at_ms)
                .map(|t| {
                    t.to_zoned(zone.clone())
                        .strftime("%Y-%m-%d %H:%M:%S")
                        .to_string()
                })
                .unwrap_or_default();
            writeln!(
                out,
                "{},{},{},{},{},{},{},{},{}",
                row.audit_id,
                field(&time),
                field(&row.campaign_id),
                field(&row.actor),
                field(&row.action),
                field(&row.scope),
                field(&row.detail),
                field(&row.address),
                field(&row.outcome)
            )?;
            count += 1;
        }
        out.flush()?;
        eprintln!("{count} audit row(s) from {} to {}", args.from, args.to);
        Ok(ExitCode::SUCCESS)
    })
}
