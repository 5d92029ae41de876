//! One error type for everything around the app server, each message saying
//! what to do about it.

use std::io;
use std::path::PathBuf;

/// Why a supervisor, a child or a socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A command line that cannot work.
    #[error("{0}")]
    Usage(&'static str),
    /// --cpus names CPUs this process may not use.
    #[error(transparent)]
    Cpus(#[from] cpus::Error),
    /// A system tool (nginx, memcached) is missing.
    #[error("{tool} is not installed (looked for {looked}); install it with `{install}`")]
    NotInstalled {
        tool: &'static str,
        looked: String,
        install: &'static str,
    },
    /// A listening socket could not be bound.
    #[error("cannot listen on {addr}: {err}")]
    Bind { addr: String, err: io::Error },
    /// An address that is not `host:port`.
    #[error("bad address {0:?}: expected host:port (e.g. 127.0.0.1:9001)")]
    Address(String),
    /// A child process could not be started at all.
    #[error("cannot start {name} ({program}): {err}")]
    Spawn {
        name: String,
        program: String,
        err: io::Error,
    },
    /// A child exited before it was ready (a bad option, a taken port, a
    /// missing database): nothing to restart, the stage stops.
    #[error("{name} exited during start-up ({status}); its log is above")]
    DiedStarting { name: String, status: String },
    /// A child did not become ready in time.
    #[error("{name} was not ready within {secs} s (last probe: {last})")]
    NotReady {
        name: String,
        secs: u64,
        last: String,
    },
    /// The private run directory (nginx's config, pid and temp files).
    #[error("run directory {path}: {err}")]
    RunDir { path: PathBuf, err: io::Error },
    /// Installing the SIGINT/SIGTERM handlers failed.
    #[error("installing signal handlers: {0}")]
    Signals(io::Error),
    /// An upstream instance started elsewhere does not say who it is.
    #[error("upstream {addr}: {reason}")]
    Upstream { addr: String, reason: String },
    /// The CPython peer is not set up.
    #[error(transparent)]
    Peer(#[from] peer::PeerError),
    /// A configuration template could not be rendered.
    #[error("rendering nginx.conf: {0}")]
    Config(String),
}
