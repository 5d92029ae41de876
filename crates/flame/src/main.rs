//! # flame — a row's flame graph, from `perf script` to SVG and TSV
//!
//! ```text
//! perf script --show-task-events -i ROW.perf.data \
//!   | flame collapse --cpu-json ROW.profiled.cpu.json > ROW.folded
//! flame svg ROW.folded --title "stage-2" --out ROW-flame.svg
//! flame diff stage-3.folded stage-4.folded --role app --out stage-4-vs-stage-3-flame.svg
//! flame top ROW.folded -n 5 > ROW.flame-top.tsv
//! ```
//!
//! The lesson and the rules are in the library's docs (`crates/flame/src/lib.rs`);
//! `scripts/compare.sh --profile` runs these for every profiled row.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use flame::RoleMap;

/// Flame graphs of a measured row: perf's stacks by role (app, nginx,
/// memcached, cgi, …), drawn with inferno, and the top frames per role.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// perf script text → folded stacks rooted at each process's role.
    ///
    /// `perf script --show-task-events` text (stdin or FILE) → folded
    /// stacks whose root frame is the process's role, then the thread's
    /// name. The roles come from the cpuwatch file of the profiled window
    /// (every process of the row); a process it does not list is its
    /// parent's role (perf's FORK events), a child of a CGI host is `cgi`,
    /// anything else (the load tool, the machine) is dropped.
    Collapse {
        /// cpuwatch's JSON (`flickrkillr-cpu/1`) of the profiled window.
        #[arg(long, value_name = "FILE")]
        cpu_json: PathBuf,
        /// perf script's output (`-`: stdin).
        #[arg(default_value = "-")]
        input: String,
    },
    /// Folded stacks → a flame graph SVG.
    Svg {
        /// Folded stacks (`-`: stdin).
        input: String,
        #[arg(long, default_value = "Flame graph")]
        title: String,
        #[arg(long, value_name = "SVG")]
        out: PathBuf,
    },
    /// Two folded files → a differential flame graph.
    ///
    /// AFTER's stacks,
    /// red where their share grew from BEFORE, blue where it shrank
    /// (BEFORE scaled to AFTER's total samples).
    Diff {
        before: String,
        after: String,
        /// Keep only the stacks of this role (their root frame), e.g. `app`.
        #[arg(long)]
        role: Option<String>,
        #[arg(long, default_value = "Differential flame graph")]
        title: String,
        #[arg(long, value_name = "SVG")]
        out: PathBuf,
    },
    /// Folded stacks → per role, the top N frames by self time (TSV).
    ///
    /// The TSV (role, rank, frame, self_samples, role_samples, share) on stdout.
    Top {
        /// Folded stacks (`-`: stdin).
        input: String,
        #[arg(short, default_value_t = 5)]
        n: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Args::parse().cmd {
        Cmd::Collapse { cpu_json, input } => {
            let json = std::fs::read_to_string(&cpu_json)
                .with_context(|| format!("reading {}", cpu_json.display()))?;
            let map = RoleMap::from_cpu_json(&json)
                .with_context(|| format!("reading {}", cpu_json.display()))?;
            let text = flame::read_input(&input)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let kept = flame::collapse(&text, &map, &mut out)?;
            out.flush()?;
            if kept == 0 {
                eprintln!("flame collapse: no sample of the row's processes in the input");
            }
        }
        Cmd::Svg { input, title, out } => {
            let folded = flame::read_input(&input)?;
            write_svg(&out, |w| flame::svg(&folded, &title, w))?;
        }
        Cmd::Diff {
            before,
            after,
            role,
            title,
            out,
        } => {
            let b = flame::keep_role(&flame::read_input(&before)?, role.as_deref());
            let a = flame::keep_role(&flame::read_input(&after)?, role.as_deref());
            anyhow::ensure!(
                !b.is_empty() && !a.is_empty(),
                "no stacks{} in {}",
                role.map(|r| format!(" of role {r}")).unwrap_or_default(),
                if b.is_empty() { &before } else { &after }
            );
            write_svg(&out, |w| flame::diff(&b, &a, &title, w))?;
        }
        Cmd::Top { input, n } => {
            let frames = flame::top(&flame::read_input(&input)?, n)?;
            print!("{}", flame::top_tsv(&frames));
        }
    }
    Ok(())
}

fn write_svg(
    path: &PathBuf,
    draw: impl FnOnce(&mut Vec<u8>) -> Result<(), flame::Error>,
) -> anyhow::Result<()> {
    let mut svg = Vec::new();
    draw(&mut svg)?;
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}
