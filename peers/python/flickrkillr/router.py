"""The one ``match`` that maps method and path to a handler
(``crates/app/src/router.rs``).

It matches on the decoded segments of the **raw** path. HEAD is served
wherever GET is: the same handler runs, and the transport sends the same
status and headers without the body (RFC 9110 §9.3.2), so ``Allow`` on a
GET route says ``GET, HEAD``.
"""

from __future__ import annotations

from . import handlers, http
from .errors import MethodNotAllowed, NotFound
from .http import Request, Response

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from .app import Ctx

#: ``Allow`` of the routes that serve GET (and so HEAD).
ALLOW_GET = "GET, HEAD"
#: ``Allow`` of the form-post routes.
ALLOW_POST = "POST"


def route(ctx: Ctx, req: Request) -> Response:
    with ctx.phase("route"):
        segs = http.segments(req.path)
    get = req.method in ("GET", "HEAD")
    post = req.method == "POST"
    match segs:
        case [] if get:
            return handlers.home(ctx, req)
        case ["user", name] if get:
            return handlers.user(ctx, req, name)
        case ["photo", pid] if get:
            return handlers.photo(ctx, req, pid)
        case ["photo", pid, "comments"] if post:
            return handlers.comment(ctx, req, pid)
        case ["static", "photos", file] if get:
            return handlers.static_photo(ctx, file)
        case ["login"] if post:
            return handlers.login(ctx, req)
        case ["logout"] if post:
            return handlers.logout(ctx, req)
        case ["healthz"] if get:
            return handlers.health()
        # Known paths with another method.
        case ([] | ["user", _] | ["photo", _] | ["static", "photos", _]
              | ["healthz"]):
            raise MethodNotAllowed(ALLOW_GET)
        case ["photo", _, "comments"] | ["login"] | ["logout"]:
            raise MethodNotAllowed(ALLOW_POST)
        case _:
            raise NotFound("There is no page at this address.")
