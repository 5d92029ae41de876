//! Starting a child so that it can never outlive the stage.
//!
//! Three mechanisms, each covering what the others cannot:
//! - **`PR_SET_PDEATHSIG`**: the kernel signals the child when the thread
//!   that forked it dies — even if the supervisor is killed with SIGKILL and
//!   runs no code at all. (That is why the supervisor forks every child from
//!   its main thread: it runs a current-thread runtime. A child forked from
//!   a worker thread would be signalled when that thread retires.) nginx's
//!   master gets SIGTERM rather than SIGKILL, so that it takes its worker
//!   processes down with it; everything else gets SIGKILL.
//! - **A process group per child** (`setpgid(0, 0)`): a terminal's Ctrl-C
//!   reaches the supervisor alone, which then stops the children in order;
//!   and signalling the group reaches a child's own children (nginx's
//!   workers) too.
//! - **An orderly stop** ([`crate::supervisor`]): the stop signal to the
//!   group, a grace period, then SIGKILL to the group.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// How long a child may take to stop after its stop signal by default
/// (an app server finishing in-flight requests).
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(12);

/// Everything needed to (re)start one child.
#[derive(Clone, Debug)]
pub struct ChildSpec {
    /// Short name, prefixed to every line of its output (`i0`, `nginx`).
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Variables added to the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// Variables removed from the inherited environment.
    pub env_remove: Vec<OsString>,
    /// Descriptors the child inherits (their close-on-exec flag is cleared
    /// in the child only, between fork and exec).
    pub keep_fds: Vec<RawFd>,
    /// Signal the kernel sends the child when the supervisor dies.
    pub death_signal: i32,
    /// Signal that asks the child to stop (SIGTERM, nginx: SIGQUIT).
    pub stop_signal: i32,
    /// How long to wait after `stop_signal` before SIGKILL.
    pub stop_grace: Duration,
    /// Run as this (uid, gid) instead of ours (set before exec, and before
    /// the parent-death signal: changing credentials later would clear it).
    pub run_as: Option<(u32, u32)>,
}

impl ChildSpec {
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        ChildSpec {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            keep_fds: Vec::new(),
            death_signal: libc::SIGKILL,
            stop_signal: libc::SIGTERM,
            stop_grace: DEFAULT_STOP_GRACE,
            run_as: None,
        }
    }

    pub fn run_as(mut self, ids: Option<(u32, u32)>) -> Self {
        self.run_as = ids;
        self
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn env_remove(mut self, k: impl Into<OsString>) -> Self {
        self.env_remove.push(k.into());
        self
    }

    pub fn keep_fd(mut self, fd: RawFd) -> Self {
        self.keep_fds.push(fd);
        self
    }

    pub fn death_signal(mut self, sig: i32) -> Self {
        self.death_signal = sig;
        self
    }

    pub fn stop_with(mut self, sig: i32, grace: Duration) -> Self {
        self.stop_signal = sig;
        self.stop_grace = grace;
        self
    }

    /// The command line, for logs.
    pub fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }
}

/// Starts `spec` as described in the module docs, with stdin from
/// `/dev/null` and stdout/stderr piped (the supervisor forwards them).
pub(crate) fn spawn(spec: &ChildSpec) -> std::io::Result<tokio::process::Child> {
    let mut cmd = std::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for k in &spec.env_remove {
        cmd.env_remove(k);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    if let Some((uid, gid)) = spec.run_as {
        // std switches credentials before running `pre_exec`, so the
        // parent-death signal set there survives.
        cmd.uid(uid).gid(gid);
    }
    let parent = std::process::id() as libc::pid_t;
    let fds = spec.keep_fds.clone();
    let death = spec.death_signal;
    #[allow(unsafe_code)]
    // SAFETY: the closure runs in the forked child before exec. It only
    // makes async-signal-safe system calls (prctl, getppid, fcntl), touches
    // no lock and allocates nothing (`fds` was built before the fork).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, death as libc::c_ulong, 0, 0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // The supervisor died between fork and prctl: the death signal
            // will never come, so do not start at all.
            if libc::getppid() != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut cmd = tokio::process::Command::from(cmd);
    // The supervisor stops children itself (group signal, grace, SIGKILL);
    // a plain SIGKILL of the leader on drop would orphan nginx's workers.
    cmd.kill_on_drop(false);
    cmd.spawn()
}

/// Our effective user id (from `/proc/self/status`).
pub fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// When we run as root: the (uid, gid) of the unprivileged `nobody` user
/// (from `/etc/passwd`, 65534 by default), for daemons that would otherwise
/// switch users themselves — a credential change clears the parent-death
/// signal, which would let them outlive a killed supervisor.
pub fn unprivileged_if_root() -> Option<(u32, u32)> {
    if euid() != Some(0) {
        return None;
    }
    let from_passwd = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
        p.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() > 3 && f[0] == "nobody" {
                Some((f[2].parse().ok()?, f[3].parse().ok()?))
            } else {
                None
            }
        })
    });
    Some(from_passwd.unwrap_or((65534, 65534)))
}

/// Sends `sig` to the process group `pgid` (a child we started as a group
/// leader, and whatever it forked). Returns whether any process got it.
pub fn signal_group(pgid: u32, sig: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    #[allow(unsafe_code)]
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), sig) == 0
    }
}

/// Sends `sig` to the process `pid` (one we started).
pub fn signal_pid(pid: u32, sig: i32) -> bool {
    if pid <= 1 {
        return false;
    }
    #[allow(unsafe_code)]
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    unsafe {
        libc::kill(pid as libc::pid_t, sig) == 0
    }
}

/// The name of a signal, for logs.
pub fn signal_name(sig: i32) -> String {
    match sig {
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGPIPE => "SIGPIPE".into(),
        libc::SIGTERM => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

/// "exit status 1", "killed by SIGKILL".
pub fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by {}", signal_name(s)),
        _ => status.to_string(),
    }
}

/// Every live (non-zombie) descendant of `pid` — children, their children
/// and so on — from `/proc`. For logs and for checking that nothing is left.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some((ppid, state)) = stat_ppid_state(p)
                && state != 'Z'
            {
                parent_of.push((p, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(child, _) in parent_of.iter().filter(|(_, pp)| *pp == p) {
            out.push(child);
            frontier.push(child);
        }
    }
    out
}

/// Whether `pid` is alive (exists and is not a zombie).
pub fn alive(pid: u32) -> bool {
    stat_ppid_state(pid).is_some_and(|(_, s)| s != 'Z')
}

/// (parent pid, state letter) of `pid`, from `/proc/PID/stat`.
fn stat_ppid_state(pid: u32) -> Option<(u32, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ...": comm may contain spaces and parentheses.
    let mut rest = s.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((ppid, state))
}
