"""nginx's ``hash $key consistent`` ring, replicated
(``crates/stage-4/src/ring.rs``), so the app stores every key on the
memcached server where nginx will look for it.

With several memcached servers, nginx's memcached module picks the server
of a key with ``ngx_http_upstream_hash_module`` in consistent mode (a
ketama-style ring, the one of Cache::Memcached::Fast). pymemcache's own
``HashClient`` uses rendezvous hashing instead, so it would write keys
where nginx never reads them: every page would be a miss for nginx. Hence
this module, a line-for-line port of the Rust ``cluster::Ring``:

- For each server, as written in the ``upstream`` block (the text,
  ``127.0.0.1:11211``, never a resolved address): split at the last ``:``
  when what follows is all digits; ``base = crc32(host ‖ "\\0" ‖ port)``;
  then 160 points per unit of weight, point *j* being
  ``crc32(base ‖ prev)``, ``prev`` being point *j−1* as 4 little-endian
  bytes (zero for the first).
- Points sorted by hash; of equal hashes only the first is kept.
- A key goes to the first point whose hash is ≥ ``crc32(key)``, wrapping
  past the last point to the first.
- The key hashed is ``$memcached_key`` **before** the memcached module
  escapes it for the wire, so :meth:`Ring.route_wire` undoes the escaping.

CRC-32 is the IEEE one, ``zlib.crc32``. Its second argument continues a
CRC: ``zlib.crc32(b, zlib.crc32(a)) == zlib.crc32(a + b)``, which is what
nginx's ``ngx_crc32_update`` over an unfinished ``base`` computes.
"""

import bisect
import struct
import zlib

__all__ = ["POINTS_PER_WEIGHT", "Ring", "crc32", "split_host_port", "unescape"]

#: Points per server of weight 1 (nginx's constant).
POINTS_PER_WEIGHT = 160


def crc32(data: bytes) -> int:
    """CRC-32 of ``data`` (nginx's ``ngx_crc32_long``)."""
    return zlib.crc32(data)


def split_host_port(s: bytes) -> tuple[bytes, bytes]:
    """``host:port`` → (``host``, ``port``) as nginx splits a server name: at
    the last colon when only digits follow it; otherwise the whole name is
    the host."""
    if s.startswith(b"unix:"):
        return s[5:], b""
    i = len(s) - 1
    while i >= 0 and 0x30 <= s[i] <= 0x39:
        i -= 1
    if i >= 0 and s[i] == 0x3A:  # ':'
        return s[:i], s[i + 1:]
    return s, b""


def unescape(wire: bytes) -> bytes:
    """Undoes nginx's memcached key escaping (``%XX`` → byte). Escaping
    turns every ``%`` into ``%25``, so every ``%`` in an escaped key starts
    an escape."""
    out = bytearray()
    i, n = 0, len(wire)
    hexdigits = b"0123456789abcdefABCDEF"
    while i < n:
        # The Rust code requires two hex digits *and* one more byte after
        # them (`i + 2 < len`); kept identical, escapes always qualify.
        if (wire[i] == 0x25 and i + 2 < n and wire[i + 1] in hexdigits
                and wire[i + 2] in hexdigits):
            out.append(int(wire[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(wire[i])
            i += 1
    return bytes(out)


class Ring:
    """The ring of a list of servers, all of weight 1."""

    def __init__(self, servers: list[str]):
        """``servers`` written exactly as in nginx's ``upstream`` block."""
        if not servers:
            raise ValueError("a ring needs at least one server")
        points: list[tuple[int, int]] = []
        for index, server in enumerate(servers):
            host, port = split_host_port(server.encode())
            base = zlib.crc32(host + b"\0" + port)
            prev = 0
            for _ in range(POINTS_PER_WEIGHT):
                point = zlib.crc32(struct.pack("<I", prev), base)
                points.append((point, index))
                prev = point
        # nginx sorts with qsort and keeps the first of equal hashes; sorting
        # by (hash, server) keeps the lowest server index, as the Rust code.
        points.sort()
        self._hashes: list[int] = []
        self._servers_at: list[int] = []
        for h, i in points:
            if not self._hashes or self._hashes[-1] != h:
                self._hashes.append(h)
                self._servers_at.append(i)
        self.servers = list(servers)

    def __len__(self) -> int:
        """Points on the ring."""
        return len(self._hashes)

    def route(self, key: bytes) -> int:
        """Index of the server holding ``key`` (the unescaped
        ``$memcached_key``)."""
        if len(self.servers) == 1:
            return 0
        i = bisect.bisect_left(self._hashes, zlib.crc32(key))
        return self._servers_at[i % len(self._hashes)]

    def route_wire(self, wire: bytes) -> int:
        """Index of the server holding the key sent on the wire as ``wire``
        (escaped as nginx escapes it: see ``cache.escape_memcached_key``)."""
        if len(self.servers) == 1:
            return 0
        return self.route(unescape(wire) if b"%" in wire else wire)
