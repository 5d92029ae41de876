//! `GET /user/{username}?page=N`: a user's photos, newest first, 20 a page.

use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::http::{self, Request, Response};
use crate::pages;

/// Usernames are short ASCII words; anything else cannot exist, so it is a
/// 404 without asking the database.
fn plausible_username(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `page=N` with 1 <= N <= MAX_PAGE, digits only.
fn parse_page(query: Option<&str>) -> AppResult<u32> {
    let pairs = http::form_pairs(query.unwrap_or(""))?;
    match http::field(&pairs, "page") {
        None => Ok(1),
        Some(p) => p
            .parse::<u32>()
            .ok()
            .filter(|n| {
                (1..=model::queries::MAX_PAGE).contains(n) && p.bytes().all(|b| b.is_ascii_digit())
            })
            .ok_or(AppError::BadRequest(
                "The page number must be a whole number from 1.",
            )),
    }
}

/// The canonical query of page `page` of a user: none for the first,
/// `page=N` for the others (what the page's own links say).
fn canonical_query(page: u32) -> String {
    if page > 1 {
        format!("page={page}")
    } else {
        String::new()
    }
}

pub fn get(ctx: &mut Ctx<'_, '_>, req: &Request<'_>, name: &str) -> AppResult<Response> {
    let page = ctx.cpu("parse", || parse_page(req.query))?;
    let addr = pages::addr(ctx, || format!("/user/{name}"), || canonical_query(page));
    ctx.load_viewer(req, addr.as_ref())?;
    if !plausible_username(name) {
        return Err(AppError::NotFound("No user by that name."));
    }
    let data = pages::page_data(
        ctx,
        addr.as_ref(),
        |_| 0,
        |db| model::queries::user_page(db, name, page),
    )?
    .ok_or(AppError::NotFound(if page > 1 {
        "That user has no photos on that page."
    } else {
        "No user by that name."
    }))?;
    let viewer = ctx.viewer.clone();
    let html = ctx.cpu("render", || model::render::user(viewer.as_ref(), &data))?;
    Ok(pages::respond(ctx, addr.as_ref(), 0, html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_names() {
        assert_eq!(parse_page(None).unwrap(), 1);
        assert_eq!(parse_page(Some("page=3&x=1")).unwrap(), 3);
        assert!(parse_page(Some("page=0")).is_err());
        assert!(parse_page(Some("page=-1")).is_err());
        assert!(parse_page(Some("page=+1")).is_err());
        assert!(parse_page(Some("page=abc")).is_err());
        assert!(parse_page(Some("page=99999999999")).is_err());
        assert_eq!(
            (canonical_query(1).as_str(), canonical_query(3).as_str()),
            ("", "page=3")
        );
        assert!(
            plausible_username("user1") && !plausible_username("a b") && !plausible_username("")
        );
    }
}
