//! python-2: the CPython peer's app server alone (one CherryPy process,
//! its thread pool, one SQLite connection per thread, sessions in SQLite),
//! against the contract suite: the same pages, byte for byte, as stage-2.
testkit::contract_suite!(|site| testkit::python::start_server(site, &[]));
