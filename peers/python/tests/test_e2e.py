"""End to end: fk_serve.py against the Rust stage-2, byte for byte.

One seeded site (with a user who has three pages of photos and a user who
has none, so every branch of the templates is rendered), two copies of its
database, the Python server on one and the Rust ``stage-2`` on the other.
The same requests go to both; status, the headers that carry meaning and
every byte of the body must match. Then what only the Python server is
asked here: HEAD, half-closed clients, oversized and late bodies, trickling
heads, a stop in the middle of a request, an inherited listening socket.
"""

import os
import re
import socket
import sqlite3
import subprocess
import threading
import time
import unittest

from tests import support
from tests.support import login, post_form, request

# Requests whose answers must be identical in both servers (anonymous).
ANONYMOUS = [
    "/", "/user/user1", "/user/user1?page=1", "/user/user1?page=2",
    "/user/user1?page=3", "/user/user1?page=4", "/user/user3",
    "/user/user3?page=2", "/user/user30", "/user/user31", "/user/nobody",
    "/user/user1?page=0", "/user/user1?page=abc", "/user/user1?page=%ff",
    "/user/user1?page=1%", "/user/user1?page=99999999999",
    "/user/user1?page=+1", "/user/user1?page=2&page=3", "/user/user1?x=1",
    "/user/a%2Fb", "/user/x%27;DROP%20TABLE%20users;--", "/user/", "/user",
    "/user/user1/", "/user//x", "//", "/photo/1", "/photo/0", "/photo/abc",
    "/photo/-1", "/photo/007", "/photo/999999999",
    "/photo/99999999999999999999", "/photo/1%27%20OR%20%271%27=%271",
    "/static/photos/p0001.jpg", "/static/photos/p9999.jpg",
    "/static/photos/..%2f..%2fetc%2fpasswd",
    "/static/photos/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static/photos/..%252f..%252fetc%252fpasswd",
    "/static/photos/../../etc/passwd", "/static/photos/a.png",
    "/no/such/page", "/healthz", "/user/%ff%fe", "/%zz", "/a%", "/%2e%2e",
    "/user/%E2%9C%93", "/photo/1/comments", "/login", "/logout",
]


def comparable(r: support.Resp) -> tuple:
    """What must be the same in both servers' answers."""
    allow = r.header("allow")
    cookie = r.header("set-cookie")
    if cookie:
        cookie = re.sub(r"^sid=[0-9a-z-]+", "sid=ID", cookie)
    return (r.status, r.header("content-type"), r.header("location"), allow,
            r.header("cache-control"), cookie, r.body)


class AgainstStage2(unittest.TestCase):
    """fk_serve.py (sessions in SQLite) and the Rust stage-2 on the same
    data."""

    @classmethod
    def setUpClass(cls):
        support.require(support.STAGE2_BIN, "the Rust stage-2")
        cls.site = support.Site(30)
        db = sqlite3.connect(cls.site.db)
        with db:
            # user1 gets three pages of photos (page 3 is the last), user3
            # none at all ("No photos yet."), photo 1 a comment by user3.
            for i in range(45):
                db.execute("INSERT INTO photos (user_id, title, taken_at, "
                           "file) VALUES (1, ?, ?, 'p0001.jpg')",
                           (f"Extra <b>'{i}'</b> & more", 1_172_239_500 + i))
            db.execute("DELETE FROM comments WHERE photo_id IN "
                       "(SELECT id FROM photos WHERE user_id = 3)")
            db.execute("DELETE FROM photos WHERE user_id = 3")
            db.execute("INSERT INTO comments (photo_id, user_id, body, "
                       "created_at) VALUES (1, 2, 'first! <3 \"q\" é', 0)")
        db.close()
        cls.py = support.start_python(cls.site.copy("py.db"), cls.site.photos)
        cls.rust = support.start_stage2(cls.site.copy("rust.db"),
                                        cls.site.photos)

    @classmethod
    def tearDownClass(cls):
        cls.py_exit = cls.py.stop()
        cls.rust.stop()
        cls.site.remove()

    def same(self, method, path, headers=None, body=b""):
        a = request(self.py, method, path, headers, body)
        b = request(self.rust, method, path, headers, body)
        self.assertEqual(comparable(a), comparable(b),
                         f"{method} {path}: python {a.status}, "
                         f"rust {b.status}")
        return a

    def test_anonymous_pages_and_error_pages(self):
        for path in ANONYMOUS:
            with self.subTest(path=path):
                r = self.same("GET", path)
                self.assertNotIn(b"root:", r.body)

    def test_every_app_response_names_its_process(self):
        r = request(self.py, "GET", "/user/user5")
        self.assertRegex(r.header("x-served-by"), r"^python-2 pid=\d+ i0$")
        self.assertIn("dur=", r.header("server-timing"))
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
        self.assertEqual(int(r.header("content-length")), len(r.body))
        self.assertIsNotNone(r.header("date"))

    def test_wrong_methods(self):
        for method, path in [("DELETE", "/"), ("POST", "/photo/1"),
                             ("PUT", "/user/user1"), ("GET", "/login"),
                             ("PUT", "/logout"), ("OPTIONS", "/healthz"),
                             ("BREW", "/static/photos/p0001.jpg"),
                             ("GET", "/photo/1/comments")]:
            with self.subTest(method=method, path=path):
                r = self.same(method, path)
                self.assertEqual(r.status, 405)
        self.assertEqual(request(self.py, "DELETE", "/").header("allow"),
                         "GET, HEAD")
        self.assertEqual(request(self.py, "GET", "/login").header("allow"),
                         "POST")

    def test_bad_forms_and_cross_site_posts(self):
        cases = [
            ("/login", "username=user2&password=nope", {}),
            ("/login", "username=nobody&password=pw-nobody", {}),
            ("/login", "username=user2", {}),
            ("/login", "username=" + "u" * 65 + "&password=x", {}),
            ("/login", "username=user2&password=%zz", {}),
            ("/login", "username=user2&password=pw-user2",
             {"Origin": "https://evil.example"}),
            ("/login", "username=user2&password=pw-user2", {"Origin": "null"}),
            ("/login", "username=user2&password=pw-user2",
             {"Referer": "http://evil.example/x"}),
            ("/photo/1/comments", "body=hi", {}),
            ("/photo/1/comments", "body=hi", {"Cookie": "sid=garbage"}),
            ("/photo/1/comments", "body=hi",
             {"Origin": "http://evil.example"}),
            ("/photo/abc/comments", "body=hi",
             {"Origin": "http://evil.example"}),
            ("/logout", "", {"Origin": "http://evil.example"}),
        ]
        for path, body, extra in cases:
            with self.subTest(path=path, body=body, headers=extra):
                h = {"Content-Type": support.FORM, **extra}
                self.same("POST", path, h, body.encode())
        self.same("POST", "/login", {"Content-Type": "text/plain"}, b"x=1")
        self.same("POST", "/login", {"Content-Type": support.FORM},
                  b"username=\xff&password=x")
        big = b"body=" + b"x" * (20 * 1024)
        r = self.same("POST", "/photo/1/comments",
                      {"Content-Type": support.FORM}, big)
        self.assertEqual(r.status, 413)

    def test_garbage_cookies_are_anonymous_visitors(self):
        for cookie in ["sid=%%%; ;;=;sid=' OR 1=1; sid=\"zz\"",
                       "sid=" + "a" * 40, "sid=é" * 3]:
            with self.subTest(cookie=cookie):
                self.same("GET", "/", {"Cookie": cookie})
        # Control bytes in a header: hyper refuses the request (400, no
        # page); cheroot passes it on and the site sees no usable cookie.
        # Both are in the contract (200..499); the Python answer is the
        # anonymous page.
        r = request(self.py, "GET", "/", {"Cookie": "sid=\x01\x02"})
        self.assertEqual(r.status, 200)
        self.assertIn(b"Log in</button>", r.body)

    def test_logged_in_pages_comments_and_logout(self):
        py, rust = login(self.py, "user2"), login(self.rust, "user2")
        pages = ["/", "/user/user1", "/user/user1?page=2", "/user/user3",
                 "/photo/1", "/photo/2", "/user/nobody", "/photo/abc",
                 "/photo/999999", "/no/such/page", "/user/user1?page=9"]
        for path in pages:
            with self.subTest(path=path):
                a = request(self.py, "GET", path, {"Cookie": py})
                b = request(self.rust, "GET", path, {"Cookie": rust})
                self.assertEqual(comparable(a), comparable(b), path)
        self.assertIn(b"Logged in as", request(self.py, "GET", "/",
                                               {"Cookie": py}).body)
        # Comments: bad ones, then one full of markup and non-ASCII text.
        marker = "<script>alert('x')</script> ünïcødé & \"q\" \u2028"
        for body in ["body=", "body=+%20+", "nobody=1", "body=" + "é" * 2001,
                     "body=" + "é" * 2000]:
            with self.subTest(comment=body[:20]):
                a = post_form(self.py, "/photo/3/comments", body, py)
                b = post_form(self.rust, "/photo/3/comments", body, rust)
                self.assertEqual(comparable(a), comparable(b))
        a = post_form(self.py, "/photo/99999/comments", "body=x", py)
        b = post_form(self.rust, "/photo/99999/comments", "body=x", rust)
        self.assertEqual(comparable(a), comparable(b))
        from urllib.parse import quote_plus
        a = post_form(self.py, "/photo/2/comments",
                      "body=" + quote_plus(marker), py)
        b = post_form(self.rust, "/photo/2/comments",
                      "body=" + quote_plus(marker), rust)
        self.assertEqual((a.status, a.header("location")),
                         (b.status, b.header("location")))
        # Both wrote at "now": the minute they show may differ at a minute
        # boundary, nothing else may.
        stamp = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d UTC<p>&#60;script")
        for cookie_py, cookie_rust in [(py, rust), (None, None)]:
            ha = {"Cookie": cookie_py} if cookie_py else {}
            hb = {"Cookie": cookie_rust} if cookie_rust else {}
            a = request(self.py, "GET", "/photo/2", ha)
            b = request(self.rust, "GET", "/photo/2", hb)
            self.assertIn(b"&#60;script&#62;alert(&#39;x&#39;)", a.body)
            self.assertEqual(stamp.sub(b"T", a.body), stamp.sub(b"T", b.body))
        # Logout ends the session server-side, in both.
        a = post_form(self.py, "/logout", "", py)
        b = post_form(self.rust, "/logout", "", rust)
        self.assertEqual(comparable(a), comparable(b))
        self.assertIn("Max-Age=0", a.header("set-cookie"))
        self.assertEqual(post_form(self.py, "/photo/2/comments", "body=x",
                                   py).status, 401)

    def test_sessions_are_in_the_database(self):
        cookie = login(self.py, "user4")
        sid = cookie.split("=", 1)[1]
        self.assertRegex(sid, r"^[0-9a-f]{32}$")
        db = sqlite3.connect(os.path.join(self.site.dir, "py.db"))
        before = db.execute("SELECT last_seen FROM sessions WHERE id = ?",
                            (sid,)).fetchone()
        self.assertIsNotNone(before, "the session row")
        db.close()
        # A second login replaces the first session (no fixation).
        again = post_form(self.py, "/login",
                          "username=user4&password=pw-user4", cookie)
        self.assertNotEqual(again.header("set-cookie").split(";")[0], cookie)
        self.assertEqual(post_form(self.py, "/photo/1/comments", "body=x",
                                   cookie).status, 401)


class Protocol(unittest.TestCase):
    """What the Python server does at the HTTP level."""

    @classmethod
    def setUpClass(cls):
        cls.site = support.Site(5)
        cls.db = cls.site.copy("proto.db")
        cls.py = support.start_python(cls.db, cls.site.photos,
                                      "--threads", "4")
        cls.addr = (cls.py.host, cls.py.port)

    @classmethod
    def tearDownClass(cls):
        cls.py.stop()
        cls.site.remove()

    def test_head_is_get_without_the_body(self):
        for path in ["/", "/user/user1", "/photo/1", "/healthz",
                     "/static/photos/p0001.jpg", "/user/nobody", "/photo/x"]:
            with self.subTest(path=path):
                get = request(self.py, "GET", path)
                raw = support.raw_exchange(self.addr, (
                    f"HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close"
                    "\r\n\r\n").encode())
                head = support.Resp(raw)
                self.assertEqual(head.status, get.status)
                self.assertEqual(head.body, b"", "no body after the head")
                self.assertEqual(int(head.header("content-length")),
                                 len(get.body))
                self.assertEqual(head.header("content-type"),
                                 get.header("content-type"))
        r = request(self.py, "HEAD", "/login")
        self.assertEqual((r.status, r.header("allow")), (405, "POST"))

    def test_a_half_closed_client_gets_its_answer(self):
        raw = support.raw_exchange(
            self.addr, b"GET /user/user2 HTTP/1.1\r\nHost: x\r\n\r\n",
            half_close=True)
        r = support.Resp(raw)
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), int(r.header("content-length")))
        form = b"username=user2&password=pw-user2"
        raw = support.raw_exchange(self.addr, (
            "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: "
            f"{support.FORM}\r\nContent-Length: {len(form)}\r\n\r\n"
        ).encode() + form, half_close=True)
        self.assertEqual(support.Resp(raw).status, 303)

    def test_pipelined_requests_and_http10(self):
        raw = support.raw_exchange(self.addr, (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /user/user1 HTTP/1.1\r\nHost: x\r\n"
            b"Connection: close\r\n\r\n"))
        self.assertEqual(raw.count(b"HTTP/1.1 200 OK"), 2)
        raw = support.raw_exchange(self.addr, b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertTrue(raw.startswith(b"HTTP/1.1 200") or
                        raw.startswith(b"HTTP/1.0 200"), raw[:40])
        for bad in [b"GET\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc",
                    "GET /user/é HTTP/1.1\r\nHost: x\r\n\r\n".encode()]:
            out = support.raw_exchange(self.addr, bad, half_close=True)
            status = out[9:12]
            self.assertTrue(not out or status.startswith(b"4"), out[:60])
        self.assertEqual(request(self.py, "GET", "/healthz").status, 200)

    def test_oversized_body_is_413_with_our_page_unread(self):
        start = time.monotonic()
        with socket.create_connection(self.addr, timeout=10) as s:
            # Announces 20 KiB and sends none of it: the answer must not wait.
            s.sendall(b"POST /photo/1/comments HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 20480\r\n\r\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        r = support.Resp(out)
        self.assertEqual(r.status, 413)
        self.assertLess(time.monotonic() - start, 5)
        self.assertIn(b"<h1>413 Payload Too Large</h1>", r.body)
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
        # Chunked, with no length to refuse up front.
        chunked = (b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                   b"application/x-www-form-urlencoded\r\nTransfer-Encoding: "
                   b"chunked\r\n\r\n5000\r\n" + b"x" * 0x5000
                   + b"\r\n0\r\n\r\n")
        r = support.Resp(support.raw_exchange(self.addr, chunked))
        self.assertEqual(r.status, 413)
        self.assertIn(b"<h1>413 Payload Too Large</h1>", r.body)

    def test_slow_clients_are_cut_off_and_starve_no_one(self):
        """A trickling head is cut off, a stalled body answered 408, each
        within ~10 s, while other clients are served at once."""
        results = {}

        def trickle():
            t = time.monotonic()
            with socket.create_connection(self.addr, timeout=30) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                out = b""
                try:
                    for _ in range(40):  # a byte every 0.5 s: never idle
                        s.sendall(b"a")
                        time.sleep(0.5)
                except OSError:
                    pass
                try:
                    while chunk := s.recv(4096):
                        out += chunk
                except OSError:
                    pass
            results["trickle"] = (time.monotonic() - t, out)

        def short_body():
            t = time.monotonic()
            with socket.create_connection(self.addr, timeout=30) as s:
                s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          b"application/x-www-form-urlencoded\r\n"
                          b"Content-Length: 100\r\n\r\nusername=")
                out = b""
                while chunk := s.recv(4096):
                    out += chunk
            results["short"] = (time.monotonic() - t, out)

        threads = [threading.Thread(target=trickle),
                   threading.Thread(target=short_body)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        for _ in range(10):
            t = time.monotonic()
            r = request(self.py, "GET", "/user/user2")
            self.assertEqual(r.status, 200)
            self.assertLess(time.monotonic() - t, 2)
        for t in threads:
            t.join(30)
        took, out = results["short"]
        self.assertLess(took, 14)
        self.assertTrue(out.startswith(b"HTTP/1.1 408"), out[:60])
        self.assertIn(b"<h1>408 Request Timeout</h1>", out)
        took, out = results["trickle"]
        self.assertLess(took, 14, "trickling head still open")
        self.assertTrue(not out or out.startswith(b"HTTP/1.1 408"), out[:60])


class Lifecycle(unittest.TestCase):
    """Start-up, an inherited socket, a clean stop."""

    @classmethod
    def setUpClass(cls):
        cls.site = support.Site(5)

    @classmethod
    def tearDownClass(cls):
        cls.site.remove()

    def test_sigterm_finishes_the_request_in_flight_and_exits_0(self):
        py = support.start_python(self.site.copy("life.db"), self.site.photos)
        try:
            form = b"username=user1&password=pw-user1"
            s = socket.create_connection((py.host, py.port), timeout=15)
            s.sendall((f"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       f"{support.FORM}\r\nContent-Length: {len(form)}\r\n"
                       "Connection: close\r\n\r\n").encode() + form[:10])
            time.sleep(0.5)           # the request is in flight...
            py.proc.terminate()       # ...when the stop arrives
            time.sleep(0.5)
            s.sendall(form[10:])
            out = b""
            while chunk := s.recv(4096):
                out += chunk
            s.close()
            self.assertTrue(out.startswith(b"HTTP/1.1 303"), out[:80])
            self.assertEqual(py.proc.wait(20), 0)
        finally:
            py.stop()

    def test_serves_an_inherited_listening_socket_as_is(self):
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(64)
        port = lsock.getsockname()[1]
        fd = lsock.fileno()
        os.set_inheritable(fd, True)
        py = support.Server(
            [support.PYTHON, support.FK_SERVE, "--db",
             self.site.copy("fd.db"), "--photos", self.site.photos,
             "--listen-fd", str(fd), "--tag", "i1", "--sessions", "memory"],
            "fk_serve.py --listen-fd", pass_fds=(fd,))
        try:
            self.assertEqual(py.port, port)
            r = request(py, "GET", "/healthz")
            self.assertRegex(r.header("x-served-by"), r"^python-3 pid=\d+ i1$")
            self.assertTrue(login(py, "user1").startswith("sid=i1-"))
        finally:
            self.assertEqual(py.stop(), 0)
        # The supervisor's socket still listens: a second instance serves it.
        py = support.Server(
            [support.PYTHON, support.FK_SERVE, "--db",
             os.path.join(self.site.dir, "fd.db"), "--photos",
             self.site.photos, "--listen-fd", str(fd)],
            "fk_serve.py --listen-fd again", pass_fds=(fd,))
        try:
            self.assertEqual(request(py, "GET", "/healthz").status, 200)
        finally:
            py.stop()
            lsock.close()

    def test_refuses_what_is_not_a_listening_socket(self):
        for extra in (["--listen-fd", "1"], ["--listen-fd", "987"]):
            p = subprocess.run([support.PYTHON, support.FK_SERVE, "--db",
                                self.site.db, *extra], capture_output=True,
                               timeout=30)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(b"--listen-fd", p.stderr)
        p = subprocess.run([support.PYTHON, support.FK_SERVE, "--db",
                            os.path.join(self.site.dir, "missing.db"),
                            "--listen", "127.0.0.1:0"], capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"does not exist", p.stderr)


if __name__ == "__main__":
    unittest.main()
