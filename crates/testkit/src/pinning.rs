//! Checks of `--cpus` (the `cpus` crate): every thread of every process of
//! a running stage holds the mask it was given.

/// One CPU this test process may use, as a `--cpus` list (the first).
pub fn one_cpu() -> String {
    cpus::current().cpus()[0].to_string()
}

/// `(pid, tid, Cpus_allowed_list)` of every thread of `pid` and of its
/// descendants.
pub fn masks(pid: u32) -> Vec<(u32, u32, String)> {
    let mut pids = vec![pid];
    pids.extend(cluster::process::descendants(pid));
    let mut out = Vec::new();
    for p in pids {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue; // exited meanwhile
        };
        for t in tasks.flatten() {
            let Some(tid) = t.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Ok(mask) = cpus::allowed(tid) {
                out.push((p, tid, mask));
            }
        }
    }
    out
}

/// Panics, naming the process, unless every thread of `pid`'s tree (at
/// least `min_processes` processes) runs on exactly `want`.
pub fn assert_tree_pinned(pid: u32, want: &str, min_processes: usize) {
    let m = masks(pid);
    let mut procs: Vec<u32> = m.iter().map(|x| x.0).collect();
    procs.dedup();
    assert!(
        procs.len() >= min_processes,
        "expected at least {min_processes} processes under {pid}, found {procs:?}"
    );
    for (p, tid, mask) in &m {
        assert_eq!(
            mask,
            want,
            "thread {tid} of pid {p} ({}) runs on {mask}, not {want}",
            crate::stages::cmdline(*p)
        );
    }
}

/// A balanced stage (`bin`: stage-3 or stage-4) started with `--cpus` of
/// one CPU, with the Rust app and then with the CPython peer: every thread
/// of the supervisor, nginx's master and worker, memcached (stage-4) and the
/// instance runs on that CPU, and one CPU means one instance and one nginx
/// worker (their defaults follow the list).
pub fn assert_balanced_stage_pinned(bin: &str, memcached: bool) {
    if !crate::stages::tools_present(memcached) {
        return;
    }
    let site = crate::Site::new(5);
    let cpu = one_cpu();
    // supervisor, nginx master, one worker, one instance (+ memcached)
    let min = 4 + usize::from(memcached);
    for python in [false, true] {
        let s = if python {
            crate::python::start_stage(bin, &site, &["--cpus", &cpu])
        } else {
            crate::Running::start(bin, &crate::stages::args(&site, &["--cpus", &cpu]))
        };
        assert_eq!(s.get("/").status, 200);
        assert_tree_pinned(s.pid(), &cpu, min);
        let workers = crate::stages::children_matching(s.pid(), "nginx: worker").len();
        assert_eq!(workers, 1, "one CPU, one nginx worker (python: {python})");
        s.stop(std::time::Duration::from_secs(20));
    }
}
