//! Conversion of an organizer's spreadsheet rows into a bank file.
//!
//! The CLI decodes the CSV or XLSX; this module maps rows of text to [`BankFile`] and renders it,
//! then validates the result with the same checks as `bank check`, so an import never writes a
//! bank the server would refuse. Columns are found by header, in any order; the template
//! (`question-banks/template.csv`) uses these Chinese headers, and English ones are accepted too:
//!
//! | header | English | content |
//! |---|---|---|
//! | 题号 | id | optional; `<bank id>-<row>` when empty |
//! | 题型 | kind | 单选, 多选, 判断 (or single, multiple, true_false) |
//! | 分类 | category | a category id or its Chinese name |
//! | 难度 | difficulty | 1, 2 or 3; empty means 2 |
//! | 题干 | stem | the question |
//! | 选项A ... 选项F | option_a ... option_f | options; empty trailing ones are dropped |
//! | 答案 | answer | letters (`ACD`, `A,C,D`, `A、C`); 判断: 正确/错误, 对/错, √/×, T/F, or A/B |
//! | 解析 | explanation | why |
//! | 出处 | source | law, regulation or standard with article |

use super::Problem;
use super::check::{Categories, load_banks};
use super::file::{BankFile, BankHeader, QuestionEntry};

const COLUMNS: [(&str, &str); 15] = [
    ("题号", "id"),
    ("题型", "kind"),
    ("分类", "category"),
    ("难度", "difficulty"),
    ("题干", "stem"),
    ("选项A", "option_a"),
    ("选项B", "option_b"),
    ("选项C", "option_c"),
    ("选项D", "option_d"),
    ("选项E", "option_e"),
    ("选项F", "option_f"),
    ("答案", "answer"),
    ("解析", "explanation"),
    ("出处", "source"),
    ("备注", "note"),
];

const REQUIRED: [&str; 6] = [
    "kind",
    "category",
    "stem",
    "answer",
    "explanation",
    "source",
];

/// Converts spreadsheet rows (the first row is the header) into the text of a bank file.
///
/// `file` names the spreadsheet in problems, which give spreadsheet row numbers (1-based,
/// header = row 1). Fails without output if any row has a problem.
pub fn spreadsheet_to_bank(
    file: &str,
    rows: &[Vec<String>],
    bank_id: &str,
    title: &str,
    categories: &Categories,
) -> Result<String, Vec<Problem>> {
    let problem = |row: Option<usize>, message: String| Problem {
        file: file.to_owned(),
        line: row,
        question: None,
        message,
    };
    let Some((header, body)) = rows.split_first() else {
        return Err(vec![problem(None, "the spreadsheet is empty".to_owned())]);
    };
    let column_of = |name: &str| -> Option<usize> {
        header.iter().position(|cell| {
            let cell = cell.trim().trim_start_matches('\u{feff}');
            COLUMNS.iter().any(|(chinese, english)| {
                *english == name && (cell == *chinese || cell.eq_ignore_ascii_case(english))
            })
        })
    };
    let missing: Vec<&str> = REQUIRED
        .iter()
        .filter(|name| column_of(name).is_none())
        .map(|name| {
            COLUMNS
                .iter()
                .find(|(_, english)| english == name)
                .map_or(*name, |(chinese, _)| *chinese)
        })
        .collect();
    if !missing.is_empty() {
        return Err(vec![problem(
            Some(1),
            format!("the header lacks the column(s) {}", missing.join(", ")),
        )]);
    }

    let mut problems = Vec::new();
    let mut questions = Vec::new();
    for (index, row) in body.iter().enumerate() {
        let row_number = index + 2;
        let cell = |name: &str| -> String {
            column_of(name)
                .and_then(|column| row.get(column))
                .map(|text| text.trim().to_owned())
                .unwrap_or_default()
        };
        if row.iter().all(|text| text.trim().is_empty()) {
            continue;
        }
        let kind = match cell("kind").as_str() {
            "单选" | "单选题" | "single" => "single",
            "多选" | "多选题" | "multiple" => "multiple",
            "判断" | "判断题" | "true_false" => "true_false",
            other => {
                problems.push(problem(
                    Some(row_number),
                    format!("题型 `{other}` is not 单选, 多选 or 判断"),
                ));
                continue;
            }
        };
        let category_cell = cell("category");
        let category = categories
            .ids()
            .find(|id| *id == category_cell || categories.name(id) == Some(category_cell.as_str()))
            .unwrap_or(category_cell.as_str())
            .to_owned();
        let difficulty = match cell("difficulty").as_str() {
            "" => 2,
            text => text.parse::<f64>().map_or(0, |value| value as i64),
        };
        let options: Vec<String> = [
            "option_a", "option_b", "option_c", "option_d", "option_e", "option_f",
        ]
        .iter()
        .map(|name| cell(name))
        .collect();
        let last = options
            .iter()
            .rposition(|option| !option.is_empty())
            .map_or(0, |i| i + 1);
        let answer = normalize_answer(kind, &cell("answer"));
        let id = match cell("id") {
            id if id.is_empty() => format!("{bank_id}-{row_number:03}"),
            id => id,
        };
        questions.push(QuestionEntry {
            id: toml::Spanned::new(0..0, id),
            kind: kind.to_owned(),
            category,
            difficulty,
            stem: cell("stem"),
            options: (kind != "true_false").then(|| options[..last].to_vec()),
            answer,
            explanation: cell("explanation"),
            source: cell("source"),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let bank = BankFile {
        bank: BankHeader {
            id: bank_id.to_owned(),
            title: title.to_owned(),
        },
        questions,
    };
    let text = render(&bank);
    load_banks(categories, &[(file, &text)]).map_err(|found| {
        found
            .into_iter()
            .map(|p| Problem { line: None, ..p })
            .collect::<Vec<_>>()
    })?;
    Ok(text)
}

/// Renders a bank file in the layout of the shipped banks: one blank line between questions.
pub fn render(bank: &BankFile) -> String {
    let mut out = String::new();
    out.push_str("[bank]\n");
    out.push_str(&format!("id = {}\n", quote(&bank.bank.id)));
    out.push_str(&format!("title = {}\n", quote(&bank.bank.title)));
    for question in &bank.questions {
        out.push_str("\n[[questions]]\n");
        out.push_str(&format!("id = {}\n", quote(question.id.get_ref())));
        out.push_str(&format!("kind = {}\n", quote(&question.kind)));
        out.push_str(&format!("category = {}\n", quote(&question.category)));
        out.push_str(&format!("difficulty = {}\n", question.difficulty));
        out.push_str(&format!("stem = {}\n", quote(&question.stem)));
        if let Some(options) = &question.options {
            let quoted: Vec<String> = options.iter().map(|option| quote(option)).collect();
            out.push_str(&format!("options = [{}]\n", quoted.join(", ")));
        }
        out.push_str(&format!("answer = {}\n", quote(&question.answer)));
        out.push_str(&format!("explanation = {}\n", quote(&question.explanation)));
        out.push_str(&format!("source = {}\n", quote(&question.source)));
    }
    out
}

/// A TOML basic string with the escapes TOML requires, keeping Chinese text readable.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The answer cell as bank-file keys: letters only, upper case; true/false words as `T`/`F`.
fn normalize_answer(kind: &str, cell: &str) -> String {
    if kind == "true_false" {
        return match cell.trim() {
            "正确" | "对" | "√" | "✓" | "T" | "t" | "A" | "a" | "是" | "true" | "TRUE" => {
                "T".to_owned()
            }
            "错误" | "错" | "×" | "✗" | "F" | "f" | "B" | "b" | "否" | "false" | "FALSE" => {
                "F".to_owned()
            }
            other => other.to_owned(),
        };
    }
    cell.chars()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}
