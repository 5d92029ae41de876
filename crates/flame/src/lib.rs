//! # flame — where a row's CPU goes, down to the function
//!
//! The lesson: "know where the bottlenecks are" does not stop at the
//! process. `cpuwatch` says which role (app, nginx, memcached, the CGI
//! programs, CPython) spent the CPU; a flame graph says which functions of
//! that role did.
//!
//! `scripts/compare.sh --profile` runs one extra realistic-mix window per
//! row under `perf record -a -g` and hands the result to this crate:
//!
//! - [`collapse()`]: `perf script` text (with `--show-task-events`) and the
//!   row's pid → role map (the roles cpuwatch gave the row's processes in
//!   that window, `runfiles::cpu::Role`) → folded stacks whose root frame
//!   is the role, the second the thread's name. Samples of processes that
//!   are not the row's (the load tool, the rest of the machine) are
//!   dropped; a process the map does not name but whose parent it does
//!   (the perf FORK events say who forked whom) is its parent's, or a `cgi`
//!   program when the parent is a `cgi-host` or `lighttpd`: that is how the
//!   short-lived CGI children of stage-1 and python-1, which start and exit
//!   inside the window, are counted.
//! - [`svg()`]: folded stacks → a flame graph (inferno's `flamegraph`).
//! - [`diff()`]: two folded files, one role kept → a differential flame
//!   graph (inferno's `differential`, the first profile scaled to the
//!   second's total: red grew, blue shrank).
//! - [`top()`]: per role, the top N frames by self time, as TSV
//!   ([`TOP_HEADER`]), which `report` puts in `latest.md` (the report reads
//!   this TSV and the SVGs; it never links inferno or runs perf).
//!
//! What gets named: our binaries (built with `debug = "line-tables-only"`,
//! unwound with DWARF, see `scripts/compare.sh`'s `profile_window`) down
//! to handlers, rusqlite/SQLite and askama; Debian's nginx exports its
//! symbols (571 `ngx_*` functions), so nginx's frames are named;
//! Debian's memcached is stripped and exports none of its functions, so
//! its stacks show the kernel's, libc's and libevent's frames, and
//! `[unknown]` for memcached's own code (the role and thread frames still
//! say whose they are). In a quick run of stage-2 and stage-4, 96–97% of
//! the app's samples and all of nginx's unwound to the thread's start,
//! memcached's 45%.
//!
//! Run it: `cargo run -p flame -- --help` (subcommands `collapse`, `svg`,
//! `diff`, `top`); the tests: `cargo test -p flame`.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

pub mod roles;

pub use roles::RoleMap;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("line {line}: not a folded stack (`frame;frame;… COUNT`): {text}")]
    Folded { line: usize, text: String },
    #[error("the cpuwatch file: {0}")]
    CpuJson(String),
}

fn io_err(what: &str) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        what: what.to_string(),
        source,
    }
}

/// Collapses `perf script` text into folded stacks rooted at each
/// process's role (`role;thread;outermost;…;innermost COUNT`); samples of
/// processes the map does not reach are dropped. Returns the number of
/// samples kept.
pub fn collapse(perf_script: &str, map: &RoleMap, out: &mut impl Write) -> Result<u64, Error> {
    // The task events (FORK, COMM, EXIT) are one line each; inferno wants
    // only the samples, so they are taken out here.
    let mut forks = HashMap::new();
    let mut samples = String::with_capacity(perf_script.len());
    for line in perf_script.lines() {
        if line.contains(": PERF_RECORD_") {
            if let Some((child, parent)) = roles::fork_event(line) {
                forks.insert(child, parent);
            }
        } else {
            samples.push_str(line);
            samples.push('\n');
        }
    }
    let mut opt = inferno::collapse::perf::Options::default();
    opt.include_pid = true;
    opt.nthreads = 1;
    let mut folder = inferno::collapse::perf::Folder::from(opt);
    let mut folded = Vec::new();
    inferno::collapse::Collapse::collapse(&mut folder, samples.as_bytes(), &mut folded)
        .map_err(io_err("collapsing perf script"))?;
    let folded = String::from_utf8_lossy(&folded);
    let mut merged: BTreeMap<String, u64> = BTreeMap::new();
    for (n, line) in folded.lines().enumerate() {
        let (stack, count) = split_count(line, n + 1)?;
        let (root, rest) = stack.split_once(';').unwrap_or((stack, ""));
        // inferno's root frame with include_pid: `comm-PID`.
        let Some((comm, pid)) = root.rsplit_once('-') else {
            continue;
        };
        let Some(role) = pid.parse().ok().and_then(|pid| map.resolve(pid, &forks)) else {
            continue;
        };
        let mut key = format!("{role};{comm}");
        if !rest.is_empty() {
            key.push(';');
            key.push_str(rest);
        }
        *merged.entry(key).or_default() += count;
    }
    let mut kept = 0;
    for (stack, count) in &merged {
        writeln!(out, "{stack} {count}").map_err(io_err("writing folded stacks"))?;
        kept += count;
    }
    Ok(kept)
}

/// `a;b;c 12` → (`a;b;c`, 12).
fn split_count(line: &str, n: usize) -> Result<(&str, u64), Error> {
    let bad = || Error::Folded {
        line: n,
        text: line.chars().take(120).collect(),
    };
    let (stack, count) = line.trim_end().rsplit_once(' ').ok_or_else(bad)?;
    let count = count.parse().map_err(|_| bad())?;
    Ok((stack, count))
}

/// The folded lines whose root frame is `role` (all of them for `None`).
pub fn keep_role(folded: &str, role: Option<&str>) -> String {
    folded
        .lines()
        .filter(|l| role.is_none_or(|r| l.split(';').next() == Some(r)))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Draws folded stacks as a flame graph SVG.
pub fn svg(folded: &str, title: &str, out: &mut impl Write) -> Result<(), Error> {
    let mut opt = inferno::flamegraph::Options::default();
    opt.title = title.to_string();
    opt.count_name = "samples".into();
    // Colours from the function names, so two runs' graphs look alike.
    opt.hash = true;
    opt.deterministic = true;
    inferno::flamegraph::from_reader(&mut opt, folded.as_bytes(), out)
        .map_err(io_err("drawing the flame graph"))
}

/// A differential flame graph: the stacks of `after`, coloured by how
/// their share changed from `before` (red grew, blue shrank; `before` is
/// scaled to `after`'s total).
pub fn diff(before: &str, after: &str, title: &str, out: &mut impl Write) -> Result<(), Error> {
    let opt = inferno::differential::Options {
        normalize: true,
        strip_hex: true,
    };
    let mut two_columns = Vec::new();
    inferno::differential::from_readers(opt, before.as_bytes(), after.as_bytes(), &mut two_columns)
        .map_err(io_err("differencing the folded stacks"))?;
    svg(&String::from_utf8_lossy(&two_columns), title, out)
}

/// `top`'s TSV header; one line per (role, rank) follows, roles in name
/// order, each role's frames by self samples, most first.
pub const TOP_HEADER: &str = "role\trank\tframe\tself_samples\trole_samples\tshare";

/// One line of [`top`]'s table.
#[derive(Debug, Clone, PartialEq)]
pub struct TopFrame {
    pub role: String,
    pub frame: String,
    pub self_samples: u64,
    pub role_samples: u64,
}

impl TopFrame {
    /// The frame's self samples over its role's samples.
    pub fn share(&self) -> f64 {
        self.self_samples as f64 / self.role_samples.max(1) as f64
    }
}

/// Per role (the root frame), the `n` frames with the most self samples
/// (the innermost frame of a stack; ties by name).
pub fn top(folded: &str, n: usize) -> Result<Vec<TopFrame>, Error> {
    let mut per_role: BTreeMap<&str, (u64, HashMap<&str, u64>)> = BTreeMap::new();
    for (i, line) in folded.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (stack, count) = split_count(line, i + 1)?;
        let role = stack.split(';').next().unwrap_or(stack);
        let leaf = stack.rsplit(';').next().unwrap_or(stack);
        let (total, frames) = per_role.entry(role).or_default();
        *total += count;
        *frames.entry(leaf).or_default() += count;
    }
    let mut out = Vec::new();
    for (role, (total, frames)) in per_role {
        let mut frames: Vec<(&str, u64)> = frames.into_iter().collect();
        frames.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        out.extend(frames.into_iter().take(n).map(|(frame, c)| TopFrame {
            role: role.to_string(),
            frame: frame.to_string(),
            self_samples: c,
            role_samples: total,
        }));
    }
    Ok(out)
}

/// [`top`]'s lines as TSV, [`TOP_HEADER`] first (share with 4 decimals).
pub fn top_tsv(frames: &[TopFrame]) -> String {
    let mut o = format!("{TOP_HEADER}\n");
    let mut rank = 0;
    let mut last_role = "";
    for f in frames {
        if f.role != last_role {
            rank = 0;
            last_role = &f.role;
        }
        rank += 1;
        // A tab in a frame name would break the table.
        let frame = f.frame.replace('\t', " ");
        o.push_str(&format!(
            "{}\t{rank}\t{frame}\t{}\t{}\t{:.4}\n",
            f.role,
            f.self_samples,
            f.role_samples,
            f.share()
        ));
    }
    o
}

/// Reads a whole file or stdin (`-`) as text (perf script may print bytes
/// that are not UTF-8 in a symbol: they are replaced).
pub fn read_input(path: &str) -> Result<String, Error> {
    let mut bytes = Vec::new();
    if path == "-" {
        io::Read::read_to_end(&mut io::stdin().lock(), &mut bytes)
            .map_err(io_err("reading stdin"))?;
    } else {
        bytes = std::fs::read(path).map_err(io_err(path))?;
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests;
