//! ACK processing (RFC 9293 3.10.7.4 fifth step): SND.UNA and the send
//! window, the RTT sample, congestion control (RFC 5681, RFC 6582, RFC 3168)
//! and SACK-based loss recovery (RFC 6675).

use super::timers::Timer;
use super::{SegCtx, Tcb};
use crate::cc::{AckSample, Congestion, CongestionControl};
use crate::probe::Probes;
use crate::recovery::{AckDelivery, Flight};
use crate::time::{Duration, Instant};
use synack_wire::{SeqNum, TcpRepr};

/// What an ACK of new data acknowledged and delivered, in octets.
#[derive(Debug, Clone, Copy)]
struct AckCount {
    /// SND.UNA's advance.
    acked: u32,
    /// RFC 9937's DeliveredData.
    delivered: u32,
}

impl Tcb {
    /// An ACK `seg` that advances SND.UNA (the SYN or data): bookkeeping
    /// common to all states, RACK's delivery of the segments it acknowledges
    /// whole among them.
    pub(super) fn process_new_ack(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) {
        let ack = seg.ack;
        let mut acked = ack.since(self.snd.una);
        if acked == 0 {
            return;
        }
        let had_syn = !self.syn_acked();
        if had_syn {
            acked -= 1;
        }
        let data = (acked as usize).min(self.snd.buf.len());
        self.snd.buf.drain(..data);
        self.counters.bytes_acked += data as u64;
        self.snd.una = ack;
        // RFC 8985 6.2 steps 1-3, in the pass that takes the records away.
        self.rack_on_cumulative(ack, seg, ctx.now);
        self.records_acked(ack);
        // Something got through: forget a soft error (Linux `tcp_ack`, FreeBSD
        // `tcp_xmit_timer`), it no longer explains a later timeout.
        self.soft_error = None;
        if self.snd.nxt.lt(ack) {
            self.snd.nxt = ack;
        }
        // RTT sample (Karn: the probe is cleared when a segment is retransmitted).
        if let Some((end, sent)) = self.rtt.probe() {
            if ack.ge(end) {
                self.rtt
                    .sample(ctx.now.saturating_since(sent), self.rto_bounds());
                self.rtt.clear_probe();
            }
        }
        self.rtt.reset_backoff();
        self.timers.rtx_count = 0;
        self.timers.persist_backoff = 0;
        // RFC 6298 5.2 / 5.3: stop the timer when all is acknowledged, else restart it.
        if self.snd.una == self.snd.max {
            self.set_rtx(None);
            self.timers.unacked_since = None;
        } else if self.timers.is_armed(Timer::Persist) {
            // Probing a zero window: the persist timer paces the connection.
            self.set_rtx(None);
        } else {
            self.set_rtx(Some(ctx.now + self.rtt.rto(self.rto_bounds())));
            self.timers.unacked_since = Some(ctx.now);
        }
    }

    /// Fifth step in synchronized states: update SND.UNA, the window, congestion control.
    pub(super) fn process_ack(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) {
        let ack = seg.ack;
        let wnd = u32::from(seg.window) << self.snd.wscale;
        // RFC 3168 6.1.2: an ECE from the peer of an ECN connection signals congestion.
        let ece = seg.flags.ece() && self.opts.ecn.sender();
        // RFC 8985 7.4.2: an ACK may end a TLP episode (before SND.UNA and the
        // window move, which tell a pure duplicate ACK).
        self.tlp_process_ack(seg, wnd, ctx.now);
        let advanced = ack.gt(self.snd.una);
        let (una, mss) = (self.snd.una, u32::from(self.opts.snd_mss));
        let sacked_before = self.sacked_octets(una);
        let edge_before = self.recovery.loss_edge(una, mss);
        // RFC 6675 4 (Update()): record the SACKed octets before SND.UNA moves
        // past them; `sacked_new` makes the ACK a duplicate ACK (RFC 6675 2).
        let una_after = if advanced { ack } else { una };
        let mut sacked_new = self.sack_update(una_after, seg);
        if self.keeps_segments() {
            // RFC 8985 6.2: with RACK, what counts is whole segments SACKed
            // (as Linux's `sacked_out`): a block of a few octets of a segment
            // is no sign of a loss.
            sacked_new = self.rack_on_sack(seg, ctx.now) > 0;
        }
        let delivered = self.note_delivery(una, una_after, sacked_before, edge_before);
        let sack_episode = self.recovery.sack_episode();
        if advanced {
            let acked = ack.since(una);
            let rtt = self.cc_rtt_sample(seg, ctx.now);
            self.process_new_ack(seg, ctx);
            let n = AckCount { acked, delivered };
            self.on_ack_of_new_data(ack, n, ece, sack_episode, ctx.now, rtt);
            // RFC 6675 5: a cumulative ACK resets DupAcks; one that also SACKs new
            // octets is a duplicate ACK "regardless of its status as a cumulative
            // acknowledgment" (section 2), so it counts as the first.
            self.recovery.dup_acks = u8::from(sacked_new && self.sack_recovery());
        } else if self.is_duplicate_ack(seg, wnd, sacked_new) {
            self.on_duplicate_ack(ack, sack_episode, ctx.now);
        }
        self.enter_recovery_early(seg, sacked_new, ctx.now);
        self.keep_recover_below_una();
        if ece && !self.recovery.active && ack.gt(self.recovery.recover) {
            self.ecn_reduce(ctx.now);
        }
        self.update_send_window(seg, wnd);
        // RFC 8985 6.2: RACK's loss detection, once the ACK is taken in.
        self.rack_after_ack(seg, ctx.now);
        // RFC 9937 5: PRR's SndCnt on every ACK starting or during a SACK recovery.
        let (fv, rack) = (self.flight_view(), self.keeps_segments());
        let marks = self.records.sent_log().filter(|_| rack);
        self.recovery.prr_on_ack(&self.cc, fv, marks);
        if advanced {
            // RFC 8985 7.2: an ACK of new data restarts the PTO.
            self.schedule_loss_probe(ctx.now);
        }
    }

    /// RFC 9937 5: what this ACK delivered (DeliveredData: SND.UNA moved from
    /// `una` to `una_after`, `sacked_before` octets were SACKed above `una`
    /// before it), RecoverFS should recovery begin on it, and whether it is a
    /// safe ACK: SND.UNA advanced and the loss edge (`edge_before` before the
    /// ACK) passed no further unSACKed octets.
    fn note_delivery(
        &mut self,
        una: SeqNum,
        una_after: SeqNum,
        sacked_before: u32,
        edge_before: SeqNum,
    ) -> u32 {
        let mss = u32::from(self.opts.snd_mss);
        let sacked_after = self.sacked_octets(una_after);
        let cum = una_after.since(una);
        let mut delivered = (i64::from(cum) + i64::from(sacked_after) - i64::from(sacked_before))
            .clamp(0, i64::from(u32::MAX)) as u32;
        if !self.sack_recovery() && cum > 0 {
            // Without SACK each duplicate ACK stood for a segment that left the
            // network (RFC 3042, RFC 5681 3.2), so the cumulative ACK that
            // follows delivers the rest, at least one segment (Linux
            // `tcp_remove_reno_sacks`).
            let dup = u32::from(self.recovery.dup_acks).saturating_mul(mss);
            delivered = cum.saturating_sub(dup).max(cum.min(mss));
        }
        let edge_after = self.recovery.loss_edge(una_after, mss);
        let newly_lost = self
            .recovery
            .unsacked_between(edge_before.max(una_after), edge_after);
        self.recovery.note_ack(AckDelivery {
            delivered,
            recover_fs: self.snd.max.since(una).saturating_sub(sacked_before),
            // With RACK, its marks say whether the ACK indicated further loss
            // (`rack_after_ack`), not IsLost's edge.
            safe: cum > 0 && (self.keeps_segments() || !newly_lost),
        });
        delivered
    }

    /// Congestion control on an ACK of `n.acked` new octets, `ack` its ACK field
    /// (RFC 5681 3.1, RFC 6582 3.2). The controller grows the window by the
    /// octets the ACK delivered (RFC 9937's DeliveredData: cumulatively
    /// acknowledged, less what was SACKed before, plus newly SACKed), as
    /// Linux does (`tcp_cong_control` takes `acked_sacked`): octets SACKed
    /// earlier already left the network and grow nothing twice.
    fn on_ack_of_new_data(
        &mut self,
        ack: SeqNum,
        n: AckCount,
        ece: bool,
        sack_episode: bool,
        now: Instant,
        rtt: Option<Duration>,
    ) {
        let mss = u32::from(self.opts.snd_mss);
        if self.recovery.active {
            if ack.ge(self.recovery.recover) {
                // Full acknowledgment: deflate the window and leave fast recovery
                // (RFC 6675 5: loss recovery ends when HighACK reaches RecoveryPoint).
                self.recovery.end();
                self.cc
                    .on_recovery_end(self.snd.max.since(self.snd.una), mss);
            } else if sack_episode {
                // RFC 6675 5 (step C): a partial ACK changes neither cwnd nor
                // what is retransmitted: NextSeg() and pipe decide, per ACK.
            } else {
                // Partial acknowledgment: retransmit the next unacknowledged segment,
                // deflate by the amount acknowledged, add back one MSS.
                self.recovery.partial_ack(&self.cc, n.acked, mss);
            }
        } else if ece {
            // RFC 3168 6.1.2: "The sending TCP SHOULD NOT increase the congestion
            // window in response to the receipt of an ECN-Echo ACK packet."
        } else if n.delivered == 0 {
            // Every octet acknowledged had been SACKed: nothing newly left the
            // network, so nothing grows (Linux's `tcp_cong_avoid` with no
            // `acked_sacked`).
        } else {
            self.cc.on_ack(&AckSample {
                acked: n.delivered,
                mss,
                now,
                srtt: self.rtt.srtt(),
                rtt,
                ack,
                nxt: self.snd.nxt,
                validate: self.cfg.cwnd_validation,
                ack_limit: self.cfg.slow_start_ack_limit,
            });
        }
    }

    /// RFC 5681 2: whether an ACK that did not advance SND.UNA is a duplicate
    /// ACK (RFC 6675 2: with SACK, also one that SACKs new octets).
    fn is_duplicate_ack(&self, seg: &TcpRepr<'_>, wnd: u32, sacked_new: bool) -> bool {
        seg.ack == self.snd.una
            && self.snd.max.gt(self.snd.una)
            // Answers to zero-window probes are not a sign of loss (Linux keeps the probe
            // out of its retransmission queue for the same reason).
            && wnd != 0
            && !self.timers.is_armed(Timer::Persist)
            // With RACK a SACK connection counts only ACKs that SACK new
            // segments (RFC 8985 6.2 replaces DupThresh's count; as Linux,
            // which counts duplicate ACKs only without SACK).
            && ((!self.keeps_segments()
                && seg.payload.is_empty()
                && !seg.flags.syn()
                && !seg.flags.fin()
                && wnd == self.snd.wnd)
                // RFC 6675 2: with SACK, an ACK that SACKs new octets is a duplicate
                // ACK even if it changes the window or carries data.
                || sacked_new)
    }

    /// RFC 5681 2: a duplicate ACK.
    fn on_duplicate_ack(&mut self, ack: SeqNum, sack_episode: bool, now: Instant) {
        self.recovery.dup_acks = self.recovery.dup_acks.saturating_add(1);
        self.counters.dup_acks_in += 1;
        // RFC 8985 7.2: no PTO once segments arrived beyond a hole: duplicate
        // ACKs, not a probe, drive the recovery now.
        self.cancel_pto(now);
        if self.recovery.active {
            if !sack_episode {
                // RFC 6582 3.2 step 4: inflate by one MSS for each further duplicate.
                self.recovery
                    .inflate(&self.cc, u32::from(self.opts.snd_mss));
            }
            // RFC 6675 5 (step C): no inflation; pipe accounts for what left.
        } else if self.recovery.dup_acks == 3
            && (ack.gt(self.recovery.recover) || self.opts.ecn.recover_by_ece())
        {
            // RFC 5681 3.2 / RFC 6582 3.2: fast retransmit, enter fast recovery
            // (RFC 6675 5 (step A): DupAcks reached DupThresh).
            self.enter_fast_recovery(ack, 3, now);
        }
    }

    /// Fast recovery before DupThresh duplicate ACKs: when SACK information
    /// already shows a loss (RFC 6675 5 step B), or the loss probe arrived
    /// beyond a hole (RFC 8985 7.4.1).
    fn enter_recovery_early(&mut self, seg: &TcpRepr<'_>, sacked_new: bool, now: Instant) {
        let ack = seg.ack;
        let mss = u32::from(self.opts.snd_mss);
        if !self.recovery.active
            && sacked_new
            && self.sack_recovery()
            && self.snd.max.gt(self.snd.una)
            && !self.timers.is_armed(Timer::Persist)
            && (ack.gt(self.recovery.recover) || self.opts.ecn.recover_by_ece())
            && self
                .recovery
                .board
                .as_ref()
                .is_some_and(|b| b.is_lost(self.snd.una, self.snd.una, mss))
        {
            // RFC 6675 5 (step B): fewer than DupThresh duplicate ACKs, but the SACK
            // information already makes IsLost(HighACK + 1) true: enter recovery.
            self.enter_fast_recovery(ack, u32::from(self.recovery.dup_acks.max(1)), now);
        }
        if !self.recovery.active
            && self.probe_sacked_beyond_hole(seg)
            && (ack.gt(self.recovery.recover) || self.opts.ecn.recover_by_ece())
        {
            // RFC 8985 7.4.1: the loss probe arrived but data sent before it, at
            // least a PTO earlier, did not: lost (RACK would mark it so, 6.2), so
            // fast recovery repairs it now instead of the RTO. Each duplicate ACK
            // so far, at least this one, is a segment that left the network.
            self.enter_fast_recovery(ack, u32::from(self.recovery.dup_acks.max(1)), now);
        }
    }

    /// Out of recovery, `recover` only needs to be below SND.UNA; keeping it
    /// just below stops it wrapping out of reach of `gt` after 2^31 octets
    /// without a reduction.
    #[inline]
    pub(super) fn keep_recover_below_una(&mut self) {
        if !self.recovery.active && self.recovery.recover.lt(self.snd.una) {
            self.recovery.recover = self.snd.una - 1;
        }
    }

    /// RFC 9293 3.10.7.4: update the window only for newer segments (WL1/WL2 rule).
    pub(super) fn update_send_window(&mut self, seg: &TcpRepr<'_>, wnd: u32) {
        let ack = seg.ack;
        if self.snd.wl1.lt(seg.seq) || (self.snd.wl1 == seg.seq && self.snd.wl2.le(ack)) {
            let opened = wnd > self.snd.wnd;
            self.snd.wnd = wnd;
            self.snd.max_wnd = self.snd.max_wnd.max(wnd);
            self.snd.wl1 = seg.seq;
            self.snd.wl2 = ack;
            if opened && wnd > 0 {
                if self.timers.take(Timer::Persist).is_some() && self.snd.nxt.gt(self.snd.una) {
                    // The window opened without taking the probe octet: it was never
                    // accepted, so it counts as unsent and data resumes at SND.UNA.
                    if self.snd.max == self.snd.una + 1 {
                        self.snd.max = self.snd.una;
                        if let Some(log) = self.records.sent_if_any() {
                            log.truncate(self.snd.una);
                        }
                        self.records.release();
                    }
                    self.snd.nxt = self.snd.una;
                }
                self.timers.persist_backoff = 0;
            }
        }
    }

    /// SACK information drives loss recovery on this connection (RFC 6675).
    pub(super) fn sack_recovery(&self) -> bool {
        self.opts.sack && self.cfg.sack_recovery
    }

    /// Octets SACKed above `una`: with RACK, of segments SACKed whole (as
    /// Linux counts delivered data), otherwise the scoreboard's.
    fn sacked_octets(&self, una: SeqNum) -> u32 {
        match self.rack_marks() {
            Some(log) => crate::recovery::rack::sacked_octets_above(log, una),
            None => self.recovery.sacked_above(una),
        }
    }

    /// RACK runs on this connection (RFC 8985 4: with SACK), so each segment
    /// in flight has a record.
    #[inline]
    pub(super) fn keeps_segments(&self) -> bool {
        self.cfg.rack && self.sack_recovery()
    }

    /// RFC 6675 4 (Update()): fold the ACK's SACK blocks into the scoreboard,
    /// SND.UNA being `una` after the ACK. Returns whether octets not SACKed
    /// before were SACKed (RFC 6675 2: a duplicate ACK).
    pub(super) fn sack_update(&mut self, una: SeqNum, seg: &TcpRepr<'_>) -> bool {
        if !self.sack_recovery() {
            return false;
        }
        self.recovery
            .sack_update(una, self.snd.max, seg.options.sack.as_slice())
    }

    /// Where the send sequence space stands, for loss recovery.
    #[inline]
    pub(super) fn flight_view(&self) -> Flight {
        // RFC 7413 4.2.2: a Fast Open child sends before its SYN,ACK is
        // acknowledged; as in Linux (the SYN,ACK is not in `packets_out`), the
        // SYN's sequence number takes no room in the window.
        let early =
            self.probes.has(crate::probe::Probes::EARLY_DATA) && self.snd.una == self.snd.iss;
        Flight {
            una: if early {
                self.snd.una + 1
            } else {
                self.snd.una
            },
            nxt: self.snd.nxt,
            max: self.snd.max,
            peer_wnd: self.snd.wnd,
            smss: u32::from(self.opts.snd_mss),
        }
    }

    /// RFC 5681 3.2 / RFC 6582 3.2: fast retransmit of SND.UNA and fast recovery,
    /// the window inflated by the `left` segments that left the network.
    pub(super) fn enter_fast_recovery(&mut self, ack: SeqNum, left: u32, now: Instant) {
        let mss = u32::from(self.opts.snd_mss);
        // An ECE reduction in this window already halved ssthresh: the loss is
        // still repaired at once, but the window is not cut twice (RFC 3168 6.1.2:
        // at most one reduction per window; Linux goes from CWR to Recovery the
        // same way).
        let reduced = self.opts.ecn.recover_by_ece() && ack.le(self.recovery.recover);
        let flight = self.snd.max.since(self.snd.una);
        self.cc
            .on_congestion(Congestion::Loss { reduced }, flight, mss, now);
        // RFC 3708 2: D-SACKs of all this recovery retransmits undo it.
        self.cc
            .watch_recovery(self.snd.una, self.counters.retransmits);
        let sack = self.sack_recovery();
        self.recovery
            .enter(&self.cc, self.flight_view(), left, sack, self.cfg.prr);
        self.opts.ecn.set_recover_by_ece(false);
        // The reduction of fast recovery covers any loss a TLP episode would
        // report (RFC 8985 7.4.2; Linux `tcp_init_cwnd_reduction`); a PTO that
        // fired meanwhile sends no probe in recovery (7.2).
        self.probes.set(Probes::EPISODE | Probes::TLP_DUE, false);
        self.counters.fast_retransmits += 1;
        // RFC 3168 6.1.2: any window reduction is announced with CWR.
        self.opts.ecn.window_reduced();
    }

    /// RFC 3168 6.1.2: an ECE "should be treated just as a congestion loss": halve
    /// cwnd and reduce ssthresh, at most once per window of data (`recover` is the
    /// highest sequence number sent at the reduction, as RFC 6582 uses it for fast
    /// recovery, so ECEs for data sent before it are ignored; a loss in that window
    /// is still fast-retransmitted, see `recover_by_ece`), and set CWR on the next
    /// new data segment.
    pub(super) fn ecn_reduce(&mut self, now: Instant) {
        let mss = u32::from(self.opts.snd_mss);
        let one_segment = self.recovery.cwnd(&self.cc) <= mss;
        // RFC 5681 3.1: ssthresh at least 2 * SMSS; cwnd never grows here.
        let flight = self.snd.max.since(self.snd.una);
        self.cc.on_congestion(Congestion::Ecn, flight, mss, now);
        self.recovery.recover = self.snd.max;
        self.opts.ecn.set_recover_by_ece(true);
        self.opts.ecn.window_reduced();
        // This reduction covers any loss a TLP episode would report (Linux
        // `tcp_enter_cwr` ends the episode).
        self.probes.set(Probes::EPISODE, false);
        if one_segment && self.snd.max.gt(self.snd.una) && !self.timers.is_armed(Timer::Persist) {
            // RFC 3168 6.1.2: with a window of one segment the sender "MUST reset
            // the retransmit timer on receiving the ECN-Echo packet".
            self.set_rtx(Some(now + self.rtt.rto(self.rto_bounds())));
        }
    }
}
