"""The app's side of memcached (python-4), as
``crates/stage-4/src/memcached/``: a client shared by every worker
thread, and the three stores built on it —
:class:`Pages` (the page cache), :class:`Photos` (the photo store) and
:class:`McSessions` (the session store).

**Client.** pymemcache, one ``PooledClient`` per server (a pool of
connections: a ``pymemcache.Client`` is not safe to share between
threads, and a worker holds a connection only for one exchange), each
exchange bounded by a 200 ms connect and 500 ms socket timeout; a
connection that failed mid-exchange is dropped by the pool. Keys are
placed on servers by :class:`~flickrkillr.ring.Ring`, nginx's own
consistent hash, not by pymemcache's ``HashClient``: the app must write
each key where nginx reads it.

**Keys** go through nginx's escaping
(:func:`~flickrkillr.cache.escape_memcached_key`) and are placed by the
unescaped key, as nginx does. A key that is longer
than 250 bytes or holds a byte nginx and memcached cannot both use is not
cached at all.

**Versions** live in the item flags: nginx ignores them, the app reads them
with ``gets`` (which returns the flags and the CAS token) and replaces a
page only with a newer version, by ``cas``.

**Degrading.** memcached down is a miss, never an error: pages come from
SQLite, photos from disk. A server that failed is skipped for
:data:`RETRY_AFTER` (one failed attempt per second, not one per request).
Sessions are lost meanwhile, and a login answers 503 until memcached is
back — the documented price, as in Rust.
"""

import json
import logging
import threading
import time

from pymemcache.client.base import PooledClient
from pymemcache.exceptions import (MemcacheClientError, MemcacheError,
                                   MemcacheServerError)

from . import queries
from .cache import DiskPhotos, PageCache, PhotoStore, escape_memcached_key
from .errors import Busy
from .ring import Ring
from .sessions import SessionStore, new_id

__all__ = ["Memcached", "Pages", "Photos", "McSessions", "photo_key",
           "parse_server"]

log = logging.getLogger("flickrkillr.memcached")

#: Longest a connection attempt may take (loopback or a LAN answer in well
#: under a millisecond; this only bounds a host that vanished).
CONNECT_TIMEOUT = 0.2
#: Longest one socket operation of an exchange may take.
IO_TIMEOUT = 0.5
#: After a transport failure a server is treated as a miss for this long.
RETRY_AFTER = 1.0
#: Rounds of read-compare-swap a publish tries before deleting the key.
PUBLISH_TRIES = 8
#: Longest key memcached accepts.
MAX_KEY = 250
_U32_MAX = 2**32 - 1
#: memcached reads an expiry above 30 days as an absolute Unix time, not a
#: number of seconds (its protocol.txt, "Expiration times").
MAX_RELATIVE_TTL = 30 * 24 * 3600


def expire(ttl: int) -> int:
    """An item lifetime of ``ttl`` seconds as memcached must be told it: as
    is up to 30 days, else as the Unix time it ends (a 60-day session sent
    as 5184000 would be read as a date in 1970, and expire at once). The
    Rust client (``memcache::exp::Ttl``) does the same."""
    ttl = max(ttl, 1)
    if ttl <= MAX_RELATIVE_TTL:
        return ttl
    return min(int(time.time()) + ttl, _U32_MAX)


def parse_server(s: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:11211`` for IPv6) as a socket address."""
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{s!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class _Raw:
    """pymemcache serde: values are bytes as they are, and reads return
    ``(bytes, flags)`` so the version in the flags is not lost."""

    def serialize(self, key, value):
        return value, 0

    def deserialize(self, key, value, flags):
        return value, flags


class Memcached:
    """A memcached cluster as the app sees it."""

    def __init__(self, servers: list[str], pool: int):
        """``servers`` written exactly as in nginx's ``upstream memcached``
        block; up to ``pool`` connections per server (at least 2).
        Connects lazily: a server that is down now is a miss."""
        if not servers:
            raise ValueError("no memcached server given")
        self.ring = Ring(servers)
        self.clients = [
            PooledClient(parse_server(s), serde=_Raw(),
                         connect_timeout=CONNECT_TIMEOUT, timeout=IO_TIMEOUT,
                         no_delay=True, max_pool_size=max(pool, 2),
                         default_noreply=False)
            for s in servers
        ]
        self._down_until = [0.0] * len(servers)
        self._last_log = [0] * len(servers)
        self._log_lock = threading.Lock()

    @staticmethod
    def wire_key(key: str) -> bytes | None:
        """The key as sent (nginx's escaping), if memcached and nginx can both
        use it."""
        wire = escape_memcached_key(key).encode()
        if len(wire) > MAX_KEY or any(b <= 0x20 or b == 0x7F for b in wire):
            return None
        return wire

    def _failed(self, server: int, op: str, e: Exception) -> None:
        """Notes a failed exchange: a transport failure takes the server out
        for RETRY_AFTER (logged at most once a second per server)."""
        transport = not isinstance(e, (MemcacheServerError,
                                       MemcacheClientError))
        if transport:
            self._down_until[server] = time.monotonic() + RETRY_AFTER
        sec = int(time.monotonic())
        with self._log_lock:
            if self._last_log[server] == sec:
                return
            self._last_log[server] = sec
        name = self.ring.servers[server]
        if transport:
            log.warning("memcached %s unreachable (%s: %s): serving without "
                        "it for %.0f s", name, op, e, RETRY_AFTER)
        else:
            log.warning("memcached %s refused %s: %s", name, op, e)

    def _route(self, wire: bytes, for_read: bool) -> int | None:
        server = self.ring.route_wire(wire)
        if for_read and time.monotonic() < self._down_until[server]:
            return None
        return server

    def get(self, key: str) -> bytes | None:
        """The item under ``key``, or ``None`` (a miss, an unusable key, or
        the server down)."""
        wire = self.wire_key(key)
        server = None if wire is None else self._route(wire, True)
        if server is None:
            return None
        try:
            hit = self.clients[server].get(wire)
        except (MemcacheError, OSError) as e:
            self._failed(server, "get", e)
            return None
        return None if hit is None else hit[0]

    def add(self, key: str, value: bytes, flags: int, ttl: int) -> bool:
        """Stores ``value`` only if nothing is there (memcached ``add``)."""
        wire = self.wire_key(key)
        server = None if wire is None else self._route(wire, True)
        if server is None:
            return False
        try:
            return bool(self.clients[server].add(
                wire, value, expire=expire(ttl), noreply=False, flags=flags))
        except (MemcacheError, OSError) as e:
            self._failed(server, "add", e)
            return False

    def set(self, key: str, value: bytes, ttl: int) -> bool:
        """Stores ``value`` unconditionally (memcached ``set``)."""
        wire = self.wire_key(key)
        if wire is None:
            return False
        server = self._route(wire, False)
        try:
            return bool(self.clients[server].set(
                wire, value, expire=expire(ttl), noreply=False))
        except (MemcacheError, OSError) as e:
            self._failed(server, "set", e)
            return False

    def delete(self, key: str) -> bool:
        """Removes ``key``. False only if the server could not be asked."""
        wire = self.wire_key(key)
        if wire is None:
            return True
        server = self._route(wire, False)
        try:
            self.clients[server].delete(wire, noreply=False)
            return True
        except (MemcacheError, OSError) as e:
            self._failed(server, "delete", e)
            return False

    def publish(self, key: str, value: bytes, version: int, ttl: int) -> None:
        """Stores ``value`` (version ``version`` in the item's flags) unless
        the key already holds that version or a newer one: ``gets``, then
        ``cas`` (or ``add`` when absent), again on a conflict.

        Writers call this after their commit and before answering, so no
        later read anywhere can see an older version. It tries the server
        even when it is being skipped for reads (a write must not be
        dropped on a guess). If the exchange fails, the key is deleted
        instead: a miss is never stale. (The Rust client reads only the
        flags and CAS token with the meta protocol; ``gets`` also returns
        the value, a few kilobytes more per write.)
        """
        wire = self.wire_key(key)
        if wire is None:
            return
        server = self._route(wire, False)
        client = self.clients[server]
        expire_at = expire(ttl)
        try:
            for _ in range(PUBLISH_TRIES):
                cur, cas = client.gets(wire)
                if cur is not None and cur[1] >= version:
                    return  # already this version or newer
                if cur is not None:
                    stored = client.cas(wire, value, cas, expire=expire_at,
                                        noreply=False, flags=version)
                else:
                    stored = client.add(wire, value, expire=expire_at,
                                        noreply=False, flags=version)
                if stored:
                    return
                # Someone else wrote or removed it meanwhile: look again.
        except (MemcacheError, OSError) as e:
            self._failed(server, "publish", e)
        if not self.delete(key):
            log.error("could not publish nor delete %s; it may be served "
                      "stale until it expires", key)


def _flags_of(version: int) -> int | None:
    """A version as item flags; ``None`` if it does not fit (the page is
    then not cached: an uncached page is never stale)."""
    return version if 0 <= version <= _U32_MAX else None


class Pages(PageCache):
    """Pages and page data in memcached (the page cache seam)."""

    enabled = True

    def __init__(self, mc: Memcached, ttl: int):
        self.mc = mc
        self.ttl = ttl  # seconds an item lives

    def get(self, key: str) -> bytes | None:
        return self.mc.get(key)

    def add(self, key: str, value: bytes, version: int) -> None:
        flags = _flags_of(version)
        if flags is not None:
            self.mc.add(key, value, flags, self.ttl)

    def publish(self, key: str, value: bytes, version: int) -> None:
        flags = _flags_of(version)
        if flags is None:
            self.mc.delete(key)
        else:
            self.mc.publish(key, value, flags, self.ttl)


def photo_key(file: str) -> str:
    """The memcached key of a photo file: the one nginx looks up for
    ``/static/photos/{file}`` (``$uri?$args``, no query)."""
    return f"/static/photos/{file}?"


class Photos(PhotoStore):
    """Photo bytes from memcached, read from disk only on a miss (and then
    left in memcached, where nginx finds them next time)."""

    def __init__(self, mc: Memcached, disk: DiskPhotos, ttl: int):
        self.mc = mc
        self.disk = disk
        self.ttl = ttl

    def read(self, file: str) -> bytes | None:
        key = photo_key(file)
        data = self.mc.get(key)
        if data is not None:
            return data
        data = self.disk.read(file)
        if data is not None:
            self.mc.add(key, data, 0, self.ttl)
        return data


def _session_key(sid: str) -> str:
    return f"session:{sid}"


class McSessions(SessionStore):
    """Sessions in memcached: any instance serves any visitor, and losing
    an instance logs nobody out. Losing memcached does (documented).

    Stored as JSON ``{"user": {...}, "expires_at": N}``, the Rust ``Stored``
    struct, so Rust and Python instances can share one memcached.
    """

    def __init__(self, mc: Memcached):
        self.mc = mc

    def load(self, sid: str, now: int) -> queries.SessionUser | None:
        raw = self.mc.get(_session_key(sid))
        if raw is None:
            return None
        try:
            stored = json.loads(raw)
            user = queries.session_user_from_json(stored["user"])
            live = stored["expires_at"] > now
        except (ValueError, KeyError, TypeError):
            live = False
        if not live:
            self.mc.delete(_session_key(sid))
            return None
        return user

    def create(self, user: queries.SessionUser, now: int, ttl: int) -> str:
        sid = new_id("")
        raw = json.dumps({"user": queries.to_json(user),
                          "expires_at": now + ttl},
                         ensure_ascii=False, separators=(",", ":")).encode()
        if not self.mc.set(_session_key(sid), raw, ttl):
            raise Busy("the session store (memcached) is unavailable")
        return sid

    def delete(self, sid: str) -> None:
        if not self.mc.delete(_session_key(sid)):
            # The session expires on its own; the cookie is cleared anyway.
            log.warning("could not delete a session in memcached")
