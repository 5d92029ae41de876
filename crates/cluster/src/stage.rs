//! The steps stages 3 and 4 share: app-server instances started with a
//! socket handed down (or found already running elsewhere), nginx started in
//! front of them, and the stage's life from start-up to SIGINT.

use std::ffi::OsString;
use std::future::Future;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::nginx::Nginx;
use crate::process::ChildSpec;
use crate::supervisor::{ChildHandle, Supervisor};
use crate::{ClusterError, RunDir, Signals, ports, probe};

/// How long a child may take to become ready: debug builds, a cold disk
/// and a loaded CI machine included.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one readiness probe may wait for its answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Environment variables of the `instance` subcommand that must not leak
/// from the stage's environment into the instances it starts.
const INSTANCE_ENV: &[&str] = &["FK_INSTANCE_LISTEN", "FK_LISTEN_FD", "FK_INSTANCE_TAG"];

/// One app-server instance behind nginx.
#[derive(Debug)]
pub struct Instance {
    /// Its tag (`i0`): the prefix of the session ids it issues and the
    /// last word of its `X-Served-By`. `None` for an untagged remote one.
    pub tag: Option<String>,
    /// `host:port` as nginx's `upstream` block names it.
    pub addr: String,
    /// The child, when this stage started it.
    pub handle: Option<ChildHandle>,
}

/// Listening sockets the supervisor holds for its children for as long as
/// the stage runs (dropping them would close the ports).
#[derive(Debug, Default)]
pub struct HeldSockets(Vec<TcpListener>);

/// Starts `count` instances of this very binary (`<exe> instance
/// --listen-fd N --tag iK <args>`), each on a loopback socket the supervisor
/// binds and keeps, and waits until each answers `GET /healthz`.
pub async fn start_local_instances(
    sup: &mut Supervisor,
    held: &mut HeldSockets,
    count: usize,
    args: &[OsString],
) -> Result<Vec<Instance>, ClusterError> {
    let exe = std::env::current_exe().map_err(|err| ClusterError::Spawn {
        name: "instance".into(),
        program: "this binary".into(),
        err,
    })?;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let listener = ports::listen("127.0.0.1:0")?;
        let addr = listener
            .local_addr()
            .map_err(|err| ClusterError::Bind {
                addr: "127.0.0.1:0".into(),
                err,
            })?
            .to_string();
        let fd = listener.as_raw_fd();
        let tag = format!("i{i}");
        let mut spec = ChildSpec::new(&tag, &exe)
            .arg("instance")
            .arg("--listen-fd")
            .arg(fd.to_string())
            .arg("--tag")
            .arg(&tag)
            .args(args.iter().cloned())
            .keep_fd(fd);
        for k in INSTANCE_ENV {
            spec = spec.env_remove(k);
        }
        let handle = sup.start(spec)?;
        held.0.push(listener);
        out.push(Instance {
            tag: Some(tag),
            addr,
            handle: Some(handle),
        });
    }
    for inst in &out {
        if let Some(h) = &inst.handle {
            let addr = inst.addr.clone();
            sup.wait_ready(h, START_TIMEOUT, || {
                probe::http_ok(&addr, "/healthz", PROBE_TIMEOUT)
            })
            .await?;
            tracing::info!(instance = %h.name(), pid = h.pid().unwrap_or(0), addr = %inst.addr, "ready");
        }
    }
    Ok(out)
}

/// Instances started elsewhere (`stage-N instance --listen ADDR --tag iK`):
/// waits until each answers `GET /healthz` and reads its tag from the last
/// word of its `X-Served-By` (`stage-3 pid=123 i0`).
pub async fn remote_instances(addrs: &[String]) -> Result<Vec<Instance>, ClusterError> {
    let mut out = Vec::with_capacity(addrs.len());
    for addr in addrs {
        ports::resolve(addr)?;
        let deadline = Instant::now() + START_TIMEOUT;
        let reply = loop {
            match probe::http_get(addr, "/healthz", PROBE_TIMEOUT).await {
                Ok(r) if r.status == 200 => break r,
                Ok(r) if Instant::now() >= deadline => {
                    return Err(ClusterError::Upstream {
                        addr: addr.clone(),
                        reason: format!("GET /healthz answered {}", r.status),
                    });
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(ClusterError::Upstream {
                        addr: addr.clone(),
                        reason: e,
                    });
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let tag = reply
            .header("x-served-by")
            .and_then(|s| s.split_whitespace().nth(2))
            .filter(|t| valid_tag(t))
            .map(str::to_owned);
        if let Some(t) = &tag
            && out
                .iter()
                .any(|i: &Instance| i.tag.as_deref() == Some(t.as_str()))
        {
            return Err(ClusterError::Upstream {
                addr: addr.clone(),
                reason: format!(
                    "tag {t} is used by another upstream; give each instance its own --tag"
                ),
            });
        }
        tracing::info!(%addr, tag = tag.as_deref().unwrap_or("-"), "upstream ready");
        out.push(Instance {
            tag,
            addr: addr.clone(),
            handle: None,
        });
    }
    Ok(out)
}

/// Instance tags: short lower-case words (they become part of session ids,
/// nginx upstream names and regular expressions, so nothing else).
pub fn valid_tag(t: &str) -> bool {
    (1..=16).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Writes `nginx.conf` into the run directory, starts nginx and waits until
/// `GET /healthz` through it succeeds (nginx up, and an instance behind it).
pub async fn start_nginx(
    sup: &mut Supervisor,
    nginx: &Nginx,
    run_dir: &RunDir,
    stage: &str,
    http_body: &str,
) -> Result<ChildHandle, ClusterError> {
    let conf = run_dir.write(
        "nginx.conf",
        &nginx.config(stage, run_dir.path(), http_body),
    )?;
    let handle = sup.start(nginx.spec(run_dir.path(), &conf))?;
    let addr = nginx.addr.to_string();
    sup.wait_ready(&handle, START_TIMEOUT, || {
        probe::http_ok(&addr, "/healthz", PROBE_TIMEOUT)
    })
    .await?;
    tracing::info!(pid = handle.pid().unwrap_or(0), conf = %conf.display(), "nginx ready");
    Ok(handle)
}

/// A stage's life after its children are set up: waits for `start` (which
/// starts children into the caller's supervisor) unless SIGINT/SIGTERM comes
/// first; once started, calls `ready` (which prints the `listening on`
/// line) and waits for SIGINT/SIGTERM. A signal during start-up is an
/// orderly stop too (`Ok`). The caller then runs `Supervisor::shutdown`.
pub async fn run_until_signal<T>(
    signals: &mut Signals,
    start: impl Future<Output = Result<T, ClusterError>>,
    ready: impl FnOnce(&T),
) -> Result<(), ClusterError> {
    let started = tokio::select! {
        r = start => r,
        s = signals.recv() => {
            tracing::info!("{s} during start-up: stopping");
            return Ok(());
        }
    };
    let state = started?;
    ready(&state);
    let s = signals.recv().await;
    tracing::info!("{s}: stopping");
    Ok(())
}

/// What every app-server instance of a balanced stage (stage-3, stage-4)
/// takes on its command line: where to listen, its tag, the server options.
/// Each stage flattens this into its `instance` subcommand and adds its own.
#[derive(clap::Args, Debug, Clone)]
pub struct InstanceArgs {
    /// Address to listen on (for instances started by hand).
    #[arg(
        long,
        env = "FK_INSTANCE_LISTEN",
        required_unless_present = "listen_fd",
        conflicts_with = "listen_fd"
    )]
    pub listen: Option<String>,
    /// Serve on this inherited listening socket (how the supervisor starts
    /// instances).
    #[arg(long, env = "FK_LISTEN_FD")]
    pub listen_fd: Option<i32>,
    /// This instance's tag: ends its `X-Served-By`; in stage-3 it also
    /// prefixes its session ids, so nginx routes them back here.
    #[arg(long, env = "FK_INSTANCE_TAG", default_value = "i0", value_parser = parse_tag)]
    pub tag: String,
    #[command(flatten)]
    pub serve: appserver::ServeArgs,
}

/// `--tag`'s parser: see [`valid_tag`].
fn parse_tag(s: &str) -> Result<String, String> {
    if valid_tag(s) {
        Ok(s.to_owned())
    } else {
        Err("a tag is 1 to 16 lower-case letters and digits, such as i0".into())
    }
}

/// Runs one instance: the app server with `backends`, named `stage` and
/// tagged, on its address or inherited socket, until SIGINT/SIGTERM.
pub fn run_instance(
    a: InstanceArgs,
    stage: &str,
    backends: appserver::Backends,
) -> Result<(), ClusterError> {
    let server = appserver::Server::new(&a.serve, stage, backends)?.tagged(&a.tag);
    let listen = match (a.listen_fd, a.listen) {
        (Some(fd), _) => appserver::Listen::Bound(crate::inherit::listener_from_fd(fd)?),
        (None, Some(addr)) => appserver::Listen::Addr(addr),
        (None, None) => return Err(ClusterError::Usage("give --listen ADDR or --listen-fd FD")),
    };
    appserver::run_until_signal_on(listen, server, a.serve.threads)?;
    Ok(())
}
