//! Header prediction (Van Jacobson's fast path, as BSD's `tcp_input` and
//! Linux's `tcp_rcv_established` have it): an ACK or an in-order data
//! segment on an ESTABLISHED connection with nothing unusual about it skips
//! the checks of RFC 9293 3.10.7.4 that cannot fire for it, and its payload
//! is copied into the receive buffer in the same pass that verifies its
//! checksum. Every effect is the full path's, by the same functions in the
//! same order: only tests whose outcome the prediction already fixed are
//! left out. `tests/fast_path.rs` runs both paths on random traffic and
//! compares every segment, state and event.

use super::timers::Timer;
use super::{Owner, SegCtx, Tcb};
use crate::probe::Probes;
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
        let acked = if self.ack_is_idle(seg) {
            self.on_idle_ack(seg, ctx.now);
            None
        } else {
            self.check_ack(seg, ctx)
        };
        if acked.is_none() && self.on_ack_of_fin(seg, ctx).is_none() {
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

    /// Whether the ACK field of a predicted segment is idle: SEG.ACK =
    /// SND.UNA = SND.MAX (it acknowledges nothing and nothing is in flight),
    /// no SACK blocks, no ECN-Echo taken as one, no TLP episode, no
    /// recovery, no scoreboard, no send log and no reordering timer. The
    /// receiver of a bulk transfer sees this on every data segment.
    #[inline]
    fn ack_is_idle(&self, seg: &TcpRepr<'_>) -> bool {
        seg.ack == self.snd.una
            && self.snd.una == self.snd.max
            && seg.options.sack.is_empty()
            && !(seg.flags.ece() && self.opts.ecn.sender())
            && !self.probes.has(Probes::EPISODE)
            && !self.recovery.active
            && self.recovery.board.is_none()
            && self.records.sent_log().is_none()
            && !self.timers.is_armed(Timer::Reorder)
    }

    /// The fifth step (RFC 9293 3.10.7.4) for an ACK [`Tcb::ack_is_idle`]
    /// accepted: of `check_ack` and `process_ack` only what can change
    /// something, in their order. The rest is a no-op here:
    /// - `eifel_check` (RFC 3522) and `ts_rtt_sample` (RFC 7323 4.1) act
    ///   only on SEG.ACK > SND.UNA; RFC 5961 5.2's bounds hold (SEG.ACK =
    ///   SND.UNA = SND.MAX); SYN-RECEIVED is not predicted.
    /// - `tlp_process_ack` and `probe_sacked_beyond_hole` (RFC 8985 7.4)
    ///   need a TLP episode.
    /// - `sack_update` (RFC 6675 4) returns at once without scoreboard and
    ///   blocks, so no octet is newly SACKed; `rack_on_sack` (RFC 8985 6.2)
    ///   needs the send log; `sacked_octets` and `loss_edge` only read;
    ///   `note_delivery`'s `note_ack` (RFC 9937 5) keeps its value with
    ///   the scoreboard, absent.
    /// - SND.UNA does not advance: no `process_new_ack`, no congestion
    ///   control on new data (RFC 5681 3.1), no PTO restart (RFC 8985 7.2).
    /// - `is_duplicate_ack` (RFC 5681 2, RFC 6675 2) needs SND.MAX > SND.UNA
    ///   or newly SACKed octets; `enter_recovery_early` (RFC 6675 5 step B,
    ///   RFC 8985 7.4.1) newly SACKed octets or a TLP episode.
    /// - `ecn_reduce` (RFC 3168 6.1.2) needs the ECE taken.
    /// - `rack_after_ack` (RFC 8985 6.2 steps 4, 5): without the send log no
    ///   D-SACK is taken and detection finds nothing; with the reordering
    ///   timer unarmed nothing gives its slot back; nothing lost, so no
    ///   recovery. `prr_on_ack` (RFC 9937 5) runs only in a SACK recovery.
    ///
    /// What remains: TS.Recent (RFC 7323 4.3), `recover` kept below SND.UNA
    /// (RFC 6582), the window update by the SND.WL1/SND.WL2 rule (RFC 9293
    /// 3.10.7.4), and the D-SACK undo check (RFC 3708 2), which may still
    /// undo a reduction whose retransmissions all came back as duplicates
    /// before the recovery ended.
    fn on_idle_ack(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        self.update_ts_recent(seg, now);
        self.keep_recover_below_una();
        let wnd = u32::from(seg.window) << self.snd.wscale;
        self.update_send_window(seg, wnd);
        self.dsack_undo_check(seg);
    }
}
