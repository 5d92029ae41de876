//! `GET /static/photos/{file}`: the image bytes, read by the app on every
//! request in stages 1–3 (the talk's "static files read from disk every
//! time, and read from Python"); stage-4's PhotoStore and nginx fix that.
//!
//! The file name is checked against a strict pattern *after* decoding, so no
//! spelling of `..`, `/` or `\` can name a file outside the photo directory.

use crate::ctx::Ctx;
use crate::error::{AppError, AppResult};
use crate::http::Response;

/// How long a browser (or a cache in front) may keep a photo: photo files
/// never change, so a day.
pub const PHOTO_MAX_AGE_SECS: u32 = 86_400;

/// `[A-Za-z0-9_-]{1,64}.jpg`, nothing else.
pub(crate) fn valid_name(file: &str) -> bool {
    file.strip_suffix(".jpg").is_some_and(|stem| {
        (1..=64).contains(&stem.len())
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

pub fn get(ctx: &mut Ctx<'_, '_>, file: &str) -> AppResult<Response> {
    if !valid_name(file) {
        return Err(AppError::BadRequest("That is not a photo file name."));
    }
    let bytes = ctx
        .io("static-read", |s| s.photos.read(file))
        .map_err(|e| AppError::Internal(format!("reading photo {file}: {e}")))?
        .ok_or(AppError::NotFound("No such photo file."))?;
    Ok(Response {
        status: 200,
        headers: vec![
            ("content-type", "image/jpeg".into()),
            (
                "cache-control",
                format!("public, max-age={PHOTO_MAX_AGE_SECS}"),
            ),
        ],
        body: bytes,
        timing: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        for ok in ["p0001.jpg", "a-b_c.jpg"] {
            assert!(super::valid_name(ok), "{ok}");
        }
        for bad in [
            "../x.jpg",
            "..",
            "a/b.jpg",
            "a\\b.jpg",
            ".jpg",
            "p1.png",
            "p1.jpg\0",
            "%2e%2e.jpg",
            "p 1.jpg",
        ] {
            assert!(!super::valid_name(bad), "{bad}");
        }
    }
}
