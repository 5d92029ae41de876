//! Data-model benchmarks: `cargo bench -p model`.
//!
//! - render: each page kind from data already in memory (the template cost
//!   every stage pays per page, cache aside);
//! - user page query with the index and without it (the talk's "don't
//!   forget to index"), on databases seeded here with `FK_BENCH_USERS`
//!   users (default 20,000: big enough that the scan shows, quick to build).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn seeded(dir: &std::path::Path, users: u64, index: bool) -> rusqlite::Connection {
    let path = dir.join(if index { "indexed.db" } else { "bare.db" });
    let mut cfg = seed::Config::new(users, &path);
    cfg.index = index;
    cfg.pool = 4;
    seed::build(&cfg, &|_, _| {}).expect("seed");
    model::open(&path).expect("open")
}

fn benches(c: &mut Criterion) {
    let users: u64 = std::env::var("FK_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().expect("tmp");
    let indexed = seeded(dir.path(), users, true);
    let bare = seeded(dir.path(), users, false);

    let home = model::queries::home(&indexed).unwrap();
    let user = model::queries::user_page(&indexed, "user42", 1)
        .unwrap()
        .unwrap();
    let photo = model::queries::photo_page(&indexed, user.photos[0].id)
        .unwrap()
        .unwrap();
    let viewer = model::SessionUser {
        user_id: 7,
        username: "user7".into(),
        display_name: "Zoë <b>O'Brien</b>".into(),
    };

    let mut g = c.benchmark_group("render");
    g.bench_function("home", |b| {
        b.iter(|| model::render::home(None, black_box(&home)).unwrap())
    });
    g.bench_function("user", |b| {
        b.iter(|| model::render::user(None, black_box(&user)).unwrap())
    });
    g.bench_function("user (logged in)", |b| {
        b.iter(|| model::render::user(Some(&viewer), black_box(&user)).unwrap())
    });
    g.bench_function("photo", |b| {
        b.iter(|| model::render::photo(None, black_box(&photo)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("query");
    let mut n = 0u64;
    let mut next_user = || {
        n = n % users + 1;
        format!("user{n}")
    };
    g.bench_function("user page, indexed", |b| {
        b.iter(|| model::queries::user_page(&indexed, &next_user(), 1).unwrap())
    });
    g.sample_size(10);
    g.bench_function("user page, no index", |b| {
        b.iter(|| model::queries::user_page(&bare, &next_user(), 1).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("query");
    g.bench_function("home", |b| {
        b.iter(|| model::queries::home(&indexed).unwrap())
    });
    g.bench_function("photo page", |b| {
        b.iter(|| model::queries::photo_page(&indexed, black_box(photo.photo.id)).unwrap())
    });
    g.finish();
}

criterion_group!(model_benches, benches);
criterion_main!(model_benches);
