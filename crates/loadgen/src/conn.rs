//! One HTTP/1.1 client connection: write the request bytes, read the head,
//! skip (or keep) the body. One buffer per connection, reused for every
//! request; nothing is allocated per request unless the body is kept.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::{self, Body, Head, HttpError};

/// Initial buffer: one read takes a whole page or a typical image (our
/// pages are 5-20 KB, the seeded JPEGs 15-40 KB, wrk's read buffer is 8 KB).
const BUF: usize = 64 * 1024;
/// The largest response head we accept (nginx's own default limit is 8 KB
/// per header line; a bigger head is a broken server).
const MAX_HEAD: usize = 64 * 1024;
/// Room kept after the head for reading the body.
const MIN_BODY_ROOM: usize = 16 * 1024;

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("write: {0}")]
    Write(std::io::Error),
    #[error("read: {0}")]
    Read(std::io::Error),
    #[error("connection closed by the server before a complete response")]
    Closed,
    #[error("{0}")]
    Http(#[from] HttpError),
}

/// A successful exchange.
#[derive(Debug)]
pub struct Exchange {
    pub head: Head,
    /// Bytes of the response on the wire (head + body with its framing).
    pub bytes: u64,
}

#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unconsumed bytes (the start of a next response) are `buf[start..end]`.
    start: usize,
    end: usize,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        // Requests go out in one write; never let Nagle hold one back.
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: vec![0; BUF],
            start: 0,
            end: 0,
        })
    }

    /// The buffer the last head was parsed from (its ranges index this).
    pub fn head_buf(&self) -> &[u8] {
        &self.buf
    }

    /// Sends `req` and reads one response. The body is appended to `sink`
    /// if given, else skipped. After an error the connection is unusable.
    pub async fn exchange(
        &mut self,
        req: &[u8],
        mut sink: Option<&mut Vec<u8>>,
    ) -> Result<Exchange, ExchangeError> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        self.stream
            .write_all(req)
            .await
            .map_err(ExchangeError::Write)?;
        let head = loop {
            if self.end > 0 {
                let all = None;
                if let Some(h) = http::parse_head(&self.buf[..self.end], all)? {
                    break h;
                }
            }
            if self.end == self.buf.len() {
                if self.buf.len() >= MAX_HEAD {
                    return Err(HttpError::HeadTooLarge(MAX_HEAD).into());
                }
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let n = self
                .stream
                .read(&mut self.buf[self.end..])
                .await
                .map_err(ExchangeError::Read)?;
            if n == 0 {
                return Err(ExchangeError::Closed);
            }
            self.end += n;
        };
        let mut body = Body::new(head.framing);
        let mut used = head.len + body.feed(&self.buf[head.len..self.end], sink.as_deref_mut())?;
        let mut bytes = used as u64;
        if !body.is_done() {
            // Everything read so far is consumed: read the rest of the body
            // into the space after the head, which stays intact for the caller.
            if self.buf.len() < head.len + MIN_BODY_ROOM {
                self.buf.resize(head.len + MIN_BODY_ROOM, 0);
            }
            loop {
                let n = self
                    .stream
                    .read(&mut self.buf[head.len..])
                    .await
                    .map_err(ExchangeError::Read)?;
                if n == 0 {
                    body.eof()?;
                    self.end = head.len;
                    used = head.len;
                    break;
                }
                let took = body.feed(&self.buf[head.len..head.len + n], sink.as_deref_mut())?;
                bytes += took as u64;
                self.end = head.len + n;
                used = head.len + took;
                if body.is_done() {
                    break;
                }
            }
        }
        // Whatever follows this response (nothing, without pipelining) is
        // kept for the next exchange.
        self.start = used;
        Ok(Exchange { head, bytes })
    }
}
