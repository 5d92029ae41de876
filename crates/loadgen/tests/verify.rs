//! The `loadgen` binary: `verify` prints a line per check and exits
//! non-zero when one fails (the checks themselves are the contract crate's,
//! tested there); a load run writes its JSON.

mod support;

use std::process::Command;

use testkit::inproc::{self, Faults};

#[test]
fn verify_prints_a_line_per_check_and_exits_non_zero_on_failure() {
    let site = testkit::Site::new(20);
    let server = inproc::serve(
        &site,
        Faults {
            lenient_page: true,
            ..Faults::default()
        },
    );
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["verify", "--writes", "8", "--db"])
        .arg(&site.db)
        .arg("--photos-dir")
        .arg(&site.photos)
        .arg(server.url("/"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count() >= 60,
        "{stdout}"
    );
    assert!(stdout.contains("FAIL  page=0 is a bad request"), "{stdout}");
    assert!(
        stdout.contains("1 of ") && stdout.contains("checks FAILED"),
        "{stdout}"
    );

    let list = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["verify", "--list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    for c in contract::CHECKS {
        assert!(text.contains(c.id), "{text}");
    }
    let only = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["verify", "--only", "health,headers", "--db"])
        .arg(&site.db)
        .arg(server.url("/"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&only.stdout);
    assert!(
        only.status.success() && text.contains("all 2 checks passed"),
        "{text}"
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["verify", "--only", "nope", "--db"])
        .arg(&site.db)
        .arg(server.url("/"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--list"));
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
