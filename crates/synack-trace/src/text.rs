//! The ladder diagram as text.
//!
//! Time flows down, one line per event, each stamped in virtual
//! milliseconds. The client's lifeline is on the left, the server's on the
//! right. A segment takes two lines at its send time: its label on the
//! sender's side, then the arrow, with the arrival time (or why it never
//! arrived) noted past the arrowhead. State changes and timers appear on
//! their host's side when they happen. Each line ends with a one-line
//! explanation.

use crate::explain::{
    cause_text, conn_error_text, drop_reason_name, drop_reason_text, link_drop_text, segment_text,
    send_reason_name, state_text, timer_text, words,
};
use crate::model::{build, Arrival, Col, Model, SegStep, StepKind};
use crate::summary::{
    conn_table, connection_summaries, listener_stats, listener_text, listener_view_text, width,
    ListenerView,
};
use crate::{fmt_ms, HostInfo, Lang, TraceEntry};
use synack_proto::wire::TcpFlags;
use synack_proto::{SegmentSummary, SendReason};

/// ANSI SGR codes (the part between `ESC[` and `m`) used when
/// [`TextOptions::color`] is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// State changes.
    pub state: String,
    /// Segments with SYN.
    pub syn: String,
    /// Segments with FIN.
    pub fin: String,
    /// Segments with RST.
    pub rst: String,
    /// Other segments (data, ACK).
    pub segment: String,
    /// Drops of any kind: link losses, stack drops, errors.
    pub drop: String,
    /// Timers.
    pub timer: String,
    /// Explanations.
    pub note: String,
    /// Time stamps.
    pub time: String,
}

impl Default for Theme {
    /// States bold cyan, SYN green, FIN yellow, RST magenta, drops bold
    /// red, timers blue, explanations and times dim.
    fn default() -> Theme {
        Theme {
            state: "1;36".into(),
            syn: "32".into(),
            fin: "33".into(),
            rst: "1;35".into(),
            segment: String::new(),
            drop: "1;31".into(),
            timer: "34".into(),
            note: "2".into(),
            time: "2".into(),
        }
    }
}

/// Options of [`render_text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextOptions {
    /// Show raw 32-bit sequence and acknowledgment numbers instead of
    /// numbers relative to each side's ISN.
    pub absolute: bool,
    /// Draw with ASCII only (`|`, `-`, `>`, `<`, `X`, `->`).
    pub ascii: bool,
    /// Colour with ANSI escapes, per [`TextOptions::theme`].
    pub color: bool,
    /// Language of the explanations and headings.
    pub lang: Lang,
    /// End each line with a one-line explanation.
    pub explain: bool,
    /// Print the connection table (and listener counters) at the end.
    pub summary: bool,
    /// Listener snapshots to print instead of the counters derived from events.
    pub listeners: Vec<ListenerView>,
    /// The colours.
    pub theme: Theme,
}

impl Default for TextOptions {
    /// Relative numbers, Unicode, no colour, English, explanations and summary on.
    fn default() -> TextOptions {
        TextOptions {
            absolute: false,
            ascii: false,
            color: false,
            lang: Lang::En,
            explain: true,
            summary: true,
            listeners: Vec::new(),
            theme: Theme::default(),
        }
    }
}

struct Glyphs {
    v: &'static str,
    h: &'static str,
    right: &'static str,
    left: &'static str,
    cross: &'static str,
    to: &'static str,
    timer: &'static str,
    both: &'static str,
}

const UNICODE: Glyphs = Glyphs {
    v: "│",
    h: "─",
    right: "▶",
    left: "◀",
    cross: "✖",
    to: "→",
    timer: "◷",
    both: "↔",
};

const ASCII: Glyphs = Glyphs {
    v: "|",
    h: "-",
    right: ">",
    left: "<",
    cross: "X",
    to: "->",
    timer: "*",
    both: "<->",
};

/// Coloured text builder.
struct Painter {
    on: bool,
}

impl Painter {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on && !code.is_empty() && !s.is_empty() {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// The label of a segment: flags, numbers, window, length, SYN options.
pub(crate) fn seg_label(
    seg: &SegmentSummary,
    seq: u32,
    ack: u32,
    reason: Option<SendReason>,
) -> String {
    let mut s = format!("{} seq={seq}", seg.flags);
    if seg.flags.ack() {
        s.push_str(&format!(" ack={ack}"));
    }
    s.push_str(&format!(" win={} len={}", seg.window, seg.len));
    let o = &seg.options;
    if let Some(m) = o.mss {
        s.push_str(&format!(" mss={m}"));
    }
    if let Some(w) = o.window_scale {
        s.push_str(&format!(" wscale={w}"));
    }
    if o.sack_permitted {
        s.push_str(" sackOK");
    }
    if !o.sack.is_empty() {
        s.push_str(&format!(" sack={}", o.sack.len()));
    }
    if o.timestamps.is_some() {
        s.push_str(" ts");
    }
    if let Some(r) = reason {
        if r != SendReason::Normal {
            s.push_str(&format!(" ({})", send_reason_name(r).replace('_', " ")));
        }
    }
    s
}

/// The style of a segment, by its most telling flag.
fn seg_style(theme: &Theme, flags: TcpFlags) -> &str {
    if flags.rst() {
        &theme.rst
    } else if flags.syn() {
        &theme.syn
    } else if flags.fin() {
        &theme.fin
    } else {
        &theme.segment
    }
}

/// What a segment step says past its arrowhead, and whether it is a drop.
pub(crate) fn arrival_note(m: &Model, s: &SegStep, lang: Lang) -> (String, bool) {
    let w = words(lang);
    let receiver = s.to.map_or_else(|| m.right_name(), |h| m.name(h));
    let when = match &s.arrival {
        Arrival::Unknown => None,
        Arrival::Delivered(t) => Some(format!("{} {}", w.arrives, fmt_ms(*t))),
        Arrival::Duplicated(a, b) => Some(format!(
            "{} {} {} {}",
            w.arrives,
            fmt_ms(*a),
            w.again,
            fmt_ms(*b)
        )),
        Arrival::Corrupted(t) => Some(format!("{} {}", w.corrupted, fmt_ms(*t))),
        Arrival::Marked(t) => Some(format!("{} {}", w.ce_marked, fmt_ms(*t))),
        Arrival::LinkDropped(c) => {
            return (
                format!("{}{}{}", w.lost, w.colon, link_drop_text(c, lang)),
                true,
            );
        }
    };
    if let Some(r) = s.rejected {
        let mut note = format!(
            "{} {}{}{}",
            w.dropped_by,
            receiver,
            w.colon,
            drop_reason_text(r, lang)
        );
        if let Some(when) = when {
            note = format!("{when}, {note}");
        }
        return (note, true);
    }
    let mut note = when.unwrap_or_else(|| w.no_arrival.to_string());
    if !s.sent_seen {
        note = format!("{note} ({})", w.sender_unseen);
    }
    (note, false)
}

/// The explanation of a segment step.
pub(crate) fn seg_explain(s: &SegStep, absolute: bool, lang: Lang) -> String {
    let mut text = match s.reason {
        Some(SendReason::Observed(o)) => crate::observed::text(o, s, absolute, lang),
        _ => segment_text(s.meaning, s.reason, s.seq, s.ack, absolute, lang),
    };
    // RFC 3168: ECE and CWR mean something else on a SYN (the negotiation).
    let f = s.seg.flags;
    if f.syn() && f.ece() {
        let w = words(lang);
        text.push_str(if f.ack() {
            w.ecn_agreed_note
        } else if f.cwr() {
            w.ecn_setup_note
        } else {
            ""
        });
    } else if !f.syn() && (f.ece() || f.cwr()) {
        let w = words(lang);
        if f.ece() {
            text.push_str(w.ece_note);
        }
        if f.cwr() {
            text.push_str(w.cwr_note);
        }
    }
    text
}

/// Render the ladder diagram of a trace.
///
/// With more than two hosts, the two that exchanged the most segments are
/// drawn and the heading says so. The connection table and listener
/// counters follow when [`TextOptions::summary`] is on.
pub fn render_text(entries: &[TraceEntry], hosts: &[HostInfo<'_>], opts: &TextOptions) -> String {
    let m = build(entries, hosts, opts.absolute);
    let g = if opts.ascii { &ASCII } else { &UNICODE };
    let w = words(opts.lang);
    let p = Painter { on: opts.color };
    let th = &opts.theme;

    // What each drawn step shows inside the lifelines.
    enum Row {
        /// Text on one side.
        Side(Col, String, String),
        /// A segment: label line, then arrow.
        Seg(Col, Col, Box<SegStep>),
    }
    let mut rows: Vec<(u64, Row, String)> = Vec::new();
    for st in &m.steps {
        let Some(col) = m.step_col(st) else { continue };
        let (row, expl) = match &st.kind {
            StepKind::Segment(s) => {
                let Some((f, t)) = m.seg_cols(s) else {
                    continue;
                };
                let mut e = seg_explain(s, opts.absolute, opts.lang);
                if !s.sent_seen {
                    e = format!("{e} ({})", w.sender_unseen);
                }
                (Row::Seg(f, t, s.clone()), e)
            }
            StepKind::State {
                from, to, cause, ..
            } => (
                Row::Side(
                    col,
                    format!("{} {} {}", from.name(), g.to, to.name()),
                    th.state.clone(),
                ),
                format!(
                    "{}{}{}",
                    cause_text(*cause, opts.lang),
                    w.sep,
                    state_text(*to, opts.lang)
                ),
            ),
            StepKind::Timer(t) => (
                Row::Side(
                    col,
                    format!("{} {} {}", g.timer, t.name(), w.timer),
                    th.timer.clone(),
                ),
                timer_text(*t, opts.lang).to_string(),
            ),
            StepKind::Drop { seg, reason } => {
                let what = match seg {
                    Some((s, q, a)) => {
                        format!("{} {}: {}", g.cross, w.dropped, seg_label(s, *q, *a, None))
                    }
                    None => format!("{} {}: {}", g.cross, w.dropped, drop_reason_name(*reason)),
                };
                (
                    Row::Side(col, what, th.drop.clone()),
                    drop_reason_text(*reason, opts.lang),
                )
            }
            StepKind::Error(e) => (
                Row::Side(
                    col,
                    format!("{} {}: {e}", g.cross, w.error),
                    th.drop.clone(),
                ),
                conn_error_text(*e, opts.lang).to_string(),
            ),
            StepKind::Lost(n) => (
                Row::Side(col, format!("! {n} {}", w.events_lost), th.drop.clone()),
                w.events_lost_text.to_string(),
            ),
            StepKind::Note(n) => (
                Row::Side(col, crate::explain::note_label(n), th.timer.clone()),
                crate::explain::note_text(n, opts.lang).to_string(),
            ),
        };
        rows.push((st.at, row, expl));
    }

    // Widths: the time column and the space between the lifelines.
    let tw = rows
        .iter()
        .map(|(t, _, _)| fmt_ms(*t).len())
        .max()
        .unwrap_or(8);
    let mut inner = 48usize;
    for (_, r, _) in &rows {
        let need = match r {
            Row::Side(_, s, _) => width(s) + 4,
            Row::Seg(_, _, s) => width(&seg_label(&s.seg, s.seq, s.ack, s.reason)) + 4,
        };
        inner = inner.max(need);
    }

    let mut out = String::new();
    let left = m.name(m.left);
    let right = m.right_name();
    let addr = |h: Option<usize>| {
        h.and_then(|h| hosts.get(h))
            .map_or_else(String::new, |hi| format!(" ({})", hi.addr))
    };
    out.push_str(&format!(
        "synack: {left}{} {} {right}{}, {}\n",
        addr(Some(m.left)),
        g.both,
        addr(m.right),
        if opts.absolute {
            w.absolute
        } else {
            w.relative
        }
    ));
    if m.chosen {
        let hidden = m.hidden();
        out.push_str(&match opts.lang {
            Lang::En => format!(
                "{} hosts in the trace: showing {left} and {right}, the pair that exchanged the most segments; {hidden} {}\n",
                m.host_count, w.others_hidden
            ),
            Lang::Zh => format!(
                "记录中有 {} 台主机：显示交换报文段最多的 {left} 与 {right}；{hidden} 个{}\n",
                m.host_count, w.others_hidden
            ),
        });
    }
    out.push('\n');
    let gap = (inner + 2)
        .saturating_sub(width(&left) + width(&right))
        .max(1);
    let head = format!(
        "{}{}  {}{}{}",
        " ".repeat(tw.saturating_sub(width(w.time))),
        w.time,
        p.paint(&th.state, &left),
        " ".repeat(gap),
        p.paint(&th.state, &right)
    );
    out.push_str(head.trim_end());
    out.push('\n');
    let blank_time = " ".repeat(tw);
    let line = |out: &mut String, time: &str, interior: String, note: &str, note_style: &str| {
        let mut l = format!("{}  {}{}{}", time, g.v, interior, g.v);
        if !note.is_empty() {
            l.push_str("  ");
            l.push_str(&p.paint(note_style, note));
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    // Text inside the lifelines on one side, padded to `inner` columns.
    let side = |col: Col, text: &str, style: &str| -> String {
        let fill = inner.saturating_sub(width(text) + 2);
        match col {
            Col::L => format!(" {}{} ", p.paint(style, text), " ".repeat(fill)),
            Col::R => format!(" {}{} ", " ".repeat(fill), p.paint(style, text)),
        }
    };
    line(&mut out, &blank_time, " ".repeat(inner), "", "");
    for (at, row, expl) in &rows {
        let time = p.paint(&th.time, &format!("{:>tw$}", fmt_ms(*at)));
        let expl = if opts.explain { expl.as_str() } else { "" };
        match row {
            Row::Side(col, text, style) => {
                line(&mut out, &time, side(*col, text, style), expl, &th.note)
            }
            Row::Seg(f, t, s) => {
                let style = seg_style(th, s.seg.flags);
                let label = seg_label(&s.seg, s.seq, s.ack, s.reason);
                line(&mut out, &time, side(*f, &label, style), expl, &th.note);
                let (note, bad) = arrival_note(&m, s, opts.lang);
                let shaft = |n: usize| p.paint(style, &g.h.repeat(n));
                let cross = p.paint(&th.drop, g.cross);
                let arrow = match (&s.arrival, s.rejected, t) {
                    (Arrival::LinkDropped(_), _, t) => {
                        let half = inner / 2;
                        let rest = inner.saturating_sub(half + 1);
                        if *t == Col::R {
                            format!("{}{}{}", shaft(half), cross, " ".repeat(rest))
                        } else {
                            format!("{}{}{}", " ".repeat(rest), cross, shaft(half))
                        }
                    }
                    (_, Some(_), Col::R) => format!("{}{}", shaft(inner.saturating_sub(1)), cross),
                    (_, Some(_), Col::L) => format!("{}{}", cross, shaft(inner.saturating_sub(1))),
                    (_, None, Col::R) => p.paint(
                        style,
                        &format!("{}{}", g.h.repeat(inner.saturating_sub(1)), g.right),
                    ),
                    (_, None, Col::L) => p.paint(
                        style,
                        &format!("{}{}", g.left, g.h.repeat(inner.saturating_sub(1))),
                    ),
                };
                let note_style = if bad { &th.drop } else { &th.note };
                line(&mut out, &blank_time, arrow, &note, note_style);
            }
        }
    }
    line(&mut out, &blank_time, " ".repeat(inner), "", "");

    if opts.summary {
        let conns = connection_summaries(entries, hosts, opts.absolute);
        if !conns.is_empty() {
            out.push('\n');
            out.push_str(&conn_table(&conns, opts.lang));
        }
        if !opts.listeners.is_empty() {
            for v in &opts.listeners {
                out.push('\n');
                out.push_str(&listener_view_text(v, opts.lang));
            }
        } else {
            for l in listener_stats(entries, hosts) {
                out.push('\n');
                out.push_str(&listener_text(&l, opts.lang));
            }
        }
    }
    out
}
