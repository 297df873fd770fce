//! What a captured segment did: retransmission, duplicate ACK, probe,
//! window event, the likely cause of a RST ([`Seen`]), judged from what
//! both ends sent before it; and the bookkeeping after it.

use crate::conn::{Conn, End};
use crate::flow::seg_space;
use synack_proto::rules::Seen;
use synack_proto::wire::SeqNum;
use synack_proto::{SegmentSummary, State};

/// Reordering rather than a retransmission: a hole filled this soon (and
/// before any duplicate ACK), as Wireshark judges it without an RTT.
const REORDER_US: u64 = 3_000;

/// What segment `seg` from end `i` did.
pub(crate) fn classify(c: &Conn, i: usize, seg: &SegmentSummary, at_us: u64) -> Seen {
    let d = &c.dirs[i & 1];
    let f = seg.flags;
    if f.rst() {
        return rst_kind(c, i, seg);
    }
    if f.syn() {
        // RFC 9293 3.8.1: a SYN sent again carries the same ISN (a SYN,ACK after
        // our own SYN, in a simultaneous open, is not a retransmission).
        let bit = if f.ack() { 2 } else { 1 };
        return if d.isn == Some(seg.seq) && d.syns & bit != 0 {
            Seen::Retransmit
        } else {
            Seen::Normal
        };
    }
    let end = seg.seq + seg_space(f, seg.len);
    if seg_space(f, seg.len) > 0 {
        data_kind(c, i, seg, end, at_us)
    } else {
        ack_kind(c, i, seg)
    }
}

fn synchronized(e: End) -> bool {
    match e {
        End::Known(s) => s.is_synchronized() || s == State::SynReceived,
        End::Unknown => true,
        End::Fresh => false,
    }
}

/// The likely cause of a RST from end `i`.
fn rst_kind(c: &Conn, i: usize, seg: &SegmentSummary) -> Seen {
    let (d, r) = (&c.dirs[i & 1], &c.dirs[(i + 1) & 1]);
    let f = seg.flags;
    // RFC 5961 3.2, 4.2: a challenge ACK asks a real peer for a RST at exactly its ack.
    if r.challenge == Some(seg.seq) {
        return Seen::RstChallengeAnswer;
    }
    // RFC 9293 3.10.7.1: CLOSED answers a SYN with <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
    if d.segs == 0 && r.syn_last && f.ack() && r.isn.is_some_and(|isn| seg.ack == isn + 1) {
        return Seen::RstRefused;
    }
    // RFC 9293 3.10.7.3 (SYN-SENT) and 3.10.7.1 (CLOSED): a SYN,ACK for a SYN this
    // end does not have (an old duplicate) is answered <SEQ=SEG.ACK><CTL=RST>.
    let last_synack = r.last_flags.is_some_and(|lf| lf.syn() && lf.ack());
    let acks_mine = d.isn.is_some_and(|isn| r.last_seg_ack == isn + 1);
    if last_synack && (!acks_mine || !f.ack()) && seg.seq == r.last_seg_ack {
        return Seen::RstBadAck;
    }
    // RFC 9293 3.10.7.1: with no connection, an ACK-bearing segment is answered
    // <SEQ=SEG.ACK><CTL=RST> without ACK: the sender's state is gone (3.5.1, half-open).
    let answers_ack = r.last_flags.is_some_and(|lf| lf.ack() && !lf.rst());
    if !f.ack()
        && answers_ack
        && seg.seq == r.last_seg_ack
        && r.last_us >= d.last_us
        && r.last_data_us == Some(r.last_us)
        && synchronized(c.state[i & 1])
    {
        return Seen::RstHalfOpen;
    }
    // RFC 2525 2.17: closing with unread received data resets; RFC 9293 3.10.5: ABORT.
    let unread = r
        .last_data_us
        .is_some_and(|t| d.last_data_us.is_none_or(|u| t > u));
    if unread && d.fin_seq.is_none() {
        Seen::RstUnreadData
    } else {
        Seen::RstAbort
    }
}

/// A segment with data or a FIN.
fn data_kind(c: &Conn, i: usize, seg: &SegmentSummary, end: SeqNum, at_us: u64) -> Seen {
    let (d, r) = (&c.dirs[i & 1], &c.dirs[(i + 1) & 1]);
    let f = seg.flags;
    let all_acked = d.snd_max.is_some() && r.max_ack == d.snd_max;
    // RFC 9293 3.8.6.1: into a zero window, the segment at the peer's ACK probes it
    // (again and again, while the window stays closed).
    if r.last_win == Some(0) && seg.len <= 1 && !f.fin() && r.last_ack == Some(seg.seq) {
        return Seen::WindowProbe;
    }
    // RFC 1122 4.2.3.6: a keepalive probe may carry one garbage octet at SND.NXT-1.
    if seg.len == 1 && !f.fin() && d.snd_max == Some(end) && all_acked {
        return probe(r.last_win);
    }
    if d.sent_before(end) {
        // RFC 5681 3.2: the third duplicate ACK triggers the fast retransmit.
        let fast = r.dup_acks >= 3 && r.last_ack == Some(seg.seq) && d.last_fast != Some(seg.seq);
        if let Some(h) = d.hole_of(seg.seq, end) {
            let t = d.holes.get(h).map_or(0, |x| x.2);
            return if fast {
                Seen::FastRetransmit
            } else if at_us.saturating_sub(t) < REORDER_US && r.dup_acks == 0 {
                Seen::OutOfOrder
            } else {
                Seen::Retransmit
            };
        }
        // Octets the peer had acknowledged: the retransmission was not needed.
        if r.max_ack.is_some_and(|a| end.le(a)) {
            return Seen::SpuriousRetransmit;
        }
        if fast {
            return Seen::FastRetransmit;
        }
        // RFC 6298 5: the retransmission timer expired (or a loss probe, RFC 8985).
        return Seen::Retransmit;
    }
    if let Some(m) = d.snd_max {
        if seg.seq.gt(m) {
            return Seen::Gap {
                missing: seg.seq.since(m),
            };
        }
    }
    // RFC 9293 3.8.6.1: data sent into a zero window probes it.
    if r.last_win == Some(0) && seg.len > 0 {
        return Seen::WindowProbe;
    }
    Seen::Normal
}

fn probe(peer_win: Option<u16>) -> Seen {
    if peer_win == Some(0) {
        Seen::WindowProbe
    } else {
        Seen::KeepaliveProbe
    }
}

/// A segment with no sequence space: an ACK.
fn ack_kind(c: &Conn, i: usize, seg: &SegmentSummary) -> Seen {
    let (d, r) = (&c.dirs[i & 1], &c.dirs[(i + 1) & 1]);
    let all_acked = d.snd_max.is_some() && r.max_ack == d.snd_max;
    // RFC 1122 4.2.3.6: a keepalive probe is seq = SND.NXT - 1 with no data;
    // Linux probes a zero window the same way (RFC 9293 3.8.6.1).
    if d.snd_max.is_some_and(|m| seg.seq + 1 == m) && all_acked && d.fin_seq.is_none() {
        return probe(r.last_win);
    }
    // RFC 9293 3.8.6.1: a zero window (also the answer to a window probe).
    if seg.window == 0 {
        return Seen::ZeroWindow;
    }
    // RFC 9293 3.8.6: the window reopens.
    if d.last_win == Some(0) && d.last_ack == Some(seg.ack) {
        return Seen::WindowUpdate;
    }
    if r.probe_pending && r.snd_max.is_some_and(|m| seg.ack == m) {
        return Seen::KeepaliveAck;
    }
    // RFC 9293 3.10.7.4: TIME-WAIT acknowledges a retransmitted FIN again.
    if c.state[i & 1] == End::Known(State::TimeWait) && r.fin_again {
        return Seen::TimeWaitAck;
    }
    // RFC 5961 4.2: a SYN on a synchronized connection; 3.2: a RST not at RCV.NXT.
    let syn_unacked = r.syn_last && r.isn.is_none_or(|isn| seg.ack != isn + 1);
    if (syn_unacked || r.rst_ignored) && synchronized(c.state[i & 1]) {
        return Seen::ChallengeAck;
    }
    if d.last_ack == Some(seg.ack) && seg.flags.ack() {
        if d.last_win != Some(seg.window) {
            return Seen::WindowUpdate;
        }
        // RFC 5681 2: same ACK, no data, same window, data outstanding.
        if r.snd_max.is_some_and(|m| m.gt(seg.ack)) {
            return Seen::DuplicateAck { n: d.dup_acks + 1 };
        }
    }
    Seen::Normal
}

/// The bookkeeping after segment `seg` from end `i`.
pub(crate) fn update(c: &mut Conn, i: usize, seg: &SegmentSummary, seen: Seen, at_us: u64) {
    let i = i & 1;
    let j = 1 - i;
    let f = seg.flags;
    let end = seg.seq + seg_space(f, seg.len);
    let rexmit = matches!(
        seen,
        Seen::Retransmit | Seen::FastRetransmit | Seen::SpuriousRetransmit
    );
    let d = &mut c.dirs[i];
    if f.rst() {
        d.segs += 1;
        d.last_us = at_us;
    } else {
        if f.syn() && d.isn.is_none() {
            d.isn = Some(seg.seq);
            d.wscale = seg.options.window_scale;
        }
        let fin_again = f.fin() && d.fin_seq.is_some();
        if f.fin() && d.fin_seq.is_none() {
            d.fin_seq = Some(seg.seq + seg.len + u32::from(f.syn()));
        }
        d.fin_again = fin_again;
        d.note_sent(seg.seq, end, seg.len, at_us, rexmit);
    }
    if f.ack() {
        d.dup_acks = match seen {
            Seen::DuplicateAck { n } => n,
            _ if d.last_ack == Some(seg.ack) => d.dup_acks,
            _ => 0,
        };
        if d.max_ack.is_none_or(|m| seg.ack.gt(m)) {
            d.max_ack = Some(seg.ack);
        }
        d.last_ack = Some(seg.ack);
    }
    d.last_win = Some(seg.window);
    d.probe_pending = matches!(seen, Seen::KeepaliveProbe | Seen::WindowProbe);
    d.syn_last = f.syn() && !f.ack();
    if seen == Seen::FastRetransmit {
        d.last_fast = Some(seg.seq);
    }
    if f.syn() && !f.rst() {
        d.syns |= if f.ack() { 2 } else { 1 };
    }
    d.challenge = (seen == Seen::ChallengeAck).then_some(seg.ack);
    d.rst_ignored = false;
    d.last_flags = Some(f);
    d.last_seg_ack = seg.ack;
    if f.ack() {
        c.dirs[j].acked(seg.ack, at_us);
    }
    if matches!(seen, Seen::KeepaliveAck | Seen::WindowUpdate) {
        c.dirs[j].probe_pending = false;
    }
}
