//! The router and every handler against a tiny seeded database: no 5xx, no
//! file from outside the photo directory, whatever the method, path, query,
//! cookie and body.
#![no_main]
use std::sync::OnceLock;

struct Site {
    _dir: std::path::PathBuf,
    db: std::sync::Mutex<rusqlite::Connection>,
    photos: std::path::PathBuf,
}

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fk-fuzz-{}", std::process::id()));
        let db = dir.join("f.db");
        let mut cfg = seed::Config::new(10, &db);
        cfg.pool = 2;
        cfg.force = true;
        seed::build(&cfg, &|_, _| {}).expect("seed");
        let conn = model::open(&db).expect("open");
        Site {
            _dir: dir,
            db: std::sync::Mutex::new(conn),
            photos: cfg.photos_dir,
        }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let s = site();
    let conn = s.db.lock().unwrap_or_else(|p| p.into_inner());
    app::fuzzing::handle(&conn, &s.photos, data);
});
