//! Where the CPU goes: per row and tool, the `<row>.<tool>.cpu.json` that
//! `cpuwatch` (crates/cpuacct) wrote around the tool, turned into µs of CPU
//! per request and cores busy by role, the rest of the machine, a flag when
//! the roles miss too much of it, the capacity the server would have with
//! the load tool elsewhere, the GIL's bound, and the lessons as sentences.
//!
//! - **requests in the window** = the tool's req/s (what the report already
//!   reads from its output) × `window_s`. cpuwatch's window is the tool's
//!   measured interval (its first snapshot waits for the warm-up), so this
//!   is the tool's request count to within the few milliseconds between
//!   its clock and cpuwatch's.
//! - **µs per request** of a role = its CPU seconds ÷ requests × 10⁶;
//!   **cores busy** = CPU seconds ÷ `window_s`.
//! - **rest** = `machine_busy_s` − Σ roles: the kernel's work outside any
//!   process (softirq: much of loopback TCP), other processes, cpuwatch
//!   itself. **Invariant:** Σ roles + rest = machine, in every figure.
//! - **flag**: Σ roles differs from the machine's busy time by more than
//!   [`MISMATCH`] of it: a process outside the trees, or lost ones, took a
//!   share the per-role figures do not show.
//! - **capacity** (derived, not measured) = cores ÷ server CPU per request
//!   (every role but `load`): the req/s this machine's cores could serve if
//!   the load tool ran elsewhere and the server scaled to every core.
//! - **GIL bound** (rows whose loadgen JSON has the `gil-held` phase, the
//!   ms per request the lock was held): instances ÷ held time, where
//!   instances = the distinct `X-Served-By` processes the loadgen JSON
//!   counted (at least 1): no process can hold its lock more than 100% of
//!   the time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use runfiles::{CpuReport, Role};
use serde::Deserialize;

use super::fmt::{fmt_ms, fmt_rps, fmt_speedup};
use super::{Row, Tool, parse};

/// A row is flagged when Σ roles and the machine's busy time differ by
/// more than this share of the machine's.
pub const MISMATCH: f64 = 0.15;

/// The Server-Timing phase that says how long the GIL was held per request.
pub const GIL_HELD: &str = "gil-held";

/// The tools the chart and the lessons prefer, in order: the realistic mix
/// is what a site serves.
pub const PREFERRED: [Tool; 5] = [
    Tool::LoadgenRealistic,
    Tool::LoadgenSingle,
    Tool::Wrk,
    Tool::AbKeepAlive,
    Tool::Ab,
];

/// `<row>.<tool>.cpu.json`
pub fn file_name(tool: Tool, row: &str) -> String {
    format!("{row}.{}.cpu.json", tool.id())
}

/// The lock's bound on one row and tool.
#[derive(Debug, Clone, PartialEq)]
pub struct GilBound {
    /// Mean ms per request the lock was held (the `gil-held` phase over
    /// the whole mix).
    pub held_ms: f64,
    pub instances: usize,
    /// instances ÷ held seconds per request.
    pub bound_rps: f64,
}

/// One row and tool's CPU figures.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuCell {
    pub row: String,
    pub tool: Tool,
    pub report: CpuReport,
    /// The tool's req/s, if its output had a result.
    pub rps: Option<f64>,
    pub gil: Option<GilBound>,
    /// The CPUs the server was held to (machine.txt's layout, `--server-cpus`),
    /// when the load tools had CPUs of their own; `None`: shared.
    pub server_cpus: Option<u32>,
}

impl CpuCell {
    /// Requests in the window: req/s × window.
    pub fn requests(&self) -> Option<f64> {
        self.rps
            .map(|r| r * self.report.window_s)
            .filter(|n| *n > 0.0)
    }

    /// µs of CPU per request for `cpu_s` CPU seconds over the window.
    pub fn per_request_us(&self, cpu_s: f64) -> Option<f64> {
        self.requests().map(|n| cpu_s / n * 1e6)
    }

    /// Cores kept busy by `cpu_s` CPU seconds over the window.
    pub fn cores_busy(&self, cpu_s: f64) -> f64 {
        if self.report.window_s > 0.0 {
            cpu_s / self.report.window_s
        } else {
            0.0
        }
    }

    pub fn role_us(&self, role: Role) -> Option<f64> {
        self.per_request_us(self.report.role(role))
    }

    /// machine busy − Σ roles (negative when the roles were charged more
    /// than the machine counted: tick rounding, or the snapshots' skew).
    pub fn rest_s(&self) -> f64 {
        self.report.machine_busy_s - self.report.charged_s()
    }

    /// Σ roles but `load`, µs per request.
    pub fn server_us(&self) -> Option<f64> {
        self.per_request_us(self.report.server_s())
    }

    pub fn machine_us(&self) -> Option<f64> {
        self.per_request_us(self.report.machine_busy_s)
    }

    /// |Σ roles − machine| ÷ machine, when it is over [`MISMATCH`].
    pub fn mismatch(&self) -> Option<f64> {
        let m = self.report.machine_busy_s;
        let diff = (self.report.charged_s() - m).abs();
        if m > 0.0 {
            Some(diff / m).filter(|x| *x > MISMATCH)
        } else {
            (diff > 0.0).then_some(f64::INFINITY)
        }
    }

    /// The server's cores ÷ server CPU per request (derived): the
    /// server's own CPUs where the layout gave it some, else the machine's.
    pub fn capacity_rps(&self) -> Option<f64> {
        let cores = self.server_cpus.map_or(self.report.cores, |n| n as usize);
        self.server_us()
            .filter(|us| *us > 0.0)
            .map(|us| cores as f64 * 1e6 / us)
    }
}

/// Every CPU figure of a run.
#[derive(Debug, Clone, Default)]
pub struct CpuRun {
    /// In the run's row order, then the tools' column order.
    pub cells: Vec<CpuCell>,
    /// Files that could not be read, and why.
    pub notes: Vec<String>,
}

/// What the report reads of a loadgen JSON besides what `parse` reads.
#[derive(Debug, Deserialize)]
struct ServedBy {
    #[serde(default)]
    served_by: BTreeMap<String, u64>,
}

/// How many CPUs machine.txt's layout gave the server when the load tools
/// had their own (`layout: server on CPUs 0,1, load tools on CPUs 2-3`);
/// `None` for the shared layout or a list it cannot read.
pub fn server_cpus(machine: &str) -> Option<u32> {
    let layout = crate::record_field(Some(machine), "layout")?;
    let (server, load) = layout
        .strip_prefix("server on CPUs ")?
        .split_once(", load tools on CPUs ")?;
    if server == "any" || load.starts_with("any") {
        return None;
    }
    let mut n = 0;
    for part in server.split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => b.trim().parse::<u32>().ok()? + 1 - a.trim().parse::<u32>().ok()?,
            None => {
                part.trim().parse::<u32>().ok()?;
                1
            }
        };
    }
    Some(n)
}

impl CpuRun {
    /// Reads every `<row>.<tool>.cpu.json` of `raw_dir` for `rows`. A
    /// missing file is no cell; a broken one is a note.
    pub fn load(raw_dir: &Path, rows: &[Row]) -> CpuRun {
        let mut out = CpuRun::default();
        let server_cpus = std::fs::read_to_string(raw_dir.join("machine.txt"))
            .ok()
            .and_then(|m| server_cpus(&m));
        for row in rows {
            for tool in Tool::ALL {
                let name = file_name(tool, &row.spec.id);
                let Ok(bytes) = std::fs::read(raw_dir.join(&name)) else {
                    continue;
                };
                let report = match serde_json::from_slice::<CpuReport>(&bytes) {
                    Ok(r) if r.schema.starts_with("flickrkillr-cpu/1") => r,
                    Ok(r) => {
                        out.notes.push(format!(
                            "`{name}`: schema {:?}, expected {:?}: not used",
                            r.schema,
                            runfiles::cpu::SCHEMA
                        ));
                        continue;
                    }
                    Err(e) => {
                        out.notes
                            .push(format!("`{name}`: not cpuwatch JSON ({e}): not used"));
                        continue;
                    }
                };
                let gil = match tool {
                    Tool::LoadgenRealistic | Tool::LoadgenSingle => {
                        gil_bound(raw_dir, &tool.file_name(&row.spec.id))
                    }
                    _ => None,
                };
                out.cells.push(CpuCell {
                    row: row.spec.id.clone(),
                    tool,
                    report,
                    rps: row.rps(tool),
                    gil,
                    server_cpus,
                });
            }
        }
        out
    }

    pub fn cell(&self, row: &str, tool: Tool) -> Option<&CpuCell> {
        self.cells.iter().find(|c| c.row == row && c.tool == tool)
    }

    /// The row's cell with a req/s from the first tool of `tools` that has
    /// one.
    pub fn preferred(&self, row: &str, tools: &[Tool]) -> Option<&CpuCell> {
        tools
            .iter()
            .find_map(|t| self.cell(row, *t).filter(|c| c.requests().is_some()))
    }

    /// Roles with CPU in any cell (`load` always), in [`Role::ALL`] order.
    pub fn roles_seen(&self) -> Vec<Role> {
        Role::ALL
            .into_iter()
            .filter(|r| *r == Role::Load || self.cells.iter().any(|c| c.report.role(*r) > 0.0))
            .collect()
    }
}

/// The `gil-held` mean and the instances from a loadgen JSON, or `None`
/// when the file or the phase is missing.
fn gil_bound(raw_dir: &Path, loadgen_file: &str) -> Option<GilBound> {
    let text = std::fs::read_to_string(raw_dir.join(loadgen_file)).ok()?;
    let run = parse::parse_loadgen(&text).ok()?;
    let held_ms = *run.phases.get(GIL_HELD)?;
    if held_ms <= 0.0 {
        return None;
    }
    let instances = serde_json::from_str::<ServedBy>(&text)
        .map(|s| s.served_by.len())
        .unwrap_or(0)
        .max(1);
    Some(GilBound {
        held_ms,
        instances,
        bound_rps: instances as f64 / (held_ms / 1e3),
    })
}

/// Phases that overlap the others (the lock is held *while* they run):
/// shown, never added into a total (the one list: loadgen's, which leaves
/// them out of `app_ms` too).
pub fn overlaps_other_phases(phase: &str) -> bool {
    runfiles::summary::OVERLAPPING_PHASES.contains(&phase)
}

/// The sum of a row's phases, overlapping ones left out.
pub fn additive_total(phases: &BTreeMap<String, f64>) -> f64 {
    phases
        .iter()
        .filter(|(k, _)| !overlaps_other_phases(k))
        .map(|(_, v)| v)
        .sum()
}

// ---- latest-cpu.csv ------------------------------------------------------

/// `latest-cpu.csv`'s header: one line per (row, tool) with a cpu.json.
pub fn csv_header() -> String {
    let mut h: Vec<String> = [
        "row",
        "tool",
        "rps",
        "window_s",
        "requests",
        "cores",
        "machine_busy_s",
        "roles_s",
        "rest_s",
        "outside_trees_s",
        "irq_s",
        "steal_s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for r in Role::ALL {
        h.push(format!("{}_us", r.id()));
    }
    h.extend(["rest_us", "outside_trees_us", "machine_us", "server_us"].map(String::from));
    for r in Role::ALL {
        h.push(format!("{}_cores", r.id()));
    }
    h.extend(
        [
            "rest_cores",
            "machine_cores",
            "capacity_rps",
            "gil_held_ms",
            "gil_instances",
            "gil_bound_rps",
            "flag",
            "lost_processes",
        ]
        .map(String::from),
    );
    h.join(",")
}

/// Up to 3 decimals, no trailing zeros; empty for `None`.
fn num(x: Option<f64>) -> String {
    x.map(|x| {
        let s = format!("{x:.3}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s == "-0" { "0".into() } else { s }
    })
    .unwrap_or_default()
}

/// `latest-cpu.csv`.
pub fn csv(cpu: &CpuRun) -> String {
    let mut o = csv_header();
    o.push('\n');
    for c in &cpu.cells {
        let r = &c.report;
        let mut f: Vec<String> = vec![
            c.row.clone(),
            c.tool.id().to_string(),
            num(c.rps),
            num(Some(r.window_s)),
            num(c.requests().map(f64::round)),
            r.cores.to_string(),
            num(Some(r.machine_busy_s)),
            num(Some(r.charged_s())),
            num(Some(c.rest_s())),
            num(Some(r.outside_trees_s)),
            num(Some(r.machine_irq_s)),
            num(Some(r.machine_steal_s)),
        ];
        for role in Role::ALL {
            f.push(num(c.role_us(role)));
        }
        f.push(num(c.per_request_us(c.rest_s())));
        f.push(num(c.per_request_us(r.outside_trees_s)));
        f.push(num(c.machine_us()));
        f.push(num(c.server_us()));
        for role in Role::ALL {
            f.push(num(Some(c.cores_busy(r.role(role)))));
        }
        f.push(num(Some(c.cores_busy(c.rest_s()))));
        f.push(num(Some(c.cores_busy(r.machine_busy_s))));
        f.push(num(c.capacity_rps()));
        f.push(num(c.gil.as_ref().map(|g| g.held_ms)));
        f.push(
            c.gil
                .as_ref()
                .map(|g| g.instances.to_string())
                .unwrap_or_default(),
        );
        f.push(num(c.gil.as_ref().map(|g| g.bound_rps)));
        f.push(if c.mismatch().is_some() {
            "mismatch".into()
        } else {
            String::new()
        });
        f.push(r.lost_processes.len().to_string());
        // Row ids and tool ids hold no comma or quote.
        o.push_str(&f.join(","));
        o.push('\n');
    }
    o
}

// ---- latest.md's section ---------------------------------------------------

/// µs with about three significant digits.
fn us(x: f64) -> String {
    fmt_ms(x)
}

fn cores(x: f64) -> String {
    format!("{x:.2}")
}

/// "Where the CPU goes": the table, the flags, the bounds and the lessons.
pub fn markdown(o: &mut String, run: &super::Run) {
    let cpu = &run.cpu;
    o.push_str("## Where the CPU goes\n\n");
    o.push_str(
        "The talk: \"know where the bottlenecks are\". On this machine the load tool, nginx, \
         memcached and the app share the cores, so each tool ran under `cpuwatch` \
         (crates/cpuacct), which reads `/proc` when the tool's warm-up ends and when it exits. \
         Each cell: **µs of CPU per request** in that role (requests = the tool's req/s × the \
         window), and under it the cores the role kept busy. Kernel work done for a process \
         (loopback TCP included: a packet is received in its sender's context) is in that \
         process's figures. *rest* = the machine's busy time − Σ roles: the other processes \
         of the machine (shown under it: other programs, kernel threads, cpuwatch), interrupts \
         on idle cores, steal; roles + rest = machine. ⚠ = Σ roles is more than 15% off the \
         machine's busy time. *server* = every role but load. \
         *capacity* is **derived, not measured**: cores ÷ server CPU per request, what the stage \
         could serve on this machine if the load tool ran elsewhere.\n\n",
    );
    if cpu.cells.is_empty() {
        o.push_str("— (no `<row>.<tool>.cpu.json` in this run)\n\n");
        for n in &cpu.notes {
            let _ = writeln!(o, "- {n}");
        }
        if !cpu.notes.is_empty() {
            o.push('\n');
        }
        return;
    }
    table(o, cpu);
    let mut checks = checks(cpu);
    checks.extend(cpu.notes.iter().cloned());
    if !checks.is_empty() {
        o.push_str("Checks:\n\n");
        for n in &checks {
            let _ = writeln!(o, "- {n}");
        }
        o.push('\n');
    }

    gil_bounds(o, cpu);
    measured_capacity(o, cpu);
    let lessons = lessons(cpu);
    if !lessons.is_empty() {
        o.push_str("### What the CPU figures say\n\n");
        for l in lessons {
            let _ = writeln!(o, "- {l}");
        }
        o.push('\n');
    }
}

/// Where the load tools had CPUs of their own, each row's req/s *is* the
/// capacity with the load tool elsewhere, measured: shown beside the
/// derived one (server CPUs ÷ server CPU per request), and how far apart.
/// Measured under derived: the server's CPUs were not all busy (the load
/// tool could not keep them so, or a lock or a wait held them back).
fn measured_capacity(o: &mut String, cpu: &CpuRun) {
    let cells: Vec<&CpuCell> = cpu
        .cells
        .iter()
        .filter(|c| c.server_cpus.is_some() && c.capacity_rps().is_some() && c.rps.is_some())
        .collect();
    let Some(n) = cells.first().and_then(|c| c.server_cpus) else {
        o.push_str(
            "Capacity with the load tool elsewhere is **derived** in this run: the load tools \
             shared the server's CPUs. `--server-cpus`/`--load-cpus` (and `--load-netns`) measure it.\n\n",
        );
        return;
    };
    let _ = writeln!(
        o,
        "### Capacity with the load tool elsewhere: measured against derived\n\n\
         The server had {n} CPU(s) of its own and the load tools others, so each req/s below is \
         the capacity **measured** with the load tool elsewhere; *derived* is the server's {n} \
         CPU(s) ÷ its CPU per request.\n\n\
         | row | tool | measured req/s | derived req/s | measured ÷ derived |\n|---|---|--:|--:|--:|"
    );
    for c in cells {
        let (m, d) = (c.rps.unwrap_or(0.0), c.capacity_rps().unwrap_or(0.0));
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {} | {:.2} |",
            c.row,
            c.tool.label(),
            fmt_rps(m),
            fmt_rps(d),
            if d > 0.0 { m / d } else { 0.0 }
        );
    }
    o.push('\n');
}

/// The table: per row and tool, µs of CPU per request and cores busy in
/// each role, the rest, the machine, the server and the derived capacity.
fn table(o: &mut String, cpu: &CpuRun) {
    let roles = cpu.roles_seen();
    o.push_str("| row | tool | req/s |");
    for r in &roles {
        let _ = write!(o, " {r} |");
    }
    o.push_str(" rest | machine | server | capacity (derived) |\n|---|---|--:|");
    for _ in &roles {
        o.push_str("--:|");
    }
    o.push_str("--:|--:|--:|--:|\n");
    for c in &cpu.cells {
        let r = &c.report;
        // µs per request (bold, flagged: as asked), then cores busy and
        // what else the sub-line says.
        let cell = |cpu_s: f64, bold: bool, flag: &str, more: &str| {
            let v = c
                .per_request_us(cpu_s)
                .map(us)
                .unwrap_or_else(|| "—".into());
            let v = if bold { format!("**{v}**") } else { v };
            format!(
                "{v}{flag}<br><sub>{} cores{more}</sub>",
                cores(c.cores_busy(cpu_s))
            )
        };
        let _ = write!(
            o,
            "| `{}` | {} | {} |",
            c.row,
            c.tool.label(),
            c.rps.map(fmt_rps).unwrap_or_else(|| "—".into())
        );
        for role in &roles {
            let _ = write!(o, " {} |", cell(r.role(*role), false, "", ""));
        }
        let flag = if c.mismatch().is_some() { " ⚠" } else { "" };
        let others = format!(
            ", {} in other processes",
            cores(c.cores_busy(r.outside_trees_s))
        );
        let _ = write!(o, " {} |", cell(c.rest_s(), false, flag, &others));
        let _ = write!(o, " {} |", cell(r.machine_busy_s, true, "", ""));
        let _ = write!(
            o,
            " {} |",
            c.server_us().map(us).unwrap_or_else(|| "—".into())
        );
        let _ = writeln!(
            o,
            " {} |",
            c.capacity_rps()
                .map(|x| format!("{} req/s", fmt_rps(x)))
                .unwrap_or_else(|| "—".into())
        );
    }
    o.push('\n');
}

/// What a reader should know about the figures of each cell: roles far
/// from the machine's busy time, processes lost, tools without a result.
fn checks(cpu: &CpuRun) -> Vec<String> {
    let mut checks = Vec::new();
    for c in &cpu.cells {
        let r = &c.report;
        if let Some(x) = c.mismatch() {
            checks.push(format!(
                "⚠ `{}` {}: the roles account for {} CPU-s of the machine's {} busy CPU-s \
                 ({} of {} cores over {} s): {} off, more than {:.0}% — the machine did work the \
                 measured processes did not ({} CPU-s in other processes of the machine)",
                c.row,
                c.tool.label(),
                fmt_s(r.charged_s()),
                fmt_s(r.machine_busy_s),
                cores(c.cores_busy(r.charged_s())),
                cores(c.cores_busy(r.machine_busy_s)),
                fmt_s(r.window_s),
                if x.is_finite() {
                    format!("{:.0}%", x * 100.0)
                } else {
                    "all".into()
                },
                MISMATCH * 100.0,
                fmt_s(r.outside_trees_s)
            ));
        }
        if !r.lost_processes.is_empty() {
            let pids: Vec<String> = r
                .lost_processes
                .iter()
                .map(|l| format!("{} ({}, {})", l.pid, l.comm, l.role))
                .collect();
            checks.push(format!(
                "`{}` {}: {} process{} exited in the window without a parent in the trees to wait \
                 for {}: {} — {} CPU in the window is missing",
                c.row,
                c.tool.label(),
                r.lost_processes.len(),
                if r.lost_processes.len() == 1 {
                    ""
                } else {
                    "es"
                },
                if r.lost_processes.len() == 1 {
                    "it"
                } else {
                    "them"
                },
                pids.join(", "),
                if r.lost_processes.len() == 1 {
                    "its"
                } else {
                    "their"
                },
            ));
        }
        if c.rps.is_none() {
            checks.push(format!(
                "`{}` {}: the tool has no result, so no per-request figures",
                c.row,
                c.tool.label()
            ));
        }
    }
    checks
}

/// The GIL's bound (derived) for the rows that measured `gil-held`.
fn gil_bounds(o: &mut String, cpu: &CpuRun) {
    let gil: Vec<&CpuCell> = cpu.cells.iter().filter(|c| c.gil.is_some()).collect();
    if !gil.is_empty() {
        o.push_str(
            "**The GIL's bound** (derived): the `gil-held` Server-Timing phase is the time a \
             request held the lock; no process holds it more than all the time, so req/s ≤ \
             processes ÷ held time, however many cores there are.\n\n",
        );
        for c in gil {
            let g = c.gil.as_ref().expect("filtered");
            let _ = writeln!(
                o,
                "- `{}` {}: held {} ms per request, {} process{} → at most {} req/s; measured {}.",
                c.row,
                c.tool.label(),
                fmt_ms(g.held_ms),
                g.instances,
                if g.instances == 1 { "" } else { "es" },
                fmt_rps(g.bound_rps),
                c.rps.map(fmt_rps).unwrap_or_else(|| "—".into())
            );
        }
        o.push('\n');
    }
}

/// Seconds with about three significant digits.
fn fmt_s(x: f64) -> String {
    fmt_ms(x)
}

/// The lessons, as sentences made of this run's figures; a lesson whose
/// rows are missing is left out.
pub fn lessons(cpu: &CpuRun) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = nginx_lesson(cpu) {
        out.push(s);
    }
    out.extend(gil_cores_lesson(cpu));
    if let Some(s) = cache_hit_lesson(cpu) {
        out.push(s);
    }
    if let Some(s) = cgi_lesson(cpu) {
        out.push(s);
    }
    out
}

/// The first tool both rows have figures for.
fn common<'a>(cpu: &'a CpuRun, a: &str, b: &str) -> Option<(&'a CpuCell, &'a CpuCell)> {
    PREFERRED.iter().find_map(|t| {
        let x = cpu.cell(a, *t).filter(|c| c.requests().is_some())?;
        let y = cpu.cell(b, *t).filter(|c| c.requests().is_some())?;
        Some((x, y))
    })
}

/// What nginx costs per request in stage-3, and why stage-3 can be slower
/// than stage-2 here: the server's CPU per request and the cores it and
/// the load tool share.
fn nginx_lesson(cpu: &CpuRun) -> Option<String> {
    let (s3, s2) = common(cpu, "stage-3", "stage-2")?;
    let n = s3.role_us(Role::Nginx)?;
    let (srv3, srv2) = (s3.server_us()?, s2.server_us()?);
    let (l3, l2) = (s3.role_us(Role::Load)?, s2.role_us(Role::Load)?);
    let (r3, r2) = (s3.rps?, s2.rps?);
    let k = s3.report.cores as f64;
    // The ceiling of the measured processes alone: what the cores allow
    // when the server and the load tool have them to themselves (other
    // programs of the machine, in the rest, left out).
    let ceiling = |srv: f64, load: f64| fmt_rps(k * 1e6 / (srv + load));
    let mut s = format!(
        "**nginx in front** (`stage-3` against `stage-2`, {tool}): nginx costs {n} µs of CPU per \
         request in `stage-3`; with it the server spends {srv3} µs per request ({app3} µs in the \
         app instances) against {srv2} µs for `stage-2` alone. With the load tool's {l3} and {l2} \
         µs on the same {cores} cores, they allow at most {c3} and {c2} req/s; measured {r3} and \
         {r2} ({x}).",
        tool = s3.tool.label(),
        n = us(n),
        srv3 = us(srv3),
        app3 = s3.role_us(Role::App).map(us).unwrap_or_else(|| "—".into()),
        srv2 = us(srv2),
        l3 = us(l3),
        l2 = us(l2),
        cores = s3.report.cores,
        c3 = ceiling(srv3, l3),
        c2 = ceiling(srv2, l2),
        r3 = fmt_rps(r3),
        r2 = fmt_rps(r2),
        x = fmt_speedup(r3 / r2),
    );
    match (r3 < r2, srv3 > srv2) {
        (true, true) => s.push_str(
            " `stage-3` is slower here because each request costs the server more CPU (nginx's \
             on top of the app's) and a second instance adds no core: the load tool and the \
             server already share both.",
        ),
        (true, false) => s.push_str(
            " `stage-3` is slower here although its server spends less CPU per request: the \
             difference is outside the server (see the rest).",
        ),
        (false, _) => s.push_str(" `stage-3` is not slower here."),
    }
    if let (Some(c3), Some(c2)) = (s3.capacity_rps(), s2.capacity_rps()) {
        let _ = write!(
            s,
            " With the load tool elsewhere (derived): {} and {} req/s.",
            fmt_rps(c3),
            fmt_rps(c2)
        );
    }
    Some(s)
}

/// How many cores the app keeps busy, with and without the GIL.
fn gil_cores_lesson(cpu: &CpuRun) -> Vec<String> {
    let mut rows: Vec<&str> = Vec::new();
    for c in &cpu.cells {
        // The one-process rows: the app is a single process there.
        let wanted = c.row == "stage-2" || c.row.starts_with("stage-2-") || c.row == "python-2";
        if wanted && !rows.contains(&c.row.as_str()) {
            rows.push(&c.row);
        }
    }
    let mut parts = Vec::new();
    let mut busy: BTreeMap<&str, f64> = BTreeMap::new();
    for row in rows {
        let Some(c) = cpu.preferred(row, &PREFERRED) else {
            continue;
        };
        let app = c.report.role(Role::App);
        if app <= 0.0 {
            continue;
        }
        busy.insert(row, c.cores_busy(app));
        parts.push(format!(
            "`{row}` {} of {} ({} µs per request at {} req/s, {})",
            cores(c.cores_busy(app)),
            c.report.cores,
            c.role_us(Role::App).map(us).unwrap_or_default(),
            c.rps.map(fmt_rps).unwrap_or_default(),
            c.tool.label()
        ));
    }
    if parts.is_empty() {
        return Vec::new();
    }
    let mut s = format!(
        "**Cores the app process keeps busy**: {}.",
        parts.join("; ")
    );
    if let (Some(free), Some(gil)) = (busy.get("stage-2"), busy.get("stage-2-gil")) {
        let _ = write!(
            s,
            " `--gil` takes the app from {} to {} cores",
            cores(*free),
            cores(*gil)
        );
        // Below 90% of the free app's cores the lock is what holds it back;
        // above, the lock is held too briefly per request to matter (its
        // bound, in the GIL section, is far above the measured rate).
        if *gil < 0.9 * *free {
            s.push_str(": one request's Python at a time.");
        } else {
            s.push_str(
                ": the lock is held too briefly per request to hold the app back (see the GIL's bound).",
            );
        }
    }
    if let Some(py) = busy.get("python-2") {
        let _ = write!(
            s,
            " CPython's own GIL keeps `python-2` at {} cores: what runs past one core is the \
             time its threads spend outside the lock, in system calls and SQLite.",
            cores(*py)
        );
    }
    vec![s]
}

/// A stage-4 hit (nginx + memcached) against a stage-3 request.
fn cache_hit_lesson(cpu: &CpuRun) -> Option<String> {
    let hit = cpu
        .cell("stage-4", Tool::LoadgenSingle)
        .filter(|c| c.requests().is_some())?;
    let n = hit.role_us(Role::Nginx)?;
    let m = hit.role_us(Role::Memcached)?;
    let three = cpu
        .cell("stage-3", Tool::LoadgenSingle)
        .filter(|c| c.requests().is_some())
        .or_else(|| cpu.preferred("stage-3", &PREFERRED))?;
    let s3 = three.server_us()?;
    let h = n + m;
    let mut s = format!(
        "**A cache hit** (`stage-4`, loadgen single: one page, answered by nginx from memcached) \
         costs {} µs of server CPU in nginx and memcached ({} + {}) against {} µs for a `stage-3` \
         request ({})",
        us(h),
        us(n),
        us(m),
        us(s3),
        three.tool.label()
    );
    if h > 0.0 && s3 > h {
        let _ = write!(s, ": {:.1}× less.", s3 / h);
    } else if h > 0.0 {
        let _ = write!(s, ": {:.1}× more.", h / s3);
    } else {
        s.push('.');
    }
    Some(s)
}

/// What a CGI request costs in process start.
fn cgi_lesson(cpu: &CpuRun) -> Option<String> {
    let c = cpu.preferred("stage-1", &PREFERRED)?;
    let cgi = c.role_us(Role::Cgi)?;
    let host = c.role_us(Role::CgiHost)?;
    let mut s = format!(
        "**A CGI request** (`stage-1`, {}) costs {} µs of CPU: {} µs in the CGI program (process \
         start, init, database open, the work, exit) and {} µs in the host that starts it",
        c.tool.label(),
        us(cgi + host),
        us(cgi),
        us(host)
    );
    if let Some(two) = cpu
        .cell("stage-2", c.tool)
        .filter(|t| t.requests().is_some())
        .and_then(|t| t.role_us(Role::App))
        .filter(|a| *a > 0.0)
    {
        let _ = write!(
            s,
            ", against {} µs in `stage-2`'s app process for the same tool: {:.0}× the CPU per request.",
            us(two),
            (cgi + host) / two
        );
    } else {
        s.push('.');
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(window: f64, busy: f64, roles: &[(Role, f64)]) -> CpuReport {
        let mut r: BTreeMap<Role, f64> = Role::ALL.iter().map(|r| (*r, 0.0)).collect();
        for (role, s) in roles {
            r.insert(*role, *s);
        }
        CpuReport {
            schema: runfiles::cpu::SCHEMA.into(),
            window_s: window,
            cores: 2,
            ticks_per_s: 100,
            machine_busy_s: busy,
            machine_idle_s: 2.0 * window - busy,
            machine_irq_s: 0.0,
            machine_steal_s: 0.0,
            outside_trees_s: 0.0,
            roles: r,
            processes: vec![],
            lost_processes: vec![],
            command: vec![],
            delay_s: 0.0,
        }
    }

    fn cell(row: &str, tool: Tool, rps: f64, r: CpuReport) -> CpuCell {
        CpuCell {
            row: row.into(),
            tool,
            report: r,
            rps: Some(rps),
            gil: None,
            server_cpus: None,
        }
    }

    #[test]
    fn per_request_cores_rest_and_capacity() {
        // 10 s at 1,000 req/s: 10,000 requests.
        let c = cell(
            "stage-3",
            Tool::Wrk,
            1000.0,
            report(
                10.0,
                18.0,
                &[(Role::Load, 5.0), (Role::App, 9.0), (Role::Nginx, 2.0)],
            ),
        );
        assert_eq!(c.requests(), Some(10_000.0));
        assert_eq!(c.role_us(Role::App), Some(900.0));
        assert_eq!(c.cores_busy(9.0), 0.9);
        assert_eq!(c.rest_s(), 2.0);
        assert_eq!(c.server_us(), Some(1100.0));
        assert_eq!(c.machine_us(), Some(1800.0));
        // 2 cores / 1.1 ms
        assert!((c.capacity_rps().unwrap() - 1818.1818).abs() < 1e-3);
        // Held to one CPU of its own (--server-cpus 0): 1 core / 1.1 ms.
        let pinned = CpuCell {
            server_cpus: Some(1),
            ..c.clone()
        };
        assert!((pinned.capacity_rps().unwrap() - 909.0909).abs() < 1e-3);
        // 16 of 18: 11% off, not flagged; 14 of 18 (22%) is.
        assert_eq!(c.mismatch(), None);
        let off = cell(
            "x",
            Tool::Wrk,
            1000.0,
            report(10.0, 18.0, &[(Role::App, 14.0)]),
        );
        assert!((off.mismatch().unwrap() - 4.0 / 18.0).abs() < 1e-12);
        let idle = cell(
            "x",
            Tool::Wrk,
            1000.0,
            report(10.0, 0.0, &[(Role::App, 1.0)]),
        );
        assert_eq!(idle.mismatch(), Some(f64::INFINITY));
        let no_rps = CpuCell {
            rps: None,
            ..c.clone()
        };
        assert_eq!((no_rps.requests(), no_rps.capacity_rps()), (None, None));
    }

    #[test]
    fn server_cpus_of_the_layout() {
        let m = |l: &str| server_cpus(&format!("cpu: x\nlayout: {l}\nos: y\n"));
        assert_eq!(m("server on CPUs 0,1, load tools on CPUs 2-3"), Some(2));
        assert_eq!(m("server on CPUs 2-5,7, load tools on CPUs 0"), Some(5));
        assert_eq!(
            m(
                "server on CPUs 0, load tools on CPUs 1; load tools on a load host of their own (network namespace fk-load-1, 10.200.0.2, veth)"
            ),
            Some(1)
        );
        assert_eq!(
            m("shared: server and load tools on the same CPUs (0,1)"),
            None
        );
        assert_eq!(m("server on CPUs any, load tools on CPUs 1"), None);
        assert_eq!(server_cpus("cpu: x\n"), None);
    }

    #[test]
    fn gil_held_is_left_out_of_totals() {
        let p = BTreeMap::from([
            ("query".to_string(), 0.5),
            ("render".to_string(), 0.25),
            (GIL_HELD.to_string(), 0.6),
        ]);
        assert_eq!(additive_total(&p), 0.75);
        assert!(overlaps_other_phases("gil-held") && !overlaps_other_phases("gil-wait"));
    }

    #[test]
    fn csv_has_one_field_per_header_column() {
        let run = CpuRun {
            cells: vec![cell(
                "stage-2",
                Tool::Wrk,
                100.0,
                report(1.0, 1.0, &[(Role::App, 0.5)]),
            )],
            notes: vec![],
        };
        let text = csv(&run);
        let mut lines = text.lines();
        let n = lines.next().unwrap().split(',').count();
        assert_eq!(lines.next().unwrap().split(',').count(), n);
        assert_eq!(num(Some(-0.0001)), "0");
    }

    #[test]
    fn lessons_need_their_rows() {
        let mut run = CpuRun::default();
        assert!(lessons(&run).is_empty());
        run.cells.push(cell(
            "stage-1",
            Tool::LoadgenRealistic,
            500.0,
            report(
                10.0,
                19.0,
                &[(Role::Cgi, 9.0), (Role::CgiHost, 1.0), (Role::Load, 2.0)],
            ),
        ));
        let l = lessons(&run);
        assert_eq!(l.len(), 1);
        // 10 s at 500 req/s = 5,000 requests: 1,800 + 200 µs.
        assert!(
            l[0].contains("costs 2,000 µs of CPU: 1,800 µs in the CGI program"),
            "{}",
            l[0]
        );
    }
}
