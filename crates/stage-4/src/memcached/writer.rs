//! The writer: what readers leave behind (a page, its data, photo bytes),
//! sent off the request's path, in batches, through `app::Freshness`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::Instant;

use app::{Freshness, PageAddr};

use super::Memcached;

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

#[cfg(test)]
impl Writer {
    /// A writer without its thread, and the queue it fills (for tests).
    pub(crate) fn detached(capacity: usize) -> (Arc<Writer>, Receiver<Pending>) {
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        let w = Writer {
            tx,
            dropped: AtomicU64::new(0),
        };
        (Arc::new(w), rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn photo(n: u8) -> Pending {
        Pending {
            key: format!("/static/photos/p{n}.jpg?"),
            value: vec![n],
            flags: 0,
            ttl: 60,
            page: None,
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (w, rx) = Writer::detached(2);
        for n in 0..5 {
            w.add(photo(n));
        }
        assert_eq!(w.dropped(), 3);
        let kept: Vec<u8> = rx.try_iter().map(|p| p.value[0]).collect();
        assert_eq!(kept, [0, 1], "the first ones are kept, in order");
    }

    #[test]
    fn a_writer_whose_thread_is_gone_drops_too() {
        let (w, rx) = Writer::detached(8);
        drop(rx);
        w.add(photo(1));
        assert_eq!(w.dropped(), 1);
    }
}
