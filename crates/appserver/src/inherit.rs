//! The child's side of a socket handed down by a supervisor: an app
//! instance started with `--listen-fd N` turns fd `N` back into a listener.
//!
//! The instance does this first, before it opens any file of its own (the
//! database, the photo directory), so the number can only be what the
//! supervisor passed; and it looks at the descriptor through a borrow,
//! taking ownership only once it is known to be a listening stream
//! socket, so a wrong number is refused without closing anything.

use std::net::TcpListener;
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};

use socket2::{SockRef, Type};

use crate::ServerError;

/// Takes ownership of the listening TCP socket at `fd`, after checking that
/// it is one (an open descriptor, a stream socket, listening), and marks it
/// close-on-exec so it is not passed further down. A descriptor that fails
/// a check is left open and untouched.
pub fn listener_from_fd(fd: RawFd) -> Result<TcpListener, ServerError> {
    let bad = |reason: String| ServerError::Inherit { fd, reason };
    if fd <= 2 {
        return Err(bad("0, 1 and 2 are stdin, stdout and stderr".into()));
    }
    if !fd_is_open(fd) {
        return Err(bad(
            "not an open file descriptor (start instances through the stage, or use --listen)"
                .into(),
        ));
    }
    {
        #[allow(unsafe_code)]
        // SAFETY: `fd` is an open descriptor of this process (checked just
        // above), and the borrow ends with this block, before anything
        // could close it: it is only looked at here, never closed.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = SockRef::from(&borrowed);
        match sock.r#type() {
            Ok(t) if t == Type::STREAM => {}
            Ok(_) => return Err(bad("not a stream socket".into())),
            Err(e) => return Err(bad(format!("not a socket: {e}"))),
        }
        if !sock.is_listener().map_err(|e| bad(e.to_string()))? {
            return Err(bad("the socket is not listening".into()));
        }
    }
    #[allow(unsafe_code)]
    // SAFETY: checked above: `fd` is open and is a listening stream
    // socket. By the `--listen-fd` contract it was handed to this process
    // for this listener alone, and it is taken before the process opens any
    // file of its own, so nothing else in the process owns or will close it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let socket = socket2::Socket::from(owned);
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
    use std::io::Write;
    use std::os::fd::{AsRawFd, IntoRawFd};

    #[test]
    fn takes_a_listener_and_refuses_the_rest() {
        assert!(listener_from_fd(1).is_err());
        assert!(listener_from_fd(987_654).is_err());
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let back = listener_from_fd(l.into_raw_fd()).unwrap();
        assert_eq!(back.local_addr().unwrap(), addr);
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(listener_from_fd(s.as_raw_fd()).is_err());
        drop(s);
    }

    /// A wrong number (here: a file this process has open, as the database
    /// would be) is refused without closing the file under its owner.
    #[test]
    fn a_refused_descriptor_stays_open() {
        let mut f = tempfile::tempfile().unwrap();
        let fd = f.as_raw_fd();
        assert!(listener_from_fd(fd).is_err());
        assert!(fd_is_open(fd), "the file's descriptor was closed");
        f.write_all(b"still mine").unwrap();
        let c = std::net::TcpStream::connect(
            TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap(),
        )
        .unwrap();
        assert!(listener_from_fd(c.as_raw_fd()).is_err(), "not listening");
        assert!(fd_is_open(c.as_raw_fd()));
    }
}
