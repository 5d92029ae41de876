//! # appserver — one long-running process serves every request
//!
//! The talk's second iteration replaced CGI by a CherryPy app server: no
//! interpreter start per request, "one db connection per thread instead of
//! request". This crate is that server; stage-2 runs it as is, stage-3 runs
//! several behind nginx, stage-4 plugs memcached into it. Each stage chooses
//! only the [`Backends`] (where sessions, cached pages and photo bytes live).
//!
//! ## Threads and connections
//! A tokio runtime with `--threads` worker threads (default 2, one per core).
//! The handling is synchronous and runs on the worker that polled the
//! request, with a SQLite connection from an r2d2 pool **sized to the worker
//! count**: a worker holds a connection only while it runs one handler (no
//! `.await` in between), so at most `threads` are ever out and `get()` never
//! waits — effectively one connection per thread, as in the talk.
//!
//! Why not `spawn_blocking`: each SQLite call here is an index lookup of tens
//! of microseconds, shorter than the hand-off to a blocking thread would cost,
//! and CherryPy's worker threads also ran their query in the thread that
//! parsed the request. The price — a worker stuck in a slow query is a worker
//! not polling its other connections — is made visible, not hidden: a request
//! whose handling exceeds [`SLOW_REQUEST`] is logged (at most once a second),
//! which is exactly what the `--no-index` database triggers.
//!
//! ## The GIL
//! `--gil` puts the request path under [`app::Gil`] the way CPython held
//! its lock: each connection is polled holding it (HTTP parsing and writing),
//! the handler runs under it, and it is released around every socket read
//! and write, SQLite, disk and memcached call (see that module for the
//! details). With `--gil`, two worker threads still exist, but only one runs
//! "Python" at a time: the talk's "can only utilize one core on a dual core
//! machine". `--python-factor K` gives that "Python" the weight of a
//! K-times-slower interpreter (compare.sh's `stage-N-slow50` rows: K = 50).
//!
//! ## Instances
//! stages 3 and 4 run this server several times behind nginx: [`instance`]
//! is the command line and life of one such instance, started by a
//! supervisor on a socket it hands down ([`inherit`]).
//!
//! Run it: `cargo run --release -p stage-2 -- --db data/flickrkillr.db`.

pub mod gil_io;
pub mod inherit;
pub mod instance;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::{Gil, PageCache, PhotoStore, SessionStore, SqliteSessions, Timing};
use hyper::header::HeaderValue;

/// The allocator of every app-server process (stages 2–4 and the bare-hyper
/// ceiling, which link this crate). A request allocates and frees a few
/// hundred small blocks (rows' strings, the page, hyper's headers); glibc's
/// malloc keeps 7 free blocks per size in its thread cache and sends the
/// rest through its locked bins: 23k of a user page's 165k instructions.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Handling slower than this is logged: a worker thread was blocked that long.
pub const SLOW_REQUEST: Duration = Duration::from_millis(100);

/// Worker threads of an app server: one per core of the 2-core machine
/// this workspace is measured on (more only adds switching).
pub const DEFAULT_THREADS: usize = 2;

/// Options every app-server process takes (stages 2–4 flatten these into
/// their own command line; each also reads an environment variable).
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct ServeArgs {
    /// The seeded SQLite database.
    #[arg(long, env = "FK_DB", default_value = model::schema::DEFAULT_DB)]
    pub db: PathBuf,
    /// Directory of the photo pool (default: `photos/` beside the database).
    #[arg(long, env = "FK_PHOTOS")]
    pub photos: Option<PathBuf>,
    /// Worker threads, each with its own SQLite connection. One per core is
    /// the sweet spot; more only adds switching.
    #[arg(long, env = "FK_THREADS", default_value_t = DEFAULT_THREADS)]
    pub threads: usize,
    /// Emulate CPython's global interpreter lock: only one thread runs the
    /// handling at a time (it is released around SQLite, disk and memcached
    /// calls, as in CPython).
    #[arg(long, env = "FK_GIL")]
    pub gil: bool,
    /// With --gil: work done holding the lock costs K times the CPU time the
    /// Rust code needs (the thread burns the difference, holding the lock),
    /// as in a K-times-slower interpreter. 1 = Rust's speed; compare.sh's
    /// `stage-N-slow50` rows use 50 (app::CPYTHON_FACTOR). Shows why the GIL and the
    /// cache mattered so much more for CherryPy than they do for Rust.
    #[arg(long, env = "FK_PYTHON_FACTOR", default_value_t = 1, requires = "gil",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub python_factor: u32,
    /// Session lifetime in seconds.
    #[arg(long, env = "FK_SESSION_TTL", default_value_t = app::sessions::DEFAULT_TTL_SECS)]
    pub session_ttl: i64,
    /// Mark the session cookie `Secure` (when served over TLS).
    #[arg(long, env = "FK_SECURE_COOKIES")]
    pub secure_cookies: bool,
}

impl ServeArgs {
    /// The photo directory, explicit or beside the database.
    pub fn photos_dir(&self) -> PathBuf {
        self.photos
            .clone()
            .unwrap_or_else(|| model::schema::default_photos_dir(&self.db))
    }

    /// These options as command-line arguments, for a supervisor starting
    /// app-server processes with the same settings (stages 3 and 4). Every
    /// option must be here: `tests/settings.rs` parses the result back.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> = vec![
            "--db".into(),
            self.db.clone().into(),
            "--photos".into(),
            self.photos_dir().into(),
            "--threads".into(),
            self.threads.to_string().into(),
            "--session-ttl".into(),
            self.session_ttl.to_string().into(),
        ];
        if self.gil {
            v.push("--gil".into());
            v.push("--python-factor".into());
            v.push(self.python_factor.to_string().into());
        }
        if self.secure_cookies {
            v.push("--secure-cookies".into());
        }
        v
    }
}

/// Where sessions live.
pub enum Sessions {
    /// In the database, through the request's own connection (stage-2).
    Sqlite,
    /// A store shared by all threads: in memory (stage-3), memcached (stage-4).
    Shared(Arc<dyn SessionStore + Send + Sync>),
}

/// What a stage plugs in.
pub struct Backends {
    pub sessions: Sessions,
    pub cache: Arc<dyn PageCache>,
    pub photos: Arc<dyn PhotoStore>,
}

impl Backends {
    /// Stage-2: sessions in SQLite, no cache, photos read from disk.
    pub fn plain(photos_dir: PathBuf) -> Self {
        Backends {
            sessions: Sessions::Sqlite,
            cache: Arc::new(app::NoCache),
            photos: Arc::new(app::DiskPhotos { dir: photos_dir }),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Db(#[from] model::ModelError),
    #[error("--threads must be at least 1")]
    Threads,
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error(transparent)]
    Web(#[from] web::WebError),
    #[error("starting the runtime: {0}")]
    Runtime(std::io::Error),
    /// A listening socket passed by a supervisor is unusable.
    #[error("inherited listening socket fd {fd}: {reason}")]
    Inherit { fd: i32, reason: String },
    /// A command line that cannot work.
    #[error("{0}")]
    Usage(&'static str),
    /// A stage's backend (memcached's client) could not be set up.
    #[error("{0}")]
    Backend(String),
}

/// Opens SQLite connections for the pool, with the model's checks and pragmas.
#[derive(Debug)]
struct Manager {
    path: PathBuf,
}

impl r2d2::ManageConnection for Manager {
    type Connection = rusqlite::Connection;
    type Error = model::ModelError;
    fn connect(&self) -> Result<Self::Connection, Self::Error> {
        model::open(&self.path)
    }
    fn is_valid(&self, _: &mut Self::Connection) -> Result<(), Self::Error> {
        Ok(())
    }
    fn has_broken(&self, _: &mut Self::Connection) -> bool {
        false
    }
}

/// The server: the pool, the backends, the GIL, and its name on responses.
pub struct Server {
    pool: r2d2::Pool<Manager>,
    backends: Backends,
    gil: Arc<Gil>,
    config: app::Config,
    served_by: HeaderValue,
    last_slow_log: AtomicU64,
    started: Instant,
}

impl Server {
    /// Checks the database and photo directory and opens one connection per
    /// thread. `served_by` names this process on every response
    /// (`X-Served-By: stage-2 pid=123`).
    pub fn new(args: &ServeArgs, served_by: &str, backends: Backends) -> Result<Self, ServerError> {
        if args.threads == 0 {
            return Err(ServerError::Threads);
        }
        drop(model::open(&args.db)?); // a clear error before the pool's retries
        let photos = model::schema::existing_photos_dir(args.photos_dir())?;
        let pool = r2d2::Pool::builder()
            .max_size(args.threads as u32)
            .min_idle(Some(args.threads as u32))
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(30))
            .build(Manager {
                path: args.db.clone(),
            })?;
        let mut config = app::Config::new(photos);
        config.session_ttl = args.session_ttl;
        config.secure_cookies = args.secure_cookies;
        let served_by = format!("{served_by} pid={}", std::process::id());
        Ok(Server {
            pool,
            backends,
            gil: Arc::new(if args.gil {
                Gil::on().with_python_factor(args.python_factor)
            } else {
                Gil::off()
            }),
            config,
            served_by: HeaderValue::from_str(&served_by)
                .unwrap_or(HeaderValue::from_static("flickrkillr")),
            last_slow_log: AtomicU64::new(0),
            started: Instant::now(),
        })
    }

    /// Appends an instance tag to `X-Served-By` (`stage-3 pid=123 i0`), so
    /// responses show which of several instances answered.
    pub fn tagged(mut self, tag: &str) -> Self {
        let value = format!("{} {tag}", self.served_by.to_str().unwrap_or("flickrkillr"));
        if let Ok(v) = HeaderValue::from_str(&value) {
            self.served_by = v;
        }
        self
    }

    /// Handles one request synchronously, on the calling thread.
    pub fn handle(&self, req: &app::Request<'_>) -> app::Response {
        let t = Instant::now();
        let mut pre = Timing::new();
        let conn = match pre.time("db-pool", || self.pool.get()) {
            Ok(c) => c,
            Err(e) => return app::error_response(&app::AppError::Busy(e.to_string())),
        };
        let sqlite_sessions;
        let sessions: &dyn SessionStore = match &self.backends.sessions {
            Sessions::Sqlite => {
                sqlite_sessions = SqliteSessions { conn: &conn };
                &sqlite_sessions
            }
            Sessions::Shared(s) => s.as_ref(),
        };
        let svc = app::Services {
            db: &conn,
            sessions,
            cache: self.backends.cache.as_ref(),
            photos: self.backends.photos.as_ref(),
            gil: &self.gil,
            config: &self.config,
        };
        let mut resp = app::handle(&svc, req);
        resp.timing.prepend(pre);
        self.note_if_slow(t.elapsed(), req.path);
        resp
    }

    fn note_if_slow(&self, took: Duration, path: &str) {
        if took < SLOW_REQUEST {
            return;
        }
        let now = self.started.elapsed().as_secs() + 1;
        if self.last_slow_log.swap(now, Ordering::Relaxed) != now {
            tracing::warn!(
                ms = took.as_millis() as u64,
                path,
                "slow request blocked a worker thread (missing index?)"
            );
        }
    }

    /// The hyper-facing side: reads the body, handles, converts.
    pub async fn respond(
        self: Arc<Self>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<web::Body> {
        let resp = match web::read_body(req, app::MAX_BODY_BYTES).await {
            Ok((parts, body)) => self.handle(&web::to_app(&parts, &body)),
            Err(e) => app::error_response(&e),
        };
        web::from_app(resp, &self.served_by)
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn run(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let gil = self.gil.clone();
        let server = self.clone();
        let service = move |req| server.clone().respond(req);
        if gil.enabled() {
            // Under --gil every connection is polled holding the lock:
            // hyper's parsing and writing are "Python" too, as CherryPy's were.
            web::serve_with(listener, shutdown, service, gil_io::GilDriver { gil }).await;
        } else {
            web::serve(listener, shutdown, service).await;
        }
    }
}

/// Everything a stage binary's `main` does: build the runtime with
/// `--threads` workers, bind, print `listening on`, serve until SIGINT or
/// SIGTERM, finish in-flight requests, return.
pub fn run_until_signal(listen: &str, server: Server, threads: usize) -> Result<(), ServerError> {
    run_until_signal_on(Listen::Addr(listen.to_owned()), server, threads)
}

/// Where a server listens: an address to bind, or a socket already bound
/// (by a supervisor that passed it down, as stages 3 and 4 do, so that a
/// restarted instance keeps its port and the connections queued on it).
#[derive(Debug)]
pub enum Listen {
    Addr(String),
    Bound(std::net::TcpListener),
}

/// [`run_until_signal`] on a [`Listen`].
pub fn run_until_signal_on(
    listen: Listen,
    server: Server,
    threads: usize,
) -> Result<(), ServerError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(ServerError::Runtime)?;
    rt.block_on(async {
        let (listener, name) = match listen {
            Listen::Addr(addr) => (web::bind(&addr).await?, addr),
            Listen::Bound(l) => {
                let name = l
                    .local_addr()
                    .map_or_else(|_| "an inherited socket".into(), |a| a.to_string());
                let adopt = |err| web::WebError::Bind {
                    addr: name.clone(),
                    err,
                };
                l.set_nonblocking(true).map_err(adopt)?;
                (tokio::net::TcpListener::from_std(l).map_err(adopt)?, name)
            }
        };
        web::announce(
            listener
                .local_addr()
                .map_err(|e| web::WebError::Bind { addr: name, err: e })?,
        );
        Arc::new(server).run(listener, web::shutdown_signal()).await;
        tracing::info!("stopped");
        Ok(())
    })
}
