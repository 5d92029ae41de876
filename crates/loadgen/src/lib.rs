//! # loadgen — FlickrKillr's load generator and conformance checker
//!
//! The lesson this crate carries: the talk measured its fourth iteration at
//! **616 req/s with a homegrown tool and 1750 req/s with `ab`**. Same site,
//! same machine, a factor of almost three — the tool was measuring itself. A
//! load generator's own cost (CPU taken from the server on the same machine,
//! time spent in its own code before it sends the next request) and *what* it
//! asks for (one cached URL, or a realistic spread of pages, images, logins
//! and writes) both decide the figure. So this tool:
//!
//! - costs about what `wrk` costs: a hand-written HTTP/1.1 client (request
//!   bytes serialised once, `httparse` on the response head in place, bodies
//!   skipped by Content-Length or chunk framing, one buffer per connection),
//!   one current-thread tokio runtime per OS thread (`--threads`, 2 by
//!   default, like wrk), connections spread over the threads. `calibrate.sh`
//!   checks it against wrk on nginx: it must reach >= 0.9x wrk's req/s;
//! - says what it asked for: `--mix single` (one URL, like ab and wrk),
//!   `--mix realistic` (see [`mix`]) or a mix file;
//! - reports honestly: HDR-histogram percentiles, errors by kind, and in open
//!   loop (`--rate`) latency from each request's *intended* send time, so a
//!   stalled server cannot hide its queue (no coordinated omission), with the
//!   naive figure beside it;
//! - says *when* (`--timeline`, see [`timeline`]): the same figures second
//!   by second, warm-up included, so a killed instance or an emptied cache
//!   shows up in the seconds it happened instead of being averaged away.
//!
//! Two neighbours have crates of their own, so that each crate is one tool:
//! `loadgen verify URL --db PATH` runs the [`contract`] crate's checks
//! (the same ones `cargo test` runs), and the report of a
//! `scripts/compare.sh` run (tables and charts) is the `report` crate.
//!
//! ## Run it
//!
//! ```text
//! cargo run --release -p loadgen -- -c 64 -d 10s http://127.0.0.1:8080/
//! cargo run --release -p loadgen -- --mix realistic --db data/flickrkillr.db -c 32 -d 30s http://127.0.0.1:8080/
//! cargo run --release -p loadgen -- --rate 500 -c 50 -d 20s --json out.json http://127.0.0.1:8080/photo/1
//! cargo run --release -p loadgen -- --timeline --json t.json -d 20s http://127.0.0.1:8080/
//! cargo run --release -p loadgen -- verify --db data/flickrkillr.db http://127.0.0.1:8080/
//! crates/loadgen/calibrate.sh     # its own cost, against wrk on nginx
//! crates/loadgen/calibrate.sh --loadgen-arg --timeline   # the same with a timeline
//! ```
//!
//! In code: [`run`]`(&Config) -> Summary`.
//!
//! ## Counting rules
//!
//! - `requests`: responses received (any status) during the measurement
//!   window — after `--warmup`, before the end of `--duration` (a response
//!   arriving after the end is dropped, as in wrk). With `--requests N`,
//!   exactly N attempts are made after the warm-up, and `duration_s` runs to
//!   the last answer.
//! - `rps` = `requests / duration_s`.
//! - `errors.total` = transport errors (connect, write, read, timeout, parse)
//!   + responses outside 2xx/3xx. A failed attempt is not a request.
//! - Latency includes connecting when a request needs a new connection
//!   (always with `--no-keepalive`, as ab without `-k`).
//! - Open loop: request j is due at `start + j / rate`, spread over the
//!   connections round-robin. A connection whose previous answer came after
//!   the due time sends at once, and its latency counts from the due time
//!   (the queue the server built is in the figure: no coordinated
//!   omission). A connection that is early waits for the due time and counts
//!   from when it sends; the wait uses tokio's timer, which has 1 ms
//!   resolution, so sends are grouped per millisecond.
//! - Timeline (`--timeline`): second `t` holds what *arrived* in
//!   `[t, t+1)` seconds after the end of the warm-up (responses by arrival,
//!   transport errors by when they failed), warm-up included (negative `t`),
//!   every second of the run listed, empty ones too. Its figures follow the
//!   rules above (errors, open-loop latency from the intended send time);
//!   its p50/p99 come from a per-second histogram at 0.8% resolution. In
//!   duration mode the samples with `t_s >= 0` add up to the run's
//!   `requests`, `errors` and `cache_hits`. `served_by` names the same values
//!   as the run's (the first 32 distinct values, here warm-up included, then
//!   `(other)`). Costs nothing measurable (each thread counts into its own
//!   per-second buckets, merged at the end: see [`timeline`]); on a
//!   terminal the progress line shows the last second the same way.
//!
//! ## JSON schema (`--json PATH`), `"schema": "flickrkillr-loadgen/1"`
//!
//! Every key is always present (`null` where noted); times in milliseconds
//! unless the key ends in `_s`; maps have string keys, sorted. The types
//! are `runfiles::summary` and `runfiles::timeline` (what `report` reads
//! back); this crate fills them.
//!
//! ```text
//! {
//!   "schema": "flickrkillr-loadgen/1",
//!   "tool": "loadgen 0.1.0",
//!   "url": "http://127.0.0.1:8080/",
//!   "mix": "single" | "realistic" | "<mix file path>",
//!   "mode": "closed" | "open",
//!   "concurrency": 64,            // connections = virtual users
//!   "threads": 2,
//!   "keepalive": true,
//!   "rate": null | 500.0,         // open loop: requests/s asked for
//!   "warmup_s": 1.0,
//!   "duration_s": 10.0,           // the measurement window
//!   "requests": 640000,           // responses received in the window
//!   "rps": 64000.0,
//!   "bytes": 1500000000,          // response bytes (head + body) read
//!   "connections": 64,            // connections opened (warm-up included)
//!   "errors": { "total": 3, "connect": 0, "write": 0, "read": 1,
//!               "timeout": 0, "parse": 0, "status": { "500": 2 } },
//!   "status": { "200": 639998, "500": 2 },          // every response
//!   "latency_ms": { "mean": .., "stdev": .., "min": .., "p50": .., "p90": ..,
//!                   "p99": .., "p999": .., "max": .. },
//!   "uncorrected_latency_ms": null | { same keys },  // open loop: from the actual send
//!   "kinds": { "<kind>": { "requests": .., "errors": .., "rps": ..,
//!                          "latency_ms": { same keys },
//!                          "app_responses": ..,  // answered by an app (had Server-Timing)
//!                          "app_ms": .. } },     // their mean Server-Timing total (gil-held left out)
//!   "server_timing": { "<kind>": { "<phase>": mean_ms } },
//!   "served_by": { "<X-Served-By value>": count, "(other)": count },
//!   "cache_hits": 0,              // responses with X-Cache: HIT
//!   "timeline": null | [          // --timeline: one sample per second
//!     { "t_s": -1,                // start of the second, from the end of the warm-up
//!       "span_s": 1.0,            // how much of it the run covered
//!       "responses": 6400, "rps": 6400.0,
//!       "errors": { same keys as the run's errors },
//!       "latency_ms": null | { "p50": .., "p99": .. },   // null: no response that second
//!       "cache_hits": 4700,
//!       "served_by": { "<X-Served-By value>": count } }, ...
//!   ],
//!   "timeline_zero_unix_s": null | 1764624001.123   // --timeline: wall clock at t_s = 0
//! }
//! ```
//!
//! Files written before `timeline` existed have neither key; they read as
//! `null` (the schema is unchanged: the keys are additions).
//! `timeline_zero_unix_s` (Unix time, ms precision, of the end of the
//! warm-up) lets a script that does something to the site during the run
//! place it on the timeline from its own clock: `t_s = date - zero`. The
//! process starts its clock only after reading the mix's site (0.4 s for
//! 100k users), so the script's own start time is not a substitute.
//!
//! Kinds: `home`, `user`, `photo`, `static`, `login`, `comment`, `other`
//! (`--mix single` files its one URL under the kind of its path). Server-Timing
//! means are over the responses that carried the phase.

pub mod conn;
pub mod duration;
mod engine;
pub mod http;
pub mod mix;
pub mod stats;
pub mod summary;
pub mod target;
pub mod timeline;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use duration::parse_duration;
pub use engine::Progress;
pub use mix::{MixChoice, MixSpec};
pub use summary::{Latency, Summary};
pub use timeline::Sample;

/// Everything that can stop a run before it starts (errors *during* a run
/// are counted, not returned).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad URL {url}: {why}")]
    Url { url: String, why: String },
    #[error("{0}")]
    Config(String),
    #[error("mix file {path}: {why}")]
    Mix { path: PathBuf, why: String },
    #[error("{0}")]
    Model(#[from] model::ModelError),
    #[error("database: {0}")]
    Db(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// When a run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Measure for this long (after the warm-up).
    Duration(Duration),
    /// Make this many attempts (after the warm-up).
    Requests(u64),
}

/// A load run. [`Config::new`] gives the CLI's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub url: String,
    /// Connections (= virtual users).
    pub concurrency: usize,
    pub threads: usize,
    pub limit: Limit,
    pub warmup: Duration,
    /// Open loop: total requests per second; `None` = closed loop.
    pub rate: Option<f64>,
    pub keepalive: bool,
    pub timeout: Duration,
    pub mix: MixChoice,
    /// The seeded database (required by weighted mixes).
    pub db: Option<PathBuf>,
    /// Overrides the mix's `seed`.
    pub seed: Option<u64>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Allow a URL that does not resolve to loopback.
    pub allow_remote: bool,
    /// Record per-second samples ([`Summary::timeline`]); also what
    /// [`Progress::last_second`] needs.
    pub timeline: bool,
}

/// Defaults, shared with the CLI.
pub mod defaults {
    use std::time::Duration;

    /// 64 connections: what calibrate.sh compares with wrk, and enough to
    /// keep every stage's workers busy on a 2-core machine.
    pub const CONCURRENCY: usize = 64;
    /// Like wrk: one thread per core of this 2-core machine.
    pub const THREADS: usize = 2;
    pub const DURATION: Duration = Duration::from_secs(10);
    /// One second opens the connections, fills caches (stage-4's memcached,
    /// SQLite's page cache) and lets CPU frequency settle before counting.
    pub const WARMUP: Duration = Duration::from_secs(1);
    /// Stage-1 (CGI, ~23 req/s in the talk) answers 64 queued connections in
    /// about 3 s; 10 s only fires on a server that is really stuck.
    pub const TIMEOUT: Duration = Duration::from_secs(10);
}

impl Config {
    pub fn new(url: &str) -> Config {
        Config {
            url: url.to_string(),
            concurrency: defaults::CONCURRENCY,
            threads: defaults::THREADS,
            limit: Limit::Duration(defaults::DURATION),
            warmup: defaults::WARMUP,
            rate: None,
            keepalive: true,
            timeout: defaults::TIMEOUT,
            mix: MixChoice::Single,
            db: None,
            seed: None,
            headers: Vec::new(),
            allow_remote: false,
            timeline: false,
        }
    }
}

/// Runs the load and returns what it measured. Blocks the calling thread
/// (do not call it from inside an async runtime's worker).
pub fn run(cfg: &Config) -> Result<Summary, Error> {
    run_with(cfg, &mut |_| {}, &AtomicBool::new(false))
}

/// [`run`], calling `progress` about ten times a second, and stopping early
/// (with a report of what was measured) once `cancel` becomes true.
pub fn run_with(
    cfg: &Config,
    progress: &mut dyn FnMut(&Progress),
    cancel: &AtomicBool,
) -> Result<Summary, Error> {
    let target = target::Target::parse(&cfg.url, cfg.allow_remote)?;
    let requests = match &cfg.mix {
        MixChoice::Single => {
            let mut bytes = Vec::new();
            let extra: String = cfg
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v}\r\n"))
                .collect();
            http::write_request(
                &mut bytes,
                "GET",
                &target.path,
                &target.host_header,
                None,
                &extra,
                None,
                !cfg.keepalive,
            );
            engine::Requests::Single {
                bytes,
                kind: mix::Kind::of_path(&target.path),
            }
        }
        weighted => {
            let mut spec = match weighted {
                MixChoice::File(p) => MixSpec::from_file(p)?,
                MixChoice::Spec(s) => s.clone(),
                _ => MixSpec::default(),
            };
            if let Some(seed) = cfg.seed {
                spec.seed = seed;
            }
            let db = cfg.db.as_ref().ok_or_else(|| {
                Error::Config(format!(
                    "--mix {} needs --db PATH (the seeded database) to know the users and photos",
                    cfg.mix.label()
                ))
            })?;
            engine::Requests::Weighted(Box::new(mix::Weighted::new(spec, mix::Site::load(db)?)))
        }
    };
    let plan = Arc::new(engine::build_plan(cfg, target, requests)?);
    // The wall-clock time of the timeline's t = 0, so that events a script
    // timed with its own clock (`date +%s.%N`) land in the right second.
    let zero_unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|now| now.as_secs_f64() - plan.t0.elapsed().as_secs_f64() + cfg.warmup.as_secs_f64())
        .ok();
    let (per_thread, measured) = engine::execute(plan.clone(), progress, cancel)?;
    let mut total = stats::Stats::new(cfg.rate.is_some(), matches!(cfg.mix, MixChoice::Single));
    for s in &per_thread {
        total.merge(s);
    }
    let timeline = plan.timeline.then(|| {
        let threads: Vec<_> = per_thread
            .iter()
            .filter_map(|s| s.timeline.as_ref().map(|t| (t, &s.served_by)))
            .collect();
        timeline::merge(&threads, &total.served_by, cfg.warmup, measured)
    });
    let info = summary::RunInfo {
        url: cfg.url.clone(),
        mix: cfg.mix.label(),
        concurrency: cfg.concurrency,
        threads: plan.threads,
        keepalive: cfg.keepalive,
        rate: cfg.rate,
        warmup_s: cfg.warmup.as_secs_f64(),
        duration_s: measured.as_secs_f64(),
    };
    let mut summary = summary::build(info, &total);
    summary.timeline_zero_unix_s = timeline.as_ref().and(zero_unix_s).map(summary::round3);
    summary.timeline = timeline;
    Ok(summary)
}
