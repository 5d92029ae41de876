//! The child's side of a socket handed down by the supervisor: an app
//! instance started with `--listen-fd N` turns fd `N` back into a listener.

use std::net::TcpListener;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use socket2::{Socket, Type};

use crate::ClusterError;

/// Takes ownership of the listening TCP socket at `fd`, after checking that
/// it is one (an open descriptor, a stream socket, listening), and marks it
/// close-on-exec so it is not passed further down.
pub fn listener_from_fd(fd: RawFd) -> Result<TcpListener, ClusterError> {
    let bad = |reason: String| ClusterError::Inherit { fd, reason };
    if fd <= 2 {
        return Err(bad("0, 1 and 2 are stdin, stdout and stderr".into()));
    }
    if !fd_is_open(fd) {
        return Err(bad(
            "not an open file descriptor (start instances through the stage, or use --listen)"
                .into(),
        ));
    }
    #[allow(unsafe_code)]
    // SAFETY: `fd` is open (checked above) and, by the `--listen-fd`
    // contract, handed to this process for it alone: nothing else in the
    // process owns or closes it, so taking ownership is sound.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let socket = Socket::from(owned);
    match socket.r#type() {
        Ok(t) if t == Type::STREAM => {}
        Ok(_) => return Err(bad("not a stream socket".into())),
        Err(e) => return Err(bad(format!("not a socket: {e}"))),
    }
    if !socket.is_listener().map_err(|e| bad(e.to_string()))? {
        return Err(bad("the socket is not listening".into()));
    }
    socket.set_cloexec(true).map_err(|e| bad(e.to_string()))?;
    Ok(socket.into())
}

/// Whether `fd` is an open descriptor of this process.
fn fd_is_open(fd: RawFd) -> bool {
    std::fs::symlink_metadata(format!("/proc/self/fd/{fd}")).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    #[test]
    fn rejects_what_is_not_a_listener() {
        assert!(listener_from_fd(1).is_err());
        assert!(listener_from_fd(987_654).is_err());
        let l = crate::ports::listen("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let back = listener_from_fd(l.into_raw_fd()).unwrap();
        assert_eq!(back.local_addr().unwrap(), addr);
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(listener_from_fd(s.into_raw_fd()).is_err());
    }
}
