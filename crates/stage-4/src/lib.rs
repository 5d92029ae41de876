//! # stage-4 — the cache side of the talk's fourth iteration
//!
//! The binary (`src/main.rs`) composes the stage; this library is what the
//! app instances use to talk to memcached, kept here because stage-4 is its
//! only user:
//! - [`keys`]: the one place that knows nginx's key rule (`$uri?$args`);
//! - [`ring`]: nginx's `hash $memcached_key consistent`, replicated, so the
//!   app writes each key on the server where nginx reads it;
//! - [`memcached`]: the client, and the session, page and photo stores the
//!   app's seams take;
//! - [`nginx`]: the stage's `nginx.conf` (`templates/nginx.conf`);
//! - [`sizes`]: how much memory the cache needs for a data set.

pub mod keys;
pub mod memcached;
pub mod nginx;
pub mod ring;
pub mod sizes;

pub use ring::Ring;
