//! Typed queries, one function per thing a page needs.
//!
//! Every statement goes through `prepare_cached`, so a long-running process
//! (stage-2 onwards) prepares each statement once per connection; stage-1's
//! CGI child opens a fresh connection per request and so prepares them all
//! again every time — the talk's "all resources initialised per request".
//!
//! The row types derive serde so stage-4 can keep them in memcached
//! ("the data behind the page") and render them per viewer.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::Result;

/// Photos per user page (`/user/{name}?page=N`).
pub const PAGE_SIZE: u32 = 20;
/// Photos on the home page: the newest, site-wide.
pub const HOME_PHOTOS: u32 = 20;
/// Newest comments shown under a photo.
pub const PHOTO_COMMENTS: u32 = 50;
/// Upper bound on `?page=N`, so a request cannot ask SQLite to skip billions of rows.
pub const MAX_PAGE: u32 = 100_000;

/// A member of the site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub joined_at: i64,
}

/// A photo with its owner's names, as every list and page shows it.
///
/// The owner's names are shared (`Arc<str>`): a user page's twenty photos
/// all point at one copy instead of forty (serialised as plain strings).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    pub id: i64,
    pub title: String,
    pub taken_at: i64,
    pub file: String,
    pub owner_username: Arc<str>,
    pub owner_display: Arc<str>,
}

/// A comment with its author's names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: i64,
    pub body: String,
    pub created_at: i64,
    pub author_username: String,
    pub author_display: String,
}

/// Everything the user page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPage {
    pub user: User,
    pub photos: Vec<Photo>,
    /// 1-based page number.
    pub page: u32,
    pub has_next: bool,
}

/// Everything the photo page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoPage {
    pub photo: Photo,
    /// Newest first, at most [`PHOTO_COMMENTS`].
    pub comments: Vec<Comment>,
    pub comment_count: i64,
    /// The highest comment id of this photo (0 if none): grows with every
    /// comment, so caches can tell an older rendering from a newer one.
    pub version: i64,
}

/// What a login checks.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
}

/// The visitor behind a session: what every page header shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
}

/// The user page query, exported so tests and `seed` can `EXPLAIN` it.
pub const USER_PHOTOS_SQL: &str = "SELECT id, title, taken_at, file FROM photos \
     WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3";

const HOME_SQL: &str = "SELECT p.id, p.title, p.taken_at, p.file, u.username, u.display_name \
     FROM photos p JOIN users u ON u.id = p.user_id ORDER BY p.id DESC LIMIT ?1";

const PHOTO_SQL: &str = "SELECT p.id, p.title, p.taken_at, p.file, u.username, u.display_name \
     FROM photos p JOIN users u ON u.id = p.user_id WHERE p.id = ?1";

const COMMENTS_SQL: &str = "SELECT c.id, c.body, c.created_at, u.username, u.display_name \
     FROM comments c JOIN users u ON u.id = c.user_id \
     WHERE c.photo_id = ?1 ORDER BY c.id DESC LIMIT ?2";

fn photo_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Photo> {
    Ok(Photo {
        id: r.get(0)?,
        title: r.get(1)?,
        taken_at: r.get(2)?,
        file: r.get(3)?,
        owner_username: r.get(4)?,
        owner_display: r.get(5)?,
    })
}

/// Runs a page's queries in one read transaction: SQLite takes and drops
/// its locks once (in WAL mode two `fcntl` calls and an `fstat` per
/// transaction) instead of once per statement — the user page ran two
/// transactions, the photo page three. The same statements and results; the
/// page now reads one snapshot. Inside a transaction already, `f` just runs.
/// (Not rusqlite's `unchecked_transaction`: it sends `BEGIN` through
/// `execute_batch`, parsed anew every time, on every page of the hot path;
/// these two statements are prepared once per connection.)
fn one_read<T>(conn: &Connection, f: impl FnOnce() -> Result<T>) -> Result<T> {
    if !conn.is_autocommit() {
        return f();
    }
    conn.prepare_cached("BEGIN")?.execute([])?;
    let result = f();
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.prepare_cached(end)?.execute([])?;
    result
}

/// The home page: the [`HOME_PHOTOS`] newest photos site-wide.
pub fn home(conn: &Connection) -> Result<Vec<Photo>> {
    let mut stmt = conn.prepare_cached(HOME_SQL)?;
    let rows = stmt.query_map([HOME_PHOTOS], photo_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A user by username.
pub fn user_by_name(conn: &Connection, username: &str) -> Result<Option<User>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, username, display_name, joined_at FROM users WHERE username = ?1",
    )?;
    Ok(stmt
        .query_row([username], |r| {
            Ok(User {
                id: r.get(0)?,
                username: r.get(1)?,
                display_name: r.get(2)?,
                joined_at: r.get(3)?,
            })
        })
        .optional()?)
}

/// The user page: `None` if the user does not exist or `page` lies past the
/// last page (page 1 always exists, even for a user with no photos).
pub fn user_page(conn: &Connection, username: &str, page: u32) -> Result<Option<UserPage>> {
    one_read(conn, || user_page_queries(conn, username, page))
}

fn user_page_queries(conn: &Connection, username: &str, page: u32) -> Result<Option<UserPage>> {
    let page = page.clamp(1, MAX_PAGE);
    let Some(user) = user_by_name(conn, username)? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(USER_PHOTOS_SQL)?;
    let offset = i64::from(page - 1) * i64::from(PAGE_SIZE);
    let owner: (Arc<str>, Arc<str>) = (
        user.username.as_str().into(),
        user.display_name.as_str().into(),
    );
    // One row more than a page tells whether there is a next page.
    let mut photos = Vec::with_capacity(PAGE_SIZE as usize + 1);
    for photo in stmt.query_map(params![user.id, PAGE_SIZE + 1, offset], |r| {
        Ok(Photo {
            id: r.get(0)?,
            title: r.get(1)?,
            taken_at: r.get(2)?,
            file: r.get(3)?,
            owner_username: owner.0.clone(),
            owner_display: owner.1.clone(),
        })
    })? {
        photos.push(photo?);
    }
    if photos.is_empty() && page > 1 {
        return Ok(None);
    }
    let has_next = photos.len() > PAGE_SIZE as usize;
    photos.truncate(PAGE_SIZE as usize);
    Ok(Some(UserPage {
        user,
        photos,
        page,
        has_next,
    }))
}

/// The photo page: the photo, its newest comments, their count and version.
pub fn photo_page(conn: &Connection, photo_id: i64) -> Result<Option<PhotoPage>> {
    one_read(conn, || photo_page_queries(conn, photo_id))
}

fn photo_page_queries(conn: &Connection, photo_id: i64) -> Result<Option<PhotoPage>> {
    let Some(photo) = conn
        .prepare_cached(PHOTO_SQL)?
        .query_row([photo_id], photo_row)
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(COMMENTS_SQL)?;
    let comments = stmt
        .query_map(params![photo_id, PHOTO_COMMENTS], |r| {
            Ok(Comment {
                id: r.get(0)?,
                body: r.get(1)?,
                created_at: r.get(2)?,
                author_username: r.get(3)?,
                author_display: r.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let (comment_count, version) = conn
        .prepare_cached("SELECT count(*), coalesce(max(id), 0) FROM comments WHERE photo_id = ?1")?
        .query_row([photo_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(Some(PhotoPage {
        photo,
        comments,
        comment_count,
        version,
    }))
}

/// What a login needs to check a password.
pub fn credentials(conn: &Connection, username: &str) -> Result<Option<Credentials>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, username, display_name, password_hash FROM users WHERE username = ?1",
    )?;
    Ok(stmt
        .query_row([username], |r| {
            Ok(Credentials {
                user_id: r.get(0)?,
                username: r.get(1)?,
                display_name: r.get(2)?,
                password_hash: r.get(3)?,
            })
        })
        .optional()?)
}

/// Adds a comment; `None` if the photo does not exist. Returns the comment id.
pub fn add_comment(
    conn: &Connection,
    photo_id: i64,
    user_id: i64,
    body: &str,
    now: i64,
) -> Result<Option<i64>> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO comments (photo_id, user_id, body, created_at) \
         SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM photos WHERE id = ?1)",
    )?;
    let n = stmt.execute(params![photo_id, user_id, body, now])?;
    Ok((n == 1).then(|| conn.last_insert_rowid()))
}

/// The newest comment id (0 when there is none): where a reader of
/// [`comments_since`] starts. A rowid lookup, fast with or without indexes.
pub fn newest_comment_id(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM comments")?
        .query_row([], |r| r.get(0))?)
}

/// `(id, photo_id)` of every comment newer than `after`, oldest first: a
/// range of the table's rowid, so it reads only the new rows, with or
/// without indexes. Comments are never deleted and SQLite has one writer,
/// so ids grow in commit order and nothing older can appear later.
pub fn comments_since(conn: &Connection, after: i64) -> Result<Vec<(i64, i64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT id, photo_id FROM comments WHERE id > ?1 ORDER BY id")?;
    let rows = stmt
        .query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Sessions in the database: what stage-1 and stage-2 do on purpose, as
/// CherryPy's database sessions did in the talk ("sessions in the database —
/// prefer an in-memory session store").
pub mod sessions {
    use super::*;

    /// The visitor behind a live (unexpired) session.
    pub fn get(conn: &Connection, id: &str, now: i64) -> Result<Option<SessionUser>> {
        let mut stmt = conn.prepare_cached(
            "SELECT s.user_id, u.username, u.display_name FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.id = ?1 AND s.expires_at > ?2",
        )?;
        Ok(stmt
            .query_row(params![id, now], |r| {
                Ok(SessionUser {
                    user_id: r.get(0)?,
                    username: r.get(1)?,
                    display_name: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Writes back the last-seen time: a write on every request of a logged-in visitor.
    pub fn touch(conn: &Connection, id: &str, now: i64) -> Result<()> {
        conn.prepare_cached("UPDATE sessions SET last_seen = ?2 WHERE id = ?1")?
            .execute(params![id, now])?;
        Ok(())
    }

    /// Stores a new session, and drops expired ones while at it.
    pub fn put(conn: &Connection, id: &str, user_id: i64, now: i64, expires_at: i64) -> Result<()> {
        conn.prepare_cached("DELETE FROM sessions WHERE expires_at <= ?1")?
            .execute([now])?;
        conn.prepare_cached(
            "INSERT INTO sessions (id, user_id, created_at, last_seen, expires_at) \
             VALUES (?1, ?2, ?3, ?3, ?4)",
        )?
        .execute(params![id, user_id, now, expires_at])?;
        Ok(())
    }

    /// Ends a session server-side.
    pub fn delete(conn: &Connection, id: &str) -> Result<()> {
        conn.prepare_cached("DELETE FROM sessions WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }
}
