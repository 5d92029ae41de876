//! Checks about the wire rather than the site: the health probe, the
//! headers every app response carries, and clients that half-close.

use crate::{Resp, Run, first_difference};

/// `GET /healthz` is `200 ok`. If nothing answers, the run stops.
pub(crate) fn health(r: &mut Run<'_>) {
    let mut problems = Vec::new();
    match r.client.get("/healthz") {
        Ok(resp) => {
            if resp.status != 200 {
                problems.push(format!("status {} (want 200)", resp.status));
            }
            if resp.body.trim_ascii() != b"ok" {
                problems.push(format!(
                    "body {:?} (want \"ok\")",
                    crate::snippet(&resp.body, 0, 40)
                ));
            }
        }
        Err(e) => {
            if e.is_connect() {
                r.give_up();
            }
            problems.push(e.to_string());
        }
    }
    r.record("GET /healthz", problems, "200 ok".into());
}

/// An app response names its process and its phases; every response is
/// framed and dated.
pub(crate) fn headers(r: &mut Run<'_>) {
    let path = "/user/user1";
    match r.send("GET", path, None, None) {
        Ok((resp, _)) => {
            let problems = html_header_problems(&resp);
            let detail = format!(
                "{}; Server-Timing {:?}",
                who_answered(&resp),
                resp.header("server-timing").unwrap_or("-")
            );
            r.record(format!("response headers (GET {path})"), problems, detail);
        }
        Err(e) => r.record(
            format!("response headers (GET {path})"),
            vec![e],
            String::new(),
        ),
    }
}

/// A complete request followed by `shutdown(SHUT_WR)` still gets its whole
/// answer: pages the server takes time over included (stage-1 starts a
/// process for each; a login hashes a password).
pub(crate) fn half_close(r: &mut Run<'_>) {
    let user = format!("/user/user{}", r.site.users);
    let expected = crate::pages::expect_user(r.site, &format!("user{}", r.site.users), 1, None);
    let host = r.client.host.clone();
    for (what, bytes, head) in [
        (
            format!("GET {user}"),
            http_client::request_bytes("GET", &user, &host, &[], b""),
            false,
        ),
        (
            format!("HEAD {user}"),
            http_client::request_bytes("HEAD", &user, &host, &[], b""),
            true,
        ),
        (
            format!("HTTP/1.0 GET {user}, no Host"),
            format!("GET {user} HTTP/1.0\r\n\r\n").into_bytes(),
            false,
        ),
    ] {
        let name = format!("half-closed client ({what})");
        match r.client.raw_half_closed(&bytes, head) {
            Ok(resp) => {
                let mut problems = Vec::new();
                if resp.status != 200 {
                    problems.push(format!("status {} (want 200)", resp.status));
                }
                if let (false, Ok(want)) = (head, &expected) {
                    problems.extend(first_difference(want.as_bytes(), &resp.body));
                }
                r.record(name, problems, format!("{} answered in full", resp.status));
            }
            Err(e) => r.record(name, vec![format!("no answer: {e}")], String::new()),
        }
    }
    let form = http_client::form(&[("username", "user1"), ("password", "wrong")]);
    let bytes = http_client::request_bytes(
        "POST",
        "/login",
        &host,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    match r.client.raw_half_closed(&bytes, false) {
        Ok(resp) if resp.status == 401 => r.record(
            "half-closed client (POST /login, wrong password)",
            vec![],
            "401 answered in full".into(),
        ),
        Ok(resp) => r.record(
            "half-closed client (POST /login, wrong password)",
            vec![format!("status {} (want 401)", resp.status)],
            String::new(),
        ),
        Err(e) => r.record(
            "half-closed client (POST /login, wrong password)",
            vec![format!("no answer: {e}")],
            String::new(),
        ),
    }
}

/// Who answered: the app process, or nginx from its cache.
pub(crate) fn who_answered(r: &Resp) -> String {
    match (r.header("x-served-by"), r.header("x-cache")) {
        (Some(s), _) => s.to_owned(),
        (None, Some(c)) => format!("X-Cache: {c}"),
        _ => "no X-Served-By".into(),
    }
}

/// Whether nginx answered from memcached (stage-4): then no app process
/// saw the request, and there is no `X-Served-By` or `Server-Timing`.
pub(crate) fn cache_hit(r: &Resp) -> bool {
    r.header("x-cache").is_some_and(|v| v.starts_with("HIT"))
}

/// `Date` and framing.
pub(crate) fn framing_problems(r: &Resp) -> Vec<String> {
    let mut p = Vec::new();
    if r.header("date").is_none() {
        p.push("no Date header".into());
    }
    let chunked = r
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if r.header("content-length").is_none() && !chunked {
        p.push("neither Content-Length nor chunked".into());
    }
    p
}

/// A page's headers: the content type with its charset, framing, and who
/// served it with where the time went (unless nginx answered from cache).
pub(crate) fn html_header_problems(r: &Resp) -> Vec<String> {
    let mut p = framing_problems(r);
    let ct = r.header("content-type").unwrap_or_default();
    let norm: String = ct
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    if norm != "text/html;charset=utf-8" {
        p.push(format!(
            "Content-Type {ct:?} (want \"text/html; charset=utf-8\")"
        ));
    }
    if !cache_hit(r) {
        match r.header("x-served-by") {
            Some(s) if valid_served_by(s) => {}
            Some(s) => p.push(format!(
                "X-Served-By {s:?} (want \"stage-N pid=P\" or \"python-N pid=P\")"
            )),
            None => p.push("no X-Served-By (nor X-Cache: HIT)".into()),
        }
        match r.header("server-timing") {
            Some(st) if st.split(',').any(|e| e.contains("dur=")) => {}
            Some(st) => p.push(format!("Server-Timing {st:?} has no name;dur=MS entry")),
            None => p.push("no Server-Timing (nor X-Cache: HIT)".into()),
        }
    }
    p
}

/// `stage-N pid=P` or `python-N pid=P`, optionally followed by an instance tag.
pub(crate) fn valid_served_by(s: &str) -> bool {
    let mut parts = s.split_whitespace();
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    let design = parts.next().and_then(|x| {
        x.strip_prefix("stage-")
            .or_else(|| x.strip_prefix("python-"))
    });
    let pid = parts.next().and_then(|x| x.strip_prefix("pid="));
    design.is_some_and(digits) && pid.is_some_and(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_by() {
        assert!(valid_served_by("stage-3 pid=123 i0"));
        assert!(valid_served_by("python-2 pid=7"));
        assert!(!valid_served_by("stage-x pid=1"));
        assert!(!valid_served_by("nginx"));
        assert!(!valid_served_by("stage-1 host"));
    }
}
