//! HTTP/1.1 on the wire, without I/O: request bytes, the response head, and
//! the body framing (Content-Length, chunked, until-close).
//!
//! Everything here works on byte slices the caller owns, so the hot loop
//! reuses one buffer per connection and allocates nothing per request: the
//! interesting response headers come back as ranges into that buffer.

use std::fmt::Write as _;
use std::ops::Range;

/// Headers we can parse in one response. Our stages send about ten; nginx
/// sends eight. Twice the most we expect, and a response with more is
/// reported as a parse error rather than silently truncated.
pub const MAX_HEADERS: usize = 48;

/// Why a response could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The status line or a header is not HTTP/1.x.
    #[error("malformed response head: {0}")]
    Head(String),
    /// Content-Length is not a number, or two differ.
    #[error("bad Content-Length")]
    ContentLength,
    /// A chunked body is not well-formed.
    #[error("malformed chunked body")]
    Chunked,
    /// The head is larger than we accept.
    #[error("response head larger than {0} bytes")]
    HeadTooLarge(usize),
    /// The connection closed before the body was complete.
    #[error("connection closed before the end of the body")]
    Truncated,
}

/// How the body of a response ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body at all (204, 304, 1xx).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closes the connection (no length given).
    UntilClose,
}

/// What we keep of a response head. Ranges index the buffer the head was
/// parsed from.
#[derive(Debug, Clone)]
pub struct Head {
    pub status: u16,
    /// Length of the head, blank line included: the body starts here.
    pub len: usize,
    pub framing: Framing,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
    /// `Server-Timing` value (the last one, if several).
    pub server_timing: Option<Range<usize>>,
    /// `X-Served-By` value.
    pub served_by: Option<Range<usize>>,
    /// `X-Cache: HIT` (nginx served it from memcached, stage-4).
    pub cache_hit: bool,
    /// `sid=VALUE` of a `Set-Cookie: sid=...` header (name, `=` and value).
    pub sid: Option<Range<usize>>,
    /// The whole `Set-Cookie` value that carried the sid.
    pub set_cookie: Option<Range<usize>>,
    /// `Location` value.
    pub location: Option<Range<usize>>,
    pub content_type: Option<Range<usize>>,
    pub has_date: bool,
    pub has_content_length: bool,
}

/// The range `part` occupies inside `buf` (`part` must be a sub-slice).
fn range_in(buf: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

/// Whether a comma-separated header value contains `token` (case-insensitive).
fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    let v = trim(v);
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Parses a response head at the start of `buf`. `Ok(None)`: not complete
/// yet, read more. `all`, when given, receives every header (for `verify`).
pub fn parse_head(
    buf: &[u8],
    mut all: Option<&mut Vec<(String, Vec<u8>)>>,
) -> Result<Option<Head>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(HttpError::Head(e.to_string())),
    };
    let status = resp.code.unwrap_or(0);
    let http11 = resp.version == Some(1);
    let mut head = Head {
        status,
        len,
        framing: Framing::UntilClose,
        keep_alive: http11,
        server_timing: None,
        served_by: None,
        cache_hit: false,
        sid: None,
        set_cookie: None,
        location: None,
        content_type: None,
        has_date: false,
        has_content_length: false,
    };
    let mut length: Option<u64> = None;
    let mut chunked = false;
    for h in resp.headers.iter() {
        let (name, value) = (h.name, h.value);
        if let Some(all) = all.as_deref_mut() {
            all.push((name.to_ascii_lowercase(), value.to_vec()));
        }
        // Dispatch on the length first: most headers are rejected by one compare.
        match name.len() {
            14 if name.eq_ignore_ascii_case("content-length") => {
                let n = parse_u64(value).ok_or(HttpError::ContentLength)?;
                if length.is_some_and(|l| l != n) {
                    return Err(HttpError::ContentLength);
                }
                length = Some(n);
                head.has_content_length = true;
            }
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
                chunked = trim(last).eq_ignore_ascii_case(b"chunked");
            }
            10 if name.eq_ignore_ascii_case("connection") => {
                if has_token(value, "close") {
                    head.keep_alive = false;
                } else if has_token(value, "keep-alive") {
                    head.keep_alive = true;
                }
            }
            10 if name.eq_ignore_ascii_case("set-cookie") => {
                let v = trim(value);
                if v.starts_with(b"sid=") {
                    let end = v.iter().position(|&b| b == b';').unwrap_or(v.len());
                    head.sid = Some(range_in(buf, &v[..end]));
                    head.set_cookie = Some(range_in(buf, v));
                }
            }
            13 if name.eq_ignore_ascii_case("server-timing") => {
                head.server_timing = Some(range_in(buf, value));
            }
            11 if name.eq_ignore_ascii_case("x-served-by") => {
                head.served_by = Some(range_in(buf, trim(value)));
            }
            7 if name.eq_ignore_ascii_case("x-cache") => {
                head.cache_hit = trim(value).starts_with(b"HIT");
            }
            8 if name.eq_ignore_ascii_case("location") => {
                head.location = Some(range_in(buf, trim(value)));
            }
            12 if name.eq_ignore_ascii_case("content-type") => {
                head.content_type = Some(range_in(buf, trim(value)));
            }
            4 if name.eq_ignore_ascii_case("date") => head.has_date = true,
            _ => {}
        }
    }
    head.framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        head.keep_alive = false;
        Framing::UntilClose
    };
    Ok(Some(head))
}

/// Where a chunked body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size { n: u64, digits: u8 },
    Ext { n: u64 },
    SizeLf { n: u64 },
    Data(u64),
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerLf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
    Done,
}

/// Consumes a response body as it arrives, in pieces of any size.
#[derive(Debug, Clone)]
pub struct Body {
    state: BodyState,
}

impl Body {
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => BodyState::Chunked(Chunk::Size { n: 0, digits: 0 }),
            Framing::UntilClose => BodyState::UntilClose,
        };
        Body { state }
    }

    pub fn is_done(&self) -> bool {
        self.state == BodyState::Done
    }

    /// The connection reached end of file: fine only for an until-close body.
    pub fn eof(&mut self) -> Result<(), HttpError> {
        match self.state {
            BodyState::UntilClose | BodyState::Done => {
                self.state = BodyState::Done;
                Ok(())
            }
            _ => Err(HttpError::Truncated),
        }
    }

    /// Consumes body bytes from the start of `data` and returns how many
    /// belonged to this body (the rest, if any, is the next response).
    /// The payload (chunk framing removed) is appended to `sink` if given.
    pub fn feed(
        &mut self,
        data: &[u8],
        mut sink: Option<&mut Vec<u8>>,
    ) -> Result<usize, HttpError> {
        let mut i = 0;
        while i < data.len() {
            match &mut self.state {
                BodyState::Done => break,
                BodyState::UntilClose => {
                    if let Some(s) = sink.as_deref_mut() {
                        s.extend_from_slice(&data[i..]);
                    }
                    i = data.len();
                }
                BodyState::Length(left) => {
                    let take = (data.len() - i).min(usize::try_from(*left).unwrap_or(usize::MAX));
                    if let Some(s) = sink.as_deref_mut() {
                        s.extend_from_slice(&data[i..i + take]);
                    }
                    i += take;
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = BodyState::Done;
                    }
                }
                BodyState::Chunked(Chunk::Data(left)) => {
                    let take = (data.len() - i).min(usize::try_from(*left).unwrap_or(usize::MAX));
                    if let Some(s) = sink.as_deref_mut() {
                        s.extend_from_slice(&data[i..i + take]);
                    }
                    i += take;
                    *left -= take as u64;
                    if *left == 0 {
                        self.state = BodyState::Chunked(Chunk::DataCr);
                    }
                }
                BodyState::Chunked(c) => {
                    let b = data[i];
                    i += 1;
                    self.state = step_chunk(*c, b)?;
                }
            }
        }
        Ok(i)
    }
}

/// One framing byte of a chunked body (data bytes are taken in bulk).
fn step_chunk(c: Chunk, b: u8) -> Result<BodyState, HttpError> {
    let size_done = |n: u64, digits: u8| {
        if digits == 0 {
            Err(HttpError::Chunked)
        } else if n == 0 {
            Ok(BodyState::Chunked(Chunk::TrailerStart))
        } else {
            Ok(BodyState::Chunked(Chunk::Data(n)))
        }
    };
    let next = |c| Ok(BodyState::Chunked(c));
    match c {
        Chunk::Size { n, digits } => match b {
            b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                // 15 hex digits is far more than any body; more is an attack or a bug.
                if digits >= 15 {
                    return Err(HttpError::Chunked);
                }
                let d = (b as char).to_digit(16).unwrap_or(0);
                next(Chunk::Size {
                    n: n * 16 + u64::from(d),
                    digits: digits + 1,
                })
            }
            b';' | b' ' | b'\t' if digits > 0 => next(Chunk::Ext { n }),
            b'\r' => {
                if digits == 0 {
                    Err(HttpError::Chunked)
                } else {
                    next(Chunk::SizeLf { n })
                }
            }
            b'\n' => size_done(n, digits),
            _ => Err(HttpError::Chunked),
        },
        Chunk::Ext { n } => match b {
            b'\r' => next(Chunk::SizeLf { n }),
            b'\n' => size_done(n, 1),
            _ => next(Chunk::Ext { n }),
        },
        Chunk::SizeLf { n } if b == b'\n' => size_done(n, 1),
        Chunk::DataCr if b == b'\r' => next(Chunk::DataLf),
        Chunk::DataCr | Chunk::DataLf if b == b'\n' => next(Chunk::Size { n: 0, digits: 0 }),
        Chunk::TrailerStart => match b {
            b'\r' => next(Chunk::TrailerLf),
            b'\n' => Ok(BodyState::Done),
            _ => next(Chunk::TrailerLine),
        },
        Chunk::TrailerLine => next(if b == b'\n' {
            Chunk::TrailerStart
        } else {
            Chunk::TrailerLine
        }),
        Chunk::TrailerLf if b == b'\n' => Ok(BodyState::Done),
        _ => Err(HttpError::Chunked),
    }
}

/// Serialises a request into `out` (cleared first).
///
/// `extra` is pre-serialised header lines (`Name: value\r\n` each).
#[allow(clippy::too_many_arguments)]
pub fn write_request(
    out: &mut Vec<u8>,
    method: &str,
    path: &str,
    host: &str,
    cookie: Option<&str>,
    extra: &str,
    form: Option<&[u8]>,
    close: bool,
) {
    out.clear();
    let mut s = String::with_capacity(160 + path.len() + extra.len());
    let _ = write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
    );
    if let Some(c) = cookie {
        let _ = write!(s, "Cookie: {c}\r\n");
    }
    s.push_str(extra);
    if let Some(body) = form {
        let _ = write!(
            s,
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    if close {
        s.push_str("Connection: close\r\n");
    }
    s.push_str("\r\n");
    out.extend_from_slice(s.as_bytes());
    if let Some(body) = form {
        out.extend_from_slice(body);
    }
}

/// What we call ourselves in `User-Agent`.
pub const USER_AGENT: &str = concat!("loadgen/", env!("CARGO_PKG_VERSION"));

/// `application/x-www-form-urlencoded` encoding of name/value pairs.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_component(k, &mut out);
        out.push('=');
        encode_component(v, &mut out);
    }
    out
}

fn encode_component(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// Calls `f(name, dur_ms)` for each entry of a `Server-Timing` value such as
/// `db-open;dur=0.12, query;desc="q";dur=1.5`. Entries without `dur` are skipped.
pub fn server_timing(value: &[u8], mut f: impl FnMut(&str, f64)) {
    let Ok(value) = std::str::from_utf8(value) else {
        return;
    };
    for entry in value.split(',') {
        let mut params = entry.split(';');
        let name = params.next().unwrap_or_default().trim();
        if name.is_empty() {
            continue;
        }
        for p in params {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("dur") {
                if let Ok(ms) = v.trim().trim_matches('"').parse::<f64>()
                    && ms.is_finite()
                    && ms >= 0.0
                {
                    f(name, ms);
                }
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Head {
        parse_head(s.as_bytes(), None).unwrap().unwrap()
    }

    #[test]
    fn heads_and_framing() {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer-Timing: db;dur=1.5\r\nX-Served-By: stage-2 pid=7\r\n\r\nhello";
        let h = head(raw);
        assert_eq!(
            (h.status, h.framing, h.keep_alive),
            (200, Framing::Length(5), true)
        );
        assert_eq!(&raw.as_bytes()[h.server_timing.unwrap()], b"db;dur=1.5");
        assert_eq!(&raw.as_bytes()[h.served_by.unwrap()], b"stage-2 pid=7");
        assert_eq!(h.len, raw.len() - 5);

        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", None)
                .unwrap()
                .is_none()
        );
        let h = head(
            "HTTP/1.1 303 See Other\r\nSet-Cookie: sid=abc12; HttpOnly; Path=/\r\nLocation: /\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        assert!(!h.keep_alive);
        let h2 = "HTTP/1.1 303 See Other\r\nSet-Cookie: sid=abc12; HttpOnly; Path=/\r\n\r\n";
        let hh = head(h2);
        assert_eq!(&h2.as_bytes()[hh.sid.unwrap()], b"sid=abc12");
        assert_eq!(hh.framing, Framing::UntilClose);
        assert!(!head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n").keep_alive);
        assert_eq!(
            head("HTTP/1.1 304 Not Modified\r\n\r\n").framing,
            Framing::Empty
        );
        assert_eq!(
            head(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 9\r\n\r\n"
            )
            .framing,
            Framing::Chunked
        );
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", None).is_err());
        assert!(parse_head(b"garbage\r\n\r\n", None).is_err());
    }

    #[test]
    fn chunked_in_any_pieces() {
        let wire = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        for piece in 1..wire.len() {
            let mut body = Body::new(Framing::Chunked);
            let mut out = Vec::new();
            let mut used = 0;
            for part in wire.chunks(piece) {
                if body.is_done() {
                    break;
                }
                used += body.feed(part, Some(&mut out)).unwrap();
            }
            assert!(body.is_done(), "piece {piece}");
            assert_eq!(out, b"hello, world");
            assert_eq!(&wire[used..], b"NEXT", "piece {piece}");
        }
        let mut bad = Body::new(Framing::Chunked);
        assert!(bad.feed(b"zz\r\n", None).is_err());
        let mut short = Body::new(Framing::Length(10));
        assert_eq!(short.feed(b"abc", None).unwrap(), 3);
        assert_eq!(short.eof(), Err(HttpError::Truncated));
    }

    #[test]
    fn encodings() {
        assert_eq!(
            form_encode(&[("body", "a b&<é>")]),
            "body=a+b%26%3C%C3%A9%3E"
        );
        let mut got = Vec::new();
        server_timing(
            b"init;dur=0.5, db-open;desc=\"x\";dur=1.25,cache-get, bad;dur=zz",
            |n, d| got.push((n.to_string(), d)),
        );
        assert_eq!(
            got,
            vec![("init".to_string(), 0.5), ("db-open".to_string(), 1.25)]
        );
        let mut req = Vec::new();
        write_request(
            &mut req,
            "POST",
            "/login",
            "h:1",
            Some("sid=1"),
            "",
            Some(b"a=b"),
            true,
        );
        let s = String::from_utf8(req).unwrap();
        assert!(s.starts_with("POST /login HTTP/1.1\r\nHost: h:1\r\n"));
        assert!(s.ends_with("Content-Length: 3\r\nConnection: close\r\n\r\na=b"));
        assert!(s.contains("Cookie: sid=1\r\n"));
    }
}
