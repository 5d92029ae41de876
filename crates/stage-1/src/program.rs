//! The CGI program's side of RFC 3875: the request from the environment and
//! stdin, the response as a header block and a body on stdout.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// The request meta-variables a CGI program reads (RFC 3875 §4.1), taken
/// from the environment once, as owned strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgiEnv {
    pub method: String,
    /// The raw (still percent-encoded) path the handling routes on.
    pub path: String,
    pub query: Option<String>,
    pub content_length: Option<usize>,
    pub content_type: Option<String>,
    pub cookie: Option<String>,
    pub host: Option<String>,
    pub origin: Option<String>,
    pub referer: Option<String>,
}

/// Why the environment is not a usable CGI request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvError {
    #[error(
        "REQUEST_METHOD is not set: this is a CGI program; run it from a CGI server or use `stage-1` (the built-in host)"
    )]
    NotCgi,
    #[error("CONTENT_LENGTH is not a number")]
    BadLength,
    #[error("the request path is not valid UTF-8")]
    BadPath,
}

/// Percent-encodes every byte outside RFC 3986's unreserved set and `/`, so
/// a decoded `PATH_INFO` becomes a raw path the handling can decode again.
fn encode_path(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

impl CgiEnv {
    /// Reads the meta-variables through `get` (the process environment in
    /// production, a map in tests and the fuzzer).
    ///
    /// The path: RFC 3875's `PATH_INFO` is already percent-decoded, which
    /// loses the difference between `/` and `%2F`. Servers (lighttpd,
    /// Apache, our host) also pass the raw `REQUEST_URI`; when it is there
    /// its path is used, minus `SCRIPT_NAME` if the script is mounted under
    /// a prefix. Otherwise `PATH_INFO` is re-encoded.
    pub fn from_vars(get: impl Fn(&str) -> Option<OsString>) -> Result<Self, EnvError> {
        let text = |k: &str| {
            get(k)
                .and_then(|v| v.into_string().ok())
                .filter(|v| !v.is_empty())
        };
        let method = text("REQUEST_METHOD").ok_or(EnvError::NotCgi)?;
        let script = text("SCRIPT_NAME").unwrap_or_default();
        let path = match text("REQUEST_URI") {
            Some(uri) => {
                let raw = uri.split(['?', '#']).next().unwrap_or("");
                let rest = match raw.strip_prefix(script.as_str()) {
                    Some(r) if !script.is_empty() && (r.is_empty() || r.starts_with('/')) => r,
                    _ => raw,
                };
                if rest.is_empty() {
                    "/".to_owned()
                } else {
                    rest.to_owned()
                }
            }
            None => match get("PATH_INFO") {
                Some(p) if !p.is_empty() => encode_path(p.as_bytes()),
                _ => "/".to_owned(),
            },
        };
        if !path.starts_with('/') {
            return Err(EnvError::BadPath);
        }
        let content_length = match text("CONTENT_LENGTH") {
            Some(v) => Some(v.trim().parse().map_err(|_| EnvError::BadLength)?),
            None => None,
        };
        Ok(CgiEnv {
            method,
            path,
            query: get("QUERY_STRING")
                .and_then(|v| v.into_string().ok())
                .filter(|q| !q.is_empty()),
            content_length,
            content_type: text("CONTENT_TYPE"),
            cookie: text("HTTP_COOKIE"),
            host: text("HTTP_HOST"),
            origin: text("HTTP_ORIGIN"),
            referer: text("HTTP_REFERER"),
        })
    }

    /// Borrows the handling's request view.
    pub fn request<'a>(&'a self, body: &'a [u8]) -> app::Request<'a> {
        app::Request {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            cookie: self.cookie.as_deref(),
            content_type: self.content_type.as_deref(),
            host: self.host.as_deref(),
            origin: self.origin.as_deref(),
            referer: self.referer.as_deref(),
            body,
        }
    }
}

/// The CGI response: a `Status:` line, the headers, a blank line, the body
/// (RFC 3875 §6). Header values come from our own code; line breaks in one
/// would forge headers, so any are replaced by spaces. Written byte by byte
/// into one buffer sized for the page (no `format!`: the block cost 30k
/// instructions of a 1.1M-instruction CGI request with it).
pub fn write_response(resp: &app::Response, served_by: &str, out: &mut Vec<u8>) {
    out.reserve(resp.body.len() + 512);
    out.extend_from_slice(b"Status: ");
    push_decimal(out, usize::from(resp.status));
    out.push(b' ');
    out.extend_from_slice(resp.reason().as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &resp.headers {
        push_header(out, name, value);
    }
    push_header(out, "X-Served-By", served_by);
    let timing = resp.timing.header_value();
    if !timing.is_empty() {
        push_header(out, "Server-Timing", &timing);
    }
    out.extend_from_slice(b"Content-Length: ");
    push_decimal(out, resp.body.len());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&resp.body);
}

/// Appends `name: value` and its line end, any line break in the value
/// replaced by a space (it would forge a header).
fn push_header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    let start = out.len();
    out.extend_from_slice(value.as_bytes());
    for b in &mut out[start..] {
        if matches!(*b, b'\r' | b'\n') {
            *b = b' ';
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<CgiEnv, EnvError> {
        let m: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        CgiEnv::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn reads_the_rfc3875_environment() {
        let e = env(&[
            ("REQUEST_METHOD", "POST"),
            ("REQUEST_URI", "/photo/3/comments?x=1"),
            ("PATH_INFO", "/photo/3/comments"),
            ("QUERY_STRING", "x=1"),
            ("CONTENT_LENGTH", "12"),
            ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
            ("HTTP_COOKIE", "sid=abc"),
        ])
        .unwrap();
        assert_eq!(e.method, "POST");
        assert_eq!(e.path, "/photo/3/comments");
        assert_eq!(e.query.as_deref(), Some("x=1"));
        assert_eq!(e.content_length, Some(12));
        assert_eq!(e.cookie.as_deref(), Some("sid=abc"));
    }

    #[test]
    fn raw_path_wins_and_script_prefix_is_removed() {
        let e = env(&[
            ("REQUEST_METHOD", "GET"),
            ("REQUEST_URI", "/user/a%2Fb"),
            ("PATH_INFO", "/user/a/b"),
        ])
        .unwrap();
        assert_eq!(e.path, "/user/a%2Fb");
        let e = env(&[
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", "/fk.cgi"),
            ("REQUEST_URI", "/fk.cgi/photo/1"),
        ])
        .unwrap();
        assert_eq!(e.path, "/photo/1");
        let e = env(&[("REQUEST_METHOD", "GET"), ("PATH_INFO", "/user/a b")]).unwrap();
        assert_eq!(e.path, "/user/a%20b");
        let e = env(&[("REQUEST_METHOD", "GET")]).unwrap();
        assert_eq!(e.path, "/");
    }

    #[test]
    fn rejects_what_is_not_a_request() {
        assert_eq!(env(&[]), Err(EnvError::NotCgi));
        assert_eq!(
            env(&[("REQUEST_METHOD", "GET"), ("CONTENT_LENGTH", "-1")]),
            Err(EnvError::BadLength)
        );
        assert_eq!(
            env(&[("REQUEST_METHOD", "GET"), ("REQUEST_URI", "http://x/")]),
            Err(EnvError::BadPath)
        );
    }

    #[test]
    fn response_block() {
        let r = app::Response::see_other("/x\r\nSet-Cookie: evil".into());
        let mut out = Vec::new();
        write_response(&r, "stage-1 pid=1", &mut out);
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("Status: 303 See Other\r\n"), "{s}");
        assert!(
            s.contains("location: /x  Set-Cookie: evil\r\n"),
            "no header injection: {s}"
        );
        assert!(s.ends_with("Content-Length: 0\r\n\r\n"));
    }
}
