//! `latest-language.svg`: stage by stage, CPython beside Rust — req/s on
//! the realistic mix and on one hot page (wrk), log scale, the talk's
//! figure marked — so the stages where the language stops mattering show
//! at a glance.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::Run;
use super::chart_style::{
    INK, MUTED, Swatch, bar_span, decade_above, decade_below, draw_text, legend_header, okabe_ito,
    rps_plot, svg_chart, talk_dash, text, value_bar,
};
use super::scaling::LanguageRow;

/// The four bars of a stage, left to right: the realistic mix, then one
/// hot page, each CPython beside Rust (the hot page in the lighter shade).
const BARS: [(&str, RGBColor); 4] = [
    ("CPython, realistic mix", okabe_ito::ORANGE),
    ("Rust, realistic mix", okabe_ito::BLUE),
    ("CPython, one hot page (wrk)", RGBColor(240, 210, 140)),
    ("Rust, one hot page (wrk)", RGBColor(120, 180, 225)),
];

/// A stage's figures, in the order of [`BARS`].
fn values(l: &LanguageRow) -> [Option<f64>; 4] {
    [l.realistic.0, l.realistic.1, l.hot.0, l.hot.1]
}

/// The chart, or an explanatory one when the run has no CPython rows.
pub fn language_chart(run: &Run) -> Result<String, String> {
    let rows = super::scaling::language(run);
    let n = rows.len().max(1);
    let figures: Vec<f64> = rows
        .iter()
        .flat_map(values)
        .flatten()
        .filter(|v| *v > 0.0)
        .collect();
    let min = figures
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .min(10.0);
    let max = figures.iter().copied().fold(1.0, f64::max);
    let lo = decade_below(min * 0.5);
    let hi = decade_above(max * 5.0);
    let width = (240 + n as u32 * 170).max(900);
    let title = "Scaling isn't about the language: CPython beside Rust, stage by stage (log scale)";
    let subtitle = format!(
        "FlickrKillr, {}: requests per second, higher is better",
        run.name
    );
    svg_chart((width, 620), title, &subtitle, |root| {
        let mut entries: Vec<(Swatch, String)> = BARS
            .iter()
            .map(|(label, c)| (Swatch::Box(*c), label.to_string()))
            .collect();
        entries.push((Swatch::Dash, "the talk's figure (2007, Python)".into()));
        let body = legend_header(root, &entries)?;
        let mut chart = rps_plot(&body, n, (lo..hi).log_scale(), 56)?;
        if rows.is_empty() {
            draw_text(
                root,
                "no python-N rows in this run",
                chart.backend_coord(&(0.0, (lo * hi).sqrt())),
                text(16.0, MUTED, HPos::Center, VPos::Center),
            )?;
        }
        for (i, l) in rows.iter().enumerate() {
            let xc = i as f64;
            for (j, ((_, color), v)) in BARS.iter().zip(values(l)).enumerate() {
                if let Some(v) = v.filter(|v| *v > 0.0) {
                    value_bar(root, &mut chart, bar_span(xc, j, BARS.len()), lo, v, *color)?;
                }
            }
            for talk in l
                .talk
                .as_deref()
                .map(talk_numbers)
                .unwrap_or_default()
                .into_iter()
                .filter(|t| *t >= lo && *t <= hi)
            {
                talk_dash(root, &chart, xc, talk)?;
            }
            let (px, py) = chart.backend_coord(&(xc, lo));
            let label = if l.python.ends_with("noindex") {
                format!("stage {} without the index", l.stage)
            } else {
                format!("stage {}", l.stage)
            };
            draw_text(
                root,
                label,
                (px, py + 8),
                text(13.0, INK, HPos::Center, VPos::Top),
            )?;
            draw_text(
                root,
                format!("{} · {}", l.python, l.rust),
                (px, py + 26),
                text(12.0, MUTED, HPos::Center, VPos::Top),
            )?;
        }
        Ok(())
    })
}

/// `616 (homegrown) / 1750 (ab)` → [616, 1750].
fn talk_numbers(s: &str) -> Vec<f64> {
    s.split('/')
        .filter_map(|p| p.split_whitespace().next()?.replace(',', "").parse().ok())
        .collect()
}
