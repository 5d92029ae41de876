//! Parsing what `/proc` says: the machine's `stat`, a process's `stat` and
//! `cmdline` (proc(5)).
//!
//! Pure functions over text, so the odd cases (a `comm` holding spaces and
//! parentheses, an argv nginx rewrote, an old kernel with fewer columns)
//! are tested without a real process.

use crate::Error;

/// The machine's CPU time from `/proc/stat`'s `cpu` line, in clock ticks
/// summed over every core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MachineStat {
    /// user + nice + system + irq + softirq + steal: time a core was taken.
    /// `guest` and `guest_nice` are already inside `user` and `nice`, so
    /// adding them would count a virtual CPU's time twice.
    pub busy: u64,
    /// idle + iowait: time a core had nothing to run (iowait is idle time
    /// with a disk request outstanding, not work).
    pub idle: u64,
    /// irq + softirq, part of `busy`: interrupt and softirq work (network
    /// receive processing among it) the kernel sampled outside a task.
    pub irq: u64,
    /// steal, part of `busy`: time the hypervisor gave to someone else.
    pub steal: u64,
    /// The `cpuN` lines: cores the kernel accounts for.
    pub cores: usize,
}

/// Parses `/proc/stat`. Columns an older kernel does not have count as 0.
pub fn parse_machine_stat(text: &str) -> Result<MachineStat, Error> {
    let mut out = MachineStat::default();
    let mut found = false;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("cpu") => {
                let v: Vec<u64> = words
                    .map(|w| {
                        w.parse::<u64>()
                            .map_err(|_| Error::parse("/proc/stat", format!("cpu line: {line:?}")))
                    })
                    .collect::<Result<_, _>>()?;
                let col = |i: usize| v.get(i).copied().unwrap_or(0);
                // user nice system idle iowait irq softirq steal guest guest_nice
                out.busy = col(0) + col(1) + col(2) + col(5) + col(6) + col(7);
                out.idle = col(3) + col(4);
                out.irq = col(5) + col(6);
                out.steal = col(7);
                found = v.len() >= 4;
            }
            Some(w)
                if w.len() > 3
                    && w.starts_with("cpu")
                    && w[3..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                out.cores += 1;
            }
            _ => {}
        }
    }
    if !found {
        return Err(Error::parse(
            "/proc/stat",
            "no \"cpu\" line with 4 or more columns",
        ));
    }
    Ok(out)
}

/// The fields of `/proc/PID/stat` the accounting uses. Times are in clock
/// ticks (`ticks_per_s` in the JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    /// The executable's name as the kernel keeps it (at most 15 bytes).
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    /// CPU time of the process itself, every thread's, live or exited.
    pub utime: u64,
    pub stime: u64,
    /// CPU time of children it has waited for (and of theirs, recursively).
    pub cutime: u64,
    pub cstime: u64,
    /// When it started, in ticks since boot: with the pid, its identity
    /// (a pid can be reused between two snapshots).
    pub starttime: u64,
}

impl ProcStat {
    /// utime + stime.
    pub fn own_ticks(&self) -> u64 {
        self.utime + self.stime
    }

    /// cutime + cstime.
    pub fn reaped_ticks(&self) -> u64 {
        self.cutime + self.cstime
    }
}

/// Parses one `/proc/PID/stat` line. `comm` sits between the first `(` and
/// the *last* `)`: a program may name itself `a) (b` and the fields after
/// it must still be found.
pub fn parse_pid_stat(line: &str) -> Result<ProcStat, Error> {
    let bad = |why: &str| Error::parse("/proc/PID/stat", format!("{why}: {line:?}"));
    let open = line.find('(').ok_or_else(|| bad("no '('"))?;
    let close = line.rfind(')').ok_or_else(|| bad("no ')'"))?;
    if close < open {
        return Err(bad("')' before '('"));
    }
    let pid = line[..open]
        .trim()
        .parse::<u32>()
        .map_err(|_| bad("pid is not a number"))?;
    let comm = line[open + 1..close].to_string();
    // Fields 3.. of proc(5); index i here is field i + 3.
    let rest: Vec<&str> = line[close + 1..].split_whitespace().collect();
    let field = |n: usize| -> Result<&str, Error> {
        rest.get(n - 3)
            .copied()
            .ok_or_else(|| bad(&format!("no field {n}")))
    };
    let unsigned = |n: usize| -> Result<u64, Error> {
        field(n)?
            .parse::<u64>()
            .map_err(|_| bad(&format!("field {n} is not a number")))
    };
    // cutime and cstime are `long` in the kernel's format: never negative
    // in practice, but parsed as signed so a strange value cannot fail the
    // whole snapshot.
    let signed = |n: usize| -> Result<u64, Error> {
        field(n)?
            .parse::<i64>()
            .map(|v| v.max(0) as u64)
            .map_err(|_| bad(&format!("field {n} is not a number")))
    };
    let state = field(3)?.chars().next().unwrap_or('?');
    Ok(ProcStat {
        pid,
        comm,
        state,
        ppid: unsigned(4)? as u32,
        utime: unsigned(14)?,
        stime: unsigned(15)?,
        cutime: signed(16)?,
        cstime: signed(17)?,
        starttime: unsigned(22)?,
    })
}

/// `/proc/PID/cmdline`: NUL-separated arguments. Empty for a zombie or a
/// kernel thread. A program that rewrites its title (nginx: `nginx: worker
/// process`) leaves one argument with spaces and NUL padding, which is
/// dropped here (trailing empty arguments are never real ones we rely on).
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let mut args: Vec<String> = bytes
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    while args.last().is_some_and(|a| a.is_empty()) {
        args.pop();
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_stat_busy_and_idle() {
        let text = "cpu  159866 7 50074 320483 1716 3 6897 500 40 2\n\
                    cpu0 76975 0 24603 164015 500 0 3394 247 0 0\n\
                    cpu1 82891 0 25471 156467 1215 0 3503 252 0 0\n\
                    intr 2781277 0 0\nctxt 1\ncpufreq 3\n";
        let m = parse_machine_stat(text).unwrap();
        // guest (40) and guest_nice (2) are inside user and nice already.
        assert_eq!(m.busy, 159866 + 7 + 50074 + 3 + 6897 + 500);
        assert_eq!(m.idle, 320483 + 1716);
        assert_eq!((m.irq, m.steal), (3 + 6897, 500));
        assert_eq!(m.cores, 2, "cpufreq is not a core");
        // A kernel without steal/guest columns.
        let old = parse_machine_stat("cpu 10 0 5 100\ncpu0 10 0 5 100\n").unwrap();
        assert_eq!((old.busy, old.idle, old.cores), (15, 100, 1));
        assert!(parse_machine_stat("intr 1\n").is_err());
        assert!(parse_machine_stat("cpu 1 x 3 4\n").is_err());
    }

    #[test]
    fn pid_stat_with_a_plain_name() {
        let line = "4242 (stage-2) S 4100 4242 4100 0 -1 4194560 700 0 0 0 \
                    1234 567 8 9 20 0 3 0 987654 123456789 2000 18446744073709551615";
        let s = parse_pid_stat(line).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, "stage-2");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 4100);
        assert_eq!((s.utime, s.stime, s.cutime, s.cstime), (1234, 567, 8, 9));
        assert_eq!(s.starttime, 987654);
        assert_eq!((s.own_ticks(), s.reaped_ticks()), (1801, 17));
    }

    #[test]
    fn pid_stat_with_spaces_and_parentheses_in_comm() {
        // A program may call itself anything (prctl PR_SET_NAME): the
        // fields start after the *last* ')'.
        let line = "77 (a) (b c) )x) Z 1 77 77 0 -1 0 0 0 0 0 5 6 -1 7 20 0 1 0 4321 0 0";
        let s = parse_pid_stat(line).unwrap();
        assert_eq!(s.comm, "a) (b c) )x");
        assert_eq!(s.state, 'Z');
        assert_eq!(s.ppid, 1);
        assert_eq!((s.utime, s.stime), (5, 6));
        assert_eq!(s.cutime, 0, "a negative long is read as 0");
        assert_eq!(s.cstime, 7);
        assert_eq!(s.starttime, 4321);
        let s = parse_pid_stat("9 () R 1 0 0 0 0 0 0 0 0 0 1 2 3 4 0 0 1 0 5").unwrap();
        assert_eq!(s.comm, "");
    }

    #[test]
    fn pid_stat_errors() {
        for bad in [
            "",
            "12 stage-2 S 1",
            "x (a) S 1 0 0 0 0 0 0 0 0 0 1 2 3 4 0 0 1 0 5",
            "12 (a) S 1 0 0",
            "12 (a) S 1 0 0 0 0 0 0 0 0 0 one 2 3 4 0 0 1 0 5",
            "12 )a( S 1 0 0 0 0 0 0 0 0 0 1 2 3 4 0 0 1 0 5",
        ] {
            assert!(parse_pid_stat(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cmdline_arguments() {
        assert_eq!(
            parse_cmdline(b"/usr/bin/python3\0fk_serve.py\0--port\0\0"),
            ["/usr/bin/python3", "fk_serve.py", "--port"]
        );
        assert_eq!(
            parse_cmdline(b"nginx: worker process\0\0\0\0"),
            ["nginx: worker process"]
        );
        assert_eq!(parse_cmdline(b"a\0\0b\0"), ["a", "", "b"]);
        assert!(parse_cmdline(b"").is_empty());
    }
}
