//! The built-in CGI host survives its children: a child that overruns the
//! timeout is killed (504), one that crashes or prints garbage gives 502,
//! and the host keeps serving. Each request runs in a new process.

use std::os::unix::fs::PermissionsExt;

use testkit::http;

/// A CGI program that misbehaves on some paths and runs the real one otherwise.
fn wrapper(site: &testkit::Site) -> std::path::PathBuf {
    let path = site.dir.path().join("flaky.cgi");
    let marker = site.dir.path().join("slow-child.pid");
    let script = format!(
        r#"#!/bin/sh
case "$PATH_INFO" in
  /slow) echo $$ > {marker}; exec sleep 30 ;;
  /crash) kill -SEGV $$ ;;
  /garbage) printf 'this is not a header block\n\nbody' ; exit 0 ;;
  /silent) exit 3 ;;
  *) exec {real} ;;
esac
"#,
        marker = marker.display(),
        real = env!("CARGO_BIN_EXE_stage-1-cgi"),
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn children_fail_the_host_does_not() {
    let site = testkit::Site::new(10);
    let program = wrapper(&site);
    let host = testkit::Running::start(
        env!("CARGO_BIN_EXE_stage-1"),
        &site.args(&["--program", program.to_str().unwrap(), "--timeout", "1"]),
    );
    let t = std::time::Instant::now();
    assert_eq!(host.get("/slow").status, 504);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(10),
        "the timeout cut it short"
    );
    let slow_pid: u32 = std::fs::read_to_string(site.dir.path().join("slow-child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        !testkit::alive(slow_pid),
        "the overrunning child was killed"
    );

    assert_eq!(host.get("/crash").status, 502);
    assert_eq!(host.get("/garbage").status, 502);
    assert_eq!(host.get("/silent").status, 502);
    let ok = host.get("/user/user3");
    assert_eq!(ok.status, 200, "the host still serves");

    // One process per request, none of them the host.
    let a = host.get("/healthz");
    let b = host.get("/healthz");
    let pid = |r: &http::Resp| r.header("x-served-by").unwrap().to_owned();
    assert_ne!(pid(&a), pid(&b));
    assert!(!pid(&a).contains(&format!("pid={}", host.pid())));
    assert!(
        a.header("server-timing")
            .unwrap()
            .starts_with("process;dur="),
        "{:?}",
        a.header("server-timing")
    );
    assert_eq!(
        host.stop(std::time::Duration::from_secs(10)),
        Some(0),
        "SIGTERM: clean exit"
    );
}

#[test]
fn clear_errors_at_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stage-1"))
        .args(["--db", "/nonexistent/x.db", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not exist") && err.contains("cargo run --release -p seed"),
        "{err}"
    );

    // The CGI program run by hand says what it is.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stage-1-cgi"))
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CGI program"));
}
