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
    match digits(ts) {
        Some(b) => std::str::from_utf8(&b[..10]).unwrap_or_default().to_owned(),
        None => {
            let (y, m, d) = civil_from_days(ts.div_euclid(86_400));
            format!("{y:04}-{m:02}-{d:02}")
        }
    }
}

/// `2007-02-23 14:05 UTC`
pub fn date_time(ts: i64) -> String {
    match digits(ts) {
        Some(b) => std::str::from_utf8(&b).unwrap_or_default().to_owned(),
        None => {
            let secs = ts.rem_euclid(86_400);
            format!(
                "{} {:02}:{:02} UTC",
                date(ts),
                secs / 3600,
                (secs % 3600) / 60
            )
        }
    }
}

/// `YYYY-MM-DD HH:MM UTC` for years 0 to 9999, written digit by digit into
/// a fixed buffer: the user page shows twenty dates, and `format!` made them
/// 18% of its instructions (ARCHITECTURE.md, "What a request costs").
/// Other years (never seeded) take `format!`'s path.
fn digits(ts: i64) -> Option<[u8; 20]> {
    let (y, m, d) = civil_from_days(ts.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        return None;
    }
    let secs = ts.rem_euclid(86_400);
    let mut b = *b"0000-00-00 00:00 UTC";
    put2(&mut b[0..2], (y / 100) as u32);
    put2(&mut b[2..4], (y % 100) as u32);
    put2(&mut b[5..7], m);
    put2(&mut b[8..10], d);
    put2(&mut b[11..13], (secs / 3600) as u32);
    put2(&mut b[14..16], ((secs % 3600) / 60) as u32);
    Some(b)
}

/// Writes `n` (below 100) as two digits.
fn put2(b: &mut [u8], n: u32) {
    b[0] = b'0' + (n / 10) as u8;
    b[1] = b'0' + (n % 10) as u8;
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
