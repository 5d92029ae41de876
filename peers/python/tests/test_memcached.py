"""python-4: pages, page data, photo bytes and sessions in a real memcached,
under the keys, flags and JSON the Rust stage-4 uses (and nginx reads)."""

import json
import os
import socket
import unittest

from flickrkillr import queries, render, schema
from tests import support
from tests.support import login, post_form, request

STAGE4_BIN = os.environ.get(
    "FK_STAGE4_BIN", os.path.join(os.path.dirname(support.STAGE2_BIN),
                                  "stage-4"))


def mc_get(addr: str, key: str) -> tuple[int, bytes] | None:
    """(flags, value) of ``key`` (already in wire form), or None."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(f"get {key}\r\n".encode())
        buf = b""
        while not (buf.endswith(b"END\r\n")):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    if not buf.startswith(b"VALUE "):
        return None
    head, _, rest = buf.partition(b"\r\n")
    _, _, flags, length = head.split()[:4]
    return int(flags), rest[:int(length)]


class Python4(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.site = support.Site(10)
        cls.db = cls.site.copy("mc.db")
        cls.mc, cls.mc_addr = support.start_memcached()
        cls.py = support.start_python(cls.db, cls.site.photos,
                                      "--memcached", cls.mc_addr)

    @classmethod
    def tearDownClass(cls):
        cls.py.stop()
        support.stop_process(cls.mc)
        cls.site.remove()

    def reference(self, fn, *args):
        conn = schema.open_db(self.db)
        try:
            return fn(conn, *args)
        finally:
            conn.close()

    def test_anonymous_pages_are_added_under_nginx_keys(self):
        r = request(self.py, "GET", "/photo/1")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("x-cache"), "MISS")
        self.assertRegex(r.header("x-served-by"), r"^python-4 pid=\d+ i0$")
        page = self.reference(queries.photo_page, 1)
        self.assertEqual(r.body, render.photo(None, page).encode())
        self.assertEqual(mc_get(self.mc_addr, "/photo/1?"),
                         (page.version, r.body))
        r = request(self.py, "GET", "/user/user2")
        self.assertEqual(mc_get(self.mc_addr, "/user/user2?"), (0, r.body))
        # Not the canonical address of a page: not cached (a write could
        # not find it to update it).
        request(self.py, "GET", "/user/user2?page=1")
        self.assertIsNone(mc_get(self.mc_addr, "/user/user2?page=1"))
        request(self.py, "GET", "/photo/%31")
        self.assertIsNone(mc_get(self.mc_addr, "/photo/%2531?"))
        # Errors are never cached; every app response says MISS.
        r = request(self.py, "GET", "/user/nobody")
        self.assertEqual((r.status, r.header("x-cache")), (404, "MISS"))
        self.assertIsNone(mc_get(self.mc_addr, "/user/nobody?"))

    def test_photo_bytes_are_added_for_nginx(self):
        r = request(self.py, "GET", "/static/photos/p0003.jpg")
        with open(os.path.join(self.site.photos, "p0003.jpg"), "rb") as f:
            disk = f.read()
        self.assertEqual(r.body, disk)
        self.assertEqual(mc_get(self.mc_addr, "/static/photos/p0003.jpg?"),
                         (0, disk))
        # The second read comes from memcached, the same bytes.
        self.assertEqual(request(self.py, "GET",
                                 "/static/photos/p0003.jpg").body, disk)

    def test_sessions_data_and_a_write_published_before_the_answer(self):
        cookie = login(self.py, "user3")
        sid = cookie.split("=", 1)[1]
        self.assertRegex(sid, r"^[0-9a-f]{32}$")
        flags, raw = mc_get(self.mc_addr, f"session:{sid}")
        stored = json.loads(raw)
        self.assertEqual(list(stored), ["user", "expires_at"])
        self.assertEqual(stored["user"]["username"], "user3")
        self.assertEqual(list(stored["user"]),
                         ["user_id", "username", "display_name"])
        # A logged-in page: rendered for the viewer, its data cached under
        # data:KEY, the anonymous page left alone.
        r = request(self.py, "GET", "/photo/4", {"Cookie": cookie})
        self.assertIn(b"Logged in as", r.body)
        flags, raw = mc_get(self.mc_addr, "data:/photo/4?")
        data = json.loads(raw)
        self.assertEqual(list(data),
                         ["photo", "comments", "comment_count", "version"])
        self.assertEqual(flags, data["version"])
        self.assertIsNone(mc_get(self.mc_addr, "/photo/4?"))
        self.assertEqual(request(self.py, "GET", "/photo/4",
                                 {"Cookie": cookie}).body, r.body)
        # Fill the anonymous page, then write: the page nginx would serve
        # has the comment before the redirect is answered.
        request(self.py, "GET", "/photo/4")
        w = post_form(self.py, "/photo/4/comments",
                      "body=%3Cscript%3Epublished%3C%2Fscript%3E", cookie)
        self.assertEqual(w.status, 303)
        comment_id = int(w.header("location").rsplit("#c", 1)[1])
        flags, page = mc_get(self.mc_addr, "/photo/4?")
        self.assertEqual(flags, comment_id)
        self.assertIn(b"&#60;script&#62;published&#60;/script&#62;", page)
        self.assertNotIn(b"Logged in as", page)
        flags, raw = mc_get(self.mc_addr, "data:/photo/4?")
        self.assertEqual((flags, json.loads(raw)["version"]),
                         (comment_id, comment_id))
        # Logout deletes the session in memcached.
        post_form(self.py, "/logout", "", cookie)
        self.assertIsNone(mc_get(self.mc_addr, f"session:{sid}"))


class MemcachedDown(unittest.TestCase):
    """memcached down is a miss, never a 5xx; logins answer 503."""

    def test_pages_from_sqlite_logins_503(self):
        site = support.Site(5)
        mc, addr = support.start_memcached()
        py = support.start_python(site.copy("down.db"), site.photos,
                                  "--memcached", addr)
        try:
            cookie = login(py, "user1")
            support.stop_process(mc)
            for path in ["/", "/user/user1", "/photo/1",
                         "/static/photos/p0001.jpg"]:
                for _ in range(2):  # the failure, then the skipped server
                    r = request(py, "GET", path, {"Cookie": cookie})
                    self.assertEqual(r.status, 200, path)
            self.assertNotIn(b"Logged in as", r.body)  # sessions are lost
            r = post_form(py, "/login", "username=user1&password=pw-user1")
            self.assertEqual(r.status, 503)
            self.assertIn(b"<h1>503 Service Unavailable</h1>", r.body)
        finally:
            py.stop()
            support.stop_process(mc)
            site.remove()


class SharedWithRustStage4(unittest.TestCase):
    """A Rust stage-4 instance and a Python one on one memcached: each reads
    the sessions and page data the other wrote."""

    def test_sessions_and_page_data_cross_over(self):
        support.require(STAGE4_BIN, "the Rust stage-4 (FK_STAGE4_BIN)")
        site = support.Site(5)
        mc, addr = support.start_memcached()
        db = site.copy("shared.db")
        py = support.start_python(db, site.photos, "--memcached", addr,
                                  "--tag", "i1")
        env = {k: v for k, v in os.environ.items() if not k.startswith("FK_")}
        env["RUST_LOG"] = "warn"
        rust = support.Server([STAGE4_BIN, "instance", "--listen",
                               "127.0.0.1:0", "--tag", "i0", "--db", db,
                               "--photos", site.photos, "--memcached", addr],
                              "stage-4 instance", env=env)
        try:
            for a, b in ((rust, py), (py, rust)):
                cookie = login(a, "user2")
                for path in ["/photo/2", "/user/user2", "/"]:
                    first = request(a, "GET", path, {"Cookie": cookie})
                    second = request(b, "GET", path, {"Cookie": cookie})
                    self.assertIn(b"Logged in as", second.body, path)
                    self.assertEqual(first.body, second.body, path)
                post_form(a, "/logout", "", cookie)
        finally:
            rust.stop()
            py.stop()
            support.stop_process(mc)
            site.remove()


if __name__ == "__main__":
    unittest.main()
