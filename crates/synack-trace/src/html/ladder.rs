//! The page's ladder: an SVG with one line per item (a step or a socket
//! call), each a `<g class="r" id="rN">` the script shows, hides and
//! animates. Without the script it is a complete static ladder.
//!
//! Columns, left to right: the time, the client's socket calls, its state
//! changes, its lifeline, the segments, the server's lifeline, its state
//! changes, its socket calls.

use super::words::{call_text, page_words};
use super::Item;
use crate::calls::SocketCall;
use crate::layout::{Arrow, End, Layout, MarkClass, SegClass, Shape};
use crate::model::{Col, StepKind};
use crate::svg::xml;
use crate::{fmt_ms, Lang};
use std::fmt::Write as _;

pub(crate) const ROW: f64 = 26.0;
const TOP: f64 = 64.0;
const LCALL: f64 = 150.0;
const LX: f64 = 300.0;
const RX: f64 = 610.0;
const RCALL: f64 = 765.0;
const WIDTH: f64 = 830.0;

fn xof(c: Col) -> f64 {
    match c {
        Col::L => LX,
        Col::R => RX,
    }
}

fn y_of(i: usize) -> f64 {
    TOP + ROW * i as f64 + ROW / 2.0
}

/// `s` cut to `n` characters, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
    t.push('…');
    t
}

fn class_of(c: SegClass) -> &'static str {
    match c {
        SegClass::Rst => "rst",
        SegClass::Syn => "syn",
        SegClass::Fin => "fin",
        SegClass::Other => "seg",
    }
}

/// The ladder's `<svg>`.
pub(crate) fn svg(layout: &Layout, items: &[Item], calls: &[SocketCall], lang: Lang) -> String {
    let w = page_words(lang);
    let m = &layout.model;
    let bottom = TOP + ROW * items.len() as f64 + ROW;
    let mut o = String::with_capacity(items.len() * 300 + 2048);
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="ladder" viewBox="0 0 {WIDTH} {bottom:.0}" width="{WIDTH}" height="{bottom:.0}" data-rows="{}" data-focus="{}">"#,
        items.len(),
        LX - 100.0
    );
    o.push_str("<defs>");
    for c in ["syn", "fin", "rst", "seg"] {
        let _ = write!(
            o,
            r#"<marker id="h-{c}" class="{c}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>"#
        );
    }
    o.push_str("</defs>\n");
    for (c, name) in [(Col::L, m.name(m.left)), (Col::R, m.right_name())] {
        let x = xof(c);
        let _ = writeln!(
            o,
            r#"<text x="{x}" y="24" class="host" text-anchor="middle">{}</text><line class="life" x1="{x}" x2="{x}" y1="{}" y2="{bottom:.0}"/>"#,
            xml(&name),
            TOP - 8.0
        );
    }
    for x in [LCALL, RCALL] {
        let _ = writeln!(
            o,
            r#"<text x="{x}" y="48" class="lane" text-anchor="middle">{}</text>"#,
            xml(w.calls)
        );
    }
    let mut last_t = None;
    for (i, item) in items.iter().enumerate() {
        let y = y_of(i);
        let at = match item {
            Item::Row(r) => layout.rows.get(*r).map_or(0, |r| r.at),
            Item::Call(c, _) => calls.get(*c).map_or(0, |c| c.at.micros()),
        };
        let _ = write!(o, r#"<g class="r" id="r{i}">"#);
        if last_t != Some(at) {
            let _ = write!(
                o,
                r#"<text x="4" y="{:.1}" class="t">{}</text>"#,
                y + 4.0,
                fmt_ms(at)
            );
            last_t = Some(at);
        }
        match item {
            Item::Row(r) => {
                if let Some(row) = layout.rows.get(*r) {
                    let _ = write!(o, "<title>{}</title>", xml(&row.explain));
                    match &row.shape {
                        Shape::Arrow(a) => arrow(&mut o, layout, items, i, a),
                        Shape::Mark(mk) => {
                            let step = layout.model.steps.get(row.step).map(|s| &s.kind);
                            mark(&mut o, row.col, y, &mk.text, mk.class, step);
                        }
                    }
                }
            }
            Item::Call(c, col) => {
                if let Some(call) = calls.get(*c) {
                    call_pill(&mut o, call, *col, y, lang);
                }
            }
        }
        o.push_str("</g>\n");
    }
    o.push_str("</svg>\n");
    o
}

/// A socket call in its lane: a rounded box with the call (dashed and
/// with a question mark when only inferred).
fn call_pill(o: &mut String, c: &SocketCall, col: Col, y: f64, lang: Lang) {
    let x = if col == Col::L { LCALL } else { RCALL };
    let label = if c.inferred {
        format!("{}?", c.call.label())
    } else {
        c.call.label()
    };
    let mut why = call_text(c.call, lang).to_string();
    if c.inferred {
        why = format!("{why} ({})", page_words(lang).inferred);
    }
    let bw = 12.0 + 7.0 * label.chars().count() as f64;
    let _ = write!(
        o,
        r#"<title>{}</title><rect class="call{}" x="{:.1}" y="{:.1}" width="{bw:.1}" height="18" rx="9"/><text class="callt" x="{x}" y="{:.1}" text-anchor="middle">{}</text><line class="tie" x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/>"#,
        xml(&why),
        if c.inferred { " inf" } else { "" },
        x - bw / 2.0,
        y - 9.0,
        y + 4.0,
        xml(&label),
        if col == Col::L { x + bw / 2.0 } else { RX },
        if col == Col::L { LX } else { x - bw / 2.0 },
    );
}

/// A mark beside its lifeline: a state change as a box with the new state
/// (the state names are the diagram's), anything else as short text.
fn mark(o: &mut String, col: Col, y: f64, text: &str, class: MarkClass, step: Option<&StepKind>) {
    let x = xof(col);
    if let Some(StepKind::State { from, to, .. }) = step {
        let name = to.name();
        let bw = 10.0 + 7.0 * name.len() as f64;
        let bx = if col == Col::L { x - 6.0 - bw } else { x + 6.0 };
        let _ = write!(
            o,
            r#"<g class="st" data-from="{}" data-to="{name}"><rect x="{bx:.1}" y="{:.1}" width="{bw:.1}" height="18" rx="4"/><text x="{:.1}" y="{:.1}">{name}</text></g>"#,
            from.name(),
            y - 9.0,
            bx + 5.0,
            y + 4.0,
        );
        return;
    }
    let cls = if class == MarkClass::Drop { "dr" } else { "tm" };
    let (tx, anchor) = if col == Col::L {
        (x - 8.0, "end")
    } else {
        (x + 8.0, "start")
    };
    let _ = write!(
        o,
        r#"<text x="{tx:.1}" y="{:.1}" text-anchor="{anchor}" class="{cls}">{}</text>"#,
        y + 4.0,
        xml(&clip(text, 34))
    );
}

/// The line where a segment arrives: just above the first item at or
/// after its arrival time.
fn arrival_y(layout: &Layout, items: &[Item], from: usize, t: u64) -> f64 {
    let y0 = y_of(from);
    for (j, it) in items.iter().enumerate().skip(from + 1) {
        if let Item::Row(r) = it {
            if layout.rows.get(*r).is_some_and(|r| r.at >= t) {
                return (y_of(j) - 7.0).max(y0 + 8.0);
            }
        }
    }
    y_of(items.len()).max(y0 + 8.0)
}

/// A segment: its short label over the start, the line to its arrival,
/// and how it ended: an arrowhead, or a cross halfway with the reason it
/// was lost, or a cross at the receiver that discarded it.
fn arrow(o: &mut String, layout: &Layout, items: &[Item], i: usize, a: &Arrow) {
    let cls = class_of(a.class);
    let y = y_of(i);
    let (x1, x2) = (xof(a.from), xof(a.to));
    let (lx, anchor) = if x2 > x1 {
        (x1 + 8.0, "start")
    } else {
        (x1 - 8.0, "end")
    };
    let _ = write!(
        o,
        r#"<text x="{lx:.1}" y="{:.1}" text-anchor="{anchor}" class="lbl l-{cls}">{}</text>"#,
        y - 3.0,
        xml(&clip(&a.label, 44))
    );
    if a.end == End::Lost {
        let (mx, my) = ((x1 + x2) / 2.0, y + ROW * 0.6);
        let _ = write!(
            o,
            r#"<line class="a {cls} lost" x1="{x1}" y1="{y:.1}" x2="{mx:.1}" y2="{my:.1}"/>"#
        );
        cross(o, mx, my);
        let _ = write!(
            o,
            r#"<text class="why" x="{:.1}" y="{:.1}">{}</text>"#,
            mx + 10.0,
            my + 14.0,
            xml(&clip(&a.note, 40))
        );
        return;
    }
    let y2 = match a.arrives {
        Some(t) => arrival_y(layout, items, i, t),
        None => y + ROW * 0.7,
    };
    let dash = if a.unknown { " unk" } else { "" };
    if a.end == End::Rejected {
        let _ = write!(
            o,
            r#"<line class="a {cls}{dash}" x1="{x1}" y1="{y:.1}" x2="{x2}" y2="{y2:.1}"/>"#
        );
        cross(o, x2, y2);
    } else {
        let _ = write!(
            o,
            r#"<line class="a {cls}{dash}" x1="{x1}" y1="{y:.1}" x2="{x2}" y2="{y2:.1}" marker-end="url(#h-{cls})"/>"#
        );
    }
}

/// A cross centred on `(x, y)`: a segment that went no further.
fn cross(o: &mut String, x: f64, y: f64) {
    let d = 5.0;
    let _ = write!(
        o,
        r#"<path class="x" d="M{:.1},{:.1}L{:.1},{:.1}M{:.1},{:.1}L{:.1},{:.1}"/>"#,
        x - d,
        y - d,
        x + d,
        y + d,
        x - d,
        y + d,
        x + d,
        y - d
    );
}
