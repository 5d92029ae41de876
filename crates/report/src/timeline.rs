//! Timeline charts: one loadgen `--timeline` run, second by second, with
//! what was done to the site during it (an instance killed, memcached
//! restarted) marked where it happened.
//!
//! Totals average a failure away: an instance killed for a fifth of a
//! second costs a 10 s run 2% of its req/s and says nothing of who was
//! logged out. Second by second, the dip, the errors, the latency spike,
//! the hit ratio's fall and recovery and the traffic moving from one
//! instance to another are each visible, next to the event that caused
//! them.
//!
//! Inputs: a loadgen JSON with a `timeline` and, optionally, an events file
//! (TSV, `t_s<TAB>label` per line, `t_s` in seconds from the end of the
//! warm-up like the samples, or `@UNIX<TAB>label` with the Unix time a
//! script took with `date +%s.%N`, placed by the JSON's
//! `timeline_zero_unix_s`; blank lines, `#` comments and a `t_s` header
//! line are skipped). In RAW_DIR: `<name>.timeline.json` and
//! `<name>.events.tsv`, charted as `<name>-timeline.svg`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use runfiles::Sample;

use super::Run;
use super::chart_style::{
    Area, FAILED, INK, MUTED, PANEL_GRID, Swatch, decade_above, decade_below, draw_text, e, legend,
    okabe_ito, series_color, svg_chart, text, text_width,
};
use super::fmt::{fmt_ms, fmt_rps};

/// A loadgen run with a timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRun {
    pub url: String,
    pub mix: String,
    /// Open loop: the offered rate.
    pub rate: Option<f64>,
    pub concurrency: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    pub samples: Vec<Sample>,
    /// Unix time of `t_s = 0` (loadgen's `timeline_zero_unix_s`).
    pub zero_unix_s: Option<f64>,
}

/// A loadgen `--json` file written with `--timeline`.
pub fn parse(text: &str) -> Result<TimelineRun, String> {
    let j = runfiles::Summary::from_json(text)?;
    let samples = j
        .timeline
        .filter(|t| !t.is_empty())
        .ok_or("no timeline (run loadgen with --timeline)")?;
    Ok(TimelineRun {
        url: j.url,
        mix: j.mix,
        rate: j.rate,
        concurrency: j.concurrency,
        warmup_s: j.warmup_s,
        duration_s: j.duration_s,
        samples,
        zero_unix_s: j.timeline_zero_unix_s,
    })
}

/// Something done to the site during a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Seconds from the end of the warm-up.
    pub t_s: f64,
    pub label: String,
}

/// An events file; the events sorted by time. `zero_unix_s` (the run's
/// `timeline_zero_unix_s`) places `@UNIX` times.
pub fn parse_events(text: &str, zero_unix_s: Option<f64>) -> Result<Vec<Event>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (t, label) = line.split_once('\t').unwrap_or((line, ""));
        let (absolute, number) = match t.trim().strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, t.trim()),
        };
        match number.parse::<f64>() {
            Ok(x) if x.is_finite() => {
                let t_s = match (absolute, zero_unix_s) {
                    (false, _) => x,
                    (true, Some(zero)) => ((x - zero) * 1000.0).round() / 1000.0,
                    (true, None) => {
                        return Err(format!(
                            "line {}: {t:?} is a Unix time, and the run has no \
                             timeline_zero_unix_s to place it (loadgen before it had one?)",
                            n + 1
                        ));
                    }
                };
                out.push(Event {
                    t_s,
                    label: label.trim().to_string(),
                });
            }
            _ if t.trim() == "t_s" => {}
            _ => {
                return Err(format!(
                    "line {}: {t:?} is not a time in seconds (want t_s<TAB>label or @UNIX<TAB>label)",
                    n + 1
                ));
            }
        }
    }
    out.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    Ok(out)
}

/// A timeline found in RAW_DIR.
#[derive(Debug, Clone)]
pub struct Found {
    /// `<name>` of `<name>.timeline.json`.
    pub name: String,
    pub run: Result<TimelineRun, String>,
    /// From `<name>.events.tsv`, if there is one.
    pub events: Option<Result<Vec<Event>, String>>,
}

impl Found {
    /// The chart's file name: `<name>-timeline.svg`.
    pub fn svg_name(&self) -> String {
        svg_name(&self.name)
    }

    /// The events, or none when the file is missing or unreadable.
    pub fn events(&self) -> &[Event] {
        match &self.events {
            Some(Ok(ev)) => ev,
            _ => &[],
        }
    }
}

pub fn svg_name(name: &str) -> String {
    format!("{name}-timeline.svg")
}

/// Every `<name>.timeline.json` among `names` (RAW_DIR's files, sorted).
pub fn find(raw_dir: &Path, names: &[String]) -> Vec<Found> {
    let read = |name: &str| {
        std::fs::read(raw_dir.join(name)).map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    names
        .iter()
        .filter_map(|n| n.strip_suffix(".timeline.json"))
        .filter(|n| !n.is_empty())
        .map(|name| {
            let run = read(&format!("{name}.timeline.json"))
                .map_err(|e| e.to_string())
                .and_then(|t| parse(&t));
            let zero = run.as_ref().ok().and_then(|r| r.zero_unix_s);
            Found {
                name: name.to_string(),
                events: read(&format!("{name}.events.tsv"))
                    .ok()
                    .map(|t| parse_events(&t, zero)),
                run,
            }
        })
        .collect()
}

/// Where second `s` starts on the time axis (the first one may start
/// inside its second: a warm-up that is not a whole number of seconds).
fn start(s: &Sample, warmup_s: f64) -> f64 {
    (s.t_s as f64).max(-warmup_s)
}

/// The colour of requests per second.
pub const RPS_COLOR: RGBColor = okabe_ito::BLUE;
/// p99 (p50 is drawn dashed in [`P50_COLOR`]).
pub const P99_COLOR: RGBColor = okabe_ito::VERMILLION;
pub const P50_COLOR: RGBColor = okabe_ito::ORANGE;
pub const HIT_COLOR: RGBColor = okabe_ito::BLUISH_GREEN;

/// An error kind's name and colour, in the stacking order.
fn error_kinds(samples: &[Sample]) -> Vec<(String, RGBColor)> {
    let mut kinds: Vec<(String, RGBColor)> = [
        ("connect", okabe_ito::REDDISH_PURPLE),
        ("write", RGBColor(117, 112, 179)),
        ("read", okabe_ito::ORANGE),
        ("timeout", FAILED),
        ("parse", RGBColor(120, 120, 120)),
    ]
    .into_iter()
    .filter(|(k, _)| samples.iter().any(|s| error_count(s, k) > 0))
    .map(|(k, c)| (k.to_string(), c))
    .collect();
    let mut codes: Vec<&String> = samples
        .iter()
        .flat_map(|s| s.errors.status.keys())
        .collect();
    codes.sort();
    codes.dedup();
    for (i, code) in codes.into_iter().enumerate() {
        kinds.push((format!("status {code}"), series_color(i + 3)));
    }
    kinds
}

fn error_count(s: &Sample, kind: &str) -> u64 {
    let e = &s.errors;
    match kind {
        "connect" => e.connect,
        "write" => e.write,
        "read" => e.read,
        "timeout" => e.timeout,
        "parse" => e.parse,
        other => other
            .strip_prefix("status ")
            .and_then(|c| e.status.get(c))
            .copied()
            .unwrap_or(0),
    }
}

/// `X-Served-By` values in the order they first answered.
fn instances(samples: &[Sample]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in samples {
        // Within a second, the busiest first.
        let mut here: Vec<(&String, &u64)> = s.served_by.iter().collect();
        here.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (name, _) in here {
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
    }
    out
}

/// Splits `points` where `None` is, so a line has a gap for a second
/// without data instead of a slope across it.
fn runs_of(points: Vec<Option<(i32, i32)>>) -> Vec<Vec<(i32, i32)>> {
    let mut out = vec![Vec::new()];
    for p in points {
        match p {
            Some(p) => out.last_mut().expect("never empty").push(p),
            None if out.last().is_some_and(|l| !l.is_empty()) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|l| !l.is_empty());
    out
}

/// Draws a panel's name and legend in its top strip; returns nothing.
fn panel_header(
    root: &Area<'_>,
    area: &Area<'_>,
    name: &str,
    entries: &[(Swatch, String)],
) -> Result<(), String> {
    let (x, y) = area.get_base_pixel();
    draw_text(
        root,
        name,
        (x + 90, y + 12),
        text(14.0, INK, HPos::Left, VPos::Center),
    )?;
    let from = x + 90 + text_width(name, 14.0) + 24;
    let (w, _) = area.dim_in_pixel();
    legend(root, entries, from, y + 12, x + w as i32 - 20)?;
    Ok(())
}

/// The plot of a panel with a linear y axis.
type Plot<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A second's bar: its part of the time axis, a little narrower.
fn bar(x: &Sample, warmup_s: f64) -> (f64, f64) {
    let a = start(x, warmup_s);
    let pad = (x.span_s * 0.08).min(0.08);
    (a + pad, a + x.span_s - pad)
}

/// A bar per second in `c`, stacked from 0 by `parts` (value, colour),
/// the zero parts left out.
fn stacked_seconds(
    root: &Area<'_>,
    c: &Plot<'_>,
    run: &TimelineRun,
    parts: impl Fn(&Sample) -> Vec<(f64, RGBColor)>,
) -> Result<(), String> {
    for x in &run.samples {
        let (a, b) = bar(x, run.warmup_s);
        let mut y = 0.0;
        for (v, color) in parts(x) {
            if v > 0.0 {
                root.draw(&Rectangle::new(
                    [c.backend_coord(&(a, y + v)), c.backend_coord(&(b, y))],
                    color.filled(),
                ))
                .map_err(e)?;
                y += v;
            }
        }
    }
    Ok(())
}

/// `note` across the middle of `c` at height `y`, where the run had
/// nothing to plot.
fn panel_note(root: &Area<'_>, c: &Plot<'_>, y: f64, note: &str) -> Result<(), String> {
    let x = c.x_range();
    draw_text(
        root,
        note,
        c.backend_coord(&((x.start + x.end) / 2.0, y)),
        text(13.0, MUTED, HPos::Center, VPos::Center),
    )
}

/// The SVG of one timeline: req/s, errors per second by kind, p50/p99,
/// the X-Cache hit ratio and the X-Served-By split, one panel each over the
/// same time axis; the warm-up shaded; `events` as labelled vertical lines.
pub fn chart(run: &TimelineRun, events: &[Event], title: &str) -> Result<String, String> {
    let (x_lo, x_hi) = time_range(run, events);
    let width = 1100u32;
    // Header, events strip, then five panels.
    let strip_rows = events.len().clamp(1, 6) as i32;
    let header = 64 + 18 * strip_rows + 10;
    let panels: [u32; 5] = [190, 140, 190, 130, 190];
    let height = header as u32 + panels.iter().sum::<u32>() + 20;
    let mode = match run.rate {
        Some(r) => format!("open loop at {} req/s", fmt_rps(r)),
        None => "closed loop".into(),
    };
    let subtitle = format!(
        "{} · mix {} · {mode}, {} connections · {} s warm-up (shaded), {} s measured · one point per second",
        run.url, run.mix, run.concurrency, run.warmup_s, run.duration_s
    );
    svg_chart((width, height), title, &subtitle, |root| {
        let (_, rest) = root.split_vertically(header);
        let mut areas = Vec::new();
        let mut rest = rest;
        for h in panels {
            let (a, b) = rest.split_vertically(h as i32);
            areas.push(a);
            rest = b;
        }
        let mut f = Frame {
            root,
            run,
            x_lo,
            x_hi,
            spans: Vec::new(),
        };
        let xmap = rps_panel(&mut f, &areas[0])?;
        errors_panel(&mut f, &areas[1])?;
        latency_panel(&mut f, &areas[2])?;
        hits_panel(&mut f, &areas[3])?;
        served_by_panel(&mut f, &areas[4], width as i32)?;
        event_lines(&f, events, xmap, strip_rows, width as i32)
    })
}

/// The time axis of a timeline chart: every sample and every event, at
/// least a second wide.
fn time_range(run: &TimelineRun, events: &[Event]) -> (f64, f64) {
    let (s, warm) = (&run.samples, run.warmup_s);
    let mut x_lo = s.first().map_or(0.0, |x| start(x, warm));
    let mut x_hi = s
        .last()
        .map_or(1.0, |x| start(x, warm) + x.span_s.max(0.01));
    for ev in events {
        x_lo = x_lo.min(ev.t_s);
        x_hi = x_hi.max(ev.t_s);
    }
    if x_hi <= x_lo {
        x_hi = x_lo + 1.0;
    }
    (x_lo, x_hi)
}

/// The middle of a sample's second on the time axis.
fn mid(x: &Sample, warm: f64) -> f64 {
    start(x, warm) + x.span_s / 2.0
}

/// `n` over the part of the second a sample covered.
fn per_second(n: u64, x: &Sample) -> f64 {
    if x.span_s > 0.0 {
        n as f64 / x.span_s
    } else {
        0.0
    }
}

/// What every panel of a timeline chart shares: the drawing, the run, the
/// time axis, and where each panel's plot is (for the event lines).
struct Frame<'r, 'a> {
    root: &'r Area<'a>,
    run: &'r TimelineRun,
    x_lo: f64,
    x_hi: f64,
    /// (pixel top, pixel bottom) of each panel's plot.
    spans: Vec<(i32, i32)>,
}

/// The time axis in pixels: (x_lo, x_hi, left pixel, right pixel).
type XMap = (f64, f64, i32, i32);

/// A panel: its name and legend in its top strip, then its plot over the
/// shared time axis, y from $lo to $hi, the warm-up shaded. (A macro: the
/// latency panel's y axis is logarithmic, a different coordinate type.)
macro_rules! panel {
    ($f:expr, $area:expr, $name:expr, $entries:expr, $y:expr, ($lo:expr, $hi:expr), $ydesc:expr, $ylabels:expr, $yfmt:expr) => {{
        let (root, x_lo, x_hi) = ($f.root, $f.x_lo, $f.x_hi);
        panel_header(root, $area, $name, $entries)?;
        let mut c = ChartBuilder::on($area)
            .margin_left(10)
            .margin_right(30)
            .margin_top(26)
            .x_label_area_size(34)
            .y_label_area_size(78)
            .build_cartesian_2d(x_lo..x_hi, $y)
            .map_err(e)?;
        PANEL_GRID
            .mesh(&mut c)
            .x_labels(12)
            .x_label_formatter(&|v| trim_float(*v))
            .y_labels($ylabels)
            .y_label_formatter($yfmt)
            .y_desc($ydesc)
            .draw()
            .map_err(e)?;
        let top_left = c.backend_coord(&(x_lo, $hi));
        let warm_end = c.backend_coord(&(0f64.min(x_hi), $lo));
        if warm_end.0 > top_left.0 {
            root.draw(&Rectangle::new(
                [top_left, warm_end],
                RGBColor(236, 236, 236).filled(),
            ))
            .map_err(e)?;
        }
        $f.spans.push((top_left.1, warm_end.1));
        c
    }};
}

/// Panel 1, requests per second. Every panel has the same margins, so its x
/// mapping (time → pixel), returned, serves all of them.
fn rps_panel(f: &mut Frame<'_, '_>, area: &Area<'_>) -> Result<XMap, String> {
    let (run, s) = (f.run, &f.run.samples);
    let rps_max = s.iter().map(|x| x.rps).chain(run.rate).fold(1.0, f64::max);
    let mut entries = vec![(Swatch::Line(RPS_COLOR), "responses/s".to_string())];
    if let Some(r) = run.rate {
        entries.push((Swatch::Dashed(INK), format!("offered {} req/s", fmt_rps(r))));
    }
    let top = rps_max * 1.15;
    let c = panel!(
        f,
        area,
        "requests per second",
        &entries,
        0f64..top,
        (0.0, top),
        "req/s",
        6,
        &|v| axis_num(*v)
    );
    let (root, x_lo, x_hi) = (f.root, f.x_lo, f.x_hi);
    if x_lo < 0.0 {
        let (px, py) = c.backend_coord(&(x_lo, top));
        draw_text(
            root,
            "warm-up",
            (px + 4, py + 4),
            text(11.0, MUTED, HPos::Left, VPos::Top),
        )?;
    }
    if let Some(r) = run.rate {
        root.draw(&DashedPathElement::new(
            vec![c.backend_coord(&(x_lo, r)), c.backend_coord(&(x_hi, r))],
            6,
            4,
            INK.mix(0.7).stroke_width(1),
        ))
        .map_err(e)?;
    }
    let pts: Vec<(i32, i32)> = s
        .iter()
        .map(|x| c.backend_coord(&(mid(x, run.warmup_s), x.rps)))
        .collect();
    root.draw(&PathElement::new(pts, RPS_COLOR.stroke_width(2)))
        .map_err(e)?;
    let l = c.backend_coord(&(x_lo, 0.0)).0;
    let r = c.backend_coord(&(x_hi, 0.0)).0;
    Ok((x_lo, x_hi, l, r))
}

/// Panel 2, errors per second, stacked by kind.
fn errors_panel(f: &mut Frame<'_, '_>, area: &Area<'_>) -> Result<(), String> {
    let (run, s) = (f.run, &f.run.samples);
    let kinds = error_kinds(s);
    let err_max = s
        .iter()
        .map(|x| per_second(x.errors.total, x))
        .fold(0.0, f64::max);
    let entries: Vec<(Swatch, String)> = kinds
        .iter()
        .map(|(k, c)| (Swatch::Box(*c), k.clone()))
        .collect();
    let top = (err_max * 1.15).max(1.0);
    let c = panel!(
        f,
        area,
        "errors per second",
        &entries,
        0f64..top,
        (0.0, top),
        "errors/s",
        4,
        &|v| axis_num(*v)
    );
    stacked_seconds(f.root, &c, run, |x| {
        kinds
            .iter()
            .map(|(k, color)| (per_second(error_count(x, k), x), *color))
            .collect()
    })?;
    if kinds.is_empty() {
        panel_note(f.root, &c, top / 2.0, "no errors")?;
    }
    Ok(())
}

/// The latency panel's y range: whole decades around every p50 and p99.
fn latency_range(s: &[Sample]) -> (f64, f64) {
    let lat: Vec<f64> = s
        .iter()
        .filter_map(|x| x.latency_ms.as_ref())
        .flat_map(|l| [l.p50, l.p99])
        .filter(|v| *v > 0.0)
        .collect();
    if lat.is_empty() {
        (0.1, 1000.0)
    } else {
        let lo = decade_below(lat.iter().copied().fold(f64::INFINITY, f64::min) * 0.8);
        let hi = decade_above(lat.iter().copied().fold(0.0, f64::max) * 1.25);
        (lo, hi.max(lo * 10.0))
    }
}

/// Panel 3, latency, log scale.
fn latency_panel(f: &mut Frame<'_, '_>, area: &Area<'_>) -> Result<(), String> {
    let (run, s) = (f.run, &f.run.samples);
    let (lat_lo, lat_hi) = latency_range(s);
    let entries = [
        (Swatch::Line(P99_COLOR), "p99".to_string()),
        (Swatch::Dashed(P50_COLOR), "p50".to_string()),
    ];
    let name = if run.rate.is_some() {
        "latency, ms (from the intended send time)"
    } else {
        "latency, ms"
    };
    let c = panel!(
        f,
        area,
        name,
        &entries,
        (lat_lo..lat_hi).log_scale(),
        (lat_lo, lat_hi),
        "ms (log)",
        6,
        &|v| fmt_ms(*v)
    );
    let line = |pick: fn(&runfiles::timeline::SampleLatency) -> f64| {
        runs_of(
            s.iter()
                .map(|x| {
                    x.latency_ms
                        .as_ref()
                        .map(|l| c.backend_coord(&(mid(x, run.warmup_s), pick(l).max(lat_lo))))
                })
                .collect(),
        )
    };
    for part in line(|l| l.p50) {
        f.root
            .draw(&DashedPathElement::new(
                part,
                6,
                4,
                P50_COLOR.stroke_width(2),
            ))
            .map_err(e)?;
    }
    for part in line(|l| l.p99) {
        f.root
            .draw(&PathElement::new(part, P99_COLOR.stroke_width(2)))
            .map_err(e)?;
    }
    Ok(())
}

/// Panel 4, the hit ratio.
fn hits_panel(f: &mut Frame<'_, '_>, area: &Area<'_>) -> Result<(), String> {
    let (run, s) = (f.run, &f.run.samples);
    let entries = [(
        Swatch::Line(HIT_COLOR),
        "responses with X-Cache: HIT".to_string(),
    )];
    let c = panel!(
        f,
        area,
        "cache hit ratio",
        &entries,
        0f64..105.0,
        (0.0, 105.0),
        "% hits",
        3,
        &|v| format!("{v:.0}%")
    );
    let pts = runs_of(
        s.iter()
            .map(|x| {
                x.hit_ratio()
                    .map(|h| c.backend_coord(&(mid(x, run.warmup_s), h * 100.0)))
            })
            .collect(),
    );
    for part in pts {
        f.root
            .draw(&PathElement::new(part, HIT_COLOR.stroke_width(2)))
            .map_err(e)?;
    }
    if !s.iter().any(|x| x.cache_hits > 0) {
        panel_note(f.root, &c, 50.0, "no X-Cache: HIT responses")?;
    }
    Ok(())
}

/// Panel 5, served by, stacked; the time axis's title under it (the last
/// panel), centred in a chart `w` pixels wide.
fn served_by_panel(f: &mut Frame<'_, '_>, area: &Area<'_>, w: i32) -> Result<(), String> {
    let (run, s) = (f.run, &f.run.samples);
    let names = instances(s);
    let entries: Vec<(Swatch, String)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (Swatch::Box(series_color(i)), n.clone()))
        .collect();
    let top = s
        .iter()
        .map(|x| per_second(x.served_by.values().sum(), x))
        .fold(1.0, f64::max)
        * 1.15;
    let c = panel!(
        f,
        area,
        "served by (X-Served-By)",
        &entries,
        0f64..top,
        (0.0, top),
        "req/s",
        6,
        &|v| axis_num(*v)
    );
    stacked_seconds(f.root, &c, run, |x| {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let v = per_second(x.served_by.get(n).copied().unwrap_or(0), x);
                (v, series_color(i))
            })
            .collect()
    })?;
    if names.is_empty() {
        panel_note(f.root, &c, top / 2.0, "no X-Served-By header")?;
    }
    let (_, b) = c.backend_coord(&(f.x_lo, 0.0));
    draw_text(
        f.root,
        "seconds after the warm-up",
        ((w - 40) / 2 + 40, b + 30),
        text(13.0, INK, HPos::Center, VPos::Top),
    )
}

/// Events: a dashed line through every panel, the label in the strip above
/// them (staggered over `strip_rows`, so close events stay readable).
fn event_lines(
    f: &Frame<'_, '_>,
    events: &[Event],
    xmap: XMap,
    strip_rows: i32,
    w: i32,
) -> Result<(), String> {
    let root = f.root;
    let x_px = |x: f64| {
        let (lo, hi, l, r) = xmap;
        l + ((x - lo) / (hi - lo) * (r - l) as f64).round() as i32
    };
    let strip_top = 64;
    for (i, ev) in events.iter().enumerate() {
        let x = x_px(ev.t_s);
        for (top, bottom) in &f.spans {
            root.draw(&DashedPathElement::new(
                vec![(x, *top), (x, *bottom)],
                5,
                3,
                INK.stroke_width(1),
            ))
            .map_err(e)?;
        }
        let row = (i as i32) % strip_rows;
        let y = strip_top + 9 + 18 * row;
        let label = format!("{} s  {}", trim_float(ev.t_s), ev.label);
        let right = x + 6 + text_width(&label, 12.0) > w - 20;
        root.draw(&PathElement::new(
            vec![(x, y), (x, f.spans.first().map_or(y, |s| s.0))],
            INK.mix(0.35).stroke_width(1),
        ))
        .map_err(e)?;
        draw_text(
            root,
            label,
            (if right { x - 5 } else { x + 5 }, y),
            text(
                12.0,
                INK,
                if right { HPos::Right } else { HPos::Left },
                VPos::Center,
            ),
        )?;
    }
    Ok(())
}

/// An axis label: `1,200`, `0.4`.
fn axis_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        runfiles::thousands(v.abs() as u64)
    } else {
        trim_float(v)
    }
}

/// `2.03`, `5`, `-0.5`.
fn trim_float(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The worst second of a timeline by each measure, for the text under a
/// chart: (lowest req/s, most errors, highest p99), measured seconds only.
fn worst(run: &TimelineRun) -> (Option<&Sample>, Option<&Sample>, Option<&Sample>) {
    let measured: Vec<&Sample> = run.samples.iter().filter(|s| s.t_s >= 0).collect();
    let lowest = measured
        .iter()
        .filter(|s| s.span_s >= 0.999)
        .min_by(|a, b| a.rps.total_cmp(&b.rps))
        .copied();
    let errors = measured
        .iter()
        .filter(|s| s.errors.total > 0)
        .max_by_key(|s| s.errors.total)
        .copied();
    let p99 = measured
        .iter()
        .filter(|s| s.latency_ms.is_some())
        .max_by(|a, b| {
            let p = |s: &Sample| s.latency_ms.as_ref().map_or(0.0, |l| l.p99);
            p(a).total_cmp(&p(b))
        })
        .copied();
    (lowest, errors, p99)
}

/// The Markdown section; nothing when the run has no timelines.
pub fn markdown(o: &mut String, run: &Run) {
    if run.timelines.is_empty() {
        return;
    }
    o.push_str("## Timelines\n\n");
    o.push_str(
        "Second by second (`loadgen --timeline`): requests per second, errors by kind, p50 and \
         p99, the cache hit ratio and which instance answered, warm-up shaded; what was done to \
         the site during the run (`<name>.events.tsv`) as vertical lines. Times are seconds \
         after the warm-up.\n\n",
    );
    for f in &run.timelines {
        let _ = writeln!(o, "### `{}`\n", f.name);
        let tl = match &f.run {
            Ok(tl) => tl,
            Err(why) => {
                let _ = writeln!(o, "— `{}.timeline.json` has no result: {why}\n", f.name);
                continue;
            }
        };
        let _ = writeln!(
            o,
            "![Timeline of {}, second by second]({})\n",
            f.name,
            f.svg_name()
        );
        let mut parts = vec![format!(
            "{} seconds ({} s warm-up) of {} against `{}`",
            tl.samples.len(),
            tl.warmup_s,
            match tl.rate {
                Some(r) => format!("{} req/s offered", fmt_rps(r)),
                None => format!("{} connections, closed loop", tl.concurrency),
            },
            tl.url
        )];
        let (lowest, errors, p99) = worst(tl);
        if let Some(s) = lowest {
            parts.push(format!(
                "lowest second: {} req/s at t = {} s",
                fmt_rps(s.rps),
                s.t_s
            ));
        }
        match errors {
            Some(s) => parts.push(format!(
                "most errors: {} at t = {} s",
                runfiles::thousands(s.errors.total),
                s.t_s
            )),
            None => parts.push("no errors after the warm-up".into()),
        }
        if let Some(s) = p99
            && let Some(l) = &s.latency_ms
        {
            parts.push(format!(
                "highest p99: {} ms at t = {} s",
                fmt_ms(l.p99),
                s.t_s
            ));
        }
        let _ = writeln!(o, "{}.\n", parts.join("; "));
        match &f.events {
            Some(Ok(ev)) if !ev.is_empty() => {
                o.push_str("Events:\n\n");
                for e in ev {
                    let _ = writeln!(o, "- {} s: {}", trim_float(e.t_s), e.label);
                }
                o.push('\n');
            }
            Some(Err(why)) => {
                let _ = writeln!(o, "`{}.events.tsv` was not read: {why}\n", f.name);
            }
            _ => {}
        }
    }
}

/// Counts by name over the whole timeline (for tests and summaries).
pub fn served_by_totals(run: &TimelineRun) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for s in &run.samples {
        for (k, n) in &s.served_by {
            *out.entry(k.clone()).or_insert(0) += n;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_files() {
        let ev = parse_events(
            "t_s\tlabel\n# a comment\n\n5.6\ti0 restarted\r\n5.0\tkill instance i0\n-1\twarm\n",
            None,
        )
        .unwrap();
        assert_eq!(
            ev,
            [
                Event {
                    t_s: -1.0,
                    label: "warm".into()
                },
                Event {
                    t_s: 5.0,
                    label: "kill instance i0".into()
                },
                Event {
                    t_s: 5.6,
                    label: "i0 restarted".into()
                },
            ]
        );
        let err = parse_events("5.0\tok\nsoon\tbad\n", None).unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        assert_eq!(parse_events("", None).unwrap(), []);
        // Unix times, placed by the run's zero.
        let ev = parse_events("@1764624005.25\tkill\n", Some(1764624001.0)).unwrap();
        assert_eq!(ev[0].t_s, 4.25);
        let err = parse_events("@1764624005.25\tkill\n", None).unwrap_err();
        assert!(err.contains("timeline_zero_unix_s"), "{err}");
    }

    #[test]
    fn gaps_split_lines() {
        let p = |x| Some((x, 0));
        assert_eq!(
            runs_of(vec![None, p(1), p(2), None, None, p(3)]),
            vec![vec![(1, 0), (2, 0)], vec![(3, 0)]]
        );
        assert!(runs_of(vec![None]).is_empty());
        assert_eq!(trim_float(2.0), "2");
        assert_eq!(trim_float(2.034), "2.03");
    }
}
