"""The site, written once: ``handle(services, request) -> response``
(``crates/app/src/lib.rs`` and ``ctx.rs``).

Every stage of the talk serves the same site; what changes is the process
model around it. So routing, validation, sessions, queries, rendering and
error pages live in this package, once, behind one seam::

    transport ──Request──▶ handle(Services, Request) ──Response──▶ transport
    (CGI env,               │ uses: a db connection, a SessionStore,
     CherryPy)              │       a PageCache, a PhotoStore

``fk_cgi.py`` (python-1) opens a fresh connection per request; the CherryPy
server (python-2) lends each thread its own; python-3 swaps in
:class:`~flickrkillr.sessions.MemorySessions`; python-4 swaps in memcached
for the session store, the page cache and the photo store. The handler
code never knows which.

There is no GIL emulation here, unlike the Rust ``app::gil``: this is
CPython, the lock is real. ``sqlite3``, ``hashlib``, file reads and socket
calls release it around their C work, exactly the behaviour the Rust stages
emulate.
"""

import sqlite3

from . import dates, http, render, router
from .cache import NO_CACHE, DiskPhotos, PageCache, PhotoStore
from .errors import AppError, Internal, MethodNotAllowed, from_sqlite
from .http import Request, Response
from .queries import SessionUser
from .sessions import COOKIE, DEFAULT_TTL_SECS, SessionStore, plausible_id
from .timing import Timing

__all__ = ["Config", "Services", "Ctx", "handle", "error_response"]


def _log():
    """The site's logger (messages go to stderr: the transports configure it).

    ``logging`` is imported on the first failure, not at start-up: it costs
    the CGI program milliseconds per request, and most requests log nothing.
    """
    import logging
    return logging.getLogger("flickrkillr")


class Config:
    """Settings the handling needs, the same for every stage."""

    __slots__ = ("photos_dir", "session_ttl", "secure_cookies")

    def __init__(self, photos_dir: str, session_ttl: int = DEFAULT_TTL_SECS,
                 secure_cookies: bool = False):
        self.photos_dir = str(photos_dir)   # GET /static/photos/{file}
        self.session_ttl = session_ttl      # seconds
        self.secure_cookies = secure_cookies  # add `Secure` to the cookie


class Services:
    """What a stage lends the handling for one request."""

    __slots__ = ("db", "sessions", "config", "cache", "photos")

    def __init__(self, db: sqlite3.Connection, sessions: SessionStore,
                 config: Config, cache: PageCache = NO_CACHE,
                 photos: PhotoStore | None = None):
        self.db = db
        self.sessions = sessions
        self.config = config
        self.cache = cache
        self.photos = photos if photos is not None else DiskPhotos(
            config.photos_dir)


class Ctx:
    """The per-request context: the services, the timing, and the visitor
    once known."""

    __slots__ = ("svc", "timing", "viewer", "session_id")

    def __init__(self, svc: Services):
        self.svc = svc
        self.timing = Timing()
        #: The logged-in visitor, once :meth:`load_viewer` ran.
        self.viewer: SessionUser | None = None
        self.session_id: str | None = None

    def phase(self, name: str):
        """``with ctx.phase("query"): ...`` times the block as ``name``."""
        return self.timing.time(name)

    def load_viewer(self, req: Request) -> None:
        """Reads the session cookie and loads the visitor. A missing,
        malformed, unknown or expired session is an anonymous visitor,
        never an error."""
        sid = http.cookie(req.cookie, COOKIE)
        if sid is None or not plausible_id(sid):
            return
        now = dates.now()
        with self.phase("session"):
            user = self.svc.sessions.load(sid, now)
        if user is not None:
            self.session_id = sid
        self.viewer = user


def error_page(viewer: SessionUser | None, err: AppError) -> Response:
    """The error page for ``err``."""
    r = Response.html(err.status,
                      render.error(viewer, err.status, err.reason, err.detail))
    if isinstance(err, MethodNotAllowed):
        r.headers.append(("allow", err.allow))
    return r


def error_response(err: AppError) -> Response:
    """An error page for failures a transport detects before the handling
    runs (body too large, or late): the same pages the handling renders."""
    return error_page(None, err)


def handle(svc: Services, req: Request) -> Response:
    """Handles one request. Never raises on input, never returns internal
    details: every failure becomes an error page with the right status."""
    ctx = Ctx(svc)
    try:
        try:
            resp = router.route(ctx, req)
        except sqlite3.Error as e:
            raise from_sqlite(e) from e
        except AppError:
            raise
        except Exception as e:  # a bug: log it, show a 500 page
            _log().exception("request failed: %s %s", req.method, req.path)
            raise Internal(repr(e)) from e
    except AppError as err:
        if err.status >= 500:
            _log().error("request failed: %s %s: %s", req.method,
                         req.path, getattr(err, "why", err))
        with ctx.phase("render"):
            resp = error_page(ctx.viewer, err)
    if svc.cache.enabled and resp.header("x-cache") is None:
        resp.headers.append(("x-cache", "MISS"))
    resp.timing.prepend(ctx.timing)
    return resp
