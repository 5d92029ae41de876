//! loadgen's result file (`--json`, schema `flickrkillr-loadgen/1`): the
//! run's figures, per request kind, per Server-Timing phase and, with
//! `--timeline`, per second ([`crate::timeline`]). The keys are described
//! in the `loadgen` crate's docs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::thousands;
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

impl Summary {
    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises")
    }

    /// A loadgen `--json` file: its schema checked first (any
    /// `flickrkillr-loadgen/1…`, so a file of another tool or version says
    /// so rather than which key it lacks), then read whole.
    pub fn from_json(text: &str) -> Result<Summary, String> {
        #[derive(Deserialize)]
        struct Schema {
            schema: String,
        }
        let s: Schema = serde_json::from_str(text).map_err(|e| format!("not loadgen JSON: {e}"))?;
        if !s.schema.starts_with(SCHEMA) {
            return Err(format!("schema {:?}, expected {SCHEMA:?}", s.schema));
        }
        serde_json::from_str(text).map_err(|e| format!("not loadgen JSON: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary {
            schema: SCHEMA.into(),
            tool: "loadgen".into(),
            url: "http://127.0.0.1:8002/".into(),
            mix: "realistic".into(),
            mode: "closed".into(),
            concurrency: 64,
            threads: 2,
            keepalive: true,
            rate: None,
            warmup_s: 2.0,
            duration_s: 10.0,
            requests: 1000,
            rps: 100.0,
            bytes: 1_000_000,
            connections: 64,
            errors: Errors::default(),
            status: BTreeMap::from([("200".into(), 1000)]),
            latency_ms: Latency::default(),
            uncorrected_latency_ms: None,
            kinds: BTreeMap::new(),
            server_timing: BTreeMap::new(),
            served_by: BTreeMap::new(),
            cache_hits: 0,
            timeline: None,
            timeline_zero_unix_s: None,
        }
    }

    #[test]
    fn what_is_written_is_read_back() {
        let s = summary();
        assert_eq!(Summary::from_json(&s.to_json()), Ok(s));
    }

    #[test]
    fn the_schema_is_checked_before_the_keys() {
        let other = r#"{"schema": "something/2", "rps": 1.0}"#;
        let e = Summary::from_json(other).unwrap_err();
        assert!(e.contains("something/2") && e.contains(SCHEMA), "{e}");
        let e = Summary::from_json("{}").unwrap_err();
        assert!(e.starts_with("not loadgen JSON"), "{e}");
        let mut v: serde_json::Value = serde_json::from_str(&summary().to_json()).unwrap();
        v.as_object_mut().unwrap().remove("rps");
        let e = Summary::from_json(&v.to_string()).unwrap_err();
        assert!(e.contains("rps"), "{e}");
    }

    #[test]
    fn files_written_before_the_timeline_existed_still_read() {
        let mut v: serde_json::Value = serde_json::from_str(&summary().to_json()).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("timeline");
        o.remove("timeline_zero_unix_s");
        assert_eq!(Summary::from_json(&v.to_string()), Ok(summary()));
    }
}
