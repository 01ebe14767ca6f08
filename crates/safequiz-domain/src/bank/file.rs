//! The bank file format: the serde structs behind `question-banks/*.toml`.
//!
//! These structs are the promise the files keep, so they stay loose where a strict type would stop
//! at the first mistake: `kind`, `difficulty` and `answer` are read as plain values and judged by
//! [`super::check`], which reports every problem of a file at once. Unknown keys are rejected here.

use serde::{Deserialize, Serialize};

/// One bank file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BankFile {
    /// The `[bank]` table.
    pub bank: BankHeader,
    /// The `[[questions]]` array, in file order.
    #[serde(default)]
    pub questions: Vec<QuestionEntry>,
}

/// The `[bank]` table of a bank file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BankHeader {
    /// Unique over all banks.
    pub id: String,
    /// A human title.
    pub title: String,
}

/// One `[[questions]]` entry as written, before validation.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionEntry {
    /// Unique over all banks; its position in the file gives problems a line number.
    pub id: toml::Spanned<String>,
    /// `single`, `multiple` or `true_false`.
    pub kind: String,
    /// A category id from `categories.toml`.
    pub category: String,
    /// 1, 2 or 3.
    pub difficulty: i64,
    /// The question text.
    pub stem: String,
    /// Option texts in key order (`A`, `B`, ...); absent for `true_false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    /// Correct keys: `"B"`, `"ACD"`, or `"T"` / `"F"`.
    pub answer: String,
    /// Why the answer is right.
    pub explanation: String,
    /// The law, regulation or standard, with its article.
    pub source: String,
}

/// The `categories.toml` file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoriesFile {
    /// The `[[categories]]` array.
    pub categories: Vec<CategoryEntry>,
}

/// One category: an id used in banks and quotas, and its Chinese name.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryEntry {
    /// Used in banks and in campaigns' quotas.
    pub id: String,
    /// Shown to organizers.
    pub name: String,
}
