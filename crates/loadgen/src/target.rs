//! The site under test: `http://host:port/path`, resolved once.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::Error;

/// A parsed `http://` URL.
#[derive(Debug, Clone)]
pub struct Target {
    /// As given, for reports.
    pub url: String,
    /// `Host` header value (`host` or `host:port` as written).
    pub host_header: String,
    /// The path and query of the URL (`/` if none).
    pub path: String,
    /// Where to connect: the first address the host resolves to.
    pub addr: SocketAddr,
}

impl Target {
    /// Parses and resolves `url`. Unless `allow_remote`, refuses hosts that
    /// do not resolve to a loopback address: a load generator pointed at the
    /// wrong machine by a typo is a denial-of-service tool.
    pub fn parse(url: &str, allow_remote: bool) -> Result<Target, Error> {
        let bad = |why: &str| Error::Url {
            url: url.to_string(),
            why: why.to_string(),
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// URLs are supported (no TLS: it would measure the cipher, not the site)"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_string()),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("expected http://host[:port]/path"));
        }
        if path.contains('#') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad(
                "the path must not contain spaces, control characters or a fragment",
            ));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| bad("bad host or port"))?;
        let addrs: Vec<SocketAddr> = (host, port)
            .to_socket_addrs()
            .map_err(|e| bad(&format!("cannot resolve {host}: {e}")))?
            .collect();
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| addrs.first())
            .copied()
            .ok_or_else(|| bad("host resolves to no address"))?;
        if !allow_remote && !addrs.iter().all(|a| a.ip().is_loopback()) {
            return Err(bad(
                "not a loopback address; pass --allow-remote if you really mean to load another machine",
            ));
        }
        Ok(Target {
            url: url.to_string(),
            host_header: authority.to_string(),
            path,
            addr,
        })
    }
}

fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = match rest.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if rest.is_empty() => 80,
            None => return None,
        };
        return Some((host, port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => Some((h, p.parse().ok()?)),
        Some(_) => None,
        None => Some((authority, 80)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("http://127.0.0.1:8080/user/user1?page=2", false).unwrap();
        assert_eq!(
            (t.host_header.as_str(), t.path.as_str()),
            ("127.0.0.1:8080", "/user/user1?page=2")
        );
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            Target::parse("http://localhost:9", false).unwrap().path,
            "/"
        );
        assert_eq!(
            Target::parse("http://127.0.0.1?x=1", false).unwrap().path,
            "/?x=1"
        );
        assert_eq!(
            Target::parse("http://[::1]:81/", false)
                .unwrap()
                .addr
                .port(),
            81
        );
        assert!(Target::parse("https://127.0.0.1/", false).is_err());
        assert!(Target::parse("http://127.0.0.1:x/", false).is_err());
        assert!(Target::parse("http://10.1.2.3/", false).is_err());
        assert!(Target::parse("http://10.1.2.3/", true).is_ok());
    }
}
