//! Running a real nginx in front of the app instances: the binary, its port,
//! and the part of `nginx.conf` every stage shares. Each stage writes its own
//! `http` content (upstreams, routing, caching): that is its lesson, so it
//! lives in the stage.
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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use crate::process::ChildSpec;
use crate::{ClusterError, ports, tools};

/// What to run when nginx is missing.
pub const INSTALL: &str = "sudo apt-get install -y nginx";

/// How long nginx may take to finish in-flight requests after SIGQUIT
/// (graceful stop) before it is killed.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

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
    pub fn new(program: &Path, listen: &str, workers: usize) -> Result<Self, ClusterError> {
        let program = tools::find_program("nginx", program, INSTALL)?;
        let want = ports::resolve(listen)?;
        let bind_err = |err| ClusterError::Bind {
            addr: listen.to_owned(),
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

    /// The whole `nginx.conf`: the shared settings below around the stage's
    /// `http_body` (upstreams, maps, `server` blocks; its `listen` directive
    /// must say [`Nginx::listen_params`]). `stage` names the stage in the
    /// header comment.
    pub fn config(&self, stage: &str, run_dir: &Path, http_body: &str) -> String {
        let d = run_dir.display();
        let w = self.workers;
        format!(
            r#"# nginx.conf of flickrkillr {stage}, generated at start-up by the stage
# (crates/cluster/src/nginx.rs and crates/{stage}/src); edits here are lost.

# One worker per core (nginx's rule; the stage's --nginx-workers). The cores
# are shared with the app instances, but an idle worker costs nothing.
worker_processes {w};
pid {d}/nginx.pid;
lock_file {d}/nginx.lock;
# Errors only, on the stage's stderr (forwarded with an [nginx] prefix).
error_log stderr warn;

events {{
    # Client plus upstream connections per worker: a 64-connection benchmark
    # uses about 200; the rest is headroom.
    worker_connections 4096;
}}

http {{
    # No access log: a log line per request is a write(2) per request, and
    # the benchmark would measure the disk. Errors still reach stderr.
    access_log off;
    server_tokens off;

    # Every file nginx may write stays in the run directory.
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    types {{
        text/html html;
        image/jpeg jpg;
    }}
    default_type application/octet-stream;

    # Benchmark clients keep one connection for a whole run.
    keepalive_requests 1000000;
    # The app refuses bodies over 16 KiB with its own 413 page; nginx only
    # stops absurd ones, and keeps every accepted body in memory.
    client_max_body_size 64k;
    client_body_buffer_size 64k;
    # A client that trickles its request head, or stalls in its body, is cut
    # off after 10 s, the same as the app servers (web::HEADER_READ_TIMEOUT,
    # web::BODY_READ_TIMEOUT); nginx's default is 60 s.
    client_header_timeout 10s;
    client_body_timeout 10s;

    # Upstream keep-alive: HTTP/1.1 and no "Connection: close" to the app.
    # (Measured on this machine: nginx -> memcached went from 13.6k to 53.5k
    # req/s just by keeping connections open.)
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    # The app's CSRF check compares Origin with Host: pass the client's.
    proxy_set_header Host $http_host;
    # Pages and photos are buffered in memory, never in temporary files.
    proxy_buffer_size 16k;
    proxy_buffers 64 16k;
    proxy_busy_buffers_size 64k;
    proxy_max_temp_file_size 0;
    proxy_connect_timeout 5s;
    # A failed or timed-out request goes to the next instance. nginx never
    # retries a POST that reached an instance (non-idempotent), so a dead
    # instance costs no failed GET and never a duplicated comment.
    proxy_next_upstream error timeout;

{http_body}
}}
"#
        )
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

/// `server` lines of an upstream block for `addrs`, each with `params`.
pub fn server_lines(addrs: &[String], params: &str) -> String {
    addrs
        .iter()
        .map(|a| {
            format!(
                "        server {a}{}{params};\n",
                if params.is_empty() { "" } else { " " }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keeps_every_path_in_the_run_dir() {
        let n = Nginx::new(Path::new("sh"), "127.0.0.1:0", 1);
        // `sh` is not nginx, but finding and binding are what is tested here.
        let n = n.unwrap();
        let c = n.config("stage-3", Path::new("/run/x"), "    # body\n");
        for line in c
            .lines()
            .filter(|l| l.contains("_path") || l.starts_with("pid") || l.starts_with("lock_file"))
        {
            assert!(line.contains("/run/x/"), "{line}");
        }
        assert!(
            c.contains("access_log off;")
                && c.contains("worker_processes 1;")
                && c.contains("# body")
        );
        assert!(n.listen_params().ends_with(" reuseport") && n.addr.port() != 0);
        // The port is reserved: std's bind (SO_REUSEADDR) fails, nginx's
        // (SO_REUSEADDR and SO_REUSEPORT) works.
        assert!(std::net::TcpListener::bind(n.addr).is_err());
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_reuse_address(true).unwrap();
        s.set_reuse_port(true).unwrap();
        s.bind(&n.addr.into()).unwrap();
        s.listen(8).unwrap();
        assert_eq!(
            server_lines(&["a:1".into()], "max_fails=1"),
            "        server a:1 max_fails=1;\n"
        );
    }
}
