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
//! `--upstream host:port,…` balances instances started elsewhere instead
//! (`stage-3 instance --listen 10.0.0.2:9000 --tag i0 --db …`, one `--tag`
//! each), so one nginx can front several machines.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use appserver::{Backends, ServeArgs, Sessions};
use clap::{Parser, Subcommand};
use cluster::nginx::{self, Nginx};
use cluster::stage::{self, HeldSockets, Instance, InstanceArgs};
use cluster::{RunDir, Signals, Supervisor};

/// stage-3: several app-server instances behind nginx, sessions in each one's memory.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    sup: SupervisorArgs,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run one app-server instance (the supervisor starts these; or start
    /// them elsewhere and list them with --upstream).
    Instance(InstanceArgs),
}

/// The supervisor's options (the default mode).
#[derive(clap::Args, Debug)]
struct SupervisorArgs {
    /// Address nginx listens on (port 0 picks a free port; the real address
    /// is printed as `listening on http://ADDR`).
    #[arg(long, env = "FK_LISTEN", default_value = web::defaults::STAGE3_LISTEN)]
    listen: String,
    /// App-server instances to start (one per core is the talk's advice).
    #[arg(long, env = "FK_INSTANCES", default_value_t = web::defaults::INSTANCES)]
    instances: usize,
    /// Balance these already-running instances (`host:port,…`) instead of
    /// starting any; each must have been started with its own --tag.
    #[arg(long, env = "FK_UPSTREAM", value_delimiter = ',')]
    upstream: Vec<String>,
    /// The nginx binary.
    #[arg(long, env = "FK_NGINX", default_value = web::defaults::NGINX)]
    nginx: PathBuf,
    /// nginx worker processes.
    #[arg(long, env = "FK_NGINX_WORKERS", default_value_t = web::defaults::NGINX_WORKERS)]
    nginx_workers: usize,
    /// Directory for nginx.conf, nginx's pid and temporary files (default:
    /// a fresh temporary directory, removed at exit).
    #[arg(long, env = "FK_RUN_DIR")]
    run_dir: Option<PathBuf>,
    /// Passed to every instance.
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() {
    let args = Args::parse();
    web::init_tracing();
    let result = match args.cmd {
        Some(Cmd::Instance(a)) => instance(a),
        None => supervise(args.sup),
    };
    if let Err(e) = result {
        // One line, the whole chain: what failed and what to do.
        eprintln!("stage-3: {e:#}");
        std::process::exit(1);
    }
}

/// An app server whose sessions live in its own memory, tagged.
fn instance(a: InstanceArgs) -> anyhow::Result<()> {
    let backends = Backends {
        sessions: Sessions::Shared(Arc::new(app::MemorySessions::new(&format!("{}-", a.tag)))),
        cache: Arc::new(app::NoCache),
        photos: Arc::new(app::DiskPhotos {
            dir: a.serve.photos_dir(),
        }),
    };
    Ok(stage::run_instance(a, "stage-3", backends)?)
}

/// The supervisor: instances, nginx, until SIGINT/SIGTERM.
fn supervise(a: SupervisorArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.instances > 0 || !a.upstream.is_empty(),
        "--instances must be at least 1 (or list running instances with --upstream)"
    );
    // The supervisor forks every child from this thread (see cluster::process).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let mut signals = Signals::install()?;
        let nginx = Nginx::new(&a.nginx, &a.listen, a.nginx_workers)?;
        let run_dir = RunDir::new(a.run_dir.as_deref(), "flickrkillr-stage-3-")?;
        let mut sup = Supervisor::new();
        let mut held = HeldSockets::default();
        let started = start(&mut sup, &mut held, &a, &nginx, &run_dir);
        let result =
            stage::run_until_signal(&mut signals, started, |_| web::announce(nginx.addr)).await;
        sup.shutdown().await;
        result.map_err(anyhow::Error::from)
    })
}

async fn start(
    sup: &mut Supervisor,
    held: &mut HeldSockets,
    a: &SupervisorArgs,
    nginx: &Nginx,
    run_dir: &RunDir,
) -> Result<(), cluster::ClusterError> {
    let instances = if a.upstream.is_empty() {
        stage::start_local_instances(sup, held, a.instances, &a.serve.to_args()).await?
    } else {
        stage::remote_instances(&a.upstream).await?
    };
    for i in instances.iter().filter(|i| i.tag.is_none()) {
        tracing::warn!(
            upstream = %i.addr,
            "no instance tag in its X-Served-By: it gets anonymous traffic, and its sessions cannot be routed back to it"
        );
    }
    stage::start_nginx(
        sup,
        nginx,
        run_dir,
        "stage-3",
        &http_config(&nginx.listen_params(), &instances),
    )
    .await?;
    Ok(())
}

/// The stage's part of nginx.conf: a pool of all instances, one upstream
/// per instance for the visitors whose session it holds, and the map that
/// picks between them.
fn http_config(listen: &str, instances: &[Instance]) -> String {
    let all: Vec<String> = instances.iter().map(|i| i.addr.clone()).collect();
    let mut c = String::new();
    c.push_str(
        "    # Anonymous requests and logins (which arrive without a session):\n\
         \x20   # round robin over every instance. A failure takes an instance out\n\
         \x20   # for 1 s (the supervisor restarts it meanwhile).\n\
         \x20   upstream pool {\n",
    );
    c.push_str(&nginx::server_lines(&all, "max_fails=1 fail_timeout=1s"));
    c.push_str(
        "        # Idle keep-alive connections cached per worker: at least the\n\
         \x20       # benchmark's 64 client connections, so none is reopened.\n\
         \x20       keepalive 64;\n\
         \x20       keepalive_requests 1000000;\n\
         \x20       # Below the instances' 10 s idle limit, so nginx never reuses a\n\
         \x20       # connection an instance is closing (a POST would fail).\n\
         \x20       keepalive_timeout 5s;\n\
         \x20   }\n\n",
    );
    let tagged: Vec<&Instance> = instances.iter().filter(|i| i.tag.is_some()).collect();
    for inst in &tagged {
        let tag = inst.tag.as_deref().unwrap_or_default();
        c.push_str(&format!(
            "    # Visitors whose session lives on {tag}. If {tag} is down, another\n\
             \x20   # instance answers (backup): the visitor is logged out, not failed.\n\
             \x20   upstream fk_{tag} {{\n"
        ));
        c.push_str(&nginx::server_lines(
            std::slice::from_ref(&inst.addr),
            "max_fails=1 fail_timeout=1s",
        ));
        let others: Vec<String> = all.iter().filter(|a| **a != inst.addr).cloned().collect();
        c.push_str(&nginx::server_lines(&others, "backup"));
        c.push_str(
            "        keepalive 16;\n        keepalive_requests 1000000;\n        keepalive_timeout 5s;\n    }\n\n",
        );
    }
    c.push_str(
        "    # Session ids start with their instance's tag (i0-…): route each\n\
         \x20   # visitor back to the instance that holds their session.\n\
         \x20   map $cookie_sid $fk_upstream {\n\
         \x20       default pool;\n",
    );
    for inst in &tagged {
        let tag = inst.tag.as_deref().unwrap_or_default();
        c.push_str(&format!("        ~^{tag}- fk_{tag};\n"));
    }
    c.push_str("    }\n\n");
    c.push_str(&format!(
        "    server {{\n\
         \x20       listen {listen};\n\
         \x20       location / {{\n\
         \x20           proxy_pass http://$fk_upstream;\n\
         \x20       }}\n\
         \x20   }}"
    ));
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticky_config_routes_tags_and_falls_back() {
        let inst = |t: &str, a: &str| Instance {
            tag: Some(t.into()),
            addr: a.into(),
            handle: None,
        };
        let c = http_config(
            "127.0.0.1:8003 reuseport",
            &[inst("i0", "127.0.0.1:9000"), inst("i1", "127.0.0.1:9001")],
        );
        for want in [
            "upstream pool {",
            "server 127.0.0.1:9000 max_fails=1 fail_timeout=1s;",
            "upstream fk_i1 {",
            "server 127.0.0.1:9000 backup;",
            "~^i0- fk_i0;",
            "default pool;",
            "listen 127.0.0.1:8003 reuseport;",
            "proxy_pass http://$fk_upstream;",
        ] {
            assert!(c.contains(want), "missing {want:?} in\n{c}");
        }
    }
}
