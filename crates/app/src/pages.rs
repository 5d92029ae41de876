//! Serving a page: data from the cache or the database, rendered for the
//! viewer, and (stage-4) the anonymous rendering left in the cache for nginx.

use std::fmt::Write;

use rusqlite::Connection;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::http::{Request, Response};

/// The memcached key of a page, exactly as nginx builds it from
/// `set $memcached_key "$uri?$args";` — only for requests whose raw path
/// nginx would leave unchanged (plain characters, no dot segments, no
/// doubled slashes) and whose query is the route's canonical one (`query_ok`).
/// Anything else is not cached, so a write can always find every key it
/// must update.
pub fn page_key(req: &Request<'_>, query_ok: impl Fn(&str) -> bool) -> Option<String> {
    let plain = req
        .path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b));
    let dotted = req.path.split('/').any(|s| s == "." || s == "..");
    if !plain || dotted || req.path.contains("//") {
        return None;
    }
    let q = req.query.unwrap_or("");
    query_ok(q).then(|| format!("{}?{}", req.path, q))
}

/// Escapes a key as nginx's memcached module does before sending it
/// (`ngx_escape_uri(.., NGX_ESCAPE_MEMCACHED)`): bytes 0x00–0x1F, space and
/// `%` become `%XX` (upper-case hex); everything else is sent as is.
pub fn escape_memcached_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for ch in key.chars() {
        if (ch as u32) <= 0x20 || ch == '%' {
            let _ = write!(out, "%{:02X}", ch as u32);
        } else {
            out.push(ch);
        }
    }
    out
}

/// The data behind a page: from the cache under `data:KEY` when there is
/// one, else from the database (and then left in the cache). `None` when
/// the database has no such thing (never cached: a later write may add it).
///
/// Only for a logged-in visitor: theirs is the page nginx cannot serve
/// whole, so the data is what the cache can give them. An anonymous
/// request reaches the app only after nginx missed the whole page, so its
/// data is almost surely missing too: asking would be a memcached round
/// trip for nothing, and storing it one more for a reader who may never
/// come (measured on the realistic mix: two of an anonymous miss's three
/// round trips; the page itself is still stored, by [`respond`]).
pub(crate) fn page_data<T, F>(
    ctx: &mut Ctx<'_, '_>,
    key: Option<&str>,
    version: impl Fn(&T) -> u64,
    load: F,
) -> AppResult<Option<T>>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce(&Connection) -> model::Result<Option<T>>,
{
    let data_key = key
        .filter(|_| ctx.svc.cache.enabled() && ctx.viewer.is_some())
        .map(|k| format!("data:{k}"));
    if let Some(dk) = &data_key
        && let Some(bytes) = ctx.io("cache-get", |s| s.cache.get(dk))
        && let Ok(v) = ctx.cpu("decode", || serde_json::from_slice::<T>(&bytes))
    {
        return Ok(Some(v));
    }
    let data = ctx.io("query", |s| load(s.db))?;
    if let (Some(dk), Some(d)) = (&data_key, &data)
        && let Ok(bytes) = ctx.cpu("encode", || serde_json::to_vec(d))
    {
        let v = version(d);
        ctx.io("cache-set", |s| s.cache.add(dk, &bytes, v));
    }
    Ok(data)
}

/// Answers with a rendered page; for an anonymous visitor, also leaves it in
/// the cache under `key` (version `version`) for nginx to serve next time.
pub(crate) fn respond(
    ctx: &mut Ctx<'_, '_>,
    key: Option<&str>,
    version: u64,
    html: String,
) -> Response {
    if let (Some(k), None, true) = (key, &ctx.viewer, ctx.svc.cache.enabled()) {
        ctx.io("cache-set", |s| s.cache.add(k, html.as_bytes(), version));
    }
    Response::html(200, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(path: &'a str, query: Option<&'a str>) -> Request<'a> {
        Request {
            method: "GET",
            path,
            query,
            ..Default::default()
        }
    }

    #[test]
    fn keys_match_nginx() {
        let empty = |q: &str| q.is_empty();
        assert_eq!(
            page_key(&req("/photo/12", None), empty).as_deref(),
            Some("/photo/12?")
        );
        assert_eq!(
            page_key(&req("/photo/12", Some("")), empty).as_deref(),
            Some("/photo/12?")
        );
        assert_eq!(page_key(&req("/photo/12", Some("x=1")), empty), None);
        assert_eq!(page_key(&req("/photo/%31", None), empty), None);
        assert_eq!(page_key(&req("/a/../photo/1", None), empty), None);
        assert_eq!(page_key(&req("//photo/1", None), empty), None);
        assert_eq!(escape_memcached_key("/user/x?page=1"), "/user/x?page=1");
        assert_eq!(escape_memcached_key("a b%\u{1}é"), "a%20b%25%01é");
    }
}
