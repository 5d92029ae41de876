//! # contract — what every way of serving the site must serve, written once
//!
//! The talk changed *how* FlickrKillr was served four times, never *what*
//! it served. This crate is the "what": every check a stage (or the CPython
//! peer) must pass, written once and run from two places:
//!
//! - `cargo test`: each stage's `tests/contract.rs` is one line,
//!   `testkit::contract_suite!(…)`, which makes one `#[test]` per check;
//! - `loadgen verify URL --db DB`: every check, before a benchmark figure
//!   is taken (`scripts/compare.sh` times no row that fails).
//!
//! A check is a row of [`CHECKS`]; most are tables of data — the pages to
//! compare byte for byte with `model::render`, the bad inputs and the
//! statuses they must get ([`inputs::CASES`]) — walked by one runner
//! ([`run`]). Adding a check means adding a row here; both the tests and
//! `verify` then run it.
//!
//! What is checked, in order ([`CHECKS`]):
//! `health` · `pages` (byte-identical, twice: a caching stage answers the
//! second from its cache) · `photos` (bytes as on disk) · `statuses` (bad
//! inputs) · `protocol` (oversized heads and bodies, garbage cookies, wrong
//! methods and types) · `head` (HEAD wherever GET) · `half-close` (a
//! client that shuts down its sending side still gets its answer) ·
//! `headers` (`X-Served-By`, `Server-Timing`) · `session` (login → comment
//! → logout) · `writes` (concurrent writers lose nothing).
//!
//! The checks write to the database: one session and a comment for
//! `session`, [`Options::writes`] comments for `writes`. Run them on a copy.

mod inputs;
mod pages;
mod session;
mod wire;
mod writes;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use http_client::{Client, Resp};
pub use inputs::CASES;

/// Why the checks cannot start at all (a server failing them is not an
/// error: it is a [`Report`] with failures).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Model(#[from] model::ModelError),
    #[error("the database has no users or no photos: seed it first")]
    Empty,
}

/// What the checks know about the seeded site they compare with.
pub struct Site {
    /// The database the server serves (reference renderings are read from it).
    pub db: model::Db,
    pub photos_dir: PathBuf,
    /// Seeded users: `user1` … `user{users}`.
    pub users: u64,
    /// Smallest and largest photo id.
    pub photo_ids: (i64, i64),
}

impl Site {
    /// Opens `db` (the same file the server serves) and reads its facts.
    /// `photos_dir` defaults to `photos/` beside the database.
    pub fn open(db: &Path, photos_dir: Option<&Path>) -> Result<Site, Error> {
        let conn = model::open(db)?;
        let users: u64 = model::schema::meta(&conn, "users")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let photo_ids: (i64, i64) = conn
            .query_row(
                "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM photos",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(model::ModelError::from)?;
        if users == 0 || photo_ids.1 == 0 {
            return Err(Error::Empty);
        }
        Ok(Site {
            db: conn,
            photos_dir: photos_dir
                .map_or_else(|| model::schema::default_photos_dir(db), Path::to_path_buf),
            users,
            photo_ids,
        })
    }

    /// The visitor `username` as a page's header shows them.
    pub fn viewer(&self, username: &str) -> Option<model::SessionUser> {
        let u = model::queries::user_by_name(&self.db, username).ok()??;
        Some(model::SessionUser {
            user_id: u.id,
            username: u.username,
            display_name: u.display_name,
        })
    }

    /// The id of the newest photo (the first on the home page).
    pub fn newest_photo(&self) -> i64 {
        self.photo_ids.1
    }

    /// The photo that got the last comment, if any.
    pub fn last_commented_photo(&self) -> Option<i64> {
        self.db
            .query_row(
                "SELECT photo_id FROM comments ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .ok()
    }

    /// Comments in the database, counted directly.
    pub fn comment_rows(&self) -> i64 {
        self.db
            .query_row("SELECT count(*) FROM comments", [], |r| r.get(0))
            .unwrap_or(-1)
    }
}

/// Knobs of the checks that write.
#[derive(Debug, Clone)]
pub struct Options {
    /// Comments posted by the `writes` check.
    pub writes: usize,
    /// Concurrent writers posting them (each logged in as its own user).
    pub writers: usize,
}

/// `loadgen verify`'s writes: enough to race eight writers on every
/// stage, cheap enough for the slowest row (a CGI interpreter per request).
pub const VERIFY_WRITES: usize = 40;

impl Default for Options {
    fn default() -> Self {
        Options {
            writes: VERIFY_WRITES,
            writers: 8,
        }
    }
}

/// One outcome: a check may record several (one per page it fetched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The row of [`CHECKS`] it belongs to.
    pub check: &'static str,
    pub name: String,
    pub ok: bool,
    /// What was seen (when ok) or what was wrong.
    pub detail: String,
}

impl std::fmt::Display for Outcome {
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

/// Every outcome, in the order the checks ran.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(|o| o.ok)
    }
    pub fn failures(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| !o.ok)
    }
    /// The failures, one per line (for a test's panic message).
    pub fn failures_text(&self) -> String {
        self.failures()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One check: a name, what it promises, and how it is run.
pub struct Check {
    /// Short id (`cargo test`'s test name, `verify --only`).
    pub id: &'static str,
    /// The promise, in one sentence.
    pub promise: &'static str,
    run: fn(&mut Run<'_>),
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

/// The contract, in the order `verify` runs it. `health` first: if nothing
/// answers, the rest is not tried.
pub const CHECKS: &[Check] = &[
    Check {
        id: "health",
        promise: "GET /healthz answers 200 ok",
        run: wire::health,
    },
    Check {
        id: "pages",
        promise: "anonymous pages are byte-identical to model::render over the same database, twice",
        run: pages::reference_pages,
    },
    Check {
        id: "photos",
        promise: "photo files come back as image/jpeg, identical to the files on disk",
        run: pages::photo_files,
    },
    Check {
        id: "statuses",
        promise: "every bad input gets its documented 4xx, never a 5xx, never a file outside the photos",
        run: inputs::statuses,
    },
    Check {
        id: "protocol",
        promise: "oversized heads, garbage cookies, wrong methods and types get a 4xx (or are ignored), and the server keeps serving",
        run: inputs::protocol,
    },
    Check {
        id: "head",
        promise: "HEAD is answered wherever GET is: the same status and headers, no body",
        run: pages::head,
    },
    Check {
        id: "half-close",
        promise: "a client that sends its request and then shuts down its sending side still gets the whole answer",
        run: wire::half_close,
    },
    Check {
        id: "headers",
        promise: "an app response names its process (X-Served-By) and says where its time went (Server-Timing)",
        run: wire::headers,
    },
    Check {
        id: "session",
        promise: "log in, see your name, comment (escaped, visible at once, to everyone), log out, and the session is gone",
        run: session::flow,
    },
    Check {
        id: "writes",
        promise: "comments posted by concurrent writers are all stored, once, and all visible",
        run: writes::concurrent,
    },
];

/// The check with this id.
pub fn check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

/// Runs the checks `select` picks against `client`, comparing with `site`,
/// calling `on_outcome` as each outcome is known.
pub fn run(
    client: &Client,
    site: &Site,
    opts: &Options,
    select: impl Fn(&Check) -> bool,
    on_outcome: &mut dyn FnMut(&Outcome),
) -> Report {
    let mut r = Run {
        client,
        site,
        opts,
        check: "",
        report: Report::default(),
        on_outcome,
        unreachable: false,
    };
    for c in CHECKS.iter().filter(|c| select(c)) {
        r.check = c.id;
        (c.run)(&mut r);
        if r.unreachable {
            break;
        }
    }
    r.report
}

/// The state of one run of the checks, and the helpers they share.
pub(crate) struct Run<'a> {
    pub client: &'a Client,
    pub site: &'a Site,
    pub opts: &'a Options,
    check: &'static str,
    report: Report,
    on_outcome: &'a mut dyn FnMut(&Outcome),
    /// Set when the server cannot be reached: the remaining checks are skipped.
    unreachable: bool,
}

/// The expected rendering of a page, or why there is none.
pub(crate) type Expected = Result<String, String>;

impl Run<'_> {
    /// Records one outcome: ok if `problems` is empty.
    pub fn record(&mut self, name: impl Into<String>, problems: Vec<String>, ok_detail: String) {
        let ok = problems.is_empty();
        let o = Outcome {
            check: self.check,
            name: name.into(),
            ok,
            detail: if ok { ok_detail } else { problems.join("; ") },
        };
        (self.on_outcome)(&o);
        self.report.outcomes.push(o);
    }

    /// Marks the server as unreachable (the run stops after this check).
    pub fn give_up(&mut self) {
        self.unreachable = true;
    }

    /// A request, timed.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
    ) -> Result<(Resp, f64), String> {
        let t = Instant::now();
        let mut headers = Vec::new();
        if let Some(c) = cookie {
            headers.push(("Cookie", c));
        }
        if form.is_some() {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        }
        self.client
            .request(method, path, &headers, form.unwrap_or("").as_bytes())
            .map(|r| (r, t.elapsed().as_secs_f64() * 1e3))
            .map_err(|e| e.to_string())
    }

    /// One request whose status must be one of `want`.
    pub fn status(
        &mut self,
        what: &str,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
        want: &[u16],
    ) -> Option<Resp> {
        let name = format!("{what} ({method} {})", shorten(path));
        match self.send(method, path, cookie, form) {
            Ok((r, _)) => {
                let problems = if want.contains(&r.status) {
                    Vec::new()
                } else {
                    let w: Vec<String> = want.iter().map(u16::to_string).collect();
                    vec![format!("status {} (want {})", r.status, w.join(" or "))]
                };
                self.record(name, problems, r.status.to_string());
                Some(r)
            }
            Err(e) => {
                self.record(name, vec![e], String::new());
                None
            }
        }
    }

    /// An HTML page: 200, the page headers, and (when `expected` is a
    /// rendering) exactly those bytes.
    pub fn page(
        &mut self,
        what: &str,
        path: &str,
        cookie: Option<&str>,
        expected: &Expected,
    ) -> Option<Resp> {
        let name = format!("{what} (GET {path})");
        let (r, ms) = match self.send("GET", path, cookie, None) {
            Ok(x) => x,
            Err(e) => {
                self.record(name, vec![e], String::new());
                return None;
            }
        };
        let mut problems = Vec::new();
        if r.status != 200 {
            problems.push(format!("status {} (want 200)", r.status));
        }
        problems.extend(wire::html_header_problems(&r));
        match expected {
            Ok(want) if r.status == 200 => {
                problems.extend(first_difference(want.as_bytes(), &r.body))
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("no reference rendering: {e}")),
        }
        let ok = format!(
            "200, byte-identical to model::render ({} bytes, {ms:.1} ms, {})",
            r.body.len(),
            wire::who_answered(&r)
        );
        self.record(name, problems, ok);
        Some(r)
    }

    /// GET `path`: 200, and the body holds every `want` and none of `not`.
    pub fn contains(
        &mut self,
        what: &str,
        path: &str,
        cookie: Option<&str>,
        want: &[&str],
        not: &[&str],
    ) {
        let name = format!("{what} (GET {path})");
        match self.send("GET", path, cookie, None) {
            Ok((r, _)) => {
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
                        problems.push(format!("body contains {n:?}"));
                    }
                }
                let detail = format!("200, {} bytes, as expected", r.body.len());
                self.record(name, problems, detail);
            }
            Err(e) => self.record(name, vec![e], String::new()),
        }
    }
}

/// A long path, cut for a one-line name.
fn shorten(path: &str) -> String {
    if path.len() > 60 {
        let cut = (0..=60)
            .rev()
            .find(|i| path.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}...", &path[..cut])
    } else {
        path.to_owned()
    }
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// `None` if equal, else where and how they differ.
pub(crate) fn first_difference(want: &[u8], got: &[u8]) -> Option<String> {
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

pub(crate) fn snippet(b: &[u8], at: usize, len: usize) -> String {
    let start = at.saturating_sub(20).min(b.len());
    let end = (at + len).min(b.len());
    String::from_utf8_lossy(&b[start..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
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
        assert_eq!(shorten(&"é".repeat(40)).chars().count(), 33);
        let ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        let mut dedup = ids.clone();
        dedup.dedup();
        assert_eq!(ids, dedup, "check ids are unique");
        assert_eq!(CHECKS[0].id, "health");
    }
}
