//! The connection's side of RACK (RFC 8985 6): each ACK's delivered
//! segments taken into RACK's state, its loss detection run after the ACK
//! (or when the reordering timer fires), fast recovery entered when it
//! declares a loss, and the reordering timer armed for what it cannot judge
//! yet. The algorithm itself is `recovery/rack.rs`.

use super::timers::Timer;
use super::Tcb;
use crate::recovery::rack::{self, AckInfo};
use crate::recovery::sent::SentLog;
use crate::time::Instant;
use synack_wire::{SeqNum, TcpRepr};

impl Tcb {
    /// RACK's records and marks, when RACK runs on this connection.
    #[inline]
    pub(super) fn rack_marks(&self) -> Option<&SentLog> {
        if self.keeps_segments() {
            self.records.sent_log()
        } else {
            None
        }
    }

    fn ack_info(&self, seg: &TcpRepr<'_>, now: Instant) -> AckInfo {
        AckInfo {
            now,
            tsecr: seg
                .options
                .timestamps
                .filter(|_| self.opts.ts)
                .map(|t| t.tsecr),
            ts_offset: self.ts.offset,
        }
    }

    /// RFC 8985 6.2 steps 1-3, first for an ACK: the segments the
    /// scoreboard's SACKed ranges now cover whole are SACKed and delivered.
    /// Returns how many were newly SACKed.
    pub(super) fn rack_on_sack(&mut self, seg: &TcpRepr<'_>, now: Instant) -> u32 {
        let a = self.ack_info(seg, now);
        let srtt = self.rtt.srtt();
        let mem = &mut self.recovery.rack;
        let Some((log, f)) = self.records.rack_parts() else {
            return 0;
        };
        f.fack_before = f.fack;
        f.seed_min_rtt(srtt);
        let Some(b) = self.recovery.board.as_ref() else {
            return 0;
        };
        let mut n = 0;
        log.on_sacked(b.ranges(), |s| {
            f.on_delivered(mem, s, a);
            n += 1;
        });
        n
    }

    /// RFC 8985 6.2 steps 1-3 for the segments the cumulative ACK `ack`
    /// delivers whole (those not SACKed before).
    pub(super) fn rack_on_cumulative(&mut self, ack: SeqNum, seg: &TcpRepr<'_>, now: Instant) {
        let a = self.ack_info(seg, now);
        let srtt = self.rtt.srtt();
        let mem = &mut self.recovery.rack;
        let Some((log, f)) = self.records.rack_parts() else {
            return;
        };
        f.seed_min_rtt(srtt);
        log.on_cumulative_ack(ack, |s| {
            if !s.has(crate::recovery::sent::mark::SACKED) {
                f.on_delivered(mem, s, a);
            }
        });
    }

    /// RFC 8985 6.2 steps 4 and 5 after an ACK: a D-SACK widens the
    /// reordering window, losses are detected, and a loss starts fast
    /// recovery (RFC 8985 6.2: RACK's marks in place of DupThresh).
    pub(super) fn rack_after_ack(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        if !self.keeps_segments() {
            return;
        }
        let dsack = rack::is_dsack(seg.options.sack.as_slice(), seg.ack);
        let (una, max) = (self.snd.una, self.snd.max);
        if let Some((_, f)) = self.records.rack_parts() {
            f.on_dsack(&mut self.recovery.rack, dsack, una, max);
        }
        let lost = self.rack_detect(now);
        if lost > 0 {
            // RFC 9937 5: an ACK that indicates further loss is not safe.
            self.recovery.note_further_loss();
        }
        self.rack_recover(lost, seg.ack, now);
    }

    /// RFC 8985 6.2 step 5: the reordering timer fired, and its handler is
    /// `RACK_detect_loss_and_arm_timer()` again (6.3 is the RTO's).
    pub(super) fn on_reorder_timeout(&mut self, now: Instant) {
        let lost = self.rack_detect(now);
        self.rack_recover(lost, self.snd.una, now);
        if !self.rtx_running() && self.snd.max.gt(self.snd.una) {
            let at = self.rto_restart(now);
            self.set_rtx(Some(at));
        }
    }

    /// Start fast recovery for `lost` segments RACK declared lost, unless a
    /// recovery runs or the loss is in a window already reduced.
    fn rack_recover(&mut self, lost: u32, ack: SeqNum, now: Instant) {
        if lost == 0 || self.recovery.active || self.timers.is_armed(Timer::Persist) {
            return;
        }
        if ack.gt(self.recovery.recover) || self.opts.ecn.recover_by_ece() {
            // RFC 8985 6.2 (step 5) and RFC 6675 5: a loss detected: fast
            // retransmit and recovery, NextSeg() sending what RACK marked.
            let left = u32::from(self.recovery.dup_acks.max(1));
            self.enter_fast_recovery(ack, left, now);
        }
    }

    /// RFC 8985 6.2 step 5 (`RACK_detect_loss_and_arm_timer`): mark the
    /// lost segments and arm the reordering timer for the others, or give
    /// its place back to the RTO. Returns the segments newly marked lost.
    fn rack_detect(&mut self, now: Instant) -> u32 {
        let recovering = self.recovery.active
            || (self.snd.una.lt(self.recovery.recover) && !self.opts.ecn.recover_by_ece());
        let srtt = self.rtt.srtt();
        let mem = self.recovery.rack;
        let d = match self.records.rack_parts() {
            Some((log, f)) if f.last.is_some() => {
                let sacked = rack::sacked_segments(log);
                let reo_wnd = f.reo_wnd(mem, recovering, sacked, srtt);
                rack::detect_loss(log, f, reo_wnd, now)
            }
            _ => rack::Detection::default(),
        };
        match d.timer {
            Some(at) if at < self.rto_expiry(now) => self.timers.set(Timer::Reorder, at),
            Some(_) => {}
            None => {
                if self.timers.take(Timer::Reorder).is_some() {
                    let at = self.rto_restart(now);
                    self.set_rtx(Some(at));
                }
            }
        }
        d.newly_lost
    }

    /// When the RTO falls once the reordering timer gives its slot back:
    /// an RTO after the oldest outstanding data was last timed, never
    /// before `now`.
    fn rto_restart(&self, now: Instant) -> Instant {
        let rto = self.rtt.rto(self.rto_bounds());
        self.timers
            .unacked_since
            .map_or(now + rto, |t| (t + rto).max(now))
    }
}
