//! # runfiles — the files a measured run leaves, one schema each
//!
//! A compare run leaves, per row and tool, what the load tool measured and
//! where the CPU went. This crate is the one definition of those files:
//! - [`summary`]: loadgen's `--json` (`flickrkillr-loadgen/1`), with
//!   [`timeline`]'s per-second samples;
//! - [`cpu`]: cpuwatch's `--json` (`flickrkillr-cpu/1`).
//!
//! The writers (`loadgen`, `cpuacct`) fill these types, the reader
//! (`report`) reads them back, and neither side keeps a copy of its own.
//! It depends on serde alone, so the report links no part of the site
//! (no `app`, no `contract`, no SQLite) to draw a chart.

pub mod cpu;
pub mod summary;
pub mod timeline;

pub use cpu::{CpuReport, Role};
pub use summary::Summary;
pub use timeline::Sample;

/// `1,234,567`
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `12,345.6`
pub fn thousands_f(x: f64) -> String {
    let whole = x.trunc() as u64;
    format!(
        "{}.{}",
        thousands(whole),
        ((x - x.trunc()) * 10.0).round().min(9.0) as u64
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(123), "123");
        assert_eq!(thousands_f(64512.34), "64,512.3");
    }
}
