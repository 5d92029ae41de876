//! # stage-3 — app-server instances behind a real nginx (the talk: 217 req/s)
//!
//! `cargo run --release -p stage-3 -- --instances 2 --db data/flickrkillr.db --listen 127.0.0.1:8003 [--gil] [--threads 1]`
//!
//! The talk's third iteration: the GIL let one CherryPy process use one
//! core, so run one process per core and balance them with nginx. This
//! binary is a supervisor: it starts `--instances` app servers (this same
//! binary, `stage-3 instance`), each on a loopback socket it binds and hands
//! down, writes an `nginx.conf` into a private run directory, starts a real
//! nginx in front, and prints `listening on http://ADDR` (nginx's address)
//! once everything answers. Options such as `--gil` and `--threads` pass
//! through to every instance, so "one single-threaded CPython process per
//! core" is `--instances 2 --threads 1 --gil`.
//!
//! What changed from stage-2:
//! - **Several processes**: with `--gil`, each instance still runs one
//!   request's "Python" at a time, but two instances run two.
//! - **Sessions in memory** (the talk's "prefer an in-memory session
//!   store"): each instance keeps its own, and issues ids prefixed by its
//!   tag (`i0-…`). nginx routes every request that carries a session to the
//!   instance holding it (`map $cookie_sid`), and everything else —
//!   anonymous visitors, and logins, which arrive without a session — round
//!   robin over all instances. **The trade-off**: an instance lost is its
//!   visitors logged out (nginx falls back to another instance, which does
//!   not know them, rather than failing the request). stage-4 removes it.
//! - nginx keeps connections to the instances open (upstream keep-alive)
//!   and retries a failed GET on another instance (never a POST).
//!
//! The supervisor restarts a crashed instance (with backoff; its socket
//! stays open meanwhile, so requests wait instead of failing), forwards
//! every child's output to stderr with a `[name]` prefix, and on SIGINT or
//! SIGTERM stops nginx, then the instances, and exits 0. If it is killed
//! outright, the kernel stops its children (parent-death signal).
//!
//! `--app python` runs the CPython peer's app server (CherryPy,
//! `peers/python/fk_serve.py`) as the instances instead, with its sessions
//! in its memory too, behind this same nginx and supervisor: python-3.
//!
//! `--upstream host:port,…` balances instances started elsewhere instead
//! (`stage-3 instance --listen 10.0.0.2:9000 --tag i0 --db …`, one `--tag`
//! each), so one nginx can front several machines.

use std::sync::Arc;

use appserver::instance::{INSTANCE_ENV, InstanceArgs};
use appserver::{Backends, ServeArgs, Sessions};
use clap::{Parser, Subcommand};
use cluster::stage::{self, InstanceCommand};

/// Where this stage's nginx listens unless --listen says otherwise.
const LISTEN: &str = "127.0.0.1:8003";

/// stage-3: several app-server instances behind nginx, sessions in each one's memory.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    sup: Supervise,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run one app-server instance (the supervisor starts these; or start
    /// them elsewhere and list them with --upstream).
    Instance(InstanceArgs),
}

/// The supervisor's options (the default mode).
#[derive(clap::Args, Debug)]
struct Supervise {
    #[command(flatten)]
    common: stage::SupervisorArgs,
    /// Which app the instances run (`--app python`: python-3).
    #[command(flatten)]
    app: peer::AppArgs,
    /// Passed to every instance.
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() {
    let args: Args = stage::parse_args(LISTEN);
    web::init_tracing();
    stage::exit_with(
        "stage-3",
        match args.cmd {
            Some(Cmd::Instance(a)) => instance(a),
            None => supervise(args.sup),
        },
    );
}

/// An app server whose sessions live in its own memory, tagged.
fn instance(a: InstanceArgs) -> anyhow::Result<()> {
    appserver::instance::run_instance(a, "stage-3", |a| {
        Ok(Backends {
            sessions: Sessions::Shared(Arc::new(app::MemorySessions::new(&format!("{}-", a.tag)))),
            cache: Arc::new(app::NoCache),
            photos: Arc::new(app::DiskPhotos {
                dir: a.serve.photos_dir(),
            }),
        })
    })?;
    Ok(())
}

/// The supervisor: instances, nginx, until SIGINT/SIGTERM.
fn supervise(a: Supervise) -> anyhow::Result<()> {
    let python = a.app.python()?;
    let cmd = InstanceCommand::for_app(
        python.as_ref(),
        "python-3",
        "memory",
        a.serve.to_args(),
        a.serve.gil,
        INSTANCE_ENV,
    )?;
    stage::supervise("stage-3", &a.common, web::announce, async |stage| {
        let instances = stage::instances(stage, &a.common, &cmd, app::sessions::valid_tag).await?;
        let conf = stage_3::nginx::render(&stage.nginx, stage.run_dir.path(), &instances)?;
        stage::start_nginx(stage, &conf).await?;
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
