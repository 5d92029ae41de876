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
/// App-server instances stages 3 and 4 start: one per core, the talk's
/// "run multiple instances" to get past the GIL.
pub const INSTANCES: usize = 2;
/// nginx worker processes in stages 3 and 4: one per core, nginx's own
/// rule. The cores are shared with the app instances and the load generator,
/// but a worker only uses CPU when there is work: measured on the 2-core
/// machine, a second worker gave stage-4's cached pages +45% (nginx does
/// nearly all the work there) and stage-3 +10%.
pub const NGINX_WORKERS: usize = 2;
/// The nginx binary (looked up in `PATH`, then the usual `sbin` directories).
pub const NGINX: &str = "nginx";
/// The memcached binary (looked up like [`NGINX`]).
pub const MEMCACHED: &str = "memcached";
/// Megabytes of item memory of the memcached stage-4 starts.
pub const MEMCACHED_MB: u32 = 256;
/// Seconds an anonymous page stays in memcached (stage-4). Comments replace
/// their photo page at once (versioned publish), so this only bounds how
/// long a change made behind the app's back (a re-seeded database) can be
/// served stale, at the cost of one re-render per page per period.
pub const PAGE_TTL_SECS: u32 = 300;
/// Seconds photo bytes stay in memcached: photo files never change, so a
/// day, the same as the `Cache-Control` the app sends with them.
pub const PHOTO_TTL_SECS: u32 = 86_400;
