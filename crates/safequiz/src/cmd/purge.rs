//! `safequiz purge`: at the end of a campaign's retention (`[notice] retain_until`), remove every
//! name, masked phone, phone hash and guardian's name from SQL and Redis (issue 20, PIPL art. 47;
//! docs/privacy.md).
//!
//! Attempts, roll-ups, boards (as anonymous rows) and the audit trail stay, so every figure
//! an organizer reported stays true. Refused before the retention date unless `--force` with a
//! `--reason`, which the audit trail records; refused while the flusher still has entries to
//! write (they may carry names). `--dry-run` prints what it would remove and changes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use safequiz_redis::keys::Shard;
use safequiz_sql::audit::{AuditEntry, action};

use super::leaderboards::with_campaign;

/// Arguments of `safequiz purge`.
#[derive(clap::Args)]
pub struct Args {
    /// The campaign id.
    #[arg(long)]
    campaign: String,
    /// Print what would be removed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Purge before the retention date (requires --reason).
    #[arg(long)]
    force: bool,
    /// Why a purge is forced; recorded in the audit trail.
    #[arg(long)]
    reason: Option<String>,
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
}

/// Who runs the command, for the audit trail (also `prizes draw`'s).
pub(crate) fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("cli:{user}")
}

/// Purges (or previews) the campaign; exit 2 when refused.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let reason = args
        .reason
        .as_deref()
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if args.force && reason.is_empty() {
        eprintln!("error: --force needs --reason TEXT (it is recorded in the audit trail)");
        return Ok(ExitCode::from(2));
    }
    with_campaign(&args.config, &args.campaign, |state, campaign| async move {
        state.store.migrate().await?;
        let now = state.clock.now();
        let purge_from = campaign
            .notice
            .as_ref()
            .map(|notice| notice.purge_from(&campaign.time_zone));
        let due = purge_from.is_some_and(|from| now >= from);
        match purge_from {
            Some(from) => println!(
                "campaign {}: personal information is kept until {} (purge allowed from {from})",
                campaign.id,
                campaign
                    .notice
                    .as_ref()
                    .map(|n| n.retain_until.to_string())
                    .unwrap_or_default()
            ),
            None => println!(
                "campaign {}: the campaign file has no [notice] retain_until",
                campaign.id
            ),
        }
        let sql = state.store.purge_preview(&campaign.id).await?;
        let hot = state
            .hot
            .purge_people(&campaign.id, state.shards, true)
            .await?;
        println!(
            "would remove: SQL: names and phone hashes of {} participant(s) ({} with a guardian's \
             name; {} already anonymous); Redis: {} phone index entries, names of {} people \
             entries",
            sql.participants, sql.guardians, sql.already_erased, hot.phones, hot.named_people
        );
        println!("kept: attempts, roll-ups, boards (as anonymous rows), the audit trail");
        if args.dry_run {
            println!("dry run: nothing changed");
            return Ok(ExitCode::SUCCESS);
        }
        if !due && !args.force {
            eprintln!(
                "error: refused: the retention period has not ended; use --force --reason TEXT \
                 to purge earlier"
            );
            return Ok(ExitCode::from(2));
        }
        let mut waiting = 0;
        for shard in Shard::all(state.shards) {
            let lag = state
                .hot
                .flush_lag(&campaign.id, shard, now.as_millisecond())
                .await?;
            waiting += lag.pending + lag.undelivered;
        }
        if waiting > 0 {
            eprintln!(
                "error: refused: {waiting} stream entries are not in SQL yet (they may carry \
                 names); run `safequiz flush` or wait for the service's flusher, then again"
            );
            return Ok(ExitCode::from(2));
        }
        let removed = state
            .store
            .purge_campaign(&campaign.id, now.as_millisecond())
            .await?;
        let hot = state
            .hot
            .purge_people(&campaign.id, state.shards, false)
            .await?;
        let detail = format!(
            "participants={} guardians={} redis_phones={} redis_people={}{}",
            removed.participants,
            removed.guardians,
            hot.phones,
            hot.named_people,
            if due {
                String::new()
            } else {
                format!(" forced before the retention date: {reason}")
            }
        );
        state
            .store
            .append_audit(&AuditEntry {
                at_ms: now.as_millisecond(),
                campaign_id: campaign.id.clone(),
                actor: operator(),
                action: action::PURGE.to_owned(),
                scope: safequiz_domain::scope::WHOLE_CAMPAIGN.to_owned(),
                detail,
                address: String::new(),
                outcome: safequiz_sql::audit::OK.to_owned(),
            })
            .await?;
        println!(
            "purged: {} participant(s) in SQL, {} phone index entries and {} people entries in \
             Redis",
            removed.participants, hot.phones, hot.named_people
        );
        Ok(ExitCode::SUCCESS)
    })
}
