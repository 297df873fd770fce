//! The words a ladder puts on a segment, shared by the views: its label
//! (flags, numbers, options), what became of it past the arrowhead, and
//! its one-line explanation.

use crate::explain::{drop_reason_text, link_drop_text, segment_text, send_reason_name, words};
use crate::model::{Arrival, Model, SegStep};
use crate::{fmt_ms, Lang};
use synack_proto::{SegmentSummary, SendReason};

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
    // RFC 7413 4.1.1: an empty Fast Open option asks for a cookie.
    if let Some(f) = &o.fast_open {
        s.push_str(&format!(" tfo={}", f.cookie));
    }
    if let Some(r) = reason {
        if r != SendReason::Normal {
            s.push_str(&format!(" ({})", send_reason_name(r).replace('_', " ")));
        }
    }
    s
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
    }
    // RFC 7413 4.1.1 and 4.2: the Fast Open option's three uses.
    if let Some(fo) = s.seg.options.fast_open.filter(|_| f.syn()) {
        let w = words(lang);
        text.push_str(if f.ack() {
            w.tfo_offer_note
        } else if fo.cookie.is_request() {
            w.tfo_request_note
        } else {
            w.tfo_cookie_note
        });
    }
    if !f.syn() && (f.ece() || f.cwr()) {
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
