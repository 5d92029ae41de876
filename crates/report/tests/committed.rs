//! The committed run is what its raw files say: the newest
//! `results/<date>-<host>/` regenerates `results/latest.{md,csv}` and
//! `latest-cpu.csv` byte for byte, and every answer in WORKSHOP.md and
//! figure block in README.md is the one `report workshop` computes from it. A figure typed in by hand, or a
//! report change without a regenerated run, fails here with the command
//! that fixes it.
//!
//! (The SVGs are not compared: they are drawn from the same figures, and
//! their text layout may depend on the fonts of the machine.)

use std::path::{Path, PathBuf};

mod common;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// `results/<date>T<time>Z-<host>` directories with a `raw/`, newest last.
fn committed_runs() -> Vec<PathBuf> {
    let results = Path::new(ROOT).join("results");
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&results)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("raw").join("rows.tsv").is_file())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.len() > 18 && name.as_bytes()[4] == b'-' && name.as_bytes()[10] == b'T'
        })
        .collect();
    runs.sort();
    runs
}

fn newest() -> PathBuf {
    committed_runs()
        .pop()
        .expect("results/ holds at least one run (results/<date>-<host>/raw/rows.tsv)")
}

#[test]
fn the_committed_tables_regenerate_from_their_raw_files() {
    let run = newest();
    let name = run.file_name().unwrap().to_owned();
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    common::copy_tree(&run.join("raw"), &results.join(&name).join("raw"));
    report::write_report(&results.join(&name).join("raw"), None).unwrap();
    let committed = Path::new(ROOT).join("results");
    for file in ["latest.md", "latest.csv", "latest-cpu.csv"] {
        for (got, want) in [
            (results.join(file), committed.join(file)),
            (results.join(&name).join(file), run.join(file)),
        ] {
            let got = std::fs::read_to_string(&got).unwrap();
            let want = std::fs::read_to_string(&want)
                .unwrap_or_else(|e| panic!("{}: {e}", want.display()));
            assert!(
                got == want,
                "{} is not what its raw files give; regenerate it with \
                 `cargo run --release -p report -- {}`",
                Path::new(&name).join(file).display(),
                Path::new("results").join(&name).join("raw").display()
            );
        }
    }
}

#[test]
fn workshop_and_readme_figures_are_the_committed_runs() {
    let run = newest();
    let loaded = report::Run::load(&run.join("raw")).unwrap();
    let name = run.file_name().unwrap().to_string_lossy().into_owned();
    for file in ["WORKSHOP.md", "README.md"] {
        let text = std::fs::read_to_string(Path::new(ROOT).join(file)).unwrap();
        let filled = report::lessons::fill(&text, &loaded).unwrap();
        let stale = report::lessons::changed(&text, &filled);
        assert!(
            stale.is_empty(),
            "{file}'s blocks {stale:?} are not what results/{name}/raw says; regenerate them with \
             `cargo run --release -p report -- workshop {file} results/{name}/raw`"
        );
    }
    // Every lesson has its answer in WORKSHOP.md.
    let workshop = std::fs::read_to_string(Path::new(ROOT).join("WORKSHOP.md")).unwrap();
    let ids = report::lessons::ids(&workshop);
    for l in report::lessons::LESSONS {
        assert!(
            ids.contains(&l.id),
            "WORKSHOP.md has no `<!-- answer: {} -->` block",
            l.id
        );
    }
}
