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
//! - **Not covered**: hyper's HTTP parsing and response writing happen before
//!   our handler runs and after it returns, outside the lock. In CherryPy
//!   those were Python too, so this emulation is slightly *kinder* than real
//!   CPython: measured numbers under `--gil` are an upper bound.
//!
//! Without `--gil` the lock does not exist ([`Gil::off`]) and every worker
//! thread runs the same code in parallel: the contrast is the lesson.
//!
//! How long a request waited for the lock is reported as the `gil-wait`
//! Server-Timing phase, so the cost is visible per request, not just in req/s.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::timing::Timing;

/// The lock, or its absence.
#[derive(Debug, Default)]
pub struct Gil {
    lock: Option<Mutex<()>>,
}

impl Gil {
    /// No GIL: threads run in parallel.
    pub fn off() -> Self {
        Gil { lock: None }
    }

    /// One lock for the whole process, as in CPython.
    pub fn on() -> Self {
        Gil {
            lock: Some(Mutex::new(())),
        }
    }

    pub fn enabled(&self) -> bool {
        self.lock.is_some()
    }

    /// Takes the lock (waiting time goes to `gil-wait`), as a thread entering
    /// the interpreter does.
    pub fn acquire<'a>(&'a self, timing: &mut Timing) -> GilGuard<'a> {
        let mut g = GilGuard {
            gil: self,
            held: None,
        };
        g.reacquire(timing);
        g
    }
}

/// Proof of holding the lock (when it exists).
#[derive(Debug)]
pub struct GilGuard<'a> {
    gil: &'a Gil,
    held: Option<MutexGuard<'a, ()>>,
}

impl GilGuard<'_> {
    fn reacquire(&mut self, timing: &mut Timing) {
        if let Some(m) = &self.gil.lock {
            let t = Instant::now();
            // A panic while holding the lock poisons it; the lock protects no
            // data, so a poisoned lock is as good as a clean one.
            self.held = Some(m.lock().unwrap_or_else(|p| p.into_inner()));
            timing.add("gil-wait", t.elapsed());
        }
    }

    /// Runs `f` with the lock released, as CPython's C code does around
    /// blocking calls, then takes it back.
    pub fn allow_threads<R>(&mut self, timing: &mut Timing, f: impl FnOnce() -> R) -> R {
        self.held = None;
        let r = f();
        self.reacquire(timing);
        r
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
}
