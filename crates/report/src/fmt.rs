//! How the report writes a figure: req/s, milliseconds, speed-ups, pages
//! per day. A leaf: every table and chart module uses it, it uses none.

use runfiles::thousands;

/// Seconds in a day: pages per day = req/s × this.
pub const SECONDS_PER_DAY: f64 = 86_400.0;

/// Requests per second: one decimal below 100, whole numbers above.
pub fn fmt_rps(x: f64) -> String {
    if x < 100.0 {
        format!("{x:.1}")
    } else {
        thousands(x.round() as u64)
    }
}

/// Milliseconds with about three significant digits.
pub fn fmt_ms(x: f64) -> String {
    if x >= 100.0 {
        thousands(x.round() as u64)
    } else if x >= 10.0 {
        trim_zeros(format!("{x:.1}"))
    } else if x >= 1.0 {
        trim_zeros(format!("{x:.2}"))
    } else {
        trim_zeros(format!("{x:.3}"))
    }
}

/// `×6.0`
pub fn fmt_speedup(x: f64) -> String {
    if x < 1.0 {
        format!("×{x:.2}")
    } else if x < 10.0 {
        format!("×{x:.1}")
    } else {
        format!("×{x:.0}")
    }
}

/// req/s as pages per day: `3.5 M`.
pub fn fmt_pages_per_day(rps: f64) -> String {
    let n = rps * SECONDS_PER_DAY;
    if n >= 1e9 {
        format!("{:.1} bn", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.0} k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

pub(crate) fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}
