//! The latency-at-fixed-rates table and chart and the timeline charts, on
//! tests/fixtures/rates-raw (real loadgen runs: see its README.md).

use std::path::Path;
use std::process::Command;

use report::latency::{self, FastEnough, P99_BUDGET_MS, SUSTAINED};
use report::timeline;

mod common;
use common::read;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rates-raw");
const OLD_JSON: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/report-raw/stage-1.loadgen-realistic.json"
);

/// The SVG's texts, trimmed.
fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_string())
        .collect()
}

/// Point counts of the polylines drawn in `stroke` at `width`.
fn polylines(svg: &str, stroke: &str, width: &str) -> Vec<usize> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .filter(|n| {
            n.attribute("stroke") == Some(stroke) && n.attribute("stroke-width") == Some(width)
        })
        .map(|n| {
            n.attribute("points")
                .unwrap_or("")
                .split_whitespace()
                .count()
        })
        .collect()
}

fn hex(c: plotters::style::RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

#[test]
fn rates_by_row_and_the_highest_fast_enough_rate() {
    let (_tmp, raw) = common::results_tree(FIXTURE, "run");
    let run = report::Run::load(&raw).unwrap();
    let ids: Vec<&str> = run.rates.iter().map(|r| r.row.as_str()).collect();
    assert_eq!(
        ids,
        ["stage-1", "stage-2", "stage-2-slow50", "nginx-404"],
        "rows.tsv's order"
    );
    let stage2 = &run.rates[1];
    let offered: Vec<f64> = stage2.runs.iter().map(|r| r.offered).collect();
    assert_eq!(offered, [100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0]);
    let kept: Vec<bool> = stage2.runs.iter().map(|r| r.sustained()).collect();
    assert_eq!(kept, [true, true, true, true, true, false]);
    // 15,999 of 30,000 req/s; corrected p99 731 ms, the naive one 7 ms.
    let r = stage2.run_at(30000.0).unwrap();
    assert_eq!(
        (r.achieved, r.p50_ms, r.p99_ms),
        (15999.0, 512.511, 731.135)
    );
    assert_eq!(r.uncorrected_ms, Some((3.975, 7.067)));
    assert_eq!(
        stage2.fast_enough(),
        FastEnough::UpTo {
            rate: 10000.0,
            highest_tried: false
        }
    );
    // CGI: p99 112 ms at the lowest rate, sustained (107 of 100 req/s: the
    // warm-up's queue caught up inside the window).
    let cgi = &run.rates[0];
    assert!(cgi.runs[0].sustained());
    assert!(cgi.runs[0].p99_ms > P99_BUDGET_MS);
    assert!(matches!(cgi.fast_enough(), FastEnough::NotAtLowest(ref r) if r.offered == 100.0));
    // The interpreter's weight: 89 ms at 300, 574 of 1,000 req/s at 1,000.
    assert_eq!(
        run.rates[2].fast_enough(),
        FastEnough::UpTo {
            rate: 300.0,
            highest_tried: false
        }
    );
    let slow = run.rates[2].run_at(1000.0).unwrap();
    assert!(!slow.sustained() && (slow.achieved_share() - 0.574).abs() < 1e-9);
    // Every answer on time and a 404: fast, and not sustained.
    let e404 = &run.rates[3].runs[0];
    assert_eq!(
        (e404.achieved, e404.errors, e404.attempts),
        (100.0, 100, 100)
    );
    assert!(e404.achieved_share() >= SUSTAINED.min_achieved);
    assert!(e404.p99_ms < P99_BUDGET_MS);
    assert!(!e404.sustained(), "errors > {}", SUSTAINED.max_errors);
    assert_eq!(latency::rates(&run.rates), offered);
}

#[test]
fn markdown_table_and_latency_chart() {
    let (tmp, raw) = common::results_tree(FIXTURE, "run");
    let written = report::write_report(&raw, None).unwrap();
    let results = std::fs::canonicalize(tmp.path().join("results")).unwrap();
    for dir in [results.clone(), results.join("run")] {
        for name in [
            report::LATENCY_SVG,
            "stage-3-kill-timeline.svg",
            "stage-3-kill-401-timeline.svg",
        ] {
            assert!(dir.join(name).is_file(), "{name} in {}", dir.display());
        }
    }
    assert_eq!(written.files.len(), 2 * (report::OUTPUTS.len() + 3));
    let md = read(&written.markdown);
    assert!(md.contains("## Latency at fixed offered rates"));
    assert!(
        md.contains(&SUSTAINED.describe()),
        "the rule, from its constant"
    );
    assert!(md.contains(
        "| row | 100 req/s | 300 req/s | 1,000 req/s | 3,000 req/s | 10,000 req/s | 30,000 req/s | p99 < 100 ms up to |"
    ));
    let line = |row: &str| -> &str {
        md.lines()
            .find(|l| l.starts_with(&format!("| `{row}` | **")))
            .unwrap_or_else(|| panic!("no latency line for {row}: {md}"))
    };
    let stage2 = line("stage-2");
    assert!(
        stage2.contains("| **0.498 · 2.03**<br><sub>0.498 · 2.03</sub><br>✓ |"),
        "{stage2}"
    );
    assert!(
        stage2
            .contains("| **513 · 731**<br><sub>3.98 · 7.07</sub><br>✗ 15,999 req/s, 0.0% errors |"),
        "{stage2}"
    );
    assert!(stage2.ends_with("| **10,000** req/s |"), "{stage2}");
    let cgi = line("stage-1");
    assert!(
        cgi.ends_with("| — | — | — | none: p99 112 ms at 100 req/s |"),
        "{cgi}"
    );
    assert!(line("stage-2-slow50").ends_with("| **300** req/s |"));
    let e404 = line("nginx-404");
    assert!(e404.contains("✗ 100 req/s, 100.0% errors"), "{e404}");
    assert!(
        e404.ends_with("none: not sustained at 100 req/s |"),
        "{e404}"
    );
    assert!(md.contains("](latest-latency.svg)"));

    let svg = read(&results.join(report::LATENCY_SVG));
    let t = texts(&svg);
    for want in [
        "stage-1",
        "stage-2",
        "stage-2-slow50",
        "nginx-404",
        "p99",
        "p50",
        "not sustained",
        "p99 budget: 100 ms",
        "talk: CGI, 23 req/s",
        "talk: CherryPy, 139 req/s",
        "talk: nginx + 2, 217 req/s",
        "talk: memcached, 616 req/s",
        "offered load, requests per second",
    ] {
        assert!(
            t.iter().any(|x| x == want),
            "latest-latency.svg: no {want:?} in {t:?}"
        );
    }
    // One p99 line per row (solid, 3 px), a point per rate run.
    let mut p99: Vec<usize> = ["#0072B2", "#D55E00", "#009E73", "#CC79A7"]
        .iter()
        .flat_map(|c| polylines(&svg, c, "3"))
        .filter(|n| *n != 2) // the legend's swatches
        .collect();
    p99.sort();
    assert_eq!(p99, [1, 3, 3, 6]);
}

#[test]
fn sustained_subcommand_applies_the_same_rule() {
    let bin = env!("CARGO_BIN_EXE_report");
    let run = |file: &str| {
        Command::new(bin)
            .args(["sustained", file])
            .output()
            .unwrap()
    };
    let ok = run(&format!("{FIXTURE}/stage-2.rate-10000.json"));
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(
        said.starts_with("sustained: 9,992 of 10,000 req/s (99.9%)"),
        "{said}"
    );
    let no = run(&format!("{FIXTURE}/stage-2.rate-30000.json"));
    assert_eq!(no.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no.stdout).starts_with("not sustained: 15,999 of 30,000"));
    assert_eq!(
        run(&format!("{FIXTURE}/nginx-404.rate-100.json"))
            .status
            .code(),
        Some(1)
    );
    // A closed-loop file is not a rate run.
    let closed = run(OLD_JSON);
    assert_eq!(closed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&closed.stderr).contains("closed-loop"));
}

fn report_timeline(name: &str, extra: &[&str], out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_report"))
        .arg("timeline")
        .arg(format!("{FIXTURE}/{name}.timeline.json"))
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn timeline_of_a_killed_instance() {
    let json = read(Path::new(&format!("{FIXTURE}/stage-3-kill.timeline.json")));
    let tl = timeline::parse(&json).unwrap();
    let t: Vec<i64> = tl.samples.iter().map(|s| s.t_s).collect();
    assert_eq!(t, [-1, 0, 1, 2, 3, 4, 5]);
    assert_eq!(tl.zero_unix_s, Some(1796161248.048));
    // The measured seconds add up to the run's served_by (loadgen's rule).
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut measured = std::collections::BTreeMap::new();
    for s in tl.samples.iter().filter(|s| s.t_s >= 0) {
        for (k, n) in &s.served_by {
            *measured.entry(k.clone()).or_insert(0u64) += n;
        }
    }
    let run_level: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(v["served_by"].clone()).unwrap();
    assert_eq!(measured, run_level);
    // i0 was killed at t = 2.001: its old process answers in seconds -1..1,
    // the new one from second 2; i1 throughout.
    let old = "stage-3 pid=25518 i0";
    let new = "stage-3 pid=25571 i0";
    let has = |t: i64, who: &str| tl.samples[(t + 1) as usize].served_by.contains_key(who);
    assert!((-1..=1).all(|t| has(t, old)) && (2..=5).all(|t| !has(t, old)));
    assert!((-1..=1).all(|t| !has(t, new)) && (2..=5).all(|t| has(t, new)));
    assert_eq!(
        timeline::served_by_totals(&tl)["stage-3 pid=25519 i1"],
        544 + 3282
    );

    // The script's Unix times, placed by the run's zero.
    let events = timeline::parse_events(
        &read(Path::new(&format!("{FIXTURE}/stage-3-kill.events.tsv"))),
        tl.zero_unix_s,
    )
    .unwrap();
    let at: Vec<f64> = events.iter().map(|e| e.t_s).collect();
    assert_eq!(at, [2.001, 2.122]);

    let out = tempfile::tempdir().unwrap();
    let svg_path = out.path().join("kill.svg");
    let events_file = format!("{FIXTURE}/stage-3-kill.events.tsv");
    let cli = report_timeline("stage-3-kill", &["--events", &events_file], &svg_path);
    assert!(cli.status.success(), "{cli:?}");
    let svg = read(&svg_path);
    let t = texts(&svg);
    for want in [
        "Timeline: stage-3-kill",
        "2 s  kill instance i0 (pid 25518)",
        "2.12 s  i0 restarted (pid 25571)",
        "responses/s",
        "offered 1,000 req/s",
        "no errors",
        "p99",
        "p50",
        "responses with X-Cache: HIT",
        "no X-Cache: HIT responses",
        old,
        new,
        "stage-3 pid=25519 i1",
        "warm-up",
        "seconds after the warm-up",
    ] {
        assert!(
            t.iter().any(|x| x == want),
            "timeline SVG: no {want:?} in {t:?}"
        );
    }
    // A point per second for req/s and p99 (no second without latency).
    assert_eq!(polylines(&svg, &hex(timeline::RPS_COLOR), "2"), [7]);
    assert_eq!(polylines(&svg, &hex(timeline::P99_COLOR), "2"), [7]);
    // The same chart as `report RAW_DIR` writes for <name>.timeline.json.
    let (_tmp, raw) = common::results_tree(FIXTURE, "run");
    let written = report::write_report(&raw, None).unwrap();
    let in_report = read(&written.markdown.with_file_name("stage-3-kill-timeline.svg"));
    assert_eq!(in_report, svg);

    let md = read(&written.markdown);
    assert!(md.contains("## Timelines\n"));
    assert!(md.contains(
        "### `stage-3-kill`\n\n![Timeline of stage-3-kill, second by second](stage-3-kill-timeline.svg)"
    ));
    assert!(
        md.contains(
            "lowest second: 1,000 req/s at t = 0 s; no errors after the warm-up; highest p99: 88.6 ms at t = 2 s."
        ),
        "{md}"
    );
    assert!(
        md.contains("- 2 s: kill instance i0 (pid 25518)\n- 2.12 s: i0 restarted (pid 25571)\n")
    );

    // --title, and no events.
    let cli = report_timeline("stage-3-kill", &["--title", "Killing i0"], &svg_path);
    assert!(cli.status.success(), "{cli:?}");
    let t = texts(&read(&svg_path));
    assert!(t.iter().any(|x| x == "Killing i0"));
    assert!(!t.iter().any(|x| x.contains("kill instance")));
}

/// A run from before `timeline_zero_unix_s`, with events in seconds after
/// the warm-up; on a busy machine, a visitor whose session was on i0 was
/// logged out (401).
#[test]
fn timeline_with_relative_events_and_errors() {
    let out = tempfile::tempdir().unwrap();
    let svg_path = out.path().join("401.svg");
    let events_file = format!("{FIXTURE}/stage-3-kill-401.events.tsv");
    let cli = report_timeline("stage-3-kill-401", &["--events", &events_file], &svg_path);
    assert!(cli.status.success(), "{cli:?}");
    let t = texts(&read(&svg_path));
    for want in [
        "2.03 s  kill instance i0 (pid 27128)",
        "2.18 s  i0 restarted (pid 27183)",
        "status 401",
        "errors per second",
    ] {
        assert!(t.iter().any(|x| x == want), "no {want:?} in {t:?}");
    }
    let (_tmp, raw) = common::results_tree(FIXTURE, "run");
    let md = read(&report::write_report(&raw, None).unwrap().markdown);
    assert!(md.contains("most errors: 1 at t = 2 s"), "{md}");
}

#[test]
fn timeline_inputs_that_are_refused() {
    let out = tempfile::tempdir().unwrap();
    let bad_events = out.path().join("bad.tsv");
    std::fs::write(&bad_events, "2.0\tok\nsoon\tnot a time\n").unwrap();
    let report = |json: &str, events: Option<&Path>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_report"));
        c.arg("timeline")
            .arg(json)
            .arg("--out")
            .arg(out.path().join("x.svg"));
        if let Some(e) = events {
            c.arg("--events").arg(e);
        }
        c.output().unwrap()
    };
    // A file from before --timeline existed, and a run without it.
    for json in [
        OLD_JSON.to_string(),
        format!("{FIXTURE}/stage-2.rate-100.json"),
    ] {
        let r = report(&json, None);
        assert_eq!(r.status.code(), Some(2), "{r:?}");
        assert!(
            String::from_utf8_lossy(&r.stderr).contains("no timeline"),
            "{r:?}"
        );
    }
    let r = report(
        &format!("{FIXTURE}/stage-3-kill.timeline.json"),
        Some(&bad_events),
    );
    assert_eq!(r.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("line 2"),
        "{r:?}"
    );
    assert!(!out.path().join("x.svg").exists());

    // In RAW_DIR: a timeline file without a timeline is a note, not a chart.
    let (_tmp, raw) = common::results_tree(FIXTURE, "run");
    std::fs::copy(OLD_JSON, raw.join("old.timeline.json")).unwrap();
    std::fs::write(raw.join("stage-3-kill.events.tsv"), "x\ty\n").unwrap();
    let written = report::write_report(&raw, None).unwrap();
    let md = read(&written.markdown);
    assert!(
        md.contains("— `old.timeline.json` has no result: no timeline"),
        "{md}"
    );
    assert!(!written.markdown.with_file_name("old-timeline.svg").exists());
    assert!(
        md.contains("`stage-3-kill.events.tsv` was not read: line 1"),
        "{md}"
    );
}

/// Without rows.tsv, rows are found from the rate files' names too.
#[test]
fn rate_rows_without_rows_tsv() {
    let (_tmp, raw) = common::results_tree(FIXTURE, "run");
    std::fs::remove_file(raw.join("rows.tsv")).unwrap();
    let run = report::Run::load(&raw).unwrap();
    let ids: Vec<&str> = run.rows.iter().map(|r| r.spec.id.as_str()).collect();
    assert_eq!(ids, ["stage-1", "stage-2", "stage-2-slow50", "nginx-404"]);
    let rates: Vec<&str> = run.rates.iter().map(|r| r.row.as_str()).collect();
    assert_eq!(rates, ids);
    assert_eq!(run.rows[1].spec.stage, Some(2));
}

/// A RAW_DIR without rate or timeline files gets the report it always got.
#[test]
fn old_runs_get_no_new_sections() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("results").join("old").join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let old = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report-raw");
    for entry in std::fs::read_dir(old).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), raw.join(entry.file_name())).unwrap();
    }
    let written = report::write_report(&raw, None).unwrap();
    let md = read(&written.markdown);
    assert!(!md.contains("## Latency at fixed offered rates"));
    assert!(!md.contains("## Timelines"));
    assert!(
        !written
            .markdown
            .with_file_name(report::LATENCY_SVG)
            .exists()
    );
    assert_eq!(written.files.len(), 2 * report::OUTPUTS.len());
}
