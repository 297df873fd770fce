//! JSON lines: one object per event, keys in a fixed order.
//!
//! Every line has `t_us` (virtual microseconds), `host` (its name) and
//! `event`, one of:
//!
//! | event | from | further keys |
//! |---|---|---|
//! | `send` | a stack's `SegmentSent` | `conn`, segment keys, `reason` |
//! | `recv` | a stack's `SegmentReceived` | `conn`, segment keys |
//! | `drop` | a stack's `Dropped` (`"where":"stack"`) or a link drop (`"where":"link"`) | `where`, `conn` (stack only), segment keys when known, `reason` (and `rule` for a fault rule) |
//! | `state` | `StateChanged` | `conn`, `local`, `remote`, `from`, `to`, `cause` |
//! | `timer` | `TimerFired` | `conn`, `timer` |
//! | `error` | `ConnectionError`, `EventsLost` | `conn`, `error` (and `count`) |
//! | `link` | a packet the link corrupted, CE-marked or duplicated | segment keys, `fate` (`corrupted`, `ce_marked`, `duplicated`), `arrive_us` (and `again_us` for the second copy) |
//! | `icmp` | `IcmpReceived` | `conn`, `from`, `message` |
//! | `path_mtu` | `PathMtuReduced` | `conn`, `mtu`, `mss` |
//! | `soft_error` | `SoftError` | `conn`, `error` |
//!
//! The segment keys are `src`, `dst`, `flags` (an array of names), `seq`,
//! `ack`, `len`, `win` (the raw window field) and `opts`: an object with the
//! options the segment carries, `mss`, `wscale`, `sack_ok` (true), `sack`
//! (blocks as `[left,right]` pairs, numbered as `ack` is), `ts` (`[TSval,
//! TSecr]`) and `unknown` (how many unknown options were skipped).
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
use crate::model::{build, host_name, pair_links, parse_packet, Isns, Model, Note, StepKind};
use crate::{HostInfo, Lang, TraceEntry};
use std::collections::HashMap;
use std::fmt::Write as _;
use synack_proto::{ConnId, EventKind, SegmentSummary, SendReason};
use synack_sim::{LinkEvent, LinkFate, TraceKind};

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

/// `s` as a JSON string literal, quotes included (for lines written
/// beside these, such as a scenario's checks).
pub fn json_string(s: &str) -> String {
    let mut out = String::new();
    json_str(&mut out, s);
    out
}

/// A segment's TCP options as a JSON object: only the options it carries,
/// in wire-kind order; SACK blocks relative to the ISN their numbers count
/// from (as `ack` is) unless absolute.
fn options(seg: &SegmentSummary, isns: &Isns, absolute: bool) -> String {
    let o = &seg.options;
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = o.mss {
        parts.push(format!("\"mss\":{m}"));
    }
    if let Some(w) = o.window_scale {
        parts.push(format!("\"wscale\":{w}"));
    }
    if o.sack_permitted {
        parts.push("\"sack_ok\":true".to_string());
    }
    if !o.sack.is_empty() {
        let base = if absolute {
            None
        } else {
            isns.get(seg.dst, seg.src)
        };
        let rel = |n: synack_proto::SeqNum| base.map_or(n.get(), |isn| n.since(isn));
        let blocks: Vec<String> = o
            .sack
            .as_slice()
            .iter()
            .map(|(l, r)| format!("[{},{}]", rel(*l), rel(*r)))
            .collect();
        parts.push(format!("\"sack\":[{}]", blocks.join(",")));
    }
    if let Some(ts) = o.timestamps {
        parts.push(format!("\"ts\":[{},{}]", ts.tsval, ts.tsecr));
    }
    if o.unknown > 0 {
        parts.push(format!("\"unknown\":{}", o.unknown));
    }
    format!("{{{}}}", parts.join(","))
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
        self.raw("opts", &options(seg, isns, absolute));
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
    let lines = Lines::new(entries, hosts, opts);
    let mut out = String::new();
    for (i, e) in entries.iter().enumerate() {
        let mut o = Obj::new();
        o.num("t_us", e.at.micros());
        o.str("host", &host_name(hosts, e.host));
        let explain = match &e.kind {
            TraceKind::Link(link) => lines.link(&mut o, i, link),
            TraceKind::Stack(ev) => lines.stack(&mut o, i, &ev.kind),
        };
        // `None`: the entry has no line of its own.
        let Some(explain) = explain else { continue };
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

/// What the lines of a trace share. Each method writes the keys of one
/// kind of entry after `t_us` and `host` and returns `Some` of its
/// explanation (`None` for a `recv`, which has none), or `None` when the
/// entry gets no line.
struct Lines<'a> {
    entries: &'a [TraceEntry],
    isns: Isns,
    model: Model,
    /// The `SegmentSent` each link entry carries, by entry index.
    link_to_send: HashMap<usize, usize>,
    absolute: bool,
    lang: Lang,
}

impl<'a> Lines<'a> {
    fn new(entries: &'a [TraceEntry], hosts: &[HostInfo<'_>], opts: &JsonOptions) -> Lines<'a> {
        let isns = Isns::learn(entries);
        let model = build(entries, hosts, opts.absolute);
        let (send_to_link, _) = pair_links(entries);
        let link_to_send = send_to_link.iter().map(|(s, l)| (*l, *s)).collect();
        Lines {
            entries,
            isns,
            model,
            link_to_send,
            absolute: opts.absolute,
            lang: opts.lang,
        }
    }

    /// The segment keys, when the segment is known.
    fn seg(&self, o: &mut Obj, seg: Option<&SegmentSummary>) {
        if let Some(s) = seg {
            o.seg(s, &self.isns, self.absolute);
        }
    }

    /// A packet the link dropped, corrupted, marked or duplicated (a
    /// delivered packet has no line: its `send` and `recv` tell it).
    fn link(&self, o: &mut Obj, i: usize, link: &LinkEvent) -> Option<Option<String>> {
        let seg = self
            .link_to_send
            .get(&i)
            .and_then(|s| self.entries.get(*s))
            .and_then(|s| match &s.kind {
                TraceKind::Stack(ev) => match &ev.kind {
                    EventKind::SegmentSent { seg, .. } => Some(*seg),
                    _ => None,
                },
                TraceKind::Link(_) => None,
            })
            .or_else(|| parse_packet(&link.packet).map(|r| r.summary()));
        let w = words(self.lang);
        let explain = match &link.fate {
            LinkFate::Delivered { .. } => return None,
            LinkFate::Dropped(c) => {
                o.str("event", "drop").str("where", "link");
                self.seg(o, seg.as_ref());
                o.str("reason", link_drop_name(c));
                if let synack_sim::DropCause::Rule(r) = c {
                    o.str("rule", r);
                }
                link_drop_text(c, self.lang)
            }
            LinkFate::Corrupted { at } => {
                o.str("event", "link");
                self.seg(o, seg.as_ref());
                o.str("fate", "corrupted").num("arrive_us", at.micros());
                w.corrupted.to_string()
            }
            LinkFate::Marked { at } => {
                o.str("event", "link");
                self.seg(o, seg.as_ref());
                o.str("fate", "ce_marked").num("arrive_us", at.micros());
                w.ce_marked.to_string()
            }
            LinkFate::Duplicated { at, again } => {
                o.str("event", "link");
                self.seg(o, seg.as_ref());
                o.str("fate", "duplicated")
                    .num("arrive_us", at.micros())
                    .num("again_us", again.micros());
                format!("{} {}", w.arrives, w.again)
            }
        };
        Some(Some(explain))
    }

    /// A stack event, by kind.
    fn stack(&self, o: &mut Obj, i: usize, kind: &EventKind) -> Option<Option<String>> {
        let explain = match kind {
            EventKind::SegmentSent { conn, seg, reason } => {
                Some(self.send(o, i, *conn, seg, *reason))
            }
            EventKind::SegmentReceived { conn, seg } => {
                o.str("event", "recv")
                    .conn(*conn)
                    .seg(seg, &self.isns, self.absolute);
                None
            }
            EventKind::Dropped { conn, seg, reason } => {
                o.str("event", "drop").str("where", "stack").conn(*conn);
                self.seg(o, seg.as_ref());
                o.str("reason", &drop_reason_name(*reason));
                Some(drop_reason_text(*reason, self.lang))
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
                Some(format!(
                    "{}{}{}",
                    cause_text(*cause, self.lang),
                    words(self.lang).sep,
                    state_text(*to, self.lang)
                ))
            }
            EventKind::TimerFired { conn, timer } => {
                o.str("event", "timer")
                    .conn(Some(*conn))
                    .str("timer", timer.name());
                Some(timer_text(*timer, self.lang).to_string())
            }
            EventKind::ConnectionError { conn, error } => {
                o.str("event", "error")
                    .conn(Some(*conn))
                    .str("error", conn_error_name(*error));
                Some(conn_error_text(*error, self.lang).to_string())
            }
            EventKind::EventsLost { count } => {
                o.str("event", "error")
                    .raw("conn", "null")
                    .str("error", "events_lost")
                    .num("count", *count);
                Some(words(self.lang).events_lost_text.to_string())
            }
            other => return self.icmp(o, other),
        };
        Some(explain)
    }

    /// A `SegmentSent`: explained as the ladder explains its segment.
    fn send(
        &self,
        o: &mut Obj,
        i: usize,
        conn: Option<ConnId>,
        seg: &SegmentSummary,
        reason: SendReason,
    ) -> String {
        o.str("event", "send")
            .conn(conn)
            .seg(seg, &self.isns, self.absolute);
        o.str("reason", send_reason_name(reason));
        match self
            .model
            .sent_steps
            .get(&i)
            .and_then(|s| self.model.steps.get(*s))
            .map(|s| &s.kind)
        {
            Some(StepKind::Segment(s)) => seg_explain(s, self.absolute, self.lang),
            _ => crate::explain::send_reason_text(reason, self.lang).to_string(),
        }
    }

    /// What the stack's ICMP handling reports: an ICMP error, a lower path
    /// MTU, a soft error. Other events get no line.
    fn icmp(&self, o: &mut Obj, kind: &EventKind) -> Option<Option<String>> {
        let note = match kind {
            EventKind::IcmpReceived {
                conn,
                from,
                message,
                ..
            } => {
                o.str("event", "icmp")
                    .conn(*conn)
                    .str("from", &from.to_string())
                    .str("message", &crate::explain::icmp_name(message));
                Note::Icmp {
                    message: *message,
                    seq: None,
                }
            }
            EventKind::PathMtuReduced { conn, mtu, mss } => {
                o.str("event", "path_mtu")
                    .conn(Some(*conn))
                    .num("mtu", u64::from(*mtu))
                    .num("mss", u64::from(*mss));
                Note::PathMtu {
                    mtu: *mtu,
                    mss: *mss,
                }
            }
            EventKind::SoftError { conn, error } => {
                o.str("event", "soft_error")
                    .conn(Some(*conn))
                    .str("error", conn_error_name(*error));
                Note::SoftError(*error)
            }
            _ => return None,
        };
        Some(Some(
            crate::explain::note_text(&note, self.lang).to_string(),
        ))
    }
}
