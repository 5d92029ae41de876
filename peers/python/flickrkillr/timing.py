"""Where the time of one request went (``crates/app/src/timing.rs``).

Sent as a ``Server-Timing`` header (``query;dur=0.213, render;dur=0.041``);
the load generator adds these up per stage into its "where the time goes"
chart: the talk's "know where the bottlenecks are", measured instead of
guessed. Phase names are the Rust ones: ``init`` and ``db-open`` (the CGI
program, and the first request of each app-server thread), ``route``,
``parse``, ``session``, ``query``, ``password``, ``render``,
``static-read``, ``cache-get``, ``cache-set``, ``encode``, ``decode``.
"""

import time

__all__ = ["Timing"]


class _Phase:
    """``with timing.time(name):`` — a class rather than a
    ``contextlib.contextmanager``: it is entered several times per request,
    and a generator-based context manager costs several times more."""

    __slots__ = ("timing", "name", "start")

    def __init__(self, timing: "Timing", name: str):
        self.timing = timing
        self.name = name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timing.add(self.name, time.perf_counter() - self.start)


class Timing:
    """Phases of one request in the order they first happened; a phase that
    happens twice (two queries) is summed."""

    __slots__ = ("phases",)

    def __init__(self) -> None:
        # name -> seconds, in the order the phases first happened
        self.phases: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + seconds

    def time(self, name: str) -> _Phase:
        """``with timing.time("query"): ...`` adds the block's time to
        ``name``."""
        return _Phase(self, name)

    def prepend(self, other: "Timing") -> None:
        """Puts ``other``'s phases in front of ours (a transport's
        ``init``)."""
        mine = self.phases
        self.phases = dict(other.phases)
        for n, d in mine.items():
            self.add(n, d)

    def header_value(self) -> str:
        """The ``Server-Timing`` value: milliseconds with 3 decimals."""
        return ", ".join(f"{n};dur={d * 1000:.3f}"
                         for n, d in self.phases.items())
