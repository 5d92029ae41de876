//! python-3: CherryPy instances (sessions in each one's memory) behind
//! stage-3's own nginx configuration and supervisor, against the contract
//! suite: the same pages, byte for byte, as the Rust stages.
testkit::contract_suite!(|site| {
    let mut extra = testkit::python::app_args();
    extra.extend(["--instances".into(), "2".into()]);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    testkit::Running::start(
        env!("CARGO_BIN_EXE_stage-3"),
        &testkit::stages::args(site, &extra),
    )
});
