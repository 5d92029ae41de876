"""How every process opens the database (``crates/model/src/schema.rs``).

The schema itself is the seeding tool's (the Rust ``seed`` crate,
``target/release/seed``): this peer only opens seeded files and checks that they are
what it expects. The secondary indexes (``photos_by_user``,
``comments_by_photo``) are created by the seeding tool unless it is told
``--no-index``; the queries in :mod:`flickrkillr.queries` are the same SQL
as the Rust ones, so SQLite picks the same plans and the talk's "without an
index, the fourth iteration falls down to 28 requests/sec" hits this peer
exactly as it hits the Rust stages.
"""

import os
import sqlite3

__all__ = ["SCHEMA_VERSION", "DatabaseError", "open_db", "default_photos_dir"]

#: The schema version the seeding tool records in ``meta``.
SCHEMA_VERSION = 1

# The Rust SERVING_PRAGMAS, line for line:
# - busy_timeout: writers from several processes (CGI children, several
#   instances) queue for SQLite's write lock instead of failing at once;
# - synchronous=NORMAL in WAL mode survives a crash of the process (a
#   killed server loses no acknowledged write), not a power cut;
# - foreign keys on; a 16 MB page cache per connection.
SERVING_PRAGMAS = """
PRAGMA busy_timeout = 5000;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
PRAGMA cache_size = -16000;
"""


class DatabaseError(Exception):
    """The database is missing or is not a seeded FlickrKillr database."""


def default_photos_dir(db: str) -> str:
    """Where the photo files live by default: ``photos/`` beside the
    database."""
    return os.path.join(os.path.dirname(os.path.abspath(db)), "photos")


def _file_uri(path: str) -> str:
    """An SQLite ``file:`` URI for ``path`` (RFC 3986 escaping of the three
    characters SQLite's URI parser gives a meaning: ``%``, ``?``, ``#``)."""
    quoted = (os.path.abspath(path).replace("%", "%25").replace("?", "%3f")
              .replace("#", "%23"))
    return f"file:{quoted}"


def open_db(path: str) -> sqlite3.Connection:
    """Opens a seeded database for serving, and checks it really is one.

    ``isolation_level=None`` puts the connection in autocommit mode, as
    rusqlite's connections are: each statement is its own transaction (the
    ``sqlite3`` module would otherwise open a transaction before every
    INSERT and hold SQLite's write lock until someone calls ``commit()``).

    ``check_same_thread=False`` does not mean the connection is shared: the
    app server gives each thread its own (see ``flickrkillr.server``); it
    only lets the main thread close them all at shutdown.

    The ``sqlite3`` module keeps a cache of prepared statements per
    connection (128 by default), the counterpart of rusqlite's
    ``prepare_cached``: a long-running server prepares each statement once
    per connection, a CGI program prepares them all again every request.
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise DatabaseError(
            f"database {p} does not exist; build it with the seeding tool "
            f"(`cargo run --release -p seed -- --out {p}`)")
    # mode=rw: never create an empty file where a database was expected.
    uri = _file_uri(p) + "?mode=rw"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.executescript(SERVING_PRAGMAS)
        _check_seeded(conn, p)
    except BaseException:
        conn.close()
        raise
    return conn


def _check_seeded(conn: sqlite3.Connection, p: str) -> None:
    """Confirms the schema version recorded by the seeding tool."""
    def refuse(why: str) -> DatabaseError:
        return DatabaseError(
            f"{p} is not a seeded FlickrKillr database ({why}); build one "
            f"with `cargo run --release -p seed -- --out {p}`")
    try:
        row = conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as e:
        raise refuse("no meta table" if "no such table" in str(e)
                     else str(e)) from None
    if row is None:
        raise refuse("no schema_version")
    try:
        version = int(row[0])
    except ValueError:
        raise refuse("unreadable schema_version") from None
    if version != SCHEMA_VERSION:
        raise refuse(f"schema version {version}, expected {SCHEMA_VERSION}")
