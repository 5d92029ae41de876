//! The two system calls std does not offer: the clock-tick rate `/proc`
//! counts in, and `wait4`, the only way to learn a child's CPU time once it
//! is gone (std's `Child::wait` drops the rusage).

use std::io;

/// `sysconf(_SC_CLK_TCK)`: the unit of `/proc/stat` and `/proc/PID/stat`
/// times (100 on every Linux this runs on; asked, not assumed).
pub fn ticks_per_second() -> u64 {
    #[allow(unsafe_code)]
    // SAFETY: sysconf takes a constant and touches no memory of ours.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// How a waited-for child ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exited {
    /// Its exit code, or 128 + the signal that killed it (as a shell
    /// reports it).
    pub status: i32,
    /// User + system CPU seconds of the child and of every child it waited
    /// for, from the kernel's rusage (microsecond resolution).
    pub cpu_s: f64,
}

/// `wait4(pid)`: blocks until the child ends, or with `nohang` returns
/// `None` at once if it is still running. Retries when a signal interrupts
/// the wait.
pub fn wait4(pid: u32, nohang: bool) -> io::Result<Option<Exited>> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let flags = if nohang { libc::WNOHANG } else { 0 };
    let mut status: libc::c_int = 0;
    #[allow(unsafe_code)]
    // SAFETY: rusage is a C struct of integers, for which all zeroes is a
    // valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        #[allow(unsafe_code)]
        // SAFETY: both pointers are to live locals of the right types, and
        // the kernel writes nothing else.
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut ru) };
        if r == -1 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if r == 0 {
            return Ok(None);
        }
        break;
    }
    let status = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        // wait4 without WUNTRACED only reports ended children.
        1
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Some(Exited {
        status,
        cpu_s: secs(ru.ru_utime) + secs(ru.ru_stime),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_positive() {
        assert!(ticks_per_second() > 0);
    }

    /// Starts `sh -c SCRIPT` and returns its pid: [`wait4`] is what reaps
    /// it (the function under test), never std's `Child`.
    fn sh(script: &str) -> u32 {
        let child = std::process::Command::new("sh")
            .args(["-c", script])
            .spawn()
            .unwrap();
        let pid = child.id();
        drop(child);
        pid
    }

    #[test]
    fn exit_codes_and_signals() {
        let e = wait4(sh("exit 7"), false).unwrap().unwrap();
        assert_eq!(e.status, 7);
        assert!(e.cpu_s >= 0.0 && e.cpu_s < 1.0);
        assert_eq!(
            wait4(sh("kill -TERM $$"), false).unwrap().unwrap().status,
            128 + libc::SIGTERM
        );
        let sleeper = sh("exec sleep 5");
        assert_eq!(wait4(sleeper, true).unwrap(), None, "still running");
        std::process::Command::new("kill")
            .arg(sleeper.to_string())
            .status()
            .unwrap();
        assert_eq!(
            wait4(sleeper, false).unwrap().unwrap().status,
            128 + libc::SIGTERM
        );
        // Not our child.
        assert!(wait4(1, true).is_err());
    }
}
