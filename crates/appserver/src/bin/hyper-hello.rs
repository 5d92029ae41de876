//! The bare-hyper ceiling for `scripts/compare.sh`: the same accept loop
//! and runtime as every app server (`web::serve`, `appserver::DEFAULT_THREADS`
//! worker threads), answering
//! every request with a fixed body of `--bytes` bytes and doing nothing else.
//! What no stage can beat on this machine.
//!
//! `cargo run --release -p appserver --bin hyper-hello -- --listen 127.0.0.1:0 --bytes 5349`
//!
//! A binary, not an example: `cargo build --workspace --bins` builds it
//! with the stages, and an example would compile the package's
//! dev-dependencies too (criterion and the test kit: ~15 s of the main
//! job's build here).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:0".to_string();
    let mut size = 5349usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            "--bytes" => size = args.next().ok_or("--bytes needs a number")?.parse()?,
            "--help" | "-h" => {
                println!(
                    "hyper-hello [--listen ADDR] [--bytes N]: a bare hyper server answering N bytes"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let body = Arc::new(Bytes::from(vec![b'x'; size]));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(appserver::DEFAULT_THREADS)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = web::bind(&listen).await?;
        web::announce(listener.local_addr()?);
        web::serve(listener, web::shutdown_signal(), move |_req| {
            let body = body.clone();
            async move {
                let mut r = hyper::Response::new(Full::new((*body).clone()));
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
                );
                r
            }
        })
        .await;
        Ok(())
    })
}
