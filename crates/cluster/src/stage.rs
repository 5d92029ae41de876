//! What stages 3 and 4 share: the supervisor's command line, app-server
//! instances started on sockets the supervisor holds (or found already
//! running elsewhere), nginx started in front of them, and the stage's life
//! from start-up to SIGINT.
//!
//! A balanced stage's `main` is then its composition only: which app
//! program the instances run, with which options, and its `nginx.conf`.

use std::ffi::OsString;
use std::future::Future;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
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

/// App-server instances a balanced stage starts: one per core of the
/// talk's dual-core machine, its "run multiple instances" to get past the
/// GIL. With `--cpus LIST`, one per CPU of the list instead.
pub const DEFAULT_INSTANCES: usize = 2;

/// The supervisor's options, the same in stage-3 and stage-4 (each stage
/// flattens these into its command line and adds its own).
#[derive(clap::Args, Debug, Clone)]
pub struct SupervisorArgs {
    /// Address nginx listens on (port 0 picks a free port; the real address
    /// is printed as `listening on http://ADDR`).
    #[arg(long, env = "FK_LISTEN")]
    pub listen: String,
    /// App-server instances to start (one per core is the talk's advice;
    /// default: one per CPU of --cpus, else 2, the talk's dual core).
    #[arg(long, env = "FK_INSTANCES")]
    pub instances: Option<usize>,
    /// Balance these already-running instances (`host:port,…`) instead of
    /// starting any; each must have been started with its own --tag.
    #[arg(long, env = "FK_UPSTREAM", value_delimiter = ',')]
    pub upstream: Vec<String>,
    /// The nginx binary.
    #[arg(long, env = "FK_NGINX", default_value = crate::nginx::PROGRAM)]
    pub nginx: PathBuf,
    /// nginx worker processes (default: one per CPU of --cpus, else 2).
    #[arg(long, env = "FK_NGINX_WORKERS")]
    pub nginx_workers: Option<usize>,
    /// Run only on these CPUs (`0,1`, `2-3`): the supervisor and everything
    /// it starts (nginx's master and workers, memcached, every instance,
    /// CPython's included) inherit the mask (`cpus` crate). Default: all.
    #[arg(long, env = "FK_CPUS")]
    pub cpus: Option<cpus::CpuList>,
    /// Directory for nginx.conf, nginx's pid and temporary files (default:
    /// a fresh temporary directory, removed at exit).
    #[arg(long, env = "FK_RUN_DIR")]
    pub run_dir: Option<PathBuf>,
}

impl SupervisorArgs {
    /// Instances to start: --instances, else one per CPU of --cpus, else
    /// [`DEFAULT_INSTANCES`].
    pub fn instance_count(&self) -> usize {
        self.instances
            .unwrap_or_else(|| self.cpus.as_ref().map_or(DEFAULT_INSTANCES, |c| c.len()))
    }

    /// nginx's `worker_processes`: --nginx-workers, else one per CPU of
    /// --cpus, else [`crate::nginx::DEFAULT_WORKERS`].
    pub fn worker_count(&self) -> usize {
        self.nginx_workers.unwrap_or_else(|| {
            self.cpus
                .as_ref()
                .map_or(crate::nginx::DEFAULT_WORKERS, |c| c.len())
        })
    }
}

/// Parses a balanced stage's command line, with `listen` as the default
/// of the supervisor's `--listen` (each stage has its own port).
pub fn parse_args<T: clap::Parser>(listen: &'static str) -> T {
    let matches = T::command()
        .mut_arg("listen", |a| a.default_value(listen).required(false))
        .get_matches();
    T::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// The end of a stage's `main`: exit 0, or print the error's whole chain
/// on one line (what failed and what to do) as `NAME: …` and exit 1.
pub fn exit_with(name: &str, result: Result<(), impl std::fmt::Display>) {
    if let Err(e) = result {
        eprintln!("{name}: {e:#}");
        std::process::exit(1);
    }
}

/// What a stage's start-up works with: the supervisor its children join,
/// the sockets it holds for them, nginx's reserved port, the run directory.
#[derive(Debug)]
pub struct Stage {
    pub name: &'static str,
    pub sup: Supervisor,
    pub held: HeldSockets,
    pub nginx: Nginx,
    pub run_dir: RunDir,
}

/// A balanced stage's whole life: checks the options, installs the signal
/// handlers, reserves nginx's port, makes the run directory, runs `start`
/// (which starts the children into [`Stage::sup`]) unless SIGINT/SIGTERM
/// comes first, calls `announce` with nginx's address once it has (every
/// stage passes `web::announce`: the one `listening on http://ADDR` line),
/// waits for SIGINT/SIGTERM, and stops every child.
///
/// The supervisor forks every child from this (the main) thread: see
/// [`crate::process`] for why.
pub fn supervise(
    name: &'static str,
    a: &SupervisorArgs,
    announce: fn(SocketAddr),
    start: impl AsyncFnOnce(&mut Stage) -> Result<(), ClusterError>,
) -> Result<(), ClusterError> {
    if a.instance_count() == 0 && a.upstream.is_empty() {
        return Err(ClusterError::Usage(
            "--instances must be at least 1 (or list running instances with --upstream)",
        ));
    }
    // Before any thread or child exists: all of them inherit the mask.
    cpus::pin_if(a.cpus.as_ref()).map_err(ClusterError::Cpus)?;
    // Names are resolved here, before the runtime: a lookup blocks.
    let listen = ports::resolve(&a.listen)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ClusterError::Signals)?;
    rt.block_on(async {
        let mut signals = Signals::install()?;
        let mut stage = Stage {
            name,
            sup: Supervisor::new(),
            held: HeldSockets::default(),
            nginx: Nginx::new(&a.nginx, listen, a.worker_count())?,
            run_dir: RunDir::new(a.run_dir.as_deref(), &format!("flickrkillr-{name}-"))?,
        };
        let addr = stage.nginx.addr;
        let result = run_until_signal(&mut signals, start(&mut stage), || announce(addr)).await;
        stage.sup.shutdown().await;
        result
    })
}

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

/// How an instance is started: `program args… --listen-fd N --tag iK
/// options…` (for the Rust app, `args` is `instance`, this binary's
/// subcommand; for the CPython peer, its script).
#[derive(Debug, Clone)]
pub struct InstanceCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub options: Vec<OsString>,
    /// Variables of the supervisor's environment the instance must not
    /// inherit (its own `--listen-fd` and `--tag` would be overridden).
    pub env_remove: Vec<&'static str>,
}

impl InstanceCommand {
    /// This very binary's `instance` subcommand with `options`.
    pub fn this_binary(
        options: Vec<OsString>,
        env_remove: &[&'static str],
    ) -> Result<Self, ClusterError> {
        let program = std::env::current_exe().map_err(|err| ClusterError::Spawn {
            name: "instance".into(),
            program: "this binary".into(),
            err,
        })?;
        Ok(InstanceCommand {
            program,
            args: vec!["instance".into()],
            options,
            env_remove: env_remove.to_vec(),
        })
    }

    /// The instances' program: this binary's `instance` subcommand, or the
    /// CPython peer's app server when the stage was given the peer
    /// (`--app python`: see [`InstanceCommand::python`] for `design`,
    /// `sessions` and `gil`).
    pub fn for_app(
        python: Option<&peer::Peer>,
        design: &str,
        sessions: &str,
        options: Vec<OsString>,
        gil: bool,
        env_remove: &[&'static str],
    ) -> Result<Self, ClusterError> {
        match python {
            None => Self::this_binary(options, env_remove),
            Some(p) => Self::python(p, design, sessions, options, gil, env_remove),
        }
    }

    /// The CPython peer's app server (`fk_serve.py`, CherryPy) as
    /// `design` (`python-3`: the first word of its `X-Served-By`), keeping
    /// sessions in `sessions` (`memory`, `memcached`), with the app
    /// server's `options` (the peer takes the same names: `--db`,
    /// `--photos`, `--threads`, `--session-ttl`, …; `stage-4`'s
    /// `tests/settings.rs` runs the peer's parser on them). `gil`: whether the
    /// emulated GIL was asked for, which the peer refuses: it has the real one.
    pub fn python(
        peer: &peer::Peer,
        design: &str,
        sessions: &str,
        options: Vec<OsString>,
        gil: bool,
        env_remove: &[&'static str],
    ) -> Result<Self, ClusterError> {
        if gil {
            return Err(ClusterError::Usage(
                "--gil emulates CPython's lock in the Rust app; the CPython peer (--app python) has the real one",
            ));
        }
        let (program, args) = peer.server();
        let mut options = options;
        options.extend([
            "--sessions".into(),
            sessions.into(),
            "--served-by".into(),
            design.into(),
        ]);
        Ok(InstanceCommand {
            program,
            args,
            options,
            env_remove: env_remove.to_vec(),
        })
    }
}

/// Starts `count` instances with `cmd`, each on a loopback socket the
/// supervisor binds and keeps, and waits until each answers `GET /healthz`.
pub async fn start_local_instances(
    stage: &mut Stage,
    count: usize,
    cmd: &InstanceCommand,
) -> Result<Vec<Instance>, ClusterError> {
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
        let mut spec = ChildSpec::new(&tag, &cmd.program)
            .args(cmd.args.iter().cloned())
            .arg("--listen-fd")
            .arg(fd.to_string())
            .arg("--tag")
            .arg(&tag)
            .args(cmd.options.iter().cloned())
            .keep_fd(fd);
        for k in &cmd.env_remove {
            spec = spec.env_remove(k);
        }
        let handle = stage.sup.start(spec)?;
        stage.held.0.push(listener);
        out.push(Instance {
            tag: Some(tag),
            addr,
            handle: Some(handle),
        });
    }
    for inst in &out {
        if let Some(h) = &inst.handle {
            let addr = inst.addr.clone();
            stage
                .sup
                .wait_ready(h, START_TIMEOUT, || {
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
/// word of its `X-Served-By` (`stage-3 pid=123 i0`), kept only if
/// `valid_tag` (the app's rule for tags, which the stage passes in:
/// `app::sessions::valid_tag`) accepts it.
pub async fn remote_instances(
    addrs: &[String],
    valid_tag: fn(&str) -> bool,
) -> Result<Vec<Instance>, ClusterError> {
    let mut out = Vec::with_capacity(addrs.len());
    for addr in addrs {
        // A name lookup blocks: off the supervisor's only thread.
        let a = addr.clone();
        tokio::task::spawn_blocking(move || a.to_socket_addrs().ok().and_then(|mut i| i.next()))
            .await
            .ok()
            .flatten()
            .ok_or_else(|| ClusterError::Address(addr.clone()))?;
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

/// The instances of `a`: started here (`a.instances` of `cmd`), or the
/// `--upstream` ones (their tags checked with `valid_tag`, see
/// [`remote_instances`]); warns about untagged upstreams.
pub async fn instances(
    stage: &mut Stage,
    a: &SupervisorArgs,
    cmd: &InstanceCommand,
    valid_tag: fn(&str) -> bool,
) -> Result<Vec<Instance>, ClusterError> {
    let instances = if a.upstream.is_empty() {
        start_local_instances(stage, a.instance_count(), cmd).await?
    } else {
        remote_instances(&a.upstream, valid_tag).await?
    };
    for i in instances.iter().filter(|i| i.tag.is_none()) {
        tracing::warn!(
            upstream = %i.addr,
            "no instance tag in its X-Served-By: it gets anonymous traffic, and its sessions cannot be routed back to it"
        );
    }
    Ok(instances)
}

/// Writes `conf` as `nginx.conf` into the run directory, says where
/// (`nginx config: DIR/nginx.conf`, on stderr, so a participant can open
/// the file nginx runs), starts nginx and waits until `GET /healthz`
/// through it succeeds (nginx up, and an instance behind it).
pub async fn start_nginx(stage: &mut Stage, conf: &str) -> Result<ChildHandle, ClusterError> {
    let path = stage.run_dir.write("nginx.conf", conf)?;
    eprintln!("nginx config: {}", path.display());
    let handle = stage
        .sup
        .start(stage.nginx.spec(stage.run_dir.path(), &path))?;
    let addr = stage.nginx.addr.to_string();
    stage
        .sup
        .wait_ready(&handle, START_TIMEOUT, || {
            probe::http_ok(&addr, "/healthz", PROBE_TIMEOUT)
        })
        .await?;
    tracing::info!(pid = handle.pid().unwrap_or(0), conf = %path.display(), "nginx ready");
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
    ready: impl FnOnce(),
) -> Result<(), ClusterError> {
    let started = tokio::select! {
        r = start => r,
        s = signals.recv() => {
            tracing::info!("{s} during start-up: stopping");
            return Ok(());
        }
    };
    started?;
    ready();
    let s = signals.recv().await;
    tracing::info!("{s}: stopping");
    Ok(())
}
