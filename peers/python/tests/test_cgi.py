"""The CGI program (python-1) against the Rust one, byte for byte.

``fk_cgi.py`` and the Rust ``stage-1-cgi`` are run with the same RFC 3875
environment (built the way the Rust CGI host builds it: nothing else in it,
not even ``PATH``) on two copies of one database; their outputs must say
the same. Then the program under the Rust CGI host itself, through a
two-line wrapper script (the host starts programs directly).
"""

import os
import re
import subprocess
import unittest

from flickrkillr import ring
from tests import support


def decode_lossless(path: str) -> bytes:
    """PATH_INFO as the Rust host computes it: percent-escapes decoded to
    bytes, malformed ones left as they are — the same rule as nginx's key
    unescaping, which the peer already has."""
    return ring.unescape(path.encode())


def cgi_env(db: str, photos: str, method: str, target: str,
            headers: dict | None = None, body: bytes = b"") -> dict:
    path, _, query = target.partition("?")
    env = {
        b"GATEWAY_INTERFACE": b"CGI/1.1", b"SERVER_PROTOCOL": b"HTTP/1.1",
        b"SERVER_SOFTWARE": b"test", b"SERVER_NAME": b"127.0.0.1",
        b"SERVER_PORT": b"8001", b"REMOTE_ADDR": b"127.0.0.1",
        b"REQUEST_METHOD": method.encode(), b"SCRIPT_NAME": b"",
        b"QUERY_STRING": query.encode(), b"REQUEST_URI": target.encode(),
        b"PATH_INFO": decode_lossless(path),
        b"FK_DB": db.encode(), b"FK_PHOTOS": photos.encode(),
    }
    if body:
        env[b"CONTENT_LENGTH"] = str(len(body)).encode()
    for k, v in (headers or {}).items():
        name = k.upper().replace("-", "_")
        key = name if name == "CONTENT_TYPE" else "HTTP_" + name
        env[key.encode()] = v.encode()
    return env


class CgiOutput:
    def __init__(self, out: bytes):
        head, sep, self.body = out.partition(b"\r\n\r\n")
        assert sep, f"no blank line ends the header block: {out[:200]!r}"
        lines = head.decode().split("\r\n")
        assert lines[0].startswith("Status: "), lines[0]
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(": ")
            self.headers[k.lower()] = v

    def comparable(self) -> tuple:
        h = self.headers
        allow = h.get("allow")
        cookie = re.sub(r"^sid=[0-9a-z-]+", "sid=ID", h.get("set-cookie", ""))
        return (self.status, h.get("content-type"), h.get("location"), allow,
                cookie, int(h.get("content-length", -1)), self.body)


def run(program: list[str], env: dict, body: bytes = b"") -> CgiOutput:
    p = subprocess.run(program, env=env, input=body, capture_output=True,
                       timeout=30)
    assert p.returncode == 0, (p.returncode, p.stderr)
    return CgiOutput(p.stdout)


PY = [support.PYTHON, support.FK_CGI]


class AgainstStage1Cgi(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        support.require(support.STAGE1_CGI_BIN, "the Rust stage-1-cgi")
        cls.site = support.Site(10)
        cls.py_db = cls.site.copy("cgi-py.db")
        cls.rust_db = cls.site.copy("cgi-rust.db")

    @classmethod
    def tearDownClass(cls):
        cls.site.remove()

    def both(self, method, target, headers=None, body=b"",
             cookies=(None, None)):
        outs = []
        for prog, db, cookie in ((PY, self.py_db, cookies[0]),
                                 ([support.STAGE1_CGI_BIN], self.rust_db,
                                  cookies[1])):
            h = dict(headers or {})
            if cookie:
                h["Cookie"] = cookie
            outs.append(run(prog, cgi_env(db, self.site.photos, method,
                                          target, h, body), body))
        return outs

    def same(self, method, target, headers=None, body=b"",
             cookies=(None, None)):
        a, b = self.both(method, target, headers, body, cookies)
        self.assertEqual(a.comparable(), b.comparable(), f"{method} {target}")
        return a

    def test_pages_and_errors(self):
        for target in ["/", "/user/user1", "/user/user1?page=2", "/photo/1",
                       "/photo/abc", "/user/%ff", "/user/a%2Fb", "/nope",
                       "/static/photos/p0002.jpg", "/static/photos/..%2fx",
                       "/healthz", "/user/user1?page=0", "/%zz"]:
            with self.subTest(target=target):
                self.same("GET", target)
        self.same("DELETE", "/")
        self.same("GET", "/login")

    def test_headers_of_the_program(self):
        a, _ = self.both("GET", "/user/user2")
        self.assertRegex(a.headers["x-served-by"], r"^python-1 pid=\d+$")
        timing = a.headers["server-timing"]
        self.assertRegex(timing, r"^init;dur=[\d.]+, db-open;dur=[\d.]+, ")
        self.assertEqual(int(a.headers["content-length"]), len(a.body))

    def test_forms_sessions_and_comments(self):
        form = {"Content-Type": support.FORM}
        self.same("POST", "/login", form, b"username=user1&password=nope")
        self.same("POST", "/login", {"Content-Type": "text/plain"}, b"a=b")
        self.same("POST", "/photo/1/comments", form, b"body=hi")
        a, b = self.both("POST", "/login", form,
                         b"username=user3&password=pw-user3")
        self.assertEqual(a.comparable(), b.comparable())
        cookies = (a.headers["set-cookie"].split(";")[0],
                   b.headers["set-cookie"].split(";")[0])
        self.same("GET", "/user/user1", cookies=cookies)
        self.same("POST", "/photo/2/comments", form, b"body=", cookies=cookies)
        self.same("POST", "/photo/2/comments", form,
                  b"body=%3Cb%3Ehello%3C%2Fb%3E", cookies=cookies)
        self.same("POST", "/logout", form, b"", cookies=cookies)
        self.same("POST", "/photo/2/comments", form, b"body=x",
                  cookies=cookies)

    def test_oversized_and_short_bodies(self):
        form = {"Content-Type": support.FORM}
        self.same("POST", "/photo/1/comments", form, b"body=" + b"x" * 20000)
        # A body shorter than its CONTENT_LENGTH.
        outs = []
        for prog, db in ((PY, self.py_db),
                         ([support.STAGE1_CGI_BIN], self.rust_db)):
            env = cgi_env(db, self.site.photos, "POST", "/login", form,
                          b"username=x")
            env[b"CONTENT_LENGTH"] = b"100"
            outs.append(run(prog, env, b"username=x"))
        self.assertEqual(outs[0].comparable(), outs[1].comparable())
        self.assertEqual(outs[0].status, 400)

    def test_the_environment_rules_of_rfc3875(self):
        base = cgi_env(self.py_db, self.site.photos, "GET", "/user/user1")
        variants = {
            "bad length": {b"CONTENT_LENGTH": b"-1"},
            "absolute REQUEST_URI": {b"REQUEST_URI": b"http://x/"},
            "script prefix": {b"SCRIPT_NAME": b"/fk.cgi",
                              b"REQUEST_URI": b"/fk.cgi/user/user1"},
            "PATH_INFO only": {b"REQUEST_URI": None,
                               b"PATH_INFO": b"/user/user1"},
            "PATH_INFO with a slash": {b"REQUEST_URI": None,
                                       b"PATH_INFO": b"/user/a/b"},
            "no path at all": {b"REQUEST_URI": None, b"PATH_INFO": None},
        }
        for name, change in variants.items():
            with self.subTest(name):
                outs = []
                for prog, db in ((PY, self.py_db),
                                 ([support.STAGE1_CGI_BIN], self.rust_db)):
                    env = {**base, b"FK_DB": db.encode()}
                    for k, v in change.items():
                        if v is None:
                            env.pop(k, None)
                        else:
                            env[k] = v
                    outs.append(run(prog, env))
                self.assertEqual(outs[0].comparable(), outs[1].comparable())
        p = subprocess.run(PY, env={}, capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 2, "no REQUEST_METHOD: not CGI")
        self.assertIn(b"REQUEST_METHOD", p.stderr)

    def test_head_sends_no_body_and_the_get_length(self):
        get = run(PY, cgi_env(self.py_db, self.site.photos, "GET", "/photo/1"))
        head = run(PY, cgi_env(self.py_db, self.site.photos, "HEAD",
                               "/photo/1"))
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertEqual(int(head.headers["content-length"]), len(get.body))


class UnderTheRustCgiHost(unittest.TestCase):
    """python-1 served by the Rust stage-1 host (which clears the
    environment)."""

    def test_the_host_serves_the_python_program(self):
        host = os.path.join(os.path.dirname(support.STAGE1_CGI_BIN), "stage-1")
        support.require(host, "the Rust stage-1 host")
        site = support.Site(5)
        wrapper = os.path.join(site.dir, "fk_cgi.sh")
        with open(wrapper, "w") as f:
            f.write(f"#!/bin/sh\nexec {support.PYTHON} {support.FK_CGI}\n")
        os.chmod(wrapper, 0o755)
        server = support.Server(
            [host, "--db", site.db, "--photos", site.photos, "--listen",
             "127.0.0.1:0", "--program", wrapper],
            "stage-1 host", env={"RUST_LOG": "warn"})
        try:
            r = support.request(server, "GET", "/user/user2")
            self.assertEqual(r.status, 200)
            self.assertRegex(r.header("x-served-by"), r"^python-1 pid=\d+$")
            self.assertRegex(r.header("server-timing"),
                             r"^process;dur=[\d.]+, init;dur=")
            self.assertTrue(support.login(server, "user2").startswith("sid="))
        finally:
            server.stop()
            site.remove()


if __name__ == "__main__":
    unittest.main()
