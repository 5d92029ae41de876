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
//! them through [`Freshness`] (its own module), which knows every comment
//! committed since and keeps new ones from committing until the adds have
//! landed.

use std::path::PathBuf;
use std::time::Instant;

pub use crate::addr::PageAddr;
pub use crate::freshness::Freshness;

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
