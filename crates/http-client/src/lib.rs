//! # http-client — one request, one connection, the exact bytes
//!
//! The contract checks (`cargo test` and `loadgen verify`), the stage tests
//! and the supervisors' readiness probes all need the same small thing: send
//! one request, read the whole answer, look at its status, headers and body
//! as the server sent them. This crate is that one response reader.
//!
//! - One request per connection, `Connection: close`: what a test sees is
//!   exactly one answer, never a leftover of the previous one.
//! - Blocking, with a deadline on the whole exchange: a server that never
//!   answers fails the request after [`Client::timeout`], it does not hang a
//!   test. (The readiness probes run it on a blocking thread.)
//! - The body is framed by `Content-Length` or chunked encoding, checked
//!   against what arrived; a `HEAD` answer has no body whatever its length
//!   says (RFC 9110 §9.3.2).
//!
//! Not the load generator's client: `loadgen` keeps its own hand-written
//! one, calibrated against wrk, because there its cost is the lesson.
//!
//! ```no_run
//! let c = http_client::Client::new("127.0.0.1:8002");
//! let r = c.get("/user/user1").unwrap();
//! assert_eq!(r.status, 200);
//! println!("{} bytes from {:?}", r.body.len(), r.header("x-served-by"));
//! ```

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How long one exchange may take by default: connecting, sending, and
/// reading the whole answer. stage-1 answers a queue of CGI requests in a
/// few seconds on a loaded 2-core machine; 30 s only fires on a stuck server.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest answer read (a page is 5–20 KB, a photo at most 50 KB): a
/// server that sends more is reported, not buffered without end.
pub const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// Headers parsed in one answer; ours send about ten.
const MAX_HEADERS: usize = 64;

/// Why an exchange failed.
#[derive(Debug)]
pub enum Error {
    /// The address does not resolve.
    Address(String),
    /// Connecting, writing or reading failed.
    Io(std::io::Error),
    /// Nothing complete arrived before the deadline.
    Timeout(Duration),
    /// What arrived is not an HTTP/1.x answer (or is cut short).
    Malformed(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Address(a) => write!(f, "cannot resolve {a:?} (expected host:port)"),
            Error::Io(e) => write!(f, "{e}"),
            Error::Timeout(d) => write!(f, "no complete answer within {d:?}"),
            Error::Malformed(why) => write!(f, "malformed answer: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// Whether the server could not be reached at all (nothing listens).
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused)
            || matches!(self, Error::Address(_))
    }
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resp {
    pub status: u16,
    /// Header names in lower case, values as sent (not trimmed inside), in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (lower case), in order.
    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `NAME=VALUE` of the `Set-Cookie` for cookie `name`, ready to send
    /// back as a `Cookie` header.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers_all("set-cookie").find_map(|v| {
            let pair = v.split(';').next()?.trim();
            let (n, _) = pair.split_once('=')?;
            (n == name).then(|| pair.to_owned())
        })
    }
}

/// A server to talk to.
#[derive(Debug, Clone)]
pub struct Client {
    /// `host:port`.
    pub addr: String,
    /// The `Host` header sent (default: `addr`).
    pub host: String,
    pub timeout: Duration,
}

impl Client {
    /// A client for `addr` (`127.0.0.1:8002`, or `http://127.0.0.1:8002/`).
    pub fn new(addr: &str) -> Client {
        let addr = addr
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        Client {
            host: addr.clone(),
            addr,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client with another deadline per exchange.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// `GET target`.
    pub fn get(&self, target: &str) -> Result<Resp, Error> {
        self.request("GET", target, &[], b"")
    }

    /// `GET target` with a `Cookie` header.
    pub fn get_as(&self, target: &str, cookie: &str) -> Result<Resp, Error> {
        self.request("GET", target, &[("Cookie", cookie)], b"")
    }

    /// A form post (`application/x-www-form-urlencoded`), with a cookie if given.
    pub fn post_form(&self, target: &str, form: &str, cookie: Option<&str>) -> Result<Resp, Error> {
        let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
        if let Some(c) = cookie {
            h.push(("Cookie", c));
        }
        self.request("POST", target, &h, form.as_bytes())
    }

    /// Any request: `Host` and `Connection: close` are added, and a
    /// `Content-Length` when there is a body or the method is POST.
    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Resp, Error> {
        let bytes = request_bytes(method, target, &self.host, headers, body);
        self.exchange(&bytes, method == "HEAD", false)
    }

    /// Sends `bytes` as they are (malformed requests included) and reads
    /// the answer. `head` says whether the answer is to a HEAD request.
    pub fn raw(&self, bytes: &[u8], head: bool) -> Result<Resp, Error> {
        self.exchange(bytes, head, false)
    }

    /// Sends `bytes`, then shuts the sending side down (`shutdown(SHUT_WR)`,
    /// what `nc -N` and some HTTP/1.0 clients and proxies do) and reads the
    /// answer that must still come.
    pub fn raw_half_closed(&self, bytes: &[u8], head: bool) -> Result<Resp, Error> {
        self.exchange(bytes, head, true)
    }

    fn exchange(&self, bytes: &[u8], head: bool, half_close: bool) -> Result<Resp, Error> {
        let deadline = Instant::now() + self.timeout;
        let addr = resolve(&self.addr)?;
        let mut s = TcpStream::connect_timeout(&addr, self.timeout).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                Error::Timeout(self.timeout)
            } else {
                Error::Io(e)
            }
        })?;
        let _ = s.set_nodelay(true);
        s.set_write_timeout(Some(self.timeout)).map_err(Error::Io)?;
        s.write_all(bytes).map_err(Error::Io)?;
        if half_close {
            s.shutdown(Shutdown::Write).map_err(Error::Io)?;
        }
        let buf = read_to_close(&mut s, deadline, self.timeout)?;
        parse(&buf, head)
    }
}

fn resolve(addr: &str) -> Result<SocketAddr, Error> {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Error::Address(addr.to_owned()))
}

/// Reads until the server closes the connection or `deadline` passes.
fn read_to_close(s: &mut TcpStream, deadline: Instant, limit: Duration) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout(limit));
        }
        s.set_read_timeout(Some(left)).map_err(Error::Io)?;
        match s.read(&mut chunk) {
            Ok(0) => return Ok(buf),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() > MAX_RESPONSE {
                    return Err(Error::Malformed(format!("more than {MAX_RESPONSE} bytes")));
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Error::Timeout(limit));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A reset after a complete answer (a server closing with unread
            // request bytes) still leaves the answer to parse.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !buf.is_empty() => {
                return Ok(buf);
            }
            Err(e) => return Err(Error::Io(e)),
        }
    }
}

/// The bytes of a request: request line, `Host`, `Connection: close`,
/// `headers`, a `Content-Length` when there is a body (or for POST), body.
pub fn request_bytes(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Parses one complete answer (the whole of what a server sent before
/// closing). `head`: the request was HEAD, so there is no body.
pub fn parse(buf: &[u8], head: bool) -> Result<Resp, Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Response::new(&mut headers);
    let len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.is_empty() => {
            return Err(Error::Malformed(
                "the connection closed without an answer".into(),
            ));
        }
        Ok(httparse::Status::Partial) => {
            return Err(Error::Malformed(format!(
                "incomplete head: {:?}",
                snippet(buf)
            )));
        }
        Err(e) => return Err(Error::Malformed(format!("{e}: {:?}", snippet(buf)))),
    };
    let status = r.code.unwrap_or(0);
    let headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).trim().to_owned(),
            )
        })
        .collect();
    let rest = &buf[len..];
    let value = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if head && !rest.is_empty() {
        return Err(Error::Malformed(format!(
            "an answer to HEAD carried {} bytes of body",
            rest.len()
        )));
    }
    let no_body = head || status < 200 || status == 204 || status == 304;
    let body = if no_body {
        Vec::new()
    } else if value("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        dechunk(rest).ok_or_else(|| Error::Malformed("bad chunked body".into()))?
    } else if let Some(cl) = value("content-length") {
        let n: usize = cl
            .parse()
            .map_err(|_| Error::Malformed(format!("Content-Length {cl:?}")))?;
        if rest.len() < n {
            return Err(Error::Malformed(format!(
                "body cut short: {} of {n} bytes",
                rest.len()
            )));
        }
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Resp {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = b.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&b[..nl])
            .ok()?
            .split(';')
            .next()?
            .trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        b = &b[nl + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

fn snippet(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(120)]).into_owned()
}

/// Percent-encodes a form value (everything but RFC 3986's unreserved set).
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `a=1&b=2`, each value encoded with [`form_encode`].
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lengths_chunks_and_head() {
        let r = parse(
            b"HTTP/1.1 200 OK\r\nX-Served-By: stage-3 pid=7 i0\r\nContent-Length: 3\r\n\r\nok\nextra",
            false,
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-served-by"), Some("stage-3 pid=7 i0"));
        assert_eq!(r.body, b"ok\n");
        let c = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(c.body, b"abc");
        let h = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n", true).unwrap();
        assert!(h.body.is_empty() && h.header("content-length") == Some("3000"));
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", true).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", false).is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\n", false).is_err());
        assert!(parse(b"garbage\r\n\r\n", false).is_err());
        assert!(parse(b"", false).is_err());
        let close = parse(b"HTTP/1.0 200 OK\r\n\r\nuntil close", false).unwrap();
        assert_eq!(close.body, b"until close");
    }

    #[test]
    fn cookies_and_forms() {
        let r = parse(
            b"HTTP/1.1 303 See Other\r\nSet-Cookie: a=1\r\nSet-Cookie: sid=abc; HttpOnly\r\nContent-Length: 0\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(r.cookie("sid").as_deref(), Some("sid=abc"));
        assert_eq!(r.cookie("zz"), None);
        assert_eq!(form(&[("body", "a b&é")]), "body=a%20b%26%C3%A9");
        let bytes = request_bytes("POST", "/login", "h:1", &[("X", "y")], b"");
        assert!(
            String::from_utf8(bytes)
                .unwrap()
                .contains("Content-Length: 0\r\n")
        );
        assert_eq!(Client::new("http://127.0.0.1:9/").addr, "127.0.0.1:9");
    }

    #[test]
    fn nothing_listening_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = Client::new(&format!("127.0.0.1:{port}"))
            .get("/")
            .unwrap_err();
        assert!(e.is_connect(), "{e}");
    }
}
