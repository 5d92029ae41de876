//! The request and response as the handling code sees them: plain structs,
//! filled in by whichever transport carries them (a CGI environment, hyper).
//! Plus the small parsers every web framework has: percent-decoding, forms,
//! query strings, cookies. Each returns an error rather than guessing.

use crate::error::{AppError, AppResult};
use crate::timing::Timing;

/// Largest request body accepted (forms are small; comments are at most
/// 2,000 characters, about 8 KiB percent-encoded in the worst case).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A request, borrowed from the transport.
#[derive(Clone, Debug, Default)]
pub struct Request<'a> {
    /// `GET`, `POST`, … exactly as sent.
    pub method: &'a str,
    /// The path as sent on the request line, still percent-encoded.
    pub path: &'a str,
    /// The query string without `?`, if any.
    pub query: Option<&'a str>,
    /// The `Cookie` header.
    pub cookie: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The `Host` header (for the cross-site form check).
    pub host: Option<&'a str>,
    /// The `Origin` header.
    pub origin: Option<&'a str>,
    /// The `Referer` header.
    pub referer: Option<&'a str>,
    /// The body (already bounded by [`MAX_BODY_BYTES`] by the transport).
    pub body: &'a [u8],
}

/// A response, handed back to the transport.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Headers besides the ones every transport adds (`Date`,
    /// `Content-Length`, `Server-Timing`, `X-Served-By`).
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Where the time went, for the `Server-Timing` header.
    pub timing: Timing,
}

/// `Content-Type` of every page.
pub const HTML: &str = "text/html; charset=utf-8";

impl Response {
    /// A page.
    pub fn html(status: u16, body: String) -> Self {
        Response {
            status,
            headers: vec![("content-type", HTML.into())],
            body: body.into_bytes(),
            timing: Timing::new(),
        }
    }

    /// A 303 redirect (the answer to a form post: "redirect after post").
    pub fn see_other(location: String) -> Self {
        Response {
            status: 303,
            headers: vec![("location", location), ("content-type", HTML.into())],
            body: Vec::new(),
            timing: Timing::new(),
        }
    }

    /// Adds a header.
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The value of header `name` (lower-case), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The status line's reason phrase.
    pub fn reason(&self) -> &'static str {
        reason(self.status)
    }
}

/// Reason phrase for the statuses this site sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Internal Server Error",
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s` (and `+` as space when `plus_is_space`, as forms use).
/// Malformed escapes and invalid UTF-8 are errors, not replacement characters.
pub fn percent_decode(s: &str, plus_is_space: bool) -> AppResult<String> {
    if !s.bytes().any(|b| b == b'%' || (plus_is_space && b == b'+')) {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let (Some(h), Some(l)) = (
                    bytes.get(i + 1).copied().and_then(hex_val),
                    bytes.get(i + 2).copied().and_then(hex_val),
                ) else {
                    return Err(AppError::BadRequest(
                        "Malformed percent-escape in the request.",
                    ));
                };
                out.push(h << 4 | l);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| AppError::BadRequest("The request is not valid UTF-8."))
}

/// The decoded path segments of `/a/b%20c` → `["a", "b c"]`. A trailing
/// slash yields an empty last segment, so `/user/x/` is not `/user/x`.
pub fn segments(path: &str) -> AppResult<Vec<String>> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(AppError::BadRequest(
            "The request path must start with '/'.",
        ));
    };
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    rest.split('/')
        .map(|seg| percent_decode(seg, false))
        .collect()
}

/// Decoded `name=value` pairs of a query string or a form body.
pub fn form_pairs(s: &str) -> AppResult<Vec<(String, String)>> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k, true)?, percent_decode(v, true)?))
        })
        .collect()
}

/// The first value of `name` among form pairs.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The value of cookie `name` in a `Cookie` header. Garbage yields `None`,
/// never an error: a bad cookie is an anonymous visitor.
pub fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// The form body of a POST: checks the content type, UTF-8 and encoding.
pub fn form_body(req: &Request<'_>) -> AppResult<Vec<(String, String)>> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(AppError::TooLarge);
    }
    let ct = req
        .content_type
        .unwrap_or("application/x-www-form-urlencoded");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(AppError::UnsupportedMediaType);
    }
    let text = std::str::from_utf8(req.body)
        .map_err(|_| AppError::BadRequest("The form is not valid UTF-8."))?;
    form_pairs(text)
}

/// The host part of an absolute URL (`https://example.com:8080/x` →
/// `example.com:8080`), for the cross-site form check.
pub fn url_authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split(['/', '?', '#']).next().unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b+c", true).unwrap(), "a b c");
        assert_eq!(percent_decode("a%20b+c", false).unwrap(), "a b+c");
        assert_eq!(percent_decode("caf%C3%A9", false).unwrap(), "café");
        assert!(percent_decode("%zz", false).is_err());
        assert!(percent_decode("%", false).is_err());
        assert!(
            percent_decode("%ff%fe", false).is_err(),
            "invalid UTF-8 is rejected"
        );
        assert_eq!(segments("/").unwrap(), Vec::<String>::new());
        assert_eq!(segments("/user/a%2Fb").unwrap(), vec!["user", "a/b"]);
        assert_eq!(segments("/user/x/").unwrap(), vec!["user", "x", ""]);
        assert!(segments("user").is_err());
    }

    #[test]
    fn forms_and_cookies() {
        let p = form_pairs("username=user1&password=pw-user1&x").unwrap();
        assert_eq!(field(&p, "username"), Some("user1"));
        assert_eq!(field(&p, "x"), Some(""));
        assert_eq!(field(&p, "nope"), None);
        assert_eq!(cookie(Some("a=1; sid=abc; b=2"), "sid"), Some("abc"));
        assert_eq!(cookie(Some(";;; =; sid"), "sid"), None);
        assert_eq!(cookie(None, "sid"), None);
        assert_eq!(
            url_authority("http://127.0.0.1:8002/login"),
            Some("127.0.0.1:8002")
        );
        assert_eq!(url_authority("null"), None);
    }
}
