//! The supervisor: starts children, forwards their output with a prefix,
//! restarts the ones that crash (with backoff), and stops them all in
//! reverse start order — stop signal to the process group, a grace period,
//! then SIGKILL.
//!
//! Must run on a current-thread tokio runtime in the main thread (see
//! [`crate::process`]: the parent-death signal is tied to the forking thread).
//!
//! A child that exits before the stage declared it ready is a start-up
//! failure (bad option, missing database, taken port): it is not restarted,
//! [`Supervisor::wait_ready`] reports it and the stage stops. After it was
//! ready once, any exit is a crash and the child is restarted.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::ClusterError;
use crate::logs::LogSink;
use crate::process::{self, ChildSpec};

/// First restart delay after a crash: long enough not to spin on a child
/// that dies at once, short enough that the backlog of its socket (held by
/// the supervisor) is served again within a fraction of a second.
pub const BACKOFF_START: Duration = Duration::from_millis(100);

/// Longest restart delay, reached after repeated quick crashes.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A child that ran at least this long before crashing restarts after
/// [`BACKOFF_START`] again: it was healthy, this is a new incident.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(10);

/// How often [`Supervisor::wait_ready`] probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(20);

/// State a keeper task shares with the supervisor and handles.
#[derive(Debug, Default)]
struct Shared {
    /// Pid of the running process, 0 when none.
    pid: AtomicU32,
    /// Processes started so far (1 + restarts).
    starts: AtomicU32,
    /// Set by the supervisor once the child passed its readiness probe.
    ready: AtomicBool,
    /// Why the child exited before it was ready.
    failed: Mutex<Option<String>>,
}

/// A handle on one supervised child.
#[derive(Clone, Debug)]
pub struct ChildHandle {
    name: String,
    shared: Arc<Shared>,
}

impl ChildHandle {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Pid of the process running now, if any.
    pub fn pid(&self) -> Option<u32> {
        Some(self.shared.pid.load(Ordering::SeqCst)).filter(|p| *p != 0)
    }

    /// Processes started so far: 1, plus one per restart.
    pub fn starts(&self) -> u32 {
        self.shared.starts.load(Ordering::SeqCst)
    }

    fn failed(&self) -> Option<String> {
        self.shared
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

struct Keeper {
    handle: ChildHandle,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// How long [`Supervisor::shutdown`] waits for the children's last lines
/// to reach stderr.
const LOG_DRAIN: Duration = Duration::from_millis(500);

/// Children started by this stage, in start order.
pub struct Supervisor {
    keepers: Vec<Keeper>,
    stopping: Arc<AtomicBool>,
    logs: LogSink,
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor::with_logs(LogSink::stderr())
    }
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.keepers.iter().map(|k| k.handle.name()).collect();
        f.debug_struct("Supervisor")
            .field("children", &names)
            .finish()
    }
}

impl Supervisor {
    /// A supervisor forwarding its children's output to stderr.
    pub fn new() -> Self {
        Self::default()
    }

    /// A supervisor forwarding its children's output to `logs`.
    pub fn with_logs(logs: LogSink) -> Self {
        Supervisor {
            keepers: Vec::new(),
            stopping: Arc::new(AtomicBool::new(false)),
            logs,
        }
    }

    /// Starts `spec` now (so a missing program is reported at once) and
    /// keeps it running until [`Supervisor::shutdown`].
    ///
    /// # Panics
    /// Outside a current-thread runtime (see the module docs).
    pub fn start(&mut self, spec: ChildSpec) -> Result<ChildHandle, ClusterError> {
        assert_eq!(
            tokio::runtime::Handle::current().runtime_flavor(),
            tokio::runtime::RuntimeFlavor::CurrentThread,
            "the supervisor must fork from one long-lived thread (PR_SET_PDEATHSIG is per thread)"
        );
        let child = process::spawn(&spec).map_err(|err| ClusterError::Spawn {
            name: spec.name.clone(),
            program: spec.program.display().to_string(),
            err,
        })?;
        tracing::debug!(child = %spec.name, cmd = %spec.display(), "started");
        let handle = ChildHandle {
            name: spec.name.clone(),
            shared: Arc::new(Shared::default()),
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(keep(
            spec,
            child,
            handle.shared.clone(),
            stop_rx,
            self.stopping.clone(),
            self.logs.clone(),
        ));
        self.keepers.push(Keeper {
            handle: handle.clone(),
            stop: stop_tx,
            task: Some(task),
        });
        Ok(handle)
    }

    /// Probes `child` every few milliseconds until `probe` succeeds, the
    /// child exits (an error naming its exit status) or `timeout` passes.
    /// On success the child counts as ready: from now on an exit is a
    /// crash, and it is restarted.
    pub async fn wait_ready<F, Fut>(
        &self,
        child: &ChildHandle,
        timeout: Duration,
        mut probe: F,
    ) -> Result<(), ClusterError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let deadline = Instant::now() + timeout;
        let mut last = String::from("not probed yet");
        loop {
            if let Some(status) = child.failed() {
                return Err(ClusterError::DiedStarting {
                    name: child.name.clone(),
                    status,
                });
            }
            if child.pid().is_some() {
                match probe().await {
                    Ok(()) => {
                        child.shared.ready.store(true, Ordering::SeqCst);
                        // It may have died while the probe ran (the probe
                        // then talked to a socket the supervisor holds).
                        if let Some(status) = child.failed() {
                            return Err(ClusterError::DiedStarting {
                                name: child.name.clone(),
                                status,
                            });
                        }
                        return Ok(());
                    }
                    Err(e) => last = e,
                }
            }
            if Instant::now() >= deadline {
                return Err(ClusterError::NotReady {
                    name: child.name.clone(),
                    secs: timeout.as_secs(),
                    last,
                });
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }

    /// Stops every child, last started first, each with its stop signal and
    /// grace period; returns when all are gone.
    pub async fn shutdown(mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        for k in self.keepers.iter_mut().rev() {
            let _ = k.stop.send(true);
            if let Some(task) = k.task.take() {
                let _ = task.await;
            }
        }
        self.logs.drain(LOG_DRAIN).await;
    }
}

impl Drop for Supervisor {
    /// The last resort when [`Supervisor::shutdown`] did not run (a panic):
    /// SIGKILL every child's process group.
    fn drop(&mut self) {
        for k in &self.keepers {
            if k.task.is_some()
                && let Some(pid) = k.handle.pid()
            {
                process::signal_group(pid, libc::SIGKILL);
            }
        }
    }
}

/// Restart delays: doubling from [`BACKOFF_START`] to [`BACKOFF_MAX`].
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Self {
        Backoff {
            next: BACKOFF_START,
        }
    }

    /// The delay before the next start, given how long the last run lasted.
    fn after_run(&mut self, ran: Duration) -> Duration {
        if ran >= BACKOFF_RESET_AFTER {
            self.next = BACKOFF_START;
        }
        let d = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        d
    }
}

/// Keeps one child running: forwards its output, waits for it, restarts
/// it after a crash, stops it when told to.
async fn keep(
    spec: ChildSpec,
    first: tokio::process::Child,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    stopping: Arc<AtomicBool>,
    logs: LogSink,
) {
    let mut backoff = Backoff::new();
    let mut next = Some(first);
    loop {
        let mut child = match next.take() {
            Some(c) => c,
            None => match process::spawn(&spec) {
                Ok(c) => c,
                Err(e) => {
                    let delay = backoff.after_run(Duration::ZERO);
                    tracing::error!(child = %spec.name, error = %e, "restart failed; trying again in {delay:?}");
                    if sleep_or_stop(delay, &mut stop).await {
                        return;
                    }
                    continue;
                }
            },
        };
        let pid = child.id().unwrap_or(0);
        shared.pid.store(pid, Ordering::SeqCst);
        shared.starts.fetch_add(1, Ordering::SeqCst);
        // stdout stays ours (it carries the one `listening on` line): the
        // children's goes to stderr too.
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let (name, logs) = (spec.name.clone(), logs.clone());
            tokio::spawn(async move { crate::logs::forward(&name, pipe, &logs).await });
        }
        let started = Instant::now();
        let status = tokio::select! {
            s = child.wait() => s,
            _ = stopped(&mut stop) => {
                stop_child(&spec, &mut child, pid).await;
                shared.pid.store(0, Ordering::SeqCst);
                return;
            }
        };
        // The leader is gone; whatever it forked (nginx's workers) goes too.
        process::signal_group(pid, libc::SIGKILL);
        shared.pid.store(0, Ordering::SeqCst);
        let what = match status {
            Ok(s) => process::describe_exit(s),
            Err(e) => format!("wait failed: {e}"),
        };
        if stopping.load(Ordering::SeqCst) || *stop.borrow() {
            return;
        }
        if !shared.ready.load(Ordering::SeqCst) {
            *shared.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(what);
            return;
        }
        let delay = backoff.after_run(started.elapsed());
        tracing::warn!(child = %spec.name, pid, "exited ({what}); restarting in {delay:?}");
        if sleep_or_stop(delay, &mut stop).await {
            return;
        }
    }
}

/// Sleeps `d`; true if told to stop meanwhile.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stopped(stop) => true,
    }
}

/// Resolves once told to stop (or once the supervisor is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Stop signal to the group, grace period, SIGKILL to the group.
async fn stop_child(spec: &ChildSpec, child: &mut tokio::process::Child, pid: u32) {
    tracing::debug!(child = %spec.name, pid, "stopping with {}", process::signal_name(spec.stop_signal));
    process::signal_group(pid, spec.stop_signal);
    match tokio::time::timeout(spec.stop_grace, child.wait()).await {
        Ok(_) => {}
        Err(_) => {
            tracing::warn!(child = %spec.name, pid, "still running after {:?}; killing it", spec.stop_grace);
            process::signal_group(pid, libc::SIGKILL);
            let _ = child.wait().await;
        }
    }
    // Leftovers of the group (a worker that ignored its master).
    process::signal_group(pid, libc::SIGKILL);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::new();
        let quick = Duration::from_millis(10);
        let d: Vec<_> = (0..8).map(|_| b.after_run(quick)).collect();
        assert_eq!(d[0], BACKOFF_START);
        assert_eq!(d[1], BACKOFF_START * 2);
        assert_eq!(*d.last().unwrap(), BACKOFF_MAX);
        assert_eq!(b.after_run(BACKOFF_RESET_AFTER), BACKOFF_START);
    }
}
