//! `latest-cpu.svg`: a horizontal bar per row, stacked by role (µs of CPU
//! per request, the rest of the machine last), from the realistic mix or,
//! without one, the single URL; on the right each role's share of the
//! row's machine time. Drawn like `latest-phases.svg` (the same helpers).

use cpuacct::Role;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::chart::{INK, MUTED, Swatch, e, legend, readable_on, text, titles};
use super::cpu::CpuCell;
use super::render::fmt_ms;
use super::{Run, Tool};

/// The mixes the chart shows, in order of preference.
const MIXES: [Tool; 2] = [Tool::LoadgenRealistic, Tool::LoadgenSingle];

/// One segment of a bar: a role, or the rest of the machine.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Role(Role),
    Rest,
}

impl Part {
    fn label(self) -> String {
        match self {
            Part::Role(r) => r.id().to_string(),
            Part::Rest => "rest of the machine".into(),
        }
    }

    /// A fixed colour per role (Okabe–Ito where it can), so a role keeps
    /// its colour from run to run; the load tool in the loadgen colour of
    /// `latest.svg`.
    fn color(self) -> RGBColor {
        match self {
            Part::Role(Role::Load) => RGBColor(213, 94, 0),
            Part::Role(Role::Nginx) => RGBColor(0, 158, 115),
            Part::Role(Role::Memcached) => RGBColor(117, 112, 179),
            Part::Role(Role::App) => RGBColor(0, 114, 178),
            Part::Role(Role::Supervisor) => RGBColor(150, 150, 150),
            Part::Role(Role::CgiHost) => RGBColor(230, 159, 0),
            Part::Role(Role::Cgi) => RGBColor(204, 121, 167),
            Part::Role(Role::Lighttpd) => RGBColor(86, 180, 233),
            Part::Role(Role::Other) => RGBColor(102, 102, 102),
            Part::Rest => RGBColor(215, 215, 215),
        }
    }
}

/// The cell each row is drawn from.
fn chart_cells(run: &Run) -> Vec<&CpuCell> {
    run.rows
        .iter()
        .filter_map(|r| run.cpu.preferred(&r.spec.id, &MIXES))
        .collect()
}

/// A row's positive parts, µs per request.
fn parts(c: &CpuCell, roles: &[Role]) -> Vec<(Part, f64)> {
    let mut v: Vec<(Part, f64)> = roles
        .iter()
        .filter_map(|r| c.role_us(*r).map(|us| (Part::Role(*r), us)))
        .collect();
    // A negative rest (roles charged a little more than the machine
    // counted) has no bar.
    if let Some(rest) = c.per_request_us(c.rest_s()) {
        v.push((Part::Rest, rest));
    }
    v.retain(|(_, us)| *us > 0.0);
    v
}

/// `latest-cpu.svg`.
pub fn cpu_chart(run: &Run) -> Result<String, String> {
    let cells = chart_cells(run);
    let roles = run.cpu.roles_seen();
    let m = cells.len();
    let max_total = cells
        .iter()
        .map(|c| parts(c, &roles).iter().map(|(_, v)| v).sum::<f64>())
        .fold(0.0, f64::max);
    let xmax = if max_total > 0.0 {
        max_total * 1.2
    } else {
        1.0
    };
    let width = 1200u32;
    let mut entries: Vec<(Swatch, String)> = roles
        .iter()
        .map(|r| (Swatch::Box(Part::Role(*r).color()), Part::Role(*r).label()))
        .collect();
    entries.push((Swatch::Box(Part::Rest.color()), Part::Rest.label()));
    let height = (150 + 22 + 46 * m.max(1)) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let w = width as i32;
        titles(
            &root,
            w,
            "Where the CPU goes: µs of CPU per request, by process role",
            &format!(
                "FlickrKillr, {}: realistic mix; * = single URL; rest = kernel work outside processes, other programs",
                run.name
            ),
        )?;
        if m == 0 {
            root.draw(&Text::new(
                "no <row>.<tool>.cpu.json with a req/s in this run",
                (w / 2, height as i32 / 2),
                text(16.0, MUTED, HPos::Center, VPos::Center),
            ))
            .map_err(e)?;
            root.present().map_err(e)?;
            drop(root);
            return Ok(svg);
        }
        let legend_bottom = legend(&root, &entries, 90, 76, w - 20)?;
        let (_, body) = root.split_vertically(legend_bottom);
        let (left, right) = body.split_horizontally((width as f64 * 0.6) as i32);
        let y_of = |i: usize| (m - 1 - i) as f64;
        let mut us = ChartBuilder::on(&left)
            .margin_left(10)
            .margin_right(20)
            .margin_top(6)
            .x_label_area_size(50)
            .y_label_area_size(170)
            .build_cartesian_2d(0f64..xmax, -0.5f64..m as f64 - 0.5)
            .map_err(e)?;
        us.configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(8)
            .max_light_lines(1)
            .x_label_formatter(&|v| fmt_ms(*v))
            .x_desc("µs of CPU per request (all processes, all cores)")
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
            .x_desc("share of the row's CPU")
            .label_style(text(13.0, INK, HPos::Center, VPos::Center))
            .axis_desc_style(text(14.0, INK, HPos::Center, VPos::Center))
            .bold_line_style(BLACK.mix(0.15))
            .light_line_style(BLACK.mix(0.05))
            .draw()
            .map_err(e)?;
        for (i, c) in cells.iter().enumerate() {
            let y = y_of(i);
            let label = match c.tool {
                Tool::LoadgenRealistic => c.row.clone(),
                _ => format!("{} *", c.row),
            };
            let (lx, ly) = us.backend_coord(&(0.0, y));
            root.draw(&Text::new(
                label,
                (lx - 10, ly),
                text(13.0, INK, HPos::Right, VPos::Center),
            ))
            .map_err(e)?;
            let parts = parts(c, &roles);
            let total: f64 = parts.iter().map(|(_, v)| v).sum();
            let mut x = 0.0;
            for (part, v) in &parts {
                us.draw_series(std::iter::once(Rectangle::new(
                    [(x, y - 0.32), (x + v, y + 0.32)],
                    part.color().filled(),
                )))
                .map_err(e)?;
                x += v;
            }
            let (px, py) = us.backend_coord(&(total, y));
            root.draw(&Text::new(
                format!("{} µs", fmt_ms(total)),
                (px + 6, py),
                text(12.0, INK, HPos::Left, VPos::Center),
            ))
            .map_err(e)?;
            if total <= 0.0 {
                continue;
            }
            let mut x = 0.0;
            for (part, v) in &parts {
                let pct = v / total * 100.0;
                let col = part.color();
                share
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x, y - 0.32), (x + pct, y + 0.32)],
                        col.filled(),
                    )))
                    .map_err(e)?;
                // Name the big parts in place (a 10 % part is ~45 px wide).
                if pct >= 10.0 {
                    let (cx, cy) = share.backend_coord(&(x + pct / 2.0, y));
                    root.draw(&Text::new(
                        format!("{pct:.0}%"),
                        (cx, cy),
                        text(12.0, readable_on(col), HPos::Center, VPos::Center),
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
