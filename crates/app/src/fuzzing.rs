//! Entry points for the fuzzers (`fuzz/`) and for the regression tests that
//! replay their corpus on every `cargo test`. Each takes arbitrary bytes and
//! panics only if an invariant breaks.

use crate::{Config, DiskPhotos, Gil, NoCache, Request, SqliteSessions, http};

/// Form, query, cookie and path parsing: never panic; decoding is strict.
pub fn parsers(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pairs) = http::form_pairs(s) {
        let _ = http::field(&pairs, "body");
    }
    let _ = http::cookie(Some(s), crate::sessions::COOKIE);
    if let Ok(segs) = http::segments(s) {
        assert!(s.starts_with('/'));
        assert!(segs.len() <= s.len());
    }
    if let Ok(d) = http::percent_decode(s, true) {
        assert!(d.len() <= s.len(), "decoding never grows");
    }
    let _ = http::url_authority(s);
}

/// Splits fuzz input into a request: `METHOD\nPATH\nQUERY\nCOOKIE\nBODY`.
fn request(data: &[u8]) -> Option<(String, String, String, String, Vec<u8>)> {
    let mut parts = data.splitn(5, |&b| b == b'\n');
    let text = |p: Option<&[u8]>| {
        p.and_then(|b| std::str::from_utf8(b).ok())
            .map(str::to_owned)
    };
    Some((
        text(parts.next())?,
        text(parts.next())?,
        text(parts.next())?,
        text(parts.next())?,
        parts.next().unwrap_or(b"").to_vec(),
    ))
}

/// The whole request handling against a real (tiny) database: never a 5xx,
/// never a file from outside the photo directory.
pub fn handle(db: &rusqlite::Connection, photos: &std::path::Path, data: &[u8]) {
    let Some((method, path, query, cookie, body)) = request(data) else {
        return;
    };
    let config = Config::new(photos.to_path_buf());
    let sessions = SqliteSessions { conn: db };
    let store = DiskPhotos {
        dir: photos.to_path_buf(),
    };
    let gil = Gil::off();
    let svc = crate::Services {
        db,
        sessions: &sessions,
        cache: &NoCache,
        photos: &store,
        gil: &gil,
        config: &config,
    };
    let req = Request {
        method: &method,
        path: &path,
        query: Some(&query).filter(|q| !q.is_empty()).map(|q| q.as_str()),
        cookie: Some(&cookie).filter(|c| !c.is_empty()).map(|c| c.as_str()),
        body: &body,
        ..Default::default()
    };
    let resp = crate::handle(&svc, &req);
    assert!(
        resp.status < 500,
        "{method} {path}?{query} → {}",
        resp.status
    );
    if resp.header("content-type") == Some("image/jpeg") {
        let served_from_pool = std::fs::read_dir(photos)
            .map(|d| {
                d.filter_map(Result::ok)
                    .any(|e| std::fs::read(e.path()).is_ok_and(|b| b == resp.body))
            })
            .unwrap_or(false);
        assert!(
            served_from_pool,
            "{path} served bytes that are not a pool photo"
        );
    }
}
