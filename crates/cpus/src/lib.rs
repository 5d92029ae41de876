//! The server's cores as a knob of the experiment.
//!
//! The talk measured a **dual-core** machine: one CherryPy process used one
//! core of the two (the GIL), two behind nginx used both. A laptop with 8
//! cores measures a different machine unless the server is held to two of
//! them. Every stage binary and `loadgen` take `--cpus LIST` (`0,1`, `2-3`,
//! `0-1,4`) and call [`pin`] first thing in `main`, before any thread or
//! child exists:
//!
//! ```text
//! target/release/stage-3 --cpus 0,1 --db data/flickrkillr.db     # the talk's machine
//! target/release/loadgen --cpus 2-3 --mix realistic URL           # the load on the others
//! ```
//!
//! Why `sched_setaffinity` and not a cgroup-v2 cpuset: the mask is
//! inherited by every thread and child a process starts later (nginx's
//! master and workers, memcached, the app instances, every CGI program, the
//! CPython processes), it needs no privileges and no writable cgroup tree,
//! and `/proc/PID/status` (`Cpus_allowed_list`, [`allowed`]) shows it for
//! each process, which is what the tests read. A cpuset would also fence
//! off processes that re-pin themselves; none of ours do.
//!
//! **Invariant:** [`pin`] runs before the process starts a thread: the
//! mask of a thread that already exists is not changed.

use std::fmt;
use std::str::FromStr;

use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad CPU list {0:?}: write it as `0,1`, `2-3` or `0-1,4`")]
    Syntax(String),
    #[error(
        "CPU {cpu} is not one this machine lets us use (allowed: {allowed}); see `nproc` and `taskset -pc $$`"
    )]
    Unavailable { cpu: usize, allowed: CpuList },
    #[error("cannot pin to CPUs {0}: {1}")]
    Pin(CpuList, std::io::Error),
}

/// A set of CPU numbers, in increasing order, without repeats.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuList(Vec<usize>);

impl CpuList {
    pub fn cpus(&self) -> &[usize] {
        &self.0
    }

    /// How many CPUs: what nginx's `worker_processes` and the default
    /// instance count follow when a list is given.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for CpuList {
    type Err = Error;

    fn from_str(s: &str) -> Result<CpuList, Error> {
        let bad = || Error::Syntax(s.to_string());
        let mut cpus = Vec::new();
        for part in s.split(',').map(str::trim) {
            let (lo, hi) = match part.split_once('-') {
                Some((a, b)) => (a.trim(), b.trim()),
                None => (part, part),
            };
            let lo: usize = lo.parse().map_err(|_| bad())?;
            let hi: usize = hi.parse().map_err(|_| bad())?;
            if lo > hi {
                return Err(bad());
            }
            cpus.extend(lo..=hi);
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(CpuList(cpus))
    }
}

/// `0-1,4`: ranges where the numbers run on, as the kernel writes them.
impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            while i + 1 < self.0.len() && self.0[i + 1] == self.0[i] + 1 {
                i += 1;
            }
            parts.push(if self.0[i] == start {
                start.to_string()
            } else {
                format!("{start}-{}", self.0[i])
            });
            i += 1;
        }
        f.write_str(&parts.join(","))
    }
}

/// The CPUs this process may run on now.
pub fn current() -> CpuList {
    let set = sched_getaffinity(None).unwrap_or_default();
    CpuList((0..CpuSet::MAX_CPU).filter(|c| set.is_set(*c)).collect())
}

/// Pins the calling process (its calling thread, and so everything it
/// starts from now on) to `list`. A CPU outside the current mask is an
/// error that names the ones allowed.
pub fn pin(list: &CpuList) -> Result<(), Error> {
    let allowed = current();
    if let Some(&cpu) = list.0.iter().find(|c| !allowed.0.contains(c)) {
        return Err(Error::Unavailable { cpu, allowed });
    }
    let mut set = CpuSet::new();
    for c in &list.0 {
        set.set(*c);
    }
    sched_setaffinity(None, &set).map_err(|e| Error::Pin(list.clone(), e.into()))
}

/// Pins to `list` if one was given; the number of CPUs the process then
/// has (the list's, or every CPU it may use).
pub fn pin_if(list: Option<&CpuList>) -> Result<usize, Error> {
    match list {
        Some(l) => pin(l).map(|()| l.len()),
        None => Ok(current().len().max(1)),
    }
}

/// `Cpus_allowed_list` of a process, from `/proc/PID/status`.
pub fn allowed(pid: u32) -> std::io::Result<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| std::io::Error::other("no Cpus_allowed_list in /proc/PID/status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_print_as_the_kernel_writes_them() {
        let l: CpuList = "4,0-1, 1".parse().unwrap();
        assert_eq!(l.cpus(), &[0, 1, 4]);
        assert_eq!(l.to_string(), "0-1,4");
        assert_eq!("2-3".parse::<CpuList>().unwrap().len(), 2);
        for bad in ["", "a", "3-1", "1-", "0,,1", "-1"] {
            assert!(bad.parse::<CpuList>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pin_holds_a_child_to_the_list_and_refuses_what_is_not_allowed() {
        let first = current().cpus()[0];
        let one: CpuList = first.to_string().parse().unwrap();
        // In a thread of its own, so the test harness keeps its mask.
        let child_mask = std::thread::spawn(move || {
            pin(&one).unwrap();
            let out = std::process::Command::new("grep")
                .args(["Cpus_allowed_list", "/proc/self/status"])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        })
        .join()
        .unwrap();
        assert!(
            child_mask.trim().ends_with(&format!("\t{first}")),
            "{child_mask:?}"
        );
        let nowhere: CpuList = (CpuSet::MAX_CPU - 1).to_string().parse().unwrap();
        assert!(matches!(pin(&nowhere), Err(Error::Unavailable { .. })));
        assert!(allowed(std::process::id()).is_ok());
    }
}
