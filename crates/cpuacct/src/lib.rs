//! # cpuacct — which process spent how much CPU per request
//!
//! The talk: "know where the bottlenecks are". On a 2-core machine the load
//! generator, nginx, memcached and the app share the cores, so req/s alone
//! hides the lessons: stage-3 (nginx + 2 instances) can serve fewer req/s
//! than stage-2 alone because nginx's CPU per request is taken from the
//! same two cores. This crate measures it: `/proc` snapshots of the
//! machine and of the server's process tree at the two edges of a load
//! tool's measured interval, the difference charged to **roles**.
//!
//! ```sh
//! cargo run --release -p cpuacct --bin cpuwatch -- --tree "$STAGE_PID" --delay 2s \
//!     --json stage-3.loadgen-realistic.cpu.json -- \
//!     target/release/loadgen --mix realistic -w 2s -d 10s http://127.0.0.1:8003/
//! ```
//!
//! `cpuwatch` runs the command (the load tool: loadgen, wrk, ab) with its
//! stdin, stdout and stderr, takes the first snapshot `--delay` after
//! starting it (the tool's warm-up, so the window is the interval the tool
//! measures), the second when it exits, writes the JSON and exits with the
//! command's status (128 + N if a signal N killed it). It prints nothing of
//! its own unless something goes wrong: 125 = cpuwatch failed (bad
//! arguments, `/proc` unreadable, JSON not written), 126 = the command
//! could not be run, 127 = not found. A command that ends within the
//! delay has no window: no JSON is written, a line on stderr says so, and
//! the exit status is the command's.
//!
//! ## The JSON (`flickrkillr-cpu/1`)
//!
//! Every key is always present; times are CPU seconds (core-seconds) over
//! the window, rounded to the microsecond. The types are `runfiles::cpu`
//! (what `report` reads back); this crate fills them.
//!
//! | key | what |
//! |---|---|
//! | `schema` | `"flickrkillr-cpu/1"` |
//! | `window_s` | wall-clock seconds between the snapshots |
//! | `cores` | cores the kernel accounts for (`cpuN` lines of `/proc/stat`) |
//! | `ticks_per_s` | the unit of `/proc` times (`sysconf(_SC_CLK_TCK)`, 100): 10 ms resolution per process |
//! | `machine_busy_s` | user + nice + system + irq + softirq + steal of every core |
//! | `machine_idle_s` | idle + iowait of every core (busy + idle ≈ `window_s` × `cores`) |
//! | `machine_irq_s` | irq + softirq, part of busy: what the kernel's tick found it doing outside a task (see below) |
//! | `machine_steal_s` | steal, part of busy: a virtual machine's cores given to another guest |
//! | `outside_trees_s` | CPU of every other process of the machine (kernel threads, cpuwatch, other programs): what else took the cores |
//! | `roles` | `{role: cpu_s}` for every role of [`Role::ALL`] (`load`, `nginx`, `memcached`, `app`, `supervisor`, `cgi-host`, `cgi`, `lighttpd`, `other`), 0 when none |
//! | `processes` | `[{pid, role, comm, cpu_s, reaped}]`: each process's own CPU; a line with `reaped: true` is the CPU of children that process waited for in the window (its cutime + cstime), charged to their role (`cgi` for a CGI host); the `roles` are the sums of these lines |
//! | `lost_processes` | `[{pid, role, comm}]`: processes seen at the first snapshot, gone at the second, that nobody in the trees waited for: their CPU in the window is missing |
//! | `command` | the command's arguments |
//! | `delay_s` | the delay before the first snapshot |
//!
//! ## Roles
//!
//! Decided by [`role::classify`] for each process of the trees (first match
//! wins): the command and its descendants → `load`; a child of a
//! `cgi-host` or `lighttpd` → `cgi`; named (`comm`, or argv\[0\]'s last
//! component) `nginx` → `nginx`, `memcached` → `memcached`, `lighttpd` →
//! `lighttpd`; `stage-1-cgi` or `*.cgi` → `cgi`; `stage-1` → `cgi-host`;
//! `stage-2` → `app`; `stage-N` (N ≥ 3) with `instance` as its first
//! argument → `app`, otherwise → `supervisor`; `python*` running a script
//! `fk_serve.py` → `app`; anything else → `other`.
//!
//! ## How CPU is charged
//!
//! - A process alive at both snapshots (same pid *and* start time): its
//!   utime + stime difference. One born in the window: all of it.
//! - The CPU of children a process waited for shows up in its cutime +
//!   cstime: their difference is charged to the children's role
//!   ([`Role::reaped_children`]): this is how stage-1's CGI programs,
//!   which live a few milliseconds and are gone before any snapshot sees
//!   them, are counted. A child seen at the first snapshot and waited for
//!   in the window has its CPU before the window taken off.
//! - The command: its rusage from `wait4` (user + system, its waited-for
//!   children included) minus what `/proc` said of it at the first
//!   snapshot.
//! - **What is lost**: a process that exits between the snapshots loses
//!   its CPU unless an ancestor in the trees waits for it (the nearest one
//!   still alive is assumed to have). Its pid is listed in
//!   `lost_processes` if the first snapshot saw it; a process both born
//!   and re-parented out of the trees within the window is not even seen.
//!   A parent that ignores SIGCHLD has its children reaped by the kernel,
//!   which adds their time to nobody.
//! - Threads are inside their process's figures (every thread's, live or
//!   exited).
//! - **Kernel work is charged to the task it interrupted.** A process's
//!   utime + stime is its scheduler run time, and the kernel's tick
//!   charges an interrupt or softirq to whoever was running (it also counts
//!   the tick in `/proc/stat`'s irq/softirq columns, so `machine_irq_s` is
//!   *partly inside* the processes' figures, not beside them). On loopback
//!   a packet is received in the sender's context: the TCP receive work of
//!   a response lands in the server's stime, that of a request in the load
//!   tool's.
//! - What no role holds is the **rest**, `machine_busy_s` − Σ `roles`:
//!   the other processes of the machine (`outside_trees_s`: other
//!   programs, kernel threads such as ksoftirqd, cpuwatch itself), steal,
//!   interrupts and softirqs that hit an idle core (the idle task has no
//!   `/proc` entry), and processes outside the trees that came and went.

pub mod account;
pub mod procfs;
pub mod role;
pub mod snapshot;
pub mod sys;
pub mod watch;

use std::path::{Path, PathBuf};

pub use account::{CommandEnd, account};
pub use role::Role;
pub use runfiles::cpu::{CpuReport, LostProcess, ProcessCpu, SCHEMA};
pub use snapshot::Snapshot;
pub use watch::{Outcome, Watch};

/// Why a snapshot, a run or a file failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: cannot parse: {why}")]
    Parse { file: &'static str, why: String },
    #[error("no command to run")]
    NoCommand,
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for pid {pid}: {source}")]
    Wait {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("writing the JSON: {0}")]
    Json(#[source] serde_json::Error),
}

impl Error {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn parse(file: &'static str, why: impl Into<String>) -> Error {
        Error::Parse {
            file,
            why: why.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One second on 2 cores, half a core busy, nothing charged yet.
    fn quiet_report() -> CpuReport {
        CpuReport {
            schema: SCHEMA.into(),
            window_s: 1.0,
            cores: 2,
            ticks_per_s: 100,
            machine_busy_s: 0.5,
            machine_idle_s: 1.5,
            machine_irq_s: 0.0,
            machine_steal_s: 0.0,
            outside_trees_s: 0.0,
            roles: Role::ALL.iter().map(|r| (*r, 0.0)).collect(),
            processes: vec![],
            lost_processes: vec![],
            command: vec![],
            delay_s: 0.0,
        }
    }

    /// The documented keys, all present even when empty or zero.
    #[test]
    fn json_has_every_key() {
        let r = quiet_report();
        let v: serde_json::Value = serde_json::to_value(&r).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        for k in [
            "schema",
            "window_s",
            "cores",
            "ticks_per_s",
            "machine_busy_s",
            "machine_idle_s",
            "machine_irq_s",
            "machine_steal_s",
            "outside_trees_s",
            "roles",
            "processes",
            "lost_processes",
            "command",
            "delay_s",
        ] {
            assert!(keys.iter().any(|x| *x == k), "{k} missing: {keys:?}");
        }
        let roles: Vec<&String> = v["roles"].as_object().unwrap().keys().collect();
        assert_eq!(roles.len(), 9);
        assert!(roles.iter().any(|r| *r == "cgi-host"));
        let back: CpuReport = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn sums() {
        let mut r = quiet_report();
        r.roles.insert(Role::Load, 0.25);
        r.roles.insert(Role::App, 0.5);
        r.roles.insert(Role::Nginx, 0.125);
        assert_eq!(r.charged_s(), 0.875);
        assert_eq!(r.server_s(), 0.625);
        assert_eq!(r.role(Role::Cgi), 0.0);
    }
}
