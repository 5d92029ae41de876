//! Form, query, cookie and path parsing (`app::fuzzing::parsers`).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| app::fuzzing::parsers(data));
