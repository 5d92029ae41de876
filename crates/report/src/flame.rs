//! Where the time goes, down to the function: what `compare.sh --profile`
//! left in RAW_DIR, read as files (this crate never runs perf or links
//! inferno; `crates/flame` made them):
//!
//! - `<row>-flame.svg`, in the run directory (RAW_DIR's parent, where
//!   the report writes its charts too, so there is one copy in a run): the
//!   row's flame graph (roles as root frames), copied next to `latest.md`;
//! - `<row>.flame-top.tsv`: per role, the top frames by self time
//!   (`flame top`'s table: role, rank, frame, self_samples, role_samples,
//!   share);
//! - `<row>.profiled.json`: loadgen's figures of the profiled window,
//!   against the row's unprofiled realistic window (the profiler's cost);
//! - [`DIFF_SVG`] (in the run directory too): stage-4's app instances'
//!   stacks against stage-3's.
//!
//! A run without them has no section.

use std::fmt::Write as _;
use std::path::Path;

use super::{Run, Tool};
use runfiles::cpu::CpuReport;
use runfiles::summary::Summary;

/// The differential graph's file name.
pub const DIFF_SVG: &str = "stage-4-vs-stage-3-flame.svg";

/// How many frames per role the section lists.
pub const TOP_N: usize = 5;

/// One line of `<row>.flame-top.tsv`.
#[derive(Debug, Clone, PartialEq)]
pub struct TopFrame {
    pub role: String,
    pub frame: String,
    pub self_samples: u64,
    pub share: f64,
}

/// One profiled row.
#[derive(Debug, Clone, Default)]
pub struct FlameRow {
    pub row: String,
    /// `<row>-flame.svg`, when present.
    pub svg: Option<String>,
    pub top: Vec<TopFrame>,
    /// req/s of the profiled window (`<row>.profiled.json`).
    pub profiled_rps: Option<f64>,
    /// Cores busy outside the row's processes (another job, perf itself)
    /// in the unprofiled and the profiled window, from their cpu.json: how
    /// far the two windows' req/s can be compared.
    pub outside_cores: (Option<f64>, Option<f64>),
}

/// The run's flame graphs; empty without `--profile`.
#[derive(Debug, Clone, Default)]
pub struct Flame {
    /// Where the SVGs are: the run directory.
    pub dir: std::path::PathBuf,
    pub rows: Vec<FlameRow>,
    /// Whether [`DIFF_SVG`] is in RAW_DIR.
    pub diff: bool,
}

impl Flame {
    /// Reads RAW_DIR's flame files for the rows in `order`.
    pub fn load(raw_dir: &Path, names: &[String], order: &[String]) -> Flame {
        let has = |n: &str| names.iter().any(|x| x == n);
        let dir = raw_dir.parent().unwrap_or(raw_dir).to_path_buf();
        // A row's graph is `flame svg` of its raw/<row>.folded (compare.sh
        // draws it at the end of the run): whether latest.md links it
        // depends on the raw files alone, so latest.md regenerates from
        // raw/ byte for byte, drawn graphs or not.
        let drawn = |n: &str| {
            let folded = n.strip_suffix("-flame.svg").map(|r| format!("{r}.folded"));
            folded.is_some_and(|f| has(&f))
        };
        let rows = order
            .iter()
            .filter_map(|row| {
                let svg = format!("{row}-flame.svg");
                let top = format!("{row}.flame-top.tsv");
                let profiled = format!("{row}.profiled.json");
                if !drawn(&svg) && !has(&top) && !has(&profiled) {
                    return None;
                }
                let read = |n: &str| std::fs::read_to_string(raw_dir.join(n)).ok();
                Some(FlameRow {
                    row: row.clone(),
                    svg: drawn(&svg).then_some(svg),
                    top: read(&top).map(|t| parse_top(&t)).unwrap_or_default(),
                    profiled_rps: read(&profiled)
                        .and_then(|j| serde_json::from_str::<Summary>(&j).ok())
                        .map(|s| s.rps),
                    outside_cores: (
                        outside(read(&format!("{row}.loadgen-realistic.cpu.json"))),
                        outside(read(&format!("{row}.profiled.cpu.json"))),
                    ),
                })
            })
            .collect();
        let diff = has("stage-3.folded") && has("stage-4.folded");
        Flame { dir, rows, diff }
    }

    /// The SVG files to copy next to `latest.md` (those drawn).
    pub fn svgs(&self) -> Vec<String> {
        let mut v: Vec<String> = self.rows.iter().filter_map(|r| r.svg.clone()).collect();
        if self.diff {
            v.push(DIFF_SVG.to_string());
        }
        v.retain(|n| self.dir.join(n).is_file());
        v
    }
}

/// cpuwatch's CPU outside the measured trees, in cores over its window.
fn outside(json: Option<String>) -> Option<f64> {
    let c: CpuReport = serde_json::from_str(&json?).ok()?;
    (c.window_s > 0.0).then(|| c.outside_trees_s / c.window_s)
}

/// `flame top`'s TSV (header first; lines that do not parse are skipped).
pub fn parse_top(tsv: &str) -> Vec<TopFrame> {
    tsv.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let [role, _rank, frame, self_samples, _role_samples, share] = f[..] else {
                return None;
            };
            Some(TopFrame {
                role: role.to_string(),
                frame: frame.to_string(),
                self_samples: self_samples.parse().ok()?,
                share: share.parse().ok()?,
            })
        })
        .collect()
}

/// The profiler's cost on req/s: 1 − profiled / unprofiled, in %.
pub fn cost_pct(unprofiled: f64, profiled: f64) -> Option<f64> {
    (unprofiled > 0.0).then(|| (1.0 - profiled / unprofiled) * 100.0)
}

/// The most the profiler may cost a row's req/s, in % (issue 21's
/// target): more, and a flame graph describes a noticeably other run.
pub const PROFILER_BUDGET_PCT: f64 = 5.0;

/// The profiler's cost on `row`, one value per repetition that profiled
/// it (the first; every one with `compare.sh --profile-reps`): its
/// profiled window against its plain realistic window of the same
/// repetition.
pub fn costs(run: &Run, row: &str) -> Vec<f64> {
    crate::repeats::all(run)
        .iter()
        .filter_map(|r| {
            let plain = r.row(row)?.rps(Tool::LoadgenRealistic)?;
            let text =
                std::fs::read_to_string(r.raw_dir.join(format!("{row}.profiled.json"))).ok()?;
            let profiled = serde_json::from_str::<Summary>(&text).ok()?.rps;
            cost_pct(plain, profiled)
        })
        .collect()
}

/// perf's own CPU, in cores, per profiled window of every repetition: the
/// cores busy outside the row under perf minus in the row's plain window
/// (perf runs outside the row's processes, so it is in the former only).
pub fn perf_cores(run: &Run) -> Vec<f64> {
    let mut v = Vec::new();
    for r in crate::repeats::all(run) {
        for f in &run.flame.rows {
            let read = |n: String| std::fs::read_to_string(r.raw_dir.join(n)).ok();
            let plain = outside(read(format!("{}.loadgen-realistic.cpu.json", f.row)));
            let profiled = outside(read(format!("{}.profiled.cpu.json", f.row)));
            if let (Some(a), Some(b)) = (plain, profiled) {
                v.push(b - a);
            }
        }
    }
    v
}

/// perf's own CPU against the machine's cores, in one sentence: a measured
/// bound on the profiler's direct cost where req/s cannot resolve it.
fn perf_own(o: &mut String, run: &Run) {
    let Some(s) = crate::repeats::Spread::of(perf_cores(run)) else {
        return;
    };
    let cores: u32 = run
        .machine_field("cores")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let share = if cores > 0 {
        format!(
            ", {:.1}% of the machine's {cores} cores",
            s.median / cores as f64 * 100.0
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "perf's own CPU (cores busy outside the row under perf, minus in the plain window; perf is not one of the row's processes): median {} cores over {} windows{share}. The sampling's kernel side (an interrupt and a 16 KB stack copy per sample, 99 times a second per CPU) is charged to the sampled processes and shows only in the req/s comparison.\n",
        crate::repeats::fmt_spread(&s, |x| format!("{x:.3}")),
        s.values.len(),
    );
}

/// With the profiler's cost measured in several repetitions: per row, its
/// median against [`PROFILER_BUDGET_PCT`], in one sentence.
fn cost_verdict(o: &mut String, run: &Run) {
    let spreads: Vec<(String, crate::repeats::Spread)> = run
        .flame
        .rows
        .iter()
        .filter_map(|r| {
            Some((
                r.row.clone(),
                crate::repeats::Spread::of(costs(run, &r.row))?,
            ))
        })
        .filter(|(_, s)| s.values.len() > 1)
        .collect();
    if spreads.is_empty() {
        return;
    }
    // Within the budget either way; above it; or faster under perf, which
    // no profiler is: the profiled window runs second, on a warmer cache,
    // or the windows' noise is larger than the cost.
    let list = |keep: &dyn Fn(f64) -> bool| {
        let v: Vec<String> = spreads
            .iter()
            .filter(|(_, s)| keep(s.median))
            .map(|(r, s)| format!("`{r}` {:.1}%", s.median))
            .collect();
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let b = PROFILER_BUDGET_PCT;
    let _ = writeln!(
        o,
        "The profiler's cost, median over the repetitions that profiled each row (`--profile-reps`): within ±{b:.0}% for {}; above {b:.0}% for {}; faster under perf by more than {b:.0}% (the profiled window runs second, on a warmer cache, or the windows' noise is larger than the cost) for {}. A median says something only where the range of the row's plain req/s is narrower than the cost it is to show.\n",
        list(&|m| m.abs() <= b),
        list(&|m| m > b),
        list(&|m| m < -b),
    );
}

/// `latest.md`'s section (nothing when the run has no flame files).
pub fn markdown(o: &mut String, run: &Run) {
    let f = &run.flame;
    if f.rows.is_empty() && !f.diff {
        return;
    }
    o.push_str("## Where the time goes, function by function (flame graphs)\n\n");
    o.push_str(
        "One extra realistic-mix window per row (first repetition), every process of the row \
         sampled by `perf record -e cpu-clock -F 99 -a --call-graph dwarf,16384`; the root frame of \
         every stack is the process's role, the next the thread's name (`crates/flame`). \
         Click a frame to zoom; the search box finds a function. `[nginx]` or `[memcached]` \
         is a function the binary does not name (nginx's static functions; Debian's memcached \
         is stripped).\n\n",
    );
    o.push_str(
        "| row | flame graph | realistic req/s | under perf | profiler's cost | cores busy outside the row (plain / under perf) |\n\
         |---|---|---:|---:|---:|---:|\n",
    );
    for r in &f.rows {
        let plain = run
            .rows
            .iter()
            .find(|x| x.spec.id == r.row)
            .and_then(|x| x.cell(Tool::LoadgenRealistic).measure())
            .map(|m| m.rps);
        let cost = crate::repeats::Spread::of(costs(run, &r.row));
        let cores = |c: Option<f64>| c.map(|c| format!("{c:.2}")).unwrap_or_else(|| "—".into());
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} / {} |",
            r.row,
            r.svg
                .as_ref()
                .map(|s| format!("[{s}]({s})"))
                .unwrap_or_else(|| "—".into()),
            plain.map(super::fmt::fmt_rps).unwrap_or_else(|| "—".into()),
            r.profiled_rps
                .map(super::fmt::fmt_rps)
                .unwrap_or_else(|| "—".into()),
            cost.map(|c| crate::repeats::fmt_spread(&c, |x| format!("{x:.1}%")))
                .unwrap_or_else(|| "—".into()),
            cores(r.outside_cores.0),
            cores(r.outside_cores.1),
        );
    }
    o.push_str(
        "\nThe profiler's cost: 1 − (req/s under perf) / (req/s of the row's realistic window \
         just before, same run); a negative cost is the noise between two windows. The last \
         column is the CPU of every process outside the row and the load tool (perf itself, \
         or another job on the machine): where it differs between the two windows, so may \
         their req/s, whatever perf costs. With `--profile-reps` every repetition profiles \
         its rows, and the cost is the median of the repetitions with its range.\n\n",
    );
    cost_verdict(o, run);
    perf_own(o, run);
    if f.diff {
        let _ = writeln!(
            o,
            "Differential: [{DIFF_SVG}]({DIFF_SVG}) — the stage-4 app instances' stacks, red where \
             their share of the samples grew against stage-3's instances (same mix), blue where it shrank.\n"
        );
    }
    top_tables(o, f);
}

/// Per row and role, the top frames by self time.
fn top_tables(o: &mut String, f: &Flame) {
    for r in f.rows.iter().filter(|r| !r.top.is_empty()) {
        let _ = writeln!(
            o,
            "**{}**: the top {TOP_N} frames by self time, per role (share of the role's samples)\n",
            r.row
        );
        o.push_str("| role | frame | self samples | share |\n|---|---|---:|---:|\n");
        let mut last = "";
        let mut shown = 0;
        for t in &r.top {
            if t.role != last {
                last = &t.role;
                shown = 0;
            }
            shown += 1;
            if shown > TOP_N {
                continue;
            }
            let _ = writeln!(
                o,
                "| {} | `{}` | {} | {:.1}% |",
                t.role,
                t.frame.replace('|', "\\|").replace('`', "'"),
                t.self_samples,
                t.share * 100.0
            );
        }
        o.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_lines_parse_and_bad_ones_are_skipped() {
        let t = parse_top(
            "role\trank\tframe\tself_samples\trole_samples\tshare\n\
             app\t1\tsqlite3VdbeExec\t30\t100\t0.3000\n\
             app\t2\tbroken\tx\t100\t0.1\n\
             nginx\t1\tngx_http_write_filter\t5\t10\t0.5000\n",
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].frame, "sqlite3VdbeExec");
        assert_eq!(t[1].role, "nginx");
        assert!((t[1].share - 0.5).abs() < 1e-9);
    }

    #[test]
    fn cost_is_the_lost_fraction() {
        assert!((cost_pct(200.0, 190.0).unwrap() - 5.0).abs() < 1e-9);
        assert_eq!(cost_pct(0.0, 10.0), None);
    }

    #[test]
    fn no_files_no_section() {
        let mut o = String::new();
        markdown(&mut o, &Run::empty("x"));
        assert!(o.is_empty());
    }

    #[test]
    fn perf_own_cpu_is_the_outside_cores_it_adds() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = &tmp.path().join("raw");
        std::fs::create_dir(dir).unwrap();
        let cpu = |outside_s: f64| {
            format!(
                r#"{{"schema":"flickrkillr-cpu/1","window_s":2.0,"cores":2,"ticks_per_s":100,"machine_busy_s":3.0,"machine_idle_s":1.0,"machine_irq_s":0.0,"machine_steal_s":0.0,"outside_trees_s":{outside_s},"roles":{{}},"processes":[],"lost_processes":[],"command":[],"delay_s":1.0}}"#
            )
        };
        std::fs::write(dir.join("stage-2.loadgen-realistic.cpu.json"), cpu(0.02)).unwrap();
        std::fs::write(dir.join("stage-2.profiled.cpu.json"), cpu(0.06)).unwrap();
        std::fs::write(dir.join("stage-2.folded"), "app;main;f 1\n").unwrap();
        let names = vec!["stage-2.folded".into(), "stage-2.profiled.cpu.json".into()];
        let mut run = Run::empty("x");
        run.raw_dir = dir.clone();
        run.machine = Some("cores: 2\n".into());
        run.flame = Flame::load(dir, &names, &["stage-2".into()]);
        let v = perf_cores(&run);
        assert_eq!(v.len(), 1);
        assert!((v[0] - 0.02).abs() < 1e-9, "{v:?}");
        let mut o = String::new();
        perf_own(&mut o, &run);
        assert!(
            o.contains("median 0.020 cores over 1 windows, 1.0% of the machine's 2 cores"),
            "{o}"
        );
        // No profiled window of several repetitions: no verdict on the cost.
        let mut o = String::new();
        cost_verdict(&mut o, &run);
        assert!(o.is_empty(), "{o}");
    }

    #[test]
    fn a_profiled_row_gets_its_link_cost_and_top_frames() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("stage-2-flame.svg"), "<svg/>").unwrap();
        let dir = &tmp.path().join("raw");
        std::fs::create_dir(dir).unwrap();
        std::fs::write(
            dir.join("stage-2.flame-top.tsv"),
            "role\trank\tframe\tself_samples\trole_samples\tshare\napp\t1\tapp::router::route\t7\t10\t0.7000\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("stage-2.folded"),
            "app;main;app::router::route 7\n",
        )
        .unwrap();
        let names = vec!["stage-2.flame-top.tsv".into(), "stage-2.folded".into()];
        let mut run = Run::empty("x");
        run.flame = Flame::load(dir, &names, &["stage-2".into(), "stage-3".into()]);
        assert_eq!(run.flame.svgs(), vec!["stage-2-flame.svg".to_string()]);
        // The link follows raw/ alone (latest.md regenerates from it); only
        // the copying needs the graph drawn.
        std::fs::remove_file(tmp.path().join("stage-2-flame.svg")).unwrap();
        let undrawn = Flame::load(dir, &names, &["stage-2".into()]);
        assert_eq!(undrawn.rows[0].svg.as_deref(), Some("stage-2-flame.svg"));
        assert!(undrawn.svgs().is_empty());
        let mut o = String::new();
        markdown(&mut o, &run);
        assert!(
            o.contains("## Where the time goes, function by function (flame graphs)"),
            "{o}"
        );
        assert!(o.contains("[stage-2-flame.svg](stage-2-flame.svg)"), "{o}");
        assert!(
            o.contains("| app | `app::router::route` | 7 | 70.0% |"),
            "{o}"
        );
        assert!(!o.contains(DIFF_SVG), "{o}");
    }
}
