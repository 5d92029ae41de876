//! python-4: CherryPy instances keeping pages, photo bytes and sessions in
//! memcached under stage-4's keys and versions, behind stage-4's own nginx
//! and supervisor, against the contract suite (with stage-4's exemption:
//! `stage_4::nginx::HALF_CLOSE`, a property of nginx, not of the app).
testkit::contract_suite!(
    |site| {
        let mut extra = testkit::python::app_args();
        extra.extend(["--instances".into(), "2".into()]);
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        testkit::Running::start(
            env!("CARGO_BIN_EXE_stage-4"),
            &testkit::stages::args(site, &extra),
        )
    },
    exempt = &[("half-close", stage_4::nginx::HALF_CLOSE)]
);
