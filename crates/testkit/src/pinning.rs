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
