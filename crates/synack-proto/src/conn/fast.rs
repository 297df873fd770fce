//! Header prediction (Van Jacobson's fast path, as BSD's `tcp_input` and
//! Linux's `tcp_rcv_established` have it): an ACK or an in-order data
//! segment on an ESTABLISHED connection with nothing unusual about it skips
//! the checks of RFC 9293 3.10.7.4 that cannot fire for it, and its payload
//! is copied into the receive buffer in the same pass that verifies its
//! checksum. Every effect is the full path's, by the same functions in the
//! same order: only tests whose outcome the prediction already fixed are
//! left out. `tests/fast_path.rs` runs both paths on random traffic and
//! compares every segment, state and event.

use super::{Owner, SegCtx, Tcb};
use crate::state::State;
use crate::time::Instant;
use synack_wire::{TcpFlags, TcpRepr};

impl Tcb {
    /// Whether `seg` takes the fast path: only the ACK bit (PSH allowed; no
    /// SYN, FIN, RST, URG, ECE or CWR), exactly at RCV.NXT, an ACK field
    /// within SND.UNA..=SND.MAX, text that fits the window whole, an empty
    /// reassembly queue, a TSval PAWS accepts, and an application still there
    /// to read the text. Pure: nothing changes until the checksum is known.
    pub(crate) fn predicts(&self, seg: &TcpRepr<'_>, now: Instant) -> bool {
        let len = seg.payload.len();
        self.state == State::Established
            && seg.flags.0 & !TcpFlags::PSH.0 == TcpFlags::ACK.0
            && seg.seq == self.rcv.nxt
            && seg.ack.ge(self.snd.una)
            && seg.ack.le(self.snd.max)
            && (len == 0 || (self.owner != Owner::Orphan && len <= self.rcv_wnd_accept() as usize))
            && self.rcv.ooo.is_empty()
            && !self.paws_reject(seg, now)
    }

    /// Stage `seg`'s payload after the receive buffer's bytes and return its
    /// one's-complement sum, or `None` (nothing written) when the buffer's
    /// capacity cannot take it yet (the full path grows it).
    pub(crate) fn stage_payload(&mut self, seg: &TcpRepr<'_>) -> Option<u32> {
        self.rcv.buf.stage_summed(seg.payload)
    }

    /// RFC 9293 3.10.7.4 for a segment [`Tcb::predicts`] accepted, whose
    /// payload [`Tcb::stage_payload`] staged and whose checksum held, with
    /// `ce` the IP header's CE mark. The steps as `on_segment_other` runs
    /// them: PAWS and the sequence check pass by prediction, RST and SYN are
    /// absent, so the keepalive, the fifth step (ACK), the ECN bookkeeping,
    /// then the seventh (text; the FIN is absent).
    pub(crate) fn on_packet_fast(&mut self, seg: &TcpRepr<'_>, ce: bool, ctx: &mut SegCtx<'_>) {
        self.opts.ecn.set_ce_in(ce);
        // The congestion controller's changes are reported as `on_packet` does.
        let cc_before = self.cc_view();
        self.counters.segs_in = self.counters.segs_in.wrapping_add(1);
        if self.cfg.keepalive.is_some() {
            self.arm_keepalive(ctx.now);
        }
        // Fifth, check the ACK field (within SND.UNA..=SND.MAX by prediction).
        if self.check_ack(seg, ctx).is_none() && self.on_ack_of_fin(seg, ctx).is_none() {
            let len = seg.payload.len();
            // RFC 3168 6.1.3 / 6.1.5: CE and CWR count on segments inside the window.
            if self.opts.ecn.on_segment(seg.flags, len > 0) {
                self.acks.due.get_or_insert(super::Queued::Normal);
            }
            // Seventh, the segment text: in order and inside the window whole.
            if len > 0 {
                if self.opts.sack && self.cfg.dsack {
                    self.rcv
                        .dsack
                        .set(self.duplicate_range(seg.seq, len as u32));
                }
                self.rcv.buf.commit(len);
                if self.took_in_order(len, ctx.now) {
                    self.on_fin(ctx);
                }
            }
        }
        self.report_cc(cc_before, ctx);
        self.opts.ecn.set_ce_in(false);
    }
}
