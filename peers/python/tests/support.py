"""Helpers shared by the end-to-end tests: seeding a site, starting servers
(the Python ones and the Rust reference binaries), a raw HTTP client.

Every process a test starts is stopped by it (by pid), and every server
listens on a port 0 of 127.0.0.1. The Rust binaries are found through
``FK_SEED_BIN``, ``FK_STAGE2_BIN``, ``FK_STAGE1_CGI_BIN``, ``FK_STAGE4_BIN``
(defaults: the workspace's ``target/debug``, which ``cargo test`` builds).
A missing binary or tool skips its test, except under ``CI=true``, where it
is a failure that says how to get it (``scripts/test.sh`` builds and installs
everything first).
"""

import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.dirname(HERE)
FK_SERVE = os.path.join(PEER, "fk_serve.py")
FK_CGI = os.path.join(PEER, "fk_cgi.py")
PYTHON = sys.executable

ROOT = os.path.dirname(os.path.dirname(PEER))


def _rust_bin(variable: str, name: str) -> str:
    return os.environ.get(variable, os.path.join(ROOT, "target", "debug", name))


SEED_BIN = _rust_bin("FK_SEED_BIN", "seed")
STAGE2_BIN = _rust_bin("FK_STAGE2_BIN", "stage-2")
STAGE1_CGI_BIN = _rust_bin("FK_STAGE1_CGI_BIN", "stage-1-cgi")
MEMCACHED_BIN = shutil.which("memcached") or "/usr/bin/memcached"
NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"


def require(path: str, what: str) -> None:
    """Skips the calling test (class) if ``path`` is not an executable; under
    ``CI=true`` fails it instead."""
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        why = (f"{what} not found at {path}: build the workspace "
               "(cargo build --workspace) and run scripts/setup.sh")
        if os.environ.get("CI") in ("true", "1"):
            raise AssertionError(why)
        raise unittest.SkipTest(why)


class Site:
    """A freshly seeded site in a temporary directory."""

    def __init__(self, users: int = 30):
        require(SEED_BIN, "the seeding tool (FK_SEED_BIN)")
        self.dir = tempfile.mkdtemp(prefix="fk-peer-test-")
        self.db = os.path.join(self.dir, "site.db")
        self.photos = os.path.join(self.dir, "photos")
        subprocess.run([SEED_BIN, "--users", str(users), "--out", self.db,
                        "--photos-dir", self.photos, "--force"],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)

    def copy(self, name: str) -> str:
        """A copy of the database (each server writes its own)."""
        import sqlite3
        dst = os.path.join(self.dir, name)
        src = sqlite3.connect(self.db)
        out = sqlite3.connect(dst)
        with out:
            src.backup(out)
        src.close()
        out.close()
        return dst

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    """A server process that prints ``listening on http://ADDR``."""

    def __init__(self, argv: list[str], name: str, env: dict | None = None,
                 pass_fds: tuple = ()):
        self.name = name
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=self.log, env=env,
                                     pass_fds=pass_fds)
        line = self._first_line(30.0)
        if not line.startswith("listening on http://"):
            self.stop()
            raise RuntimeError(f"{name} did not start: {line!r}\n"
                               f"{self.stderr()}")
        self.addr = line[len("listening on http://"):].strip()
        host, _, port = self.addr.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)

    def _first_line(self, timeout: float) -> str:
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf and time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
        sel.close()
        return buf.decode(errors="replace").split("\n", 1)[0]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        if self.log.closed:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait; SIGKILL if it does not exit. Returns the
        exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode


def start_python(db: str, photos: str, *args: str, **kw) -> Server:
    return Server([PYTHON, FK_SERVE, "--db", db, "--photos", photos,
                   "--listen", "127.0.0.1:0", *args], "fk_serve.py", **kw)


def start_stage2(db: str, photos: str) -> Server:
    require(STAGE2_BIN, "the Rust stage-2 (FK_STAGE2_BIN)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FK_")}
    env["RUST_LOG"] = "warn"
    return Server([STAGE2_BIN, "--db", db, "--photos", photos, "--listen",
                   "127.0.0.1:0"], "stage-2", env=env)


class Resp:
    """A parsed HTTP response."""

    def __init__(self, raw: bytes):
        self.raw = raw
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        parts = lines[0].split(" ", 2)
        ok = len(parts) > 1 and parts[1].isdigit()
        self.status = int(parts[1]) if ok else 0
        self.headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers.append((k.strip().lower(), v.strip()))

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def raw_exchange(addr: tuple[str, int], data: bytes, *, half_close=False,
                 timeout: float = 15.0) -> bytes:
    """Sends ``data`` on a fresh connection, reads until the server
    closes it."""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out


def request(server: Server, method: str, path: str,
            headers: dict | None = None, body: bytes = b"") -> Resp:
    """One request with ``Connection: close`` (the path is sent as is)."""
    h = {"Host": server.addr, "Connection": "close"}
    if body or method == "POST":
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return Resp(raw_exchange((server.host, server.port),
                             head.encode("latin-1") + body))


FORM = "application/x-www-form-urlencoded"


def post_form(server: Server, path: str, body: str,
              cookie: str | None = None, **headers: str) -> Resp:
    h = {"Content-Type": FORM}
    if cookie:
        h["Cookie"] = cookie
    h.update({k.replace("_", "-"): v for k, v in headers.items()})
    return request(server, "POST", path, h, body.encode())


def login(server: Server, user: str) -> str:
    """Logs in as a seeded user; returns the ``sid=…`` cookie."""
    r = post_form(server, "/login", f"username={user}&password=pw-{user}")
    assert r.status == 303, (r.status, r.text)
    return r.header("set-cookie").split(";", 1)[0]


def free_port() -> int:
    """A port that was free a moment ago (for programs that cannot bind 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_memcached(mb: int = 16) -> tuple[subprocess.Popen, str]:
    """A memcached on a free loopback port, answering: (process,
    "host:port")."""
    require(MEMCACHED_BIN, "memcached")
    port = free_port()
    argv = [MEMCACHED_BIN, "-l", "127.0.0.1", "-p", str(port), "-U", "0",
            "-m", str(mb), "-t", "1"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]  # memcached refuses to run as root
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_process(proc)
                raise RuntimeError("memcached did not start")
            time.sleep(0.05)


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
