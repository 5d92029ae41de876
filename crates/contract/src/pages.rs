//! The pages themselves: byte for byte what `model::render` makes of the
//! same database, the photo files as they are on disk, and HEAD wherever
//! GET is served.

use crate::{Expected, Run, Site, first_difference, wire};

pub(crate) fn expect_home(site: &Site, viewer: Option<&model::SessionUser>) -> Expected {
    let photos = model::queries::home(&site.db).map_err(|e| e.to_string())?;
    model::render::home(viewer, &photos).map_err(|e| e.to_string())
}

pub(crate) fn expect_user(
    site: &Site,
    name: &str,
    page: u32,
    viewer: Option<&model::SessionUser>,
) -> Expected {
    match model::queries::user_page(&site.db, name, page).map_err(|e| e.to_string())? {
        Some(p) => model::render::user(viewer, &p).map_err(|e| e.to_string()),
        None => Err(format!("{name} page {page} is not in the database")),
    }
}

pub(crate) fn expect_photo(site: &Site, id: i64, viewer: Option<&model::SessionUser>) -> Expected {
    match model::queries::photo_page(&site.db, id).map_err(|e| e.to_string())? {
        Some(p) => model::render::photo(viewer, &p).map_err(|e| e.to_string()),
        None => Err(format!("photo {id} is not in the database")),
    }
}

/// The sample of pages: home; the first, last and middle user (and their
/// page 2 where there is one); `?page=1`; the oldest, newest and middle
/// photo and the one commented last.
fn sample(site: &Site) -> Vec<(String, String, Expected)> {
    let mut out = vec![("home page".into(), "/".into(), expect_home(site, None))];
    let mut users = vec![1, site.users, site.users / 2 + 1];
    users.dedup();
    for n in users {
        let name = format!("user{n}");
        let path = format!("/user/{name}");
        out.push((
            format!("user page {name}"),
            path.clone(),
            expect_user(site, &name, 1, None),
        ));
        if let Ok(Some(_)) = model::queries::user_page(&site.db, &name, 2) {
            out.push((
                format!("user page {name} page 2"),
                format!("{path}?page=2"),
                expect_user(site, &name, 2, None),
            ));
        }
    }
    out.push((
        "user page with ?page=1".into(),
        "/user/user1?page=1".into(),
        expect_user(site, "user1", 1, None),
    ));
    let (lo, hi) = site.photo_ids;
    let mut photos = vec![lo, hi, lo + (hi - lo) / 2];
    photos.extend(site.last_commented_photo());
    photos.dedup();
    for id in photos {
        out.push((
            format!("photo page {id}"),
            format!("/photo/{id}"),
            expect_photo(site, id, None),
        ));
    }
    out
}

/// Every sampled page twice: a caching stage answers the second from its
/// cache, and a cached page must be the same bytes.
pub(crate) fn reference_pages(r: &mut Run<'_>) {
    let pages = sample(r.site);
    for round in ["", " again"] {
        for (what, path, expected) in &pages {
            r.page(&format!("{what}{round}"), path, None, expected);
        }
    }
}

/// Photo files of the sampled photos (at most three), as on disk.
pub(crate) fn photo_files(r: &mut Run<'_>) {
    let mut files: Vec<String> = Vec::new();
    let (lo, hi) = r.site.photo_ids;
    for id in [lo, hi, lo + (hi - lo) / 2] {
        if let Ok(Some(p)) = model::queries::photo_page(&r.site.db, id)
            && !files.contains(&p.photo.file)
        {
            files.push(p.photo.file);
        }
    }
    for file in files {
        let path = format!("/static/photos/{file}");
        let name = format!("photo file (GET {path})");
        let resp = match r.send("GET", &path, None, None) {
            Ok((resp, _)) => resp,
            Err(e) => {
                r.record(name, vec![e], String::new());
                continue;
            }
        };
        let mut problems = Vec::new();
        if resp.status != 200 {
            problems.push(format!("status {} (want 200)", resp.status));
        }
        match resp.header("content-type") {
            Some(ct) if ct.eq_ignore_ascii_case("image/jpeg") => {}
            other => problems.push(format!("Content-Type {other:?} (want image/jpeg)")),
        }
        problems.extend(wire::framing_problems(&resp));
        let disk = r.site.photos_dir.join(&file);
        let how = match std::fs::read(&disk) {
            Ok(want) => {
                if let Some(d) = first_difference(&want, &resp.body) {
                    problems.push(format!("differs from {}: {d}", disk.display()));
                }
                "identical to the file on disk"
            }
            Err(_) => {
                if !resp.body.starts_with(&[0xFF, 0xD8]) {
                    problems.push("body is not a JPEG".into());
                }
                "a JPEG (no file on disk to compare)"
            }
        };
        let detail = format!("200 image/jpeg, {} bytes, {how}", resp.body.len());
        r.record(name, problems, detail);
    }
}

/// Headers a HEAD answer must share with the GET answer (the rest differ
/// by nature: the date, the timing, which process answered, a cache hit).
const SAME_FOR_HEAD: &[&str] = &[
    "content-type",
    "content-length",
    "allow",
    "cache-control",
    "location",
];

/// HEAD wherever GET: pages, a photo file, an unknown page and a wrong
/// method, each compared with the GET answer (RFC 9110 §9.3.2).
pub(crate) fn head(r: &mut Run<'_>) {
    let file = model::queries::home(&r.site.db)
        .ok()
        .and_then(|h| h.first().map(|p| p.file.clone()))
        .unwrap_or_default();
    let paths = [
        "/".to_string(),
        "/user/user1".into(),
        format!("/photo/{}", r.site.newest_photo()),
        format!("/static/photos/{file}"),
        "/user/nobody".into(),
        "/healthz".into(),
    ];
    for path in paths {
        let name = format!("HEAD {path} is GET without the body");
        let (get, head) = match (
            r.client.request("GET", &path, &[], b""),
            r.client.request("HEAD", &path, &[], b""),
        ) {
            (Ok(g), Ok(h)) => (g, h),
            (Err(e), _) | (_, Err(e)) => {
                r.record(name, vec![e.to_string()], String::new());
                continue;
            }
        };
        let mut problems = Vec::new();
        if head.status != get.status {
            problems.push(format!("status {} (GET: {})", head.status, get.status));
        }
        for h in SAME_FOR_HEAD {
            let (a, b) = (get.header(h), head.header(h));
            // A cache hit and the app may frame differently only if the
            // GET had no length at all (chunked); ours always send one.
            if a != b {
                problems.push(format!("{h}: {b:?} (GET: {a:?})"));
            }
        }
        if get.header("content-length").is_none() {
            problems.push("the GET answer has no Content-Length to compare".into());
        }
        let detail = format!(
            "{}, {} headers as for GET, no body",
            head.status,
            SAME_FOR_HEAD
                .iter()
                .filter(|h| head.header(h).is_some())
                .count()
        );
        r.record(name, problems, detail);
    }
}
