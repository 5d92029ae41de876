//! # stage-1 — CGI: a new process for every request (the talk: 23 req/s)
//!
//! The talk's first iteration ran FlickrKillr as a CGI script. Its listed
//! problems are this crate's lesson, paid on purpose on every request:
//! "loading Python interpreter for each request" (here: a new process),
//! "all resources initialized for each request (inc. db connection)" (here:
//! configuration read from the environment, a fresh SQLite connection,
//! every prepared statement prepared again). Nothing survives a request.
//!
//! Two programs:
//! - `stage-1-cgi` ([`program`]): a real RFC 3875 CGI program. Any CGI
//!   server runs it (lighttpd's mod_cgi, Apache's mod_cgi; see the README).
//! - `stage-1` ([`host`]): a small built-in CGI host on hyper, so
//!   `cargo run --release -p stage-1 -- --db data/flickrkillr.db` serves
//!   HTTP with nothing else installed. It starts `stage-1-cgi` once per
//!   request with the RFC 3875 environment, streams the body to its stdin,
//!   parses the header block it prints and answers.

pub mod fuzzing;
pub mod host;
pub mod program;
