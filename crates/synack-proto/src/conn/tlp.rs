//! Tail loss probe (RFC 8985 7): the PTO, the probe, and the end of a TLP
//! episode.

use super::output::take_range;
use super::timers::Timer;
use super::{OutSegment, Tcb};
use crate::cc::{Congestion, CongestionControl};
use crate::event::SendReason;
use crate::probe::{self, Probes};
use crate::time::Instant;
use std::ops::Range;
use synack_wire::{TcpFlags, TcpRepr};

impl Tcb {
    // ----- tail loss probe (RFC 8985 7) ------------------------------------

    /// Our FIN is sent and not yet acknowledged.
    pub(super) fn fin_outstanding(&self) -> bool {
        self.snd.fin_queued && self.snd.max == self.fin_seq() + 1 && self.snd.una.le(self.fin_seq())
    }

    /// When the RTO fires or would fire (RFC 6298 5.1, 5.3: started by a send
    /// with nothing outstanding, restarted by every ACK of new data, which is
    /// when `unacked_since` is set): the `Retransmit` deadline while it is armed,
    /// otherwise counted from `unacked_since`, and never before an armed PTO.
    pub(super) fn rto_expiry(&self, now: Instant) -> Instant {
        let rto = self.rtt.rto(self.rto_bounds());
        if let Some(d) = self.timers.get(Timer::Retransmit) {
            return d;
        }
        match self.timers.get(Timer::LossProbe) {
            Some(pto) => self
                .timers
                .unacked_since
                .map_or(now + rto, |t| t + rto)
                .max(pto),
            None => now + rto,
        }
    }

    /// RFC 8985 7.2: may a PTO be scheduled now?
    #[inline]
    pub(super) fn tlp_allowed(&self) -> bool {
        // Fast recovery, or RTO recovery: SND.UNA short of the highest sequence
        // number sent at the timeout (`recover`, RFC 6582 4; an ECE reduction sets
        // it as well, but then the window was only reduced, as Linux's CWR state).
        let recovering = self.recovery.active
            || (self.snd.una.lt(self.recovery.recover) && !self.opts.ecn.recover_by_ece())
            || self.snd.nxt != self.snd.max;
        self.cfg.tail_loss_probe
            // RFC 8985 4: RACK-TLP requires SACK (Linux: `tcp_is_sack`).
            && self.opts.sack
            // No round-trip estimate to base 2*SRTT on: the RTO alone watches the
            // flight (RFC 8985 7.2 would probe at 1 s; synack leaves that to the RTO).
            && self.rtt.srtt().is_some()
            && self.syn_acked()
            && self.state.is_synchronized()
            && self.snd.max.gt(self.snd.una)
            && !recovering
            // RFC 8985 7.2: not when segments were delivered beyond a hole: the
            // duplicate ACKs drive recovery (Linux probes only in the Open and CWR
            // states, not in Disorder).
            && self.recovery.dup_acks == 0
            // RFC 8985 7.3: at most one probe outstanding; until its episode ends
            // the RTO stays the last resort.
            && !self.probes.has(Probes::EPISODE)
            // RFC 8985 7.2: no probe while the peer has SACKed data above a hole:
            // that is loss recovery's business (RFC 6675).
            && self.nothing_sacked()
            // RFC 8985 8: RACK's reordering timer, when armed, comes first.
            && !self.timers.is_armed(Timer::Reorder)
            // A closed window is the persist timer's business.
            && self.snd.wnd > 0
            && !self.timers.is_armed(Timer::Persist)
    }

    /// No data is SACKed: with RACK no segment whole (as Linux's
    /// `sacked_out`), otherwise no octet in the scoreboard.
    fn nothing_sacked(&self) -> bool {
        match self.rack_marks() {
            Some(log) => crate::recovery::rack::sacked_segments(log) == 0,
            None => self.recovery.board.as_ref().is_none_or(|b| b.is_empty()),
        }
    }

    /// RFC 8985 7.2: after new data went out (not itself a probe) or an ACK
    /// acknowledged new data, (re)start the PTO in place of the RTO, or give
    /// way to the RTO when no probe may be scheduled.
    pub(super) fn schedule_loss_probe(&mut self, now: Instant) {
        if !self.tlp_allowed() {
            self.cancel_pto(now);
            return;
        }
        let Some(srtt) = self.rtt.srtt() else {
            return;
        };
        // RFC 8985 7.2: "If FlightSize is one segment" (as Linux's `packets_out
        // == 1`: the data fits one SMSS, and a FIN sent by itself counts apart).
        let fin = self.fin_outstanding();
        let data = self.snd.max.since(self.snd.una) - u32::from(fin);
        let segments = data.div_ceil(u32::from(self.opts.snd_mss).max(1))
            + u32::from(fin && (data == 0 || self.probes.has(Probes::FIN_ALONE)));
        let pto = probe::pto(srtt, segments <= 1);
        // RFC 8985 7.2: "If Now() + PTO > TCP_RTO_expiration(): PTO =
        // TCP_RTO_expiration() - Now()": never later than the RTO.
        let at = (now + pto).min(self.rto_expiry(now));
        self.timers.set(Timer::LossProbe, at);
    }

    /// An armed PTO gives way to the RTO it stood in for.
    pub(super) fn cancel_pto(&mut self, now: Instant) {
        if self.timers.is_armed(Timer::LossProbe) {
            let rto = self.rto_expiry(now);
            self.set_rtx(Some(rto));
        }
    }

    /// RFC 8985 7.3: the PTO fired. The probe itself goes out with the next
    /// output (`loss_probe`); the RTO, not a PTO, is re-armed, so that RTO
    /// recovery remains the last resort if the probe fails.
    pub(super) fn on_pto(&mut self, now: Instant) {
        if self.snd.max == self.snd.una {
            return;
        }
        self.probes.set(Probes::TLP_DUE, true);
        self.set_rtx(Some(now + self.rtt.rto(self.rto_bounds())));
    }

    /// RFC 8985 7.3 (`TLP_send_probe`): the loss probe, one segment: previously
    /// unsent data if there is some and the peer's receive window takes it
    /// (the congestion window and Nagle do not hold a probe back, as Linux's
    /// `tcp_send_loss_probe`), else the most recently sent segment again.
    pub(super) fn loss_probe(
        &mut self,
        now: Instant,
        mss: usize,
        payload: &mut Range<usize>,
    ) -> Option<OutSegment> {
        if self.snd.max == self.snd.una || self.snd.nxt != self.snd.max || !self.tlp_allowed() {
            // Acknowledged meanwhile, a timeout's go-back-N under way, recovery
            // begun or the window closed since the PTO fired: the RTO (or the
            // persist timer, or recovery) takes over.
            return None;
        }
        let data0 = self.data_seq0();
        if let Some(out) = self.sack_hole_or_skip_sacked(mss, now, payload) {
            return Some(out);
        }
        let offset = self.snd.nxt.since(data0) as usize;
        let unsent = self.snd.buf.len().saturating_sub(offset);
        let room = (self.snd.una + self.snd.wnd).diff(self.snd.nxt).max(0) as usize;
        let n = unsent.min(mss);
        let out = if n > 0 && n <= room {
            // RFC 8985 7.3: "Transmit the lowest-sequence unsent Segment".
            take_range(&self.snd.buf, offset, offset + n, payload);
            let seq = self.snd.nxt;
            self.snd.nxt += n as u32;
            let is_last = n == unsent;
            let mut flags = TcpFlags::ACK;
            if is_last {
                flags |= TcpFlags::PSH;
                if self.snd.fin_queued && self.snd.nxt == self.fin_seq() && room > n {
                    flags |= TcpFlags::FIN;
                    self.snd.nxt += 1;
                }
            }
            self.snd.max = self.snd.nxt;
            self.counters.bytes_sent += n as u64;
            if self.rtt.probe().is_none() {
                self.rtt.start_probe(self.snd.nxt, now);
            }
            self.probes.set(Probes::RETRANS, false);
            let mut out = self.finish(seq, flags, SendReason::LossProbe, now);
            // RFC 3168 6.1.2: new data goes out ECT(0).
            out.ect = self.opts.ecn.new_data(&mut out.flags);
            out
        } else {
            // RFC 8985 7.3: "Retransmit the highest-sequence Segment sent": we keep
            // no segment boundaries, so the last SMSS of data (which holds the last
            // segment whole) with the FIN if it is outstanding, or the FIN alone
            // when it went out alone.
            let fin = self.fin_outstanding();
            let end = if fin { self.fin_seq() } else { self.snd.max };
            let data = end.since(self.snd.una) as usize;
            let n = if fin && self.probes.has(Probes::FIN_ALONE) {
                0
            } else {
                data.min(mss)
            };
            if n == 0 && !fin {
                return None;
            }
            let seq = end - n as u32;
            let start = seq.since(data0) as usize;
            take_range(&self.snd.buf, start, start + n, payload);
            let mut flags = TcpFlags::ACK;
            if n > 0 {
                flags |= TcpFlags::PSH;
            }
            if fin {
                flags |= TcpFlags::FIN;
            }
            self.counters.retransmits += 1;
            // RFC 6298 3 (Karn): an ACK covering the retransmitted octets no longer
            // says which copy it answers; RFC 7323 4.1: its TSecr does.
            if self.rtt.probe().is_some_and(|(e, _)| e.gt(seq)) {
                self.rtt.clear_probe();
            }
            if self.opts.ts {
                self.ts.rtt_from = Some(self.ts_now(now));
            }
            self.probes.set(Probes::RETRANS, true);
            self.finish(seq, flags, SendReason::LossProbe, now)
        };
        // RFC 8985 7.3: TLP.end_seq = SND.NXT; the episode lasts until its ACK
        // (7.4.2). The RTO, not the PTO, watches the flight now.
        self.recovery.tlp_end = self.snd.max;
        self.probes.set(Probes::EPISODE, true);
        self.set_rtx(Some(now + self.rtt.rto(self.rto_bounds())));
        if self.timers.unacked_since.is_none() {
            self.timers.unacked_since = Some(now);
        }
        Some(out)
    }

    /// RFC 8985 7.4.2 (`TLP_process_ack`): an ACK during a TLP episode. A probe
    /// of new data ends it when acknowledged. A retransmitted probe ends it when
    /// the ACK shows that both the original and the probe arrived (a D-SACK of
    /// the probe, or a pure duplicate ACK), or when an ACK goes beyond
    /// TLP.end_seq without that: the probe alone repaired the loss of the last
    /// segment, and the congestion window is reduced for it, once.
    pub(super) fn tlp_process_ack(&mut self, seg: &TcpRepr<'_>, wnd: u32, now: Instant) {
        if !self.probes.has(Probes::EPISODE) || seg.ack.lt(self.recovery.tlp_end) {
            return;
        }
        let end = self.recovery.tlp_end;
        let dsack = seg
            .options
            .sack
            .as_slice()
            .first()
            .is_some_and(|&(_, right)| right == end && right.le(seg.ack));
        let pure_dup = seg.ack == self.snd.una
            && seg.payload.is_empty()
            && seg.options.sack.is_empty()
            && wnd == self.snd.wnd;
        if !self.probes.has(Probes::RETRANS) || dsack || pure_dup {
            // "TLP of new data delivered" / "Retransmission was spurious".
            self.probes.set(Probes::EPISODE, false);
        } else if seg.ack.gt(end) {
            // "Repaired the single loss": invoke congestion control once, as for
            // a loss (Linux: `tcp_init_cwnd_reduction` and `tcp_end_cwnd_reduction`
            // in CWR), ssthresh = max(cwnd/2, 2*SMSS) and cwnd = ssthresh.
            self.probes.set(Probes::EPISODE, false);
            let mss = u32::from(self.opts.snd_mss);
            let flight = self.snd.max.since(self.snd.una);
            self.cc
                .on_congestion(Congestion::ProbeRepair, flight, mss, now);
            // RFC 3168 6.1.2: any window reduction is announced with CWR.
            self.opts.ecn.window_reduced();
        }
    }

    /// RFC 8985 7.4.1: this ACK reports the outstanding loss probe's last octet in
    /// a SACK block while the cumulative ACK stays below the block: the probe
    /// arrived beyond a hole.
    pub(super) fn probe_sacked_beyond_hole(&self, seg: &TcpRepr<'_>) -> bool {
        if !self.probes.has(Probes::EPISODE) || !seg.ack.lt(self.recovery.tlp_end) {
            return false;
        }
        let last = self.recovery.tlp_end - 1;
        seg.options
            .sack
            .as_slice()
            .iter()
            .any(|&(left, right)| seg.ack.lt(left) && left.le(last) && last.lt(right))
    }
}
