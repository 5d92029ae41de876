//! `POST /photo/{id}/comments`: adds a comment (logged-in visitors only),
//! then redirects to it ("redirect after post").
//!
//! With a cache (stage-4) the write also publishes the fresh page and page
//! data *before* answering, so no read after the redirect can see the page
//! without the comment — through nginx or through any instance.

use crate::addr::{PageAddr, photo_path};
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::handlers::{login, photo};
use crate::http::{self, Request, Response};

pub fn post(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, id: &str) -> AppResult<Response> {
    let id = photo::parse_id(id)?;
    login::same_origin(req)?;
    ctx.load_viewer(req, None)?;
    let Some(viewer) = ctx.viewer.clone() else {
        return Err(AppError::Unauthorized("Log in to comment."));
    };
    let form = ctx.cpu("parse", || http::form_body(req))?;
    let text = http::field(&form, "body").unwrap_or("").trim();
    if text.is_empty() {
        return Err(AppError::BadRequest("A comment cannot be empty."));
    }
    if text.chars().count() > model::render::MAX_COMMENT_CHARS {
        return Err(AppError::CommentTooLong);
    }
    let now = model::time::now();
    let comment_id = ctx
        .io("query", |s| {
            model::queries::add_comment(s.db, id, viewer.user_id, text, now)
        })?
        .ok_or(AppError::NotFound("No photo with that id."))?;
    if ctx.svc.cache.enabled() {
        publish_photo(ctx, id)?;
    }
    Ok(Response::see_other(format!(
        "{}#c{comment_id}",
        photo_path(id)
    )))
}

/// Re-reads the photo page after the commit and publishes both the page
/// data and the anonymous page, each versioned by the newest comment id.
fn publish_photo(ctx: &mut Ctx<'_, '_>, id: i64) -> AppResult<()> {
    let Some(page) = ctx.io("query", |s| model::queries::photo_page(s.db, id))? else {
        return Ok(());
    };
    let addr = PageAddr::photo(id);
    let version = page.version as u64;
    let data = ctx
        .cpu("encode", || serde_json::to_vec(&page))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let html = ctx.cpu("render", || model::render::photo(None, &page))?;
    ctx.io("cache-set", |s| {
        s.cache.publish(&addr, html.as_bytes(), &data, version)
    });
    Ok(())
}
