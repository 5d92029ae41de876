//! Helpers for the fault tests of the stages behind nginx (stage-3, stage-4).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::http::{self, Resp};

/// nginx (and memcached, for stage-4) must be installed; under `CI=true` a
/// missing one fails the test with the install command, elsewhere it skips.
pub fn tools_present(memcached: bool) -> bool {
    crate::require_tool("nginx", "sudo apt-get install -y nginx")
        && (!memcached || crate::require_tool("memcached", "sudo apt-get install -y memcached"))
}

/// `--db`, `--photos`, `--listen 127.0.0.1:0`, a `--run-dir` inside the
/// site's temporary directory (removed even after a SIGKILL), plus `extra`.
pub fn args(site: &crate::Site, extra: &[&str]) -> Vec<String> {
    let run = site.dir.path().join("run").display().to_string();
    let mut v = site.args(&["--run-dir", &run]);
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// The command line of `pid`.
pub fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Pids of the stage's descendants whose command line contains `needle`.
pub fn children_matching(stage: u32, needle: &str) -> Vec<u32> {
    cluster::process::descendants(stage)
        .into_iter()
        .filter(|p| cmdline(*p).contains(needle))
        .collect()
}

/// `(pid, tag)` from `X-Served-By: stage-N pid=P TAG`.
pub fn served_by(r: &Resp) -> Option<(u32, String)> {
    let v = r.header("x-served-by")?;
    let mut it = v.split_whitespace().skip(1);
    let pid = it.next()?.strip_prefix("pid=")?.parse().ok()?;
    Some((pid, it.next().unwrap_or("").to_owned()))
}

/// Waits up to `limit` for `cond`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    cond()
}

/// Outcome of a stream of requests.
#[derive(Debug, Default)]
pub struct Tally {
    pub by_status: BTreeMap<u16, usize>,
    /// Requests that got no HTTP answer at all.
    pub io_errors: Vec<String>,
    /// `X-Cache: HIT` answers.
    pub hits: usize,
}

impl Tally {
    pub fn total(&self) -> usize {
        self.by_status.values().sum::<usize>() + self.io_errors.len()
    }
    pub fn count(&self, f: impl Fn(u16) -> bool) -> usize {
        self.by_status
            .iter()
            .filter(|(s, _)| f(**s))
            .map(|(_, n)| n)
            .sum()
    }
    fn merge(&mut self, o: Tally) {
        for (s, n) in o.by_status {
            *self.by_status.entry(s).or_default() += n;
        }
        self.io_errors.extend(o.io_errors);
        self.hits += o.hits;
    }
}

/// `threads` clients GET `paths` (round robin) until `until`, each with
/// `cookie` if given; meanwhile `during` runs on the calling thread.
pub fn hammer(
    addr: &str,
    paths: &[String],
    threads: usize,
    cookie: Option<&str>,
    until: Instant,
    during: impl FnOnce(),
) -> Tally {
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut tally = Tally::default();
                    let headers: Vec<(&str, &str)> =
                        cookie.map(|c| vec![("Cookie", c)]).unwrap_or_default();
                    let mut i = t;
                    while Instant::now() < until {
                        let path = &paths[i % paths.len()];
                        i += 1;
                        match http::try_request(addr, "GET", path, &headers, b"") {
                            Ok(r) => {
                                *tally.by_status.entry(r.status).or_default() += 1;
                                if r.header("x-cache") == Some("HIT") {
                                    tally.hits += 1;
                                }
                            }
                            Err(e) => tally.io_errors.push(format!("GET {path}: {e}")),
                        }
                    }
                    tally
                })
            })
            .collect();
        during();
        let mut all = Tally::default();
        for w in workers {
            all.merge(w.join().expect("load thread"));
        }
        all
    })
}

/// Sample pages of a test site: users' pages and photo pages.
pub fn pages(site: &crate::Site, n: usize) -> Vec<String> {
    let photos: Vec<i64> = {
        let c = site.conn();
        let mut st = c
            .prepare("SELECT id FROM photos ORDER BY id LIMIT ?1")
            .unwrap();
        st.query_map([n as i64], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    (1..=n)
        .map(|u| format!("/user/user{}", 1 + (u - 1) % site.users as usize))
        .zip(photos.iter().map(|p| format!("/photo/{p}")))
        .flat_map(|(a, b)| [a, b])
        .collect()
}

/// Asserts that every process in `pids` is gone within `limit` (`what`
/// names the situation in the failure message, with the pids left).
pub fn assert_all_gone(pids: &[u32], limit: Duration, what: &str) {
    wait_for(limit, || pids.iter().all(|p| !crate::alive(*p)));
    let left: Vec<u32> = pids.iter().copied().filter(|p| crate::alive(*p)).collect();
    assert!(left.is_empty(), "{what}: {left:?}");
}

/// Runs `bin args` and asserts it fails at once with exactly one line on
/// stderr, containing `needle` (e.g. the install command), and says nothing
/// on stdout (no `listening on`).
pub fn assert_fails_with_one_line(bin: &str, args: &[String], needle: &str) {
    let out = std::process::Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run the stage");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains(needle), "{err}");
    assert!(out.stdout.is_empty(), "no `listening on`");
}

/// What an instance's command line holds: the Rust app's `instance`
/// subcommand, or the CPython peer's server script.
pub fn instance_needle(python: bool) -> &'static str {
    if python { "fk_serve.py" } else { " instance " }
}

/// Kills one of the stage's instances (SIGKILL, 0.8 s into 3 s of GETs by
/// 4 clients, with `cookie` if given) and checks the promise: every GET
/// answered 200, no connection failed, and the supervisor starts a new
/// instance in its place.
pub fn kill_an_instance_under_load(
    stage: &crate::Running,
    site: &crate::Site,
    needle: &str,
    cookie: Option<&str>,
) {
    let instances = children_matching(stage.pid(), needle);
    assert_eq!(instances.len(), 2, "two instances: {instances:?}");
    let victim = instances[0];
    let paths = pages(site, 10);
    let tally = hammer(
        &stage.addr,
        &paths,
        4,
        cookie,
        Instant::now() + Duration::from_secs(3),
        || {
            std::thread::sleep(Duration::from_millis(800));
            crate::signal(victim, libc::SIGKILL);
        },
    );
    eprintln!("during the kill: {tally:?}");
    assert!(
        tally.total() > 100,
        "a real stream of requests: {}",
        tally.total()
    );
    assert_eq!(
        tally.count(|s| s != 200),
        0,
        "every GET answered 200: {:?}",
        tally.by_status
    );
    assert!(
        tally.io_errors.is_empty(),
        "no connection failed: {:?}",
        tally.io_errors
    );
    assert!(!crate::alive(victim), "the victim is dead");
    assert!(
        wait_for(Duration::from_secs(10), || {
            let now = children_matching(stage.pid(), needle);
            now.len() == 2 && !now.contains(&victim)
        }),
        "instance restarted"
    );
}

/// Every process of the stage (at least `min` of them), found from its pid.
pub fn tree(stage: &crate::Running, min: usize) -> Vec<u32> {
    let d = cluster::process::descendants(stage.pid());
    assert!(
        d.len() >= min,
        "at least {min} processes under the stage: {d:?}"
    );
    d
}

/// SIGINT to the stage: it exits 0 and leaves none of `pids` behind.
pub fn sigint_leaves_nothing(stage: crate::Running, pids: &[u32]) {
    let stage_pid = stage.pid();
    crate::signal(stage_pid, libc::SIGINT);
    assert!(
        wait_for(Duration::from_secs(15), || !crate::alive(stage_pid)),
        "the stage exits"
    );
    assert_eq!(stage.stop(Duration::from_secs(1)), Some(0), "exit status 0");
    assert_all_gone(pids, Duration::from_secs(3), "processes left behind");
}

/// SIGKILL to the stage (no chance to clean up): the kernel's parent-death
/// signal still takes every one of `pids` down.
pub fn sigkill_leaves_nothing(stage: crate::Running, pids: &[u32]) {
    crate::signal(stage.pid(), libc::SIGKILL);
    assert_all_gone(pids, Duration::from_secs(5), "orphans after SIGKILL");
}

/// SIGINT to a stage started by `start`, then, started again, SIGKILL:
/// neither leaves any of the (at least `processes`) processes of its tree
/// behind. `check` looks at the first start's tree before the SIGINT.
pub fn stops_cleanly(
    start: impl Fn() -> crate::Running,
    processes: usize,
    check: impl FnOnce(&crate::Running, &[u32]),
) {
    let stage = start();
    let pids = tree(&stage, processes);
    check(&stage, &pids);
    sigint_leaves_nothing(stage, &pids);
    let stage = start();
    let pids = tree(&stage, processes);
    sigkill_leaves_nothing(stage, &pids);
}

/// An nginx for rendering a configuration in a test (never started: `sh`
/// stands for its binary), on a free loopback port, with 2 workers.
pub fn config_nginx() -> cluster::nginx::Nginx {
    cluster::nginx::Nginx::new(
        std::path::Path::new("sh"),
        "127.0.0.1:0".parse().expect("an address"),
        2,
    )
    .expect("a free port")
}

/// An instance at `addr` as a stage's nginx.conf names it, tagged `tag`.
pub fn upstream(addr: &str, tag: Option<&str>) -> cluster::stage::Instance {
    cluster::stage::Instance {
        tag: tag.map(str::to_owned),
        addr: addr.into(),
        handle: None,
    }
}

/// Asserts that a rendered configuration holds every line of `want` and
/// no template syntax left unrendered.
pub fn assert_conf_has(conf: &str, want: &[&str]) {
    for w in want {
        assert!(conf.contains(w), "missing {w:?} in\n{conf}");
    }
    assert!(!conf.contains("{{") && !conf.contains("{%"), "{conf}");
}
