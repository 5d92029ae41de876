//! The result of a run: a stable JSON schema (documented in the crate docs)
//! and a text summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::mix::Kind;
use crate::stats::{Stats, status_ok};
use crate::timeline::Sample;

/// Identifies this JSON layout; bumped on any incompatible change.
pub const SCHEMA: &str = "flickrkillr-loadgen/1";

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub mean: f64,
    pub stdev: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Latency {
    /// From a histogram of microseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        Latency {
            mean: round3(h.mean() / 1000.0),
            stdev: round3(h.stdev() / 1000.0),
            min: ms(h.min_nz()),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Errors by kind. `total` = transport errors + responses outside 2xx/3xx.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    pub total: u64,
    pub connect: u64,
    pub write: u64,
    pub read: u64,
    pub timeout: u64,
    pub parse: u64,
    /// Responses outside 2xx/3xx, by status code.
    pub status: BTreeMap<String, u64>,
}

impl Errors {
    /// The kinds that occurred, for people: `connect 3`, `status 503: 1`.
    pub fn parts(&self) -> Vec<String> {
        let mut parts = Vec::new();
        for (name, n) in [
            ("connect", self.connect),
            ("write", self.write),
            ("read", self.read),
            ("timeout", self.timeout),
            ("parse", self.parse),
        ] {
            if n > 0 {
                parts.push(format!("{name} {}", thousands(n)));
            }
        }
        for (c, n) in &self.status {
            parts.push(format!("status {c}: {}", thousands(*n)));
        }
        parts
    }
}

/// Figures for one request kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindSummary {
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub latency_ms: Latency,
    /// Responses an app answered (they carried a `Server-Timing` header;
    /// not nginx's cache hits) and the mean of their Server-Timing totals:
    /// the app's time per request that reached it.
    #[serde(default)]
    pub app_responses: u64,
    #[serde(default)]
    pub app_ms: f64,
}

/// Server-Timing phases that overlap the others, left out of a request's
/// total: `gil-held` is the part of the other phases spent holding the GIL.
pub const OVERLAPPING_PHASES: &[&str] = &["gil-held"];

/// Everything a run measured. See the crate docs for the JSON schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: String,
    pub tool: String,
    pub url: String,
    pub mix: String,
    /// `closed` (C connections, each sends when the last answer came) or
    /// `open` (a fixed schedule of `rate` requests/s).
    pub mode: String,
    pub concurrency: usize,
    pub threads: usize,
    pub keepalive: bool,
    pub rate: Option<f64>,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub requests: u64,
    pub rps: f64,
    pub bytes: u64,
    pub connections: u64,
    pub errors: Errors,
    pub status: BTreeMap<String, u64>,
    pub latency_ms: Latency,
    pub uncorrected_latency_ms: Option<Latency>,
    pub kinds: BTreeMap<String, KindSummary>,
    pub server_timing: BTreeMap<String, BTreeMap<String, f64>>,
    pub served_by: BTreeMap<String, u64>,
    pub cache_hits: u64,
    /// `--timeline`: one sample per second, warm-up included; `null`
    /// otherwise. Files written before the key existed read as `None`.
    #[serde(default)]
    pub timeline: Option<Vec<Sample>>,
    /// With a timeline: the Unix time (s) of its `t_s = 0`, the end of the
    /// warm-up, to place events timed by another clock.
    #[serde(default)]
    pub timeline_zero_unix_s: Option<f64>,
}

/// Run parameters the report repeats.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub url: String,
    pub mix: String,
    pub concurrency: usize,
    pub threads: usize,
    pub keepalive: bool,
    pub rate: Option<f64>,
    pub warmup_s: f64,
    pub duration_s: f64,
}

impl Summary {
    /// Builds the report from the merged counts.
    pub fn new(info: RunInfo, s: &Stats) -> Summary {
        let secs = info.duration_s.max(1e-9);
        let mut status = BTreeMap::new();
        let mut bad = BTreeMap::new();
        for (code, &n) in s.status.iter().enumerate().filter(|(_, n)| **n > 0) {
            status.insert(code.to_string(), n);
            if !status_ok(code as u16) {
                bad.insert(code.to_string(), n);
            }
        }
        let errors = Errors {
            total: s.errors.total() + s.status_errors(),
            connect: s.errors.connect,
            write: s.errors.write,
            read: s.errors.read,
            timeout: s.errors.timeout,
            parse: s.errors.parse,
            status: bad,
        };
        let mut kinds = BTreeMap::new();
        let mut server_timing = BTreeMap::new();
        for (kind, ks) in Kind::ALL.iter().zip(&s.kinds) {
            if ks.requests == 0 && ks.errors == 0 {
                continue;
            }
            kinds.insert(
                kind.name().to_string(),
                KindSummary {
                    requests: ks.requests,
                    errors: ks.errors,
                    rps: round3(ks.requests as f64 / secs),
                    latency_ms: match (&ks.latency, s.single_kind) {
                        (Some(h), _) => Latency::from_histogram(h),
                        // `--mix single`: the kind's latencies are all of them.
                        (None, true) => Latency::from_histogram(&s.latency),
                        (None, false) => Latency::default(),
                    },
                    app_responses: ks.app_responses,
                    app_ms: round3(ks.app_ms / ks.app_responses.max(1) as f64),
                },
            );
            if !ks.timing.is_empty() {
                let phases = ks
                    .timing
                    .iter()
                    .map(|(name, sum, n)| (name.clone(), round3(sum / (*n).max(1) as f64)))
                    .collect();
                server_timing.insert(kind.name().to_string(), phases);
            }
        }
        let mut served_by: BTreeMap<String, u64> = s
            .served_by
            .counted()
            .map(|(k, n)| (String::from_utf8_lossy(k).into_owned(), n))
            .collect();
        if s.served_by.other > 0 {
            served_by.insert(crate::timeline::OTHER.into(), s.served_by.other);
        }
        Summary {
            schema: SCHEMA.into(),
            tool: format!("loadgen {}", env!("CARGO_PKG_VERSION")),
            url: info.url,
            mix: info.mix,
            mode: if info.rate.is_some() {
                "open"
            } else {
                "closed"
            }
            .into(),
            concurrency: info.concurrency,
            threads: info.threads,
            keepalive: info.keepalive,
            rate: info.rate,
            warmup_s: round3(info.warmup_s),
            duration_s: round3(info.duration_s),
            requests: s.requests,
            rps: round3(s.requests as f64 / secs),
            bytes: s.bytes,
            connections: s.connections,
            errors,
            status,
            latency_ms: Latency::from_histogram(&s.latency),
            uncorrected_latency_ms: s.uncorrected.as_ref().map(Latency::from_histogram),
            kinds,
            server_timing,
            served_by,
            cache_hits: s.cache_hits,
            timeline: None,
            timeline_zero_unix_s: None,
        }
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let mut o = String::new();
        let loop_ = match self.rate {
            Some(r) => format!("open loop at {} req/s", thousands_f(r)),
            None => "closed loop".into(),
        };
        let _ = writeln!(
            o,
            "{}  {}  mix {}, {}, {} connections on {} threads, {}; {:.2} s measured after {:.2} s warm-up",
            self.tool,
            self.url,
            self.mix,
            loop_,
            self.concurrency,
            self.threads,
            if self.keepalive {
                "keep-alive"
            } else {
                "a connection per request"
            },
            self.duration_s,
            self.warmup_s
        );
        let _ = writeln!(
            o,
            "  requests   {} in {:.2} s = {} req/s; {} read ({}/s); {} connections opened",
            thousands(self.requests),
            self.duration_s,
            thousands_f(self.rps),
            bytes(self.bytes),
            bytes((self.bytes as f64 / self.duration_s.max(1e-9)) as u64),
            thousands(self.connections)
        );
        let lat = |name: &str, l: &Latency, o: &mut String| {
            let _ = writeln!(
                o,
                "  {name:<10} ms  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {}, stdev {})",
                l.p50, l.p90, l.p99, l.p999, l.max, l.mean, l.stdev
            );
        };
        lat("latency", &self.latency_ms, &mut o);
        if let Some(u) = &self.uncorrected_latency_ms {
            lat("uncorrected", u, &mut o);
            let _ = writeln!(
                o,
                "             (uncorrected = from the actual send time, hiding the queue: what a naive tool reports)"
            );
        }
        let st = counts(&self.status);
        let _ = writeln!(
            o,
            "  status     {}",
            if st.is_empty() {
                "none".into()
            } else {
                st.join(", ")
            }
        );
        let e = &self.errors;
        if e.total == 0 {
            let _ = writeln!(o, "  errors     none");
        } else {
            let _ = writeln!(
                o,
                "  errors     {} ({})",
                thousands(e.total),
                e.parts().join(", ")
            );
        }
        if self.kinds.len() > 1 {
            let _ = writeln!(
                o,
                "  per kind   {:<8} {:>10} {:>10} {:>9} {:>9} {:>8}",
                "", "requests", "req/s", "p50 ms", "p99 ms", "errors"
            );
            for (k, r) in &self.kinds {
                let _ = writeln!(
                    o,
                    "             {:<8} {:>10} {:>10} {:>9} {:>9} {:>8}",
                    k,
                    thousands(r.requests),
                    thousands_f(r.rps),
                    r.latency_ms.p50,
                    r.latency_ms.p99,
                    thousands(r.errors)
                );
            }
        }
        if !self.server_timing.is_empty() {
            let _ = writeln!(o, "  server timing, mean ms per phase:");
            for (k, phases) in &self.server_timing {
                let p: Vec<String> = phases.iter().map(|(n, ms)| format!("{n} {ms}")).collect();
                let _ = writeln!(o, "             {k:<8} {}", p.join(", "));
            }
        }
        if !self.served_by.is_empty() || self.cache_hits > 0 {
            let p = counts(&self.served_by);
            let _ = writeln!(
                o,
                "  served by  {}; nginx cache hits (X-Cache: HIT): {}",
                p.join(", "),
                thousands(self.cache_hits)
            );
        }
        o
    }
}

/// `1,234,567`
/// `name: count` per entry, counts with thousands separators.
fn counts(map: &BTreeMap<String, u64>) -> Vec<String> {
    map.iter()
        .map(|(name, n)| format!("{name}: {}", thousands(*n)))
        .collect()
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `12,345.6`
pub fn thousands_f(x: f64) -> String {
    let whole = x.trunc() as u64;
    format!(
        "{}.{}",
        thousands(whole),
        ((x - x.trunc()) * 10.0).round().min(9.0) as u64
    )
}

fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1} kB", n / 1e3)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(123), "123");
        assert_eq!(thousands_f(64512.34), "64,512.3");
    }
}
