//! Entry points for the fuzzers (`fuzz/`) and the corpus-replay tests.

use std::collections::HashMap;
use std::ffi::OsString;

use crate::host::parse_header_block;
use crate::program::CgiEnv;

/// The host's parser of a child's header block: never panics; a parsed
/// block ends inside the output and has a valid status.
pub fn header_block(data: &[u8]) {
    if let Ok(r) = parse_header_block(data) {
        assert!(r.body_at <= data.len());
        assert!((100..=599).contains(&r.status));
        assert!(
            r.headers
                .iter()
                .all(|(n, _)| !n.is_empty() && !n.contains(':'))
        );
    }
}

/// The CGI program's reading of its environment: `KEY=VALUE` lines.
/// Never panics; a request it accepts has a path starting with `/`.
pub fn cgi_env(data: &[u8]) {
    use std::os::unix::ffi::OsStringExt;
    let vars: HashMap<String, OsString> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let eq = line.iter().position(|&b| b == b'=')?;
            let key = std::str::from_utf8(&line[..eq]).ok()?.to_owned();
            Some((key, OsString::from_vec(line[eq + 1..].to_vec())))
        })
        .collect();
    if let Ok(env) = CgiEnv::from_vars(|k| vars.get(k).cloned()) {
        assert!(env.path.starts_with('/'));
        let _ = env.request(b"");
    }
}
