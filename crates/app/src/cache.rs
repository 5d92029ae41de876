//! The two seams stage-4 plugs memcached into; stages 1–3 use the plain
//! implementations here ([`NoCache`], [`DiskPhotos`]).
//!
//! Pages are named by their canonical address ([`PageAddr`]: the path and
//! query their route links to), never by a cache key: how a cache turns an
//! address into a key (stage-4: exactly as nginx builds `$memcached_key`)
//! and which visitors' data is worth caching are the cache's business, so
//! this crate does not know that nginx exists.
//!
//! Versions: values carry a version (a photo page's is its highest comment
//! id). Readers that filled a miss add (never overwrite); writers publish,
//! replacing only an older version. A reader that read the database before
//! a comment was committed can therefore never overwrite the page the
//! writer published.
//!
//! An `add` can still land *after* the published item was removed (an
//! eviction, a memcached restart, a failed publish deleting it): it would
//! then store the page as it was before the comment, until it expires. A
//! cache whose adds may be late (stage-4 sends them from a queue) sends
//! them through [`Freshness`], which knows every comment committed since
//! and keeps new ones from committing until the adds have landed.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// A page's canonical address: the path and query its route links to
/// (`/user/user7` and `page=2`; `/photo/12` and no query). Every request
/// for the same page names it the same way, however it was spelled.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageAddr {
    pub path: String,
    /// Without the `?`; empty when there is none.
    pub query: String,
}

/// A shared cache of pages and the data behind them.
pub trait PageCache: Send + Sync {
    /// Whether there is a cache at all (skips building addresses and
    /// serialising for nothing).
    fn enabled(&self) -> bool;
    /// Whether the data behind a page is worth asking the cache for, and
    /// keeping, for this visitor.
    fn caches_data_for(&self, logged_in: bool) -> bool;
    /// The data behind `page`, or `None` on a miss or when the cache is down.
    fn get_data(&self, page: &PageAddr) -> Option<Vec<u8>>;
    /// Keeps the data behind `page` if the cache holds none (a reader
    /// filling a miss). `read_at`: when the request that read it from the
    /// database started (no later than the read; see [`Freshness`]).
    fn add_data(&self, page: &PageAddr, data: &[u8], version: u64, read_at: Instant);
    /// Keeps the anonymous rendering of `page` if the cache holds none.
    fn add_page(&self, page: &PageAddr, html: &[u8], version: u64, read_at: Instant);
    /// A writer publishing what it just committed: the anonymous rendering
    /// and the data of `page`, each unless the cache already holds
    /// `version` or newer. Returns once both are stored (or removed).
    fn publish(&self, page: &PageAddr, html: &[u8], data: &[u8], version: u64);
}

/// No cache (stages 1–3).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCache;

impl PageCache for NoCache {
    fn enabled(&self) -> bool {
        false
    }
    fn caches_data_for(&self, _: bool) -> bool {
        false
    }
    fn get_data(&self, _: &PageAddr) -> Option<Vec<u8>> {
        None
    }
    fn add_data(&self, _: &PageAddr, _: &[u8], _: u64, _: Instant) {}
    fn add_page(&self, _: &PageAddr, _: &[u8], _: u64, _: Instant) {}
    fn publish(&self, _: &PageAddr, _: &[u8], _: &[u8], _: u64) {}
}

/// How old a reader's `add` may be, from the start of the request that read
/// the database, when [`Freshness`] checks it; an older one is dropped (a
/// later miss, never a stale page). Also how long a comment is remembered.
/// Adds wait milliseconds in stage-4's queue; a second is far past that,
/// and a few hundred comments a second at most are remembered.
pub const ADD_MAX_AGE: Duration = Duration::from_secs(1);

/// Whether a reader's late `add` would store a page a comment has changed
/// since the reader read it. Owns a database connection and reads only the
/// comments committed since its last look (a rowid range: cheap with or
/// without indexes), so it checks a whole batch of adds at once.
///
/// Why: a reader renders version v, a comment is committed and published
/// (v+1), the published item is removed (evicted, memcached restarted),
/// and then the reader's `add` of v lands in the empty slot: the page
/// without the comment, after its redirect was sent, until it expires.
/// [`Freshness::while_no_comment_commits`] closes that: it holds SQLite's
/// write lock while it looks and while the adds are sent, so a comment is
/// either committed before (seen, its page's adds dropped) or after the
/// adds have landed (its publish then replaces them, being newer).
///
/// **Invariant**: every comment committed after `read_at` and before the
/// look is remembered while an add read at `read_at` may still pass
/// ([`ADD_MAX_AGE`] bounds both).
#[derive(Debug)]
pub struct Freshness {
    conn: Connection,
    seen: Seen,
}

/// The comments [`Freshness`] has seen lately.
#[derive(Debug)]
pub struct Seen {
    /// The newest comment id seen.
    newest: i64,
    /// Comments seen in the last [`ADD_MAX_AGE`]: when they were seen (just
    /// after the read that found them, so no earlier than their commit)
    /// and the page each changed.
    recent: VecDeque<(Instant, i64, PageAddr)>,
}

impl Freshness {
    /// Starts from the newest comment now: a request that starts later
    /// reads everything before it.
    pub fn new(conn: Connection) -> model::Result<Freshness> {
        let newest = model::queries::newest_comment_id(&conn)?;
        Ok(Freshness {
            conn,
            seen: Seen {
                newest,
                recent: VecDeque::new(),
            },
        })
    }

    /// Learns the comments committed since the last look, then runs `send`
    /// (which sends the adds [`Seen::still_current`] lets through and waits
    /// for their answers) while no comment can commit: it holds SQLite's
    /// write lock (`BEGIN IMMEDIATE`, rolled back: nothing is written).
    /// A comment being posted meanwhile waits for it (one memcached
    /// exchange, bounded by the client's deadline), inside its busy timeout.
    pub fn while_no_comment_commits<R>(
        &mut self,
        send: impl FnOnce(&Seen) -> R,
    ) -> model::Result<R> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let new = model::queries::comments_since(&tx, self.seen.newest)?;
        self.seen.learn(new);
        let r = send(&self.seen);
        tx.rollback()?;
        Ok(r)
    }
}

impl Seen {
    /// Remembers `new` (id, photo) comments; forgets those seen more than
    /// [`ADD_MAX_AGE`] ago.
    fn learn(&mut self, new: Vec<(i64, i64)>) {
        let now = Instant::now();
        for (id, photo) in new {
            self.newest = id;
            self.recent.push_back((now, id, photo_page(photo)));
        }
        while let Some((at, ..)) = self.recent.front() {
            if now.duration_since(*at) < ADD_MAX_AGE {
                break;
            }
            self.recent.pop_front();
        }
    }

    /// Whether an add of `page` at `version`, read by a request that started
    /// at `read_at`, may be stored.
    pub fn still_current(&self, page: &PageAddr, version: u64, read_at: Instant) -> bool {
        read_at.elapsed() < ADD_MAX_AGE
            && !self
                .recent
                .iter()
                .any(|(_, id, p)| p == page && u64::try_from(*id).is_ok_and(|id| id > version))
    }
}

/// The page a comment on photo `id` changes (the one its handler publishes).
pub(crate) fn photo_page(id: i64) -> PageAddr {
    PageAddr {
        path: crate::handlers::photo::path(id),
        query: String::new(),
    }
}

/// Where photo bytes come from.
pub trait PhotoStore: Send + Sync {
    /// The bytes of pool file `file` (a validated name), `None` if absent.
    fn read(&self, file: &str) -> std::io::Result<Option<Vec<u8>>>;
}

/// Photo bytes read from disk on every request: the talk's "static files
/// read from disk every time ... and read from Python", on purpose.
#[derive(Debug, Clone)]
pub struct DiskPhotos {
    pub dir: PathBuf,
}

impl PhotoStore for DiskPhotos {
    fn read(&self, file: &str) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.dir.join(file)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
