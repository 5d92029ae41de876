//! What the report's charts draw alike, so that each chart module keeps
//! only its own data, colours and labels: the canvas with its title and
//! subtitle, text and colours, the legend, the look of a grid, and the two
//! layouts more than one chart uses — bar groups on a log req/s axis
//! (`latest.svg`, `latest-language.svg`) and horizontal bars stacked by
//! part beside their shares (`latest-phases.svg`, `latest-cpu.svg`).
//!
//! Labels, legends and value annotations are placed by hand: plotters'
//! automatic legend sits inside the plot (over the tallest bars, the ceilings
//! on the left), and row ids under a bar group need two lines to stay
//! readable at a width that fits a screen.

use std::borrow::Borrow;

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::fmt::{fmt_ms, fmt_rps};

/// Everything plotters reports is turned into a message.
pub(crate) fn e<E: std::fmt::Display>(err: E) -> String {
    err.to_string()
}

/// A chart's canvas, in pixels from its top left corner.
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// The SVG of a `width` × `height` px chart: a white canvas, `title` and
/// under it `subtitle` centred on top, then what `draw` puts on it.
pub(crate) fn svg_chart(
    (width, height): (u32, u32),
    title: &str,
    subtitle: &str,
    draw: impl FnOnce(&Area<'_>) -> Result<(), String>,
) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let w = width as i32;
        draw_text(
            &root,
            title,
            (w / 2, 12),
            text(20.0, INK, HPos::Center, VPos::Top),
        )?;
        draw_text(
            &root,
            subtitle,
            (w / 2, 40),
            text(13.0, MUTED, HPos::Center, VPos::Top),
        )?;
        draw(&root)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// plotters' SVG backend writes `font-size` = size / 1.24; this gives the
/// size in pixels.
pub(crate) fn text(px: f64, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    ("sans-serif", px * 1.24)
        .into_font()
        .color(&color)
        .pos(Pos::new(h, v))
}

/// Draws `s` at `at` (pixels of `area`), placed by `style`'s anchor.
pub(crate) fn draw_text(
    area: &Area<'_>,
    s: impl Borrow<str>,
    at: (i32, i32),
    style: TextStyle<'_>,
) -> Result<(), String> {
    area.draw(&Text::new(s, at, style)).map_err(e)
}

/// `note` in the middle of `area`: what a chart says instead when it has
/// nothing to draw.
pub(crate) fn note_in_middle(area: &Area<'_>, note: &str) -> Result<(), String> {
    let (w, h) = area.dim_in_pixel();
    draw_text(
        area,
        note,
        (w as i32 / 2, h as i32 / 2),
        text(16.0, MUTED, HPos::Center, VPos::Center),
    )
}

/// A rough width of `s` in pixels at `px` (sans-serif averages ~0.56 em);
/// only used to lay out legends, so erring wide is fine.
pub(crate) fn text_width(s: &str, px: f64) -> i32 {
    (s.chars().count() as f64 * px * 0.58).ceil() as i32
}

pub(crate) const INK: RGBColor = RGBColor(33, 33, 33);
pub(crate) const MUTED: RGBColor = RGBColor(110, 110, 110);
pub(crate) const FAILED: RGBColor = RGBColor(190, 30, 30);

/// The Okabe–Ito palette, told apart with the common kinds of colour
/// blindness too: the charts' first choice, so that a colour seen in one
/// chart (loadgen's vermillion in `latest.svg`, the load tool's in
/// `latest-cpu.svg`) is the same in the next.
pub(crate) mod okabe_ito {
    use plotters::style::RGBColor;

    pub(crate) const ORANGE: RGBColor = RGBColor(230, 159, 0);
    pub(crate) const SKY_BLUE: RGBColor = RGBColor(86, 180, 233);
    pub(crate) const BLUISH_GREEN: RGBColor = RGBColor(0, 158, 115);
    pub(crate) const YELLOW: RGBColor = RGBColor(240, 228, 66);
    pub(crate) const BLUE: RGBColor = RGBColor(0, 114, 178);
    pub(crate) const VERMILLION: RGBColor = RGBColor(213, 94, 0);
    pub(crate) const REDDISH_PURPLE: RGBColor = RGBColor(204, 121, 167);
}

/// Colours for series that have no fixed colour of their own (rows in the
/// latency chart, instances in a timeline): Okabe–Ito, then a few more.
pub(crate) fn series_color(i: usize) -> RGBColor {
    const ALL: [RGBColor; 10] = [
        okabe_ito::BLUE,
        okabe_ito::VERMILLION,
        okabe_ito::BLUISH_GREEN,
        okabe_ito::REDDISH_PURPLE,
        okabe_ito::ORANGE,
        okabe_ito::SKY_BLUE,
        RGBColor(120, 120, 120),
        RGBColor(166, 118, 29),
        RGBColor(117, 112, 179),
        RGBColor(102, 166, 30),
    ];
    ALL[i % ALL.len()]
}

/// Black or white text, whichever reads better on `bg`.
pub(crate) fn readable_on(bg: RGBColor) -> RGBColor {
    let RGBColor(r, g, b) = bg;
    // Perceived brightness (ITU-R BT.601 weights).
    let y = 0.299 * r as f64 + 0.587 * g as f64 + 0.114 * b as f64;
    if y > 140.0 { INK } else { WHITE }
}

/// `1`, `10`, `100`, `1k`, … for a log axis.
pub(crate) fn compact(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{}M", v / 1e6),
        v if v >= 1e3 => format!("{}k", v / 1e3),
        v => format!("{v}"),
    }
}

/// The power of ten at or below `x`: where a log axis under `x` starts.
pub(crate) fn decade_below(x: f64) -> f64 {
    10f64.powf(x.log10().floor())
}

/// The power of ten at or above `x`: where a log axis over `x` ends.
pub(crate) fn decade_above(x: f64) -> f64 {
    10f64.powf(x.log10().ceil())
}

/// `lo`, 10 × `lo`, … up to `hi`: a log axis's grid lines, one a decade.
pub(crate) fn decades(lo: f64, hi: f64) -> Vec<f64> {
    let mut d = Vec::new();
    let mut v = lo;
    while v <= hi * 1.0001 {
        d.push(v);
        v *= 10.0;
    }
    d
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

/// A legend's text size and line height, px.
const LEGEND_PX: f64 = 13.0;
const LEGEND_LINE: i32 = 22;

/// Where each entry of a legend laid out from `x0`, wrapping at `max_x`,
/// stands: its x and its line (0 for the first).
fn legend_layout(entries: &[(Swatch, String)], x0: i32, max_x: i32) -> Vec<(i32, i32)> {
    let (mut x, mut line) = (x0, 0);
    let mut out = Vec::new();
    for (_, label) in entries {
        let w = 22 + text_width(label, LEGEND_PX) + 18;
        if x + w > max_x && x > x0 {
            x = x0;
            line += 1;
        }
        out.push((x, line));
        x += w;
    }
    out
}

/// Draws legend entries left to right from (x, y), wrapping at `max_x`;
/// returns the y below the last line.
pub(crate) fn legend(
    area: &Area<'_>,
    entries: &[(Swatch, String)],
    x0: i32,
    y0: i32,
    max_x: i32,
) -> Result<i32, String> {
    let layout = legend_layout(entries, x0, max_x);
    for ((swatch, label), (x, line)) in entries.iter().zip(&layout) {
        let (x, y) = (*x, y0 + LEGEND_LINE * line);
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
        draw_text(
            area,
            label.as_str(),
            (x + 20, y),
            text(LEGEND_PX, INK, HPos::Left, VPos::Center),
        )?;
    }
    let lines = layout.last().map_or(1, |(_, line)| line + 1);
    Ok(y0 + LEGEND_LINE * lines)
}

/// The legend under a chart's titles (from x = 90 px, where the plots'
/// axes start, to 20 px from the right edge).
const HEADER_LEGEND: (i32, i32) = (90, 76);

/// Draws the legend under the titles of `root`; returns the area below it,
/// for the plot.
pub(crate) fn legend_header<'a>(
    root: &Area<'a>,
    entries: &[(Swatch, String)],
) -> Result<Area<'a>, String> {
    let (x0, y0) = HEADER_LEGEND;
    let max_x = root.dim_in_pixel().0 as i32 - 20;
    let bottom = legend(root, entries, x0, y0, max_x)?;
    Ok(root.split_vertically(bottom).1)
}

/// How many lines the legend under the titles of a `width` px wide chart
/// takes: to size a chart before drawing it.
fn header_legend_lines(entries: &[(Swatch, String)], width: u32) -> usize {
    let layout = legend_layout(entries, HEADER_LEGEND.0, width as i32 - 20);
    layout.last().map_or(1, |(_, line)| *line as usize + 1)
}

/// How a plot's axis text and grid lines look.
pub(crate) struct Grid {
    /// Tick labels and axis descriptions, px.
    label_px: f64,
    desc_px: f64,
    /// The opacity of the labelled lines and of the ones between.
    bold: f64,
    light: f64,
}

/// Bar charts: the grid a little darker, where bars hide most of it.
pub(crate) const BAR_GRID: Grid = Grid {
    label_px: 13.0,
    desc_px: 14.0,
    bold: 0.18,
    light: 0.06,
};

/// Lines and horizontal bars.
pub(crate) const GRID: Grid = Grid {
    label_px: 13.0,
    desc_px: 14.0,
    bold: 0.15,
    light: 0.05,
};

/// A timeline's panels: five plots one above the other, so smaller text
/// and a fainter grid.
pub(crate) const PANEL_GRID: Grid = Grid {
    label_px: 12.0,
    desc_px: 13.0,
    bold: 0.12,
    light: 0.04,
};

impl Grid {
    /// `chart`'s mesh in this look; the caller adds its labels and draws
    /// it.
    pub(crate) fn mesh<'a, 'b, DB, X, Y>(
        &self,
        chart: &'b mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    ) -> MeshStyle<'a, 'b, X, Y, DB>
    where
        DB: DrawingBackend,
        X: Ranged + ValueFormatter<X::ValueType>,
        Y: Ranged + ValueFormatter<Y::ValueType>,
    {
        let mut mesh = chart.configure_mesh();
        mesh.label_style(text(self.label_px, INK, HPos::Center, VPos::Center))
            .axis_desc_style(text(self.desc_px, INK, HPos::Center, VPos::Center))
            .bold_line_style(BLACK.mix(self.bold))
            .light_line_style(BLACK.mix(self.light));
        mesh
    }
}

// ---- bar groups on a log req/s axis (latest.svg, latest-language.svg) ----

/// The plot of a bar-group chart: groups along x, req/s on a log y axis.
pub(crate) type BarPlot<'a, Y> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>;

/// The share of a group's width its bars take; the rest separates the
/// groups.
const GROUP: f64 = 0.84;

/// The plot under the legend: a group of bars at each x from 0 to
/// `groups` − 1, req/s on the log axis `y`. The groups' labels are the
/// caller's, drawn in the `label_area` px under the plot.
pub(crate) fn rps_plot<'a, Y>(
    body: &Area<'a>,
    groups: usize,
    y: Y,
    label_area: u32,
) -> Result<BarPlot<'a, Y::CoordDescType>, String>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut plot = ChartBuilder::on(body)
        .margin_left(10)
        .margin_right(24)
        .margin_top(8)
        .x_label_area_size(label_area)
        .y_label_area_size(78)
        .build_cartesian_2d(-0.5f64..groups as f64 - 0.5, y)
        .map_err(e)?;
    BAR_GRID
        .mesh(&mut plot)
        .disable_x_mesh()
        // The groups' labels are drawn by hand, on two lines.
        .x_labels(0)
        .y_label_formatter(&|v| compact(*v))
        .y_desc("requests per second")
        .draw()
        .map_err(e)?;
    Ok(plot)
}

/// Bar `j` of the `k` in the group at `xc`: its left and right.
pub(crate) fn bar_span(xc: f64, j: usize, k: usize) -> (f64, f64) {
    let slot = GROUP / k as f64;
    let x0 = xc - GROUP / 2.0 + j as f64 * slot + slot * 0.08;
    (x0, x0 + slot * 0.84)
}

/// A bar over `span` from `lo`, the bottom of the axis, up to `v`, with
/// the value above it (turned, to fit over a narrow bar).
pub(crate) fn value_bar<Y: Ranged<ValueType = f64>>(
    root: &Area<'_>,
    plot: &mut BarPlot<'_, Y>,
    (x0, x1): (f64, f64),
    lo: f64,
    v: f64,
    color: RGBColor,
) -> Result<(), String> {
    plot.draw_series(std::iter::once(Rectangle::new(
        [(x0, lo), (x1, v)],
        color.filled(),
    )))
    .map_err(e)?;
    let (px, py) = plot.backend_coord(&((x0 + x1) / 2.0, v));
    draw_text(
        root,
        fmt_rps(v),
        (px, py - 4),
        text(11.0, INK, HPos::Left, VPos::Center).transform(FontTransform::Rotate270),
    )
}

/// The talk's figure `talk` as a black dash across the group at `xc`.
pub(crate) fn talk_dash<Y: Ranged<ValueType = f64>>(
    root: &Area<'_>,
    plot: &BarPlot<'_, Y>,
    xc: f64,
    talk: f64,
) -> Result<(), String> {
    let a = plot.backend_coord(&(xc - GROUP / 2.0 - 0.03, talk));
    let b = plot.backend_coord(&(xc + GROUP / 2.0 + 0.03, talk));
    // A white casing keeps the dash visible across a bar.
    root.draw(&PathElement::new(vec![a, b], WHITE.stroke_width(6)))
        .map_err(e)?;
    root.draw(&PathElement::new(vec![a, b], INK.stroke_width(3)))
        .map_err(e)
}

// ---- stacked bars beside their shares (latest-phases.svg, latest-cpu.svg) ----

/// One bar of a [`Stacked`] chart.
pub(crate) struct StackedBar {
    /// Left of the bar.
    pub(crate) label: String,
    /// Left to right: (colour, amount), every amount positive.
    pub(crate) parts: Vec<(RGBColor, f64)>,
}

/// A chart of horizontal bars, the first on top, each stacked by part:
/// on the left the amounts (how much), on the right each part's share of
/// its bar (which part dominates, even where the total is tiny).
pub(crate) struct Stacked<'s> {
    pub(crate) title: &'s str,
    pub(crate) subtitle: String,
    /// Said instead of the plots when there are no bars.
    pub(crate) empty: &'s str,
    pub(crate) legend: Vec<(Swatch, String)>,
    pub(crate) bars: Vec<StackedBar>,
    /// The longest bar's total: the amounts' axis leaves room right of it
    /// for the figure.
    pub(crate) max_total: f64,
    /// The amounts' axis, and the unit after each bar's total (`ms`).
    pub(crate) amount_desc: &'s str,
    pub(crate) unit: &'s str,
    /// The shares' axis.
    pub(crate) share_desc: &'s str,
}

impl Stacked<'_> {
    pub(crate) fn svg(&self) -> Result<String, String> {
        let width = 1200u32;
        let m = self.bars.len();
        let lines = header_legend_lines(&self.legend, width);
        let height = (150 + 22 * lines + 46 * m.max(1)) as u32;
        let xmax = if self.max_total > 0.0 {
            self.max_total * 1.2
        } else {
            1.0
        };
        svg_chart((width, height), self.title, &self.subtitle, |root| {
            if m == 0 {
                return note_in_middle(root, self.empty);
            }
            let body = legend_header(root, &self.legend)?;
            let (left, right) = body.split_horizontally((width as f64 * 0.6) as i32);
            // The first bar on top.
            let y_of = |i: usize| (m - 1 - i) as f64;
            let mut amount = ChartBuilder::on(&left)
                .margin_left(10)
                .margin_right(20)
                .margin_top(6)
                .x_label_area_size(50)
                .y_label_area_size(170)
                .build_cartesian_2d(0f64..xmax, -0.5f64..m as f64 - 0.5)
                .map_err(e)?;
            GRID.mesh(&mut amount)
                .disable_y_mesh()
                // The bars' labels are drawn by hand, one per bar.
                .y_labels(0)
                .x_labels(8)
                .max_light_lines(1)
                .x_label_formatter(&|v| fmt_ms(*v))
                .x_desc(self.amount_desc)
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
            GRID.mesh(&mut share)
                .disable_y_mesh()
                .y_labels(0)
                .x_labels(6)
                .max_light_lines(1)
                .x_label_formatter(&|v| format!("{v:.0}%"))
                .x_desc(self.share_desc)
                .draw()
                .map_err(e)?;
            for (i, bar) in self.bars.iter().enumerate() {
                let y = y_of(i);
                let (lx, ly) = amount.backend_coord(&(0.0, y));
                draw_text(
                    root,
                    bar.label.as_str(),
                    (lx - 10, ly),
                    text(13.0, INK, HPos::Right, VPos::Center),
                )?;
                let total: f64 = bar.parts.iter().map(|(_, v)| v).sum();
                let mut x = 0.0;
                for (c, v) in &bar.parts {
                    amount
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x, y - 0.32), (x + v, y + 0.32)],
                            c.filled(),
                        )))
                        .map_err(e)?;
                    x += v;
                }
                let (px, py) = amount.backend_coord(&(total, y));
                draw_text(
                    root,
                    format!("{} {}", fmt_ms(total), self.unit),
                    (px + 6, py),
                    text(12.0, INK, HPos::Left, VPos::Center),
                )?;
                if total <= 0.0 {
                    continue;
                }
                let mut x = 0.0;
                for (c, v) in &bar.parts {
                    let pct = v / total * 100.0;
                    share
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x, y - 0.32), (x + pct, y + 0.32)],
                            c.filled(),
                        )))
                        .map_err(e)?;
                    // Name the big parts in place (a 10 % part is ~45 px wide).
                    if pct >= 10.0 {
                        let (cx, cy) = share.backend_coord(&(x + pct / 2.0, y));
                        draw_text(
                            root,
                            format!("{pct:.0}%"),
                            (cx, cy),
                            text(12.0, readable_on(*c), HPos::Center, VPos::Center),
                        )?;
                    }
                    x += pct;
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axes_and_legends() {
        assert_eq!(compact(1000.0), "1k");
        assert_eq!(compact(100000.0), "100k");
        assert_eq!(compact(10.0), "10");
        assert_eq!(decade_below(23.0), 10.0);
        assert_eq!(decade_above(23.0), 100.0);
        assert_eq!(decades(10.0, 1000.0), [10.0, 100.0, 1000.0]);
        let entry = |s: &str| (Swatch::Dash, s.to_string());
        // 40 px of swatch and gaps plus the text: two fit in 240 px, not three.
        let wide = [entry("aaaaaaaaaa"), entry("bbbbbbbbbb"), entry("cc")];
        assert_eq!(legend_layout(&wide, 0, 240), [(0, 0), (116, 0), (0, 1)]);
        assert_eq!(header_legend_lines(&[], 1200), 1);
    }
}
