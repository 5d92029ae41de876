//! # peer — the talk's own stack, run by the stages in place of the Rust app
//!
//! "Scaling isn't about the language": `peers/python/` holds the same site
//! in real CPython (CherryPy, `sqlite3`, pymemcache), byte for byte the
//! same pages. The stages deploy it exactly as they deploy the Rust app, so
//! only the language differs:
//!
//! - `stage-1 --app python` runs `fk_cgi.py` as its CGI program (a fresh
//!   interpreter per request): python-1;
//! - `fk_serve.py` alone is python-2 (one CherryPy process);
//! - `stage-3 --app python` and `stage-4 --app python` start `fk_serve.py`
//!   instances on the sockets they hold, behind the same nginx
//!   configuration and supervisor: python-3, python-4.
//!
//! This crate says where the peer is (`--peer DIR`, default `peers/python`,
//! with its virtual environment in `DIR/.venv`, made by `scripts/setup.sh`)
//! and how its programs are started.
//!
//! `cargo run --release -p stage-3 -- --app python --db data/flickrkillr.db`

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The peer's directory, relative to the workspace root.
pub const DEFAULT_DIR: &str = "peers/python";

/// Which implementation of the site a stage runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum App {
    /// The Rust app (this workspace's `app` crate).
    #[default]
    Rust,
    /// The CPython peer (`peers/python`).
    Python,
}

/// The options a stage takes to choose its app.
#[derive(clap::Args, Clone, Debug)]
pub struct AppArgs {
    /// Which implementation serves: `rust` (this workspace) or `python`
    /// (the talk's own stack, CherryPy, in `--peer`).
    #[arg(long, env = "FK_APP", value_enum, default_value_t = App::Rust)]
    pub app: App,
    /// The CPython peer's directory (with its virtual environment in
    /// `.venv`, made by `scripts/setup.sh`).
    #[arg(long, env = "FK_PEER", default_value = DEFAULT_DIR)]
    pub peer: PathBuf,
}

impl AppArgs {
    /// The CPython peer when it is the app asked for (`--app python`),
    /// found; `None` for the Rust app.
    pub fn python(&self) -> Result<Option<Peer>, PeerError> {
        match self.app {
            App::Rust => Ok(None),
            App::Python => Peer::locate(&self.peer).map(Some),
        }
    }
}

/// Why the peer cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error(
        "the CPython peer is not set up: {missing} not found; run scripts/setup.sh (it creates {venv} and installs peers/python/requirements.txt), or pass --peer DIR"
    )]
    Missing { missing: String, venv: String },
}

/// The peer, found.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Its directory (absolute).
    pub dir: PathBuf,
    /// Its virtual environment's interpreter.
    pub python: PathBuf,
}

impl Peer {
    /// Finds the peer in `dir`: its interpreter and both programs must exist.
    pub fn locate(dir: &Path) -> Result<Peer, PeerError> {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let python = dir.join(".venv/bin/python");
        let venv = dir.join(".venv").display().to_string();
        for p in [&python, &dir.join("fk_serve.py"), &dir.join("fk_cgi.py")] {
            if !p.is_file() {
                return Err(PeerError::Missing {
                    missing: p.display().to_string(),
                    venv,
                });
            }
        }
        Ok(Peer { dir, python })
    }

    /// The CGI program: the interpreter and its script (python-1).
    pub fn cgi(&self) -> (PathBuf, Vec<OsString>) {
        (
            self.python.clone(),
            vec![self.dir.join("fk_cgi.py").into_os_string()],
        )
    }

    /// The app server: the interpreter and its script (python-2/3/4);
    /// options follow.
    pub fn server(&self) -> (PathBuf, Vec<OsString>) {
        (
            self.python.clone(),
            vec![self.dir.join("fk_serve.py").into_os_string()],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_peer_says_how_to_set_it_up() {
        let d = tempfile::tempdir().unwrap();
        let e = Peer::locate(d.path()).unwrap_err().to_string();
        assert!(e.contains("scripts/setup.sh") && e.contains(".venv"), "{e}");
        std::fs::create_dir_all(d.path().join(".venv/bin")).unwrap();
        for f in [".venv/bin/python", "fk_serve.py", "fk_cgi.py"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let p = Peer::locate(d.path()).unwrap();
        assert!(p.server().1[0].to_string_lossy().ends_with("fk_serve.py"));
        assert!(p.cgi().1[0].to_string_lossy().ends_with("fk_cgi.py"));
    }
}
