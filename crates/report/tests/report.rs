//! `report` on a hand-assembled RAW_DIR (tests/fixtures/report-raw,
//! real ab, wrk and loadgen outputs: see its README.md).

use std::process::Command;

use report::Tool;

mod common;
use common::read;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report-raw");
const RUN: &str = "2026-11-26-fixture-host";

/// The CSV as (row, tool) → fields by header name.
fn csv_rows(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            // The fixture's fields hold no commas or quotes.
            let fields: Vec<&str> = l.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{l}");
            header
                .iter()
                .zip(fields)
                .map(|(h, f)| (h.to_string(), f.to_string()))
                .collect()
        })
        .collect()
}

fn find<'a>(
    rows: &'a [std::collections::BTreeMap<String, String>],
    row: &str,
    tool: &str,
) -> &'a std::collections::BTreeMap<String, String> {
    rows.iter()
        .find(|r| r["row"] == row && r["tool"] == tool)
        .unwrap_or_else(|| panic!("no CSV line for {row} {tool}"))
}

#[test]
fn report_writes_csv_md_and_svgs_to_results_and_the_run_dir() {
    let (tmp, raw) = common::results_tree(FIXTURE, RUN);
    let written = report::write_report(&raw, None).unwrap();
    let results_dir = std::fs::canonicalize(tmp.path().join("results")).unwrap();
    let run_dir = results_dir.join(RUN);
    assert_eq!(written.markdown, results_dir.join("latest.md"));
    for dir in [&results_dir, &run_dir] {
        for name in report::OUTPUTS {
            assert!(
                dir.join(name).is_file(),
                "{} missing in {}",
                name,
                dir.display()
            );
        }
    }
    // The same data in both places: the run directory's copy of every
    // output equals the one in results/ (the Markdown's links to the raw
    // files are relative to where it lies, so they differ by the run's name).
    for name in report::OUTPUTS {
        let (in_run, in_results) = (read(&run_dir.join(name)), read(&results_dir.join(name)));
        let in_results = if name == "latest.md" {
            in_results.replace(&format!("{RUN}/raw/"), "raw/")
        } else {
            in_results
        };
        assert!(
            in_run == in_results,
            "{name} differs between {} and {}",
            run_dir.display(),
            results_dir.display()
        );
    }
    assert_eq!(written.files.len(), 2 * report::OUTPUTS.len());

    // --- CSV ---
    let csv = read(&results_dir.join("latest.csv"));
    assert_eq!(
        csv.lines().next().unwrap(),
        "row,stage,tool,rps,p50_ms,p99_ms,errors,speedup_vs_previous_stage,pages_per_day,talk_rps,status,reason,repetitions,rps_median,rps_min,rps_max"
    );
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 10 * Tool::ALL.len(), "every row x every tool");
    let order: Vec<&str> = rows.iter().step_by(5).map(|r| r["row"].as_str()).collect();
    assert_eq!(
        order,
        [
            "ceiling-nginx-static",
            "ceiling-hyper-hello",
            "stage-1",
            "stage-2",
            "stage-2-gil",
            "stage-3",
            "stage-3-gil",
            "stage-4",
            "stage-4-noindex",
            "calibration"
        ],
        "rows.tsv's order"
    );

    // ab -k on stage-1: straight from the ab output.
    let r = find(&rows, "stage-1", "ab-k");
    assert_eq!(r["stage"], "1");
    assert_eq!(r["rps"], "906.88");
    assert_eq!((r["p50_ms"].as_str(), r["p99_ms"].as_str()), ("8", "32"));
    assert_eq!(r["errors"], "0");
    assert_eq!(
        r["speedup_vs_previous_stage"], "",
        "stage 1 has no previous stage"
    );
    assert_eq!(r["pages_per_day"], "78354432"); // 906.88 * 86400
    assert_eq!(r["talk_rps"], "23");
    assert_eq!(r["status"], "ok");

    // wrk: units converted to ms.
    let r = find(&rows, "stage-1", "wrk");
    assert_eq!(
        (
            r["rps"].as_str(),
            r["p50_ms"].as_str(),
            r["p99_ms"].as_str()
        ),
        ("913.2", "8.28", "22.55")
    );
    let r = find(&rows, "ceiling-nginx-static", "wrk");
    assert_eq!(r["p50_ms"], "0.141"); // 141.00us
    assert_eq!(r["stage"], "");

    // loadgen JSON, and the speed-up over the previous stage (same tool).
    let r = find(&rows, "stage-2", "loadgen-realistic");
    assert_eq!(r["rps"], "19712");
    assert_eq!(r["speedup_vs_previous_stage"], "36.103"); // 19712 / 546
    // A variant compares with the previous stage of the main sequence.
    let r = find(&rows, "stage-4-noindex", "wrk");
    assert_eq!(r["speedup_vs_previous_stage"], "0.556"); // 11542.56 / 20754.30
    let r = find(&rows, "stage-4", "ab-k");
    assert_eq!(r["speedup_vs_previous_stage"], "0.773"); // 19620.73 / 25371.37
    assert_eq!(r["talk_rps"], "616 (homegrown) / 1750 (ab)");

    // Missing file, ab without a result, failed row: empty figures.
    for (row, tool) in [
        ("ceiling-hyper-hello", "ab"),
        ("ceiling-nginx-static", "loadgen-realistic"),
        ("stage-2-gil", "ab"),
        ("stage-3-gil", "wrk"),
    ] {
        let r = find(&rows, row, tool);
        assert_eq!(r["rps"], "", "{row} {tool}");
        assert_eq!(r["pages_per_day"], "", "{row} {tool}");
    }
    let r = find(&rows, "stage-3-gil", "loadgen-single");
    assert_eq!(r["status"], "failed");
    assert_eq!(
        r["reason"],
        "verification failed: 2 of 38 checks (sessions)"
    );
    // ab's length mismatches are not errors.
    assert_eq!(find(&rows, "ceiling-hyper-hello", "ab-k")["errors"], "0");

    // --- Markdown ---
    let md = read(&results_dir.join("latest.md"));
    assert!(md.starts_with(&format!("# FlickrKillr — measured: {RUN}\n")));
    assert!(md.contains("host: fixture-host"), "machine.txt verbatim");
    assert!(md.contains("quick: yes"), "params.txt verbatim");
    assert!(md.contains(
        "| row | what | the talk (req/s) | loadgen realistic | loadgen single | ab -k | ab | wrk | pages/day | verify |"
    ));
    assert!(md.contains(
        "| `stage-1` | CGI: a process per request | 23 | **546**<br><sub>15.2 · 35.2 ms</sub> |"
    ));
    assert!(md.contains("**19,712** ×36<br>"), "speed-up in the cell");
    assert!(md.contains("**failed:** verification failed: 2 of 38 checks (sessions)"));
    assert!(md.contains("✗ 2 of 38 failed"));
    assert!(md.contains("✓ 38 checks"));
    assert!(md.contains("— <sub>no result</sub>"));
    assert!(md.contains("apr_pollset_poll: The timeout specified has expired"));
    assert!(md.contains("1928 length mismatches"));
    // 50,987 / 52,525.71
    assert!(md.contains("loadgen/wrk = 0.97"), "calibration line");
    assert!(
        md.contains("`--SCAN photos"),
        "EXPLAIN next to the no-index row"
    );
    assert!(md.contains("`stage-4-noindex` (against `stage-4`"));
    assert!(md.contains("| row | mix | total ms | process | init | db-open |"));
    assert!(md.contains("| `stage-1` | realistic | **13.2** | 9.26 |"));
    assert!(md.contains("](latest.svg)") && md.contains("](latest-phases.svg)"));
    assert!(md.contains("wrk --latency -t2 -c8 -d2s http://127.0.0.1:8001/user/user1"));
    assert!(
        md.contains(&format!("]({RUN}/raw/)")),
        "raw link from results/"
    );
    let run_md = read(&run_dir.join("latest.md"));
    assert!(run_md.contains("](raw/)"), "raw link from the run dir");

    // --- SVG ---
    for name in ["latest.svg", "latest-phases.svg"] {
        let svg = read(&results_dir.join(name));
        assert!(svg.contains("<svg"), "{name}");
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(str::trim)
            .collect();
        assert!(texts.contains(&"stage-1"), "{name}: row labels");
    }
    let svg = read(&results_dir.join("latest.svg"));
    for label in [
        "loadgen realistic",
        "ab -k",
        "wrk",
        "100k",
        "talk: 616 / 1,750",
        "failed",
    ] {
        assert!(svg.contains(label), "latest.svg: {label}");
    }
    let phases = read(&results_dir.join("latest-phases.svg"));
    for label in ["process", "db-open", "query", "13.2 ms"] {
        assert!(phases.contains(label), "latest-phases.svg: {label}");
    }
}

#[test]
fn out_dir_and_missing_files() {
    let (tmp, raw) = common::results_tree(FIXTURE, RUN);
    // Keep only stage-1's wrk output and stage-2's ab output: no rows.tsv,
    // no machine.txt, no calibration.
    for entry in std::fs::read_dir(&raw).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name != "stage-1.wrk.txt" && name != "stage-2.ab.txt" {
            std::fs::remove_file(raw.join(name)).unwrap();
        }
    }
    let out = tmp.path().join("elsewhere");
    let written = report::write_report(&raw, Some(&out)).unwrap();
    assert!(
        written
            .markdown
            .starts_with(std::fs::canonicalize(&out).unwrap())
    );
    assert!(written.warnings.iter().any(|w| w.contains("no rows.tsv")));
    let md = read(&out.join("latest.md"));
    assert!(md.contains("loadgen/wrk = —"));
    assert!(md.contains("— (no machine.txt)"));
    assert!(md.contains("no rows.tsv"));
    let csv = read(&out.join("latest.csv"));
    // Rows found from file names, stage from the id.
    assert!(csv.contains("\nstage-1,1,wrk,913.2,"), "{csv}");
    assert!(csv.contains("\nstage-2,2,ab,10811.86,1,2,0,,"), "{csv}");
    for name in ["latest.svg", "latest-phases.svg"] {
        roxmltree::Document::parse(&read(&out.join(name))).unwrap();
    }
    // Also written to the run directory.
    assert!(raw.parent().unwrap().join("latest.md").is_file());
}

#[test]
fn empty_raw_dir_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = report::write_report(tmp.path(), Some(tmp.path())).unwrap_err();
    assert!(err.to_string().contains("no rows"), "{err}");
}

#[test]
fn cli_prints_the_markdown_path() {
    let (tmp, raw) = common::results_tree(FIXTURE, RUN);
    let out = Command::new(env!("CARGO_BIN_EXE_report"))
        .arg(&raw)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8(out.stdout).unwrap();
    let want = std::fs::canonicalize(tmp.path().join("results"))
        .unwrap()
        .join("latest.md");
    assert_eq!(printed.trim(), want.display().to_string());

    let out = Command::new(env!("CARGO_BIN_EXE_report"))
        .arg("/nonexistent/raw")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let help = Command::new(env!("CARGO_BIN_EXE_report"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("RAW_DIR"));
}

/// A row compares with the previous stage of its own series when the run
/// has one (`stage-3-slow50` with `stage-2-slow50`), else with the
/// previous stage of its language (`python-3` with `python-2`,
/// `python-4-noindex` with `python-3`), else with the main sequence
/// (`python-2` with `stage-1`: the run has no `python-1`).
#[test]
fn speedup_follows_the_rows_series() {
    let (_tmp, raw) = common::results_tree(FIXTURE, RUN);
    // Series rows made of stage-2-gil's and stage-2's wrk outputs, renamed.
    for (from, to) in [
        ("stage-2-gil", "stage-2-slow50"),
        ("stage-2", "stage-3-slow50"),
        ("stage-2-gil", "python-2"),
        ("stage-2", "python-3"),
        ("stage-2-gil", "python-4-noindex"),
    ] {
        std::fs::copy(
            raw.join(format!("{from}.wrk.txt")),
            raw.join(format!("{to}.wrk.txt")),
        )
        .unwrap();
    }
    let mut tsv = read(&raw.join("rows.tsv"));
    for (id, stage) in [
        ("stage-2-slow50", 2),
        ("stage-3-slow50", 3),
        ("python-2", 2),
        ("python-3", 3),
        ("python-4-noindex", 4),
    ] {
        tsv.push_str(&format!("{id}\t{stage}\t{id}\t\tok\t\n"));
    }
    std::fs::write(raw.join("rows.tsv"), tsv).unwrap();
    let written = report::write_report(&raw, None).unwrap();
    let csv = read(&written.markdown.with_file_name("latest.csv"));
    let rows = csv_rows(&csv);
    let speedup = |row: &str| find(&rows, row, "wrk")["speedup_vs_previous_stage"].clone();
    assert_eq!(speedup("stage-3-slow50"), "1.017"); // 24631.74 / 24231.79
    assert_eq!(speedup("stage-2-slow50"), "26.535"); // 24231.79 / stage-1's 913.2
    assert_eq!(speedup("python-3"), "1.017");
    assert_eq!(speedup("python-2"), "26.535");
    assert_eq!(speedup("python-4-noindex"), "0.984"); // 24231.79 / 24631.74
}

/// The realistic mix's nginx hits, per cached row, from the loadgen JSON;
/// rows without hits are not listed.
#[test]
fn cache_hits_of_the_realistic_mix() {
    let (_tmp, raw) = common::results_tree(FIXTURE, RUN);
    let md = read(&report::write_report(&raw, None).unwrap().markdown);
    assert!(
        !md.contains("## Cache hits"),
        "no hits in the fixture: {md}"
    );
    let file = raw.join("stage-4.loadgen-realistic.json");
    let json = read(&file).replace("\"cache_hits\": 0", "\"cache_hits\": 38039");
    std::fs::write(&file, json).unwrap();
    let md = read(&report::write_report(&raw, None).unwrap().markdown);
    assert!(md.contains("## Cache hits on the realistic mix"), "{md}");
    assert!(
        md.contains("- `stage-4`: 75.0% hits (38,039 of 50,718 responses); ×"),
        "{md}"
    );
    assert!(!md.contains("- `stage-1`:"), "{md}");
}

/// With a second repetition (`raw/rep-2/`), the lessons' numbers and the
/// CSV are medians with their range, each × is computed within each
/// repetition, and a × whose range holds 1 is marked as no difference.
#[test]
fn repetitions_give_medians_ranges_and_no_difference() {
    let (_tmp, raw) = common::results_tree(FIXTURE, RUN);
    let rep = raw.join("rep-2");
    std::fs::create_dir(&rep).unwrap();
    for f in [
        "rows.tsv",
        "machine.txt",
        "params.txt",
        "stage-3.loadgen-realistic.json",
    ] {
        std::fs::copy(raw.join(f), rep.join(f)).unwrap();
    }
    // stage-2 slower in the second pass: stage-3 ÷ stage-2 is ×0.98 in the
    // first (19,326 ÷ 19,712) and ×1.29 in the second (÷ 15,000).
    let first = read(&raw.join("stage-2.loadgen-realistic.json"));
    assert!(first.contains("\"rps\": 19712.0"));
    std::fs::write(
        rep.join("stage-2.loadgen-realistic.json"),
        first.replacen("\"rps\": 19712.0", "\"rps\": 15000.0", 1),
    )
    .unwrap();

    let run = report::Run::load(&raw).unwrap();
    assert_eq!(run.repeats.len(), 1);
    let answer = report::lessons::answer(&run, report::lessons::find("balancing").unwrap());
    let line = |row: &str| {
        answer
            .lines()
            .find(|l| l.starts_with(&format!("| `{row}` |")))
            .unwrap_or_else(|| panic!("no {row} line in\n{answer}"))
            .to_string()
    };
    assert!(
        line("stage-2").contains("| 17,356 (15,000–19,712) |"),
        "{}",
        line("stage-2")
    );
    assert!(
        line("stage-3").contains(&format!(
            "×1.1 (×0.98–×1.3) {}",
            report::lessons::NO_DIFFERENCE
        )),
        "{}",
        line("stage-3")
    );
    assert!(answer.contains("2 repetitions"), "{answer}");

    let written = report::write_report(&raw, None).unwrap();
    let csv = read(&written.markdown.with_file_name("latest.csv"));
    let rows = csv_rows(&csv);
    let s2 = find(&rows, "stage-2", "loadgen-realistic");
    assert_eq!(
        (
            s2["repetitions"].as_str(),
            s2["rps_median"].as_str(),
            s2["rps_min"].as_str(),
            s2["rps_max"].as_str()
        ),
        ("2", "17356", "15000", "19712")
    );
    // A tool the second pass did not measure: one sample.
    assert_eq!(find(&rows, "stage-2", "wrk")["repetitions"], "1");
}

/// `report agree`: a run agrees with itself on every ratio it has; a run
/// whose stage-2 halved does not, on the ratios stage-2 is part of.
#[test]
fn agreement_of_two_runs() {
    let (_tmp, raw) = common::results_tree(FIXTURE, RUN);
    let run = report::Run::load(&raw).unwrap();
    let same = report::repeats::agreement(&run, &run);
    let last = same.lines().last().unwrap();
    let n = same.lines().filter(|l| l.starts_with("| `")).count();
    assert!(n >= 2, "{same}");
    assert_eq!(
        last,
        format!(
            "B's median inside A's range for {n} of {n} ratios; the same verdict for {n} of {n}."
        )
    );
    let (_tmp2, raw2) = common::results_tree(FIXTURE, RUN);
    let f = raw2.join("stage-2.loadgen-realistic.json");
    let text = read(&f).replacen("\"rps\": 19712.0", "\"rps\": 9856.0", 1);
    std::fs::write(&f, text).unwrap();
    let other = report::Run::load(&raw2).unwrap();
    let diff = report::repeats::agreement(&run, &other);
    let line = diff
        .lines()
        .find(|l| l.starts_with("| `stage-3` ÷ `stage-2` |"))
        .unwrap_or_else(|| panic!("{diff}"));
    assert!(line.contains("| **no** |"), "{line}");
}
