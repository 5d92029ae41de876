//! # stage-2 — one long-running app server (the talk: 139 req/s, 6× CGI)
//!
//! `cargo run --release -p stage-2 -- --db data/flickrkillr.db [--threads 2] [--gil [--python-factor 50]]`
//!
//! What changed from stage-1: the process starts once and keeps one SQLite
//! connection per worker thread, so no request pays a process start, a
//! database open or statement preparation. What is still wrong, on purpose,
//! as in the talk: sessions live in the database (read and written back on
//! every logged-in request), photo bytes are read from disk by the app on
//! every request, and with `--gil` only one core runs the app at a time
//! (`--python-factor` adds the interpreter's weight to that one core).
//! stage-3 and stage-4 fix those; see `crates/appserver` for the server.

use clap::Parser;

/// Where stage-2 listens unless --listen says otherwise.
const LISTEN: &str = "127.0.0.1:8002";

/// stage-2: the FlickrKillr site from one long-running hyper process.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the real address is
    /// printed as `listening on http://ADDR`).
    #[arg(long, env = "FK_LISTEN", default_value = LISTEN)]
    listen: String,
    /// Run only on these CPUs (`0,1`, `2-3`), every thread of the server:
    /// the talk's machine had two cores (`cpus` crate). Default: all.
    #[arg(long, env = "FK_CPUS")]
    cpus: Option<cpus::CpuList>,
    #[command(flatten)]
    serve: appserver::ServeArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Before any thread exists: the runtime's workers inherit the mask.
    cpus::pin_if(args.cpus.as_ref())?;
    web::init_tracing();
    let backends = appserver::Backends::plain(args.serve.photos_dir());
    let server = appserver::Server::new(&args.serve, "stage-2", backends)?;
    appserver::run_until_signal(&args.listen, server, args.serve.threads)?;
    Ok(())
}
