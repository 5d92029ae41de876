//! The CPython peer (`peers/python`) in tests: where it is, the options
//! that make a stage run it, and python-2 (its app server alone).
//!
//! A peer that is not set up fails the test with the command that sets it
//! up (`scripts/setup.sh`), under CI and elsewhere: never a silent skip.

use std::path::PathBuf;

use crate::{Running, Site};

/// `peers/python` of this workspace.
pub fn dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../peers/python");
    std::fs::canonicalize(&d).unwrap_or(d)
}

/// The peer, or a panic saying how to set it up.
pub fn peer() -> peer::Peer {
    peer::Peer::locate(&dir()).unwrap_or_else(|e| panic!("{e}"))
}

/// `--app python --peer DIR`, for a stage to run the peer.
pub fn app_args() -> Vec<String> {
    let p = peer();
    vec![
        "--app".into(),
        "python".into(),
        "--peer".into(),
        p.dir.display().to_string(),
    ]
}

/// Runs `f` with [`app_args`], as the `&str`s a stage's arguments take.
pub fn with_app_args<R>(f: impl FnOnce(&[&str]) -> R) -> R {
    let app = app_args();
    f(&app.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A stage binary `bin` running the peer (`--app python`) for `site`,
/// plus `extra` options.
pub fn start_stage(bin: &str, site: &Site, extra: &[&str]) -> Running {
    with_app_args(|app| {
        let mut all = app.to_vec();
        all.extend(extra);
        Running::start(bin, &crate::stages::args(site, &all))
    })
}

/// python-2: one CherryPy process serving `site` (sessions in SQLite), on
/// port 0, plus `extra` options.
pub fn start_server(site: &Site, extra: &[&str]) -> Running {
    let p = peer();
    let (python, script) = p.server();
    let mut args: Vec<String> = script
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    args.extend(site.args(&["--sessions", "sqlite"]));
    args.extend(extra.iter().map(|s| s.to_string()));
    Running::start(&python.display().to_string(), &args)
}
