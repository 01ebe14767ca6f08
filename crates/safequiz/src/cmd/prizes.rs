//! `safequiz prizes draw|verify`: the auditable prize draw (docs/prizes.md).
//!
//! `draw` runs once per campaign, after it closes by the clock of the service's configuration: it
//! freezes the eligible list from the record's participant totals, writes it as a file with its
//! SHA-256, derives the seed from the public value and that digest, draws with the domain's
//! [`safequiz_domain::prizes::draw`], stores the draw, and prints digest, seed and winners.
//! `verify` recomputes a draw from the published list file, digest and public value, and
//! compares it with the stored winners when the record has them.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use safequiz_domain::campaign::{Campaign, Window};
use safequiz_domain::prizes::{self, EligibleList, PrizeWinners};
use safequiz_server::telemetry;
use safequiz_sql::Store;
use safequiz_sql::prizes::{DrawRow, RecordDrawError};

/// The `prizes` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Freeze the eligible list, draw the prizes and store the draw (once, after the close).
    Draw(DrawArgs),
    /// Recompute a draw from the published list, digest and public value; exit 1 on any
    /// difference.
    Verify(VerifyArgs),
}

/// Arguments of `safequiz prizes draw`.
#[derive(clap::Args)]
pub struct DrawArgs {
    /// The campaign id.
    #[arg(long)]
    campaign: String,
    /// The public value announced before the close and known only after it (docs/prizes.md).
    #[arg(long)]
    seed_from: String,
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
    /// Folder the eligible list and its digest are written to.
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

/// Arguments of `safequiz prizes verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The campaign id (its prize rules come from the configuration).
    #[arg(long)]
    campaign: String,
    /// The published eligible list file.
    #[arg(long)]
    list: PathBuf,
    /// The published SHA-256 of the list, hex.
    #[arg(long)]
    digest: String,
    /// The public value the seed came from.
    #[arg(long)]
    seed_from: String,
    /// The configuration folder.
    #[arg(long, default_value = "config")]
    config: PathBuf,
    /// Only recompute and print the winners; do not compare them with the record (an auditor
    /// without access to the database).
    #[arg(long)]
    offline: bool,
}

/// Runs a `prizes` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    telemetry::init();
    match command {
        Command::Draw(args) => draw(args),
        Command::Verify(args) => verify(args),
    }
}

/// The eligible list file's name for `campaign`.
pub fn list_file_name(campaign: &str) -> String {
    format!("{campaign}-eligible.csv")
}

fn draw(args: DrawArgs) -> anyhow::Result<ExitCode> {
    let Some((loaded, catalogue)) = super::config::load_all(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    let campaign = find(&catalogue.campaigns, &args.campaign)?;
    let now = loaded.settings.clock.clock().now();
    if campaign.window(now) != Window::Closed {
        anyhow::bail!(
            "campaign {} closes at {}; the draw runs only after the close (it is now {now}), so \
             that the eligible list is final",
            campaign.id,
            campaign.closes_at
        );
    }
    anyhow::ensure!(
        !campaign.prizes.is_empty(),
        "campaign {} has no [[prizes]] in its file",
        campaign.id
    );
    anyhow::ensure!(
        !args.seed_from.trim().is_empty(),
        "--seed-from must be the announced public value"
    );
    runtime()?.block_on(async move {
        let store = Store::connect_lazy(&loaded.settings.database)?;
        store.migrate().await?;
        if let Some(existing) = store.prize_draw(&campaign.id).await? {
            anyhow::bail!(
                "campaign {} was drawn already (seed from `{}`, list SHA-256 {}); a draw is never \
                 replaced",
                campaign.id,
                existing.seed_from,
                existing.list_digest
            );
        }
        let list = EligibleList::new(
            store
                .eligible_participants(&campaign.id, campaign.scoring.counted)
                .await?,
        )
        .map_err(|error| anyhow::anyhow!("the record's totals: {error}"))?;
        let text = list.to_csv();
        let digest = prizes::list_digest(text.as_bytes());
        let digest_hex = prizes::hex(&digest);
        fs::create_dir_all(&args.out)
            .with_context(|| format!("cannot create {}", args.out.display()))?;
        let name = list_file_name(&campaign.id);
        let path = args.out.join(&name);
        fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        let digest_path = args.out.join(format!("{name}.sha256"));
        // The `sha256sum -c` format, so anyone can check the file without safequiz.
        fs::write(&digest_path, format!("{digest_hex}  {name}\n"))
            .with_context(|| format!("cannot write {}", digest_path.display()))?;
        let seed = prizes::seed(&campaign.id, &args.seed_from, &digest);
        let winners = prizes::draw(&list, &campaign.prizes, seed);
        let row = DrawRow {
            campaign_id: campaign.id.clone(),
            seed_from: args.seed_from.clone(),
            list_digest: digest_hex.clone(),
            seed: prizes::hex(&seed),
            eligible: list.entries().len() as i64,
            drawn_at_ms: now.as_millisecond(),
        };
        match store.record_draw(&row, &winners).await {
            Ok(()) => {}
            Err(RecordDrawError::AlreadyDrawn(id)) => {
                anyhow::bail!("campaign {id} was drawn meanwhile; a draw is never replaced")
            }
            Err(RecordDrawError::Store(error)) => return Err(error.into()),
        }
        let drawn: usize = winners.iter().map(|prize| prize.winners.len()).sum();
        store
            .append_audit(&safequiz_sql::audit::AuditEntry {
                at_ms: now.as_millisecond(),
                campaign_id: campaign.id.clone(),
                actor: super::purge::operator(),
                action: safequiz_sql::audit::action::PRIZE_DRAW.to_owned(),
                scope: safequiz_domain::scope::WHOLE_CAMPAIGN.to_owned(),
                detail: format!(
                    "list sha256 {digest_hex}, seed from {:?}, {} eligible, {drawn} drawn",
                    args.seed_from,
                    list.entries().len()
                ),
                address: String::new(),
                outcome: safequiz_sql::audit::OK.to_owned(),
            })
            .await?;
        println!("campaign: {}", campaign.id);
        println!(
            "eligible list: {} ({} participants)",
            path.display(),
            list.entries().len()
        );
        println!("list sha256: {digest_hex}");
        println!("seed from: {}", args.seed_from);
        println!("seed: {}", row.seed);
        print_winners(&winners);
        Ok(ExitCode::SUCCESS)
    })
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let Some((loaded, catalogue)) = super::config::load_all(&args.config) else {
        return Ok(ExitCode::FAILURE);
    };
    let campaign = find(&catalogue.campaigns, &args.campaign)?;
    let bytes =
        fs::read(&args.list).with_context(|| format!("cannot read {}", args.list.display()))?;
    let digest = prizes::list_digest(&bytes);
    let digest_hex = prizes::hex(&digest);
    let published = args.digest.trim().to_ascii_lowercase();
    if digest_hex != published {
        println!(
            "MISMATCH: the list's SHA-256 is {digest_hex}, not the published {published}: this is \
             not the published list"
        );
        return Ok(ExitCode::FAILURE);
    }
    let text = String::from_utf8(bytes).context("the list is not UTF-8 text")?;
    let list = match EligibleList::parse_csv(&text) {
        Ok(list) => list,
        Err(error) => {
            println!("MISMATCH: the list is not a valid eligible list: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let seed = prizes::seed(&campaign.id, &args.seed_from, &digest);
    let winners = prizes::draw(&list, &campaign.prizes, seed);
    println!("list sha256: {digest_hex}");
    println!("seed: {}", prizes::hex(&seed));
    print_winners(&winners);
    if args.offline {
        return Ok(ExitCode::SUCCESS);
    }
    runtime()?.block_on(async move {
        // No migration: reading the record must not create or change it.
        let store = Store::connect_lazy(&loaded.settings.database)?;
        let stored = store.prize_draw(&campaign.id).await.context(
            "cannot read the stored draw from the record; --offline only recomputes the winners",
        )?;
        let Some(stored) = stored else {
            println!(
                "the record has no draw of campaign {}: nothing to compare",
                campaign.id
            );
            return Ok(ExitCode::SUCCESS);
        };
        let mut same = stored.list_digest == digest_hex && stored.seed_from == args.seed_from;
        if !same {
            println!(
                "MISMATCH: the stored draw used list {} and seed from `{}`",
                stored.list_digest, stored.seed_from
            );
        }
        let stored_winners: Vec<(i32, String, String, i64)> = store
            .prize_winners(&campaign.id)
            .await?
            .into_iter()
            .map(|row| (row.prize_index, row.prize, row.award, row.participant_id))
            .collect();
        let computed: Vec<(i32, String, String, i64)> = winners
            .iter()
            .enumerate()
            .flat_map(|(index, prize)| {
                prize.winners.iter().map(move |winner| {
                    (
                        index as i32,
                        prize.prize.clone(),
                        winner.award.clone(),
                        winner.participant as i64,
                    )
                })
            })
            .collect();
        if stored_winners != computed {
            same = false;
            println!("MISMATCH: the stored winners differ from the recomputed ones");
        }
        if same {
            println!(
                "OK: the stored draw of campaign {} is reproduced exactly",
                campaign.id
            );
            Ok(ExitCode::SUCCESS)
        } else {
            Ok(ExitCode::FAILURE)
        }
    })
}

fn find(campaigns: &[Arc<Campaign>], id: &str) -> anyhow::Result<Arc<Campaign>> {
    campaigns
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| {
            let known: Vec<&str> = campaigns.iter().map(|c| c.id.as_str()).collect();
            anyhow::anyhow!(
                "no campaign has id `{id}` (configured: {})",
                known.join(", ")
            )
        })
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("cannot start the async runtime")
}

fn print_winners(winners: &[PrizeWinners]) {
    for prize in winners {
        print!("{prize}");
    }
}
