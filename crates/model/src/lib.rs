//! # model — FlickrKillr's data, shared by every stage and tool
//!
//! The lesson this crate carries: the four stages of the talk differ in *how*
//! they serve the site (a process per request, one server, several behind
//! nginx, memcached in front), never in *what* they serve. So the schema, the
//! queries and the HTML rendering live here, once, and every stage, the seeding
//! tool, the load generator and the tests use exactly this code.
//!
//! - [`schema`]: the SQLite schema, with and without the secondary indexes
//!   (the talk's "don't forget to index" lesson), and how to open a database.
//! - [`queries`]: typed queries for every page, with cached prepared statements.
//! - [`password`]: salted PBKDF2 hashes and the rule that gives every seeded
//!   user a known password (the load generator logs in with it).
//! - [`render`]: compiled askama templates; every piece of user text is
//!   HTML-escaped by the template engine, not by hand.
//!
//! **Invariant:** nothing here knows about HTTP, sockets or processes.
//!
//! Try it: `cargo run --release -p seed -- --users 1000 --out /tmp/fk.db`, then
//! `sqlite3 /tmp/fk.db 'select * from photos limit 3'`.

pub mod password;
pub mod queries;
pub mod render;
pub mod schema;
pub mod time;

pub use queries::{
    Comment, Credentials, HOME_PHOTOS, PAGE_SIZE, PHOTO_COMMENTS, Photo, PhotoPage, SessionUser,
    User, UserPage,
};
pub use schema::{Db, open};

/// Everything that can go wrong in the data model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// SQLite said no (busy, I/O error, constraint...).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file opened but is not a FlickrKillr database.
    #[error(
        "{path} is not a seeded FlickrKillr database ({why}); build one with `cargo run --release -p seed -- --out {path}`"
    )]
    NotSeeded { path: String, why: String },
    /// The file does not exist.
    #[error(
        "database {path} does not exist; build it with `cargo run --release -p seed -- --out {path}`"
    )]
    Missing { path: String },
    /// The photo directory does not exist (see [`schema::existing_photos_dir`]).
    #[error(
        "photo directory {} does not exist; seed the database first (`cargo run --release -p seed`) or pass --photos",
        .0.display()
    )]
    NoPhotos(std::path::PathBuf),
    /// Rendering a template failed (it cannot for our templates, but askama says it may).
    #[error("template error: {0}")]
    Render(#[from] askama::Error),
}

/// Shorthand used across the crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
