//! The request handling, called directly (no transport): every route, every
//! error status, escaping, UTF-8 and pagination, on a small seeded database.

use app::{Config, DiskPhotos, Gil, NoCache, Request, Response, SqliteSessions};

struct Site {
    _dir: tempfile::TempDir,
    conn: rusqlite::Connection,
    config: Config,
    gil: Gil,
}

impl Site {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let mut cfg = seed::Config::new(30, &db);
        cfg.pool = 3;
        seed::build(&cfg, &|_, _| {}).unwrap();
        let conn = model::open(&db).unwrap();
        let config = Config::new(cfg.photos_dir.clone());
        Site {
            _dir: dir,
            conn,
            config,
            gil: Gil::on(),
        }
    }

    fn call(&self, req: Request<'_>) -> Response {
        let sessions = SqliteSessions { conn: &self.conn };
        let photos = DiskPhotos {
            dir: self.config.photos_dir.clone(),
        };
        let svc = app::Services {
            db: &self.conn,
            sessions: &sessions,
            cache: &NoCache,
            photos: &photos,
            gil: &self.gil,
            config: &self.config,
        };
        app::handle(&svc, &req)
    }

    fn get(&self, path: &str) -> Response {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        self.call(Request {
            method: "GET",
            path,
            query,
            ..Default::default()
        })
    }

    fn post(&self, path: &str, body: &str, cookie: Option<&str>) -> Response {
        self.call(Request {
            method: "POST",
            path,
            cookie,
            body: body.as_bytes(),
            ..Default::default()
        })
    }

    fn login(&self, user: &str) -> String {
        let r = self.post(
            "/login",
            &format!("username={user}&password=pw-{user}"),
            None,
        );
        assert_eq!(r.status, 303, "{}", text(&r));
        let c = r.header("set-cookie").unwrap();
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"),
            "{c}"
        );
        c.split(';').next().unwrap().to_owned()
    }
}

fn text(r: &Response) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

#[test]
fn pages_render_with_escaping_and_charset() {
    let s = Site::new();
    for path in ["/", "/user/user3", "/photo/1"] {
        let r = s.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        let html = text(&r);
        assert!(
            !html.contains("<script>"),
            "{path}: raw markup from seeded text"
        );
        assert!(html.contains("Log in"), "anonymous header");
    }
    let timing = s.get("/user/user3").timing.header_value();
    assert!(
        timing.contains("session") || timing.contains("query"),
        "{timing}"
    );
    let r = s.get("/healthz");
    assert_eq!((r.status, text(&r).as_str()), (200, "ok\n"));
}

#[test]
fn error_statuses() {
    let s = Site::new();
    let cases = [
        ("/user/nobody", 404),
        ("/user/a%20b", 404),
        ("/user/user3?page=0", 400),
        ("/user/user3?page=x", 400),
        ("/user/user3?page=2", 404),
        ("/user/user3?page=1", 200),
        ("/photo/abc", 400),
        ("/photo/-1", 400),
        ("/photo/99999999", 404),
        ("/photo/1%27%20OR%201=1", 400),
        ("/static/photos/..%2f..%2fetc%2fpasswd", 400),
        ("/static/photos/../../etc/passwd", 404),
        ("/static/photos/%2e%2e", 400),
        ("/static/photos/p9999.jpg", 404),
        ("/nope", 404),
        ("/user/%ff%fe", 400),
        ("/photo/%zz", 400),
    ];
    for (path, want) in cases {
        let r = s.get(path);
        assert_eq!(r.status, want, "{path}");
        assert_eq!(
            r.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
    }
    let r = s.get("/static/photos/p0001.jpg");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert_eq!(&r.body[..2], &[0xFF, 0xD8], "a JPEG");

    let r = s.call(Request {
        method: "DELETE",
        path: "/",
        ..Default::default()
    });
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    // HEAD is GET for the handling (the transport drops the body).
    let head = s.call(Request {
        method: "HEAD",
        path: "/user/user1",
        ..Default::default()
    });
    let get = s.get("/user/user1");
    assert_eq!((head.status, head.body.len()), (200, get.body.len()));
    assert_eq!(head.header("content-type"), get.header("content-type"));
    let r = s.call(Request {
        method: "GET",
        path: "/login",
        ..Default::default()
    });
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
}

#[test]
fn login_comment_logout() {
    let s = Site::new();
    // Wrong password and unknown user look the same.
    let a = s.post("/login", "username=user2&password=wrong", None);
    let b = s.post("/login", "username=ghost&password=wrong", None);
    assert_eq!((a.status, b.status), (401, 401));
    assert_eq!(text(&a), text(&b));
    assert_eq!(s.post("/login", "username=user2", None).status, 400);

    let cookie = s.login("user2");
    let page = text(&s.call(Request {
        method: "GET",
        path: "/",
        cookie: Some(&cookie),
        ..Default::default()
    }));
    assert!(
        page.contains("Logged in as"),
        "the header names the visitor"
    );

    // Not logged in: 401. Empty: 400. Unknown photo: 404. Too large: 413.
    assert_eq!(s.post("/photo/1/comments", "body=hi", None).status, 401);
    assert_eq!(
        s.post("/photo/1/comments", "body=hi", Some("sid=garbage"))
            .status,
        401
    );
    assert_eq!(
        s.post("/photo/1/comments", "body=%20%20", Some(&cookie))
            .status,
        400
    );
    assert_eq!(
        s.post("/photo/99999999/comments", "body=hi", Some(&cookie))
            .status,
        404
    );
    let big = format!("body={}", "a".repeat(app::MAX_BODY_BYTES));
    assert_eq!(s.post("/photo/1/comments", &big, Some(&cookie)).status, 413);
    let long = format!("body={}", "é".repeat(2001));
    assert_eq!(
        s.post("/photo/1/comments", &long, Some(&cookie)).status,
        400
    );
    let r = s.call(Request {
        method: "POST",
        path: "/photo/1/comments",
        cookie: Some(&cookie),
        content_type: Some("application/json"),
        body: b"{}",
        ..Default::default()
    });
    assert_eq!(r.status, 415);
    let r = s.call(Request {
        method: "POST",
        path: "/photo/1/comments",
        cookie: Some(&cookie),
        body: b"body=%ff",
        ..Default::default()
    });
    assert_eq!(r.status, 400, "invalid UTF-8 in a form");
    let r = s.call(Request {
        method: "POST",
        path: "/photo/1/comments",
        cookie: Some(&cookie),
        host: Some("site"),
        origin: Some("http://evil"),
        body: b"body=x",
        ..Default::default()
    });
    assert_eq!(r.status, 403, "cross-site post");

    let marker = "<script>alert(1)</script> ' OR 1=1 -- café";
    let r = s.post(
        "/photo/1/comments",
        &format!("body={}", urlencode(marker)),
        Some(&cookie),
    );
    assert_eq!(r.status, 303);
    assert!(r.header("location").unwrap().starts_with("/photo/1#c"));
    let page = text(&s.get("/photo/1"));
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#39; OR 1=1 -- café"),
        "{page}"
    );

    let r = s.post("/logout", "", Some(&cookie));
    assert_eq!(r.status, 303);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(
        s.post("/photo/1/comments", "body=hi", Some(&cookie)).status,
        401,
        "session gone server-side"
    );
}

#[test]
fn new_session_id_at_every_login() {
    let s = Site::new();
    let a = s.login("user5");
    let r = s.post("/login", "username=user5&password=pw-user5", Some(&a));
    let b = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(a, b);
    assert_eq!(
        s.post("/photo/1/comments", "body=x", Some(&a)).status,
        401,
        "the old id is dead"
    );
    assert_eq!(s.post("/photo/1/comments", "body=x", Some(&b)).status, 303);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
