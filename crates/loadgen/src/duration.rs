//! Durations as people type them: `10s`, `2m`, `1m30s`, `250ms`, `1h`, or a
//! bare number of seconds (`10`, `0.5`).

use std::time::Duration;

/// Parses a duration. See the module docs for the accepted forms.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs, s);
    }
    let mut total = 0.0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{s:?}: missing unit after {rest:?} (use ms, s, m or h)"))?;
        if num_end == 0 {
            return Err(format!("{s:?}: expected a number at {rest:?}"));
        }
        let n: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("{s:?}: bad number {:?}", &rest[..num_end]))?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" => 3600.0,
            u => return Err(format!("{s:?}: unknown unit {u:?} (use ms, s, m or h)")),
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    secs_to_duration(total, s)
}

fn secs_to_duration(secs: f64, shown: &str) -> Result<Duration, String> {
    // A week is far beyond any benchmark; the cap keeps the arithmetic finite.
    if !secs.is_finite() || !(0.0..=604_800.0).contains(&secs) {
        return Err(format!("{shown:?}: duration out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `1.50 s`, `250 ms`: for summaries.
pub fn show(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "s", "10x", "-1", "ten", "10s5", "1e400"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
