//! The report's CPU section on the fixture RAW_DIR (tests/fixtures/report-raw):
//! its `<row>.<tool>.cpu.json` files are real `cpuwatch` output (see the
//! fixture's README.md); the figures asserted here are worked out by hand
//! from those files and the tools' req/s.

use std::collections::BTreeMap;
use std::path::Path;

mod common;
use common::read;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/report-raw");
const RUN: &str = "2026-11-26-fixture-host";

/// latest-cpu.csv as (row, tool) → fields by header name.
fn cpu_csv(md: &Path) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let text = read(&md.with_file_name("latest-cpu.csv"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{l}");
            let m: BTreeMap<String, String> = header
                .iter()
                .zip(fields)
                .map(|(h, f)| (h.to_string(), f.to_string()))
                .collect();
            ((m["row"].clone(), m["tool"].clone()), m)
        })
        .collect()
}

fn f(m: &BTreeMap<String, String>, k: &str) -> f64 {
    m[k].parse()
        .unwrap_or_else(|_| panic!("{k} = {:?} is not a number", m[k]))
}

#[test]
fn cpu_per_request_by_role_rest_flag_and_capacity() {
    let (_tmp, raw) = common::results_tree(FIXTURE, RUN);
    let written = report::write_report(&raw, None).unwrap();
    let csv = cpu_csv(&written.markdown);
    assert_eq!(csv.len(), 12, "one line per cpu.json: {:?}", csv.keys());

    // stage-2, loadgen realistic: 19,712 req/s over the 1.045769 s window
    // = 20,614.2 requests; the app 0.56 CPU-s, the load tool 0.180829,
    // the machine 2.09 busy.
    let s2 = &csv[&("stage-2".into(), "loadgen-realistic".into())];
    assert_eq!(s2["requests"], "20614");
    assert_eq!(s2["app_us"], "27.166"); // 0.56 / 20,614.2
    assert_eq!(s2["load_us"], "8.772");
    assert_eq!(s2["nginx_us"], "0");
    assert_eq!(s2["rest_us"], "65.449"); // (2.09 - 0.740829) / 20,614.2
    assert_eq!(s2["machine_us"], "101.386");
    assert_eq!(s2["server_us"], "27.166", "server = every role but load");
    assert_eq!(s2["app_cores"], "0.535"); // 0.56 / 1.045769
    assert_eq!(s2["capacity_rps"], "73622.138"); // 2 cores / 27.166 µs
    // Other programs ran on this machine during the recording: the roles
    // are 35% of the machine, flagged.
    assert_eq!(s2["outside_trees_s"], "1.36");
    assert_eq!(s2["flag"], "mismatch");

    // stage-3: nginx in front of two instances.
    let s3 = &csv[&("stage-3".into(), "loadgen-realistic".into())];
    assert_eq!(s3["nginx_us"], "15.673"); // 0.31 / (19,326 × 1.02343)
    assert_eq!(s3["app_us"], "34.886");
    assert_eq!(s3["server_us"], "50.559");
    // stage-4: Σ roles 1.741247 of 2.01 busy, 13.4% off: not flagged; the
    // single URL (1.552802 of 1.99, 22%) is.
    let s4 = &csv[&("stage-4".into(), "loadgen-realistic".into())];
    assert_eq!(s4["flag"], "");
    assert_eq!(s4["memcached_us"], "14.792");
    let hit = &csv[&("stage-4".into(), "loadgen-single".into())];
    assert_eq!(hit["flag"], "mismatch");
    assert_eq!(
        (hit["nginx_us"].as_str(), hit["memcached_us"].as_str()),
        ("31.851", "16.546")
    );
    assert_eq!(hit["app_us"], "0", "every request a hit: the app saw none");
    // stage-1: the CGI programs, only visible through the host's cutime.
    let s1 = &csv[&("stage-1".into(), "loadgen-realistic".into())];
    assert_eq!(
        (s1["cgi_us"].as_str(), s1["cgi-host_us"].as_str()),
        ("887.117", "119.42")
    );

    // The invariant: roles + rest = machine, in seconds and per request.
    for ((row, tool), m) in &csv {
        let roles_us: f64 = [
            "load",
            "nginx",
            "memcached",
            "app",
            "supervisor",
            "cgi-host",
            "cgi",
            "lighttpd",
            "other",
        ]
        .iter()
        .map(|r| f(m, &format!("{r}_us")))
        .sum();
        let total = roles_us + f(m, "rest_us");
        assert!(
            (total - f(m, "machine_us")).abs() < 0.01,
            "{row} {tool}: {total} vs {}",
            m["machine_us"]
        );
        let s = f(m, "roles_s") + f(m, "rest_s");
        assert!((s - f(m, "machine_busy_s")).abs() < 0.002, "{row} {tool}");
        assert_eq!(m["lost_processes"], "0");
        assert_eq!(m["gil_held_ms"], "", "no gil-held phase in the fixture");
    }

    // --- Markdown ---
    let md = read(&written.markdown);
    assert!(md.contains("## Where the CPU goes"), "{md}");
    assert!(md.contains(
        "| row | tool | req/s | load | nginx | memcached | app | cgi-host | cgi | rest | machine | server | capacity (derived) |"
    ), "roles with CPU somewhere, in order");
    assert!(md.contains(
        "| `stage-2` | loadgen realistic | 19,712 | 8.77<br><sub>0.17 cores</sub> | 0<br><sub>0.00 cores</sub> | 0<br><sub>0.00 cores</sub> | 27.2<br><sub>0.54 cores</sub> |"
    ), "{md}");
    assert!(md.contains("65.4 ⚠<br><sub>1.29 cores, 1.30 in other processes</sub> | **101**<br><sub>2.00 cores</sub> | 27.2 | 73,622 req/s |"));
    assert!(md.contains(
        "⚠ `stage-4` loadgen single: the roles account for 1.55 CPU-s of the machine's 1.99 busy CPU-s (1.54 of 1.98 cores over 1.01 s): 22% off"
    ), "{md}");
    assert!(
        !md.contains("⚠ `stage-4` loadgen realistic"),
        "13% is under the bar"
    );
    assert!(
        !md.contains("The GIL's bound"),
        "no gil-held phase, no bound"
    );

    // The lessons, made of the same figures.
    assert!(md.contains(
        "nginx costs 15.7 µs of CPU per request in `stage-3`; with it the server spends 50.6 µs per request (34.9 µs in the app instances) against 27.2 µs for `stage-2` alone."
    ), "{md}");
    // 2 cores / (50.559 + 6.364) µs and / (27.166 + 8.772) µs.
    assert!(
        md.contains(
            "they allow at most 35,135 and 55,652 req/s; measured 19,326 and 19,712 (×0.98)"
        ),
        "{md}"
    );
    assert!(md.contains("`stage-3` is slower here because each request costs the server more CPU"));
    assert!(md.contains("With the load tool elsewhere (derived): 39,558 and 73,622 req/s."));
    assert!(md.contains("`stage-2` 0.54 of 2 (27.2 µs per request at 19,712 req/s, loadgen realistic); `stage-2-gil` 0.33 of 2"), "{md}");
    assert!(md.contains("`--gil` takes the app from 0.54 to 0.33 cores"));
    // The fixture's stage-3 req/s is a stand-in's (28k, see README.md), so
    // its per-request CPU is low here and the hit looks dearer: the
    // sentence says so instead of claiming a saving.
    assert!(md.contains(
        "costs 48.4 µs of server CPU in nginx and memcached (31.9 + 16.5) against 30.5 µs for a `stage-3` request (loadgen single): 1.6× more."
    ), "{md}");
    assert!(md.contains(
        "**A CGI request** (`stage-1`, loadgen realistic) costs 1,007 µs of CPU: 887 µs in the CGI program"
    ), "{md}");
    assert!(md.contains(
        "against 27.2 µs in `stage-2`'s app process for the same tool: 37× the CPU per request."
    ));
    assert!(md.contains("](latest-cpu.svg)"));

    // --- SVG ---
    let svg = read(&written.markdown.with_file_name("latest-cpu.svg"));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for want in [
        "stage-1",
        "stage-2",
        "stage-2-gil",
        "stage-3",
        "stage-4",
        "nginx",
        "memcached",
        "cgi",
        "rest of the machine",
        "3,651 µs",
        "101 µs",
    ] {
        assert!(texts.contains(&want), "latest-cpu.svg: {want} in {texts:?}");
    }
    // One bar per row with a realistic (or single) cpu.json, and none for
    // rows without.
    assert!(!texts.contains(&"ceiling-nginx-static"));
    // The run directory has the same files.
    let run_dir = raw.parent().unwrap();
    for name in ["latest-cpu.csv", "latest-cpu.svg"] {
        assert_eq!(
            read(&run_dir.join(name)),
            read(&written.markdown.with_file_name(name)),
            "{name}"
        );
    }
}

/// A `--gil` row's bound from the time the lock is held per request:
/// instances ÷ held time; `gil-held` overlaps the other phases, so it is
/// not added into their total.
#[test]
fn gil_bound_from_the_gil_held_phase() {
    let (_tmp, raw) = common::results_tree(FIXTURE, RUN);
    let before = read(&report::write_report(&raw, None).unwrap().markdown);
    let total_line = |md: &str| {
        md.lines()
            .find(|l| l.starts_with("| `stage-2-gil` | realistic | **"))
            .map(|l| l.split(" | ").nth(2).unwrap().to_string())
            .unwrap()
    };
    let total = total_line(&before);

    // 0.04 ms held per request of every kind, and a second process in
    // X-Served-By.
    let file = raw.join("stage-2-gil.loadgen-realistic.json");
    let mut j: serde_json::Value = serde_json::from_str(&read(&file)).unwrap();
    let kinds: Vec<String> = j["kinds"].as_object().unwrap().keys().cloned().collect();
    for k in kinds {
        j["server_timing"][&k]["gil-held"] = serde_json::json!(0.04);
    }
    j["served_by"]["stage-2 pid=1 i1"] = serde_json::json!(7);
    std::fs::write(&file, serde_json::to_string(&j).unwrap()).unwrap();

    let written = report::write_report(&raw, None).unwrap();
    let md = read(&written.markdown);
    assert!(md.contains("**The GIL's bound** (derived)"), "{md}");
    assert!(md.contains(
        "- `stage-2-gil` loadgen realistic: held 0.04 ms per request, 2 processes → at most 50,000 req/s; measured 24,823."
    ), "{md}");
    let csv = cpu_csv(&written.markdown);
    let g = &csv[&("stage-2-gil".into(), "loadgen-realistic".into())];
    assert_eq!(
        (
            g["gil_held_ms"].as_str(),
            g["gil_instances"].as_str(),
            g["gil_bound_rps"].as_str()
        ),
        ("0.04", "2", "50000")
    );
    // Rows without the phase have no bound.
    assert_eq!(
        csv[&("stage-2".into(), "loadgen-realistic".into())]["gil_bound_rps"],
        ""
    );

    // The phase is shown, and the total is what it was without it.
    assert_eq!(total_line(&md), total);
    assert!(md.contains("`gil-held` is the time the GIL was held, *while* the other phases ran"));
    assert!(md.contains(" gil-held |"), "its column");
    let phases = read(&written.markdown.with_file_name("latest-phases.svg"));
    assert!(
        !phases.contains("gil-held"),
        "not stacked on the other phases"
    );
}

/// What the section says about files it cannot use, processes whose CPU
/// was lost, and a run without any cpu.json.
#[test]
fn lost_processes_broken_files_and_no_files() {
    let (_tmp, raw) = common::results_tree(FIXTURE, RUN);
    let file = raw.join("stage-3.wrk.cpu.json");
    let mut j: serde_json::Value = serde_json::from_str(&read(&file)).unwrap();
    j["lost_processes"] = serde_json::json!([{"pid": 4242, "role": "app", "comm": "stage-3"}]);
    std::fs::write(&file, serde_json::to_string(&j).unwrap()).unwrap();
    std::fs::write(raw.join("stage-2.ab-k.cpu.json"), "{\"schema\": ").unwrap();
    let mut other = j.clone();
    other["schema"] = serde_json::json!("flickrkillr-cpu/2");
    std::fs::write(
        raw.join("stage-3.ab.cpu.json"),
        serde_json::to_string(&other).unwrap(),
    )
    .unwrap();

    let written = report::write_report(&raw, None).unwrap();
    let md = read(&written.markdown);
    assert!(md.contains(
        "`stage-3` wrk: 1 process exited in the window without a parent in the trees to wait for it: 4242 (stage-3, app) — its CPU in the window is missing"
    ), "{md}");
    assert!(
        md.contains("`stage-2.ab-k.cpu.json`: not cpuwatch JSON"),
        "{md}"
    );
    assert!(
        md.contains("`stage-3.ab.cpu.json`: schema \"flickrkillr-cpu/2\""),
        "{md}"
    );
    let csv = cpu_csv(&written.markdown);
    assert_eq!(csv.len(), 12, "the broken files are no lines");
    assert_eq!(
        csv[&("stage-3".into(), "wrk".into())]["lost_processes"],
        "1"
    );

    // No cpu.json at all: the section says so, the chart too.
    for entry in std::fs::read_dir(&raw).unwrap() {
        let p = entry.unwrap().path();
        if p.to_string_lossy().ends_with(".cpu.json") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let written = report::write_report(&raw, None).unwrap();
    let md = read(&written.markdown);
    assert!(
        md.contains("— (no `<row>.<tool>.cpu.json` in this run)"),
        "{md}"
    );
    assert!(!md.contains("### What the CPU figures say"));
    assert!(cpu_csv(&written.markdown).is_empty());
    let svg = read(&written.markdown.with_file_name("latest-cpu.svg"));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(
        doc.descendants()
            .filter_map(|n| n.text())
            .any(|t| t.trim() == "no <row>.<tool>.cpu.json with a req/s in this run"),
        "{svg}"
    );
}

/// cpuwatch shares the tool's stderr, which compare.sh writes into the
/// tool's file: its line never hides the tool's own last words.
#[test]
fn a_cpuwatch_line_does_not_hide_the_tools_error() {
    let ab = read(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-samples/ab-refused.txt"),
    );
    let with = format!(
        "{ab}cpuwatch: the command ended within the 2s delay: no window, x.cpu.json not written\n"
    );
    let e = report::parse::parse_ab(&with).unwrap_err();
    assert!(
        e.ends_with("apr_socket_recv: Connection refused (111)"),
        "{e}"
    );
    let wrk = read(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/report-samples/wrk-refused.txt"),
    );
    let e = report::parse::parse_wrk(&format!("{wrk}cpuwatch: /proc/stat: gone\n")).unwrap_err();
    assert!(e.contains("Connection refused"), "{e}");
}
