//! `--cpus`: stage-2 and every one of its threads run on the CPUs given;
//! a CPU the machine does not allow is a clear error at start.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_stage-2");

#[test]
fn every_thread_runs_on_the_cpus_given() {
    let site = testkit::Site::new(5);
    let cpu = testkit::pinning::one_cpu();
    let s = testkit::Running::start(BIN, &site.args(&["--cpus", &cpu]));
    assert_eq!(s.get("/").status, 200);
    testkit::pinning::assert_tree_pinned(s.pid(), &cpu, 1);
    s.stop(std::time::Duration::from_secs(10));
}

#[test]
fn a_cpu_not_allowed_is_refused_with_the_allowed_ones() {
    let site = testkit::Site::new(5);
    let out = Command::new(BIN)
        .args(site.args(&["--cpus", "4000"]))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CPU 4000") && err.contains("allowed:"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
