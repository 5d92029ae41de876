//! The two seams stage-4 plugs memcached into; stages 1–3 use the plain
//! implementations here ([`NoCache`], [`DiskPhotos`]).
//!
//! Keys: a page is cached under the key nginx derives from the request,
//! `"$uri?$args"` (see [`crate::pages::page_key`]), so nginx can answer the
//! next request for it without the app. The data behind a page (for visitors
//! who are logged in, whose header nginx cannot know) is cached under
//! `data:` + the same key.
//!
//! Versions: values carry a version (a photo page's is its highest comment
//! id). Readers that filled a miss use [`PageCache::add`], which never
//! overwrites; writers use [`PageCache::publish`], which replaces only an
//! older version. A reader that read the database before a comment was
//! committed can therefore never overwrite the page the writer published.

use std::path::PathBuf;

/// A shared cache of pages and page data.
pub trait PageCache: Send + Sync {
    /// Whether there is a cache at all (skips serialising for nothing).
    fn enabled(&self) -> bool;
    /// The cached value, or `None` on a miss or when the cache is down.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Stores `value` if the key holds nothing (a reader filling a miss).
    fn add(&self, key: &str, value: &[u8], version: u64);
    /// Stores `value` unless the key already holds `version` or newer
    /// (a writer publishing what it just committed). Returns once stored.
    fn publish(&self, key: &str, value: &[u8], version: u64);
}

/// No cache (stages 1–3).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCache;

impl PageCache for NoCache {
    fn enabled(&self) -> bool {
        false
    }
    fn get(&self, _: &str) -> Option<Vec<u8>> {
        None
    }
    fn add(&self, _: &str, _: &[u8], _: u64) {}
    fn publish(&self, _: &str, _: &[u8], _: u64) {}
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
