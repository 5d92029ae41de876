//! Servers with known behaviour, in-process, on 127.0.0.1 port 0.
//!
//! Each runs on its own OS thread with a current-thread tokio runtime, so a
//! test's load generator and its server never share a scheduler, and is
//! stopped when the `Server` is dropped.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A parsed request.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What the server does with a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer after `delay`.
    Respond {
        delay: Duration,
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Close the connection without answering.
    Close,
    /// Never answer (the connection stays open).
    Hang,
}

impl Reply {
    pub fn ok(body: &str) -> Reply {
        Reply::status(200, body)
    }
    pub fn status(status: u16, body: &str) -> Reply {
        Reply::Respond {
            delay: Duration::ZERO,
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }
    pub fn after(mut self, d: Duration) -> Reply {
        if let Reply::Respond { delay, .. } = &mut self {
            *delay = d;
        }
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Reply {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((k.to_string(), v.to_string()));
        }
        self
    }
}

/// A running server; stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Serves every request with `handler` (built on the server thread, so
    /// it may hold non-`Send` state such as a SQLite connection).
    pub fn start<H, F>(make: F) -> Server
    where
        F: FnOnce() -> H + Send + 'static,
        H: FnMut(&Req) -> Reply + 'static,
    {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                let handler = Rc::new(RefCell::new(make()));
                let accept = async {
                    loop {
                        let Ok((sock, _)) = listener.accept().await else {
                            continue;
                        };
                        let handler = handler.clone();
                        tokio::task::spawn_local(serve(sock, handler));
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = rx => {}
                }
            });
        });
        Server {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// A server whose handler needs no state.
    pub fn with(f: impl Fn(&Req) -> Reply + Send + 'static) -> Server {
        Server::start(move || f)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve<H: FnMut(&Req) -> Reply>(mut sock: TcpStream, handler: Rc<RefCell<H>>) {
    let _ = sock.set_nodelay(true);
    let mut buf = Vec::with_capacity(8192);
    loop {
        let Some(req) = read_request(&mut sock, &mut buf).await else {
            return;
        };
        let reply = (handler.borrow_mut())(&req);
        match reply {
            Reply::Close => return,
            Reply::Hang => {
                std::future::pending::<()>().await;
            }
            Reply::Respond {
                delay,
                status,
                headers,
                body,
            } => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let close = req
                    .header("connection")
                    .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                for (k, v) in &headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                if close {
                    out.push_str("Connection: close\r\n");
                }
                out.push_str("\r\n");
                let mut bytes = out.into_bytes();
                bytes.extend_from_slice(&body);
                if sock.write_all(&bytes).await.is_err() || close {
                    return;
                }
            }
        }
    }
}

/// Reads one request (head and Content-Length body); `None` on EOF or garbage.
async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Req> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(n)) = parsed.parse(buf) {
            let mut map = HashMap::new();
            for h in parsed.headers.iter() {
                map.insert(
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                );
            }
            let mut req = Req {
                method: parsed.method.unwrap_or("").to_string(),
                path: parsed.path.unwrap_or("").to_string(),
                headers: map,
                body: Vec::new(),
            };
            let len: usize = req
                .header("content-length")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let mut tmp = [0u8; 8192];
            while buf.len() < n + len {
                let k = sock.read(&mut tmp).await.ok()?;
                if k == 0 {
                    return None;
                }
                buf.extend_from_slice(&tmp[..k]);
            }
            req.body = buf[n..n + len].to_vec();
            buf.drain(..n + len);
            return Some(req);
        }
        let mut tmp = [0u8; 8192];
        let k = sock.read(&mut tmp).await.ok()?;
        if k == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..k]);
    }
}

/// A config with test-friendly defaults: short, 2 threads, no warm-up.
pub fn config(url: &str) -> loadgen::Config {
    let mut c = loadgen::Config::new(url);
    c.warmup = Duration::ZERO;
    c.concurrency = 4;
    c.threads = 2;
    c.timeout = Duration::from_secs(5);
    c
}
