//! The CGI host's parser of a child's header block.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| stage_1::fuzzing::header_block(data));
