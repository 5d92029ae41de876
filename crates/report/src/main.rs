//! # report — the tables and charts of a compare run, from its raw files
//!
//! `cargo run --release -p report -- results/<date>-<host>/raw [--out results]`
//!
//! Regenerates `latest.csv`, `latest.md`, `latest.svg` (req/s per row and
//! tool, log scale), `latest-phases.svg` (mean ms per Server-Timing phase),
//! `latest-cpu.csv` and `latest-cpu.svg` (µs of CPU per request by process
//! role, from cpuwatch's files) from the raw files `scripts/compare.sh`
//! wrote, and prints the
//! path of `latest.md`. Nothing is typed in: every figure comes from a
//! tool's own output. The RAW_DIR layout and what is computed: the library
//! docs (`src/lib.rs`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

/// Regenerate the tables and charts of a compare run from its raw files.
///
/// RAW_DIR is `results/<date>-<host>/raw/` as scripts/compare.sh writes it
/// (rows.tsv, <row>.<tool>.{json,txt}, <row>.<tool>.cpu.json, machine.txt, params.txt,
/// commands.txt, explain.txt); missing files show as "—". The files go to
/// --out and to the run directory (RAW_DIR's parent).
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    /// The run's raw files: results/<date>-<host>/raw/.
    raw_dir: PathBuf,
    /// Where to write latest.{csv,md,svg}, latest-phases.svg and
    /// latest-cpu.{csv,svg} (default: RAW_DIR's grandparent, i.e. results/).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let a = Args::parse();
    match report::write_report(&a.raw_dir, a.out.as_deref())
        .with_context(|| format!("reporting {}", a.raw_dir.display()))
    {
        Ok(written) => {
            for w in &written.warnings {
                eprintln!("report: {w}");
            }
            println!("{}", written.markdown.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("report: {e:#}");
            ExitCode::from(2)
        }
    }
}
