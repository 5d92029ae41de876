//! The built-in CGI host: HTTP in, one `stage-1-cgi` process per request.
//!
//! What a CGI server does, and only that: build the RFC 3875 environment,
//! start the program, stream the body to its stdin, read its stdout, parse
//! the header block and answer. It runs at most `--max-children` programs
//! at once (the rest wait their turn), kills one that overruns `--timeout`
//! (504), answers 502 when one crashes or prints a malformed header block,
//! and never dies because a child did.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::sync::Semaphore;

/// Programs running at once. Each is a process doing a few hundred
/// microseconds of work on one of 2 cores; 8 keeps both cores busy while
/// some children wait on SQLite's write lock, without a thundering herd.
pub const DEFAULT_MAX_CHILDREN: usize = 8;

/// A child still running after this is killed and the client gets a 504.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest output accepted from a child (a photo is 50 KB at most).
pub const MAX_OUTPUT: usize = 8 * 1024 * 1024;

/// Largest header block accepted from a child.
pub const MAX_HEADER_BLOCK: usize = 64 * 1024;

/// What the host needs to know.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// The CGI program (`stage-1-cgi`), or an interpreter (the CPython
    /// peer's) that runs `program_args`.
    pub program: PathBuf,
    /// Arguments before any other (the script an interpreter runs).
    pub program_args: Vec<OsString>,
    /// Passed to the program as `FK_DB`.
    pub db: PathBuf,
    /// Passed to the program as `FK_PHOTOS`.
    pub photos: PathBuf,
    pub max_children: usize,
    pub timeout: Duration,
    /// The address the host listens on (`SERVER_NAME`, `SERVER_PORT`).
    pub local: SocketAddr,
}

/// A parsed CGI response.
#[derive(Debug, PartialEq, Eq)]
pub struct CgiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Where the body starts in the output.
    pub body_at: usize,
}

/// Why a child's output is not a CGI response.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("no blank line ends the header block")]
    Unterminated,
    #[error("header block larger than {MAX_HEADER_BLOCK} bytes")]
    TooLarge,
    #[error("malformed header line")]
    BadLine,
    #[error("malformed Status header")]
    BadStatus,
    #[error("no Content-Type, Location or Status header")]
    NoCgiField,
}

/// Parses the header block at the start of a CGI program's output
/// (RFC 3875 §6.2–6.3). Lines may end in LF or CRLF.
pub fn parse_header_block(out: &[u8]) -> Result<CgiResponse, HeaderError> {
    let mut pos = 0;
    let mut status = None;
    let mut headers = Vec::new();
    let mut cgi_field = false;
    loop {
        if pos >= MAX_HEADER_BLOCK {
            return Err(HeaderError::TooLarge);
        }
        let Some(nl) = out[pos..].iter().position(|&b| b == b'\n') else {
            return Err(if out.len() - pos >= MAX_HEADER_BLOCK {
                HeaderError::TooLarge
            } else {
                HeaderError::Unterminated
            });
        };
        let line = &out[pos..pos + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += nl + 1;
        if line.is_empty() {
            break;
        }
        let text = std::str::from_utf8(line).map_err(|_| HeaderError::BadLine)?;
        let (name, value) = text.split_once(':').ok_or(HeaderError::BadLine)?;
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        if !valid_name {
            return Err(HeaderError::BadLine);
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split(' ').next().and_then(|c| c.parse::<u16>().ok());
            status = Some(
                code.filter(|c| (100..=599).contains(c))
                    .ok_or(HeaderError::BadStatus)?,
            );
            cgi_field = true;
        } else {
            cgi_field |=
                name.eq_ignore_ascii_case("content-type") || name.eq_ignore_ascii_case("location");
            let location = name.eq_ignore_ascii_case("location");
            if location && status.is_none() {
                status = Some(302); // RFC 3875 §6.2.3: a client redirect
            }
            headers.push((name.to_ascii_lowercase(), value.to_owned()));
        }
    }
    if !cgi_field {
        return Err(HeaderError::NoCgiField);
    }
    Ok(CgiResponse {
        status: status.unwrap_or(200),
        headers,
        body_at: pos,
    })
}

/// Adds up the `dur=` values of a `Server-Timing` header (milliseconds).
fn timing_total(header: &str) -> f64 {
    header
        .split(',')
        .filter_map(|p| p.split(';').find_map(|kv| kv.trim().strip_prefix("dur=")))
        .filter_map(|d| d.parse::<f64>().ok())
        .sum()
}

/// The host.
pub struct Host {
    cfg: HostConfig,
    slots: Semaphore,
}

/// `HTTP_*` meta-variable name of a header (`user-agent` → `HTTP_USER_AGENT`).
fn meta_name(h: &HeaderName) -> String {
    let mut s = String::from("HTTP_");
    s.extend(h.as_str().chars().map(|c| {
        if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        }
    }));
    s
}

/// An error page from the host itself (the child never answered properly).
fn gateway_error(status: u16, detail: &'static str) -> hyper::Response<web::Body> {
    let html = model::render::error(None, status, app::http::reason(status), detail);
    web::from_app(
        app::Response::html(status, html),
        &HeaderValue::from_static("stage-1 host"),
    )
}

impl Host {
    pub fn new(cfg: HostConfig) -> Self {
        let slots = Semaphore::new(cfg.max_children.max(1));
        Host { cfg, slots }
    }

    /// Answers one HTTP request by running the CGI program.
    pub async fn respond(
        self: Arc<Self>,
        req: hyper::Request<Incoming>,
    ) -> hyper::Response<web::Body> {
        let peer = req.extensions().get::<web::PeerAddr>().map(|p| p.0);
        let (parts, body) = match web::read_body(req, app::MAX_BODY_BYTES).await {
            Ok(x) => x,
            Err(e) => {
                return web::from_app(
                    app::error_response(&e),
                    &HeaderValue::from_static("stage-1 host"),
                );
            }
        };
        let Ok(_slot) = self.slots.acquire().await else {
            return gateway_error(503, "shutting down");
        };
        let vars = match self.environment(&parts, peer, body.len()) {
            Ok(v) => v,
            Err(e) => {
                return web::from_app(
                    app::error_response(&e),
                    &HeaderValue::from_static("stage-1 host"),
                );
            }
        };
        let mut cmd = Command::new(&self.cfg.program);
        cmd.args(&self.cfg.program_args).env_clear().envs(vars);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);

        let started = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, program = %self.cfg.program.display(), "cannot start the CGI program");
                return gateway_error(502, "cannot start the CGI program");
            }
        };
        let mut stdin = child.stdin.take();
        let mut stdout = child.stdout.take();
        let io = async {
            if let Some(mut s) = stdin.take() {
                // A program that exits without reading its body is its business.
                let _ = s.write_all(&body).await;
            }
            let mut out = Vec::new();
            if let Some(s) = stdout.as_mut() {
                s.take(MAX_OUTPUT as u64 + 1).read_to_end(&mut out).await?;
            }
            let status = child.wait().await?;
            Ok::<_, std::io::Error>((out, status))
        };
        let (out, status) = match tokio::time::timeout(self.cfg.timeout, io).await {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "CGI program I/O failed");
                return gateway_error(502, "the CGI program failed");
            }
            Err(_) => {
                tracing::warn!(
                    timeout_s = self.cfg.timeout.as_secs(),
                    path = parts.uri.path(),
                    "CGI program overran its timeout; killed"
                );
                let _ = child.start_kill();
                let _ = child.wait().await;
                return gateway_error(504, "the CGI program took too long");
            }
        };
        let took = started.elapsed();
        if out.len() > MAX_OUTPUT {
            return gateway_error(502, "the CGI program printed too much");
        }
        let parsed = match parse_header_block(&out) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, exit = ?status, "malformed CGI response");
                return gateway_error(502, "the CGI program sent a malformed response");
            }
        };
        let head = parts.method == hyper::Method::HEAD;
        self.build(parsed, Bytes::from(out), took, head)
    }

    /// The RFC 3875 environment of a request (plus `FK_DB`, `FK_PHOTOS`).
    /// A request holding a byte no environment variable can carry (a NUL,
    /// from a decoded `%00` in the path) is the client's fault: 400, never
    /// a CGI program that could not be started (502).
    fn environment(
        &self,
        parts: &hyper::http::request::Parts,
        peer: Option<SocketAddr>,
        body_len: usize,
    ) -> Result<Vec<(String, OsString)>, app::AppError> {
        let mut v: Vec<(String, OsString)> = Vec::with_capacity(24);
        let mut set = |k: &str, val: OsString| v.push((k.to_owned(), val));
        set("GATEWAY_INTERFACE", "CGI/1.1".into());
        set("SERVER_PROTOCOL", format!("{:?}", parts.version).into());
        set(
            "SERVER_SOFTWARE",
            concat!("flickrkillr-stage-1/", env!("CARGO_PKG_VERSION")).into(),
        );
        set("SERVER_NAME", self.cfg.local.ip().to_string().into());
        set("SERVER_PORT", self.cfg.local.port().to_string().into());
        set(
            "REMOTE_ADDR",
            peer.map(|p| p.ip().to_string()).unwrap_or_default().into(),
        );
        set("REQUEST_METHOD", parts.method.as_str().into());
        set("SCRIPT_NAME", "".into());
        set("QUERY_STRING", parts.uri.query().unwrap_or("").into());
        set(
            "REQUEST_URI",
            parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .into(),
        );
        set("FK_DB", self.cfg.db.clone().into());
        set("FK_PHOTOS", self.cfg.photos.clone().into());
        // PATH_INFO is the decoded path (RFC 3875 §4.1.5); bytes, not text.
        set("PATH_INFO", decode_lossless(parts.uri.path()));
        if body_len > 0 || parts.headers.contains_key(hyper::header::CONTENT_LENGTH) {
            set("CONTENT_LENGTH", body_len.to_string().into());
        }
        for (name, value) in &parts.headers {
            // Content-* travel as CONTENT_*; Proxy is dropped (httpoxy).
            if *name == hyper::header::CONTENT_LENGTH || name.as_str() == "proxy" {
                continue;
            }
            let Ok(val) = value.to_str() else { continue };
            if *name == hyper::header::CONTENT_TYPE {
                set("CONTENT_TYPE", val.into());
            } else {
                set(&meta_name(name), val.into());
            }
        }
        use std::os::unix::ffi::OsStrExt;
        if v.iter().any(|(_, val)| val.as_bytes().contains(&0)) {
            return Err(app::AppError::BadRequest(
                "The request holds a NUL byte, which a CGI program cannot be given.",
            ));
        }
        Ok(v)
    }

    /// The HTTP response of a CGI answer. For HEAD, a program may (as RFC
    /// 3875 §4.3.3 asks) print no body but the GET's `Content-Length`: that
    /// length is kept, so HEAD says what GET would send.
    fn build(
        &self,
        cgi: CgiResponse,
        out: Bytes,
        took: Duration,
        head: bool,
    ) -> hyper::Response<web::Body> {
        let mut resp = hyper::Response::new(Full::new(out.slice(cgi.body_at..)));
        *resp.status_mut() =
            hyper::StatusCode::from_u16(cgi.status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
        let h = resp.headers_mut();
        let body_len = out.len() - cgi.body_at;
        for (name, value) in cgi.headers {
            // Hop-by-hop and framing headers are ours to set, not the child's
            // (but a HEAD answer without a body keeps the length it names).
            let keep_length = head && body_len == 0 && name == "content-length";
            if matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) && !keep_length
            {
                continue;
            }
            let (Ok(n), Ok(mut v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) else {
                continue;
            };
            if name == "server-timing" {
                // What the child's own clock cannot see: starting the process,
                // loading it, exiting, the pipes. The talk's "loading the
                // interpreter for each request".
                let child_ms = timing_total(&value);
                let process = (took.as_secs_f64() * 1000.0 - child_ms).max(0.0);
                v = HeaderValue::from_str(&format!("process;dur={process:.3}, {value}"))
                    .unwrap_or(v);
            }
            h.append(n, v);
        }
        resp
    }
}

/// Percent-decodes a path to raw bytes (as an OS string: PATH_INFO may hold
/// any byte). Malformed escapes are left as they are.
fn decode_lossless(path: &str) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    std::ffi::OsString::from_vec(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_blocks() {
        let ok =
            parse_header_block(b"Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\nbody")
                .unwrap();
        assert_eq!(ok.status, 404);
        assert_eq!(
            ok.headers,
            vec![("content-type".to_string(), "text/html".to_string())]
        );
        assert_eq!(
            &b"Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\nbody"[ok.body_at..],
            b"body"
        );
        let lf = parse_header_block(b"Content-Type: text/plain\n\nhi").unwrap();
        assert_eq!((lf.status, lf.body_at), (200, 26));
        let redirect = parse_header_block(b"Location: /x\n\n").unwrap();
        assert_eq!(redirect.status, 302);
        assert_eq!(
            parse_header_block(b"Content-Type: text/html\r\n"),
            Err(HeaderError::Unterminated)
        );
        assert_eq!(
            parse_header_block(b"garbage\r\n\r\n"),
            Err(HeaderError::BadLine)
        );
        assert_eq!(
            parse_header_block(b"Status: abc\r\n\r\n"),
            Err(HeaderError::BadStatus)
        );
        assert_eq!(
            parse_header_block(b"Status: 99\r\n\r\n"),
            Err(HeaderError::BadStatus)
        );
        assert_eq!(
            parse_header_block(b"X-Foo: 1\r\n\r\n"),
            Err(HeaderError::NoCgiField)
        );
        assert_eq!(
            parse_header_block(b"Bad Name: 1\r\n\r\n"),
            Err(HeaderError::BadLine)
        );
        assert_eq!(parse_header_block(b""), Err(HeaderError::Unterminated));
        let huge = vec![b'a'; MAX_HEADER_BLOCK + 10];
        assert_eq!(parse_header_block(&huge), Err(HeaderError::TooLarge));
    }

    #[test]
    fn timing_sum_and_decoding() {
        assert!((timing_total("init;dur=0.5, db-open;dur=1.25") - 1.75).abs() < 1e-9);
        assert_eq!(timing_total("garbage"), 0.0);
        use std::os::unix::ffi::OsStrExt;
        assert_eq!(
            decode_lossless("/a%20b%2F%ff%zz%").as_bytes(),
            b"/a b/\xff%zz%"
        );
    }
}
