//! # app — FlickrKillr's request handling, written once
//!
//! Every stage of the talk serves the same site; what changes is the process
//! model around it. So routing, input validation, sessions, calling the
//! queries, rendering and error pages live here, once, behind a seam:
//!
//! ```text
//!   transport (CGI env / hyper)  ──Request──▶  app::handle(&Services, &Request)  ──Response──▶
//!                                              │ uses: db connection, SessionStore,
//!                                              │       PageCache, PhotoStore, Gil
//! ```
//!
//! A stage composes [`Services`]: stage-1 opens a fresh connection per
//! request; stage-2 lends one per thread; stage-3 swaps in
//! [`sessions::MemorySessions`]; stage-4 swaps in memcached for the session
//! store, the [`cache::PageCache`] and the [`cache::PhotoStore`]. The handler
//! code never knows which.
//!
//! **Invariant:** nothing in this crate opens a socket, spawns a process or
//! knows which stage it runs in. **Invariant:** every piece of user text in a
//! response went through an askama template (escaped) or is a fixed string.
//!
//! Routes (one `match` in [`router`]):
//! `GET /`, `GET /user/{username}?page=N`, `GET /photo/{id}`,
//! `GET /static/photos/{file}`, `POST /login`, `POST /logout`,
//! `POST /photo/{id}/comments`, `GET /healthz`.

pub mod addr;
pub mod cache;
pub mod error;
pub mod freshness;
pub mod gil;
pub mod http;
pub mod sessions;
pub mod timing;

#[doc(hidden)]
pub mod fuzzing;

mod ctx;
mod handlers;
mod pages;
mod router;

use std::path::PathBuf;

use rusqlite::Connection;

pub use addr::PageAddr;
pub use cache::{DiskPhotos, NoCache, PageCache, PhotoStore};
pub use error::{AppError, AppResult};
pub use freshness::{ADD_MAX_AGE, Freshness};
pub use gil::{CPYTHON_FACTOR, Gil};
pub use handlers::static_photo::PHOTO_MAX_AGE_SECS;
pub use http::{MAX_BODY_BYTES, Request, Response};
pub use sessions::{MemorySessions, SessionStore, SqliteSessions};
pub use timing::Timing;

/// Settings the handling needs, the same for every stage.
#[derive(Clone, Debug)]
pub struct Config {
    /// Directory of the photo pool (`GET /static/photos/{file}`).
    pub photos_dir: PathBuf,
    /// Session lifetime in seconds.
    pub session_ttl: i64,
    /// Add `Secure` to the session cookie (for deployments behind TLS).
    pub secure_cookies: bool,
}

impl Config {
    pub fn new(photos_dir: PathBuf) -> Self {
        Config {
            photos_dir,
            session_ttl: sessions::DEFAULT_TTL_SECS,
            secure_cookies: false,
        }
    }
}

/// What a stage lends the handling for one request.
pub struct Services<'a> {
    pub db: &'a Connection,
    pub sessions: &'a dyn SessionStore,
    pub cache: &'a dyn PageCache,
    pub photos: &'a dyn PhotoStore,
    pub gil: &'a Gil,
    pub config: &'a Config,
}

/// Handles one request. Never panics on input, never returns internal
/// details: every failure becomes an error page with the right status.
pub fn handle(svc: &Services<'_>, req: &Request<'_>) -> Response {
    let mut ctx = ctx::Ctx::new(svc);
    let result = router::route(&mut ctx, req);
    ctx.finish(result)
}

/// An error page for failures a transport detects before the handling runs
/// (body too large, bad request line): the same pages the handling renders.
pub fn error_response(err: &AppError) -> Response {
    ctx::error_page(None, err)
}
