//! stage-4 (two instances, nginx, memcached) against the contract suite.
//!
//! Exempt from `half-close`, for the reason `stage_4::nginx::HALF_CLOSE`
//! gives: the check must still fail here (see `testkit::contract::run_check`).
testkit::contract_suite!(
    |site| testkit::Running::start(
        env!("CARGO_BIN_EXE_stage-4"),
        &site.args(&[
            "--instances",
            "2",
            // Inside the site's temporary directory: removed even when the test
            // kills the stage with SIGKILL (which leaves no chance to clean up).
            "--run-dir",
            &site.dir.path().join("run").display().to_string(),
        ])
    ),
    exempt = &[("half-close", stage_4::nginx::HALF_CLOSE)]
);
