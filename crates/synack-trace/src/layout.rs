//! The layout shared by the two ladder pictures, the text ladder and the
//! SVG: which steps are drawn and in what order, from which column, each
//! segment's arrow and how it ends, every label and explanation, and the
//! widths they need in character cells.
//!
//! The text renderer turns the cells into characters and the SVG renderer
//! into pixels and time slots; neither decides again what goes where, so a
//! change of columns, labels or arrow ends is made here once.

use crate::explain::{
    cause_text, conn_error_text, drop_reason_name, drop_reason_text, note_label, note_text,
    state_text, timer_text, words, Words,
};
use crate::label::{arrival_note, seg_explain, seg_label};
use crate::model::{build, Arrival, Col, Model, SegStep, Step, StepKind};
use crate::summary::width;
use crate::{HostInfo, Lang, TraceEntry};
use synack_proto::wire::TcpFlags;

/// How a ladder writes the marks beside a lifeline.
pub(crate) struct Marks {
    /// Between the two states of a state change (`→`, or `->` in ASCII).
    pub(crate) to: &'static str,
    /// Before a timer's name (`◷`, or `*` in ASCII).
    pub(crate) timer: &'static str,
    /// Before a drop or an error (`✖`, or `X` in ASCII).
    pub(crate) cross: &'static str,
    /// The text ladder's marks: a stack drop names what was dropped (the
    /// segment's label, or the reason's name) and an error is introduced
    /// by `: `. Without it (the SVG), a drop only says "dropped" and an
    /// error is introduced by the language's colon.
    pub(crate) detailed: bool,
}

/// A segment's style, by its most telling flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SegClass {
    /// RST set.
    Rst,
    /// SYN set (no RST).
    Syn,
    /// FIN set (no RST, no SYN).
    Fin,
    /// Data and ACKs.
    Other,
}

impl SegClass {
    fn of(flags: TcpFlags) -> SegClass {
        if flags.rst() {
            SegClass::Rst
        } else if flags.syn() {
            SegClass::Syn
        } else if flags.fin() {
            SegClass::Fin
        } else {
            SegClass::Other
        }
    }
}

/// A mark's style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkClass {
    /// A state change.
    State,
    /// A timer, or a note from the stack's ICMP handling.
    Timer,
    /// A stack drop, a connection error, lost events.
    Drop,
}

/// How a segment's arrow ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The link lost it: the arrow stops halfway, at a cross.
    Lost,
    /// The receiver's stack discarded it: a cross at the receiver.
    Rejected,
    /// An arrowhead at the receiver.
    Head,
}

/// A segment: a label at the sender, then an arrow across.
#[derive(Debug, Clone)]
pub(crate) struct Arrow {
    pub(crate) from: Col,
    pub(crate) to: Col,
    /// Flags, numbers, window, length, options.
    pub(crate) label: String,
    pub(crate) class: SegClass,
    pub(crate) end: End,
    /// When it arrived (the first time), if recorded.
    pub(crate) arrives: Option<u64>,
    /// Nothing about its arrival was recorded.
    pub(crate) unknown: bool,
    /// What it says past the arrowhead.
    pub(crate) note: String,
    /// The note tells of a loss or a drop.
    pub(crate) bad: bool,
    /// The sender's event is missing: it was drawn from the receiver's.
    pub(crate) sender_unseen: bool,
}

/// Text beside a lifeline: a state change, a timer, a drop, a note.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub(crate) text: String,
    pub(crate) class: MarkClass,
}

/// What a row draws.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    Arrow(Arrow),
    Mark(Mark),
}

/// One drawn step.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// When (a segment: when it was sent, or received if the send is unknown).
    pub(crate) at: u64,
    /// The column it is drawn from (a segment: its sender's).
    pub(crate) col: Col,
    pub(crate) shape: Shape,
    /// Its one-line explanation.
    pub(crate) explain: String,
    /// The model's step it draws (its index in `Model::steps`).
    pub(crate) step: usize,
}

/// The ladder laid out: the model, its drawn rows in trace order, and the
/// widest of each kind of text, in character cells.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) model: Model,
    pub(crate) rows: Vec<Row>,
    /// The widest mark beside the left lifeline.
    pub(crate) left_marks: usize,
    /// The widest mark beside the right lifeline.
    pub(crate) right_marks: usize,
    /// The widest segment label.
    pub(crate) labels: usize,
    /// The widest explanation.
    pub(crate) explains: usize,
}

/// Lay out the ladder of a trace: one row per step of the two hosts drawn.
pub(crate) fn lay_out(
    entries: &[TraceEntry],
    hosts: &[HostInfo<'_>],
    absolute: bool,
    lang: Lang,
    marks: &Marks,
) -> Layout {
    let model = build(entries, hosts, absolute);
    let mut rows = Vec::new();
    for (i, st) in model.steps.iter().enumerate() {
        if let Some(row) = row(&model, st, i, absolute, lang, marks) {
            rows.push(row);
        }
    }
    let mut layout = Layout {
        model,
        rows,
        left_marks: 0,
        right_marks: 0,
        labels: 0,
        explains: 0,
    };
    layout.measure();
    layout
}

impl Layout {
    /// The widest texts of each kind.
    fn measure(&mut self) {
        for r in &self.rows {
            match (&r.shape, r.col) {
                (Shape::Arrow(a), _) => self.labels = self.labels.max(width(&a.label)),
                (Shape::Mark(m), Col::L) => self.left_marks = self.left_marks.max(width(&m.text)),
                (Shape::Mark(m), Col::R) => self.right_marks = self.right_marks.max(width(&m.text)),
            }
            self.explains = self.explains.max(width(&r.explain));
        }
    }
}

/// The row of a step, if it is drawn (its host is one of the two).
fn row(
    m: &Model,
    st: &Step,
    step: usize,
    absolute: bool,
    lang: Lang,
    marks: &Marks,
) -> Option<Row> {
    let col = m.step_col(st)?;
    let shape = match &st.kind {
        StepKind::Segment(s) => Shape::Arrow(arrow(m, s, lang)?),
        other => Shape::Mark(mark(other, words(lang), marks)),
    };
    Some(Row {
        at: st.at,
        col,
        shape,
        explain: explanation(&st.kind, absolute, lang),
        step,
    })
}

/// The arrow of a segment, if both its ends are drawn.
fn arrow(m: &Model, s: &SegStep, lang: Lang) -> Option<Arrow> {
    let (from, to) = m.seg_cols(s)?;
    let end = match (&s.arrival, s.rejected) {
        (Arrival::LinkDropped(_), _) => End::Lost,
        (_, Some(_)) => End::Rejected,
        (_, None) => End::Head,
    };
    let arrives = match s.arrival {
        Arrival::Delivered(t)
        | Arrival::Corrupted(t)
        | Arrival::Marked(t)
        | Arrival::Duplicated(t, _) => Some(t),
        Arrival::Unknown | Arrival::LinkDropped(_) => None,
    };
    let (note, bad) = arrival_note(m, s, lang);
    Some(Arrow {
        from,
        to,
        label: seg_label(&s.seg, s.seq, s.ack, s.reason),
        class: SegClass::of(s.seg.flags),
        end,
        arrives,
        unknown: s.arrival == Arrival::Unknown,
        note,
        bad,
        sender_unseen: !s.sent_seen,
    })
}

/// The mark of a step other than a segment.
fn mark(kind: &StepKind, w: &Words, marks: &Marks) -> Mark {
    let (text, class) = match kind {
        StepKind::State { from, to, .. } => (
            format!("{} {} {}", from.name(), marks.to, to.name()),
            MarkClass::State,
        ),
        StepKind::Timer(t) => (
            format!("{} {} {}", marks.timer, t.name(), w.timer),
            MarkClass::Timer,
        ),
        StepKind::Drop { seg, reason } => {
            let what = match seg {
                _ if !marks.detailed => None,
                Some((s, q, a)) => Some(seg_label(s, *q, *a, None)),
                None => Some(drop_reason_name(*reason)),
            };
            let text = match what {
                Some(what) => format!("{} {}: {what}", marks.cross, w.dropped),
                None => format!("{} {}", marks.cross, w.dropped),
            };
            (text, MarkClass::Drop)
        }
        StepKind::Error(e) => {
            let colon = if marks.detailed { ": " } else { w.colon };
            (
                format!("{} {}{colon}{e}", marks.cross, w.error),
                MarkClass::Drop,
            )
        }
        StepKind::Lost(n) => (format!("! {n} {}", w.events_lost), MarkClass::Drop),
        StepKind::Note(n) => (note_label(n), MarkClass::Timer),
        StepKind::Segment(_) => (String::new(), MarkClass::Timer),
    };
    Mark { text, class }
}

/// The one-line explanation of a step.
fn explanation(kind: &StepKind, absolute: bool, lang: Lang) -> String {
    let w = words(lang);
    match kind {
        StepKind::Segment(s) => seg_explain(s, absolute, lang),
        StepKind::State { to, cause, .. } => format!(
            "{}{}{}",
            cause_text(*cause, lang),
            w.sep,
            state_text(*to, lang)
        ),
        StepKind::Timer(t) => timer_text(*t, lang).to_string(),
        StepKind::Drop { reason, .. } => drop_reason_text(*reason, lang),
        StepKind::Error(e) => conn_error_text(*e, lang).to_string(),
        StepKind::Lost(_) => w.events_lost_text.to_string(),
        StepKind::Note(n) => note_text(n, lang).to_string(),
    }
}
