//! Connections driven under the emulated GIL (`--gil`): hyper's HTTP
//! parsing, body reading and response writing run holding the lock, as
//! CherryPy's did in Python; every socket read and write lets it go, as
//! CPython's `recv` and `send` do. See `app::gil` for the lock itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A [`web::Driver`] that polls every connection holding `gil`.
#[derive(Clone, Debug)]
pub struct GilDriver {
    pub gil: Arc<app::Gil>,
}

impl web::Driver for GilDriver {
    type Io = ReleasingIo;
    type Conn<F: Future + Send + 'static> = UnderGil<F>;
    fn io(&self, io: TokioIo<TcpStream>) -> ReleasingIo {
        ReleasingIo {
            io,
            gil: self.gil.clone(),
        }
    }
    fn drive<F: Future + Send + 'static>(&self, conn: F) -> UnderGil<F> {
        UnderGil {
            conn: Box::pin(conn),
            gil: self.gil.clone(),
        }
    }
}

/// A connection polled while holding the emulated GIL.
pub struct UnderGil<C> {
    conn: Pin<Box<C>>,
    gil: Arc<app::Gil>,
}

impl<C: Future> Future for UnderGil<C> {
    type Output = C::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let this = &mut *self;
        this.gil.hold(|| this.conn.as_mut().poll(cx))
    }
}

/// A connection's socket as hyper sees it, letting the GIL go around every
/// read and write, as CPython's socket module does around `recv`/`send`.
pub struct ReleasingIo {
    io: TokioIo<TcpStream>,
    gil: Arc<app::Gil>,
}

impl ReleasingIo {
    /// Runs one socket operation on the inner stream with the GIL let go.
    fn socket<R>(self: Pin<&mut Self>, op: impl FnOnce(Pin<&mut TokioIo<TcpStream>>) -> R) -> R {
        let this = self.get_mut();
        this.gil.released(|| op(Pin::new(&mut this.io)))
    }
}

impl hyper::rt::Read for ReleasingIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.socket(|io| io.poll_read(cx, buf))
    }
}

impl hyper::rt::Write for ReleasingIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.socket(|io| io.poll_write(cx, buf))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.socket(|io| io.poll_write_vectored(cx, bufs))
    }
    fn is_write_vectored(&self) -> bool {
        hyper::rt::Write::is_write_vectored(&self.io)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.socket(|io| io.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.socket(|io| io.poll_shutdown(cx))
    }
}
