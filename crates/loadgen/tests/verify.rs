//! `verify` passes a server that keeps the contract and names what a broken
//! one gets wrong; the binary exits accordingly.

mod support;

use std::process::Command;

use support::site::{self, Faults};

#[test]
fn a_conforming_server_passes_every_check() {
    let seeded = site::seed(30);
    let server = site::start(&seeded.db, Faults::default());
    let report =
        loadgen::verify(&loadgen::VerifyConfig::new(&server.url("/"), &seeded.db)).unwrap();
    let failed: Vec<String> = report.failures().map(|c| c.to_string()).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(report.checks.len() >= 30, "{} checks", report.checks.len());
    // The write really happened, with the marker escaped in the stored page.
    let conn = model::open(&seeded.db).unwrap();
    let body: String = conn
        .query_row(
            "SELECT body FROM comments ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        body.starts_with("loadgen-verify-") && body.contains("<script>") && body.contains("日本")
    );
}

#[test]
fn a_broken_server_fails_the_right_checks() {
    let seeded = site::seed(30);
    let faults = Faults {
        no_charset: true,
        lenient_page: true,
        lose_writes: true,
    };
    let server = site::start(&seeded.db, faults);
    let report =
        loadgen::verify(&loadgen::VerifyConfig::new(&server.url("/"), &seeded.db)).unwrap();
    assert!(!report.passed());
    let failed: Vec<String> = report.failures().map(|c| c.to_string()).collect();
    let any = |s: &str| failed.iter().any(|f| f.contains(s));
    assert!(any("charset=utf-8"), "{failed:#?}");
    assert!(any("page=0"), "{failed:#?}");
    assert!(any("does not write"), "{failed:#?}");
}

#[test]
fn the_binary_prints_a_line_per_check_and_exits_non_zero_on_failure() {
    let seeded = site::seed(20);
    let server = site::start(
        &seeded.db,
        Faults {
            lenient_page: true,
            ..Faults::default()
        },
    );
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["verify", "--db"])
        .arg(&seeded.db)
        .arg(server.url("/"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count() >= 25,
        "{stdout}"
    );
    assert!(stdout.contains("FAIL  page=0 is a bad request"), "{stdout}");
    assert!(
        stdout.contains("1 of ") && stdout.contains("checks FAILED"),
        "{stdout}"
    );
}

#[test]
fn the_binary_runs_load_and_writes_json() {
    let server = support::Server::with(|_| support::Reply::ok("hi"));
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["-c", "4", "-n", "100", "-w", "0", "--json"])
        .arg(&json)
        .arg(server.url("/user/user1"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("100 in") && stdout.contains("p99.9"),
        "{stdout}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        (v["requests"].as_u64(), v["concurrency"].as_u64()),
        (Some(100), Some(4))
    );
    assert_eq!(v["kinds"]["user"]["requests"], 100);

    let bad = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["-d", "ten", "http://127.0.0.1:9/"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ten"));
}
