//! python-4: CherryPy instances keeping pages, photo bytes and sessions in
//! memcached under stage-4's keys and versions, behind stage-4's own nginx
//! and supervisor, against the contract suite (with stage-4's exemption:
//! `stage_4::nginx::HALF_CLOSE`, a property of nginx, not of the app).
testkit::contract_suite!(
    |site| testkit::python::start_stage(env!("CARGO_BIN_EXE_stage-4"), site, &["--instances", "2"]),
    exempt = &[("half-close", stage_4::nginx::HALF_CLOSE)]
);
