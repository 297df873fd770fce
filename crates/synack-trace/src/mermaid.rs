//! The ladder as a Mermaid `sequenceDiagram`.
//!
//! Segments are `->>` arrows labelled like the text ladder; a segment lost
//! on the link or dropped by the receiver is a `-x` arrow whose label says
//! why. State changes and timers are `Note over` their host.

use crate::explain::{cause_text, drop_reason_text, state_text, timer_text, words};
use crate::label::{arrival_note, seg_explain, seg_label};
use crate::model::{build, Arrival, Col, StepKind};
use crate::{HostInfo, Lang, TraceEntry};

/// Options of [`render_mermaid`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MermaidOptions {
    /// Raw 32-bit sequence numbers instead of relative ones.
    pub absolute: bool,
    /// Add a note with the explanation after each step.
    pub explain: bool,
    /// Language of the explanations.
    pub lang: Lang,
}

/// Make text safe inside a Mermaid label or note: `#` and `;` become
/// entity codes, line breaks and other control characters become spaces.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A participant identifier Mermaid accepts: letters, digits and `_`.
fn ident(name: &str, fallback: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '_') {
        fallback.to_string()
    } else if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("h_{s}")
    } else {
        s
    }
}

/// Render a Mermaid `sequenceDiagram` of the two hosts the text ladder draws.
pub fn render_mermaid(
    entries: &[TraceEntry],
    hosts: &[HostInfo<'_>],
    opts: &MermaidOptions,
) -> String {
    let m = build(entries, hosts, opts.absolute);
    let w = words(opts.lang);
    let (ln, rn) = (m.name(m.left), m.right_name());
    let l = ident(&ln, "left");
    let mut r = ident(&rn, "right");
    if r == l {
        r = format!("{r}_2");
    }
    let id = |c: Col| if c == Col::L { l.as_str() } else { r.as_str() };
    let mut out = String::from("sequenceDiagram\n");
    out.push_str(&format!("    participant {l} as {}\n", esc(&ln)));
    out.push_str(&format!("    participant {r} as {}\n", esc(&rn)));
    for st in &m.steps {
        let Some(col) = m.step_col(st) else { continue };
        let time = crate::fmt_ms(st.at);
        let explain: String = match &st.kind {
            StepKind::Segment(s) => {
                let Some((f, t)) = m.seg_cols(s) else {
                    continue;
                };
                let label = seg_label(&s.seg, s.seq, s.ack, s.reason);
                let (note, bad) = arrival_note(&m, s, opts.lang);
                let lost = matches!(s.arrival, Arrival::LinkDropped(_)) || s.rejected.is_some();
                let arrow = if lost { "-x" } else { "->>" };
                let text = if bad {
                    format!("{time} {label} ({note})")
                } else {
                    format!("{time} {label}")
                };
                out.push_str(&format!("    {}{arrow}{}: {}\n", id(f), id(t), esc(&text)));
                seg_explain(s, opts.absolute, opts.lang)
            }
            StepKind::State {
                from, to, cause, ..
            } => {
                out.push_str(&format!(
                    "    Note over {}: {}\n",
                    id(col),
                    esc(&format!("{time} {} → {}", from.name(), to.name()))
                ));
                format!(
                    "{}{}{}",
                    cause_text(*cause, opts.lang),
                    w.sep,
                    state_text(*to, opts.lang)
                )
            }
            StepKind::Timer(t) => {
                out.push_str(&format!(
                    "    Note over {}: {}\n",
                    id(col),
                    esc(&format!("{time} {} {}", t.name(), w.timer))
                ));
                timer_text(*t, opts.lang).to_string()
            }
            StepKind::Drop { reason, .. } => {
                let text = format!(
                    "{time} {}{}{}",
                    w.dropped,
                    w.colon,
                    drop_reason_text(*reason, opts.lang)
                );
                out.push_str(&format!("    Note over {}: {}\n", id(col), esc(&text)));
                String::new()
            }
            StepKind::Error(e) => {
                out.push_str(&format!(
                    "    Note over {}: {}\n",
                    id(col),
                    esc(&format!("{time} {}{}{e}", w.error, w.colon))
                ));
                String::new()
            }
            StepKind::Lost(n) => {
                out.push_str(&format!(
                    "    Note over {}: {}\n",
                    id(col),
                    esc(&format!("{time} {n} {}", w.events_lost))
                ));
                String::new()
            }
            StepKind::Note(n) => {
                out.push_str(&format!(
                    "    Note over {}: {}\n",
                    id(col),
                    esc(&format!("{time} {}", crate::explain::note_label(n)))
                ));
                crate::explain::note_text(n, opts.lang).to_string()
            }
        };
        if opts.explain && !explain.is_empty() {
            let side = if col == Col::L { "left of" } else { "right of" };
            out.push_str(&format!("    Note {side} {}: {}\n", id(col), esc(&explain)));
        }
    }
    out
}
