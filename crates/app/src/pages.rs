//! Serving a page: its data from the cache or the database, rendered for
//! the viewer, and the anonymous rendering left in the cache (stage-4).

use rusqlite::Connection;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cache::PageAddr;
use crate::ctx::Ctx;
use crate::error::AppResult;
use crate::http::Response;

/// The canonical address of the page being served, when there is a cache
/// to name it to (without one, nothing is built).
pub(crate) fn addr(
    ctx: &Ctx<'_, '_>,
    path: impl FnOnce() -> String,
    query: impl FnOnce() -> String,
) -> Option<PageAddr> {
    ctx.svc.cache.enabled().then(|| PageAddr {
        path: path(),
        query: query(),
    })
}

/// The data behind a page: from the cache when it keeps data for this
/// visitor (see [`crate::PageCache::caches_data_for`]; it was fetched with
/// the session by `Ctx::load_viewer`), else from the database (and then
/// left in the cache). `None` when the database has no such thing (never
/// cached: a later write may add it).
pub(crate) fn page_data<T, F>(
    ctx: &mut Ctx<'_, '_>,
    page: Option<&PageAddr>,
    version: impl Fn(&T) -> u64,
    load: F,
) -> AppResult<Option<T>>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce(&Connection) -> model::Result<Option<T>>,
{
    let page = page.filter(|_| ctx.svc.cache.caches_data_for(ctx.viewer.is_some()));
    // The cached data came with the session, in the same exchange
    // (`Ctx::load_viewer` was given this page): nothing to ask here.
    if page.is_some()
        && let Some(bytes) = ctx.prefetched.take()
        && let Ok(v) = ctx.cpu("decode", || serde_json::from_slice::<T>(&bytes))
    {
        return Ok(Some(v));
    }
    let data = ctx.io("query", |s| load(s.db))?;
    if let (Some(p), Some(d)) = (page, &data)
        && let Ok(bytes) = ctx.cpu("encode", || serde_json::to_vec(d))
    {
        let (v, read_at) = (version(d), ctx.started);
        ctx.io("cache-set", |s| s.cache.add_data(p, &bytes, v, read_at));
    }
    Ok(data)
}

/// Answers with a rendered page; for an anonymous visitor, also leaves it in
/// the cache (version `version`), where the next reader finds it.
pub(crate) fn respond(
    ctx: &mut Ctx<'_, '_>,
    page: Option<&PageAddr>,
    version: u64,
    html: String,
) -> Response {
    if let (Some(p), None) = (page, &ctx.viewer) {
        let read_at = ctx.started;
        ctx.io("cache-set", |s| {
            s.cache.add_page(p, html.as_bytes(), version, read_at)
        });
    }
    Response::html(200, html)
}
