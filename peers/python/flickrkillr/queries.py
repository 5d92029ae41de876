"""Typed queries, one function per thing a page needs
(``crates/model/src/queries.rs``).

The SQL strings are the Rust ones, character for character: the same
``ORDER BY``/``LIMIT``/``OFFSET``, the same joins, so SQLite makes the same
plans from the same indexes (and the same full scans without them).

The row types are named tuples. ``to_json`` and the ``*_from_json``
functions give them the JSON shape serde gives the Rust structs (same field
names, same order), because
stage 4 keeps "the data behind a page" in memcached, and a page's data
written by one instance must be readable by any other.
"""

import sqlite3
from collections import namedtuple

__all__ = [
    "PAGE_SIZE", "HOME_PHOTOS", "PHOTO_COMMENTS", "MAX_PAGE",
    "User", "Photo", "Comment", "UserPage", "PhotoPage", "Credentials",
    "SessionUser", "home", "user_by_name", "user_page", "photo_page",
    "credentials", "add_comment", "session_get", "session_touch",
    "session_put", "session_delete",
]

#: Photos per user page (``/user/{name}?page=N``).
PAGE_SIZE = 20
#: Photos on the home page: the newest, site-wide.
HOME_PHOTOS = 20
#: Newest comments shown under a photo.
PHOTO_COMMENTS = 50
#: Upper bound on ``?page=N``, so a request cannot ask SQLite to skip
#: billions of rows.
MAX_PAGE = 100_000

# The row types are named tuples rather than dataclasses: a row is read-only
# data, and ``dataclasses`` (with the ``inspect`` and ``re`` modules it
# loads) would add about 15 ms to every request of the CGI program, which
# imports everything afresh each time. ``Photo(*row)`` builds one straight
# from an SQLite row.


class User(namedtuple("User", "id username display_name joined_at")):
    """A member of the site."""
    __slots__ = ()


class Photo(namedtuple("Photo", "id title taken_at file owner_username "
                                "owner_display")):
    """A photo with its owner's names, as every list and page shows it."""
    __slots__ = ()


class Comment(namedtuple("Comment", "id body created_at author_username "
                                    "author_display")):
    """A comment with its author's names."""
    __slots__ = ()


class UserPage(namedtuple("UserPage", "user photos page has_next")):
    """Everything the user page shows: a User, a list of Photo, the 1-based
    page number, and whether there is a next page."""
    __slots__ = ()


class PhotoPage(namedtuple("PhotoPage", "photo comments comment_count "
                                        "version")):
    """Everything the photo page shows: the Photo, its newest comments
    (newest first, at most PHOTO_COMMENTS), their count, and the version:
    the highest comment id of this photo (0 if none), which grows with every
    comment, so caches can tell an older rendering from a newer one."""
    __slots__ = ()


class Credentials(namedtuple("Credentials", "user_id username display_name "
                                            "password_hash")):
    """What a login checks."""
    __slots__ = ()


class SessionUser(namedtuple("SessionUser", "user_id username display_name")):
    """The visitor behind a session: what every page header shows."""
    __slots__ = ()


# --- JSON in serde's shape (for stage 4's page data and sessions) ----------
# Field names and order are the Rust structs', so serde_json and the json
# module read each other's output.

def to_json(data: object) -> object:
    """A page's data as serde_json writes the Rust struct (to be given to
    ``json.dumps``)."""
    if isinstance(data, list):  # the home page: Vec<Photo>
        return [p._asdict() for p in data]
    if isinstance(data, UserPage):
        return {"user": data.user._asdict(),
                "photos": [p._asdict() for p in data.photos],
                "page": data.page, "has_next": data.has_next}
    if isinstance(data, PhotoPage):
        return {"photo": data.photo._asdict(),
                "comments": [c._asdict() for c in data.comments],
                "comment_count": data.comment_count,
                "version": data.version}
    if isinstance(data, SessionUser):
        return data._asdict()
    raise TypeError(f"no JSON shape for {type(data).__name__}")


def home_from_json(v: list) -> list[Photo]:
    return [Photo(**d) for d in v]


def user_page_from_json(v: dict) -> UserPage:
    return UserPage(User(**v["user"]), [Photo(**d) for d in v["photos"]],
                    v["page"], v["has_next"])


def photo_page_from_json(v: dict) -> PhotoPage:
    return PhotoPage(Photo(**v["photo"]),
                     [Comment(**c) for c in v["comments"]],
                     v["comment_count"], v["version"])


def session_user_from_json(v: dict) -> SessionUser:
    return SessionUser(**v)


# --- The queries ------------------------------------------------------------

#: The user page query (exported, as in Rust, so tests can EXPLAIN it).
USER_PHOTOS_SQL = ("SELECT id, title, taken_at, file FROM photos "
                   "WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3")

HOME_SQL = ("SELECT p.id, p.title, p.taken_at, p.file, u.username, "
            "u.display_name "
            "FROM photos p JOIN users u ON u.id = p.user_id "
            "ORDER BY p.id DESC LIMIT ?1")

PHOTO_SQL = ("SELECT p.id, p.title, p.taken_at, p.file, u.username, "
             "u.display_name "
             "FROM photos p JOIN users u ON u.id = p.user_id WHERE p.id = ?1")

COMMENTS_SQL = ("SELECT c.id, c.body, c.created_at, u.username, "
                "u.display_name "
                "FROM comments c JOIN users u ON u.id = c.user_id "
                "WHERE c.photo_id = ?1 ORDER BY c.id DESC LIMIT ?2")

COUNT_SQL = ("SELECT count(*), coalesce(max(id), 0) FROM comments "
             "WHERE photo_id = ?1")

USER_SQL = ("SELECT id, username, display_name, joined_at FROM users "
            "WHERE username = ?1")

CREDENTIALS_SQL = ("SELECT id, username, display_name, password_hash "
                   "FROM users WHERE username = ?1")

ADD_COMMENT_SQL = (
    "INSERT INTO comments (photo_id, user_id, body, created_at) "
    "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM photos WHERE id = ?1)")


def home(conn: sqlite3.Connection) -> list[Photo]:
    """The home page: the HOME_PHOTOS newest photos site-wide."""
    return [Photo(*r) for r in conn.execute(HOME_SQL, (HOME_PHOTOS,))]


def user_by_name(conn: sqlite3.Connection, username: str) -> User | None:
    """A user by username."""
    r = conn.execute(USER_SQL, (username,)).fetchone()
    return User(*r) if r else None


def user_page(conn: sqlite3.Connection, username: str,
              page: int) -> UserPage | None:
    """The user page.

    ``None`` if the user does not exist or ``page`` lies past the last page
    (page 1 always exists, even for a user with no photos).
    """
    page = min(max(page, 1), MAX_PAGE)
    user = user_by_name(conn, username)
    if user is None:
        return None
    offset = (page - 1) * PAGE_SIZE
    # One row more than a page tells whether there is a next page.
    rows = conn.execute(USER_PHOTOS_SQL,
                        (user.id, PAGE_SIZE + 1, offset)).fetchall()
    if not rows and page > 1:
        return None
    photos = [Photo(i, t, ts, f, user.username, user.display_name)
              for i, t, ts, f in rows[:PAGE_SIZE]]
    return UserPage(user, photos, page, len(rows) > PAGE_SIZE)


def photo_page(conn: sqlite3.Connection, photo_id: int) -> PhotoPage | None:
    """The photo page: the photo, its newest comments, their count and
    version."""
    r = conn.execute(PHOTO_SQL, (photo_id,)).fetchone()
    if r is None:
        return None
    comments = [Comment(*c) for c in
                conn.execute(COMMENTS_SQL, (photo_id, PHOTO_COMMENTS))]
    count, version = conn.execute(COUNT_SQL, (photo_id,)).fetchone()
    return PhotoPage(Photo(*r), comments, count, version)


def credentials(conn: sqlite3.Connection,
                username: str) -> Credentials | None:
    """What a login needs to check a password."""
    r = conn.execute(CREDENTIALS_SQL, (username,)).fetchone()
    return Credentials(*r) if r else None


def add_comment(conn: sqlite3.Connection, photo_id: int, user_id: int,
                body: str, now: int) -> int | None:
    """Adds a comment; ``None`` if the photo does not exist. Returns its id."""
    cur = conn.execute(ADD_COMMENT_SQL, (photo_id, user_id, body, now))
    return cur.lastrowid if cur.rowcount == 1 else None


# --- Sessions in the database ------------------------------------------------
# What stage 1 and stage 2 do on purpose, as CherryPy's database sessions did
# in the talk ("sessions in the database — prefer an in-memory session store").

def session_get(conn: sqlite3.Connection, sid: str,
                now: int) -> SessionUser | None:
    """The visitor behind a live (unexpired) session."""
    r = conn.execute(
        "SELECT s.user_id, u.username, u.display_name FROM sessions s "
        "JOIN users u ON u.id = s.user_id "
        "WHERE s.id = ?1 AND s.expires_at > ?2",
        (sid, now)).fetchone()
    return SessionUser(*r) if r else None


def session_touch(conn: sqlite3.Connection, sid: str, now: int) -> None:
    """Writes back the last-seen time: a write on every logged-in request."""
    conn.execute("UPDATE sessions SET last_seen = ?2 WHERE id = ?1",
                 (sid, now))


def session_put(conn: sqlite3.Connection, sid: str, user_id: int, now: int,
                expires_at: int) -> None:
    """Stores a new session, and drops expired ones while at it."""
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", (now,))
    conn.execute(
        "INSERT INTO sessions "
        "(id, user_id, created_at, last_seen, expires_at) "
        "VALUES (?1, ?2, ?3, ?3, ?4)", (sid, user_id, now, expires_at))


def session_delete(conn: sqlite3.Connection, sid: str) -> None:
    """Ends a session server-side."""
    conn.execute("DELETE FROM sessions WHERE id = ?1", (sid,))
