//! What the page's script reads: one JSON object per ladder line, in a
//! `<script type="application/json">` element (never executed).

use super::words::call_text;
use super::Item;
use crate::calls::SocketCall;
use crate::explain::{cause_text, send_reason_text};
use crate::layout::{End, Layout, Shape};
use crate::model::{Col, Model, SegStep, StepKind};
use crate::Lang;
use std::collections::HashMap;
use std::fmt::Write as _;
use synack_sim::HostId;

/// A JSON string literal; `<`, `>` and `&` escaped so the text cannot end
/// the script element.
pub(crate) fn js(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '<' => o.push_str("\\u003c"),
            '>' => o.push_str("\\u003e"),
            '&' => o.push_str("\\u0026"),
            '\u{2028}' => o.push_str("\\u2028"),
            '\u{2029}' => o.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Each host's window shift for its non-SYN segments: the shift its SYN
/// announced, when both SYNs carried the option (RFC 7323 2.2).
fn shifts(m: &Model) -> HashMap<HostId, u8> {
    let mut syn: HashMap<HostId, Option<u8>> = HashMap::new();
    for st in &m.steps {
        if let StepKind::Segment(s) = &st.kind {
            if let (true, Some(h)) = (s.seg.flags.syn(), s.from) {
                syn.entry(h).or_insert(s.seg.options.window_scale);
            }
        }
    }
    let all = syn.len() >= 2 && syn.values().all(Option::is_some);
    syn.into_iter()
        .map(|(h, w)| (h, if all { w.unwrap_or(0).min(14) } else { 0 }))
        .collect()
}

/// The options of a segment in words: `mss=1460 wscale=7 sackOK
/// SACK 1001-2001 TSval=... TSecr=...`.
fn options(s: &SegStep) -> String {
    let o = &s.seg.options;
    let mut v = Vec::new();
    if let Some(m) = o.mss {
        v.push(format!("MSS={m}"));
    }
    if let Some(w) = o.window_scale {
        v.push(format!("wscale={w}"));
    }
    if o.sack_permitted {
        v.push("SACK-permitted".into());
    }
    let offset = s.seg.ack.get().wrapping_sub(s.ack);
    for (a, b) in o.sack.as_slice() {
        v.push(format!(
            "SACK {}-{}",
            a.get().wrapping_sub(offset),
            b.get().wrapping_sub(offset)
        ));
    }
    if let Some(t) = o.timestamps {
        v.push(format!("TSval={} TSecr={}", t.tsval, t.tsecr));
    }
    if o.unknown > 0 {
        v.push(format!("{} unknown", o.unknown));
    }
    v.join(" ")
}

/// The header fields of a segment as JSON members.
fn seg_fields(o: &mut String, s: &SegStep, shift: u8, lang: Lang) {
    let sc = if s.seg.flags.syn() { 0 } else { shift };
    let _ = write!(
        o,
        r#","f":{},"q":{},"Q":{},"ha":{},"a":{},"A":{},"w":{},"sc":{},"wb":{},"l":{},"o":{},"r":{}"#,
        js(&s.seg.flags.to_string()),
        s.seq,
        s.seg.seq.get(),
        s.seg.flags.ack(),
        s.ack,
        s.seg.ack.get(),
        s.seg.window,
        sc,
        u64::from(s.seg.window) << sc,
        s.seg.len,
        js(&options(s)),
        js(s.reason.map_or("", |r| send_reason_text(r, lang)))
    );
}

/// The `<script type="application/json" id="trace">` element.
pub(crate) fn json(layout: &Layout, items: &[Item], calls: &[SocketCall], lang: Lang) -> String {
    let m = &layout.model;
    let sh = shifts(m);
    let mut o = String::from("<script type=\"application/json\" id=\"trace\">[\n");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            o.push_str(",\n");
        }
        match item {
            Item::Call(ci, col) => {
                let Some(c) = calls.get(*ci) else {
                    o.push_str("{}");
                    continue;
                };
                let _ = write!(
                    o,
                    r#"{{"k":"c","t":{},"c":{},"lb":{},"ex":{},"inf":{}}}"#,
                    c.at.micros(),
                    u8::from(*col == Col::R),
                    js(&c.call.label()),
                    js(call_text(c.call, lang)),
                    c.inferred
                );
            }
            Item::Row(r) => {
                let Some(row) = layout.rows.get(*r) else {
                    o.push_str("{}");
                    continue;
                };
                let step = m.steps.get(row.step).map(|s| &s.kind);
                let _ = write!(
                    o,
                    r#"{{"t":{},"c":{},"ex":{}"#,
                    row.at,
                    u8::from(row.col == Col::R),
                    js(&row.explain)
                );
                match (&row.shape, step) {
                    (Shape::Arrow(a), Some(StepKind::Segment(s))) => {
                        let end = match a.end {
                            End::Head => "h",
                            End::Lost => "x",
                            End::Rejected => "r",
                        };
                        let _ = write!(
                            o,
                            r#","k":"s","ta":{},"end":"{end}","n":{}"#,
                            a.arrives.map_or("null".into(), |t| t.to_string()),
                            js(&a.note)
                        );
                        let shift = s.from.and_then(|h| sh.get(&h)).copied().unwrap_or(0);
                        seg_fields(&mut o, s, shift, lang);
                    }
                    (_, Some(StepKind::State { from, to, cause })) => {
                        let _ = write!(
                            o,
                            r#","k":"m","from":"{}","to":"{}","cs":{}"#,
                            from.name(),
                            to.name(),
                            js(cause_text(*cause, lang))
                        );
                    }
                    _ => o.push_str(r#","k":"o""#),
                }
                o.push('}');
            }
        }
    }
    o.push_str("\n]</script>\n");
    o
}
