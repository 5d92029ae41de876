//! What each worker thread counts while it runs; merged into a
//! [`Summary`](crate::summary::Summary) at the end.
//!
//! One `Stats` per thread, owned by that thread alone: the hot path touches
//! no lock and no shared cache line (progress goes out through one relaxed
//! atomic store per request, on a line of its own).

use std::collections::HashMap;

use hdrhistogram::Histogram;

use crate::http;
use crate::mix::Kind;

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
    fn merge(&mut self, o: &ErrorCounts) {
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
    pub served_by: HashMap<Vec<u8>, u64>,
    pub served_by_other: u64,
    pub cache_hits: u64,
    /// Responses including those outside the measurement (progress only).
    pub seen: u64,
    /// Every request is of one kind: no per-kind histogram.
    pub single_kind: bool,
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
            served_by: HashMap::new(),
            served_by_other: 0,
            cache_hits: 0,
            seen: 0,
            single_kind,
        }
    }

    /// Records one complete response. `buf` holds its head (for the ranges in `head`).
    pub fn response(
        &mut self,
        kind: Kind,
        head: &http::Head,
        buf: &[u8],
        bytes: u64,
        latency_us: u64,
        uncorrected_us: Option<u64>,
    ) {
        self.requests += 1;
        self.bytes += bytes;
        let code = usize::from(head.status).min(self.status.len() - 1);
        self.status[code] += 1;
        self.latency.saturating_record(latency_us.max(1));
        if let (Some(h), Some(us)) = (self.uncorrected.as_mut(), uncorrected_us) {
            h.saturating_record(us.max(1));
        }
        let ks = &mut self.kinds[kind as usize];
        ks.requests += 1;
        if !status_ok(head.status) {
            ks.errors += 1;
        }
        // With one kind only (`--mix single`) its histogram would be a copy
        // of the total: the report uses the total instead of paying twice.
        if !self.single_kind {
            ks.latency
                .get_or_insert_with(histogram)
                .saturating_record(latency_us.max(1));
        }
        if let Some(r) = head.server_timing.clone() {
            http::server_timing(&buf[r], |name, ms| ks.add_timing(name, ms));
        }
        if head.cache_hit {
            self.cache_hits += 1;
        }
        if let Some(r) = head.served_by.clone() {
            let v = &buf[r];
            if let Some(n) = self.served_by.get_mut(v) {
                *n += 1;
            } else if self.served_by.len() < SERVED_BY_CAP {
                self.served_by.insert(v.to_vec(), 1);
            } else {
                self.served_by_other += 1;
            }
        }
    }

    /// Records a transport error.
    pub fn error(&mut self, kind: Kind, err: ErrorKind) {
        self.errors.add(err);
        self.kinds[kind as usize].errors += 1;
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
        for (k, n) in &o.served_by {
            if let Some(m) = self.served_by.get_mut(k) {
                *m += n;
            } else if self.served_by.len() < SERVED_BY_CAP {
                self.served_by.insert(k.clone(), *n);
            } else {
                self.served_by_other += n;
            }
        }
        self.served_by_other += o.served_by_other;
        self.cache_hits += o.cache_hits;
    }
}
