//! Bad input, as data: each case is a request and the statuses the
//! contract allows for it. Never a 5xx, never a file from outside the
//! photo directory, and the server keeps serving afterwards.

use crate::{Run, Site};

/// A request path with the site's facts filled in: `{past}` is the first
/// page past user1's last, `{nouser}` a user beyond the seeded ones,
/// `{nophoto}` a photo id beyond the largest.
pub struct Case {
    pub what: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub want: &'static [u16],
}

/// Every bad input the contract names, with its allowed statuses.
pub const CASES: &[Case] = &[
    Case {
        what: "page=0 is a bad request",
        method: "GET",
        path: "/user/user1?page=0",
        want: &[400],
    },
    Case {
        what: "non-numeric page is a bad request",
        method: "GET",
        path: "/user/user1?page=abc",
        want: &[400],
    },
    Case {
        what: "page past the last is not found",
        method: "GET",
        path: "/user/user1?page={past}",
        want: &[404],
    },
    Case {
        what: "unknown user is not found",
        method: "GET",
        path: "/user/{nouser}",
        want: &[404],
    },
    Case {
        what: "SQL in a user name is just an unknown user",
        method: "GET",
        path: "/user/x%27;DROP%20TABLE%20users;--",
        want: &[404],
    },
    Case {
        what: "invalid UTF-8 in the path is a bad request",
        method: "GET",
        path: "/user/%ff%fe",
        want: &[400],
    },
    Case {
        what: "non-numeric photo id is a bad request",
        method: "GET",
        path: "/photo/abc",
        want: &[400],
    },
    Case {
        what: "photo id 0 is a bad request",
        method: "GET",
        path: "/photo/0",
        want: &[400],
    },
    Case {
        what: "SQL in a photo id is a bad request",
        method: "GET",
        path: "/photo/1%27%20OR%20%271%27=%271",
        want: &[400],
    },
    Case {
        what: "unknown photo is not found",
        method: "GET",
        path: "/photo/{nophoto}",
        want: &[404],
    },
    Case {
        what: "encoded path traversal is refused",
        method: "GET",
        path: "/static/photos/..%2f..%2fetc%2fpasswd",
        want: &[400, 404],
    },
    Case {
        what: "encoded dots traversal is refused",
        method: "GET",
        path: "/static/photos/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        want: &[400, 404],
    },
    Case {
        what: "double-encoded traversal is refused",
        method: "GET",
        path: "/static/photos/..%252f..%252fetc%252fpasswd",
        want: &[400, 404],
    },
    Case {
        what: "path traversal is refused",
        method: "GET",
        path: "/static/photos/../../etc/passwd",
        want: &[400, 404],
    },
    Case {
        what: "a NUL byte in a file name is refused",
        method: "GET",
        path: "/static/photos/x.jpg%00.png",
        want: &[400, 404],
    },
    Case {
        what: "unknown photo file is not found",
        method: "GET",
        path: "/static/photos/nope-0000.jpg",
        want: &[404],
    },
    Case {
        what: "unknown path is not found",
        method: "GET",
        path: "/no/such/page",
        want: &[404],
    },
    Case {
        what: "wrong method on / is refused",
        method: "DELETE",
        path: "/",
        want: &[405],
    },
    Case {
        what: "wrong method on a photo is refused",
        method: "POST",
        path: "/photo/1",
        want: &[405],
    },
    Case {
        what: "wrong method on comments is refused",
        method: "GET",
        path: "/photo/1/comments",
        want: &[405],
    },
    Case {
        what: "wrong method on login is refused",
        method: "GET",
        path: "/login",
        want: &[405],
    },
];

impl Case {
    /// The path with the site's facts filled in.
    pub fn path_for(&self, site: &Site) -> String {
        let mut past = 2;
        if self.path.contains("{past}") {
            while let Ok(Some(_)) = model::queries::user_page(&site.db, "user1", past) {
                past += 1;
            }
        }
        self.path
            .replace("{past}", &past.to_string())
            .replace("{nouser}", &format!("user{}", site.users + 1))
            .replace("{nophoto}", &(site.photo_ids.1 + 1000).to_string())
    }
}

/// Every case of [`CASES`]; none may leak `/etc/passwd`.
pub(crate) fn statuses(r: &mut Run<'_>) {
    for case in CASES {
        let path = case.path_for(r.site);
        if let Some(resp) = r.status(case.what, case.method, &path, None, None, case.want)
            && resp.text().contains("root:")
        {
            let name = format!("{} leaks no file", case.what);
            r.record(
                name,
                vec![format!("{path}: the body holds /etc/passwd")],
                String::new(),
            );
        }
    }
}

/// Abuse at the HTTP level: each gets a 4xx or is harmlessly ignored.
pub(crate) fn protocol(r: &mut Run<'_>) {
    let huge = "a".repeat(20 * 1024);
    match r.client.request("GET", "/", &[("X-Huge", &huge)], b"") {
        Ok(resp) if (400..500).contains(&resp.status) => {
            r.record(
                "a 20 KiB header is refused",
                vec![],
                resp.status.to_string(),
            );
        }
        Ok(resp) => r.record(
            "a 20 KiB header is refused",
            vec![format!("status {} (want 4xx)", resp.status)],
            String::new(),
        ),
        Err(e) => r.record(
            "a 20 KiB header is refused",
            vec![e.to_string()],
            String::new(),
        ),
    }
    let garbage = "sid=%%%; ;;=;sid=' OR 1=1; sid=\"zz\"";
    r.status(
        "a garbage cookie is an anonymous visitor",
        "GET",
        "/",
        Some(garbage),
        None,
        &[200],
    );
    let control = "sid=\u{1}\u{2}";
    match r.send("GET", "/", Some(control), None) {
        Ok((resp, _)) if (200..500).contains(&resp.status) => r.record(
            "control bytes in a cookie are no server error",
            vec![],
            resp.status.to_string(),
        ),
        Ok((resp, _)) => r.record(
            "control bytes in a cookie are no server error",
            vec![format!("status {}", resp.status)],
            String::new(),
        ),
        Err(e) => r.record(
            "control bytes in a cookie are no server error",
            vec![e],
            String::new(),
        ),
    }
    if let Some(resp) = r.status(
        "an unknown method is refused",
        "DELETE",
        "/user/user1",
        None,
        None,
        &[405],
    ) {
        let allow = resp.header("allow").unwrap_or("");
        let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        let problems = if methods.contains(&"GET") && methods.contains(&"HEAD") {
            vec![]
        } else {
            vec![format!("Allow {allow:?} (want GET, HEAD)")]
        };
        r.record(
            "a 405 says what is allowed (Allow)",
            problems,
            format!("Allow: {allow}"),
        );
    }
    let wrong_type = b"POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody";
    match r.client.raw(wrong_type, false) {
        Ok(resp) if resp.status == 415 => {
            r.record(
                "a form that is not form-encoded is refused",
                vec![],
                "415".into(),
            );
        }
        Ok(resp) => r.record(
            "a form that is not form-encoded is refused",
            vec![format!("status {} (want 415)", resp.status)],
            String::new(),
        ),
        Err(e) => r.record(
            "a form that is not form-encoded is refused",
            vec![e.to_string()],
            String::new(),
        ),
    }
    let limit = app::MAX_BODY_BYTES;
    let big = format!("username={}", "x".repeat(limit + 1024));
    r.status(
        &format!("a body over {} KiB is refused", limit / 1024),
        "POST",
        "/login",
        None,
        Some(&big),
        &[413],
    );
    r.status(
        "still serving after all that",
        "GET",
        "/healthz",
        None,
        None,
        &[200],
    );
}
