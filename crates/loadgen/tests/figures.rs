//! Does loadgen report what a server with known behaviour does?
//!
//! Bands are wide enough for a loaded 2-core machine (tokio's timer rounds a
//! 10 ms sleep up to the next millisecond, and CI shares the CPU) and narrow
//! enough to catch a tool that counts wrong.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use loadgen::{Limit, MixChoice, MixSpec};
use support::{Reply, Server, config};

#[test]
fn closed_loop_matches_a_10ms_server() {
    let server = Server::with(|_| Reply::ok("hello").after(Duration::from_millis(10)));
    let mut cfg = config(&server.url("/"));
    cfg.concurrency = 10;
    cfg.warmup = Duration::from_millis(200);
    cfg.limit = Limit::Duration(Duration::from_secs(2));
    let r = loadgen::run(&cfg).unwrap();
    // 10 connections, 10 ms each: 1,000 req/s (a bit less: sleeps round up).
    assert!((800.0..=1200.0).contains(&r.rps), "rps {}", r.rps);
    assert!(
        (9.5..=14.0).contains(&r.latency_ms.p50),
        "p50 {}",
        r.latency_ms.p50
    );
    assert!(r.latency_ms.p99 >= r.latency_ms.p50 && r.latency_ms.max >= r.latency_ms.p999);
    assert!(
        (r.duration_s - 2.0).abs() < 0.01,
        "duration {}",
        r.duration_s
    );
    assert_eq!(r.errors.total, 0);
    assert_eq!(r.status.get("200"), Some(&r.requests));
    assert_eq!(r.connections, 10, "keep-alive: one connection per VU");
    assert_eq!(r.mode, "closed");
    assert!(r.uncorrected_latency_ms.is_none());
    // Each response is about 45 bytes of head plus the 5-byte body.
    assert!(
        r.bytes > r.requests * 40 && r.bytes < r.requests * 80,
        "bytes {}",
        r.bytes
    );
}

#[test]
fn requests_mode_makes_exactly_n_requests() {
    let server = Server::with(|_| Reply::ok("x"));
    let mut cfg = config(&server.url("/photo/1"));
    cfg.limit = Limit::Requests(500);
    let r = loadgen::run(&cfg).unwrap();
    assert_eq!(r.requests, 500);
    assert_eq!(r.errors.total, 0);
    assert_eq!(
        r.kinds["photo"].requests, 500,
        "single mix files its URL under its kind"
    );
    assert!(r.duration_s > 0.0 && r.rps > 0.0);
}

#[test]
fn bad_statuses_are_counted_by_code() {
    let n = Arc::new(AtomicU64::new(0));
    let server = Server::with(move |_| {
        if n.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
            Reply::status(500, "oops")
        } else {
            Reply::ok("fine")
        }
    });
    let mut cfg = config(&server.url("/"));
    cfg.limit = Limit::Requests(200);
    let r = loadgen::run(&cfg).unwrap();
    assert_eq!(r.requests, 200, "a 500 is still a response");
    assert_eq!(r.status.get("500"), Some(&100));
    assert_eq!(r.status.get("200"), Some(&100));
    assert_eq!(r.errors.status.get("500"), Some(&100));
    assert_eq!(r.errors.total, 100);
    assert_eq!(r.kinds["home"].errors, 100);
}

#[test]
fn closed_connections_are_read_errors() {
    let server = Server::with(|_| Reply::Close);
    let mut cfg = config(&server.url("/"));
    cfg.limit = Limit::Requests(50);
    let r = loadgen::run(&cfg).unwrap();
    assert_eq!(r.requests, 0);
    assert_eq!(r.errors.read, 50);
    assert_eq!(r.errors.total, 50);
    assert_eq!(r.connections, 50, "a fresh connection after each failure");
}

#[test]
fn refused_connections_are_connect_errors() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config(&format!("http://127.0.0.1:{port}/"));
    cfg.limit = Limit::Requests(20);
    cfg.concurrency = 2;
    let r = loadgen::run(&cfg).unwrap();
    assert_eq!((r.requests, r.errors.connect, r.errors.total), (0, 20, 20));
}

#[test]
fn hung_requests_are_timeouts() {
    let server = Server::with(|_| Reply::Hang);
    let mut cfg = config(&server.url("/"));
    cfg.limit = Limit::Requests(4);
    cfg.concurrency = 2;
    cfg.timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let r = loadgen::run(&cfg).unwrap();
    assert_eq!((r.requests, r.errors.timeout), (0, 4));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn no_keepalive_pays_a_connection_per_request() {
    let server = Server::with(|_| Reply::ok("x"));
    let mut cfg = config(&server.url("/"));
    cfg.limit = Limit::Requests(60);
    cfg.keepalive = false;
    let r = loadgen::run(&cfg).unwrap();
    assert_eq!((r.requests, r.connections, r.errors.total), (60, 60, 0));
    assert!(!r.keepalive);
}

#[test]
fn open_loop_reports_the_queue_a_slow_server_builds() {
    // 20 ms per request on one connection: at most 50 req/s, asked for 100.
    let server = Server::with(|_| Reply::ok("slow").after(Duration::from_millis(20)));
    let mut cfg = config(&server.url("/"));
    cfg.concurrency = 1;
    cfg.threads = 1;
    cfg.rate = Some(100.0);
    cfg.limit = Limit::Duration(Duration::from_millis(1500));
    let r = loadgen::run(&cfg).unwrap();
    let u = r
        .uncorrected_latency_ms
        .clone()
        .expect("open loop reports uncorrected latency");
    assert_eq!(r.mode, "open");
    // What a naive tool reports: the service time.
    assert!((19.0..=40.0).contains(&u.p50), "uncorrected p50 {}", u.p50);
    // What users waited: the queue grows by 10 ms per request sent.
    assert!(
        r.latency_ms.p50 > 5.0 * u.p50,
        "corrected p50 {} vs {}",
        r.latency_ms.p50,
        u.p50
    );
    assert!(
        r.latency_ms.max > 500.0,
        "corrected max {}",
        r.latency_ms.max
    );
    assert!((35.0..=55.0).contains(&r.rps), "rps {}", r.rps);
}

#[test]
fn open_loop_below_capacity_keeps_the_schedule() {
    let server = Server::with(|_| Reply::ok("ok").after(Duration::from_millis(10)));
    let mut cfg = config(&server.url("/"));
    cfg.concurrency = 2;
    cfg.rate = Some(40.0);
    cfg.limit = Limit::Duration(Duration::from_secs(1));
    let r = loadgen::run(&cfg).unwrap();
    let u = r.uncorrected_latency_ms.clone().unwrap();
    // No queue: corrected and uncorrected agree within the timer's jitter.
    assert!(
        r.latency_ms.p50 - u.p50 < 3.0,
        "corrected {} uncorrected {}",
        r.latency_ms.p50,
        u.p50
    );
    assert!((34.0..=46.0).contains(&r.rps), "rps {}", r.rps);
}

#[test]
fn server_timing_is_averaged_per_kind_and_served_by_counted() {
    let n = Arc::new(AtomicU64::new(0));
    let server = Server::with(move |_| {
        let odd = n.fetch_add(1, Ordering::Relaxed) % 2 == 1;
        Reply::ok("p")
            .header(
                "Server-Timing",
                if odd {
                    "db-open;dur=1.0, query;dur=3"
                } else {
                    "db-open;dur=3.0"
                },
            )
            .header("X-Served-By", "stage-9 pid=42")
    });
    let mut cfg = config(&server.url("/photo/7"));
    cfg.limit = Limit::Requests(100);
    let r = loadgen::run(&cfg).unwrap();
    let photo = &r.server_timing["photo"];
    assert_eq!(photo["db-open"], 2.0);
    assert_eq!(
        photo["query"], 3.0,
        "the mean over the responses that carried the phase"
    );
    assert_eq!(r.served_by["stage-9 pid=42"], 100);
}

#[test]
fn json_report_has_the_documented_keys() {
    let server = Server::with(|_| Reply::ok("x"));
    let mut cfg = config(&server.url("/"));
    cfg.limit = Limit::Requests(20);
    cfg.rate = Some(200.0);
    let r = loadgen::run(&cfg).unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    for key in [
        "schema",
        "tool",
        "url",
        "mix",
        "mode",
        "concurrency",
        "threads",
        "keepalive",
        "rate",
        "warmup_s",
        "duration_s",
        "requests",
        "rps",
        "bytes",
        "connections",
        "errors",
        "status",
        "latency_ms",
        "uncorrected_latency_ms",
        "kinds",
        "server_timing",
        "served_by",
        "cache_hits",
        "timeline",
        "timeline_zero_unix_s",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["schema"], "flickrkillr-loadgen/1");
    assert!(v["tool"].as_str().unwrap().starts_with("loadgen "));
    assert_eq!(v["mix"], "single");
    assert_eq!(v["requests"], 20);
    for lat in ["latency_ms", "uncorrected_latency_ms"] {
        for k in ["mean", "stdev", "min", "p50", "p90", "p99", "p999", "max"] {
            assert!(v[lat][k].is_f64(), "{lat}.{k}");
        }
    }
    for k in ["total", "connect", "write", "read", "timeout", "parse"] {
        assert!(v["errors"][k].is_u64(), "errors.{k}");
    }
    assert!(v["errors"]["status"].is_object());
    assert_eq!(v["status"]["200"], 20);
    assert!(v["kinds"]["home"]["latency_ms"]["p99"].is_f64());
    // Round trip: the schema is the Summary type.
    let back: loadgen::Summary = serde_json::from_value(v).unwrap();
    assert_eq!(back, r);
}

#[test]
fn durations_parse_as_typed() {
    use loadgen::parse_duration;
    assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert!(parse_duration("10 parsecs").is_err());
    assert!(parse_duration("").is_err());
}

#[test]
fn config_errors_are_refused_before_any_traffic() {
    let mut cfg = config("http://127.0.0.1:9/");
    cfg.concurrency = 0;
    assert!(loadgen::run(&cfg).is_err());
    let mut cfg = config("http://127.0.0.1:9/");
    cfg.mix = MixChoice::Realistic;
    let e = loadgen::run(&cfg).unwrap_err().to_string();
    assert!(e.contains("--db"), "{e}");
    assert!(loadgen::run(&config("https://127.0.0.1/")).is_err());
    assert!(
        loadgen::run(&config("http://192.0.2.1/")).is_err(),
        "not loopback"
    );
}

#[test]
fn realistic_mix_logs_in_comments_and_spreads_over_the_site() {
    let site = testkit::Site::new(40);
    let server = testkit::inproc::serve(&site, Default::default());
    let mut cfg = config(&server.url("/"));
    cfg.concurrency = 10;
    cfg.mix = MixChoice::Spec(MixSpec {
        comment: 10.0,
        logged_in: 0.2,
        ..MixSpec::default()
    });
    cfg.db = Some(site.db.clone());
    cfg.limit = Limit::Requests(600);
    let r = loadgen::run(&cfg).unwrap();
    assert_eq!(r.errors.total, 0, "{}", loadgen::summary::text(&r));
    for kind in ["home", "user", "photo", "static", "login", "comment"] {
        assert!(
            r.kinds.get(kind).is_some_and(|k| k.requests > 0),
            "no {kind} requests: {}",
            loadgen::summary::text(&r)
        );
    }
    assert_eq!(
        r.kinds["login"].requests, 2,
        "2 of 10 VUs log in, once each"
    );
    assert_eq!(
        r.status.get("303").copied(),
        Some(r.kinds["login"].requests + r.kinds["comment"].requests)
    );
}

#[test]
fn mix_files_are_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("m.toml");
    std::fs::write(
        &toml,
        "home = 1.0\nphoto = 3.0\nstatic = 0.0\nuser = 0.0\ncomment = 0.0\nzipf = 0.5\n",
    )
    .unwrap();
    let spec = MixSpec::from_file(&toml).unwrap();
    assert_eq!(
        (spec.home, spec.photo, spec.zipf, spec.logged_in),
        (1.0, 3.0, 0.5, 0.1)
    );
    let json = dir.path().join("m.json");
    std::fs::write(&json, r#"{"home": 2, "seed": 9}"#).unwrap();
    assert_eq!(MixSpec::from_file(&json).unwrap().seed, 9);
    std::fs::write(&json, r#"{"hom": 2}"#).unwrap();
    assert!(MixSpec::from_file(&json).is_err(), "unknown keys are typos");
    std::fs::write(&toml, "logged_in = 2.0\n").unwrap();
    assert!(MixSpec::from_file(&toml).is_err());
    // The example in the repository parses.
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/mix-browse.toml"
    );
    MixSpec::from_file(std::path::Path::new(example)).unwrap();
}
