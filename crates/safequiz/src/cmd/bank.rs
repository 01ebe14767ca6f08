//! `safequiz bank check` and `safequiz bank import`.
//!
//! `check` validates bank files exactly as the server does at start. `import` decodes an
//! organizer's CSV (UTF-8, with or without BOM, or GB18030 as Chinese Excel saves it) or XLSX
//! (first sheet) and converts it with `safequiz_domain::bank::import`; it writes nothing unless
//! every row is valid.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use calamine::{Reader, open_workbook_auto};
use safequiz_domain::bank::import::spreadsheet_to_bank;
use safequiz_domain::bank::parse_categories;
use safequiz_domain::encoding::decode_csv;
use safequiz_server::catalogue::read_banks;

/// Subcommands of `safequiz bank`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Validate banks: a folder (with categories.toml) or one bank file. Exit 1 on any problem.
    Check {
        /// A bank folder or file.
        #[arg(default_value = "question-banks")]
        path: PathBuf,
    },
    /// Convert an organizer's spreadsheet (.xlsx or .csv, columns as in question-banks/template.csv)
    /// into a bank file.
    Import {
        /// The spreadsheet.
        file: PathBuf,
        /// Id of the new bank (lowercase letters, digits, `-`).
        #[arg(long)]
        bank_id: String,
        /// Title of the new bank.
        #[arg(long)]
        title: String,
        /// The categories file the questions must use.
        #[arg(long, default_value = "question-banks/categories.toml")]
        categories: PathBuf,
        /// Where to write the bank; standard output when absent. Never overwritten.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// Runs a `bank` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check { path } => check(&path),
        Command::Import {
            file,
            bank_id,
            title,
            categories,
            output,
        } => import(&file, &bank_id, &title, &categories, output.as_deref()),
    }
}

fn check(path: &Path) -> anyhow::Result<ExitCode> {
    match read_banks(path) {
        Ok((categories, banks)) => {
            let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
            let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
            for question in banks.iter().flat_map(|bank| &bank.questions) {
                *by_kind.entry(question.kind.as_str()).or_default() += 1;
                *by_category
                    .entry(
                        categories
                            .name(&question.category)
                            .unwrap_or(&question.category),
                    )
                    .or_default() += 1;
            }
            let total: usize = by_kind.values().sum();
            println!(
                "{}: {} bank(s), {total} questions, no problems",
                path.display(),
                banks.len()
            );
            println!("  by kind: {}", summary(&by_kind));
            println!("  by category: {}", summary(&by_category));
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!("{} problem(s) found", problems.len());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn summary(counts: &BTreeMap<&str, usize>) -> String {
    counts
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn import(
    file: &Path,
    bank_id: &str,
    title: &str,
    categories: &Path,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    if let Some(output) = output
        && output.exists()
    {
        bail!(
            "{} already exists; choose another --output",
            output.display()
        );
    }
    let categories_text = std::fs::read_to_string(categories)
        .with_context(|| format!("cannot read {} (pass --categories)", categories.display()))?;
    let categories = match parse_categories(&categories.display().to_string(), &categories_text) {
        Ok(categories) => categories,
        Err(problems) => {
            problems.iter().for_each(|problem| eprintln!("{problem}"));
            return Ok(ExitCode::FAILURE);
        }
    };
    let rows = read_rows(file)?;
    match spreadsheet_to_bank(
        &file.display().to_string(),
        &rows,
        bank_id,
        title,
        &categories,
    ) {
        Ok(text) => {
            match output {
                Some(output) => {
                    std::fs::write(output, &text)
                        .with_context(|| format!("cannot write {}", output.display()))?;
                    eprintln!(
                        "wrote {} ({} questions)",
                        output.display(),
                        rows.len().saturating_sub(1)
                    );
                }
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!(
                "{} problem(s); nothing written. (Rows are numbered as in the spreadsheet; the header is row 1.)",
                problems.len()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The first sheet (XLSX/XLS/ODS) or the CSV, as rows of trimmed cell text.
fn read_rows(file: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => {
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let text = decode_csv(&bytes);
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            let mut rows = Vec::new();
            for record in reader.records() {
                let record =
                    record.with_context(|| format!("{} is not valid CSV", file.display()))?;
                rows.push(record.iter().map(|cell| cell.trim().to_owned()).collect());
            }
            Ok(rows)
        }
        Some("xlsx" | "xlsm" | "xls" | "ods") => {
            let mut workbook = open_workbook_auto(file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let range = workbook
                .worksheet_range_at(0)
                .with_context(|| format!("{} has no sheet", file.display()))?
                .with_context(|| format!("cannot read the first sheet of {}", file.display()))?;
            Ok(range
                .rows()
                .map(|row| {
                    row.iter()
                        .map(|cell| cell.to_string().trim().to_owned())
                        .collect()
                })
                .collect())
        }
        _ => bail!(
            "{}: only .csv and .xlsx spreadsheets can be imported",
            file.display()
        ),
    }
}
