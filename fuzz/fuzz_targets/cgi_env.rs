//! The CGI program's reading of the RFC 3875 environment.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| stage_1::fuzzing::cgi_env(data));
