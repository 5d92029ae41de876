//! `--cpus`: every thread of a running loadgen holds the CPUs given (the
//! load tool kept off the server's cores).

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Reply, Server};

#[test]
fn every_thread_of_a_run_holds_the_cpus_given() {
    let server = Server::with(|_| Reply::ok("hello"));
    let cpu = cpus::current().cpus()[0].to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--cpus", &cpu, "-c", "4", "-t", "2", "-d", "3s", "-w", "0s", "--quiet",
        ])
        .arg(server.url("/"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Its threads exist once the load runs.
    std::thread::sleep(Duration::from_millis(800));
    let tasks: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
        .filter_map(|t| t.file_name().to_str()?.parse().ok())
        .collect();
    let masks: Vec<String> = tasks
        .iter()
        .filter_map(|t| cpus::allowed(*t).ok())
        .collect();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(tasks.len() >= 3, "main and two load threads: {tasks:?}");
    assert!(masks.iter().all(|m| *m == cpu), "{masks:?} not all {cpu}");
}

#[test]
fn a_cpu_not_allowed_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--cpus", "4000", "-d", "1s", "http://127.0.0.1:9/"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CPU 4000"), "{err}");
}
