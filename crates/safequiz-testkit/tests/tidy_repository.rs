//! Tidy checks over the repository's files as git sees them: what must never be committed.
//!
//! The files checked are the tracked ones and the untracked ones git does not ignore (what
//! `git add -A` would commit), so a problem shows before the commit that would carry it. Each
//! failure names the file and line. The patterns this file looks for are assembled at run time,
//! so its own text never matches them.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The one home of the whole-campaign scope: its parsing and display, and their tests.
const SCOPE_HOME: [&str; 2] = [
    "crates/safequiz-domain/src/scope.rs",
    "crates/safequiz-domain/src/scope/",
];

/// Extensions of Redis and SQLite data files, which belong in a temporary or ignored folder.
const DATA_EXTENSIONS: [&str; 9] = [
    "aof",
    "rdb",
    "sqlite",
    "sqlite3",
    "sqlite-wal",
    "sqlite-shm",
    "sqlite-journal",
    "db",
    "db-wal",
];

/// Paths relative to the repository root, as git lists them (`/`-separated).
fn repository_files() -> Vec<String> {
    let root = safequiz_testkit::repo_root();
    let output = Command::new("git")
        .arg("-C")
        .arg(&root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .expect("git runs (the tidy checks need the repository's git folder)");
    assert!(
        output.status.success(),
        "git ls-files failed in {}: {}",
        root.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut files: Vec<String> = String::from_utf8(output.stdout)
        .expect("git lists paths as UTF-8")
        .split('\0')
        .filter(|path| !path.is_empty())
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    assert!(
        files.iter().any(|path| path == "ARCHITECTURE.md"),
        "git listed the repository's files"
    );
    files
}

/// The text of a listed file; `None` for a file deleted from the work tree or not UTF-8 text.
fn read_text(path: &str) -> Option<String> {
    let full: PathBuf = safequiz_testkit::repo_root().join(path);
    std::fs::read_to_string(full).ok()
}

/// One failure: where, and what is wrong.
fn at(path: &str, line: usize, what: &str) -> String {
    format!("{path}:{line}: {what}")
}

fn assert_none(problems: &[String], rule: &str) {
    assert!(problems.is_empty(), "{rule}:\n{}", problems.join("\n"));
}

#[test]
fn no_file_refers_to_a_path_outside_the_repository_or_to_the_old_blueprint() {
    // Assembled here so that this file's own text does not contain them.
    let forbidden = [
        [".", "./shared"].concat(),
        ["/wo", "rk/"].concat(),
        ["shared/", "DESIGN"].concat(),
        ["DESIGN", ".md"].concat(),
    ];
    let mut problems = Vec::new();
    for path in repository_files() {
        let Some(text) = read_text(&path) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            for pattern in &forbidden {
                if line.contains(pattern.as_str()) {
                    problems.push(at(
                        &path,
                        number + 1,
                        &format!(
                            "refers to `{pattern}`; cite a file in this repository (docs/design.md)"
                        ),
                    ));
                }
            }
        }
    }
    assert_none(&problems, "references outside the repository");
}

#[test]
fn no_redis_or_sqlite_data_is_committed() {
    let problems: Vec<String> = repository_files()
        .into_iter()
        .filter(|path| {
            let in_aof_folder = path.split('/').any(|part| part == "appendonlydir");
            let data_extension = Path::new(path)
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.rsplit_once('.'))
                .is_some_and(|(_, extension)| DATA_EXTENSIONS.contains(&extension));
            in_aof_folder || data_extension
        })
        .map(|path| {
            format!("{path}: Redis or SQLite data; delete it and let .gitignore keep it out")
        })
        .collect();
    assert_none(&problems, "data files in the repository");
}

#[test]
fn the_whole_campaign_scope_is_spelled_only_in_its_home() {
    let mut problems = Vec::new();
    for path in repository_files() {
        if !path.starts_with("crates/")
            || !path.ends_with(".rs")
            || SCOPE_HOME.iter().any(|home| path.starts_with(home))
        {
            continue;
        }
        let Some(text) = read_text(&path) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        for literal in string_literals(&text) {
            if !is_lone_star(&literal.content) {
                continue;
            }
            let line = lines.get(literal.line - 1).copied().unwrap_or("");
            let before = &line[..literal.column.min(line.len())];
            if is_star_of_redis(&lines, literal.line, before) {
                continue;
            }
            problems.push(at(
                &path,
                literal.line,
                &format!(
                    "a bare whole-campaign scope: use the domain's scope type ({})",
                    line.trim()
                ),
            ));
        }
    }
    assert_none(&problems, "bare scope literals outside the scope type");
}

#[test]
fn every_integration_test_file_opens_with_a_module_doc_comment() {
    // Source files outside tests are checked by `tidy.rs`; unit-test modules (`tests.rs`) are
    // documented by the module they test.
    let problems: Vec<String> = repository_files()
        .into_iter()
        .filter(|path| path.starts_with("crates/") && path.ends_with(".rs"))
        .filter(|path| path.split('/').any(|part| part == "tests"))
        .filter(|path| !path.ends_with("/tests.rs"))
        .filter(|path| read_text(path).is_some_and(|text| !text.starts_with("//!")))
        .map(|path| {
            at(
                &path,
                1,
                "does not open with a //! comment saying what it tests",
            )
        })
        .collect();
    assert_none(&problems, "integration tests without a module comment");
}

/// Whether a string literal's content is exactly one asterisk.
fn is_lone_star(content: &str) -> bool {
    let mut chars = content.chars();
    chars.next() == Some('*') && chars.next().is_none()
}

/// Whether a lone asterisk on line `line` (1-based), after `before` on that line, is Redis's
/// own wildcard rather than a scope: the id `XADD` assigns (the call may start up to three lines
/// before), or a `KEYS` pattern.
fn is_star_of_redis(lines: &[&str], line: usize, before: &str) -> bool {
    let mut statement = lines[line.saturating_sub(4)..line - 1].join("\n");
    statement.push('\n');
    statement.push_str(before);
    let current = statement.rsplit(';').next().unwrap_or("").to_lowercase();
    current.contains("xadd") || before.trim_end().ends_with("keys(")
}

/// A string literal in Rust source: its unescaped-as-written content and where it starts.
struct Literal {
    content: String,
    /// 1-based line of the opening quote.
    line: usize,
    /// Byte offset of the opening quote within its line.
    column: usize,
}

/// The string literals of Rust `source`, skipping comments and char literals; raw and byte
/// strings count too. Content is as written (escapes are not decoded).
fn string_literals(source: &str) -> Vec<Literal> {
    let bytes = source.as_bytes();
    let mut literals = Vec::new();
    let (mut i, mut line, mut line_start) = (0, 1, 0);
    let newline = |i: usize, line: &mut usize, line_start: &mut usize| {
        *line += 1;
        *line_start = i + 1;
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                newline(i, &mut line, &mut line_start);
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < bytes.len() {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if bytes[i] == b'\n' {
                            newline(i, &mut line, &mut line_start);
                        }
                        i += 1;
                    }
                }
            }
            b'\'' => {
                // A char literal ('x', '\n', '"') or a lifetime ('a), which has no closing quote.
                if bytes.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < bytes.len() && bytes[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    let width = source[i + 1..].chars().next().map_or(1, char::len_utf8);
                    if bytes.get(i + 1 + width) == Some(&b'\'') {
                        i += 2 + width;
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' if raw_string_start(bytes, i).is_some() => {
                let hashes = raw_string_start(bytes, i).unwrap_or(0);
                let (start_line, column) = (line, i - line_start);
                let open = i + 1 + hashes + 1;
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                let mut end = open;
                while end < bytes.len() && !bytes[end..].starts_with(&close) {
                    if bytes[end] == b'\n' {
                        newline(end, &mut line, &mut line_start);
                    }
                    end += 1;
                }
                literals.push(Literal {
                    content: source[open..end.min(bytes.len())].to_owned(),
                    line: start_line,
                    column,
                });
                i = end + close.len();
            }
            b'"' => {
                let (start_line, column) = (line, i - line_start);
                let mut end = i + 1;
                while end < bytes.len() && bytes[end] != b'"' {
                    match bytes[end] {
                        b'\\' => end += 2,
                        b'\n' => {
                            newline(end, &mut line, &mut line_start);
                            end += 1;
                        }
                        _ => end += 1,
                    }
                }
                let end = end.min(bytes.len());
                literals.push(Literal {
                    content: source[i + 1..end].to_owned(),
                    line: start_line,
                    column,
                });
                i = end + 1;
            }
            _ => i += 1,
        }
    }
    literals
}

/// The number of `#` when a raw string (`r"`, `r#"`, also after `b`) starts at `i`.
fn raw_string_start(bytes: &[u8], i: usize) -> Option<usize> {
    let previous = i.checked_sub(1).map(|p| bytes[p]);
    let starts_token =
        previous.is_none_or(|p| p == b'b' || !(p.is_ascii_alphanumeric() || p == b'_'));
    if !starts_token {
        return None;
    }
    let hashes = bytes[i + 1..].iter().take_while(|&&b| b == b'#').count();
    (bytes.get(i + 1 + hashes) == Some(&b'"')).then_some(hashes)
}

#[test]
fn the_literal_scanner_finds_strings_and_skips_comments_and_chars() {
    let star = ['"', '*', '"'].iter().collect::<String>();
    let source = [
        format!("let a = {star}; // {star}"),
        format!("/* {star} */ let b = '\"'; let c = 'x';"),
        format!("fn f<'a>(x: &'a str) {{ g(r#{star}#, b{star}) }}"),
        "let d = \"two\nlines\";".to_owned(),
        format!("let e = {star};"),
    ]
    .join("\n");
    let found: Vec<(usize, String)> = string_literals(&source)
        .into_iter()
        .map(|literal| (literal.line, literal.content))
        .collect();
    let lone = || '*'.to_string();
    assert_eq!(
        found,
        [
            (1, lone()),
            (3, lone()),
            (3, lone()),
            (4, "two\nlines".to_owned()),
            (6, lone()),
        ],
        "literals in code are found with their line; comments and char literals are not"
    );
}
