//! The app server in this test process (stage-2's composition: sessions in
//! SQLite, no cache, photos from disk) on port 0, with faults on demand:
//! for tests of the tools around the site (`loadgen`, the contract
//! checks) that need a real site without depending on a stage binary.

use std::sync::Arc;

/// Ways to break the contract on purpose, each around the real app.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Serve HTML as `text/html`, without its charset.
    pub no_charset: bool,
    /// Take `?page=0` for page 1.
    pub lenient_page: bool,
    /// Answer a comment with its redirect without storing it.
    pub lose_writes: bool,
}

/// A running in-process server; stopped when dropped.
pub struct InProc {
    /// `127.0.0.1:PORT`
    pub addr: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProc {
    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for InProc {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves `site` with `faults` until the returned handle is dropped.
pub fn serve(site: &crate::Site, faults: Faults) -> InProc {
    let args = appserver::ServeArgs {
        db: site.db.clone(),
        photos: Some(site.photos.clone()),
        threads: 2,
        gil: false,
        python_factor: 1,
        session_ttl: app::sessions::DEFAULT_TTL_SECS,
        secure_cookies: false,
    };
    let backends = appserver::Backends::plain(site.photos.clone());
    let server =
        Arc::new(appserver::Server::new(&args, "stage-2", backends).expect("the app server"));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("port 0");
            addr_tx
                .send(listener.local_addr().expect("address").to_string())
                .ok();
            let service = move |mut req: hyper::Request<hyper::body::Incoming>| {
                let server = server.clone();
                async move {
                    let path = req.uri().path().to_owned();
                    if faults.lose_writes
                        && req.method() == hyper::Method::POST
                        && path.ends_with("/comments")
                    {
                        let mut r = hyper::Response::new(web::Body::default());
                        *r.status_mut() = hyper::StatusCode::SEE_OTHER;
                        r.headers_mut()
                            .insert("location", hyper::header::HeaderValue::from_static("/"));
                        return r;
                    }
                    if faults.lenient_page
                        && let Some(q) = req.uri().query()
                        && q.contains("page=0")
                    {
                        let fixed = format!("{path}?{}", q.replace("page=0", "page=1"));
                        if let Ok(u) = fixed.parse() {
                            *req.uri_mut() = u;
                        }
                    }
                    let mut resp = server.respond(req).await;
                    if faults.no_charset
                        && resp
                            .headers()
                            .get("content-type")
                            .is_some_and(|v| v.as_bytes().starts_with(b"text/html"))
                    {
                        resp.headers_mut().insert(
                            "content-type",
                            hyper::header::HeaderValue::from_static("text/html"),
                        );
                    }
                    resp
                }
            };
            web::serve(
                listener,
                async {
                    stop_rx.await.ok();
                },
                service,
            )
            .await;
        });
    });
    let addr = addr_rx.recv().expect("the server's address");
    InProc {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}
