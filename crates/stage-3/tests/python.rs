//! python-3: CherryPy instances (sessions in each one's memory) behind
//! stage-3's own nginx configuration and supervisor, against the contract
//! suite: the same pages, byte for byte, as the Rust stages.
testkit::contract_suite!(|site| testkit::python::start_stage(
    env!("CARGO_BIN_EXE_stage-3"),
    site,
    &["--instances", "2"]
));
