//! What each worker thread counts while it runs; merged into a
//! [`Summary`](crate::summary::Summary) at the end.
//!
//! One `Stats` per thread, owned by that thread alone: the hot path touches
//! no lock and no shared cache line (progress goes out through one relaxed
//! atomic store per request, on a line of its own).

use std::collections::HashMap;
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::http;
use crate::mix::Kind;
use crate::timeline::Timeline;

/// Latencies are recorded in microseconds, from 1 µs to one hour, to three
/// significant digits (an error of at most 0.1%): 190 KB per histogram.
pub const HIST_MAX_US: u64 = 3_600_000_000;
const HIST_DIGITS: u8 = 3;

/// Distinct `X-Served-By` values kept; stage-1 starts a process (a new pid)
/// per request, so without a cap the map would grow with every request.
pub const SERVED_BY_CAP: usize = 32;

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, HIST_DIGITS)
        .expect("static histogram bounds are valid")
}

/// Transport-level failures (a response with a bad status is not one of these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `connect()` failed (refused, no route...).
    Connect,
    /// Sending the request failed.
    Write,
    /// Reading failed, or the server closed before the response was complete.
    Read,
    /// No complete response within `--timeout`.
    Timeout,
    /// The response was not valid HTTP/1.x.
    Parse,
}

#[derive(Debug, Clone, Default)]
pub struct ErrorCounts {
    pub connect: u64,
    pub write: u64,
    pub read: u64,
    pub timeout: u64,
    pub parse: u64,
}

impl ErrorCounts {
    pub fn add(&mut self, kind: ErrorKind) {
        match kind {
            ErrorKind::Connect => self.connect += 1,
            ErrorKind::Write => self.write += 1,
            ErrorKind::Read => self.read += 1,
            ErrorKind::Timeout => self.timeout += 1,
            ErrorKind::Parse => self.parse += 1,
        }
    }
    pub fn total(&self) -> u64 {
        self.connect + self.write + self.read + self.timeout + self.parse
    }
    pub fn merge(&mut self, o: &ErrorCounts) {
        self.connect += o.connect;
        self.write += o.write;
        self.read += o.read;
        self.timeout += o.timeout;
        self.parse += o.parse;
    }
}

/// Figures for one request kind.
#[derive(Debug, Clone, Default)]
pub struct KindStats {
    pub latency: Option<Histogram<u64>>,
    /// Responses received (any status).
    pub requests: u64,
    /// Transport errors plus responses outside 2xx/3xx.
    pub errors: u64,
    /// Server-Timing phases: (name, sum of ms, samples).
    pub timing: Vec<(String, f64, u64)>,
    /// Responses that carried a Server-Timing header (an app answered) and
    /// the sum of their totals (phases that overlap others left out).
    pub app_responses: u64,
    pub app_ms: f64,
}

impl KindStats {
    fn add_timing(&mut self, name: &str, ms: f64) {
        match self.timing.iter_mut().find(|(n, _, _)| n == name) {
            Some((_, sum, n)) => {
                *sum += ms;
                *n += 1;
            }
            None => self.timing.push((name.to_string(), ms, 1)),
        }
    }
}

/// One thread's counts.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Latency of every counted response. Open loop: from the intended send time.
    pub latency: Histogram<u64>,
    /// Open loop only: from the actual send time (what a naive tool reports).
    pub uncorrected: Option<Histogram<u64>>,
    pub requests: u64,
    pub bytes: u64,
    pub connections: u64,
    /// Responses by status code (index = code; 0..600).
    pub status: Vec<u64>,
    pub errors: ErrorCounts,
    pub kinds: Vec<KindStats>,
    pub served_by: ServedBy,
    pub cache_hits: u64,
    /// Responses including those outside the measurement (progress only).
    pub seen: u64,
    /// Every request is of one kind: no per-kind histogram.
    pub single_kind: bool,
    /// `--timeline`: per-second buckets, warm-up included.
    pub timeline: Option<Timeline>,
}

/// `X-Served-By` values and their counts. Each distinct value gets a slot
/// (its index in `names`), so the per-second buckets of `--timeline` can
/// count by slot in a fixed array: one hash lookup per response, as
/// without a timeline.
#[derive(Debug, Clone, Default)]
pub struct ServedBy {
    index: HashMap<Vec<u8>, usize>,
    /// Distinct values, in the order first seen (at most [`SERVED_BY_CAP`]).
    pub names: Vec<Vec<u8>>,
    /// Counted responses per slot (a value seen only in the warm-up has 0).
    pub counts: Vec<u64>,
    /// Counted responses whose value came after the cap was reached.
    pub other: u64,
}

impl ServedBy {
    /// The slot of `value`, taking a new one while there is room;
    /// [`SERVED_BY_CAP`] (the "(other)" slot) once the cap is reached.
    pub fn slot(&mut self, value: &[u8]) -> usize {
        if let Some(&i) = self.index.get(value) {
            return i;
        }
        if self.names.len() >= SERVED_BY_CAP {
            return SERVED_BY_CAP;
        }
        let i = self.names.len();
        self.index.insert(value.to_vec(), i);
        self.names.push(value.to_vec());
        self.counts.push(0);
        i
    }

    /// Counts `n` responses in `slot`.
    pub fn add(&mut self, slot: usize, n: u64) {
        match self.counts.get_mut(slot) {
            Some(c) => *c += n,
            None => self.other += n,
        }
    }

    /// The name of `slot` (`None` for the "(other)" slot).
    pub fn name(&self, slot: usize) -> Option<&[u8]> {
        self.names.get(slot).map(Vec::as_slice)
    }

    /// Whether `value` has a slot of its own.
    pub fn contains(&self, value: &[u8]) -> bool {
        self.index.contains_key(value)
    }

    /// (value, count) of every slot with counted responses.
    pub fn counted(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.names
            .iter()
            .zip(&self.counts)
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (k.as_slice(), *n))
    }

    fn merge(&mut self, o: &ServedBy) {
        for (name, n) in o.names.iter().zip(&o.counts) {
            let slot = self.slot(name);
            self.add(slot, *n);
        }
        self.other += o.other;
    }
}

/// One response, as [`Stats::response`] records it.
#[derive(Debug)]
pub struct Response<'a> {
    /// When it arrived (the timeline's clock).
    pub at: Instant,
    /// Inside the measurement window (else only the timeline sees it).
    pub counted: bool,
    pub kind: Kind,
    pub head: &'a http::Head,
    /// The buffer `head`'s ranges point into.
    pub buf: &'a [u8],
    pub bytes: u64,
    /// Open loop: from the intended send time.
    pub latency_us: u64,
    /// Open loop only: from the actual send time.
    pub uncorrected_us: Option<u64>,
}

/// Whether a status counts as success: 2xx and 3xx (303 is the normal
/// answer to a login and to a comment).
pub fn status_ok(status: u16) -> bool {
    (200..400).contains(&status)
}

impl Stats {
    pub fn new(open_loop: bool, single_kind: bool) -> Stats {
        Stats {
            latency: histogram(),
            uncorrected: open_loop.then(histogram),
            requests: 0,
            bytes: 0,
            connections: 0,
            status: vec![0; 600],
            errors: ErrorCounts::default(),
            kinds: vec![KindStats::default(); Kind::ALL.len()],
            served_by: ServedBy::default(),
            cache_hits: 0,
            seen: 0,
            single_kind,
            timeline: None,
        }
    }

    /// Records one complete response: in the run's figures when it is
    /// counted, in the timeline (if any) in every case.
    pub fn response(&mut self, r: Response<'_>) {
        let head = r.head;
        // One lookup serves both the run's count and the timeline's slot.
        let slot = head.served_by.clone().map(|range| {
            let slot = self.served_by.slot(&r.buf[range]);
            if r.counted {
                self.served_by.add(slot, 1);
            }
            slot
        });
        if let Some(tl) = self.timeline.as_mut() {
            tl.response(r.at, head.status, r.latency_us, head.cache_hit, slot);
        }
        if !r.counted {
            return;
        }
        self.requests += 1;
        self.bytes += r.bytes;
        let code = usize::from(head.status).min(self.status.len() - 1);
        self.status[code] += 1;
        self.latency.saturating_record(r.latency_us.max(1));
        if let (Some(h), Some(us)) = (self.uncorrected.as_mut(), r.uncorrected_us) {
            h.saturating_record(us.max(1));
        }
        let ks = &mut self.kinds[r.kind as usize];
        ks.requests += 1;
        if !status_ok(head.status) {
            ks.errors += 1;
        }
        // With one kind only (`--mix single`) its histogram would be a copy
        // of the total: the report uses the total instead of paying twice.
        if !self.single_kind {
            ks.latency
                .get_or_insert_with(histogram)
                .saturating_record(r.latency_us.max(1));
        }
        if let Some(range) = head.server_timing.clone() {
            let mut total = 0.0;
            http::server_timing(&r.buf[range], |name, ms| {
                ks.add_timing(name, ms);
                if !crate::summary::OVERLAPPING_PHASES.contains(&name) {
                    total += ms;
                }
            });
            ks.app_responses += 1;
            ks.app_ms += total;
        }
        if head.cache_hit {
            self.cache_hits += 1;
        }
    }

    /// Records a transport error: in the run's figures when it is
    /// counted, in the timeline (if any) in every case.
    pub fn error(&mut self, at: Instant, counted: bool, kind: Kind, err: ErrorKind) {
        if let Some(tl) = self.timeline.as_mut() {
            tl.error(at, err);
        }
        if counted {
            self.errors.add(err);
            self.kinds[kind as usize].errors += 1;
        }
    }

    /// Requests answered outside 2xx/3xx.
    pub fn status_errors(&self) -> u64 {
        self.status
            .iter()
            .enumerate()
            .filter(|(c, _)| !status_ok(*c as u16))
            .map(|(_, n)| n)
            .sum()
    }

    /// Adds another thread's counts to these.
    pub fn merge(&mut self, o: &Stats) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&o.latency);
        if let (Some(a), Some(b)) = (self.uncorrected.as_mut(), o.uncorrected.as_ref()) {
            let _ = a.add(b);
        }
        self.requests += o.requests;
        self.bytes += o.bytes;
        self.connections += o.connections;
        for (a, b) in self.status.iter_mut().zip(&o.status) {
            *a += b;
        }
        self.errors.merge(&o.errors);
        for (a, b) in self.kinds.iter_mut().zip(&o.kinds) {
            a.requests += b.requests;
            a.errors += b.errors;
            match (a.latency.as_mut(), b.latency.as_ref()) {
                (Some(x), Some(y)) => {
                    let _ = x.add(y);
                }
                (None, Some(y)) => a.latency = Some(y.clone()),
                _ => {}
            }
            a.app_responses += b.app_responses;
            a.app_ms += b.app_ms;
            for (name, sum, n) in &b.timing {
                match a.timing.iter_mut().find(|(m, _, _)| m == name) {
                    Some(t) => {
                        t.1 += sum;
                        t.2 += n;
                    }
                    None => a.timing.push((name.clone(), *sum, *n)),
                }
            }
        }
        self.served_by.merge(&o.served_by);
        self.cache_hits += o.cache_hits;
    }
}
