//! One moment of the machine and of the measured process trees, read from
//! `/proc` (or from a directory laid out like it, for tests).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::time::Instant;

use crate::Error;
use crate::procfs::{self, MachineStat, ProcStat};
use crate::role::{Role, classify};

/// A process of the trees, with the role it had when it was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Proc {
    pub stat: ProcStat,
    pub argv: Vec<String>,
    pub role: Role,
}

/// The machine's counters and every process of the trees, at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Just after `/proc/stat` was read: the window is the time between
    /// two snapshots' `taken`.
    pub taken: Instant,
    pub machine: MachineStat,
    pub procs: BTreeMap<u32, Proc>,
    /// Every other process of the machine (kernel threads included): what
    /// else took the cores during the window.
    pub others: BTreeMap<u32, ProcStat>,
}

impl Snapshot {
    /// Reads `proc_dir` (`/proc`): the machine's `stat`, then every
    /// process, and keeps `load`'s tree (role `load`) and each of `roots`'
    /// trees (roots included). A process of `previous` that is still alive
    /// (same pid, same start time) but no longer in a tree (its parent
    /// died and it was re-parented) is kept too, with the role it had, so
    /// its CPU is not lost.
    ///
    /// Processes come and go while the directory is read: one that
    /// vanishes between listing and reading is simply not there.
    pub fn take(
        proc_dir: &Path,
        roots: &[u32],
        load: Option<u32>,
        previous: Option<&Snapshot>,
    ) -> Result<Snapshot, Error> {
        let stat_path = proc_dir.join("stat");
        let text = std::fs::read_to_string(&stat_path).map_err(Error::io(&stat_path))?;
        let taken = Instant::now();
        let machine = procfs::parse_machine_stat(&text)?;

        let all = scan(proc_dir)?;
        let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for s in all.values() {
            children.entry(s.ppid).or_default().push(s.pid);
        }
        let mut procs: BTreeMap<u32, Proc> = BTreeMap::new();
        // The command's tree first, so a server root that happens to
        // contain it (a shell's pid) does not claim it.
        let starts = load
            .into_iter()
            .map(|p| (p, true))
            .chain(roots.iter().map(|p| (*p, false)));
        for (root, in_load) in starts {
            let mut queue: VecDeque<(u32, Option<Role>)> = VecDeque::from([(root, None)]);
            while let Some((pid, parent)) = queue.pop_front() {
                if procs.contains_key(&pid) {
                    continue;
                }
                let Some(stat) = all.get(&pid) else { continue };
                let argv = read_cmdline(proc_dir, pid);
                let role = classify(&stat.comm, &argv, parent, in_load);
                for c in children.get(&pid).into_iter().flatten() {
                    queue.push_back((*c, Some(role)));
                }
                procs.insert(
                    pid,
                    Proc {
                        stat: stat.clone(),
                        argv,
                        role,
                    },
                );
            }
        }
        if let Some(prev) = previous {
            for (pid, p) in &prev.procs {
                if procs.contains_key(pid) {
                    continue;
                }
                if let Some(stat) = all.get(pid).filter(|s| s.starttime == p.stat.starttime) {
                    procs.insert(
                        *pid,
                        Proc {
                            stat: stat.clone(),
                            argv: p.argv.clone(),
                            role: p.role,
                        },
                    );
                }
            }
        }
        let others = all
            .into_iter()
            .filter(|(pid, _)| !procs.contains_key(pid))
            .collect();
        Ok(Snapshot {
            taken,
            machine,
            procs,
            others,
        })
    }

    /// The pids of the snapshot, for messages.
    pub fn pids(&self) -> BTreeSet<u32> {
        self.procs.keys().copied().collect()
    }
}

/// Every process's `stat` under `proc_dir`.
fn scan(proc_dir: &Path) -> Result<BTreeMap<u32, ProcStat>, Error> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(proc_dir).map_err(Error::io(proc_dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // Gone since the listing, or not ours to read: not in the trees.
        let Ok(line) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Ok(s) = procfs::parse_pid_stat(line.trim_end())
            && s.pid == pid
        {
            out.insert(pid, s);
        }
    }
    Ok(out)
}

/// The arguments, or none if the process is gone or a zombie.
fn read_cmdline(proc_dir: &Path, pid: u32) -> Vec<String> {
    std::fs::read(proc_dir.join(pid.to_string()).join("cmdline"))
        .map(|b| procfs::parse_cmdline(&b))
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fake `/proc`: `stat`, and per process `PID/stat` and `PID/cmdline`.
    pub(crate) struct FakeProc(pub tempfile::TempDir);

    impl FakeProc {
        pub(crate) fn new(machine: &str) -> FakeProc {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("stat"), machine).unwrap();
            FakeProc(dir)
        }

        /// A process: `comm`, parent, (utime, stime, cutime, cstime), start.
        pub(crate) fn add(
            &self,
            pid: u32,
            comm: &str,
            ppid: u32,
            t: [u64; 4],
            start: u64,
            argv: &str,
        ) {
            let d = self.0.path().join(pid.to_string());
            std::fs::create_dir_all(&d).unwrap();
            let line = format!(
                "{pid} ({comm}) S {ppid} 1 1 0 -1 0 0 0 0 0 {} {} {} {} 20 0 1 0 {start} 0 0\n",
                t[0], t[1], t[2], t[3]
            );
            std::fs::write(d.join("stat"), line).unwrap();
            let args: Vec<u8> = argv
                .split(' ')
                .filter(|a| !a.is_empty())
                .flat_map(|a| a.bytes().chain([0]))
                .collect();
            std::fs::write(d.join("cmdline"), args).unwrap();
        }

        pub(crate) fn remove(&self, pid: u32) {
            std::fs::remove_dir_all(self.0.path().join(pid.to_string())).unwrap();
        }

        pub(crate) fn path(&self) -> &Path {
            self.0.path()
        }
    }

    const MACHINE: &str = "cpu 100 0 50 1000 0 0 0 0 0 0\ncpu0 50 0 25 500\ncpu1 50 0 25 500\n";

    #[test]
    fn trees_and_roles() {
        let p = FakeProc::new(MACHINE);
        p.add(1, "init", 0, [0; 4], 1, "/sbin/init");
        p.add(
            10,
            "stage-3",
            1,
            [5, 5, 0, 0],
            100,
            "/r/stage-3 --instances 2",
        );
        p.add(
            11,
            "nginx",
            10,
            [1, 1, 0, 0],
            110,
            "nginx: master process nginx",
        );
        p.add(12, "nginx", 11, [9, 9, 0, 0], 111, "nginx: worker process");
        p.add(
            13,
            "stage-3",
            10,
            [40, 10, 0, 0],
            112,
            "/r/stage-3 instance --listen-fd 4",
        );
        p.add(14, "a) (b", 10, [1, 0, 0, 0], 113, "odd");
        p.add(20, "stage-1", 1, [3, 3, 7, 7], 200, "/r/stage-1");
        p.add(21, "stage-1", 20, [0, 0, 0, 0], 201, "/r/stage-1");
        p.add(30, "wrk", 1, [0; 4], 300, "wrk -t2 http://x/");
        p.add(31, "stage-2", 30, [0; 4], 301, "stage-2");
        p.add(99, "bash", 1, [0; 4], 99, "bash");
        // Not ours to list: a task directory without a number, a broken stat.
        std::fs::create_dir_all(p.path().join("self")).unwrap();
        std::fs::create_dir_all(p.path().join("50")).unwrap();
        std::fs::write(p.path().join("50/stat"), "garbage").unwrap();

        let s = Snapshot::take(p.path(), &[10, 20, 77], Some(30), None).unwrap();
        assert_eq!(s.machine.cores, 2);
        assert_eq!(
            s.pids(),
            BTreeSet::from([10, 11, 12, 13, 14, 20, 21, 30, 31])
        );
        let role = |pid: u32| s.procs[&pid].role;
        assert_eq!(role(10), Role::Supervisor);
        assert_eq!((role(11), role(12)), (Role::Nginx, Role::Nginx));
        assert_eq!(role(13), Role::App);
        assert_eq!(role(14), Role::Other);
        assert_eq!(s.procs[&14].stat.comm, "a) (b");
        assert_eq!(role(20), Role::CgiHost);
        assert_eq!(role(21), Role::Cgi, "the host's child, not exec'd yet");
        assert_eq!((role(30), role(31)), (Role::Load, Role::Load));
        assert_eq!(
            s.procs[&13].argv,
            ["/r/stage-3", "instance", "--listen-fd", "4"]
        );
        let others: Vec<u32> = s.others.keys().copied().collect();
        assert_eq!(
            others,
            [1, 99],
            "the rest of the machine, broken stat left out"
        );

        // Pid 14 re-parented to init: still followed (same start time);
        // pid 13 replaced by another process with the same pid: not.
        p.add(14, "a) (b", 1, [2, 0, 0, 0], 113, "odd");
        p.add(13, "stage-3", 1, [0; 4], 999, "other");
        let t = Snapshot::take(p.path(), &[10], None, Some(&s)).unwrap();
        assert!(t.procs.contains_key(&14));
        assert_eq!(t.procs[&14].role, Role::Other);
        assert_eq!(t.procs[&14].stat.utime, 2);
        assert!(!t.procs.contains_key(&13));
        // wrk's tree was only `load` for the first snapshot; its child is
        // still load (it keeps the role it had).
        assert_eq!(t.procs[&31].role, Role::Load);
    }

    #[test]
    fn a_missing_proc_dir_is_an_error() {
        let err = Snapshot::take(Path::new("/nonexistent/proc"), &[1], None, None).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/proc/stat"), "{err}");
    }
}
