"""Session stores: where "who is this visitor" lives between requests
(``crates/app/src/sessions.rs``).

The talk moves sessions three times, and so does this peer:

- :class:`SqliteSessions` (python-1, python-2): a row in the ``sessions``
  table, read on every request and its ``last_seen`` written back, as
  CherryPy's database sessions did. "Sessions in the database" is one of
  the talk's listed problems, and it is kept on purpose: every logged-in
  page view is a write to SQLite.
- :class:`MemorySessions` (python-3): a dict in the process, the talk's
  "prefer an in-memory session store". nginx routes a visitor back to the
  instance that holds their session, because the id starts with the
  instance's tag (``i0-…``; nginx maps ``~^i0-`` to instance i0).
- memcached (python-4, :mod:`flickrkillr.memcached`): any instance serves
  any visitor.

Session ids are 128 random bits from the OS (``os.urandom``, which is what
``secrets.token_hex`` calls; ``secrets`` itself would import ``random`` and
``base64`` into every CGI request for nothing), hex-encoded,
optionally prefixed by an instance tag. A new id is issued at every login,
so a planted id is never promoted to a logged-in session (no fixation).

CherryPy has a session tool of its own (``tools.sessions``, with file,
memory and memcached back-ends). It is not used: its cookie, ids and
locking differ from the Rust stages', and the stores must be the same
everywhere so that the lessons compare.
"""

import os
import sqlite3
import threading

from . import queries
from .queries import SessionUser

__all__ = ["COOKIE", "DEFAULT_TTL_SECS", "SessionStore", "new_id",
           "plausible_id", "SqliteSessions", "MemorySessions"]

#: Name of the session cookie.
COOKIE = "sid"

#: How long a session lives without a new login (a day).
DEFAULT_TTL_SECS = 24 * 3600

_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz-")


class SessionStore:
    """Where sessions live: the interface. Implementations synchronise
    inside."""

    def load(self, sid: str, now: int) -> SessionUser | None:
        """The visitor behind session ``sid`` if it is live; marks it as
        seen."""
        raise NotImplementedError

    def create(self, user: SessionUser, now: int, ttl: int) -> str:
        """Stores a new session for ``user`` and returns its id."""
        raise NotImplementedError

    def delete(self, sid: str) -> None:
        """Ends session ``sid`` (logout). An unknown id is not an error."""
        raise NotImplementedError


def new_id(prefix: str = "") -> str:
    """A fresh session id: ``prefix`` + 32 hex digits (128 bits)."""
    return prefix + os.urandom(16).hex()


def plausible_id(s: str) -> bool:
    """Whether a cookie value could be one of our ids (anything else is
    ignored without touching a store)."""
    return 32 <= len(s) <= 64 and set(s) <= _ID_CHARS


class SqliteSessions(SessionStore):
    """Sessions in the ``sessions`` table, through the request's own
    connection."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def load(self, sid: str, now: int) -> SessionUser | None:
        user = queries.session_get(self.conn, sid, now)
        if user is not None:
            # The write-back CherryPy did on every request: the lesson's cost.
            queries.session_touch(self.conn, sid, now)
        return user

    def create(self, user: SessionUser, now: int, ttl: int) -> str:
        sid = new_id()
        queries.session_put(self.conn, sid, user.user_id, now, now + ttl)
        return sid

    def delete(self, sid: str) -> None:
        queries.session_delete(self.conn, sid)


class MemorySessions(SessionStore):
    """Sessions in this process's memory (python-3).

    Lost when the process exits: the trade-off stage 3 states and stage 4
    removes. One lock around a dict: the GIL already serialises the
    dictionary operations, but "look up, check expiry, update last_seen"
    must not interleave with a logout.
    """

    def __init__(self, prefix: str):
        """``prefix`` starts every id (``i0-``) so nginx can route the
        visitor back to this process."""
        self.prefix = prefix
        self._lock = threading.Lock()
        # id -> [user, expires_at, last_seen]
        self._map: dict[str, list] = {}

    def __len__(self) -> int:
        return len(self._map)

    def load(self, sid: str, now: int) -> SessionUser | None:
        with self._lock:
            s = self._map.get(sid)
            if s is None:
                return None
            if s[1] > now:
                s[2] = now
                return s[0]
            del self._map[sid]
            return None

    def create(self, user: SessionUser, now: int, ttl: int) -> str:
        sid = new_id(self.prefix)
        with self._lock:
            # Sweep expired sessions now and then, so memory stays bounded
            # by the sessions of the last TTL.
            if len(self._map) % 1024 == 1023:
                self._map = {k: v for k, v in self._map.items() if v[1] > now}
            self._map[sid] = [user, now + ttl, now]
        return sid

    def delete(self, sid: str) -> None:
        with self._lock:
            self._map.pop(sid, None)
