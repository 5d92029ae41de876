"""The site under CherryPy: the app server of python-2, -3 and -4.

The talk's second iteration replaced CGI with "a Python web server
(long-running process)" — CherryPy — and "one db connection per thread
instead of request". This module is that server, with CherryPy 18 and its
HTTP server, cheroot:

- **Threads.** cheroot's worker pool (``--threads``) takes a connection
  when a request arrives on it and runs the whole request in that thread:
  parsing, the site's handling, writing the answer. Each thread opens its
  own SQLite connection the first time it serves a request, on CherryPy's
  ``start_thread`` channel (the idiom of CherryPy's own documentation), and
  keeps it: the ``db-open`` phase appears once per thread, not per request.
- **The GIL** is real here: only one thread runs Python at a time, and
  ``sqlite3``, socket and file calls let it go while they wait. That is why
  one process uses at most one core, and why python-3 runs several.
- **CherryPy as a frame, the site as written once.** The site routes on the
  raw path, parses its own forms and cookies and renders its own pages, as
  the Rust stages do; CherryPy's own versions of those (its dispatcher, its
  query-string and cookie parsing, its body processing, its sessions and
  encoding tools) are switched off below, each for a reason given where it
  is done.

Protocol behaviour the Rust servers have and cheroot lacks is added here:

- A request **head** must be complete within 10 s (of the connection, or
  on a kept-alive connection of the next request's first byte) and a
  **body** within 10 s of its head. cheroot's own timeout restarts with
  every ``recv``, so a client trickling a byte every 9 s would hold a worker
  forever; :class:`_DeadlineIO` turns a deadline into per-``recv``
  timeouts. A late head is cut off (cheroot answers 408 and closes), a late
  body gets the site's 408 page.
- A body over 16 KiB gets the site's 413 page (not cheroot's), without being
  read, and the connection is closed.
- **HEAD** is served wherever GET is: the site handles it as GET and
  CherryPy sends the same status and headers, ``Content-Length`` included,
  without the body.
- A client that sends its request and then half-closes its socket
  (``shutdown(SHUT_WR)``) still gets its answer: cheroot reads the request,
  the answer is written, and the end of the stream is seen only when the
  next request would be read.
- **An inherited listening socket** (``--listen-fd``, how the stage-3/4
  supervisors start instances) is served as it is: it is never bound again
  and its backlog is left as the supervisor set it.
"""

import errno
import logging
import os
import socket
import sqlite3
import sys
import threading
import time

import cheroot.errors
import cheroot.makefile
import cheroot.server
import cheroot.wsgi
import cherrypy
from cherrypy import _cprequest, _cpserver, _cpwsgi_server
from cherrypy.process import plugins

from . import app, errors, schema
from .cache import DiskPhotos, NO_CACHE
from .errors import AppError
from .http import MAX_BODY_BYTES, Request, header_text
from .sessions import MemorySessions, SqliteSessions
from .timing import Timing

__all__ = ["ServerConfig", "serve", "HEADER_READ_TIMEOUT", "BODY_READ_TIMEOUT"]

log = logging.getLogger("flickrkillr.server")

#: A client that has not sent its whole request head within this time is cut
#: off (``web::HEADER_READ_TIMEOUT``). Also how long an idle keep-alive
#: connection is kept.
HEADER_READ_TIMEOUT = 10.0
#: A request body must arrive within this time once its head has
#: (``web::BODY_READ_TIMEOUT``).
BODY_READ_TIMEOUT = 10.0
#: Largest request head accepted (``web::MAX_HEAD_BYTES``); cheroot answers
#: 413 (request line: 414) past it.
MAX_HEAD_BYTES = 16 * 1024
#: How long a stop waits for in-flight requests (``web::SHUTDOWN_GRACE``).
SHUTDOWN_GRACE = 10.0
#: Connections the kernel queues before the server accepts them (when it
#: binds the socket itself; an inherited socket keeps its backlog).
BACKLOG = 1024
#: Handling slower than this is logged (at most once a second): a worker
#: thread was blocked that long, which is what a database without its
#: indexes does (``appserver::SLOW_REQUEST``).
SLOW_REQUEST = 0.1


class ServerConfig:
    """Everything ``fk_serve.py`` decided from its command line."""

    def __init__(self, *, db: str, photos: str, threads: int,
                 sessions: str, served_by: str, tag: str,
                 listen: tuple[str, int] | None = None,
                 listen_fd: int | None = None,
                 session_ttl: int, secure_cookies: bool,
                 memcached: list[str] | None = None,
                 page_ttl: int = 300, photo_ttl: int = 86_400):
        self.db = db
        self.photos = photos
        self.threads = threads
        self.sessions = sessions          # "sqlite" | "memory" | "memcached"
        self.served_by = served_by        # first word of X-Served-By
        self.tag = tag                    # last word of X-Served-By, id prefix
        self.listen = listen
        self.listen_fd = listen_fd
        self.session_ttl = session_ttl
        self.secure_cookies = secure_cookies
        self.memcached = memcached or []
        self.page_ttl = page_ttl
        self.photo_ttl = photo_ttl


# --- Deadlines on a connection's reads --------------------------------------

class _DeadlineIO(socket.SocketIO):
    """The raw reader under a connection's buffered ``rfile``.

    ``socket.settimeout`` bounds each ``recv``; a deadline bounds a whole
    request head or body: while one is armed, every ``recv`` gets the time
    that is left (and none at all once it has passed).
    """

    deadline: float | None = None

    def arm(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def disarm(self) -> None:
        self.deadline = None

    def readinto(self, b):
        deadline = self.deadline
        if deadline is None:
            return super().readinto(b)
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")  # what cheroot checks for
        idle = self._sock.gettimeout()
        self._sock.settimeout(left if idle is None else min(left, idle))
        try:
            return super().readinto(b)
        finally:
            self._sock.settimeout(idle)


class _DeadlineReader(cheroot.makefile.StreamReader):
    """cheroot's socket reader, over a :class:`_DeadlineIO`."""

    def __init__(self, sock, mode="rb", bufsize=8192):
        # StreamReader.__init__ would build a plain SocketIO; this is its
        # body with ours (cheroot's readers are _pyio.BufferedReaders).
        cheroot.makefile.io.BufferedReader.__init__(
            self, _DeadlineIO(sock, mode), bufsize)
        self.bytes_read = 0


def _makefile(sock, mode="r", bufsize=8192):
    if "r" in mode:
        return _DeadlineReader(sock, mode, bufsize)
    return cheroot.makefile.MakeFile(sock, mode, bufsize)


class _Request(_cpwsgi_server.CPWSGIHTTPRequest):
    """cheroot's request, with a deadline on the request head, and whose
    answer leaves in one send.

    cheroot sends a response's head and its body in separate writes. Behind
    nginx that matters the day an instance dies between the two: nginx has
    already passed the head on, so it cannot retry the request elsewhere,
    and the client gets a cut-off answer (measured: 2 of ~5,800 GETs while
    an instance was killed). The Rust server writes head and body together;
    so does this one: the head is held back and sent with the body's first
    bytes (or alone, when there is no body, at the end of the request).
    """

    _held_head = b""

    def parse_request(self):
        raw = self.conn.rfile.raw
        raw.arm(HEADER_READ_TIMEOUT)
        try:
            super().parse_request()
        finally:
            raw.disarm()

    def send_headers(self):
        if self.chunked_write:
            # A chunked body ends with a terminator cheroot writes itself:
            # the head must not be held behind it.
            return super().send_headers()
        held = []
        wfile = self.conn.wfile
        wfile.write = held.append  # shadows the method for this one call
        try:
            super().send_headers()
        finally:
            del wfile.write
        self._held_head = b"".join(held)

    def write(self, chunk):
        head, self._held_head = self._held_head, b""
        if head and not self.chunked_write:
            self.conn.wfile.write(head + chunk)
        else:
            if head:
                self.conn.wfile.write(head)
            super().write(chunk)

    def respond(self):
        try:
            super().respond()
        finally:
            head, self._held_head = self._held_head, b""
            if head:
                self.conn.wfile.write(head)


class _Connection(cheroot.server.HTTPConnection):
    """A client connection whose reads can carry a deadline."""

    RequestHandlerClass = _Request

    def __init__(self, server, sock, makefile=None):
        # No Nagle delay: cheroot writes the head and the body of a response
        # in separate sends. (Set per connection, as the Rust server does,
        # not on the listening socket, which may be the supervisor's.)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().__init__(server, sock, _makefile)


class _Gateway(cheroot.wsgi.Gateway_10):
    """The WSGI gateway, plus the cheroot request in the environ: the site's
    body reading arms its deadline and, when it gives up on a body, tells
    cheroot to close the connection instead of reading the rest."""

    def get_environ(self):
        env = super().get_environ()
        env["flickrkillr.cheroot_request"] = self.req
        return env


class _ListeningSocket(socket.socket):
    """A socket that is already bound and listening when cheroot gets it.

    cheroot calls ``listen()`` on the socket it serves; on an inherited one
    that would change the backlog the supervisor chose, so it is a no-op
    (the sockets this module binds itself listen before they get here).
    """

    def listen(self, backlog=None):
        pass


class _HTTPServer(_cpwsgi_server.CPWSGIServer):
    """CherryPy's HTTP server with the classes above, on a socket that is
    already bound and listening (never bound again)."""

    def __init__(self, adapter, listener: socket.socket):
        self._listener = listener
        adapter.bind_addr = listener.getsockname()[:2]
        super().__init__(adapter)
        self.ConnectionClass = _Connection
        self.gateway = _Gateway

    def bind(self, family, type, proto=0):
        # cheroot's prepare() calls this to create and bind its socket:
        # serve ours instead, exactly as it is.
        self.socket = self._listener
        self.bind_addr = self._listener.getsockname()[:2]
        return self.socket


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, with an error that says what to do.

    Bound here rather than by cheroot so that a busy port is one clear line
    and exit status 1 before anything starts (CherryPy's engine would
    otherwise stop the process with status 70 from inside its start).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = _ListeningSocket(family, socket.SOCK_STREAM)
    try:
        if port != 0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        socket.socket.listen(sock, BACKLOG)
    except OSError as e:
        sock.close()
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if e.errno == errno.EADDRINUSE:
            raise ValueError(
                f"cannot listen on {shown}: the port is already in use; "
                "choose another with --listen (port 0 picks a free one)"
            ) from None
        raise ValueError(f"cannot listen on {shown}: {e}") from None
    return sock


def adopt_listening_fd(fd: int) -> socket.socket:
    """The listening TCP socket at ``fd``, after checking that it is one
    (the checks of the Rust ``cluster::inherit::listener_from_fd``)."""
    if fd <= 2:
        raise ValueError(f"--listen-fd {fd}: 0, 1 and 2 are stdin, stdout "
                         "and stderr")
    try:
        os.fstat(fd)
    except OSError:
        raise ValueError(f"--listen-fd {fd}: not an open file descriptor "
                         "(start instances through a stage, or use --listen)"
                         ) from None
    try:
        probe = socket.socket(fileno=fd)
    except OSError as e:
        raise ValueError(f"--listen-fd {fd}: not a socket: {e}") from None
    family, kind = probe.family, probe.type
    listening = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    probe.detach()  # the probe must not close the fd
    tcp = (socket.AF_INET, socket.AF_INET6)
    if kind != socket.SOCK_STREAM or family not in tcp:
        raise ValueError(f"--listen-fd {fd}: not a TCP socket")
    if not listening:
        raise ValueError(f"--listen-fd {fd}: the socket is not listening")
    sock = _ListeningSocket(family, kind, fileno=fd)
    sock.set_inheritable(False)  # not passed further down
    return sock


# --- The site as one CherryPy handler ---------------------------------------

class _SiteRequest(_cprequest.Request):
    """CherryPy's request, minus the parsing the site does itself.

    - ``process_query_string``: CherryPy would decode the query into
      handler arguments and answer 404 for invalid UTF-8; the site reads
      ``?page=`` itself and answers 400, as the Rust stages.
    - ``process_headers``: CherryPy would parse ``Cookie`` with
      ``http.cookies`` (a 400 for some garbage cookies, which must be an
      anonymous visitor instead), decode RFC 2047 words in every header,
      and refuse HTTP/1.1 requests without ``Host`` (hyper serves them).
    """

    def process_query_string(self):
        pass

    def process_headers(self):
        headers = self.headers
        for name, value in self.header_list:
            dict.__setitem__(headers, name.title(), value.strip())
        host = dict.get(headers, "Host") or self.local.name or self.local.ip
        self.base = f"{self.scheme}://{host}"


class _EveryPathToTheSite(cherrypy.dispatch.Dispatcher):
    """Every request goes to the site's one handler, ``Site.index``, which
    routes on the raw path. CherryPy's dispatcher maps *decoded* path
    segments to object attributes, which is exactly what the site must not
    do (``/user/a%2Fb`` is one user name, not two segments)."""

    def __call__(self, path_info):
        super().__call__("/")


def _raw_target(uri: str) -> tuple[str, str | None]:
    """The raw path and query of a request target (``REQUEST_URI``).

    cheroot hands it over as latin-1 text of the bytes sent. An absolute
    target (``GET http://host/x``) routes on its path, as hyper's
    ``uri.path()`` does. (cheroot itself refuses raw bytes outside ASCII
    with its own 400, "Malformed Request-URI", before the site sees them;
    should one get through, it is read as UTF-8, as hyper reads it.)
    """
    if not uri.isascii():
        try:
            uri = uri.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise errors.BadRequest(
                "The request is not valid UTF-8.") from None
    if not uri.startswith("/") and "://" in uri:
        rest = uri.split("://", 1)[1]
        cut = [i for i in (rest.find("/"), rest.find("?")) if i != -1]
        uri = (rest[min(cut):] if cut else "/")
        if uri.startswith("?"):
            uri = "/" + uri
    path, sep, query = uri.partition("?")
    return path, (query if sep else None)


class Site:
    """The CherryPy application: one exposed handler for every path."""

    def __init__(self, cfg: ServerConfig):
        self.cfg = cfg
        self.config = app.Config(cfg.photos, cfg.session_ttl,
                                 cfg.secure_cookies)
        self.disk = DiskPhotos(cfg.photos)
        self.served_by = f"{cfg.served_by} pid={os.getpid()}" + (
            f" {cfg.tag}" if cfg.tag else "")
        self.cache = NO_CACHE
        self.photos = self.disk
        self.shared_sessions = None
        if cfg.memcached:
            from . import memcached  # only python-4 loads pymemcache
            mc = memcached.Memcached(cfg.memcached, cfg.threads)
            self.cache = memcached.Pages(mc, cfg.page_ttl)
            self.photos = memcached.Photos(mc, self.disk, cfg.photo_ttl)
            if cfg.sessions == "memcached":
                self.shared_sessions = memcached.McSessions(mc)
        if cfg.sessions == "memory":
            self.shared_sessions = MemorySessions(
                f"{cfg.tag}-" if cfg.tag else "")
        self._local = threading.local()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._last_slow_log = 0

    # "One db connection per thread instead of request."
    def open_thread_connection(self, thread_index: int = -1) -> None:
        """``start_thread`` listener: runs in each worker thread the first
        time it serves a request. A failure is logged, and the request
        answered 500 by :meth:`connection`, which tries again next time."""
        t = time.perf_counter()
        try:
            conn = schema.open_db(self.cfg.db)
        except (schema.DatabaseError, sqlite3.Error, OSError) as e:
            log.error("worker thread cannot open the database: %s", e)
            return
        self._local.conn = conn
        self._local.opened = time.perf_counter() - t
        with self._conns_lock:
            self._all_conns.append(conn)

    def connection(self, pre: Timing) -> sqlite3.Connection:
        """This thread's connection (opened now if the first try failed)."""
        local = self._local
        if getattr(local, "conn", None) is None:
            self.open_thread_connection()
            if getattr(local, "conn", None) is None:
                raise errors.Internal("cannot open the database")
        if local.opened is not None:
            pre.add("db-open", local.opened)
            local.opened = None
        return local.conn

    def close_connections(self) -> None:
        """``stop`` listener, after the HTTP server stopped its threads."""
        with self._conns_lock:
            for conn in self._all_conns:
                conn.close()
            self._all_conns.clear()

    def _read_body(self, env: dict) -> bytes:
        """The request body: at most MAX_BODY_BYTES, within
        BODY_READ_TIMEOUT."""
        creq = env["flickrkillr.cheroot_request"]
        chunked = env.get("wsgi.input_terminated", False)
        declared = int(env.get("CONTENT_LENGTH") or 0)  # cheroot checked it
        if declared > MAX_BODY_BYTES:
            creq.close_connection = True  # the body is never read
            raise errors.TooLarge()
        if not declared and not chunked:
            return b""
        raw = creq.conn.rfile.raw
        raw.arm(BODY_READ_TIMEOUT)
        try:
            body = env["wsgi.input"].read(MAX_BODY_BYTES + 1)
        except socket.timeout:
            creq.close_connection = True
            raise errors.Timeout() from None
        except (ValueError, OSError, cheroot.errors.MaxSizeExceeded):
            creq.close_connection = True
            raise errors.BadRequest(
                "The request body could not be read.") from None
        finally:
            raw.disarm()
        if len(body) > MAX_BODY_BYTES:
            creq.close_connection = True
            raise errors.TooLarge()
        if len(body) < declared:  # the client closed early
            creq.close_connection = True
            raise errors.BadRequest("The request body could not be read.")
        return body

    @cherrypy.expose
    def index(self, *args, **kwargs):
        """Every request: build the site's Request, handle, answer."""
        cp_req = cherrypy.serving.request
        cp_resp = cherrypy.serving.response
        env = cp_req.wsgi_environ
        started = time.perf_counter()
        pre = Timing()
        try:
            conn = self.connection(pre)
            path, query = _raw_target(env.get("REQUEST_URI", "/"))
            body = self._read_body(env)
        except AppError as e:
            out = app.error_response(e)
        else:
            req = Request(
                method=env["REQUEST_METHOD"], path=path, query=query,
                cookie=header_text(env.get("HTTP_COOKIE")),
                content_type=header_text(env.get("CONTENT_TYPE")),
                host=header_text(env.get("HTTP_HOST")),
                origin=header_text(env.get("HTTP_ORIGIN")),
                referer=header_text(env.get("HTTP_REFERER")),
                body=body)
            sessions = (self.shared_sessions if self.shared_sessions
                        is not None else SqliteSessions(conn))
            svc = app.Services(conn, sessions, self.config,
                               self.cache, self.photos)
            out = app.handle(svc, req)
        out.timing.prepend(pre)
        cp_resp.status = f"{out.status} {errors.reason(out.status)}"
        headers = cp_resp.headers
        for name, value in out.headers:
            headers[name] = value
        headers["X-Served-By"] = self.served_by
        timing = out.timing.header_value()
        if timing:
            headers["Server-Timing"] = timing
        self._note_if_slow(time.perf_counter() - started, env)
        # For HEAD, CherryPy sets Content-Length from this body, then drops
        # the body (cherrypy._cprequest.Request.run).
        return out.body

    def _note_if_slow(self, took: float, env: dict) -> None:
        if took < SLOW_REQUEST:
            return
        now = int(time.monotonic())
        if now != self._last_slow_log:
            self._last_slow_log = now
            log.warning("slow request (%.0f ms, %s) blocked a worker thread "
                        "(missing index?)", took * 1000,
                        env.get("REQUEST_URI", "?").split("?", 1)[0])


class _HTTPServerPlugin(plugins.SimplePlugin):
    """Runs the HTTP server in its own thread while the engine runs
    (CherryPy's ``ServerAdapter``, without its port checks: they would
    connect to the port, and fail on an inherited socket that is busy by
    design)."""

    def __init__(self, bus, httpserver: _HTTPServer):
        super().__init__(bus)
        self.httpserver = httpserver
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.httpserver.safe_start()
        except BaseException as e:  # reported by start() / the log
            self.error = e
            self.bus.log("HTTP server failed", level=40, traceback=True)
            self.bus.exit()

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="HTTPServer")
        self.thread.start()
        while not self.httpserver.ready:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"cannot listen: {self.error}")
            time.sleep(0.01)
    start.priority = 75

    def stop(self) -> None:
        # Stops accepting, closes idle keep-alive connections and waits (up
        # to SHUTDOWN_GRACE) for the worker threads to finish their requests.
        self.httpserver.stop()
        if self.thread is not None:
            self.thread.join(SHUTDOWN_GRACE)
    stop.priority = 25


def _configure_logging() -> None:
    """Logs on stderr, none per request (as the Rust stages and nginx's
    ``access_log off``: a log line per request is a write per request)."""
    ours = logging.StreamHandler(sys.stderr)
    ours.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    theirs = logging.StreamHandler(sys.stderr)  # CherryPy dates its own lines
    theirs.setFormatter(logging.Formatter("%(message)s"))
    for name, handler in (("flickrkillr", ours), ("cherrypy.error", theirs)):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    # CherryPy formats an access-log line for every request even when no
    # handler would write it; don't.
    cherrypy.log.access = lambda: None


def serve(cfg: ServerConfig) -> int:
    """Serves until SIGTERM or SIGINT, then finishes in-flight requests and
    returns 0. Prints ``listening on http://HOST:PORT`` once serving."""
    _configure_logging()
    # Fail before starting anything if the database or photos are wrong.
    schema.open_db(cfg.db).close()
    if not os.path.isdir(cfg.photos):
        raise ValueError(f"photo directory {cfg.photos} does not exist; seed "
                         "the database first or pass --photos")

    listener = (adopt_listening_fd(cfg.listen_fd) if cfg.listen_fd is not None
                else bind_listener(*cfg.listen))
    cherrypy.config.update({
        # No autoreloader (it would poll every module file once a second
        # and re-exec the process), no config checker, no tracebacks shown
        # to visitors, nothing logged to stdout.
        "environment": "production",
        "log.screen": False,
        "log.access_file": "",
        "log.error_file": "",
    })
    site = Site(cfg)
    cherrypy.tree.mount(site, "", {"/": {
        "request.dispatch": _EveryPathToTheSite(),
        # The site reads the raw body itself, with its limit and deadline.
        "request.process_request_body": False,
        # The site sets its own Content-Type (with the space the Rust stages
        # send) and encodes its own pages; trailing slashes are the site's.
        "tools.encode.on": False,
        "tools.trailing_slash.on": False,
        "tools.log_tracebacks.on": False,
        "tools.log_headers.on": False,
    }})
    application = cherrypy.tree.apps[""]
    application.request_class = _SiteRequest

    # CherryPy's built-in server would bind from cherrypy.config and check
    # the port by connecting to it; ours is set up explicitly below.
    cherrypy.server.unsubscribe()
    adapter = _cpserver.Server()
    adapter.thread_pool = cfg.threads
    adapter.thread_pool_max = cfg.threads
    adapter.socket_timeout = HEADER_READ_TIMEOUT
    adapter.max_request_header_size = MAX_HEAD_BYTES
    adapter.max_request_body_size = 0      # the site checks, with its page
    adapter.shutdown_timeout = SHUTDOWN_GRACE
    adapter.statistics = False
    httpserver = _HTTPServer(adapter, listener)
    _HTTPServerPlugin(cherrypy.engine, httpserver).subscribe()

    engine = cherrypy.engine
    engine.autoreload.unsubscribe()
    engine.subscribe("start_thread", site.open_thread_connection)
    engine.subscribe("stop", site.close_connections, priority=80)
    engine.signal_handler.handlers = {"SIGTERM": engine.exit,
                                      "SIGINT": engine.exit}
    engine.signal_handler.subscribe()

    engine.start()
    if engine.state != engine.states.STARTED:
        return 1
    host, port = httpserver.bind_addr[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"listening on http://{shown}:{port}", flush=True)
    engine.block()
    log.info("stopped")
    return 0
