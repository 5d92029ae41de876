//! Whether a cache's late `add` would store a page a comment has changed:
//! [`Freshness`], which a cache whose adds may land late (stage-4 sends
//! them from a queue) sends them through. See [`crate::cache`] for the
//! versions and the write rule this completes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::addr::PageAddr;

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
            self.recent.push_back((now, id, PageAddr::photo(photo)));
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
