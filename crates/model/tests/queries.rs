//! Queries, plans and rendering against small seeded databases.

use model::queries::{self, USER_PHOTOS_SQL};
use model::schema;

fn seeded(users: u64, index: bool) -> (tempfile::TempDir, rusqlite::Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut cfg = seed::Config::new(users, &path);
    cfg.index = index;
    cfg.pool = 4;
    seed::build(&cfg, &|_, _| {}).unwrap();
    let conn = model::open(&path).unwrap();
    (dir, conn)
}

#[test]
fn explain_shows_index_search_or_full_scan() {
    let (_d, indexed) = seeded(50, true);
    let plan = schema::explain(&indexed, USER_PHOTOS_SQL)
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("SEARCH photos USING INDEX photos_by_user"),
        "{plan}"
    );
    let (_d2, bare) = seeded(50, false);
    let plan = schema::explain(&bare, USER_PHOTOS_SQL).unwrap().join("\n");
    assert!(plan.contains("SCAN photos"), "{plan}");
    assert!(!plan.contains("INDEX"), "{plan}");
}

#[test]
fn counts_and_bounds() {
    let (_d, c) = seeded(120, true);
    let users: i64 = c
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 120);
    let (lo, hi): (i64, i64) = c
        .query_row(
            "SELECT min(n), max(n) FROM (SELECT count(*) n FROM photos GROUP BY user_id)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(lo >= 10 && hi <= 20, "{lo}..{hi}");
    let orphans: i64 = c
        .query_row(
            "SELECT count(*) FROM photos WHERE user_id NOT IN (SELECT id FROM users)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    c.execute_batch("PRAGMA foreign_key_check").unwrap();
}

#[test]
fn pages_and_pagination() {
    let (_d, c) = seeded(30, true);
    let home = queries::home(&c).unwrap();
    assert_eq!(home.len(), 20);
    assert!(home.windows(2).all(|w| w[0].id > w[1].id), "newest first");

    let p1 = queries::user_page(&c, "user7", 1).unwrap().unwrap();
    let total: i64 = c
        .query_row("SELECT count(*) FROM photos WHERE user_id = 7", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(p1.photos.len() as i64, total.min(20));
    assert_eq!(p1.has_next, total > 20);
    assert!(p1.photos.windows(2).all(|w| w[0].id > w[1].id));
    // 10..=20 photos: page 2 never exists.
    assert!(queries::user_page(&c, "user7", 2).unwrap().is_none());
    assert!(queries::user_page(&c, "nobody", 1).unwrap().is_none());

    let photo = p1.photos[0].id;
    let pp = queries::photo_page(&c, photo).unwrap().unwrap();
    assert_eq!(&*pp.photo.owner_username, "user7");
    assert!(queries::photo_page(&c, 999_999_999).unwrap().is_none());
}

#[test]
fn comments_sessions_and_escaping() {
    let (_d, c) = seeded(10, true);
    let photo = queries::home(&c).unwrap()[0].id;
    let evil = "<script>alert('x')</script> & \"quotes\" — naïve 東京";
    let id = queries::add_comment(&c, photo, 3, evil, 1_200_000_000)
        .unwrap()
        .unwrap();
    assert!(
        queries::add_comment(&c, 424_242_424, 3, "x", 1)
            .unwrap()
            .is_none(),
        "unknown photo"
    );
    let page = queries::photo_page(&c, photo).unwrap().unwrap();
    assert_eq!(page.version, id);
    assert_eq!(page.comments[0].body, evil, "stored as text, UTF-8 intact");
    let html = model::render::photo(None, &page).unwrap();
    assert!(html.contains("&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; &#34;quotes&#34; — naïve 東京"), "{html}");
    assert!(!html.contains("<script>alert('x')"));

    // Seeded names carry markup too; it never comes out raw.
    let mut s = c.prepare("SELECT display_name FROM users").unwrap();
    let names: Vec<String> = s
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let home = model::render::home(None, &queries::home(&c).unwrap()).unwrap();
    for n in names.iter().filter(|n| n.contains('<')) {
        assert!(!home.contains(n.as_str()), "{n} came out unescaped");
    }
    assert!(
        !home.contains("<script>") && !home.contains("<b>"),
        "no seeded markup survives"
    );

    queries::sessions::put(&c, "abc", 2, 100, 200).unwrap();
    assert_eq!(
        queries::sessions::get(&c, "abc", 150)
            .unwrap()
            .unwrap()
            .username,
        "user2"
    );
    assert!(
        queries::sessions::get(&c, "abc", 200).unwrap().is_none(),
        "expired"
    );
    queries::sessions::touch(&c, "abc", 160).unwrap();
    queries::sessions::delete(&c, "abc").unwrap();
    assert!(queries::sessions::get(&c, "abc", 150).unwrap().is_none());

    let creds = queries::credentials(&c, "user4").unwrap().unwrap();
    assert!(model::password::verify("pw-user4", &creds.password_hash));
}

#[test]
fn open_refuses_what_is_not_a_seeded_db() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    assert!(matches!(
        model::open(&missing),
        Err(model::ModelError::Missing { .. })
    ));
    let empty = dir.path().join("empty.db");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE x(y)")
        .unwrap();
    let err = model::open(&empty).unwrap_err().to_string();
    assert!(
        err.contains("not a seeded FlickrKillr database")
            && err.contains("cargo run --release -p seed"),
        "{err}"
    );
}

#[test]
fn seeding_is_deterministic_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let dump = |p: &std::path::Path| {
        let c = rusqlite::Connection::open(p).unwrap();
        let mut s = c
            .prepare("SELECT group_concat(id || title || file, ',') FROM photos")
            .unwrap();
        s.query_row([], |r| r.get::<_, String>(0)).unwrap()
    };
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");
    let mut cfg = seed::Config::new(40, &a);
    cfg.pool = 2;
    seed::build(&cfg, &|_, _| {}).unwrap();
    let err = seed::build(&cfg, &|_, _| {}).unwrap_err();
    assert!(err.to_string().contains("--force"), "{err}");
    cfg.out = b.clone();
    seed::build(&cfg, &|_, _| {}).unwrap();
    assert_eq!(dump(&a), dump(&b));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary files left: {leftovers:?}"
    );
}

/// A cached statement is prepared once: binding another `LIMIT`/`OFFSET`
/// or user must not make SQLite re-prepare it (it did on every execution
/// before the connection asked for the query planner stability guarantee).
#[test]
fn cached_statements_are_not_reprepared() {
    use rusqlite::StatementStatus::RePrepare;
    let (_d, c) = seeded(30, true);
    for (name, page) in [("user1", 1), ("user2", 1), ("user1", 2), ("user3", 1)] {
        queries::user_page(&c, name, page).unwrap();
        queries::home(&c).unwrap();
        queries::photo_page(&c, i64::from(page)).unwrap();
    }
    let user_photos = c.prepare_cached(USER_PHOTOS_SQL).unwrap();
    assert_eq!(user_photos.get_status(RePrepare), 0);
}
