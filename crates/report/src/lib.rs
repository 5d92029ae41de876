//! # report — every table and chart of a compare run,
//! regenerated from its raw files (nothing typed in).
//!
//! ## RAW_DIR (written by `scripts/compare.sh`, `results/<date>-<host>/raw/`)
//!
//! - `rows.tsv`: a header `row stage description talk_rps status reason`
//!   (tab-separated), then one line per row in display order. `stage` is
//!   `1`..`4`, or `-` for ceilings and the calibration; `talk_rps` is the
//!   talk's figure as text; `status` is `ok` or `failed`, `reason` says why.
//! - per row and tool: `<row>.loadgen-realistic.json`,
//!   `<row>.loadgen-single.json` (loadgen `--json`), `<row>.ab-k.txt`,
//!   `<row>.ab.txt`, `<row>.wrk.txt` (the tools' stdout), and
//!   `<row>.verify.txt` (`loadgen verify`'s output).
//! - per row and tool, `<row>.<tool>.cpu.json`: `cpuwatch`'s figures for
//!   the tool's measured interval (schema `flickrkillr-cpu/1`, crates/cpuacct).
//! - `machine.txt`, `params.txt`, `commands.txt`, `explain.txt`: shown as
//!   they are.
//! - `<row>.rate-<R>.json`: loadgen `--rate R --mix realistic --json` of a
//!   row at offered rate R (an integer, req/s); any set of rates per row
//!   (compare.sh: 100, 300, 1000, 3000, 10000, 30000, up to the first not
//!   sustained). See [`latency`].
//! - `<name>.timeline.json`: a loadgen `--timeline --json` run, and
//!   optionally `<name>.events.tsv` (`t_s<TAB>label` per line, seconds
//!   after the warm-up: what was done to the site during the run). See
//!   [`timeline`].
//! - `compare.sh --profile`'s files: `<row>.flame-top.tsv`,
//!   `<row>.folded`, `<row>.profiled.json`, `<row>.profiled.cpu.json`,
//!   and in the run directory `<row>-flame.svg` and
//!   `stage-4-vs-stage-3-flame.svg` (made by `crates/flame`; the report
//!   reads them as files). See [`flame`] and [`miss_shares`].
//!
//! Any file may be missing: its cells show `—` (empty in the CSV). Without
//! `rows.tsv` the rows are found from the file names (no talk figures, no
//! statuses). A file without a result (ab that timed out, JSON of another
//! schema) shows `—` with the reason in the notes.
//!
//! The JSON files are read as the `runfiles` crate defines them (the same
//! types loadgen and cpuwatch write); the report links nothing that serves
//! pages (no `app`, `contract` or SQLite).
//!
//! ## What is computed
//!
//! - **speed-up**: a row of stage N (N ≥ 2) against the row of stage N−1
//!   of the same series, with the same tool: `F-N-X` against `F-(N−1)-X`
//!   when the run has it (F the language's family, `stage` or `python`:
//!   `stage-3-gil` against `stage-2-gil`), else against `F-(N−1)` of the
//!   same language (`python-3` against `python-2`, `python-4-noindex`
//!   against `python-3`), else against the *main sequence* `stage-1` →
//!   `stage-2` → `stage-3` → `stage-4` (the row whose id is `stage-N`, or
//!   the first row listed with stage N if there is none): `stage-2-gil`
//!   against `stage-1`, `stage-4-noindex` against `stage-3`.
//! - **cache hits**: per row whose realistic run had any, the share of
//!   responses with `X-Cache: HIT` (`cache_hits` ÷ `requests` in the JSON).
//! - **pages per day** = req/s × 86,400 (the talk: "even 40 req/s is 3.4 M
//!   pages/day").
//! - **calibration** = loadgen single ÷ wrk on the `calibration` row (nginx
//!   serving 2 KB); `calibrate.sh` asks for ≥ 0.9.
//! - **where the time goes**: per row, the mean milliseconds per request of
//!   each Server-Timing phase (see [`parse::phase_means`]), from the
//!   realistic mix, or from the single URL when that file is missing.
//!   `gil-held` (the time the GIL was held) overlaps the other phases: it
//!   is shown but never added into a total.
//! - **where the CPU goes**: per row and tool, µs of CPU per request and
//!   cores busy by role, the rest of the machine (roles + rest = machine),
//!   a flag when Σ roles misses the machine by more than 15%, the derived
//!   capacity with the load tool elsewhere, the GIL's bound, and the
//!   lessons as sentences made of these figures: see [`cpu`].
//!
//! - **latency at fixed offered rates** (from the rate files): per row and
//!   rate, p50 · p99 counted from the intended send time (corrected for
//!   coordinated omission) with the uncorrected p50 · p99 beside it;
//!   whether the rate was **sustained** — achieved ≥ 95% of offered and
//!   errors ≤ 1% of attempts, the one rule [`latency::SUSTAINED`], also
//!   applied by `report sustained FILE` — and per row the **highest rate at
//!   which p99 stays under 100 ms** ([`latency::P99_BUDGET_MS`]): sustained
//!   under the budget there and at every lower rate tried.
//! - **the language and the cache** ([`scaling`]): Rust ÷ CPython per
//!   stage, and what a cache can buy on the mix (the bound from hit ratio
//!   and CPU per hit and miss, against the measured speed-up).
//! - **where a miss's cost goes** ([`miss_shares`]): a `stage-4-miss`
//!   request's CPU against a `stage-3` request's, part by part (nginx,
//!   memcached, the app's memcached client and its own work, the writer's
//!   freshness check and adds, the load tool), from the profiled windows,
//!   and whether the parts add up to the miss cost the plain windows
//!   measured.
//! - **timelines**: per `<name>.timeline.json`, req/s, errors per second by
//!   kind, p50/p99, the X-Cache hit ratio and the X-Served-By split, second
//!   by second, events as vertical lines; in the text, the lowest second,
//!   the one with most errors and the highest p99 after the warm-up.
//!
//! Outputs: `latest.csv`, `latest.md`, `latest.svg` (req/s, log scale),
//! `latest-phases.svg`, `latest-cpu.csv`, `latest-cpu.svg` (µs of CPU per
//! request by role), and when the run has the files for them
//! `latest-latency.svg` (latency against offered load, log–log, the talk's
//! 23, 139, 217 and 616 req/s marked), `<name>-timeline.svg` and the
//! flame graphs (copied from RAW_DIR), written to
//! `--out` (default: RAW_DIR's grandparent, `results/`) and to the run
//! directory (RAW_DIR's parent). `report timeline JSON [--events FILE]
//! --out FILE.svg [--title TEXT]` draws one timeline chart on its own.
//!
//! The same figures answer the workshop and fill the README: [`lessons`]
//! holds the nine lessons of `WORKSHOP.md` (their rows, tools, table and
//! sentences) and the README's figure blocks; `report workshop FILE
//! RAW_DIR` rewrites a text's `<!-- answer: ID -->` blocks from a run, and
//! a test checks that the committed texts are what the committed run says.

pub mod cache_model;
pub mod chart;
pub mod chart_cpu;
pub mod chart_language;
mod chart_style;
pub mod cpu;
pub mod docs;
pub mod flame;
pub mod fmt;
pub mod latency;
pub mod lessons;
pub mod miss_shares;
pub mod parse;
pub mod render;
pub mod repeats;
pub mod scaling;
pub mod timeline;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use parse::{LoadgenRun, Measure};

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: no rows (no rows.tsv and no <row>.<tool> files)")]
    NoRows(PathBuf),
    #[error(
        "{0}: RAW_DIR must sit in a run directory inside results/ (results/<run>/raw) unless --out is given"
    )]
    NoDefaultOut(PathBuf),
    #[error("drawing {file}: {why}")]
    Chart { file: &'static str, why: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A tool whose output a row may have, in the order of the table's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tool {
    LoadgenRealistic,
    LoadgenSingle,
    AbKeepAlive,
    Ab,
    Wrk,
}

impl Tool {
    pub const ALL: [Tool; 5] = [
        Tool::LoadgenRealistic,
        Tool::LoadgenSingle,
        Tool::AbKeepAlive,
        Tool::Ab,
        Tool::Wrk,
    ];

    /// The CSV's `tool` column and the middle of the file name.
    pub fn id(self) -> &'static str {
        match self {
            Tool::LoadgenRealistic => "loadgen-realistic",
            Tool::LoadgenSingle => "loadgen-single",
            Tool::AbKeepAlive => "ab-k",
            Tool::Ab => "ab",
            Tool::Wrk => "wrk",
        }
    }

    /// For people: table headers, legends.
    pub fn label(self) -> &'static str {
        match self {
            Tool::LoadgenRealistic => "loadgen realistic",
            Tool::LoadgenSingle => "loadgen single",
            Tool::AbKeepAlive => "ab -k",
            Tool::Ab => "ab",
            Tool::Wrk => "wrk",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Tool::LoadgenRealistic | Tool::LoadgenSingle => "json",
            _ => "txt",
        }
    }

    /// `<row>.<tool>.<ext>`
    pub fn file_name(self, row: &str) -> String {
        format!("{row}.{}.{}", self.id(), self.extension())
    }
}

/// One line of `rows.tsv`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowSpec {
    pub id: String,
    /// 1..=4 for the stages; `None` for ceilings and the calibration.
    pub stage: Option<u32>,
    pub description: String,
    /// The talk's figure, as written (`616 (homegrown) / 1750 (ab)`); empty if none.
    pub talk_rps: String,
    /// `ok`, `failed`, or empty when unknown (no rows.tsv).
    pub status: String,
    pub reason: String,
}

impl RowSpec {
    pub fn failed(&self) -> bool {
        self.status.eq_ignore_ascii_case("failed")
    }

    /// The numbers in `talk_rps`: `[616.0, 1750.0]` for "616 (homegrown) / 1750 (ab)".
    pub fn talk_figures(&self) -> Vec<f64> {
        self.talk_rps
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
            .filter_map(|w| w.replace(',', "").trim_matches('.').parse::<f64>().ok())
            .filter(|x| *x > 0.0)
            .collect()
    }
}

/// What a row has for one tool.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No file.
    Missing,
    /// A file without a usable result, and why.
    NoResult(String),
    Measured(Measure),
}

impl Cell {
    pub fn measure(&self) -> Option<&Measure> {
        match self {
            Cell::Measured(m) => Some(m),
            _ => None,
        }
    }
}

/// `loadgen verify`'s verdict, from its last lines.
#[derive(Debug, Clone, PartialEq)]
pub enum Verify {
    Passed {
        checks: usize,
    },
    Failed {
        failed: usize,
        checks: usize,
    },
    /// The file is there but has no verdict (the run was cut short).
    Unknown,
}

/// A row with everything its files say.
#[derive(Debug, Clone)]
pub struct Row {
    pub spec: RowSpec,
    pub cells: BTreeMap<Tool, Cell>,
    /// Mean ms per Server-Timing phase, and the tool (mix) it came from.
    pub phases: Option<(Tool, BTreeMap<String, f64>)>,
    /// The realistic mix's (cache hits, requests), when it had any hit.
    pub cache_hits: Option<(u64, u64)>,
    pub verify: Option<Verify>,
}

impl Row {
    pub fn cell(&self, tool: Tool) -> &Cell {
        self.cells.get(&tool).unwrap_or(&Cell::Missing)
    }

    pub fn rps(&self, tool: Tool) -> Option<f64> {
        self.cell(tool).measure().map(|m| m.rps)
    }
}

/// One compare run, read from its RAW_DIR.
#[derive(Debug, Clone)]
pub struct Run {
    pub raw_dir: PathBuf,
    /// The run directory's name (`2026-11-26-host`).
    pub name: String,
    pub rows: Vec<Row>,
    pub machine: Option<String>,
    pub params: Option<String>,
    pub commands: Option<String>,
    pub explain: Option<String>,
    /// Things the reader of the report should know about the raw files.
    pub warnings: Vec<String>,
    /// Where the CPU went, from the `<row>.<tool>.cpu.json` files.
    pub cpu: cpu::CpuRun,
    /// `<row>.rate-<R>.json`: open-loop runs at fixed offered rates, per row.
    pub rates: Vec<latency::RowRates>,
    /// `<name>.timeline.json` (and `<name>.events.tsv`).
    pub timelines: Vec<timeline::Found>,
    /// Repetitions 2..N of the same rows (`raw/rep-K/`, compare.sh
    /// `--repeat`), in order; empty for a single pass ([`repeats`]).
    pub repeats: Vec<Run>,
    /// `compare.sh --profile`'s flame graphs and top frames ([`flame`]).
    pub flame: flame::Flame,
}

/// `raw/rep-K/` (K = 2, 3, …) of a run, each read as a run of its own; a
/// repetition that cannot be read is left out (its rows' figures then come
/// from fewer repetitions).
fn load_repeats(raw_dir: &Path, name: &str) -> Vec<Run> {
    let mut reps: Vec<(u32, PathBuf)> = std::fs::read_dir(raw_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let k: u32 = e.file_name().to_str()?.strip_prefix("rep-")?.parse().ok()?;
            e.path().join("rows.tsv").is_file().then(|| (k, e.path()))
        })
        .collect();
    reps.sort();
    reps.into_iter()
        .filter_map(|(k, dir)| {
            let mut r = Run::load(&dir).ok()?;
            r.name = format!("{name} repetition {k}");
            Some(r)
        })
        .collect()
}

/// The rows compare.sh runs, in its order: used to order rows found only
/// from file names.
const KNOWN_ROWS: [&str; 22] = [
    "ceiling-nginx-static",
    "ceiling-hyper-hello",
    "stage-1",
    "stage-2",
    "stage-2-gil",
    "stage-3-gil",
    "stage-3",
    "stage-4",
    "stage-4-warm",
    "stage-4-noindex",
    "stage-4-miss",
    "python-1",
    "python-2",
    "python-3",
    "python-4",
    "python-4-noindex",
    "python-4-miss",
    "stage-2-slow50",
    "stage-3-slow50",
    "stage-4-slow50",
    "stage-4-threads4",
    "calibration",
];

/// The row whose loadgen/wrk ratio is the calibration line.
pub const CALIBRATION_ROW: &str = "calibration";

/// The value of a `key: value` line of a run's record (machine.txt,
/// params.txt), trimmed; the first such line.
pub fn record_field<'a>(text: Option<&'a str>, key: &str) -> Option<&'a str> {
    text?
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
        .map(str::trim)
}

impl Run {
    /// machine.txt's `key: value` ([`record_field`]).
    pub fn machine_field(&self, key: &str) -> Option<&str> {
        record_field(self.machine.as_deref(), key)
    }

    /// params.txt's `key: value` ([`record_field`]).
    pub fn params_field(&self, key: &str) -> Option<&str> {
        record_field(self.params.as_deref(), key)
    }

    /// Reads RAW_DIR. Only an unreadable directory is an error; missing or
    /// broken files become `—` cells and [`Run::warnings`].
    pub fn load(raw_dir: &Path) -> Result<Run, Error> {
        let mut names: Vec<String> = std::fs::read_dir(raw_dir)
            .map_err(io_err(raw_dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        let read = |name: &str| read_text(raw_dir, name);
        let mut warnings = Vec::new();
        let specs = row_specs(raw_dir, &names, &mut warnings)?;
        let rows: Vec<Row> = specs
            .into_iter()
            .map(|spec| load_row(raw_dir, spec))
            .collect();

        let order: Vec<String> = rows.iter().map(|r| r.spec.id.clone()).collect();
        let (rates, rate_warnings) = latency::load(raw_dir, &names, &order);
        warnings.extend(rate_warnings);
        let timelines = timeline::find(raw_dir, &names);
        let flame = flame::Flame::load(raw_dir, &names, &order);

        let name = raw_dir
            .parent()
            .and_then(|p| p.file_name())
            .or_else(|| raw_dir.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        let cpu = cpu::CpuRun::load(raw_dir, &rows);
        let repeats = load_repeats(raw_dir, &name);
        Ok(Run {
            raw_dir: raw_dir.to_path_buf(),
            name,
            rows,
            machine: read("machine.txt"),
            params: read("params.txt"),
            commands: read("commands.txt"),
            explain: read("explain.txt"),
            warnings,
            cpu,
            rates,
            timelines,
            repeats,
            flame,
        })
    }

    /// A run with nothing in it (for tests of what reads a run).
    pub fn empty(name: &str) -> Run {
        Run {
            raw_dir: "/nonexistent".into(),
            name: name.into(),
            rows: Vec::new(),
            machine: None,
            params: None,
            commands: None,
            explain: None,
            warnings: Vec::new(),
            cpu: Default::default(),
            rates: Vec::new(),
            timelines: Vec::new(),
            repeats: Vec::new(),
            flame: Default::default(),
        }
    }

    pub fn row(&self, id: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.spec.id == id)
    }

    /// The main-sequence row of `stage`: `stage-N` if listed, else the
    /// first row listed with that stage.
    pub fn sequence_row(&self, stage: u32) -> Option<&Row> {
        self.row(&format!("stage-{stage}"))
            .or_else(|| self.rows.iter().find(|r| r.spec.stage == Some(stage)))
    }

    /// The row `row` is compared with: the previous stage of its series
    /// (`stage-3-gil` → `stage-2-gil`, `python-4-noindex` → `python-3-noindex`),
    /// else of its language (`python-3` → `python-2`), else of the main
    /// sequence (`stage-4-warm` → `stage-3`).
    pub fn previous_row(&self, row: &Row) -> Option<&Row> {
        let stage = row.spec.stage.filter(|s| *s >= 2)?;
        let (family, suffix) = split_id(&row.spec.id, stage);
        let series = suffix.and_then(|x| self.row(&format!("{family}-{}-{x}", stage - 1)));
        series
            .or_else(|| self.row(&format!("{family}-{}", stage - 1)))
            .or_else(|| self.sequence_row(stage - 1))
    }

    /// `row`'s req/s over [`Run::previous_row`]'s, same tool.
    pub fn speedup(&self, row: &Row, tool: Tool) -> Option<f64> {
        let prev = self.previous_row(row)?.rps(tool)?;
        let this = row.rps(tool)?;
        (prev > 0.0).then(|| this / prev)
    }

    /// loadgen single ÷ wrk on the calibration row, with both figures.
    pub fn calibration(&self) -> Option<(f64, f64, f64)> {
        let row = self.row(CALIBRATION_ROW)?;
        let lg = row.rps(Tool::LoadgenSingle)?;
        let wrk = row.rps(Tool::Wrk)?;
        (wrk > 0.0).then(|| (lg / wrk, lg, wrk))
    }

    /// Tools with a figure in at least one row, in column order.
    pub fn tools_measured(&self) -> Vec<Tool> {
        Tool::ALL
            .into_iter()
            .filter(|t| self.rows.iter().any(|r| r.rps(*t).is_some()))
            .collect()
    }
}

/// `stage-3-gil` → 3, `python-2` → 2, for rows found from file names.
fn stage_of_id(id: &str) -> Option<u32> {
    let rest = id
        .strip_prefix("stage-")
        .or_else(|| id.strip_prefix("python-"))?;
    rest.split('-').next()?.parse().ok()
}

/// `python-4-noindex` (stage 4) → (`python`, Some(`noindex`)); `stage-2`
/// → (`stage`, None). An id of another shape is its own family.
pub fn split_id(id: &str, stage: u32) -> (&str, Option<&str>) {
    for family in ["stage", "python"] {
        if let Some(rest) = id
            .strip_prefix(family)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.strip_prefix(&stage.to_string()))
        {
            return (family, rest.strip_prefix('-'));
        }
    }
    (id, None)
}

/// rows.tsv: columns by header name when there is a header, else in the
/// documented order. Blank lines and `#` comments are skipped.
fn parse_rows_tsv(text: &str, warnings: &mut Vec<String>) -> Vec<RowSpec> {
    const COLUMNS: [&str; 6] = [
        "row",
        "stage",
        "description",
        "talk_rps",
        "status",
        "reason",
    ];
    let mut lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .peekable();
    let mut index: Vec<usize> = (0..COLUMNS.len()).collect();
    if let Some(first) = lines.peek()
        && first.split('\t').any(|f| f.trim() == "row")
    {
        let header: Vec<&str> = first.split('\t').map(str::trim).collect();
        index = COLUMNS
            .iter()
            .map(|c| header.iter().position(|h| h == c).unwrap_or(usize::MAX))
            .collect();
        lines.next();
    }
    let mut specs = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| -> String {
            fields
                .get(index[i])
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let id = get(0);
        if id.is_empty() {
            continue;
        }
        if specs.iter().any(|s: &RowSpec| s.id == id) {
            warnings.push(format!("rows.tsv lists {id} twice; the first line is used"));
            continue;
        }
        let stage_text = get(1);
        let stage = match stage_text.as_str() {
            "" | "-" => None,
            s => match s.parse() {
                Ok(n) => Some(n),
                Err(_) => {
                    warnings.push(format!("rows.tsv: {id}: stage {s:?} is not a number"));
                    None
                }
            },
        };
        let talk = get(3);
        specs.push(RowSpec {
            id,
            stage,
            description: get(2),
            talk_rps: if talk == "-" { String::new() } else { talk },
            status: get(4),
            reason: get(5),
        });
    }
    specs
}

/// The verdict `loadgen verify` prints last: `all N checks passed` or
/// `F of N checks FAILED:`.
fn parse_verify(text: &str) -> Verify {
    for line in text.lines().rev() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["all", n, "checks", "passed", ..] => {
                if let Ok(checks) = n.parse() {
                    return Verify::Passed { checks };
                }
            }
            [f, "of", n, "checks", failed, ..] if failed.starts_with("FAILED") => {
                if let (Ok(failed), Ok(checks)) = (f.parse(), n.parse()) {
                    return Verify::Failed { failed, checks };
                }
            }
            _ => {}
        }
    }
    Verify::Unknown
}

/// The paths [`write_report`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// `latest.md` in the output directory.
    pub markdown: PathBuf,
    /// Every file written, the run directory's copies included.
    pub files: Vec<PathBuf>,
    pub warnings: Vec<String>,
}

/// The output files' names.
pub const OUTPUTS: [&str; 6] = [
    "latest.csv",
    "latest.md",
    "latest.svg",
    "latest-phases.svg",
    "latest-cpu.csv",
    "latest-cpu.svg",
];

/// Written as well when RAW_DIR has `<row>.rate-<R>.json` files (and
/// `<name>-timeline.svg` for each `<name>.timeline.json`).
pub const LATENCY_SVG: &str = "latest-latency.svg";

/// Written as well when the run has CPython rows (`python-N`).
pub const LANGUAGE_SVG: &str = "latest-language.svg";

/// Reads RAW_DIR and writes the report to `out` (default: RAW_DIR's
/// grandparent) and to RAW_DIR's parent, the run directory.
pub fn write_report(raw_dir: &Path, out: Option<&Path>) -> Result<Written, Error> {
    let raw = std::fs::canonicalize(raw_dir).map_err(io_err(raw_dir))?;
    let run = Run::load(&raw)?;
    let run_dir = raw.parent().map(Path::to_path_buf);
    let out = match out {
        Some(o) => {
            std::fs::create_dir_all(o).map_err(io_err(o))?;
            std::fs::canonicalize(o).map_err(io_err(o))?
        }
        None => run_dir
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .ok_or_else(|| Error::NoDefaultOut(raw.clone()))?,
    };
    let csv = render::csv(&run);
    let rps_svg = chart::rps_chart(&run).map_err(|why| Error::Chart {
        file: "latest.svg",
        why,
    })?;
    let phases_svg = chart::phases_chart(&run).map_err(|why| Error::Chart {
        file: "latest-phases.svg",
        why,
    })?;
    let cpu_csv = cpu::csv(&run.cpu);
    let cpu_svg = chart_cpu::cpu_chart(&run).map_err(|why| Error::Chart {
        file: "latest-cpu.svg",
        why,
    })?;
    // Only runs that have them get the latency chart, the language chart
    // and the timelines.
    let mut extra: Vec<(String, String)> = Vec::new();
    if !scaling::language(&run).is_empty() {
        let svg = chart_language::language_chart(&run).map_err(|why| Error::Chart {
            file: LANGUAGE_SVG,
            why,
        })?;
        extra.push((LANGUAGE_SVG.to_string(), svg));
    }
    if !run.rates.is_empty() {
        let svg = latency::chart(&run).map_err(|why| Error::Chart {
            file: LATENCY_SVG,
            why,
        })?;
        extra.push((LATENCY_SVG.to_string(), svg));
    }
    for f in &run.timelines {
        if let Ok(tl) = &f.run {
            let svg = timeline::chart(tl, f.events(), &format!("Timeline: {}", f.name)).map_err(
                |why| Error::Chart {
                    file: "<name>-timeline.svg",
                    why: format!("{}: {why}", f.svg_name()),
                },
            )?;
            extra.push((f.svg_name(), svg));
        }
    }
    // The flame graphs `compare.sh --profile` drew, copied as they are.
    for name in run.flame.svgs() {
        let path = run.flame.dir.join(&name);
        let svg = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        extra.push((name, svg));
    }
    let mut dirs = vec![out.clone()];
    if let Some(d) = run_dir
        && d != out
    {
        dirs.push(d);
    }
    let mut files = Vec::new();
    for dir in &dirs {
        // The Markdown links to the raw files relative to where it lies.
        let md = render::markdown(&run, &relative(dir, &raw));
        for (name, body) in [
            ("latest.csv", &csv),
            ("latest.md", &md),
            ("latest.svg", &rps_svg),
            ("latest-phases.svg", &phases_svg),
            ("latest-cpu.csv", &cpu_csv),
            ("latest-cpu.svg", &cpu_svg),
        ] {
            let path = dir.join(name);
            write_atomically(&path, body.as_bytes())?;
            files.push(path);
        }
        for (name, body) in &extra {
            let path = dir.join(name);
            write_atomically(&path, body.as_bytes())?;
            files.push(path);
        }
    }
    Ok(Written {
        markdown: out.join("latest.md"),
        files,
        warnings: run.warnings,
    })
}

/// Writes `path.tmp-PID` and renames it, so a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// `to` relative to the directory `from` (both absolute), with `/`.
fn relative(from: &Path, to: &Path) -> String {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// The rows of RAW_DIR: those of `rows.tsv`, then any other row with files
/// in `names` (the directory's files, sorted).
fn row_specs(
    raw_dir: &Path,
    names: &[String],
    warnings: &mut Vec<String>,
) -> Result<Vec<RowSpec>, Error> {
    let mut specs = match read_text(raw_dir, "rows.tsv") {
        Some(text) => parse_rows_tsv(&text, warnings),
        None => {
            warnings.push(
                "no rows.tsv: rows found from the file names, without the talk's figures or statuses"
                    .into(),
            );
            Vec::new()
        }
    };
    // Rows with files but not in rows.tsv are shown too, after the others.
    let mut found: Vec<String> = Vec::new();
    for name in names {
        let row = Tool::ALL
            .iter()
            .find_map(|t| name.strip_suffix(&format!(".{}.{}", t.id(), t.extension())))
            .or_else(|| name.strip_suffix(".verify.txt"))
            .or_else(|| latency::split_file_name(name).map(|(row, _)| row));
        if let Some(row) = row
            && !row.is_empty()
            && !specs.iter().any(|s| s.id == row)
            && !found.iter().any(|f| f == row)
        {
            found.push(row.to_string());
        }
    }
    found.sort_by_key(|id| {
        (
            KNOWN_ROWS
                .iter()
                .position(|k| k == id)
                .unwrap_or(KNOWN_ROWS.len()),
            id.clone(),
        )
    });
    if !specs.is_empty() && !found.is_empty() {
        warnings.push(format!("not in rows.tsv, shown last: {}", found.join(", ")));
    }
    for id in found {
        specs.push(RowSpec {
            stage: stage_of_id(&id),
            id,
            ..RowSpec::default()
        });
    }
    if specs.is_empty() {
        return Err(Error::NoRows(raw_dir.to_path_buf()));
    }
    Ok(specs)
}

/// One row: each tool's cell, the Server-Timing phases, the cache hits and
/// `loadgen verify`'s verdict.
fn load_row(raw_dir: &Path, spec: RowSpec) -> Row {
    let mut cells = BTreeMap::new();
    let mut runs: BTreeMap<Tool, LoadgenRun> = BTreeMap::new();
    for tool in Tool::ALL {
        let file = tool.file_name(&spec.id);
        let cell = match read_text(raw_dir, &file) {
            None => Cell::Missing,
            Some(text) => {
                let parsed = match tool {
                    Tool::LoadgenRealistic | Tool::LoadgenSingle => parse::parse_loadgen(&text)
                        .map(|r| {
                            let m = r.measure.clone();
                            runs.insert(tool, r);
                            m
                        }),
                    Tool::AbKeepAlive | Tool::Ab => parse::parse_ab(&text),
                    Tool::Wrk => parse::parse_wrk(&text),
                };
                match parsed {
                    Ok(m) => Cell::Measured(m),
                    Err(why) => Cell::NoResult(why),
                }
            }
        };
        cells.insert(tool, cell);
    }
    let phases = [Tool::LoadgenRealistic, Tool::LoadgenSingle]
        .into_iter()
        .find_map(|t| {
            runs.get(&t)
                .filter(|r| !r.phases.is_empty())
                .map(|r| (t, r.phases.clone()))
        });
    let cache_hits = runs
        .get(&Tool::LoadgenRealistic)
        .filter(|r| r.cache_hits > 0 && r.requests > 0)
        .map(|r| (r.cache_hits, r.requests));
    let verify = read_text(raw_dir, &format!("{}.verify.txt", spec.id)).map(|t| parse_verify(&t));
    Row {
        spec,
        cells,
        phases,
        cache_hits,
        verify,
    }
}

/// A file of RAW_DIR as text (invalid UTF-8 replaced), if it can be read.
fn read_text(raw_dir: &Path, name: &str) -> Option<String> {
    let path = raw_dir.join(name);
    std::fs::read(&path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_tsv_by_header_and_tolerant() {
        let mut w = Vec::new();
        let text = "row\tstage\tdescription\ttalk_rps\tstatus\treason\n\
                    stage-1\t1\tCGI\t23\tok\t\n\
                    \n\
                    ceiling-nginx-static\t-\tnginx\t-\tok\n\
                    stage-4\t4\tcache\t616 (homegrown) / 1750 (ab)\tfailed\tdid not start\r\n\
                    stage-1\t1\tagain\t\tok\t\n";
        let rows = parse_rows_tsv(text, &mut w);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].stage, Some(1));
        assert_eq!(rows[1].stage, None);
        assert_eq!(rows[1].talk_rps, "");
        assert_eq!(rows[1].reason, "");
        assert!(rows[2].failed());
        assert_eq!(rows[2].reason, "did not start");
        assert_eq!(rows[2].talk_figures(), vec![616.0, 1750.0]);
        assert_eq!(w.len(), 1, "{w:?}");
        // Reordered columns.
        let rows = parse_rows_tsv("stage\trow\n2\tstage-2\n", &mut w);
        assert_eq!(rows[0].id, "stage-2");
        assert_eq!(rows[0].stage, Some(2));
    }

    #[test]
    fn verify_verdicts() {
        assert_eq!(
            parse_verify("ok  x\nall 38 checks passed\n"),
            Verify::Passed { checks: 38 }
        );
        assert_eq!(
            parse_verify("FAIL x\n\n2 of 38 checks FAILED:\n  - x: y\n"),
            Verify::Failed {
                failed: 2,
                checks: 38
            }
        );
        assert_eq!(parse_verify("ok  x\n"), Verify::Unknown);
    }

    #[test]
    fn stage_from_id() {
        assert_eq!(stage_of_id("stage-3-gil"), Some(3));
        assert_eq!(stage_of_id("stage-4"), Some(4));
        assert_eq!(stage_of_id("ceiling-nginx-static"), None);
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/r/results"), Path::new("/r/results/run/raw")),
            "run/raw"
        );
        assert_eq!(
            relative(Path::new("/r/results/run"), Path::new("/r/results/run/raw")),
            "raw"
        );
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/c/raw")),
            "../c/raw"
        );
    }
}
