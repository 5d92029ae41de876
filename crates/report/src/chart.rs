//! `latest.svg` (req/s per row and tool, log scale) and `latest-phases.svg`
//! (mean ms per request, stacked by Server-Timing phase), drawn with
//! plotters' SVG backend.
//!
//! Labels, legends and value annotations are placed by hand: plotters'
//! automatic legend sits inside the plot (over the tallest bars, the ceilings
//! on the left), and row ids under a bar group need two lines to stay
//! readable at a width that fits a screen.

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::render::{fmt_ms, fmt_rps, phase_names};
use super::{Run, Tool};

/// Everything plotters reports is turned into a message.
pub(crate) fn e<E: std::fmt::Display>(err: E) -> String {
    err.to_string()
}

/// plotters' SVG backend writes `font-size` = size / 1.24; this gives the
/// size in pixels.
/// A chart's title and, under it, its subtitle, centred on a `w`-wide canvas.
pub(crate) fn titles(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    w: i32,
    title: &str,
    subtitle: &str,
) -> Result<(), String> {
    root.draw(&Text::new(
        title,
        (w / 2, 12),
        text(20.0, INK, HPos::Center, VPos::Top),
    ))
    .map_err(e)?;
    root.draw(&Text::new(
        subtitle,
        (w / 2, 40),
        text(13.0, MUTED, HPos::Center, VPos::Top),
    ))
    .map_err(e)?;
    Ok(())
}

pub(crate) fn text(px: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    ("sans-serif", px * 1.24)
        .into_font()
        .color(&color)
        .pos(Pos::new(h, v))
}

/// A rough width of `s` in pixels at `px` (sans-serif averages ~0.56 em);
/// only used to lay out legends, so erring wide is fine.
pub(crate) fn text_width(s: &str, px: f64) -> i32 {
    (s.chars().count() as f64 * px * 0.58).ceil() as i32
}

pub(crate) const INK: RGBColor = RGBColor(33, 33, 33);
pub(crate) const MUTED: RGBColor = RGBColor(110, 110, 110);
pub(crate) const FAILED: RGBColor = RGBColor(190, 30, 30);

/// Colours for series that have no fixed colour of their own (rows in the
/// latency chart, instances in a timeline): Okabe–Ito, then a few more.
pub(crate) fn series_color(i: usize) -> RGBColor {
    const ALL: [RGBColor; 10] = [
        RGBColor(0, 114, 178),
        RGBColor(213, 94, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(230, 159, 0),
        RGBColor(86, 180, 233),
        RGBColor(120, 120, 120),
        RGBColor(166, 118, 29),
        RGBColor(117, 112, 179),
        RGBColor(102, 166, 30),
    ];
    ALL[i % ALL.len()]
}

/// Okabe–Ito colours (readable with colour-blindness): loadgen warm, ab
/// blue, wrk green.
fn tool_color(t: Tool) -> RGBColor {
    match t {
        Tool::LoadgenRealistic => RGBColor(213, 94, 0),
        Tool::LoadgenSingle => RGBColor(230, 159, 0),
        Tool::AbKeepAlive => RGBColor(0, 114, 178),
        Tool::Ab => RGBColor(86, 180, 233),
        Tool::Wrk => RGBColor(0, 158, 115),
    }
}

/// A fixed colour per known phase, so a phase keeps its colour from run to
/// run; the fallback list covers phases added later.
fn phase_color(name: &str, unknown_index: usize) -> RGBColor {
    match name {
        "process" => RGBColor(204, 121, 167),
        "init" => RGBColor(240, 228, 66),
        "db-open" => RGBColor(213, 94, 0),
        "db-pool" => RGBColor(230, 159, 0),
        "gil-wait" => RGBColor(60, 60, 60),
        "python" => RGBColor(55, 118, 171),
        "route" => RGBColor(190, 190, 190),
        "parse" => RGBColor(150, 150, 150),
        "session" => RGBColor(86, 180, 233),
        "query" => RGBColor(0, 114, 178),
        "render" => RGBColor(0, 158, 115),
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

/// Black or white text, whichever reads better on `bg`.
pub(crate) fn readable_on(bg: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = bg;
    // Perceived brightness (ITU-R BT.601 weights).
    let y = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64;
    if y > 140.0 { INK } else { WHITE }
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

/// `1`, `10`, `100`, `1k`, … for the log axis.
pub(crate) fn compact(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{}M", v / 1e6),
        v if v >= 1e3 => format!("{}k", v / 1e3),
        v => format!("{v}"),
    }
}

/// The talk's figures as it gave them: `23`, `1,750`.
fn fmt_figure(x: f64) -> String {
    if x.fract() == 0.0 {
        loadgen::summary::thousands(x as u64)
    } else {
        x.to_string()
    }
}

/// One legend entry.
pub(crate) enum Swatch {
    Box(RGBColor),
    Dash,
    /// A line in this colour.
    Line(RGBColor),
    Dashed(RGBColor),
    /// A hollow dot.
    Hollow(RGBColor),
}

/// Draws legend entries left to right from (x, y), wrapping at `max_x`;
/// returns the y below the last line.
pub(crate) fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    entries: &[(Swatch, String)],
    x0: i32,
    y0: i32,
    max_x: i32,
) -> Result<i32, String> {
    const PX: f64 = 13.0;
    const LINE: i32 = 22;
    let (mut x, mut y) = (x0, y0);
    for (swatch, label) in entries {
        let w = 22 + text_width(label, PX) + 18;
        if x + w > max_x && x > x0 {
            x = x0;
            y += LINE;
        }
        match swatch {
            Swatch::Box(c) => area
                .draw(&Rectangle::new([(x, y - 7), (x + 14, y + 7)], c.filled()))
                .map_err(e)?,
            Swatch::Dash => area
                .draw(&PathElement::new(
                    vec![(x - 1, y), (x + 15, y)],
                    INK.stroke_width(3),
                ))
                .map_err(e)?,
            Swatch::Line(c) => area
                .draw(&PathElement::new(
                    vec![(x - 1, y), (x + 15, y)],
                    c.stroke_width(3),
                ))
                .map_err(e)?,
            Swatch::Dashed(c) => area
                .draw(&DashedPathElement::new(
                    vec![(x - 1, y), (x + 15, y)],
                    5,
                    3,
                    c.stroke_width(2),
                ))
                .map_err(e)?,
            Swatch::Hollow(c) => area
                .draw(&Circle::new((x + 7, y), 5, c.stroke_width(2)))
                .map_err(e)?,
        }
        area.draw(&Text::new(
            label.clone(),
            (x + 20, y),
            text(PX, INK, HPos::Left, VPos::Center),
        ))
        .map_err(e)?;
        x += w;
    }
    Ok(y + LINE)
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
    let lo = 10f64.powf((min * 0.5).log10().floor());
    let hi = 10f64.powf((max * 5.0).log10().ceil());
    let decades: Vec<f64> = {
        let mut d = Vec::new();
        let mut v = lo;
        while v <= hi * 1.0001 {
            d.push(v);
            v *= 10.0;
        }
        d
    };
    let light: Vec<f64> = decades
        .iter()
        .flat_map(|d| [2.0 * d, 5.0 * d])
        .filter(|v| *v < hi)
        .collect();

    // About 120 px per row keeps five bars and their labels apart.
    let width = (200 + n as u32 * 120).max(900);
    let height = 660u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let w = width as i32;
        titles(
            &root,
            w,
            "Requests per second, by row and tool (log scale)",
            &format!(
                "FlickrKillr, {}: higher is better; one decade per grid line",
                run.name
            ),
        )?;
        let mut entries: Vec<(Swatch, String)> = tools
            .iter()
            .map(|t| (Swatch::Box(tool_color(*t)), t.label().to_string()))
            .collect();
        if run.rows.iter().any(|r| !r.spec.talk_figures().is_empty()) {
            entries.push((Swatch::Dash, "the talk's figure (2007)".into()));
        }
        let legend_bottom = legend(&root, &entries, 90, 76, w - 20)?;

        let (_, body) = root.split_vertically(legend_bottom);
        let mut chart = ChartBuilder::on(&body)
            .margin_left(10)
            .margin_right(24)
            .margin_top(8)
            .x_label_area_size(70)
            .y_label_area_size(78)
            .build_cartesian_2d(
                -0.5f64..n as f64 - 0.5,
                (lo..hi)
                    .log_scale()
                    .with_key_points(decades)
                    .with_light_points(light),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            // Row labels are drawn below, on two lines.
            .x_labels(0)
            .y_label_formatter(&|v| compact(*v))
            .y_desc("requests per second")
            .label_style(text(13.0, INK, HPos::Center, VPos::Center))
            .axis_desc_style(text(14.0, INK, HPos::Center, VPos::Center))
            .bold_line_style(BLACK.mix(0.18))
            .light_line_style(BLACK.mix(0.06))
            .draw()
            .map_err(e)?;

        let k = tools.len().max(1) as f64;
        // 84 % of a row's width for its bars, the rest separates the groups.
        let group = 0.84;
        let slot = group / k;
        for (i, row) in run.rows.iter().enumerate() {
            let xc = i as f64;
            for (j, tool) in tools.iter().enumerate() {
                let x0 = xc - group / 2.0 + j as f64 * slot + slot * 0.08;
                let x1 = x0 + slot * 0.84;
                let mid = (x0 + x1) / 2.0;
                match row.rps(*tool) {
                    Some(v) if v > 0.0 => {
                        chart
                            .draw_series(std::iter::once(Rectangle::new(
                                [(x0, lo), (x1, v)],
                                tool_color(*tool).filled(),
                            )))
                            .map_err(e)?;
                        let (px, py) = chart.backend_coord(&(mid, v));
                        root.draw(&Text::new(
                            fmt_rps(v),
                            (px, py - 4),
                            text(11.0, INK, HPos::Left, VPos::Center)
                                .transform(FontTransform::Rotate270),
                        ))
                        .map_err(e)?;
                    }
                    _ if !row.spec.failed() => {
                        let (px, py) = chart.backend_coord(&(mid, lo));
                        root.draw(&Text::new(
                            "—",
                            (px, py - 4),
                            text(11.0, MUTED, HPos::Center, VPos::Bottom),
                        ))
                        .map_err(e)?;
                    }
                    _ => {}
                }
            }
            for talk in row.spec.talk_figures() {
                if talk < lo || talk > hi {
                    continue;
                }
                let a = chart.backend_coord(&(xc - group / 2.0 - 0.03, talk));
                let b = chart.backend_coord(&(xc + group / 2.0 + 0.03, talk));
                // A white casing keeps the dash visible across a bar.
                root.draw(&PathElement::new(vec![a, b], WHITE.stroke_width(6)))
                    .map_err(e)?;
                root.draw(&PathElement::new(vec![a, b], INK.stroke_width(3)))
                    .map_err(e)?;
            }
            // The row's label under its group: the id on two lines, then
            // the talk's figure or the failure.
            let (px, py) = chart.backend_coord(&(xc, lo));
            let (first, second) = split_id(&row.spec.id);
            root.draw(&Text::new(
                first.to_string(),
                (px, py + 8),
                text(13.0, INK, HPos::Center, VPos::Top),
            ))
            .map_err(e)?;
            if !second.is_empty() {
                root.draw(&Text::new(
                    second.to_string(),
                    (px, py + 25),
                    text(13.0, INK, HPos::Center, VPos::Top),
                ))
                .map_err(e)?;
            }
            let figures: Vec<String> = row
                .spec
                .talk_figures()
                .iter()
                .map(|f| fmt_figure(*f))
                .collect();
            if !figures.is_empty() {
                root.draw(&Text::new(
                    format!("talk: {}", figures.join(" / ")),
                    (px, py + 44),
                    text(12.0, MUTED, HPos::Center, VPos::Top),
                ))
                .map_err(e)?;
            }
            if row.spec.failed() {
                let (fx, fy) = chart.backend_coord(&(xc, lo));
                root.draw(&Text::new(
                    "failed",
                    (fx, fy - 30),
                    text(15.0, FAILED, HPos::Center, VPos::Bottom),
                ))
                .map_err(e)?;
            }
        }
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// `latest-phases.svg`: a horizontal bar per row, stacked by Server-Timing
/// phase (mean ms per request), the total printed at its end.
pub fn phases_chart(run: &Run) -> Result<String, String> {
    let rows: Vec<_> = run.rows.iter().filter(|r| r.phases.is_some()).collect();
    // A phase that overlaps the others (gil-held) would count its time
    // twice in a stack.
    let names: Vec<String> = phase_names(run)
        .into_iter()
        .filter(|n| !super::cpu::overlaps_other_phases(n))
        .collect();
    let m = rows.len();
    let max_total = rows
        .iter()
        .filter_map(|r| r.phases.as_ref())
        .map(|(_, p)| super::cpu::additive_total(p))
        .fold(0.0, f64::max);
    // Room to the right of the longest bar for its total.
    let xmax = if max_total > 0.0 {
        max_total * 1.2
    } else {
        1.0
    };
    let width = 1200u32;
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
    let color_of = |name: &str| {
        colors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| *c)
            .unwrap_or(MUTED)
    };
    // Legend lines needed, to size the picture before drawing it.
    let legend_lines = {
        let (mut x, mut lines) = (0, 1);
        for n in &names {
            let w = 22 + text_width(n, 13.0) + 18;
            if x + w > width as i32 - 110 && x > 0 {
                x = 0;
                lines += 1;
            }
            x += w;
        }
        lines
    };
    let height = (150 + 22 * legend_lines + 46 * m.max(1)) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let w = width as i32;
        titles(
            &root,
            w,
            "Where the time goes: mean ms per request, by Server-Timing phase",
            &format!(
                "FlickrKillr, {}: realistic mix; * = single URL (no realistic run); time the app spent, not the network",
                run.name
            ),
        )?;
        if m == 0 {
            root.draw(&Text::new(
                "no loadgen JSON with Server-Timing in this run",
                (w / 2, height as i32 / 2),
                text(16.0, MUTED, HPos::Center, VPos::Center),
            ))
            .map_err(e)?;
            root.present().map_err(e)?;
            drop(root);
            return Ok(svg);
        }
        let entries: Vec<(Swatch, String)> = colors
            .iter()
            .map(|(n, c)| (Swatch::Box(*c), n.clone()))
            .collect();
        let legend_bottom = legend(&root, &entries, 90, 76, w - 20)?;
        let (_, body) = root.split_vertically(legend_bottom);
        // Left: milliseconds (how much); right: each phase's share of its
        // row (which phase dominates, even where the total is tiny).
        let (left, right) = body.split_horizontally((width as f64 * 0.6) as i32);
        let labels: Vec<String> = rows
            .iter()
            .map(|r| match &r.phases {
                Some((Tool::LoadgenRealistic, _)) => r.spec.id.clone(),
                _ => format!("{} *", r.spec.id),
            })
            .collect();
        // Row 0 at the top.
        let y_of = |i: usize| (m - 1 - i) as f64;
        let mut ms = ChartBuilder::on(&left)
            .margin_left(10)
            .margin_right(20)
            .margin_top(6)
            .x_label_area_size(50)
            .y_label_area_size(170)
            .build_cartesian_2d(0f64..xmax, -0.5f64..m as f64 - 0.5)
            .map_err(e)?;
        ms.configure_mesh()
            .disable_y_mesh()
            // Row labels are drawn below, one per bar.
            .y_labels(0)
            .x_labels(8)
            .max_light_lines(1)
            .x_label_formatter(&|v| fmt_ms(*v))
            .x_desc("milliseconds per request")
            .label_style(text(13.0, INK, HPos::Center, VPos::Center))
            .axis_desc_style(text(14.0, INK, HPos::Center, VPos::Center))
            .bold_line_style(BLACK.mix(0.15))
            .light_line_style(BLACK.mix(0.05))
            .draw()
            .map_err(e)?;
        let mut share = ChartBuilder::on(&right)
            .margin_left(16)
            .margin_right(30)
            .margin_top(6)
            .x_label_area_size(50)
            .y_label_area_size(8)
            .build_cartesian_2d(0f64..100.0, -0.5f64..m as f64 - 0.5)
            .map_err(e)?;
        share
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(6)
            .max_light_lines(1)
            .x_label_formatter(&|v| format!("{v:.0}%"))
            .x_desc("share of the row's time")
            .label_style(text(13.0, INK, HPos::Center, VPos::Center))
            .axis_desc_style(text(14.0, INK, HPos::Center, VPos::Center))
            .bold_line_style(BLACK.mix(0.15))
            .light_line_style(BLACK.mix(0.05))
            .draw()
            .map_err(e)?;
        for (i, row) in rows.iter().enumerate() {
            let Some((_, phases)) = &row.phases else {
                continue;
            };
            let y = y_of(i);
            let (lx, ly) = ms.backend_coord(&(0.0, y));
            root.draw(&Text::new(
                labels[i].clone(),
                (lx - 10, ly),
                text(13.0, INK, HPos::Right, VPos::Center),
            ))
            .map_err(e)?;
            let parts: Vec<(&String, f64)> = names
                .iter()
                .filter_map(|n| phases.get(n).filter(|v| **v > 0.0).map(|v| (n, *v)))
                .collect();
            let total: f64 = parts.iter().map(|(_, v)| v).sum();
            let mut x = 0.0;
            for (name, v) in &parts {
                ms.draw_series(std::iter::once(Rectangle::new(
                    [(x, y - 0.32), (x + v, y + 0.32)],
                    color_of(name).filled(),
                )))
                .map_err(e)?;
                x += v;
            }
            let (px, py) = ms.backend_coord(&(total, y));
            root.draw(&Text::new(
                format!("{} ms", fmt_ms(total)),
                (px + 6, py),
                text(12.0, INK, HPos::Left, VPos::Center),
            ))
            .map_err(e)?;
            if total <= 0.0 {
                continue;
            }
            let mut x = 0.0;
            for (name, v) in &parts {
                let pct = v / total * 100.0;
                let c = color_of(name);
                share
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, y - 0.32), (x + pct, y + 0.32)],
                        c.filled(),
                    )))
                    .map_err(e)?;
                // Name the big parts in place (a 10 % part is ~45 px wide).
                if pct >= 10.0 {
                    let (cx, cy) = share.backend_coord(&(x + pct / 2.0, y));
                    root.draw(&Text::new(
                        format!("{pct:.0}%"),
                        (cx, cy),
                        text(12.0, readable_on(c), HPos::Center, VPos::Center),
                    ))
                    .map_err(e)?;
                }
                x += pct;
            }
        }
        root.present().map_err(e)?;
    }
    Ok(svg)
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
        assert_eq!(compact(1000.0), "1k");
        assert_eq!(compact(100000.0), "100k");
        assert_eq!(compact(10.0), "10");
    }
}
