//! No lost writes: comments posted at once by several logged-in visitors
//! are each stored exactly once and each visible on its photo's page —
//! whether one process, several instances on one SQLite file, or a cache in
//! front serves them.

use crate::Run;

/// Photos the writers spread their comments over (the newest ones).
const PHOTOS: i64 = 40;

pub(crate) fn concurrent(r: &mut Run<'_>) {
    let (n, writers) = (r.opts.writes, r.opts.writers.max(1));
    let photos: Vec<i64> = (0..PHOTOS)
        .map(|i| r.site.photo_ids.1 - i)
        .filter(|id| *id >= r.site.photo_ids.0)
        .collect();
    let before = r.site.comment_rows();
    let tag = format!(
        "w{}x{}x",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let users = r.site.users.max(1) as usize;
    let client = r.client;
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let (photos, tag) = (&photos, &tag);
                scope.spawn(move || {
                    let mut failed = Vec::new();
                    let user = format!("user{}", 1 + w % users);
                    let form = http_client::form(&[
                        ("username", &user),
                        ("password", &model::password::seeded_password(&user)),
                    ]);
                    let cookie = match client.post_form("/login", &form, None) {
                        Ok(resp) => resp.cookie(app::sessions::COOKIE),
                        Err(e) => {
                            failed.push(format!("login as {user}: {e}"));
                            None
                        }
                    };
                    let Some(cookie) = cookie else {
                        failed.push(format!("login as {user}: no session"));
                        return failed;
                    };
                    for i in (w..n).step_by(writers) {
                        let photo = photos[i % photos.len()];
                        let body = http_client::form(&[("body", &format!("{tag}{i}end"))]);
                        match client.post_form(
                            &format!("/photo/{photo}/comments"),
                            &body,
                            Some(&cookie),
                        ) {
                            Ok(resp) if resp.status == 303 => {}
                            Ok(resp) => failed.push(format!("comment {i}: status {}", resp.status)),
                            Err(e) => failed.push(format!("comment {i}: {e}")),
                        }
                    }
                    failed
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec!["a writer panicked".into()])
            })
            .collect()
    });
    let name = format!("{n} comments by {writers} concurrent writers are each answered 303");
    r.record(
        name,
        failures.into_iter().take(5).collect(),
        "all 303".into(),
    );

    let added = r.site.comment_rows() - before;
    let problems = if added == n as i64 {
        vec![]
    } else {
        vec![format!(
            "{added} new rows in the database (want exactly {n})"
        )]
    };
    r.record(
        "every comment is stored exactly once",
        problems,
        format!("{added} new rows"),
    );

    let mut seen = 0;
    let mut problems = Vec::new();
    for p in &photos {
        match client.get(&format!("/photo/{p}")) {
            Ok(resp) => {
                let page = resp.text();
                seen += (0..n)
                    .filter(|i| page.contains(&format!("{tag}{i}end")))
                    .count();
            }
            Err(e) => problems.push(format!("GET /photo/{p}: {e}")),
        }
    }
    if seen != n {
        problems.push(format!(
            "{seen} of {n} comments visible on their photo pages"
        ));
    }
    r.record(
        "every comment is visible on its photo page",
        problems,
        format!("{seen} of {n} visible"),
    );
}
