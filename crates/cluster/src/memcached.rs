//! Running a real memcached for stage-4: on a free port chosen by
//! [`crate::ports::free_port`] (memcached cannot inherit a socket), restarted
//! on the same port if it dies (nginx and the app instances know it there).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::ChildSpec;
use crate::{ClusterError, tools};

/// What to run when memcached is missing.
pub const INSTALL: &str = "sudo apt-get install -y memcached";

/// memcached stops at once on SIGTERM; this is only a bound.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// The memcached binary (looked up in `PATH`, then the usual `sbin` directories).
pub const PROGRAM: &str = "memcached";

/// Megabytes of item memory of the memcached stage-4 starts (its
/// `--memcached-mb`): enough to hold every page and photo of the full
/// 100k-user data set — 2,944 MB by `stage-4 cache-size` (100,000 user
/// pages of ~4.5 KB, 1.5 M photo pages of ~1.5 KB, 64 photos, item overhead
/// and slab waste included) — so what the benchmark measures is the miss
/// rate of a cache that only evicts what expires. memcached takes memory
/// as items arrive (1 MB slab pages), so a short run uses a fraction of it.
pub const DEFAULT_MEMORY_MB: u32 = 3072;

/// How memcached is sized.
#[derive(Clone, Debug)]
pub struct Options {
    /// Item memory in megabytes (`-m`).
    pub memory_mb: u32,
    /// Worker threads (`-t`).
    pub threads: u32,
    /// Connection limit (`-c`).
    pub max_conns: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memory_mb: DEFAULT_MEMORY_MB,
            // memcached's default is 4; the machine has 2 cores, shared with
            // nginx, the app and the load generator: more only adds switching.
            threads: 2,
            // nginx's keep-alive pools plus every instance's pool, per
            // worker, with ample headroom.
            max_conns: 4096,
        }
    }
}

/// Finds the memcached binary (or explains how to install it).
pub fn find(program: &Path) -> Result<PathBuf, ClusterError> {
    tools::find_program("memcached", program, INSTALL)
}

/// The child to supervise: memcached on `addr`, TCP only.
pub fn spec(name: &str, program: &Path, addr: SocketAddr, opts: &Options) -> ChildSpec {
    ChildSpec::new(name, program)
        .arg("-l")
        .arg(addr.ip().to_string())
        .arg("-p")
        .arg(addr.port().to_string())
        // No UDP (memcached 1.6 defaults to off; stated, not assumed).
        .arg("-U")
        .arg("0")
        .arg("-m")
        .arg(opts.memory_mb.to_string())
        .arg("-t")
        .arg(opts.threads.to_string())
        .arg("-c")
        .arg(opts.max_conns.to_string())
        // As root, start it as `nobody` rather than let it switch with -u
        // (which it insists on as root): its own switch would clear the
        // parent-death signal, and it could outlive a killed stage.
        .run_as(crate::process::unprivileged_if_root())
        .stop_with(libc::SIGTERM, STOP_GRACE)
}
