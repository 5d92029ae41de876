//! The one `match` that maps method and path to a handler.
//!
//! `HEAD` is handled as `GET` wherever `GET` is (RFC 9110 §9.3.2): the same
//! status and headers; the transport sends no body (hyper drops it, as a
//! CGI server does for the CGI program's answer).

use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::handlers::{comment, health, home, login, photo, static_photo, user};
use crate::http::{self, Request, Response};

pub(crate) fn route(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> AppResult<Response> {
    let segs = ctx.cpu("route", || http::segments(req.path))?;
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let get = matches!(req.method, "GET" | "HEAD");
    let post = req.method == "POST";
    match (segs.as_slice(), get, post) {
        ([], true, _) => home::get(ctx, req),
        (["user", name], true, _) => user::get(ctx, req, name),
        (["photo", id], true, _) => photo::get(ctx, req, id),
        (["photo", id, "comments"], _, true) => comment::post(ctx, req, id),
        (["static", "photos", file], true, _) => static_photo::get(ctx, file),
        (["login"], _, true) => login::login(ctx, req),
        (["logout"], _, true) => login::logout(ctx, req),
        (["healthz"], true, _) => Ok(health::get()),
        // Known paths with another method.
        ([] | ["user", _] | ["photo", _] | ["static", "photos", _] | ["healthz"], _, _) => {
            Err(AppError::MethodNotAllowed("GET, HEAD"))
        }
        (["photo", _, "comments"] | ["login"] | ["logout"], _, _) => {
            Err(AppError::MethodNotAllowed("POST"))
        }
        _ => Err(AppError::NotFound("There is no page at this address.")),
    }
}
