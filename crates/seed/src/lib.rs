//! # seed — builds the FlickrKillr data set
//!
//! The talk's demo site was "preloaded with 100k's users, 10-20 photos each".
//! This crate builds exactly that, deterministically, in a few seconds:
//! `cargo run --release -p seed -- --users 100000 --out data/flickrkillr.db`
//! (add `--no-index` for the talk's "don't forget to index" lesson).
//!
//! How it stays fast (about 1.9 M rows): one transaction, journal and fsync
//! off while building (the file is private until renamed), rows inserted in
//! rowid order through prepared statements, secondary indexes built once at
//! the end with SQLite's multi-threaded sorter, and password hashes computed
//! on the other core while the photos go in.
//!
//! How it stays safe: everything is written to `OUT.tmp-PID` and renamed over
//! `OUT` only when complete, so an interrupted run never leaves a half-built
//! database; an existing `OUT` is kept unless `--force`.
//!
//! **Invariant:** the same options give the same rows, byte for byte.

pub mod images;
pub mod rng;
pub mod text;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use model::schema;
use rng::Rng;

/// Where the site "opened": Flickr's launch, 2004-02-10.
const SITE_START: i64 = 1_076_371_200;
/// Users join during the first 180 days.
const JOIN_WINDOW: i64 = 180 * 86_400;
/// The talk's date, 2007-02-23: the newest photo is from then.
const SITE_NOW: i64 = 1_172_188_800;

/// What to build.
#[derive(Clone, Debug)]
pub struct Config {
    pub users: u64,
    pub out: PathBuf,
    /// Where the JPEG pool goes; `photos/` beside `out` by default.
    pub photos_dir: PathBuf,
    pub index: bool,
    pub force: bool,
    pub rng_seed: u64,
    pub min_photos: u64,
    pub max_photos: u64,
    /// Mean comments per photo.
    pub comments_per_photo: f64,
    /// Distinct images in the pool.
    pub pool: u64,
    pub hash_iterations: u32,
}

impl Config {
    /// The talk's data set, or a smaller one for tests.
    pub fn new(users: u64, out: &Path) -> Self {
        Config {
            users,
            out: out.to_path_buf(),
            photos_dir: schema::default_photos_dir(out),
            index: true,
            force: false,
            rng_seed: 2007,
            min_photos: 10,
            max_photos: 20,
            comments_per_photo: 0.2,
            pool: 64,
            hash_iterations: model::password::SEED_ITERATIONS,
        }
    }

    /// A one-line description stored in `meta.params`: two databases built
    /// with equal params hold equal rows (compare.sh reuses one on a match).
    pub fn params(&self) -> String {
        format!(
            "users={} photos={}..{} comments={} pool={} rng_seed={} index={} iterations={}",
            self.users,
            self.min_photos,
            self.max_photos,
            self.comments_per_photo,
            self.pool,
            self.rng_seed,
            u8::from(self.index),
            self.hash_iterations
        )
    }
}

/// What was built.
#[derive(Clone, Debug)]
pub struct Summary {
    pub users: u64,
    pub photos: u64,
    pub comments: u64,
    pub db_bytes: u64,
    pub photo_bytes: u64,
    pub elapsed: Duration,
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0} already exists; pass --force to replace it")]
    Exists(PathBuf),
    #[error("invalid option: {0}")]
    Invalid(String),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{what} {path}: {err}")]
    Io {
        what: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
}

/// Progress callbacks (the CLI draws a bar; tests pass `|_, _| {}`).
pub type Progress<'a> = &'a dyn Fn(&'static str, u64);

/// Builds the database and the photo pool. See the crate docs.
pub fn build(cfg: &Config, progress: Progress<'_>) -> Result<Summary, SeedError> {
    let started = Instant::now();
    if cfg.users == 0 || cfg.min_photos > cfg.max_photos || cfg.pool == 0 {
        return Err(SeedError::Invalid(
            "need --users >= 1, min photos <= max photos and a pool of >= 1 image".into(),
        ));
    }
    if cfg.out.exists() && !cfg.force {
        return Err(SeedError::Exists(cfg.out.clone()));
    }
    if let Some(dir) = cfg.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|err| SeedError::Io {
            what: "creating",
            path: dir.into(),
            err,
        })?;
    }
    let tmp = tmp_path(&cfg.out);
    let _ = std::fs::remove_file(&tmp);
    // Removes the temporary file on every early return, panics included.
    let mut guard = TmpGuard(Some(tmp.clone()));

    // The photo pool and the password hashes run on their own threads while
    // this one fills SQLite.
    let pool_dir = cfg.photos_dir.clone();
    let (seed, pool) = (cfg.rng_seed, cfg.pool);
    let images = std::thread::spawn(move || images::write_pool(&pool_dir, seed, pool));
    // Unbounded: the hasher must never wait for the photos to finish.
    let (hash_tx, hash_rx) = mpsc::channel::<Vec<String>>();
    let hasher = {
        let (users, iters, rng) = (
            cfg.users,
            cfg.hash_iterations,
            Rng::new(cfg.rng_seed).fork(2),
        );
        std::thread::spawn(move || hash_passwords(users, iters, rng, hash_tx))
    };

    let conn = Connection::open(&tmp)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA temp_store = MEMORY; PRAGMA cache_size = -1000000; PRAGMA threads = 4;
         PRAGMA foreign_keys = OFF;",
    )?;
    conn.execute_batch(schema::TABLES)?;
    conn.execute_batch("BEGIN")?;
    let rng = Rng::new(cfg.rng_seed);
    let photos = insert_photos_and_comments(&conn, cfg, rng.fork(1), progress)?;
    let (n_photos, n_comments) = photos;
    insert_users(&conn, cfg, rng.fork(3), hash_rx, progress)?;
    let meta = [
        ("schema_version", schema::SCHEMA_VERSION.to_string()),
        ("params", cfg.params()),
        ("users", cfg.users.to_string()),
        ("photos", n_photos.to_string()),
        ("comments", n_comments.to_string()),
        ("indexed", u8::from(cfg.index).to_string()),
        ("password_rule", "pw-<username>".to_string()),
        ("username_rule", "user<N>, N = 1..=users".to_string()),
    ];
    for (k, v) in meta {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)",
            params![k, v],
        )?;
    }
    if cfg.index {
        progress("indexing", 0);
        conn.execute_batch(schema::INDEXES)?;
    }
    conn.execute_batch("COMMIT")?;
    // Leave the file in WAL mode, which every stage serves it in.
    conn.execute_batch("PRAGMA locking_mode = NORMAL; PRAGMA journal_mode = WAL;")?;
    conn.close().map_err(|(_, e)| e)?;
    hasher.join().expect("hash thread panicked");
    let photo_bytes = images
        .join()
        .expect("image thread panicked")
        .map_err(|err| SeedError::Io {
            what: "writing photos to",
            path: cfg.photos_dir.clone(),
            err,
        })?;

    // A stale WAL beside the old file would be replayed into the new one.
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix(&cfg.out, ext));
    }
    std::fs::rename(&tmp, &cfg.out).map_err(|err| SeedError::Io {
        what: "renaming into",
        path: cfg.out.clone(),
        err,
    })?;
    guard.disarm();
    let db_bytes = std::fs::metadata(&cfg.out).map(|m| m.len()).unwrap_or(0);
    Ok(Summary {
        users: cfg.users,
        photos: n_photos,
        comments: n_comments,
        db_bytes,
        photo_bytes,
        elapsed: started.elapsed(),
    })
}

fn tmp_path(out: &Path) -> PathBuf {
    with_suffix(out, &format!(".tmp-{}", std::process::id()))
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Deletes the temporary file unless disarmed (after the rename).
struct TmpGuard(Option<PathBuf>);
impl TmpGuard {
    fn disarm(&mut self) {
        self.0 = None;
    }
}
impl Drop for TmpGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Hashes every user's password in order, in chunks, on this thread.
fn hash_passwords(users: u64, iterations: u32, mut rng: Rng, tx: mpsc::Sender<Vec<String>>) {
    let mut name = String::new();
    let mut n = 1;
    while n <= users {
        let end = (n + 1024).min(users + 1);
        let chunk = (n..end)
            .map(|i| {
                text::username(i, &mut name);
                let mut salt = [0u8; 16];
                salt[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
                salt[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
                model::password::hash_with_salt(
                    &model::password::seeded_password(&name),
                    &salt,
                    iterations,
                )
            })
            .collect();
        if tx.send(chunk).is_err() {
            return; // the builder gave up
        }
        n = end;
    }
}

/// Photos in upload order (rowid = time order, owners shuffled so the home
/// page shows many users), each followed by its comments.
fn insert_photos_and_comments(
    conn: &Connection,
    cfg: &Config,
    mut rng: Rng,
    progress: Progress<'_>,
) -> Result<(u64, u64), SeedError> {
    // Every user gets a uniform 10..=20 photos; the owner list is shuffled.
    let mut owners: Vec<u32> = Vec::with_capacity((cfg.users * cfg.max_photos) as usize);
    for u in 1..=cfg.users {
        let k = rng.range(cfg.min_photos, cfg.max_photos);
        owners.extend(std::iter::repeat_n(u as u32, k as usize));
    }
    for i in (1..owners.len()).rev() {
        owners.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let n = owners.len() as u64;
    let first = SITE_START + JOIN_WINDOW;
    let step = (SITE_NOW - first) as f64 / n.max(1) as f64;

    let mut photo = conn.prepare("INSERT INTO photos VALUES (?1, ?2, ?3, ?4, ?5)")?;
    let mut comment = conn.prepare("INSERT INTO comments VALUES (?1, ?2, ?3, ?4, ?5)")?;
    let files: Vec<String> = (0..cfg.pool).map(images::pool_file).collect();
    let (mut title, mut body) = (String::new(), String::new());
    let mut comment_id = 0u64;
    let mut last_comment_at = 0i64;
    for (i, &owner) in owners.iter().enumerate() {
        let id = i as u64 + 1;
        let taken = first + (i as f64 * step) as i64;
        text::title(&mut rng, id, &mut title);
        let file = &files[rng.below(cfg.pool) as usize];
        photo.execute(params![id, owner, title, taken, file])?;
        // A Poisson-ish count with the configured mean, most photos none.
        let mut left = cfg.comments_per_photo;
        while left > 0.0 && rng.chance(left.min(1.0)) {
            left -= 1.0;
            comment_id += 1;
            let at = (taken + 60 + rng.below(3 * 86_400) as i64).max(last_comment_at);
            last_comment_at = at;
            let author = rng.range(1, cfg.users);
            text::comment(&mut rng, &mut body);
            comment.execute(params![comment_id, id, author, body, at])?;
        }
        if id.is_multiple_of(16_384) {
            progress("photos", 16_384);
        }
    }
    Ok((n, comment_id))
}

fn insert_users(
    conn: &Connection,
    cfg: &Config,
    mut rng: Rng,
    hashes: mpsc::Receiver<Vec<String>>,
    progress: Progress<'_>,
) -> Result<(), SeedError> {
    let mut stmt = conn.prepare("INSERT INTO users VALUES (?1, ?2, ?3, ?4, ?5)")?;
    let (mut name, mut display) = (String::new(), String::new());
    let mut id = 1u64;
    for chunk in hashes {
        for hash in chunk {
            text::username(id, &mut name);
            text::display_name(&mut rng, &mut display);
            let joined = SITE_START + rng.below(JOIN_WINDOW as u64) as i64;
            stmt.execute(params![id, name, hash, display, joined])?;
            id += 1;
        }
        progress("users", 1024);
    }
    if id != cfg.users + 1 {
        return Err(SeedError::Invalid("password hashing stopped early".into()));
    }
    Ok(())
}
