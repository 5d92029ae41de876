//! The workshop's lessons (`WORKSHOP.md`, `scripts/lesson.sh N`), as data:
//! which rows each needs, how it is run, and the table that answers it —
//! computed from a run's raw files by the same code as the rest of the
//! report, so the answers folded into WORKSHOP.md are regenerated from the
//! committed run (`report workshop WORKSHOP.md RAW_DIR`) and never typed.
//!
//! In WORKSHOP.md an answer is the text between `<!-- answer: ID -->` and
//! `<!-- /answer -->`; `report workshop` rewrites every such block, and
//! `--check` fails when one is not what the raw files say (a test runs it
//! against the committed run).

use std::fmt::Write as _;

use runfiles::Role;

use super::fmt::{fmt_ms, fmt_rps, fmt_speedup};
use super::{Run, Tool, cpu, latency, scaling};

/// A column of a lesson's table.
#[derive(Debug, Clone, Copy)]
pub enum Col {
    /// req/s with a tool.
    Rps(Tool),
    /// req/s over the previous stage of the row's series, with a tool.
    Speedup(Tool),
    /// p99 latency (ms) with a tool.
    P99(Tool),
    /// µs of CPU per request of a role (the realistic mix, else one page).
    RoleUs(Role),
    /// Cores a role kept busy.
    RoleCores(Role),
    /// µs of CPU per request of every process but the load tool.
    ServerUs,
    /// cores ÷ server CPU per request (derived).
    Capacity,
    /// Mean ms per request of a Server-Timing phase (the realistic mix).
    Phase(&'static str),
    /// Share of `X-Cache: HIT` on the realistic mix.
    Hits,
    /// The highest offered rate with p99 under the budget.
    FastEnough,
    /// p99 (ms) at an offered rate.
    P99At(u64),
    /// The load tool's µs of CPU per request, for a tool.
    LoadUs(Tool),
    /// instances ÷ the lock's held time per request (derived, `cpu::GilBound`).
    GilBound,
    /// The talk's figure for the row's stage (rows.tsv).
    Talk,
}

impl Col {
    fn header(self) -> String {
        match self {
            Col::Rps(t) => format!("req/s ({})", t.label()),
            Col::Speedup(t) => format!("× previous stage ({})", t.label()),
            Col::P99(t) => format!("p99 ms ({})", t.label()),
            Col::RoleUs(r) => format!("{} µs/req", r.id()),
            Col::RoleCores(r) => format!("{} cores busy", r.id()),
            Col::ServerUs => "server µs/req".into(),
            Col::Capacity => "capacity, load tool elsewhere (derived)".into(),
            Col::Phase(p) => format!("`{p}` ms"),
            Col::Hits => "cache hits".into(),
            Col::FastEnough => format!("highest rate with p99 < {} ms", latency::P99_BUDGET_MS),
            Col::P99At(r) => format!("p99 ms at {} req/s", fmt_rps(r as f64)),
            Col::LoadUs(t) => format!("the tool's own µs/req ({})", t.label()),
            Col::GilBound => "the GIL's bound, req/s (derived)".into(),
            Col::Talk => "the talk".into(),
        }
    }

    /// Whether the column is a number (a median and range over the
    /// repetitions), not a sentence read off the first repetition.
    fn numeric(self) -> bool {
        !matches!(self, Col::FastEnough | Col::P99At(_) | Col::Talk)
    }

    /// The column's figure for `row` in one repetition, as a number.
    fn number(self, run: &Run, row: &str) -> Option<f64> {
        let r = run.row(row);
        let cell = |tool: Option<Tool>| match tool {
            Some(t) => run.cpu.cell(row, t).filter(|c| c.requests().is_some()),
            None => run.cpu.preferred(row, &cpu::PREFERRED),
        };
        match self {
            Col::Rps(t) => r?.rps(t),
            Col::Speedup(t) => run.speedup(r?, t),
            Col::P99(t) => r?.cell(t).measure().and_then(|m| m.p99_ms),
            Col::RoleUs(role) => cell(None)?.role_us(role).filter(|v| *v > 0.0),
            Col::RoleCores(role) => cell(None).map(|c| c.cores_busy(c.report.role(role))),
            Col::ServerUs => cell(None)?.server_us(),
            Col::Capacity => cell(None)?.capacity_rps(),
            Col::Phase(p) => r?.phases.as_ref()?.1.get(p).copied(),
            Col::Hits => {
                let r = r.filter(|r| r.rps(REALISTIC).is_some())?;
                Some(
                    r.cache_hits
                        .map_or(0.0, |(h, n)| 100.0 * h as f64 / n.max(1) as f64),
                )
            }
            Col::GilBound => cell(None)?.gil.as_ref().map(|g| g.bound_rps),
            Col::LoadUs(t) => cell(Some(t))?.role_us(Role::Load).filter(|v| *v > 0.0),
            Col::FastEnough | Col::P99At(_) | Col::Talk => None,
        }
    }

    fn format(self, v: f64) -> String {
        match self {
            Col::Rps(_) | Col::Capacity | Col::GilBound => fmt_rps(v),
            Col::Speedup(_) => fmt_speedup(v),
            Col::P99(_) | Col::Phase(_) => fmt_ms(v),
            Col::RoleUs(_) | Col::ServerUs | Col::LoadUs(_) => us(v),
            Col::RoleCores(_) => format!("{v:.2}"),
            // (A row without a cache: no hit at all, not a rounded one.)
            Col::Hits if v == 0.0 => "0%".into(),
            Col::Hits => format!("{v:.1}%"),
            Col::FastEnough | Col::P99At(_) | Col::Talk => String::new(),
        }
    }

    /// The cell: for a number, its median over the repetitions that have
    /// it, with the range (`10,016 (9,800–10,500)`) when there are two or
    /// more; a `×` whose range holds 1 ends in [`NO_DIFFERENCE`]. A row the
    /// first repetition lacks is `—`, whatever the others say.
    pub(crate) fn value(self, run: &Run, row: &str) -> String {
        if !self.numeric() {
            return self.text(run, row);
        }
        if self.number(run, row).is_none() {
            return "—".into();
        }
        let values = crate::repeats::all(run)
            .into_iter()
            .filter_map(|rep| self.number(rep, row))
            .collect();
        let Some(s) = crate::repeats::Spread::of(values) else {
            return "—".into();
        };
        // One sample, or a range that rounds to one value: the value.
        if s.values.len() < 2 || self.format(s.min) == self.format(s.max) {
            return self.format(s.median);
        }
        let mut cell = crate::repeats::fmt_spread(&s, |v| self.format(v));
        if matches!(self, Col::Speedup(_))
            && crate::repeats::Verdict::of(&s) == crate::repeats::Verdict::NoDifference
        {
            cell.push(' ');
            cell.push_str(NO_DIFFERENCE);
        }
        cell
    }

    /// The columns that are sentences, from the first repetition.
    fn text(self, run: &Run, row: &str) -> String {
        let dash = || "—".to_string();
        match self {
            Col::FastEnough => run
                .rates
                .iter()
                .find(|x| x.row == row)
                .map(|x| match x.fast_enough() {
                    latency::FastEnough::UpTo {
                        rate,
                        highest_tried,
                    } => {
                        format!(
                            "{}{}",
                            fmt_rps(rate),
                            if highest_tried {
                                " (the highest tried)"
                            } else {
                                ""
                            }
                        )
                    }
                    latency::FastEnough::NotAtLowest(_) => "under the lowest tried".into(),
                    latency::FastEnough::NoRuns => dash(),
                })
                .unwrap_or_else(dash),
            Col::P99At(rate) => run
                .rates
                .iter()
                .find(|x| x.row == row)
                .and_then(|x| x.run_at(rate as f64))
                .map(|x| x.p99_ms)
                .map_or_else(dash, fmt_ms),
            Col::Talk => run
                .row(row)
                .map(|r| r.spec.talk_rps.clone())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(dash),
            _ => self.number(run, row).map_or_else(dash, |v| self.format(v)),
        }
    }
}

/// Marks a `×` whose range over the repetitions holds 1: no difference
/// this run can measure (`repeats::Verdict::NoDifference`).
pub const NO_DIFFERENCE: &str = "≈";

fn us(v: f64) -> String {
    if v >= 1000.0 {
        runfiles::thousands(v.round() as u64)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// One lesson.
#[derive(Debug)]
pub struct Lesson {
    pub number: u32,
    /// The answer's id in WORKSHOP.md.
    pub id: &'static str,
    pub title: &'static str,
    /// The rows `scripts/lesson.sh` runs (compare.sh's row ids).
    pub rows: &'static [&'static str],
    /// Seeded users (the full data set when the lesson needs it).
    pub users: u64,
    /// Whether the rows' rate sweeps run.
    pub rates: bool,
    /// The tools each row is measured with (compare.sh `--tools`): the
    /// ones the table's columns and extras read, no more.
    pub tools: &'static [Tool],
    pub columns: &'static [Col],
    /// Whether the answer adds the CPU lessons' sentences, the cache
    /// bound, the language table, the timelines.
    pub extras: &'static [Extra],
}

/// What a lesson's answer adds after its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// What each part of the run took (`timing.tsv`), in minutes.
    Timing,
    /// The sentence of the CPU section (`cpu::lessons`) whose bold title
    /// starts with this text.
    Cpu(&'static str),
    CacheBound,
    /// Where a miss's CPU goes, part by part ([`crate::miss_shares`]).
    MissShares,
    Language,
    Timelines,
    Calibration,
}

/// Seeded users of a lesson that needs no more (seeding takes ~0.1 s).
const SMALL: u64 = 2_000;
/// The full data set (seeded in ~5 s the first time).
const FULL: u64 = 100_000;

const REALISTIC: Tool = Tool::LoadgenRealistic;

/// The lessons, in the talk's order.
pub const LESSONS: &[Lesson] = &[
    Lesson {
        number: 1,
        id: "cgi",
        title: "a process per request (CGI)",
        rows: &["stage-1", "python-1", "stage-2"],
        users: SMALL,
        rates: false,
        tools: &[REALISTIC, Tool::Wrk],
        columns: &[
            Col::Rps(REALISTIC),
            Col::Rps(Tool::Wrk),
            Col::RoleUs(Role::Cgi),
            Col::RoleUs(Role::CgiHost),
            Col::RoleUs(Role::App),
            Col::Phase("process"),
            Col::Phase("init"),
            Col::Phase("db-open"),
        ],
        extras: &[Extra::Cpu("A CGI request")],
    },
    Lesson {
        number: 2,
        id: "app-server",
        title: "the app server",
        rows: &["stage-1", "python-1", "stage-2", "python-2"],
        users: SMALL,
        rates: false,
        tools: &[REALISTIC, Tool::Wrk],
        columns: &[
            Col::Rps(REALISTIC),
            Col::Speedup(REALISTIC),
            Col::Rps(Tool::Wrk),
            Col::Speedup(Tool::Wrk),
            Col::Phase("session"),
            Col::Phase("query"),
            Col::ServerUs,
        ],
        extras: &[],
    },
    Lesson {
        number: 3,
        id: "gil",
        title: "the GIL: one core of two",
        // The emulated interpreter (`stage-2-slow50`, 50× the work under the
        // lock) is the lesson's knob, run by hand: it is not in the default
        // run, so the committed answer could not show it.
        rows: &["stage-2", "stage-2-gil", "python-2"],
        users: SMALL,
        rates: false,
        tools: &[REALISTIC],
        columns: &[
            Col::Rps(REALISTIC),
            Col::RoleCores(Role::App),
            Col::RoleUs(Role::App),
            Col::Phase("gil-held"),
            Col::Phase("gil-wait"),
            Col::GilBound,
            Col::RoleUs(Role::Load),
        ],
        extras: &[Extra::Cpu("Cores the app process keeps busy")],
    },
    Lesson {
        number: 4,
        id: "balancing",
        title: "balancing with nginx",
        rows: &[
            "stage-2",
            "stage-3",
            "stage-2-gil",
            "stage-3-gil",
            "python-2",
            "python-3",
            "fault-stage-3-kill",
        ],
        users: SMALL,
        rates: false,
        tools: &[REALISTIC],
        columns: &[
            Col::Rps(REALISTIC),
            Col::Speedup(REALISTIC),
            Col::RoleUs(Role::Nginx),
            Col::RoleUs(Role::App),
            Col::ServerUs,
            Col::Capacity,
        ],
        extras: &[Extra::Cpu("nginx in front"), Extra::Timelines],
    },
    Lesson {
        number: 5,
        id: "caching",
        title: "memcached, and nginx reading it",
        // The -miss rows measure a miss in a run of its own: the cache
        // model (Extra::CacheBound) predicts the speed-up from them.
        rows: &[
            "stage-3",
            "stage-4",
            "stage-4-miss",
            "python-3",
            "python-4",
            "python-4-miss",
            "fault-stage-4-memcached",
        ],
        users: SMALL,
        rates: false,
        tools: &[REALISTIC, Tool::LoadgenSingle, Tool::Wrk],
        columns: &[
            Col::Rps(REALISTIC),
            Col::Speedup(REALISTIC),
            Col::Rps(Tool::Wrk),
            Col::Speedup(Tool::Wrk),
            Col::Hits,
            Col::RoleUs(Role::Nginx),
            Col::RoleUs(Role::Memcached),
            Col::RoleUs(Role::App),
        ],
        extras: &[
            Extra::Cpu("A cache hit"),
            Extra::CacheBound,
            Extra::MissShares,
            Extra::Timelines,
        ],
    },
    Lesson {
        number: 6,
        id: "index",
        title: "don't forget to index",
        rows: &["stage-4", "stage-4-noindex", "python-4-noindex"],
        users: FULL,
        rates: false,
        tools: &[REALISTIC, Tool::Wrk],
        columns: &[
            Col::Rps(REALISTIC),
            Col::Rps(Tool::Wrk),
            Col::Phase("query"),
            Col::Hits,
        ],
        extras: &[],
    },
    Lesson {
        number: 7,
        id: "tools",
        title: "the homegrown tool versus ab",
        rows: &["ceiling-nginx-static", "stage-4", "calibration"],
        users: SMALL,
        rates: false,
        tools: &Tool::ALL,
        columns: &[
            Col::Rps(REALISTIC),
            Col::Rps(Tool::LoadgenSingle),
            Col::Rps(Tool::AbKeepAlive),
            Col::Rps(Tool::Ab),
            Col::Rps(Tool::Wrk),
            Col::LoadUs(Tool::LoadgenSingle),
            Col::LoadUs(Tool::Wrk),
            Col::LoadUs(Tool::Ab),
        ],
        extras: &[Extra::Calibration],
    },
    Lesson {
        number: 8,
        id: "fast-enough",
        title: "how fast is fast enough?",
        rows: &["stage-1", "python-2", "stage-4"],
        users: SMALL,
        rates: true,
        tools: &[],
        columns: &[
            Col::FastEnough,
            Col::P99At(100),
            Col::P99At(1000),
            Col::P99At(10000),
        ],
        extras: &[],
    },
    Lesson {
        number: 9,
        id: "language",
        title: "scaling isn't about the language",
        rows: &["python-2", "stage-2", "python-4", "stage-4"],
        users: SMALL,
        rates: false,
        tools: &[REALISTIC, Tool::Wrk],
        columns: &[Col::Rps(REALISTIC), Col::Rps(Tool::Wrk), Col::ServerUs],
        extras: &[Extra::Language],
    },
];

/// The README's generated blocks: the same machinery as the lessons, so
/// the README's figures are regenerated and checked like WORKSHOP.md's
/// (`report workshop README.md RAW_DIR`). Number 0: not a lesson, and
/// `scripts/lesson.sh` does not run them.
pub const README_BLOCKS: &[Lesson] = &[
    Lesson {
        number: 0,
        id: "summary",
        title: "every stage, side by side",
        rows: &[
            "ceiling-nginx-static",
            "stage-1",
            "python-1",
            "stage-2",
            "stage-2-gil",
            "python-2",
            "stage-3",
            "stage-3-gil",
            "python-3",
            "stage-4",
            "stage-4-warm",
            "python-4",
            "stage-4-noindex",
            "python-4-noindex",
        ],
        users: FULL,
        rates: true,
        tools: &[REALISTIC, Tool::Wrk],
        columns: &[
            Col::Rps(REALISTIC),
            Col::Speedup(REALISTIC),
            Col::Rps(Tool::Wrk),
            Col::Hits,
            Col::ServerUs,
            Col::FastEnough,
            Col::Talk,
        ],
        extras: &[],
    },
    Lesson {
        number: 0,
        id: "where-the-cpu-goes",
        title: "the CPU lessons, as sentences",
        rows: &[
            "stage-1",
            "stage-2",
            "stage-2-gil",
            "python-2",
            "stage-3",
            "stage-4",
        ],
        users: FULL,
        rates: false,
        tools: &[REALISTIC, Tool::LoadgenSingle],
        columns: &[],
        extras: &[
            Extra::Cpu("A CGI request"),
            Extra::Cpu("Cores the app process keeps busy"),
            Extra::Cpu("nginx in front"),
            Extra::Cpu("A cache hit"),
        ],
    },
    Lesson {
        number: 0,
        id: "cache-bound",
        title: "what the cache can buy",
        rows: &[
            "stage-3",
            "stage-4",
            "stage-4-warm",
            "stage-4-miss",
            "python-3",
            "python-4",
            "python-4-miss",
        ],
        users: FULL,
        rates: false,
        tools: &[REALISTIC, Tool::LoadgenSingle],
        columns: &[],
        extras: &[Extra::CacheBound, Extra::MissShares],
    },
    Lesson {
        number: 0,
        id: "language-table",
        title: "Rust against CPython, stage by stage",
        rows: &[
            "stage-1",
            "python-1",
            "stage-2",
            "python-2",
            "stage-3",
            "python-3",
            "stage-4",
            "python-4",
            "stage-4-noindex",
            "python-4-noindex",
        ],
        users: FULL,
        rates: false,
        tools: &[REALISTIC, Tool::Wrk],
        columns: &[],
        extras: &[Extra::Language],
    },
    Lesson {
        number: 0,
        id: "timing",
        title: "what each part of the main job took",
        rows: &["stage-1"],
        users: FULL,
        rates: true,
        tools: &Tool::ALL,
        columns: &[],
        extras: &[Extra::Timing],
    },
];

/// The lesson with this number or id (or a README block, by id).
pub fn find(key: &str) -> Option<&'static Lesson> {
    LESSONS
        .iter()
        .find(|l| l.id == key || l.number.to_string() == key)
        .or_else(|| README_BLOCKS.iter().find(|l| l.id == key))
}

/// A lesson's answer from `run`: its table (the rows the run has), then
/// its extras, in Markdown.
pub fn answer(run: &Run, lesson: &Lesson) -> String {
    let mut o = String::new();
    let rows: Vec<&str> = lesson
        .rows
        .iter()
        .copied()
        .filter(|r| run.row(r).is_some() && !r.starts_with("fault-"))
        .collect();
    if rows.is_empty() {
        let _ = writeln!(
            o,
            "— (this run has none of the lesson's rows: {})",
            lesson.rows.join(", ")
        );
        return o;
    }
    let _ = writeln!(
        o,
        "From `{}`, {} ({}).\n",
        run.name,
        made_by(run),
        machine_line(run)
    );
    if !lesson.columns.is_empty() {
        table(&mut o, run, lesson, &rows);
    }
    extras(&mut o, run, lesson);
    o
}

/// The lesson's table: one line per row the run has.
fn table(o: &mut String, run: &Run, lesson: &Lesson, rows: &[&str]) {
    o.push_str("| row |");
    for c in lesson.columns {
        let _ = write!(o, " {} |", c.header());
    }
    o.push_str("\n|---|");
    for _ in lesson.columns {
        o.push_str("--:|");
    }
    o.push('\n');
    let mut absent = false;
    for r in rows {
        let _ = write!(o, "| `{r}` |");
        for c in lesson.columns {
            let v = c.value(run, r);
            absent |= v == "—";
            let _ = write!(o, " {v} |");
        }
        o.push('\n');
    }
    o.push('\n');
    if absent {
        o.push_str("— : not measured on that row in this run (which tools and rate sweeps the main job runs on which row is the last column of `scripts/compare.sh`'s row table; `--full` runs them on every row).\n\n");
    }
    let reps = 1 + run.repeats.len();
    if reps > 1 {
        let _ = writeln!(
            o,
            "Each number is the median of the {reps} repetitions with its range (min–max); {NO_DIFFERENCE} marks a × whose range holds 1: no difference this run can measure. The sentences below, and figures only the first repetition measures (other tools, the rate sweeps), come from the first repetition alone.\n"
        );
    }
}

/// What the lesson adds after its table.
fn extras(o: &mut String, run: &Run, lesson: &Lesson) {
    for e in lesson.extras {
        match e {
            Extra::Cpu(title) => extra_cpu(o, run, title),
            Extra::CacheBound => cache_bound(o, run),
            Extra::MissShares => crate::miss_shares::lesson(o, run),
            Extra::Language => language_table(o, run),
            Extra::Timelines => timelines(o, run, lesson),
            Extra::Timing => timing(o, run),
            Extra::Calibration => calibration(o, run),
        }
    }
}

/// The CPU lessons whose title starts with `title`.
fn extra_cpu(o: &mut String, run: &Run, title: &str) {
    let prefix = format!("**{title}");
    for s in cpu::lessons(&run.cpu)
        .into_iter()
        .filter(|s| s.starts_with(&prefix))
    {
        let _ = writeln!(o, "- {s}\n");
    }
}

/// What the cache can buy, row by row: the bound from hit ratio and CPU per hit and miss, against the measured speed-up.
fn cache_bound(o: &mut String, run: &Run) {
    let x = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.2}"));
    for b in scaling::cache_bounds(run) {
        let _ = write!(
            o,
            "- `{}` against `{}`: {:.1}% hits; a hit costs {} and what is left per miss {} of a `{}` request in server CPU (the leftover: derived from this row's own CPU, so its bound agrees with the measurement by construction), which bounds the speed-up to {}; measured {}",
            b.cached,
            b.uncached,
            b.h * 100.0,
            x(b.hit),
            x(b.miss),
            b.uncached,
            b.bound.map_or("—".into(), |v| format!("×{v:.2}")),
            b.measured.map_or("—".into(), |v| format!("×{v:.2}")),
        );
        if let Some(r) = b.app_ratio() {
            let _ = write!(
                o,
                "; a request the app answers takes it {r:.2}× the time it takes in `{}` with every core busy",
                b.uncached
            );
            let at: Vec<String> = b
                .app_at_rates
                .iter()
                .map(|(rate, x)| format!("{x:.2}× at {}", fmt_rps(*rate as f64)))
                .collect();
            if !at.is_empty() {
                let _ = write!(o, ", and {} req/s offered", at.join(", "));
            }
        }
        o.push_str(".\n");
        if let Some(m) = crate::cache_model::model(run, &b.cached, b.hot_row, &b.uncached) {
            let _ = writeln!(o, "{}", crate::cache_model::sentence(&m));
        }
    }
    o.push('\n');
}

/// Rust against CPython per stage, on the realistic mix and one hot page.
fn language_table(o: &mut String, run: &Run) {
    let _ = writeln!(
        o,
        "| stage | {} | {} |\n|---|--:|--:|",
        LANGUAGE_HEADERS[0], LANGUAGE_HEADERS[1]
    );
    for l in scaling::language(run) {
        // Rust ÷ CPython within each repetition: the median, with its
        // range where there are two or more.
        let rust_over_python = |p: (Option<f64>, Option<f64>), tool: Tool| {
            if scaling::LanguageRow::ratio(p).is_none() {
                return "—".to_string();
            }
            crate::repeats::ratio(run, &l.rust, &l.python, tool).map_or("—".into(), |s| {
                crate::repeats::fmt_spread(&s, |x| format!("×{x:.1}"))
            })
        };
        let _ = writeln!(
            o,
            "| {} (`{}` · `{}`) | {} | {} |",
            l.stage,
            l.python,
            l.rust,
            rust_over_python(l.realistic, REALISTIC),
            rust_over_python(l.hot, Tool::Wrk)
        );
    }
    o.push('\n');
}

/// The lesson's timelines: responses and errors after the warm-up, the events.
fn timelines(o: &mut String, run: &Run, lesson: &Lesson) {
    for f in run
        .timelines
        .iter()
        .filter(|f| lesson.rows.contains(&f.name.as_str()))
    {
        let (Ok(tl), Some(errors)) = (&f.run, fault_errors(run, &f.name)) else {
            continue;
        };
        let responses: u64 = tl
            .samples
            .iter()
            .filter(|s| s.t_s >= 0)
            .map(|s| s.responses)
            .sum();
        let _ = write!(
            o,
            "- `{}`: {} responses after the warm-up, {errors}",
            f.name,
            runfiles::thousands(responses),
        );
        if let Some(Ok(ev)) = &f.events {
            for e in ev {
                let _ = write!(o, "; at {:.2} s: {}", e.t_s, e.label);
            }
        }
        let _ = writeln!(o, " (chart: `{}`).", f.svg_name());
    }
    o.push('\n');
}

/// How long the run's parts took, and the rate sweeps' share of it.
fn timing(o: &mut String, run: &Run) {
    let Ok(text) = std::fs::read_to_string(run.raw_dir.join("timing.tsv")) else {
        return;
    };
    let parts: Vec<(&str, u64)> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(p, s)| Some((p, s.trim().parse().ok()?)))
        .collect();
    // Repetitions 2..N: one line each (every row again), after the first.
    let mut lines: Vec<(String, u64)> = Vec::new();
    for (part, secs) in &parts {
        let (name, rep) = match part.split_once(" (repetition ") {
            Some((row, rest)) => (
                row,
                rest.split(' ').next().and_then(|k| k.parse::<u32>().ok()),
            ),
            None => (*part, None),
        };
        let line = match rep {
            Some(k) if k > 1 => {
                format!("repetition {k}: every row again (the figures every repetition measures)")
            }
            _ if name == "total" => "**total**".to_string(),
            _ => name.to_string(),
        };
        match lines.iter_mut().find(|(l, _)| *l == line) {
            Some((_, s)) => *s += secs,
            None => lines.push((line, *secs)),
        }
    }
    o.push_str("| part of the run | time |\n|---|--:|\n");
    for (name, secs) in &lines {
        let _ = writeln!(o, "| {name} | {} min {:02} s |", secs / 60, secs % 60);
    }
    o.push('\n');
    // The sweeps run inside their rows' time: their share, from
    // the rate files' own warm-up and duration.
    let (mut n, mut load_s) = (0u64, 0.0);
    for r in &run.rates {
        for x in &r.runs {
            let file = latency::file_name(&r.row, x.offered as u64);
            if let Some(sum) = std::fs::read_to_string(run.raw_dir.join(file))
                .ok()
                .and_then(|t| serde_json::from_str::<runfiles::Summary>(&t).ok())
            {
                n += 1;
                load_s += sum.warmup_s + sum.duration_s;
            }
        }
    }
    if n > 0 {
        let secs = load_s.round() as u64;
        let _ = writeln!(
            o,
            "Of the rows' time, the rate sweeps (latency at fixed offered rates): {n} runs, {} min {:02} s of load.\n",
            secs / 60,
            secs % 60
        );
    }
}

/// loadgen against wrk on nginx serving 2 KB.
fn calibration(o: &mut String, run: &Run) {
    if let Some((ratio, lg, wrk)) = run.calibration() {
        let _ = writeln!(
            o,
            "- Calibration: loadgen/wrk = {ratio:.2} ({} against {} req/s on nginx serving 2 KB).\n",
            fmt_rps(lg),
            fmt_rps(wrk)
        );
    }
}

/// A fault timeline's errors after its warm-up, with their kinds from the
/// run's own totals: `13 errors (status 401: 9, status 503: 4)`.
pub fn fault_errors(run: &Run, row: &str) -> Option<String> {
    let f = run.timelines.iter().find(|f| f.name == row)?;
    let tl = f.run.as_ref().ok()?;
    let errors: u64 = tl
        .samples
        .iter()
        .filter(|s| s.t_s >= 0)
        .map(|s| s.errors.total)
        .sum();
    let mut o = format!("{} errors", runfiles::thousands(errors));
    let whole: Option<runfiles::Summary> =
        std::fs::read_to_string(run.raw_dir.join(format!("{}.timeline.json", f.name)))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
    if let Some(e) = whole.map(|w| w.errors)
        && e.total > 0
    {
        let _ = write!(o, " ({})", e.parts().join(", "));
    }
    Some(o)
}

/// The column headers a lesson's answer prints: its table's (without the
/// first, `row`) and those of the tables its extras add.
pub fn headers(lesson: &Lesson) -> Vec<String> {
    let mut h: Vec<String> = lesson.columns.iter().map(|c| c.header()).collect();
    if lesson.extras.contains(&Extra::Language) {
        h.extend(LANGUAGE_HEADERS.iter().map(|s| s.to_string()));
    }
    h
}

/// The language table's columns after `stage`.
const LANGUAGE_HEADERS: [&str; 2] = ["Rust ÷ CPython, realistic mix", "one hot page (wrk)"];

/// `cpu · cores · layout · date` from machine.txt, for an answer's first
/// line: which machine, and whether the load tool shared the server's cores.
pub fn machine_line(run: &Run) -> String {
    let get = |k: &str| run.machine_field(k).map(str::to_string);
    let or_q = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    // Runs before the layout was recorded pinned nothing: shared.
    let layout =
        get("layout").unwrap_or_else(|| "shared: server and load tools on the same CPUs".into());
    let reps = 1 + run.repeats.len();
    let reps = if reps == 1 {
        "one repetition, no spread".to_string()
    } else {
        format!("{reps} repetitions")
    };
    format!(
        "{}, {} cores, {layout}; {reps}; {}",
        or_q(get("cpu")),
        or_q(get("cores")),
        or_q(get("date"))
    )
}

/// What made a run, for an answer's first line: `scripts/lesson.sh N` (an
/// answer key, [`Keys`]) or the main job, with the data set and windows
/// its params.txt records, so a participant sees whether the key was
/// measured the way their own run is.
fn made_by(run: &Run) -> String {
    let get = |k: &str| run.params_field(k).map(str::to_string);
    let users = get("users")
        .and_then(|u| u.parse::<u64>().ok())
        .map_or("?".into(), runfiles::thousands);
    let window = match (get("duration"), get("warmup")) {
        (Some(d), Some(w)) => format!("{d} per tool after {w} of warm-up"),
        _ => "windows not recorded".into(),
    };
    // compare.sh records who ran it (`--made-by`: lesson.sh passes its own
    // command line); older runs and the main job have no such line.
    let who = get("made by").map_or_else(
        || match get("quick").as_deref() {
            Some("yes") => "`scripts/compare.sh --quick`".to_string(),
            _ => "the main job (`scripts/compare.sh`)".to_string(),
        },
        |m| format!("`{m}`"),
    );
    // How long it took, build included (timing.tsv's total).
    let took = std::fs::read_to_string(run.raw_dir.join("timing.tsv"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("total\t")?.trim().parse::<u64>().ok())
        })
        .map_or(String::new(), |s| {
            format!(" in {} min {:02} s", s / 60, s % 60)
        });
    format!("{who}{took}: {users} users, {window}")
}

/// The answer keys: for a lesson id, the run `scripts/answer-keys.sh` made
/// with that lesson's own settings (`results/lessons/N-ID/`), which its
/// answer block quotes instead of the main job's run.
pub type Keys = std::collections::BTreeMap<&'static str, Run>;

/// Rewrites every answer block of `text` from `run`; the new text.
pub fn fill(text: &str, run: &Run) -> Result<String, String> {
    fill_keyed(text, run, &Keys::new())
}

/// [`fill`], with a lesson's answer taken from its own key where `keys`
/// has one (the inline figures stay the main run's).
pub fn fill_keyed(text: &str, run: &Run, keys: &Keys) -> Result<String, String> {
    let out = crate::docs::rewrite_marked(text, "<!-- answer: ", "<!-- /answer -->", |id| {
        if id.is_empty() {
            return Err("an `<!-- answer: -->` marker names no lesson".into());
        }
        let lesson = find(id).ok_or_else(|| format!("no lesson {id:?} (answer marker)"))?;
        let from = keys.get(lesson.id).unwrap_or(run);
        Ok(format!("\n{}", answer(from, lesson)))
    })?;
    crate::docs::fill_figures(&out, run)
}

/// The answer keys under `dir` (`results/lessons/`): for each lesson,
/// the newest run in `dir/N-ID/` (a directory holding `raw/rows.tsv`).
/// A lesson without one has no key (its answer quotes the main run).
pub fn load_keys(dir: &std::path::Path) -> Result<Keys, crate::Error> {
    let mut keys = Keys::new();
    for l in LESSONS {
        let Ok(entries) = std::fs::read_dir(dir.join(format!("{}-{}", l.number, l.id))) else {
            continue;
        };
        let newest = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("raw").join("rows.tsv").is_file())
            .max();
        if let Some(run) = newest {
            keys.insert(l.id, Run::load(&run.join("raw"))?);
        }
    }
    Ok(keys)
}

/// The ids of the answer blocks of `text`, in order.
pub fn ids(text: &str) -> Vec<&str> {
    text.split("<!-- answer: ")
        .skip(1)
        .filter_map(|rest| rest.split_once(" -->").map(|(id, _)| id.trim()))
        .collect()
}

/// The ids of the blocks of `old` whose text `new` changes.
pub fn changed<'a>(old: &'a str, new: &str) -> Vec<&'a str> {
    ids(old)
        .into_iter()
        .filter(|id| block(old, id) != block(new, id))
        .collect()
}

/// The text of answer block `id` in `text` (between its markers), if any.
pub fn block<'a>(text: &'a str, id: &str) -> Option<&'a str> {
    let open = format!("<!-- answer: {id} -->");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find("<!-- /answer -->")?;
    Some(&text[start..start + len])
}

/// The shell assignments `scripts/lesson.sh` reads for a lesson.
pub fn spec(lesson: &Lesson) -> String {
    format!(
        "NUMBER={}\nID={}\nTITLE='{}'\nROWS='{}'\nTOOLS='{}'\nUSERS={}\nRATES={}\n",
        lesson.number,
        lesson.id,
        lesson.title.replace('\'', ""),
        lesson.rows.join(" "),
        lesson
            .tools
            .iter()
            .map(|t| t.id())
            .collect::<Vec<_>>()
            .join(" "),
        lesson.users,
        u8::from(lesson.rates)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lessons_are_numbered_in_order_and_findable() {
        for (i, l) in LESSONS.iter().enumerate() {
            assert_eq!(l.number as usize, i + 1);
            assert_eq!(find(l.id).unwrap().number, l.number);
            assert_eq!(find(&l.number.to_string()).unwrap().id, l.id);
        }
        assert!(spec(&LESSONS[0]).contains("ROWS='stage-1 python-1 stage-2'"));
    }

    #[test]
    fn fill_rewrites_answer_blocks_only() {
        let run = Run::empty("test-run");
        let text = "a\n<!-- answer: cgi -->\nold\n<!-- /answer -->\nb\n";
        let new = fill(text, &run).unwrap();
        assert!(new.starts_with("a\n<!-- answer: cgi -->\n— (this run has none"));
        assert!(new.ends_with("<!-- /answer -->\nb\n") && !new.contains("old"));
        assert_eq!(
            fill(&new, &run).unwrap(),
            new,
            "filling twice changes nothing"
        );
        assert!(fill("<!-- answer: nope -->x<!-- /answer -->", &run).is_err());
        assert!(
            fill("<!-- answer: -->x<!-- /answer -->", &run).is_err(),
            "no id"
        );
        let unclosed = "<!-- answer: cgi -->\nx\n<!-- answer: gil -->\ny\n<!-- /answer -->\n";
        assert!(
            fill(unclosed, &run).is_err(),
            "a block never takes the next one's end"
        );
    }
}
