//! The client: a memcached cluster as the app sees it (see the module
//! above for why the meta protocol, the pool, the deadlines and the ring).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use memcache::exp::{
    Error as McError, Get, GetStatus, Meta, MetaClient, MutationStatus, Set, SetMode, Ttl,
};

use super::Pending;
use crate::Ring;
use crate::keys;

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

/// Rounds of read-compare-swap a [`app::PageCache::publish`] tries against
/// concurrent writers before it deletes the key instead.
const PUBLISH_TRIES: usize = 8;

/// Longest key memcached accepts.
const MAX_KEY: usize = 250;

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
    /// how the [`super::Writer`] stores what readers left behind.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A server nothing listens on: every exchange fails at once.
    fn unreachable() -> Memcached {
        Memcached::new(&["127.0.0.1:1".into()], 2).unwrap()
    }

    #[test]
    fn keys_nginx_cannot_find_are_not_sent() {
        assert_eq!(
            Memcached::wire_key("/user/a b?").as_deref(),
            Some("/user/a%20b?")
        );
        assert_eq!(
            Memcached::wire_key(&"x".repeat(MAX_KEY)).map(|k| k.len()),
            Some(MAX_KEY)
        );
        assert_eq!(Memcached::wire_key(&"x".repeat(MAX_KEY + 1)), None);
        // Escaping counts: 84 spaces are 252 bytes on the wire.
        assert_eq!(Memcached::wire_key(&" ".repeat(84)), None);
        assert_eq!(Memcached::wire_key("/del\u{7f}?"), None);
    }

    #[test]
    fn no_server_is_an_error() {
        assert!(matches!(Memcached::new(&[], 2), Err(Error::NoServers)));
    }

    #[test]
    fn a_server_down_is_a_miss_and_is_skipped_for_a_while() {
        let mc = unreachable();
        assert!(!mc.skipped(0));
        assert_eq!(mc.get("/?"), None);
        assert!(mc.skipped(0), "a transport failure takes the server out");
        assert_eq!(mc.get_many(&["/?", "data:/?"]), vec![None, None]);
        assert!(!mc.add("/?", b"x", 1, 60), "skipped: not even tried");
        assert!(!mc.set("session:x", b"x", 60));
        assert!(!mc.delete("/?"));
    }

    #[test]
    fn a_failed_publish_tries_to_delete_and_gives_up_quietly() {
        // Neither the publish nor the delete reaches a server: no panic,
        // no retry loop (bounded by PUBLISH_TRIES), just a logged error.
        let mc = unreachable();
        mc.publish_many(&[("/photo/1?".into(), b"v2".to_vec(), 2)], 60);
    }
}
