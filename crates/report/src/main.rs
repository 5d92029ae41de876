//! # report — the tables and charts of a compare run, from its raw files
//!
//! ```text
//! cargo run --release -p report -- results/<date>-<host>/raw [--out results]
//! cargo run --release -p report -- timeline RUN.json [--events EVENTS.tsv] --out RUN.svg [--title TEXT]
//! cargo run --release -p report -- sustained RUN.json     # exit 0 if the rate was sustained, 1 if not
//! ```
//!
//! Regenerates `latest.csv`, `latest.md`, `latest.svg` (req/s per row and
//! tool, log scale), `latest-phases.svg` (mean ms per Server-Timing
//! phase), `latest-cpu.csv` and `latest-cpu.svg` (µs of CPU per request by
//! process role, from cpuwatch's files) from the raw files
//! `scripts/compare.sh` wrote, plus `latest-latency.svg` and
//! `<name>-timeline.svg` when the run has rate or timeline files, and
//! prints the path of `latest.md`. Nothing is typed in: every figure comes
//! from a tool's own output. The RAW_DIR layout and what is computed: the
//! library docs (`src/lib.rs`).
//!
//! `timeline` charts one loadgen `--timeline` run on its own; `sustained`
//! applies the report's rule for an open-loop run having kept up with its
//! rate (`report::latency::SUSTAINED`), so a script stepping up the rates
//! stops where the report will say the row gave up.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

/// Regenerate the tables and charts of a compare run from its raw files.
///
/// RAW_DIR is `results/<date>-<host>/raw/` as scripts/compare.sh writes it
/// (rows.tsv, <row>.<tool>.{json,txt}, <row>.<tool>.cpu.json,
/// <row>.rate-<R>.json, <name>.timeline.json, machine.txt, params.txt,
/// commands.txt, explain.txt); missing files show as "—". The files go to
/// --out and to the run directory (RAW_DIR's parent).
#[derive(Parser, Debug)]
#[command(
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The run's raw files: results/<date>-<host>/raw/.
    #[arg(value_name = "RAW_DIR", required = true)]
    raw_dir: Option<PathBuf>,
    /// Where to write latest.{csv,md,svg} and the other charts (default:
    /// RAW_DIR's grandparent, i.e. results/).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Chart one loadgen --timeline run: req/s, errors, p50/p99, hit ratio
    /// and the X-Served-By split per second, with events as vertical lines.
    Timeline(TimelineArgs),
    /// Say whether an open-loop loadgen run (--rate) sustained its rate by
    /// the report's rule; exit 0 if it did, 1 if not, 2 if the file is not
    /// an open-loop loadgen JSON.
    Sustained {
        /// A loadgen --json file of an open-loop run.
        json: PathBuf,
    },
}

#[derive(Args, Debug)]
struct TimelineArgs {
    /// A loadgen --json file written with --timeline.
    json: PathBuf,
    /// Events to mark: TSV, `t_s<TAB>label` per line, seconds after the
    /// warm-up (e.g. `5.0<TAB>kill instance i0`), or `@UNIX<TAB>label` with
    /// a Unix time (`date +%s.%N`), placed by the JSON's
    /// timeline_zero_unix_s.
    #[arg(long)]
    events: Option<PathBuf>,
    /// The SVG to write.
    #[arg(long)]
    out: PathBuf,
    /// The chart's title (default: "Timeline: <file name>").
    #[arg(long)]
    title: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Timeline(a)) => timeline(a),
        Some(Command::Sustained { json }) => sustained(json),
        None => report(cli.raw_dir.unwrap_or_default(), cli.out),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("report: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn report(raw_dir: PathBuf, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let written = report::write_report(&raw_dir, out.as_deref())
        .with_context(|| format!("reporting {}", raw_dir.display()))?;
    for w in &written.warnings {
        eprintln!("report: {w}");
    }
    println!("{}", written.markdown.display());
    Ok(ExitCode::SUCCESS)
}

fn read(path: &PathBuf) -> anyhow::Result<String> {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .with_context(|| format!("reading {}", path.display()))
}

fn timeline(a: TimelineArgs) -> anyhow::Result<ExitCode> {
    let run = report::timeline::parse(&read(&a.json)?)
        .map_err(anyhow::Error::msg)
        .with_context(|| a.json.display().to_string())?;
    let events = match &a.events {
        Some(p) => report::timeline::parse_events(&read(p)?, run.zero_unix_s)
            .map_err(anyhow::Error::msg)
            .with_context(|| p.display().to_string())?,
        None => Vec::new(),
    };
    let title = a.title.unwrap_or_else(|| {
        let name = a.json.file_name().map_or_else(
            || a.json.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        format!(
            "Timeline: {}",
            name.trim_end_matches(".json").trim_end_matches(".timeline")
        )
    });
    let svg = report::timeline::chart(&run, &events, &title)
        .map_err(anyhow::Error::msg)
        .context("drawing the timeline")?;
    std::fs::write(&a.out, svg).with_context(|| format!("writing {}", a.out.display()))?;
    println!("{}", a.out.display());
    Ok(ExitCode::SUCCESS)
}

fn sustained(json: PathBuf) -> anyhow::Result<ExitCode> {
    let (ok, words) = report::latency::verdict(&read(&json)?)
        .map_err(anyhow::Error::msg)
        .with_context(|| json.display().to_string())?;
    println!("{words}");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
