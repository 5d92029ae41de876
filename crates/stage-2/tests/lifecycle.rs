//! stage-2's start-up errors, graceful shutdown and the GIL switch.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_stage-2");

fn fails_with(args: &[&str], needle: &str) {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(needle),
        "{args:?}: stderr lacks {needle:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn clear_errors_at_start() {
    let site = testkit::Site::new(5);
    let db = site.db.to_str().unwrap();
    // The interpreter's weight scales work under the GIL: without it, refused.
    fails_with(
        &[
            "--db",
            db,
            "--listen",
            "127.0.0.1:0",
            "--python-factor",
            "5",
        ],
        "--gil",
    );
    fails_with(
        &["--db", db, "--gil", "--python-factor", "0"],
        "--python-factor",
    );
    fails_with(
        &["--db", "/nonexistent/x.db", "--listen", "127.0.0.1:0"],
        "cargo run --release -p seed",
    );
    let not_seeded = site.dir.path().join("empty.db");
    std::fs::write(&not_seeded, b"").unwrap();
    fails_with(
        &[
            "--db",
            not_seeded.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        "not a seeded FlickrKillr database",
    );
    fails_with(
        &[
            "--db",
            db,
            "--photos",
            "/nonexistent",
            "--listen",
            "127.0.0.1:0",
        ],
        "photo directory",
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    fails_with(&["--db", db, "--listen", &addr], "already in use");
    fails_with(
        &["--db", db, "--listen", "127.0.0.1:0", "--threads", "0"],
        "--threads",
    );
}

#[test]
fn sigterm_finishes_in_flight_requests_then_exits_0() {
    let site = testkit::Site::new(5);
    let s = testkit::Running::start(BIN, &site.args(&[]));
    // An idle keep-alive connection must not hold up the exit...
    let _idle = TcpStream::connect(&s.addr).unwrap();
    // ...and a request in flight (body half sent) must still be answered.
    let mut c = TcpStream::connect(&s.addr).unwrap();
    c.write_all(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 32\r\n\r\nusername=user1").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    testkit::signal(s.pid(), libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(200));
    c.write_all(b"&password=pw-user1").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 512];
    let n = c.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(
        head.starts_with("HTTP/1.1 303"),
        "the in-flight login completed: {head}"
    );
    drop(c);
    let t = Instant::now();
    assert_eq!(
        s.stop(Duration::from_secs(15)),
        Some(0),
        "exit code 0 after SIGTERM"
    );
    assert!(t.elapsed() < Duration::from_secs(12));
}

#[test]
fn gil_switch_shows_in_server_timing() {
    let site = testkit::Site::new(5);
    let with = testkit::Running::start(BIN, &site.args(&["--gil", "--threads", "2"]));
    let t = with
        .get("/user/user1")
        .header("server-timing")
        .unwrap()
        .to_owned();
    assert!(t.contains("gil-wait;dur="), "{t}");
    assert!(
        !t.contains("python"),
        "no interpreter weight unless asked: {t}"
    );
    drop(with);
    // The interpreter's weight: work under the lock costs 20 times as much,
    // and says so in its own phase.
    let slow = testkit::Running::start(
        BIN,
        &site.args(&["--gil", "--python-factor", "20", "--threads", "1"]),
    );
    slow.get("/user/user1");
    let t = slow
        .get("/user/user1")
        .header("server-timing")
        .unwrap()
        .to_owned();
    let python: f64 = t
        .split(", ")
        .find_map(|p| p.strip_prefix("python;dur="))
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no python phase: {t}"));
    assert!(python > 0.0, "{t}");
    drop(slow);
    let without = testkit::Running::start(BIN, &site.args(&["--threads", "2"]));
    let t = without
        .get("/user/user1")
        .header("server-timing")
        .unwrap()
        .to_owned();
    assert!(!t.contains("gil-wait"), "{t}");
    // One process, many requests: the pid stays.
    let a = without.get("/healthz");
    let b = without.get("/healthz");
    assert_eq!(a.header("x-served-by"), b.header("x-served-by"));
    assert_eq!(
        a.header("x-served-by").unwrap(),
        format!("stage-2 pid={}", without.pid())
    );
}
