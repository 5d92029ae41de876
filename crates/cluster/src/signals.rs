//! SIGINT and SIGTERM, caught from the first moment.
//!
//! Installed before any child starts, so a Ctrl-C during start-up is an
//! orderly stop too, not the default action (which would leave the
//! children to their parent-death signal).

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::ClusterError;

/// The stop signals of a stage.
#[derive(Debug)]
pub struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    /// Installs the handlers now (inside a tokio runtime).
    pub fn install() -> Result<Self, ClusterError> {
        Ok(Signals {
            int: signal(SignalKind::interrupt()).map_err(ClusterError::Signals)?,
            term: signal(SignalKind::terminate()).map_err(ClusterError::Signals)?,
        })
    }

    /// Resolves at the next SIGINT or SIGTERM, with its name.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}
