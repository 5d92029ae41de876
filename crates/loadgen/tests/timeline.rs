//! `--timeline`: a server whose behaviour changes mid-run must show the
//! change in the right seconds of the timeline, and only there.
//!
//! The servers time their behaviour from the first request they see, which
//! comes a few milliseconds after loadgen's clock starts; thresholds leave
//! room for that (90% of a second, not 100%).

mod support;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use loadgen::{Limit, Sample, Summary};
use support::{Reply, Server, config};

/// Seconds since the server's first request.
fn clock() -> impl Fn() -> f64 {
    let first = OnceLock::<Instant>::new();
    move || first.get_or_init(Instant::now).elapsed().as_secs_f64()
}

fn at(r: &Summary, t: i64) -> &Sample {
    let tl = r.timeline.as_ref().expect("timeline asked for");
    tl.iter()
        .find(|s| s.t_s == t)
        .unwrap_or_else(|| panic!("no sample for t={t}: {tl:?}"))
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn share(part: u64, whole: u64) -> f64 {
    part as f64 / whole.max(1) as f64
}

/// 500s during the second second of measurement, then another instance
/// answering from nginx's cache: each in its own second; warm-up included.
#[test]
fn errors_served_by_and_hits_show_in_their_seconds() {
    let now = clock();
    let server = Server::with(move |_| {
        // 1 s of warm-up: the measurement's second 1 is the server's third.
        let t = now();
        let reply = if (2.0..3.0).contains(&t) {
            Reply::status(500, "down")
        } else {
            Reply::ok("page")
        };
        let reply = reply.after(Duration::from_millis(5));
        if t < 3.0 {
            reply.header("X-Served-By", "stage-9 pid=1 i0")
        } else {
            reply
                .header("X-Served-By", "stage-9 pid=2 i1")
                .header("X-Cache", "HIT")
        }
    });
    let mut cfg = config(&server.url("/"));
    cfg.warmup = Duration::from_secs(1);
    cfg.limit = Limit::Duration(Duration::from_secs(3));
    cfg.timeline = true;
    let r = loadgen::run(&cfg).unwrap();
    let tl = r.timeline.as_ref().unwrap();
    let ts: Vec<i64> = tl.iter().map(|s| s.t_s).collect();
    assert_eq!(ts, [-1, 0, 1, 2], "warm-up first, every second listed");
    assert!(tl.iter().all(|s| s.span_s == 1.0));

    // The measured seconds add up to the run's own figures.
    let measured = || tl.iter().filter(|s| s.t_s >= 0);
    assert_eq!(measured().map(|s| s.responses).sum::<u64>(), r.requests);
    assert_eq!(
        measured().map(|s| s.errors.total).sum::<u64>(),
        r.errors.total
    );
    assert_eq!(measured().map(|s| s.cache_hits).sum::<u64>(), r.cache_hits);
    assert!(
        at(&r, -1).responses > 100,
        "warm-up recorded: {:?}",
        at(&r, -1)
    );

    let e500 = |s: &Sample| s.errors.status.get("500").copied().unwrap_or(0);
    for t in [-1, 0, 2] {
        let s = at(&r, t);
        assert!(share(e500(s), s.responses) < 0.1, "t={t}: {s:?}");
    }
    let bad = at(&r, 1);
    assert!(share(e500(bad), bad.responses) > 0.9, "t=1: {bad:?}");
    assert_eq!(bad.errors.total, e500(bad));

    let i0 = |s: &Sample| s.served_by.get("stage-9 pid=1 i0").copied().unwrap_or(0);
    let i1 = |s: &Sample| s.served_by.get("stage-9 pid=2 i1").copied().unwrap_or(0);
    for t in [-1, 0, 1] {
        let s = at(&r, t);
        assert!(share(i0(s), s.responses) > 0.9, "t={t}: {s:?}");
        assert!(s.hit_ratio().unwrap() < 0.1, "t={t}: {s:?}");
    }
    let moved = at(&r, 2);
    assert!(share(i1(moved), moved.responses) > 0.9, "t=2: {moved:?}");
    assert!(moved.hit_ratio().unwrap() > 0.9, "t=2: {moved:?}");
    // 5 ms a response: p50 is the service time.
    let l = moved.latency_ms.as_ref().unwrap();
    assert!((4.5..=20.0).contains(&l.p50), "t=2: {l:?}");
}

/// Open loop: a server that holds every request for a second answers
/// nothing in that second, then the queue (latency counted from the
/// intended send time) lands in the next one. One connection, so only one
/// request is held: a tool that counted from the actual send would see one
/// slow response among ~200 fast ones in the next second (p99 ~2 ms).
#[test]
fn a_stalled_second_is_a_gap_then_the_queue() {
    let now = clock();
    let server = Server::with(move |_| {
        let t = now();
        let hold = if (1.0..2.0).contains(&t) {
            2.0 - t
        } else {
            0.002
        };
        Reply::ok("x").after(Duration::from_secs_f64(hold))
    });
    let mut cfg = config(&server.url("/"));
    cfg.concurrency = 1;
    cfg.threads = 1;
    cfg.rate = Some(100.0);
    cfg.limit = Limit::Duration(Duration::from_secs(3));
    cfg.timeline = true;
    let r = loadgen::run(&cfg).unwrap();
    let (before, stalled, after) = (at(&r, 0), at(&r, 1), at(&r, 2));
    assert!(
        (80..=115).contains(&before.responses),
        "t=0 on schedule: {before:?}"
    );
    assert!(stalled.responses <= 2, "t=1 nothing answered: {stalled:?}");
    // The second's schedule and the queue of the stalled one.
    assert!(after.responses >= 150, "t=2 answers the queue: {after:?}");
    let p99 = after.latency_ms.as_ref().unwrap().p99;
    assert!(p99 > 500.0, "t=2 holds the queue: {after:?}");
    assert!(
        before.latency_ms.as_ref().unwrap().p99 < 100.0,
        "t=0: {before:?}"
    );
}

/// A server that stops answering: the timeouts are counted in the second
/// they fire, not spread over the run.
#[test]
fn hung_requests_time_out_in_their_second() {
    let now = clock();
    let server = Server::with(move |_| {
        if (1.0..1.5).contains(&now()) {
            Reply::Hang
        } else {
            Reply::ok("x").after(Duration::from_millis(5))
        }
    });
    let mut cfg = config(&server.url("/"));
    cfg.limit = Limit::Duration(Duration::from_secs(3));
    cfg.timeout = Duration::from_millis(300);
    cfg.timeline = true;
    let r = loadgen::run(&cfg).unwrap();
    assert_eq!(at(&r, 0).errors.timeout, 0, "{:?}", at(&r, 0));
    assert_eq!(at(&r, 2).errors.timeout, 0, "{:?}", at(&r, 2));
    let hung = at(&r, 1);
    assert!(hung.errors.timeout >= 4, "every VU timed out: {hung:?}");
    assert_eq!(hung.errors.total, hung.errors.timeout);
    assert!(hung.responses < at(&r, 0).responses / 2, "{hung:?}");
    assert_eq!(r.errors.timeout, hung.errors.timeout);
}

/// `timeline` is `null` unless asked for, and a file written before the
/// key existed still reads.
#[test]
fn timeline_in_the_json() {
    let server = Server::with(|_| Reply::ok("x").header("X-Served-By", "s"));
    let mut cfg = config(&server.url("/"));
    cfg.limit = Limit::Requests(50);
    let r = loadgen::run(&cfg).unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert!(v["timeline"].is_null(), "not asked for");
    assert!(v["timeline_zero_unix_s"].is_null());

    cfg.timeline = true;
    cfg.warmup = Duration::from_millis(300);
    let before = unix_now();
    let r = loadgen::run(&cfg).unwrap();
    // t = 0 is the end of the warm-up, on the wall clock.
    let zero = r.timeline_zero_unix_s.expect("with a timeline");
    assert!(
        zero >= before + 0.299 && zero < before + 0.5,
        "zero {zero}, started {before}"
    );
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    let samples = v["timeline"].as_array().expect("an array");
    assert_eq!(samples[0]["t_s"], -1);
    assert_eq!(
        samples[0]["span_s"], 0.3,
        "the warm-up's part of its second"
    );
    for s in samples {
        for key in [
            "t_s",
            "span_s",
            "responses",
            "rps",
            "errors",
            "latency_ms",
            "cache_hits",
            "served_by",
        ] {
            assert!(s.get(key).is_some(), "missing {key} in {s}");
        }
        for k in ["total", "connect", "write", "read", "timeout", "parse"] {
            assert!(s["errors"][k].is_u64(), "errors.{k}");
        }
    }
    let back: Summary = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(back, r);
    let mut old = v;
    old.as_object_mut().unwrap().remove("timeline");
    old.as_object_mut().unwrap().remove("timeline_zero_unix_s");
    let old: Summary = serde_json::from_value(old).unwrap();
    assert_eq!(old.timeline, None);
}
