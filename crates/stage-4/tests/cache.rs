//! stage-4's caching promises, each checked with numbers: nginx answers
//! cached pages and photos itself; with two memcached servers it finds every
//! key the app wrote; a write is never followed by a stale read; sessions
//! live in memcached, so any instance serves any visitor.

use testkit::stages as common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use testkit::{Running, Site, contract, http};

const BIN: &str = env!("CARGO_BIN_EXE_stage-4");

#[test]
fn nginx_answers_cached_pages_and_photos_itself() {
    if !tools_present(true) {
        return;
    }
    let site = Site::new(contract::USERS);
    let stage = Running::start(BIN, &args(&site, &[]));
    let first = stage.get("/user/user3");
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-cache"), Some("MISS"));
    assert!(served_by(&first).is_some(), "the app rendered it");
    // nginx has just missed the page: the app asks memcached for nothing
    // (its data would miss too) and leaves the page to its writer thread
    // (`cache-set` is the hand-over, not a round trip).
    let timing = first.header("server-timing").unwrap_or("");
    assert!(
        !timing.contains("cache-get") && timing.contains("cache-set"),
        "{timing}"
    );
    let second = hit_soon(&stage, "/user/user3", None);
    assert!(
        second.header("x-served-by").is_none(),
        "nginx answered, no instance"
    );
    assert_eq!(
        second.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(second.body == first.body, "the same bytes");

    let file = model::queries::home(&site.conn()).unwrap()[0].file.clone();
    let disk = std::fs::read(site.photos.join(&file)).unwrap();
    let path = format!("/static/photos/{file}");
    let miss = stage.get(&path);
    assert_eq!((miss.status, miss.header("x-cache")), (200, Some("MISS")));
    let timing = miss.header("server-timing").unwrap_or("");
    assert!(
        !timing.contains("cache-get"),
        "nginx just missed it: the app reads the disk: {timing}"
    );
    let hit = hit_soon(&stage, &path, None);
    assert_eq!(hit.header("content-type"), Some("image/jpeg"));
    assert_eq!(hit.header("cache-control"), Some("public, max-age=86400"));
    assert!(
        hit.body == disk && miss.body == disk,
        "photo bytes as on disk"
    );

    // A visitor with a session gets the app (their name in the header),
    // which leaves the page data in memcached the first time and takes it
    // from there the next.
    let cookie = contract::login(&stage, "user2");
    let get_mine = || stage.get_as("/user/user3", &cookie);
    let filled = get_mine();
    let timing = filled.header("server-timing").unwrap_or("");
    assert!(
        timing.contains("query") && timing.contains("cache-set"),
        "data from SQLite, then stored: {timing}"
    );
    // The data comes with the session, in the same exchange (the
    // `session` phase), once the writer has stored it.
    let mut mine = get_mine();
    assert!(wait_for(Duration::from_secs(2), || {
        mine = get_mine();
        !mine.header("server-timing").unwrap_or("").contains("query")
    }));
    assert_eq!(mine.header("x-cache"), Some("MISS"));
    assert!(mine.text().contains("Logged in as"));
    let timing = mine.header("server-timing").unwrap_or("");
    assert!(
        timing.contains("session") && !timing.contains("cache-get") && !timing.contains("query"),
        "session and data from memcached in one exchange: {timing}"
    );
    // …but photos are the same for everyone: nginx serves them.
    let p = stage.get_as(&path, &cookie);
    assert_eq!(p.header("x-cache"), Some("HIT"));
}

/// GET `path` until nginx answers it from memcached (a reader's `add` is
/// sent by the instance's writer thread, a moment after the answer), at
/// most 2 s.
fn hit_soon(stage: &Running, path: &str, cookie: Option<&str>) -> testkit::http::Resp {
    let get = || match cookie {
        Some(c) => stage.get_as(path, c),
        None => stage.get(path),
    };
    let mut r = get();
    assert!(
        wait_for(Duration::from_secs(2), || {
            r = get();
            r.header("x-cache") == Some("HIT")
        }),
        "{path} never came from memcached"
    );
    r
}

/// A memcached started by this test, killed (by pid) when dropped.
struct Memcached {
    child: Child,
    addr: String,
}

impl Memcached {
    fn start() -> Memcached {
        let port = cluster::ports::free_port([127, 0, 0, 1].into()).unwrap();
        let child = Command::new(cluster::memcached::find("memcached".as_ref()).unwrap())
            .args([
                "-l",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "0",
                "-m",
                "64",
                "-u",
                "nobody",
            ])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let addr = format!("127.0.0.1:{port}");
        assert!(wait_for(Duration::from_secs(5), || TcpStream::connect(
            &addr
        )
        .is_ok()));
        Memcached { child, addr }
    }

    /// Deletes `key` (as nginx would look it up: keys here need no escaping).
    fn delete(&self, key: &str) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.write_all(format!("delete {key}\r\n").as_bytes()).unwrap();
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf).unwrap();
    }

    /// `curr_items` from `stats`.
    fn items(&self) -> u64 {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.write_all(b"stats\r\n").unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.ends_with(b"END\r\n") {
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0);
            buf.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&buf)
            .lines()
            .find_map(|l| l.strip_prefix("STAT curr_items "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn with_two_memcached_servers_nginx_finds_every_key_the_app_wrote() {
    if !tools_present(true) {
        return;
    }
    let site = Site::new(contract::USERS);
    let (m1, m2) = (Memcached::start(), Memcached::start());
    let servers = format!("{},{}", m1.addr, m2.addr);
    let stage = Running::start(BIN, &args(&site, &["--memcached", &servers]));
    assert!(
        children_matching(stage.pid(), "memcached -l").is_empty(),
        "the stage started no memcached of its own"
    );
    let mut paths = pages(&site, contract::USERS as usize);
    let conn = site.conn();
    let mut st = conn.prepare("SELECT DISTINCT file FROM photos").unwrap();
    paths.extend(
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|f| format!("/static/photos/{}", f.unwrap())),
    );
    for p in &paths {
        let r = stage.get(p);
        assert_eq!((r.status, r.header("x-cache")), (200, Some("MISS")), "{p}");
    }
    // The instances' writer threads store what the misses left.
    assert!(wait_for(Duration::from_secs(3), || m1.items() + m2.items()
        >= paths.len() as u64));
    let hits = paths
        .iter()
        .filter(|p| stage.get(p).header("x-cache") == Some("HIT"))
        .count();
    let (n1, n2) = (m1.items(), m2.items());
    eprintln!(
        "{} keys read back through nginx: {hits} hits; items {n1} + {n2}",
        paths.len()
    );
    assert_eq!(
        hits,
        paths.len(),
        "every key the app wrote is where nginx looks"
    );
    assert!(n1 > 5 && n2 > 5, "both servers hold keys: {n1} and {n2}");
}

#[test]
fn a_write_is_never_followed_by_a_stale_read() {
    no_stale_read(false);
}

/// The same, while the photo's page keeps being evicted (deleted in
/// memcached every 2 ms, as an expiry or an eviction would): readers keep
/// missing, and each miss leaves an `add` for the instance's writer thread
/// that races the comment's publish. Whichever lands first, the newer
/// version must win.
#[test]
fn a_write_is_never_followed_by_a_stale_read_while_misses_refill_the_cache() {
    no_stale_read(true);
}

/// The case the evicting test above can only hit by chance, made certain:
/// a reader's `add` reaches the writer thread after a comment on its page
/// was committed (and, as far as memcached knows, after the published page
/// was evicted: the slot is empty). The writer must drop it rather than put
/// the page without the comment back, and still store every other add.
#[test]
fn a_late_add_of_a_page_commented_on_since_its_read_is_dropped() {
    use app::{Freshness, PageAddr};
    use stage_4::memcached::{Memcached as Client, Pending, Writer};
    if !tools_present(true) {
        return;
    }
    let site = Site::new(contract::USERS);
    let mc = Memcached::start();
    let client = std::sync::Arc::new(Client::new(std::slice::from_ref(&mc.addr), 1).unwrap());
    let fresh = Freshness::new(model::open(&site.db).unwrap()).unwrap();
    let writer = Writer::start(client.clone(), fresh);
    let conn = site.conn();
    let home = model::queries::home(&conn).unwrap();
    let page = |id: i64| PageAddr {
        path: format!("/photo/{id}"),
        query: String::new(),
    };
    let version = |id: i64| {
        let p = model::queries::photo_page(&conn, id).unwrap().unwrap();
        p.version as u64
    };
    let add = |id: i64, v: u64, read_at: Instant| {
        let key = stage_4::keys::page(&page(id));
        writer.add(Pending {
            key,
            value: format!("version {v}").into_bytes(),
            flags: v as u32,
            ttl: 60,
            page: Some((page(id), v, read_at)),
        });
    };
    let get = |id: i64| client.get(&stage_4::keys::page(&page(id)));
    let (commented, other) = (home[0].id, home[1].id);
    // Two readers read their pages...
    let read_at = Instant::now();
    let (v_commented, v_other) = (version(commented), version(other));
    // ... a comment on the first is committed ...
    model::queries::add_comment(&conn, commented, 1, "newer", model::time::now())
        .unwrap()
        .unwrap();
    // ... and only then do their adds reach the writer.
    add(commented, v_commented, read_at);
    add(other, v_other, read_at);
    assert!(
        wait_for(Duration::from_secs(3), || get(other).is_some()),
        "the untouched page was stored"
    );
    assert_eq!(
        get(commented),
        None,
        "the page without the comment stays out"
    );
    // A reader who read after the commit has the new version: stored.
    let (now, v_new) = (Instant::now(), version(commented));
    assert!(v_new > v_commented);
    add(commented, v_new, now);
    assert!(wait_for(Duration::from_secs(3), || get(commented)
        == Some(format!("version {v_new}").into_bytes())));
    // Too old to check (a request that started over ADD_MAX_AGE ago): dropped.
    client.delete(&stage_4::keys::page(&page(other)));
    add(other, v_other, Instant::now() - app::ADD_MAX_AGE);
    add(home[2].id, version(home[2].id), Instant::now());
    assert!(wait_for(Duration::from_secs(3), || get(home[2].id).is_some()));
    assert_eq!(get(other), None, "an add older than ADD_MAX_AGE is dropped");
}

fn no_stale_read(evict: bool) {
    if !tools_present(true) {
        return;
    }
    const WRITES: usize = 25;
    let site = Site::new(contract::USERS);
    let mc = Memcached::start();
    let stage = Running::start(BIN, &args(&site, &["--memcached", &mc.addr]));
    let photo = model::queries::home(&site.conn()).unwrap()[0].id;
    let page = format!("/photo/{photo}");
    let marker = |i: usize| format!("fresh{}x{i}y", std::process::id());
    let writer = contract::login(&stage, "user2");
    let reader = contract::login(&stage, "user3");
    let acked = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let (reads, stale, evicted) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    std::thread::scope(|s| {
        if evict {
            let (done, evicted, mc) = (&done, &evicted, &mc);
            let keys = [format!("{page}?"), format!("data:{page}?")];
            s.spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    for k in &keys {
                        mc.delete(k);
                    }
                    evicted.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                }
            });
        }
        for t in 0..4 {
            let (acked, done, reads, stale, page, reader) =
                (&acked, &done, &reads, &stale, &page, &reader);
            let addr = stage.addr.as_str();
            s.spawn(move || {
                // Three anonymous readers (nginx, memcached pages) and one
                // logged in (the app, memcached page data).
                let headers: Vec<(&str, &str)> = if t == 0 {
                    vec![("Cookie", reader)]
                } else {
                    vec![]
                };
                while !done.load(Ordering::SeqCst) {
                    let n = acked.load(Ordering::SeqCst);
                    let r = http::request(addr, "GET", page, &headers, b"");
                    assert_eq!(r.status, 200);
                    reads.fetch_add(1, Ordering::SeqCst);
                    let text = r.text();
                    if let Some(i) = (0..n).find(|i| !text.contains(&marker(*i))) {
                        eprintln!(
                            "stale read (reader {t}): comment {i} of {n} acknowledged ones missing"
                        );
                        stale.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        for i in 0..WRITES {
            let r = http::request(
                &stage.addr,
                "POST",
                &format!("{page}/comments"),
                &[
                    ("Cookie", &writer),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                format!("body={}", marker(i)).as_bytes(),
            );
            assert_eq!(r.status, 303, "{}", r.text());
            acked.store(i + 1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
        }
        done.store(true, Ordering::SeqCst);
    });
    let (reads, stale) = (reads.into_inner(), stale.into_inner());
    let evicted = evicted.into_inner();
    eprintln!("{WRITES} writes, {reads} concurrent reads, {stale} stale, {evicted} evictions");
    assert!(
        !evict || evicted > WRITES,
        "the evictor really ran: {evicted}"
    );
    assert!(reads > 2 * WRITES, "readers really ran: {reads}");
    assert_eq!(stale, 0, "no read after an acknowledged write missed it");
    let last = hit_soon(&stage, &page, None);
    assert!((0..WRITES).all(|i| last.text().contains(&marker(i))));
}

#[test]
fn any_instance_serves_any_session_and_losing_one_logs_nobody_out() {
    if !tools_present(true) {
        return;
    }
    let site = Site::new(contract::USERS);
    let stage = Running::start(BIN, &args(&site, &["--instances", "2"]));
    let cookie = contract::login(&stage, "user5");
    let get = || stage.get_as("/user/user1", &cookie);
    let mut tags = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let r = get();
        assert!(r.text().contains("Logged in as"));
        tags.insert(served_by(&r).unwrap().1);
    }
    assert_eq!(
        tags.len(),
        2,
        "no stickiness: both instances serve the session ({tags:?})"
    );
    let victim = children_matching(stage.pid(), " instance ")[0];
    testkit::signal(victim, libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut n = 0;
    while Instant::now() < deadline {
        let r = get();
        assert_eq!(r.status, 200);
        assert!(
            r.text().contains("Logged in as"),
            "still logged in after losing an instance"
        );
        n += 1;
    }
    assert!(n > 10);
}

#[test]
fn balances_instances_started_elsewhere_sharing_the_memcached_servers() {
    if !tools_present(true) {
        return;
    }
    let site = Site::new(contract::USERS);
    let mc = Memcached::start();
    let instance = |ip: &str, tag: &str| {
        let a: Vec<String> = [
            "instance",
            "--listen",
            &format!("{ip}:0"),
            "--tag",
            tag,
            "--memcached",
            &mc.addr,
            "--db",
            &site.db.display().to_string(),
            "--photos",
            &site.photos.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        Running::start(BIN, &a)
    };
    let (a, b) = (instance("127.0.0.2", "i0"), instance("127.0.0.3", "i1"));
    let upstream = format!("{},{}", a.addr, b.addr);
    let no_memcached = Command::new(BIN)
        .args(site.args(&["--upstream", &upstream]))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        !no_memcached.status.success(),
        "--upstream without --memcached is refused"
    );
    let stage = Running::start(
        BIN,
        &args(&site, &["--upstream", &upstream, "--memcached", &mc.addr]),
    );
    let cookie = contract::login(&stage, "user6");
    let mut pids = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let r = stage.get_as("/photo/2", &cookie);
        assert!(r.text().contains("Logged in as"));
        pids.insert(served_by(&r).unwrap().0);
    }
    assert_eq!(
        pids,
        [a.pid(), b.pid()].into_iter().collect(),
        "both remote instances serve the session"
    );
    assert_eq!(stage.get("/photo/2").header("x-cache"), Some("MISS"));
    hit_soon(&stage, "/photo/2", None);
}

/// The page cache never stores or serves a visitor's page to another one:
/// logged-in visitors reach every page first (the cache is cold), then
/// anonymous visitors — served by the app, then from nginx's cache — never
/// see a name in the header, a "log out" form or a session id.
#[test]
fn pages_with_a_visitors_name_are_never_cached_for_others() {
    if !tools_present(true) {
        return;
    }
    let site = Site::new(contract::USERS);
    let stage = Running::start(BIN, &args(&site, &[]));
    let photo = model::queries::home(&site.conn()).unwrap()[0].id;
    let pages = [
        "/".to_string(),
        "/user/user3".into(),
        format!("/photo/{photo}"),
        "/user/user2".into(),
    ];
    let cookie = contract::login(&stage, "user2");
    let sid = cookie.trim_start_matches("sid=").to_owned();
    for p in &pages {
        let r = stage.get_as(p, &cookie);
        assert_eq!(r.status, 200);
        assert!(
            r.text().contains("Logged in as"),
            "{p}: the visitor sees their name"
        );
        assert_ne!(
            r.header("x-cache"),
            Some("HIT"),
            "{p}: a logged-in page never comes from nginx's cache"
        );
    }
    for round in 0..2 {
        for p in &pages {
            let r = stage.get(p);
            assert_eq!(r.status, 200);
            let body = r.text();
            assert!(
                !body.contains("Logged in as"),
                "{p} (round {round}): another visitor's header"
            );
            assert!(
                !body.contains("/logout"),
                "{p} (round {round}): a log-out form"
            );
            assert!(!body.contains(&sid), "{p} (round {round}): a session id");
        }
    }
    hit_soon(&stage, "/user/user3", None);
}

/// A session that lives longer than 30 days (memcached reads such an
/// expiry as an absolute time, so it must be sent as one) is still there on
/// the next request, through a Rust instance and through a CPython one.
#[test]
fn sessions_longer_than_thirty_days_survive() {
    if !tools_present(true) {
        return;
    }
    let sixty_days = (60 * 24 * 3600).to_string();
    for python in [false, true] {
        let site = Site::new(contract::USERS);
        let mut extra = vec!["--session-ttl".to_string(), sixty_days.clone()];
        if python {
            extra.extend(testkit::python::app_args());
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let stage = Running::start(BIN, &args(&site, &extra));
        let cookie = contract::login(&stage, "user2");
        let page = stage.get_as("/", &cookie);
        assert!(
            page.text().contains("Logged in as"),
            "python={python}: the 60-day session expired at once"
        );
    }
}
