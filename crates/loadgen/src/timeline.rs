//! `--timeline`: what the run looked like second by second, warm-up
//! included — so an instance killed at second 5, a cache emptied, or a
//! server that stalls for a second shows up *when* it happened, which a
//! run's totals average away.
//!
//! Cost: each worker thread owns its buckets (one [`Second`] per second of
//! the run, in a `Vec` indexed by the second), exactly like its
//! [`Stats`](crate::stats::Stats): recording a response is an index
//! computation, a few increments and one histogram record, with no lock, no
//! atomic and no allocation (a second's histogram is allocated once, by its
//! first response). The threads' buckets are merged when the run ends.
//! Measured (valgrind, loadgen against nginx serving 2 KB): 6,610
//! instructions per response with `--timeline`, 6,540 without, 6,530 before
//! the timeline existed — +1%, where an `hdrhistogram` per second and an
//! `Instant` subtraction per response had cost +3%; in req/s, alternating
//! runs could not tell the two apart (run-to-run noise on this shared
//! 2-core machine is ±10%).
//!
//! The live progress line needs the last second while the run goes on:
//! each worker's 100 ms tick hands every second that has ended to the main
//! thread (a copy of its bucket, once per second per thread, over a
//! channel), which merges the threads' copies and shows the result.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::stats::{ErrorCounts, ErrorKind, SERVED_BY_CAP, ServedBy, status_ok};
use crate::summary::{Errors, round3};
pub use runfiles::timeline::{Sample, SampleLatency};

/// The name under which `X-Served-By` values past the cap are counted, as
/// in the run's `served_by`.
pub const OTHER: &str = "(other)";

/// A second's latencies in microseconds: exact below 256 µs, then 128
/// buckets per power of two (each at most 0.8% wide), up to the run
/// histogram's hour ([`HIST_MAX_US`](crate::stats::HIST_MAX_US)): 3,287
/// 32-bit counts, 13 KB.
///
/// Not an `hdrhistogram` like the run's figures: recording into one costs
/// about 100 instructions (bounds, min/max and total upkeep), a quarter of
/// what `--timeline` would add per response; this records with a shift and
/// an increment, and the work moves to [`SecondHistogram::quantile`], once
/// per second.
#[derive(Debug, Clone, PartialEq)]
pub struct SecondHistogram {
    counts: Vec<u32>,
}

/// log2 of the buckets per power of two.
const SUB_BITS: u32 = 7;
/// Values below this have a bucket each.
const LINEAR: u64 = 1 << (SUB_BITS + 1);
const BUCKETS: usize = bucket_of(crate::stats::HIST_MAX_US) + 1;

/// The bucket of `v` µs (`v` at most `HIST_MAX_US`).
const fn bucket_of(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    // v >= 256: its top bit e >= 8; the next 7 bits pick one of 128 buckets.
    let e = 63 - v.leading_zeros();
    let shift = e - SUB_BITS;
    LINEAR as usize + (shift as usize - 1) * (1 << SUB_BITS) + ((v >> shift) as usize)
        - (1 << SUB_BITS)
}

/// The highest value of bucket `i` (as hdrhistogram reports percentiles:
/// the top of the bucket, so a figure is never below the value recorded).
fn bucket_top(i: usize) -> u64 {
    if (i as u64) < LINEAR {
        return i as u64;
    }
    let k = i - LINEAR as usize;
    let shift = (k >> SUB_BITS) as u32 + 1;
    let m = (k & ((1 << SUB_BITS) - 1)) as u64 + (1 << SUB_BITS);
    ((m + 1) << shift) - 1
}

impl SecondHistogram {
    fn new() -> SecondHistogram {
        SecondHistogram {
            counts: vec![0; BUCKETS],
        }
    }

    /// Records `us` microseconds (clamped to 1 µs .. one hour).
    #[inline]
    pub fn record(&mut self, us: u64) {
        let v = us.clamp(1, crate::stats::HIST_MAX_US);
        self.counts[bucket_of(v)] += 1;
    }

    pub fn add(&mut self, o: &SecondHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
    }

    pub fn len(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0)
    }

    /// The value at quantile `q` (0..=1), in µs; 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let total = self.len();
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return bucket_top(i);
            }
        }
        0
    }
}

/// One thread's counts for one second.
#[derive(Debug, Clone)]
struct Second {
    responses: u64,
    errors: ErrorCounts,
    /// Responses outside 2xx/3xx: (status, count), a handful at most.
    status_errors: Vec<(u16, u64)>,
    cache_hits: u64,
    /// By [`ServedBy`] slot; the last one is "(other)".
    served_by: [u64; SERVED_BY_CAP + 1],
    latency: Option<SecondHistogram>,
}

impl Second {
    fn new() -> Second {
        Second {
            responses: 0,
            errors: ErrorCounts::default(),
            status_errors: Vec::new(),
            cache_hits: 0,
            served_by: [0; SERVED_BY_CAP + 1],
            latency: None,
        }
    }
}

/// One thread's per-second buckets. Bucket `i` covers
/// `[measure_start + (first + i) s, measure_start + (first + i + 1) s)`:
/// seconds are aligned on the end of the warm-up, so the samples with
/// `t_s >= 0` cover exactly the measurement window.
#[derive(Debug, Clone)]
pub struct Timeline {
    base: Instant,
    /// `t_s` of bucket 0: minus the warm-up, rounded up to whole seconds.
    first: i64,
    seconds: Vec<Second>,
    /// Buckets already handed to the live line.
    published: usize,
    /// The bucket the last event fell in, and where it starts and ends:
    /// nearly every event falls in the same second as the one before, and
    /// comparing two `Instant`s is cheaper than dividing their difference.
    current: usize,
    current_span: (Instant, Instant),
}

impl Timeline {
    /// Buckets for a run whose measurement starts at `measure_start` after
    /// `warmup`, expected to last `expected` (room is reserved for it).
    pub fn new(measure_start: Instant, warmup: Duration, expected: Option<Duration>) -> Timeline {
        let w = whole_seconds(warmup);
        // The monotonic clock cannot go below the boot time; the run started
        // after it, and bucket 0 starts less than a second before the run.
        let base = measure_start
            .checked_sub(Duration::from_secs(w))
            .unwrap_or(measure_start);
        let n = w + expected.map_or(0, whole_seconds);
        Timeline {
            base,
            first: -(w as i64),
            seconds: Vec::with_capacity(n as usize + 1),
            published: 0,
            current: 0,
            current_span: (base, base + Duration::from_secs(1)),
        }
    }

    fn index(&self, at: Instant) -> usize {
        at.saturating_duration_since(self.base).as_secs() as usize
    }

    #[inline]
    fn bucket(&mut self, at: Instant) -> &mut Second {
        let (from, to) = self.current_span;
        let i = if at >= from && at < to {
            self.current
        } else {
            let i = self.index(at);
            let from = self.base + Duration::from_secs(i as u64);
            (self.current, self.current_span) = (i, (from, from + Duration::from_secs(1)));
            i
        };
        if i >= self.seconds.len() {
            // Once per second of the run, not per request.
            self.seconds.resize_with(i + 1, Second::new);
        }
        &mut self.seconds[i]
    }

    /// A response that arrived at `at`. `slot`: its `X-Served-By` slot.
    #[inline]
    pub fn response(
        &mut self,
        at: Instant,
        status: u16,
        latency_us: u64,
        cache_hit: bool,
        slot: Option<usize>,
    ) {
        let s = self.bucket(at);
        s.responses += 1;
        if !status_ok(status) {
            match s.status_errors.iter_mut().find(|(c, _)| *c == status) {
                Some((_, n)) => *n += 1,
                None => s.status_errors.push((status, 1)),
            }
        }
        s.latency
            .get_or_insert_with(SecondHistogram::new)
            .record(latency_us);
        if cache_hit {
            s.cache_hits += 1;
        }
        if let Some(slot) = slot {
            s.served_by[slot.min(SERVED_BY_CAP)] += 1;
        }
    }

    /// A transport error at `at`.
    pub fn error(&mut self, at: Instant, kind: ErrorKind) {
        self.bucket(at).errors.add(kind);
    }

    /// The seconds that have ended by `now` and were not handed out yet,
    /// as (`t_s`, counts); for the live line.
    pub fn completed(&mut self, now: Instant, names: &ServedBy) -> Vec<(i64, Counts)> {
        let done = self.index(now);
        let mut out = Vec::new();
        while self.published < done {
            let i = self.published;
            let counts = self
                .seconds
                .get(i)
                .map(|s| Counts::of(s, names, &|_| true))
                .unwrap_or_default();
            out.push((self.first + i as i64, counts));
            self.published += 1;
        }
        out
    }
}

fn whole_seconds(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000_000)).unwrap_or(u64::MAX)
}

/// A second's counts with `X-Served-By` slots resolved to names: what the
/// threads' buckets are merged into.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub responses: u64,
    pub errors: ErrorCounts,
    pub status_errors: BTreeMap<u16, u64>,
    pub cache_hits: u64,
    pub served_by: BTreeMap<String, u64>,
    pub latency: Option<SecondHistogram>,
}

impl Counts {
    /// `s` with its slots named from `names`; a name `keep` refuses is
    /// counted as "(other)".
    fn of(s: &Second, names: &ServedBy, keep: &dyn Fn(&[u8]) -> bool) -> Counts {
        let mut served_by = BTreeMap::new();
        for (slot, &n) in s.served_by.iter().enumerate().filter(|(_, n)| **n > 0) {
            let name = match names.name(slot) {
                Some(v) if keep(v) => String::from_utf8_lossy(v).into_owned(),
                _ => OTHER.to_string(),
            };
            *served_by.entry(name).or_insert(0) += n;
        }
        Counts {
            responses: s.responses,
            errors: s.errors.clone(),
            status_errors: s.status_errors.iter().copied().collect(),
            cache_hits: s.cache_hits,
            served_by,
            latency: s.latency.clone(),
        }
    }

    /// Adds another thread's counts for the same second.
    pub fn merge(&mut self, o: &Counts) {
        self.responses += o.responses;
        self.errors.merge(&o.errors);
        for (c, n) in &o.status_errors {
            *self.status_errors.entry(*c).or_insert(0) += n;
        }
        self.cache_hits += o.cache_hits;
        for (k, n) in &o.served_by {
            *self.served_by.entry(k.clone()).or_insert(0) += n;
        }
        match (self.latency.as_mut(), o.latency.as_ref()) {
            (Some(a), Some(b)) => a.add(b),
            (None, Some(b)) => self.latency = Some(b.clone()),
            _ => {}
        }
    }

    /// The JSON sample of second `t_s`, which the run covered for `span_s`.
    pub fn sample(&self, t_s: i64, span_s: f64) -> Sample {
        let status_errors: u64 = self.status_errors.values().sum();
        Sample {
            t_s,
            span_s: round3(span_s),
            responses: self.responses,
            rps: if span_s > 0.0 {
                round3(self.responses as f64 / span_s)
            } else {
                0.0
            },
            errors: Errors {
                total: self.errors.total() + status_errors,
                connect: self.errors.connect,
                write: self.errors.write,
                read: self.errors.read,
                timeout: self.errors.timeout,
                parse: self.errors.parse,
                status: self
                    .status_errors
                    .iter()
                    .map(|(c, n)| (c.to_string(), *n))
                    .collect(),
            },
            latency_ms: self
                .latency
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(|h| SampleLatency {
                    p50: round3(h.quantile(0.50) as f64 / 1000.0),
                    p99: round3(h.quantile(0.99) as f64 / 1000.0),
                }),
            cache_hits: self.cache_hits,
            served_by: self.served_by.clone(),
        }
    }
}

/// How much of second `t` a run with `warmup_s` of warm-up, ending at
/// `end_s` (from the end of the warm-up; `None` while it runs), covered.
pub fn span(t: i64, warmup_s: f64, end_s: Option<f64>) -> f64 {
    let lo = (t as f64).max(-warmup_s);
    let hi = ((t + 1) as f64).min(end_s.unwrap_or(f64::INFINITY));
    (hi - lo).max(0.0)
}

/// The run's timeline from each thread's buckets and the merged
/// `X-Served-By` names: one sample per second from the start of the
/// warm-up to `measured` after its end, empty seconds included.
pub fn merge(
    threads: &[(&Timeline, &ServedBy)],
    total: &ServedBy,
    warmup: Duration,
    measured: Duration,
) -> Vec<Sample> {
    let Some(first) = threads.first().map(|(t, _)| t.first) else {
        return Vec::new();
    };
    let n = (-first) as u64 + whole_seconds(measured);
    let keep = |name: &[u8]| total.contains(name);
    let (warmup_s, end_s) = (warmup.as_secs_f64(), measured.as_secs_f64());
    (0..n as usize)
        .map(|i| {
            let mut c = Counts::default();
            for (tl, names) in threads {
                if let Some(s) = tl.seconds.get(i) {
                    c.merge(&Counts::of(s, names, &keep));
                }
            }
            let t = first + i as i64;
            c.sample(t, span(t, warmup_s, Some(end_s)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_histogram_buckets() {
        // Contiguous and increasing: every value's bucket holds it, and the
        // top of one bucket is just below the next one's first value.
        let mut prev = 0;
        for v in (1..5000).chain([
            65_535,
            65_536,
            1 << 30,
            (1 << 31) - 1,
            crate::stats::HIST_MAX_US,
        ]) {
            let b = bucket_of(v);
            assert!(b >= prev, "{v}");
            assert!(
                bucket_top(b) >= v,
                "{v} in bucket {b} up to {}",
                bucket_top(b)
            );
            if b > 0 {
                assert!(bucket_top(b - 1) < v, "{v}");
            }
            // At most 0.8% wide.
            assert!((bucket_top(b) - v) as f64 <= v as f64 / 128.0, "{v}");
            prev = b;
        }
        assert_eq!(BUCKETS, 3287);
    }

    #[test]
    fn second_histogram_quantiles_agree_with_hdrhistogram() {
        let mut ours = SecondHistogram::new();
        let mut hdr = crate::stats::histogram();
        let mut x = 12345u64;
        for _ in 0..20_000 {
            // A spread from microseconds to seconds.
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = 1 + (x >> 33) % (1 << ((x >> 20) % 22));
            ours.record(v);
            hdr.record(v).unwrap();
        }
        assert_eq!(ours.len(), 20_000);
        for q in [0.0, 0.5, 0.9, 0.99, 0.999, 1.0] {
            let (a, b) = (ours.quantile(q) as f64, hdr.value_at_quantile(q) as f64);
            assert!((a - b).abs() <= b / 100.0 + 1.0, "q={q}: {a} vs {b}");
        }
        let empty = SecondHistogram::new();
        assert!(empty.is_empty());
        assert_eq!(empty.quantile(0.5), 0);
        let mut one = SecondHistogram::new();
        one.record(0);
        assert_eq!(one.quantile(0.99), 1, "clamped to 1 µs");
    }

    #[test]
    fn spans_of_partial_seconds() {
        assert_eq!(span(-2, 1.5, Some(3.0)), 0.5);
        assert_eq!(span(-1, 1.5, Some(3.0)), 1.0);
        assert_eq!(span(2, 1.5, Some(2.25)), 0.25);
        assert_eq!(span(3, 0.0, Some(2.0)), 0.0);
        assert_eq!(span(7, 0.0, None), 1.0);
    }

    #[test]
    fn buckets_align_on_the_end_of_the_warm_up() {
        let start = Instant::now() + Duration::from_secs(2);
        let warmup = Duration::from_millis(1500);
        let mut tl = Timeline::new(start, warmup, Some(Duration::from_secs(2)));
        assert_eq!(tl.first, -2);
        let mut names = ServedBy::default();
        let a = names.slot(b"a");
        let at = |ms: i64| {
            if ms >= 0 {
                start + Duration::from_millis(ms as u64)
            } else {
                start - Duration::from_millis((-ms) as u64)
            }
        };
        tl.response(at(-1400), 200, 1000, false, Some(a)); // t = -2
        tl.response(at(-10), 500, 3000, true, None); // t = -1
        tl.response(at(0), 200, 2000, true, Some(a)); // t = 0
        tl.response(at(1999), 200, 2000, false, Some(SERVED_BY_CAP)); // t = 1
        tl.error(at(1500), ErrorKind::Timeout);
        let s = merge(&[(&tl, &names)], &names, warmup, Duration::from_secs(2));
        let t: Vec<i64> = s.iter().map(|s| s.t_s).collect();
        assert_eq!(t, [-2, -1, 0, 1]);
        assert_eq!(s[0].span_s, 0.5);
        assert_eq!((s[0].responses, s[0].rps), (1, 2.0));
        assert_eq!(s[1].errors.status["500"], 1);
        assert_eq!(s[1].errors.total, 1);
        assert_eq!(s[1].hit_ratio(), Some(1.0));
        assert_eq!(s[2].served_by["a"], 1);
        let p50 = s[2].latency_ms.as_ref().unwrap().p50;
        assert!((2.0..=2.016).contains(&p50), "0.8% resolution: {p50}");
        assert_eq!(s[3].served_by[OTHER], 1);
        assert_eq!((s[3].errors.timeout, s[3].errors.total), (1, 1));
        // A name the merged run keeps no slot for is "(other)".
        let s = merge(
            &[(&tl, &names)],
            &ServedBy::default(),
            warmup,
            Duration::from_secs(2),
        );
        assert_eq!(s[2].served_by[OTHER], 1);
    }

    #[test]
    fn completed_seconds_are_handed_out_once() {
        let start = Instant::now();
        let mut tl = Timeline::new(start, Duration::ZERO, None);
        let names = ServedBy::default();
        tl.response(start, 200, 10, false, None);
        assert!(tl.completed(start, &names).is_empty());
        let done = tl.completed(start + Duration::from_millis(2100), &names);
        let t: Vec<i64> = done.iter().map(|(t, _)| *t).collect();
        assert_eq!(t, [0, 1], "second 1 had nothing and is still reported");
        assert_eq!(done[0].1.responses, 1);
        assert!(
            tl.completed(start + Duration::from_millis(2200), &names)
                .is_empty()
        );
    }
}
