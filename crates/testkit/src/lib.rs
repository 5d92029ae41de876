//! # testkit — what every stage's tests share
//!
//! - [`Site`]: a freshly seeded small database and photo pool in a temp dir.
//! - [`Running`]: a stage binary started on port 0; waits for its one
//!   `listening on http://ADDR` line, and is stopped (SIGTERM, then SIGKILL)
//!   when dropped, so no test leaves a process behind.
//! - [`python`]: the CPython peer (`peers/python`): python-2, and the
//!   options that make a stage run it.
//! - [`inproc`]: the app server in the test process, with faults on demand
//!   (for the tools' tests: `loadgen`, the contract checks).
//! - [`http`]: the one blocking HTTP/1.1 client of the tests and checks
//!   ([`http_client`], one connection per request), so tests see exactly
//!   the bytes a stage sends.
//! - [`settings`]: a supervisor's forwarded options round-trip through
//!   their command line.
//! - [`contract`]: the checks of the [`contract`] crate (the ones `loadgen
//!   verify` runs), one `#[test]` each, against every stage. A stage joins
//!   with one line in its `tests/contract.rs`:
//!
//! ```ignore
//! testkit::contract_suite!(|site| testkit::Running::start(env!("CARGO_BIN_EXE_stage-2"), &site.args(&[])));
//! ```
//!
//! **Invariant:** tests never use a fixed port and never leave a process running.

pub mod contract;
pub mod http;
pub mod inproc;
pub mod pinning;
pub mod python;
pub mod settings;
pub mod stages;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a stage may take to print `listening on` (debug builds, nginx,
/// memcached and a loaded CI machine included).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A seeded site in a temporary directory.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub photos: PathBuf,
    pub users: u64,
}

impl Site {
    /// Seeds `users` users (10–20 photos each) and a 4-image pool.
    pub fn new(users: u64) -> Self {
        Self::with(users, true)
    }

    /// Same, choosing whether the secondary indexes are built.
    pub fn with(users: u64, index: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("site.db");
        let mut cfg = seed::Config::new(users, &db);
        cfg.pool = 4;
        cfg.index = index;
        seed::build(&cfg, &|_, _| {}).expect("seeding the test site");
        Site {
            photos: cfg.photos_dir.clone(),
            db,
            dir,
            users,
        }
    }

    /// `--db DB --photos DIR --listen 127.0.0.1:0` plus `extra`.
    pub fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut v = vec![
            "--db".to_string(),
            self.db.display().to_string(),
            "--photos".to_string(),
            self.photos.display().to_string(),
            "--listen".to_string(),
            "127.0.0.1:0".to_string(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    /// A read-only view of the database, for reference renderings.
    pub fn conn(&self) -> model::Db {
        model::open(&self.db).expect("open test db")
    }
}

/// A running stage process.
pub struct Running {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
}

impl Running {
    /// Starts `bin` with `args` and waits for its `listening on` line.
    /// Panics with the process's own words if it exits or never says it.
    pub fn start(bin: &str, args: &[String]) -> Running {
        let mut child = Command::new(bin)
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let mut sent = false;
            for line in lines.by_ref().map_while(Result::ok) {
                if !sent && let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                    sent = true;
                    continue;
                }
                println!("[stage stdout] {line}");
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(base) => {
                    let addr = base.trim_start_matches("http://").to_owned();
                    return Running {
                        child: Some(child),
                        base,
                        addr,
                    };
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("{bin} exited with {status} before listening (its stderr is above)");
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{bin} did not print `listening on` within {START_TIMEOUT:?}");
                }
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// `GET base+path`.
    pub fn get(&self, path: &str) -> http::Resp {
        http::request(&self.addr, "GET", path, &[], b"")
    }

    /// `GET base+path` with the visitor's `Cookie` header (`sid=…`).
    pub fn get_as(&self, path: &str, cookie: &str) -> http::Resp {
        http::request(&self.addr, "GET", path, &[("Cookie", cookie)], b"")
    }

    /// Sends SIGTERM and waits up to `grace`; returns the exit code, or
    /// `None` if it had to be killed.
    pub fn stop(mut self, grace: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        signal(child.id(), libc::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = child.try_wait() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), libc::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sends `sig` to process `pid` (one we started).
pub fn signal(pid: u32, sig: i32) {
    // SAFETY-free: `kill(2)` through libc is a plain system call; the only
    // unsafety is the FFI boundary, which this crate allows for this call.
    #[allow(unsafe_code)]
    // SAFETY: kill() takes plain integers and has no memory effects.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// Whether process `pid` still exists (and is not a zombie we reaped).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// Under CI a missing system tool is a failure, elsewhere a loud skip.
/// Returns false when the caller should skip.
pub fn require_tool(name: &str, install: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
                .any(|d| d.join(name).is_file())
        })
        .unwrap_or(false);
    if found {
        return true;
    }
    let msg =
        format!("{name} is not installed; install it with `{install}` (or run scripts/setup.sh)");
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{msg}");
    }
    eprintln!("SKIPPED: {msg}");
    false
}
