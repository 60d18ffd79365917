//! An SVG chart of a run's timeline: members alive, suspect and dead as seen
//! by the cluster (averaged over the running nodes' views), and the number of
//! nodes actually running.

use crate::report::Sample;
use std::fmt::Write as _;
use std::time::Duration;

const W: f64 = 900.0;
const H: f64 = 480.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 160.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 40.0;

/// Renders `timeline` as a standalone SVG document titled `title`, with a
/// dashed vertical line and label for each of `marks` (e.g. fault times).
pub fn chart(timeline: &[Sample], title: &str, marks: &[(Duration, String)]) -> String {
    let mut out = String::new();
    let t0 = timeline.first().map_or(0.0, |s| s.t.as_secs_f64());
    let t1 = timeline.last().map_or(1.0, |s| s.t.as_secs_f64()).max(t0 + 1e-3);
    let pw = W - LEFT - RIGHT;
    let x = |t: f64| LEFT + (t - t0) / (t1 - t0) * pw;
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(out, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(out, r#"<text x="{LEFT}" y="22" font-size="14">{}</text>"#, escape(title));
    type Series<'a> = (&'a str, &'a str, fn(&Sample) -> f64, &'a str);
    // Two panels, each with its own scale: members alive (and nodes running)
    // on top; suspect and dead below, where a single failure stays visible.
    let gap = 24.0;
    let ph = (H - TOP - BOTTOM - gap) / 2.0;
    let panels: [(f64, [Series<'_>; 2]); 2] = [
        (
            TOP,
            [
                ("running nodes", "#999", |s| s.running as f64, "5 4"),
                ("alive (avg view)", "#2a9d3f", |s| s.alive, ""),
            ],
        ),
        (
            TOP + ph + gap,
            [
                ("suspect (avg view)", "#e09f1f", |s| s.suspect, ""),
                ("dead/left (avg view)", "#c0392b", |s| s.dead, ""),
            ],
        ),
    ];
    for (p, (top, series)) in panels.iter().enumerate() {
        let top = *top;
        let ymax =
            timeline.iter().flat_map(|s| series.iter().map(move |x| (x.2)(s))).fold(1.0f64, f64::max) * 1.05;
        let y = |v: f64| top + ph - v / ymax * ph;
        let _ = writeln!(
            out,
            r##"<path d="M{LEFT},{top} V{} H{}" stroke="#333" fill="none"/>"##,
            top + ph,
            LEFT + pw
        );
        for k in 0..=4 {
            let v = ymax / 1.05 * k as f64 / 4.0;
            let yv = y(v);
            let _ = writeln!(
                out,
                r##"<line x1="{LEFT}" x2="{}" y1="{yv:.1}" y2="{yv:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{v:.1}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                yv + 4.0,
            );
        }
        for (k, (name, color, f, dash)) in series.iter().enumerate() {
            let mut d = String::new();
            for (i, s) in timeline.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1} ",
                    if i == 0 { "M" } else { "L" },
                    x(s.t.as_secs_f64()),
                    y(f(s))
                );
            }
            let _ = writeln!(
                out,
                r#"<path d="{d}" stroke="{color}" stroke-width="1.8" fill="none" stroke-dasharray="{dash}"/>"#
            );
            let ly = top + 10.0 + k as f64 * 18.0;
            let lx = LEFT + pw + 12.0;
            let _ = writeln!(
                out,
                r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{}" y="{}">{name}</text>"#,
                lx + 20.0,
                lx + 26.0,
                ly + 4.0
            );
        }
        if p == 1 {
            for k in 0..=6 {
                let t = t0 + (t1 - t0) * k as f64 / 6.0;
                let _ = writeln!(
                    out,
                    r#"<text x="{:.1}" y="{}" text-anchor="middle">{t:.0} s</text>"#,
                    x(t),
                    top + ph + 18.0
                );
            }
        }
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">virtual time</text>"#,
        LEFT + pw / 2.0,
        H - 6.0
    );
    for (t, label) in marks {
        let tx = x(t.as_secs_f64());
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

    #[test]
    fn renders_a_document() {
        let tl: Vec<Sample> = (0..10)
            .map(|i| Sample {
                t: Duration::from_secs(i),
                running: 5,
                alive: 5.0,
                suspect: (i % 2) as f64,
                dead: 0.0,
            })
            .collect();
        let svg = chart(&tl, "a <test>", &[(Duration::from_secs(3), "crash n1".into())]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("a &lt;test&gt;") && svg.contains("crash n1"));
    }
}
