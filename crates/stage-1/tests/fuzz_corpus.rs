//! Replays the CGI fuzzers' corpus and regressions (`fuzz/`) on every `cargo test`.

use std::path::PathBuf;

fn replay(target: &str, check: fn(&[u8])) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        for e in std::fs::read_dir(root.join(dir).join(target))
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.path().is_file() && !e.file_name().to_string_lossy().starts_with('.') {
                let data = std::fs::read(e.path()).unwrap();
                assert!(
                    std::panic::catch_unwind(|| check(&data)).is_ok(),
                    "{} fails",
                    e.path().display()
                );
                n += 1;
            }
        }
    }
    assert!(n > 0, "no corpus for {target}");
}

#[test]
fn header_block_corpus() {
    replay("header_block", stage_1::fuzzing::header_block);
}

#[test]
fn cgi_env_corpus() {
    replay("cgi_env", stage_1::fuzzing::cgi_env);
}
