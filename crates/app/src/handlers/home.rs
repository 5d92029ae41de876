//! `GET /`: the 20 newest photos, site-wide.

use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::http::{Request, Response};
use crate::pages;

pub fn get(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> AppResult<Response> {
    let page = pages::addr(ctx, || "/".into(), String::new);
    ctx.load_viewer(req, page.as_ref())?;
    let photos = pages::page_data(
        ctx,
        page.as_ref(),
        |_| 0,
        |db| model::queries::home(db).map(Some),
    )?
    .ok_or(AppError::Internal("home page data missing".into()))?;
    let viewer = ctx.viewer.clone();
    let html = ctx.cpu("render", || model::render::home(viewer.as_ref(), &photos))?;
    Ok(pages::respond(ctx, page.as_ref(), 0, html))
}
