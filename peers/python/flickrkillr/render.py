"""HTML pages, byte for byte what the Rust askama templates produce.

The Rust site renders ``crates/model/templates/*.html`` with askama. This
module is those five templates written out as Python functions, so that the
same data gives the same bytes in every stage, Rust or Python (the contract
suite and ``loadgen verify`` compare pages byte for byte). No template
engine: the talk's CherryPy app would have used one, but a dependency that
guesses whitespace differently from askama would make the pages differ, and
the point of this peer is that only *how* the site is served changes.

Two askama rules shape the text below:

- **Escaping.** Every ``{{ value }}`` of text goes through askama's HTML
  escaper, which replaces exactly five characters with numeric entities:
  ``<`` → ``&#60;``, ``>`` → ``&#62;``, ``&`` → ``&#38;``, ``"`` → ``&#34;``,
  ``'`` → ``&#39;`` (not ``html.escape``'s ``&lt;``/``&quot;``/``&#x27;``).
  Numbers are written as they are. :func:`escape` is that escaper; every
  piece of user text below goes through it, nothing is marked safe.
- **Whitespace control.** ``{%-`` removes the whitespace (newline included)
  before the tag, so ``<ul class="grid">\\n{%- for p in photos %}\\n<li>``
  becomes ``<ul class="grid">`` then, per photo, ``\\n<li>``. The comments
  beside each piece quote the template line it comes from.
"""

from . import dates
from .queries import Photo, PhotoPage, SessionUser, UserPage

__all__ = ["MAX_COMMENT_CHARS", "escape", "home", "user", "photo", "error"]

#: Longest comment accepted (characters); the form says so too.
MAX_COMMENT_CHARS = 2000


def escape(s: str) -> str:
    """askama's HTML escaper: the five characters ``<>&"'`` as ``&#NN;``.

    ``&`` first, so that the entities the later replacements write are not
    escaped again. A chain of ``str.replace`` is the fastest way CPython has
    to do this for short strings (each is one C loop, and a string without
    the character is returned as is).
    """
    if "&" in s:
        s = s.replace("&", "&#38;")
    if "<" in s:
        s = s.replace("<", "&#60;")
    if ">" in s:
        s = s.replace(">", "&#62;")
    if '"' in s:
        s = s.replace('"', "&#34;")
    if "'" in s:
        s = s.replace("'", "&#39;")
    return s


# layout.html, up to its `{% block title %}`.
_HEAD = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
         "<meta charset=\"utf-8\">\n<title>")

# layout.html from `{% endblock %} · FlickrKillr</title>` to the header's logo.
_STYLE = (
    " \u00b7 FlickrKillr</title>\n"
    "<link rel=\"icon\" href=\"data:,\">\n"
    "<style>\n"
    # Four lines of CSS, each split in two here.
    "body{font-family:sans-serif;margin:0;color:#222}header{display:flex;"
    "gap:1em;align-items:center;padding:.5em 1em;background:#0063dc;"
    "color:#fff}\n"
    "header a{color:#fff}.logo{font-weight:bold;font-size:1.3em;"
    "text-decoration:none}header form{margin-left:auto}main{padding:1em}\n"
    ".grid{display:flex;flex-wrap:wrap;gap:1em;list-style:none;padding:0}"
    ".grid li{width:170px}.grid img{display:block}\n"
    ".comments{list-style:none;padding:0}.comments li{border-top:1px solid "
    "#ddd;padding:.4em 0}footer{padding:1em;color:#888;font-size:.8em}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<header>\n"
    "<a class=\"logo\" href=\"/\">FlickrKillr</a>"
)

# `{%- else %}` branch of the header: the login form.
_LOGIN_FORM = (
    "\n<form method=\"post\" action=\"/login\"><input name=\"username\" "
    "placeholder=\"username\" autocomplete=\"username\"> "
    "<input name=\"password\" type=\"password\" placeholder=\"password\" "
    "autocomplete=\"current-password\"> <button>Log in</button></form>"
)

# From `{%- endif %}` to `{% block content %}`.
_MAIN = "\n</header>\n<main>\n"

# From `{% endblock %}` after the content to the end of layout.html.
_FOOT = (
    "\n</main>\n"
    "<footer>FlickrKillr \u2014 a reproduction of \"Scaling Python for "
    "High-Load Web Sites\" (PyCon 2007).</footer>\n"
    "</body>\n"
    "</html>"
)


def _layout(viewer: SessionUser | None, title: str, content: str) -> str:
    """layout.html around a page's ``title`` and ``content`` blocks."""
    if viewer is not None:
        # `{%- if let Some(v) = viewer %}`: their name and a logout form.
        header = (
            "\n<span>Logged in as <a href=\"/user/"
            f"{escape(viewer.username)}\">{escape(viewer.display_name)}"
            "</a></span>\n<form method=\"post\" action=\"/logout\">"
            "<button>Log out</button></form>"
        )
    else:
        header = _LOGIN_FORM
    return "".join((_HEAD, title, _STYLE, header, _MAIN, content, _FOOT))


def _grid_item(p: Photo, caption: str) -> str:
    """One ``<li>`` of a photo grid (home.html and user.html)."""
    pid, title = p.id, escape(p.title)
    return (f"\n<li><a href=\"/photo/{pid}\"><img src=\"/static/photos/"
            f"{escape(p.file)}\" width=\"160\" height=\"120\" alt=\"{title}\">"
            f"</a>\n<a href=\"/photo/{pid}\">{title}</a><br>{caption}</li>")


def home(viewer: SessionUser | None, photos: list[Photo]) -> str:
    """home.html: the newest photos."""
    items = "".join(
        _grid_item(p, f"by <a href=\"/user/{escape(p.owner_username)}\">"
                      f"{escape(p.owner_display)}</a>")
        for p in photos)
    content = ("\n<h1>Newest photos</h1>\n<ul class=\"grid\">"
               f"{items}\n</ul>\n")
    return _layout(viewer, "Newest photos", content)


def user(viewer: SessionUser | None, page: UserPage) -> str:
    """user.html: a user's page of photos."""
    u = page.user
    name = escape(u.username)
    items = "".join(_grid_item(p, dates.date_time(p.taken_at))
                    for p in page.photos)
    parts = [
        f"\n<h1>{escape(u.display_name)}</h1>\n<p>@{name} \u00b7 member since "
        f"{dates.date(u.joined_at)} \u00b7 page {page.page}</p>\n"
        f"<ul class=\"grid\">{items}\n</ul>",
    ]
    if not page.photos:
        # `{%- if page.photos.is_empty() %}`
        parts.append("\n<p>No photos yet.</p>")
    parts.append("\n<nav>")
    if page.page > 1:
        # `{%- if page.page > 1 %} <a rel="prev" …>newer</a>{% endif %}`
        parts.append(f" <a rel=\"prev\" href=\"/user/{name}?page="
                     f"{page.page - 1}\">newer</a>")
    if page.has_next:
        parts.append(f" <a rel=\"next\" href=\"/user/{name}?page="
                     f"{page.page + 1}\">older</a>")
    parts.append("\n</nav>\n")
    return _layout(viewer, escape(u.display_name), "".join(parts))


def photo(viewer: SessionUser | None, page: PhotoPage) -> str:
    """photo.html: a photo with its comments."""
    p = page.photo
    title = escape(p.title)
    n = page.comment_count
    parts = [
        f"\n<h1>{title}</h1>\n<p>by <a href=\"/user/"
        f"{escape(p.owner_username)}\">{escape(p.owner_display)}</a> \u00b7 "
        f"{dates.date_time(p.taken_at)}</p>\n"
        f"<img src=\"/static/photos/{escape(p.file)}\" width=\"320\" "
        f"height=\"240\" alt=\"{title}\">\n"
        f"<h2>{n} comment{'' if n == 1 else 's'}</h2>",
    ]
    if viewer is not None:
        parts.append(
            f"\n<form method=\"post\" action=\"/photo/{p.id}/comments\">"
            f"<textarea name=\"body\" maxlength=\"{MAX_COMMENT_CHARS}\" "
            "required></textarea><br><button>Add comment</button></form>")
    else:
        parts.append("\n<p>Log in to comment.</p>")
    parts.append("\n<ul class=\"comments\">")
    for c in page.comments:
        parts.append(
            f"\n<li id=\"c{c.id}\"><a href=\"/user/"
            f"{escape(c.author_username)}\">{escape(c.author_display)}</a> "
            f"\u00b7 {dates.date_time(c.created_at)}<p>{escape(c.body)}</p>"
            "</li>")
    parts.append("\n</ul>\n")
    return _layout(viewer, title, "".join(parts))


def error(viewer: SessionUser | None, status: int, reason: str,
          detail: str) -> str:
    """error.html: the status line's words and one sentence for a person."""
    head = f"{status} {escape(reason)}"
    content = (f"\n<h1>{head}</h1>\n<p>{escape(detail)}</p>\n"
               "<p><a href=\"/\">Back to the newest photos</a></p>\n")
    return _layout(viewer, head, content)
