//! Where the time of one request went, sent as a `Server-Timing` header
//! (`query;dur=0.213, render;dur=0.041`). The load generator adds these up
//! per stage into the "where the time goes" chart: the talk's "know where the
//! bottlenecks are", measured instead of guessed.

use std::time::{Duration, Instant};

/// Phases of one request, in the order they happened. A phase that happens
/// twice (two queries) is summed.
#[derive(Clone, Debug, Default)]
pub struct Timing {
    phases: Vec<(&'static str, Duration)>,
}

impl Timing {
    pub fn new() -> Self {
        Timing {
            phases: Vec::with_capacity(8),
        }
    }

    /// Adds `d` to phase `name`.
    pub fn add(&mut self, name: &'static str, d: Duration) {
        match self.phases.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += d,
            None => self.phases.push((name, d)),
        }
    }

    /// Runs `f` and adds its time to `name`.
    pub fn time<R>(&mut self, name: &'static str, f: impl FnOnce() -> R) -> R {
        let t = Instant::now();
        let r = f();
        self.add(name, t.elapsed());
        r
    }

    /// Phases recorded so far.
    pub fn phases(&self) -> &[(&'static str, Duration)] {
        &self.phases
    }

    /// Puts `other`'s phases in front of ours (a transport's `init`, `db-open`).
    pub fn prepend(&mut self, other: Timing) {
        let mine = std::mem::replace(&mut self.phases, other.phases);
        for (n, d) in mine {
            self.add(n, d);
        }
    }

    /// The `Server-Timing` header value (milliseconds, 3 decimals). Built
    /// without the formatting machinery: `{:.3}` of an `f64` per phase was
    /// 6,100 instructions of a ~200,000-instruction request.
    pub fn header_value(&self) -> String {
        let mut s = String::with_capacity(self.phases.len() * 24);
        for (i, (name, d)) in self.phases.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(name);
            s.push_str(";dur=");
            push_millis(&mut s, *d);
        }
        s
    }
}

/// Appends `d` in milliseconds with three decimals, rounded to the nearest
/// microsecond (`1.500`, `0.050`).
fn push_millis(s: &mut String, d: Duration) {
    let micros = (d.as_nanos() + 500) / 1000;
    let (ms, frac) = (micros / 1000, (micros % 1000) as u16);
    s.push_str(itoa::Buffer::new().format(ms));
    s.push('.');
    for div in [100, 10, 1] {
        s.push(char::from(b'0' + (frac / div % 10) as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_formats() {
        let mut t = Timing::new();
        t.add("query", Duration::from_micros(200));
        t.add("render", Duration::from_micros(50));
        t.add("query", Duration::from_micros(13));
        let mut before = Timing::new();
        before.add("db-open", Duration::from_micros(1500));
        t.prepend(before);
        assert_eq!(
            t.header_value(),
            "db-open;dur=1.500, query;dur=0.213, render;dur=0.050"
        );
    }

    /// The same figures `format!("{:.3}")` of the milliseconds gave.
    #[test]
    fn millis_like_format() {
        let mut nanos: u64 = 0;
        while nanos < 20_000_000_000 {
            let d = Duration::from_nanos(nanos);
            let mut s = String::new();
            push_millis(&mut s, d);
            let micros = (nanos + 500) / 1000;
            let expected = format!("{:.3}", micros as f64 / 1000.0);
            assert_eq!(s, expected, "{nanos} ns");
            nanos = nanos * 3 / 2 + 7_919;
        }
    }
}
