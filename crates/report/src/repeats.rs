//! Repetitions: a figure's median and range over a run's interleaved
//! repetitions (`compare.sh --repeat N`: every row once, then every row
//! again), each ratio computed per repetition, and the repetitions the
//! machine's own noise disturbed.
//!
//! Why per repetition: row A's k-th measurement and row B's k-th were taken
//! minutes apart in the same pass, so a drift of the machine hits both; a
//! ratio of two medians would mix passes. Why the range and not a mean: with
//! three to five samples, the range is what a reader can check, and a ratio
//! whose range holds 1 is "no difference this run can measure"
//! ([`Verdict`]), whatever its median says.
//!
//! **Invariant:** the first repetition is the run itself (`raw/`); the
//! others are `raw/rep-K/`, laid out the same way ([`crate::Run::repeats`]).

use std::fmt::Write as _;

use crate::fmt::fmt_rps;
use crate::{Run, Tool};

/// The figures repetitions 2..N measure (compare.sh's `REPEAT_TOOLS`).
pub const TOOLS: [Tool; 2] = [Tool::LoadgenRealistic, Tool::Wrk];

/// The ratios the lessons' verdicts rest on: (numerator, denominator, tool).
pub const PAIRS: [(&str, &str, Tool); 9] = [
    ("stage-2", "stage-1", Tool::LoadgenRealistic),
    ("stage-3", "stage-2", Tool::LoadgenRealistic),
    ("stage-2-gil", "stage-2", Tool::LoadgenRealistic),
    ("stage-4", "stage-3", Tool::LoadgenRealistic),
    ("stage-4-warm", "stage-3", Tool::LoadgenRealistic),
    ("python-3", "python-2", Tool::LoadgenRealistic),
    ("python-4", "python-3", Tool::LoadgenRealistic),
    ("stage-2", "python-2", Tool::LoadgenRealistic),
    ("stage-4", "ceiling-nginx-static", Tool::Wrk),
];

/// A repetition is marked noisy when, over its measured windows, the
/// hypervisor took more than this share of the machine's CPU (steal), or
/// processes outside the row (other programs, kernel threads) used more
/// than [`NOISE_OUTSIDE_CORES`]. 5% of steal is already more than the
/// differences some lessons read (a few percent of req/s); on a quiet
/// machine both stay well under it.
pub const NOISE_STEAL_SHARE: f64 = 0.05;
/// Cores of CPU used outside the row's process trees (see above).
pub const NOISE_OUTSIDE_CORES: f64 = 0.10;

/// Median and range of a figure over the repetitions that have it.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    pub values: Vec<f64>,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: Vec<f64>) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            values,
        })
    }
}

/// What a ratio's range lets a lesson say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every repetition had the numerator ahead.
    Faster,
    /// Every repetition had it behind.
    Slower,
    /// The range holds 1: no difference this run can measure.
    NoDifference,
    /// One sample: no spread to judge by.
    OneSample,
}

impl Verdict {
    pub fn of(s: &Spread) -> Verdict {
        if s.values.len() < 2 {
            Verdict::OneSample
        } else if s.min > 1.0 {
            Verdict::Faster
        } else if s.max < 1.0 {
            Verdict::Slower
        } else {
            Verdict::NoDifference
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Verdict::Faster => "faster in every repetition",
            Verdict::Slower => "slower in every repetition",
            Verdict::NoDifference => "no difference this run can measure",
            Verdict::OneSample => "one sample, no spread",
        }
    }
}

/// Every repetition of `run`, the run itself first.
pub fn all(run: &Run) -> Vec<&Run> {
    std::iter::once(run).chain(run.repeats.iter()).collect()
}

/// req/s of `row` with `tool`, over the repetitions.
pub fn rps(run: &Run, row: &str, tool: Tool) -> Option<Spread> {
    Spread::of(
        all(run)
            .iter()
            .filter_map(|r| r.row(row).and_then(|x| x.rps(tool)))
            .collect(),
    )
}

/// `a ÷ b` in req/s, repetition by repetition (both measured in it).
pub fn ratio(run: &Run, a: &str, b: &str, tool: Tool) -> Option<Spread> {
    Spread::of(
        all(run)
            .iter()
            .filter_map(|r| {
                let a = r.row(a)?.rps(tool)?;
                let b = r.row(b)?.rps(tool)?;
                (b > 0.0).then(|| a / b)
            })
            .collect(),
    )
}

/// A repetition's noise: (steal share of the machine's CPU, cores used
/// outside the rows' trees), over every window cpuwatch measured in it.
pub fn noise(rep: &Run) -> Option<(f64, f64)> {
    let (mut window, mut steal, mut outside) = (0.0, 0.0, 0.0);
    for c in &rep.cpu.cells {
        window += c.report.window_s;
        steal += c.report.machine_steal_s;
        outside += c.report.outside_trees_s;
    }
    (window > 0.0).then(|| {
        let total = window * rep.cpu.cells.first().map_or(1, |c| c.report.cores) as f64;
        (steal / total, outside / window)
    })
}

/// The windows of a repetition in which processes outside the row used
/// more than [`NOISE_OUTSIDE_CORES`] (`row · tool`): one disturbed window
/// can hide in the repetition's average, and its figure is the one to doubt.
pub fn disturbed_windows(rep: &Run) -> Vec<String> {
    rep.cpu
        .cells
        .iter()
        .filter(|c| {
            c.report.window_s > 0.0
                && c.report.outside_trees_s / c.report.window_s > NOISE_OUTSIDE_CORES
        })
        .map(|c| format!("`{}` · {}", c.row, c.tool.label()))
        .collect()
}

/// Whether a repetition's noise is over either threshold.
pub fn noisy(rep: &Run) -> bool {
    noise(rep).is_some_and(|(s, o)| s > NOISE_STEAL_SHARE || o > NOISE_OUTSIDE_CORES)
}

fn fmt_ratio(x: f64) -> String {
    format!("×{x:.2}")
}

/// `×1.18 (×0.75–×1.20)`, or the one value where there is no spread.
pub fn fmt_spread(s: &Spread, f: impl Fn(f64) -> String) -> String {
    if s.values.len() < 2 {
        f(s.median)
    } else {
        format!("{} ({}–{})", f(s.median), f(s.min), f(s.max))
    }
}

/// The "Repetitions" section of `latest.md` (nothing for a single pass).
pub fn markdown(o: &mut String, run: &Run) {
    let reps = all(run);
    if reps.len() < 2 {
        return;
    }
    let _ = writeln!(
        o,
        "## Repetitions\n\n{} interleaved repetitions (every row once, then every row again); the tables above are the first. Medians with their range (min–max), each ratio computed within each repetition. A ratio whose range holds 1 is **no difference this run can measure**.\n",
        reps.len()
    );
    o.push_str(
        "| ratio | tool | median (range) | per repetition | verdict |\n|---|---|--:|---|---|\n",
    );
    for (a, b, tool) in PAIRS {
        if let Some(s) = ratio(run, a, b, tool) {
            let each: Vec<String> = s.values.iter().map(|v| fmt_ratio(*v)).collect();
            let _ = writeln!(
                o,
                "| `{a}` ÷ `{b}` | {} | {} | {} | {} |",
                tool.label(),
                fmt_spread(&s, fmt_ratio),
                each.join(", "),
                Verdict::of(&s).words()
            );
        }
    }
    o.push_str("\n| row | tool | req/s median (range) | per repetition |\n|---|---|--:|---|\n");
    for row in &run.rows {
        for tool in TOOLS {
            if let Some(s) = rps(run, &row.spec.id, tool).filter(|s| s.values.len() > 1) {
                let each: Vec<String> = s.values.iter().map(|v| fmt_rps(*v)).collect();
                let _ = writeln!(
                    o,
                    "| `{}` | {} | {} | {} |",
                    row.spec.id,
                    tool.label(),
                    fmt_spread(&s, fmt_rps),
                    each.join(", ")
                );
            }
        }
    }
    o.push_str("\nNoise per repetition (over every measured window): steal is the share of the machine's CPU the hypervisor gave elsewhere; outside is CPU used by processes outside the rows' trees, in cores; the windows in which that alone passed the threshold are listed (their figures are the ones to doubt).\n\n| repetition | steal | outside (cores) | marked | windows over the threshold |\n|--:|--:|--:|---|---|\n");
    let mut marked = 0;
    for (k, rep) in reps.iter().enumerate() {
        if let Some((steal, outside)) = noise(rep) {
            let m = noisy(rep);
            marked += usize::from(m);
            let _ = writeln!(
                o,
                "| {} | {:.1}% | {:.2} | {} | {} |",
                k + 1,
                steal * 100.0,
                outside,
                if m { "**noisy**" } else { "" },
                disturbed_windows(rep).join(", ")
            );
        }
    }
    let _ = writeln!(
        o,
        "\n{marked} of {} repetitions over the thresholds (steal > {:.0}% or outside > {:.2} cores: `report::repeats`).\n",
        reps.len(),
        NOISE_STEAL_SHARE * 100.0,
        NOISE_OUTSIDE_CORES
    );
}

/// Whether two runs agree (`report agree A B`): for each ratio of
/// [`PAIRS`], B's median against A's range and the two verdicts; in
/// Markdown, with the count of each in its last line.
pub fn agreement(a: &Run, b: &Run) -> String {
    let mut o = format!(
        "| ratio | tool | `{}` | `{}` | B's median in A's range | verdicts |\n|---|---|--:|--:|---|---|\n",
        a.name, b.name
    );
    let (mut n, mut within, mut same) = (0, 0, 0);
    for (x, y, tool) in PAIRS {
        let (Some(sa), Some(sb)) = (ratio(a, x, y, tool), ratio(b, x, y, tool)) else {
            continue;
        };
        n += 1;
        let inside = sb.median >= sa.min && sb.median <= sa.max;
        let (va, vb) = (Verdict::of(&sa), Verdict::of(&sb));
        within += usize::from(inside);
        same += usize::from(va == vb);
        let _ = writeln!(
            o,
            "| `{x}` ÷ `{y}` | {} | {} | {} | {} | {} |",
            tool.label(),
            fmt_spread(&sa, fmt_ratio),
            fmt_spread(&sb, fmt_ratio),
            if inside { "yes" } else { "**no**" },
            if va == vb {
                format!("the same: {}", va.words())
            } else {
                format!("**differ**: {} / {}", va.words(), vb.words())
            }
        );
    }
    let _ = writeln!(
        o,
        "\nB's median inside A's range for {within} of {n} ratios; the same verdict for {same} of {n}."
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_verdicts() {
        let s = Spread::of(vec![1.18, 0.75, 1.2]).unwrap();
        assert_eq!((s.median, s.min, s.max), (1.18, 0.75, 1.2));
        assert_eq!(Verdict::of(&s), Verdict::NoDifference);
        assert_eq!(
            Verdict::of(&Spread::of(vec![1.3, 1.1, 1.26]).unwrap()),
            Verdict::Faster
        );
        assert_eq!(
            Verdict::of(&Spread::of(vec![0.7, 0.9]).unwrap()),
            Verdict::Slower
        );
        assert_eq!(
            Verdict::of(&Spread::of(vec![2.0]).unwrap()),
            Verdict::OneSample
        );
        assert_eq!(Spread::of(vec![1.0, 3.0]).unwrap().median, 2.0);
        assert!(Spread::of(vec![]).is_none());
        assert_eq!(fmt_spread(&s, fmt_ratio), "×1.18 (×0.75–×1.20)");
    }
}
