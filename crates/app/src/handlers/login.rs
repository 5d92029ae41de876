//! `POST /login` and `POST /logout`.
//!
//! Login answers the same 401 whether the user is unknown or the password is
//! wrong, and checks a dummy hash for unknown users so both take the same
//! time. Every login issues a new session id (no session fixation); logout
//! deletes the session in whatever store the stage uses.

use model::SessionUser;

use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::http::{self, Request, Response};
use crate::sessions::COOKIE;

/// Rejects form posts sent from another site.
///
/// Why an Origin/Referer check rather than a token in every form: the
/// session cookie is `SameSite=Lax`, so browsers do not attach it to
/// cross-site POSTs at all; the Origin check is the second line for older
/// browsers. And a per-session token inside pages would make every page
/// differ per visitor, which stage-4's nginx page cache must not store.
/// Clients that send neither header (curl, load generators) are not
/// browsers driven by another site, so they pass.
pub(crate) fn same_origin(req: &Request<'_>) -> AppResult<()> {
    const CROSS: AppError = AppError::Forbidden("Cross-site form posts are not accepted.");
    let claimed = match (req.origin, req.referer) {
        (Some("null"), _) => return Err(CROSS),
        (Some(o), _) => http::url_authority(o),
        (None, Some(r)) => http::url_authority(r),
        (None, None) => return Ok(()),
    };
    match (claimed, req.host) {
        (Some(c), Some(h)) if c.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err(CROSS),
    }
}

fn set_cookie(ctx: &Ctx<'_, '_>, id: &str, max_age: i64) -> String {
    let secure = if ctx.svc.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{COOKIE}={id}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}")
}

pub fn login(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> AppResult<Response> {
    same_origin(req)?;
    let form = ctx.cpu("parse", || http::form_body(req))?;
    let (Some(username), Some(password)) = (
        http::field(&form, "username"),
        http::field(&form, "password"),
    ) else {
        return Err(AppError::BadRequest(
            "The login form needs a username and a password.",
        ));
    };
    if username.len() > 64 || password.len() > 256 {
        return Err(AppError::BadRequest("Username or password too long."));
    }
    let creds = ctx.io("query", |s| model::queries::credentials(s.db, username))?;
    let hash = creds
        .as_ref()
        .map_or(model::password::DUMMY_HASH, |c| c.password_hash.as_str());
    let ok = ctx.cpu("password", || model::password::verify(password, hash));
    let Some(c) = creds.filter(|_| ok) else {
        return Err(AppError::Unauthorized("Wrong username or password."));
    };
    // A session the visitor already had is ended: the new id replaces it.
    if let Some(old) = http::cookie(req.cookie, COOKIE) {
        let old = old.to_owned();
        ctx.io("session", |s| s.sessions.delete(&old))?;
    }
    let user = SessionUser {
        user_id: c.user_id,
        username: c.username,
        display_name: c.display_name,
    };
    let (now, ttl) = (model::time::now(), ctx.svc.config.session_ttl);
    let id = ctx.io("session", |s| s.sessions.create(&user, now, ttl))?;
    Ok(Response::see_other("/".into()).with("set-cookie", set_cookie(ctx, &id, ttl)))
}

pub fn logout(ctx: &mut Ctx<'_, '_>, req: &Request<'_>) -> AppResult<Response> {
    same_origin(req)?;
    if let Some(id) = http::cookie(req.cookie, COOKIE) {
        let id = id.to_owned();
        ctx.io("session", |s| s.sessions.delete(&id))?;
    }
    Ok(Response::see_other("/".into()).with("set-cookie", set_cookie(ctx, "", 0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_check() {
        let mut r = Request {
            method: "POST",
            path: "/login",
            host: Some("127.0.0.1:8002"),
            ..Default::default()
        };
        assert!(
            same_origin(&r).is_ok(),
            "no Origin, no Referer: not a browser"
        );
        r.origin = Some("http://127.0.0.1:8002");
        assert!(same_origin(&r).is_ok());
        r.origin = Some("https://evil.example");
        assert!(same_origin(&r).is_err());
        r.origin = Some("null");
        assert!(same_origin(&r).is_err());
        r.origin = None;
        r.referer = Some("http://evil.example/x");
        assert!(same_origin(&r).is_err());
        r.referer = Some("http://127.0.0.1:8002/photo/1");
        assert!(same_origin(&r).is_ok());
    }
}
