//! The handler path without sockets: `cargo bench -p appserver --bench handle`.
//!
//! `Server::handle` (connection from the pool, sessions in SQLite, the
//! app's router and handlers, rendering) and `web::from_app` (headers,
//! Server-Timing), on a site seeded here with `FK_BENCH_USERS` users
//! (default 2,000), for each request kind of `scripts/instructions.sh`.
//! That script counts instructions of the whole server (hyper and tokio
//! included); this isolates what the handling itself costs.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hyper::header::HeaderValue;

fn request<'a>(
    method: &'a str,
    path: &'a str,
    cookie: Option<&'a str>,
    body: &'a [u8],
) -> app::Request<'a> {
    app::Request {
        method,
        path,
        query: None,
        cookie,
        content_type: (!body.is_empty()).then_some("application/x-www-form-urlencoded"),
        host: Some("127.0.0.1"),
        origin: None,
        referer: None,
        body,
    }
}

fn benches(c: &mut Criterion) {
    let users: u64 = std::env::var("FK_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("site.db");
    let mut cfg = seed::Config::new(users, &db);
    cfg.pool = 4;
    seed::build(&cfg, &|_, _| {}).expect("seed");
    let args = appserver::ServeArgs {
        db: db.clone(),
        photos: Some(cfg.photos_dir.clone()),
        threads: 1,
        gil: false,
        python_factor: 1,
        session_ttl: app::sessions::DEFAULT_TTL_SECS,
        secure_cookies: false,
    };
    let backends = appserver::Backends::plain(cfg.photos_dir.clone());
    let server = appserver::Server::new(&args, "bench", backends).expect("server");
    let served_by = HeaderValue::from_static("bench");
    let conn = model::open(&db).expect("open");
    let file: String = conn
        .query_row("SELECT file FROM photos WHERE id = 1", [], |r| r.get(0))
        .expect("a photo");
    let login_form = b"username=user42&password=pw-user42";
    let login = server.handle(&request("POST", "/login", None, login_form));
    let cookie = login
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let file_path = format!("/static/photos/{file}");
    let kinds: [(&str, app::Request<'_>); 7] = [
        ("user page", request("GET", "/user/user42", None, b"")),
        ("photo page", request("GET", "/photo/1", None, b"")),
        ("home page", request("GET", "/", None, b"")),
        ("photo file", request("GET", &file_path, None, b"")),
        (
            "user page, logged in",
            request("GET", "/user/user42", Some(&cookie), b""),
        ),
        ("login", request("POST", "/login", None, login_form)),
        (
            "comment",
            request(
                "POST",
                "/photo/2/comments",
                Some(&cookie),
                b"body=Nice+light%2C+great+shot.",
            ),
        ),
    ];
    let mut g = c.benchmark_group("handle");
    for (name, req) in &kinds {
        g.bench_function(*name, |b| {
            b.iter(|| web::from_app(server.handle(black_box(req)), &served_by))
        });
    }
    g.finish();
}

criterion_group!(handle, benches);
criterion_main!(handle);
