//! The tests' HTTP client: [`http_client`]'s one response reader, with
//! panicking shorthands so a test reads as what it checks.

pub use http_client::{Client, Resp, form, form_encode};

/// Sends one request to `addr` (`127.0.0.1:PORT`) and reads the answer;
/// panics (naming the request) if there is none.
pub fn request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    try_request(addr, method, target, headers, body)
        .unwrap_or_else(|e| panic!("{method} {target}: {e}"))
}

/// Like [`request`], with the error returned.
pub fn try_request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Resp, http_client::Error> {
    Client::new(addr).request(method, target, headers, body)
}

/// Sends raw bytes (malformed requests included) and parses the answer.
pub fn raw(addr: &str, bytes: &[u8]) -> Result<Resp, http_client::Error> {
    Client::new(addr).raw(bytes, false)
}
