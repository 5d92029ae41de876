//! Replays the fuzzers' corpus and every crash they ever found
//! (`fuzz/corpus/*`, `fuzz/regressions/*`) through the same checks the
//! fuzz targets run, on every `cargo test`.

use std::path::PathBuf;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in ["corpus", "regressions"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) {
            for e in rd.flatten() {
                if e.path().is_file() && !e.file_name().to_string_lossy().starts_with('.') {
                    out.push((e.path(), std::fs::read(e.path()).unwrap()));
                }
            }
        }
    }
    assert!(!out.is_empty(), "no corpus for {target}");
    out
}

#[test]
fn parsers_corpus() {
    for (path, data) in inputs("parsers") {
        let r = std::panic::catch_unwind(|| app::fuzzing::parsers(&data));
        assert!(r.is_ok(), "{} fails", path.display());
    }
}

#[test]
fn handle_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let mut cfg = seed::Config::new(10, &db);
    cfg.pool = 2;
    seed::build(&cfg, &|_, _| {}).unwrap();
    let conn = model::open(&db).unwrap();
    for (path, data) in inputs("handle") {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            app::fuzzing::handle(&conn, &cfg.photos_dir, &data)
        }));
        assert!(r.is_ok(), "{} fails", path.display());
    }
}
