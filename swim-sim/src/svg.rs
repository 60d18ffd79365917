//! SVG charts: a run's timeline (members alive, suspect and dead as seen by
//! the cluster, averaged over the running nodes' views, and the number of
//! nodes actually running), two runs' timelines over each other
//! (`swim-sim compare`), and a sweep's detection times and false positives
//! against the swept value (`--sweep`). All draw panels stacked over one x
//! axis with the same renderer.

use crate::report::Sample;
use std::fmt::Write as _;
use std::time::Duration;

const W: f64 = 900.0;
const H: f64 = 480.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 180.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 40.0;

/// One line of a panel: a legend entry and its points (x, y).
struct Line {
    name: String,
    color: &'static str,
    dash: &'static str,
    points: Vec<(f64, f64)>,
}

/// The x axis: virtual time in seconds, or one labelled category per index.
enum XAxis<'a> {
    Seconds,
    Labels(&'a [String]),
}

/// The timeline series: (name, color, dash, value), top panel then bottom.
type Series = (&'static str, &'static str, &'static str, fn(&Sample) -> f64);
const TOP_SERIES: [Series; 2] = [
    ("running nodes", "#999", "5 4", |s| s.running as f64),
    ("alive (avg view)", "#2a9d3f", "", |s| s.alive),
];
const BOTTOM_SERIES: [Series; 2] = [
    ("suspect (avg view)", "#e09f1f", "", |s| s.suspect),
    ("dead/left (avg view)", "#c0392b", "", |s| s.dead),
];

fn timeline_lines(
    timeline: &[Sample],
    series: &[Series],
    suffix: &str,
    dash: Option<&'static str>,
) -> Vec<Line> {
    series
        .iter()
        .map(|&(name, color, own_dash, f)| Line {
            name: format!("{name}{suffix}"),
            color,
            dash: dash.unwrap_or(own_dash),
            points: timeline.iter().map(|s| (s.t.as_secs_f64(), f(s))).collect(),
        })
        .collect()
}

fn seconds_marks(marks: &[(Duration, String)]) -> Vec<(f64, &str)> {
    marks.iter().map(|(t, l)| (t.as_secs_f64(), l.as_str())).collect()
}

/// Renders `timeline` as a standalone SVG document titled `title`, with a
/// dashed vertical line and label for each of `marks` (e.g. fault times).
pub fn chart(timeline: &[Sample], title: &str, marks: &[(Duration, String)]) -> String {
    let panels =
        [timeline_lines(timeline, &TOP_SERIES, "", None), timeline_lines(timeline, &BOTTOM_SERIES, "", None)];
    render(title, &panels, &[], XAxis::Seconds, "virtual time", &seconds_marks(marks))
}

/// Two timelines over each other, `a` in solid lines and `b` dashed, each
/// labelled with its name (the nodes running drawn from `a`).
pub fn compare_chart(
    a: (&str, &[Sample]),
    b: (&str, &[Sample]),
    title: &str,
    marks: &[(Duration, String)],
) -> String {
    let (sa, sb) = (format!(" {}", a.0), format!(" {}", b.0));
    let mut top = timeline_lines(a.1, &TOP_SERIES[..1], "", None);
    top.extend(timeline_lines(a.1, &TOP_SERIES[1..], &sa, Some("")));
    top.extend(timeline_lines(b.1, &TOP_SERIES[1..], &sb, Some("6 3")));
    let mut bottom = timeline_lines(a.1, &BOTTOM_SERIES, &sa, Some(""));
    bottom.extend(timeline_lines(b.1, &BOTTOM_SERIES, &sb, Some("6 3")));
    let x_title = "virtual time since the run started";
    render(title, &[top, bottom], &[], XAxis::Seconds, x_title, &seconds_marks(marks))
}

/// One panel of a sweep chart: its caption, and its series, each a legend
/// and one value per swept value (`None` where there is none).
pub type SweepPanel<'a> = (&'a str, Vec<(&'a str, Vec<Option<f64>>)>);

/// A sweep: `values` on the x axis (named `field`), and `panels` stacked
/// over it (e.g. detection times, false suspicions, false deaths), each
/// with its own y scale.
pub fn sweep_chart(title: &str, field: &str, values: &[String], panels: &[SweepPanel<'_>]) -> String {
    const COLORS: [&str; 4] = ["#1f77b4", "#c0392b", "#e09f1f", "#8e44ad"];
    // Colors run on across the panels: no two series share one.
    let mut colors = COLORS.iter().cycle();
    let mut lines = |series: &[(&str, Vec<Option<f64>>)]| -> Vec<Line> {
        series
            .iter()
            .zip(colors.by_ref())
            .map(|((name, ys), &color)| Line {
                name: name.to_string(),
                color,
                dash: "",
                points: ys.iter().enumerate().filter_map(|(i, y)| y.map(|y| (i as f64, y))).collect(),
            })
            .collect()
    };
    let captions: Vec<&str> = panels.iter().map(|p| p.0).collect();
    let lines: Vec<Vec<Line>> = panels.iter().map(|p| lines(&p.1)).collect();
    render(title, &lines, &captions, XAxis::Labels(values), field, &[])
}

/// Panels stacked over one x axis, each with its own y scale (so a single
/// failure stays visible below a large cluster's alive count) and caption
/// along its y axis (`captions`, by panel; none past its end).
fn render(
    title: &str,
    panels: &[Vec<Line>],
    captions: &[&str],
    axis: XAxis<'_>,
    x_title: &str,
    marks: &[(f64, &str)],
) -> String {
    let mut out = String::new();
    let (x0, x1) = match axis {
        // Times are durations: the axis starts at zero.
        XAxis::Seconds => {
            (0.0, panels.iter().flatten().flat_map(|l| l.points.iter().map(|p| p.0)).fold(1e-3, f64::max))
        }
        XAxis::Labels(labels) => (-0.5, labels.len().max(1) as f64 - 0.5),
    };
    let pw = W - LEFT - RIGHT;
    let x = |t: f64| LEFT + (t - x0) / (x1 - x0) * pw;
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(out, r#"<text x="{LEFT}" y="22" font-size="14">{}</text>"#, escape(title));
    let gap = 24.0;
    let ph = (H - TOP - BOTTOM - gap * (panels.len().max(1) - 1) as f64) / panels.len().max(1) as f64;
    for (p, lines) in panels.iter().enumerate() {
        let top = TOP + p as f64 * (ph + gap);
        let ymax = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(1.0f64, f64::max) * 1.05;
        let y = |v: f64| top + ph - v / ymax * ph;
        if let Some(caption) = captions.get(p) {
            let cy = top + ph / 2.0;
            let _ = writeln!(
                out,
                r#"<text x="14" y="{cy:.1}" text-anchor="middle" transform="rotate(-90 14 {cy:.1})">{}</text>"#,
                escape(caption)
            );
        }
        let _ = writeln!(
            out,
            r##"<path d="M{LEFT},{top} V{} H{}" stroke="#333" fill="none"/>"##,
            top + ph,
            LEFT + pw
        );
        let decimals = if ymax >= 100.0 { 0 } else { 1 };
        for k in 0..=4 {
            let v = ymax / 1.05 * k as f64 / 4.0;
            let yv = y(v);
            let _ = writeln!(
                out,
                r##"<line x1="{LEFT}" x2="{}" y1="{yv:.1}" y2="{yv:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{v:.decimals$}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                yv + 4.0,
            );
        }
        for (k, line) in lines.iter().enumerate() {
            let mut d = String::new();
            for (i, &(px, py)) in line.points.iter().enumerate() {
                let _ = write!(d, "{}{:.1},{:.1} ", if i == 0 { "M" } else { "L" }, x(px), y(py));
            }
            let (color, dash) = (line.color, line.dash);
            let _ = writeln!(
                out,
                r#"<path d="{d}" stroke="{color}" stroke-width="1.8" fill="none" stroke-dasharray="{dash}"/>"#
            );
            if let XAxis::Labels(_) = axis {
                for &(px, py) in &line.points {
                    let _ = writeln!(
                        out,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#,
                        x(px),
                        y(py)
                    );
                }
            }
            let ly = top + 10.0 + k as f64 * 18.0;
            let lx = LEFT + pw + 12.0;
            let _ = writeln!(
                out,
                r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{}" y="{}">{}</text>"#,
                lx + 20.0,
                lx + 26.0,
                ly + 4.0,
                escape(&line.name)
            );
        }
    }
    let ticks: Vec<(f64, String)> = match axis {
        XAxis::Seconds => {
            (0..=6).map(|k| x0 + (x1 - x0) * k as f64 / 6.0).map(|t| (t, format!("{t:.0} s"))).collect()
        }
        XAxis::Labels(labels) => labels.iter().enumerate().map(|(i, l)| (i as f64, l.clone())).collect(),
    };
    for (t, label) in ticks {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x(t),
            H - BOTTOM + 18.0,
            escape(&label)
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        H - 6.0,
        escape(x_title)
    );
    for &(t, label) in marks {
        let tx = x(t);
        let _ = writeln!(
            out,
            r##"<line x1="{tx:.1}" x2="{tx:.1}" y1="{TOP}" y2="{}" stroke="#999" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" fill="#666" font-size="10" transform="rotate(-90 {:.1} {})">{}</text>"##,
            H - BOTTOM,
            tx - 3.0,
            TOP + 4.0,
            tx - 3.0,
            TOP + 4.0,
            escape(label)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline() -> Vec<Sample> {
        (0..10)
            .map(|i| Sample {
                t: Duration::from_secs(i),
                running: 5,
                alive: 5.0,
                suspect: (i % 2) as f64,
                dead: 0.0,
            })
            .collect()
    }

    #[test]
    fn renders_a_document() {
        let svg = chart(&timeline(), "a <test>", &[(Duration::from_secs(3), "crash n1".into())]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a &lt;test&gt;") && svg.contains("crash n1"));
    }

    #[test]
    fn compares_and_sweeps() {
        let tl = timeline();
        let svg = compare_chart(("A", &tl), ("B", &tl), "a vs b", &[]);
        assert!(svg.contains("alive (avg view) A") && svg.contains("dead/left (avg view) B"));
        let values = vec!["2".to_string(), "4".into(), "8".into()];
        let svg = sweep_chart(
            "sweep",
            "suspicion_mult",
            &values,
            &[
                ("detection (s)", vec![("dead, median", vec![Some(1.0), None, Some(3.0)])]),
                ("false positives", vec![("false deaths", vec![Some(0.0), Some(1.0), Some(2.0)])]),
            ],
        );
        assert_eq!(svg.matches("<circle").count(), 5, "a dot per value present");
        assert!(svg.contains(">suspicion_mult<") && svg.contains(">8<"));
    }
}
