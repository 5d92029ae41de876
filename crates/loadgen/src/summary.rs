//! The result of a run: a stable JSON schema (documented in the crate docs)
//! and a text summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;

use crate::mix::Kind;
use crate::stats::{Stats, status_ok};
pub use runfiles::summary::{Errors, KindSummary, Latency, OVERLAPPING_PHASES, SCHEMA, Summary};
pub use runfiles::{thousands, thousands_f};

/// Latency figures from a histogram of microseconds.
pub fn latency(h: &Histogram<u64>) -> Latency {
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

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
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

/// Builds the report from the merged counts.
pub fn build(info: RunInfo, s: &Stats) -> Summary {
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
                    (Some(h), _) => latency(h),
                    // `--mix single`: the kind's latencies are all of them.
                    (None, true) => latency(&s.latency),
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
        latency_ms: latency(&s.latency),
        uncorrected_latency_ms: s.uncorrected.as_ref().map(latency),
        kinds,
        server_timing,
        served_by,
        cache_hits: s.cache_hits,
        timeline: None,
        timeline_zero_unix_s: None,
    }
}

/// The human summary of a run.
pub fn text(r: &Summary) -> String {
    let mut o = String::new();
    let loop_ = match r.rate {
        Some(r) => format!("open loop at {} req/s", thousands_f(r)),
        None => "closed loop".into(),
    };
    let _ = writeln!(
        o,
        "{}  {}  mix {}, {}, {} connections on {} threads, {}; {:.2} s measured after {:.2} s warm-up",
        r.tool,
        r.url,
        r.mix,
        loop_,
        r.concurrency,
        r.threads,
        if r.keepalive {
            "keep-alive"
        } else {
            "a connection per request"
        },
        r.duration_s,
        r.warmup_s
    );
    let _ = writeln!(
        o,
        "  requests   {} in {:.2} s = {} req/s; {} read ({}/s); {} connections opened",
        thousands(r.requests),
        r.duration_s,
        thousands_f(r.rps),
        bytes(r.bytes),
        bytes((r.bytes as f64 / r.duration_s.max(1e-9)) as u64),
        thousands(r.connections)
    );
    let lat = |name: &str, l: &Latency, o: &mut String| {
        let _ = writeln!(
            o,
            "  {name:<10} ms  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {}, stdev {})",
            l.p50, l.p90, l.p99, l.p999, l.max, l.mean, l.stdev
        );
    };
    lat("latency", &r.latency_ms, &mut o);
    if let Some(u) = &r.uncorrected_latency_ms {
        lat("uncorrected", u, &mut o);
        let _ = writeln!(
            o,
            "             (uncorrected = from the actual send time, hiding the queue: what a naive tool reports)"
        );
    }
    let st = counts(&r.status);
    let _ = writeln!(
        o,
        "  status     {}",
        if st.is_empty() {
            "none".into()
        } else {
            st.join(", ")
        }
    );
    let e = &r.errors;
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
    if r.kinds.len() > 1 {
        let _ = writeln!(
            o,
            "  per kind   {:<8} {:>10} {:>10} {:>9} {:>9} {:>8}",
            "", "requests", "req/s", "p50 ms", "p99 ms", "errors"
        );
        for (k, r) in &r.kinds {
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
    if !r.server_timing.is_empty() {
        let _ = writeln!(o, "  server timing, mean ms per phase:");
        for (k, phases) in &r.server_timing {
            let p: Vec<String> = phases.iter().map(|(n, ms)| format!("{n} {ms}")).collect();
            let _ = writeln!(o, "             {k:<8} {}", p.join(", "));
        }
    }
    if !r.served_by.is_empty() || r.cache_hits > 0 {
        let p = counts(&r.served_by);
        let _ = writeln!(
            o,
            "  served by  {}; nginx cache hits (X-Cache: HIT): {}",
            p.join(", "),
            thousands(r.cache_hits)
        );
    }
    o
}

/// `name: count` per entry, counts with thousands separators.
fn counts(map: &BTreeMap<String, u64>) -> Vec<String> {
    map.iter()
        .map(|(name, n)| format!("{name}: {}", thousands(*n)))
        .collect()
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
    fn bytes_are_short() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500_000), "1.5 MB");
    }
}
