//! A minimal server of the FlickrKillr contract, built on `model`, so the
//! tests can show `verify` passing a conforming server and catching a
//! broken one without depending on any stage crate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Reply, Req, Server};

/// Ways to break the contract on purpose.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Serve HTML as `text/html` without a charset.
    pub no_charset: bool,
    /// Accept `?page=0` as page 1.
    pub lenient_page: bool,
    /// Comments are accepted but never stored.
    pub lose_writes: bool,
}

/// A seeded database in a temp dir.
pub struct Seeded {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub users: u64,
}

pub fn seed(users: u64) -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fk.db");
    let mut cfg = seed::Config::new(users, &db);
    // Four images are plenty and keep the test quick.
    cfg.pool = 4;
    seed::build(&cfg, &|_, _| {}).expect("seeding");
    Seeded { dir, db, users }
}

pub fn start(db: &Path, faults: Faults) -> Server {
    let db = db.to_path_buf();
    Server::start(move || {
        let conn = model::open(&db).expect("open db");
        let photos = model::schema::default_photos_dir(&db);
        let mut sessions: HashMap<String, model::SessionUser> = HashMap::new();
        let mut next_sid = 0u64;
        move |req: &Req| handle(req, &conn, &photos, &mut sessions, &mut next_sid, faults)
    })
}

fn html(status: u16, body: String, faults: Faults) -> Reply {
    let ct = if faults.no_charset {
        "text/html"
    } else {
        "text/html; charset=utf-8"
    };
    Reply::Respond {
        delay: Default::default(),
        status,
        headers: vec![],
        body: body.into_bytes(),
    }
    .header("Content-Type", ct)
    .header("Date", "Thu, 26 Nov 2026 00:00:00 GMT")
    .header(
        "X-Served-By",
        &format!("stage-9 pid={}", std::process::id()),
    )
    .header("Server-Timing", "query;dur=0.1, render;dur=0.05")
}

fn error(status: u16, faults: Faults) -> Reply {
    html(
        status,
        model::render::error(None, status, "Error", "test"),
        faults,
    )
}

fn see_other(to: &str) -> Reply {
    Reply::status(303, "")
        .header("Location", to)
        .header("Date", "Thu, 26 Nov 2026 00:00:00 GMT")
}

fn form_decode(body: &[u8]) -> HashMap<String, String> {
    let text = String::from_utf8_lossy(body);
    let mut out = HashMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(k), decode(v));
    }
    out
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(
    req: &Req,
    conn: &model::Db,
    photos: &Path,
    sessions: &mut HashMap<String, model::SessionUser>,
    next_sid: &mut u64,
    faults: Faults,
) -> Reply {
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let viewer = req
        .header("cookie")
        .and_then(|c| c.split(';').find_map(|p| p.trim().strip_prefix("sid=")))
        .and_then(|sid| sessions.get(sid))
        .cloned();
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    let get = req.method == "GET";
    let post = req.method == "POST";
    match segs.as_slice() {
        ["healthz"] if get => Reply::ok("ok").header("Date", "x"),
        [""] if get => {
            let photos = model::queries::home(conn).unwrap();
            html(
                200,
                model::render::home(viewer.as_ref(), &photos).unwrap(),
                faults,
            )
        }
        ["user", name] if get => {
            let page = match query.strip_prefix("page=") {
                None if query.is_empty() => 1,
                Some(n) => match n.parse::<u32>() {
                    Ok(0) if faults.lenient_page => 1,
                    Ok(n) if n >= 1 => n,
                    _ => return error(400, faults),
                },
                None => 1,
            };
            match model::queries::user_page(conn, name, page).unwrap() {
                Some(p) => html(
                    200,
                    model::render::user(viewer.as_ref(), &p).unwrap(),
                    faults,
                ),
                None => error(404, faults),
            }
        }
        ["photo", id] if get => {
            let Ok(id) = id.parse::<i64>() else {
                return error(400, faults);
            };
            match model::queries::photo_page(conn, id).unwrap() {
                Some(p) => html(
                    200,
                    model::render::photo(viewer.as_ref(), &p).unwrap(),
                    faults,
                ),
                None => error(404, faults),
            }
        }
        ["static", "photos", file] if get => {
            let safe = !file.starts_with('.')
                && file
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            match std::fs::read(photos.join(file)) {
                Ok(bytes) if safe => Reply::Respond {
                    delay: Default::default(),
                    status: 200,
                    headers: vec![],
                    body: bytes,
                }
                .header("Content-Type", "image/jpeg")
                .header("Date", "x"),
                _ => error(404, faults),
            }
        }
        ["login"] if post => {
            let form = form_decode(&req.body);
            let user = form.get("username").cloned().unwrap_or_default();
            let pw = form.get("password").cloned().unwrap_or_default();
            match model::queries::credentials(conn, &user).unwrap() {
                Some(c) if model::password::verify(&pw, &c.password_hash) => {
                    *next_sid += 1;
                    let sid = format!("{:032x}", *next_sid);
                    sessions.insert(
                        sid.clone(),
                        model::SessionUser {
                            user_id: c.user_id,
                            username: c.username,
                            display_name: c.display_name,
                        },
                    );
                    see_other("/").header(
                        "Set-Cookie",
                        &format!("sid={sid}; HttpOnly; SameSite=Lax; Path=/"),
                    )
                }
                _ => error(401, faults),
            }
        }
        ["logout"] if post => {
            if let Some(sid) = req
                .header("cookie")
                .and_then(|c| c.trim().strip_prefix("sid="))
            {
                sessions.remove(sid);
            }
            see_other("/")
        }
        ["photo", id, "comments"] if post => {
            if req.body.len() > 16 * 1024 {
                return error(413, faults);
            }
            let Some(v) = viewer else {
                return error(401, faults);
            };
            let Ok(id) = id.parse::<i64>() else {
                return error(400, faults);
            };
            let body = form_decode(&req.body)
                .get("body")
                .cloned()
                .unwrap_or_default();
            if body.trim().is_empty() {
                return error(400, faults);
            }
            if faults.lose_writes {
                return see_other(&format!("/photo/{id}#c1"));
            }
            match model::queries::add_comment(conn, id, v.user_id, &body, model::time::now())
                .unwrap()
            {
                Some(cid) => see_other(&format!("/photo/{id}#c{cid}")),
                None => error(404, faults),
            }
        }
        [""]
        | ["healthz"]
        | ["user", _]
        | ["photo", _]
        | ["static", "photos", _]
        | ["login"]
        | ["logout"]
        | ["photo", _, "comments"] => error(405, faults),
        _ => error(404, faults),
    }
}
