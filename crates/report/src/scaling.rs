//! Two lessons that need several rows at once:
//!
//! - **"Scaling isn't about the language"**: per stage, the CPython peer's
//!   row (`python-N`) beside the Rust one (`stage-N`) — req/s on the
//!   realistic mix and on one hot page, Rust ÷ CPython, the talk's figure —
//!   and the chart `latest-language.svg`.
//! - **What a cache can buy on the mix** (the talk's fourth iteration): for
//!   each cached row against the uncached row before it (`stage-4` and
//!   `stage-4-warm` against `stage-3`, `python-4` against `python-3`), the
//!   hit ratio h, the CPU a hit and a miss cost in units of the uncached
//!   row's request, the speed-up they bound, 1 / ((1−h)·miss + h·hit), next
//!   to the measured one; the app's time per request that reached it, kind
//!   by kind, against the uncached row's (in the closed-loop run, and at
//!   each fixed offered rate both rows ran); and, for `stage-4-warm`, whether
//!   its hit ratio had settled (its timeline: the last [`SETTLE_WINDOW_S`]
//!   seconds of the warm-up against the measured window, within
//!   [`SETTLED_POINTS`] points).
//!
//! Where the figures come from:
//! - h: the cached row's realistic loadgen JSON (`cache_hits` ÷ `requests`);
//! - a hit's CPU: the server's CPU per request (every process of the row
//!   but the load tool, from its `cpu.json`) of the cached row's family on
//!   one hot page (`stage-4` / `python-4` loadgen single: every request a
//!   hit);
//! - a miss's CPU: what is left of the cached row's realistic server CPU
//!   per request once h hits are paid: (server − h·hit) ÷ (1 − h);
//! - both divided by the uncached row's realistic server CPU per request.

use std::fmt::Write as _;
use std::path::Path;

use runfiles::Summary;

use super::fmt::{fmt_rps, fmt_speedup};
use super::{Run, Tool, latency};

/// The warm row's hit ratio counts as settled when the measured window's
/// differs from the end of the warm-up's by at most this many points.
pub const SETTLED_POINTS: f64 = 2.0;

/// Seconds at the end of the warm-up compared with the measured window.
pub const SETTLE_WINDOW_S: i64 = 10;

/// The pairs of the language lesson: (stage, CPython row, Rust row).
const LANGUAGE_PAIRS: [(u32, &str, &str); 5] = [
    (1, "python-1", "stage-1"),
    (2, "python-2", "stage-2"),
    (3, "python-3", "stage-3"),
    (4, "python-4", "stage-4"),
    (4, "python-4-noindex", "stage-4-noindex"),
];

/// The pairs of the cache lesson: (cached row, the row with its hot page,
/// the uncached row it is compared with).
const CACHE_PAIRS: [(&str, &str, &str); 3] = [
    ("stage-4", "stage-4", "stage-3"),
    ("stage-4-warm", "stage-4", "stage-3"),
    ("python-4", "python-4", "python-3"),
];

/// A row's loadgen JSON for `tool`, read whole.
pub fn loadgen_summary(raw_dir: &Path, row: &str, tool: Tool) -> Option<Summary> {
    let text = std::fs::read_to_string(raw_dir.join(tool.file_name(row))).ok()?;
    serde_json::from_str(&text).ok()
}

/// One stage of the language lesson.
#[derive(Debug, Clone, PartialEq)]
pub struct LanguageRow {
    pub stage: u32,
    pub python: String,
    pub rust: String,
    /// (CPython, Rust) req/s on the realistic mix and with wrk on one page.
    pub realistic: (Option<f64>, Option<f64>),
    pub hot: (Option<f64>, Option<f64>),
    pub talk: Option<String>,
}

impl LanguageRow {
    /// Rust ÷ CPython.
    pub fn ratio(pair: (Option<f64>, Option<f64>)) -> Option<f64> {
        match pair {
            (Some(p), Some(r)) if p > 0.0 => Some(r / p),
            _ => None,
        }
    }
}

/// The language lesson's rows, for the pairs the run has.
pub fn language(run: &Run) -> Vec<LanguageRow> {
    LANGUAGE_PAIRS
        .iter()
        .filter_map(|(stage, py, rs)| {
            // Only the stages the CPython peer ran: a Rust row alone has
            // nothing to be compared with.
            let (p, r) = (run.row(py)?, run.row(rs));
            let p = Some(p);
            let rps = |row: Option<&super::Row>, t| row.and_then(|x| x.rps(t));
            Some(LanguageRow {
                stage: *stage,
                python: py.to_string(),
                rust: rs.to_string(),
                realistic: (
                    rps(p, Tool::LoadgenRealistic),
                    rps(r, Tool::LoadgenRealistic),
                ),
                hot: (rps(p, Tool::Wrk), rps(r, Tool::Wrk)),
                talk: p.map(|x| x.spec.talk_rps.clone()).filter(|t| !t.is_empty()),
            })
        })
        .filter(|l| l.python != "python-4-noindex" || l.realistic.0.is_some())
        .collect()
}

/// What one cached row's cache bought.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheBound {
    pub cached: String,
    /// The row whose one hot page measured a hit.
    pub hot_row: &'static str,
    pub uncached: String,
    /// Hit ratio on the realistic mix.
    pub h: f64,
    /// A hit's and a miss's server CPU, in units of an uncached request.
    pub hit: Option<f64>,
    pub miss: Option<f64>,
    /// 1 / ((1−h)·miss + h·hit).
    pub bound: Option<f64>,
    /// Realistic req/s, cached ÷ uncached.
    pub measured: Option<f64>,
    /// Per request kind: (kind, uncached app ms, cached app ms, cached app responses).
    pub app_ms: Vec<(String, f64, f64, u64)>,
    /// stage-4-warm: the hit ratio at the end of the warm-up, and in the
    /// measured window (from the timeline).
    pub settle: Option<(f64, f64)>,
    /// The same app-time ratio at fixed offered rates (open loop, the rate
    /// files both rows have): (rate, cached ÷ uncached). On cores that are
    /// not saturated a memcached round trip costs its own time, not a wait
    /// for a core.
    pub app_at_rates: Vec<(u64, f64)>,
}

impl CacheBound {
    /// The app's mean time per request that reached it, cached ÷ uncached,
    /// over the kinds both served (weighted by the cached row's responses).
    pub fn app_ratio(&self) -> Option<f64> {
        weighted(&self.app_ms)
    }
}

/// Σ cached·n ÷ Σ uncached·n over (kind, uncached ms, cached ms, n).
fn weighted(app_ms: &[(String, f64, f64, u64)]) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for (_, u, c, n) in app_ms {
        num += c * *n as f64;
        den += u * *n as f64;
    }
    (den > 0.0).then(|| num / den)
}

/// Per kind both served through the app: (kind, uncached app ms, cached
/// app ms, cached app responses).
fn app_by_kind(cached: &Summary, uncached: &Summary) -> Vec<(String, f64, f64, u64)> {
    let mut out = Vec::new();
    for (kind, k) in &cached.kinds {
        if let Some(uk) = uncached.kinds.get(kind)
            && k.app_responses > 0
            && uk.app_responses > 0
        {
            out.push((kind.clone(), uk.app_ms, k.app_ms, k.app_responses));
        }
    }
    out
}

/// The app-time ratio at every offered rate both rows ran.
fn app_at_rates(run: &Run, cached: &str, uncached: &str) -> Vec<(u64, f64)> {
    let Some(rates) = run.rates.iter().find(|r| r.row == cached) else {
        return Vec::new();
    };
    let read = |row: &str, rate: u64| -> Option<Summary> {
        let text = std::fs::read_to_string(run.raw_dir.join(latency::file_name(row, rate))).ok()?;
        serde_json::from_str(&text).ok()
    };
    rates
        .runs
        .iter()
        .filter_map(|r| {
            let rate = r.offered as u64;
            let (c, u) = (read(cached, rate)?, read(uncached, rate)?);
            Some((rate, weighted(&app_by_kind(&c, &u))?))
        })
        .collect()
}

/// The cache lesson's rows, for the pairs the run has.
pub fn cache_bounds(run: &Run) -> Vec<CacheBound> {
    let mut out = Vec::new();
    for (cached, hot_row, uncached) in CACHE_PAIRS {
        let (Some(c), Some(u)) = (run.row(cached), run.row(uncached)) else {
            continue;
        };
        let Some(sum) = loadgen_summary(&run.raw_dir, cached, Tool::LoadgenRealistic) else {
            continue;
        };
        if sum.requests == 0 {
            continue;
        }
        let h = sum.cache_hits as f64 / sum.requests as f64;
        let server = |row: &str, tool| run.cpu.cell(row, tool).and_then(|x| x.server_us());
        let base = server(uncached, Tool::LoadgenRealistic);
        let hit_us = server(hot_row, Tool::LoadgenSingle);
        let cached_us = server(cached, Tool::LoadgenRealistic);
        let (hit, miss) = match (base, hit_us, cached_us) {
            (Some(b), Some(hu), Some(cu)) if b > 0.0 && h < 1.0 => {
                (Some(hu / b), Some(((cu - h * hu) / (1.0 - h)).max(0.0) / b))
            }
            _ => (None, None),
        };
        let bound = match (hit, miss) {
            (Some(hi), Some(mi)) => {
                let d = (1.0 - h) * mi + h * hi;
                (d > 0.0).then(|| 1.0 / d)
            }
            _ => None,
        };
        let measured = match (c.rps(Tool::LoadgenRealistic), u.rps(Tool::LoadgenRealistic)) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let app_ms = loadgen_summary(&run.raw_dir, uncached, Tool::LoadgenRealistic)
            .map(|us| app_by_kind(&sum, &us))
            .unwrap_or_default();
        out.push(CacheBound {
            cached: cached.to_string(),
            hot_row,
            uncached: uncached.to_string(),
            h,
            hit,
            miss,
            bound,
            measured,
            app_ms,
            settle: settle(&sum),
            app_at_rates: app_at_rates(run, cached, uncached),
        });
    }
    out
}

/// The hit ratio over the last [`SETTLE_WINDOW_S`] seconds of the warm-up,
/// and over the measured window, from a run's timeline.
pub fn settle(sum: &Summary) -> Option<(f64, f64)> {
    let tl = sum.timeline.as_ref()?;
    let ratio = |f: &dyn Fn(i64) -> bool| {
        let (mut hits, mut n) = (0u64, 0u64);
        for s in tl.iter().filter(|s| f(s.t_s)) {
            hits += s.cache_hits;
            n += s.responses;
        }
        (n > 0).then(|| hits as f64 / n as f64)
    };
    Some((
        ratio(&|t| (-SETTLE_WINDOW_S..0).contains(&t))?,
        ratio(&|t| t >= 0)?,
    ))
}

/// The two sections, in Markdown.
pub fn markdown(o: &mut String, run: &Run) {
    let lang = language(run);
    if lang
        .iter()
        .any(|l| l.realistic.0.is_some() || l.hot.0.is_some())
    {
        language_markdown(o, &lang);
    }
    let bounds = cache_bounds(run);
    if !bounds.is_empty() {
        cache_markdown(o, &bounds);
    }
}

fn cell(x: Option<f64>) -> String {
    x.map_or("—".into(), fmt_rps)
}

fn ratio_cell(x: Option<f64>) -> String {
    x.map_or("—".into(), |r| format!("×{r:.1}"))
}

fn language_markdown(o: &mut String, rows: &[LanguageRow]) {
    o.push_str("## Scaling isn't about the language\n\n");
    o.push_str(
        "The talk's own stack in real CPython (CherryPy, `sqlite3`, pymemcache: `peers/python/`), \
         deployed exactly as the Rust rows — the same CGI host, nginx configuration, supervisor and \
         memcached — on the same database, measured in the same run. Rust ÷ CPython: how much the \
         language is worth at each stage.\n\n",
    );
    o.push_str("| stage | CPython row | realistic: CPython | Rust | Rust ÷ CPython | one hot page (wrk): CPython | Rust | Rust ÷ CPython | the talk |\n");
    o.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for l in rows {
        let _ = writeln!(
            o,
            "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} |",
            if l.python.ends_with("noindex") {
                format!("{} (no index)", l.stage)
            } else {
                l.stage.to_string()
            },
            l.python,
            cell(l.realistic.0),
            cell(l.realistic.1),
            ratio_cell(LanguageRow::ratio(l.realistic)),
            cell(l.hot.0),
            cell(l.hot.1),
            ratio_cell(LanguageRow::ratio(l.hot)),
            l.talk.clone().unwrap_or_default()
        );
    }
    o.push('\n');
    let by = |f: fn(&LanguageRow) -> (Option<f64>, Option<f64>)| {
        rows.iter()
            .filter(|l| !l.python.ends_with("noindex"))
            .filter_map(|l| LanguageRow::ratio(f(l)).map(|r| (l, r)))
            .collect::<Vec<_>>()
    };
    let realistic = by(|l| l.realistic);
    let hot = by(|l| l.hot);
    if let (Some(first), Some(last)) = (hot.first(), hot.last())
        && first.0.stage != last.0.stage
    {
        let _ = writeln!(
            o,
            "- One hot page: Rust is {} CPython at stage {} and {} at stage {}: once nginx answers from \
             memcached, the language is {}.",
            fmt_speedup(first.1),
            first.0.stage,
            fmt_speedup(last.1),
            last.0.stage,
            if last.1 < 1.5 {
                "no longer what decides"
            } else {
                "still a factor"
            }
        );
    }
    if let (Some(first), Some(last)) = (realistic.first(), realistic.last())
        && first.0.stage != last.0.stage
    {
        let _ = writeln!(
            o,
            "- The realistic mix: {} at stage {}, {} at stage {}: what the cache cannot absorb (the \
             misses of the cold tail, the logged-in pages) is still served by the language.",
            fmt_speedup(first.1),
            first.0.stage,
            fmt_speedup(last.1),
            last.0.stage
        );
    }
    o.push_str("\n![Rust and CPython, stage by stage](latest-language.svg)\n\n");
}

fn cache_markdown(o: &mut String, rows: &[CacheBound]) {
    o.push_str("## What a cache can buy on the mix\n\n");
    o.push_str(
        "With a hit ratio h, a hit costing `hit` and a miss `miss` (server CPU per request — every \
         process of the row but the load tool — in units of the uncached row's request), a cache \
         cannot speed the mix up more than 1 / ((1−h)·miss + h·hit) on a machine whose cores are \
         busy. The hit's cost is the cached row's hot page (every request a hit); the miss's is what \
         is left of the mix's CPU once the hits are paid.\n\n",
    );
    o.push_str("| cached row | against | hit ratio h | a hit | a miss | the bound | measured | app time per request that reached it |\n");
    o.push_str("|---|---|--:|--:|--:|--:|--:|--:|\n");
    let x = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.2}"));
    for b in rows {
        let _ = writeln!(
            o,
            "| `{}` | `{}` | {:.1}% | {} | {} | {} | {} | {} |",
            b.cached,
            b.uncached,
            b.h * 100.0,
            x(b.hit),
            x(b.miss),
            b.bound.map_or("—".into(), |v| format!("×{v:.2}")),
            b.measured.map_or("—".into(), |v| format!("×{v:.2}")),
            b.app_ratio()
                .map_or("—".into(), |v| format!("×{v:.2} the uncached row's")),
        );
    }
    o.push('\n');
    for b in rows {
        if !b.app_ms.is_empty() {
            let _ = write!(
                o,
                "- `{}` against `{}`, app ms per request that reached the app, by kind:",
                b.cached, b.uncached
            );
            for (kind, u, c, _) in &b.app_ms {
                let _ = write!(
                    o,
                    " {kind} {c:.3} vs {u:.3} (×{:.2});",
                    if *u > 0.0 { c / u } else { 0.0 }
                );
            }
            o.push('\n');
        }
        if !b.app_at_rates.is_empty() {
            let _ = write!(
                o,
                "- `{}` against `{}`, the same at fixed offered rates (open loop):",
                b.cached, b.uncached
            );
            for (rate, r) in &b.app_at_rates {
                let _ = write!(o, " ×{r:.2} at {} req/s;", fmt_rps(*rate as f64));
            }
            o.push('\n');
        }
        if let Some((warm, measured)) = b.settle {
            let points = (measured - warm) * 100.0;
            let _ = writeln!(
                o,
                "- `{}`: hit ratio {:.1}% over the last {SETTLE_WINDOW_S} s of its warm-up, {:.1}% over the measured window: {}.",
                b.cached,
                warm * 100.0,
                measured * 100.0,
                if points.abs() <= SETTLED_POINTS {
                    format!("settled (within {SETTLED_POINTS} points)")
                } else if points > 0.0 {
                    format!(
                        "**not settled** ({points:+.1} points: a longer warm-up would raise it)"
                    )
                } else {
                    format!(
                        "**not settled** ({points:+.1} points: the hit ratio fell after the warm-up, evictions or expiry)"
                    )
                }
            );
        }
    }
    o.push('\n');
}
