"""nginx's consistent hash, replicated: the vectors of the Rust
``stage_4::ring`` tests, fixed placements, and the real thing (two
memcached servers behind a real nginx with ``hash $memcached_key
consistent``, as ``crates/cluster/tests/ring_matches_nginx.rs``)."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from flickrkillr.cache import escape_memcached_key as escape
from flickrkillr.ring import (POINTS_PER_WEIGHT, Ring, crc32,
                              split_host_port, unescape)
from tests import support


class RustVectors(unittest.TestCase):
    """The Rust unit tests of ``stage_4::ring``, one for one."""

    def test_crc32_is_ieee(self):
        self.assertEqual(crc32(b"123456789"), 0xCBF43926)
        self.assertEqual(crc32(b""), 0)

    def test_splits_like_nginx(self):
        self.assertEqual(split_host_port(b"127.0.0.1:11211"),
                         (b"127.0.0.1", b"11211"))
        self.assertEqual(split_host_port(b"cache.local"),
                         (b"cache.local", b""))
        self.assertEqual(split_host_port(b"[::1]:11211"), (b"[::1]", b"11211"))
        self.assertEqual(split_host_port(b"unix:/tmp/mc.sock"),
                         (b"/tmp/mc.sock", b""))

    def test_spreads_keys_and_moves_few(self):
        two = Ring(["127.0.0.1:21001", "127.0.0.1:21002"])
        three = Ring(["127.0.0.1:21001", "127.0.0.1:21002", "127.0.0.1:21003"])
        self.assertEqual(len(two), 2 * POINTS_PER_WEIGHT)
        keys = [f"/user/user{i}?".encode() for i in range(3000)]
        on0 = sum(1 for k in keys if two.route(k) == 0)
        self.assertTrue(900 <= on0 < 2100, f"unbalanced: {on0} of 3000")
        for k in keys:  # adding a server only moves keys to the new one
            a, b = two.route(k), three.route(k)
            self.assertTrue(a == b or b == 2, f"{k} moved from {a} to {b}")
        self.assertEqual(Ring(["x:1"]).route(b"anything"), 0)

    def test_wire_keys_route_as_their_raw_form(self):
        ring = Ring(["127.0.0.1:21001", "127.0.0.1:21002", "127.0.0.1:21003"])
        for raw in ["/a b?", "/100%?x", "/tab\there?", "/plain?"]:
            wire = escape(raw).encode()
            self.assertEqual(unescape(wire), raw.encode())
            self.assertEqual(ring.route_wire(wire), ring.route(raw.encode()),
                             raw)


class FixedPlacements(unittest.TestCase):
    """Regression values: placements this ring computes for two fixed
    server names. The algorithm is checked against a real nginx by
    :class:`AgainstNginx` (on whatever ports are free, so with other names);
    these catch a change on machines without nginx."""

    SERVERS = ["127.0.0.1:11211", "127.0.0.1:11212"]  # the text, as nginx
    WANT = {
        "/?": 0, "/user/user1?": 0, "/user/user2?page=2": 1, "/photo/1?": 0,
        "/photo/2939?": 0, "/static/photos/p0001.jpg?": 1,
        # Keys only the app reads (nginx's $uri always starts with "/"):
        "data:/photo/1?": 1, "session:0123456789abcdef0123456789abcdef": 1,
    }

    def test_placements(self):
        ring = Ring(self.SERVERS)
        got = {k: ring.route(k.encode()) for k in self.WANT}
        self.assertEqual(got, self.WANT)


def _mc_set(addr: tuple, wire_key: bytes, value: bytes) -> None:
    with socket.create_connection(addr, timeout=5) as s:
        s.sendall(b"set %s 0 60 %d\r\n%s\r\n" % (wire_key, len(value), value))
        assert s.recv(64) == b"STORED\r\n", wire_key


def _url_path(key: str) -> str:
    """The request path whose decoded ``$uri`` is ``key``."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "/-_.")
                   else "".join(f"%{b:02X}" for b in ch.encode())
                   for ch in key)


class AgainstNginx(unittest.TestCase):
    """Keys written where the ring says are all found through nginx; the
    same keys written to the other server are all missed."""

    def test_the_ring_places_every_key_where_nginx_looks_for_it(self):
        support.require(support.NGINX_BIN, "nginx")
        support.require(support.MEMCACHED_BIN, "memcached")
        procs, run = [], tempfile.mkdtemp(prefix="fk-ring-")
        try:
            servers = []
            for _ in range(2):
                proc, addr = support.start_memcached()
                procs.append(proc)
                servers.append(addr)
            nport = support.free_port()
            upstream = "".join(f"        server {s};\n" for s in servers)
            conf = os.path.join(run, "nginx.conf")
            with open(conf, "w") as f:
                f.write(f"""worker_processes 1;
pid {run}/nginx.pid;
error_log stderr error;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {run}/cb; proxy_temp_path {run}/p;
    fastcgi_temp_path {run}/f; uwsgi_temp_path {run}/u; scgi_temp_path {run}/s;
    upstream mc {{
        hash $memcached_key consistent;
{upstream}    }}
    server {{
        listen 127.0.0.1:{nport};
        location = /healthz {{ return 200; }}
        location / {{
            set $memcached_key $uri;
            memcached_pass mc;
            memcached_next_upstream off;
        }}
    }}
}}
""")
            procs.append(subprocess.Popen(
                [support.NGINX_BIN, "-p", run + "/", "-c", conf,
                 "-e", "stderr", "-g", "daemon off;"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            addrs = [("127.0.0.1", int(s.rsplit(":", 1)[1])) for s in servers]
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", nport), 1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            nginx = ("127.0.0.1", nport)

            def get(path: str) -> tuple[int, bytes]:
                r = support.Resp(support.raw_exchange(nginx, (
                    f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close"
                    "\r\n\r\n").encode()))
                return r.status, r.body

            ring = Ring(servers)
            keys = []
            for i in range(300):
                keys.append([f"/user/user{i}?", f"/a b/{i}", f"/100%/{i}",
                             f"/tab\t{i}"][i % 4])
            keys += [k for k in FixedPlacements.WANT if k.startswith("/")]
            found, on = 0, [0, 0]
            for i, k in enumerate(keys):
                home = ring.route(k.encode())
                self.assertEqual(ring.route_wire(escape(k).encode()), home)
                on[home] += 1
                _mc_set(addrs[home], escape(k).encode(), b"v%d" % i)
                if get(_url_path(k)) == (200, b"v%d" % i):
                    found += 1
            wrong_found = 0
            for i, k in enumerate(keys):
                w = k + "-wrong"
                other = 1 - ring.route(w.encode())
                _mc_set(addrs[other], escape(w).encode(), b"w%d" % i)
                if get(_url_path(w))[0] == 200:
                    wrong_found += 1
            self.assertTrue(on[0] > 50 and on[1] > 50, on)
            self.assertEqual(found, len(keys), "every key found where placed")
            self.assertEqual(wrong_found, 0, "misplaced keys never found")
        finally:
            for p in reversed(procs):
                support.stop_process(p)
            shutil.rmtree(run, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
