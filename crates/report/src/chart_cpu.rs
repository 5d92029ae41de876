//! `latest-cpu.svg`: a horizontal bar per row, stacked by role (µs of CPU
//! per request, the rest of the machine last), from the realistic mix or,
//! without one, the single URL; on the right each role's share of the
//! row's machine time. Drawn like `latest-phases.svg`, by the same layout
//! ([`super::chart_style::Stacked`]).

use plotters::prelude::*;
use runfiles::Role;

use super::chart_style::{Stacked, StackedBar, Swatch, okabe_ito};
use super::cpu::CpuCell;
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
            Part::Role(Role::Load) => okabe_ito::VERMILLION,
            Part::Role(Role::Nginx) => okabe_ito::BLUISH_GREEN,
            Part::Role(Role::Memcached) => RGBColor(117, 112, 179),
            Part::Role(Role::App) => okabe_ito::BLUE,
            Part::Role(Role::Supervisor) => RGBColor(150, 150, 150),
            Part::Role(Role::CgiHost) => okabe_ito::ORANGE,
            Part::Role(Role::Cgi) => okabe_ito::REDDISH_PURPLE,
            Part::Role(Role::Lighttpd) => okabe_ito::SKY_BLUE,
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
    let bars: Vec<StackedBar> = cells
        .iter()
        .map(|c| StackedBar {
            label: match c.tool {
                Tool::LoadgenRealistic => c.row.clone(),
                _ => format!("{} *", c.row),
            },
            parts: parts(c, &roles)
                .into_iter()
                .map(|(part, us)| (part.color(), us))
                .collect(),
        })
        .collect();
    let mut legend: Vec<(Swatch, String)> = roles
        .iter()
        .map(|r| (Swatch::Box(Part::Role(*r).color()), Part::Role(*r).label()))
        .collect();
    legend.push((Swatch::Box(Part::Rest.color()), Part::Rest.label()));
    Stacked {
        title: "Where the CPU goes: µs of CPU per request, by process role",
        subtitle: format!(
            "FlickrKillr, {}: realistic mix; * = single URL; rest = kernel work outside processes, other programs",
            run.name
        ),
        empty: "no <row>.<tool>.cpu.json with a req/s in this run",
        legend,
        max_total: bars
            .iter()
            .map(|b| b.parts.iter().map(|(_, v)| v).sum::<f64>())
            .fold(0.0, f64::max),
        bars,
        amount_desc: "µs of CPU per request (all processes, all cores)",
        unit: "µs",
        share_desc: "share of the row's CPU",
    }
    .svg()
}
