//! `GET /healthz`: the process is up and routing. Touches no database, so a
//! supervisor's readiness probe measures the server, not SQLite.

use crate::http::Response;

pub fn get() -> Response {
    Response {
        status: 200,
        headers: vec![("content-type", "text/plain; charset=utf-8".into())],
        body: b"ok\n".to_vec(),
        timing: Default::default(),
    }
}
