//! The cache lesson as a model that can be wrong: a hit's and a miss's
//! cost, each **measured in a run of its own**, predict the cached row's
//! speed-up before its own figure is read.
//!
//! (Costs are the CPU of the processes cpuwatch charged to the row and the
//! load tool, never the machine's whole busy time: a build running beside
//! a run would otherwise be counted as the site's.)
//!
//! - a hit: the hot page through the cached stage (`loadgen single`: every
//!   request answered by nginx from memcached);
//! - a miss: the realistic mix through `<cached>-miss`, the same stage with
//!   every nginx lookup under a prefix the app never writes
//!   (`--lookup-prefix`), so each request pays the failed lookup, the
//!   proxying, the app's work and its writes to memcached, and nothing else
//!   changes;
//! - the uncached stage's cost per request on the same mix.
//!
//! predicted = uncached ÷ ((1 − h)·miss + h·hit), with h the cached row's
//! hit ratio on the mix. The cost is the CPU per request of the cores the
//! row saturates: the whole machine's when the load tool shares them (the
//! shared layout), the server's alone when it has cores of its own.
//!
//! Where the prediction and the measurement differ by more than
//! [`TOLERANCE`], the report says the model fails and which of its
//! assumptions the run's own figures contradict ([`CacheModel::contradicted`]).

use runfiles::Role;

use crate::cpu::CpuCell;
use crate::{Run, Tool};

/// How far a prediction may be from the measurement and still count: the
/// run-to-run spread of one row's req/s on this kind of machine is about
/// 10%, so a model within 15% is as good as one run can tell.
pub const TOLERANCE: f64 = 0.15;

/// A row below this share of its cores busy was not CPU-bound, and the
/// model (cost per request ⇒ req/s) does not apply to it.
const SATURATED: f64 = 0.85;

/// One cached row's model.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheModel {
    pub cached: String,
    pub miss_row: String,
    pub hot_row: String,
    pub uncached: String,
    /// Hit ratio of the cached row on the mix.
    pub h: f64,
    /// µs of CPU per request (machine or server: [`CacheModel::basis`]).
    pub uncached_us: f64,
    pub miss_us: f64,
    pub hit_us: f64,
    pub basis: &'static str,
    pub predicted: f64,
    /// Cached ÷ uncached req/s, the figure the model predicts.
    pub measured: Option<f64>,
    /// The app's CPU per request that reached it: in the cached row (its
    /// misses) and in the miss row (every request).
    pub app_per_miss_us: Option<(f64, f64)>,
    /// Share of its cores each of the four runs kept busy.
    pub busy: Vec<(String, f64)>,
}

impl CacheModel {
    /// predicted ÷ measured − 1.
    pub fn error(&self) -> Option<f64> {
        self.measured.map(|m| self.predicted / m - 1.0)
    }

    pub fn holds(&self) -> Option<bool> {
        self.error().map(|e| e.abs() <= TOLERANCE)
    }

    /// The assumptions the run's own figures contradict, in words.
    pub fn contradicted(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((in_mix, alone)) = self.app_per_miss_us
            && alone > 0.0
            && (in_mix / alone - 1.0).abs() > TOLERANCE
        {
            out.push(format!(
                "a miss costs the app the same in the mix as in the all-miss run: {in_mix:.0} µs against {alone:.0} µs ({:+.0}%)",
                (in_mix / alone - 1.0) * 100.0
            ));
        }
        let idle: Vec<String> = self
            .busy
            .iter()
            .filter(|(_, b)| *b < SATURATED)
            .map(|(row, b)| format!("`{row}` kept {:.0}% of its cores busy", b * 100.0))
            .collect();
        if !idle.is_empty() {
            out.push(format!("every run is CPU-bound: {}", idle.join(", ")));
        }
        out
    }
}

/// What a request's cost is counted in: the CPU of the cores the row
/// saturates. With the shared layout (the load tool on the server's cores)
/// that is every role cpuwatch charged, the load tool's included; when the
/// load tool has cores of its own, the server's roles alone. machine.txt's
/// `layout:` line says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Basis {
    pub shared: bool,
}

impl Basis {
    pub fn of(run: &Run) -> Basis {
        let dedicated = run
            .machine_field("layout")
            .is_some_and(|l| l.starts_with("server on CPUs"));
        Basis { shared: !dedicated }
    }

    pub fn words(self) -> &'static str {
        if self.shared {
            "the CPU of the row and the load tool (they share the cores)"
        } else {
            "the server's CPU (the load tool has cores of its own)"
        }
    }

    /// Whether a role's CPU is part of the cost.
    pub fn counts(self, role: Role) -> bool {
        self.shared || role.is_server()
    }

    /// A cell's µs of CPU per request on this basis.
    pub fn cost_us(self, c: &CpuCell) -> Option<f64> {
        let report = &c.report;
        c.per_request_us(if self.shared {
            report.charged_s()
        } else {
            report.server_s()
        })
    }
}

/// The model for `cached` (its miss row is `<cached>-miss`, or, for a
/// warm row, its stage's), if the run has every figure it needs.
pub fn model(run: &Run, cached: &str, hot_row: &str, uncached: &str) -> Option<CacheModel> {
    let miss_row = format!("{}-miss", cached.trim_end_matches("-warm"));
    let cell = |row: &str, tool| run.cpu.cell(row, tool);
    let basis = Basis::of(run);
    let shared = basis.shared;
    let cost = |c: &CpuCell| basis.cost_us(c);
    let realistic = Tool::LoadgenRealistic;
    let u = cell(uncached, realistic)?;
    let m = cell(&miss_row, realistic)?;
    let hh = cell(hot_row, Tool::LoadgenSingle)?;
    let c = cell(cached, realistic)?;
    let sum = crate::scaling::loadgen_summary(&run.raw_dir, cached, realistic)?;
    let h = sum.cache_hits as f64 / sum.requests.max(1) as f64;
    let (uncached_us, miss_us, hit_us) = (cost(u)?, cost(m)?, cost(hh)?);
    let d = (1.0 - h) * miss_us + h * hit_us;
    let measured = match (
        run.row(cached)?.rps(realistic),
        run.row(uncached)?.rps(realistic),
    ) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let app_per_miss_us = match (c.role_us(Role::App), m.role_us(Role::App)) {
        (Some(a), Some(b)) if h < 1.0 => Some((a / (1.0 - h), b)),
        _ => None,
    };
    let hot_label = format!("{hot_row}, one hot page");
    let busy = [
        (uncached, u),
        (miss_row.as_str(), m),
        (hot_label.as_str(), hh),
        (cached, c),
    ]
    .iter()
    .map(|(row, x)| {
        let cores = x.report.cores.max(1) as f64;
        let used = if shared {
            x.report.charged_s()
        } else {
            x.report.server_s()
        };
        (
            row.to_string(),
            x.cores_busy(used) / if shared { cores } else { cores.min(2.0) },
        )
    })
    .collect();
    (d > 0.0).then(|| CacheModel {
        cached: cached.to_string(),
        miss_row,
        hot_row: hot_row.to_string(),
        uncached: uncached.to_string(),
        h,
        uncached_us,
        miss_us,
        hit_us,
        basis: basis.words(),
        predicted: uncached_us / d,
        measured,
        app_per_miss_us,
        busy,
    })
}

/// The model's line for a lesson or the report, in Markdown.
pub fn sentence(m: &CacheModel) -> String {
    let mut o = format!(
        "- **The model** for `{}` (in {}): a hit costs {:.1} µs per request (`{}`, one hot page), a miss {:.1} µs (`{}`, every lookup missing), a `{}` request {:.1} µs; at {:.1}% hits that predicts ×{:.2}",
        m.cached,
        m.basis,
        m.hit_us,
        m.hot_row,
        m.miss_us,
        m.miss_row,
        m.uncached,
        m.uncached_us,
        m.h * 100.0,
        m.predicted
    );
    match (m.measured, m.error()) {
        (Some(meas), Some(e)) if e.abs() <= TOLERANCE => {
            o.push_str(&format!(
                "; measured ×{meas:.2} ({:+.0}%): the model holds.",
                e * 100.0
            ));
        }
        (Some(meas), Some(e)) => {
            o.push_str(&format!(
                "; measured ×{meas:.2}: **the model fails**, off by {:+.0}%",
                e * 100.0
            ));
            let c = m.contradicted();
            if c.is_empty() {
                o.push_str(" (none of its checked assumptions is contradicted: something it leaves out costs the difference).");
            } else {
                o.push_str(&format!("; the run contradicts: {}.", c.join("; ")));
            }
        }
        _ => o.push_str("; no measured speed-up to compare."),
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(measured: f64, app: (f64, f64), busy: f64) -> CacheModel {
        CacheModel {
            cached: "stage-4".into(),
            miss_row: "stage-4-miss".into(),
            hot_row: "stage-4".into(),
            uncached: "stage-3".into(),
            h: 0.75,
            uncached_us: 150.0,
            miss_us: 300.0,
            hit_us: 40.0,
            basis: "test",
            predicted: 150.0 / (0.25 * 300.0 + 0.75 * 40.0),
            measured: Some(measured),
            app_per_miss_us: Some(app),
            busy: vec![("stage-3".into(), busy)],
        }
    }

    #[test]
    fn a_model_holds_within_the_tolerance_and_names_what_fails() {
        let good = m(1.40, (100.0, 100.0), 0.95);
        assert!((good.predicted - 150.0 / 105.0).abs() < 1e-9);
        assert_eq!(good.holds(), Some(true));
        assert!(sentence(&good).contains("the model holds"));
        let bad = m(0.80, (160.0, 100.0), 0.40);
        assert_eq!(bad.holds(), Some(false));
        let c = bad.contradicted();
        assert_eq!(c.len(), 2, "{c:?}");
        assert!(c[0].contains("+60%") && c[1].contains("40%"));
        assert!(sentence(&bad).contains("**the model fails**, off by +79%"));
        let unexplained = m(0.80, (100.0, 100.0), 0.95);
        assert!(sentence(&unexplained).contains("none of its checked assumptions"));
    }
}
