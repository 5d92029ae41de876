//! `latest-language.svg`: stage by stage, CPython beside Rust — req/s on
//! the realistic mix and on one hot page (wrk), log scale, the talk's
//! figure marked — so the stages where the language stops mattering show
//! at a glance.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::Run;
use super::chart::{INK, MUTED, Swatch, compact, e, legend, text, titles};
use super::render::fmt_rps;
use super::scaling::LanguageRow;

/// The four bars of a stage: (label, colour, which figure).
const BARS: [(&str, RGBColor, Measure); 4] = [
    (
        "CPython, realistic mix",
        RGBColor(230, 159, 0),
        Measure::RealisticPython,
    ),
    (
        "Rust, realistic mix",
        RGBColor(0, 114, 178),
        Measure::RealisticRust,
    ),
    (
        "CPython, one hot page (wrk)",
        RGBColor(240, 210, 140),
        Measure::HotPython,
    ),
    (
        "Rust, one hot page (wrk)",
        RGBColor(120, 180, 225),
        Measure::HotRust,
    ),
];

#[derive(Clone, Copy)]
enum Measure {
    RealisticPython,
    RealisticRust,
    HotPython,
    HotRust,
}

fn value(l: &LanguageRow, m: Measure) -> Option<f64> {
    match m {
        Measure::RealisticPython => l.realistic.0,
        Measure::RealisticRust => l.realistic.1,
        Measure::HotPython => l.hot.0,
        Measure::HotRust => l.hot.1,
    }
}

/// The chart, or an explanatory one when the run has no CPython rows.
pub fn language_chart(run: &Run) -> Result<String, String> {
    let rows = super::scaling::language(run);
    let n = rows.len().max(1);
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|l| BARS.iter().filter_map(|(_, _, m)| value(l, *m)))
        .filter(|v| *v > 0.0)
        .collect();
    let min = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .min(10.0);
    let max = values.iter().copied().fold(1.0, f64::max);
    let lo = 10f64.powf((min * 0.5).log10().floor());
    let hi = 10f64.powf((max * 5.0).log10().ceil());
    let width = (240 + n as u32 * 170).max(900);
    let height = 620u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let w = width as i32;
        titles(
            &root,
            w,
            "Scaling isn't about the language: CPython beside Rust, stage by stage (log scale)",
            &format!(
                "FlickrKillr, {}: requests per second, higher is better",
                run.name
            ),
        )?;
        let mut entries: Vec<(Swatch, String)> = BARS
            .iter()
            .map(|(label, c, _)| (Swatch::Box(*c), label.to_string()))
            .collect();
        entries.push((Swatch::Dash, "the talk's figure (2007, Python)".into()));
        let legend_bottom = legend(&root, &entries, 90, 76, w - 20)?;
        let (_, body) = root.split_vertically(legend_bottom);
        let mut chart = ChartBuilder::on(&body)
            .margin_left(10)
            .margin_right(24)
            .margin_top(8)
            .x_label_area_size(56)
            .y_label_area_size(78)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, (lo..hi).log_scale())
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_label_formatter(&|v| compact(*v))
            .y_desc("requests per second")
            .label_style(text(13.0, INK, HPos::Center, VPos::Center))
            .axis_desc_style(text(14.0, INK, HPos::Center, VPos::Center))
            .bold_line_style(BLACK.mix(0.18))
            .light_line_style(BLACK.mix(0.06))
            .draw()
            .map_err(e)?;
        if rows.is_empty() {
            let (px, py) = chart.backend_coord(&(0.0, (lo * hi).sqrt()));
            root.draw(&Text::new(
                "no python-N rows in this run",
                (px, py),
                text(16.0, MUTED, HPos::Center, VPos::Center),
            ))
            .map_err(e)?;
        }
        let group = 0.84;
        let slot = group / BARS.len() as f64;
        for (i, l) in rows.iter().enumerate() {
            let xc = i as f64;
            for (j, (_, color, m)) in BARS.iter().enumerate() {
                let x0 = xc - group / 2.0 + j as f64 * slot + slot * 0.08;
                let x1 = x0 + slot * 0.84;
                if let Some(v) = value(l, *m).filter(|v| *v > 0.0) {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x0, lo), (x1, v)],
                            color.filled(),
                        )))
                        .map_err(e)?;
                    let (px, py) = chart.backend_coord(&((x0 + x1) / 2.0, v));
                    root.draw(&Text::new(
                        fmt_rps(v),
                        (px, py - 4),
                        text(11.0, INK, HPos::Left, VPos::Center)
                            .transform(FontTransform::Rotate270),
                    ))
                    .map_err(e)?;
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
                let a = chart.backend_coord(&(xc - group / 2.0 - 0.03, talk));
                let b = chart.backend_coord(&(xc + group / 2.0 + 0.03, talk));
                root.draw(&PathElement::new(vec![a, b], WHITE.stroke_width(6)))
                    .map_err(e)?;
                root.draw(&PathElement::new(vec![a, b], INK.stroke_width(3)))
                    .map_err(e)?;
            }
            let (px, py) = chart.backend_coord(&(xc, lo));
            let label = if l.python.ends_with("noindex") {
                format!("stage {} without the index", l.stage)
            } else {
                format!("stage {}", l.stage)
            };
            root.draw(&Text::new(
                label,
                (px, py + 8),
                text(13.0, INK, HPos::Center, VPos::Top),
            ))
            .map_err(e)?;
            root.draw(&Text::new(
                format!("{} · {}", l.python, l.rust),
                (px, py + 26),
                text(12.0, MUTED, HPos::Center, VPos::Top),
            ))
            .map_err(e)?;
        }
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// `616 (homegrown) / 1750 (ab)` → [616, 1750].
fn talk_numbers(s: &str) -> Vec<f64> {
    s.split('/')
        .filter_map(|p| p.split_whitespace().next()?.replace(',', "").parse().ok())
        .collect()
}
