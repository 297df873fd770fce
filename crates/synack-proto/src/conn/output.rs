//! What to send next: RST, SYN, keepalive and window probes, retransmissions,
//! new data and FIN, and ACKs, with the header fields every segment carries.

use super::timers::Timer;
use super::{OutSegment, Tcb};
use crate::compact::ByteRing;
use crate::event::SendReason;
use crate::probe::Probes;
use crate::recovery::rack;
use crate::recovery::scoreboard::Retransmission;
use crate::state::State;
use crate::time::Instant;
use std::ops::Range;
use synack_wire::{checksum, SeqNum, TcpFlags, TcpOptions, Timestamps};

/// The send sequence space (RFC 9293 3.3.1) and the send buffer. Output
/// moves SND.NXT and SND.MAX; ACK processing moves SND.UNA and the window.
/// SND.MAX is the highest sequence number sent so far (SND.NXT falls back to
/// SND.UNA on a retransmission timeout, go-back-N, as BSD and Linux do).
#[derive(Debug)]
pub(crate) struct SendSpace {
    /// ISS.
    pub(crate) iss: SeqNum,
    /// SND.UNA.
    pub(crate) una: SeqNum,
    /// SND.NXT.
    pub(crate) nxt: SeqNum,
    /// SND.MAX.
    pub(crate) max: SeqNum,
    /// SND.WND, scaled.
    pub(crate) wnd: u32,
    /// SND.WL1.
    pub(super) wl1: SeqNum,
    /// SND.WL2.
    pub(super) wl2: SeqNum,
    /// MAX.SND.WND (RFC 5961 5.2): the largest window the peer offered.
    pub(super) max_wnd: u32,
    /// The peer's window shift (applied to windows it sends).
    pub(crate) wscale: u8,
    /// Unacknowledged and unsent data; `buf[0]` is at `data_seq0()`.
    pub(super) buf: ByteRing,
    /// The application closed its sending side: a FIN follows the data.
    pub(super) fin_queued: bool,
    /// Sequence number of our FIN, fixed when it is queued (no data follows it).
    pub(super) fin_at: SeqNum,
    /// Our SYN (or SYN,ACK) was sent again.
    pub(super) syn_retransmitted: bool,
    /// `syn_rexmit_drop_options` struck window scaling, timestamps and SACK from
    /// our SYN (a SYN,ACK answering an earlier SYN may still bring them).
    pub(super) syn_options_dropped: bool,
}

/// Append `buf[start..end]` to `out` as at most two slice copies (the ring's
/// two halves), never byte by byte.
/// Copy the bytes of `buf` in `start..end` into `out` (exactly as long) and
/// return their one's-complement sum, copied and summed in one pass.
fn copy_range_summed(buf: &ByteRing, start: usize, end: usize, out: &mut [u8]) -> u32 {
    let (a, b) = buf.as_slices();
    let first = &a[start.min(a.len())..end.min(a.len())];
    let (o1, o2) = out.split_at_mut(first.len());
    let mut s = checksum::copy_and_sum(0, o1, first);
    if end > a.len() {
        let second = &b[start.saturating_sub(a.len())..end - a.len()];
        let part = checksum::copy_and_sum(0, o2, second);
        // RFC 1071 2(B): a part starting at an odd offset adds byte-swapped.
        s += if first.len() % 2 == 1 {
            checksum::at_odd_offset(part)
        } else {
            part
        };
    }
    s
}

/// Where a segment's payload lies in the send buffer: the stack copies it
/// straight from there into the packet.
pub(super) fn take_range(_buf: &ByteRing, start: usize, end: usize, out: &mut Range<usize>) {
    *out = start..end;
}

/// Where the data from SND.NXT on stands for one output decision.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// SND.NXT's offset in the send buffer.
    offset: usize,
    /// Bytes of the send buffer from SND.NXT on.
    unsent: usize,
    /// Octets the windows let go beyond SND.NXT.
    usable: usize,
    /// SND.NXT is below SND.MAX: data goes again after a timeout (go-back-N).
    retransmitting: bool,
}

impl Tcb {
    // ----- output --------------------------------------------------------

    /// Bytes the SACK option of the next non-SYN segment takes (NOP, NOP, kind,
    /// length, 8 per block), as many blocks as fit beside the timestamps.
    pub(super) fn sack_option_len(&self) -> usize {
        if !self.opts.sack {
            return 0;
        }
        let n = self.rcv.sack_blocks.len() + usize::from(self.rcv.dsack.get().is_some());
        if n == 0 {
            return 0;
        }
        let room = if self.opts.ts { 40 - 12 } else { 40 };
        4 + 8 * n.min((room - 4) / 8)
    }

    pub(super) fn options_for(&self, syn: bool, now: Instant) -> TcpOptions {
        let mut o = TcpOptions::default();
        if syn {
            // RFC 9293 3.7.1 / RFC 6691: every SYN carries MSS, unless the application
            // asked for no options at all (TCP_NOOPT).
            o.mss = self.cfg.mss_option.then_some(self.opts.our_mss);
            // RFC 7323 2.2: offer on our SYN; on a SYN,ACK exactly what the peer's SYN
            // and our configuration agreed (`*_enabled`), so both ends hold the same
            // view even when `syn_rexmit_drop_options` struck them from our last SYN
            // of a simultaneous open.
            let syn_sent = self.state == State::SynSent;
            if (syn_sent && self.offers_ws()) || (!syn_sent && self.opts.ws) {
                o.window_scale = Some(self.rcv.wscale);
            }
            if (syn_sent && self.offers_sack()) || (!syn_sent && self.opts.sack) {
                o.sack_permitted = true;
            }
            // RFC 7323 3.2: offer on our SYN (TSecr 0); on a SYN,ACK only if the
            // peer's SYN had it, echoing its TSval.
            if (syn_sent && self.offers_ts()) || (!syn_sent && self.opts.ts) {
                o.timestamps = Some(Timestamps {
                    tsval: self.ts_now(now),
                    tsecr: if self.state == State::SynSent {
                        0
                    } else {
                        self.ts.recent
                    },
                });
            }
        } else {
            // RFC 7323 3.2: once both SYNs carried it, on every segment; TSecr = TS.Recent.
            if self.opts.ts {
                o.timestamps = Some(Timestamps {
                    tsval: self.ts_now(now),
                    tsecr: self.ts.recent,
                });
            }
            if self.opts.sack {
                // RFC 2883 4: a D-SACK block comes first; then RFC 2018 4: the block
                // holding the most recently received segment, then the others by
                // recency. Blocks that do not fit in the option space are dropped
                // when the header is written.
                if let Some((l, r)) = self.rcv.dsack.get() {
                    o.sack.push(l, r);
                }
                for &(l, r) in &self.rcv.sack_blocks {
                    if !o.sack.push(l, r) {
                        break;
                    }
                }
            }
        }
        o
    }

    pub(super) fn finish(
        &mut self,
        seq: SeqNum,
        mut flags: TcpFlags,
        reason: SendReason,
        now: Instant,
    ) -> OutSegment {
        let syn = flags.syn();
        if syn && !flags.ack() {
            // RFC 3168 6.1.1 / 6.1.1.1: ECE and CWR on our SYN (not on retransmissions
            // beyond `ecn_syn_retries`).
            flags |= self.opts.ecn.syn_flags(
                self.cfg.ecn,
                self.timers.rtx_count,
                self.cfg.ecn_syn_retries,
            );
        } else if syn {
            // RFC 3168 6.1.1: ECE alone on a SYN,ACK that agrees to ECN.
            flags |= self.opts.ecn.syn_ack_flags(self.cfg.ecn);
        } else if !flags.rst() {
            // RFC 3168 6.1.3: ECE on every ACK while a CE mark is unanswered by CWR.
            flags |= self.opts.ecn.ack_flags();
        }
        let window = self.window_field(syn);
        let ack = if flags.ack() { self.rcv.nxt } else { SeqNum(0) };
        let options = self.options_for(syn, now);
        if flags.ack() {
            // RFC 7323 4.3: Last.ACK.sent.
            self.ts.last_ack_sent = ack;
            // RFC 2883 4: a duplicate is reported once.
            self.rcv.dsack.set(None);
            self.acks.due = None;
            self.timers.stop(Timer::DelayedAck);
            self.acks.unacked_bytes = 0;
            self.acks.unacked_segs = 0;
            // Every segment carrying an ACK uses up a quick ACK (Linux `tcp_dec_quickack_mode`).
            self.acks.quick = self.acks.quick.saturating_sub(1);
        }
        self.counters.segs_out = self.counters.segs_out.wrapping_add(1);
        OutSegment {
            seq,
            ack,
            flags,
            window,
            options,
            reason,
            // RFC 3168 6.1.1, 6.1.4: SYNs, pure ACKs and control segments are not-ECT;
            // `poll_segment` marks new data.
            ect: false,
        }
    }

    /// Produce the next segment to send, setting `payload` to its payload's
    /// range in the send buffer (see [`Tcb::copy_payload`]). A segment that
    /// carries data is the sender's last activity (Linux's `lsndtime`, RFC
    /// 5681 4.1's "has not sent data").
    pub(crate) fn poll_segment(
        &mut self,
        now: Instant,
        payload: &mut Range<usize>,
    ) -> Option<OutSegment> {
        let seg = self.next_segment(now, payload);
        if payload.start < payload.end {
            self.timers.last_sent_ms = super::ms_of(now);
        }
        seg
    }

    /// The next segment to send ([`Tcb::poll_segment`]).
    ///
    /// The candidates, in order: a pending RST; what CLOSED, LISTEN and
    /// TIME_WAIT may send; the SYN or SYN,ACK; before our SYN is acknowledged
    /// only an ACK; a keepalive probe; then [`Tcb::poll_synchronized`].
    fn next_segment(&mut self, now: Instant, payload: &mut Range<usize>) -> Option<OutSegment> {
        *payload = 0..0;
        if let Some((seq, reason)) = self.rst_pending.take() {
            return Some(self.reset_segment(seq, reason.into(), now));
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::TimeWait => {
                return self
                    .acks
                    .due
                    .map(|r| self.finish(self.snd.max, TcpFlags::ACK, r.into(), now));
            }
            _ => {}
        }

        // SYN or SYN,ACK: when SND.NXT is at ISS.
        if self.snd.nxt == self.snd.iss {
            return Some(self.syn_segment(now));
        }
        if !self.syn_acked() && !matches!(self.state, State::SynSent | State::SynReceived) {
            // Should not happen; be safe.
            return None;
        }
        if !self.syn_acked() && !self.probes.has(Probes::EARLY_DATA) {
            // Data and FIN wait for the handshake (only an ACK may go out).
            return self
                .acks
                .due
                .map(|r| self.finish(self.snd.nxt, TcpFlags::ACK, r.into(), now));
        }

        // Keepalive probe: <SEQ=SND.NXT-1>, no data (RFC 1122 4.2.3.6).
        if std::mem::take(&mut self.keepalive_probe_pending) {
            return Some(self.finish(
                self.snd.max - 1,
                TcpFlags::ACK,
                SendReason::KeepaliveProbe,
                now,
            ));
        }
        let max_before = self.snd.max;
        let out = self.poll_synchronized(now, payload);
        // RFC 9937 5: prr_out counts what a recovery sends.
        self.recovery.on_sent(payload.len());
        if let Some(o) = out.as_ref() {
            self.note_sent(o, payload.len(), max_before, now);
        }
        out
    }

    /// RFC 8985 6.1: record each data segment's (and FIN's) transmission
    /// time; octets below `max_before` (SND.MAX before it) went out again.
    fn note_sent(&mut self, o: &OutSegment, len: usize, max_before: SeqNum, now: Instant) {
        let end = o.seq + len as u32 + u32::from(o.flags.fin());
        if !self.keeps_segments() || !o.seq.lt(end) {
            return;
        }
        let log = self.records.sent_mut(o.seq);
        if log.end().gt(max_before) {
            // SND.MAX fell back since (an unaccepted window probe octet).
            log.truncate(max_before);
        }
        log.on_sent(o.seq, end, now);
    }

    /// The RST a connection sends (ABORT, data after close).
    fn reset_segment(&mut self, seq: SeqNum, reason: SendReason, now: Instant) -> OutSegment {
        if reason == SendReason::Reset {
            // The reset for data after close: <SEQ=SEG.ACK><CTL=RST>, no ACK.
            let mut out = self.finish(seq, TcpFlags::RST, reason, now);
            out.window = 0;
            out.options = TcpOptions::default();
            return out;
        }
        // A reset from a connection that has a RCV.NXT carries the ACK bit and the
        // usual window and options, as Linux's `tcp_send_active_reset` (RFC 9293
        // 3.10.7 allows ACK on a RST; a RST for no connection is built elsewhere).
        self.finish(seq, TcpFlags::RST | TcpFlags::ACK, reason, now)
    }

    /// Our SYN (SYN_SENT) or SYN,ACK (passive or simultaneous open), first
    /// sent or sent again.
    fn syn_segment(&mut self, now: Instant) -> OutSegment {
        let passive_or_simul = self.state != State::SynSent;
        let flags = if passive_or_simul {
            TcpFlags::SYN | TcpFlags::ACK
        } else {
            TcpFlags::SYN
        };
        let reason = if self.snd.max != self.snd.iss {
            SendReason::Retransmit
        } else {
            SendReason::Normal
        };
        if reason == SendReason::Retransmit {
            self.counters.retransmits += 1;
        }
        self.snd.nxt = self.snd.iss + 1;
        if self.snd.max == self.snd.iss {
            self.snd.max = self.snd.iss + 1;
            self.rtt.start_probe(self.snd.iss + 1, now);
        }
        if !self.rtx_running() {
            self.set_rtx(Some(now + self.rtt.rto(self.rto_bounds())));
        }
        self.finish(self.snd.iss, flags, reason, now)
    }

    /// Output once our SYN is acknowledged, in order: a fast retransmission,
    /// a lost SACK hole, a loss probe, a zero-window probe, data (new, or
    /// again after a timeout), a bare FIN, a SACK retransmission that cwnd -
    /// pipe still allows, and an ACK.
    fn poll_synchronized(
        &mut self,
        now: Instant,
        payload: &mut Range<usize>,
    ) -> Option<OutSegment> {
        // RFC 6691: the MSS counts data only, so SACK blocks riding on a data segment
        // take their room from the payload.
        let mss = usize::from(self.opts.snd_mss)
            .saturating_sub(self.sack_option_len())
            .max(1);
        let data0 = self.data_seq0();

        // Fast retransmit (RFC 5681 3.2) of the first unacknowledged segment.
        if std::mem::take(&mut self.recovery.fast_rtx_pending) {
            if let Some(out) = self.fast_retransmit(mss, data0, now, payload) {
                return Some(out);
            }
        }

        if let Some(out) = self.sack_hole_or_skip_sacked(mss, now, payload) {
            return Some(out);
        }
        let offset = self.snd.nxt.since(data0) as usize;
        let pending = Pending {
            offset,
            unsent: self.snd.buf.len().saturating_sub(offset),
            usable: self
                .recovery
                .send_budget(&self.cc, self.flight_view(), self.rack_marks()),
            retransmitting: self.snd.nxt.lt(self.snd.max),
        };

        // RFC 8985 7.3: the PTO fired: one loss probe.
        if self.probes.take(Probes::TLP_DUE) {
            if let Some(out) = self.loss_probe(now, mss, payload) {
                return Some(out);
            }
        }

        // Zero-window probe: the first octet past the closed window (RFC 9293 3.8.6.1), always
        // the same octet at SND.UNA until the peer takes it; the persist timer, not the
        // retransmission timer, paces the probes.
        if self.probes.take(Probes::WINDOW) && !self.snd.buf.is_empty() {
            take_range(&self.snd.buf, 0, 1, payload);
            let seq = self.snd.una;
            self.snd.nxt = self.snd.una + 1;
            if self.snd.nxt.gt(self.snd.max) {
                self.snd.max = self.snd.nxt;
            }
            self.set_rtx(None);
            self.arm_persist(now);
            return Some(self.finish(seq, TcpFlags::ACK, SendReason::WindowProbe, now));
        }

        if pending.unsent > 0 && pending.usable > 0 {
            if let Some(out) = self.data_segment(pending, mss, now, payload) {
                return Some(out);
            }
        }
        if pending.unsent > 0 {
            // RFC 7661: data waits; a flight that fills cwnd is recorded.
            self.note_cwnd_use(false);
        }

        // A bare FIN once all data is sent.
        if self.snd.fin_queued && pending.unsent == 0 && self.snd.nxt == self.fin_seq() {
            return Some(self.fin_segment(now));
        }

        // RFC 6675 4 (NextSeg rules 3 and 4): no new data went, but cwnd - pipe
        // still allows a retransmission.
        if let Some(r) = self.sack_next_seg(false) {
            return Some(self.sack_retransmit(r, mss, now, payload));
        }

        // Zero window with data waiting and nothing in flight: arm the persist timer.
        if pending.unsent > 0
            && self.snd.wnd == 0
            && self.snd.max == self.snd.una
            && !self.timers.is_armed(Timer::Persist)
        {
            self.arm_persist(now);
        }
        self.ack_segment(now)
    }

    /// Fast retransmit (RFC 5681 3.2) of the first unacknowledged segment;
    /// `None` when no octet of it is left to send.
    fn fast_retransmit(
        &mut self,
        mss: usize,
        data0: SeqNum,
        now: Instant,
        payload: &mut Range<usize>,
    ) -> Option<OutSegment> {
        // Only octets already sent: a retransmission that ran past SND.MAX would
        // hand the peer data this side still counts as unsent (SND.NXT/SND.MAX
        // do not move here), and the peer's ACK of it would then be "too new"
        // for ever. (Segments sent while SACK blocks shortened them can end
        // before a full MSS does.)
        let sent = (self.snd.max.since(data0) as usize).min(self.snd.buf.len());
        let mut n = mss.min(sent);
        if let Some(b) = self.recovery.board.as_mut() {
            // RFC 6675 4: never retransmit octets the peer SACKed.
            if let Some(l) = b.next_sacked(self.snd.una) {
                n = n.min(l.since(self.snd.una) as usize);
            }
            // RFC 6675 5 (step 4.3): HighRxt = the last octet retransmitted.
            b.rxt_end = b.rxt_end.max(self.snd.una + n as u32);
        }
        if n == 0 {
            return None;
        }
        take_range(&self.snd.buf, 0, n, payload);
        self.counters.retransmits += 1;
        self.time_after_retransmission(now);
        self.counters.bytes_sent += n as u64;
        let mut flags = TcpFlags::ACK;
        if n == self.snd.buf.len() {
            flags |= TcpFlags::PSH;
        }
        Some(self.finish(self.snd.una, flags, SendReason::FastRetransmit, now))
    }

    /// A data segment from SND.NXT (new data, or again after a timeout), the
    /// FIN riding on the last one; `None` when sender SWS avoidance or Nagle
    /// holds it back.
    fn data_segment(
        &mut self,
        p: Pending,
        mss: usize,
        now: Instant,
        payload: &mut Range<usize>,
    ) -> Option<OutSegment> {
        let (offset, unsent, usable, retransmitting) =
            (p.offset, p.unsent, p.usable, p.retransmitting);
        // A record end (MSG_EOR) cuts the segment short: no segment carries
        // octets of two records.
        let (n, record_end) = self.cut_at_record(unsent.min(usable).min(mss));
        let is_last = n == unsent;
        // Sender SWS avoidance and Nagle (RFC 9293 3.8.6.2.1, 3.7.4), the cork
        // and an explicit push (`records`). As Linux's `tcp_write_xmit`, only the
        // last queued segment waits: one a record end cut short goes at once.
        // A Fast Open child's unacknowledged SYN,ACK holds no data back.
        let only_syn = self.probes.has(Probes::EARLY_DATA) && self.snd.nxt == self.data_seq0();
        let idle = self.flight() == 0 || only_syn;
        let send = retransmitting
            || n == mss
            || (record_end && !is_last)
            || (is_last && self.last_short_segment_may_go(idle))
            || (self.snd.max_wnd > 0 && n as u32 >= self.snd.max_wnd / 2)
            // The window, not the data, limits the segment and nothing is in flight:
            // RFC 9293 3.8.6.2.1 would wait for its override timeout; Linux sends at
            // once (receiver-side SWS avoidance already keeps such windows large).
            || (idle && n == usable);
        if !send {
            return None;
        }
        take_range(&self.snd.buf, offset, offset + n, payload);
        let seq = self.snd.nxt;
        self.snd.nxt += n as u32;
        let mut flags = TcpFlags::ACK;
        if is_last || record_end {
            // RFC 9293 3.9.1: PSH at the end of what the application handed over.
            flags |= TcpFlags::PSH;
        }
        if is_last {
            self.push_pending = false;
        }
        // Piggyback the FIN on the last data segment.
        if is_last && self.snd.fin_queued && self.snd.nxt == self.fin_seq() && usable > n {
            flags |= TcpFlags::FIN;
            self.snd.nxt += 1;
        }
        let reason = if !retransmitting {
            self.probes.set(Probes::PMTU_RESEND, false);
            SendReason::Normal
        } else if self.probes.has(Probes::PMTU_RESEND) {
            SendReason::PathMtuRetransmit
        } else {
            SendReason::Retransmit
        };
        if retransmitting {
            self.counters.retransmits += 1;
        } else {
            self.counters.bytes_sent += n as u64;
            if self.rtt.probe().is_none() {
                self.rtt.start_probe(self.snd.nxt, now);
            }
        }
        if self.snd.nxt.gt(self.snd.max) {
            self.snd.max = self.snd.nxt;
        }
        self.on_sent_something(now);
        if !retransmitting {
            // RFC 8985 7.2: new data went out: (re)start the PTO.
            self.schedule_loss_probe(now);
            // RFC 7661: how much of cwnd the flow uses.
            self.note_cwnd_use(true);
        }
        let mut out = self.finish(seq, flags, reason, now);
        if !retransmitting {
            // RFC 3168 6.1.2: new data goes out ECT(0), with CWR after a window
            // reduction; 6.1.5: retransmissions never carry ECT.
            out.ect = self.opts.ecn.new_data(&mut out.flags);
        }
        Some(out)
    }

    /// A bare FIN once all data is sent (first sent or sent again).
    fn fin_segment(&mut self, now: Instant) -> OutSegment {
        let seq = self.snd.nxt;
        self.snd.nxt += 1;
        let reason = if self.snd.nxt.le(self.snd.max) {
            SendReason::Retransmit
        } else {
            SendReason::Normal
        };
        if reason == SendReason::Retransmit {
            self.counters.retransmits += 1;
        }
        if self.snd.nxt.gt(self.snd.max) {
            self.snd.max = self.snd.nxt;
        }
        self.on_sent_something(now);
        if reason == SendReason::Normal {
            // A probe retransmitting the last segment sends this FIN alone.
            self.probes.set(Probes::FIN_ALONE, true);
            // RFC 8985 7.2: new data (the FIN) went out: (re)start the PTO.
            self.schedule_loss_probe(now);
        }
        self.finish(seq, TcpFlags::FIN | TcpFlags::ACK, reason, now)
    }

    /// The ACK owed to the peer, if any.
    fn ack_segment(&mut self, now: Instant) -> Option<OutSegment> {
        // A pure ACK carries the highest sequence number sent (<SEQ=SND.NXT> in the RFC's
        // terms), not the go-back-N retransmission point: a receiver would find a sequence
        // number below its RCV.NXT unacceptable and ignore the acknowledgment in it.
        let r = SendReason::from(self.acks.due?);
        if self.cfg.fin_on_every_ack
            && self.snd.fin_queued
            && self.snd.max == self.fin_seq() + 1
            && self.snd.una != self.snd.max
            && r != SendReason::ChallengeAck
        {
            // BSD habit (`fin_on_every_ack`): the ACK re-sends our unacknowledged
            // FIN at its own sequence number (RFC 9293 3.8.1: any unacknowledged
            // octet, the FIN included, may be retransmitted). RFC 5961 challenge
            // ACKs stay plain: FreeBSD builds them outside `tcp_output`.
            let seq = self.fin_seq();
            self.counters.retransmits += 1;
            // RFC 6298 3 (Karn): an ACK of the FIN no longer says which copy it
            // answers.
            if self.rtt.probe().is_some_and(|(end, _)| end.gt(seq)) {
                self.rtt.clear_probe();
            }
            return Some(self.finish(seq, TcpFlags::FIN | TcpFlags::ACK, r, now));
        }
        Some(self.finish(self.snd.max, TcpFlags::ACK, r, now))
    }

    /// NextSeg() (RFC 6675 4) for a retransmission, when cwnd - pipe allows a
    /// segment: rule 1 (a lost hole) if `lost_only`, else rules 3 and 4 too
    /// (see `Recovery::next_seg`).
    #[inline]
    pub(super) fn sack_next_seg(&self, lost_only: bool) -> Option<Retransmission> {
        if !self.recovery.active {
            // Only a SACK recovery retransmits by NextSeg().
            return None;
        }
        let data_end = self.data_seq0() + self.snd.buf.len() as u32;
        self.recovery.next_seg(
            &self.cc,
            self.flight_view(),
            self.rack_marks(),
            lost_only,
            data_end,
            || !self.has_unsent(),
        )
    }

    /// RFC 6675 4 (NextSeg rule 1): in SACK recovery, a lost hole goes first
    /// (returned). Otherwise, during a go-back-N after a timeout, octets the peer
    /// SACKed since are skipped (RFC 6675 5.1: the scoreboard keeps them from
    /// being resent) and `None` lets the caller send from SND.NXT.
    pub(super) fn sack_hole_or_skip_sacked(
        &mut self,
        mss: usize,
        now: Instant,
        payload: &mut Range<usize>,
    ) -> Option<OutSegment> {
        if let Some(r) = self.sack_next_seg(true) {
            return Some(self.sack_retransmit(r, mss, now, payload));
        }
        if self.snd.nxt.lt(self.snd.max) {
            let skip = match self.rack_marks() {
                // With RACK, only segments SACKed whole are skipped.
                Some(log) => rack::sacked_until(log, self.snd.nxt),
                None => self
                    .recovery
                    .board
                    .as_ref()
                    .and_then(|b| b.sacked_until(self.snd.nxt)),
            };
            if let Some(r) = skip {
                self.snd.nxt = r.min(self.snd.max);
            }
        }
        None
    }

    /// Send the retransmission NextSeg() chose (RFC 6675 4), at most `mss`
    /// octets of data already sent.
    pub(super) fn sack_retransmit(
        &mut self,
        r: Retransmission,
        mss: usize,
        now: Instant,
        payload: &mut Range<usize>,
    ) -> OutSegment {
        let data0 = self.data_seq0();
        let off = (r.seq.since(data0) as usize).min(self.snd.buf.len());
        let sent = (self.snd.max.since(data0) as usize).min(self.snd.buf.len());
        let n = (r.len as usize).min(mss).min(sent.saturating_sub(off));
        take_range(&self.snd.buf, off, off + n, payload);
        let end = r.seq + n as u32;
        if let Some(b) = self.recovery.board.as_mut() {
            if r.rescue {
                // RFC 6675 4 (NextSeg rule 4): RescueRxt = RecoveryPoint, and
                // "HighRxt MUST NOT be updated".
                b.rescue = Some(self.recovery.recover);
            } else {
                // RFC 6675 4 (NextSeg rules 1, 3): HighRxt = the last octet sent.
                b.rxt_end = b.rxt_end.max(end);
            }
            if n == 0 {
                // Nothing left to send in that range (only a FIN): skip it.
                b.rxt_end = b.rxt_end.max(r.seq + r.len);
            }
        }
        self.counters.retransmits += 1;
        // RFC 6298 3 (Karn): no RTT sample from retransmitted data.
        self.time_after_retransmission(now);
        self.counters.bytes_sent += n as u64;
        let mut flags = TcpFlags::ACK;
        if off + n == self.snd.buf.len() {
            flags |= TcpFlags::PSH;
        }
        if n == 0 && self.fin_outstanding() && r.seq == self.fin_seq() {
            // RACK declared the FIN lost: it goes again by itself.
            flags |= TcpFlags::FIN;
        } else if n == 0 {
            // Nothing of it can go: no longer to be repaired, so that NextSeg
            // moves on, but not counted sent (RFC 8985 6.1, RFC 6675 4).
            if let Some(log) = self.records.sent_if_any() {
                log.unmark_lost(r.seq, r.seq + r.len.max(1));
            }
        }
        self.finish(r.seq, flags, SendReason::FastRetransmit, now)
    }

    /// Whether there is output pending (for the stack's dirty list).
    #[inline]
    pub(crate) fn wants_output(&self) -> bool {
        self.rst_pending.is_some()
            || self.acks.due.is_some()
            || self.keepalive_probe_pending
            || self.probes.has(Probes::WINDOW | Probes::TLP_DUE)
            || self.recovery.fast_rtx_pending
            || self.sack_next_seg(false).is_some()
            || (self.state != State::Closed
                && self.snd.nxt == self.snd.iss
                && self.state != State::Listen)
            || ((self.syn_acked() || self.probes.has(Probes::EARLY_DATA)) && self.has_unsent())
    }

    /// Copy the send buffer's bytes in `range` (from [`Tcb::poll_segment`])
    /// into `out`, exactly as long, and return their one's-complement sum.
    pub(crate) fn copy_payload(&self, range: Range<usize>, out: &mut [u8]) -> u32 {
        copy_range_summed(&self.snd.buf, range.start, range.end, out)
    }
}
