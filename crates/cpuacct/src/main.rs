//! # cpuwatch — which process spent how much CPU while a load tool ran
//!
//! `cpuwatch --tree PID [--tree PID …] [--delay 2s] --json OUT -- COMMAND ARGS…`
//!
//! Runs COMMAND (loadgen, wrk, ab), snapshots `/proc` for the machine, the
//! command and every process of each `--tree` once `--delay` has passed
//! (the tool's warm-up) and again when the command exits, and writes the
//! CPU each role spent in that window to OUT (`flickrkillr-cpu/1`, see the
//! `cpuacct` crate docs). Exits with the command's status; 125 if cpuwatch
//! itself failed, 126/127 if the command could not be run / was not found.
//! The lesson it serves: on a machine the load tool shares, req/s says
//! little until you know where the cores went.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use cpuacct::watch::{parse_duration, write_json};
use cpuacct::{Error, Outcome, Watch};

/// Run a load tool and write which process (nginx, memcached, the app, the
/// tool itself, …) spent how much CPU during its measured interval.
///
/// The first snapshot is taken --delay after COMMAND starts (give the
/// tool's warm-up, e.g. loadgen's -w), the second when it exits. stdin,
/// stdout and stderr are COMMAND's; cpuwatch prints nothing unless
/// something goes wrong. Exit status: COMMAND's (128+N if killed by signal
/// N); 125 = cpuwatch failed; 126 = COMMAND could not be run; 127 = not
/// found.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    /// A server process to account for, with all its descendants
    /// (repeatable: a stage's pid, a separate nginx's pid).
    #[arg(long = "tree", value_name = "PID")]
    trees: Vec<u32>,
    /// Time between starting COMMAND and the first snapshot (500ms, 2s).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    delay: Duration,
    /// Where to write the JSON (written atomically).
    #[arg(long, value_name = "OUT")]
    json: PathBuf,
    /// The load tool and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// cpuwatch's own failure, as GNU `timeout` and `env` report theirs.
const FAILED: u8 = 125;

fn main() -> ExitCode {
    let a = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { FAILED } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let watch = Watch {
        trees: a.trees.clone(),
        delay: a.delay,
        command: a.command.clone(),
        proc_dir: PathBuf::from("/proc"),
    };
    let outcome = match watch.run() {
        Ok(o) => o,
        Err(Error::Spawn { program, source }) => {
            eprintln!("cpuwatch: cannot run {program}: {source}");
            return ExitCode::from(match source.kind() {
                std::io::ErrorKind::NotFound => 127,
                _ => 126,
            });
        }
        Err(e) => {
            eprintln!("cpuwatch: {e}");
            return ExitCode::from(FAILED);
        }
    };
    let status = outcome.status().clamp(0, 255) as u8;
    match &outcome {
        Outcome::EndedInDelay { .. } => {
            eprintln!(
                "cpuwatch: the command ended within the {:?} delay: no window, {} not written",
                a.delay,
                a.json.display()
            );
        }
        Outcome::Measured { report, .. } => {
            if let Err(e) =
                write_json(&a.json, report).with_context(|| format!("writing {}", a.json.display()))
            {
                eprintln!("cpuwatch: {e:#}");
                return ExitCode::from(FAILED);
            }
        }
    }
    ExitCode::from(status)
}
