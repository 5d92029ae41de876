//! # stage-1 — FlickrKillr as CGI, with a built-in CGI host
//!
//! `cargo run --release -p stage-1 -- --db data/flickrkillr.db --listen 127.0.0.1:8001`
//!
//! Serves HTTP and runs the CGI program `stage-1-cgi` once per request: a
//! new process, a fresh database connection, everything initialised again.
//! Each response's `X-Served-By` shows a new pid; its `Server-Timing` shows
//! `process` (starting and ending the process), `init` and `db-open` — the
//! talk's first-iteration problems, measured. To run the same program under
//! lighttpd or Apache instead, see the README.
//!
//! `--app python` runs the CPython peer's CGI program instead
//! (`peers/python/fk_cgi.py`, a fresh interpreter per request): python-1.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use stage_1::host::{self, Host, HostConfig};

/// Where stage-1 listens unless --listen says otherwise.
const LISTEN: &str = "127.0.0.1:8001";

/// stage-1: the FlickrKillr site as a CGI program, one process per request.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the real address is
    /// printed as `listening on http://ADDR`).
    #[arg(long, env = "FK_LISTEN", default_value = LISTEN)]
    listen: String,
    /// The seeded SQLite database (passed to the program as FK_DB).
    #[arg(long, env = "FK_DB", default_value = model::schema::DEFAULT_DB)]
    db: PathBuf,
    /// Directory of the photo pool (default: `photos/` beside the database).
    #[arg(long, env = "FK_PHOTOS")]
    photos: Option<PathBuf>,
    /// The CGI program to run (default: `stage-1-cgi` beside this binary,
    /// or the peer's `fk_cgi.py` with `--app python`).
    #[arg(long, env = "FK_CGI_PROGRAM", conflicts_with = "app")]
    program: Option<PathBuf>,
    #[command(flatten)]
    app: peer::AppArgs,
    /// CGI programs running at once; further requests wait for a slot.
    #[arg(long, env = "FK_MAX_CHILDREN", default_value_t = host::DEFAULT_MAX_CHILDREN)]
    max_children: usize,
    /// Seconds a program may run before it is killed (the client gets 504).
    #[arg(long, env = "FK_CGI_TIMEOUT", default_value_t = host::DEFAULT_TIMEOUT.as_secs())]
    timeout: u64,
    /// Run only on these CPUs (`0,1`, `2-3`): the host and every CGI
    /// program it starts (`cpus` crate). Default: all.
    #[arg(long, env = "FK_CPUS")]
    cpus: Option<cpus::CpuList>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Before any thread exists: the CGI children inherit the mask.
    cpus::pin_if(args.cpus.as_ref())?;
    web::init_tracing();
    // Fail at start-up, with a hint, rather than with a 500 per request.
    drop(model::open(&args.db)?);
    let photos = model::schema::existing_photos_dir(
        args.photos
            .clone()
            .unwrap_or_else(|| model::schema::default_photos_dir(&args.db)),
    )?;
    let (program, program_args) = match (args.program, args.app.app) {
        (Some(p), _) => (p, Vec::new()),
        (None, peer::App::Python) => peer::Peer::locate(&args.app.peer)?.cgi(),
        (None, peer::App::Rust) => (
            std::env::current_exe()?.with_file_name("stage-1-cgi"),
            Vec::new(),
        ),
    };
    anyhow::ensure!(
        program.is_file(),
        "CGI program {} not found; build it with `cargo build --release -p stage-1` or pass --program",
        program.display()
    );
    // The program runs with a cleared environment and its own working
    // directory semantics: give it absolute paths.
    let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = web::bind(&args.listen).await?;
        let local = listener.local_addr().context("local address")?;
        let host = Arc::new(Host::new(HostConfig {
            program: abs(&program),
            program_args,
            db: abs(&args.db),
            photos: abs(&photos),
            max_children: args.max_children,
            timeout: Duration::from_secs(args.timeout.max(1)),
            local,
        }));
        web::announce(local);
        web::serve(listener, web::shutdown_signal(), move |req| {
            host.clone().respond(req)
        })
        .await;
        tracing::info!("stopped");
        anyhow::Ok(())
    })
}
