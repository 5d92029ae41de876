//! An emulation of CPython's global interpreter lock (stage-2's `--gil`).
//!
//! The talk's second iteration ran CherryPy on CPython and hit the GIL: "can
//! only utilize one core on a dual core machine". Rust has no GIL, so a
//! faithful reproduction has to add one, in the same places CPython holds it:
//!
//! - **Held** for everything that would be Python code in CherryPy: routing,
//!   parsing forms, query strings and cookies, session logic, building the
//!   page with the template engine, checking the password hash.
//! - **Released** around every call that CPython runs in C with the lock let
//!   go (`Py_BEGIN_ALLOW_THREADS`): each SQLite call (the `sqlite3` module
//!   releases it around `sqlite3_step` and friends), each file read, each
//!   socket round trip to memcached. [`GilGuard::allow_threads`] does that.
//! - **Also held: the HTTP layer.** CherryPy's HTTP parsing and response
//!   writing were Python too. The app server polls each connection while
//!   holding the lock ([`Gil::hold`], used by `web::serve`), so hyper's
//!   parsing, body reading and response serialisation run under it. The
//!   non-blocking socket reads and writes inside a poll stay under the lock
//!   too (CPython releases it around `recv`/`send`): a few microseconds on
//!   the pessimistic side, against the many it gets right.
//!
//! The lock is re-entrant per thread: the handler's [`Gil::acquire`] inside
//! a poll that already holds it only counts a level, and
//! [`GilGuard::allow_threads`] releases it completely, whatever the depth,
//! then restores it. One `Gil` per process, as in CPython.
//!
//! Without `--gil` the lock does not exist ([`Gil::off`]) and every worker
//! thread runs the same code in parallel: the contrast is the lesson.
//!
//! How long a request waited for the lock is reported as the `gil-wait`
//! Server-Timing phase, so the cost is visible per request, not just in req/s.

use std::cell::Cell;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::timing::Timing;

thread_local! {
    /// How many levels of the lock this thread holds (0 = none).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Time this thread waited for the lock in [`Gil::hold`], not yet
    /// reported: the next [`Gil::acquire`] adds it to the request's `gil-wait`.
    static UNREPORTED_WAIT: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// A lock that can be taken in one call and given back in another (a
/// `MutexGuard` cannot outlive its frame, and `allow_threads` must release
/// a lock taken by a caller further up the stack).
#[derive(Debug, Default)]
struct Lock {
    held: Mutex<bool>,
    freed: Condvar,
}

impl Lock {
    fn lock(&self) {
        // The flag protects no data; a poisoned mutex is as good as a clean one.
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        while *held {
            held = self.freed.wait(held).unwrap_or_else(|p| p.into_inner());
        }
        *held = true;
    }

    fn unlock(&self) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = false;
        self.freed.notify_one();
    }
}

/// The lock, or its absence.
#[derive(Debug, Default)]
pub struct Gil {
    lock: Option<Lock>,
}

impl Gil {
    /// No GIL: threads run in parallel.
    pub fn off() -> Self {
        Gil { lock: None }
    }

    /// One lock for the whole process, as in CPython.
    pub fn on() -> Self {
        Gil {
            lock: Some(Lock::default()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.lock.is_some()
    }

    /// Takes one level of the lock; returns how long this thread waited.
    fn enter(&self) -> Duration {
        let Some(l) = &self.lock else {
            return Duration::ZERO;
        };
        let depth = DEPTH.get();
        let mut waited = Duration::ZERO;
        if depth == 0 {
            let t = Instant::now();
            l.lock();
            waited = t.elapsed();
        }
        DEPTH.set(depth + 1);
        waited
    }

    /// Gives back one level of the lock.
    fn leave(&self) {
        let Some(l) = &self.lock else { return };
        let depth = DEPTH.get();
        DEPTH.set(depth.saturating_sub(1));
        if depth == 1 {
            l.unlock();
        }
    }

    /// Runs `f` holding the lock: how a transport runs the "Python" HTTP
    /// layer (one poll of a connection). The wait is reported by the next
    /// [`Gil::acquire`] on this thread.
    pub fn hold<R>(&self, f: impl FnOnce() -> R) -> R {
        let waited = self.enter();
        if !waited.is_zero() {
            UNREPORTED_WAIT.set(UNREPORTED_WAIT.get() + waited);
        }
        let r = f();
        self.leave();
        r
    }

    /// Takes the lock (waiting time goes to `gil-wait`), as a thread entering
    /// the interpreter does.
    pub fn acquire<'a>(&'a self, timing: &mut Timing) -> GilGuard<'a> {
        if self.lock.is_some() {
            let waited = self.enter() + UNREPORTED_WAIT.take();
            timing.add("gil-wait", waited);
        }
        GilGuard { gil: self }
    }
}

/// Proof of holding (one level of) the lock, when it exists.
#[derive(Debug)]
pub struct GilGuard<'a> {
    gil: &'a Gil,
}

impl GilGuard<'_> {
    /// Runs `f` with the lock released completely, as CPython's C code does
    /// around blocking calls, then takes it back at the same depth.
    pub fn allow_threads<R>(&mut self, timing: &mut Timing, f: impl FnOnce() -> R) -> R {
        let Some(l) = &self.gil.lock else { return f() };
        let depth = DEPTH.replace(0);
        l.unlock();
        let r = f();
        let t = Instant::now();
        l.lock();
        timing.add("gil-wait", t.elapsed());
        DEPTH.set(depth);
        r
    }
}

impl Drop for GilGuard<'_> {
    fn drop(&mut self) {
        self.gil.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Two threads that do "Python work" never overlap under the GIL, and do
    /// overlap while one of them is in `allow_threads`.
    #[test]
    fn serialises_python_work_only() {
        let gil = Arc::new(Gil::on());
        let inside = Arc::new(AtomicUsize::new(0));
        let max_inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (gil, inside, max_inside) = (gil.clone(), inside.clone(), max_inside.clone());
                std::thread::spawn(move || {
                    let mut t = Timing::new();
                    let mut g = gil.acquire(&mut t);
                    for _ in 0..50 {
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max_inside.fetch_max(n, Ordering::SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                        g.allow_threads(&mut t, std::thread::yield_now);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(max_inside.load(Ordering::SeqCst), 1);
    }

    /// `acquire` inside `hold` nests; `allow_threads` inside both releases
    /// the lock for others; everything is given back at the end.
    #[test]
    fn reentrant_and_fully_released() {
        let gil = Arc::new(Gil::on());
        let mut t = Timing::new();
        gil.hold(|| {
            let mut g = gil.acquire(&mut t);
            g.allow_threads(&mut t, || {
                let other = gil.clone();
                std::thread::spawn(move || other.hold(|| 42))
                    .join()
                    .unwrap()
            });
            drop(g);
            assert_eq!(DEPTH.get(), 1);
        });
        assert_eq!(DEPTH.get(), 0);
        let other = gil.clone();
        assert_eq!(
            std::thread::spawn(move || other.hold(|| 7)).join().unwrap(),
            7,
            "released"
        );
    }
}
