//! One app-server instance of a balanced stage (stage-3, stage-4): the app
//! server on a socket its supervisor handed down (`--listen-fd`), or on an
//! address of its own for instances started by hand (`--listen`), tagged so
//! responses (and, in stage-3, session ids) say which instance it is.

use crate::{Backends, Listen, ServeArgs, Server, ServerError};

/// What every instance takes on its command line: where to listen, its tag,
/// the server options. Each balanced stage flattens this into its
/// `instance` subcommand and adds its own (stage-4: where memcached is).
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
    pub serve: ServeArgs,
}

/// Environment variables of [`InstanceArgs`]: a supervisor removes them
/// from what its instances inherit, so its own never leak into theirs.
pub const INSTANCE_ENV: &[&str] = &["FK_INSTANCE_LISTEN", "FK_LISTEN_FD", "FK_INSTANCE_TAG"];

/// The shared part of a balanced stage's `nginx.conf` (`stage`'s, rendered
/// from `template`, for `nginx` in `run_dir`), agreeing with what the
/// instances behind it enforce: their body limit and client timeouts
/// (`app::MAX_BODY_BYTES`, `web::HEADER_READ_TIMEOUT`).
pub fn nginx_base(
    stage: &str,
    template: &str,
    nginx: &cluster::nginx::Nginx,
    run_dir: &std::path::Path,
) -> cluster::nginx::Base {
    let limits = cluster::nginx::AppLimits {
        body_bytes: app::MAX_BODY_BYTES,
        client_timeout: web::HEADER_READ_TIMEOUT,
    };
    cluster::nginx::Base::new(stage, template, nginx, run_dir, limits)
}

/// `--tag`'s parser: see [`app::sessions::valid_tag`].
fn parse_tag(s: &str) -> Result<String, String> {
    if app::sessions::valid_tag(s) {
        Ok(s.to_owned())
    } else {
        Err("a tag is 1 to 16 lower-case letters and digits, such as i0".into())
    }
}

/// Runs one instance: the app server with `backends`, named `stage` and
/// tagged, on its inherited socket or address, until SIGINT/SIGTERM.
///
/// `backends` is built by the caller once the socket is taken: see
/// [`crate::inherit`] for why the socket comes first.
pub fn run_instance(
    a: InstanceArgs,
    stage: &str,
    backends: impl FnOnce(&InstanceArgs) -> Result<Backends, ServerError>,
) -> Result<(), ServerError> {
    // First, before any file of ours is opened: the inherited socket.
    let listen = match (a.listen_fd, &a.listen) {
        (Some(fd), _) => Listen::Bound(crate::inherit::listener_from_fd(fd)?),
        (None, Some(addr)) => Listen::Addr(addr.clone()),
        (None, None) => return Err(ServerError::Usage("give --listen ADDR or --listen-fd FD")),
    };
    let backends = backends(&a)?;
    let server = Server::new(&a.serve, stage, backends)?.tagged(&a.tag);
    crate::run_until_signal_on(listen, server, a.serve.threads)
}
