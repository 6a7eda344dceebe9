//! A bar chart drawn as an SVG string on the server: no script, no inline style (colours are
//! CSS classes on the shapes), every text escaped. Scales with its container via `viewBox`.

use std::fmt::Write as _;

/// Escapes text for XML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// One bar: its axis label, its tooltip label, its value.
#[derive(Debug, Clone)]
pub struct Bar {
    pub label: String,
    pub tooltip: String,
    pub value: u64,
}

/// Texts of a chart.
pub struct ChartText<'a> {
    /// Accessible name of the whole chart.
    pub title: &'a str,
    /// Caption of the vertical axis.
    pub y_axis: &'a str,
    /// Caption of the horizontal axis.
    pub x_axis: &'a str,
}

/// The smallest 1, 2 or 5 × 10ⁿ that is at least `v` (and at least 1).
pub fn nice_ceiling(v: u64) -> u64 {
    let v = v.max(1);
    let mut p = 1u64;
    loop {
        for m in [1, 2, 5] {
            let c = m * p;
            if c >= v {
                return c;
            }
        }
        p = p.saturating_mul(10);
        if p == u64::MAX {
            return v;
        }
    }
}

/// How many equal steps divide a round maximum into whole numbers: 5 for 1 × 10ⁿ and
/// 5 × 10ⁿ, 4 for 2 × 10ⁿ, never more than the maximum itself.
fn tick_count(max: u64) -> u64 {
    let mut lead = max.max(1);
    while lead >= 10 && lead.is_multiple_of(10) {
        lead /= 10;
    }
    let t = if lead == 2 { 4 } else { 5 };
    t.min(max.max(1))
}

const W: f64 = 800.0;
const H: f64 = 300.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 56.0;

/// Draws bars left to right with a y axis from 0 to a round maximum, tick labels, an x label
/// every few bars (the last always), captions on both axes and a tooltip per bar.
pub fn bar_chart(bars: &[Bar], text: &ChartText<'_>) -> String {
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let max = nice_ceiling(bars.iter().map(|b| b.value).max().unwrap_or(0));
    let ticks = tick_count(max);
    let n = bars.len().max(1);
    let band = pw / n as f64;
    let bw = (band * 0.72).max(1.0);
    // At most ~10 labels on the x axis.
    let every = n.div_ceil(10).max(1);

    let mut s = String::with_capacity(8 * 1024 + bars.len() * 200);
    let _ = write!(
        s,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = esc(text.title)
    );
    // Grid lines and y tick labels.
    for i in 0..=ticks {
        let v = max * i / ticks.max(1);
        let y = TOP + ph - ph * (v as f64) / (max as f64);
        let _ = write!(
            s,
            r#"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{x2}" y2="{y:.1}"/><text class="tick" x="{tx}" y="{ty:.1}" text-anchor="end">{v}</text>"#,
            x2 = W - RIGHT,
            tx = LEFT - 8.0,
            ty = y + 4.0,
        );
    }
    // Bars.
    for (i, b) in bars.iter().enumerate() {
        let h = ph * (b.value as f64) / (max as f64);
        let x = LEFT + band * i as f64 + (band - bw) / 2.0;
        let y = TOP + ph - h;
        let _ = write!(
            s,
            r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{h:.1}"><title>{tip}: {v}</title></rect>"#,
            tip = esc(&b.tooltip),
            v = b.value
        );
        if i % every == 0 || i + 1 == bars.len() {
            // Skip a regular label that would collide with the final one.
            if i + 1 != bars.len() && bars.len() - 1 - i < every {
                continue;
            }
            let _ = write!(
                s,
                r#"<text class="tick" x="{cx:.1}" y="{ly}" text-anchor="middle">{l}</text>"#,
                cx = x + bw / 2.0,
                ly = TOP + ph + 18.0,
                l = esc(&b.label)
            );
        }
    }
    // Axes and captions.
    let _ = write!(
        s,
        r#"<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{yb}"/><line class="axis" x1="{LEFT}" y1="{yb}" x2="{xr}" y2="{yb}"/>"#,
        yb = TOP + ph,
        xr = W - RIGHT
    );
    let _ = write!(
        s,
        r#"<text class="caption" x="{cx}" y="{cy}" text-anchor="middle">{x}</text><text class="caption" x="16" y="{my}" text-anchor="middle" transform="rotate(-90 16 {my})">{y}</text></svg>"#,
        cx = LEFT + pw / 2.0,
        cy = H - 10.0,
        my = TOP + ph / 2.0,
        x = esc(text.x_axis),
        y = esc(text.y_axis),
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> ChartText<'static> {
        ChartText {
            title: "Alerts <per> day",
            y_axis: "alerts",
            x_axis: "day",
        }
    }

    #[test]
    fn ceilings_are_round() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(200), 200);
        assert_eq!(nice_ceiling(201), 500);
    }

    #[test]
    fn ticks_are_evenly_spaced_whole_numbers() {
        for max in [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] {
            let t = tick_count(max);
            assert!(t >= 1 && max.is_multiple_of(t), "{max} / {t}");
        }
        assert_eq!(tick_count(5), 5);
        assert_eq!(tick_count(20), 4);
        assert_eq!(tick_count(1), 1);
    }

    #[test]
    fn chart_has_one_bar_per_day_labels_and_escaped_text() {
        let bars: Vec<Bar> = (1..=30)
            .map(|d| Bar {
                label: format!("03-{d:02}"),
                tooltip: format!("<b>2026-03-{d:02}</b>"),
                value: d % 7,
            })
            .collect();
        let svg = bar_chart(&bars, &text());
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 30);
        assert!(svg.contains("Alerts &lt;per&gt; day"));
        assert!(svg.contains("&lt;b&gt;2026-03-01&lt;/b&gt;: 1"));
        assert!(!svg.contains("<b>"));
        assert!(svg.contains(">03-01<"));
        assert!(svg.contains(">03-30<"), "last day is always labelled");
        // y axis up to the round maximum 10 (values go to 6).
        assert!(svg.contains(">10</text>"));
        assert!(!svg.contains("style="));
    }

    #[test]
    fn empty_and_flat_charts_still_draw_axes() {
        let svg = bar_chart(&[], &text());
        assert!(svg.contains("class=\"axis\""));
        let zero = vec![
            Bar {
                label: "a".into(),
                tooltip: "a".into(),
                value: 0
            };
            3
        ];
        let svg = bar_chart(&zero, &text());
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 3);
        assert!(svg.contains(">1</text>"));
    }
}
