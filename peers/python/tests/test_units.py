"""Unit tests of the site's pieces, most of them ported from the Rust unit
tests of the same functions (named in each test's docstring)."""

import os
import tempfile
import unittest

from flickrkillr import cgienv, dates, handlers, http, password, render
from flickrkillr.cache import escape_memcached_key, page_key
from flickrkillr.errors import (BadRequest, Forbidden, TooLarge,
                                UnsupportedMediaType)
from flickrkillr.http import Request
from flickrkillr.queries import (Comment, Photo, PhotoPage, SessionUser, User,
                                 UserPage)
from flickrkillr.sessions import MemorySessions, new_id, plausible_id
from flickrkillr.timing import Timing


class Escaping(unittest.TestCase):
    """askama's HTML escaper (askama 0.14, ``filters/escape.rs`` tests)."""

    def test_the_five_characters(self):
        self.assertEqual(render.escape("<&>"), "&#60;&#38;&#62;")
        self.assertEqual(render.escape("bla&"), "bla&#38;")
        self.assertEqual(render.escape("<foo"), "&#60;foo")
        self.assertEqual(render.escape("bla&h"), "bla&#38;h")
        self.assertEqual(render.escape("\"'"), "&#34;&#39;")
        self.assertEqual(render.escape("<script>alert('x')</script>"),
                         "&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62;")
        for plain in ["", "café ✓ 日本", "a/b=c?d", "&#60;"[1:]]:
            self.assertEqual(render.escape(plain), plain)
        self.assertEqual(render.escape("&#60;"), "&#38;#60;",
                         "an entity is text too")

    def test_pages_escape_every_text(self):
        evil = "<b>\"'&"
        viewer = SessionUser(1, evil, evil)
        photo = Photo(7, evil, 0, evil, evil, evil)
        pages = [
            render.home(viewer, [photo]),
            render.user(viewer, UserPage(User(1, evil, evil, 0), [photo], 2,
                                         True)),
            render.photo(viewer, PhotoPage(photo, [Comment(3, evil, 0, evil,
                                                           evil)], 1, 3)),
            render.error(viewer, 404, evil, evil),
        ]
        for html in pages:
            self.assertNotIn("<b>", html)
            self.assertIn("&#60;b&#62;&#34;&#39;&#38;", html)

    def test_template_branches(self):
        u = User(1, "u", "U", 0)
        empty = render.user(None, UserPage(u, [], 1, False))
        self.assertIn("</ul>\n<p>No photos yet.</p>\n<nav>\n</nav>\n", empty)
        mid = render.user(None, UserPage(u, [], 2, True))
        self.assertIn('<nav> <a rel="prev" href="/user/u?page=1">newer</a> '
                      '<a rel="next" href="/user/u?page=3">older</a>\n</nav>',
                      mid)
        p = Photo(1, "t", 0, "f.jpg", "o", "O")
        self.assertIn("<h2>1 comment</h2>",
                      render.photo(None, PhotoPage(p, [], 1, 0)))
        self.assertIn("<h2>0 comments</h2>\n<p>Log in to comment.</p>",
                      render.photo(None, PhotoPage(p, [], 0, 0)))
        self.assertIn('maxlength="2000" required',
                      render.photo(SessionUser(1, "u", "U"),
                                   PhotoPage(p, [], 0, 0)))
        html = render.home(None, [])
        self.assertTrue(html.endswith("</body>\n</html>"), "no final newline")
        self.assertIn('<main>\n\n<h1>Newest photos</h1>\n<ul class="grid">\n'
                      '</ul>\n\n</main>', html)


class Dates(unittest.TestCase):
    """``model::time`` tests."""

    def test_known_dates(self):
        self.assertEqual(dates.date(0), "1970-01-01")
        self.assertEqual(dates.date_time(1_172_239_500),
                         "2007-02-23 14:05 UTC")
        self.assertEqual(dates.date(951_782_400), "2000-02-29")
        self.assertEqual(dates.date(-86_400), "1969-12-31")
        self.assertEqual(dates.date_time(-1), "1969-12-31 23:59 UTC")

    def test_agrees_with_the_standard_library(self):
        import datetime
        for ts in range(-10**10, 10**11, 987_654_321):
            want = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
            self.assertEqual(dates.date_time(ts),
                             want.strftime("%Y-%m-%d %H:%M UTC"))


class Passwords(unittest.TestCase):
    """``model::password`` tests."""

    def test_round_trip_and_rejections(self):
        h = password.hash_with_salt("pw-user1", bytes([7] * 16), 64)
        self.assertTrue(h.startswith("pbkdf2-sha256$64$0707"))
        self.assertTrue(password.verify("pw-user1", h))
        self.assertFalse(password.verify("pw-user2", h))
        self.assertFalse(password.verify("pw-user1", "garbage"))
        self.assertFalse(password.verify("pw-user1", "pbkdf2-sha256$0$00$00"))
        self.assertFalse(password.verify("", password.DUMMY_HASH))
        fresh = password.hash_password("é<script>")
        self.assertTrue(password.verify("é<script>", fresh))
        self.assertNotEqual(fresh, password.hash_password("é<script>"))
        self.assertEqual(password.seeded_password("user42"), "pw-user42")

    def test_malformed_stored_hashes_never_match(self):
        good = password.hash_with_salt("x", b"\x01" * 16, 3)
        head, iters, salt, want = good.split("$")
        for bad in [f"{head}${iters}${salt}", f"{head}${iters}${salt}${want}$",
                    f"pbkdf2-sha1${iters}${salt}${want}",
                    f"{head}$ 3${salt}${want}", f"{head}$-3${salt}${want}",
                    f"{head}$3${salt}${want[:-2]}",
                    f"{head}$3${salt}${want[:-1]}",
                    f"{head}$3${salt}${want[:-2]}zz",
                    f"{head}$99999999999${salt}${want}"]:
            self.assertFalse(password.verify("x", bad), bad)
        self.assertTrue(password.verify("x", f"{head}$+3${salt}${want}"),
                        "Rust's u32 parser takes a leading +")

    def test_checks_hashes_the_seeding_tool_wrote(self):
        # Copied from a database the Rust seeding tool built.
        seeded = {
            "user1": "pbkdf2-sha256$64$506a0f56b0abe11cc454596e7c05a12c$"
                     "dd98419fc9e88ac4d402a97b08be1808"
                     "569441588e57074c3545a40c1723b6fe",
            "user2": "pbkdf2-sha256$64$8fc670d68d8669ea84ec1680a13be9d9$"
                     "dd884df3b407045659eda86c5b9f9a71"
                     "f2f9a196ece3833d13370e75f1dadea8",
        }
        for user, stored in seeded.items():
            self.assertTrue(password.verify(f"pw-{user}", stored))
            self.assertFalse(password.verify(f"pw-{user}x", stored))


class Parsing(unittest.TestCase):
    """``app::http`` tests, and the edge cases around them."""

    def test_decoding(self):
        self.assertEqual(http.percent_decode("a%20b+c", True), "a b c")
        self.assertEqual(http.percent_decode("a%20b+c", False), "a b+c")
        self.assertEqual(http.percent_decode("caf%C3%A9", False), "café")
        for bad in ["%zz", "%", "%a", "a%2", "%ff%fe", "%C3", "%ED%A0%80"]:
            with self.assertRaises(BadRequest, msg=bad):
                http.percent_decode(bad, False)
        self.assertEqual(http.segments("/"), [])
        self.assertEqual(http.segments("/user/a%2Fb"), ["user", "a/b"])
        self.assertEqual(http.segments("/user/x/"), ["user", "x", ""])
        self.assertEqual(http.segments("//"), ["", ""])
        with self.assertRaises(BadRequest):
            http.segments("user")

    def test_messages(self):
        for s, msg in [("%zz", "Malformed percent-escape in the request."),
                       ("%ff", "The request is not valid UTF-8.")]:
            with self.assertRaises(BadRequest) as cm:
                http.percent_decode(s, False)
            self.assertEqual(cm.exception.detail, msg)

    def test_forms_and_cookies(self):
        p = http.form_pairs("username=user1&password=pw-user1&x")
        self.assertEqual(http.field_value(p, "username"), "user1")
        self.assertEqual(http.field_value(p, "x"), "")
        self.assertIsNone(http.field_value(p, "nope"))
        self.assertEqual(http.form_pairs("&&a=1&&a=2"),
                         [("a", "1"), ("a", "2")])
        self.assertEqual(http.cookie("a=1; sid=abc; b=2", "sid"), "abc")
        self.assertEqual(http.cookie(";;; =; sid", "sid"), None)
        self.assertEqual(http.cookie('sid="q"', "sid"), "q")
        self.assertEqual(http.cookie("sid =x; sid=y", "sid"), "y")
        self.assertIsNone(http.cookie(None, "sid"))
        self.assertEqual(http.url_authority("http://127.0.0.1:8002/login"),
                         "127.0.0.1:8002")
        self.assertEqual(http.url_authority("https://h?x"), "h")
        self.assertEqual(http.url_authority("https://h#x/y"), "h")
        self.assertIsNone(http.url_authority("null"))

    def test_form_bodies(self):
        def body(b, ct="application/x-www-form-urlencoded; charset=utf-8"):
            return http.form_body(Request(method="POST", content_type=ct,
                                          body=b))
        self.assertEqual(body(b"a=1"), [("a", "1")])
        self.assertEqual(body(b"a=1", None), [("a", "1")])
        self.assertEqual(body(b"a=1", " APPLICATION/X-WWW-FORM-URLENCODED"),
                         [("a", "1")])
        with self.assertRaises(UnsupportedMediaType):
            body(b"a=1", "text/plain")
        with self.assertRaises(UnsupportedMediaType):
            body(b"a=1", "multipart/form-data; boundary=x")
        with self.assertRaises(BadRequest):
            body(b"a=\xff")
        with self.assertRaises(TooLarge):
            body(b"x" * (http.MAX_BODY_BYTES + 1))

    def test_rust_trim_is_not_str_strip(self):
        self.assertEqual(http.rust_strip("\u3000 a \n"), "a")
        self.assertEqual(http.rust_strip("\x1fa\x1c"), "\x1fa\x1c")

    def test_header_values_as_hyper_sees_them(self):
        self.assertEqual(http.header_text("a=1;\tb"), "a=1;\tb")
        self.assertIsNone(http.header_text("sid=\x01"))
        self.assertIsNone(http.header_text("sid=\xe9"))
        self.assertIsNone(http.header_text(None))


class Handlers(unittest.TestCase):
    """Input rules of ``app::handlers``."""

    def test_pages_and_names(self):
        """``handlers::user::tests::pages_and_names``"""
        self.assertEqual(handlers.parse_page(None), 1)
        self.assertEqual(handlers.parse_page("page=3&x=1"), 3)
        for bad in ["page=0", "page=-1", "page=+1", "page=abc",
                    "page=99999999999", "page=100001", "page=", "page=٣"]:
            with self.assertRaises(BadRequest, msg=bad):
                handlers.parse_page(bad)
        self.assertEqual(handlers.parse_page("page=100000"), 100_000)
        self.assertTrue(handlers.canonical_user_query("page=2"))
        self.assertTrue(handlers.canonical_user_query(""))
        for q in ["page=1", "page=02", "page=2&x", "x=1"]:
            self.assertFalse(handlers.canonical_user_query(q), q)

    def test_photo_ids(self):
        self.assertEqual(handlers.parse_id("007"), 7)
        self.assertEqual(handlers.parse_id(str(2**63 - 1)), 2**63 - 1)
        for bad in ["0", "-1", "+1", "abc", "", str(2**63), "١", " 1"]:
            with self.assertRaises(BadRequest, msg=bad):
                handlers.parse_id(bad)

    def test_photo_file_names(self):
        """``handlers::static_photo::tests::names``"""
        for ok in ["p0001.jpg", "a-b_c.jpg", "x" * 64 + ".jpg"]:
            self.assertTrue(handlers.valid_photo_name(ok), ok)
        for bad in ["../x.jpg", "..", "a/b.jpg", "a\\b.jpg", ".jpg", "p1.png",
                    "p1.jpg\0", "%2e%2e.jpg", "p 1.jpg", "x" * 65 + ".jpg",
                    "é.jpg"]:
            self.assertFalse(handlers.valid_photo_name(bad), bad)

    def test_origin_check(self):
        """``handlers::login::tests::origin_check``"""
        r = Request(method="POST", path="/login", host="127.0.0.1:8002")
        handlers.same_origin(r)
        r.origin = "http://127.0.0.1:8002"
        handlers.same_origin(r)
        r.origin = "HTTP://127.0.0.1:8002"
        handlers.same_origin(r)
        for origin, referer in [("https://evil.example", None), ("null", None),
                                (None, "http://evil.example/x"),
                                ("http://127.0.0.1:8002", "x"),  # Origin wins
                                ("garbage", None)]:
            r.origin, r.referer = origin, referer
            if origin == "http://127.0.0.1:8002":
                handlers.same_origin(r)
                continue
            with self.assertRaises(Forbidden):
                handlers.same_origin(r)
        r.origin, r.referer = None, "http://127.0.0.1:8002/photo/1"
        handlers.same_origin(r)
        r.host = None
        with self.assertRaises(Forbidden):
            handlers.same_origin(r)


class Keys(unittest.TestCase):
    """``app::pages::tests::keys_match_nginx``"""

    def test_keys_match_nginx(self):
        def key(path, query=None):
            return page_key(Request(path=path, query=query), lambda q: q == "")
        self.assertEqual(key("/photo/12"), "/photo/12?")
        self.assertEqual(key("/photo/12", ""), "/photo/12?")
        self.assertIsNone(key("/photo/12", "x=1"))
        self.assertIsNone(key("/photo/%31"))
        self.assertIsNone(key("/a/../photo/1"))
        self.assertIsNone(key("/photo/./1"))
        self.assertIsNone(key("//photo/1"))
        self.assertEqual(escape_memcached_key("/user/x?page=1"),
                         "/user/x?page=1")
        self.assertEqual(escape_memcached_key("a b%\x01é"), "a%20b%25%01é")
        self.assertEqual(escape_memcached_key("\x7f"), "\x7f")


class Sessions(unittest.TestCase):
    """``app::sessions`` tests."""

    def test_ids(self):
        a = new_id("i1-")
        self.assertTrue(a.startswith("i1-") and len(a) == 35)
        self.assertTrue(plausible_id(a))
        self.assertNotEqual(new_id(), new_id())
        self.assertFalse(plausible_id("short"))
        self.assertFalse(plausible_id("' OR 1=1 -- " + "a" * 30))
        self.assertFalse(plausible_id("A" * 32))

    def test_memory_store_expires_and_deletes(self):
        s = MemorySessions("i0-")
        u = SessionUser(1, "user1", "A")
        sid = s.create(u, 100, 10)
        self.assertEqual(s.load(sid, 105), u)
        self.assertIsNone(s.load(sid, 111), "expired")
        self.assertEqual(len(s), 0, "an expired session is dropped")
        sid = s.create(u, 100, 10)
        s.delete(sid)
        self.assertIsNone(s.load(sid, 101))


class TimingHeader(unittest.TestCase):
    """``app::timing::tests::sums_and_formats``"""

    def test_sums_and_formats(self):
        t = Timing()
        t.add("query", 200e-6)
        t.add("render", 50e-6)
        t.add("query", 13e-6)
        before = Timing()
        before.add("db-open", 1500e-6)
        t.prepend(before)
        self.assertEqual(t.header_value(),
                         "db-open;dur=1.500, query;dur=0.213, "
                         "render;dur=0.050")


class CgiEnvironment(unittest.TestCase):
    """``stage_1::program`` tests."""

    def env(self, **kv):
        return cgienv.CgiEnv({k.encode(): v.encode() for k, v in kv.items()})

    def test_reads_the_rfc3875_environment(self):
        e = self.env(REQUEST_METHOD="POST",
                     REQUEST_URI="/photo/3/comments?x=1",
                     PATH_INFO="/photo/3/comments", QUERY_STRING="x=1",
                     CONTENT_LENGTH="12",
                     CONTENT_TYPE="application/x-www-form-urlencoded",
                     HTTP_COOKIE="sid=abc")
        self.assertEqual((e.method, e.path, e.query, e.content_length,
                          e.cookie),
                         ("POST", "/photo/3/comments", "x=1", 12, "sid=abc"))

    def test_raw_path_wins_and_script_prefix_is_removed(self):
        e = self.env(REQUEST_METHOD="GET", REQUEST_URI="/user/a%2Fb",
                     PATH_INFO="/user/a/b")
        self.assertEqual(e.path, "/user/a%2Fb")
        e = self.env(REQUEST_METHOD="GET", SCRIPT_NAME="/fk.cgi",
                     REQUEST_URI="/fk.cgi/photo/1")
        self.assertEqual(e.path, "/photo/1")
        e = self.env(REQUEST_METHOD="GET", SCRIPT_NAME="/fk.cgi",
                     REQUEST_URI="/fk.cgix/photo/1")
        self.assertEqual(e.path, "/fk.cgix/photo/1")
        e = self.env(REQUEST_METHOD="GET", PATH_INFO="/user/a b")
        self.assertEqual(e.path, "/user/a%20b")
        self.assertEqual(self.env(REQUEST_METHOD="GET").path, "/")

    def test_rejects_what_is_not_a_request(self):
        with self.assertRaises(cgienv.NotCgi):
            self.env()
        with self.assertRaises(cgienv.BadCgi):
            self.env(REQUEST_METHOD="GET", CONTENT_LENGTH="-1")
        with self.assertRaises(cgienv.BadCgi):
            self.env(REQUEST_METHOD="GET", REQUEST_URI="http://x/")
        self.assertEqual(self.env(REQUEST_METHOD="GET",
                                  CONTENT_LENGTH=" +5 ").content_length, 5)

    def test_response_block(self):
        r = http.Response.see_other("/x\r\nSet-Cookie: evil")
        out = cgienv.write_response(r, "python-1 pid=1", False).decode()
        self.assertTrue(out.startswith("Status: 303 See Other\r\n"), out)
        self.assertIn("location: /x  Set-Cookie: evil\r\n", out)
        self.assertTrue(out.endswith("Content-Length: 0\r\n\r\n"))
        page = http.Response.html(200, "héllo")
        out = cgienv.write_response(page, "p", True)
        self.assertTrue(out.endswith(b"Content-Length: 6\r\n\r\n"), out)


class RequestTargets(unittest.TestCase):
    """How the CherryPy transport splits a raw request target."""

    def test_targets(self):
        from flickrkillr.server import _raw_target
        self.assertEqual(_raw_target("/user/a%2Fb?page=2"),
                         ("/user/a%2Fb", "page=2"))
        self.assertEqual(_raw_target("/photo/1?"), ("/photo/1", ""))
        self.assertEqual(_raw_target("/photo/1"), ("/photo/1", None))
        self.assertEqual(_raw_target("http://h:1/user/x?page=2"),
                         ("/user/x", "page=2"))
        self.assertEqual(_raw_target("http://h?x=1"), ("/", "x=1"))
        self.assertEqual(_raw_target("http://h"), ("/", None))
        self.assertEqual(_raw_target("/user/\xc3\xa9"), ("/user/é", None))
        with self.assertRaises(BadRequest):
            _raw_target("/user/\xff")
        self.assertEqual(_raw_target("*"), ("*", None))


class CgiProgramImportsNoFramework(unittest.TestCase):
    """The CGI program loads the standard library only, and little of it."""

    def test_imports(self):
        import subprocess
        import sys
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        code = ("import sys, runpy; sys.argv=['fk_cgi.py'];"
                f"sys.path.insert(0, {here!r});"
                "import fk_cgi;"
                "bad = [m for m in ('cherrypy', 'cheroot', 'pymemcache', 're',"
                " 'typing', 'logging', 'json', 'dataclasses')"
                " if m in sys.modules];"
                "print(','.join(bad))")
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([sys.executable, "-c", code], cwd=d, env={},
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "",
                         "modules every CGI request would pay for")


if __name__ == "__main__":
    unittest.main()
