//! Running a real nginx in front of the app instances: the binary, its port,
//! and its configuration.
//!
//! ## The configuration is a file you can open
//! Each stage's `nginx.conf` is a template in that stage's crate
//! (`crates/stage-3/templates/nginx.conf`, `crates/stage-4/templates/nginx.conf`):
//! its lesson (balancing, sticky sessions, `memcached_pass`, the fallback
//! to the app) reads like any nginx.conf, comments included. Both extend
//! the settings they share, `crates/cluster/templates/nginx-base.conf`,
//! whose values come from [`Base`]. askama renders them with typed values
//! (addresses, counts, seconds); every path is quoted in the template and
//! escaped by [`ConfEscaper`], so no value can end a directive or open a
//! block. The stage writes the result into its run directory and prints
//! where (`nginx config: DIR/nginx.conf`): the file nginx is running.
//!
//! ## The port: `SO_REUSEPORT`, one listening socket per worker
//! The supervisor binds the address itself (so `--listen 127.0.0.1:0` works
//! and the port stays reserved for a restarted nginx) with `SO_REUSEPORT`
//! but never listens on it; nginx binds the same port with `listen ...
//! reuseport`, one socket per worker, and the kernel spreads connections
//! over the workers. Why not the two alternatives, both measured here:
//! - one socket shared by the workers (nginx's default, handed down through
//!   its `NGINX` inherited-sockets variable): nginx then waits on it with
//!   `EPOLLEXCLUSIVE`, and with two workers on this machine's kernel that
//!   *lost readiness events of upstream sockets*: about one run in five of
//!   the contract's 8-writer test had a response sitting unread in a socket
//!   (`ss`: Recv-Q 360) while its worker slept 31 s in `epoll_wait`;
//! - the same with `accept_mutex on` (no `EPOLLEXCLUSIVE`, 0 stalls in 34
//!   runs): the mutex holder accepts a whole burst of connections, so a
//!   benchmark's 64 keep-alive connections all landed on one worker and the
//!   second core went unused by nginx.
//!
//! The price: while a crashed nginx restarts (a fraction of a second),
//! connections are refused rather than queued.
//!
//! nginx runs as `nginx -p RUN_DIR -c RUN_DIR/nginx.conf -e stderr -g
//! 'daemon off;'`: in the foreground (the supervisor watches it), every
//! file it writes (pid, lock, temporary files) inside the run directory, no
//! root needed.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use crate::process::ChildSpec;
use crate::{ClusterError, tools};

/// What to run when nginx is missing.
pub const INSTALL: &str = "sudo apt-get install -y nginx";

/// How long nginx may take to finish in-flight requests after SIGQUIT
/// (graceful stop) before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// nginx worker processes in stages 3 and 4: one per core, nginx's own
/// rule. The cores are shared with the app instances and the load generator,
/// but a worker only uses CPU when there is work: measured on the 2-core
/// machine, a second worker gave stage-4's cached pages +45% (nginx does
/// nearly all the work there) and stage-3 +10%.
pub const DEFAULT_WORKERS: usize = 2;

/// The nginx binary (looked up in `PATH`, then the usual `sbin` directories).
pub const PROGRAM: &str = "nginx";

/// nginx, ready to start: its binary and the port it will serve on.
#[derive(Debug)]
pub struct Nginx {
    pub program: PathBuf,
    /// The address clients use (the real port, also when 0 was asked).
    pub addr: SocketAddr,
    /// Worker processes (`worker_processes`).
    pub workers: usize,
    /// Bound, never listening: keeps the port ours (see the module docs).
    _reservation: Socket,
}

impl Nginx {
    /// Finds the binary (or explains how to install it) and reserves
    /// `listen` (port 0 picks a free port).
    pub fn new(program: &Path, listen: SocketAddr, workers: usize) -> Result<Self, ClusterError> {
        let program = tools::find_program("nginx", program, INSTALL)?;
        let want = listen;
        let bind_err = |err| ClusterError::Bind {
            addr: listen.to_string(),
            err,
        };
        let socket =
            Socket::new(Domain::for_address(want), Type::STREAM, None).map_err(bind_err)?;
        // SO_REUSEPORT alone: nginx's own reuseport sockets may join it, a
        // server without SO_REUSEPORT (SO_REUSEADDR or not) may not.
        socket.set_reuse_port(true).map_err(bind_err)?;
        socket.bind(&want.into()).map_err(bind_err)?;
        let addr = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .ok_or_else(|| bind_err(std::io::Error::other("no local address")))?;
        Ok(Nginx {
            program,
            addr,
            workers: workers.max(1),
            _reservation: socket,
        })
    }

    /// What the stage's `listen` directive must say: the reserved address,
    /// one socket per worker.
    pub fn listen_params(&self) -> String {
        format!("{} reuseport", self.addr)
    }

    /// The child to supervise, with the configuration written at `conf`
    /// (inside `run_dir`).
    pub fn spec(&self, run_dir: &Path, conf: &Path) -> ChildSpec {
        let mut prefix = run_dir.display().to_string();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        ChildSpec::new("nginx", &self.program)
            .arg("-p")
            .arg(prefix)
            .arg("-c")
            .arg(conf)
            .arg("-e")
            .arg("stderr")
            .arg("-g")
            .arg("daemon off;")
            // SIGTERM, not SIGKILL: the master then stops its workers,
            // which have no parent-death signal of their own.
            .death_signal(libc::SIGTERM)
            // SIGQUIT is nginx's graceful stop: finish requests, then exit.
            .stop_with(libc::SIGQUIT, STOP_GRACE)
    }
}

/// What the shared part of every stage's `nginx.conf` says
/// (`templates/nginx-base.conf`). A stage's template struct holds one as
/// `base`.
#[derive(Debug, Clone)]
pub struct Base {
    /// `stage-3`, `stage-4`: named in the header comment.
    pub stage: String,
    /// The stage's template, named in the header comment.
    pub source: String,
    pub workers: usize,
    /// The run directory: pid, lock and temporary files.
    pub run_dir: String,
    /// What `listen` says: the reserved address, one socket per worker.
    pub listen: String,
    /// The app's own body limit, for the comment (the app answers 413).
    pub app_body_kib: usize,
    /// nginx's limit: four times the app's, so the app's page answers.
    pub nginx_body_kib: usize,
    /// Client head and body timeouts, the same as the app servers'.
    pub client_timeout_s: u64,
    /// Upstream keep-alive idle time: half the app servers' idle limit, so
    /// nginx never reuses a connection an instance is closing (a POST on it
    /// would fail).
    pub upstream_idle_s: u64,
}

/// The app servers' limits the configuration must agree with.
#[derive(Debug, Clone, Copy)]
pub struct AppLimits {
    /// Largest request body the app accepts (`app::MAX_BODY_BYTES`).
    pub body_bytes: usize,
    /// How long the app waits for a request head or body, and keeps an
    /// idle connection (`web::HEADER_READ_TIMEOUT`).
    pub client_timeout: Duration,
}

impl Base {
    /// The base of `stage`'s configuration, rendered from `source`, for
    /// this nginx in `run_dir`, agreeing with the app's `limits`.
    pub fn new(
        stage: &str,
        source: &str,
        nginx: &Nginx,
        run_dir: &Path,
        limits: AppLimits,
    ) -> Base {
        let kib = limits.body_bytes.div_ceil(1024);
        let timeout = limits.client_timeout.as_secs().max(1);
        Base {
            stage: stage.to_owned(),
            source: source.to_owned(),
            workers: nginx.workers,
            run_dir: run_dir.display().to_string(),
            listen: nginx.listen_params(),
            app_body_kib: kib,
            nginx_body_kib: kib * 4,
            client_timeout_s: timeout,
            upstream_idle_s: (timeout / 2).max(1),
        }
    }
}

/// askama's escaper for `.conf` templates (configured in each stage's
/// `askama.toml`). Values are written inside double quotes in the
/// templates wherever they could hold more than an address or a number
/// (paths); inside nginx's double quotes `\"` and `\\` stand for
/// themselves and a line break is `\n`, so a value cannot close its quotes
/// or start a new directive.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfEscaper;

impl askama::filters::Escaper for ConfEscaper {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '"' => dest.write_str("\\\"")?,
                '\\' => dest.write_str("\\\\")?,
                '\n' => dest.write_str("\\n")?,
                '\r' => dest.write_str("\\r")?,
                c => dest.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Renders a stage's configuration template (an askama `Template` whose
/// struct holds a [`Base`] as `base`).
pub fn render(t: &impl askama::Template) -> Result<String, ClusterError> {
    t.render().map_err(|e| ClusterError::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use askama::filters::Escaper;

    #[test]
    fn the_port_is_reserved_for_nginx() {
        // `sh` is not nginx, but finding and binding are what is tested here.
        let n = Nginx::new(Path::new("sh"), "127.0.0.1:0".parse().unwrap(), 1).unwrap();
        assert!(n.listen_params().ends_with(" reuseport") && n.addr.port() != 0);
        // The port is reserved: std's bind (SO_REUSEADDR) fails, nginx's
        // (SO_REUSEADDR and SO_REUSEPORT) works.
        assert!(std::net::TcpListener::bind(n.addr).is_err());
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_reuse_address(true).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(&n.addr.into()).unwrap();
        s.listen(8).unwrap();
        let limits = AppLimits {
            body_bytes: 16 * 1024,
            client_timeout: Duration::from_secs(10),
        };
        let b = Base::new("stage-3", "t.conf", &n, Path::new("/run/x"), limits);
        assert_eq!(
            (b.app_body_kib, b.nginx_body_kib, b.upstream_idle_s),
            (16, 64, 5)
        );
    }

    #[test]
    fn values_cannot_leave_their_quotes() {
        let mut out = String::new();
        ConfEscaper
            .write_escaped_str(&mut out, "/tmp/a b;\"c\\\nuser root;")
            .unwrap();
        assert_eq!(out, "/tmp/a b;\\\"c\\\\\\nuser root;");
        assert!(!out.contains('\n'));
    }
}
