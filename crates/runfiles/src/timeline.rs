//! One second of a loadgen `--timeline` run, as its JSON file holds it
//! (`timeline` in [`crate::summary::Summary`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::summary::Errors;

/// p50 and p99 of one second, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleLatency {
    pub p50: f64,
    pub p99: f64,
}

/// One second of the timeline (see the crate docs for the JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Start of the second, counted from the end of the warm-up (the
    /// warm-up's seconds are negative).
    pub t_s: i64,
    /// How much of the second the run covered: 1 except for a warm-up that
    /// is not a whole number of seconds (its first sample) and a run that
    /// ended mid-second (the last).
    pub span_s: f64,
    /// Responses that arrived in this second (any status).
    pub responses: u64,
    /// `responses / span_s`.
    pub rps: f64,
    /// As the run's `errors`: transport errors plus responses outside 2xx/3xx.
    pub errors: Errors,
    /// `null` in a second without a response.
    pub latency_ms: Option<SampleLatency>,
    pub cache_hits: u64,
    pub served_by: BTreeMap<String, u64>,
}

impl Sample {
    /// Responses with `X-Cache: HIT`, as a share of the responses.
    pub fn hit_ratio(&self) -> Option<f64> {
        (self.responses > 0).then(|| self.cache_hits as f64 / self.responses as f64)
    }
}
