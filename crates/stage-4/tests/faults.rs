//! stage-4's fault promises, each checked with numbers: memcached killed
//! under load costs no 5xx and the hit ratio recovers once the stage has
//! restarted it; a killed instance costs no failed GET; SIGINT or SIGKILL
//! to the stage leaves no process (memcached included); a missing
//! memcached is one line naming the install command.

use testkit::stages as common;

use std::time::{Duration, Instant};

use common::*;
use testkit::{Running, Site, contract};

const BIN: &str = env!("CARGO_BIN_EXE_stage-4");

#[test]
fn memcached_killed_under_load_costs_no_5xx_and_hits_recover() {
    if !tools_present(true) {
        return;
    }
    let site = Site::new(contract::USERS);
    let stage = Running::start(BIN, &args(&site, &[]));
    let paths = pages(&site, 10);
    for p in paths.iter().chain(paths.iter()) {
        assert_eq!(stage.get(p).status, 200);
    }
    let old = children_matching(stage.pid(), "memcached -l");
    assert_eq!(old.len(), 1, "the stage's memcached: {old:?}");
    let warm = hammer(
        &stage.addr,
        &paths,
        2,
        None,
        Instant::now() + Duration::from_millis(500),
        || {},
    );
    let tally = hammer(
        &stage.addr,
        &paths,
        4,
        None,
        Instant::now() + Duration::from_secs(3),
        || {
            std::thread::sleep(Duration::from_millis(700));
            testkit::signal(old[0], libc::SIGKILL);
        },
    );
    eprintln!("warm: {warm:?}\nmemcached killed: {tally:?}");
    assert!(
        warm.hits * 10 >= warm.total() * 9,
        "warm hit ratio >= 90%: {warm:?}"
    );
    assert!(tally.total() > 100, "a real stream: {}", tally.total());
    assert_eq!(
        tally.count(|s| s >= 500),
        0,
        "no 5xx: {:?}",
        tally.by_status
    );
    assert_eq!(
        tally.count(|s| s != 200),
        0,
        "every GET answered 200: {:?}",
        tally.by_status
    );
    assert!(tally.io_errors.is_empty(), "{:?}", tally.io_errors);

    // Restarted on the same port; pages are cached and served by nginx again.
    assert!(wait_for(Duration::from_secs(10), || {
        let now = children_matching(stage.pid(), "memcached -l");
        now.len() == 1 && now[0] != old[0]
    }));
    assert!(wait_for(Duration::from_secs(10), || {
        paths.iter().all(|p| stage.get(p).status == 200)
            && stage.get(&paths[0]).header("x-cache") == Some("HIT")
    }));
    let after = hammer(
        &stage.addr,
        &paths,
        2,
        None,
        Instant::now() + Duration::from_millis(500),
        || {},
    );
    eprintln!("recovered: {after:?}");
    assert!(
        after.hits * 10 >= after.total() * 9,
        "hit ratio back >= 90%: {after:?}"
    );
    // Sessions were lost with memcached (documented); new logins work.
    contract::login(&stage, "user3");
}

fn killed_instance(app: &[&str], needle: &str) {
    if !tools_present(true) {
        return;
    }
    let site = Site::new(contract::USERS);
    let mut extra = vec!["--instances", "2"];
    extra.extend(app);
    let stage = Running::start(BIN, &args(&site, &extra));
    // Logged in: every request reaches an instance (none from nginx's cache).
    let cookie = contract::login(&stage, "user2");
    kill_an_instance_under_load(&stage, &site, needle, Some(&cookie));
}

#[test]
fn killed_instance_costs_no_failed_get() {
    killed_instance(&[], instance_needle(false));
}

/// The same with the CPython peer's instances (python-4): sessions in
/// memcached, so the other instance serves the logged-in visitor.
#[test]
fn killed_python_instance_costs_no_failed_get() {
    testkit::python::with_app_args(|app| killed_instance(app, instance_needle(true)));
}

/// memcached, 2 instances, nginx's master and worker.
const PROCESSES: usize = 5;

fn stops_cleanly_with(app: &[&str]) {
    if !tools_present(true) {
        return;
    }
    let site = Site::new(contract::USERS);
    stops_cleanly(
        || Running::start(BIN, &args(&site, app)),
        PROCESSES,
        |_, pids| {
            let memcached = pids
                .iter()
                .filter(|p| cmdline(**p).contains("memcached -l"));
            assert_eq!(memcached.count(), 1);
        },
    );
}

#[test]
fn sigint_and_sigkill_leave_nothing_memcached_included() {
    stops_cleanly_with(&[]);
}

#[test]
fn sigint_and_sigkill_leave_no_python_instance() {
    testkit::python::with_app_args(stops_cleanly_with);
}

#[test]
fn missing_memcached_is_one_line_naming_the_install_command() {
    let site = Site::new(5);
    assert_fails_with_one_line(
        BIN,
        &site.args(&["--memcached-bin", "/nonexistent/memcached"]),
        "apt-get install -y memcached",
    );
}
