//! # cluster — the processes around the app server (stages 3 and 4)
//!
//! The talk's third iteration ran several app-server instances behind
//! nginx; the fourth added memcached, with nginx answering from it. Those
//! stages are therefore supervisors of real processes, and what they share
//! lives here (stage crates never depend on each other):
//!
//! - [`supervisor`]: starts children, forwards their output with a
//!   `[name]` prefix ([`logs`]: capped lines, a writer thread of its own),
//!   probes them until ready, restarts crashed ones with backoff, stops
//!   them all in reverse order on SIGINT/SIGTERM.
//! - [`process`]: how a child is started so it never outlives the stage
//!   (`PR_SET_PDEATHSIG`, a process group each, inherited sockets).
//! - [`ports`]: the supervisor binds each instance's listening socket and
//!   hands it down (the instance's side: `appserver::inherit`), so a
//!   restarted instance keeps its port and the connections waiting in its
//!   backlog (nginx's port is reserved with `SO_REUSEPORT` instead: see
//!   [`nginx`]).
//! - [`nginx`] / [`memcached`]: finding the binaries (or naming the install
//!   command), the shared part of `nginx.conf` (a template:
//!   `templates/nginx-base.conf`), memcached's command line.
//! - [`probe`]: readiness checks (HTTP GET, memcached `version`).
//! - [`stage`]: what stages 3 and 4 share (the supervisor's options, the
//!   instances, nginx, the run until SIGINT).
//!
//! It runs processes; it knows nothing of what they serve: the app-server
//! instances are a program and options the stage names.
//!
//! **Invariant:** no process started through [`supervisor::Supervisor`]
//! survives the stage — not after SIGINT or SIGTERM, not after SIGKILL.
//!
//! Not a binary: run `cargo run --release -p stage-3` or `-p stage-4`.

pub mod error;
pub mod logs;
pub mod memcached;
pub mod nginx;
pub mod ports;
pub mod probe;
pub mod process;
pub mod rundir;
pub mod signals;
pub mod stage;
pub mod supervisor;
pub mod tools;

pub use error::ClusterError;
pub use process::ChildSpec;
pub use rundir::RunDir;
pub use signals::Signals;
pub use supervisor::{ChildHandle, Supervisor};
