//! # loadgen — load FlickrKillr (or anything HTTP/1.1 on localhost) and say what it cost
//!
//! The talk measured its 4th iteration at 616 req/s with a homegrown tool and
//! at 1750 req/s with `ab`: the tool's own cost and what it asks for both
//! matter. This binary is as cheap as wrk (see `calibrate.sh`), says which
//! mix it sent, and never hides a server's queue behind its own pacing.
//!
//! ```text
//! cargo run --release -p loadgen -- -c 64 -d 10s http://127.0.0.1:8080/
//! cargo run --release -p loadgen -- --mix realistic --db data/flickrkillr.db http://127.0.0.1:8080/
//! cargo run --release -p loadgen -- --rate 500 --json out.json http://127.0.0.1:8080/photo/1
//! cargo run --release -p loadgen -- verify --db data/flickrkillr.db http://127.0.0.1:8080/
//! ```
//!
//! The JSON schema and the counting rules are in the library docs (`src/lib.rs`);
//! `verify` runs the checks of the `contract` crate (`crates/contract`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use loadgen::{Config, Limit, MixChoice, Sample, defaults, parse_duration, summary::thousands};

/// Load an HTTP/1.1 server on localhost and report throughput, latency
/// percentiles, errors and the server's own timings.
///
/// Closed loop by default (C connections, each sending its next request when
/// the last answer arrives); --rate switches to an open loop whose latencies
/// count from each request's scheduled time.
#[derive(Parser, Debug)]
#[command(
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check that a server serves the FlickrKillr contract (the checks of
    /// the `contract` crate, the same ones `cargo test` runs on every
    /// stage): byte-identical pages, photo bytes, statuses of bad inputs,
    /// HEAD, half-closed clients, headers, login -> comment -> logout,
    /// concurrent writes. Exits non-zero if any check fails. Writes one
    /// session and a few dozen comments into the database: run it on a copy.
    Verify(VerifyArgs),
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The URL to load (`--mix single`), or the site's root for other mixes.
    #[arg(required = true)]
    url: Option<String>,
    /// Connections, i.e. virtual users.
    #[arg(short = 'c', long, visible_alias = "connections", default_value_t = defaults::CONCURRENCY)]
    concurrency: usize,
    /// How long to measure, after the warm-up: 10s, 2m, 1m30s, 500ms.
    #[arg(short = 'd', long, value_parser = parse_duration, conflicts_with = "requests")]
    duration: Option<Duration>,
    /// Make exactly N requests (after the warm-up) instead of running for a duration.
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// Load sent before measuring, not counted.
    #[arg(short = 'w', long, value_parser = parse_duration, default_value = "1s")]
    warmup: Duration,
    /// Open loop: send R requests per second on a fixed schedule, whatever
    /// the server's answers do; latency counts from each scheduled time.
    #[arg(short = 'r', long)]
    rate: Option<f64>,
    /// OS threads, each with its own event loop (like wrk's -t).
    #[arg(short = 't', long, default_value_t = defaults::THREADS)]
    threads: usize,
    /// A new connection per request, like ab without -k.
    #[arg(long)]
    no_keepalive: bool,
    /// `single` (the URL given, every time), `realistic` (the documented
    /// FlickrKillr mix, needs --db) or a .toml/.json mix file.
    #[arg(long, default_value = "single")]
    mix: String,
    /// The seeded database (the mix reads its users and photos).
    #[arg(long, env = "FK_DB")]
    db: Option<PathBuf>,
    /// Overrides the mix's random seed.
    #[arg(long)]
    seed: Option<u64>,
    /// A request that takes longer than this is counted as a timeout error.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Extra request header, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Write the report as JSON here (schema: see the crate docs).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Add a per-second timeline to the JSON (warm-up included): responses,
    /// errors by kind, p50/p99, cache hits and X-Served-By, each second.
    #[arg(long)]
    timeline: bool,
    /// No progress line even on a terminal.
    #[arg(short, long)]
    quiet: bool,
    /// Allow a URL that does not resolve to a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Run only on these CPUs (`0,1`, `2-3`): the load tool kept off the
    /// server's cores (`cpus` crate). Default: wherever the OS puts it.
    #[arg(long, env = "FK_LOAD_CPUS")]
    cpus: Option<cpus::CpuList>,
}

#[derive(Args, Debug)]
struct VerifyArgs {
    /// The site's root URL.
    #[arg(required_unless_present = "list")]
    url: Option<String>,
    /// The seeded database the server serves.
    #[arg(long, env = "FK_DB", required_unless_present = "list")]
    db: Option<PathBuf>,
    /// The photo files (default: photos/ beside the database).
    #[arg(long)]
    photos_dir: Option<PathBuf>,
    /// Per-request timeout.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Comments the concurrent-writers check posts.
    #[arg(long, default_value_t = contract::VERIFY_WRITES)]
    writes: usize,
    /// Run only these checks (ids, comma-separated; see --list).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Leave these checks out (ids, comma-separated): a documented
    /// exemption, such as stage-4's `half-close`. Printed with the verdict.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
    /// List the checks and what each promises, and exit.
    #[arg(long)]
    list: bool,
    /// Allow a URL that does not resolve to a loopback address.
    #[arg(long)]
    allow_remote: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Verify(v)) => verify(v),
        None => run(cli.run),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    // Before any thread exists: every thread started later keeps the mask.
    cpus::pin_if(a.cpus.as_ref())?;
    let url = a.url.context("a URL is required")?;
    let mut cfg = Config::new(&url);
    cfg.concurrency = a.concurrency;
    cfg.threads = a.threads;
    cfg.limit = match (a.requests, a.duration) {
        (Some(n), _) => Limit::Requests(n),
        (None, Some(d)) => Limit::Duration(d),
        (None, None) => Limit::Duration(defaults::DURATION),
    };
    cfg.warmup = a.warmup;
    cfg.rate = a.rate;
    cfg.keepalive = !a.no_keepalive;
    cfg.timeout = a.timeout;
    cfg.mix = MixChoice::parse(&a.mix);
    cfg.db = a.db;
    cfg.seed = a.seed;
    cfg.allow_remote = a.allow_remote;
    for h in &a.headers {
        let Some((k, v)) = h.split_once(':') else {
            bail!("--header {h:?}: expected \"Name: value\"");
        };
        cfg.headers
            .push((k.trim().to_string(), v.trim().to_string()));
    }

    let cancel = Arc::new(AtomicBool::new(false));
    watch_ctrl_c(cancel.clone());
    let live = !a.quiet && std::io::stderr().is_terminal();
    // The live line's last second comes from the per-second buckets, so a
    // run on a terminal records them; the JSON carries them only if asked.
    cfg.timeline = a.timeline || live;
    let bar = if live {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}").context("progress template")?,
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut progress = |p: &loadgen::Progress| {
        let when = if p.warming_up {
            format!("warm-up {:.1}s", -p.elapsed)
        } else {
            format!("{:6.1}s", p.elapsed)
        };
        let last = p
            .last_second
            .as_ref()
            // A second line: a terminal as narrow as 80 columns keeps both.
            .map(|s| format!("\n  {}", last_second(s)))
            .unwrap_or_default();
        bar.set_message(format!(
            "{when}  {:>10} req/s  {:>12} requests  {} errors{last}",
            thousands(p.rps as u64),
            thousands(p.requests),
            thousands(p.errors)
        ));
        bar.tick();
    };
    let mut report = loadgen::run_with(&cfg, &mut progress, &cancel)
        .with_context(|| format!("loading {url}"))?;
    if !a.timeline {
        report.timeline = None;
        report.timeline_zero_unix_s = None;
    }
    bar.finish_and_clear();
    print!("{}", loadgen::summary::text(&report));
    if let Some(path) = &a.json {
        std::fs::write(path, report.to_json() + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if cancel.load(Ordering::Relaxed) {
        eprintln!("loadgen: interrupted; the figures cover the time measured before Ctrl-C");
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// The live line's account of one second: the same figures as a timeline
/// sample (req/s, errors, p50/p99, hit ratio, served-by split).
fn last_second(s: &Sample) -> String {
    let mut out = format!(
        "second {}: {} req/s",
        s.t_s,
        thousands(s.rps.round() as u64)
    );
    let e = &s.errors;
    if e.total == 0 {
        out.push_str(", 0 errors");
    } else {
        let mut kinds: Vec<String> = [
            ("connect", e.connect),
            ("write", e.write),
            ("read", e.read),
            ("timeout", e.timeout),
            ("parse", e.parse),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
        kinds.extend(e.status.iter().map(|(c, n)| format!("{c}: {n}")));
        out.push_str(&format!(", {} errors ({})", e.total, kinds.join(", ")));
    }
    if let Some(l) = &s.latency_ms {
        out.push_str(&format!(", p50 {} / p99 {} ms", l.p50, l.p99));
    }
    if let Some(h) = s.hit_ratio() {
        out.push_str(&format!(", {:.0}% hits", h * 100.0));
    }
    let split = served_by_split(&s.served_by, 4);
    if !split.is_empty() {
        out.push_str(", served by ");
        out.push_str(&split);
    }
    out
}

/// `pid=12 i0 51% · pid=13 i1 49%`: each value's share, the prefix all values
/// share (up to a space: `stage-3 `) left out, the `max` largest shown.
fn served_by_split(served_by: &std::collections::BTreeMap<String, u64>, max: usize) -> String {
    let total: u64 = served_by.values().sum();
    if total == 0 {
        return String::new();
    }
    let names: Vec<&str> = served_by.keys().map(String::as_str).collect();
    let mut common = names[0].len();
    for n in &names[1..] {
        common = common.min(
            names[0]
                .bytes()
                .zip(n.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let cut = if names.len() > 1 {
        names[0][..common].rfind(' ').map_or(0, |i| i + 1)
    } else {
        0
    };
    let mut by_count: Vec<(&String, &u64)> = served_by.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut parts: Vec<String> = by_count
        .iter()
        .take(max)
        .map(|(n, c)| format!("{} {:.0}%", &n[cut..], **c as f64 * 100.0 / total as f64))
        .collect();
    if by_count.len() > max {
        parts.push(format!("+{} more", by_count.len() - max));
    }
    parts.join(" · ")
}

/// The first Ctrl-C ends the run early (the report is still printed); a
/// second one kills the process as usual.
fn watch_ctrl_c(cancel: Arc<AtomicBool>) {
    let _ = std::thread::Builder::new()
        .name("ctrl-c".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.store(true, Ordering::Relaxed);
                }
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            });
        });
}

fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    if a.list {
        for c in contract::CHECKS {
            println!("{:<11} {}", c.id, c.promise);
        }
        return Ok(ExitCode::SUCCESS);
    }
    for id in a.only.iter().chain(&a.skip) {
        if contract::check(id).is_none() {
            bail!("{id}: no such check (see `loadgen verify --list`)");
        }
    }
    let (url, db) = (a.url.unwrap_or_default(), a.db.unwrap_or_default());
    let target = loadgen::target::Target::parse(&url, a.allow_remote)?;
    let site = contract::Site::open(&db, a.photos_dir.as_deref())
        .with_context(|| format!("reading {}", db.display()))?;
    let client = contract::Client {
        addr: target.addr.to_string(),
        host: target.host_header.clone(),
        timeout: a.timeout,
    };
    let opts = contract::Options {
        writes: a.writes,
        ..contract::Options::default()
    };
    let selected = |c: &contract::Check| {
        (a.only.is_empty() || a.only.iter().any(|id| id == c.id))
            && !a.skip.iter().any(|id| id == c.id)
    };
    let report = contract::run(&client, &site, &opts, selected, &mut |o| println!("{o}"));
    if !a.skip.is_empty() {
        println!("skipped by request: {}", a.skip.join(", "));
    }
    let failed: Vec<_> = report.failures().collect();
    if failed.is_empty() {
        println!("all {} checks passed", report.outcomes.len());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "\n{} of {} checks FAILED:",
        failed.len(),
        report.outcomes.len()
    );
    for c in failed {
        println!("  - {}: {}", c.name, c.detail);
    }
    Ok(ExitCode::FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_second_in_words() {
        let s = Sample {
            t_s: 3,
            span_s: 1.0,
            responses: 200,
            rps: 200.0,
            errors: loadgen::summary::Errors {
                total: 3,
                timeout: 1,
                status: [("500".to_string(), 2)].into(),
                ..Default::default()
            },
            latency_ms: Some(loadgen::timeline::SampleLatency { p50: 1.5, p99: 9.0 }),
            cache_hits: 150,
            served_by: [
                ("stage-3 pid=1 i0".to_string(), 120),
                ("stage-3 pid=2 i1".to_string(), 80),
            ]
            .into(),
        };
        assert_eq!(
            last_second(&s),
            "second 3: 200 req/s, 3 errors (timeout 1, 500: 2), p50 1.5 / p99 9 ms, \
             75% hits, served by pid=1 i0 60% · pid=2 i1 40%"
        );
    }

    #[test]
    fn served_by_split_drops_the_shared_prefix() {
        let m = std::collections::BTreeMap::from([
            ("stage-3 pid=12 i0".to_string(), 51),
            ("stage-3 pid=13 i1".to_string(), 49),
        ]);
        assert_eq!(served_by_split(&m, 4), "pid=12 i0 51% · pid=13 i1 49%");
        let one = std::collections::BTreeMap::from([("stage-2 pid=7".to_string(), 3)]);
        assert_eq!(served_by_split(&one, 4), "stage-2 pid=7 100%");
        let many: std::collections::BTreeMap<String, u64> =
            (0..6).map(|i| (format!("stage-1 pid={i}"), 1)).collect();
        assert!(served_by_split(&many, 4).ends_with(" · +2 more"));
        assert_eq!(served_by_split(&Default::default(), 4), "");
    }
}
