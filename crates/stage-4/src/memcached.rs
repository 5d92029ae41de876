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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use app::{AppError, AppResult, Freshness, PageAddr, PageCache, PhotoStore, SessionStore};

use crate::Ring;
use crate::keys;
use memcache::exp::{
    Error as McError, Get, GetStatus, Meta, MetaClient, MutationStatus, Set, SetMode, Ttl,
};
use model::SessionUser;

/// Longest a connection attempt may take. Connecting over loopback or a LAN
/// takes well under a millisecond; this only bounds a host that vanished.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);

/// Longest one exchange (request and answer) may take. A healthy memcached
/// answers in microseconds even on a loaded 2-core machine; half a second
/// is a fault.
pub const IO_TIMEOUT: Duration = Duration::from_millis(500);

/// After a transport failure a server is treated as a miss for this long,
/// so a dead server costs one failed attempt per second, not one per
/// request. Also the longest time before a restarted memcached is used.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Rounds of read-compare-swap a [`PageCache::publish`] tries against
/// concurrent writers before it deletes the key instead.
const PUBLISH_TRIES: usize = 8;

/// Longest key memcached accepts.
const MAX_KEY: usize = 250;

/// Seconds an anonymous page stays in memcached. Comments replace their
/// photo page at once (versioned publish), so this only bounds how long a
/// change made behind the app's back (a re-seeded database) can be served
/// stale, at the cost of one re-render per page per period.
pub const PAGE_TTL_SECS: u32 = 300;

/// Seconds photo bytes stay in memcached: photo files never change, so as
/// long as the `Cache-Control` the app (and nginx) send with them allows.
pub const PHOTO_TTL_SECS: u32 = app::PHOTO_MAX_AGE_SECS;

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("memcached servers {servers:?}: {err}")]
    Connect { servers: Vec<String>, err: McError },
    #[error("no memcached server given")]
    NoServers,
}

/// nginx's consistent hash as the client's router.
struct RingRouter(Arc<Ring>);

impl memcache::exp::Router for RingRouter {
    fn route(&self, key: &[u8], servers: &[String]) -> usize {
        debug_assert_eq!(servers, self.0.servers());
        self.0.route_wire(key)
    }
}

/// A memcached cluster as the app sees it.
pub struct Memcached {
    client: MetaClient,
    ring: Arc<Ring>,
    /// Per server: until when (ms since `epoch`) it is skipped.
    down_until: Vec<AtomicU64>,
    /// Per server: last failure log (s since `epoch`), to log once a second.
    last_log: Vec<AtomicU64>,
    epoch: Instant,
}

impl std::fmt::Debug for Memcached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memcached")
            .field("servers", &self.ring.servers())
            .finish()
    }
}

impl Memcached {
    /// A client for `servers` (`host:port`, written exactly as in nginx's
    /// `upstream memcached` block), keeping up to `pool` idle connections
    /// per server. Connects lazily: a server that is down now is a miss.
    pub fn new(servers: &[String], pool: usize) -> Result<Self, Error> {
        if servers.is_empty() {
            return Err(Error::NoServers);
        }
        let ring = Arc::new(Ring::new(servers));
        let client = MetaClient::builder()
            .router(RingRouter(ring.clone()))
            .max_idle(pool.max(2))
            .connect_timeout(Some(CONNECT_TIMEOUT))
            .io_timeout(Some(IO_TIMEOUT))
            .connect_multiple(servers.iter().map(String::as_str))
            .map_err(|err| Error::Connect {
                servers: servers.to_vec(),
                err,
            })?;
        Ok(Memcached {
            client,
            down_until: servers.iter().map(|_| AtomicU64::new(0)).collect(),
            last_log: servers.iter().map(|_| AtomicU64::new(0)).collect(),
            ring,
            epoch: Instant::now(),
        })
    }

    /// The key as sent (nginx's escaping), if memcached and nginx can both
    /// use it.
    fn wire_key(key: &str) -> Option<String> {
        let wire = keys::escape(key);
        let ok = wire.len() <= MAX_KEY && wire.bytes().all(|b| b > 0x20 && b != 0x7f);
        ok.then_some(wire)
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn skipped(&self, server: usize) -> bool {
        self.now_ms() < self.down_until[server].load(Ordering::Relaxed)
    }

    /// Records the outcome of an exchange with `server`: a transport
    /// failure takes it out for [`RETRY_AFTER`] (logged once a second).
    fn note<T>(&self, server: usize, op: &str, r: Result<T, McError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                let transport = matches!(
                    e,
                    McError::Io(_)
                        | McError::Timeout { .. }
                        | McError::Ambiguous { .. }
                        | McError::Protocol(_)
                );
                if transport {
                    let until = self.now_ms() + RETRY_AFTER.as_millis() as u64;
                    self.down_until[server].store(until, Ordering::Relaxed);
                }
                let sec = self.epoch.elapsed().as_secs() + 1;
                if self.last_log[server].swap(sec, Ordering::Relaxed) != sec {
                    let s = &self.ring.servers()[server];
                    if transport {
                        tracing::warn!(server = %s, op, error = %e, "memcached unreachable: serving without it for {RETRY_AFTER:?}");
                    } else {
                        tracing::warn!(server = %s, op, error = %e, "memcached refused a command");
                    }
                }
                None
            }
        }
    }

    /// The item under `key`, or `None` (a miss, an unusable key, or the
    /// server down).
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let wire = Self::wire_key(key)?;
        let server = self.ring.route_wire(wire.as_bytes());
        if self.skipped(server) {
            return None;
        }
        let r = self.note(server, "get", self.client.get(&wire).send())?;
        match (r.status, r.value) {
            (GetStatus::Hit, Some(value)) => Some(value),
            _ => None,
        }
    }

    /// The items under `keys`, in order (`None` for a miss, an unusable
    /// key or a server down): one exchange per server, whatever the number
    /// of keys (the meta protocol's pipelining).
    pub fn get_many(&self, keys: &[&str]) -> Vec<Option<Vec<u8>>> {
        let routed: Vec<Option<(String, usize)>> = keys
            .iter()
            .map(|k| {
                let wire = Self::wire_key(k)?;
                let server = self.ring.route_wire(wire.as_bytes());
                (!self.skipped(server)).then_some((wire, server))
            })
            .collect();
        let ops: Vec<Get> = routed.iter().flatten().map(|(w, _)| Get::new(w)).collect();
        if ops.is_empty() {
            return vec![None; keys.len()];
        }
        let results = match self.client.run_many(ops) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "memcached refused a multi-get");
                return vec![None; keys.len()];
            }
        };
        let mut results = results.into_iter();
        routed
            .iter()
            .map(|r| {
                let (_, server) = r.as_ref()?;
                let got = self.note(*server, "get", results.next()?)?;
                match (got.status, got.value) {
                    (GetStatus::Hit, Some(v)) => Some(v),
                    _ => None,
                }
            })
            .collect()
    }

    /// Several `add`s (store only if absent) in one exchange per server:
    /// how the [`Writer`] stores what readers left behind.
    pub fn add_many(&self, items: &[Pending]) {
        let routed: Vec<(Set, usize)> = items
            .iter()
            .filter_map(|p| {
                let wire = Self::wire_key(&p.key)?;
                let server = self.ring.route_wire(wire.as_bytes());
                let op = Set::new(&wire, &p.value)
                    .client_flags(p.flags)
                    .ttl(Ttl::secs(p.ttl.max(1)))
                    .mode(SetMode::Add);
                (!self.skipped(server)).then_some((op, server))
            })
            .collect();
        if routed.is_empty() {
            return;
        }
        let servers: Vec<usize> = routed.iter().map(|(_, s)| *s).collect();
        match self.client.run_many(routed.into_iter().map(|(op, _)| op)) {
            Ok(results) => {
                for (r, server) in results.into_iter().zip(servers) {
                    self.note(server, "add", r);
                }
            }
            Err(e) => tracing::warn!(error = %e, "memcached refused a batch of adds"),
        }
    }

    /// Stores `value` under `key` only if nothing is there (memcached
    /// `add`). Returns whether it was stored.
    pub fn add(&self, key: &str, value: &[u8], flags: u32, ttl: u32) -> bool {
        let Some(wire) = Self::wire_key(key) else {
            return false;
        };
        let server = self.ring.route_wire(wire.as_bytes());
        if self.skipped(server) {
            return false;
        }
        let r = self
            .client
            .set(&wire, value)
            .client_flags(flags)
            .ttl(Ttl::secs(ttl.max(1)))
            .add()
            .send();
        self.note(server, "add", r)
            .is_some_and(|m| m.status == MutationStatus::Applied)
    }

    /// Stores `value` under `key` unconditionally (memcached `set`).
    pub fn set(&self, key: &str, value: &[u8], ttl: u32) -> bool {
        let Some(wire) = Self::wire_key(key) else {
            return false;
        };
        let server = self.ring.route_wire(wire.as_bytes());
        let r = self
            .client
            .set(&wire, value)
            .ttl(Ttl::secs(ttl.max(1)))
            .send();
        self.note(server, "set", r)
            .is_some_and(|m| m.status == MutationStatus::Applied)
    }

    /// Removes `key`. Returns false only if the server could not be asked.
    pub fn delete(&self, key: &str) -> bool {
        let Some(wire) = Self::wire_key(key) else {
            return true;
        };
        let server = self.ring.route_wire(wire.as_bytes());
        self.note(server, "delete", self.client.delete(&wire).send())
            .is_some()
    }

    /// Stores each item (its version in the item's flags) unless its key
    /// already holds that version or a newer one: `gets` of every key in one
    /// exchange, then `cas` (or `add` when absent) of every key in a second
    /// one, again for the keys that met a concurrent writer. Writers call
    /// this after their commit and before answering, so no later read
    /// anywhere can see an older version. Tries a server even when it is
    /// being skipped for reads: a write must not be dropped on a guess. A
    /// key whose exchange fails is deleted instead (a miss is never stale).
    pub fn publish_many(&self, items: &[(String, Vec<u8>, u32)], ttl: u32) {
        let ttl = Ttl::secs(ttl.max(1));
        let wires: Vec<Option<(String, usize)>> = items
            .iter()
            .map(|(k, _, _)| {
                let wire = Self::wire_key(k)?;
                let server = self.ring.route_wire(wire.as_bytes());
                Some((wire, server))
            })
            .collect();
        let mut pending: Vec<usize> = (0..items.len()).filter(|&i| wires[i].is_some()).collect();
        let mut failed: Vec<usize> = Vec::new();
        for _ in 0..PUBLISH_TRIES {
            if pending.is_empty() {
                return;
            }
            let wire = |i: usize| wires[i].as_ref().map_or(("", 0), |(w, s)| (w.as_str(), *s));
            let looks = self.client.run_many(
                pending
                    .iter()
                    .map(|&i| Get::new(wire(i).0).meta(Meta::NONE.cas()).without_value()),
            );
            let Ok(looks) = looks else {
                failed.append(&mut pending);
                break;
            };
            let mut writes = Vec::new();
            let mut writing = Vec::new();
            for (&i, look) in pending.iter().zip(looks) {
                let (w, server) = wire(i);
                let (_, value, version) = &items[i];
                let Some(cur) = self.note(server, "publish", look) else {
                    failed.push(i);
                    continue;
                };
                let op = Set::new(w, value).client_flags(*version).ttl(ttl);
                let op = match (cur.status, cur.item.cas) {
                    (GetStatus::Hit, _) if cur.client_flags.unwrap_or(0) >= *version => continue,
                    (GetStatus::Hit, Some(cas)) => op.compare_cas(cas),
                    _ => op.mode(SetMode::Add),
                };
                writes.push(op);
                writing.push(i);
            }
            let mut again = Vec::new();
            match self.client.run_many(writes) {
                Ok(results) => {
                    for (i, r) in writing.into_iter().zip(results) {
                        match self.note(wire(i).1, "publish", r).map(|m| m.status) {
                            Some(MutationStatus::Applied) => {}
                            // Someone else wrote or removed it meanwhile: look again.
                            Some(_) => again.push(i),
                            None => failed.push(i),
                        }
                    }
                }
                Err(_) => failed.extend(writing),
            }
            pending = again;
        }
        failed.append(&mut pending);
        for i in failed {
            let key = &items[i].0;
            if !self.delete(key) {
                tracing::error!(
                    key,
                    "could not publish nor delete a changed page; it may be served stale until it expires"
                );
            }
        }
    }
}

/// An `add` a reader leaves behind for the [`Writer`].
#[derive(Debug)]
pub struct Pending {
    pub key: String,
    pub value: Vec<u8>,
    pub flags: u32,
    pub ttl: u32,
    /// For a page or its data: the page, its version and when the request
    /// that read it started, checked by [`Freshness`] before sending.
    /// `None` for photo bytes (they never change).
    pub page: Option<(PageAddr, u64, Instant)>,
}

/// Adds queued before new ones are dropped: a burst of misses (a cold
/// cache on 64 connections) fits, and a dropped add costs only a later
/// miss. At ~5 KB a page, at most ~5 MB waiting.
pub const WRITE_QUEUE: usize = 1024;

/// Adds sent in one exchange at most.
pub const WRITE_BATCH: usize = 32;

/// The stores nobody waits for, off the request's path: what a reader
/// leaves in the cache after a miss (a page, its data, photo bytes). A
/// thread of the instance takes them from a bounded queue and sends them
/// in batches (one exchange per server for up to [`WRITE_BATCH`]), so an
/// anonymous miss answers as soon as it has rendered, and a worker thread
/// never waits for an `add`.
///
/// Safe against a comment published meanwhile: these are `add`s (they
/// never overwrite), and a comment's `publish` replaces only older
/// versions, so whichever lands first, the newer version wins. Safe also
/// when the published item is gone by the time a late add arrives (evicted,
/// memcached restarted): the thread sends each batch with pages through
/// [`Freshness`], which drops the adds of pages commented on since their
/// readers read them (a later miss renders the new version) and keeps any
/// comment from committing until the rest have landed.
#[derive(Debug)]
pub struct Writer {
    tx: SyncSender<Pending>,
    dropped: AtomicU64,
}

impl Writer {
    /// The writer of `mc`: starts its thread, which checks page adds with
    /// `fresh` (its own database connection).
    pub fn start(mc: Arc<Memcached>, fresh: Freshness) -> Arc<Writer> {
        let (tx, rx) = std::sync::mpsc::sync_channel(WRITE_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("memcached-writer".into())
            .spawn(move || write_loop(&mc, fresh, &rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the memcached writer; misses will not be cached");
        }
        Arc::new(Writer {
            tx,
            dropped: AtomicU64::new(0),
        })
    }

    /// Queues an `add`; drops it (counted) if the queue is full.
    pub fn add(&self, p: Pending) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(p) {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n,
                    "memcached writer behind: adds dropped (each is a later miss)"
                );
            }
        }
    }

    /// Adds dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn write_loop(mc: &Memcached, mut fresh: Freshness, rx: &Receiver<Pending>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        if batch.iter().all(|p| p.page.is_none()) {
            mc.add_many(&batch); // photo bytes only: they never change
            continue;
        }
        // Pages: drop those commented on since they were read, and send
        // the rest before any new comment can commit (Freshness). If the
        // database cannot say, no page is added (a miss is never stale).
        let sent = fresh.while_no_comment_commits(|seen| {
            batch.retain(|p| {
                p.page
                    .as_ref()
                    .is_none_or(|(page, v, read_at)| seen.still_current(page, *v, *read_at))
            });
            if !batch.is_empty() {
                mc.add_many(&batch);
            }
        });
        if let Err(e) = sent {
            tracing::warn!(error = %e, "cannot read new comments; a batch of adds dropped");
        }
    }
}

/// Version `v` as item flags; `None` if it does not fit (the page is then
/// not cached: an uncached page is never stale).
fn flags_of(v: u64) -> Option<u32> {
    u32::try_from(v).ok()
}

/// Pages and page data in memcached (the app's `PageCache` seam).
#[derive(Debug)]
pub struct Pages {
    pub mc: Arc<Memcached>,
    /// Where a reader's `add`s go: off the request's path.
    pub writer: Arc<Writer>,
    /// Seconds an item lives.
    pub ttl: u32,
}

impl Pages {
    fn add(&self, key: String, page: &PageAddr, value: &[u8], version: u64, read_at: Instant) {
        if let Some(flags) = flags_of(version) {
            self.writer.add(Pending {
                key,
                value: value.to_vec(),
                flags,
                ttl: self.ttl,
                page: Some((page.clone(), version, read_at)),
            });
        }
    }
}

impl PageCache for Pages {
    fn enabled(&self) -> bool {
        true
    }

    /// Only for logged-in visitors. An anonymous request reaches the app
    /// only after nginx has missed the whole page (nginx answers the
    /// anonymous pages it holds), so the data behind it is almost surely
    /// missing too: asking would be a memcached round trip for nothing,
    /// and storing it one more for a reader who may never come (measured
    /// on the realistic mix: two of an anonymous miss's three round trips;
    /// the page itself is still stored, by `add_page`).
    fn caches_data_for(&self, logged_in: bool) -> bool {
        logged_in
    }

    fn get_data(&self, page: &PageAddr) -> Option<Vec<u8>> {
        self.mc.get(&keys::data(page))
    }

    fn add_data(&self, page: &PageAddr, data: &[u8], version: u64, read_at: Instant) {
        self.add(keys::data(page), page, data, version, read_at);
    }

    fn add_page(&self, page: &PageAddr, html: &[u8], version: u64, read_at: Instant) {
        self.add(keys::page(page), page, html, version, read_at);
    }

    fn publish(&self, page: &PageAddr, html: &[u8], data: &[u8], version: u64) {
        let (dk, pk) = (keys::data(page), keys::page(page));
        match flags_of(version) {
            // The data first: a logged-in reader of the new page finds it;
            // an anonymous one is served the page by nginx right after.
            Some(f) => self
                .mc
                .publish_many(&[(dk, data.to_vec(), f), (pk, html.to_vec(), f)], self.ttl),
            None => {
                self.mc.delete(&dk);
                self.mc.delete(&pk);
            }
        }
    }
}

/// Photo bytes: read from disk when a request reaches the app (which is
/// only after nginx missed them in memcached: asking memcached again would
/// be a round trip for nothing), then left in memcached by the [`Writer`],
/// where nginx finds them next time.
#[derive(Debug)]
pub struct Photos {
    pub disk: app::DiskPhotos,
    pub writer: Arc<Writer>,
    /// Seconds the bytes stay cached.
    pub ttl: u32,
}

impl PhotoStore for Photos {
    fn read(&self, file: &str) -> std::io::Result<Option<Vec<u8>>> {
        let bytes = self.disk.read(file)?;
        if let Some(b) = &bytes {
            self.writer.add(Pending {
                key: keys::photo(file),
                value: b.clone(),
                flags: 0,
                ttl: self.ttl,
                page: None,
            });
        }
        Ok(bytes)
    }
}

/// A session as stored.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    user: SessionUser,
    expires_at: i64,
}

/// Sessions in memcached: any instance serves any visitor, and losing an
/// instance logs nobody out. Losing memcached does (documented).
#[derive(Debug)]
pub struct McSessions {
    pub mc: Arc<Memcached>,
}

impl McSessions {
    /// The visitor in a stored session, if it is live (an expired or
    /// unreadable one is deleted).
    fn live(&self, id: &str, bytes: Option<Vec<u8>>, now: i64) -> Option<SessionUser> {
        match serde_json::from_slice::<Stored>(&bytes?) {
            Ok(s) if s.expires_at > now => Some(s.user),
            _ => {
                self.mc.delete(&keys::session(id));
                None
            }
        }
    }
}

impl SessionStore for McSessions {
    fn load(&self, id: &str, now: i64) -> AppResult<Option<SessionUser>> {
        Ok(self.live(id, self.mc.get(&keys::session(id)), now))
    }

    /// The session and the data behind `page` in one multi-get (one
    /// exchange per server; one in all with a single memcached): a
    /// logged-in visitor's request costs one round trip, not two.
    fn load_with_page_data(
        &self,
        id: &str,
        now: i64,
        page: Option<&PageAddr>,
        cache: &dyn PageCache,
    ) -> AppResult<(Option<SessionUser>, Option<Vec<u8>>)> {
        let data_key = page.filter(|_| cache.caches_data_for(true)).map(keys::data);
        let session_key = keys::session(id);
        let mut keys: Vec<&str> = vec![&session_key];
        keys.extend(data_key.as_deref());
        let mut got = self.mc.get_many(&keys).into_iter();
        let user = self.live(id, got.next().flatten(), now);
        let data = got.next().flatten().filter(|_| user.is_some());
        Ok((user, data))
    }

    fn create(&self, user: &SessionUser, now: i64, ttl: i64) -> AppResult<String> {
        let id = app::sessions::new_id("");
        let stored = Stored {
            user: user.clone(),
            expires_at: now + ttl,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|e| AppError::Internal(e.to_string()))?;
        let secs = u32::try_from(ttl.clamp(1, i64::from(u32::MAX))).unwrap_or(u32::MAX);
        if self.mc.set(&keys::session(&id), &bytes, secs) {
            Ok(id)
        } else {
            Err(AppError::Busy(
                "the session store (memcached) is unavailable".into(),
            ))
        }
    }

    fn delete(&self, id: &str) -> AppResult<()> {
        if !self.mc.delete(&keys::session(id)) {
            // The session expires on its own; the cookie is cleared anyway.
            tracing::warn!("could not delete a session in memcached");
        }
        Ok(())
    }
}
