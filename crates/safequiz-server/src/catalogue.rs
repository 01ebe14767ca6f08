//! The read-only data a start loads: categories, question banks, campaigns and their unit trees.
//!
//! This module reads the files; `safequiz-domain` judges their text. Every problem of every file
//! is collected and reported together, each line naming the file (and key or line) concerned, so
//! an operator fixes a broken configuration in one pass. Nothing here changes after start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use safequiz_domain::bank::{Bank, Categories, load_banks, parse_categories};
use safequiz_domain::campaign::{Campaign, parse_campaign_file};
use safequiz_domain::units::{UnitFile, parse_unit_file};

/// Name of the categories file in a banks folder.
pub const CATEGORIES_FILE: &str = "categories.toml";

/// Everything the service serves from files.
#[derive(Debug)]
pub struct Catalogue {
    /// The categories banks use.
    pub categories: Categories,
    /// Every bank of the banks folder.
    pub banks: Vec<Bank>,
    /// Every campaign of the campaigns folder, in file-name order.
    pub campaigns: Vec<Arc<Campaign>>,
}

impl Catalogue {
    /// Loads banks from `banks_dir` and campaigns from `campaigns_dir`; unit files named by
    /// campaigns are resolved against `config_dir`.
    pub fn load(
        config_dir: &Path,
        banks_dir: &Path,
        campaigns_dir: &Path,
    ) -> Result<Catalogue, Vec<String>> {
        let (categories, banks) = read_banks(banks_dir)?;
        let campaigns = read_campaigns(config_dir, campaigns_dir, &banks)?;
        Ok(Catalogue {
            categories,
            banks,
            campaigns,
        })
    }

    /// The campaign with id `id`.
    pub fn campaign(&self, id: &str) -> Option<&Arc<Campaign>> {
        self.campaigns.iter().find(|campaign| campaign.id == id)
    }
}

/// Reads and validates the banks at `path`: a folder of `*.toml` banks with `categories.toml`, or
/// one bank file whose folder holds `categories.toml`.
pub fn read_banks(path: &Path) -> Result<(Categories, Vec<Bank>), Vec<String>> {
    let (folder, files) = if path.is_dir() {
        let files = toml_files(path)?
            .into_iter()
            .filter(|file| file.file_name().is_some_and(|name| name != CATEGORIES_FILE))
            .collect();
        (path.to_owned(), files)
    } else if path.is_file() {
        (
            path.parent().unwrap_or(Path::new(".")).to_owned(),
            vec![path.to_owned()],
        )
    } else {
        return Err(vec![format!("{}: no such file or folder", path.display())]);
    };
    let categories_path = folder.join(CATEGORIES_FILE);
    let categories_text = read(&categories_path).map_err(|problem| vec![problem])?;
    let categories = parse_categories(&categories_path.display().to_string(), &categories_text)
        .map_err(|problems| problems.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    if files.is_empty() {
        return Err(vec![format!(
            "{}: no bank files (*.toml) found",
            folder.display()
        )]);
    }
    let mut texts = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        match read(file) {
            Ok(text) => texts.push((file.display().to_string(), text)),
            Err(problem) => problems.push(problem),
        }
    }
    let sources: Vec<(&str, &str)> = texts
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    match load_banks(&categories, &sources) {
        Ok(banks) if problems.is_empty() => Ok((categories, banks)),
        Ok(_) => Err(problems),
        Err(found) => {
            problems.extend(found.iter().map(ToString::to_string));
            Err(problems)
        }
    }
}

/// Reads and validates every campaign file in `campaigns_dir` against `banks`.
fn read_campaigns(
    config_dir: &Path,
    campaigns_dir: &Path,
    banks: &[Bank],
) -> Result<Vec<Arc<Campaign>>, Vec<String>> {
    let files = toml_files(campaigns_dir)?;
    if files.is_empty() {
        return Err(vec![format!(
            "{}: no campaign files (*.toml) found",
            campaigns_dir.display()
        )]);
    }
    let mut problems = Vec::new();
    let mut campaigns: Vec<Arc<Campaign>> = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let text = match read(&path) {
            Ok(text) => text,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let file = match parse_campaign_file(&text) {
            Ok(file) => file,
            Err(problem) => {
                problems.push(format!("{name}: {problem}"));
                continue;
            }
        };
        let mut unit_files = Vec::new();
        for (index, entry) in file.entries.iter().enumerate() {
            match read_unit_file(&config_dir.join(&entry.units)) {
                Ok(units) => unit_files.push(units),
                Err(problem) => {
                    problems.push(format!("{name}: key `entries[{index}].units`: {problem}"))
                }
            }
        }
        if unit_files.len() != file.entries.len() {
            continue;
        }
        match Campaign::build(file, &unit_files, banks) {
            Ok(campaign) if campaigns.iter().any(|other| other.id == campaign.id) => {
                problems.push(format!(
                    "{name}: key `id`: campaign id `{}` is used by another file",
                    campaign.id
                ));
            }
            Ok(campaign) => campaigns.push(Arc::new(campaign)),
            Err(found) => problems.extend(found.iter().map(|problem| format!("{name}: {problem}"))),
        }
    }
    if problems.is_empty() {
        Ok(campaigns)
    } else {
        Err(problems)
    }
}

/// Reads and parses one unit file.
pub fn read_unit_file(path: &Path) -> Result<UnitFile, String> {
    let text = read(path)?;
    parse_unit_file(&text).map_err(|error| format!("{}: {error}", path.display()))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|error| format!("{}: cannot read: {error}", path.display()))
}

/// The `*.toml` files directly in `dir`, sorted by name so loading order is stable.
fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, Vec<String>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| vec![format!("{}: cannot list: {error}", dir.display())])?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    Ok(files)
}
