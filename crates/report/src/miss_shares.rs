//! Where a miss's cost goes, measured: a stage-4 miss (`stage-4-miss`,
//! every nginx lookup missing) against a `stage-3` request, part by part,
//! in µs of CPU per request, and whether the parts add up to the miss cost
//! the plain windows measured.
//!
//! Where the figures come from, per row, all from its **profiled window**
//! (`compare.sh --profile`: one more realistic-mix window under perf, first
//! repetition only):
//!
//! - a role's CPU: cpuwatch's file of that window (`<row>.profiled.cpu.json`);
//! - its split between the role's parts: the role's share of perf's samples
//!   (`<row>.folded`), each stack given to one part by its frames
//!   ([`classify`]);
//! - requests: the window's req/s (`<row>.profiled.json`) × cpuwatch's
//!   window, the rule every CPU figure of the report follows
//!   ([`crate::cpu`]), so the miss cost it is checked against counts its
//!   requests the same way;
//! - the load tool (shared layout only): its cpuwatch CPU, whole (the flame
//!   graphs drop it), so each row's sum is on the cache model's basis
//!   ([`crate::cache_model::Basis`]); roles the graphs do not show are one
//!   part, [`Part::Other`].
//!
//! Assumed: a role's split over perf's whole recording (it starts before
//! the load tool's warm-up and ends after it) is its split over cpuwatch's
//! window, which is the measured interval alone.
//!
//! **The check.** The sum of the differences is the profiled windows' miss
//! cost; the plain windows (`<row>.loadgen-realistic.cpu.json`, every
//! repetition) measure it apart: the cache model's miss − uncached, on the
//! same basis, repetition by repetition, the median. Within [`TOLERANCE`]
//! the shares account for the measured cost; outside it, the profiled
//! windows (one each, under perf) did not cost what the plain ones did, and
//! the table says by how much. No figure of one side is computed from the
//! other. The check does not test the split *within* a role (each row's
//! sum is its cpuwatch total); the samples' split *between* roles against
//! cpuwatch's is printed beside it as the sampling's own check.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use runfiles::{CpuReport, Role};
use serde::Deserialize;

use crate::cache_model::Basis;
use crate::repeats::{self, Spread};
use crate::{Run, Tool};

/// The pairs split: (the all-miss row, the uncached row). The Rust stages
/// only: the CPython peer's stacks are its interpreter's, which name
/// neither its memcached client nor its own work.
pub const PAIRS: [(&str, &str); 1] = [("stage-4-miss", "stage-3")];

/// How far the shares' sum may be from the measured miss cost and still
/// account for it (issue 21's target).
pub const TOLERANCE: f64 = 0.10;

/// nginx's memcached module (`ngx_http_memcached_handler`, …): a stack
/// through it is the lookup. Debian's nginx has these functions static,
/// unnamed (`[nginx]`): then no stack is the lookup, and its cost stays in
/// nginx's other part (the section says so).
const NGINX_LOOKUP: &str = "ngx_http_memcached_";

/// The app's memcached layer: stage-4's module (sessions, page and photo
/// stores, client, writer) and the client crate it drives.
const APP_MEMCACHED: [&str; 2] = ["stage_4::memcached::", "memcache::"];

/// The check the writer sends its page adds through: a SQLite read of the
/// comments since the pages were read (the adds themselves run inside it,
/// which is why the innermost layer decides).
const APP_FRESHNESS: &str = "app::freshness::Freshness";

/// The photo bytes' disk read: stage-4 wraps it in its memcached store (to
/// queue the bytes for nginx), but stage-3 reads the same bytes.
const APP_DISK: &str = "app::cache::DiskPhotos";

/// The writer's thread as perf names it: the kernel keeps 15 bytes of
/// `memcached-writer`.
const WRITER_THREAD: &str = "memcached-write";

/// One part of a request's CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    NginxLookup,
    Nginx,
    Memcached,
    AppMemcached,
    AppOwn,
    Freshness,
    WriterAdds,
    Other,
    Load,
}

impl Part {
    pub fn label(self) -> &'static str {
        match self {
            Part::NginxLookup => "nginx: its memcached lookup",
            Part::Nginx => "nginx: the rest (client side, proxying to the app)",
            Part::Memcached => {
                "memcached: all of it (nginx's lookups, the app's gets, the writer's adds)"
            }
            Part::AppMemcached => {
                "app, request threads: its memcached client (sessions, page data, queueing the adds)"
            }
            Part::AppOwn => {
                "app, request threads: the rest (HTTP, routing, SQLite, rendering, photo reads)"
            }
            Part::Freshness => "app, writer thread: the freshness check (`Freshness`, SQLite)",
            Part::WriterAdds => "app, writer thread: the adds (batches to memcached, the queue)",
            Part::Other => "other roles of the row",
            Part::Load => "the load tool (cpuwatch; not in the flame graphs)",
        }
    }
}

impl Part {
    /// The name a `fig` span gives it (`miss-part:nginx`, `report::docs`).
    pub fn id(self) -> &'static str {
        match self {
            Part::NginxLookup => "nginx-lookup",
            Part::Nginx => "nginx",
            Part::Memcached => "memcached",
            Part::AppMemcached => "app-client",
            Part::AppOwn => "app-own",
            Part::Freshness => "freshness",
            Part::WriterAdds => "writer-adds",
            Part::Other => "other",
            Part::Load => "load",
        }
    }
}

/// A `miss-part:PART` figure of the first pair (`stage-4-miss` against
/// `stage-3`): the part's extra µs per request and its share of the
/// extra (`+32.3 µs (28%)`); `miss-part:total`, the sum against the plain
/// windows' measurement.
pub fn figure(run: &Run, part: &str) -> Option<String> {
    let (miss, uncached) = PAIRS[0];
    let m = measure(run, miss, uncached).ok()?;
    let extra = m.extra_us();
    if part == "total" {
        let measured = m.measured.as_ref()?;
        return Some(format!(
            "{} µs against {} µs measured",
            signed(extra),
            repeats::fmt_spread(measured, |x| format!("{x:.1}"))
        ));
    }
    let (_, u, x) = m.parts().into_iter().find(|(p, _, _)| p.id() == part)?;
    (extra > 0.0).then(|| format!("{} µs ({:.0}%)", signed(x - u), (x - u) / extra * 100.0))
}

/// The layer an app frame belongs to, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Memcached,
    Freshness,
    Disk,
}

fn layer(frame: &str) -> Option<Layer> {
    // `<stage_4::memcached::stores::Photos as app::cache::PhotoStore>::read`
    let f = frame.trim_start_matches('<');
    if f.starts_with(APP_FRESHNESS) {
        Some(Layer::Freshness)
    } else if f.starts_with(APP_DISK) {
        Some(Layer::Disk)
    } else if APP_MEMCACHED.iter().any(|p| f.starts_with(p)) {
        Some(Layer::Memcached)
    } else {
        None
    }
}

/// The part of one folded stack (`role;thread;outermost;…;innermost`).
/// An app stack goes by its innermost frame of a known layer (the adds run
/// inside the freshness check; the disk read inside the photo store), and
/// by its thread: the writer's, or a request thread (every other).
pub fn classify(role: Role, frames: &[&str]) -> Part {
    let thread = frames.get(1).copied().unwrap_or("");
    let code = frames.get(2..).unwrap_or(&[]);
    match role {
        Role::Load => Part::Load,
        Role::Nginx if code.iter().any(|f| f.starts_with(NGINX_LOOKUP)) => Part::NginxLookup,
        Role::Nginx => Part::Nginx,
        Role::Memcached => Part::Memcached,
        Role::App => {
            let innermost = code.iter().rev().find_map(|f| layer(f));
            match (thread == WRITER_THREAD, innermost) {
                (true, Some(Layer::Freshness)) => Part::Freshness,
                (true, _) => Part::WriterAdds,
                (false, Some(Layer::Memcached)) => Part::AppMemcached,
                (false, _) => Part::AppOwn,
            }
        }
        _ => Part::Other,
    }
}

/// Per role (a stack's root frame), its samples by part; lines that do not
/// parse, or whose role is unknown, are skipped.
pub fn sample_parts(folded: &str) -> BTreeMap<Role, BTreeMap<Part, u64>> {
    let mut out: BTreeMap<Role, BTreeMap<Part, u64>> = BTreeMap::new();
    for line in folded.lines() {
        let Some((stack, n)) = line.trim_end().rsplit_once(' ') else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else {
            continue;
        };
        let frames: Vec<&str> = stack.split(';').collect();
        let Some(role) = Role::ALL.into_iter().find(|r| r.id() == frames[0]) else {
            continue;
        };
        *out.entry(role)
            .or_default()
            .entry(classify(role, &frames))
            .or_default() += n;
    }
    out
}

/// Why a pair has no split.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Why {
    #[error("the run has no flame graphs (made without `compare.sh --profile`)")]
    NotProfiled,
    #[error("`{0}` is missing")]
    Missing(String),
    #[error("`{file}` cannot be read: {why}")]
    Unreadable { file: String, why: String },
    #[error("`{0}`'s profiled window counted no request")]
    NoRequests(String),
}

/// One row's profiled window, part by part.
#[derive(Debug, Clone, PartialEq)]
pub struct RowParts {
    pub row: String,
    /// µs of CPU per request, by part, on the basis.
    pub us: BTreeMap<Part, f64>,
    /// Per role perf sampled (but the load tool): its share of those
    /// roles' samples, and of their cpuwatch CPU.
    pub role_shares: Vec<(Role, f64, f64)>,
}

impl RowParts {
    pub fn total(&self) -> f64 {
        self.us.values().sum()
    }

    pub fn get(&self, p: Part) -> f64 {
        self.us.get(&p).copied().unwrap_or(0.0)
    }

    /// The largest gap, in points, between a role's share of the samples
    /// and its share of cpuwatch's CPU.
    pub fn sampling_gap(&self) -> Option<f64> {
        self.role_shares
            .iter()
            .map(|(_, s, c)| (s - c).abs() * 100.0)
            .max_by(f64::total_cmp)
    }
}

/// What the report reads of `<row>.profiled.json`.
#[derive(Debug, Deserialize)]
struct Profiled {
    rps: f64,
}

/// `row`'s parts from its profiled window in `raw_dir`.
pub fn row_parts(raw_dir: &Path, row: &str, basis: Basis) -> Result<RowParts, Why> {
    let read = |name: String| {
        std::fs::read_to_string(raw_dir.join(&name))
            .map(|t| (name.clone(), t))
            .map_err(|_| Why::Missing(name))
    };
    let bad = |file: &str, e: serde_json::Error| Why::Unreadable {
        file: file.to_string(),
        why: e.to_string(),
    };
    let (_, folded) = read(format!("{row}.folded"))?;
    let (name, text) = read(format!("{row}.profiled.cpu.json"))?;
    let cpu: CpuReport = serde_json::from_str(&text).map_err(|e| bad(&name, e))?;
    let (name, text) = read(format!("{row}.profiled.json"))?;
    let rps = serde_json::from_str::<Profiled>(&text)
        .map_err(|e| bad(&name, e))?
        .rps;
    let requests = rps * cpu.window_s;
    if requests.is_nan() || requests <= 0.0 {
        return Err(Why::NoRequests(row.to_string()));
    }
    let samples = sample_parts(&folded);
    let mut us: BTreeMap<Part, f64> = BTreeMap::new();
    for (&role, &cpu_s) in &cpu.roles {
        if cpu_s <= 0.0 || !basis.counts(role) {
            continue;
        }
        let per_request = cpu_s / requests * 1e6;
        let parts = samples.get(&role).filter(|_| role != Role::Load);
        let n: u64 = parts.map_or(0, |p| p.values().sum());
        match parts {
            Some(parts) if n > 0 => {
                for (&part, &k) in parts {
                    *us.entry(part).or_default() += per_request * k as f64 / n as f64;
                }
            }
            _ if role == Role::Load => *us.entry(Part::Load).or_default() += per_request,
            _ => *us.entry(Part::Other).or_default() += per_request,
        }
    }
    Ok(RowParts {
        row: row.to_string(),
        us,
        role_shares: role_shares(&samples, &cpu),
    })
}

/// Per sampled role but the load tool: (role, share of the samples, share
/// of cpuwatch's CPU), both over those roles.
fn role_shares(
    samples: &BTreeMap<Role, BTreeMap<Part, u64>>,
    cpu: &CpuReport,
) -> Vec<(Role, f64, f64)> {
    let roles: Vec<(Role, u64, f64)> = samples
        .iter()
        .filter(|(r, _)| **r != Role::Load)
        .map(|(r, p)| (*r, p.values().sum(), cpu.role(*r)))
        .collect();
    let n: u64 = roles.iter().map(|r| r.1).sum();
    let c: f64 = roles.iter().map(|r| r.2).sum();
    if n == 0 || c <= 0.0 {
        return Vec::new();
    }
    roles
        .into_iter()
        .map(|(r, k, s)| (r, k as f64 / n as f64, s / c))
        .collect()
}

/// One pair's split and its check.
#[derive(Debug, Clone, PartialEq)]
pub struct MissShares {
    pub uncached: RowParts,
    pub miss: RowParts,
    pub basis: Basis,
    /// The plain windows' miss cost, µs per request, over the repetitions
    /// that have both rows: the cache model's miss − uncached.
    pub measured: Option<Spread>,
}

impl MissShares {
    /// The parts either row has, in [`Part`] order: (part, uncached µs,
    /// miss µs).
    pub fn parts(&self) -> Vec<(Part, f64, f64)> {
        let mut keys: Vec<Part> = self
            .uncached
            .us
            .keys()
            .chain(self.miss.us.keys())
            .copied()
            .collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .map(|p| (p, self.uncached.get(p), self.miss.get(p)))
            .collect()
    }

    /// Σ of the differences: what the profiled windows say a miss costs
    /// beyond an uncached request.
    pub fn extra_us(&self) -> f64 {
        self.miss.total() - self.uncached.total()
    }

    /// Σ differences ÷ the measured miss cost (median) − 1.
    pub fn error(&self) -> Option<f64> {
        let m = self.measured.as_ref()?.median;
        (m > 0.0).then(|| self.extra_us() / m - 1.0)
    }

    pub fn holds(&self) -> Option<bool> {
        self.error().map(|e| e.abs() <= TOLERANCE)
    }
}

/// The plain windows' miss cost, repetition by repetition.
pub fn plain_miss_cost(run: &Run, basis: Basis, miss: &str, uncached: &str) -> Option<Spread> {
    Spread::of(
        repeats::all(run)
            .iter()
            .filter_map(|r| {
                let cost = |row: &str| {
                    r.cpu
                        .cell(row, Tool::LoadgenRealistic)
                        .and_then(|c| basis.cost_us(c))
                };
                Some(cost(miss)? - cost(uncached)?)
            })
            .collect(),
    )
}

/// The pair's split, if the run has its profiled files.
pub fn measure(run: &Run, miss: &str, uncached: &str) -> Result<MissShares, Why> {
    let raw = &run.raw_dir;
    let folded = |row: &str| raw.join(format!("{row}.folded")).is_file();
    if !folded(miss) && !folded(uncached) {
        return Err(Why::NotProfiled);
    }
    let basis = Basis::of(run);
    Ok(MissShares {
        uncached: row_parts(raw, uncached, basis)?,
        miss: row_parts(raw, miss, basis)?,
        basis,
        measured: plain_miss_cost(run, basis, miss, uncached),
    })
}

/// `latest.md`'s section: nothing for a run without the miss row or
/// without flame graphs; one line when a file the split needs is missing.
pub fn markdown(o: &mut String, run: &Run) {
    for (miss, uncached) in PAIRS {
        if run.row(miss).is_none() {
            continue;
        }
        match measure(run, miss, uncached) {
            Err(Why::NotProfiled) => {}
            Err(why) => {
                let _ = writeln!(
                    o,
                    "## Where a miss's cost goes\n\nNo split of `{miss}`'s cost: {why}.\n"
                );
            }
            Ok(m) => {
                o.push_str("## Where a miss's cost goes\n\n");
                table(o, &m);
            }
        }
    }
}

/// Lesson 5's lines: the table where the lesson's run has the flame graphs
/// (a lesson run never does), else where to find it.
pub fn lesson(o: &mut String, run: &Run) {
    for (miss, uncached) in PAIRS {
        if run.row(miss).is_none() {
            continue;
        }
        match measure(run, miss, uncached) {
            Ok(m) => table(o, &m),
            Err(why) => {
                let _ = writeln!(
                    o,
                    "- Where a miss's CPU goes, part by part, needs the flame graphs (`compare.sh --profile`), and {}: the table is in the main run's `results/latest.md` (\"Where a miss's cost goes\").\n",
                    match why {
                        Why::NotProfiled => "a lesson run takes none".to_string(),
                        other => other.to_string(),
                    }
                );
            }
        }
    }
}

fn signed(v: f64) -> String {
    format!("{v:+.1}")
}

/// The table and the check, in Markdown.
pub fn table(o: &mut String, m: &MissShares) {
    let (u, x) = (&m.uncached.row, &m.miss.row);
    let _ = writeln!(
        o,
        "A `{x}` request (every nginx lookup missing) against a `{u}` request, in µs of CPU per request, counted as the cache model counts a request's cost: {}. Each row's figures are its profiled window's: a role's CPU is cpuwatch's for that window, split between the role's parts by its share of perf's samples; requests are the window's req/s × cpuwatch's window. \
         A stack's part is decided by its frames: nginx's through `{NGINX_LOOKUP}*` are its lookup; an app stack goes by its innermost frame of a known layer (`stage_4::memcached::*` or `memcache::*`: the memcached client; `{APP_FRESHNESS}`: the freshness check; `{APP_DISK}`: a disk read, the app's own) and by its thread (`{WRITER_THREAD}`, or a request thread). \
         Assumed: a role's split over perf's whole recording (warm-up included) is its split over cpuwatch's window.\n",
        m.basis.words()
    );
    let _ = writeln!(
        o,
        "| part | `{u}` µs/request | `{x}` µs/request | difference (the miss's extra) | share of the extra |\n|---|--:|--:|--:|--:|"
    );
    let extra = m.extra_us();
    for (p, a, b) in m.parts() {
        let share = if extra != 0.0 {
            format!("{:.0}%", (b - a) / extra * 100.0)
        } else {
            "—".into()
        };
        let _ = writeln!(
            o,
            "| {} | {a:.1} | {b:.1} | {} | {share} |",
            p.label(),
            signed(b - a)
        );
    }
    let _ = writeln!(
        o,
        "| **total** | **{:.1}** | **{:.1}** | **{}** | 100% |\n",
        m.uncached.total(),
        m.miss.total(),
        signed(extra)
    );
    if m.miss.get(Part::NginxLookup) == 0.0 && m.miss.get(Part::Nginx) > 0.0 {
        let _ = writeln!(
            o,
            "No nginx stack of `{x}` names a `{NGINX_LOOKUP}*` function (this nginx's memcached module is static, `[nginx]` in the graphs): the failed lookup is inside nginx's other part, with the proxying.\n"
        );
    }
    check(o, m);
}

/// The sum against the plain windows' miss cost, and the sampling's check.
fn check(o: &mut String, m: &MissShares) {
    let (u, x) = (&m.uncached.row, &m.miss.row);
    let extra = m.extra_us();
    match (&m.measured, m.error()) {
        (Some(s), Some(e)) => {
            let reps = format!(
                "{}, {} µs",
                match s.values.len() {
                    1 => "one repetition".to_string(),
                    n => format!("the median of {n} repetitions (range min–max)"),
                },
                repeats::fmt_spread(s, |v| format!("{v:.1}"))
            );
            let verdict = if e.abs() <= TOLERANCE {
                format!("**within {:.0}%** ({:+.1}%)", TOLERANCE * 100.0, e * 100.0)
            } else {
                format!(
                    "**not within {:.0}%**: off by {:+.1}%",
                    TOLERANCE * 100.0,
                    e * 100.0
                )
            };
            let _ = writeln!(
                o,
                "- **The check:** the differences add up to {} µs per request (the profiled windows); the plain windows measured the miss cost apart, `{x}` − `{u}` on the same basis (the cache model's miss − uncached, `<row>.loadgen-realistic.cpu.json`), {reps}: {verdict}.",
                signed(extra)
            );
        }
        _ => {
            let _ = writeln!(
                o,
                "- **The check:** no plain windows of both rows to check the sum ({} µs) against.",
                signed(extra)
            );
        }
    }
    let gap = |r: &RowParts| {
        r.sampling_gap()
            .map_or("—".into(), |g| format!("{g:.1} points"))
    };
    let _ = writeln!(
        o,
        "- **The sampling:** the roles' shares of perf's samples differ from their shares of cpuwatch's CPU by at most {} (`{u}`) and {} (`{x}`).\n",
        gap(&m.uncached),
        gap(&m.miss)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::{CpuCell, CpuRun};
    use crate::{Row, RowSpec};

    fn report(window_s: f64, roles: &[(Role, f64)]) -> CpuReport {
        CpuReport {
            schema: runfiles::cpu::SCHEMA.into(),
            window_s,
            cores: 2,
            ticks_per_s: 100,
            machine_busy_s: roles.iter().map(|r| r.1).sum(),
            machine_idle_s: 0.0,
            machine_irq_s: 0.0,
            machine_steal_s: 0.0,
            outside_trees_s: 0.0,
            roles: roles.iter().copied().collect(),
            processes: Vec::new(),
            lost_processes: Vec::new(),
            command: Vec::new(),
            delay_s: 0.0,
        }
    }

    /// A plain realistic window: `charged_s` of CPU (load tool included,
    /// 0.01 s of it) at `rps` over one second.
    fn plain(row: &str, rps: f64, charged_s: f64) -> CpuCell {
        CpuCell {
            row: row.into(),
            tool: Tool::LoadgenRealistic,
            report: report(1.0, &[(Role::Load, 0.01), (Role::App, charged_s - 0.01)]),
            rps: Some(rps),
            gil: None,
            server_cpus: None,
        }
    }

    fn row(id: &str) -> Row {
        Row {
            spec: RowSpec {
                id: id.into(),
                ..RowSpec::default()
            },
            cells: BTreeMap::new(),
            phases: None,
            cache_hits: None,
            verify: None,
        }
    }

    const STAGE_3: &str = "nginx;nginx;main;ngx_http_proxy_handler 3\n\
                           app;tokio-rt-worker;app::router::route 5\n";

    // App: 8 samples for 120 µs, 15 µs each.
    const MISS: &str = "nginx;nginx;main;ngx_http_memcached_handler 1\n\
        nginx;nginx;main;ngx_http_proxy_handler 3\n\
        memcached;mc-worker;[memcached] 2\n\
        app;tokio-rt-worker;app::router::route;<stage_4::memcached::sessions::McSessions as app::sessions::SessionStore>::load_with_page_data;memcache::exp::client::MetaClient::run_many 2\n\
        app;tokio-rt-worker;app::router::route;<stage_4::memcached::stores::Photos as app::cache::PhotoStore>::read;<app::cache::DiskPhotos as app::cache::PhotoStore>::read;read 1\n\
        app;tokio-rt-worker;app::router::route 3\n\
        app;memcached-write;stage_4::memcached::writer::write_loop;app::freshness::Freshness::while_no_comment_commits;model::queries::comments_since;sqlite3_step 1\n\
        app;memcached-write;stage_4::memcached::writer::write_loop;app::freshness::Freshness::while_no_comment_commits;stage_4::memcached::client::Memcached::add_many;memcache::exp::client::MetaClient::run_many 1\n\
        not a folded line\n\
        app;tokio-rt-worker;x many\n";

    /// A profiled run in `dir`: stage-3 at 1,000 req/s (load 20, nginx
    /// 30, app 50 µs per request), stage-4-miss at 500 req/s (load 30,
    /// nginx 80, memcached 20, app 120, an unsampled supervisor 10).
    fn profiled(dir: &Path) -> Run {
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        let json = |r: &CpuReport| serde_json::to_string(r).unwrap();
        write("stage-3.folded", STAGE_3);
        write("stage-4-miss.folded", MISS);
        write(
            "stage-3.profiled.cpu.json",
            &json(&report(
                1.0,
                &[(Role::Load, 0.02), (Role::Nginx, 0.03), (Role::App, 0.05)],
            )),
        );
        write(
            "stage-4-miss.profiled.cpu.json",
            &json(&report(
                1.0,
                &[
                    (Role::Load, 0.015),
                    (Role::Nginx, 0.04),
                    (Role::Memcached, 0.01),
                    (Role::App, 0.06),
                    (Role::Supervisor, 0.005),
                ],
            )),
        );
        write(
            "stage-3.profiled.json",
            r#"{"rps": 1000.0, "requests": 990}"#,
        );
        write("stage-4-miss.profiled.json", r#"{"rps": 500.0}"#);
        let mut run = Run::empty("x");
        run.raw_dir = dir.to_path_buf();
        run.rows = vec![row("stage-3"), row("stage-4-miss")];
        run
    }

    fn with_plain(mut run: Run, miss_charged_s: f64) -> Run {
        run.cpu = CpuRun {
            cells: vec![
                plain("stage-3", 1000.0, 0.1),
                plain("stage-4-miss", 500.0, miss_charged_s),
            ],
            notes: Vec::new(),
        };
        run
    }

    fn near(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn stacks_go_to_the_innermost_layer_and_the_thread() {
        let parts = sample_parts(MISS);
        let app = &parts[&Role::App];
        assert_eq!(app[&Part::AppMemcached], 2);
        assert_eq!(app[&Part::AppOwn], 4, "the disk read is the app's own");
        assert_eq!(app[&Part::Freshness], 1);
        assert_eq!(app[&Part::WriterAdds], 1, "adds inside the check are adds");
        assert_eq!(parts[&Role::Nginx][&Part::NginxLookup], 1);
        assert_eq!(parts[&Role::Memcached][&Part::Memcached], 2);
        assert_eq!(
            classify(Role::Supervisor, &["supervisor", "stage-4", "main"]),
            Part::Other
        );
    }

    #[test]
    fn the_parts_add_up_to_each_profiled_window_and_the_check_holds() {
        let tmp = tempfile::tempdir().unwrap();
        // Plain windows: 250 − 100 = 150 µs; the shares say 160 (+6.7%).
        let run = with_plain(profiled(tmp.path()), 0.125);
        let m = measure(&run, "stage-4-miss", "stage-3").unwrap();
        assert!(near(m.uncached.total(), 100.0));
        assert!(near(m.miss.total(), 260.0));
        let expect = [
            (Part::NginxLookup, 0.0, 20.0),
            (Part::Nginx, 30.0, 60.0),
            (Part::Memcached, 0.0, 20.0),
            (Part::AppMemcached, 0.0, 30.0),
            (Part::AppOwn, 50.0, 60.0),
            (Part::Freshness, 0.0, 15.0),
            (Part::WriterAdds, 0.0, 15.0),
            (Part::Other, 0.0, 10.0),
            (Part::Load, 20.0, 30.0),
        ];
        let got = m.parts();
        assert_eq!(got.len(), expect.len(), "{got:?}");
        for ((p, a, b), (q, x, y)) in got.iter().zip(expect) {
            assert!(*p == q && near(*a, x) && near(*b, y), "{p:?} {a} {b}");
        }
        assert!(near(m.measured.as_ref().unwrap().median, 150.0));
        assert_eq!(m.holds(), Some(true));
        assert_eq!(m.uncached.sampling_gap(), Some(0.0));
        let mut o = String::new();
        markdown(&mut o, &run);
        assert!(o.starts_with("## Where a miss's cost goes\n"), "{o}");
        assert!(
            o.contains("| nginx: its memcached lookup | 0.0 | 20.0 | +20.0 | 12% |"),
            "{o}"
        );
        assert!(
            o.contains("| **total** | **100.0** | **260.0** | **+160.0** | 100% |"),
            "{o}"
        );
        assert!(o.contains("**within 10%** (+6.7%)"), "{o}");
        assert!(!o.contains("No nginx stack"), "{o}");
    }

    #[test]
    fn the_check_fails_when_the_plain_windows_say_otherwise() {
        let tmp = tempfile::tempdir().unwrap();
        // The first repetition alone would hold (150 µs); the median of
        // three is 100 µs: the shares' 160 are 60% over it.
        let mut run = with_plain(profiled(tmp.path()), 0.125);
        run.repeats = vec![
            with_plain(Run::empty("r2"), 0.1),
            with_plain(Run::empty("r3"), 0.1),
        ];
        let m = measure(&run, "stage-4-miss", "stage-3").unwrap();
        assert_eq!(
            m.measured.as_ref().unwrap().values,
            vec![150.0, 100.0, 100.0]
        );
        assert_eq!(m.holds(), Some(false));
        let mut o = String::new();
        markdown(&mut o, &run);
        assert!(o.contains("**not within 10%**: off by +60.0%"), "{o}");
        assert!(o.contains("100.0 (100.0–150.0) µs"), "{o}");
    }

    #[test]
    fn a_dedicated_layout_leaves_the_load_tool_out() {
        let tmp = tempfile::tempdir().unwrap();
        let mut run = with_plain(profiled(tmp.path()), 0.125);
        run.machine = Some("layout: server on CPUs 0, load tools on CPUs 1\n".into());
        let m = measure(&run, "stage-4-miss", "stage-3").unwrap();
        assert!(near(m.uncached.total(), 80.0) && near(m.miss.total(), 230.0));
        assert!(m.parts().iter().all(|(p, _, _)| *p != Part::Load));
        // Plain windows on the server's CPU too: 230 − 90.
        assert!(near(m.measured.unwrap().median, 140.0));
    }

    #[test]
    fn missing_files_say_nothing_or_one_line() {
        let mut o = String::new();
        markdown(&mut o, &Run::empty("x"));
        let mut run = Run::empty("x");
        run.rows = vec![row("stage-3"), row("stage-4-miss")];
        markdown(&mut o, &run);
        assert!(o.is_empty(), "{o}");
        lesson(&mut o, &run);
        assert!(o.contains("a lesson run takes none"), "{o}");
        let tmp = tempfile::tempdir().unwrap();
        let mut run = profiled(tmp.path());
        std::fs::remove_file(tmp.path().join("stage-4-miss.profiled.json")).unwrap();
        assert_eq!(
            measure(&run, "stage-4-miss", "stage-3"),
            Err(Why::Missing("stage-4-miss.profiled.json".into()))
        );
        let mut o = String::new();
        markdown(&mut o, &run);
        assert_eq!(
            o,
            "## Where a miss's cost goes\n\nNo split of `stage-4-miss`'s cost: `stage-4-miss.profiled.json` is missing.\n\n"
        );
        // No plain windows: the table, and no check to make.
        std::fs::write(
            tmp.path().join("stage-4-miss.profiled.json"),
            r#"{"rps": 0}"#,
        )
        .unwrap();
        assert_eq!(
            measure(&run, "stage-4-miss", "stage-3"),
            Err(Why::NoRequests("stage-4-miss".into()))
        );
        std::fs::write(
            tmp.path().join("stage-4-miss.profiled.json"),
            r#"{"rps": 500}"#,
        )
        .unwrap();
        run.cpu = CpuRun::default();
        let mut o = String::new();
        lesson(&mut o, &run);
        assert!(o.contains("no plain windows of both rows"), "{o}");
    }
}
