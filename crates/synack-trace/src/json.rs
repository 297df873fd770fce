//! JSON lines: one object per event, keys in a fixed order.
//!
//! Every line has `t_us` (virtual microseconds), `host` (its name) and
//! `event`, one of:
//!
//! | event | from | further keys |
//! |---|---|---|
//! | `send` | a stack's `SegmentSent` | `conn`, `src`, `dst`, `flags`, `seq`, `ack`, `len`, `win`, `reason` |
//! | `recv` | a stack's `SegmentReceived` | `conn`, `src`, `dst`, `flags`, `seq`, `ack`, `len`, `win` |
//! | `drop` | a stack's `Dropped` (`"where":"stack"`) or a link drop (`"where":"link"`) | `conn`, segment keys when known, `reason` (and `rule` for a fault rule) |
//! | `state` | `StateChanged` | `conn`, `local`, `remote`, `from`, `to`, `cause` |
//! | `timer` | `TimerFired` | `conn`, `timer` |
//! | `error` | `ConnectionError`, `EventsLost` | `conn`, `error` (and `count`) |
//! | `link` | a packet the link corrupted or duplicated | segment keys, `fate`, `arrive_us` |
//!
//! `seq` and `ack` are relative to each direction's ISN unless
//! [`JsonOptions::absolute`]; `ack` is `null` without the ACK flag. `conn`
//! is `"index/generation"` or `null`. With [`JsonOptions::explain`], an
//! `explain` key ends each line.

use crate::explain::{
    cause_name, cause_text, conn_error_name, conn_error_text, drop_reason_name, drop_reason_text,
    link_drop_name, link_drop_text, send_reason_name, state_text, timer_text, words,
};
use crate::label::seg_explain;
use crate::model::{build, host_name, pair_links, parse_packet, Isns, StepKind};
use crate::{HostInfo, Lang, TraceEntry};
use std::collections::HashMap;
use std::fmt::Write as _;
use synack_proto::{ConnId, EventKind, SegmentSummary};
use synack_sim::{LinkFate, TraceKind};

/// Options of [`render_jsonl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JsonOptions {
    /// Raw 32-bit `seq` and `ack` instead of relative numbers.
    pub absolute: bool,
    /// Add an `explain` key with a one-line explanation.
    pub explain: bool,
    /// Language of the explanations.
    pub lang: Lang,
}

/// Append `s` as a JSON string literal.
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON object written key by key, in order.
struct Obj {
    out: String,
}

impl Obj {
    fn new() -> Obj {
        Obj {
            out: String::from("{"),
        }
    }
    fn key(&mut self, k: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        json_str(&mut self.out, k);
        self.out.push(':');
    }
    fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        json_str(&mut self.out, v);
        self
    }
    fn num(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }
    fn raw(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        self.out.push_str(v);
        self
    }
    fn conn(&mut self, c: Option<ConnId>) -> &mut Self {
        match c {
            Some(c) => self.str("conn", &format!("{}/{}", c.index, c.generation)),
            None => self.raw("conn", "null"),
        }
    }
    fn seg(&mut self, seg: &SegmentSummary, isns: &Isns, absolute: bool) -> &mut Self {
        let (seq, ack) = isns.display(seg, absolute);
        self.str("src", &seg.src.to_string());
        self.str("dst", &seg.dst.to_string());
        let mut flags = String::from("[");
        for (i, n) in seg.flags.names().enumerate() {
            if i > 0 {
                flags.push(',');
            }
            json_str(&mut flags, n);
        }
        flags.push(']');
        self.raw("flags", &flags);
        self.num("seq", u64::from(seq));
        if seg.flags.ack() {
            self.num("ack", u64::from(ack));
        } else {
            self.raw("ack", "null");
        }
        self.num("len", u64::from(seg.len));
        self.num("win", u64::from(seg.window));
        self
    }
    fn finish(&mut self, explain: Option<&str>) -> String {
        if let Some(e) = explain {
            self.str("explain", e);
        }
        self.out.push('}');
        std::mem::take(&mut self.out)
    }
}

/// Render one JSON object per line per event (see the module table above).
pub fn render_jsonl(entries: &[TraceEntry], hosts: &[HostInfo<'_>], opts: &JsonOptions) -> String {
    let isns = Isns::learn(entries);
    let model = build(entries, hosts, opts.absolute);
    let (send_to_link, _) = pair_links(entries);
    let link_to_send: HashMap<usize, usize> = send_to_link.iter().map(|(s, l)| (*l, *s)).collect();
    let lang = opts.lang;
    let mut out = String::new();
    for (i, e) in entries.iter().enumerate() {
        let mut o = Obj::new();
        o.num("t_us", e.at.micros());
        o.str("host", &host_name(hosts, e.host));
        let explain: Option<String>;
        match &e.kind {
            TraceKind::Link(link) => {
                let seg = link_to_send
                    .get(&i)
                    .and_then(|s| entries.get(*s))
                    .and_then(|s| match &s.kind {
                        TraceKind::Stack(ev) => match &ev.kind {
                            EventKind::SegmentSent { seg, .. } => Some(*seg),
                            _ => None,
                        },
                        TraceKind::Link(_) => None,
                    })
                    .or_else(|| parse_packet(&link.packet).map(|r| r.summary()));
                let put_seg = |o: &mut Obj| {
                    if let Some(s) = &seg {
                        o.seg(s, &isns, opts.absolute);
                    }
                };
                match &link.fate {
                    LinkFate::Delivered { .. } => continue,
                    LinkFate::Dropped(c) => {
                        o.str("event", "drop").str("where", "link");
                        put_seg(&mut o);
                        o.str("reason", link_drop_name(c));
                        if let synack_sim::DropCause::Rule(r) = c {
                            o.str("rule", r);
                        }
                        explain = Some(link_drop_text(c, lang));
                    }
                    LinkFate::Corrupted { at } => {
                        o.str("event", "link");
                        put_seg(&mut o);
                        o.str("fate", "corrupted").num("arrive_us", at.micros());
                        explain = Some(words(lang).corrupted.to_string());
                    }
                    LinkFate::Marked { at } => {
                        o.str("event", "link");
                        put_seg(&mut o);
                        o.str("fate", "ce_marked").num("arrive_us", at.micros());
                        explain = Some(words(lang).ce_marked.to_string());
                    }
                    LinkFate::Duplicated { at, again } => {
                        o.str("event", "link");
                        put_seg(&mut o);
                        o.str("fate", "duplicated")
                            .num("arrive_us", at.micros())
                            .num("again_us", again.micros());
                        explain = Some(format!("{} {}", words(lang).arrives, words(lang).again));
                    }
                }
            }
            TraceKind::Stack(ev) => match &ev.kind {
                EventKind::SegmentSent { conn, seg, reason } => {
                    o.str("event", "send")
                        .conn(*conn)
                        .seg(seg, &isns, opts.absolute);
                    o.str("reason", send_reason_name(*reason));
                    explain = Some(
                        match model
                            .sent_steps
                            .get(&i)
                            .and_then(|s| model.steps.get(*s))
                            .map(|s| &s.kind)
                        {
                            Some(StepKind::Segment(s)) => seg_explain(s, opts.absolute, lang),
                            _ => crate::explain::send_reason_text(*reason, lang).to_string(),
                        },
                    );
                }
                EventKind::SegmentReceived { conn, seg } => {
                    o.str("event", "recv")
                        .conn(*conn)
                        .seg(seg, &isns, opts.absolute);
                    explain = None;
                }
                EventKind::Dropped { conn, seg, reason } => {
                    o.str("event", "drop").str("where", "stack").conn(*conn);
                    if let Some(s) = seg {
                        o.seg(s, &isns, opts.absolute);
                    }
                    o.str("reason", &drop_reason_name(*reason));
                    explain = Some(drop_reason_text(*reason, lang));
                }
                EventKind::StateChanged {
                    conn,
                    tuple,
                    from,
                    to,
                    cause,
                    ..
                } => {
                    o.str("event", "state")
                        .conn(*conn)
                        .str("local", &tuple.local.to_string())
                        .str("remote", &tuple.remote.to_string())
                        .str("from", from.name())
                        .str("to", to.name())
                        .str("cause", cause_name(*cause));
                    explain = Some(format!(
                        "{}{}{}",
                        cause_text(*cause, lang),
                        words(lang).sep,
                        state_text(*to, lang)
                    ));
                }
                EventKind::TimerFired { conn, timer } => {
                    o.str("event", "timer")
                        .conn(Some(*conn))
                        .str("timer", timer.name());
                    explain = Some(timer_text(*timer, lang).to_string());
                }
                EventKind::ConnectionError { conn, error } => {
                    o.str("event", "error")
                        .conn(Some(*conn))
                        .str("error", conn_error_name(*error));
                    explain = Some(conn_error_text(*error, lang).to_string());
                }
                EventKind::IcmpReceived {
                    conn,
                    from,
                    message,
                    ..
                } => {
                    let note = crate::model::Note::Icmp {
                        message: *message,
                        seq: None,
                    };
                    o.str("event", "icmp")
                        .conn(*conn)
                        .str("from", &from.to_string())
                        .str("message", &crate::explain::icmp_name(message));
                    explain = Some(crate::explain::note_text(&note, lang).to_string());
                }
                EventKind::PathMtuReduced { conn, mtu, mss } => {
                    let note = crate::model::Note::PathMtu {
                        mtu: *mtu,
                        mss: *mss,
                    };
                    o.str("event", "path_mtu")
                        .conn(Some(*conn))
                        .num("mtu", u64::from(*mtu))
                        .num("mss", u64::from(*mss));
                    explain = Some(crate::explain::note_text(&note, lang).to_string());
                }
                EventKind::SoftError { conn, error } => {
                    o.str("event", "soft_error")
                        .conn(Some(*conn))
                        .str("error", conn_error_name(*error));
                    let note = crate::model::Note::SoftError(*error);
                    explain = Some(crate::explain::note_text(&note, lang).to_string());
                }
                EventKind::EventsLost { count } => {
                    o.str("event", "error")
                        .raw("conn", "null")
                        .str("error", "events_lost")
                        .num("count", *count);
                    explain = Some(words(lang).events_lost_text.to_string());
                }
                _ => continue,
            },
        }
        let line = o.finish(if opts.explain {
            explain.as_deref()
        } else {
            None
        });
        out.push_str(&line);
        out.push('\n');
    }
    out
}
