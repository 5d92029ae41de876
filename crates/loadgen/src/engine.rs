//! The load loop: `--threads` OS threads, each running one current-thread
//! tokio runtime with its share of the connections (virtual users) as tasks.
//!
//! Why this shape: like wrk, the client must cost as little CPU as possible
//! on a 2-core machine where it competes with the server. No work-stealing
//! scheduler, no locks, no atomic read-modify-write on the hot path (except
//! the shared ticket counter of `--requests N`), no allocation per request (the request bytes of `--mix single` are
//! serialised once; responses are parsed in place).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::LocalSet;

use crate::conn::{Conn, Exchange, ExchangeError};
use crate::http;
use crate::mix::{Kind, Vu, Weighted};
use crate::stats::{self, ErrorKind, Stats};
use crate::target::Target;
use crate::timeline::{self, Counts, Sample, Timeline};
use crate::{Config, Error, Limit};

/// After a failed connect, a VU waits this long before trying again, so a
/// dead server costs a few hundred attempts a second, not a busy loop.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// How often workers look at the cancel flag (Ctrl-C) and the main thread
/// refreshes the progress line.
const TICK: Duration = Duration::from_millis(100);

/// What the requests are.
pub(crate) enum Requests {
    /// The same bytes every time.
    Single {
        bytes: Vec<u8>,
        kind: Kind,
    },
    Weighted(Box<Weighted>),
}

/// Everything the workers share, read-only.
pub(crate) struct Plan {
    pub target: Target,
    pub requests: Requests,
    pub concurrency: usize,
    pub threads: usize,
    pub keepalive: bool,
    pub timeout: Duration,
    pub rate: Option<f64>,
    pub limit: Limit,
    /// Pre-serialised `--header` lines.
    pub extra_headers: String,
    /// When the run starts (open-loop schedules count from here).
    pub t0: Instant,
    /// End of the warm-up: responses before this are not counted.
    pub measure_start: Instant,
    /// Duration mode: the end of the measurement.
    pub deadline: Option<Instant>,
    pub warmup: Duration,
    /// Per-second buckets (`--timeline`, or the live line).
    pub timeline: bool,
}

/// Progress figures of one thread, alone on its cache line so that the
/// workers' stores never contend.
#[repr(align(128))]
#[derive(Default)]
pub(crate) struct Slot {
    /// Responses, warm-up included (for the progress line's rate).
    pub seen: AtomicU64,
    /// Counted responses.
    pub requests: AtomicU64,
    pub errors: AtomicU64,
}

/// Shared mutable state: cancel flag, tickets, progress.
pub(crate) struct Shared {
    pub stop: AtomicBool,
    /// `--requests` mode: requests still to start.
    pub tickets: AtomicI64,
    pub slots: Vec<Slot>,
    /// When the last counted response of `--requests` mode arrived (ns after `t0`).
    pub last_end_ns: AtomicU64,
}

/// Live figures for a progress line.
#[derive(Debug, Clone)]
pub struct Progress {
    /// Time since the measurement started (negative during warm-up).
    pub elapsed: f64,
    pub requests: u64,
    pub errors: u64,
    /// Responses per second over the last refresh interval (warm-up included).
    pub rps: f64,
    pub warming_up: bool,
    /// With per-second buckets on: the last second every thread has
    /// reported (about 0.1 s after it ended), as in the timeline.
    pub last_second: Option<Sample>,
}

pub(crate) fn build_plan(cfg: &Config, target: Target, requests: Requests) -> Result<Plan, Error> {
    let invalid = |s: &str| Err(Error::Config(s.to_string()));
    if cfg.concurrency == 0 {
        return invalid("--concurrency must be at least 1");
    }
    if cfg.threads == 0 {
        return invalid("--threads must be at least 1");
    }
    if let Some(r) = cfg.rate
        && (!r.is_finite() || r <= 0.0)
    {
        return invalid("--rate must be a positive number of requests per second");
    }
    match cfg.limit {
        Limit::Duration(d) if d.is_zero() => return invalid("--duration must be more than 0"),
        Limit::Requests(0) => return invalid("--requests must be at least 1"),
        _ => {}
    }
    if cfg.timeout.is_zero() {
        return invalid("--timeout must be more than 0");
    }
    let mut extra_headers = String::new();
    for (k, v) in &cfg.headers {
        if k.is_empty() || k.contains([':', '\r', '\n']) || v.contains(['\r', '\n']) {
            return Err(Error::Config(format!("bad header {k:?}")));
        }
        extra_headers.push_str(&format!("{k}: {v}\r\n"));
    }
    let t0 = Instant::now();
    let measure_start = t0 + cfg.warmup;
    let deadline = match cfg.limit {
        Limit::Duration(d) => Some(measure_start + d),
        Limit::Requests(_) => None,
    };
    Ok(Plan {
        target,
        requests,
        // More threads than connections would leave threads idle.
        threads: cfg.threads.min(cfg.concurrency),
        concurrency: cfg.concurrency,
        keepalive: cfg.keepalive,
        timeout: cfg.timeout,
        rate: cfg.rate,
        limit: cfg.limit,
        extra_headers,
        t0,
        measure_start,
        deadline,
        warmup: cfg.warmup,
        timeline: cfg.timeline,
    })
}

/// Runs the plan on `plan.threads` threads; calls `progress` about every
/// [`TICK`] from the calling thread. Returns the per-thread counts and the
/// measured duration.
pub(crate) fn execute(
    plan: Arc<Plan>,
    progress: &mut dyn FnMut(&Progress),
    cancel: &AtomicBool,
) -> Result<(Vec<Stats>, Duration), Error> {
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        tickets: AtomicI64::new(match plan.limit {
            Limit::Requests(n) => i64::try_from(n).unwrap_or(i64::MAX),
            Limit::Duration(_) => i64::MAX,
        }),
        slots: (0..plan.threads).map(|_| Slot::default()).collect(),
        last_end_ns: AtomicU64::new(0),
    });
    let (live_tx, live_rx) = mpsc::channel::<(i64, Counts)>();
    let mut handles = Vec::new();
    for t in 0..plan.threads {
        let (p, s) = (plan.clone(), shared.clone());
        let tx = plan.timeline.then(|| live_tx.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("loadgen-{t}"))
            .spawn(move || worker(t, p, s, tx));
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                shared.stop.store(true, Relaxed);
                for h in handles {
                    let _ = h.join();
                }
                return Err(Error::Io(e));
            }
        }
    }
    drop(live_tx);
    let mut last = (Instant::now(), 0u64);
    // Seconds some threads have reported: (threads reported, merged counts).
    let mut pending: std::collections::BTreeMap<i64, (usize, Counts)> = Default::default();
    let mut last_second: Option<Sample> = None;
    loop {
        std::thread::sleep(TICK);
        if cancel.load(Relaxed) {
            shared.stop.store(true, Relaxed);
        }
        let now = Instant::now();
        let requests: u64 = shared.slots.iter().map(|s| s.requests.load(Relaxed)).sum();
        let seen: u64 = shared.slots.iter().map(|s| s.seen.load(Relaxed)).sum();
        let errors: u64 = shared.slots.iter().map(|s| s.errors.load(Relaxed)).sum();
        let dt = now.duration_since(last.0).as_secs_f64().max(1e-9);
        let warming_up = now < plan.measure_start;
        let elapsed = if warming_up {
            -(plan.measure_start - now).as_secs_f64()
        } else {
            (now - plan.measure_start).as_secs_f64()
        };
        while let Ok((t, counts)) = live_rx.try_recv() {
            let entry = pending.entry(t).or_default();
            entry.0 += 1;
            entry.1.merge(&counts);
        }
        // A second is shown once every thread has reported it.
        while let Some(entry) = pending.first_entry() {
            if entry.get().0 < plan.threads {
                break;
            }
            let (t, (_, counts)) = entry.remove_entry();
            let span = timeline::span(t, plan.warmup.as_secs_f64(), None);
            last_second = Some(counts.sample(t, span));
        }
        progress(&Progress {
            elapsed,
            requests,
            errors,
            rps: seen.saturating_sub(last.1) as f64 / dt,
            warming_up,
            last_second: last_second.clone(),
        });
        last = (now, seen);
        if handles.iter().all(|h| h.is_finished()) {
            break;
        }
    }
    let results = handles
        .into_iter()
        .map(|h| {
            h.join()
                .map_err(|_| Error::Config("a worker thread panicked".into()))?
        })
        .collect::<Result<Vec<Stats>, Error>>()?;
    let measured = match plan.limit {
        Limit::Duration(d) => {
            // Cancelled early: count only the time actually measured.
            let ended = Instant::now().min(plan.deadline.unwrap_or_else(Instant::now));
            if shared.stop.load(Relaxed) && ended > plan.measure_start {
                (ended - plan.measure_start).min(d)
            } else {
                d
            }
        }
        Limit::Requests(_) => {
            let end = plan.t0 + Duration::from_nanos(shared.last_end_ns.load(Relaxed));
            end.saturating_duration_since(plan.measure_start)
        }
    };
    Ok((results, measured))
}

/// One worker thread: a current-thread runtime driving its VUs. `to_live_line`:
/// where to hand each ended second (per-second buckets on).
fn worker(
    t: usize,
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    to_live_line: Option<mpsc::Sender<(i64, Counts)>>,
) -> Result<Stats, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(Error::Io)?;
    let local = LocalSet::new();
    let single = matches!(plan.requests, Requests::Single { .. });
    let mut own = Stats::new(plan.rate.is_some(), single);
    if plan.timeline {
        let expected = plan.deadline.map(|d| d - plan.measure_start);
        own.timeline = Some(Timeline::new(plan.measure_start, plan.warmup, expected));
    }
    let stats = Rc::new(RefCell::new(own));
    let live = Rc::new(Cell::new(0usize));
    let all_done = Rc::new(Notify::new());
    local.block_on(&rt, async {
        for k in (t..plan.concurrency).step_by(plan.threads) {
            live.set(live.get() + 1);
            let vu = VuTask {
                k,
                thread: t,
                plan: plan.clone(),
                shared: shared.clone(),
                stats: stats.clone(),
            };
            let (live, all_done) = (live.clone(), all_done.clone());
            tokio::task::spawn_local(async move {
                vu.run().await;
                live.set(live.get() - 1);
                if live.get() == 0 {
                    all_done.notify_one();
                }
            });
        }
        let finished = async {
            while live.get() > 0 {
                all_done.notified().await;
            }
        };
        // Also the live line's clock: every tick hands the seconds that
        // have ended to the main thread (no borrow is held across an await,
        // so the VU tasks never find the counts borrowed).
        let cancelled = async {
            while !shared.stop.load(Relaxed) {
                tokio::time::sleep(TICK).await;
                if let Some(tx) = &to_live_line {
                    let mut st = stats.borrow_mut();
                    let Stats {
                        timeline,
                        served_by,
                        ..
                    } = &mut *st;
                    if let Some(tl) = timeline {
                        for second in tl.completed(Instant::now(), served_by) {
                            let _ = tx.send(second);
                        }
                    }
                }
            }
        };
        let deadline = async {
            match plan.deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = finished => {}
            _ = cancelled => {}
            _ = deadline => {}
        }
    });
    // Dropping the LocalSet drops the VU tasks still running (in-flight
    // requests past the deadline are not counted, as in wrk).
    drop(local);
    let out = stats.replace(Stats::new(false, single));
    Ok(out)
}

/// One request as the VU loop sent it and got its answer.
#[derive(Clone, Copy)]
struct Attempt {
    kind: Kind,
    /// Open loop, late: when it was due (its latency counts from then).
    intended: Option<Instant>,
    open_loop: bool,
    start: Instant,
    end: Instant,
    /// In the run's figures (else only in the timeline, or nowhere).
    counted: bool,
}

/// The next request's bytes and kind: the plan's one request, or the
/// VU's next in the mix (written into `req`).
fn next_request<'a>(
    plan: &'a Plan,
    vu: Option<&mut Vu>,
    close: bool,
    req: &'a mut Vec<u8>,
) -> (&'a [u8], Kind) {
    match (&plan.requests, vu) {
        (Requests::Single { bytes, kind }, _) => (bytes, *kind),
        (Requests::Weighted(w), Some(vu)) => {
            let kind = vu.next(w, &plan.target.host_header, &plan.extra_headers, close, req);
            (req, kind)
        }
        (Requests::Weighted(_), None) => unreachable!("weighted plans make a Vu"),
    }
}

/// One virtual user: a connection (or, without keep-alive, a series of them).
struct VuTask {
    k: usize,
    thread: usize,
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    stats: Rc<RefCell<Stats>>,
}

impl VuTask {
    async fn run(self) {
        let plan = &*self.plan;
        let close = !plan.keepalive;
        let mut vu = match &plan.requests {
            Requests::Weighted(w) => Some(Vu::new(w, self.k)),
            Requests::Single { .. } => None,
        };
        let mut req = Vec::with_capacity(512);
        let mut conn: Option<Conn> = None;
        let count_mode = matches!(plan.limit, Limit::Requests(_));
        // Open loop: this VU's share of the schedule. VU k sends requests
        // k, k + C, k + 2C... of the global sequence, request j being due at
        // t0 + j / rate: the whole run sends `rate` requests a second, evenly spaced.
        let mut seq = self.k as u64;
        let mut last_end: Option<Instant> = None;
        let guard = tokio::time::sleep(plan.timeout);
        tokio::pin!(guard);
        loop {
            let Some((intended, open_loop)) = self.wait_for_turn(&mut seq).await else {
                break;
            };
            if self.shared.stop.load(Relaxed) {
                break;
            }
            // Closed loop on a live connection: nothing happened since the
            // last answer, so its clock reading is this request's start (one
            // clock read per request instead of two).
            let start = match last_end.take() {
                Some(t) if !open_loop => t,
                _ => Instant::now(),
            };
            if plan.deadline.is_some_and(|d| start >= d) {
                break;
            }
            // `--requests N`: a request started after the warm-up takes a ticket.
            let ticket = count_mode && start >= plan.measure_start;
            if ticket && self.shared.tickets.fetch_sub(1, Relaxed) <= 0 {
                break;
            }
            let (bytes, kind) = next_request(plan, vu.as_mut(), close, &mut req);
            let Some(c) = self.connection(&mut conn, kind, ticket).await else {
                continue;
            };
            // One timer per VU, pushed forward for each request: moving a
            // tokio timer later is a single atomic update (no timer-wheel
            // insert and remove per request, as `tokio::time::timeout` does).
            guard
                .as_mut()
                .reset(tokio::time::Instant::from_std(start + plan.timeout));
            let result = tokio::select! {
                biased;
                r = c.exchange(bytes, None) => Some(r),
                _ = guard.as_mut() => None,
            };
            let end = Instant::now();
            last_end = Some(end);
            let counted = if count_mode {
                ticket
            } else {
                end >= plan.measure_start && plan.deadline.is_none_or(|d| end < d)
            };
            let keep = match result {
                Some(Ok(ex)) => {
                    let a = Attempt {
                        kind,
                        intended,
                        open_loop,
                        start,
                        end,
                        counted,
                    };
                    self.on_response(&ex, c, vu.as_mut(), a);
                    !close && ex.head.keep_alive
                }
                Some(Err(e)) => {
                    self.fail(kind, classify(&e), end, Some(counted));
                    false
                }
                None => {
                    self.fail(kind, ErrorKind::Timeout, end, Some(counted));
                    false
                }
            };
            if !keep {
                conn = None;
            }
        }
    }

    /// Open loop: waits for this VU's next slot of the schedule (`seq`,
    /// then moved on), and says `Some(due)` when this VU is late (its last
    /// answer came after this request's due time): the server held it
    /// back, so latency counts from `due`, queue included. An early VU
    /// sleeps until `due` and counts from when it actually sends: tokio's
    /// timer fires up to 1 ms late, and that is the tool's delay, not the
    /// server's. Returns (that, whether the run is open loop), or `None`
    /// when the schedule has passed the deadline.
    async fn wait_for_turn(&self, seq: &mut u64) -> Option<(Option<Instant>, bool)> {
        let plan = &*self.plan;
        let Some(rate) = plan.rate else {
            return Some((None, false));
        };
        let due = plan.t0 + Duration::from_secs_f64(*seq as f64 / rate);
        *seq += plan.concurrency as u64;
        if plan.deadline.is_some_and(|d| due >= d) {
            return None;
        }
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
            Some((None, true))
        } else {
            Some((Some(due), true))
        }
    }

    /// The VU's connection, opened if it has none; `None` if that failed
    /// (counted as a connect error or a timeout; after a refused connect,
    /// a short pause).
    async fn connection<'c>(
        &self,
        conn: &'c mut Option<Conn>,
        kind: Kind,
        ticket: bool,
    ) -> Option<&'c mut Conn> {
        if conn.is_some() {
            return conn.as_mut();
        }
        let plan = &*self.plan;
        match tokio::time::timeout(plan.timeout, Conn::connect(plan.target.addr)).await {
            Ok(Ok(c)) => {
                self.stats.borrow_mut().connections += 1;
                Some(conn.insert(c))
            }
            Ok(Err(_)) => {
                self.fail(
                    kind,
                    ErrorKind::Connect,
                    Instant::now(),
                    ticket.then_some(true),
                );
                tokio::time::sleep(CONNECT_BACKOFF).await;
                None
            }
            Err(_) => {
                self.fail(
                    kind,
                    ErrorKind::Timeout,
                    Instant::now(),
                    ticket.then_some(true),
                );
                None
            }
        }
    }

    /// Counts a response: the VU's session follows it, the progress slot
    /// sees it, and the figures (and the timeline, warm-up included) take
    /// it if `a` says so.
    fn on_response(&self, ex: &Exchange, c: &Conn, vu: Option<&mut Vu>, a: Attempt) {
        let plan = &*self.plan;
        let (end, counted) = (a.end, a.counted);
        if let Some(vu) = vu {
            let sid = ex.head.sid.clone().map(|r| &c.head_buf()[r]);
            vu.on_response(a.kind, ex.head.status, sid);
        }
        let slot = &self.shared.slots[self.thread];
        {
            let mut st = self.stats.borrow_mut();
            st.seen += 1;
            slot.seen.store(st.seen, Relaxed);
        }
        // The timeline also sees the warm-up's responses.
        if counted || (plan.timeline && plan.deadline.is_none_or(|d| end < d)) {
            let latency = end.duration_since(a.intended.unwrap_or(a.start));
            let uncorrected = (counted && a.open_loop).then(|| micros(end - a.start));
            let mut st = self.stats.borrow_mut();
            st.response(stats::Response {
                at: end,
                counted,
                kind: a.kind,
                head: &ex.head,
                buf: c.head_buf(),
                bytes: ex.bytes,
                latency_us: micros(latency),
                uncorrected_us: uncorrected,
            });
            if counted {
                slot.requests.store(st.requests, Relaxed);
                if !stats::status_ok(ex.head.status) {
                    slot.errors.fetch_add(1, Relaxed);
                }
                if matches!(plan.limit, Limit::Requests(_)) {
                    self.shared
                        .last_end_ns
                        .fetch_max(nanos_since(plan.t0, end), Relaxed);
                }
            }
        }
    }

    /// Counts an attempt that failed at `now`: in the run's figures if
    /// `counted` says so (`None`: if it failed inside the measurement
    /// window, in duration mode), in the timeline if it failed before the end.
    fn fail(&self, kind: Kind, err: ErrorKind, now: Instant, counted: Option<bool>) {
        let plan = &*self.plan;
        let counted = counted.unwrap_or_else(|| {
            !matches!(plan.limit, Limit::Requests(_))
                && now >= plan.measure_start
                && plan.deadline.is_none_or(|d| now < d)
        });
        let in_timeline = plan.timeline && plan.deadline.is_none_or(|d| now < d);
        if !counted && !in_timeline {
            return;
        }
        self.stats.borrow_mut().error(now, counted, kind, err);
        if !counted {
            return;
        }
        self.shared.slots[self.thread].errors.fetch_add(1, Relaxed);
        if matches!(plan.limit, Limit::Requests(_)) {
            self.shared
                .last_end_ns
                .fetch_max(nanos_since(plan.t0, now), Relaxed);
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn nanos_since(t0: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(t0).as_nanos()).unwrap_or(u64::MAX)
}

fn classify(e: &ExchangeError) -> ErrorKind {
    match e {
        ExchangeError::Write(_) => ErrorKind::Write,
        ExchangeError::Read(_) | ExchangeError::Closed => ErrorKind::Read,
        ExchangeError::Http(http::HttpError::Truncated) => ErrorKind::Read,
        ExchangeError::Http(_) => ErrorKind::Parse,
    }
}
