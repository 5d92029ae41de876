//! A visitor's session from login to logout, and a write becoming visible:
//! log in (a fresh 128-bit id in an `HttpOnly; SameSite=Lax` cookie), see
//! your name on the pages, be refused what needs a session or a valid form,
//! post a comment holding `<script>` and non-ASCII text, find it escaped on
//! the page for yourself and for everyone (caches invalidated), log out,
//! and find the old cookie worthless.

use crate::{Run, pages};

/// The flow, as the last seeded user.
pub(crate) fn flow(r: &mut Run<'_>) {
    refused_logins(r);
    let username = format!("user{}", r.site.users);
    let Some(cookie) = login_checked(r, &username) else {
        r.record(
            "logged-in checks",
            vec!["skipped: no session".into()],
            String::new(),
        );
        return;
    };
    let cookie = Some(cookie.as_str());
    let viewer = r.site.viewer(&username);
    let photo = r.site.newest_photo();
    let page = format!("/photo/{photo}");
    let comments = format!("{page}/comments");

    let viewer_mark = format!("Logged in as <a href=\"/user/{username}\">");
    r.contains(
        "the logged-in home page shows the visitor",
        "/",
        cookie,
        &[&viewer_mark],
        &[],
    );
    let mine = pages::expect_user(r.site, "user1", 1, viewer.as_ref());
    r.page(
        "a logged-in user page is the reference rendering for the visitor",
        "/user/user1",
        cookie,
        &mine,
    );
    refused_comments(r, cookie, &comments);
    if write_comment(r, cookie, photo, &viewer_mark) {
        log_out(r, cookie, &comments);
    }
}

/// A wrong password and an unknown user, refused alike.
fn refused_logins(r: &mut Run<'_>) {
    let wrong = http_client::form(&[("username", "user1"), ("password", "not-the-password")]);
    r.status(
        "a wrong password is refused",
        "POST",
        "/login",
        None,
        Some(&wrong),
        &[401],
    );
    let unknown = http_client::form(&[("username", "nobody"), ("password", "x")]);
    r.status(
        "an unknown user is refused the same way",
        "POST",
        "/login",
        None,
        Some(&unknown),
        &[401],
    );
}

/// Comments refused: without a session or with a garbage one, empty, too
/// long, on an unknown photo; and a cross-site form post.
fn refused_comments(r: &mut Run<'_>, cookie: Option<&str>, comments: &str) {
    let body = http_client::form(&[("body", "hello")]);
    r.status(
        "a comment without a session is refused",
        "POST",
        comments,
        None,
        Some(&body),
        &[401],
    );
    r.status(
        "a comment with a garbage session is refused",
        "POST",
        comments,
        Some("sid=garbage"),
        Some(&body),
        &[401],
    );
    let empty = http_client::form(&[("body", "")]);
    r.status(
        "an empty comment is a bad request",
        "POST",
        comments,
        cookie,
        Some(&empty),
        &[400],
    );
    let long = http_client::form(&[("body", &"é".repeat(model::render::MAX_COMMENT_CHARS + 1))]);
    r.status(
        &format!(
            "a comment over {} characters is a bad request",
            model::render::MAX_COMMENT_CHARS
        ),
        "POST",
        comments,
        cookie,
        Some(&long),
        &[400],
    );
    let nowhere = format!("/photo/{}/comments", r.site.photo_ids.1 + 1000);
    r.status(
        "a comment on an unknown photo is not found",
        "POST",
        &nowhere,
        cookie,
        Some(&body),
        &[404],
    );
    let cross = b"POST /logout HTTP/1.1\r\nHost: fk.example\r\nOrigin: http://evil.example\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    match r.client.raw(cross, false) {
        Ok(resp) if resp.status == 403 => {
            r.record("a cross-site form post is refused", vec![], "403".into())
        }
        Ok(resp) => r.record(
            "a cross-site form post is refused",
            vec![format!("status {} (want 403)", resp.status)],
            String::new(),
        ),
        Err(e) => r.record(
            "a cross-site form post is refused",
            vec![e.to_string()],
            String::new(),
        ),
    }
}

/// Posts a comment with a marker nobody else could have written, holding
/// `<script>` and non-ASCII text, on photo `photo`, and finds it escaped on
/// the page for its author and for everyone. `false` when the server does
/// not write to the database the checks read (the rest is then moot).
fn write_comment(r: &mut Run<'_>, cookie: Option<&str>, photo: i64, viewer_mark: &str) -> bool {
    let page = format!("/photo/{photo}");
    let comments = format!("{page}/comments");
    // The write, with a marker nobody else could have written.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let (head, tail) = (format!("contract-{nanos}"), format!("end-{nanos}"));
    let marker = format!("{head} <script>alert('x')</script> \"q\" & naïve café ✓ 日本 {tail}");
    let form = http_client::form(&[("body", &marker)]);
    if let Some(resp) = r.status(
        "post a comment",
        "POST",
        &comments,
        cookie,
        Some(&form),
        &[303],
    ) {
        let loc = resp.header("location").unwrap_or_default().to_owned();
        let prefix = format!("{page}#c");
        let good = loc
            .strip_prefix(&prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let problems = if good {
            vec![]
        } else {
            vec![format!("Location {loc:?} (want {prefix}<comment id>)")]
        };
        r.record("the redirect names the new comment", problems, loc);
    }
    // The marker as the reference rendering escapes it, found by its
    // plain-text ends in the page rendered after the write.
    let expected = pages::expect_photo(r.site, photo, None);
    let escaped = expected.as_ref().ok().and_then(|p| {
        let start = p.find(&head)?;
        let end = start + p[start..].find(&tail)? + tail.len();
        Some(p[start..end].to_string())
    });
    let Some(escaped) = escaped.filter(|e| !e.contains('<')) else {
        let why = format!(
            "the reference rendering of photo {photo} has no escaped marker: the server does not write to the database given"
        );
        r.record("the comment is in the database", vec![why], String::new());
        return false;
    };
    let raw = "<script>alert(";
    r.contains(
        "the comment is visible, escaped, to its author",
        &page,
        cookie,
        &[&escaped, viewer_mark],
        &[raw],
    );
    r.page("the comment is visible to everyone", &page, None, &expected);
    r.page(
        "the comment is visible to everyone, again",
        &page,
        None,
        &expected,
    );
    true
}

/// Logging out clears the cookie, and the old session is worthless.
fn log_out(r: &mut Run<'_>, cookie: Option<&str>, comments: &str) {
    let body = http_client::form(&[("body", "hello")]);
    if let Some(resp) = r.status("log out", "POST", "/logout", cookie, Some(""), &[303]) {
        let mut problems = Vec::new();
        if resp.header("location") != Some("/") {
            problems.push(format!(
                "Location {:?} (want \"/\")",
                resp.header("location")
            ));
        }
        let cleared = resp
            .headers_all("set-cookie")
            .any(|c| c.starts_with("sid=") && c.contains("Max-Age=0"));
        if !cleared {
            problems.push("no Set-Cookie clearing sid (Max-Age=0)".into());
        }
        r.record(
            "logging out clears the cookie",
            problems,
            "303 to /, sid cleared".into(),
        );
    }
    r.status(
        "the old session is refused after logout",
        "POST",
        comments,
        cookie,
        Some(&body),
        &[401],
    );
}

/// Logs in and checks the answer: 303 to `/`, a fresh sid of 128 random
/// bits in hex (after an optional instance tag such as `i0-`, which
/// stage-3 routes on) in an `HttpOnly; SameSite=Lax; Path=/` cookie.
fn login_checked(r: &mut Run<'_>, username: &str) -> Option<String> {
    let form = http_client::form(&[
        ("username", username),
        ("password", &model::password::seeded_password(username)),
    ]);
    let name = format!("log in as {username} (POST /login)");
    let resp = match r.send("POST", "/login", None, Some(&form)) {
        Ok((resp, _)) => resp,
        Err(e) => {
            r.record(name, vec![e], String::new());
            return None;
        }
    };
    let mut problems = Vec::new();
    if resp.status != 303 {
        problems.push(format!("status {} (want 303)", resp.status));
    }
    if resp.header("location") != Some("/") {
        problems.push(format!(
            "Location {:?} (want \"/\")",
            resp.header("location")
        ));
    }
    let set = resp
        .headers_all("set-cookie")
        .find(|c| c.trim_start().starts_with("sid="))
        .map(str::to_owned);
    let cookie = match &set {
        Some(c) => {
            let pair = c.split(';').next().unwrap_or_default().trim().to_owned();
            let id = &pair["sid=".len()..];
            let hex = id.rsplit_once('-').map_or(id, |(tag, h)| {
                if tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    h
                } else {
                    id
                }
            });
            if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                problems.push(format!("sid {id:?} is not 128 random bits in hex"));
            }
            let attrs: Vec<String> = c
                .split(';')
                .skip(1)
                .map(|a| a.trim().to_ascii_lowercase())
                .collect();
            for want in ["httponly", "samesite=lax", "path=/"] {
                if !attrs.iter().any(|a| a == want) {
                    problems.push(format!("Set-Cookie lacks {want}: {c:?}"));
                }
            }
            Some(pair)
        }
        None => {
            problems.push("no Set-Cookie: sid=...".into());
            None
        }
    };
    let ok = problems.is_empty();
    r.record(
        name,
        problems,
        "303 to /, sid cookie HttpOnly; SameSite=Lax; Path=/".into(),
    );
    cookie.filter(|_| ok)
}
