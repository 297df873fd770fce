//! A chart's frame: the scales from values to pixels, the axes with their
//! ticks, the title and the legend.

use crate::svg::xml;
use std::fmt::Write as _;

/// Width and height of every chart, in pixels (the page scales them).
pub(crate) const W: f64 = 640.0;
pub(crate) const H: f64 = 360.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 60.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 58.0;

/// Scales of a chart: time (microseconds) across, one value axis on the
/// left and optionally one on the right.
pub(crate) struct Chart {
    pub(crate) t0: u64,
    pub(crate) t1: u64,
    pub(crate) y0: f64,
    pub(crate) y1: f64,
    /// The right axis's top, if it has one (it starts at 0).
    pub(crate) r1: Option<f64>,
}

impl Chart {
    pub(crate) fn new(t0: u64, t1: u64, y0: f64, y1: f64, r1: Option<f64>) -> Chart {
        let t1 = t1.max(t0 + 1);
        let y1 = if y1 > y0 { y1 } else { y0 + 1.0 };
        let r1 = r1.map(|r| if r > 0.0 { r } else { 1.0 });
        Chart { t0, t1, y0, y1, r1 }
    }

    pub(crate) fn x(&self, t: u64) -> f64 {
        let f = t.saturating_sub(self.t0) as f64 / (self.t1 - self.t0) as f64;
        LEFT + f.min(1.0) * (W - LEFT - RIGHT)
    }

    pub(crate) fn y(&self, v: f64) -> f64 {
        let f = ((v - self.y0) / (self.y1 - self.y0)).clamp(0.0, 1.0);
        H - BOTTOM - f * (H - TOP - BOTTOM)
    }

    /// A value on the right axis.
    pub(crate) fn yr(&self, v: f64) -> f64 {
        let top = self.r1.unwrap_or(1.0);
        let f = (v / top).clamp(0.0, 1.0);
        H - BOTTOM - f * (H - TOP - BOTTOM)
    }

    /// The root element (with the time range for the page's cursor), the
    /// style, the title, the axes, their ticks and labels.
    pub(crate) fn frame(&self, o: &mut String, id: &str, title: &str, labels: [&str; 3]) {
        let _ = writeln!(
            o,
            r#"<svg xmlns="http://www.w3.org/2000/svg" id="{id}" class="pl" viewBox="0 0 {W} {H}" width="{W}" height="{H}" data-t0="{}" data-t1="{}" data-x0="{LEFT}" data-x1="{}" role="img" aria-label="{}">"#,
            self.t0,
            self.t1,
            W - RIGHT,
            xml(title)
        );
        let _ = writeln!(o, "<style>{}</style>", super::STYLE);
        o.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n");
        let _ = writeln!(
            o,
            r#"<text x="{LEFT}" y="18" font-weight="bold">{}</text>"#,
            xml(title)
        );
        let (xb, yb) = (H - BOTTOM, W - RIGHT);
        let _ = writeln!(
            o,
            r#"<path class="ax" d="M{LEFT},{TOP}V{xb}H{yb}{}"/>"#,
            if self.r1.is_some() {
                format!("V{TOP}")
            } else {
                String::new()
            }
        );
        for v in ticks(self.y0, self.y1) {
            let y = self.y(v);
            let _ = writeln!(
                o,
                r#"<line class="grid" x1="{LEFT}" x2="{yb}" y1="{y:.1}" y2="{y:.1}"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT - 4.0,
                y + 4.0,
                short(v)
            );
        }
        if let Some(r1) = self.r1 {
            for v in ticks(0.0, r1) {
                let _ = writeln!(
                    o,
                    r#"<text x="{}" y="{:.1}">{}</text>"#,
                    yb + 4.0,
                    self.yr(v) + 4.0,
                    short(v)
                );
            }
        }
        for v in ticks(self.t0 as f64 / 1000.0, self.t1 as f64 / 1000.0) {
            let x = self.x((v * 1000.0) as u64);
            let _ = writeln!(
                o,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                xb + 14.0,
                short(v)
            );
        }
        let [tl, yl, rl] = labels;
        let _ = writeln!(
            o,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            (LEFT + W - RIGHT) / 2.0,
            xb + 28.0,
            xml(tl)
        );
        let _ = writeln!(
            o,
            r#"<text transform="translate(14,{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            (TOP + xb) / 2.0,
            xml(yl)
        );
        if !rl.is_empty() {
            let _ = writeln!(
                o,
                r#"<text transform="translate({:.1},{:.1}) rotate(90)" text-anchor="middle">{}</text>"#,
                W - 8.0,
                (TOP + xb) / 2.0,
                xml(rl)
            );
        }
    }

    /// The legend along the bottom: a short sample of each class, its name.
    pub(crate) fn legend(&self, o: &mut String, items: &[(&str, &str)]) {
        let mut x = LEFT;
        let y = H - 8.0;
        for (class, name) in items {
            if *class == "zwp" {
                // A marker, not a line: drawn as on the graph.
                let _ = write!(
                    o,
                    r#"<rect class="zwp" x="{:.1}" y="{:.1}" width="7" height="7" transform="rotate(45 {:.1} {:.1})"/>"#,
                    x + 5.5,
                    y - 7.5,
                    x + 9.0,
                    y - 4.0
                );
            } else {
                let _ = write!(
                    o,
                    r#"<line class="{class}" x1="{x:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/>"#,
                    x + 18.0,
                    y - 4.0,
                    y - 4.0
                );
            }
            let _ = writeln!(
                o,
                r#"<text x="{:.1}" y="{y:.1}">{}</text>"#,
                x + 22.0,
                xml(name)
            );
            x += 30.0 + 6.5 * name.chars().count() as f64;
        }
        let _ = writeln!(
            o,
            r#"<line class="cursor" x1="-10" x2="-10" y1="{TOP}" y2="{:.1}"/>"#,
            H - BOTTOM
        );
    }
}

/// Round tick values between `a` and `b`: about five.
fn ticks(a: f64, b: f64) -> Vec<f64> {
    let span = (b - a).max(1e-9);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut v = (a / step).ceil() * step;
    let mut out = Vec::new();
    while v <= b + step * 1e-9 && out.len() < 12 {
        out.push(v);
        v += step;
    }
    out
}

/// A tick value, short: `1500`, `12k`, `2.5M`, `0.25`.
fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}
