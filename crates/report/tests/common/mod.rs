//! What the report's integration tests share: a results tree made from a
//! fixture, and reading files with their path in the panic.

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Copies the directory `from` into `to`, subdirectories included.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `results/<run>/raw` in a temporary directory, a copy of `fixture`, as
/// compare.sh lays a run out (the report writes beside it).
pub fn results_tree(fixture: &str, run: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("results").join(run).join("raw");
    copy_tree(Path::new(fixture), &raw);
    (tmp, raw)
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
