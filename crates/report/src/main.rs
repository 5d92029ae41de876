//! # report — the tables and charts of a compare run, from its raw files
//!
//! ```text
//! cargo run --release -p report -- results/<date>-<host>/raw [--out results]
//! cargo run --release -p report -- timeline RUN.json [--events EVENTS.tsv] --out RUN.svg [--title TEXT]
//! cargo run --release -p report -- sustained RUN.json     # exit 0 if the rate was sustained, 1 if not
//! cargo run --release -p report -- agree RAW_A RAW_B      # do two runs' ratios and verdicts agree?
//! cargo run --release -p report -- lessons                # the workshop's lessons
//! cargo run --release -p report -- lesson-spec N          # what scripts/lesson.sh runs for lesson N
//! cargo run --release -p report -- lesson N RAW_DIR       # lesson N's answer from a run
//! cargo run --release -p report -- workshop WORKSHOP.md RAW_DIR [--keys results/lessons] [--check]
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
//!
//! The lesson commands serve the workshop (`WORKSHOP.md`,
//! `scripts/lesson.sh`): the lessons are data in `report::lessons`, and an
//! answer is computed from a run's raw files like every other table.
//! `workshop` rewrites the answer blocks of WORKSHOP.md (and the figure
//! blocks of README.md, `report::lessons::README_BLOCKS`) and the inline
//! figures prose quotes (`report::docs`) from a run; with `--check` it
//! changes nothing and fails when a block or figure is out of date, or a
//! lesson's "Fill in" table asks for what the lesson does not print.

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
    /// Whether two runs agree: each ratio the lessons' verdicts rest on
    /// (report::repeats::PAIRS), B's median against A's range (the spread
    /// of A's repetitions) and the two verdicts, in Markdown.
    Agree {
        /// The first run's raw files.
        a: PathBuf,
        /// The second run's raw files.
        b: PathBuf,
    },
    /// List the workshop's lessons: number, id, title and the rows each runs.
    Lessons,
    /// Print what scripts/lesson.sh runs for a lesson, as shell assignments
    /// (NUMBER, ID, TITLE, ROWS, TOOLS, USERS, RATES).
    LessonSpec {
        /// The lesson's number (1..9) or id (`cgi`, `gil`, ...).
        lesson: String,
    },
    /// Print a lesson's answer (Markdown) computed from a run's raw files.
    Lesson {
        /// The lesson's number (1..9) or id.
        lesson: String,
        /// The run's raw files (what compare.sh or lesson.sh wrote).
        raw_dir: PathBuf,
    },
    /// Rewrite every `<!-- answer: ID -->` block and `<!-- fig: KEY -->`
    /// span of a text (WORKSHOP.md's lessons, README.md's and docs/'s
    /// figures) from a run. With --check, also the lessons' "Fill in"
    /// tables against the columns and rows each lesson prints.
    Workshop {
        /// The text: WORKSHOP.md or README.md.
        file: PathBuf,
        /// The run's raw files: the committed run's results/<run>/raw.
        raw_dir: PathBuf,
        /// Change nothing; exit 1 if a block or figure is not what the run
        /// says, or a lesson asks for a column or row it does not print.
        #[arg(long)]
        check: bool,
        /// The answer keys: a lesson whose own run lies in DIR/N-ID/
        /// (`scripts/answer-keys.sh` writes results/lessons/) gets its
        /// answer from that run, measured as `scripts/lesson.sh N` runs.
        #[arg(long, value_name = "DIR")]
        keys: Option<PathBuf>,
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
        Some(Command::Agree { a, b }) => load_run(&a).and_then(|a| {
            let b = load_run(&b)?;
            print!("{}", report::repeats::agreement(&a, &b));
            Ok(ExitCode::SUCCESS)
        }),
        Some(Command::Lessons) => lessons(),
        Some(Command::LessonSpec { lesson }) => lesson_spec(&lesson),
        Some(Command::Lesson { lesson, raw_dir }) => print_lesson(&lesson, &raw_dir),
        Some(Command::Workshop {
            file,
            raw_dir,
            check,
            keys,
        }) => workshop(&file, &raw_dir, check, keys.as_deref()),
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

fn find_lesson(key: &str) -> anyhow::Result<&'static report::lessons::Lesson> {
    report::lessons::find(key).with_context(|| {
        format!(
            "no lesson {key:?}: give a number 1..{} or an id (`report lessons` lists them)",
            report::lessons::LESSONS.len()
        )
    })
}

fn lessons() -> anyhow::Result<ExitCode> {
    for l in report::lessons::LESSONS {
        println!(
            "{:>2}  {:<12} {:<36} rows: {}",
            l.number,
            l.id,
            l.title,
            l.rows.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn lesson_spec(key: &str) -> anyhow::Result<ExitCode> {
    let l = find_lesson(key)?;
    // The README's blocks are not lessons: there is nothing to run for them.
    anyhow::ensure!(
        l.number > 0,
        "{key:?} is a block of the README, not a lesson (`report lessons` lists the lessons)"
    );
    print!("{}", report::lessons::spec(l));
    Ok(ExitCode::SUCCESS)
}

fn load_run(raw_dir: &std::path::Path) -> anyhow::Result<report::Run> {
    report::Run::load(raw_dir).with_context(|| format!("reading the run {}", raw_dir.display()))
}

fn print_lesson(key: &str, raw_dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let l = find_lesson(key)?;
    let run = load_run(raw_dir)?;
    if l.number > 0 {
        println!("## Lesson {} — {}\n", l.number, l.title);
    } else {
        println!("## {}\n", l.title);
    }
    print!("{}", report::lessons::answer(&run, l));
    Ok(ExitCode::SUCCESS)
}

fn workshop(
    file: &std::path::Path,
    raw_dir: &std::path::Path,
    check: bool,
    keys: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let text = read(&file.to_path_buf())?;
    let run = load_run(raw_dir)?;
    let keys_dir = keys;
    let keys = match keys_dir {
        Some(dir) => report::lessons::load_keys(dir)
            .with_context(|| format!("reading the answer keys in {}", dir.display()))?,
        None => report::lessons::Keys::new(),
    };
    let keys_arg = keys_dir.map_or(String::new(), |d| format!(" --keys {}", d.display()));
    let new = report::lessons::fill_keyed(&text, &run, &keys)
        .map_err(anyhow::Error::msg)
        .with_context(|| file.display().to_string())?;
    if check {
        // Lessons whose "Fill in" table or answer disagree with what the
        // lesson prints (only WORKSHOP.md has lessons).
        let problems = if report::lessons::ids(&text)
            .iter()
            .any(|id| report::lessons::LESSONS.iter().any(|l| l.id == *id))
        {
            report::docs::lesson_problems(&text)
        } else {
            Vec::new()
        };
        for p in &problems {
            eprintln!("report: {}: {p}", file.display());
        }
        if new == text && problems.is_empty() {
            println!(
                "{}: every answer and figure is what {} says",
                file.display(),
                raw_dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        if new != text {
            let mut stale: Vec<String> = report::lessons::changed(&text, &new)
                .into_iter()
                .map(String::from)
                .collect();
            stale.extend(report::docs::changed_figures(&text, &new));
            eprintln!(
                "report: {}: answers or figures out of date ({}); regenerate with: report workshop {} {}{keys_arg}",
                file.display(),
                stale.join(", "),
                file.display(),
                raw_dir.display()
            );
        }
        return Ok(ExitCode::FAILURE);
    }
    if new != text {
        // Written whole to a temporary file first: an interrupted run never
        // leaves a half-written WORKSHOP.md.
        let tmp = file.with_extension("md.tmp");
        std::fs::write(&tmp, &new).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, file).with_context(|| format!("replacing {}", file.display()))?;
    }
    println!("{}", file.display());
    Ok(ExitCode::SUCCESS)
}
