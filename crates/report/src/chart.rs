//! `latest.svg` (req/s per row and tool, log scale) and `latest-phases.svg`
//! (mean ms per request, stacked by Server-Timing phase), drawn with
//! plotters' SVG backend and the report's common layouts
//! ([`super::chart_style`]); here: the colours, the figures and the labels
//! of these two charts.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::chart_style::{
    FAILED, INK, MUTED, Stacked, StackedBar, Swatch, bar_span, decade_above, decade_below, decades,
    draw_text, legend_header, okabe_ito, rps_plot, svg_chart, talk_dash, text, value_bar,
};
use super::render::phase_names;
use super::{Run, Tool};

/// A colour per tool: loadgen warm, ab blue, wrk green.
fn tool_color(t: Tool) -> RGBColor {
    match t {
        Tool::LoadgenRealistic => okabe_ito::VERMILLION,
        Tool::LoadgenSingle => okabe_ito::ORANGE,
        Tool::AbKeepAlive => okabe_ito::BLUE,
        Tool::Ab => okabe_ito::SKY_BLUE,
        Tool::Wrk => okabe_ito::BLUISH_GREEN,
    }
}

/// A fixed colour per known phase, so a phase keeps its colour from run to
/// run; the fallback list covers phases added later.
fn phase_color(name: &str, unknown_index: usize) -> RGBColor {
    match name {
        "process" => okabe_ito::REDDISH_PURPLE,
        "init" => okabe_ito::YELLOW,
        "db-open" => okabe_ito::VERMILLION,
        "db-pool" => okabe_ito::ORANGE,
        "gil-wait" => RGBColor(60, 60, 60),
        "python" => RGBColor(55, 118, 171),
        "route" => RGBColor(190, 190, 190),
        "parse" => RGBColor(150, 150, 150),
        "session" => okabe_ito::SKY_BLUE,
        "query" => okabe_ito::BLUE,
        "render" => okabe_ito::BLUISH_GREEN,
        "static-read" => RGBColor(166, 118, 29),
        "cache-get" => RGBColor(117, 112, 179),
        "cache-set" => RGBColor(27, 158, 119),
        _ => {
            const MORE: [RGBColor; 6] = [
                RGBColor(231, 41, 138),
                RGBColor(102, 166, 30),
                RGBColor(230, 171, 2),
                RGBColor(141, 160, 203),
                RGBColor(252, 141, 98),
                RGBColor(102, 194, 165),
            ];
            MORE[unknown_index % MORE.len()]
        }
    }
}

/// `stage-4-noindex` → (`stage-4`, `noindex`); `ceiling-nginx-static` →
/// (`ceiling`, `nginx-static`); `calibration` → (`calibration`, ``).
fn split_id(id: &str) -> (&str, &str) {
    let cut = if id.starts_with("stage-") {
        id.match_indices('-').nth(1).map(|(i, _)| i)
    } else {
        id.find('-')
    };
    match cut {
        Some(i) => (&id[..i], &id[i + 1..]),
        None => (id, ""),
    }
}

/// The talk's figures as it gave them: `23`, `1,750`.
fn fmt_figure(x: f64) -> String {
    if x.fract() == 0.0 {
        runfiles::thousands(x as u64)
    } else {
        x.to_string()
    }
}

/// `latest.svg`: a bar group per row (x), a bar per tool, req/s on a log
/// axis (stage-1's tens and nginx's hundred thousands on one chart), the
/// talk's figure as a black dash across its row.
pub fn rps_chart(run: &Run) -> Result<String, String> {
    let tools = run.tools_measured();
    let n = run.rows.len();
    let mut values: Vec<f64> = run
        .rows
        .iter()
        .flat_map(|r| {
            let mut v: Vec<f64> = tools.iter().filter_map(|t| r.rps(*t)).collect();
            v.extend(r.spec.talk_figures());
            v
        })
        .filter(|v| *v > 0.0)
        .collect();
    if values.is_empty() {
        values.push(1.0);
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    // At least 0.3 decade under the smallest figure keeps its bar visible;
    // 5x (0.7 decade, ~60 px) above the largest leaves room for the value
    // printed over its bar.
    let lo = decade_below(min * 0.5);
    let hi = decade_above(max * 5.0);
    let key_points = decades(lo, hi);
    let light: Vec<f64> = key_points
        .iter()
        .flat_map(|d| [2.0 * d, 5.0 * d])
        .filter(|v| *v < hi)
        .collect();

    // About 120 px per row keeps five bars and their labels apart.
    let width = (200 + n as u32 * 120).max(900);
    let title = "Requests per second, by row and tool (log scale)";
    let subtitle = format!(
        "FlickrKillr, {}: higher is better; one decade per grid line",
        run.name
    );
    svg_chart((width, 660), title, &subtitle, |root| {
        let mut entries: Vec<(Swatch, String)> = tools
            .iter()
            .map(|t| (Swatch::Box(tool_color(*t)), t.label().to_string()))
            .collect();
        if run.rows.iter().any(|r| !r.spec.talk_figures().is_empty()) {
            entries.push((Swatch::Dash, "the talk's figure (2007)".into()));
        }
        let body = legend_header(root, &entries)?;
        let y = (lo..hi)
            .log_scale()
            .with_key_points(key_points)
            .with_light_points(light);
        let mut chart = rps_plot(&body, n, y, 70)?;

        let k = tools.len().max(1);
        for (i, row) in run.rows.iter().enumerate() {
            let xc = i as f64;
            for (j, tool) in tools.iter().enumerate() {
                let span = bar_span(xc, j, k);
                match row.rps(*tool) {
                    Some(v) if v > 0.0 => {
                        value_bar(root, &mut chart, span, lo, v, tool_color(*tool))?;
                    }
                    _ if !row.spec.failed() => {
                        let (px, py) = chart.backend_coord(&((span.0 + span.1) / 2.0, lo));
                        draw_text(
                            root,
                            "—",
                            (px, py - 4),
                            text(11.0, MUTED, HPos::Center, VPos::Bottom),
                        )?;
                    }
                    _ => {}
                }
            }
            for talk in row.spec.talk_figures() {
                if talk >= lo && talk <= hi {
                    talk_dash(root, &chart, xc, talk)?;
                }
            }
            // The row's label under its group: the id on two lines, then
            // the talk's figure or the failure.
            let (px, py) = chart.backend_coord(&(xc, lo));
            let (first, second) = split_id(&row.spec.id);
            let line = |dy: i32| (px, py + dy);
            let style = text(13.0, INK, HPos::Center, VPos::Top);
            draw_text(root, first, line(8), style.clone())?;
            if !second.is_empty() {
                draw_text(root, second, line(25), style)?;
            }
            let figures: Vec<String> = row
                .spec
                .talk_figures()
                .iter()
                .map(|f| fmt_figure(*f))
                .collect();
            if !figures.is_empty() {
                draw_text(
                    root,
                    format!("talk: {}", figures.join(" / ")),
                    line(44),
                    text(12.0, MUTED, HPos::Center, VPos::Top),
                )?;
            }
            if row.spec.failed() {
                draw_text(
                    root,
                    "failed",
                    line(-30),
                    text(15.0, FAILED, HPos::Center, VPos::Bottom),
                )?;
            }
        }
        Ok(())
    })
}

/// `latest-phases.svg`: a horizontal bar per row, stacked by Server-Timing
/// phase (mean ms per request), the total printed at its end; on the right
/// each phase's share of its row.
pub fn phases_chart(run: &Run) -> Result<String, String> {
    let rows: Vec<_> = run.rows.iter().filter(|r| r.phases.is_some()).collect();
    // A phase that overlaps the others (gil-held) would count its time
    // twice in a stack.
    let names: Vec<String> = phase_names(run)
        .into_iter()
        .filter(|n| !super::cpu::overlaps_other_phases(n))
        .collect();
    let mut unknown = 0;
    let colors: Vec<(String, RGBColor)> = names
        .iter()
        .map(|n| {
            let c = phase_color(n, unknown);
            if !super::render::PHASE_ORDER.contains(&n.as_str()) {
                unknown += 1;
            }
            (n.clone(), c)
        })
        .collect();
    let bars = rows
        .iter()
        .filter_map(|r| {
            let (tool, phases) = r.phases.as_ref()?;
            let label = match tool {
                Tool::LoadgenRealistic => r.spec.id.clone(),
                _ => format!("{} *", r.spec.id),
            };
            let parts = colors
                .iter()
                .filter_map(|(n, c)| phases.get(n).filter(|v| **v > 0.0).map(|v| (*c, *v)))
                .collect();
            Some(StackedBar { label, parts })
        })
        .collect();
    Stacked {
        title: "Where the time goes: mean ms per request, by Server-Timing phase",
        subtitle: format!(
            "FlickrKillr, {}: realistic mix; * = single URL (no realistic run); time the app spent, not the network",
            run.name
        ),
        empty: "no loadgen JSON with Server-Timing in this run",
        legend: colors
            .iter()
            .map(|(n, c)| (Swatch::Box(*c), n.clone()))
            .collect(),
        bars,
        max_total: rows
            .iter()
            .filter_map(|r| r.phases.as_ref())
            .map(|(_, p)| super::cpu::additive_total(p))
            .fold(0.0, f64::max),
        amount_desc: "milliseconds per request",
        unit: "ms",
        share_desc: "share of the row's time",
    }
    .svg()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_split_for_two_line_labels() {
        assert_eq!(split_id("stage-4-noindex"), ("stage-4", "noindex"));
        assert_eq!(split_id("stage-1"), ("stage-1", ""));
        assert_eq!(
            split_id("ceiling-nginx-static"),
            ("ceiling", "nginx-static")
        );
        assert_eq!(split_id("calibration"), ("calibration", ""));
    }
}
