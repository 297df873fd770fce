//! The ladder as a standalone SVG picture.
//!
//! Two vertical lifelines; each segment a slanted arrow from its send time
//! on the sender's lifeline to its arrival time on the receiver's, labelled
//! at its start; a segment that never arrived ends in a red cross; state
//! changes are boxes beside their host's lifeline, timers are marked there
//! too; explanations run down the right. Rows are spaced by event, not to
//! scale, so a 60 s TIME_WAIT takes no more room than a 10 ms hop; the
//! time column gives the real instants.

use crate::explain::words;
use crate::layout::{lay_out, Arrow, End, Layout, Mark, MarkClass, Marks, SegClass, Shape};
use crate::model::{Col, Model};
use crate::summary::width;
use crate::{fmt_ms, HostInfo, Lang, TraceEntry};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Options of [`render_svg`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SvgOptions {
    /// Raw 32-bit sequence numbers instead of relative ones.
    pub absolute: bool,
    /// Show the explanation column.
    pub explain: bool,
    /// Language of the explanations.
    pub lang: Lang,
}

impl Default for SvgOptions {
    /// Relative numbers, explanations on, English.
    fn default() -> SvgOptions {
        SvgOptions {
            absolute: false,
            explain: true,
            lang: Lang::En,
        }
    }
}

/// Escape text for XML content and attribute values; control characters
/// XML cannot carry become spaces.
pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const CH: f64 = 7.2;
const ROW: f64 = 24.0;
const TOP: f64 = 70.0;

fn px(chars: usize) -> f64 {
    chars as f64 * CH
}

/// The SVG's marks: always Unicode, and short.
const MARKS: Marks = Marks {
    to: "→",
    timer: "◷",
    cross: "✖",
    detailed: false,
};

/// Render a standalone SVG ladder of the two hosts the text ladder draws.
pub fn render_svg(entries: &[TraceEntry], hosts: &[HostInfo<'_>], opts: &SvgOptions) -> String {
    let layout = lay_out(entries, hosts, opts.absolute, opts.lang, &MARKS);
    let geo = Geometry::new(&layout, opts.explain);
    let mut o = String::new();
    geo.prelude(&mut o);
    geo.heading(&mut o, &layout.model, opts);
    geo.time_column(&mut o);
    // Rows at the same instant stack down its slot.
    let mut used: BTreeMap<u64, usize> = BTreeMap::new();
    for row in &layout.rows {
        let k = used.entry(row.at).or_default();
        let y0 = geo.top.get(&row.at).copied().unwrap_or(TOP) + ROW * (*k as f64) + ROW / 2.0;
        *k += 1;
        match &row.shape {
            Shape::Arrow(a) => geo.arrow(&mut o, a, y0),
            Shape::Mark(mk) => geo.mark(&mut o, row.col, mk, y0),
        }
        if opts.explain && !row.explain.is_empty() {
            let _ = writeln!(
                o,
                r#"<text x="{:.1}" y="{:.1}" class="note">{}</text>"#,
                geo.ex,
                y0 + 4.0,
                xml(&row.explain)
            );
        }
    }
    o.push_str("</svg>\n");
    o
}

/// Where the laid-out ladder goes on the page, in pixels.
struct Geometry {
    /// The rows each instant holds: step times and arrival times (an
    /// instant with only arrivals holds none but still gets a slot).
    slots: BTreeMap<u64, usize>,
    /// The top of each instant's slot.
    top: BTreeMap<u64, f64>,
    bottom: f64,
    /// The left and right lifelines, and the explanations' column.
    lx: f64,
    rx: f64,
    ex: f64,
    total_w: f64,
}

impl Geometry {
    fn new(layout: &Layout, explain: bool) -> Geometry {
        // Time slots: step times and arrival times.
        let mut slots: BTreeMap<u64, usize> = BTreeMap::new();
        for row in &layout.rows {
            *slots.entry(row.at).or_default() += 1;
            if let Shape::Arrow(Arrow {
                arrives: Some(t), ..
            }) = &row.shape
            {
                slots.entry(*t).or_default();
            }
        }
        let mut top: BTreeMap<u64, f64> = BTreeMap::new();
        let mut y = TOP;
        for (t, n) in &slots {
            top.insert(*t, y);
            y += ROW * (*n).max(1) as f64;
        }
        let bottom = y + ROW / 2.0;
        // Columns.
        let lstate = layout.left_marks.max(12);
        let rstate = layout.right_marks.max(12);
        let label = layout.labels.max(40);
        let time_w = 110.0;
        let lx = time_w + px(lstate) + 30.0;
        let rx = lx + px(label).max(300.0) + 60.0;
        let ex = rx + px(rstate) + 30.0;
        let total_w = if explain {
            ex + px(layout.explains) + 20.0
        } else {
            ex
        };
        Geometry {
            slots,
            top,
            bottom,
            lx,
            rx,
            ex,
            total_w,
        }
    }

    /// The x of a lifeline.
    fn xof(&self, c: Col) -> f64 {
        if c == Col::L {
            self.lx
        } else {
            self.rx
        }
    }

    /// The XML declaration, the root element, the styles, the arrowheads
    /// and the white background.
    fn prelude(&self, o: &mut String) {
        let (total_w, bottom) = (self.total_w, self.bottom);
        let _ = writeln!(o, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        let _ = writeln!(
            o,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0}" height="{bottom:.0}" viewBox="0 0 {total_w:.0} {bottom:.0}" font-family="monospace" font-size="12">"#
        );
        o.push_str(concat!(
            "<style>",
            ".time{fill:#777}.arr{fill:#bbb}.label{paint-order:stroke;stroke:#fff;stroke-width:3px}",
            ".state rect{fill:#e0f7fa;stroke:#00838f}.state text{fill:#005662}",
            ".timer{fill:#1565c0}.drop{fill:#c62828}.note{fill:#555}",
            ".syn{stroke:#2e7d32;fill:#2e7d32}.fin{stroke:#b8860b;fill:#b8860b}",
            ".rst{stroke:#8e24aa;fill:#8e24aa}.seg{stroke:#222;fill:#222}",
            ".l-syn{fill:#2e7d32}.l-fin{fill:#b8860b}.l-rst{fill:#8e24aa}.l-seg{fill:#222}",
            ".x{stroke:#c62828;stroke-width:2.5}",
            "</style>\n"
        ));
        o.push_str("<defs>");
        for c in ["syn", "fin", "rst", "seg"] {
            let _ = write!(
                o,
                r#"<marker id="head-{c}" class="{c}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>"#
            );
        }
        o.push_str("</defs>\n");
        o.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n");
    }

    /// The title, the time column's heading, and each host's name above
    /// its lifeline.
    fn heading(&self, o: &mut String, m: &Model, opts: &SvgOptions) {
        let w = words(opts.lang);
        let title = format!(
            "synack: {} ↔ {}, {}",
            m.name(m.left),
            m.right_name(),
            if opts.absolute {
                w.absolute
            } else {
                w.relative
            }
        );
        let _ = writeln!(o, r#"<text x="10" y="20">{}</text>"#, xml(&title));
        let _ = writeln!(
            o,
            r#"<text x="10" y="52" class="time">{}</text>"#,
            xml(w.time)
        );
        for (c, name) in [(Col::L, m.name(m.left)), (Col::R, m.right_name())] {
            let _ = writeln!(
                o,
                r#"<text x="{:.1}" y="52" text-anchor="middle" font-weight="bold">{}</text>"#,
                self.xof(c),
                xml(&name)
            );
            let _ = writeln!(
                o,
                "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>",
                TOP - 10.0,
                self.bottom,
                x = self.xof(c)
            );
        }
    }

    /// Time column: every slot (an arrival-only slot greyed).
    fn time_column(&self, o: &mut String) {
        for (t, y0) in &self.top {
            let has_steps = self.slots.get(t).copied().unwrap_or(0) > 0;
            let _ = writeln!(
                o,
                r#"<text x="10" y="{:.1}" class="{}">{}</text>"#,
                y0 + ROW / 2.0 + 4.0,
                if has_steps { "time" } else { "time arr" },
                xml(&fmt_ms(*t))
            );
        }
    }

    /// A segment: its label, then a line to where it arrived (its slot), or
    /// to a cross where it was lost or dropped.
    fn arrow(&self, o: &mut String, a: &Arrow, y0: f64) {
        let class = match a.class {
            SegClass::Rst => "rst",
            SegClass::Syn => "syn",
            SegClass::Fin => "fin",
            SegClass::Other => "seg",
        };
        let (x1, x2) = (self.xof(a.from), self.xof(a.to));
        let (lx_, anchor) = if x2 > x1 {
            (x1 + 8.0, "start")
        } else {
            (x1 - 8.0, "end")
        };
        let _ = writeln!(
            o,
            r#"<text x="{lx_:.1}" y="{:.1}" text-anchor="{anchor}" class="label l-{class}">{}</text>"#,
            y0 - 3.0,
            xml(&a.label)
        );
        if a.end == End::Lost {
            let (mx, my) = ((x1 + x2) / 2.0, y0 + ROW / 2.0);
            let _ = writeln!(
                o,
                r#"<line x1="{x1:.1}" y1="{y0:.1}" x2="{mx:.1}" y2="{my:.1}" class="{class}"/>"#
            );
            cross(o, mx, my, &a.note);
            return;
        }
        let y2 = match a.arrives {
            Some(t) => self
                .top
                .get(&t)
                .map_or(y0 + ROW, |y| y + ROW / 2.0 - 8.0)
                .max(y0 + 4.0),
            None => y0 + ROW * 0.75,
        };
        let dash = if a.unknown {
            r#" stroke-dasharray="4 3""#
        } else {
            ""
        };
        if a.end == End::Rejected {
            let _ = writeln!(
                o,
                r#"<line x1="{x1:.1}" y1="{y0:.1}" x2="{x2:.1}" y2="{y2:.1}" class="{class}"{dash}/>"#
            );
            cross(o, x2, y2, &a.note);
        } else {
            let _ = writeln!(
                o,
                r#"<line x1="{x1:.1}" y1="{y0:.1}" x2="{x2:.1}" y2="{y2:.1}" class="{class}" marker-end="url(#head-{class})"{dash}><title>{}</title></line>"#,
                xml(&a.note)
            );
        }
    }

    /// A mark beside its lifeline: a state change in a box, anything else
    /// as text.
    fn mark(&self, o: &mut String, col: Col, mk: &Mark, y0: f64) {
        let (lx, rx) = (self.lx, self.rx);
        if mk.class == MarkClass::State {
            let bw = px(width(&mk.text)) + 12.0;
            let bx = if col == Col::L {
                lx - 6.0 - bw
            } else {
                rx + 6.0
            };
            let _ = writeln!(
                o,
                r#"<g class="state"><rect x="{bx:.1}" y="{:.1}" width="{bw:.1}" height="18" rx="4"/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
                y0 - 9.0,
                bx + 6.0,
                y0 + 4.0,
                xml(&mk.text)
            );
            return;
        }
        let class = if mk.class == MarkClass::Drop {
            "drop"
        } else {
            "timer"
        };
        let (x, anchor) = if col == Col::L {
            (lx - 8.0, "end")
        } else {
            (rx + 8.0, "start")
        };
        let _ = writeln!(
            o,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="{anchor}" class="{class}">{}</text>"#,
            y0 + 4.0,
            xml(&mk.text)
        );
    }
}

/// A red cross centred on `(x, y)`, with `why` as its tooltip.
fn cross(o: &mut String, x: f64, y: f64, why: &str) {
    let d = 6.0;
    let _ = writeln!(
        o,
        r#"<g class="x"><title>{}</title><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/></g>"#,
        xml(why),
        x - d,
        y - d,
        x + d,
        y + d,
        x - d,
        y + d,
        x + d,
        y - d
    );
    let _ = writeln!(
        o,
        r#"<text x="{:.1}" y="{:.1}" class="drop">{}</text>"#,
        x + 10.0,
        y + 16.0,
        xml(why)
    );
}
