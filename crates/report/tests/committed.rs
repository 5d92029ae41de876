//! The committed run is what its raw files say: the run README.md's
//! blocks name (`report::docs::committed_run`) regenerates its own
//! `latest.{md,csv}` and `latest-cpu.csv` byte for byte (and
//! `results/latest.*` while they are that run's), and every answer block and
//! inline figure of the committed documents is the one `report workshop`
//! computes from it. A figure typed in by hand, or a report change without
//! a regenerated run, fails here with the command that fixes it.
//!
//! The run is the one the documents name, not the newest directory in
//! `results/`: the README's main job writes a newer one (and a new
//! `results/latest.*`), and the tests must pass right after it.
//!
//! (The SVGs are not compared: they are drawn from the same figures, and
//! their text layout may depend on the fonts of the machine.)

use std::path::{Path, PathBuf};

mod common;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The run README.md names.
fn committed() -> PathBuf {
    report::docs::committed_run(Path::new(ROOT)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_committed_tables_regenerate_from_their_raw_files() {
    let run = committed();
    let name = run.file_name().unwrap().to_owned();
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    common::copy_tree(&run.join("raw"), &results.join(&name).join("raw"));
    report::write_report(&results.join(&name).join("raw"), None).unwrap();
    let committed = Path::new(ROOT).join("results");
    // results/latest.* are the newest run's: the committed one's in a
    // clone, a user's own after the main job (then only the run's own
    // copies are compared).
    let top_is_committed = std::fs::read_to_string(committed.join("latest.md")).is_ok_and(|t| {
        t.lines().next()
            == Some(&format!(
                "# FlickrKillr — measured: {}",
                name.to_string_lossy()
            ))
    });
    for file in ["latest.md", "latest.csv", "latest-cpu.csv"] {
        let mut pairs = vec![(results.join(&name).join(file), run.join(file))];
        if top_is_committed {
            pairs.push((results.join(file), committed.join(file)));
        }
        for (got, want) in pairs {
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

/// The documents whose blocks and figures quote the committed run.
fn committed_documents() -> Vec<PathBuf> {
    let root = Path::new(ROOT);
    let mut files = vec![root.join("WORKSHOP.md"), root.join("README.md")];
    files.extend(report::docs::markdown_files(root).into_iter().filter(|f| {
        f.strip_prefix(root).is_ok_and(|p| p.starts_with("docs"))
            || f.ends_with("ARCHITECTURE.md")
            || f.ends_with("INSTRUCTOR.md")
    }));
    files
}

/// The committed answer keys: each lesson's own run (results/lessons/).
fn keys() -> report::lessons::Keys {
    report::lessons::load_keys(&Path::new(ROOT).join("results").join("lessons"))
        .unwrap_or_else(|e| panic!("results/lessons: {e}"))
}

/// Fills `file` from `raw` (and the lessons' answers from `keys`) and says
/// what is stale.
fn stale(file: &Path, raw: &Path, keys: &report::lessons::Keys) -> Vec<String> {
    let loaded = report::Run::load(raw).unwrap();
    let text = std::fs::read_to_string(file).unwrap();
    let filled = report::lessons::fill_keyed(&text, &loaded, keys)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut stale: Vec<String> = report::lessons::changed(&text, &filled)
        .into_iter()
        .map(String::from)
        .collect();
    stale.extend(report::docs::changed_figures(&text, &filled));
    stale
}

#[test]
fn workshop_and_readme_figures_are_the_committed_runs() {
    let run = committed();
    let name = run.file_name().unwrap().to_string_lossy().into_owned();
    let keys = keys();
    for file in committed_documents() {
        let stale = stale(&file, &run.join("raw"), &keys);
        let shown = file
            .strip_prefix(ROOT)
            .unwrap_or(&file)
            .display()
            .to_string();
        assert!(
            stale.is_empty(),
            "{shown}'s blocks or figures {stale:?} are not what results/{name}/raw says; regenerate them with \
             `cargo run --release -p report -- workshop {shown} results/{name}/raw --keys results/lessons`"
        );
    }
    // Every lesson has its answer in WORKSHOP.md, and asks for what it prints.
    let workshop = std::fs::read_to_string(Path::new(ROOT).join("WORKSHOP.md")).unwrap();
    let ids = report::lessons::ids(&workshop);
    for l in report::lessons::LESSONS {
        assert!(
            ids.contains(&l.id),
            "WORKSHOP.md has no `<!-- answer: {} -->` block",
            l.id
        );
        assert!(
            workshop.contains(&format!("## Lesson {} — ", l.number)),
            "WORKSHOP.md has no section `## Lesson {} — …`",
            l.number
        );
    }
    // Every lesson's answer is its own key, made as a participant runs it.
    for l in report::lessons::LESSONS {
        let key = keys
            .get(l.id)
            .unwrap_or_else(|| panic!("no answer key for lesson {} in results/lessons/{}-{}/: run scripts/answer-keys.sh {}", l.number, l.number, l.id, l.number));
        let params = key.params.as_deref().unwrap_or("");
        let made_by = params
            .lines()
            .find_map(|p| p.strip_prefix("made by: "))
            .unwrap_or("");
        let args: Vec<&str> = made_by.split_whitespace().collect();
        let number = l.number.to_string();
        assert!(
            args.len() >= 2
                && args[..2] == ["scripts/lesson.sh", number.as_str()]
                && args[2..].iter().all(|a| *a == "--no-build"),
            "lesson {}'s key {} was made by `{made_by}`, not by `scripts/lesson.sh {}` with its defaults",
            l.number,
            key.name,
            l.number
        );
        assert!(
            params.lines().any(|p| p == format!("users: {}", l.users)),
            "lesson {}'s key {} has not the lesson's {} users",
            l.number,
            key.name,
            l.users
        );
    }
    let problems = report::docs::lesson_problems(&workshop);
    assert!(problems.is_empty(), "WORKSHOP.md:\n{}", problems.join("\n"));
}

/// An experiment's README quotes its own run (the one dated directory
/// beside it).
#[test]
fn experiment_figures_are_their_own_runs() {
    let experiments = Path::new(ROOT).join("results").join("experiments");
    for dir in std::fs::read_dir(&experiments)
        .unwrap()
        .flatten()
        .map(|e| e.path())
    {
        let readme = dir.join("README.md");
        let Ok(text) = std::fs::read_to_string(&readme) else {
            continue;
        };
        if !text.contains("<!-- fig: ") && !text.contains("<!-- answer: ") {
            continue;
        }
        let runs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("raw").join("rows.tsv").is_file())
            .collect();
        assert_eq!(
            runs.len(),
            1,
            "{}: one run directory expected beside it",
            readme.display()
        );
        let stale = stale(&readme, &runs[0].join("raw"), &report::lessons::Keys::new());
        assert!(
            stale.is_empty(),
            "{}: figures {stale:?} are not what {} says; regenerate with `cargo run --release -p report -- workshop {} {}`",
            readme.display(),
            runs[0].display(),
            readme.display(),
            runs[0].join("raw").display()
        );
    }
}

/// No committed document links to a file the repository does not have.
#[test]
fn documents_link_only_inside_the_repository() {
    let root = Path::new(ROOT);
    let problems: Vec<String> = report::docs::markdown_files(root)
        .iter()
        .flat_map(|f| report::docs::link_problems(root, f))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
