//! `--cpus`: the supervisor, nginx, memcached and every instance (Rust and
//! CPython) run on the CPUs given; instances and nginx workers follow their
//! number.

#[test]
fn every_process_runs_on_the_cpus_given() {
    testkit::pinning::assert_balanced_stage_pinned(env!("CARGO_BIN_EXE_stage-4"), true);
}
