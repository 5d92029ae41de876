//! What `cpuwatch` does: run the load tool, snapshot after its warm-up and
//! at its end, write the JSON.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::account::{CommandEnd, account, round_us};
use crate::snapshot::Snapshot;
use crate::{CpuReport, Error, sys};

/// One cpuwatch run.
#[derive(Debug, Clone)]
pub struct Watch {
    /// The server's processes: each pid and its descendants.
    pub trees: Vec<u32>,
    /// The first snapshot is taken this long after the command starts.
    pub delay: Duration,
    /// The command and its arguments (at least the program).
    pub command: Vec<OsString>,
    /// `/proc`; another directory only in tests.
    pub proc_dir: PathBuf,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The figures of the window, and the command's exit status.
    Measured { status: i32, report: Box<CpuReport> },
    /// The command ended before the delay was over: there is no window.
    EndedInDelay { status: i32 },
}

impl Outcome {
    pub fn status(&self) -> i32 {
        match self {
            Outcome::Measured { status, .. } | Outcome::EndedInDelay { status } => *status,
        }
    }
}

/// How often the command is checked during the delay: a tool that fails at
/// once (connection refused) is not kept waiting for its warm-up.
const DELAY_POLL: Duration = Duration::from_millis(20);

impl Watch {
    /// Runs the command with stdin, stdout and stderr inherited, and
    /// accounts for the window between the end of the delay and its exit.
    /// Once the command runs, an error to read `/proc` still waits for it
    /// (nothing is left running).
    pub fn run(&self) -> Result<Outcome, Error> {
        let (program, args) = self.command.split_first().ok_or(Error::NoCommand)?;
        let child = Command::new(program)
            .args(args)
            .spawn()
            .map_err(|source| Error::Spawn {
                program: program.to_string_lossy().into_owned(),
                source,
            })?;
        let pid = child.id();
        // `child` is never waited for through std: wait4 below reaps it,
        // with its rusage.
        drop(child);
        let wait = |nohang| sys::wait4(pid, nohang).map_err(|source| Error::Wait { pid, source });

        let started = Instant::now();
        // With no delay the window starts at once, even if the command has
        // already exited (unreaped, /proc still has its figures until wait4
        // below): there is no delay for it to have ended in.
        while !self.delay.is_zero() {
            if let Some(end) = wait(true)? {
                return Ok(Outcome::EndedInDelay { status: end.status });
            }
            let left = self.delay.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(DELAY_POLL));
        }
        let first = Snapshot::take(&self.proc_dir, &self.trees, Some(pid), None);
        let end = wait(false)?.ok_or(Error::Wait {
            pid,
            source: std::io::Error::other("wait4 returned no status"),
        })?;
        let first = first?;
        let second = Snapshot::take(&self.proc_dir, &self.trees, None, Some(&first))?;
        let mut report = account(
            &first,
            &second,
            sys::ticks_per_second(),
            Some(CommandEnd {
                pid,
                cpu_s: end.cpu_s,
            }),
        );
        report.command = self
            .command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        report.delay_s = round_us(self.delay.as_secs_f64());
        Ok(Outcome::Measured {
            status: end.status,
            report: Box::new(report),
        })
    }
}

/// Writes `report` as pretty JSON to `path.tmp-PID`, then renames it: a
/// reader never sees half a file.
pub fn write_json(path: &Path, report: &CpuReport) -> Result<(), Error> {
    let mut text = serde_json::to_string_pretty(report).map_err(Error::Json)?;
    text.push('\n');
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io(path))
}

/// `2s`, `500ms`, `1.5s`, `250us`, `1m`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let x: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit (2s, 500ms)"))?;
    let secs = match unit.trim() {
        "" | "s" => x,
        "ms" => x / 1e3,
        "us" | "µs" => x / 1e6,
        "m" => x * 60.0,
        other => return Err(format!("{s:?}: unknown unit {other:?} (us, ms, s, m)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn a_command_that_ends_in_the_delay_has_no_window() {
        let w = Watch {
            trees: vec![],
            delay: Duration::from_secs(5),
            command: vec!["sh".into(), "-c".into(), "exit 4".into()],
            proc_dir: "/proc".into(),
        };
        let t = Instant::now();
        let out = w.run().unwrap();
        assert!(
            matches!(out, Outcome::EndedInDelay { status: 4 }),
            "{out:?}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "not kept for the whole delay"
        );
    }

    /// With no delay there is always a window, however fast the command
    /// ends (it used to race: a command already gone at the first look was
    /// "ended in the delay", and no JSON was written).
    #[test]
    fn no_delay_always_measures() {
        for _ in 0..50 {
            let w = Watch {
                trees: vec![],
                delay: Duration::ZERO,
                command: vec!["sh".into(), "-c".into(), "exit 3".into()],
                proc_dir: "/proc".into(),
            };
            let out = w.run().unwrap();
            assert!(
                matches!(out, Outcome::Measured { status: 3, .. }),
                "{out:?}"
            );
        }
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let w = Watch {
            trees: vec![],
            delay: Duration::ZERO,
            command: vec!["/nonexistent/tool".into()],
            proc_dir: "/proc".into(),
        };
        match w.run() {
            Err(Error::Spawn { program, source }) => {
                assert_eq!(program, "/nonexistent/tool");
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        let empty = Watch {
            command: vec![],
            ..w
        };
        assert!(matches!(empty.run(), Err(Error::NoCommand)));
    }
}
