"""Serving a page: data from the cache or the database, rendered for the
viewer, and (stage 4) the anonymous rendering left in the cache for nginx
(``crates/app/src/pages.rs``)."""

from . import queries
from .http import HTML, Response

__all__ = ["page_data", "respond", "encode"]

# ``json`` is imported where it is used: only a stage with a cache needs it,
# and the CGI program would pay for it on every request.


def encode(data: object) -> bytes:
    """A page's data as compact JSON, the bytes serde_json would write."""
    import json
    return json.dumps(queries.to_json(data), ensure_ascii=False,
                      separators=(",", ":")).encode()


def page_data(ctx, key, version, load, from_json):
    """The data behind a page: from the cache under ``data:KEY`` when there
    is one, else from the database (and then left in the cache). ``None``
    when the database has no such thing (never cached: a later write may
    add it).

    Only for a logged-in visitor: theirs is the page nginx cannot serve
    whole, so the data is what the cache can give them. An anonymous
    request reaches the app only after nginx missed the whole page, so its
    data is almost surely missing too: asking would be a memcached round
    trip for nothing (the page itself is still stored, by :func:`respond`).

    ``version(data)`` is the data's version, ``load(db)`` reads it from the
    database (``None``: no such thing), ``from_json`` rebuilds it from the
    cached JSON.
    """
    cache = ctx.svc.cache
    data_key = (f"data:{key}" if key is not None and cache.enabled
                and ctx.viewer is not None else None)
    if data_key is not None:
        with ctx.phase("cache-get"):
            raw = cache.get(data_key)
        if raw is not None:
            import json
            try:
                with ctx.phase("decode"):
                    return from_json(json.loads(raw))
            except (ValueError, KeyError, TypeError, IndexError):
                pass  # unreadable: read the database instead
    with ctx.phase("query"):
        data = load(ctx.svc.db)
    if data_key is not None and data is not None:
        with ctx.phase("encode"):
            raw = encode(data)
        with ctx.phase("cache-set"):
            cache.add(data_key, raw, version(data))
    return data


def respond(ctx, key: str | None, version: int, html: str) -> Response:
    """Answers with a rendered page; for an anonymous visitor, also leaves it
    in the cache under ``key`` (version ``version``) for nginx to serve next
    time."""
    body = html.encode()
    if key is not None and ctx.viewer is None and ctx.svc.cache.enabled:
        with ctx.phase("cache-set"):
            ctx.svc.cache.add(key, body, version)
    return Response(200, [("content-type", HTML)], body)
