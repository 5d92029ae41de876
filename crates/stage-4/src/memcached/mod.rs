//! The app's side of memcached: a client shared by every worker thread,
//! and the three stores built on it — [`Pages`] (the app's `PageCache`
//! seam), [`Photos`] (the `PhotoStore` seam) and [`McSessions`] (the
//! `SessionStore` seam).
//!
//! ## Client
//! The `memcache` crate's meta-protocol client (`memcache::exp::MetaClient`;
//! the binary protocol is deprecated in memcached 1.6, and the meta protocol
//! is the text protocol's successor — nginx reads the same items with the
//! classic `get`). Chosen over the crate's classic `Client` because that
//! one's pool never drops a broken connection (its `has_broken` is always
//! false: after a memcached restart every pooled connection would fail
//! forever unless each checkout paid an extra `version` round trip), writes
//! every command in several unbuffered pieces, and places keys by `hash % n`
//! with a plain function pointer. The meta client discards a connection
//! that failed mid-exchange, probes pooled ones without a round trip,
//! bounds every exchange with a deadline, and routes keys through a
//! [`memcache::exp::Router`] — here nginx's own consistent hash
//! ([`crate::Ring`]), so the app writes each key where nginx reads it.
//!
//! **Pool**: per server, as many idle connections as the instance has
//! worker threads (a worker holds at most one at a time, since the handling
//! is synchronous), at least 2 — instead of one shared connection.
//!
//! **Blocking calls**: the handling is synchronous on a tokio worker
//! thread, and memcached round trips run inside the app's `ctx.io(...)`
//! like its SQLite calls: the GIL (if any) is released and the time is
//! reported as the `cache-get`/`cache-set`/`session`/`static-read`
//! Server-Timing phases, so it is measured, not hidden. Each exchange is
//! bounded ([`IO_TIMEOUT`], [`CONNECT_TIMEOUT`]), and a server that failed
//! is skipped for [`RETRY_AFTER`], so a dead or hung memcached costs at most
//! one bounded stall per second per server, never one per request. Whether
//! the waits cost throughput was measured (the `stage-4-threads4` row of
//! compare.sh, `results/experiments/worker-threads/`): twice the workers
//! served +3% (median), within the noise, so one worker per core stays.
//!
//! ## Keys
//! Keys are built by [`crate::keys`], go through [`keys::escape`] (nginx's
//! escaping) and are placed by the unescaped key, as nginx does. A key the meta protocol would
//! have to base64-encode (a DEL byte) or longer than 250 bytes is not
//! cached at all: nginx could never find it.
//!
//! ## Degrading
//! memcached down is a miss, never an error: pages come from SQLite, photos
//! from disk. Sessions are lost (logged-in visitors become anonymous) and a
//! login fails with 503 until memcached is back — the documented price.
//!
//! ## Modules, one job each
//! - [`client`]: [`Memcached`], the client (routing, deadlines, skipping a
//!   failed server, multi-get, batched adds, versioned publish);
//! - [`writer`]: [`Writer`], the thread that sends what readers leave
//!   behind, through `app::Freshness`;
//! - [`stores`]: [`Pages`] and [`Photos`], the app's `PageCache` and
//!   `PhotoStore` seams;
//! - [`sessions`]: [`McSessions`], the `SessionStore` seam.

pub mod client;
pub mod sessions;
pub mod stores;
pub mod writer;

pub use client::{CONNECT_TIMEOUT, Error, IO_TIMEOUT, Memcached, RETRY_AFTER};
pub use sessions::McSessions;
pub use stores::{Pages, Photos};
pub use writer::{Pending, WRITE_BATCH, WRITE_QUEUE, Writer};

/// Seconds an anonymous page stays in memcached. Comments replace their
/// photo page at once (versioned publish), so this only bounds how long a
/// change made behind the app's back (a re-seeded database) can be served
/// stale, at the cost of one re-render per page per period.
pub const PAGE_TTL_SECS: u32 = 300;

/// Seconds photo bytes stay in memcached: photo files never change, so as
/// long as the `Cache-Control` the app (and nginx) send with them allows.
pub const PHOTO_TTL_SECS: u32 = app::PHOTO_MAX_AGE_SECS;
