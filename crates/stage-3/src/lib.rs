//! # stage-3 — the balancing side of the talk's third iteration
//!
//! The binary (`src/main.rs`) composes the stage; this library is what it
//! puts in front of the instances:
//! - [`nginx`]: the stage's `nginx.conf` (`templates/nginx.conf`).

pub mod nginx;
