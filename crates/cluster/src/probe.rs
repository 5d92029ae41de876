//! Readiness probes: a tiny HTTP/1.1 GET and a memcached `version`, each
//! with a deadline. Only for health checks; the traffic goes through nginx.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest probe answer read (a health check says `ok`).
const MAX_REPLY: usize = 64 * 1024;

/// What a probe got back.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on `addr` with `Connection: close`, within `timeout`.
pub async fn http_get(addr: &str, path: &str, timeout: Duration) -> Result<HttpReply, String> {
    tokio::time::timeout(timeout, async {
        let mut s = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: flickrkillr-probe\r\n\r\n");
        s.write_all(req.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::with_capacity(1024);
        (&mut s)
            .take(MAX_REPLY as u64)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        parse_reply(&buf)
    })
    .await
    .map_err(|_| format!("no answer from {addr} within {timeout:?}"))?
}

fn parse_reply(buf: &[u8]) -> Result<HttpReply, String> {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("incomplete answer ({} bytes)", buf.len()))?;
    let head =
        std::str::from_utf8(&buf[..end]).map_err(|_| "answer head is not UTF-8".to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(HttpReply {
        status,
        headers,
        body: buf[end + 4..].to_vec(),
    })
}

/// A probe that succeeds on `200` for `GET path`.
pub async fn http_ok(addr: &str, path: &str, timeout: Duration) -> Result<(), String> {
    let r = http_get(addr, path, timeout).await?;
    if r.status == 200 {
        Ok(())
    } else {
        Err(format!("GET {path} answered {}", r.status))
    }
}

/// memcached's `version` command; `Ok("1.6.18")`.
pub async fn memcached_version(addr: &str, timeout: Duration) -> Result<String, String> {
    tokio::time::timeout(timeout, async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        s.write_all(b"version\r\n")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = [0u8; 128];
        let mut n = 0;
        while !buf[..n].ends_with(b"\r\n") && n < buf.len() {
            let r = s
                .read(&mut buf[n..])
                .await
                .map_err(|e| format!("read: {e}"))?;
            if r == 0 {
                break;
            }
            n += r;
        }
        let line = String::from_utf8_lossy(&buf[..n]);
        line.strip_prefix("VERSION ")
            .map(|v| v.trim().to_owned())
            .ok_or_else(|| format!("unexpected answer {:?}", line.trim()))
    })
    .await
    .map_err(|_| format!("no answer from {addr} within {timeout:?}"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_replies() {
        let r = parse_reply(
            b"HTTP/1.1 200 OK\r\nX-Served-By: stage-3 pid=7 i0\r\nContent-Length: 3\r\n\r\nok\n",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-served-by"), Some("stage-3 pid=7 i0"));
        assert_eq!(r.body, b"ok\n");
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_reply(b"garbage\r\n\r\n").is_err());
    }
}
