//! The question model and question banks.
//!
//! A bank is one TOML file in `question-banks/` (see [`file`]); [`check`] turns the text of one or
//! more bank files into validated [`Bank`]s, or into a list of precise problems. This module only
//! models questions; it never reads files.

pub mod check;
pub mod file;
pub mod import;

pub use check::{Categories, Problem, load_banks, parse_categories};

/// The most options a question may have (keys `A` to `F`).
pub const MAX_OPTIONS: usize = 6;

/// The fixed option texts of a true/false question, in key order `T`, `F`.
pub const TRUE_FALSE_OPTIONS: [&str; 2] = ["正确", "错误"];

/// How a question is answered and scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuestionKind {
    /// Exactly one option is correct.
    Single,
    /// Two or more options are correct; scored all-or-nothing.
    Multiple,
    /// A statement judged true (`T`) or false (`F`).
    TrueFalse,
}

impl QuestionKind {
    /// The name used in bank files and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::Single => "single",
            QuestionKind::Multiple => "multiple",
            QuestionKind::TrueFalse => "true_false",
        }
    }

    /// Parses the name used in bank files.
    pub fn parse(name: &str) -> Option<QuestionKind> {
        match name {
            "single" => Some(QuestionKind::Single),
            "multiple" => Some(QuestionKind::Multiple),
            "true_false" => Some(QuestionKind::TrueFalse),
            _ => None,
        }
    }

    /// The key of the option at `index` (0-based) for this kind: `A`, `B`, ... or `T`, `F`.
    pub fn option_key(self, index: usize) -> char {
        match self {
            QuestionKind::TrueFalse => ['T', 'F'][index.min(1)],
            _ => char::from(b'A' + (index.min(MAX_OPTIONS - 1) as u8)),
        }
    }

    /// The index of the option whose key is `key`, if this kind has such a key at all.
    pub fn option_index(self, key: char) -> Option<usize> {
        match (self, key) {
            (QuestionKind::TrueFalse, 'T') => Some(0),
            (QuestionKind::TrueFalse, 'F') => Some(1),
            (QuestionKind::TrueFalse, _) => None,
            (_, 'A'..='F') => Some(usize::from(key as u8 - b'A')),
            _ => None,
        }
    }
}

/// A set of options of one question, as a bit set over option indices (bit 0 is the first option).
///
/// Used both for a question's correct answer and for a participant's choice; it is `Copy` and one
/// byte, so attempts can carry it cheaply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Choices(u8);

impl Choices {
    /// The empty set: nothing chosen.
    pub const NONE: Choices = Choices(0);

    /// The set from its bit representation; bits beyond [`MAX_OPTIONS`] are dropped.
    pub fn from_bits(bits: u8) -> Choices {
        Choices(bits & ((1 << MAX_OPTIONS) - 1))
    }

    /// The bit representation (bit `i` set when option `i` is in the set).
    pub fn bits(self) -> u8 {
        self.0
    }

    /// This set with the option at `index` added.
    pub fn with(self, index: usize) -> Choices {
        Choices::from_bits(self.0 | (1 << index.min(7)))
    }

    /// Whether the option at `index` is in the set.
    pub fn contains(self, index: usize) -> bool {
        index < MAX_OPTIONS && self.0 & (1 << index) != 0
    }

    /// How many options are in the set.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether nothing is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The option indices in the set, ascending.
    pub fn indices(self) -> impl Iterator<Item = usize> {
        (0..MAX_OPTIONS).filter(move |&i| self.contains(i))
    }

    /// The keys of the set for a question of `kind`, in key order (`"ACD"`, `"T"`).
    pub fn keys(self, kind: QuestionKind) -> String {
        self.indices().map(|i| kind.option_key(i)).collect()
    }

    /// Parses keys such as `"ACD"` for a question of `kind` with `option_count` options.
    ///
    /// Rejects unknown keys, keys beyond the last option and repeated keys, so that a parsed set
    /// always means what its text says.
    pub fn parse_keys(
        keys: &str,
        kind: QuestionKind,
        option_count: usize,
    ) -> Result<Choices, KeyError> {
        let mut set = Choices::NONE;
        for key in keys.chars() {
            let index = kind
                .option_index(key)
                .filter(|&i| i < option_count)
                .ok_or(KeyError::Unknown(key))?;
            if set.contains(index) {
                return Err(KeyError::Repeated(key));
            }
            set = set.with(index);
        }
        Ok(set)
    }
}

/// Why a text of option keys does not name a set of options of a question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key that is not one of the question's options.
    #[error("`{0}` is not one of this question's option keys")]
    Unknown(char),
    /// A key given twice.
    #[error("`{0}` is given twice")]
    Repeated(char),
}

/// The difficulty a bank author gave a question: 1 easy, 2 medium, 3 hard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Difficulty(u8);

impl Difficulty {
    /// Parses a difficulty; only 1, 2 and 3 exist.
    pub fn parse(value: i64) -> Option<Difficulty> {
        matches!(value, 1..=3).then_some(Difficulty(value as u8))
    }

    /// The number, 1 to 3.
    pub fn get(self) -> u8 {
        self.0
    }
}

/// One validated question.
///
/// Invariants (established by [`check::load_banks`]): the option count suits the kind, `answer`
/// names only existing options and has the count the kind requires, and no text is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// Unique over all banks a deployment loads.
    pub id: String,
    /// How it is answered and scored.
    pub kind: QuestionKind,
    /// A category id from `categories.toml`.
    pub category: String,
    /// The author's difficulty rating.
    pub difficulty: Difficulty,
    /// The question text.
    pub stem: String,
    /// Option texts in key order; for true/false, [`TRUE_FALSE_OPTIONS`].
    pub options: Vec<String>,
    /// The correct options.
    pub answer: Choices,
    /// Why the answer is right, shown after the attempt is final.
    pub explanation: String,
    /// The law, regulation or standard (with article) the answer rests on.
    pub source: String,
}

/// One validated bank: an id, a title and its questions in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bank {
    /// Unique over all banks; campaigns name the banks they draw from by it.
    pub id: String,
    /// A human title.
    pub title: String,
    /// The questions in file order.
    pub questions: Vec<Question>,
}

#[cfg(test)]
mod tests;
