"""The CGI program's side of RFC 3875 (``crates/stage-1/src/program.rs``):
the request from the environment and stdin, the response as a header block
and a body on stdout.

Standard library only: the CGI program must start fast and must not load
CherryPy. (The standard library's own ``cgi`` module is not used either: it
is deprecated, removed in Python 3.13, and parses forms its own way.)
"""

from collections.abc import Mapping

from .errors import reason
from .http import Request, Response, rust_strip

__all__ = ["NotCgi", "BadCgi", "CgiEnv",
           "write_response"]


class NotCgi(Exception):
    """``REQUEST_METHOD`` is not set: not started by a CGI server."""

    def __str__(self) -> str:
        return ("REQUEST_METHOD is not set: this is a CGI program; run it "
                "from a CGI server (or through the stage-1 host)")


class BadCgi(Exception):
    """The environment is not a usable CGI request (answered with a 400)."""


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        b"0123456789/-._~")
_DIGITS = frozenset("0123456789")


def _encode_path(raw: bytes) -> str:
    """Percent-encodes every byte outside RFC 3986's unreserved set and
    ``/``, so a decoded ``PATH_INFO`` becomes a raw path the site can
    decode again."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in raw)


class CgiEnv:
    """The request meta-variables a CGI program reads (RFC 3875 §4.1)."""

    __slots__ = ("method", "path", "query", "content_length", "content_type",
                 "cookie", "host", "origin", "referer")

    def __init__(self, environ: Mapping[bytes, bytes]):
        """Reads the meta-variables from ``os.environb`` (or a dict in tests).

        The path: RFC 3875's ``PATH_INFO`` is already percent-decoded, which
        loses the difference between ``/`` and ``%2F``. Servers (lighttpd,
        Apache, the stage-1 host) also pass the raw ``REQUEST_URI``; when it
        is there its path is used, minus ``SCRIPT_NAME`` if the script is
        mounted under a prefix. Otherwise ``PATH_INFO`` is re-encoded.
        """
        def text(k: str) -> str | None:
            v = environ.get(k.encode())
            if not v:
                return None
            try:
                return v.decode("utf-8")
            except UnicodeDecodeError:
                return None

        method = text("REQUEST_METHOD")
        if method is None:
            raise NotCgi()
        script = text("SCRIPT_NAME") or ""
        uri = text("REQUEST_URI")
        if uri is not None:
            raw = uri.split("?", 1)[0].split("#", 1)[0]
            rest = raw
            if script and raw.startswith(script):
                r = raw[len(script):]
                if not r or r.startswith("/"):
                    rest = r
            path = rest or "/"
        else:
            pi = environ.get(b"PATH_INFO")
            path = _encode_path(pi) if pi else "/"
        if not path.startswith("/"):
            raise BadCgi("the request path does not start with '/'")
        length = text("CONTENT_LENGTH")
        if length is not None:
            length = rust_strip(length)
            digits = length[1:] if length.startswith("+") else length
            if not digits or not set(digits) <= _DIGITS:
                raise BadCgi("CONTENT_LENGTH is not a number")
        self.method = method
        self.path = path
        self.query = text("QUERY_STRING")
        self.content_length = int(length) if length is not None else None
        self.content_type = text("CONTENT_TYPE")
        self.cookie = text("HTTP_COOKIE")
        self.host = text("HTTP_HOST")
        self.origin = text("HTTP_ORIGIN")
        self.referer = text("HTTP_REFERER")

    def request(self, body: bytes) -> Request:
        """The site's request view."""
        return Request(self.method, self.path, self.query, self.cookie,
                       self.content_type, self.host, self.origin, self.referer,
                       body)


def write_response(resp: Response, served_by: str, head_only: bool) -> bytes:
    """The CGI response: a ``Status:`` line, the headers, a blank line, the
    body (RFC 3875 §6).

    Header values come from our own code; a line break in one would forge
    headers, so any are replaced. For HEAD (``head_only``) the body is left
    out, as RFC 3875 §4.3.3 asks of the script, but ``Content-Length`` still
    says what GET would send.
    """
    def clean(v: str) -> str:
        return v.replace("\r", " ").replace("\n", " ")

    lines = [f"Status: {resp.status} {reason(resp.status)}"]
    lines.extend(f"{n}: {clean(v)}" for n, v in resp.headers)
    lines.append(f"X-Served-By: {served_by}")
    timing = resp.timing.header_value()
    if timing:
        lines.append(f"Server-Timing: {timing}")
    lines.append(f"Content-Length: {len(resp.body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head if head_only else head + resp.body
