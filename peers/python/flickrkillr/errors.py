"""One error type for the whole request path (``crates/app/src/error.rs``).

Bad input is always a 4xx with a short reason; internal details go to the
log, never to the visitor. Handlers ``raise`` these;
:func:`flickrkillr.app.handle` turns each into its error page with the right
status.
"""

import sqlite3

__all__ = ["AppError", "BadRequest", "Unauthorized", "Forbidden", "NotFound",
           "MethodNotAllowed", "Timeout", "TooLarge", "UnsupportedMediaType",
           "Busy", "Internal", "from_sqlite", "reason"]

_REASONS = {
    200: "OK", 303: "See Other", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 413: "Payload Too Large",
    415: "Unsupported Media Type", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}


def reason(status: int) -> str:
    """The reason phrase of the statuses this site sends
    (``app::http::reason``)."""
    return _REASONS.get(status, "Internal Server Error")


class AppError(Exception):
    """What a request failed with: a status and one sentence for a person."""

    status = 500
    #: What the visitor reads; subclasses with a fixed sentence set it here.
    detail = "Something went wrong on our side; it has been logged."

    def __init__(self, detail: str | None = None):
        super().__init__(detail or self.detail)
        if detail is not None:
            self.detail = detail

    @property
    def reason(self) -> str:
        return reason(self.status)


class BadRequest(AppError):
    """Malformed id, form, query or path: 400."""
    status = 400


class Unauthorized(AppError):
    """Needs a logged-in visitor, or the login failed: 401."""
    status = 401


class Forbidden(AppError):
    """A cross-site form post: 403."""
    status = 403


class NotFound(AppError):
    """No such user, photo, file or route: 404."""
    status = 404


class MethodNotAllowed(AppError):
    """The route exists with other methods, listed in ``Allow``: 405."""
    status = 405
    detail = "This address does not accept that method."

    def __init__(self, allow: str):
        super().__init__()
        self.allow = allow


class Timeout(AppError):
    """The body did not arrive in time: 408."""
    status = 408
    detail = "The request body did not arrive in time."


class TooLarge(AppError):
    """A body over ``MAX_BODY_BYTES``: 413."""
    status = 413
    detail = "The request body is larger than this site accepts (16 KiB)."


class UnsupportedMediaType(AppError):
    """A form post that is not ``application/x-www-form-urlencoded``: 415."""
    status = 415
    detail = "Forms must be sent as application/x-www-form-urlencoded."


class Busy(AppError):
    """The database stayed locked past its busy timeout (or memcached is
    down for a login): 503, try again. The argument is for the log only."""
    status = 503

    def __init__(self, why: str):
        super().__init__()
        self.detail = "The site is busy; please try again in a moment."
        self.why = why


class Internal(AppError):
    """A bug or a broken environment (disk, database file): 500.
    The argument is for the log only."""
    status = 500

    def __init__(self, why: str):
        super().__init__()
        self.detail = "Something went wrong on our side; it has been logged."
        self.why = why


# SQLite's primary result codes for "someone else holds the lock".
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def from_sqlite(e: sqlite3.Error) -> AppError:
    """A database error as the visitor sees it: busy (503) or our fault
    (500)."""
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return Busy(f"database error: {e}")
    return Internal(f"database error: {e}")
