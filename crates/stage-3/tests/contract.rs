//! stage-3 (two instances behind nginx) against the contract suite.
testkit::contract_suite!(|site| testkit::Running::start(
    env!("CARGO_BIN_EXE_stage-3"),
    &site.args(&[
        "--instances",
        "2",
        // Inside the site's temporary directory: removed even when the test
        // kills the stage with SIGKILL (which leaves no chance to clean up).
        "--run-dir",
        &site.dir.path().join("run").display().to_string(),
    ])
));
