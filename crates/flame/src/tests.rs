use std::collections::HashMap;

use runfiles::cpu::Role;

use super::*;

/// `perf script --show-task-events -F comm,pid,tid,time,event,ip,sym,dso`
/// of `perf record -e cpu-clock -F 99 -a --call-graph dwarf` on this
/// machine, stage-2 under wrk (a few samples kept: stage-2's, wrk's, the
/// idle task's), and cpuwatch's file of the same window.
const SAMPLE: &str = include_str!("../tests/fixtures/stage-2.perf-script.txt");
const SAMPLE_CPU: &str = include_str!("../tests/fixtures/stage-2.cpu.json");

fn collapse_str(text: &str, map: &RoleMap) -> (String, u64) {
    let mut out = Vec::new();
    let kept = collapse(text, map, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), kept)
}

/// The sample headers of `pid` in perf script text (`comm PID/TID time: …`).
fn samples_of(text: &str, pid: u32) -> u64 {
    text.lines()
        .filter(|l| !l.starts_with(char::is_whitespace) && l.contains("cpu-clock"))
        .filter(|l| {
            l.split_whitespace()
                .find_map(|w| w.split_once('/'))
                .and_then(|(p, _)| p.parse::<u32>().ok())
                == Some(pid)
        })
        .count() as u64
}

#[test]
fn a_recorded_sample_keeps_the_rows_processes_under_their_role() {
    let map = RoleMap::from_cpu_json(SAMPLE_CPU).unwrap();
    let app_pid = map_pid(SAMPLE_CPU, "app");
    let (folded, kept) = collapse_str(SAMPLE, &map);
    let want = samples_of(SAMPLE, app_pid);
    assert!(want > 0, "the fixture has samples of the app ({app_pid})");
    assert_eq!(kept, want, "every app sample, nothing else:\n{folded}");
    for line in folded.lines() {
        assert!(line.starts_with("app;"), "{line}");
    }
    // Our own code is named in the stacks (frames of crates/app or web).
    assert!(
        folded.contains("app::") || folded.contains("web::") || folded.contains("appserver::"),
        "{folded}"
    );
    // wrk was running too: not the row's.
    assert!(!folded.contains(";wrk"), "{folded}");
}

/// The pid cpuwatch gave `role` in its JSON.
fn map_pid(json: &str, role: &str) -> u32 {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == role && p["reaped"] == false)
        .and_then(|p| p["pid"].as_u64())
        .unwrap() as u32
}

/// Two samples in perf script's layout.
const FORKED: &str = "\
stage-1  100/100  10.0: PERF_RECORD_FORK(200:200):(100:100)
stage-1  100/100  10.0: PERF_RECORD_FORK(100:101):(100:100)
stage-1-cgi  200/200  10.1: PERF_RECORD_COMM exec: stage-1-cgi:200/200
stage-1-cgi  200/200  10.2: cpu-clock: 
\t    55d0 model::schema::open (/x/stage-1-cgi)
\t    44d0 main (/x/stage-1-cgi)

stage-1  100/101  10.3: cpu-clock: 
\t    1234 stage_1::host::spawn (/x/stage-1)

other  300/300  10.4: cpu-clock: 
\t    1234 elsewhere (/x/other)

";

#[test]
fn a_child_of_the_cgi_host_is_a_cgi_program_and_strangers_are_dropped() {
    let map = RoleMap::new([(100, Role::CgiHost)]);
    let (folded, kept) = collapse_str(FORKED, &map);
    assert_eq!(kept, 2, "{folded}");
    assert_eq!(
        folded,
        "cgi-host;stage-1;stage_1::host::spawn 1\ncgi;stage-1-cgi;main;model::schema::open 1\n"
    );
}

#[test]
fn fork_events_parse_and_threads_are_not_children() {
    assert_eq!(
        roles::fork_event("bash 1866/1866 1.0: PERF_RECORD_FORK(1869:1869):(1866:1866)"),
        Some((1869, 1866))
    );
    assert_eq!(
        roles::fork_event("x 1525/1579 1.0: PERF_RECORD_FORK(1525:1868):(1525:1579)"),
        None
    );
    assert_eq!(
        roles::fork_event("x 1/1 1.0: PERF_RECORD_COMM: x:1/1"),
        None
    );
    let forks = HashMap::from([(7, 5), (5, 3)]);
    let map = RoleMap::new([(3, Role::Nginx)]);
    assert_eq!(map.resolve(7, &forks), Some(Role::Nginx));
    assert_eq!(map.resolve(8, &forks), None);
}

const FOLDED: &str = "\
app;w;main;handle;sqlite3VdbeExec 6
app;w;main;handle;render 3
app;w;main;sqlite3VdbeExec 2
app;w;main 1
nginx;nginx;ngx_process_events;epoll_wait 4
nginx;nginx;ngx_http_write_filter 4
";

#[test]
fn top_sums_self_time_per_role() {
    let t = top(FOLDED, 2).unwrap();
    let got: Vec<(&str, &str, u64, u64)> = t
        .iter()
        .map(|f| {
            (
                f.role.as_str(),
                f.frame.as_str(),
                f.self_samples,
                f.role_samples,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("app", "sqlite3VdbeExec", 8, 12),
            ("app", "render", 3, 12),
            // A tie: by name.
            ("nginx", "epoll_wait", 4, 8),
            ("nginx", "ngx_http_write_filter", 4, 8),
        ]
    );
    assert!((t[0].share() - 8.0 / 12.0).abs() < 1e-9);
    let tsv = top_tsv(&t);
    assert!(tsv.starts_with(TOP_HEADER));
    assert!(
        tsv.contains("\napp\t1\tsqlite3VdbeExec\t8\t12\t0.6667\n"),
        "{tsv}"
    );
    assert!(
        tsv.contains("\nnginx\t2\tngx_http_write_filter\t4\t8\t0.5000\n"),
        "{tsv}"
    );
}

#[test]
fn a_line_without_a_count_is_an_error() {
    assert!(matches!(
        top("app;main\n", 5),
        Err(Error::Folded { line: 1, .. })
    ));
}

#[test]
fn svg_and_diff_draw_the_frames() {
    let mut out = Vec::new();
    svg(FOLDED, "t", &mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.contains("<svg") && s.contains("sqlite3VdbeExec"), "{s}");

    let after = "app;w;main;handle;sqlite3VdbeExec 1\napp;w;main;handle;render 9\n";
    let mut out = Vec::new();
    diff(&keep_role(FOLDED, Some("app")), after, "d", &mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.contains("<svg") && s.contains("render"), "{s}");
    assert!(!s.contains("ngx_"), "the role filter kept nginx: {s}");
}
