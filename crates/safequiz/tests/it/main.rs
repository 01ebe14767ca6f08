//! Black-box tests of the `safequiz` binary: its subcommands as an operator runs them.
#![cfg(test)]

mod bank;
mod config;
mod faults;
mod organizer;
mod privacy;
mod prizes;
mod production;
mod record;
mod seed;
mod serve;
mod units;

use std::path::Path;
use std::process::{Command, Output};

/// Runs the built binary with `args` in the repository root, with no `SAFEQUIZ_*` variables
/// from the caller's environment.
pub fn safequiz(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_safequiz"));
    command
        .args(args)
        .current_dir(safequiz_testapp::repo_root());
    for (key, _) in std::env::vars() {
        if key.starts_with("SAFEQUIZ") {
            command.env_remove(key);
        }
    }
    command
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

/// Standard output and standard error as text.
pub fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Copies the shipped configuration folder (and banks) into `dir`, for tests that break it.
pub fn copy_config(dir: &Path) {
    let root = safequiz_testapp::repo_root();
    copy_dir(&root.join("config"), &dir.join("config"));
    copy_dir(&root.join("question-banks"), &dir.join("question-banks"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("list folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}
