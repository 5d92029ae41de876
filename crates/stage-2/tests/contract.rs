//! stage-2 against the contract suite (see crates/testkit/src/contract.rs).
testkit::contract_suite!(|site| testkit::Running::start(
    env!("CARGO_BIN_EXE_stage-2"),
    &site.args(&[])
));
