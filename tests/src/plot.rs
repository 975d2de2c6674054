//! Bench plots as hand-written SVG: a grid of panels sharing one time axis each, every panel a
//! stack of lanes, each lane a step chart of a fraction (0 to 1) over time: probe loss for
//! xvrrp beside keepalived, say. Written as SVG and converted to PNG.

use std::{fmt::Write as _, path::Path, process::Command};

use anyhow::{Context as _, bail};

/// One series in a panel, drawn as filled steps of `Panel::step` seconds.
pub struct Lane {
    pub label: String,
    pub color: &'static str,
    /// (step start in seconds, fraction in 0..=1), in time order.
    pub points: Vec<(f64, f64)>,
    /// Written at the lane's right end (e.g. how much was lost).
    pub note: String,
}

pub struct Panel {
    pub title: String,
    /// The time axis, in seconds.
    pub x: (f64, f64),
    /// The width of one step, in seconds.
    pub step: f64,
    pub lanes: Vec<Lane>,
}

const PANEL_W: f64 = 380.0;
const LABEL_W: f64 = 78.0;
const LANE_H: f64 = 26.0;
const TITLE_H: f64 = 20.0;
const AXIS_H: f64 = 26.0;
const GAP: f64 = 14.0;

/// The SVG document of `panels`, `columns` to a row, under `title`; `mark` names the instant
/// x = 0 (drawn as a dashed line in every panel).
pub fn svg(title: &str, mark: &str, panels: &[Panel], columns: usize) -> String {
    let columns = columns.max(1);
    let lanes = panels.iter().map(|p| p.lanes.len()).max().unwrap_or(0) as f64;
    let panel_h = TITLE_H + lanes * LANE_H + AXIS_H;
    let rows = panels.len().div_ceil(columns);
    let width = columns as f64 * (LABEL_W + PANEL_W + GAP) + GAP;
    let height = 34.0 + rows as f64 * (panel_h + GAP);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{GAP}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    for (i, p) in panels.iter().enumerate() {
        let left = GAP + (i % columns) as f64 * (LABEL_W + PANEL_W + GAP);
        let top = 34.0 + (i / columns) as f64 * (panel_h + GAP);
        panel(&mut s, p, left, top, mark);
    }
    s.push_str("</svg>\n");
    s
}

fn panel(s: &mut String, p: &Panel, left: f64, top: f64, mark: &str) {
    let x0 = left + LABEL_W;
    let span = (p.x.1 - p.x.0).max(f64::EPSILON);
    let px = |t: f64| x0 + (t.clamp(p.x.0, p.x.1) - p.x.0) / span * PANEL_W;
    let lanes_top = top + TITLE_H;
    let bottom = lanes_top + p.lanes.len() as f64 * LANE_H;
    let _ = writeln!(
        s,
        "<text x=\"{x0}\" y=\"{}\" font-weight=\"bold\">{}</text>",
        top + 13.0,
        escape(&p.title)
    );
    for (k, lane) in p.lanes.iter().enumerate() {
        let y = lanes_top + k as f64 * LANE_H;
        let _ = writeln!(
            s,
            "<rect x=\"{x0}\" y=\"{y}\" width=\"{PANEL_W}\" height=\"{LANE_H}\" fill=\"#f4f4f4\" \
             stroke=\"#ccc\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            x0 - 6.0,
            y + LANE_H / 2.0 + 4.0,
            escape(&lane.label)
        );
        // Equal neighbouring steps are merged into one rectangle: a failover is one long run.
        let mut runs: Vec<(f64, f64, f64)> = Vec::new();
        for &(t, v) in &lane.points {
            if t + p.step <= p.x.0 || t >= p.x.1 {
                continue;
            }
            match runs.last_mut() {
                Some((_, end, last)) if *last == v && (t - *end).abs() < p.step / 2.0 => {
                    *end = t + p.step
                }
                _ => runs.push((t, t + p.step, v)),
            }
        }
        for (start, end, v) in runs.into_iter().filter(|r| r.2 > 0.0) {
            let h = v.min(1.0) * (LANE_H - 2.0);
            let _ = writeln!(
                s,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"/>",
                px(start),
                y + LANE_H - 1.0 - h,
                (px(end) - px(start)).max(0.8),
                lane.color
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#333\">{}</text>",
            x0 + PANEL_W - 4.0,
            y + 11.0,
            escape(&lane.note)
        );
    }
    let tick = nice_step(span / 6.0);
    let mut t = (p.x.0 / tick).ceil() * tick;
    while t <= p.x.1 + tick * 1e-6 {
        let x = px(t);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{bottom}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#666\"/>\n\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            bottom + 4.0,
            bottom + 15.0,
            format_seconds(t, tick)
        );
        t += tick;
    }
    if (p.x.0..=p.x.1).contains(&0.0) {
        let x = px(0.0);
        let _ = writeln!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{lanes_top}\" x2=\"{x:.1}\" y2=\"{bottom}\" stroke=\"black\" \
             stroke-dasharray=\"3,2\"/>\n<text x=\"{:.1}\" y=\"{}\" fill=\"#333\">{}</text>",
            x + 3.0,
            bottom + AXIS_H - 2.0,
            escape(mark)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#333\">s</text>",
        x0 + PANEL_W,
        bottom + AXIS_H - 2.0
    );
}

/// Writes `doc` to `svg_path` and, beside it, the same as PNG (rsvg-convert, from Debian's
/// librsvg2-bin, which `cargo xtask setup` installs).
pub fn write(svg_path: &Path, doc: &str) -> anyhow::Result<()> {
    std::fs::write(svg_path, doc).with_context(|| format!("writing {}", svg_path.display()))?;
    let png = svg_path.with_extension("png");
    let status = Command::new("rsvg-convert")
        .arg("-o")
        .arg(&png)
        .arg(svg_path)
        .status()
        .context("running rsvg-convert (Debian's librsvg2-bin; `cargo xtask setup` installs it)")?;
    if !status.success() {
        bail!("rsvg-convert could not write {} ({status})", png.display());
    }
    Ok(())
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power)
}

fn format_seconds(t: f64, tick: f64) -> String {
    let decimals = if tick >= 1.0 {
        0
    } else {
        (-tick.log10()).ceil() as usize
    };
    // -0.0 would print as "-0".
    format!(
        "{:.*}",
        decimals,
        if t.abs() < tick / 2.0 { 0.0 } else { t }
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(nice_step(0.9), 1.0);
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(0.11), 0.2);
        assert_eq!(format_seconds(-0.5, 0.5), "-0.5");
        assert_eq!(format_seconds(1e-17, 0.5), "0.0");
        assert_eq!(format_seconds(3.0, 1.0), "3");
    }

    #[test]
    fn a_run_of_equal_steps_is_one_rectangle() {
        let lane = Lane {
            label: "a<b".into(),
            color: "red",
            points: (0..10).map(|i| (i as f64 * 0.1, 1.0)).collect(),
            note: String::new(),
        };
        let doc = svg(
            "t",
            "event",
            &[Panel {
                title: "p".into(),
                x: (-1.0, 1.0),
                step: 0.1,
                lanes: vec![lane],
            }],
            1,
        );
        assert_eq!(doc.matches("fill=\"red\"").count(), 1);
        assert!(doc.contains("a&lt;b"));
        assert!(doc.ends_with("</svg>\n"));
    }
}
