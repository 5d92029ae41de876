//! # stage-1-cgi — the FlickrKillr CGI program (RFC 3875)
//!
//! One request per process: read the request from the environment and
//! stdin, open the database, handle, print the response, exit. Run by
//! `stage-1` (the built-in host) or by any CGI server; configure it with
//! environment variables (a CGI server passes them through, e.g. lighttpd's
//! `setenv.add-environment`):
//! - `FK_DB`: the seeded database (use an absolute path under a CGI server).
//! - `FK_PHOTOS`: the photo directory (default: `photos/` beside FK_DB).
//! - `FK_SESSION_TTL`: session lifetime in seconds.
//!
//! Everything is initialised here, per request, on purpose: that is the
//! talk's first-iteration lesson, and the `init` and `db-open` phases of
//! `Server-Timing` show its price.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use app::{AppError, Config, DiskPhotos, Gil, NoCache, SqliteSessions, Timing};
use stage_1::program::{CgiEnv, EnvError, write_response};

fn main() -> ExitCode {
    let served_by = format!("stage-1 pid={}", std::process::id());
    let mut pre = Timing::new();
    let mut out = Vec::new();

    // "All resources initialized for each request": configuration first.
    let parsed = pre.time("init", || {
        let env = CgiEnv::from_vars(|k| std::env::var_os(k))?;
        let db = std::env::var_os("FK_DB")
            .map(PathBuf::from)
            .unwrap_or_else(|| model::schema::DEFAULT_DB.into());
        let photos = std::env::var_os("FK_PHOTOS")
            .map(PathBuf::from)
            .unwrap_or_else(|| model::schema::default_photos_dir(&db));
        let mut config = Config::new(photos);
        if let Some(ttl) = std::env::var("FK_SESSION_TTL")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            config.session_ttl = ttl;
        }
        Ok::<_, EnvError>((env, db, config))
    });
    let resp = match parsed {
        Err(EnvError::NotCgi) => {
            eprintln!("stage-1-cgi: {}", EnvError::NotCgi);
            return ExitCode::from(2);
        }
        Err(_) => app::error_response(&AppError::BadRequest("Malformed CGI request.")),
        Ok((env, db, config)) => serve(&env, &db, &config, &mut pre),
    };
    let mut resp = resp;
    resp.timing.prepend(pre);
    write_response(&resp, &served_by, &mut out);
    let mut stdout = std::io::stdout().lock();
    if stdout.write_all(&out).and_then(|_| stdout.flush()).is_err() {
        return ExitCode::FAILURE; // the server went away; nothing to tell it
    }
    ExitCode::SUCCESS
}

fn serve(env: &CgiEnv, db: &std::path::Path, config: &Config, pre: &mut Timing) -> app::Response {
    // The body: refuse an oversized one without reading it.
    let len = env.content_length.unwrap_or(0);
    if len > app::MAX_BODY_BYTES {
        return app::error_response(&AppError::TooLarge);
    }
    let mut body = vec![0u8; len];
    if std::io::stdin().lock().read_exact(&mut body).is_err() {
        return app::error_response(&AppError::BadRequest(
            "The request body is shorter than its Content-Length.",
        ));
    }
    // "... inc. db connection": a fresh connection, and with it every
    // prepared statement, for this one request.
    let conn = match pre.time("db-open", || model::open(db)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stage-1-cgi: {e}");
            return app::error_response(&AppError::Internal(e.to_string()));
        }
    };
    let sessions = SqliteSessions { conn: &conn };
    let photos = DiskPhotos {
        dir: config.photos_dir.clone(),
    };
    // One request per process: there is no other thread to lock out.
    let gil = Gil::off();
    let svc = app::Services {
        db: &conn,
        sessions: &sessions,
        cache: &NoCache,
        photos: &photos,
        gil: &gil,
        config,
    };
    app::handle(&svc, &env.request(&body))
}
