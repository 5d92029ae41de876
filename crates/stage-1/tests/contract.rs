//! stage-1 (built-in CGI host) against the contract suite.
testkit::contract_suite!(|site| testkit::Running::start(
    env!("CARGO_BIN_EXE_stage-1"),
    &site.args(&[])
));
