//! `loadgen verify`: does a stage serve the site's HTTP contract?
//!
//! Every stage must serve the same bytes (the talk changed *how* the site
//! was served, never *what*), so before a benchmark figure means anything the
//! stage must pass these checks:
//!
//! 1. `GET /healthz` is `200 ok`.
//! 2. Anonymous home, user and photo pages (a sample: first, last, middle
//!    user; oldest, newest, middle photo and the last commented one) are
//!    byte-identical to `model::render` over the same database, with
//!    `Content-Type: text/html; charset=utf-8`, a `Date`, a `Content-Length`
//!    or chunked framing, and `X-Served-By` + `Server-Timing` (or
//!    `X-Cache: HIT` for an nginx cache hit).
//! 3. Photo files come back as `image/jpeg`, identical to the files on disk.
//! 4. Bad inputs get the contract's status: bad `?page=` 400, past the last
//!    page 404, unknown user/photo 404, non-numeric photo id 400, path
//!    traversal never 200, unknown path 404, wrong method 405, wrong password
//!    401, comment without a session 401, empty comment 400, comment on an
//!    unknown photo 404, a request body over 16 KiB 413.
//! 5. A write becomes visible: log in as the last seeded user (303, an
//!    `HttpOnly; SameSite=Lax; Path=/` sid cookie), post a comment holding a
//!    unique marker with `<script>` and non-ASCII text (303 to
//!    `/photo/ID#cN`), read the photo page with the cookie (the marker,
//!    HTML-escaped, and never raw), read it anonymously (byte-identical to
//!    the reference rendered *after* the write: caches must have been
//!    invalidated), log out (303), and find the old cookie refused (401).
//!
//! `verify` writes one session and one comment per run into the database.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::conn::Conn;
use crate::target::Target;
use crate::{Error, http};

/// Request bodies over this are refused with 413 (the contract's 16 KiB).
const BODY_LIMIT: usize = 16 * 1024;

/// What to check.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    pub url: String,
    pub db: PathBuf,
    /// Where the photo files are (default: `photos/` beside the database).
    pub photos_dir: Option<PathBuf>,
    pub timeout: Duration,
    pub allow_remote: bool,
}

impl VerifyConfig {
    pub fn new(url: &str, db: impl Into<PathBuf>) -> VerifyConfig {
        VerifyConfig {
            url: url.to_string(),
            db: db.into(),
            photos_dir: None,
            timeout: Duration::from_secs(10),
            allow_remote: false,
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}  {}: {}",
            if self.ok { "ok  " } else { "FAIL" },
            self.name,
            self.detail
        )
    }
}

/// All checks, in the order they ran.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub checks: Vec<Check>,
}

impl VerifyReport {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

/// Runs every check. `Err` only when verification cannot start (bad URL,
/// no database); a server that fails checks gives `Ok` with failures.
pub fn verify(cfg: &VerifyConfig) -> Result<VerifyReport, Error> {
    verify_with(cfg, &mut |_| {})
}

/// [`verify`], calling `on_check` as each check completes.
pub fn verify_with(
    cfg: &VerifyConfig,
    on_check: &mut dyn FnMut(&Check),
) -> Result<VerifyReport, Error> {
    let target = Target::parse(&cfg.url, cfg.allow_remote)?;
    let db = model::open(&cfg.db)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let photos_dir = cfg
        .photos_dir
        .clone()
        .unwrap_or_else(|| model::schema::default_photos_dir(&cfg.db));
    let mut v = Verifier {
        client: Client {
            target,
            timeout: cfg.timeout,
            rt,
        },
        db,
        photos_dir,
        report: VerifyReport::default(),
        on_check,
    };
    v.all();
    Ok(v.report)
}

/// A response, body included.
struct Resp {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    millis: f64,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
    fn headers_all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }
}

struct Client {
    target: Target,
    timeout: Duration,
    rt: tokio::runtime::Runtime,
}

impl Client {
    /// One request on a fresh connection (`Connection: close`).
    fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&[u8]>,
    ) -> Result<Resp, String> {
        let mut req = Vec::new();
        http::write_request(
            &mut req,
            method,
            path,
            &self.target.host_header,
            cookie,
            "",
            form,
            true,
        );
        let started = Instant::now();
        self.rt.block_on(async {
            let mut conn = tokio::time::timeout(self.timeout, Conn::connect(self.target.addr))
                .await
                .map_err(|_| "connect timed out".to_string())?
                .map_err(|e| format!("connect: {e}"))?;
            let mut body = Vec::new();
            let ex = tokio::time::timeout(self.timeout, conn.exchange(&req, Some(&mut body)))
                .await
                .map_err(|_| format!("no complete response within {:?}", self.timeout))?
                .map_err(|e| e.to_string())?;
            let mut headers = Vec::new();
            http::parse_head(&conn.head_buf()[..ex.head.len], Some(&mut headers))
                .map_err(|e| e.to_string())?;
            Ok(Resp {
                status: ex.head.status,
                headers,
                body,
                millis: started.elapsed().as_secs_f64() * 1e3,
            })
        })
    }
}

struct Verifier<'a> {
    client: Client,
    db: model::Db,
    photos_dir: PathBuf,
    report: VerifyReport,
    on_check: &'a mut dyn FnMut(&Check),
}

/// Expected rendering of a page, or why there is none.
type Expected = Result<String, String>;

impl Verifier<'_> {
    fn record(&mut self, name: impl Into<String>, problems: Vec<String>, ok_detail: String) {
        let ok = problems.is_empty();
        let check = Check {
            name: name.into(),
            ok,
            detail: if ok { ok_detail } else { problems.join("; ") },
        };
        (self.on_check)(&check);
        self.report.checks.push(check);
    }

    fn all(&mut self) {
        let users: u64 = model::schema::meta(&self.db, "users")
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let ids: (i64, i64) = self
            .db
            .query_row(
                "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM photos",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or((0, 0));
        if users == 0 || ids.1 == 0 {
            self.record(
                "database",
                vec!["the database has no users or no photos".into()],
                String::new(),
            );
            return;
        }
        if !self.healthz() {
            return;
        }
        self.page("home page", "/", None, self.expect_home(None));

        let mut names = vec![1, users, users / 2 + 1];
        names.dedup();
        for n in &names {
            let name = format!("user{n}");
            let path = format!("/user/{name}");
            let exp = self.expect_user(&name, 1, None);
            self.page(&format!("user page {name}"), &path, None, exp);
            if let Ok(Some(_)) = model::queries::user_page(&self.db, &name, 2) {
                let exp = self.expect_user(&name, 2, None);
                self.page(
                    &format!("user page {name} page 2"),
                    &format!("{path}?page=2"),
                    None,
                    exp,
                );
            }
        }
        let exp = self.expect_user("user1", 1, None);
        self.page("user page with ?page=1", "/user/user1?page=1", None, exp);

        let commented: Option<i64> = self
            .db
            .query_row(
                "SELECT photo_id FROM comments ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .ok();
        let mut photos = vec![ids.0, ids.1, ids.0 + (ids.1 - ids.0) / 2];
        photos.extend(commented);
        photos.dedup();
        let mut files = Vec::new();
        for id in &photos {
            let exp = self.expect_photo(*id, None);
            self.page(
                &format!("photo page {id}"),
                &format!("/photo/{id}"),
                None,
                exp,
            );
            if let Ok(Some(p)) = model::queries::photo_page(&self.db, *id)
                && !files.contains(&p.photo.file)
            {
                files.push(p.photo.file);
            }
        }
        for file in files.iter().take(3) {
            self.static_file(file);
        }
        self.bad_inputs(users, ids.1);
        self.write_flow(users, ids.1);
    }

    /// `false` if the server cannot be reached at all (the rest is skipped).
    fn healthz(&mut self) -> bool {
        let mut problems = Vec::new();
        let mut reachable = true;
        match self.client.send("GET", "/healthz", None, None) {
            Ok(r) => {
                if r.status != 200 {
                    problems.push(format!("status {} (want 200)", r.status));
                }
                if r.body.trim_ascii() != b"ok" {
                    problems.push(format!("body {:?} (want \"ok\")", snippet(&r.body, 0, 40)));
                }
            }
            Err(e) => {
                reachable = !e.starts_with("connect");
                problems.push(e);
            }
        }
        self.record("GET /healthz", problems, "200 ok".into());
        reachable
    }

    fn expect_home(&self, viewer: Option<&model::SessionUser>) -> Expected {
        let photos = model::queries::home(&self.db).map_err(|e| e.to_string())?;
        model::render::home(viewer, &photos).map_err(|e| e.to_string())
    }

    fn expect_user(&self, name: &str, page: u32, viewer: Option<&model::SessionUser>) -> Expected {
        match model::queries::user_page(&self.db, name, page).map_err(|e| e.to_string())? {
            Some(p) => model::render::user(viewer, &p).map_err(|e| e.to_string()),
            None => Err(format!("{name} page {page} is not in the database")),
        }
    }

    fn expect_photo(&self, id: i64, viewer: Option<&model::SessionUser>) -> Expected {
        match model::queries::photo_page(&self.db, id).map_err(|e| e.to_string())? {
            Some(p) => model::render::photo(viewer, &p).map_err(|e| e.to_string()),
            None => Err(format!("photo {id} is not in the database")),
        }
    }

    /// An HTML page: status 200, the headers, and (if `expected`) the exact bytes.
    fn page(
        &mut self,
        name: &str,
        path: &str,
        cookie: Option<&str>,
        expected: Expected,
    ) -> Option<Resp> {
        let name = format!("{name} (GET {path})");
        let r = match self.client.send("GET", path, cookie, None) {
            Ok(r) => r,
            Err(e) => {
                self.record(name, vec![e], String::new());
                return None;
            }
        };
        let mut problems = Vec::new();
        if r.status != 200 {
            problems.push(format!("status {} (want 200)", r.status));
        }
        problems.extend(html_header_problems(&r));
        match &expected {
            Ok(want) if r.status == 200 => {
                if let Some(diff) = first_difference(want.as_bytes(), &r.body) {
                    problems.push(diff);
                }
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("no reference rendering: {e}")),
        }
        let ok = format!(
            "200, byte-identical to model::render ({} bytes, {:.1} ms, {})",
            r.body.len(),
            r.millis,
            served_by(&r)
        );
        self.record(name, problems, ok);
        Some(r)
    }

    fn static_file(&mut self, file: &str) {
        let path = format!("/static/photos/{file}");
        let name = format!("photo file (GET {path})");
        let r = match self.client.send("GET", &path, None, None) {
            Ok(r) => r,
            Err(e) => return self.record(name, vec![e], String::new()),
        };
        let mut problems = Vec::new();
        if r.status != 200 {
            problems.push(format!("status {} (want 200)", r.status));
        }
        match r.header("content-type") {
            Some(ct) if ct.trim().eq_ignore_ascii_case("image/jpeg") => {}
            other => problems.push(format!("Content-Type {other:?} (want image/jpeg)")),
        }
        problems.extend(framing_problems(&r));
        let disk = self.photos_dir.join(file);
        let how = match std::fs::read(&disk) {
            Ok(want) => {
                if let Some(d) = first_difference(&want, &r.body) {
                    problems.push(format!("differs from {}: {d}", disk.display()));
                }
                "identical to the file on disk"
            }
            Err(_) => {
                if !r.body.starts_with(&[0xFF, 0xD8]) {
                    problems.push("body is not a JPEG".into());
                }
                "a JPEG (file not found on disk to compare)"
            }
        };
        self.record(
            name,
            problems,
            format!("200 image/jpeg, {} bytes, {how}", r.body.len()),
        );
    }

    /// One request whose status must be one of `want`.
    fn status(
        &mut self,
        what: &str,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&[u8]>,
        want: &[u16],
    ) {
        let shown = if path.len() > 60 {
            format!("{}...", &path[..60])
        } else {
            path.to_string()
        };
        let name = format!("{what} ({method} {shown})");
        let wants: Vec<String> = want.iter().map(u16::to_string).collect();
        match self.client.send(method, path, cookie, form) {
            Ok(r) if want.contains(&r.status) => self.record(name, vec![], format!("{}", r.status)),
            Ok(r) => self.record(
                name,
                vec![format!("status {} (want {})", r.status, wants.join(" or "))],
                String::new(),
            ),
            Err(e) => self.record(name, vec![e], String::new()),
        }
    }

    fn bad_inputs(&mut self, users: u64, max_photo: i64) {
        // The first page past user1's last one.
        let mut past = 2;
        while let Ok(Some(_)) = model::queries::user_page(&self.db, "user1", past) {
            past += 1;
        }
        let cases: Vec<(&str, String, &str, &[u16])> = vec![
            (
                "page=0 is a bad request",
                "/user/user1?page=0".into(),
                "GET",
                &[400],
            ),
            (
                "non-numeric page is a bad request",
                "/user/user1?page=abc".into(),
                "GET",
                &[400],
            ),
            (
                "page past the last is not found",
                format!("/user/user1?page={past}"),
                "GET",
                &[404],
            ),
            (
                "unknown user is not found",
                format!("/user/user{}", users + 1),
                "GET",
                &[404],
            ),
            (
                "non-numeric photo id is a bad request",
                "/photo/abc".into(),
                "GET",
                &[400],
            ),
            (
                "unknown photo is not found",
                format!("/photo/{}", max_photo + 1000),
                "GET",
                &[404],
            ),
            (
                "encoded path traversal is refused",
                "/static/photos/..%2f..%2fetc%2fpasswd".into(),
                "GET",
                &[400, 404],
            ),
            (
                "path traversal is refused",
                "/static/photos/../../etc/passwd".into(),
                "GET",
                &[400, 404],
            ),
            (
                "unknown photo file is not found",
                "/static/photos/nope-0000.jpg".into(),
                "GET",
                &[404],
            ),
            (
                "unknown path is not found",
                "/no/such/page".into(),
                "GET",
                &[404],
            ),
            ("wrong method on / is refused", "/".into(), "DELETE", &[405]),
            (
                "wrong method on a photo is refused",
                "/photo/1".into(),
                "POST",
                &[405],
            ),
            (
                "wrong method on comments is refused",
                "/photo/1/comments".into(),
                "GET",
                &[405],
            ),
        ];
        for (what, path, method, want) in cases {
            self.status(what, method, &path, None, None, want);
        }
        let wrong = http::form_encode(&[("username", "user1"), ("password", "not-the-password")]);
        self.status(
            "wrong password is refused",
            "POST",
            "/login",
            None,
            Some(wrong.as_bytes()),
            &[401],
        );
        let body = http::form_encode(&[("body", "no session")]);
        self.status(
            "comment without a session is refused",
            "POST",
            &format!("/photo/{max_photo}/comments"),
            None,
            Some(body.as_bytes()),
            &[401],
        );
    }

    fn write_flow(&mut self, users: u64, photo: i64) {
        let username = format!("user{users}");
        let form = http::form_encode(&[
            ("username", &username),
            ("password", &model::password::seeded_password(&username)),
        ]);
        let name = format!("log in as {username} (POST /login)");
        let cookie = match self
            .client
            .send("POST", "/login", None, Some(form.as_bytes()))
        {
            Ok(r) => {
                let mut problems = Vec::new();
                if r.status != 303 {
                    problems.push(format!("status {} (want 303)", r.status));
                }
                if r.header("location").as_deref() != Some("/") {
                    problems.push(format!("Location {:?} (want \"/\")", r.header("location")));
                }
                let sid = r
                    .headers_all("set-cookie")
                    .into_iter()
                    .find(|c| c.trim_start().starts_with("sid="));
                let cookie = match &sid {
                    Some(c) => {
                        let value = c
                            .trim_start()
                            .split(';')
                            .next()
                            .unwrap_or_default()
                            .to_string();
                        let id = &value["sid=".len()..];
                        // 32 hex digits (128 random bits), after an optional
                        // instance tag such as `i0-` (stage-3 routes on it).
                        let hex = id.rsplit_once('-').map_or(id, |(tag, h)| {
                            if tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
                                h
                            } else {
                                id
                            }
                        });
                        if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                            problems.push(format!("sid {id:?} is not 128 random bits in hex"));
                        }
                        let attrs: Vec<String> = c
                            .split(';')
                            .skip(1)
                            .map(|a| a.trim().to_ascii_lowercase())
                            .collect();
                        for want in ["httponly", "samesite=lax", "path=/"] {
                            if !attrs.iter().any(|a| a == want) {
                                problems.push(format!("Set-Cookie lacks {want}: {c:?}"));
                            }
                        }
                        Some(value)
                    }
                    None => {
                        problems.push("no Set-Cookie: sid=...".into());
                        None
                    }
                };
                self.record(
                    name,
                    problems,
                    "303 to /, sid cookie HttpOnly; SameSite=Lax; Path=/".into(),
                );
                cookie
            }
            Err(e) => {
                self.record(name, vec![e], String::new());
                None
            }
        };
        let Some(cookie) = cookie else {
            self.record(
                "logged-in checks",
                vec!["skipped: no session".into()],
                String::new(),
            );
            return;
        };
        let cookie = Some(cookie.as_str());
        let comments = format!("/photo/{photo}/comments");

        // The logged-in header shows the viewer.
        let viewer_mark = format!("Logged in as <a href=\"/user/{username}\">");
        self.contains(
            "logged-in home shows the viewer",
            "/",
            cookie,
            &[&viewer_mark],
            &[],
        );

        let empty = http::form_encode(&[("body", "")]);
        self.status(
            "empty comment is a bad request",
            "POST",
            &comments,
            cookie,
            Some(empty.as_bytes()),
            &[400],
        );
        let body = http::form_encode(&[("body", "nowhere")]);
        self.status(
            "comment on an unknown photo is not found",
            "POST",
            &format!("/photo/{}/comments", photo + 1000),
            cookie,
            Some(body.as_bytes()),
            &[404],
        );
        let big = http::form_encode(&[("body", &"x".repeat(BODY_LIMIT + 1024))]);
        self.status(
            "request body over 16 KiB is refused",
            "POST",
            &comments,
            cookie,
            Some(big.as_bytes()),
            &[413],
        );

        // The write, with a marker nobody else could have written.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let (head, tail) = (format!("loadgen-verify-{nanos}"), format!("end-{nanos}"));
        let marker = format!("{head} <script>alert(1)</script> & naïve café ✓ 日本 {tail}");
        let form = http::form_encode(&[("body", &marker)]);
        let name = format!("post a comment (POST {comments})");
        match self
            .client
            .send("POST", &comments, cookie, Some(form.as_bytes()))
        {
            Ok(r) => {
                let mut problems = Vec::new();
                if r.status != 303 {
                    problems.push(format!("status {} (want 303)", r.status));
                }
                let loc = r.header("location").unwrap_or_default();
                let prefix = format!("/photo/{photo}#c");
                let good = loc
                    .strip_prefix(&prefix)
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
                if !good {
                    problems.push(format!("Location {loc:?} (want {prefix}<comment id>)"));
                }
                self.record(name, problems, format!("303 to {loc}"));
            }
            Err(e) => self.record(name, vec![e], String::new()),
        }
        let raw = "<script>alert(1)</script>";
        // The marker as the reference rendering escapes it (the template
        // engine's choice of entities, e.g. `&#60;` or `&lt;`, is its own),
        // found by its plain-text ends in the page rendered after the write.
        let exp = self.expect_photo(photo, None);
        let escaped = exp.as_ref().ok().and_then(|page| {
            let start = page.find(&head)?;
            let end = start + page[start..].find(&tail)? + tail.len();
            Some(page[start..end].to_string())
        });
        let Some(escaped) = escaped.filter(|e| !e.contains('<')) else {
            self.record(
                "the comment is in the database",
                vec![format!(
                    "the reference rendering of photo {photo} has no escaped marker: the server does not write to {}",
                    "the --db given"
                )],
                String::new(),
            );
            return;
        };
        self.contains(
            "the comment is visible, escaped, to its author",
            &format!("/photo/{photo}"),
            cookie,
            &[&escaped, &viewer_mark],
            &[raw],
        );
        self.page(
            "the comment is visible anonymously",
            &format!("/photo/{photo}"),
            None,
            exp,
        );

        let name = "log out (POST /logout)".to_string();
        match self.client.send("POST", "/logout", cookie, Some(b"")) {
            Ok(r) => {
                let mut problems = Vec::new();
                if r.status != 303 {
                    problems.push(format!("status {} (want 303)", r.status));
                }
                if r.header("location").as_deref() != Some("/") {
                    problems.push(format!("Location {:?} (want \"/\")", r.header("location")));
                }
                self.record(name, problems, "303 to /".into());
            }
            Err(e) => self.record(name, vec![e], String::new()),
        }
        self.status(
            "the old session is refused after logout",
            "POST",
            &comments,
            cookie,
            Some(body.as_bytes()),
            &[401],
        );
    }

    /// GET `path`: 200, and the body contains every `want` and none of `not`.
    fn contains(
        &mut self,
        what: &str,
        path: &str,
        cookie: Option<&str>,
        want: &[&str],
        not: &[&str],
    ) {
        let name = format!("{what} (GET {path})");
        match self.client.send("GET", path, cookie, None) {
            Ok(r) => {
                let mut problems = Vec::new();
                if r.status != 200 {
                    problems.push(format!("status {} (want 200)", r.status));
                }
                for w in want {
                    if !contains(&r.body, w.as_bytes()) {
                        problems.push(format!("body lacks {w:?}"));
                    }
                }
                for n in not {
                    if contains(&r.body, n.as_bytes()) {
                        problems.push(format!("body contains unescaped {n:?}"));
                    }
                }
                self.record(
                    name,
                    problems,
                    format!("200, {} bytes, as expected", r.body.len()),
                );
            }
            Err(e) => self.record(name, vec![e], String::new()),
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn served_by(r: &Resp) -> String {
    match (r.header("x-served-by"), r.header("x-cache")) {
        (Some(s), _) => s,
        (None, Some(c)) => format!("X-Cache: {c}"),
        _ => "no X-Served-By".into(),
    }
}

fn framing_problems(r: &Resp) -> Vec<String> {
    let mut p = Vec::new();
    if r.header("date").is_none() {
        p.push("no Date header".into());
    }
    let chunked = r
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if r.header("content-length").is_none() && !chunked {
        p.push("neither Content-Length nor chunked".into());
    }
    p
}

/// Content-Type with charset, Date, framing, and who served it.
fn html_header_problems(r: &Resp) -> Vec<String> {
    let mut p = framing_problems(r);
    let ct = r.header("content-type").unwrap_or_default();
    let norm: String = ct
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if norm != "text/html;charset=utf-8" {
        p.push(format!(
            "Content-Type {ct:?} (want \"text/html; charset=utf-8\")"
        ));
    }
    let hit = r
        .header("x-cache")
        .is_some_and(|v| v.trim().starts_with("HIT"));
    if !hit {
        match r.header("x-served-by") {
            Some(s) if valid_served_by(&s) => {}
            Some(s) => p.push(format!("X-Served-By {s:?} (want \"stage-N pid=P\")")),
            None => p.push("no X-Served-By (nor X-Cache: HIT)".into()),
        }
        match r.header("server-timing") {
            Some(st) => {
                let mut n = 0;
                http::server_timing(st.as_bytes(), |_, _| n += 1);
                if n == 0 {
                    p.push(format!("Server-Timing {st:?} has no name;dur=MS entry"));
                }
            }
            None => p.push("no Server-Timing (nor X-Cache: HIT)".into()),
        }
    }
    p
}

fn valid_served_by(s: &str) -> bool {
    let mut parts = s.split_whitespace();
    let stage = parts.next().and_then(|x| x.strip_prefix("stage-"));
    let pid = parts.next().and_then(|x| x.strip_prefix("pid="));
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    stage.is_some_and(digits) && pid.is_some_and(digits)
}

/// `None` if equal, else where and how they differ.
fn first_difference(want: &[u8], got: &[u8]) -> Option<String> {
    if want == got {
        return None;
    }
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    Some(format!(
        "body differs from the reference at byte {at} (reference {} bytes, got {}): want {:?}, got {:?}",
        want.len(),
        got.len(),
        snippet(want, at, 60),
        snippet(got, at, 60)
    ))
}

fn snippet(b: &[u8], at: usize, len: usize) -> String {
    let start = at.saturating_sub(20).min(b.len());
    let end = (at + len).min(b.len());
    String::from_utf8_lossy(&b[start..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert!(valid_served_by("stage-3 pid=123"));
        assert!(!valid_served_by("stage-x pid=1"));
        assert!(!valid_served_by("nginx"));
        assert_eq!(first_difference(b"abc", b"abc"), None);
        assert!(
            first_difference(b"abcdef", b"abXdef")
                .unwrap()
                .contains("at byte 2")
        );
        assert!(
            first_difference(b"abc", b"abcd")
                .unwrap()
                .contains("at byte 3")
        );
        assert!(contains(b"hello world", b"o w"));
    }
}
