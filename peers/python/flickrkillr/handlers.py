"""One function per endpoint (``crates/app/src/handlers/*.rs``).

Each checks its input in the same order as its Rust twin, so that a request
with several things wrong gets the same status in every stage (a comment
on ``/photo/abc`` from a cross-site form is a 400, not a 403).
"""

from __future__ import annotations


from . import dates, http, pages, password, queries, render
from .cache import page_key
from .errors import BadRequest, Forbidden, Internal, NotFound, Unauthorized
from .http import Request, Response
from .queries import MAX_PAGE, SessionUser
from .sessions import COOKIE

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from .app import Ctx

# Character sets instead of regular expressions: the input rules are simple,
# and importing ``re`` costs the CGI program milliseconds per request.
_DIGITS = frozenset("0123456789")
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789_")
_FILE_STEM = _WORD | {"-"}
_I64_MAX = 2**63 - 1


def _no_query(q: str) -> bool:
    return q == ""


# --- GET / ------------------------------------------------------------

def home(ctx: Ctx, req: Request) -> Response:
    """``GET /``: the 20 newest photos, site-wide."""
    ctx.load_viewer(req)
    key = page_key(req, _no_query)
    photos = pages.page_data(ctx, key, lambda _: 0, queries.home,
                             queries.home_from_json)
    if photos is None:
        raise Internal("home page data missing")
    with ctx.phase("render"):
        html = render.home(ctx.viewer, photos)
    return pages.respond(ctx, key, 0, html)


# --- GET /user/{username}?page=N --------------------------------------

def _plausible_username(s: str) -> bool:
    """Usernames are short ASCII words; anything else cannot exist, so it is
    a 404 without asking the database."""
    return 1 <= len(s) <= 64 and set(s) <= _WORD


def parse_page(query: str | None) -> int:
    """``page=N`` with 1 <= N <= MAX_PAGE, digits only."""
    p = http.field_value(http.form_pairs(query or ""), "page")
    if p is None:
        return 1
    if p and set(p) <= _DIGITS and 1 <= int(p) <= MAX_PAGE:
        return int(p)
    raise BadRequest("The page number must be a whole number from 1.")


def canonical_user_query(q: str) -> bool:
    """The canonical query of a user page: none, or exactly ``page=N``
    (N >= 2)."""
    if q == "":
        return True
    if not q.startswith("page="):
        return False
    n = q[5:]
    return not n.startswith("0") and set(n) <= _DIGITS and n != "1"


def user(ctx: Ctx, req: Request, name: str) -> Response:
    """``GET /user/{username}?page=N``: a user's photos, newest first, 20 a
    page."""
    with ctx.phase("parse"):
        page = parse_page(req.query)
    ctx.load_viewer(req)
    if not _plausible_username(name):
        raise NotFound("No user by that name.")
    key = page_key(req, canonical_user_query)
    data = pages.page_data(ctx, key, lambda _: 0,
                           lambda db: queries.user_page(db, name, page),
                           queries.user_page_from_json)
    if data is None:
        raise NotFound("That user has no photos on that page." if page > 1
                       else "No user by that name.")
    with ctx.phase("render"):
        html = render.user(ctx.viewer, data)
    return pages.respond(ctx, key, 0, html)


# --- GET /photo/{id} --------------------------------------------------

def parse_id(s: str) -> int:
    """A photo id: digits only, a positive i64."""
    if s and set(s) <= _DIGITS:
        n = int(s)
        if 0 < n <= _I64_MAX:
            return n
    raise BadRequest("A photo id is a positive whole number.")


def photo_key(photo_id: int) -> str:
    """The canonical address of a photo page (what a comment write updates)."""
    return f"/photo/{photo_id}?"


def photo(ctx: Ctx, req: Request, raw_id: str) -> Response:
    """``GET /photo/{id}``: a photo, its owner and its newest comments."""
    with ctx.phase("parse"):
        pid = parse_id(raw_id)
    ctx.load_viewer(req)
    key = page_key(req, _no_query)
    data = pages.page_data(ctx, key, lambda p: p.version,
                           lambda db: queries.photo_page(db, pid),
                           queries.photo_page_from_json)
    if data is None:
        raise NotFound("No photo with that id.")
    with ctx.phase("render"):
        html = render.photo(ctx.viewer, data)
    return pages.respond(ctx, key, data.version, html)


# --- POST /photo/{id}/comments ----------------------------------------

def comment(ctx: Ctx, req: Request, raw_id: str) -> Response:
    """``POST /photo/{id}/comments``: adds a comment (logged-in visitors
    only), then redirects to it ("redirect after post").

    With a cache (python-4) the write also publishes the fresh page and page
    data *before* answering, so no read after the redirect can see the page
    without the comment, through nginx or through any instance.
    """
    pid = parse_id(raw_id)
    same_origin(req)
    ctx.load_viewer(req)
    viewer = ctx.viewer
    if viewer is None:
        raise Unauthorized("Log in to comment.")
    with ctx.phase("parse"):
        form = http.form_body(req)
    text = http.rust_strip(http.field_value(form, "body") or "")
    if not text:
        raise BadRequest("A comment cannot be empty.")
    if len(text) > render.MAX_COMMENT_CHARS:  # code points, as Rust's chars()
        raise BadRequest("A comment can be at most 2000 characters.")
    now = dates.now()
    with ctx.phase("query"):
        comment_id = queries.add_comment(ctx.svc.db, pid, viewer.user_id,
                                         text, now)
    if comment_id is None:
        raise NotFound("No photo with that id.")
    if ctx.svc.cache.enabled:
        _publish_photo(ctx, pid)
    return Response.see_other(f"/photo/{pid}#c{comment_id}")


def _publish_photo(ctx: Ctx, pid: int) -> None:
    """Re-reads the photo page after the commit and publishes both the page
    data and the anonymous page, each versioned by the newest comment id."""
    with ctx.phase("query"):
        page = queries.photo_page(ctx.svc.db, pid)
    if page is None:
        return
    key = photo_key(pid)
    with ctx.phase("encode"):
        data = pages.encode(page)
    with ctx.phase("render"):
        html = render.photo(None, page).encode()
    with ctx.phase("cache-set"):
        ctx.svc.cache.publish(f"data:{key}", data, page.version)
        ctx.svc.cache.publish(key, html, page.version)


# --- GET /static/photos/{file} ----------------------------------------

def valid_photo_name(file: str) -> bool:
    """``[A-Za-z0-9_-]{1,64}.jpg``, nothing else: checked *after* decoding,
    so no spelling of ``..``, ``/`` or ``\\`` can name a file outside the
    photo directory."""
    stem = file[:-4]
    return (file.endswith(".jpg") and 1 <= len(stem) <= 64
            and set(stem) <= _FILE_STEM)


def static_photo(ctx: Ctx, file: str) -> Response:
    """``GET /static/photos/{file}``: the image bytes, read by the app on
    every request in stages 1–3 (the talk's "static files read from disk
    every time, and read from Python"); stage 4's photo store and nginx
    fix that."""
    if not valid_photo_name(file):
        raise BadRequest("That is not a photo file name.")
    try:
        with ctx.phase("static-read"):
            data = ctx.svc.photos.read(file)
    except OSError as e:
        raise Internal(f"reading photo {file}: {e}") from e
    if data is None:
        raise NotFound("No such photo file.")
    return Response(200, [("content-type", "image/jpeg"),
                          ("cache-control", "public, max-age=86400")], data)


# --- POST /login, POST /logout ----------------------------------------

_CROSS = "Cross-site form posts are not accepted."


def same_origin(req: Request) -> None:
    """Rejects form posts sent from another site (403).

    Why an Origin/Referer check rather than a token in every form: the
    session cookie is ``SameSite=Lax``, so browsers do not attach it to
    cross-site POSTs at all; this check is the second line for older
    browsers. A per-session token inside pages would make every page differ
    per visitor, which stage 4's nginx page cache must not store. Clients
    that send neither header (curl, load generators) are not browsers driven
    by another site, so they pass.
    """
    if req.origin == "null":
        raise Forbidden(_CROSS)
    if req.origin is not None:
        claimed = http.url_authority(req.origin)
    elif req.referer is not None:
        claimed = http.url_authority(req.referer)
    else:
        return
    # eq_ignore_ascii_case: ASCII letters only, as in Rust.
    if (claimed is None or req.host is None
            or claimed.encode().lower() != req.host.encode().lower()):
        raise Forbidden(_CROSS)


def _set_cookie(ctx: Ctx, sid: str, max_age: int) -> str:
    secure = "; Secure" if ctx.svc.config.secure_cookies else ""
    return (f"{COOKIE}={sid}; HttpOnly; SameSite=Lax; Path=/; "
            f"Max-Age={max_age}{secure}")


def login(ctx: Ctx, req: Request) -> Response:
    """``POST /login``.

    Answers the same 401 whether the user is unknown or the password is
    wrong, and checks a dummy hash for unknown users so both take the same
    time. Every login issues a new session id (no session fixation).
    """
    same_origin(req)
    with ctx.phase("parse"):
        form = http.form_body(req)
    username = http.field_value(form, "username")
    pw = http.field_value(form, "password")
    if username is None or pw is None:
        raise BadRequest("The login form needs a username and a password.")
    # Bytes, as Rust's str::len.
    if len(username.encode()) > 64 or len(pw.encode()) > 256:
        raise BadRequest("Username or password too long.")
    with ctx.phase("query"):
        creds = queries.credentials(ctx.svc.db, username)
    stored = creds.password_hash if creds is not None else password.DUMMY_HASH
    with ctx.phase("password"):
        ok = password.verify(pw, stored)
    if creds is None or not ok:
        raise Unauthorized("Wrong username or password.")
    # A session the visitor already had is ended: the new id replaces it.
    old = http.cookie(req.cookie, COOKIE)
    if old is not None:
        with ctx.phase("session"):
            ctx.svc.sessions.delete(old)
    user = SessionUser(creds.user_id, creds.username, creds.display_name)
    ttl = ctx.svc.config.session_ttl
    with ctx.phase("session"):
        sid = ctx.svc.sessions.create(user, dates.now(), ttl)
    r = Response.see_other("/")
    r.headers.append(("set-cookie", _set_cookie(ctx, sid, ttl)))
    return r


def logout(ctx: Ctx, req: Request) -> Response:
    """``POST /logout``: deletes the session in whatever store the stage
    uses."""
    same_origin(req)
    sid = http.cookie(req.cookie, COOKIE)
    if sid is not None:
        with ctx.phase("session"):
            ctx.svc.sessions.delete(sid)
    r = Response.see_other("/")
    r.headers.append(("set-cookie", _set_cookie(ctx, "", 0)))
    return r


# --- GET /healthz -----------------------------------------------------

def health() -> Response:
    """``GET /healthz``: the process is up and routing. Touches no database,
    so a supervisor's readiness probe measures the server, not SQLite."""
    return Response(200, [("content-type", "text/plain; charset=utf-8")],
                    b"ok\n")
