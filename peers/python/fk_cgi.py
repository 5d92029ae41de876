"""FlickrKillr as a CGI program (python-1): the talk's first iteration.

One request per process, on purpose: a CGI server starts a fresh Python
interpreter for every request, this program imports the site, reads the
request from its environment and stdin (RFC 3875), opens a **fresh**
SQLite connection (and with it prepares every statement again), handles
the request, prints a CGI header block and the body, and exits. The talk:
"loading Python interpreter for each request; all resources initialized
for each request (inc. db connection)" — about 23 requests/s in 2007.

Run it from any CGI server, e.g.::

    /abs/path/peers/python/.venv/bin/python /abs/path/peers/python/fk_cgi.py

with ``FK_DB`` (the seeded database; an absolute path under a CGI server),
optionally ``FK_PHOTOS`` (default: ``photos/`` beside FK_DB) and
``FK_SESSION_TTL`` (seconds). It needs nothing else from its environment
(CGI servers such as the stage-1 host clear it) and only the standard
library (it must not pay for importing CherryPy).

``Server-Timing`` shows the price of starting over each time: ``init`` is
importing the site's modules and reading the configuration, ``db-open`` is
the connection and its checks; the interpreter's own start-up happens before
this file runs, and only the CGI server's clock can see it (the stage-1 host
reports it as ``process``).
"""

import time

# The clock starts when this file runs, before the site's modules are
# imported: importing them is part of the per-request start-up cost.
_STARTED = time.perf_counter()

import os  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402

from flickrkillr import app, cgienv, errors, schema, sessions  # noqa: E402
from flickrkillr.http import MAX_BODY_BYTES, Response  # noqa: E402
from flickrkillr.timing import Timing  # noqa: E402


def _config(environ) -> tuple[str, app.Config]:
    """The database path and the site's settings, from FK_* variables."""
    db = os.fsdecode(environ.get(b"FK_DB") or b"data/flickrkillr.db")
    photos = environ.get(b"FK_PHOTOS")
    config = app.Config(os.fsdecode(photos) if photos
                        else schema.default_photos_dir(db))
    ttl = environ.get(b"FK_SESSION_TTL")
    if ttl is not None:
        try:
            config.session_ttl = int(ttl)
        except ValueError:
            pass  # as the Rust program: a bad value keeps the default
    return db, config


def main() -> int:
    served_by = f"python-1 pid={os.getpid()}"
    environ = os.environb
    pre = Timing()
    head_only = False
    try:
        env = cgienv.CgiEnv(environ)
    except cgienv.NotCgi as e:
        print(f"fk_cgi.py: {e}", file=sys.stderr)
        return 2
    except cgienv.BadCgi:
        pre.add("init", time.perf_counter() - _STARTED)
        resp = app.error_response(errors.BadRequest("Malformed CGI request."))
    else:
        head_only = env.method == "HEAD"
        db, config = _config(environ)
        pre.add("init", time.perf_counter() - _STARTED)
        resp = _serve(env, db, config, pre)
    resp.timing.prepend(pre)
    try:
        sys.stdout.buffer.write(cgienv.write_response(resp, served_by,
                                                      head_only))
        sys.stdout.buffer.flush()
    except OSError:
        return 1  # the server went away; there is no one to tell
    return 0


def _serve(env: cgienv.CgiEnv, db: str, config: app.Config,
           pre: Timing) -> Response:
    """Reads the body, opens the database, handles the request."""
    # The body: refuse an oversized one without reading it.
    length = env.content_length or 0
    if length > MAX_BODY_BYTES:
        return app.error_response(errors.TooLarge())
    body = sys.stdin.buffer.read(length) if length else b""
    if len(body) < length:
        return app.error_response(errors.BadRequest(
            "The request body is shorter than its Content-Length."))
    # "... inc. db connection": a fresh connection, and with it every
    # prepared statement, for this one request.
    t = time.perf_counter()
    try:
        conn = schema.open_db(db)
    except (schema.DatabaseError, sqlite3.Error, OSError) as e:
        print(f"fk_cgi.py: {e}", file=sys.stderr)
        return app.error_response(errors.Internal(str(e)))
    finally:
        pre.add("db-open", time.perf_counter() - t)
    try:
        svc = app.Services(conn, sessions.SqliteSessions(conn), config)
        return app.handle(svc, env.request(body))
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
