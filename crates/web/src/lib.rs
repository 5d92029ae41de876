//! # web — the HTTP plumbing every long-running process shares
//!
//! stage-1's CGI host and the app server of stages 2–4 accept connections the
//! same way, so that code lives here once (in the shape of mini-redis:
//! `serve(listener, shutdown, service)`, tests bind port 0):
//! - [`serve`]: the accept loop, HTTP/1.1 keep-alive, a header-read timeout,
//!   a header size limit, and graceful shutdown (in-flight requests finish);
//!   [`serve_with`] lets the caller drive each connection (the app server's
//!   GIL emulation polls connections under its lock: `appserver::gil_io`).
//! - Half-closed clients are answered: a client that sends its request and
//!   then shuts down its sending side (`shutdown(SHUT_WR)`, as `nc -N` and
//!   some HTTP/1.0 clients and proxies do) still gets the response, instead
//!   of hyper's default of dropping it when it reads the EOF.
//! - `HEAD` is answered by hyper from the same response as `GET`: the same
//!   status and headers (`Content-Length` included), no body.
//! - [`read_body`]: the request body, refused with 413 past the limit before
//!   it is read.
//! - [`to_app`] / [`from_app`]: conversion between hyper's types and the
//!   transport-free [`app::Request`] / [`app::Response`].
//! - [`bind`], [`shutdown_signal`], [`init_tracing`], [`announce`]: the
//!   start-up conventions of every stage (one `listening on http://ADDR`
//!   line on stdout, logs on stderr, SIGINT/SIGTERM end it cleanly).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

/// A client that has not sent its full request head within this time is
/// disconnected, so slow or idle-open connections cannot pin the server.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request head (request line + headers) accepted; hyper answers
/// 431 past it. Browsers send 1–2 KB; 16 KiB leaves room for big cookies.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A request body must arrive within this time once its head has: a client
/// that announces a length and then stalls would otherwise hold the
/// connection forever (hyper times out heads, not bodies).
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long graceful shutdown waits for in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The client's address, in every request's extensions (CGI's `REMOTE_ADDR`).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// A response body as hyper sends it.
pub type Body = Full<Bytes>;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "cannot listen on {addr}: the port is already in use; choose another with --listen (port 0 picks a free one)"
    )]
    InUse { addr: String },
    #[error("cannot listen on {addr}: {err}")]
    Bind { addr: String, err: std::io::Error },
}

/// Binds a listener, with an error that says what to do.
pub async fn bind(addr: &str) -> Result<TcpListener, WebError> {
    TcpListener::bind(addr)
        .await
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::AddrInUse => WebError::InUse {
                addr: addr.to_owned(),
            },
            _ => WebError::Bind {
                addr: addr.to_owned(),
                err,
            },
        })
}

/// Prints the one line supervisors, scripts and tests wait for.
pub fn announce(addr: SocketAddr) {
    println!("listening on http://{addr}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Serves HTTP/1.1 on `listener` until `shutdown` resolves, then stops
/// accepting, lets in-flight requests finish (up to [`SHUTDOWN_GRACE`]) and
/// returns.
pub async fn serve<S, F>(listener: TcpListener, shutdown: impl Future<Output = ()>, service: S)
where
    S: Fn(hyper::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = hyper::Response<Body>> + Send + 'static,
{
    serve_with(listener, shutdown, service, Plain).await
}

/// How a connection is driven: which I/O type hyper reads and writes, and
/// what wraps the connection's future. [`Plain`] for every server; the
/// app server's `--gil` supplies one that polls under the emulated GIL.
pub trait Driver: Clone + Send + Sync + 'static {
    /// The socket as hyper sees it.
    type Io: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static;
    /// The connection's future, wrapped.
    type Conn<F: Future + Send + 'static>: Future<Output = F::Output> + Send + 'static;
    /// Wraps an accepted socket.
    fn io(&self, stream: TokioIo<tokio::net::TcpStream>) -> Self::Io;
    /// Wraps a connection's future.
    fn drive<F: Future + Send + 'static>(&self, conn: F) -> Self::Conn<F>;
}

/// Connections driven as they are.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plain;

impl Driver for Plain {
    type Io = TokioIo<tokio::net::TcpStream>;
    type Conn<F: Future + Send + 'static> = F;
    fn io(&self, stream: TokioIo<tokio::net::TcpStream>) -> Self::Io {
        stream
    }
    fn drive<F: Future + Send + 'static>(&self, conn: F) -> F {
        conn
    }
}

/// [`serve`], with every connection driven by `driver`.
pub async fn serve_with<S, F, D>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    service: S,
    driver: D,
) where
    S: Fn(hyper::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = hyper::Response<Body>> + Send + 'static,
    D: Driver,
{
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES.max(8192))
        // A complete request gets its answer even if the client has shut
        // down its sending side meanwhile (hyper's default drops it).
        .half_close(true);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let svc = service.clone();
                let handler = service_fn(move |mut req: hyper::Request<Incoming>| {
                    req.extensions_mut().insert(PeerAddr(peer));
                    let fut = svc(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let log = |r: Result<(), hyper::Error>| {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                };
                let io = driver.io(TokioIo::new(stream));
                let conn = driver.drive(graceful.watch(builder.serve_connection(io, handler)));
                tokio::spawn(async move { log(conn.await) });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still busy after the grace period");
    }
}

/// Reads the request body, refusing (413) a declared or actual length above
/// `limit`, and giving up (408) on a body that does not arrive in time.
pub async fn read_body(
    req: hyper::Request<Incoming>,
    limit: usize,
) -> Result<(hyper::http::request::Parts, Bytes), app::AppError> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(app::AppError::TooLarge);
    }
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, limit).collect()).await {
        Ok(Ok(c)) => Ok((parts, c.to_bytes())),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(app::AppError::TooLarge)
        }
        Ok(Err(_)) => Err(app::AppError::BadRequest(
            "The request body could not be read.",
        )),
        Err(_) => Err(app::AppError::Timeout),
    }
}

/// A header as text, if present and visible ASCII.
pub fn header(parts: &hyper::http::request::Parts, name: HeaderName) -> Option<&str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Borrows an [`app::Request`] from hyper's request parts and body.
pub fn to_app<'a>(parts: &'a hyper::http::request::Parts, body: &'a [u8]) -> app::Request<'a> {
    use hyper::header::{CONTENT_TYPE, COOKIE, HOST, ORIGIN, REFERER};
    app::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        cookie: header(parts, COOKIE),
        content_type: header(parts, CONTENT_TYPE),
        host: header(parts, HOST),
        origin: header(parts, ORIGIN),
        referer: header(parts, REFERER),
        body,
    }
}

/// Turns an [`app::Response`] into hyper's, adding `Server-Timing` and
/// `X-Served-By` (hyper adds `Date` and `Content-Length`).
pub fn from_app(resp: app::Response, served_by: &HeaderValue) -> hyper::Response<Body> {
    let timing = resp.timing.header_value();
    let mut out = hyper::Response::new(Full::new(Bytes::from(resp.body)));
    *out.status_mut() = hyper::StatusCode::from_u16(resp.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let h = out.headers_mut();
    for (name, value) in resp.headers {
        // Values come from our own code (ids, fixed strings, escaped paths);
        // a value hyper would refuse is dropped rather than sent broken.
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.append(HeaderName::from_static(name), v);
        }
    }
    h.insert(HeaderName::from_static("x-served-by"), served_by.clone());
    if !timing.is_empty()
        && let Ok(v) = HeaderValue::from_str(&timing)
    {
        h.insert(HeaderName::from_static("server-timing"), v);
    }
    out
}
