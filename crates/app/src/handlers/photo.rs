//! `GET /photo/{id}`: a photo, its owner and its newest comments.

use crate::addr::photo_path;
use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::http::{Request, Response};
use crate::pages;

/// A photo id: digits only, a positive i64.
pub(crate) fn parse_id(s: &str) -> AppResult<i64> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0 && s.bytes().all(|b| b.is_ascii_digit()))
        .ok_or(AppError::BadRequest(
            "A photo id is a positive whole number.",
        ))
}

pub fn get(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, id: &str) -> AppResult<Response> {
    let id = ctx.cpu("parse", || parse_id(id))?;
    let addr = pages::addr(ctx, || photo_path(id), String::new);
    ctx.load_viewer(req, addr.as_ref())?;
    let data = pages::page_data(
        ctx,
        addr.as_ref(),
        |p: &model::PhotoPage| p.version as u64,
        |db| model::queries::photo_page(db, id),
    )?
    .ok_or(AppError::NotFound("No photo with that id."))?;
    let viewer = ctx.viewer.clone();
    let html = ctx.cpu("render", || model::render::photo(viewer.as_ref(), &data))?;
    Ok(pages::respond(
        ctx,
        addr.as_ref(),
        data.version as u64,
        html,
    ))
}
