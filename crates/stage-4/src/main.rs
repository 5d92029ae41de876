//! # stage-4 — memcached, with nginx answering from it (the talk: 616 req/s, 1750 with ab)
//!
//! `cargo run --release -p stage-4 -- --instances 2 --db data/flickrkillr.db --listen 127.0.0.1:8004 [--memcached host:port,…]`
//!
//! The talk's fourth iteration: "static files read from disk every time,
//! and read from Python" → memcached, "combined with nginx". Everything
//! stage-3 does (instances behind a real nginx, a supervisor that restarts
//! them and leaves no process behind), plus a real memcached — started by
//! the stage on a free port, or `--memcached host:port,…` for servers that
//! already run:
//!
//! - **Pages**: an anonymous page the app renders is stored in memcached
//!   under the key nginx derives from the request (`$uri?$args`). nginx
//!   answers the next request for it straight from memcached
//!   (`memcached_pass`, `X-Cache: HIT`), without the app. A miss, memcached
//!   down or slow falls through to the app (`X-Cache: MISS`). Visitors with
//!   a session cookie always reach the app, which takes the data behind the
//!   page from memcached (`data:` keys) and renders their header.
//! - **Photo bytes**: cached the same way and served by nginx on a hit;
//!   the app reads the disk only on a miss.
//! - **Sessions** in memcached: any instance serves any visitor; killing an
//!   instance logs nobody out (stage-3's stickiness is gone).
//! - **Writes**: `POST /photo/{id}/comments` replaces the photo's page and
//!   page data in memcached (versioned by the newest comment id, stored in
//!   the item flags; see `memcached.rs`) before it answers, so no later
//!   read, through nginx or any instance, can miss the comment.
//! - **Several memcached servers**: nginx places keys with `hash
//!   $memcached_key consistent`, and the app with the same ring
//!   (`cluster::ring`), so nginx finds every key the app wrote.
//! - **memcached down degrades, never fails**: pages come from SQLite
//!   through the app (nginx falls back on 502), photos from disk; logged-in
//!   visitors lose their session (documented); the stage restarts the
//!   memcached it started, and the hit ratio recovers.

mod memcached;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use appserver::{Backends, ServeArgs, Sessions};
use clap::{Parser, Subcommand};
use cluster::nginx::{self, Nginx};
use cluster::stage::{self, HeldSockets};
use cluster::{RunDir, Signals, Supervisor, memcached as mcd, ports, probe};

/// stage-4: stage-3 plus memcached, with nginx answering cached pages and photos.
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
    Instance(CachedInstanceArgs),
}

/// The supervisor's options (the default mode).
#[derive(clap::Args, Debug)]
struct SupervisorArgs {
    /// Address nginx listens on (port 0 picks a free port; the real address
    /// is printed as `listening on http://ADDR`).
    #[arg(long, env = "FK_LISTEN", default_value = web::defaults::STAGE4_LISTEN)]
    listen: String,
    /// App-server instances to start.
    #[arg(long, env = "FK_INSTANCES", default_value_t = web::defaults::INSTANCES)]
    instances: usize,
    /// Balance these already-running instances (`host:port,…`) instead of
    /// starting any (requires --memcached: they must share the servers).
    #[arg(long, env = "FK_UPSTREAM", value_delimiter = ',')]
    upstream: Vec<String>,
    /// Use these running memcached servers (`host:port,…`, the same list
    /// for nginx and every instance) instead of starting one.
    #[arg(long, env = "FK_MEMCACHED", value_delimiter = ',')]
    memcached: Vec<String>,
    /// The memcached binary (when the stage starts memcached).
    #[arg(long, env = "FK_MEMCACHED_BIN", default_value = web::defaults::MEMCACHED)]
    memcached_bin: PathBuf,
    /// Item memory of the memcached the stage starts, in megabytes.
    #[arg(long, env = "FK_MEMCACHED_MB", default_value_t = web::defaults::MEMCACHED_MB)]
    memcached_mb: u32,
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
    #[command(flatten)]
    cache: CacheArgs,
    /// Passed to every instance.
    #[command(flatten)]
    serve: ServeArgs,
}

/// Cache lifetimes, passed to every instance.
#[derive(clap::Args, Debug, Clone)]
struct CacheArgs {
    /// Seconds a page (and its data) stays cached. Comments replace their
    /// photo's page at once; this bounds staleness of anything else.
    #[arg(long, env = "FK_PAGE_TTL", default_value_t = web::defaults::PAGE_TTL_SECS)]
    page_ttl: u32,
    /// Seconds photo bytes stay cached (photo files never change).
    #[arg(long, env = "FK_PHOTO_TTL", default_value_t = web::defaults::PHOTO_TTL_SECS)]
    photo_ttl: u32,
}

/// One instance's options: the shared ones, plus where memcached is.
#[derive(clap::Args, Debug)]
struct CachedInstanceArgs {
    #[command(flatten)]
    instance: stage::InstanceArgs,
    /// The memcached servers (`host:port,…`), exactly as nginx lists them.
    #[arg(long, env = "FK_MEMCACHED", value_delimiter = ',', required = true)]
    memcached: Vec<String>,
    #[command(flatten)]
    cache: CacheArgs,
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
        eprintln!("stage-4: {e:#}");
        std::process::exit(1);
    }
}

/// An app server with sessions, pages, page data and photo bytes in memcached.
fn instance(a: CachedInstanceArgs) -> anyhow::Result<()> {
    let mc = Arc::new(memcached::Memcached::new(
        &a.memcached,
        a.instance.serve.threads,
    )?);
    let backends = Backends {
        sessions: Sessions::Shared(Arc::new(memcached::McSessions { mc: mc.clone() })),
        cache: Arc::new(memcached::Pages {
            mc: mc.clone(),
            ttl: a.cache.page_ttl,
        }),
        photos: Arc::new(memcached::Photos {
            mc,
            disk: app::DiskPhotos {
                dir: a.instance.serve.photos_dir(),
            },
            ttl: a.cache.photo_ttl,
        }),
    };
    Ok(stage::run_instance(a.instance, "stage-4", backends)?)
}

/// The supervisor: memcached, instances, nginx, until SIGINT/SIGTERM.
fn supervise(a: SupervisorArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.instances > 0 || !a.upstream.is_empty(),
        "--instances must be at least 1 (or list running instances with --upstream)"
    );
    anyhow::ensure!(
        a.upstream.is_empty() || !a.memcached.is_empty(),
        "--upstream needs --memcached: instances started elsewhere must use the same memcached servers as nginx"
    );
    for m in &a.memcached {
        ports::resolve(m)?;
    }
    // Before anything starts: a missing memcached is one clear line.
    let memcached_bin = if a.memcached.is_empty() {
        Some(mcd::find(&a.memcached_bin)?)
    } else {
        None
    };
    // The supervisor forks every child from this thread (see cluster::process).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let mut signals = Signals::install()?;
        let nginx = Nginx::new(&a.nginx, &a.listen, a.nginx_workers)?;
        let run_dir = RunDir::new(a.run_dir.as_deref(), "flickrkillr-stage-4-")?;
        let mut sup = Supervisor::new();
        let mut held = HeldSockets::default();
        let started = start(&mut sup, &mut held, &a, memcached_bin, &nginx, &run_dir);
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
    memcached_bin: Option<PathBuf>,
    nginx: &Nginx,
    run_dir: &RunDir,
) -> Result<(), cluster::ClusterError> {
    let servers = match memcached_bin {
        Some(bin) => vec![start_memcached(sup, &bin, a.memcached_mb).await?],
        None => {
            for m in &a.memcached {
                if let Err(e) = probe::memcached_version(m, stage::PROBE_TIMEOUT).await {
                    tracing::warn!(server = %m, error = %e, "memcached not answering; serving without it until it does");
                }
            }
            a.memcached.clone()
        }
    };
    let instances = if a.upstream.is_empty() {
        let mut args = a.serve.to_args();
        args.extend([
            "--memcached".into(),
            servers.join(",").into(),
            "--page-ttl".into(),
            a.cache.page_ttl.to_string().into(),
            "--photo-ttl".into(),
            a.cache.photo_ttl.to_string().into(),
        ]);
        stage::start_local_instances(sup, held, a.instances, &args).await?
    } else {
        stage::remote_instances(&a.upstream).await?
    };
    let addrs: Vec<String> = instances.iter().map(|i| i.addr.clone()).collect();
    stage::start_nginx(
        sup,
        nginx,
        run_dir,
        "stage-4",
        &http_config(&nginx.listen_params(), &addrs, &servers),
    )
    .await?;
    Ok(())
}

/// Starts memcached on a free loopback port and waits until it answers.
async fn start_memcached(
    sup: &mut Supervisor,
    bin: &std::path::Path,
    mb: u32,
) -> Result<String, cluster::ClusterError> {
    let port = ports::free_port([127, 0, 0, 1].into())?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let opts = mcd::Options {
        memory_mb: mb,
        ..Default::default()
    };
    let h = sup.start(mcd::spec("memcached", bin, addr, &opts))?;
    let a = addr.to_string();
    sup.wait_ready(&h, stage::START_TIMEOUT, || async {
        probe::memcached_version(&a, stage::PROBE_TIMEOUT)
            .await
            .map(|_| ())
    })
    .await?;
    tracing::info!(pid = h.pid().unwrap_or(0), %addr, "memcached ready");
    Ok(a)
}

/// The stage's part of nginx.conf: the app pool, the memcached servers
/// (placed by consistent hash, as the app places them), and a server that
/// answers anonymous GETs from memcached and everything else from the app.
fn http_config(listen: &str, instances: &[String], memcached: &[String]) -> String {
    let app_servers = nginx::server_lines(instances, "max_fails=1 fail_timeout=1s");
    let mc_servers = nginx::server_lines(memcached, "max_fails=1 fail_timeout=1s");
    format!(
        r#"    # The app instances. Sessions live in memcached, so any instance
    # serves any visitor: plain round robin, no stickiness.
    upstream app {{
{app_servers}        # Idle keep-alive connections cached per worker: at least the
        # benchmark's 64 client connections.
        keepalive 64;
        keepalive_requests 1000000;
        # Below the instances' 10 s idle limit (web::HEADER_READ_TIMEOUT),
        # so nginx never reuses a connection an instance is closing.
        keepalive_timeout 5s;
    }}

    # nginx and the app must agree on which server holds a key: both use
    # this ketama-style consistent hash of the unescaped key (the app
    # replicates it: cluster::ring). A failed server is skipped for 1 s.
    upstream memcached {{
        hash $memcached_key consistent;
{mc_servers}        keepalive 64;
    }}

    # Anonymous GET/HEAD may be answered from memcached; a request with a
    # session (its page shows the visitor) or any other method goes to the app.
    map "$request_method:$cookie_sid" $fk_not_cacheable {{
        default 1;
        "GET:" 0;
        "HEAD:" 0;
    }}
    # Photos are the same for every visitor: only the method matters.
    map $request_method $fk_not_get {{
        default 1;
        GET 0;
        HEAD 0;
    }}

    server {{
        listen {listen};

        # The key the app stores a page under (app::page_key) and a photo
        # under (memcached::photo_key).
        set $memcached_key "$uri?$args";
        # The app writes a key only to its home server: asking another one
        # could only miss.
        memcached_next_upstream off;
        memcached_connect_timeout 200ms;
        memcached_send_timeout 500ms;
        memcached_read_timeout 500ms;

        location / {{
            # A miss (404), memcached down (502) or slow (504), or a request
            # that must not be answered from the cache (418): the app.
            error_page 404 418 502 504 = @app;
            if ($fk_not_cacheable) {{
                return 418;
            }}
            memcached_pass memcached;
            # A whole page in one read from memcached (the default buffer
            # is one memory page, smaller than most pages: measured +25%).
            memcached_buffer_size 16k;
            # The header the app sends, set verbatim (cheaper than the
            # charset filter).
            default_type "text/html; charset=utf-8";
            add_header X-Cache HIT;
        }}

        location /static/photos/ {{
            error_page 404 418 502 504 = @app;
            if ($fk_not_get) {{
                return 418;
            }}
            memcached_pass memcached;
            # A whole photo (the pool's largest is 46 KB) in one read.
            memcached_buffer_size 64k;
            add_header X-Cache HIT;
            add_header Cache-Control "public, max-age=86400";
        }}

        location = /healthz {{
            proxy_pass http://app;
        }}

        location @app {{
            proxy_pass http://app;
        }}
    }}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_places_keys_like_the_app() {
        let c = http_config(
            "127.0.0.1:8004 reuseport",
            &["127.0.0.1:9000".into(), "127.0.0.1:9001".into()],
            &["127.0.0.1:21211".into(), "127.0.0.1:21212".into()],
        );
        for want in [
            "hash $memcached_key consistent;",
            "server 127.0.0.1:21212 max_fails=1 fail_timeout=1s;",
            "set $memcached_key \"$uri?$args\";",
            "error_page 404 418 502 504 = @app;",
            "default_type \"text/html; charset=utf-8\";",
            "listen 127.0.0.1:8004 reuseport;",
        ] {
            assert!(c.contains(want), "missing {want:?} in\n{c}");
        }
        assert_eq!(memcached::photo_key("p1.jpg"), "/static/photos/p1.jpg?");
    }
}
