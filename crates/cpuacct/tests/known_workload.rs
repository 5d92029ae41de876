//! `cpuwatch` on a workload whose CPU is known in advance: the figures it
//! writes must match what the processes were made to burn.
//!
//! This test binary is also the workload (`harness = false`): it runs
//! itself through symlinks whose names select roles (`stage-3`, `nginx`,
//! `memcached`, `stage-1`, `stage-1-cgi`, `loadgen`), each burning an exact
//! amount of its own thread CPU time (CLOCK_THREAD_CPUTIME_ID), so what is
//! burnt does not depend on how busy the machine is:
//!
//! ```text
//! stage-3 (supervisor, idle) ─┬─ stage-3 instance (app): 0.5 s on one thread
//!                             ├─ nginx: 2 threads × 0.25 s
//!                             ├─ memcached: idle
//!                             ├─ sleeper (other): idle
//!                             └─ stage-1 (cgi-host): 0.1 s, then 3 CGI children
//!                                 (stage-1-cgi, 0.1 s each, started, waited for
//!                                 and gone within the window: only the host's
//!                                 cutime shows them)
//! cpuwatch -- loadgen (load): 0.3 s, after the first snapshot
//! ```
//!
//! Every process of the tree waits for a `go` file that the load command
//! creates after the first snapshot, and reports `done-NAME` when its work
//! is over; the command exits once every burner is done, so the window
//! holds all the work and nothing else. About 1.7 CPU-seconds in all.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cpuacct::{CpuReport, Role};

/// Every worker gives up after this, so a failed test leaves nothing
/// running for long even if the stop file is never written.
const DEADLINE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(5);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--worker") {
        worker(&args[i + 1..]);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        println!("known_workload: test");
        return;
    }
    known_workload();
    ended_in_delay_and_exit_codes();
    println!("known_workload: ok");
}

// ---- the workload --------------------------------------------------------

fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Spins until this thread has used `secs` more CPU seconds.
fn burn(secs: f64) {
    let until = thread_cpu() + Duration::from_secs_f64(secs);
    let mut x: u64 = 1;
    while thread_cpu() < until {
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

/// Waits until `path` exists. A worker whose test gave up (the `stop`
/// file beside `path`, or the deadline) exits instead.
fn wait_for(path: &Path) {
    let stop = path.with_file_name("stop");
    let start = Instant::now();
    while !path.exists() {
        if stop.exists() {
            std::process::exit(0);
        }
        if start.elapsed() > DEADLINE {
            std::process::exit(9);
        }
        std::thread::sleep(POLL);
    }
}

fn touch(path: &Path) {
    std::fs::write(path, b"").unwrap();
}

/// `dir/bin/NAME --worker …` (or `NAME instance --worker …`).
fn spawn(dir: &Path, name: &str, pre: &[&str], args: &[&str]) -> Child {
    Command::new(dir.join("bin").join(name))
        .args(pre)
        .arg("--worker")
        .args(args)
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn worker(args: &[String]) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        // The tree's root: starts the others, waits for the stop file.
        ["root", dir] => {
            let dir = Path::new(dir);
            let mut kids = vec![
                spawn(
                    dir,
                    "stage-3",
                    &["instance"],
                    &["burn", dir.to_str().unwrap(), "app", "0.5", "1"],
                ),
                spawn(
                    dir,
                    "nginx",
                    &[],
                    &["burn", dir.to_str().unwrap(), "nginx", "0.25", "2"],
                ),
                spawn(dir, "memcached", &[], &["idle", dir.to_str().unwrap()]),
                spawn(dir, "sleeper", &[], &["idle", dir.to_str().unwrap()]),
                spawn(dir, "stage-1", &[], &["host", dir.to_str().unwrap()]),
            ];
            touch(&dir.join("started"));
            wait_for(&dir.join("stop"));
            for k in &mut kids {
                k.wait().unwrap();
            }
        }
        ["burn", dir, name, secs, threads] => {
            let dir = Path::new(dir);
            let secs: f64 = secs.parse().unwrap();
            wait_for(&dir.join("go"));
            let n: usize = threads.parse().unwrap();
            let handles: Vec<_> = (0..n)
                .map(|_| std::thread::spawn(move || burn(secs)))
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            touch(&dir.join(format!("done-{name}")));
            wait_for(&dir.join("stop"));
        }
        ["idle", dir] => wait_for(&Path::new(dir).join("stop")),
        // stage-1's host: its own work, then CGI programs one after the
        // other, each waited for.
        ["host", dir] => {
            let dir = Path::new(dir);
            wait_for(&dir.join("go"));
            burn(0.1);
            for _ in 0..3 {
                let status = spawn(dir, "stage-1-cgi", &[], &["cgi", "0.1"])
                    .wait()
                    .unwrap();
                assert!(status.success());
            }
            touch(&dir.join("done-host"));
            wait_for(&dir.join("stop"));
        }
        ["cgi", secs] => burn(secs.parse().unwrap()),
        // The measured command: starts the work once the first snapshot
        // is surely taken, burns its own share, ends when all is done.
        ["load", dir, after_ms] => {
            let dir = Path::new(dir);
            std::thread::sleep(Duration::from_millis(after_ms.parse().unwrap()));
            touch(&dir.join("go"));
            burn(0.3);
            for name in ["app", "nginx", "host"] {
                wait_for(&dir.join(format!("done-{name}")));
            }
            println!("load done");
            std::process::exit(3);
        }
        other => panic!("unknown worker {other:?}"),
    }
}

// ---- the checks ------------------------------------------------------------

/// A temporary directory with `bin/NAME` symlinks to this binary.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    for name in [
        "stage-3",
        "nginx",
        "memcached",
        "sleeper",
        "stage-1",
        "stage-1-cgi",
        "loadgen",
    ] {
        std::os::unix::fs::symlink(&exe, dir.path().join("bin").join(name)).unwrap();
    }
    dir
}

fn cpuwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cpuwatch"))
}

/// `got` within 15% of `want` (plus `slack` seconds for process start and
/// polling, which burn a little outside `burn`).
fn near(what: &str, got: f64, want: f64, slack: f64) {
    let ok = (got - want).abs() <= 0.15 * want + slack;
    println!(
        "  {what:<32} measured {got:.3} s, expected {want:.3} s{}",
        if ok { "" } else { "  <-- FAIL" }
    );
    assert!(
        ok,
        "{what}: measured {got} s, expected {want} s (±15% + {slack} s)"
    );
}

fn known_workload() {
    let dir = workdir();
    let d = dir.path();
    let ds = d.to_str().unwrap();
    let mut root = spawn(d, "stage-3", &[], &["root", ds]);
    wait_for(&d.join("started"));
    // Stopped however the checks end.
    struct Stop<'a>(&'a Path, &'a mut Child);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            touch(&self.0.join("stop"));
            let _ = self.1.wait();
        }
    }
    let root_pid = root.id();
    let _stop = Stop(d, &mut root);

    let json = d.join("cpu.json");
    let out = cpuwatch()
        .args([
            "--tree",
            &root_pid.to_string(),
            "--delay",
            "200ms",
            "--json",
        ])
        .arg(&json)
        .arg("--")
        .arg(d.join("bin/loadgen"))
        .args(["--worker", "load", ds, "700"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "the command's status: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "load done\n",
        "stdout passed through"
    );
    assert!(
        out.stderr.is_empty(),
        "cpuwatch prints nothing of its own: {out:?}"
    );

    let text = std::fs::read_to_string(&json).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in [
        "schema",
        "window_s",
        "cores",
        "ticks_per_s",
        "machine_busy_s",
        "machine_idle_s",
        "roles",
        "processes",
        "lost_processes",
        "command",
        "delay_s",
    ] {
        assert!(v.get(key).is_some(), "{key} missing in {text}");
    }
    let r: CpuReport = serde_json::from_str(&text).unwrap();
    println!(
        "known workload: window {:.3} s, {} cores, machine busy {:.3} s, idle {:.3} s",
        r.window_s, r.cores, r.machine_busy_s, r.machine_idle_s
    );
    assert_eq!(r.schema, "flickrkillr-cpu/1");
    assert_eq!(r.delay_s, 0.2);
    assert_eq!(r.command.len(), 5);
    assert!(r.command[0].ends_with("/bin/loadgen"));
    assert_eq!(r.roles.len(), Role::ALL.len());
    assert!(r.ticks_per_s > 0 && r.cores >= 1);
    assert!(
        r.window_s > 0.5 && r.window_s < 25.0,
        "window {}",
        r.window_s
    );

    near("load (0.3 s, rusage)", r.role(Role::Load), 0.3, 0.03);
    near("app (0.5 s, one thread)", r.role(Role::App), 0.5, 0.03);
    near("nginx (2 threads x 0.25 s)", r.role(Role::Nginx), 0.5, 0.03);
    near("cgi-host (0.1 s)", r.role(Role::CgiHost), 0.1, 0.03);
    near("cgi (3 x 0.1 s, reaped)", r.role(Role::Cgi), 0.3, 0.03);
    for idle in [
        Role::Memcached,
        Role::Supervisor,
        Role::Other,
        Role::Lighttpd,
    ] {
        near(&format!("{idle} (idle)"), r.role(idle), 0.0, 0.03);
    }
    let charged = r.charged_s();
    near("sum of roles (1.7 s)", charged, 1.7, 0.05);
    // The CGI children are gone: their CPU is one reaped line of the host.
    let reaped: Vec<_> = r.processes.iter().filter(|p| p.reaped).collect();
    assert_eq!(reaped.len(), 1, "{:?}", r.processes);
    assert_eq!(
        (reaped[0].role, reaped[0].comm.as_str()),
        (Role::Cgi, "stage-1")
    );
    assert!(
        !r.processes.iter().any(|p| p.comm == "stage-1-cgi"),
        "no CGI child alive at a snapshot"
    );
    assert!(r.lost_processes.is_empty(), "{:?}", r.lost_processes);
    // Σ roles is part of what the machine did; the rest is the kernel,
    // cpuwatch and whatever else runs here.
    let slack = 0.05 + 0.05 * charged;
    println!(
        "  machine busy {:.3} s >= roles {charged:.3} s - {slack:.3}; rest {:.3} s",
        r.machine_busy_s,
        r.machine_busy_s - charged
    );
    assert!(
        r.machine_busy_s >= charged - slack,
        "machine busy {} < roles {charged}",
        r.machine_busy_s
    );
    // The trees and everything else are disjoint sets of processes: both
    // together still fit in what the machine counted.
    let processes = charged + r.outside_trees_s;
    println!(
        "  outside the trees {:.3} s; roles + outside {processes:.3} s <= busy {:.3} s + {slack:.3}; irq+softirq {:.3} s, steal {:.3} s",
        r.outside_trees_s, r.machine_busy_s, r.machine_irq_s, r.machine_steal_s
    );
    assert!(
        processes <= r.machine_busy_s + slack,
        "processes {processes} s > machine busy {} s",
        r.machine_busy_s
    );
    let capacity = r.window_s * r.cores as f64;
    let seen = r.machine_busy_s + r.machine_idle_s;
    assert!(
        (seen - capacity).abs() <= 0.1 * capacity + 0.05,
        "busy + idle = {seen} s, window x cores = {capacity} s"
    );
}

fn ended_in_delay_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let json: PathBuf = dir.path().join("cpu.json");
    let out = cpuwatch()
        .args(["--delay", "5s", "--json"])
        .arg(&json)
        .args(["--", "sh", "-c", "echo quick; exit 6"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "quick\n");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no window"),
        "{out:?}"
    );
    assert!(!json.exists(), "no window, no file");

    let out = cpuwatch()
        .args(["--json"])
        .arg(&json)
        .args(["--", "/nonexistent/tool"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    let out = cpuwatch().args(["--json"]).arg(&json).output().unwrap();
    assert_eq!(out.status.code(), Some(125), "no command: {out:?}");
    // A command killed by a signal: 128 + N, and the JSON is written.
    let out = cpuwatch()
        .args(["--json"])
        .arg(&json)
        .args(["--", "sh", "-c", "kill -KILL $$"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128 + 9), "{out:?}");
    let r: CpuReport = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(r.role(Role::Load) < 0.2);
    println!("exit codes: ok");
}
