//! # stage-4 — the cache side of the talk's fourth iteration
//!
//! The binary (`src/main.rs`) composes the stage; this library is what the
//! app instances use to talk to memcached, kept here because stage-4 is its
//! only user:
//! - [`keys`]: the one place that knows nginx's key rule (`$uri?$args`);
//! - [`ring`]: nginx's `hash $memcached_key consistent`, replicated, so the
//!   app writes each key on the server where nginx reads it;
//! - [`memcached`]: the client, the writer thread, and the page, photo
//!   and session stores the app's seams take (a module each);
//! - [`nginx`]: the stage's `nginx.conf` (`templates/nginx.conf`);
//! - [`sizes`]: how much memory the cache needs for a data set;
//! - [`CacheArgs`]: the cache lifetimes the supervisor passes to every
//!   instance.

pub mod keys;
pub mod memcached;
pub mod nginx;
pub mod ring;
pub mod sizes;

pub use ring::Ring;

/// Cache lifetimes, passed to every instance.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct CacheArgs {
    /// Seconds a page (and its data) stays cached. Comments replace their
    /// photo's page at once; this bounds staleness of anything else.
    #[arg(long, env = "FK_PAGE_TTL", default_value_t = memcached::PAGE_TTL_SECS)]
    pub page_ttl: u32,
    /// Seconds photo bytes stay cached (photo files never change).
    #[arg(long, env = "FK_PHOTO_TTL", default_value_t = memcached::PHOTO_TTL_SECS)]
    pub photo_ttl: u32,
}

impl CacheArgs {
    /// These options as an instance's command line. Every option must be
    /// here: `tests/settings.rs` parses the result back.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        vec![
            "--page-ttl".into(),
            self.page_ttl.to_string().into(),
            "--photo-ttl".into(),
            self.photo_ttl.to_string().into(),
        ]
    }
}
