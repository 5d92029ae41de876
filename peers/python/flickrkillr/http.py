"""The request and response as the site sees them (``crates/app/src/http.rs``).

Plain objects, filled in by whichever transport carries the request (a CGI
environment, CherryPy), plus the small parsers every web framework has:
percent-decoding, forms, query strings, cookies. Each raises
:class:`~flickrkillr.errors.BadRequest` rather than guessing.

Routing works on the **raw** path, exactly as sent on the request line
(``/user/a%2Fb`` is one segment, ``a/b``), not on a path the server has
already decoded: a decoded path has lost the difference between ``/`` and
``%2F``, and a server that decodes with ``errors='replace'`` turns invalid
UTF-8 into a user name. Malformed escapes and invalid UTF-8 are 400s.
"""

from .errors import BadRequest, TooLarge, UnsupportedMediaType
from .timing import Timing

__all__ = ["MAX_BODY_BYTES", "HTML", "Request", "Response", "percent_decode",
           "segments", "form_pairs", "field_value", "cookie", "form_body",
           "url_authority", "header_text", "rust_strip"]

#: Largest request body accepted (forms are small; comments are at most
#: 2,000 characters, about 8 KiB percent-encoded in the worst case).
MAX_BODY_BYTES = 16 * 1024

#: ``Content-Type`` of every page.
HTML = "text/html; charset=utf-8"

#: What Rust's ``str::trim`` removes: the Unicode ``White_Space`` characters.
#: (``str.strip()`` would also remove U+001C..U+001F, which Rust keeps.)
RUST_WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003"
                   "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029"
                   "\u202f\u205f\u3000")


def rust_strip(s: str) -> str:
    """``str::trim`` of the Rust code."""
    return s.strip(RUST_WHITESPACE)


def header_text(value: str | None) -> str | None:
    """A header value as the Rust transports see it, or ``None``.

    hyper's ``HeaderValue::to_str`` only succeeds for visible ASCII (and
    tab); anything else counts as absent. Servers hand Python header values
    as latin-1 text, so a value with a control or non-ASCII byte is dropped
    here the same way (a garbage cookie is an anonymous visitor).
    """
    if value is None:
        return None
    for ch in value:
        o = ord(ch)
        if not (32 <= o < 127 or o == 9):
            return None
    return value


class Request:
    """A request, as the transport received it."""

    __slots__ = ("method", "path", "query", "cookie", "content_type", "host",
                 "origin", "referer", "body")

    def __init__(self, method: str = "GET", path: str = "/",
                 query: str | None = None, cookie: str | None = None,
                 content_type: str | None = None, host: str | None = None,
                 origin: str | None = None, referer: str | None = None,
                 body: bytes = b""):
        self.method = method              # exactly as sent
        self.path = path                  # still percent-encoded
        self.query = query                # without '?'
        self.cookie = cookie
        self.content_type = content_type
        self.host = host                  # for the cross-site form check
        self.origin = origin
        self.referer = referer
        self.body = body                  # already bounded by MAX_BODY_BYTES


class Response:
    """A response, handed back to the transport.

    ``headers`` are the site's own (lower-case names, as in Rust); every
    transport adds ``Date``, ``Content-Length``, ``Server-Timing`` and
    ``X-Served-By``.
    """

    __slots__ = ("status", "headers", "body", "timing")

    def __init__(self, status: int,
                 headers: list[tuple[str, str]] | None = None,
                 body: bytes = b"", timing: Timing | None = None):
        self.status = status
        self.headers = headers if headers is not None else []
        self.body = body
        self.timing = timing if timing is not None else Timing()

    @classmethod
    def html(cls, status: int, body: str) -> "Response":
        """A page."""
        return cls(status, [("content-type", HTML)], body.encode())

    @classmethod
    def see_other(cls, location: str) -> "Response":
        """A 303 redirect: the answer to a form post ("redirect after
        post")."""
        return cls(303, [("location", location), ("content-type", HTML)])

    def header(self, name: str) -> str | None:
        for n, v in self.headers:
            if n == name:
                return v
        return None


_HEXVAL = {c: int(c, 16) for c in "0123456789abcdefABCDEF"}


def percent_decode(s: str, plus_is_space: bool) -> str:
    """Percent-decodes ``s`` (and ``+`` as a space when ``plus_is_space``,
    as forms do).

    Malformed escapes and invalid UTF-8 are errors, not replacement
    characters (``urllib.parse.unquote`` would silently keep the one and
    replace the other).
    """
    if "%" not in s and not (plus_is_space and "+" in s):
        return s
    raw = s.encode()
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        b = raw[i]
        if b == 0x25:  # '%'
            h = _HEXVAL.get(chr(raw[i + 1])) if i + 1 < n else None
            lo = _HEXVAL.get(chr(raw[i + 2])) if i + 2 < n else None
            if h is None or lo is None:
                raise BadRequest("Malformed percent-escape in the request.")
            out.append(h << 4 | lo)
            i += 3
        elif b == 0x2B and plus_is_space:  # '+'
            out.append(0x20)
            i += 1
        else:
            out.append(b)
            i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request is not valid UTF-8.") from None


def segments(path: str) -> list[str]:
    """The decoded segments of ``/a/b%20c`` → ``["a", "b c"]``.

    A trailing slash yields an empty last segment, so ``/user/x/`` is not
    ``/user/x``.
    """
    if not path.startswith("/"):
        raise BadRequest("The request path must start with '/'.")
    rest = path[1:]
    if not rest:
        return []
    return [percent_decode(seg, False) for seg in rest.split("/")]


def form_pairs(s: str) -> list[tuple[str, str]]:
    """Decoded ``name=value`` pairs of a query string or a form body."""
    pairs = []
    for pair in s.split("&"):
        if not pair:
            continue
        k, _, v = pair.partition("=")
        pairs.append((percent_decode(k, True), percent_decode(v, True)))
    return pairs


def field_value(pairs: list[tuple[str, str]], name: str) -> str | None:
    """The first value of ``name`` among form pairs."""
    for k, v in pairs:
        if k == name:
            return v
    return None


def cookie(header: str | None, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header.

    Garbage yields ``None``, never an error: a bad cookie is an anonymous
    visitor. (``http.cookies.SimpleCookie`` is not used: it raises on some
    malformed headers and silently drops everything after others.)
    """
    if header is None:
        return None
    for kv in header.split(";"):
        k, eq, v = rust_strip(kv).partition("=")
        if eq and k == name:
            return v.strip('"')
    return None


def form_body(req: Request) -> list[tuple[str, str]]:
    """The form body of a POST: checks the content type, UTF-8 and encoding."""
    if len(req.body) > MAX_BODY_BYTES:
        raise TooLarge()
    ct = req.content_type
    if ct is None:
        ct = "application/x-www-form-urlencoded"
    mime = rust_strip(ct.split(";", 1)[0])
    # eq_ignore_ascii_case: ASCII only (str.lower() folds more).
    if (not mime.isascii()
            or mime.lower() != "application/x-www-form-urlencoded"):
        raise UnsupportedMediaType()
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The form is not valid UTF-8.") from None
    return form_pairs(text)


def url_authority(url: str) -> str | None:
    """The host part of an absolute URL (``https://example.com:8080/x`` →
    ``example.com:8080``), for the cross-site form check."""
    _, sep, rest = url.partition("://")
    if not sep:
        return None
    end = len(rest)
    for ch in "/?#":
        i = rest.find(ch)
        if i != -1 and i < end:
            end = i
    return rest[:end]
