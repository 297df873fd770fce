//! SEGMENT ARRIVES (RFC 9293 3.10.7) in SYN-RECEIVED and the synchronized
//! states: the acceptability test, RST, SYN and ACK checks (with RFC 5961's
//! challenge ACKs), then text and FIN; and the reply for CLOSED (3.10.7.1).

use super::timers::Timer;
use super::{ms_of, Disposition, Origin, SegCtx, Tcb};
use crate::error::ConnError;
use crate::event::{Cause, DropReason};
use crate::probe::Probes;
use crate::state::State;
use crate::time::Instant;
use synack_wire::{SeqNum, TcpFlags, TcpRepr};

/// The least time between two ACKs answering out-of-window pure ACKs on one
/// connection (Linux `tcp_invalid_ratelimit`: 500 ms).
pub(super) const OOW_ACK_INTERVAL_MS: u32 = 500;

impl Tcb {
    // ----- SEGMENT ARRIVES ----------------------------------------------

    /// [`Tcb::on_segment`] for a segment whose IP header carried the CE codepoint
    /// (`ce`): the mark counts only where RFC 3168 6.1.3 / 6.1.5 say it does.
    pub(crate) fn on_packet(
        &mut self,
        seg: &TcpRepr<'_>,
        ce: bool,
        ctx: &mut SegCtx<'_>,
    ) -> Disposition {
        self.opts.ecn.set_ce_in(ce);
        let cc_before = self.cc_view();
        let d = self.on_segment(seg, ctx);
        self.report_cc(cc_before, ctx);
        self.opts.ecn.set_ce_in(false);
        d
    }

    /// RFC 9293 3.10.7: process one segment for this connection.
    pub(crate) fn on_segment(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) -> Disposition {
        self.counters.segs_in = self.counters.segs_in.wrapping_add(1);
        match self.state {
            State::Closed | State::Listen => {
                // A closed TCB that still has a handle: behave as 3.10.7.1 says for CLOSED.
                self.drop_seg(ctx, DropReason::Closed);
                closed_reply(seg)
            }
            State::SynSent => self.on_segment_syn_sent(seg, ctx),
            _ => self.on_segment_other(seg, ctx),
        }
    }

    /// RFC 9293 3.10.7.4 acceptability test (the four cases).
    pub(super) fn acceptable(&self, seq: SeqNum, len: u32) -> bool {
        let wnd = self.rcv_wnd_accept();
        match (len, wnd) {
            (0, 0) => seq == self.rcv.nxt,
            (0, _) => seq.in_window(self.rcv.nxt, wnd),
            (_, 0) => false,
            (_, _) => {
                seq.in_window(self.rcv.nxt, wnd) || (seq + (len - 1)).in_window(self.rcv.nxt, wnd)
            }
        }
    }

    /// RFC 9293 3.10.7.4: SYN-RECEIVED and the synchronized states, one step
    /// after the other; a step that settles the segment returns its disposition.
    pub(super) fn on_segment_other(
        &mut self,
        seg: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
    ) -> Disposition {
        if let Some(d) = self.before_sequence_check(seg, ctx) {
            return d;
        }
        // First, check the sequence number.
        if let Some(d) = self.check_sequence(seg, ctx) {
            return d;
        }
        if self.cfg.keepalive.is_some() && self.state.is_synchronized() {
            self.arm_keepalive(ctx.now);
        }
        // Second, check the RST bit (RFC 5961 3.2: exact match resets, in-window challenges).
        if seg.flags.rst() {
            return self.check_rst(seg, ctx);
        }
        // Third (security/compartment): synack sends no IP security option and keeps
        // no compartment, so there is nothing to compare.
        // Fourth, check the SYN bit.
        if seg.flags.syn() {
            return self.check_syn(seg, ctx);
        }
        // Fifth, check the ACK field.
        if let Some(d) = self.check_ack(seg, ctx) {
            return d;
        }
        if let Some(d) = self.on_ack_of_fin(seg, ctx) {
            return d;
        }

        // RFC 3168 6.1.3 / 6.1.5: CE and CWR count on segments inside the window only.
        if self.opts.ecn.on_segment(seg.flags, !seg.payload.is_empty()) {
            self.acks.due.get_or_insert(super::Queued::Normal);
        }

        // Sixth (URG) is not implemented beyond ignoring the pointer (RFC 6093 deprecates it).
        // Seventh and eighth: text and FIN.
        self.process_text_and_fin(seg, ctx);
        Disposition::Done
    }

    /// The segments answered before the window test: the peer's SYN,ACK of a
    /// simultaneous open and a retransmitted SYN in SYN_RCVD, an old duplicate
    /// (PAWS), and a retransmitted FIN in TIME_WAIT.
    fn before_sequence_check(
        &mut self,
        seg: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
    ) -> Option<Disposition> {
        let f = seg.flags;

        // Simultaneous open: the peer's SYN,ACK in SYN_RCVD (Linux tcp_validate_incoming
        // accepts exactly this; the strict RFC test would reject the SYN's old sequence number).
        if self.state == State::SynReceived
            && matches!(self.origin, Origin::Active)
            && f.syn()
            && f.ack()
            && !f.rst()
            && seg.seq + 1 == self.rcv.nxt
            && seg.ack == self.snd.max
        {
            // RFC 3168 6.1.1: the peer's SYN,ACK counts in the negotiation as well.
            self.opts.ecn.syn_ack_received(f);
            let rest = TcpRepr {
                seq: seg.seq + 1,
                flags: TcpFlags(f.0 & !TcpFlags::SYN.0),
                ..*seg
            };
            return Some(self.on_segment_other(&rest, ctx));
        }

        // A retransmitted SYN in SYN_RCVD: re-send the SYN,ACK (as Linux does for a duplicate SYN).
        if self.state == State::SynReceived
            && f.syn()
            && !f.ack()
            && !f.rst()
            && seg.seq == self.rcv.irs
        {
            // RFC 7323 4.3: SEG.SEQ (the ISN) =< Last.ACK.sent: the SYN,ACK echoes the
            // newest SYN, so the peer can time it.
            self.update_ts_recent(seg, ctx.now);
            // RFC 3168 6.1.1.1: a peer that gave up on ECN retransmits a plain SYN;
            // the SYN,ACK answering it is plain too and ECN stays off.
            self.opts.ecn.syn_received(f);
            self.snd.nxt = self.snd.iss;
            self.counters.retransmits += 1;
            return Some(Disposition::Done);
        }

        // RFC 7323 5.3 R1 (PAWS), before the window test: an old TSval marks an old
        // duplicate; acknowledge (as for an unacceptable segment) and drop it.
        if self.paws_reject(seg, ctx.now) {
            self.drop_seg(ctx, DropReason::PawsRejected);
            self.oow_ack(seg, ctx, super::Queued::UnacceptableAck);
            return Some(Disposition::Done);
        }

        // TIME_WAIT (RFC 9293 3.10.7.4 eighth, TIME-WAIT): a retransmitted FIN is
        // acknowledged and the 2*MSL timer restarted. Checked before the window test because
        // the FIN is at RCV.NXT-1.
        if self.state == State::TimeWait
            && f.fin()
            && !f.rst()
            && !f.syn()
            && seg.seq + seg.seg_len() == self.rcv.nxt
        {
            self.acks.due = Some(super::Queued::TimeWaitAck);
            self.timers.set(Timer::TimeWait, ctx.now + self.cfg.msl * 2);
            return Some(Disposition::Done);
        }
        None
    }

    /// First, check the sequence number (RFC 9293 3.10.7.4): `None` when the
    /// segment is acceptable and processing goes on.
    fn check_sequence(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) -> Option<Disposition> {
        let f = seg.flags;
        let seg_len = seg.seg_len();
        if self.state == State::TimeWait
            && f.ack()
            && !f.rst()
            && !f.syn()
            && (seg.seq != self.rcv.nxt || seg_len != 0)
            && self.acceptable(seg.seq, seg_len)
        {
            // TIME-WAIT: only a retransmitted FIN is expected (RFC 9293 3.10.7.4 fifth);
            // any other acceptable segment with the ACK bit but a bare ACK at exactly
            // RCV.NXT is answered with an ACK of where we stand, as Linux
            // (`tcp_timewait_state_process`) and FreeBSD (`tcp_twcheck`) do, so a peer
            // that missed our last ACK learns it. Without the ACK bit the fifth step
            // drops it silently.
            self.oow_ack(seg, ctx, super::Queued::TimeWaitAck);
            return Some(Disposition::Done);
        }
        if !self.acceptable(seg.seq, seg_len) {
            return Some(self.on_unacceptable(seg, ctx));
        }
        None
    }

    /// If an incoming segment is not acceptable, an acknowledgment should be sent in
    /// reply (unless the RST bit is set) and the segment dropped.
    fn on_unacceptable(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) -> Disposition {
        let f = seg.flags;
        if f.rst() {
            self.drop_seg(ctx, DropReason::RstNotExact);
        } else if f.syn() && self.state.is_synchronized() {
            // RFC 5961 4.2: a SYN, whatever its sequence number, gets a challenge ACK.
            self.challenge_ack(seg, ctx, DropReason::SynInWindow);
        } else {
            self.drop_seg(ctx, DropReason::Unacceptable);
            if let Some(d) = self.take_stale_ack_news(seg, ctx) {
                return d;
            }
            if self.state == State::SynReceived {
                // Our SYN is unacknowledged: the only "ACK" we can send is the SYN,ACK.
                self.snd.nxt = self.snd.iss;
            } else {
                self.oow_ack(seg, ctx, super::Queued::UnacceptableAck);
                if !seg.payload.is_empty() && seg.seq == self.rcv.nxt {
                    // A probe of our zero window (RFC 3168 6.1.6).
                    self.opts.ecn.on_window_probe();
                }
                if self.opts.sack
                    && self.cfg.dsack
                    && !seg.payload.is_empty()
                    && seg.seq.lt(self.rcv.nxt)
                {
                    // RFC 2883 4: data we already have is reported in a D-SACK block.
                    self.rcv
                        .dsack
                        .set(self.duplicate_range(seg.seq, seg.payload.len() as u32));
                }
            }
        }
        Disposition::Done
    }

    /// An unacceptable retransmission whose acknowledgment is news: the ACK is
    /// processed on its own. `Some` when that settled the segment.
    fn take_stale_ack_news(
        &mut self,
        seg: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
    ) -> Option<Disposition> {
        let f = seg.flags;
        let seg_len = seg.seg_len();
        let stale_ack_news = self.state.is_synchronized()
            && f.ack()
            && seg_len > 0
            && seg.seq + seg_len == self.rcv.nxt
            && seg.ack.gt(self.snd.una)
            && seg.ack.le(self.snd.max);
        if !stale_ack_news {
            return None;
        }
        // A retransmission ending exactly at RCV.NXT (typically the peer's
        // FIN again) whose ACK field acknowledges new data of ours: its text
        // is old, but its acknowledgment is news. RFC 9293 3.10.7.4 would
        // drop it whole; Linux (`tcp_sequence` tests the end against
        // RCV.WUP) and FreeBSD (which trims the old part) both take the ACK,
        // so that e.g. CLOSING learns that its FIN arrived without waiting
        // for its own retransmission. The old text is acknowledged below.
        let rest = TcpRepr {
            seq: self.rcv.nxt,
            flags: TcpFlags(f.0 & !(TcpFlags::FIN.0 | TcpFlags::PSH.0)),
            payload: &[],
            ..*seg
        };
        let d = self.on_segment_other(&rest, ctx);
        match self.state {
            _ if !matches!(d, Disposition::Done) => Some(d),
            State::Closed => Some(d),
            State::TimeWait => {
                // RFC 9293 3.10.7.4 (TIME-WAIT): a retransmitted FIN is
                // acknowledged again.
                self.acks.due = Some(super::Queued::TimeWaitAck);
                Some(d)
            }
            _ => None,
        }
    }

    /// Second, check the RST bit, on an acceptable segment (RFC 9293 3.10.7.4,
    /// RFC 5961 3.2).
    fn check_rst(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) -> Disposition {
        if seg.seq != self.rcv.nxt && self.cfg.rst_challenge {
            self.challenge_ack(seg, ctx, DropReason::RstNotExact);
            return Disposition::Done;
        }
        match self.state {
            State::SynReceived => match self.origin {
                // RFC 7413 4.2.2: a Fast Open child is the application's from
                // its SYN (in the accept queue, its data readable): like an
                // established connection it is reset, the data kept for
                // reading (Linux's tcp_reset on the child).
                Origin::Passive(_) if self.probes.has(Probes::EARLY_DATA) => {
                    self.fail(ConnError::Reset, Cause::RecvRst, ctx);
                    Disposition::Done
                }
                // RFC 9293 3.10.7.4: passive open returns to LISTEN.
                Origin::Passive(_) => {
                    self.set_state(State::Closed, Cause::RecvRst, ctx);
                    Disposition::BackToListen
                }
                // Active open: connection refused.
                Origin::Active => {
                    self.fail(ConnError::Refused, Cause::RecvRst, ctx);
                    Disposition::Done
                }
            },
            State::TimeWait => {
                // RFC 1337: a RST does not cut TIME_WAIT short.
                self.drop_seg(ctx, DropReason::RstInTimeWait);
                Disposition::Done
            }
            State::Closing | State::LastAck => {
                // RFC 9293 3.10.7.4: enter CLOSED. The application may still hold the
                // socket (after shutdown(Write)); like Linux's tcp_reset, it sees the reset.
                self.fail(ConnError::Reset, Cause::RecvRst, ctx);
                Disposition::Done
            }
            _ => {
                // ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT: outstanding calls get "reset".
                self.snd.buf.clear();
                self.fail(ConnError::Reset, Cause::RecvRst, ctx);
                Disposition::Done
            }
        }
    }

    /// Fourth, check the SYN bit, on an acceptable segment (RFC 9293 3.10.7.4,
    /// RFC 5961 4.2).
    fn check_syn(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) -> Disposition {
        if self.state == State::SynReceived {
            if let Origin::Passive(_) = self.origin {
                // RFC 9293 3.10.7.4: passive open returns to LISTEN.
                self.set_state(State::Closed, Cause::RecvRst, ctx);
                return Disposition::BackToListen;
            }
        }
        if !self.cfg.syn_challenge {
            // RFC 793 3.9: an in-window SYN is an error: reset, flush, CLOSED.
            let (seq, ack) = (self.snd.max, self.rcv.nxt);
            self.snd.buf.clear();
            self.fail(ConnError::Reset, Cause::RecvRst, ctx);
            return Disposition::Reset {
                seq,
                ack: Some(ack),
            };
        }
        // RFC 5961 4.2: challenge ACK in synchronized states.
        self.challenge_ack(seg, ctx, DropReason::SynInWindow);
        Disposition::Done
    }

    /// Fifth, check the ACK field (RFC 9293 3.10.7.4): `None` when processing
    /// goes on with the text.
    pub(super) fn check_ack(
        &mut self,
        seg: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
    ) -> Option<Disposition> {
        if !seg.flags.ack() {
            self.drop_seg(ctx, DropReason::NoAck);
            return Some(Disposition::Done);
        }
        self.eifel_check(seg);
        self.ts_rtt_sample(seg, ctx.now);
        if self.state == State::SynReceived {
            return self.ack_in_syn_received(seg, ctx);
        }
        // RFC 5961 5.2: SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT, else ACK and drop.
        if seg.ack.gt(self.snd.max) {
            self.drop_seg(ctx, DropReason::AckTooNew);
            // RFC 9293 3.10.7.4 and RFC 5961 5.2: answer with an ACK. Linux
            // drops it without an answer in ESTABLISHED (`answer_ack_of_unsent`).
            if self.cfg.answer_ack_of_unsent || self.state != State::Established {
                self.oow_ack(seg, ctx, super::Queued::ChallengeAck);
            }
            return Some(Disposition::Done);
        }
        if seg.ack.lt(self.snd.una - self.snd.max_wnd.max(1)) {
            self.challenge_ack(seg, ctx, DropReason::AckTooOld);
            return Some(Disposition::Done);
        }
        // RFC 7323 4.3: an acceptable segment may advance TS.Recent; only once its
        // ACK passed too (as Linux), so a blind segment with a bad ACK cannot push
        // TS.Recent ahead and make PAWS drop the peer's real segments.
        self.update_ts_recent(seg, ctx.now);
        self.process_ack(seg, ctx);
        self.dsack_undo_check(seg);
        if self.state == State::Closed {
            return Some(Disposition::Done);
        }
        None
    }

    /// The fifth step in SYN-RECEIVED: the ACK of our SYN.
    fn ack_in_syn_received(
        &mut self,
        seg: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
    ) -> Option<Disposition> {
        // If SND.UNA < SEG.ACK =< SND.NXT, enter ESTABLISHED; otherwise send a reset.
        if !(seg.ack.gt(self.snd.una) && seg.ack.le(self.snd.max)) {
            self.drop_seg(ctx, DropReason::AckTooNew);
            return Some(Disposition::Reset {
                seq: seg.ack,
                ack: None,
            });
        }
        // RFC 7323 4.3: an acceptable segment may advance TS.Recent.
        self.update_ts_recent(seg, ctx.now);
        self.process_new_ack(seg, ctx);
        self.snd.wnd = u32::from(seg.window) << self.snd.wscale;
        self.snd.max_wnd = self.snd.max_wnd.max(self.snd.wnd);
        self.snd.wl1 = seg.seq;
        self.snd.wl2 = seg.ack;
        self.init_cwnd();
        if self.snd.syn_retransmitted {
            self.rtt.reset_after_syn_retransmit(self.rto_bounds());
        }
        if self.origin != Origin::Active {
            self.round_recv_buffer();
        }
        self.set_state(State::Established, Cause::RecvAckOfSyn, ctx);
        self.arm_keepalive(ctx.now);
        // Text or a FIN queued in SYN_RCVD (RFC 9293 3.10.7.3) is processed now.
        if self.rcv.ooo.first().is_some_and(|s| s.seq == self.rcv.nxt) {
            let fin = self.drain_ooo();
            self.schedule_ack(ctx.now);
            if fin {
                self.on_fin(ctx);
            }
        }
        // A FIN may have been queued while in SYN_RCVD (CLOSE in SYN-RECEIVED).
        if self.snd.fin_queued {
            self.set_state(State::FinWait1, Cause::Close, ctx);
        }
        None
    }

    /// State transitions driven by the ACK of our FIN (RFC 9293 3.10.7.4 fifth
    /// step, FIN-WAIT-1, CLOSING, LAST-ACK): `Some` when nothing more is done.
    pub(super) fn on_ack_of_fin(
        &mut self,
        seg: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
    ) -> Option<Disposition> {
        let our_fin_acked = self.snd.fin_queued && self.snd.una == self.fin_seq() + 1;
        match self.state {
            State::FinWait1 if our_fin_acked => {
                // If the same segment carries the peer's FIN in order, the eighth step
                // goes straight to TIME_WAIT (the three-segment close).
                let fin_in_order =
                    seg.flags.fin() && seg.seq + seg.payload.len() as u32 == self.rcv.nxt;
                if !fin_in_order {
                    self.set_state(State::FinWait2, Cause::RecvAckOfFin, ctx);
                }
            }
            State::Closing if our_fin_acked => {
                self.set_state(State::TimeWait, Cause::RecvAckOfFin, ctx);
                return Some(Disposition::Done);
            }
            State::LastAck if our_fin_acked => {
                self.set_state(State::Closed, Cause::RecvAckOfFin, ctx);
                return Some(Disposition::Done);
            }
            _ => {}
        }
        None
    }

    /// Challenge ACK (RFC 5961 3.2, 4.2, 5.2) subject to the stack-wide rate limit (RFC 5961 7).
    /// Linux `tcp_oow_rate_limited`: an ACK answering a pure ACK (no data, SYN or
    /// FIN) that was out of window or invalid goes out at most once per
    /// `OOW_ACK_INTERVAL_MS` per connection. Two ends that disagree about the
    /// sequence space would otherwise answer each other's ACKs for ever, one more
    /// loop with every retransmission (an "ACK war"). Answers to data, SYNs and
    /// FINs are never held back: they can be what a peer needs to recover.
    pub(super) fn oow_ack_limited(&mut self, seg: &TcpRepr<'_>, now: Instant) -> bool {
        // Linux exempts data and FIN segments without SYN; challenge ACKs for
        // SYNs (RFC 5961 4.2) are limited per connection too.
        if (!seg.payload.is_empty() || seg.flags.fin()) && !seg.flags.syn() {
            return false;
        }
        let ms = ms_of(now);
        if ms.wrapping_sub(self.acks.last_oow_ms) < OOW_ACK_INTERVAL_MS {
            return true;
        }
        self.acks.last_oow_ms = ms;
        false
    }

    /// Answer an out-of-window or invalid segment with an ACK, unless the
    /// per-connection limit holds it back (then the drop is counted).
    pub(super) fn oow_ack(
        &mut self,
        seg: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
        reason: super::Queued,
    ) {
        if self.oow_ack_limited(seg, ctx.now) {
            self.drop_seg(ctx, DropReason::OowAckLimited);
        } else {
            self.acks.due = Some(reason);
        }
    }

    pub(super) fn challenge_ack(
        &mut self,
        seg: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
        seg_reason: DropReason,
    ) {
        if self.oow_ack_limited(seg, ctx.now) {
            // RFC 5961 7 leaves the limit's form open: per connection first (Linux).
            self.drop_seg(ctx, DropReason::OowAckLimited);
        } else if *ctx.challenge_tokens > 0 {
            *ctx.challenge_tokens -= 1;
            self.acks.due = Some(super::Queued::ChallengeAck);
            self.drop_seg(ctx, seg_reason);
        } else {
            self.drop_seg(ctx, DropReason::ChallengeAckLimited);
        }
    }
}

/// RFC 9293 3.10.7.1: the reply to a segment for a CLOSED connection.
pub(crate) fn closed_reply(seg: &TcpRepr<'_>) -> Disposition {
    if seg.flags.rst() {
        // An incoming segment containing a RST is discarded.
        Disposition::Done
    } else if seg.flags.ack() {
        // <SEQ=SEG.ACK><CTL=RST>
        Disposition::Reset {
            seq: seg.ack,
            ack: None,
        }
    } else {
        // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
        Disposition::Reset {
            seq: SeqNum(0),
            ack: Some(seg.seq + seg.seg_len()),
        }
    }
}
