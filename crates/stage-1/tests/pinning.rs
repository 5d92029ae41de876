//! `--cpus`: the CGI host and every CGI program it starts run on the CPUs
//! given (the program's own mask, read by the program, is its answer).

use std::os::unix::fs::PermissionsExt;

const BIN: &str = env!("CARGO_BIN_EXE_stage-1");

#[test]
fn the_host_and_its_cgi_children_run_on_the_cpus_given() {
    let site = testkit::Site::new(5);
    let cpu = testkit::pinning::one_cpu();
    // A CGI program that answers with the CPUs it may run on.
    let program = site.dir.path().join("mask.cgi");
    std::fs::write(
        &program,
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\ngrep Cpus_allowed_list /proc/self/status\n",
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let s = testkit::Running::start(
        BIN,
        &site.args(&["--cpus", &cpu, "--program", program.to_str().unwrap()]),
    );
    testkit::pinning::assert_tree_pinned(s.pid(), &cpu, 1);
    let r = s.get("/");
    assert_eq!(r.status, 200);
    let body = String::from_utf8_lossy(&r.body).into_owned();
    assert_eq!(
        body.trim(),
        format!("Cpus_allowed_list:\t{cpu}"),
        "the CGI child's mask"
    );
    s.stop(std::time::Duration::from_secs(10));
}
