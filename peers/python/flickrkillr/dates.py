"""Dates as the pages show them, in UTC, without a date library.

The Python twin of ``crates/model/src/time.rs``. All times in the database
are Unix seconds (``INTEGER``). The ``datetime`` module could format them,
but it refuses years outside 1..9999 and costs an object per call; this is
the same integer arithmetic as the Rust code (Howard Hinnant's
``civil_from_days``), so both print the same text for every stored value.

Python's ``//`` and ``%`` round towards negative infinity, which for a
positive divisor is exactly Rust's ``div_euclid``/``rem_euclid``.
"""

import time

__all__ = ["now", "date", "date_time"]


def now() -> int:
    """The current Unix time in seconds."""
    return int(time.time())


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since 1970-01-01."""
    z = days + 719_468
    era = z // 146_097
    doe = z % 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def date(ts: int) -> str:
    """``2007-02-23``"""
    y, m, d = _civil_from_days(ts // 86_400)
    return f"{y:04}-{m:02}-{d:02}"


def date_time(ts: int) -> str:
    """``2007-02-23 14:05 UTC``"""
    secs = ts % 86_400
    return f"{date(ts)} {secs // 3600:02}:{secs % 3600 // 60:02} UTC"
