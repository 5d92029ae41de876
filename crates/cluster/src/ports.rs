//! Listening sockets the supervisor owns, and free ports for children that
//! must bind their own (memcached).
//!
//! Why the supervisor binds the sockets of its app instances instead of
//! handing them a port number: a port chosen and
//! released can be taken by someone else before the child binds it; a socket
//! passed down cannot. And when a child crashes, its socket stays open in the
//! supervisor, so connections arriving during the restart wait in the
//! kernel's accept queue (the backlog) and are served by the new process,
//! instead of being refused.

use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};

use socket2::{Domain, Socket, Type};

use crate::ClusterError;

/// Accept-queue length of every socket the supervisor binds. Why 1024: during
/// an instance restart (a few hundred milliseconds) nginx keeps opening
/// connections to it; they must all fit. The kernel caps it at
/// `net.core.somaxconn` (4096 on current Linux).
pub const BACKLOG: i32 = 1024;

/// Resolves `addr` (`host:port`) to one socket address.
pub fn resolve(addr: &str) -> Result<SocketAddr, ClusterError> {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ClusterError::Address(addr.to_owned()))
}

/// Binds a listening socket on `addr` (port 0 picks a free port), with
/// `SO_REUSEADDR` (a restarted stage can rebind at once) and [`BACKLOG`].
/// The socket is close-on-exec: a child gets it only when asked for.
pub fn listen(addr: &str) -> Result<TcpListener, ClusterError> {
    let sa = resolve(addr)?;
    let bind_err = |err| ClusterError::Bind {
        addr: addr.to_owned(),
        err,
    };
    let socket = Socket::new(Domain::for_address(sa), Type::STREAM, None).map_err(bind_err)?;
    socket.set_reuse_address(true).map_err(bind_err)?;
    socket.bind(&sa.into()).map_err(bind_err)?;
    socket.listen(BACKLOG).map_err(bind_err)?;
    Ok(socket.into())
}

/// A port on `ip` that nothing listens on now, chosen *below* the kernel's
/// ephemeral range. Why below: outgoing connections (nginx to its upstreams,
/// the load generator) take their local ports from the ephemeral range, so a
/// port chosen there could be taken by one of them before memcached binds it,
/// or while memcached is being restarted on it.
pub fn free_port(ip: IpAddr) -> Result<u16, ClusterError> {
    let (low, _) = ephemeral_range();
    // Start at a pseudo-random offset so parallel stages rarely race for
    // the same candidate; then walk down the range until one binds.
    let span = u32::from(low.saturating_sub(MIN_PORT)).max(1);
    let seed = std::process::id()
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0));
    for i in 0..span {
        let port = MIN_PORT + ((seed.wrapping_add(i.wrapping_mul(7919))) % span) as u16;
        if TcpListener::bind((ip, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(ClusterError::Bind {
        addr: format!("{ip}:{MIN_PORT}-{low}"),
        err: std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "no free port below the ephemeral range",
        ),
    })
}

/// Lowest port [`free_port`] picks: above the well-known and common
/// registered service ports.
const MIN_PORT: u16 = 20000;

/// The kernel's ephemeral port range (`net.ipv4.ip_local_port_range`),
/// Linux's default when it cannot be read.
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|n| n.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .filter(|(lo, _)| *lo > MIN_PORT + 100)
        .unwrap_or((32768, 60999))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_on_port_zero_and_finds_free_ports() {
        let l = listen("127.0.0.1:0").unwrap();
        assert_ne!(l.local_addr().unwrap().port(), 0);
        let p = free_port("127.0.0.1".parse().unwrap()).unwrap();
        assert!(p >= MIN_PORT && p < ephemeral_range().0);
        assert!(TcpListener::bind(("127.0.0.1", p)).is_ok());
        assert!(matches!(listen("nonsense"), Err(ClusterError::Address(_))));
    }
}
