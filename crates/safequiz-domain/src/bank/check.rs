//! Validation of bank files: text in, validated [`Bank`]s or every problem found.
//!
//! Used by `safequiz bank check` and by the server at start, so a bank that passes the check is
//! exactly a bank the server accepts. It reports all problems of all files at once, each with the
//! file, the line of the question and what is wrong, and never stops at the first.

use std::collections::HashMap;
use std::fmt;

use super::file::{BankFile, CategoriesFile, QuestionEntry};
use super::{Bank, Choices, Difficulty, MAX_OPTIONS, Question, QuestionKind, TRUE_FALSE_OPTIONS};

/// Longest stem accepted, in characters: a stem must be readable on a phone in a few seconds.
pub const MAX_STEM_CHARS: usize = 200;
/// Longest option text accepted, in characters.
pub const MAX_OPTION_CHARS: usize = 100;
/// Longest explanation accepted, in characters.
pub const MAX_EXPLANATION_CHARS: usize = 600;

/// One problem found in a bank or categories file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file's name as the caller gave it.
    pub file: String,
    /// The 1-based line the problem points at, when known.
    pub line: Option<usize>,
    /// The question concerned, when the problem is about one question.
    pub question: Option<String>,
    /// What is wrong, as a sentence fragment an author can act on.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(question) = &self.question {
            write!(f, "question {question}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

/// The categories banks may use, from `categories.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Categories {
    entries: Vec<(String, String)>,
}

impl Categories {
    /// Whether `id` is a known category.
    pub fn contains(&self, id: &str) -> bool {
        self.entries.iter().any(|(known, _)| known == id)
    }

    /// The Chinese name of category `id`.
    pub fn name(&self, id: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(known, _)| known == id)
            .map(|(_, name)| name.as_str())
    }

    /// The category ids in file order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(id, _)| id.as_str())
    }
}

/// Parses `categories.toml` (named `file` in problems).
pub fn parse_categories(file: &str, text: &str) -> Result<Categories, Vec<Problem>> {
    let parsed: CategoriesFile =
        toml::from_str(text).map_err(|e| vec![toml_problem(file, text, &e)])?;
    let mut problems = Vec::new();
    let mut entries: Vec<(String, String)> = Vec::new();
    for entry in parsed.categories {
        let id = entry.id.trim().to_owned();
        if !is_identifier(&id) {
            problems.push(problem(
                file,
                None,
                None,
                format!("category id `{id}` must be lowercase letters, digits and `_`"),
            ));
        } else if entries.iter().any(|(known, _)| *known == id) {
            problems.push(problem(
                file,
                None,
                None,
                format!("category `{id}` is listed twice"),
            ));
        } else if entry.name.trim().is_empty() {
            problems.push(problem(
                file,
                None,
                None,
                format!("category `{id}` has an empty name"),
            ));
        } else {
            entries.push((id, entry.name.trim().to_owned()));
        }
    }
    if entries.is_empty() && problems.is_empty() {
        problems.push(problem(
            file,
            None,
            None,
            "no categories are listed".to_owned(),
        ));
    }
    if problems.is_empty() {
        Ok(Categories { entries })
    } else {
        Err(problems)
    }
}

/// Validates bank files given as `(file name, text)` pairs against `categories`.
///
/// Ids and duplicate questions are checked across all files together, so check a whole folder at
/// once to catch a question copied from one bank into another.
pub fn load_banks(
    categories: &Categories,
    files: &[(&str, &str)],
) -> Result<Vec<Bank>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut banks = Vec::new();
    let mut bank_ids: HashMap<String, String> = HashMap::new();
    let mut question_ids: HashMap<String, String> = HashMap::new();
    let mut fingerprints: HashMap<String, String> = HashMap::new();

    for &(file, text) in files {
        let parsed: BankFile = match toml::from_str(text) {
            Ok(parsed) => parsed,
            Err(error) => {
                problems.push(toml_problem(file, text, &error));
                continue;
            }
        };
        let bank_id = parsed.bank.id.trim().to_owned();
        if !is_bank_id(&bank_id) {
            problems.push(problem(
                file,
                None,
                None,
                format!("bank id `{bank_id}` must be lowercase letters, digits and `-`"),
            ));
        } else if let Some(other) = bank_ids.insert(bank_id.clone(), file.to_owned()) {
            problems.push(problem(
                file,
                None,
                None,
                format!("bank id `{bank_id}` is also used by {other}"),
            ));
        }
        if parsed.bank.title.trim().is_empty() {
            problems.push(problem(file, None, None, "bank title is empty".to_owned()));
        }
        if parsed.questions.is_empty() {
            problems.push(problem(
                file,
                None,
                None,
                "bank has no questions".to_owned(),
            ));
        }

        let mut questions = Vec::with_capacity(parsed.questions.len());
        for entry in &parsed.questions {
            let line = line_of(text, entry.id.span().start);
            let id = entry.id.get_ref().trim().to_owned();
            let mut report =
                |message: String| problems.push(problem(file, Some(line), Some(&id), message));
            if let Some(other) = question_ids.insert(id.clone(), file.to_owned()) {
                report(format!("id is already used in {other}"));
            }
            match check_question(categories, entry, &mut report) {
                Some(question) => {
                    let fingerprint = fingerprint(&question);
                    if let Some(other) = fingerprints.insert(fingerprint, format!("{file} ({id})"))
                    {
                        report(format!(
                            "duplicate question: same stem and options as {other}"
                        ));
                    }
                    questions.push(question);
                }
                None => continue,
            }
        }
        banks.push(Bank {
            id: bank_id,
            title: parsed.bank.title.trim().to_owned(),
            questions,
        });
    }
    if problems.is_empty() {
        Ok(banks)
    } else {
        Err(problems)
    }
}

/// Checks one question entry, reporting every problem; returns the question when there were none.
fn check_question(
    categories: &Categories,
    entry: &QuestionEntry,
    report: &mut impl FnMut(String),
) -> Option<Question> {
    let mut failures = 0usize;
    let mut report = |message: String| {
        failures += 1;
        report(message);
    };

    let id = entry.id.get_ref().trim();
    // Ids travel inside attempt records and keys, so they keep to a small alphabet.
    if id.is_empty()
        || id.len() > 32
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        report("id must be 1-32 ASCII letters, digits, `-`, `_` or `.`".to_owned());
    }
    let kind = QuestionKind::parse(entry.kind.trim());
    if kind.is_none() {
        report(format!(
            "kind `{}` is not one of single, multiple, true_false",
            entry.kind
        ));
    }
    if !categories.contains(entry.category.trim()) {
        let known: Vec<&str> = categories.ids().collect();
        report(format!(
            "unknown category `{}` (known: {})",
            entry.category,
            known.join(", ")
        ));
    }
    let difficulty = Difficulty::parse(entry.difficulty);
    if difficulty.is_none() {
        report(format!("difficulty {} is not 1, 2 or 3", entry.difficulty));
    }
    check_text("stem", &entry.stem, MAX_STEM_CHARS, &mut report);
    check_text(
        "explanation",
        &entry.explanation,
        MAX_EXPLANATION_CHARS,
        &mut report,
    );
    check_text("source", &entry.source, MAX_OPTION_CHARS * 2, &mut report);

    let options: Vec<String> = match (kind, &entry.options) {
        (Some(QuestionKind::TrueFalse), Some(_)) => {
            report("true_false questions take no options (they are always 正确 / 错误)".to_owned());
            Vec::new()
        }
        (Some(QuestionKind::TrueFalse), None) => {
            TRUE_FALSE_OPTIONS.iter().map(|s| (*s).to_owned()).collect()
        }
        (_, None) => {
            report("options are missing".to_owned());
            Vec::new()
        }
        (_, Some(options)) => options.iter().map(|o| o.trim().to_owned()).collect(),
    };
    if let Some(kind) = kind.filter(|k| *k != QuestionKind::TrueFalse) {
        let (min, max) = if kind == QuestionKind::Single {
            (2, MAX_OPTIONS)
        } else {
            (3, MAX_OPTIONS)
        };
        if !options.is_empty() && !(min..=max).contains(&options.len()) {
            report(format!(
                "{} question has {} options; it needs {min} to {max}",
                kind.as_str(),
                options.len()
            ));
        }
        for (index, option) in options.iter().enumerate() {
            let key = kind.option_key(index);
            check_text(
                &format!("option {key}"),
                option,
                MAX_OPTION_CHARS,
                &mut report,
            );
            if let Some(why) = refers_to_other_options(option) {
                report(format!(
                    "option {key} {why}; options are shuffled in every attempt"
                ));
            }
            if starts_with_label(option) {
                report(format!(
                    "option {key} starts with a letter label; write only its text"
                ));
            }
            if options[..index]
                .iter()
                .any(|earlier| normalize(earlier) == normalize(option))
            {
                report(format!("option {key} repeats an earlier option"));
            }
        }
    }

    let answer =
        kind.and_then(|kind| check_answer(kind, entry.answer.trim(), options.len(), &mut report));
    if failures > 0 {
        return None;
    }
    Some(Question {
        id: id.to_owned(),
        kind: kind?,
        category: entry.category.trim().to_owned(),
        difficulty: difficulty?,
        stem: entry.stem.trim().to_owned(),
        options,
        answer: answer?,
        explanation: entry.explanation.trim().to_owned(),
        source: entry.source.trim().to_owned(),
    })
}

fn check_answer(
    kind: QuestionKind,
    answer: &str,
    option_count: usize,
    report: &mut impl FnMut(String),
) -> Option<Choices> {
    if answer.is_empty() {
        report("answer is missing".to_owned());
        return None;
    }
    if option_count == 0 {
        return None;
    }
    let choices = match Choices::parse_keys(answer, kind, option_count) {
        Ok(choices) => choices,
        Err(error) => {
            let keys: String = (0..option_count).map(|i| kind.option_key(i)).collect();
            report(format!("answer `{answer}`: {error} (keys: {keys})"));
            return None;
        }
    };
    let wrong_count = match kind {
        QuestionKind::Single | QuestionKind::TrueFalse if choices.len() != 1 => {
            Some("exactly one key")
        }
        QuestionKind::Multiple if choices.len() < 2 => {
            Some("at least two keys (use kind = \"single\" for one)")
        }
        _ => None,
    };
    if let Some(needed) = wrong_count {
        report(format!(
            "answer `{answer}`: a {} question needs {needed}",
            kind.as_str()
        ));
        return None;
    }
    Some(choices)
}

fn check_text(field: &str, text: &str, max_chars: usize, report: &mut impl FnMut(String)) {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        report(format!("{field} is empty"));
    } else if trimmed.chars().count() > max_chars {
        report(format!(
            "{field} is {} characters long; at most {max_chars}",
            trimmed.chars().count()
        ));
    }
}

/// Why an option's text points at other options, if it does.
///
/// Quantity words such as 以上 in "县级以上" or "三年以上" are ordinary text; only phrases that
/// point at the list of options ("以上都对", "上述选项", "全部正确") are refused.
fn refers_to_other_options(option: &str) -> Option<&'static str> {
    const POINTERS: [&str; 2] = ["以上", "上述"];
    const ABOUT_OPTIONS: [&str; 9] = ["都", "均", "全", "皆", "各", "选项", "答案", "说法", "做法"];
    const VERDICTS: [&str; 4] = ["都对", "都不对", "全部正确", "均不正确"];
    let trimmed = option.trim_end_matches(['。', '.', '；', ';']);
    let points_at_list = POINTERS.iter().any(|pointer| {
        trimmed == *pointer
            || option.match_indices(pointer).any(|(at, _)| {
                let after = &option[at + pointer.len()..];
                ABOUT_OPTIONS.iter().any(|word| after.starts_with(word))
            })
    });
    if points_at_list || VERDICTS.iter().any(|verdict| option.contains(verdict)) {
        return Some("refers to the other options");
    }
    let chars: Vec<char> = option.chars().collect();
    let letter = |c: char| ('A'..='F').contains(&c);
    let joined = chars
        .windows(3)
        .any(|w| letter(w[0]) && "和与及、,，".contains(w[1]) && letter(w[2]));
    joined.then_some("names other options by letter")
}

fn starts_with_label(option: &str) -> bool {
    let mut chars = option.chars();
    matches!(
        (chars.next(), chars.next()),
        (Some('A'..='F' | 'a'..='f'), Some('.' | '、' | '．' | ')' | '）' | ':' | '：'))
    )
}

/// The question's text with whitespace and punctuation removed, for spotting duplicates.
fn fingerprint(question: &Question) -> String {
    let mut options: Vec<String> = question.options.iter().map(|o| normalize(o)).collect();
    options.sort();
    format!("{}|{}", normalize(&question.stem), options.join("|"))
}

fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_identifier(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_bank_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The 1-based line of `byte_offset` in `text`; shared with campaign-file errors.
pub(crate) fn line_of(text: &str, byte_offset: usize) -> usize {
    text.as_bytes()[..byte_offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn toml_problem(file: &str, text: &str, error: &toml::de::Error) -> Problem {
    let line = error.span().map(|span| line_of(text, span.start));
    problem(file, line, None, error.message().to_owned())
}

fn problem(file: &str, line: Option<usize>, question: Option<&str>, message: String) -> Problem {
    Problem {
        file: file.to_owned(),
        line,
        question: question.map(str::to_owned),
        message,
    }
}
