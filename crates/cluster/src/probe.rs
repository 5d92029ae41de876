//! Readiness probes: a tiny HTTP/1.1 GET and a memcached `version`, each
//! with a deadline. Only for health checks; the traffic goes through nginx.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use http_client::Resp as HttpReply;

/// `GET path` on `addr` with `Connection: close`, within `timeout`: the
/// tests' and checks' one response reader ([`http_client`]), on a blocking
/// thread so the supervisor's only thread keeps watching its children.
pub async fn http_get(addr: &str, path: &str, timeout: Duration) -> Result<HttpReply, String> {
    let client = http_client::Client::new(addr).with_timeout(timeout);
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || client.get(&path))
        .await
        .map_err(|e| format!("probe thread: {e}"))?
        .map_err(|e| format!("{addr}: {e}"))
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
