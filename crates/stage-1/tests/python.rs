//! python-1: the CPython peer's CGI program (`peers/python/fk_cgi.py`, a
//! fresh interpreter per request) under stage-1's CGI host, against the
//! contract suite: the same pages, byte for byte, as the Rust stages.
testkit::contract_suite!(|site| {
    let extra = testkit::python::app_args();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    testkit::Running::start(env!("CARGO_BIN_EXE_stage-1"), &site.args(&extra))
});
