//! Dates as the pages show them, in UTC, without a date library.
//!
//! All times in the database are Unix seconds (`INTEGER`), so SQLite compares
//! and sorts them as numbers and the seeding tool writes them cheaply.

/// The current Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Civil date (year, month, day) of a day count since 1970-01-01
/// (Howard Hinnant's `civil_from_days`, valid for every i64 day we can store).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2007-02-23`
pub fn date(ts: i64) -> String {
    let mut s = String::with_capacity(10);
    push_date(&mut s, ts);
    s
}

/// `2007-02-23 14:05 UTC`
pub fn date_time(ts: i64) -> String {
    let secs = ts.rem_euclid(86_400);
    let mut s = String::with_capacity(20);
    push_date(&mut s, ts);
    s.push(' ');
    push2(&mut s, (secs / 3600) as u32);
    s.push(':');
    push2(&mut s, ((secs % 3600) / 60) as u32);
    s.push_str(" UTC");
    s
}

/// Appends `{y:04}-{m:02}-{d:02}` without the formatting machinery: the
/// user page shows twenty dates, and `format!` made them 18% of its
/// instructions (see ARCHITECTURE.md, "Cost per request").
fn push_date(s: &mut String, ts: i64) {
    let (y, m, d) = civil_from_days(ts.div_euclid(86_400));
    if (0..=9999).contains(&y) {
        push2(s, (y / 100) as u32);
        push2(s, (y % 100) as u32);
    } else {
        use std::fmt::Write;
        let _ = write!(s, "{y:04}");
    }
    s.push('-');
    push2(s, m);
    s.push('-');
    push2(s, d);
}

/// Appends `n` (below 100) as two digits.
fn push2(s: &mut String, n: u32) {
    s.push(char::from(b'0' + (n / 10) as u8));
    s.push(char::from(b'0' + (n % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date_time(1_172_239_500), "2007-02-23 14:05 UTC");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(-86_400), "1969-12-31");
    }

    /// The hand-written digits say exactly what `format!` said.
    #[test]
    fn same_as_format() {
        let old = |ts: i64| {
            let (y, m, d) = civil_from_days(ts.div_euclid(86_400));
            let secs = ts.rem_euclid(86_400);
            format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
                secs / 3600,
                (secs % 3600) / 60
            )
        };
        let mut ts: i64 = -80_000_000_000;
        while ts < 400_000_000_000 {
            assert_eq!(date_time(ts), old(ts), "{ts}");
            let full = old(ts);
            assert_eq!(date(ts), full[..full.len() - 10], "{ts}");
            ts += 7_777_777 + ts.rem_euclid(1_000);
        }
        for ts in [i64::MIN / 2, -1, 0, 59, 86_399, 1_172_239_500, i64::MAX / 2] {
            assert_eq!(date_time(ts), old(ts), "{ts}");
        }
    }
}
