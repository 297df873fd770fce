//! The ladder diagram as text.
//!
//! Time flows down, one line per event, each stamped in virtual
//! milliseconds. The client's lifeline is on the left, the server's on the
//! right. A segment takes two lines at its send time: its label on the
//! sender's side, then the arrow, with the arrival time (or why it never
//! arrived) noted past the arrowhead. State changes and timers appear on
//! their host's side when they happen. Each line ends with a one-line
//! explanation.

use crate::explain::words;
use crate::layout::{lay_out, Arrow, End, Layout, MarkClass, Marks, Row, SegClass, Shape};
use crate::model::{Col, Model};
use crate::summary::{
    conn_table, connection_summaries, listener_stats, listener_text, listener_view_text, width,
    ListenerView,
};
use crate::{fmt_ms, HostInfo, Lang, TraceEntry};

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

/// The characters of a text ladder: its lifelines and arrows, and the
/// marks beside the lifelines.
struct Glyphs {
    v: &'static str,
    h: &'static str,
    right: &'static str,
    left: &'static str,
    both: &'static str,
    marks: Marks,
}

const UNICODE: Glyphs = Glyphs {
    v: "│",
    h: "─",
    right: "▶",
    left: "◀",
    both: "↔",
    marks: Marks {
        to: "→",
        timer: "◷",
        cross: "✖",
        detailed: true,
    },
};

const ASCII: Glyphs = Glyphs {
    v: "|",
    h: "-",
    right: ">",
    left: "<",
    both: "<->",
    marks: Marks {
        to: "->",
        timer: "*",
        cross: "X",
        detailed: true,
    },
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

/// The style of a segment, by its most telling flag.
fn seg_style(theme: &Theme, class: SegClass) -> &str {
    match class {
        SegClass::Rst => &theme.rst,
        SegClass::Syn => &theme.syn,
        SegClass::Fin => &theme.fin,
        SegClass::Other => &theme.segment,
    }
}

/// The style of a mark.
fn mark_style(theme: &Theme, class: MarkClass) -> &str {
    match class {
        MarkClass::State => &theme.state,
        MarkClass::Timer => &theme.timer,
        MarkClass::Drop => &theme.drop,
    }
}

/// Render the ladder diagram of a trace.
///
/// With more than two hosts, the two that exchanged the most segments are
/// drawn and the heading says so. The connection table and listener
/// counters follow when [`TextOptions::summary`] is on.
pub fn render_text(entries: &[TraceEntry], hosts: &[HostInfo<'_>], opts: &TextOptions) -> String {
    let g = if opts.ascii { &ASCII } else { &UNICODE };
    let layout = lay_out(entries, hosts, opts.absolute, opts.lang, &g.marks);
    let pen = Pen::new(&layout, g, opts);
    let mut out = String::new();
    heading(&mut out, &layout.model, hosts, opts, g);
    pen.names(&mut out, &layout.model);
    pen.blank(&mut out);
    for row in &layout.rows {
        pen.row(&mut out, row);
    }
    pen.blank(&mut out);
    if opts.summary {
        summary(&mut out, entries, hosts, opts);
    }
    out
}

/// The first lines: the two hosts drawn, how numbers are shown, and with
/// more than two hosts, which pair was chosen.
fn heading(out: &mut String, m: &Model, hosts: &[HostInfo<'_>], opts: &TextOptions, g: &Glyphs) {
    let w = words(opts.lang);
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
}

/// The connection table and the listeners, after the ladder.
fn summary(out: &mut String, entries: &[TraceEntry], hosts: &[HostInfo<'_>], opts: &TextOptions) {
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

/// Draws the lines of a laid-out ladder in characters: the time column,
/// then `inner` columns between the two lifelines, then the explanation.
struct Pen<'a> {
    g: &'a Glyphs,
    p: Painter,
    th: &'a Theme,
    lang: Lang,
    explain: bool,
    /// Width of the time column.
    tw: usize,
    /// Columns between the lifelines.
    inner: usize,
}

impl<'a> Pen<'a> {
    fn new(layout: &Layout, g: &'a Glyphs, opts: &'a TextOptions) -> Pen<'a> {
        let tw = layout
            .rows
            .iter()
            .map(|r| fmt_ms(r.at).len())
            .max()
            .unwrap_or(8);
        let inner = 48usize
            .max(layout.left_marks + 4)
            .max(layout.right_marks + 4)
            .max(layout.labels + 4);
        Pen {
            g,
            p: Painter { on: opts.color },
            th: &opts.theme,
            lang: opts.lang,
            explain: opts.explain,
            tw,
            inner,
        }
    }

    /// The hosts' names above their lifelines.
    fn names(&self, out: &mut String, m: &Model) {
        let w = words(self.lang);
        let (left, right) = (m.name(m.left), m.right_name());
        let gap = (self.inner + 2)
            .saturating_sub(width(&left) + width(&right))
            .max(1);
        let head = format!(
            "{}{}  {}{}{}",
            " ".repeat(self.tw.saturating_sub(width(w.time))),
            w.time,
            self.p.paint(&self.th.state, &left),
            " ".repeat(gap),
            self.p.paint(&self.th.state, &right)
        );
        out.push_str(head.trim_end());
        out.push('\n');
    }

    /// One line: time, the lifelines around `interior`, then `note`.
    fn line(&self, out: &mut String, time: &str, interior: &str, note: &str, note_style: &str) {
        let g = self.g;
        let mut l = format!("{}  {}{}{}", time, g.v, interior, g.v);
        if !note.is_empty() {
            l.push_str("  ");
            l.push_str(&self.p.paint(note_style, note));
        }
        out.push_str(l.trim_end());
        out.push('\n');
    }

    /// The lifelines with nothing between them and no time.
    fn blank(&self, out: &mut String) {
        self.line(out, &" ".repeat(self.tw), &" ".repeat(self.inner), "", "");
    }

    /// Text inside the lifelines on one side, padded to `inner` columns.
    fn side(&self, col: Col, text: &str, style: &str) -> String {
        let fill = self.inner.saturating_sub(width(text) + 2);
        match col {
            Col::L => format!(" {}{} ", self.p.paint(style, text), " ".repeat(fill)),
            Col::R => format!(" {}{} ", " ".repeat(fill), self.p.paint(style, text)),
        }
    }

    /// A row: a mark on one line, or a segment's label and its arrow on two.
    fn row(&self, out: &mut String, row: &Row) {
        let time = self.p.paint(
            &self.th.time,
            &format!("{:>tw$}", fmt_ms(row.at), tw = self.tw),
        );
        let note_style = &self.th.note;
        match &row.shape {
            Shape::Mark(mk) => {
                let expl = if self.explain {
                    row.explain.as_str()
                } else {
                    ""
                };
                let text = self.side(row.col, &mk.text, mark_style(self.th, mk.class));
                self.line(out, &time, &text, expl, note_style);
            }
            Shape::Arrow(a) => {
                let mut expl = row.explain.clone();
                if a.sender_unseen {
                    expl = format!("{expl} ({})", words(self.lang).sender_unseen);
                }
                let expl = if self.explain { expl.as_str() } else { "" };
                let style = seg_style(self.th, a.class);
                let label = self.side(a.from, &a.label, style);
                self.line(out, &time, &label, expl, note_style);
                let note_style = if a.bad { &self.th.drop } else { note_style };
                let blank_time = " ".repeat(self.tw);
                self.line(out, &blank_time, &self.arrow(a, style), &a.note, note_style);
            }
        }
    }

    /// The arrow of a segment across the lifelines.
    fn arrow(&self, a: &Arrow, style: &str) -> String {
        let (g, p, inner) = (self.g, &self.p, self.inner);
        let shaft = |n: usize| p.paint(style, &g.h.repeat(n));
        let cross = p.paint(&self.th.drop, g.marks.cross);
        match (a.end, a.to) {
            (End::Lost, t) => {
                let half = inner / 2;
                let rest = inner.saturating_sub(half + 1);
                if t == Col::R {
                    format!("{}{}{}", shaft(half), cross, " ".repeat(rest))
                } else {
                    format!("{}{}{}", " ".repeat(rest), cross, shaft(half))
                }
            }
            (End::Rejected, Col::R) => format!("{}{}", shaft(inner.saturating_sub(1)), cross),
            (End::Rejected, Col::L) => format!("{}{}", cross, shaft(inner.saturating_sub(1))),
            (End::Head, Col::R) => p.paint(
                style,
                &format!("{}{}", g.h.repeat(inner.saturating_sub(1)), g.right),
            ),
            (End::Head, Col::L) => p.paint(
                style,
                &format!("{}{}", g.left, g.h.repeat(inner.saturating_sub(1))),
            ),
        }
    }
}
