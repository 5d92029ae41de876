//! The memcached keys, in one place: nginx looks pages and photos up under
//! the key it builds from each request, so the app must store them under
//! exactly that key — this module is the one place that knows the rule.

use std::fmt::Write;

use app::PageAddr;

/// How nginx builds the key of a request (`set $memcached_key …;` in
/// `templates/nginx.conf`, rendered from this constant): the decoded,
/// normalised path, `?`, the raw query (empty when there is none).
pub const NGINX_KEY: &str = "$uri?$args";

/// Prefix of the data behind a page (for logged-in visitors, whose page
/// nginx cannot serve: their header shows their name).
pub const DATA_PREFIX: &str = "data:";

/// Prefix of a session.
pub const SESSION_PREFIX: &str = "session:";

/// The key nginx uses for a request of `path` with `query`: [`NGINX_KEY`]
/// for the canonical address (the app only ever names canonical addresses,
/// so a write knows every key it must update).
pub fn page(addr: &PageAddr) -> String {
    format!("{}?{}", addr.path, addr.query)
}

/// The key of the data behind a page.
pub fn data(addr: &PageAddr) -> String {
    format!("{DATA_PREFIX}{}", page(addr))
}

/// The key of a photo file: what nginx looks up for `/static/photos/FILE`.
pub fn photo(file: &str) -> String {
    page(&PageAddr {
        path: format!("/static/photos/{file}"),
        query: String::new(),
    })
}

/// The key of session `id`.
pub fn session(id: &str) -> String {
    format!("{SESSION_PREFIX}{id}")
}

/// Escapes a key as nginx's memcached module does before sending it
/// (`ngx_escape_uri(.., NGX_ESCAPE_MEMCACHED)`): bytes 0x00–0x1F, space and
/// `%` become `%XX` (upper-case hex); everything else is sent as is.
pub fn escape(key: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_nginx_s() {
        let a = |p: &str, q: &str| PageAddr {
            path: p.into(),
            query: q.into(),
        };
        assert_eq!(page(&a("/photo/12", "")), "/photo/12?");
        assert_eq!(page(&a("/user/x", "page=2")), "/user/x?page=2");
        assert_eq!(data(&a("/", "")), "data:/?");
        assert_eq!(photo("p1.jpg"), "/static/photos/p1.jpg?");
        assert_eq!(session("ab"), "session:ab");
        assert_eq!(escape("/user/x?page=1"), "/user/x?page=1");
        assert_eq!(escape("a b%\u{1}é"), "a%20b%25%01é");
        assert_eq!(NGINX_KEY, "$uri?$args");
    }
}
