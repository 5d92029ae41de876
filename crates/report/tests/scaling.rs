//! The language table, the cache bound and the lessons, on a real quick
//! run's files (`fixtures/scaling-raw`, see its README): every figure is
//! recomputed here from the raw JSON, independently of the report's code.

use std::path::Path;

use report::{Tool, lessons, scaling};
use serde_json::Value;

mod common;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/scaling-raw");

fn json(raw: &Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(raw.join(name)).unwrap()).unwrap()
}

fn rps(raw: &Path, row: &str) -> f64 {
    json(raw, &format!("{row}.loadgen-realistic.json"))["rps"]
        .as_f64()
        .unwrap()
}

fn wrk_rps(raw: &Path, row: &str) -> f64 {
    let text = std::fs::read_to_string(raw.join(format!("{row}.wrk.txt"))).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .unwrap();
    line["Requests/sec:".len()..].trim().parse().unwrap()
}

/// Server CPU (every role but the load tool) per request, µs, of one
/// cpuwatch file and the req/s of its tool.
fn server_us(raw: &Path, row: &str, tool: Tool, rps: f64) -> f64 {
    let cpu = json(raw, &format!("{row}.{}.cpu.json", tool.id()));
    let roles = cpu["roles"].as_object().unwrap();
    let server: f64 = roles
        .iter()
        .filter(|(k, _)| k.as_str() != "load")
        .map(|(_, v)| v.as_f64().unwrap())
        .sum();
    server / (rps * cpu["window_s"].as_f64().unwrap()) * 1e6
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn language_pairs_rust_and_cpython_stage_by_stage() {
    let (_tmp, raw) = common::results_tree(FIXTURE, "run");
    let run = report::Run::load(&raw).unwrap();
    let rows = scaling::language(&run);
    // The fixture has python-2..4 and stage-2..4 (no CGI rows, no noindex).
    let stages: Vec<u32> = rows.iter().map(|l| l.stage).collect();
    assert_eq!(stages, [2, 3, 4]);
    for l in &rows {
        assert_eq!(l.python, format!("python-{}", l.stage));
        assert_eq!(l.rust, format!("stage-{}", l.stage));
        let want = rps(&raw, &l.rust) / rps(&raw, &l.python);
        assert!(close(
            scaling::LanguageRow::ratio(l.realistic).unwrap(),
            want
        ));
        let want_hot = wrk_rps(&raw, &l.rust) / wrk_rps(&raw, &l.python);
        assert!(close(scaling::LanguageRow::ratio(l.hot).unwrap(), want_hot));
    }
    // The chart and the section exist only because python rows do.
    let written = report::write_report(&raw, None).unwrap();
    assert!(
        written
            .markdown
            .with_file_name(report::LANGUAGE_SVG)
            .is_file()
    );
    let md = std::fs::read_to_string(&written.markdown).unwrap();
    assert!(md.contains("## Scaling isn't about the language"));
    assert!(md.contains("## What a cache can buy on the mix"));
}

#[test]
fn cache_bound_from_hit_ratio_and_cpu_per_hit_and_miss() {
    let (_tmp, raw) = common::results_tree(FIXTURE, "run");
    let run = report::Run::load(&raw).unwrap();
    let bounds = scaling::cache_bounds(&run);
    let names: Vec<(&str, &str)> = bounds
        .iter()
        .map(|b| (b.cached.as_str(), b.uncached.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("stage-4", "stage-3"),
            ("stage-4-warm", "stage-3"),
            ("python-4", "python-3")
        ]
    );
    for b in &bounds {
        let family_hot = if b.cached.starts_with("python") {
            "python-4"
        } else {
            "stage-4"
        };
        let real = json(&raw, &format!("{}.loadgen-realistic.json", b.cached));
        let h = real["cache_hits"].as_f64().unwrap() / real["requests"].as_f64().unwrap();
        assert!(close(b.h, h), "{}: h", b.cached);
        let base = server_us(
            &raw,
            &b.uncached,
            Tool::LoadgenRealistic,
            rps(&raw, &b.uncached),
        );
        let single = json(&raw, &format!("{family_hot}.loadgen-single.json"))["rps"]
            .as_f64()
            .unwrap();
        let hit = server_us(&raw, family_hot, Tool::LoadgenSingle, single) / base;
        let cached = server_us(
            &raw,
            &b.cached,
            Tool::LoadgenRealistic,
            rps(&raw, &b.cached),
        ) / base;
        let miss = ((cached - h * hit) / (1.0 - h)).max(0.0);
        assert!(close(b.hit.unwrap(), hit), "{}: hit", b.cached);
        assert!(close(b.miss.unwrap(), miss), "{}: miss", b.cached);
        assert!(close(b.bound.unwrap(), 1.0 / ((1.0 - h) * miss + h * hit)));
        assert!(close(
            b.measured.unwrap(),
            rps(&raw, &b.cached) / rps(&raw, &b.uncached)
        ));
        // A hit costs less than an uncached request, whatever the run.
        assert!(hit < 1.0, "{}: a hit costs {hit} requests", b.cached);
    }
    // Only the warm row has a timeline to check its settling on.
    let settled: Vec<bool> = bounds.iter().map(|b| b.settle.is_some()).collect();
    assert_eq!(settled, [false, true, false]);
}

#[test]
fn a_lessons_answer_is_its_table_from_the_run() {
    let (_tmp, raw) = common::results_tree(FIXTURE, "run");
    let run = report::Run::load(&raw).unwrap();
    let caching = lessons::find("caching").unwrap();
    assert_eq!(lessons::find("5").unwrap().id, "caching");
    let a = lessons::answer(&run, caching);
    // Its rows that the run has, in the lesson's order; no fault row in it.
    let rows: Vec<&str> = a
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert_eq!(rows, ["stage-3", "stage-4", "python-3", "python-4"]);
    // stage-4's req/s, as the report formats it.
    let line = a.lines().find(|l| l.starts_with("| `stage-4` |")).unwrap();
    let want = report::render::fmt_rps(rps(&raw, "stage-4"));
    assert!(line.contains(&format!("| {want} |")), "{line}");
    // The bound's sentences and the hit's CPU sentence are there.
    assert!(a.contains("`stage-4` against `stage-3`"), "{a}");
    assert!(a.contains("**A cache hit**"), "{a}");
    // The rows the run has, and only those: the CGI lesson's table has
    // stage-2 (in the fixture) and neither CGI row (not in it).
    let cgi = lessons::answer(&run, lessons::find("cgi").unwrap());
    assert!(cgi.contains("| `stage-2` |"), "{cgi}");
    assert!(!cgi.contains("| `stage-1` |") && !cgi.contains("| `python-1` |"));
    // A lesson none of whose rows the run has says so instead of a table.
    std::fs::remove_file(raw.join("stage-2.loadgen-realistic.json")).unwrap();
    let tsv = std::fs::read_to_string(raw.join("rows.tsv")).unwrap();
    let kept: String = tsv
        .lines()
        .filter(|l| !l.starts_with("stage-2\t"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(raw.join("rows.tsv"), kept).unwrap();
    for f in std::fs::read_dir(&raw).unwrap() {
        let f = f.unwrap().path();
        if f.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("stage-2.")
        {
            std::fs::remove_file(f).unwrap();
        }
    }
    let without = report::Run::load(&raw).unwrap();
    let none = lessons::answer(&without, lessons::find("cgi").unwrap());
    assert!(
        none.starts_with("— (this run has none of the lesson's rows: stage-1, python-1, stage-2)"),
        "{none}"
    );
    let tools = lessons::answer(&run, lessons::find("tools").unwrap());
    assert!(tools.contains("| `stage-4` |"));
}

fn report_bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_report"))
}

#[test]
fn workshop_check_fails_until_the_answers_are_filled() {
    let (tmp, raw) = common::results_tree(FIXTURE, "run");
    let text = tmp.path().join("WORKSHOP.md");
    std::fs::write(
        &text,
        "# W\n\n<!-- answer: gil -->\nstale\n<!-- /answer -->\n\ntext after\n",
    )
    .unwrap();
    let check = |path: &Path| {
        report_bin()
            .args(["workshop"])
            .arg(path)
            .arg(&raw)
            .arg("--check")
            .output()
            .unwrap()
    };
    let out = check(&text);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("out of date (gil)"), "{err}");
    assert!(err.contains("report workshop"), "says how to fix: {err}");
    assert!(
        std::fs::read_to_string(&text).unwrap().contains("stale"),
        "--check changes nothing"
    );
    let fill = report_bin()
        .arg("workshop")
        .arg(&text)
        .arg(&raw)
        .output()
        .unwrap();
    assert!(fill.status.success());
    let filled = std::fs::read_to_string(&text).unwrap();
    assert!(!filled.contains("stale") && filled.ends_with("<!-- /answer -->\n\ntext after\n"));
    assert!(filled.contains("| `stage-2-gil` |") || filled.contains("| `stage-2` |"));
    assert!(check(&text).status.success());
    // A marker naming no lesson is an error, not a silent skip.
    std::fs::write(&text, "<!-- answer: nope -->\n<!-- /answer -->\n").unwrap();
    let out = check(&text);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no lesson \"nope\""));
}

#[test]
fn lesson_spec_is_what_lesson_sh_reads() {
    let out = report_bin().args(["lesson-spec", "3"]).output().unwrap();
    assert!(out.status.success());
    let spec = String::from_utf8(out.stdout).unwrap();
    for line in [
        "NUMBER=3",
        "ID=gil",
        "ROWS='stage-2 stage-2-gil python-2'",
        "TOOLS='loadgen-realistic'",
        "RATES=0",
    ] {
        assert!(spec.lines().any(|l| l == line), "{line} in {spec}");
    }
    let bad = report_bin().args(["lesson-spec", "99"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("report lessons"));
    // Every lesson's rows are rows compare.sh knows.
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/compare.sh"
    ))
    .unwrap();
    for l in lessons::LESSONS {
        for row in l.rows {
            assert!(
                script.contains(&format!("\n{row}|")),
                "lesson {}: row {row} is not in compare.sh's row table",
                l.number
            );
        }
    }
}
