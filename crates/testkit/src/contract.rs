//! The contract every stage passes: same routes, same status codes, the same
//! HTML bytes for the same request on the same database, the same login →
//! comment → logout behaviour, the same answers to bad input.
//!
//! Each check takes a running stage and its site. [`contract_suite!`]
//! expands to one `#[test]` per check for a stage.

use crate::http::{self, Resp, form_encode};
use crate::{Running, Site};

/// Users in a contract test site: small enough to seed in a blink.
pub const USERS: u64 = 30;

fn get(s: &Running, path: &str) -> Resp {
    s.get(path)
}

fn get_with(s: &Running, path: &str, cookie: &str) -> Resp {
    http::request(&s.addr, "GET", path, &[("Cookie", cookie)], b"")
}

fn post(s: &Running, path: &str, body: &str, cookie: Option<&str>) -> Resp {
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(c) = cookie {
        h.push(("Cookie", c));
    }
    http::request(&s.addr, "POST", path, &h, body.as_bytes())
}

/// Logs in as a seeded user; returns the `sid=…` cookie.
pub fn login(s: &Running, user: &str) -> String {
    let r = post(
        s,
        "/login",
        &format!(
            "username={user}&password={}",
            form_encode(&model::password::seeded_password(user))
        ),
        None,
    );
    assert_eq!(r.status, 303, "login as {user}: {}", r.text());
    let sc = r.header("set-cookie").expect("login sets a cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(sc.contains(attr), "session cookie lacks {attr}: {sc}");
    }
    r.session_cookie().expect("sid cookie")
}

/// A photo id of the site (the newest one).
fn some_photo(site: &Site) -> i64 {
    model::queries::home(&site.conn()).expect("home")[0].id
}

/// Every route answers with its documented status and content type.
pub fn routes_and_statuses(s: &Running, site: &Site) {
    let photo = some_photo(site);
    let file = model::queries::photo_page(&site.conn(), photo)
        .unwrap()
        .unwrap()
        .photo
        .file;
    for path in [
        "/".to_string(),
        "/user/user3".into(),
        format!("/photo/{photo}"),
    ] {
        let r = get(s, &path);
        assert_eq!(r.status, 200, "GET {path}");
        assert_eq!(
            r.header("content-type"),
            Some("text/html; charset=utf-8"),
            "GET {path}"
        );
        assert!(r.header("date").is_some(), "GET {path}: Date header");
    }
    let img = get(s, &format!("/static/photos/{file}"));
    assert_eq!(img.status, 200);
    assert_eq!(img.header("content-type"), Some("image/jpeg"));
    assert_eq!(
        img.body,
        std::fs::read(site.photos.join(&file)).unwrap(),
        "photo bytes"
    );
    assert_eq!(get(s, "/healthz").status, 200);

    let cases: &[(&str, &[u16])] = &[
        ("/user/nobody", &[404]),
        ("/user/user3?page=0", &[400]),
        ("/user/user3?page=abc", &[400]),
        ("/user/user3?page=2", &[404]),
        ("/photo/abc", &[400]),
        ("/photo/0", &[400]),
        ("/photo/999999999", &[404]),
        ("/photo/1%27%20OR%20%271%27=%271", &[400]),
        ("/user/x%27;DROP%20TABLE%20users;--", &[404]),
        ("/static/photos/..%2f..%2fetc%2fpasswd", &[400, 404]),
        ("/static/photos/%2e%2e%2f%2e%2e%2fetc%2fpasswd", &[400, 404]),
        ("/static/photos/..%252f..%252fetc%252fpasswd", &[400, 404]),
        ("/static/photos/../../etc/passwd", &[400, 404]),
        ("/static/photos/p9999.jpg", &[404]),
        ("/user/%ff%fe", &[400]),
        ("/no/such/page", &[404]),
    ];
    for (path, want) in cases {
        let r = get(s, path);
        assert!(
            want.contains(&r.status),
            "GET {path}: got {}, want one of {want:?}",
            r.status
        );
        assert!(!r.text().contains("root:"), "GET {path} leaked a file");
    }
    // Still alive and well after all that.
    assert_eq!(get(s, "/healthz").status, 200);
}

/// Anonymous pages are byte-identical to the data model's reference rendering.
pub fn html_matches_reference(s: &Running, site: &Site) {
    let c = site.conn();
    let photo = some_photo(site);
    let want = [
        (
            "/".to_string(),
            model::render::home(None, &model::queries::home(&c).unwrap()).unwrap(),
        ),
        (
            "/user/user3".into(),
            model::render::user(
                None,
                &model::queries::user_page(&c, "user3", 1).unwrap().unwrap(),
            )
            .unwrap(),
        ),
        (
            format!("/photo/{photo}"),
            model::render::photo(
                None,
                &model::queries::photo_page(&c, photo).unwrap().unwrap(),
            )
            .unwrap(),
        ),
    ];
    for _round in 0..2 {
        // Twice: a caching stage answers the second from its cache.
        for (path, html) in &want {
            let r = get(s, path);
            assert_eq!(r.status, 200, "{path}");
            assert!(
                r.text() == *html,
                "GET {path}: HTML differs from the reference rendering"
            );
        }
    }
}

/// Log in, see your name, comment (escaped, visible at once), log out.
pub fn login_comment_logout(s: &Running, site: &Site) {
    let photo = some_photo(site);
    let page = format!("/photo/{photo}");
    let _warm = get(s, &page); // a caching stage now holds this page

    assert_eq!(
        post(s, "/login", "username=user2&password=nope", None).status,
        401
    );
    let cookie = login(s, "user2");
    let viewer = model::SessionUser {
        user_id: 2,
        username: "user2".into(),
        display_name: model::queries::user_by_name(&site.conn(), "user2")
            .unwrap()
            .unwrap()
            .display_name,
    };
    let mine = get_with(s, "/user/user3", &cookie);
    let reference = model::render::user(
        Some(&viewer),
        &model::queries::user_page(&site.conn(), "user3", 1)
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert!(
        mine.text() == reference,
        "logged-in page differs from the reference rendering"
    );

    assert_eq!(
        post(s, &format!("{page}/comments"), "body=hello", None).status,
        401,
        "comment without a session"
    );
    assert_eq!(
        post(
            s,
            &format!("{page}/comments"),
            "body=hello",
            Some("sid=garbage")
        )
        .status,
        401
    );
    assert_eq!(
        post(s, &format!("{page}/comments"), "body=", Some(&cookie)).status,
        400
    );

    let marker = format!(
        "<script>alert('{}')</script> ünïcødé & \"q\"",
        std::process::id()
    );
    let r = post(
        s,
        &format!("{page}/comments"),
        &format!("body={}", form_encode(&marker)),
        Some(&cookie),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(
        r.header("location")
            .unwrap_or("")
            .starts_with(&format!("{page}#c"))
    );
    let escaped = format!(
        "&#60;script&#62;alert(&#39;{}&#39;)&#60;/script&#62; ünïcødé &#38; &#34;q&#34;",
        std::process::id()
    );
    for (who, r) in [
        ("anonymous", get(s, &page)),
        ("logged in", get_with(s, &page, &cookie)),
    ] {
        assert_eq!(r.status, 200);
        assert!(
            r.text().contains(&escaped),
            "{who}: the new comment is missing or not escaped"
        );
        assert!(!r.text().contains(&marker), "{who}: raw markup");
    }

    let out = post(s, "/logout", "", Some(&cookie));
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap_or("").contains("Max-Age=0"));
    assert_eq!(
        post(s, &format!("{page}/comments"), "body=again", Some(&cookie)).status,
        401,
        "logout ended the session server-side"
    );
}

/// Bad requests at the protocol level get a 4xx, never a 5xx or a hang.
pub fn bad_requests(s: &Running, _site: &Site) {
    let big_body = format!("body={}", "x".repeat(20 * 1024));
    let cookie = login(s, "user4");
    assert_eq!(
        post(s, "/photo/1/comments", &big_body, Some(&cookie)).status,
        413
    );
    let huge_header = "a".repeat(20 * 1024);
    let r = http::request(&s.addr, "GET", "/", &[("X-Huge", &huge_header)], b"");
    assert!(
        (400..500).contains(&r.status),
        "oversized header: {}",
        r.status
    );
    let r = http::request(
        &s.addr,
        "GET",
        "/",
        &[("Cookie", "sid=%%%; ;;=;sid=' OR 1=1; sid=\"zz\"")],
        b"",
    );
    assert_eq!(r.status, 200, "garbage cookie is an anonymous visitor");
    let r = http::request(&s.addr, "GET", "/", &[("Cookie", "sid=\u{1}\u{2}")], b"");
    assert!(
        (200..500).contains(&r.status),
        "control bytes in a header: {}",
        r.status
    );
    let r = http::request(&s.addr, "DELETE", "/", &[], b"");
    assert_eq!(r.status, 405);
    let r = http::raw(&s.addr, b"POST /photo/1/comments HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody").unwrap();
    assert!(
        (400..500).contains(&r.status),
        "wrong content type: {}",
        r.status
    );
    assert_eq!(get(s, "/healthz").status, 200, "still serving");
}

/// Every app response names its process and reports where the time went.
pub fn headers(s: &Running, _site: &Site) {
    let r = get(s, "/user/user5");
    let by = r.header("x-served-by").unwrap_or("");
    let hit = r.header("x-cache") == Some("HIT");
    assert!(
        hit || by.starts_with("stage-") && by.contains("pid="),
        "X-Served-By: {by:?}"
    );
    assert!(
        hit || r
            .header("server-timing")
            .is_some_and(|t| t.contains("dur=")),
        "Server-Timing"
    );
    assert!(r.header("content-length").is_some() || r.header("transfer-encoding").is_some());
}

/// Comments in the database, counted directly.
fn comment_rows(site: &Site) -> i64 {
    site.conn()
        .query_row("SELECT count(*) FROM comments", [], |r| r.get(0))
        .expect("count")
}

/// `n` comments posted concurrently by 8 logged-in visitors → exactly `n`
/// new rows, each visible on its photo page afterwards. No lost writes.
pub fn no_lost_writes(s: &Running, site: &Site, n: usize) {
    const WRITERS: usize = 8;
    let photos: Vec<i64> = {
        let c = site.conn();
        let mut st = c
            .prepare("SELECT id FROM photos ORDER BY id DESC LIMIT 40")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let before = comment_rows(site);
    let tag = format!("w{}x", std::process::id());
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let (photos, tag) = (&photos, &tag);
            scope.spawn(move || {
                let cookie = login(s, &format!("user{}", w + 1));
                for i in (w..n).step_by(WRITERS) {
                    let photo = photos[i % photos.len()];
                    let r = post(
                        s,
                        &format!("/photo/{photo}/comments"),
                        &format!("body={tag}{i}end"),
                        Some(&cookie),
                    );
                    assert_eq!(r.status, 303, "comment {i}: {}", r.text());
                }
            });
        }
    });
    assert_eq!(
        comment_rows(site) - before,
        n as i64,
        "exactly {n} new rows"
    );
    let mut seen = 0;
    for p in &photos {
        let page = get(s, &format!("/photo/{p}")).text();
        seen += (0..n)
            .filter(|i| page.contains(&format!("{tag}{i}end")))
            .count();
    }
    assert_eq!(seen, n, "every comment visible on its photo page");
}

/// A comment acknowledged with its redirect is still in the database after
/// the stage is killed with SIGKILL right after.
pub fn durable_after_sigkill(s: Running, site: &Site) {
    let cookie = login(&s, "user6");
    let body = format!("durable{}", std::process::id());
    let r = post(
        &s,
        "/photo/1/comments",
        &format!("body={body}"),
        Some(&cookie),
    );
    assert_eq!(r.status, 303);
    crate::signal(s.pid(), libc::SIGKILL);
    drop(s);
    let n: i64 = site
        .conn()
        .query_row(
            "SELECT count(*) FROM comments WHERE body = ?1",
            [&body],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1, "the acknowledged comment survived SIGKILL");
}

/// Writes in the contract suite: small enough for CI, big enough to race.
/// `FK_CONTRACT_WRITES=1000 cargo test --test contract no_lost_writes` runs
/// the full-size check.
pub const CONTRACT_WRITES: usize = 200;

/// [`CONTRACT_WRITES`], or `FK_CONTRACT_WRITES` from the environment.
pub fn contract_writes() -> usize {
    std::env::var("FK_CONTRACT_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CONTRACT_WRITES)
}

/// One `#[test]` per contract check, for the stage `$start` launches:
/// `testkit::contract_suite!(|site: &testkit::Site| testkit::Running::start(BIN, &site.args(&[])));`
#[macro_export]
macro_rules! contract_suite {
    ($start:expr) => {
        mod contract {
            #[allow(unused_imports)]
            use super::*;
            fn run(check: fn(&$crate::Running, &$crate::Site)) {
                let site = $crate::Site::new($crate::contract::USERS);
                let start: fn(&$crate::Site) -> $crate::Running = $start;
                let stage = start(&site);
                check(&stage, &site);
            }
            #[test]
            fn routes_and_statuses() {
                run($crate::contract::routes_and_statuses)
            }
            #[test]
            fn html_matches_reference() {
                run($crate::contract::html_matches_reference)
            }
            #[test]
            fn login_comment_logout() {
                run($crate::contract::login_comment_logout)
            }
            #[test]
            fn bad_requests() {
                run($crate::contract::bad_requests)
            }
            #[test]
            fn headers() {
                run($crate::contract::headers)
            }
            #[test]
            fn no_lost_writes() {
                run(|s, site| {
                    $crate::contract::no_lost_writes(s, site, $crate::contract::contract_writes())
                })
            }
            #[test]
            fn acknowledged_write_survives_sigkill() {
                let site = $crate::Site::new($crate::contract::USERS);
                let start: fn(&$crate::Site) -> $crate::Running = $start;
                $crate::contract::durable_after_sigkill(start(&site), &site);
            }
        }
    };
}
