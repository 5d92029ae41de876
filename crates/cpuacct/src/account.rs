//! The difference of two snapshots: CPU seconds per process and per role
//! over the window, and the processes whose CPU could not be seen.

use std::collections::BTreeMap;

use crate::role::Role;
use crate::snapshot::{Proc, Snapshot};
use crate::{CpuReport, LostProcess, ProcessCpu, SCHEMA};

/// The measured command at its end: it has been waited for, so `/proc` no
/// longer has it; `cpu_s` is its rusage (user + system, its waited-for
/// children included).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CommandEnd {
    pub pid: u32,
    pub cpu_s: f64,
}

/// Rounded to the microsecond, so the JSON does not show tick arithmetic
/// as `0.30000000000000004`.
pub(crate) fn round_us(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// What happened to the CPU of the trees between `a` and `b` (see the
/// crate docs, "How CPU is charged"). `command`'s figure replaces what
/// `/proc` can no longer say about it. The result's `command` and
/// `delay_s` are left empty for the caller.
pub fn account(
    a: &Snapshot,
    b: &Snapshot,
    ticks_per_s: u64,
    command: Option<CommandEnd>,
) -> CpuReport {
    let w = Window {
        a,
        b,
        tick: 1.0 / ticks_per_s.max(1) as f64,
        cmd_pid: command.map(|c| c.pid),
    };
    let (mut processes, mut reaped) = w.alive_at_both();
    let mut command_cpu = command.map(|c| {
        let before = a
            .procs
            .get(&c.pid)
            .map_or(0, |p| p.stat.own_ticks() + p.stat.reaped_ticks());
        c.cpu_s - before as f64 * w.tick
    });
    let lost = w.charge_the_gone(&mut reaped, &mut command_cpu);
    if let (Some(c), Some(cpu)) = (command, command_cpu) {
        processes.push(ProcessCpu {
            pid: c.pid,
            role: Role::Load,
            comm: a
                .procs
                .get(&c.pid)
                .map(|p| p.stat.comm.clone())
                .unwrap_or_default(),
            // Ticks are truncated, rusage is not: a few ms of rounding
            // must not turn into negative CPU.
            cpu_s: cpu.max(0.0),
            reaped: false,
        });
    }
    w.reaped_lines(reaped, &mut processes);
    for p in &mut processes {
        p.cpu_s = round_us(p.cpu_s);
    }
    processes.sort_by_key(|x| (x.role, x.pid, x.reaped));
    w.report(ticks_per_s, processes, lost)
}

/// The two snapshots of a window, the tick, and the measured command.
struct Window<'s> {
    a: &'s Snapshot,
    b: &'s Snapshot,
    /// Seconds per tick.
    tick: f64,
    cmd_pid: Option<u32>,
}

impl Window<'_> {
    /// The same process (pid and start time) at both snapshots.
    fn same(p: &Proc, q: &Proc) -> bool {
        p.stat.starttime == q.stat.starttime
    }

    fn alive_at_b(&self, pid: u32) -> bool {
        match (self.a.procs.get(&pid), self.b.procs.get(&pid)) {
            (Some(p), Some(q)) => Self::same(p, q),
            _ => false,
        }
    }

    /// Each process of `b` but the command: its own CPU in the window,
    /// and (per pid) the CPU of the children it waited for in the window,
    /// in seconds; pre-window CPU of those children is taken off by
    /// [`Window::charge_the_gone`].
    fn alive_at_both(&self) -> (Vec<ProcessCpu>, BTreeMap<u32, f64>) {
        let mut processes: Vec<ProcessCpu> = Vec::new();
        let mut reaped: BTreeMap<u32, f64> = BTreeMap::new();
        for (pid, q) in &self.b.procs {
            if Some(*pid) == self.cmd_pid {
                continue;
            }
            let before = self.a.procs.get(pid).filter(|p| Self::same(p, q));
            let (own0, reaped0) =
                before.map_or((0, 0), |p| (p.stat.own_ticks(), p.stat.reaped_ticks()));
            // Counters never go back; saturating keeps a misread from
            // turning into a huge unsigned figure.
            let own = q.stat.own_ticks().saturating_sub(own0) as f64 * self.tick;
            let kids = q.stat.reaped_ticks().saturating_sub(reaped0) as f64 * self.tick;
            processes.push(ProcessCpu {
                pid: *pid,
                role: q.role,
                comm: q.stat.comm.clone(),
                cpu_s: own,
                reaped: false,
            });
            reaped.insert(*pid, kids);
        }
        (processes, reaped)
    }

    /// A process of `a` that is gone at `b` was waited for by its nearest
    /// ancestor still alive (dead ancestors in between waited for it before
    /// dying, or it was re-parented out of the trees and is lost). That
    /// ancestor's cutime + cstime grew by the process's whole life, so its
    /// CPU before the window comes off (`reaped`, or the command's figure).
    /// Returns the lost ones.
    fn charge_the_gone(
        &self,
        reaped: &mut BTreeMap<u32, f64>,
        command_cpu: &mut Option<f64>,
    ) -> Vec<LostProcess> {
        let (a, cmd_pid) = (self.a, self.cmd_pid);
        let mut lost = Vec::new();
        for (pid, v) in &a.procs {
            if self.alive_at_b(*pid) || Some(*pid) == cmd_pid {
                continue;
            }
            let before = (v.stat.own_ticks() + v.stat.reaped_ticks()) as f64 * self.tick;
            let mut parent = v.stat.ppid;
            let reaper = loop {
                if Some(parent) == cmd_pid {
                    break Some(parent);
                }
                match a.procs.get(&parent) {
                    Some(_) if self.alive_at_b(parent) => break Some(parent),
                    Some(p) => parent = p.stat.ppid,
                    None => break None,
                }
            };
            match reaper {
                Some(r) if Some(r) == cmd_pid => {
                    if let Some(c) = command_cpu.as_mut() {
                        *c -= before;
                    }
                }
                Some(r) => *reaped.entry(r).or_insert(0.0) -= before,
                None => lost.push(LostProcess {
                    pid: *pid,
                    role: v.role,
                    comm: v.stat.comm.clone(),
                }),
            }
        }
        lost
    }

    /// A line per process that waited for children in the window, charged
    /// to the children's role.
    fn reaped_lines(&self, reaped: BTreeMap<u32, f64>, processes: &mut Vec<ProcessCpu>) {
        for (pid, s) in reaped {
            // Tick rounding of the subtraction; and a parent that waited for
            // nothing has no line.
            if s <= 0.5 * self.tick {
                continue;
            }
            let q = &self.b.procs[&pid];
            processes.push(ProcessCpu {
                pid,
                role: q.role.reaped_children(),
                comm: q.stat.comm.clone(),
                cpu_s: s,
                reaped: true,
            });
        }
    }

    /// The report: the roles summed from `processes`, the machine's figures.
    fn report(
        &self,
        ticks_per_s: u64,
        processes: Vec<ProcessCpu>,
        lost: Vec<LostProcess>,
    ) -> CpuReport {
        let (a, b, tick) = (self.a, self.b, self.tick);
        let mut roles: BTreeMap<Role, f64> = Role::ALL.iter().map(|r| (*r, 0.0)).collect();
        for p in &processes {
            *roles.entry(p.role).or_insert(0.0) += p.cpu_s;
        }
        for v in roles.values_mut() {
            *v = round_us(*v);
        }
        let window_s = b.taken.saturating_duration_since(a.taken).as_secs_f64();
        let delta = |f: fn(&crate::procfs::MachineStat) -> u64| {
            round_us(f(&b.machine).saturating_sub(f(&a.machine)) as f64 * tick)
        };
        CpuReport {
            schema: SCHEMA.to_string(),
            window_s: round_us(window_s),
            cores: b.machine.cores,
            ticks_per_s,
            machine_busy_s: delta(|m| m.busy),
            machine_idle_s: delta(|m| m.idle),
            machine_irq_s: delta(|m| m.irq),
            machine_steal_s: delta(|m| m.steal),
            outside_trees_s: round_us(outside_trees(a, b, self.cmd_pid) * tick),
            roles,
            processes,
            lost_processes: lost,
            command: Vec::new(),
            delay_s: 0.0,
        }
    }
}

/// CPU ticks of every process outside the trees over the window: the
/// same rules as for the trees (own time, children waited for, pre-window
/// time of those taken off), approximate where processes come and go.
/// The command's parent (cpuwatch) waited for the command, whose CPU is
/// `load`'s: its children are not counted again here.
fn outside_trees(a: &Snapshot, b: &Snapshot, cmd_pid: Option<u32>) -> f64 {
    let cpuwatch = cmd_pid.and_then(|c| a.procs.get(&c)).map(|p| p.stat.ppid);
    let mut ticks: i64 = 0;
    for (pid, q) in &b.others {
        let before = a.others.get(pid).filter(|p| p.starttime == q.starttime);
        let (own0, reaped0) = before.map_or((0, 0), |p| (p.own_ticks(), p.reaped_ticks()));
        ticks += q.own_ticks().saturating_sub(own0) as i64;
        if Some(*pid) != cpuwatch {
            ticks += q.reaped_ticks().saturating_sub(reaped0) as i64;
        }
    }
    let alive = |pid: u32| {
        a.others
            .get(&pid)
            .zip(b.others.get(&pid))
            .is_some_and(|(p, q)| p.starttime == q.starttime)
    };
    for (pid, v) in &a.others {
        if alive(*pid) {
            continue;
        }
        // As in the trees: the nearest ancestor still alive waited for it
        // (a build's make → sh → compiler: the compiler's whole life
        // reaches make's cutime through sh).
        let mut parent = v.ppid;
        let reaper = loop {
            match a.others.get(&parent) {
                Some(_) if alive(parent) => break Some(parent),
                Some(p) => parent = p.ppid,
                None => break None,
            }
        };
        if reaper.is_some() && reaper != cpuwatch {
            ticks -= (v.own_ticks() + v.reaped_ticks()) as i64;
        }
    }
    ticks.max(0) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::tests::FakeProc;

    const M0: &str = "cpu 1000 0 500 10000 0 0 0 0 0 0\ncpu0 1\ncpu1 1\n";
    const M1: &str = "cpu 1400 0 600 10500 0 0 0 0 0 0\ncpu0 1\ncpu1 1\n";

    fn machine(p: &FakeProc, text: &str) {
        std::fs::write(p.path().join("stat"), text).unwrap();
    }

    fn by(r: &CpuReport, pid: u32, reaped: bool) -> f64 {
        r.processes
            .iter()
            .find(|p| p.pid == pid && p.reaped == reaped)
            .map(|p| p.cpu_s)
            .unwrap_or_else(|| panic!("no line for {pid} (reaped {reaped}): {:?}", r.processes))
    }

    /// Every rule of the accounting on one tree, with figures worked out
    /// by hand (ticks at 100/s).
    #[test]
    fn charges_every_process_once() {
        let p = FakeProc::new(M0);
        // The CGI host, with one CGI child running at the first snapshot.
        p.add(20, "stage-1", 1, [100, 50, 300, 100], 200, "/r/stage-1");
        p.add(21, "stage-1-cgi", 20, [4, 2, 0, 0], 210, "/r/stage-1-cgi");
        // A supervisor, an instance, and an instance's helper whose parent
        // will die first (so nobody in the trees waits for it).
        p.add(
            10,
            "stage-3",
            1,
            [10, 10, 0, 0],
            100,
            "/r/stage-3 --instances 1",
        );
        p.add(
            11,
            "stage-3",
            10,
            [500, 100, 0, 0],
            110,
            "/r/stage-3 instance --listen-fd 3",
        );
        p.add(12, "sh", 11, [1, 1, 0, 0], 120, "sh");
        p.add(13, "sleep", 12, [2, 0, 0, 0], 121, "sleep 9");
        // The load tool, and a child of it that exits in the window.
        p.add(30, "loadgen", 5, [50, 30, 5, 5], 300, "loadgen");
        p.add(31, "helper", 30, [3, 1, 0, 0], 301, "helper");
        // A process with pid 40 that will be replaced by another.
        p.add(40, "memcached", 10, [7, 0, 0, 0], 400, "memcached");
        // Outside the trees: cpuwatch (the command's parent), a shell and
        // its child.
        p.add(5, "cpuwatch", 1, [1, 1, 0, 0], 50, "cpuwatch");
        p.add(99, "bash", 1, [10, 0, 0, 0], 90, "bash");
        p.add(98, "sleep", 99, [5, 0, 0, 0], 91, "sleep");
        let a = Snapshot::take(p.path(), &[10, 20], Some(30), None).unwrap();

        machine(&p, M1);
        // The host: 20 ticks of its own; its cutime grew by 60 for the
        // CGI child 21 (6 before the window, 54 in it) and by 90 for two
        // children born and reaped in the window: 144 ticks of CGI work.
        p.add(20, "stage-1", 1, [110, 60, 350, 200], 200, "/r/stage-1");
        p.remove(21);
        // A new CGI child, alive at the second snapshot.
        p.add(22, "stage-1-cgi", 20, [3, 1, 0, 0], 220, "/r/stage-1-cgi");
        p.add(
            10,
            "stage-3",
            1,
            [11, 10, 0, 0],
            100,
            "/r/stage-3 --instances 1",
        );
        p.add(
            11,
            "stage-3",
            10,
            [800, 200, 0, 0],
            110,
            "/r/stage-3 instance --listen-fd 3",
        );
        // 12 exits without waiting for 13; 13 exits, re-parented to init.
        p.remove(12);
        p.remove(13);
        p.remove(40);
        p.add(40, "memcached", 10, [2, 0, 0, 0], 450, "memcached");
        // The command was waited for: gone, rusage says 2.00 s in all.
        p.remove(30);
        p.remove(31);
        // cpuwatch waited for the command: its cutime has all of it.
        p.add(5, "cpuwatch", 1, [2, 1, 200, 0], 50, "cpuwatch");
        // 15 ticks of the shell's own, and 8 ticks of the child it waited
        // for, 5 of them before the window.
        p.add(99, "bash", 1, [25, 0, 8, 0], 90, "bash");
        p.remove(98);
        let b = Snapshot::take(p.path(), &[10, 20], None, Some(&a)).unwrap();
        let r = account(
            &a,
            &b,
            100,
            Some(CommandEnd {
                pid: 30,
                cpu_s: 2.0,
            }),
        );

        assert_eq!(r.schema, SCHEMA);
        assert_eq!((r.machine_busy_s, r.machine_idle_s), (5.0, 5.0));
        assert_eq!(r.cores, 2);
        assert_eq!(by(&r, 20, false), 0.2, "the host's own ticks");
        // (350 + 200) - (300 + 100) = 150 ticks reaped; 21 had 6 before.
        assert_eq!(by(&r, 20, true), 1.44, "the CGI children, through the host");
        assert_eq!(
            by(&r, 22, false),
            0.04,
            "a live CGI child, born in the window"
        );
        assert_eq!(by(&r, 11, false), 4.0);
        assert_eq!(by(&r, 10, false), 0.01);
        // A new process under an old pid: all its CPU is in the window.
        assert_eq!(by(&r, 40, false), 0.02);
        // 2.00 s - (80 + 10) ticks at the first snapshot - the helper's 4.
        assert_eq!(by(&r, 30, false), 1.06);
        assert_eq!(r.roles[&Role::CgiHost], 0.2);
        assert_eq!(r.roles[&Role::Cgi], 1.48);
        assert_eq!(r.roles[&Role::App], 4.0);
        assert_eq!(r.roles[&Role::Supervisor], 0.01);
        assert_eq!(r.roles[&Role::Memcached], 0.02);
        assert_eq!(r.roles[&Role::Load], 1.06);
        assert_eq!(r.roles[&Role::Nginx], 0.0);
        // cpuwatch 1 + bash 15 + its child 3; the command is not counted
        // again through cpuwatch.
        assert_eq!(r.outside_trees_s, 0.19);
        assert_eq!(r.roles.len(), Role::ALL.len(), "every role, even at 0");
        // 12 was waited for by the instance 11 (alive): its 2 ticks before
        // the window come off 11's reaped figure, which stays at 0 (no
        // line). 13's parent 12 is gone too: the rule assumes 12 waited
        // for it, so it is charged to 11 as well (no line either). Nothing
        // is lost here...
        assert!(r.lost_processes.is_empty(), "{:?}", r.lost_processes);
        assert!(!r.processes.iter().any(|p| p.pid == 11 && p.reaped));

        // ...but a tree whose root died has nobody to wait for it.
        let r = account(&b, &a_without(&p, &b), 100, None);
        let lost: Vec<u32> = r.lost_processes.iter().map(|l| l.pid).collect();
        assert_eq!(lost, [20, 22]);
        assert_eq!(r.lost_processes[0].role, Role::CgiHost);
    }

    /// `b` minus the CGI host's tree (root and child gone, exited
    /// together).
    fn a_without(p: &FakeProc, b: &Snapshot) -> Snapshot {
        p.remove(20);
        p.remove(22);
        Snapshot::take(p.path(), &[10, 20], None, Some(b)).unwrap()
    }
}
