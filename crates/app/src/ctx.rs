//! The per-request context: the stage's services, the timing, the GIL guard
//! and the visitor once known.

use std::time::Instant;

use model::SessionUser;

use crate::cache::PageAddr;
use crate::error::{AppError, AppResult};
use crate::gil::GilGuard;
use crate::http::{HTML, Request, Response};
use crate::sessions::{self, COOKIE};
use crate::timing::Timing;
use crate::{Services, http};

pub(crate) struct Ctx<'s, 'a> {
    pub svc: &'s Services<'a>,
    /// When the request started: before anything it reads from the
    /// database (what a cache's [`crate::cache::Freshness`] needs).
    pub started: Instant,
    pub timing: Timing,
    gil: GilGuard<'s>,
    /// The logged-in visitor, once [`Ctx::load_viewer`] ran.
    pub viewer: Option<SessionUser>,
    /// Their session id.
    pub session_id: Option<String>,
    /// The data behind the page being served, if the session store fetched
    /// it with the session (see [`crate::SessionStore::load_with_page_data`]).
    pub prefetched: Option<Vec<u8>>,
}

impl<'s, 'a> Ctx<'s, 'a> {
    pub fn new(svc: &'s Services<'a>) -> Self {
        let started = Instant::now();
        let mut timing = Timing::new();
        let gil = svc.gil.acquire(&mut timing);
        Ctx {
            svc,
            started,
            timing,
            gil,
            viewer: None,
            session_id: None,
            prefetched: None,
        }
    }

    /// Runs `f` with the GIL released (a SQLite call, a file read, a
    /// memcached round trip) and records its time as `phase`.
    pub fn io<R>(&mut self, phase: &'static str, f: impl FnOnce(&Services<'a>) -> R) -> R {
        let svc = self.svc;
        let (r, d) = self.gil.allow_threads(&mut self.timing, || {
            let t = Instant::now();
            let r = f(svc);
            (r, t.elapsed())
        });
        self.timing.add(phase, d);
        r
    }

    /// Runs "Python work" `f` (GIL held) and records its time as `phase`.
    pub fn cpu<R>(&mut self, phase: &'static str, f: impl FnOnce() -> R) -> R {
        self.timing.time(phase, f)
    }

    /// Reads the session cookie and loads the visitor. A missing, malformed,
    /// unknown or expired session is an anonymous visitor, never an error.
    /// `page`: the page about to be served, whose data the session store
    /// may fetch in the same exchange (kept in [`Ctx::prefetched`]).
    pub fn load_viewer(&mut self, req: &Request<'_>, page: Option<&PageAddr>) -> AppResult<()> {
        let Some(id) = http::cookie(req.cookie, COOKIE).filter(|id| sessions::plausible_id(id))
        else {
            return Ok(());
        };
        let now = model::time::now();
        let (user, data) = self.io("session", |s| {
            s.sessions.load_with_page_data(id, now, page, s.cache)
        })?;
        if user.is_some() {
            self.session_id = Some(id.to_owned());
        }
        self.viewer = user;
        self.prefetched = data;
        Ok(())
    }

    /// Turns the handler's result into the response, with the timing attached.
    pub fn finish(mut self, result: AppResult<Response>) -> Response {
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => {
                if e.status() >= 500 {
                    tracing::error!(error = %e, "request failed");
                }
                let viewer = self.viewer.take();
                self.cpu("render", || error_page(viewer.as_ref(), &e))
            }
        };
        if self.svc.cache.enabled() && resp.header("x-cache").is_none() {
            resp.headers.push(("x-cache", "MISS".into()));
        }
        resp.timing.prepend(std::mem::take(&mut self.timing));
        resp
    }
}

/// The error page for `err`.
pub(crate) fn error_page(viewer: Option<&SessionUser>, err: &AppError) -> Response {
    let body = model::render::error(viewer, err.status(), err.reason(), &err.detail());
    let mut r = Response::html(err.status(), body);
    if let AppError::MethodNotAllowed(allow) = err {
        r.headers.push(("allow", (*allow).into()));
    }
    debug_assert_eq!(r.header("content-type"), Some(HTML));
    r
}
