//! # seed — the FlickrKillr data set, in seconds
//!
//! `cargo run --release -p seed -- --users 100000 --out data/flickrkillr.db`
//! builds the talk's data set: 100k users (`user1`…, password `pw-user1`…),
//! 10–20 photos each, some comments, and a pool of JPEGs in `data/photos/`.
//! `--no-index` builds the same rows without the secondary indexes, for the
//! talk's "without an index, the fourth iteration falls down to 28 requests/sec".

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Build a FlickrKillr database: users, photos, comments and a photo pool.
///
/// Writes to OUT.tmp-PID and renames it to OUT when complete, so an
/// interrupted run never leaves a half-built database behind.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Args {
    /// How many users (the talk: "100k's of users").
    #[arg(long, env = "FK_SEED_USERS", default_value_t = 100_000)]
    users: u64,
    /// The database file to create.
    #[arg(long, env = "FK_DB", default_value = model::schema::DEFAULT_DB)]
    out: PathBuf,
    /// Where to write the photo pool (default: `photos/` beside OUT). Databases
    /// seeded with the same --rng-seed and --pool can share it.
    #[arg(long, env = "FK_PHOTOS")]
    photos_dir: Option<PathBuf>,
    /// Leave out the secondary indexes (photos by user, comments by photo):
    /// the same rows, and the talk's "don't forget to index" collapse.
    #[arg(long)]
    no_index: bool,
    /// Replace OUT if it exists.
    #[arg(long)]
    force: bool,
    /// Seed of the generator: the same seed gives the same data.
    #[arg(long, env = "FK_RNG_SEED", default_value_t = 2007)]
    rng_seed: u64,
    /// Fewest photos per user.
    #[arg(long, default_value_t = 10)]
    min_photos: u64,
    /// Most photos per user.
    #[arg(long, default_value_t = 20)]
    max_photos: u64,
    /// Mean comments per photo.
    #[arg(long, default_value_t = 0.2)]
    comments_per_photo: f64,
    /// Distinct JPEG images photos point at (each 15-40 KB).
    #[arg(long, default_value_t = 64)]
    pool: u64,
    /// PBKDF2 rounds per password hash. The default keeps 100k users inside a
    /// few seconds; a production site would use 600000 (see model::password).
    #[arg(long, default_value_t = model::password::SEED_ITERATIONS)]
    hash_iterations: u32,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut cfg = seed::Config::new(args.users, &args.out);
    if let Some(dir) = args.photos_dir {
        cfg.photos_dir = dir;
    }
    cfg.index = !args.no_index;
    cfg.force = args.force;
    cfg.rng_seed = args.rng_seed;
    cfg.min_photos = args.min_photos;
    cfg.max_photos = args.max_photos;
    cfg.comments_per_photo = args.comments_per_photo;
    cfg.pool = args.pool;
    cfg.hash_iterations = args.hash_iterations;

    // About 15 photos per user, 1 user row each: the bar counts all rows.
    let expected = args.users * (args.min_photos + args.max_photos) / 2 + args.users;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(expected)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg:9} [{bar:40}] {human_pos}/{human_len} rows ({elapsed})",
        )
        .context("progress template")?
        .progress_chars("=> "),
    );
    let progress = |what: &'static str, n: u64| {
        bar.set_message(what);
        bar.inc(n);
    };
    let s =
        seed::build(&cfg, &progress).with_context(|| format!("seeding {}", args.out.display()))?;
    bar.finish_and_clear();
    println!(
        "seeded {}: {} users, {} photos, {} comments, index {}; db {:.1} MiB, photos {} files {:.1} MiB in {}; {:.2} s",
        args.out.display(),
        s.users,
        s.photos,
        s.comments,
        if cfg.index { "yes" } else { "NO" },
        s.db_bytes as f64 / 1048576.0,
        cfg.pool,
        s.photo_bytes as f64 / 1048576.0,
        cfg.photos_dir.display(),
        s.elapsed.as_secs_f64()
    );
    Ok(())
}
