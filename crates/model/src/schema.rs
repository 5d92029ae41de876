//! The SQLite schema, and how every process opens the database.
//!
//! Times are Unix seconds. Ids are SQLite rowids, assigned in time order, so
//! "newest first" is "highest id first" and the home page needs no index of
//! its own: it walks the `photos` table backwards by rowid.
//!
//! The secondary indexes are kept apart in [`INDEXES`] so the seeding tool can
//! leave them out (`seed --no-index`) and reproduce the talk's closing remark:
//! "without an index, the fourth iteration falls down to 28 requests/sec".

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::{ModelError, Result};

/// A database handle. Every stage holds these; none shares one across threads.
pub type Db = Connection;

/// Bumped when the schema changes, so a stale database is refused with a hint.
pub const SCHEMA_VERSION: i64 = 1;

/// Tables. `username` is `UNIQUE`, which gives it an index even in a
/// `--no-index` database: uniqueness is integrity, not tuning.
pub const TABLES: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    joined_at     INTEGER NOT NULL
);
CREATE TABLE photos (
    id       INTEGER PRIMARY KEY,
    user_id  INTEGER NOT NULL REFERENCES users(id),
    title    TEXT NOT NULL,
    taken_at INTEGER NOT NULL,
    file     TEXT NOT NULL
);
CREATE TABLE comments (
    id         INTEGER PRIMARY KEY,
    photo_id   INTEGER NOT NULL REFERENCES photos(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// The secondary indexes the pages need. An index on `user_id` alone is
/// enough for the user page: SQLite appends the rowid to every index entry,
/// so one user's photos come out already ordered by id (= upload time).
pub const INDEXES: &str = r#"
CREATE INDEX photos_by_user ON photos(user_id);
CREATE INDEX comments_by_photo ON comments(photo_id);
"#;

/// Settings for a serving connection.
///
/// - WAL lets readers run while one writer writes (sessions and comments are
///   written by every stage); the seeding tool already left the file in WAL.
/// - `synchronous=NORMAL` in WAL mode survives a crash of the process (a
///   SIGKILLed stage loses no acknowledged write), not a power cut.
/// - A busy timeout makes writers from several processes (stage-1's CGI
///   children, stage-3's instances) queue instead of failing with SQLITE_BUSY.
/// - `mmap_size`: pages a connection's 16 MB cache does not hold are read
///   from a memory map of the file (the OS page cache, shared by every
///   connection and process) instead of a `pread` each. Loadgen's realistic
///   mix on the 100,000-user site: 41–53 → 36–38 µs of server CPU per
///   request (three alternating pairs). WAL and several writing processes
///   work as before: SQLite maps the database file, never the WAL.
const SERVING_PRAGMAS: &str = r#"
PRAGMA busy_timeout = 5000;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA cache_size = -16000;
PRAGMA mmap_size = 268435456;
"#;

/// Where the seeded database is by default, relative to the workspace root
/// (every stage's `--db`, the CGI program's `FK_DB`).
pub const DEFAULT_DB: &str = "data/flickrkillr.db";

/// Where the photo files live by default: `photos/` beside the database.
pub fn default_photos_dir(db: &Path) -> PathBuf {
    db.parent().unwrap_or(Path::new(".")).join("photos")
}

/// `dir`, if it is a directory: what a server checks at start-up, so a
/// missing photo pool is one clear error rather than a 500 per photo.
pub fn existing_photos_dir(dir: PathBuf) -> crate::Result<PathBuf> {
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(crate::ModelError::NoPhotos(dir))
    }
}

/// Opens a seeded database for serving (reads and the writes pages make:
/// sessions and comments), and checks it really is one.
pub fn open(path: &Path) -> Result<Db> {
    open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
}

fn open_with(path: &Path, flags: OpenFlags) -> Result<Db> {
    let shown = path.display().to_string();
    if !path.exists() {
        return Err(ModelError::Missing { path: shown });
    }
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.execute_batch(SERVING_PRAGMAS)?;
    // The query planner stability guarantee: a statement's plan does not
    // depend on the values bound to it. Without it SQLite 3.50 reads a bound
    // `LIMIT ?` while planning and marks the statement to be re-prepared
    // whenever that parameter is bound again — every execution of the home,
    // user and comments queries re-parsed its SQL (~65k instructions per user
    // page, 21% of the request), defeating `prepare_cached`. The plans stay
    // the ones `EXPLAIN QUERY PLAN` shows (tests/queries.rs); results are fixed
    // by each query's ORDER BY on a unique id.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    check_seeded(&conn).map_err(|why| ModelError::NotSeeded { path: shown, why })?;
    Ok(conn)
}

/// Confirms the schema version recorded by the seeding tool.
fn check_seeded(conn: &Connection) -> std::result::Result<(), String> {
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(_, Some(m)) if m.contains("no such table") => {
                "no meta table".to_string()
            }
            rusqlite::Error::QueryReturnedNoRows => "no schema_version".to_string(),
            other => other.to_string(),
        })
        .map(Some)?;
    match v.and_then(|s| s.parse::<i64>().ok()) {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(other) => Err(format!("schema version {other}, expected {SCHEMA_VERSION}")),
        None => Err("unreadable schema_version".to_string()),
    }
}

/// A value the seeding tool recorded in `meta` (e.g. `users`, `indexed`).
pub fn meta(conn: &Connection, key: &str) -> Result<Option<String>> {
    match conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)) {
        Ok(v) => Ok(Some(v)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `EXPLAIN QUERY PLAN` of a query, one line per plan step (the `detail` column).
pub fn explain(conn: &Connection, sql: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    // Parameters are left NULL: the plan does not depend on their values.
    let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
    let rows = stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
