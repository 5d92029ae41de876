//! stage-3's own promises, each checked with numbers: a killed instance
//! costs no failed GET and is restarted; sessions stick to their instance
//! while anonymous requests spread; SIGINT, SIGTERM or SIGKILL to the stage
//! leaves no process behind; instances started elsewhere can be balanced.

use testkit::stages as common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use testkit::{Running, Site, contract};

const BIN: &str = env!("CARGO_BIN_EXE_stage-3");

fn start(site: &Site, extra: &[&str]) -> Running {
    Running::start(BIN, &args(site, extra))
}

fn killed_instance(app: &[&str], needle: &str) {
    if !tools_present(false) {
        return;
    }
    let site = Site::new(contract::USERS);
    let mut extra = vec!["--instances", "2"];
    extra.extend(app);
    let stage = start(&site, &extra);
    kill_an_instance_under_load(&stage, &site, needle, None);
    // Both instances (one of them new) serve.
    let now = children_matching(stage.pid(), needle);
    let mut seen = std::collections::BTreeSet::new();
    assert!(wait_for(Duration::from_secs(10), || {
        if let Some((pid, _)) = served_by(&stage.get("/user/user1")) {
            seen.insert(pid);
        }
        now.iter().all(|p| seen.contains(p))
    }));
}

#[test]
fn killed_instance_costs_no_failed_get_and_is_restarted() {
    killed_instance(&[], instance_needle(false));
}

/// The same with the CPython peer's instances (python-3).
#[test]
fn killed_python_instance_costs_no_failed_get_and_is_restarted() {
    testkit::python::with_app_args(|app| killed_instance(app, instance_needle(true)));
}

#[test]
fn sessions_stick_to_their_instance_and_anonymous_requests_spread() {
    if !tools_present(false) {
        return;
    }
    let site = Site::new(contract::USERS);
    let stage = start(&site, &["--instances", "2"]);
    let mut anon = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let r = stage.get("/user/user3");
        assert_eq!(r.status, 200);
        anon.insert(served_by(&r).expect("X-Served-By").1);
    }
    assert_eq!(
        anon.len(),
        2,
        "anonymous requests reach both instances: {anon:?}"
    );

    let cookie = contract::login(&stage, "user2");
    let tag = cookie
        .trim_start_matches("sid=")
        .split('-')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        tag == "i0" || tag == "i1",
        "the session id carries its instance's tag: {cookie}"
    );
    for _ in 0..10 {
        let r = stage.get_as("/user/user3", &cookie);
        assert_eq!(r.status, 200);
        assert_eq!(
            served_by(&r).unwrap().1,
            tag,
            "routed back to the session's instance"
        );
        assert!(r.text().contains("Logged in as"), "still logged in");
    }

    // The documented trade-off: the instance is lost, so is the session,
    // but the visitor is logged out, not failed.
    let holder = children_matching(stage.pid(), &format!("--tag {tag}"));
    assert_eq!(holder.len(), 1);
    testkit::signal(holder[0], libc::SIGKILL);
    for _ in 0..5 {
        let r = stage.get_as("/user/user3", &cookie);
        assert_eq!(r.status, 200, "the page is still served");
        assert!(
            !r.text().contains("Logged in as"),
            "…to a logged-out visitor"
        );
    }
}

/// 2 instances, nginx's master and worker.
const PROCESSES: usize = 4;

#[test]
fn sigint_stops_everything_and_exits_0() {
    if !tools_present(false) {
        return;
    }
    let site = Site::new(contract::USERS);
    let stage = start(&site, &[]);
    let pids = tree(&stage, PROCESSES);
    sigint_leaves_nothing(stage, &pids);
}

#[test]
fn sigkill_to_the_stage_leaves_no_orphan() {
    if !tools_present(false) {
        return;
    }
    let site = Site::new(contract::USERS);
    let stage = start(&site, &[]);
    let pids = tree(&stage, PROCESSES);
    sigkill_leaves_nothing(stage, &pids);
}

/// The same two with the CPython peer's instances (python-3).
#[test]
fn sigint_and_sigkill_leave_no_python_instance() {
    if !tools_present(false) {
        return;
    }
    let site = Site::new(contract::USERS);
    testkit::python::with_app_args(|app| {
        stops_cleanly(
            || start(&site, app),
            PROCESSES,
            |stage, _| {
                let python = children_matching(stage.pid(), instance_needle(true));
                assert_eq!(python.len(), 2);
            },
        )
    });
}

#[test]
fn balances_instances_started_elsewhere() {
    if !tools_present(false) {
        return;
    }
    let site = Site::new(contract::USERS);
    let instance = |ip: &str, tag: &str| {
        let mut a = vec![
            "instance".to_string(),
            "--listen".into(),
            format!("{ip}:0"),
            "--tag".into(),
            tag.into(),
        ];
        a.extend([
            "--db".into(),
            site.db.display().to_string(),
            "--photos".into(),
            site.photos.display().to_string(),
        ]);
        Running::start(BIN, &a)
    };
    let (a, b) = (instance("127.0.0.2", "i0"), instance("127.0.0.3", "i1"));
    let upstream = format!("{},{}", a.addr, b.addr);
    let stage = start(&site, &["--upstream", &upstream]);
    assert!(
        cluster::process::descendants(stage.pid())
            .iter()
            .all(|p| !cmdline(*p).contains(" instance ")),
        "no local instance"
    );
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..10 {
        let r = stage.get("/photo/1");
        assert_eq!(r.status, 200);
        *seen.entry(served_by(&r).unwrap().0).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "both remote instances answer: {seen:?}");
    assert!(seen.contains_key(&a.pid()) && seen.contains_key(&b.pid()));
    let cookie = contract::login(&stage, "user4");
    let tag = cookie
        .trim_start_matches("sid=")
        .split('-')
        .next()
        .unwrap()
        .to_owned();
    let holder = if tag == "i0" { a.pid() } else { b.pid() };
    for _ in 0..5 {
        let r = stage.get_as("/", &cookie);
        assert_eq!(
            served_by(&r).unwrap().0,
            holder,
            "sticky across machines too"
        );
        assert!(r.text().contains("Logged in as"));
    }
}

#[test]
fn options_pass_through_to_the_instances() {
    if !tools_present(false) {
        return;
    }
    let site = Site::new(contract::USERS);
    let stage = start(&site, &["--instances", "2", "--threads", "1", "--gil"]);
    let instances = children_matching(stage.pid(), " instance ");
    assert_eq!(instances.len(), 2);
    for p in instances {
        let c = cmdline(p);
        assert!(c.contains("--gil") && c.contains("--threads 1"), "{c}");
    }
    let r = stage.get("/user/user1");
    assert!(
        r.header("server-timing")
            .is_some_and(|t| t.contains("gil-wait")),
        "{:?}",
        r.headers
    );
}

#[test]
fn missing_nginx_is_one_line_naming_the_install_command() {
    let site = Site::new(5);
    assert_fails_with_one_line(
        BIN,
        &site.args(&["--nginx", "/nonexistent/nginx"]),
        "apt-get install -y nginx",
    );
}

#[test]
fn a_broken_instance_stops_the_stage_at_start_up() {
    if !tools_present(false) {
        return;
    }
    let site = Site::new(5);
    let t = Instant::now();
    let out = Command::new(BIN)
        .args(["--db", "/nonexistent/flickrkillr.db", "--photos"])
        .arg(&site.photos)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(t.elapsed() < Duration::from_secs(20), "no restart loop");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exited during start-up"), "{err}");
}

/// Slow clients through nginx: 64 connections trickling their request head
/// and one stalling in its body are cut off after nginx's 10 s timeouts,
/// and nobody else waits meanwhile.
#[test]
fn slow_clients_are_cut_off_by_nginx_and_starve_no_one() {
    use std::io::{Read, Write};
    if !tools_present(false) {
        return;
    }
    let site = Site::new(5);
    let stage = Running::start(BIN, &args(&site, &[]));
    let trickle: Vec<std::net::TcpStream> = (0..64)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(&stage.addr).unwrap();
            c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
            c
        })
        .collect();
    let mut short = std::net::TcpStream::connect(&stage.addr).unwrap();
    short
        .write_all(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=")
        .unwrap();
    for _ in 0..20 {
        let t = Instant::now();
        assert_eq!(stage.get("/user/user2").status, 200);
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "a normal client waited {:?}",
            t.elapsed()
        );
    }
    let closed_within = |mut c: std::net::TcpStream| {
        let t = Instant::now();
        c.set_read_timeout(Some(Duration::from_secs(25))).unwrap();
        let mut buf = Vec::new();
        let _ = c.read_to_end(&mut buf);
        (t.elapsed(), String::from_utf8_lossy(&buf).into_owned())
    };
    let (took, out) = closed_within(short);
    assert!(took < Duration::from_secs(15), "stalled body held {took:?}");
    assert!(
        out.is_empty() || out.starts_with("HTTP/1.1 408"),
        "{out:.80}"
    );
    for c in trickle {
        let (took, _) = closed_within(c);
        assert!(
            took < Duration::from_secs(15),
            "trickling connection held {took:?}"
        );
    }
    assert_eq!(stage.get("/healthz").status, 200);
}
