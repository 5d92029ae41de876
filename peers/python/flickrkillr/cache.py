"""The seams stage 4 plugs memcached into (``crates/app/src/cache.rs``),
their plain implementations for stages 1–3, and the cache keys
(the rule of ``crates/stage-4/src/keys.rs``: the Rust app names pages by
canonical address and stage-4 derives the keys; here the page cache does both).

Keys: a page is cached under the key nginx derives from the request,
``"$uri?$args"`` (:func:`page_key`), so nginx can answer the next request
for it without the app. The data behind a page, for logged-in visitors
whose header nginx cannot know, is cached under ``data:`` + the same key.

Versions: values carry a version (a photo page's is its highest comment
id), kept in the memcached item's flags. Readers that filled a miss use
``add``, which never overwrites; writers use ``publish``, which replaces
only an older version. A reader that read the database before a comment
was committed can therefore never overwrite the page the writer published.
"""

import os

from .http import Request

__all__ = ["PageCache", "PhotoStore", "NoCache", "NO_CACHE", "DiskPhotos",
           "page_key", "escape_memcached_key"]


class PageCache:
    """A shared cache of pages and page data: the interface.

    (A plain base class rather than a ``typing.Protocol``: importing
    ``typing`` costs the CGI program milliseconds per request.)
    """

    #: Whether there is a cache at all (skips serialising for nothing).
    enabled: bool

    def get(self, key: str) -> bytes | None:
        """The cached value; ``None`` on a miss or when the cache is down."""
        raise NotImplementedError

    def add(self, key: str, value: bytes, version: int) -> None:
        """Stores ``value`` if the key holds nothing (a reader filling a
        miss)."""
        raise NotImplementedError

    def publish(self, key: str, value: bytes, version: int) -> None:
        """Stores ``value`` unless the key already holds ``version`` or newer
        (a writer publishing what it just committed). Returns once stored."""
        raise NotImplementedError


class NoCache(PageCache):
    """No cache (stages 1–3)."""

    enabled = False

    def get(self, key: str) -> bytes | None:
        return None

    def add(self, key: str, value: bytes, version: int) -> None:
        pass

    def publish(self, key: str, value: bytes, version: int) -> None:
        pass


#: The one no-cache there needs to be.
NO_CACHE = NoCache()


class PhotoStore:
    """Where photo bytes come from: the interface."""

    def read(self, file: str) -> bytes | None:
        """The bytes of pool file ``file`` (a validated name), ``None`` if
        there is no such file."""
        raise NotImplementedError


class DiskPhotos(PhotoStore):
    """Photo bytes read from disk on every request: the talk's "static
    files read from disk every time ... and read from Python", on purpose."""

    def __init__(self, directory: str):
        self.dir = str(directory)

    def read(self, file: str) -> bytes | None:
        try:
            with open(os.path.join(self.dir, file), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None


_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789/-_.~")


def page_key(req: Request, query_ok) -> str | None:
    """The memcached key of a page, exactly as nginx builds it from
    ``set $memcached_key "$uri?$args";``.

    Only for requests whose raw path nginx would leave unchanged (plain
    characters, no dot segments, no doubled slashes) and whose query is the
    route's canonical one (``query_ok``). Anything else is not cached, so a
    write can always find every key it must update.
    """
    path = req.path
    if not set(path) <= _PLAIN:
        return None
    if "//" in path or any(s in (".", "..") for s in path.split("/")):
        return None
    q = req.query or ""
    return f"{path}?{q}" if query_ok(q) else None


def escape_memcached_key(key: str) -> str:
    """Escapes a key as nginx's memcached module does before sending it
    (``ngx_escape_uri(.., NGX_ESCAPE_MEMCACHED)``): code points up to
    U+0020 and ``%`` become ``%XX`` (upper-case hex); everything else is
    sent as is."""
    if "%" not in key and all(ch > " " for ch in key):
        return key
    return "".join(f"%{ord(ch):02X}" if ch <= " " or ch == "%" else ch
                   for ch in key)
