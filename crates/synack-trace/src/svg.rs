//! The ladder as a standalone SVG picture.
//!
//! Two vertical lifelines; each segment a slanted arrow from its send time
//! on the sender's lifeline to its arrival time on the receiver's, labelled
//! at its start; a segment that never arrived ends in a red cross; state
//! changes are boxes beside their host's lifeline, timers are marked there
//! too; explanations run down the right. Rows are spaced by event, not to
//! scale, so a 60 s TIME_WAIT takes no more room than a 10 ms hop; the
//! time column gives the real instants.

use crate::explain::{
    cause_text, conn_error_text, drop_reason_text, state_text, timer_text, words,
};
use crate::label::{arrival_note, seg_explain, seg_label};
use crate::model::{build, Arrival, Col, StepKind};
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

/// Render a standalone SVG ladder of the two hosts the text ladder draws.
pub fn render_svg(entries: &[TraceEntry], hosts: &[HostInfo<'_>], opts: &SvgOptions) -> String {
    let m = build(entries, hosts, opts.absolute);
    let w = words(opts.lang);

    // The drawn steps with their columns.
    let steps: Vec<(usize, Col)> = m
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, st)| m.step_col(st).map(|c| (i, c)))
        .collect();

    // Time slots: step times and arrival times.
    let mut slots: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, _) in &steps {
        if let Some(st) = m.steps.get(*i) {
            *slots.entry(st.at).or_default() += 1;
            if let StepKind::Segment(s) = &st.kind {
                match s.arrival {
                    Arrival::Delivered(t)
                    | Arrival::Corrupted(t)
                    | Arrival::Marked(t)
                    | Arrival::Duplicated(t, _) => {
                        slots.entry(t).or_default();
                    }
                    _ => {}
                }
            }
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
    let mut lstate = 12usize;
    let mut rstate = 12usize;
    let mut label = 40usize;
    let mut expl = 0usize;
    let mut rows: Vec<(usize, Col, String)> = Vec::new();
    for (i, col) in &steps {
        let Some(st) = m.steps.get(*i) else { continue };
        let (side_text, e) = match &st.kind {
            StepKind::Segment(s) => {
                label = label.max(width(&seg_label(&s.seg, s.seq, s.ack, s.reason)));
                (String::new(), seg_explain(s, opts.absolute, opts.lang))
            }
            StepKind::State { from, to, cause } => (
                format!("{} → {}", from.name(), to.name()),
                format!(
                    "{}{}{}",
                    cause_text(*cause, opts.lang),
                    w.sep,
                    state_text(*to, opts.lang)
                ),
            ),
            StepKind::Timer(t) => (
                format!("◷ {} {}", t.name(), w.timer),
                timer_text(*t, opts.lang).to_string(),
            ),
            StepKind::Drop { reason, .. } => (
                format!("✖ {}", w.dropped),
                drop_reason_text(*reason, opts.lang),
            ),
            StepKind::Error(e) => (
                format!("✖ {}{}{e}", w.error, w.colon),
                conn_error_text(*e, opts.lang).to_string(),
            ),
            StepKind::Lost(n) => (
                format!("! {n} {}", w.events_lost),
                w.events_lost_text.to_string(),
            ),
            StepKind::Note(n) => (
                crate::explain::note_label(n),
                crate::explain::note_text(n, opts.lang).to_string(),
            ),
        };
        match col {
            Col::L => lstate = lstate.max(width(&side_text)),
            Col::R => rstate = rstate.max(width(&side_text)),
        }
        expl = expl.max(width(&e));
        rows.push((*i, *col, e));
    }
    let time_w = 110.0;
    let lx = time_w + px(lstate) + 30.0;
    let rx = lx + px(label).max(300.0) + 60.0;
    let ex = rx + px(rstate) + 30.0;
    let total_w = if opts.explain {
        ex + px(expl) + 20.0
    } else {
        ex
    };
    let xof = |c: Col| if c == Col::L { lx } else { rx };

    let mut o = String::new();
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
            xof(c),
            xml(&name)
        );
        let _ = writeln!(
            o,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"#999\"/>",
            TOP - 10.0,
            x = xof(c)
        );
    }
    // Time column: every slot.
    for (t, y0) in &top {
        let has_steps = slots.get(t).copied().unwrap_or(0) > 0;
        let _ = writeln!(
            o,
            r#"<text x="10" y="{:.1}" class="{}">{}</text>"#,
            y0 + ROW / 2.0 + 4.0,
            if has_steps { "time" } else { "time arr" },
            xml(&fmt_ms(*t))
        );
    }
    // Steps.
    let mut used: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, col, e) in &rows {
        let Some(st) = m.steps.get(*i) else { continue };
        let k = used.entry(st.at).or_default();
        let y0 = top.get(&st.at).copied().unwrap_or(TOP) + ROW * (*k as f64) + ROW / 2.0;
        *k += 1;
        match &st.kind {
            StepKind::Segment(s) => {
                let Some((f, t)) = m.seg_cols(s) else {
                    continue;
                };
                let class = if s.seg.flags.rst() {
                    "rst"
                } else if s.seg.flags.syn() {
                    "syn"
                } else if s.seg.flags.fin() {
                    "fin"
                } else {
                    "seg"
                };
                let (x1, x2) = (xof(f), xof(t));
                let arrive_y = |at: u64| {
                    top.get(&at)
                        .map_or(y0 + ROW, |y| y + ROW / 2.0 - 8.0)
                        .max(y0 + 4.0)
                };
                let text = seg_label(&s.seg, s.seq, s.ack, s.reason);
                let (lx_, anchor) = if x2 > x1 {
                    (x1 + 8.0, "start")
                } else {
                    (x1 - 8.0, "end")
                };
                let _ = writeln!(
                    o,
                    r#"<text x="{lx_:.1}" y="{:.1}" text-anchor="{anchor}" class="label l-{class}">{}</text>"#,
                    y0 - 3.0,
                    xml(&text)
                );
                let (note, _) = arrival_note(&m, s, opts.lang);
                match &s.arrival {
                    Arrival::LinkDropped(_) => {
                        let (mx, my) = ((x1 + x2) / 2.0, y0 + ROW / 2.0);
                        let _ = writeln!(
                            o,
                            r#"<line x1="{x1:.1}" y1="{y0:.1}" x2="{mx:.1}" y2="{my:.1}" class="{class}"/>"#
                        );
                        cross(&mut o, mx, my, &note);
                    }
                    a => {
                        let y2 = match a {
                            Arrival::Delivered(t)
                            | Arrival::Corrupted(t)
                            | Arrival::Marked(t)
                            | Arrival::Duplicated(t, _) => arrive_y(*t),
                            _ => y0 + ROW * 0.75,
                        };
                        let dash = if matches!(a, Arrival::Unknown) {
                            r#" stroke-dasharray="4 3""#
                        } else {
                            ""
                        };
                        if s.rejected.is_some() {
                            let _ = writeln!(
                                o,
                                r#"<line x1="{x1:.1}" y1="{y0:.1}" x2="{x2:.1}" y2="{y2:.1}" class="{class}"{dash}/>"#
                            );
                            cross(&mut o, x2, y2, &note);
                        } else {
                            let _ = writeln!(
                                o,
                                r#"<line x1="{x1:.1}" y1="{y0:.1}" x2="{x2:.1}" y2="{y2:.1}" class="{class}" marker-end="url(#head-{class})"{dash}><title>{}</title></line>"#,
                                xml(&note)
                            );
                        }
                    }
                }
            }
            StepKind::State { from, to, .. } => {
                let text = format!("{} → {}", from.name(), to.name());
                let bw = px(width(&text)) + 12.0;
                let bx = if *col == Col::L {
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
                    xml(&text)
                );
            }
            other => {
                let (text, class) = match other {
                    StepKind::Timer(t) => (format!("◷ {} {}", t.name(), w.timer), "timer"),
                    StepKind::Drop { .. } => (format!("✖ {}", w.dropped), "drop"),
                    StepKind::Error(e) => (format!("✖ {}{}{e}", w.error, w.colon), "drop"),
                    StepKind::Lost(n) => (format!("! {n} {}", w.events_lost), "drop"),
                    StepKind::Note(n) => (crate::explain::note_label(n), "timer"),
                    _ => (String::new(), "note"),
                };
                let (x, anchor) = if *col == Col::L {
                    (lx - 8.0, "end")
                } else {
                    (rx + 8.0, "start")
                };
                let _ = writeln!(
                    o,
                    r#"<text x="{x:.1}" y="{:.1}" text-anchor="{anchor}" class="{class}">{}</text>"#,
                    y0 + 4.0,
                    xml(&text)
                );
            }
        }
        if opts.explain && !e.is_empty() {
            let _ = writeln!(
                o,
                r#"<text x="{ex:.1}" y="{:.1}" class="note">{}</text>"#,
                y0 + 4.0,
                xml(e)
            );
        }
    }
    o.push_str("</svg>\n");
    o
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
