"""FlickrKillr, the CPython peer of the Rust workspace.

The same photo site as ``crates/model`` + ``crates/app``, in CPython 3 with
the talk's tools: ``sqlite3`` from the standard library, CherryPy as the app
server (``fk_serve.py``), a CGI program (``fk_cgi.py``), pymemcache for
stage 4. See ``peers/python/README.md`` for the map.

Modules, in the order a request meets them:

- :mod:`~flickrkillr.cgienv` (CGI) / :mod:`~flickrkillr.server` (CherryPy):
  the transports, turning HTTP into a :class:`~flickrkillr.http.Request`;
- :mod:`~flickrkillr.app`: ``handle()``, the per-request context;
- :mod:`~flickrkillr.router`, :mod:`~flickrkillr.handlers`: routes, one
  function per endpoint;
- :mod:`~flickrkillr.http`: parsing (raw paths, forms, cookies);
- :mod:`~flickrkillr.sessions`, :mod:`~flickrkillr.cache`,
  :mod:`~flickrkillr.pages`, :mod:`~flickrkillr.memcached`,
  :mod:`~flickrkillr.ring`: where sessions, pages and photos live;
- :mod:`~flickrkillr.queries`, :mod:`~flickrkillr.schema`,
  :mod:`~flickrkillr.password`, :mod:`~flickrkillr.render`,
  :mod:`~flickrkillr.dates`: the data model.

Only :mod:`~flickrkillr.server` imports CherryPy and only
:mod:`~flickrkillr.memcached` imports pymemcache: the CGI program loads
neither.
"""
