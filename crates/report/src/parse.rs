//! Reading what each tool printed: `ab`'s and `wrk --latency`'s text output
//! and loadgen's own JSON (schema `flickrkillr-loadgen/1`).
//!
//! The parsers look for labelled lines, not positions, so a version that adds
//! a line or a progress message mixed into the file (ab writes "Completed 200
//! requests" to stderr, which a script may capture too) does not throw them.
//! A file without the throughput line has no result; the `Err` says why, in
//! the tool's own words where it printed any (ab's `apr_pollset_poll: The
//! timeout specified has expired`, wrk's `unable to connect`).

use std::collections::BTreeMap;

/// One tool's figures for one row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measure {
    pub rps: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub mean_ms: Option<f64>,
    /// Requests that did not give a usable answer: transport errors plus
    /// responses outside 2xx (ab) or 2xx/3xx (wrk, loadgen).
    pub errors: u64,
    /// What the reader should know about these figures (ab's length
    /// mismatches, wrk's timeouts), or nothing.
    pub note: Option<String>,
}

/// A loadgen JSON file: its figures and where the server's time went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadgenRun {
    pub measure: Measure,
    /// Responses counted, and how many of them carried `X-Cache: HIT`
    /// (answered by nginx from memcached, never seeing the app).
    pub requests: u64,
    pub cache_hits: u64,
    /// Mean milliseconds per request for each Server-Timing phase (see
    /// [`phase_means`]); empty when the server sent no Server-Timing.
    pub phases: BTreeMap<String, f64>,
}

/// `ab` (ApacheBench 2.3) output.
///
/// `errors` = `Non-2xx responses` + `Failed requests` other than `Length`:
/// ab compares every body's length with the first one's and calls the
/// difference a failure, which is noise for a page whose length varies
/// (a comment count, a per-connection counter); those are put in `note`.
pub fn parse_ab(text: &str) -> Result<Measure, String> {
    let Some(rps) = labelled_number(text, "Requests per second:") else {
        return Err(no_result(text, "no \"Requests per second:\" line"));
    };
    let failed = labelled_number(text, "Failed requests:").unwrap_or(0.0) as u64;
    let length = text
        .lines()
        .find(|l| l.trim_start().starts_with("(Connect:"))
        .and_then(|l| {
            l.split([',', '(', ')'])
                .find_map(|part| part.trim().strip_prefix("Length:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        .min(failed);
    let non_2xx = labelled_number(text, "Non-2xx responses:").unwrap_or(0.0) as u64;
    // The first "Time per request" is per request as a client sees it; the
    // second ("across all concurrent requests") is its inverse throughput.
    let mean_ms = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Time per request:"))
        .find(|rest| !rest.contains("across"))
        .and_then(first_number);
    let mut p50 = None;
    let mut p99 = None;
    let table = text
        .lines()
        .skip_while(|l| !l.starts_with("Percentage of the requests served"))
        .skip(1);
    for line in table {
        let Some((pct, rest)) = line.trim().split_once('%') else {
            break;
        };
        let value = first_number(rest);
        match pct.trim() {
            "50" => p50 = value,
            "99" => p99 = value,
            _ => {}
        }
    }
    let note = (length > 0).then(|| {
        format!(
            "{length} length mismatch{} not counted as errors (ab compares every body's length with the first)",
            if length == 1 { "" } else { "es" }
        )
    });
    Ok(Measure {
        rps,
        p50_ms: p50,
        p99_ms: p99,
        mean_ms,
        errors: non_2xx + failed - length,
        note,
    })
}

/// `wrk --latency` (wrk 4.x) output.
///
/// `errors` = `Non-2xx or 3xx responses` + every `Socket errors` count.
/// wrk leaves timed-out requests out of its latencies; when every request
/// timed out it prints `0.00us` percentiles, which are dropped here.
pub fn parse_wrk(text: &str) -> Result<Measure, String> {
    let Some(rps) = labelled_number(text, "Requests/sec:") else {
        return Err(no_result(text, "no \"Requests/sec:\" line"));
    };
    let mut p50 = None;
    let mut p99 = None;
    let table = text
        .lines()
        .skip_while(|l| l.trim() != "Latency Distribution")
        .skip(1);
    for line in table {
        let Some((pct, rest)) = line.trim().split_once('%') else {
            break;
        };
        let Some(value) = wrk_time_ms(rest) else {
            break;
        };
        match pct.trim() {
            "50" => p50 = Some(value),
            "99" => p99 = Some(value),
            _ => {}
        }
    }
    let mean_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Latency "))
        .and_then(wrk_time_ms);
    let non_2xx = labelled_number(text, "Non-2xx or 3xx responses:").unwrap_or(0.0) as u64;
    let mut socket = 0;
    let mut timeouts = 0;
    if let Some(rest) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
    {
        for part in rest.split(',') {
            let mut words = part.split_whitespace();
            let (Some(name), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let n: u64 = n.parse().unwrap_or(0);
            socket += n;
            if name == "timeout" {
                timeouts = n;
            }
        }
    }
    let no_latency = p50 == Some(0.0) && p99 == Some(0.0);
    if no_latency {
        p50 = None;
        p99 = None;
    }
    let mean_ms = mean_ms.filter(|_| !no_latency);
    let note = (timeouts > 0).then(|| {
        format!(
            "{timeouts} timeout{} (wrk leaves them out of its latencies)",
            if timeouts == 1 { "" } else { "s" }
        )
    });
    Ok(Measure {
        rps,
        p50_ms: p50,
        p99_ms: p99,
        mean_ms,
        errors: non_2xx + socket,
        note,
    })
}

/// A loadgen `--json` file (read as [`runfiles::Summary`], the one schema
/// loadgen writes).
pub fn parse_loadgen(text: &str) -> Result<LoadgenRun, String> {
    let j = runfiles::Summary::from_json(text)?;
    let requests: BTreeMap<&str, u64> = j
        .kinds
        .iter()
        .map(|(k, v)| (k.as_str(), v.requests))
        .collect();
    let phases = phase_means(&requests, &j.server_timing);
    let lat = &j.latency_ms;
    Ok(LoadgenRun {
        measure: Measure {
            rps: j.rps,
            p50_ms: Some(lat.p50),
            p99_ms: Some(lat.p99),
            mean_ms: Some(lat.mean),
            errors: j.errors.total,
            note: None,
        },
        phases,
        requests: j.requests,
        cache_hits: j.cache_hits,
    })
}

/// Mean milliseconds per request of the whole mix for each Server-Timing
/// phase: each kind's mean weighted by that kind's requests, over all
/// requests (kinds the app never saw, like files nginx served itself, count
/// as zero). loadgen's per-kind means are over the responses that carried
/// the phase, so where only some responses of a kind reach the app (stage-4's
/// cache misses) the figure is an upper bound.
pub fn phase_means(
    requests: &BTreeMap<&str, u64>,
    server_timing: &BTreeMap<String, BTreeMap<String, f64>>,
) -> BTreeMap<String, f64> {
    let total: u64 = requests.values().sum();
    let mut out = BTreeMap::new();
    if total == 0 {
        return out;
    }
    for (kind, phases) in server_timing {
        let n = requests.get(kind.as_str()).copied().unwrap_or(0) as f64;
        for (phase, ms) in phases {
            *out.entry(phase.clone()).or_insert(0.0) += n * ms;
        }
    }
    for v in out.values_mut() {
        *v /= total as f64;
    }
    out
}

/// The number after `label` on the first line that starts with it.
fn labelled_number(text: &str, label: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(first_number)
}

/// The first whitespace-separated word of `s`, as a number.
fn first_number(s: &str) -> Option<f64> {
    s.split_whitespace()
        .next()?
        .replace(',', "")
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
}

/// wrk's times (`167.00us`, `4.56ms`, `1.24s`, `2.00m`, `1.00h`): the first
/// word of `s`, in milliseconds.
fn wrk_time_ms(s: &str) -> Option<f64> {
    let word = s.split_whitespace().next()?;
    let split = word.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = word.split_at(split);
    let x: f64 = num.parse().ok()?;
    match unit {
        "us" => Some(x / 1e3),
        "ms" => Some(x),
        "s" => Some(x * 1e3),
        "m" => Some(x * 60e3),
        "h" => Some(x * 3600e3),
        _ => None,
    }
}

/// Why a tool's output has no result: `fallback`, plus the tool's last
/// message if it printed one.
fn no_result(text: &str, fallback: &str) -> String {
    let last = text
        .lines()
        .map(str::trim)
        .rfind(|l| {
            !l.is_empty()
                && !l.starts_with("Completed ")
                && !l.starts_with("Finished ")
                && !l.starts_with("Copyright")
                && !l.starts_with("Licensed to")
                && !l.starts_with("This is ApacheBench")
                // cpuwatch (crates/cpuacct) wraps the tool and shares its stderr.
                && !l.starts_with("cpuwatch: ")
        })
        // ab prints its error on the "Benchmarking HOST (be patient)..." line.
        .map(|l| l.rsplit_once("...").map_or(l, |(_, e)| e).trim())
        .filter(|l| !l.is_empty());
    match last {
        Some(msg) => {
            let mut msg = msg.to_string();
            if msg.chars().count() > 120 {
                msg = msg.chars().take(119).collect::<String>() + "…";
            }
            format!("{fallback}: {msg}")
        }
        None if text.trim().is_empty() => "empty file".into(),
        None => fallback.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! sample {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/report-samples/",
                $name
            ))
        };
    }

    fn approx(got: Option<f64>, want: f64) -> bool {
        got.is_some_and(|g| (g - want).abs() < 1e-9)
    }

    #[test]
    fn ab_keepalive_on_nginx() {
        let m = parse_ab(sample!("ab-k.txt")).unwrap();
        assert_eq!(m.rps, 45380.29);
        assert_eq!(m.mean_ms, Some(0.176));
        assert_eq!((m.p50_ms, m.p99_ms), (Some(0.0), Some(0.0)));
        assert_eq!(m.errors, 0);
        assert_eq!(m.note, None);
    }

    #[test]
    fn ab_percentiles_in_ms() {
        let m = parse_ab(sample!("ab-py.txt")).unwrap();
        assert_eq!(m.rps, 1200.93);
        assert_eq!((m.p50_ms, m.p99_ms), (Some(5.0), Some(10.0)));
        assert_eq!(m.mean_ms, Some(6.662));
        let slow = parse_ab(sample!("ab-slow.txt")).unwrap();
        assert_eq!(slow.rps, 1.33);
        assert_eq!((slow.p50_ms, slow.p99_ms), (Some(1204.0), Some(1207.0)));
    }

    #[test]
    fn ab_non_2xx_are_errors() {
        let m = parse_ab(sample!("ab-k-404.txt")).unwrap();
        assert_eq!(m.errors, 2000);
    }

    #[test]
    fn ab_length_mismatches_are_a_note_not_errors() {
        let m = parse_ab(sample!("ab-k-vary.txt")).unwrap();
        assert_eq!(m.errors, 0);
        assert!(
            m.note
                .as_deref()
                .unwrap()
                .starts_with("1928 length mismatches")
        );
        let mixed = "Requests per second:    10.00 [#/sec] (mean)\n\
                     Failed requests:        7\n   (Connect: 2, Receive: 1, Length: 3, Exceptions: 1)\n\
                     Non-2xx responses:      5\n";
        assert_eq!(parse_ab(mixed).unwrap().errors, 9);
    }

    #[test]
    fn ab_without_a_result_says_why() {
        let e = parse_ab(sample!("ab-k-timeout.txt")).unwrap_err();
        assert!(
            e.contains("apr_pollset_poll: The timeout specified has expired"),
            "{e}"
        );
        let e = parse_ab(sample!("ab-refused.txt")).unwrap_err();
        assert!(
            e.ends_with("apr_socket_recv: Connection refused (111)"),
            "{e}"
        );
        assert_eq!(parse_ab("").unwrap_err(), "empty file");
    }

    #[test]
    fn wrk_latency_units() {
        let m = parse_wrk(sample!("wrk.txt")).unwrap();
        assert_eq!(m.rps, 35516.93);
        assert_eq!(m.p50_ms, Some(0.167));
        assert_eq!(m.p99_ms, Some(4.56));
        assert!(approx(m.mean_ms, 0.59793), "{:?}", m.mean_ms);
        assert_eq!(m.errors, 0);
        let ms = parse_wrk(sample!("wrk-py.txt")).unwrap();
        assert_eq!((ms.p50_ms, ms.p99_ms), (Some(43.98), Some(47.99)));
        let s = parse_wrk(sample!("wrk-slow.txt")).unwrap();
        assert_eq!(s.rps, 2.66);
        assert!(
            approx(s.p50_ms, 1240.0) && approx(s.p99_ms, 1240.0),
            "{s:?}"
        );
        assert_eq!(wrk_time_ms("2.00m"), Some(120_000.0));
        assert_eq!(wrk_time_ms("-nan%"), None);
    }

    #[test]
    fn wrk_errors() {
        let m = parse_wrk(sample!("wrk-404.txt")).unwrap();
        assert_eq!(m.errors, 71899);
        let t = parse_wrk(sample!("wrk-timeout.txt")).unwrap();
        assert_eq!(t.rps, 2.49);
        assert_eq!(t.errors, 5);
        assert_eq!((t.p50_ms, t.p99_ms, t.mean_ms), (None, None, None));
        assert!(t.note.as_deref().unwrap().starts_with("5 timeouts"));
        let e = parse_wrk(sample!("wrk-refused.txt")).unwrap_err();
        assert!(
            e.ends_with("unable to connect to 127.0.0.1:51585 Connection refused"),
            "{e}"
        );
    }

    #[test]
    fn loadgen_json_and_phases() {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/report-raw/stage-1.loadgen-realistic.json"
        ));
        let r = parse_loadgen(text).unwrap();
        assert_eq!(r.measure.rps, 546.0);
        assert_eq!(r.measure.p50_ms, Some(15.231));
        assert_eq!(r.measure.p99_ms, Some(35.231));
        assert_eq!(r.measure.errors, 0);
        // process: (115*8.657 + 381*9.646 + 332*8.891 + 264*9.448) / 1092
        let process = (115.0 * 8.657 + 381.0 * 9.646 + 332.0 * 8.891 + 264.0 * 9.448) / 1092.0;
        assert!((r.phases["process"] - process).abs() < 1e-9);
        // static-read only in the static kind: 332 of 1092 requests.
        assert!((r.phases["static-read"] - 0.173 * 332.0 / 1092.0).abs() < 1e-9);
        assert!(
            parse_loadgen("{}")
                .unwrap_err()
                .starts_with("not loadgen JSON")
        );
        let other = r#"{"schema": "something/2", "rps": 1.0}"#;
        assert!(parse_loadgen(other).unwrap_err().contains("something/2"));
    }

    #[test]
    fn phases_count_kinds_without_timing_as_zero() {
        let requests = BTreeMap::from([("user", 30), ("static", 70)]);
        let timing = BTreeMap::from([(
            "user".to_string(),
            BTreeMap::from([("query".to_string(), 2.0)]),
        )]);
        let m = phase_means(&requests, &timing);
        assert!((m["query"] - 0.6).abs() < 1e-12);
        assert!(phase_means(&BTreeMap::new(), &timing).is_empty());
    }
}
