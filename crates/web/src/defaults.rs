//! Every default address, path and size, in one place. Command-line options
//! (and their environment variables) override each; scripts and tests pass
//! port 0 and read the `listening on` line instead of assuming a port.

/// The seeded database, relative to the workspace root.
pub const DB: &str = "data/flickrkillr.db";
/// stage-1's CGI host.
pub const STAGE1_LISTEN: &str = "127.0.0.1:8001";
/// stage-2's app server.
pub const STAGE2_LISTEN: &str = "127.0.0.1:8002";
/// stage-3's nginx.
pub const STAGE3_LISTEN: &str = "127.0.0.1:8003";
/// stage-4's nginx.
pub const STAGE4_LISTEN: &str = "127.0.0.1:8004";
/// Worker threads of an app server: one per core of the 2-core machine this
/// workspace is measured on.
pub const THREADS: usize = 2;
