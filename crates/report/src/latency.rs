//! Latency at fixed offered rates: "how fast is fast enough?"
//!
//! The talk's answer: hundreds to low thousands of dynamic page views a
//! second are usually good enough. A closed-loop req/s says how much a
//! stage can do flat out; this says what a visitor waits at a given load:
//! open-loop runs (`loadgen --rate R --mix realistic`) at rising rates, p50
//! and p99 counted from each request's intended send time (so a server that
//! falls behind shows its queue: no coordinated omission), the uncorrected
//! figure beside it, and for each row the highest rate at which p99 stays
//! under [`P99_BUDGET_MS`].
//!
//! Files: `<row>.rate-<R>.json` in RAW_DIR, one loadgen `--json` file per
//! row and offered rate `R` (req/s). A rate is *sustained* by the rule in
//! [`SUSTAINED`]; `report sustained FILE` applies the same rule, so the
//! script that runs the rates stops where the report says a row gave up.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::Run;
use super::chart_style::{
    Area, GRID, INK, MUTED, Swatch, compact, decade_above, decade_below, decades, draw_text, e,
    legend_header, series_color, svg_chart, text,
};
use super::fmt::{fmt_ms, fmt_rps};
use runfiles::thousands;

/// When an open-loop run counts as having kept up with its offered rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SustainedRule {
    /// Achieved req/s ÷ offered req/s at least this.
    pub min_achieved: f64,
    /// Errors ÷ attempts (responses + transport errors) at most this.
    pub max_errors: f64,
}

/// The one definition of "sustained": achieved ≥ 95% of the offered rate,
/// errors ≤ 1% of the attempts. Below 95% the schedule is slipping (the
/// queue grows for as long as the run lasts); a server that answers fast
/// with errors is not keeping up either.
pub const SUSTAINED: SustainedRule = SustainedRule {
    min_achieved: 0.95,
    max_errors: 0.01,
};

impl SustainedRule {
    pub fn holds(&self, r: &RateRun) -> bool {
        r.achieved_share() >= self.min_achieved && r.error_share() <= self.max_errors
    }

    /// The rule in words, for the report and `report sustained`.
    pub fn describe(&self) -> String {
        format!(
            "achieved ≥ {}% of the offered rate and errors ≤ {}% of the attempts",
            self.min_achieved * 100.0,
            self.max_errors * 100.0
        )
    }
}

/// "Fast enough" for a page view: p99 under this many milliseconds.
pub const P99_BUDGET_MS: f64 = 100.0;

/// The talk's measured rates, marked on the chart's x axis.
pub const TALK_MARKS: [(f64, &str); 4] = [
    (23.0, "CGI"),
    (139.0, "CherryPy"),
    (217.0, "nginx + 2"),
    (616.0, "memcached"),
];

/// One open-loop run at a fixed offered rate.
#[derive(Debug, Clone, PartialEq)]
pub struct RateRun {
    /// req/s asked for (the JSON's `rate`).
    pub offered: f64,
    /// req/s answered (the JSON's `rps`).
    pub achieved: f64,
    pub requests: u64,
    /// Transport errors plus responses outside 2xx/3xx.
    pub errors: u64,
    /// Responses plus transport errors.
    pub attempts: u64,
    /// From the intended send time (corrected for coordinated omission).
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// From the actual send time: (p50, p99).
    pub uncorrected_ms: Option<(f64, f64)>,
    pub concurrency: usize,
    pub duration_s: f64,
}

impl RateRun {
    pub fn achieved_share(&self) -> f64 {
        if self.offered > 0.0 {
            self.achieved / self.offered
        } else {
            0.0
        }
    }

    pub fn error_share(&self) -> f64 {
        self.errors as f64 / self.attempts.max(1) as f64
    }

    pub fn sustained(&self) -> bool {
        SUSTAINED.holds(self)
    }

    /// Sustained with p99 under [`P99_BUDGET_MS`].
    pub fn fast_enough(&self) -> bool {
        self.sustained() && self.p99_ms < P99_BUDGET_MS
    }

    /// `9,992 of 10,000 req/s (99.9%), errors 0 of 9,992 (0.00%)`
    pub fn account(&self) -> String {
        format!(
            "{} of {} req/s ({:.1}%), errors {} of {} ({:.2}%)",
            fmt_rps(self.achieved),
            fmt_rps(self.offered),
            self.achieved_share() * 100.0,
            thousands(self.errors),
            thousands(self.attempts),
            self.error_share() * 100.0
        )
    }
}

/// A loadgen `--json` file of an open-loop run.
pub fn parse_rate_run(text: &str) -> Result<RateRun, String> {
    let j = runfiles::Summary::from_json(text)?;
    let offered = j
        .rate
        .ok_or("a closed-loop run (no \"rate\"): not a fixed offered rate")?;
    let status_errors: u64 = j.errors.status.values().sum();
    let transport = j.errors.total.saturating_sub(status_errors);
    Ok(RateRun {
        offered,
        achieved: j.rps,
        requests: j.requests,
        errors: j.errors.total,
        attempts: j.requests + transport,
        p50_ms: j.latency_ms.p50,
        p99_ms: j.latency_ms.p99,
        uncorrected_ms: j.uncorrected_latency_ms.map(|l| (l.p50, l.p99)),
        concurrency: j.concurrency,
        duration_s: j.duration_s,
    })
}

/// `<row>.rate-<R>.json`
pub fn file_name(row: &str, rate: u64) -> String {
    format!("{row}.rate-{rate}.json")
}

/// `stage-2.rate-1000.json` → (`stage-2`, 1000).
pub fn split_file_name(name: &str) -> Option<(&str, u64)> {
    let (row, rate) = name.strip_suffix(".json")?.rsplit_once(".rate-")?;
    let rate = rate.parse().ok().filter(|r| *r > 0)?;
    (!row.is_empty()).then_some((row, rate))
}

/// What [`FastEnough`] found for a row.
#[derive(Debug, Clone, PartialEq)]
pub enum FastEnough {
    /// p99 under the budget, sustained, at this rate and every lower one
    /// tried; `highest_tried`: no higher rate was run.
    UpTo {
        rate: f64,
        highest_tried: bool,
    },
    /// Already over the budget (or not sustained) at the lowest rate tried.
    NotAtLowest(RateRun),
    NoRuns,
}

/// One row's runs, by offered rate.
#[derive(Debug, Clone)]
pub struct RowRates {
    pub row: String,
    /// Ascending by offered rate.
    pub runs: Vec<RateRun>,
    /// (file's rate, why it has no result).
    pub unusable: Vec<(u64, String)>,
}

impl RowRates {
    pub fn run_at(&self, rate: f64) -> Option<&RateRun> {
        self.runs.iter().find(|r| r.offered == rate)
    }

    /// The highest offered rate at which p99 stays under [`P99_BUDGET_MS`]:
    /// that run and every run at a lower rate sustained with p99 under the
    /// budget ("stays": a row that recovers at a higher rate after failing
    /// at a lower one does not count above the failure).
    pub fn fast_enough(&self) -> FastEnough {
        let Some(first) = self.runs.first() else {
            return FastEnough::NoRuns;
        };
        let passing = self.runs.iter().take_while(|r| r.fast_enough()).count();
        match passing {
            0 => FastEnough::NotAtLowest(first.clone()),
            n => FastEnough::UpTo {
                rate: self.runs[n - 1].offered,
                highest_tried: n == self.runs.len(),
            },
        }
    }
}

/// Every `<row>.rate-<R>.json` among `names` (RAW_DIR's files), in the
/// order of `order` (rows.tsv), then by name. Warnings for files whose
/// name and `rate` disagree.
pub fn load(raw_dir: &Path, names: &[String], order: &[String]) -> (Vec<RowRates>, Vec<String>) {
    let mut by_row: BTreeMap<String, RowRates> = BTreeMap::new();
    let mut warnings = Vec::new();
    for name in names {
        let Some((row, rate)) = split_file_name(name) else {
            continue;
        };
        let entry = by_row.entry(row.to_string()).or_insert_with(|| RowRates {
            row: row.to_string(),
            runs: Vec::new(),
            unusable: Vec::new(),
        });
        let parsed = std::fs::read(raw_dir.join(name))
            .map_err(|e| e.to_string())
            .and_then(|b| parse_rate_run(&String::from_utf8_lossy(&b)));
        match parsed {
            Ok(run) => {
                if (run.offered - rate as f64).abs() > 1e-6 {
                    warnings.push(format!(
                        "{name}: its rate is {} req/s, not {rate}; shown at {}",
                        run.offered, run.offered
                    ));
                }
                entry.runs.push(run);
            }
            Err(why) => entry.unusable.push((rate, why)),
        }
    }
    let mut rows: Vec<RowRates> = by_row.into_values().collect();
    for r in &mut rows {
        r.runs.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    }
    rows.sort_by_key(|r| {
        (
            order
                .iter()
                .position(|o| *o == r.row)
                .unwrap_or(order.len()),
            r.row.clone(),
        )
    });
    (rows, warnings)
}

/// Every offered rate any row ran, ascending.
pub fn rates(rows: &[RowRates]) -> Vec<f64> {
    let mut all: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.runs.iter().map(|x| x.offered))
        .collect();
    all.sort_by(f64::total_cmp);
    all.dedup();
    all
}

/// `report sustained`: the verdict on one file, in words.
pub fn verdict(text: &str) -> Result<(bool, String), String> {
    let run = parse_rate_run(text)?;
    let ok = run.sustained();
    Ok((
        ok,
        format!(
            "{}: {} (rule: {})",
            if ok { "sustained" } else { "not sustained" },
            run.account(),
            SUSTAINED.describe()
        ),
    ))
}

/// The Markdown section; nothing when the run has no rate files.
pub fn markdown(o: &mut String, run: &Run) {
    let rows = &run.rates;
    if rows.is_empty() {
        return;
    }
    let rates = rates(rows);
    o.push_str("## Latency at fixed offered rates\n\n");
    let conns: Vec<usize> = {
        let mut c: Vec<usize> = rows
            .iter()
            .flat_map(|r| r.runs.iter().map(|x| x.concurrency))
            .collect();
        c.sort();
        c.dedup();
        c
    };
    let _ = writeln!(
        o,
        "How fast is fast enough? The talk: \"hundreds to low thousands of dynamic page views a \
         second are usually good enough\". Each row was loaded in open loop (`loadgen --rate R \
         --mix realistic`, {} connections) at rising offered rates, stopping at the first it \
         could not sustain. Each cell: **p50 · p99** in ms, counted from each request's \
         intended send time (corrected for coordinated omission: a server that falls behind \
         shows its queue), then the uncorrected p50 · p99 (from the actual send, what a naive \
         tool reports). A rate is **sustained** (✓) when {} (`report::latency::SUSTAINED`); \
         ✗ gives what was achieved. *p99 < {} ms up to* is the highest offered rate at which \
         p99 stayed under {} ms — sustained there and at every lower rate tried. — = not run.\n",
        conns
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join("/"),
        SUSTAINED.describe(),
        P99_BUDGET_MS,
        P99_BUDGET_MS,
    );
    o.push_str("| row |");
    for r in &rates {
        let _ = write!(o, " {} req/s |", fmt_rps(*r));
    }
    let _ = writeln!(o, " p99 < {P99_BUDGET_MS} ms up to |");
    o.push_str("|---|");
    for _ in &rates {
        o.push_str("--:|");
    }
    o.push_str("--:|\n");
    let mut notes = Vec::new();
    for row in rows {
        let _ = write!(o, "| `{}` |", row.row);
        for rate in &rates {
            rate_cell(o, row, *rate, &mut notes);
        }
        fast_enough_cell(o, row);
    }
    o.push('\n');
    if !notes.is_empty() {
        o.push_str("Notes:\n\n");
        for n in notes {
            let _ = writeln!(o, "- {n}");
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "![Latency against offered load, log–log: p99 solid, p50 dashed](latest-latency.svg)\n"
    );
}

/// One cell of the table: p50 · p99 (corrected, then uncorrected) of
/// `row` at offered `rate`, and whether it was sustained; a missing run's
/// reason goes to `notes`.
fn rate_cell(o: &mut String, row: &RowRates, rate: f64, notes: &mut Vec<String>) {
    match row.run_at(rate) {
        Some(r) => {
            let _ = write!(o, " **{} · {}**", fmt_ms(r.p50_ms), fmt_ms(r.p99_ms));
            if let Some((u50, u99)) = r.uncorrected_ms {
                let _ = write!(o, "<br><sub>{} · {}</sub>", fmt_ms(u50), fmt_ms(u99));
            }
            if r.sustained() {
                o.push_str("<br>✓ |");
            } else {
                let _ = write!(
                    o,
                    "<br>✗ {} req/s, {:.1}% errors |",
                    fmt_rps(r.achieved),
                    r.error_share() * 100.0
                );
            }
        }
        None => {
            let why = row
                .unusable
                .iter()
                .find(|(x, _)| *x as f64 == rate)
                .map(|(_, why)| why);
            match why {
                Some(why) => {
                    notes.push(format!(
                        "`{}`: {} has no result — {why}",
                        row.row,
                        file_name(&row.row, rate as u64)
                    ));
                    o.push_str(" — <sub>no result</sub> |");
                }
                None => o.push_str(" — |"),
            }
        }
    }
}

/// The last cell of a row: the highest offered rate at which p99 stayed
/// under the budget.
fn fast_enough_cell(o: &mut String, row: &RowRates) {
    match row.fast_enough() {
        FastEnough::UpTo {
            rate,
            highest_tried,
        } => {
            let _ = writeln!(
                o,
                " **{}** req/s{} |",
                fmt_rps(rate),
                if highest_tried {
                    " (the highest tried)"
                } else {
                    ""
                }
            );
        }
        FastEnough::NotAtLowest(r) => {
            let why = if r.sustained() {
                format!("p99 {} ms", fmt_ms(r.p99_ms))
            } else {
                "not sustained".into()
            };
            let _ = writeln!(o, " none: {why} at {} req/s |", fmt_rps(r.offered));
        }
        FastEnough::NoRuns => o.push_str(" — |\n"),
    }
}

/// A row's colour and its lighter shade (for p50).
fn shades(i: usize) -> (RGBColor, RGBColor) {
    let c = series_color(i);
    let RGBColor(r, g, b) = c;
    let light = |v: u8| (v as f64 + (255.0 - v as f64) * 0.45) as u8;
    (c, RGBColor(light(r), light(g), light(b)))
}

/// `latest-latency.svg`: latency against offered load, both axes log; a
/// line per row, p99 solid, p50 dashed and lighter; a filled dot where the
/// rate was sustained, a hollow one where it was not; the p99 budget as a
/// horizontal line; the talk's figures marked on the x axis.
pub fn chart(run: &Run) -> Result<String, String> {
    let rows: Vec<&RowRates> = run.rates.iter().filter(|r| !r.runs.is_empty()).collect();
    let all: Vec<&RateRun> = rows.iter().flat_map(|r| r.runs.iter()).collect();
    let max_rate = all.iter().map(|r| r.offered).fold(1000.0, f64::max);
    let x_lo = 10.0;
    let x_hi = decade_above(max_rate * 1.5);
    let lat: Vec<f64> = all
        .iter()
        .flat_map(|r| [r.p50_ms, r.p99_ms])
        .filter(|v| *v > 0.0)
        .chain([P99_BUDGET_MS])
        .collect();
    let y_lo = decade_below(lat.iter().copied().fold(f64::INFINITY, f64::min) * 0.8);
    let y_hi = decade_above(lat.iter().copied().fold(0.0, f64::max) * 1.25);

    let title = "Latency at fixed offered rates (log–log)";
    let subtitle = format!(
        "FlickrKillr, {}: open loop, realistic mix; latency from the intended send time; lower and further right is better",
        run.name
    );
    svg_chart((1100, 700), title, &subtitle, |root| {
        let mut entries: Vec<(Swatch, String)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (Swatch::Box(shades(i).0), r.row.clone()))
            .collect();
        entries.push((Swatch::Line(INK), "p99".into()));
        entries.push((Swatch::Dashed(INK), "p50".into()));
        entries.push((Swatch::Hollow(INK), "not sustained".into()));
        let body = legend_header(root, &entries)?;
        let mut chart = ChartBuilder::on(&body)
            .margin_left(10)
            .margin_right(30)
            // Room above the plot for the talk's labels, one row each.
            .margin_top(12 + 15 * TALK_MARKS.len() as u32)
            .x_label_area_size(50)
            .y_label_area_size(78)
            .build_cartesian_2d(
                (x_lo..x_hi)
                    .log_scale()
                    .with_key_points(decades(x_lo, x_hi)),
                (y_lo..y_hi)
                    .log_scale()
                    .with_key_points(decades(y_lo, y_hi)),
            )
            .map_err(e)?;
        GRID.mesh(&mut chart)
            .x_label_formatter(&|v| compact(*v))
            .y_label_formatter(&|v| fmt_ms(*v))
            .x_desc("offered load, requests per second")
            .y_desc("latency, ms")
            .draw()
            .map_err(e)?;

        let px = |x: f64, y: f64| chart.backend_coord(&(x, y));
        talk_marks(root, &px, y_lo, y_hi)?;
        budget_line(root, &px, x_lo, x_hi)?;
        row_lines(root, &px, &rows, y_lo)
    })
}

/// Pixel of a (req/s, ms) point on the latency chart.
type Px<'a> = &'a dyn Fn(f64, f64) -> (i32, i32);

/// The talk's figures on the latency chart, from `y_lo` to `y_hi`.
fn talk_marks(root: &Area<'_>, px: Px<'_>, y_lo: f64, y_hi: f64) -> Result<(), String> {
    // The talk's figures: a dotted line up from the x axis to its label
    // above the plot (a row each: 139 and 217 are close on a log axis).
    let marks = TALK_MARKS.len() as i32;
    for (i, (x, label)) in TALK_MARKS.into_iter().enumerate() {
        let bottom = px(x, y_lo);
        let top = px(x, y_hi);
        let y = top.1 - 8 - 15 * (marks - 1 - i as i32);
        root.draw(&DashedPathElement::new(
            vec![bottom, (top.0, y)],
            2,
            4,
            MUTED.stroke_width(1),
        ))
        .map_err(e)?;
        draw_text(
            root,
            format!("talk: {label}, {} req/s", thousands(x as u64)),
            (top.0 + 4, y),
            text(11.0, MUTED, HPos::Left, VPos::Center),
        )?;
    }
    Ok(())
}

/// The p99 budget across the latency chart, from `x_lo` to `x_hi`.
fn budget_line(root: &Area<'_>, px: Px<'_>, x_lo: f64, x_hi: f64) -> Result<(), String> {
    let a = px(x_lo, P99_BUDGET_MS);
    let b = px(x_hi, P99_BUDGET_MS);
    root.draw(&DashedPathElement::new(
        vec![a, b],
        8,
        5,
        INK.mix(0.6).stroke_width(1),
    ))
    .map_err(e)?;
    draw_text(
        root,
        format!("p99 budget: {P99_BUDGET_MS} ms"),
        (b.0 - 6, b.1 - 4),
        text(12.0, INK, HPos::Right, VPos::Bottom),
    )
}

/// Each row's p99 (solid) and p50 (dashed), a point a rate, hollow where
/// the rate was not sustained.
fn row_lines(root: &Area<'_>, px: Px<'_>, rows: &[&RowRates], y_lo: f64) -> Result<(), String> {
    for (i, row) in rows.iter().enumerate() {
        let (dark, light) = shades(i);
        let p99: Vec<(i32, i32)> = row
            .runs
            .iter()
            .map(|r| px(r.offered, r.p99_ms.max(y_lo)))
            .collect();
        let p50: Vec<(i32, i32)> = row
            .runs
            .iter()
            .map(|r| px(r.offered, r.p50_ms.max(y_lo)))
            .collect();
        root.draw(&DashedPathElement::new(
            p50.clone(),
            6,
            4,
            light.stroke_width(2),
        ))
        .map_err(e)?;
        root.draw(&PathElement::new(p99.clone(), dark.stroke_width(3)))
            .map_err(e)?;
        for (r, (p99, p50)) in row.runs.iter().zip(p99.iter().zip(&p50)) {
            for (pt, c, size) in [(p99, dark, 5), (p50, light, 4)] {
                if r.sustained() {
                    root.draw(&Circle::new(*pt, size, c.filled())).map_err(e)?;
                } else {
                    root.draw(&Circle::new(*pt, size, WHITE.filled()))
                        .map_err(e)?;
                    root.draw(&Circle::new(*pt, size, c.stroke_width(2)))
                        .map_err(e)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(offered: f64, achieved: f64, errors: u64, p99: f64) -> RateRun {
        RateRun {
            offered,
            achieved,
            requests: achieved as u64,
            errors,
            attempts: achieved as u64,
            p50_ms: p99 / 2.0,
            p99_ms: p99,
            uncorrected_ms: None,
            concurrency: 64,
            duration_s: 1.0,
        }
    }

    #[test]
    fn the_sustained_rule_at_its_edges() {
        assert!(run(1000.0, 950.0, 0, 1.0).sustained(), "95% is enough");
        assert!(!run(1000.0, 949.0, 0, 1.0).sustained());
        assert!(
            run(1000.0, 1000.0, 10, 1.0).sustained(),
            "1% errors is allowed"
        );
        assert!(!run(1000.0, 1000.0, 11, 1.0).sustained());
        assert!(
            run(100.0, 107.0, 0, 1.0).sustained(),
            "a queue caught up in the window"
        );
    }

    #[test]
    fn fast_enough_stops_at_the_first_failure() {
        let row = |runs| RowRates {
            row: "r".into(),
            runs,
            unusable: vec![],
        };
        let r = row(vec![
            run(100.0, 100.0, 0, 5.0),
            run(300.0, 300.0, 0, 99.9),
            run(1000.0, 1000.0, 0, 100.0),
            run(3000.0, 3000.0, 0, 50.0),
        ]);
        assert_eq!(
            r.fast_enough(),
            FastEnough::UpTo {
                rate: 300.0,
                highest_tried: false
            },
            "100 ms is not under 100 ms; 3000 does not count after the failure"
        );
        let r = row(vec![run(100.0, 100.0, 0, 5.0), run(300.0, 200.0, 0, 5.0)]);
        assert_eq!(
            r.fast_enough(),
            FastEnough::UpTo {
                rate: 100.0,
                highest_tried: false
            },
            "fast but not sustained"
        );
        let r = row(vec![run(100.0, 100.0, 0, 5.0)]);
        assert_eq!(
            r.fast_enough(),
            FastEnough::UpTo {
                rate: 100.0,
                highest_tried: true
            }
        );
        let r = row(vec![run(100.0, 100.0, 0, 150.0)]);
        assert!(matches!(r.fast_enough(), FastEnough::NotAtLowest(_)));
        assert_eq!(row(vec![]).fast_enough(), FastEnough::NoRuns);
    }

    #[test]
    fn file_names() {
        assert_eq!(
            split_file_name("stage-2-gil.rate-1000.json"),
            Some(("stage-2-gil", 1000))
        );
        assert_eq!(split_file_name("stage-2.rate-x.json"), None);
        assert_eq!(split_file_name("stage-2.rate-0.json"), None);
        assert_eq!(split_file_name("stage-2.loadgen-realistic.json"), None);
        assert_eq!(split_file_name(".rate-100.json"), None);
        assert_eq!(file_name("stage-4", 30000), "stage-4.rate-30000.json");
    }
}
