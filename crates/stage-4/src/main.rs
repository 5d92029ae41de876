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
//!   the item flags; see `memcached/`) before it answers, so no later
//!   read, through nginx or any instance, can miss the comment.
//! - **Several memcached servers**: nginx places keys with `hash
//!   $memcached_key consistent`, and the app with the same ring
//!   (`src/ring.rs`), so nginx finds every key the app wrote.
//!
//! `--app python` runs the CPython peer's app server (CherryPy,
//! `peers/python/fk_serve.py`) as the instances, storing pages, photo bytes
//! and sessions under the same keys and versions: python-4.
//!
//! nginx's configuration is `templates/nginx.conf`: read it, it is the
//! lesson. The live copy is printed at start (`nginx config: …`).
//! - **memcached down degrades, never fails**: pages come from SQLite
//!   through the app (nginx falls back on 502), photos from disk; logged-in
//!   visitors lose their session (documented); the stage restarts the
//!   memcached it started, and the hit ratio recovers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use appserver::instance::{INSTANCE_ENV, InstanceArgs};
use appserver::{Backends, ServeArgs, Sessions};
use clap::{Parser, Subcommand};
use cluster::stage::{self, InstanceCommand, Stage};
use cluster::{memcached as mcd, ports, probe};
use stage_4::CacheArgs;
use stage_4::memcached;

/// Where this stage's nginx listens unless --listen says otherwise.
const LISTEN: &str = "127.0.0.1:8004";

/// stage-4: stage-3 plus memcached, with nginx answering cached pages and photos.
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
    Instance(CachedInstanceArgs),
    /// How much memory memcached needs to hold every page and photo of a
    /// database (estimated from a sample of rendered pages), against the
    /// memory the stage gives it.
    CacheSize(CacheSizeArgs),
}

#[derive(clap::Args, Debug)]
struct CacheSizeArgs {
    /// The seeded database.
    #[arg(long, env = "FK_DB", default_value = model::schema::DEFAULT_DB)]
    db: PathBuf,
    /// Directory of the photo pool (default: `photos/` beside the database).
    #[arg(long, env = "FK_PHOTOS")]
    photos: Option<PathBuf>,
    /// User pages and photo pages rendered for the estimate (each).
    #[arg(long, default_value_t = 2000)]
    sample: u64,
}

/// The supervisor's options (the default mode).
#[derive(clap::Args, Debug)]
struct Supervise {
    #[command(flatten)]
    common: stage::SupervisorArgs,
    /// Which app the instances run (`--app python`: python-4).
    #[command(flatten)]
    app: peer::AppArgs,
    /// Use these running memcached servers (`host:port,…`, the same list
    /// for nginx and every instance) instead of starting one. Required
    /// with --upstream: instances started elsewhere must share them.
    #[arg(long, env = "FK_MEMCACHED", value_delimiter = ',')]
    memcached: Vec<String>,
    /// The memcached binary (when the stage starts memcached).
    #[arg(long, env = "FK_MEMCACHED_BIN", default_value = mcd::PROGRAM)]
    memcached_bin: PathBuf,
    /// Item memory of the memcached the stage starts, in megabytes.
    #[arg(long, env = "FK_MEMCACHED_MB", default_value_t = mcd::DEFAULT_MEMORY_MB)]
    memcached_mb: u32,
    /// Put this before every key nginx looks up, and only there: the app
    /// still writes pages and photos under their own keys, so every lookup
    /// misses while every other part of a miss (the lookup's round trip,
    /// the proxying, the app's work and writes) stays as it is. For
    /// measuring what a miss costs (compare.sh's `stage-4-miss` row).
    #[arg(long, env = "FK_LOOKUP_PREFIX", default_value = "")]
    lookup_prefix: String,
    #[command(flatten)]
    cache: CacheArgs,
    /// Passed to every instance.
    #[command(flatten)]
    serve: ServeArgs,
}

/// One instance's options: the shared ones, plus where memcached is.
#[derive(clap::Args, Debug)]
struct CachedInstanceArgs {
    #[command(flatten)]
    instance: InstanceArgs,
    /// The memcached servers (`host:port,…`), exactly as nginx lists them.
    #[arg(long, env = "FK_MEMCACHED", value_delimiter = ',', required = true)]
    memcached: Vec<String>,
    #[command(flatten)]
    cache: CacheArgs,
}

fn main() {
    let args: Args = stage::parse_args(LISTEN);
    web::init_tracing();
    stage::exit_with(
        "stage-4",
        match args.cmd {
            Some(Cmd::Instance(a)) => instance(a),
            Some(Cmd::CacheSize(a)) => cache_size(a),
            None => supervise(args.sup),
        },
    );
}

/// An app server with sessions, pages, page data and photo bytes in memcached.
fn instance(a: CachedInstanceArgs) -> anyhow::Result<()> {
    let (servers, cache) = (a.memcached, a.cache);
    appserver::instance::run_instance(a.instance, "stage-4", |i| {
        let mc = Arc::new(
            memcached::Memcached::new(&servers, i.serve.threads)
                .map_err(|e| appserver::ServerError::Backend(e.to_string()))?,
        );
        // The writer's own connection: it checks page adds against the
        // comments committed since their readers read them.
        let fresh = model::open(&i.serve.db)
            .and_then(app::Freshness::new)
            .map_err(|e| appserver::ServerError::Backend(e.to_string()))?;
        let writer = memcached::Writer::start(mc.clone(), fresh);
        Ok(Backends {
            sessions: Sessions::Shared(Arc::new(memcached::McSessions { mc: mc.clone() })),
            cache: Arc::new(memcached::Pages {
                mc,
                writer: writer.clone(),
                ttl: cache.page_ttl,
            }),
            photos: Arc::new(memcached::Photos {
                disk: app::DiskPhotos {
                    dir: i.serve.photos_dir(),
                },
                writer,
                ttl: cache.photo_ttl,
            }),
        })
    })?;
    Ok(())
}

/// `stage-4 cache-size`: what the whole site weighs in memcached.
fn cache_size(a: CacheSizeArgs) -> anyhow::Result<()> {
    let photos = a
        .photos
        .unwrap_or_else(|| model::schema::default_photos_dir(&a.db));
    let e = stage_4::sizes::estimate(&a.db, &photos, a.sample)?;
    let mb = |b: f64| b / (1024.0 * 1024.0);
    println!(
        "{} users: {} user pages of {:.0} B, {} photo pages of {:.0} B (means of {} rendered pages), {} photo files of {:.1} MB",
        e.users,
        e.user_pages,
        e.user_page_bytes,
        e.photo_pages,
        e.photo_page_bytes,
        e.sampled,
        e.photo_files,
        mb(e.photo_file_bytes as f64)
    );
    println!(
        "every page and photo in memcached: {} MB (item overhead {} B, slab waste ×{}); the stage gives memcached {} MB (--memcached-mb)",
        e.total_mb(),
        stage_4::sizes::ITEM_OVERHEAD,
        stage_4::sizes::SLAB_WASTE,
        mcd::DEFAULT_MEMORY_MB
    );
    Ok(())
}

/// The supervisor: memcached, instances, nginx, until SIGINT/SIGTERM.
fn supervise(a: Supervise) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.common.upstream.is_empty() || !a.memcached.is_empty(),
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
    let mut options = a.serve.to_args();
    options.extend(a.cache.to_args());
    let python = a.app.python()?;
    let cmd = InstanceCommand::for_app(
        python.as_ref(),
        "python-4",
        "memcached",
        options,
        a.serve.gil,
        INSTANCE_ENV,
    )?;
    // Say whether memcached can hold the whole site (a quick sample of 200
    // pages; without the photos index each of them scans every photo, ~15 s
    // of startup at 100,000 users, so there it is skipped and says so).
    let indexed = stage_4::sizes::indexed(&a.serve.db).unwrap_or(true);
    if memcached_bin.is_some() && !indexed {
        tracing::info!(
            "no index on photos: the cache-size estimate is skipped (`stage-4 cache-size` makes it)"
        );
    } else if memcached_bin.is_some() {
        let photos = a.serve.photos_dir();
        if let Ok(e) = stage_4::sizes::estimate(&a.serve.db, &photos, 200) {
            let need = e.total_mb();
            if need > u64::from(a.memcached_mb) {
                tracing::warn!(
                    need_mb = need,
                    memcached_mb = a.memcached_mb,
                    "memcached cannot hold every page and photo of this database: it will evict (see `stage-4 cache-size`)"
                );
            } else {
                tracing::info!(
                    need_mb = need,
                    memcached_mb = a.memcached_mb,
                    "memcached can hold every page and photo of this database"
                );
            }
        }
    }
    stage::supervise("stage-4", &a.common, web::announce, async |stage| {
        let servers = match &memcached_bin {
            Some(bin) => vec![start_memcached(stage, bin, a.memcached_mb).await?],
            None => {
                for m in &a.memcached {
                    if let Err(e) = probe::memcached_version(m, stage::PROBE_TIMEOUT).await {
                        tracing::warn!(server = %m, error = %e, "memcached not answering; serving without it until it does");
                    }
                }
                a.memcached.clone()
            }
        };
        let mut cmd = cmd.clone();
        cmd.options
            .extend(["--memcached".into(), servers.join(",").into()]);
        let instances = stage::instances(stage, &a.common, &cmd, app::sessions::valid_tag).await?;
        let conf = stage_4::nginx::render(
            &stage.nginx,
            stage.run_dir.path(),
            &instances,
            servers,
            &a.lookup_prefix,
        )?;
        stage::start_nginx(stage, &conf).await?;
        Ok(())
    })?;
    Ok(())
}

/// Starts memcached on a free loopback port and waits until it answers.
async fn start_memcached(
    stage: &mut Stage,
    bin: &std::path::Path,
    mb: u32,
) -> Result<String, cluster::ClusterError> {
    let port = ports::free_port([127, 0, 0, 1].into())?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let opts = mcd::Options {
        memory_mb: mb,
        ..Default::default()
    };
    let h = stage.sup.start(mcd::spec("memcached", bin, addr, &opts))?;
    let a = addr.to_string();
    stage
        .sup
        .wait_ready(&h, stage::START_TIMEOUT, || async {
            probe::memcached_version(&a, stage::PROBE_TIMEOUT)
                .await
                .map(|_| ())
        })
        .await?;
    tracing::info!(pid = h.pid().unwrap_or(0), %addr, "memcached ready");
    Ok(a)
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
