"""FlickrKillr's app server under CherryPy: python-2, python-3 and python-4.

One long-running CPython process serves every request with a pool of
CherryPy threads, each with its own SQLite connection (the talk's second
iteration). The same process is an instance behind nginx in the third
(``--sessions memory --tag iK``, several of them) and the fourth
(``--memcached``)::

    # python-2: sessions in SQLite
    .venv/bin/python fk_serve.py --db site.db --listen 127.0.0.1:8002
    # python-3: one of several instances behind nginx, sessions in memory
    .venv/bin/python fk_serve.py --db site.db --listen 127.0.0.1:9000 \
        --sessions memory --tag i0
    # python-4: pages, photos and sessions in memcached
    .venv/bin/python fk_serve.py --db site.db --listen 127.0.0.1:9000 \
        --memcached 127.0.0.1:11211

It prints one line, ``listening on http://HOST:PORT``, once it serves; logs go
to stderr; SIGTERM or SIGINT finish the requests in flight and exit 0.
"""

import argparse
import os
import sys

# Runnable from any working directory: the package lives beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from flickrkillr import schema  # noqa: E402
from flickrkillr.sessions import DEFAULT_TTL_SECS  # noqa: E402

#: Worker threads by default: 2, as the Rust app server (one per core), and
#: because more make this server slower, not faster. Measured on this 2-core
#: machine (wrk, 16 connections, one user page): 1 thread 1,470 req/s,
#: 2 threads 1,850, 4 about 1,700, 10 (CherryPy's own default, probably what
#: the talk ran) 1,050. Under the GIL one thread runs Python at a time; a
#: second one still helps, running Python while the first waits on SQLite
#: or its socket, but every further runnable thread only adds hand-offs of
#: the lock (a thread that let it go for a recv queues behind the others to
#: get it back: the "convoy effect"). The price of few threads: cheroot
#: gives a request its thread for the whole request, so a slow client
#: (trickling its head or body, cut off after 10 s) holds one. Behind nginx
#: (python-3, python-4) that cannot happen, nginx reads requests whole
#: before passing them on; a python-2 exposed to slow clients wants more.
DEFAULT_THREADS = 2
#: Seconds a page stays in memcached (``stage_4::memcached::PAGE_TTL_SECS``).
DEFAULT_PAGE_TTL = 300
#: Seconds photo bytes stay in memcached (``stage_4::memcached::PHOTO_TTL_SECS``).
DEFAULT_PHOTO_TTL = 86_400


def _listen_addr(s: str) -> tuple[str, int]:
    host, sep, port = s.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{s!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _tag(s: str) -> str:
    # Tags become part of session ids, nginx upstream names and regular
    # expressions (app::sessions::valid_tag), so nothing but these.
    ok = len(s) <= 16 and all(c.isascii() and (c.islower() or c.isdigit())
                              for c in s)
    if not ok:
        raise argparse.ArgumentTypeError(
            "a tag is 1 to 16 lower-case letters and digits, such as i0 "
            "(or '' for none)")
    return s


def _positive(s: str) -> int:
    n = int(s)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _servers(s: str) -> list[str]:
    servers = [x.strip() for x in s.split(",") if x.strip()]
    for x in servers:
        _listen_addr(x)
    if not servers:
        raise argparse.ArgumentTypeError("no server given")
    return servers


def parse_args(argv: list[str]) -> argparse.Namespace:
    # The stages forward their instances' settings here under the Rust
    # names (ServeArgs::to_args, CacheArgs::to_args, InstanceCommand::python);
    # crates/stage-4/tests/settings.rs checks that each one arrives.
    p = argparse.ArgumentParser(
        prog="fk_serve.py",
        description="FlickrKillr under CherryPy: the app server of the talk's "
                    "second iteration, and the instances of the third and "
                    "fourth.")
    p.add_argument("--db", required=True,
                   help="the seeded SQLite database")
    p.add_argument("--photos",
                   help="directory of the photo pool (default: photos/ beside "
                        "the database)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen", type=_listen_addr, metavar="HOST:PORT",
                       help="address to listen on (port 0 picks a free port)")
    where.add_argument("--listen-fd", type=int, metavar="FD",
                       help="serve on this inherited, bound and listening TCP "
                            "socket (how a supervisor starts instances)")
    p.add_argument("--threads", type=_positive, default=DEFAULT_THREADS,
                   help="CherryPy worker threads, each with its own SQLite "
                        f"connection (default {DEFAULT_THREADS})")
    p.add_argument("--sessions", choices=("sqlite", "memory", "memcached"),
                   help="where sessions live: the database (python-2), this "
                        "process's memory with ids prefixed TAG- (python-3), "
                        "or memcached (python-4). Default: memcached with "
                        "--memcached, else sqlite")
    p.add_argument("--tag", type=_tag, default="i0",
                   help="this instance's tag: the last word of X-Served-By "
                        "and the prefix of in-memory session ids (default i0)")
    p.add_argument("--served-by", metavar="NAME",
                   help="first word of X-Served-By (default: python-4 with "
                        "--memcached, python-3 with --sessions memory, else "
                        "python-2)")
    p.add_argument("--memcached", type=_servers, metavar="HOST:PORT[,...]",
                   help="memcached servers, exactly as nginx lists them: "
                        "pages, page data, photo bytes (and sessions) cached "
                        "there, keys placed as nginx's consistent hash does")
    p.add_argument("--page-ttl", type=_positive, default=DEFAULT_PAGE_TTL,
                   help="seconds a page stays cached (default "
                        f"{DEFAULT_PAGE_TTL})")
    p.add_argument("--photo-ttl", type=_positive, default=DEFAULT_PHOTO_TTL,
                   help="seconds photo bytes stay cached (default "
                        f"{DEFAULT_PHOTO_TTL})")
    p.add_argument("--session-ttl", type=int, default=DEFAULT_TTL_SECS,
                   help="session lifetime in seconds (default "
                        f"{DEFAULT_TTL_SECS})")
    p.add_argument("--secure-cookies", action="store_true",
                   help="mark the session cookie Secure (when served over "
                        "TLS)")
    a = p.parse_args(argv)
    if a.sessions is None:
        a.sessions = "memcached" if a.memcached else "sqlite"
    if a.sessions == "memcached" and not a.memcached:
        p.error("--sessions memcached needs --memcached HOST:PORT")
    if a.served_by is None:
        a.served_by = ("python-4" if a.memcached else
                       "python-3" if a.sessions == "memory" else "python-2")
    if not a.served_by or any(c.isspace() for c in a.served_by):
        p.error("--served-by is one word")
    return a


def main(argv: list[str]) -> int:
    a = parse_args(argv)
    from flickrkillr import server  # imports CherryPy

    photos = a.photos or schema.default_photos_dir(a.db)
    cfg = server.ServerConfig(
        db=a.db, photos=photos, threads=a.threads, sessions=a.sessions,
        served_by=a.served_by, tag=a.tag, listen=a.listen,
        listen_fd=a.listen_fd, session_ttl=a.session_ttl,
        secure_cookies=a.secure_cookies, memcached=a.memcached,
        page_ttl=a.page_ttl, photo_ttl=a.photo_ttl)
    try:
        return server.serve(cfg)
    except (schema.DatabaseError, ValueError, OSError) as e:
        print(f"fk_serve.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
