//! Tidy checks over the whole workspace: conventions a reviewer should not have to police.
#![cfg(test)]

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("list folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn workspace_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&safequiz_testkit::repo_root().join("crates"), &mut files);
    assert!(files.len() > 20, "the crates folder was found");
    files
}

fn is_test_code(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "tests")
        || path.file_name().is_some_and(|name| name == "tests.rs")
}

#[test]
fn every_source_file_opens_with_a_module_doc_comment() {
    let missing: Vec<String> = workspace_sources()
        .into_iter()
        .filter(|path| !is_test_code(path))
        .filter(|path| {
            !std::fs::read_to_string(path)
                .expect("read")
                .starts_with("//!")
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! comment: {missing:?}"
    );
}

#[test]
fn every_crate_is_named_in_the_architecture_map() {
    let architecture =
        std::fs::read_to_string(safequiz_testkit::repo_root().join("ARCHITECTURE.md"))
            .expect("read");
    let crates =
        std::fs::read_dir(safequiz_testkit::repo_root().join("crates")).expect("list crates");
    for entry in crates {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            architecture.contains(&format!("`crates/{name}`")),
            "ARCHITECTURE.md does not map crates/{name}"
        );
    }
}

#[test]
fn tests_neither_sleep_nor_skip() {
    let own = Path::new(file!())
        .file_name()
        .expect("this file has a name")
        .to_owned();
    for path in workspace_sources()
        .into_iter()
        .filter(|path| is_test_code(path))
    {
        if path.file_name() == Some(own.as_os_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        for forbidden in ["thread::sleep", "time::sleep", "#[ignore", "#[should_panic"] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}: poll with `eventually` instead",
                path.display()
            );
        }
    }
}
