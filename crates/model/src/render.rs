//! HTML pages, from compiled askama templates (`templates/` in this crate).
//!
//! The templates are `.html`, so askama escapes every `{{ value }}` for HTML:
//! a title of `<script>` comes out as `&lt;script&gt;`. Nothing here writes
//! user text by hand, and nothing here marks a value `|safe`.
//!
//! Every page takes the viewer (the logged-in visitor, or `None`) because the
//! header shows their name: that is why every request reads the session.
//! Pages are UTF-8; the HTTP layer sends `text/html; charset=utf-8`.

use askama::Template;

use crate::queries::{Photo, PhotoPage, SessionUser, UserPage};
use crate::{Result, time};

/// Longest comment accepted (characters); the form says so too.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// Date helpers the templates call as `self.date(..)`.
trait Dates {
    fn date(&self, ts: &i64) -> String {
        time::date(*ts)
    }
    fn date_time(&self, ts: &i64) -> String {
        time::date_time(*ts)
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomeTpl<'a> {
    viewer: Option<&'a SessionUser>,
    photos: &'a [Photo],
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserTpl<'a> {
    viewer: Option<&'a SessionUser>,
    page: &'a UserPage,
}
impl Dates for UserTpl<'_> {}

#[derive(Template)]
#[template(path = "photo.html")]
struct PhotoTpl<'a> {
    viewer: Option<&'a SessionUser>,
    page: &'a PhotoPage,
    max_comment: usize,
}
impl Dates for PhotoTpl<'_> {}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTpl<'a> {
    viewer: Option<&'a SessionUser>,
    status: u16,
    reason: &'a str,
    detail: &'a str,
}

/// Room for a whole page: the pages are 1.5–6 KB, and askama's own size
/// hint (the template's literal text) made the buffer grow four times a
/// page. One allocation of this size instead.
const PAGE_CAPACITY: usize = 8 * 1024;

fn render_page(t: &impl Template) -> Result<String> {
    let mut s = String::with_capacity(PAGE_CAPACITY);
    t.render_into(&mut s)?;
    Ok(s)
}

/// The home page.
pub fn home(viewer: Option<&SessionUser>, photos: &[Photo]) -> Result<String> {
    render_page(&HomeTpl { viewer, photos })
}

/// A user's page of photos.
pub fn user(viewer: Option<&SessionUser>, page: &UserPage) -> Result<String> {
    render_page(&UserTpl { viewer, page })
}

/// A photo with its comments.
pub fn photo(viewer: Option<&SessionUser>, page: &PhotoPage) -> Result<String> {
    render_page(&PhotoTpl {
        viewer,
        page,
        max_comment: MAX_COMMENT_CHARS,
    })
}

/// An error page: status line words and one sentence for a person.
pub fn error(viewer: Option<&SessionUser>, status: u16, reason: &str, detail: &str) -> String {
    ErrorTpl {
        viewer,
        status,
        reason,
        detail,
    }
    .render()
    // Our error template has no fallible parts; should askama ever fail,
    // a plain escaped-free line still tells the visitor what happened.
    .unwrap_or_else(|_| format!("{status} {reason}\n"))
}
