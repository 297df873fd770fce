//! Timestamps (RFC 7323): the TSval clock, TS.Recent, PAWS and RTT samples
//! from TSecr.

use super::Tcb;
use crate::time::{Duration, Instant};
use synack_wire::SeqNum;
use synack_wire::TcpRepr;

/// Timestamp state (RFC 7323).
#[derive(Debug)]
pub(crate) struct TsState {
    /// TS.Recent (RFC 7323 4.3): the TSval to echo next.
    pub(super) recent: u32,
    /// When TS.Recent was last set, for its 24-day validity (RFC 7323 5.5).
    pub(super) recent_stamp: Instant,
    /// Last.ACK.sent (RFC 7323 4.3): the ACK field of the last ACK sent.
    pub(super) last_ack_sent: SeqNum,
    /// Added to the 1 ms clock so TSvals do not reveal uptime (RFC 7323 5.4);
    /// set by the stack from a keyed hash of the 4-tuple.
    pub(crate) offset: u32,
    /// A retransmission cleared the RTT probe (Karn's rule): the first ACK of new
    /// data echoing this TSval or a later one (so answering the retransmission, not
    /// an earlier transmission or a stale TS.Recent) is timed from its TSecr
    /// instead (RFC 7323 4.1, RFC 6298 3).
    pub(super) rtt_from: Option<u32>,
}

/// RFC 7323 5.5: how long TS.Recent stays valid for PAWS (24 days).
const PAWS_IDLE_LIMIT: Duration = Duration::from_secs(24 * 24 * 60 * 60);

impl Tcb {
    /// TSval: a 1 ms clock (RFC 7323 5.4 allows 1 ms to 1 s per tick) plus the
    /// connection's random offset, monotonic modulo 2^32 as `now` is.
    pub(super) fn ts_now(&self, now: Instant) -> u32 {
        ((now.micros() / 1000) as u32).wrapping_add(self.ts.offset)
    }

    /// RFC 7323 5.5: TS.Recent older than 24 days is no longer valid for PAWS.
    pub(super) fn ts_recent_valid(&self, now: Instant) -> bool {
        now.saturating_since(self.ts.recent_stamp) <= PAWS_IDLE_LIMIT
    }

    /// RFC 7323 5.3 R1: in a synchronized state, a non-RST segment whose TSval is
    /// older than a valid TS.Recent is not acceptable.
    pub(super) fn paws_reject(&self, seg: &TcpRepr<'_>, now: Instant) -> bool {
        match seg.options.timestamps {
            Some(ts) if self.opts.ts && !seg.flags.rst() && self.state.is_synchronized() => {
                (ts.tsval.wrapping_sub(self.ts.recent) as i32) < 0 && self.ts_recent_valid(now)
            }
            _ => false,
        }
    }

    /// In SYN-SENT: the segment's TSecr (non-zero: 0 is an unset echo) is
    /// no TSval we sent: later than now, or (while our first SYN is timed,
    /// not yet sent again) earlier than that SYN.
    pub(super) fn tsecr_not_ours(&self, seg: &TcpRepr<'_>, now: Instant) -> bool {
        let Some(ts) = seg.options.timestamps else {
            return false;
        };
        if !self.offers_ts() || ts.tsecr == 0 {
            return false;
        }
        let latest = self.ts_now(now);
        match self.rtt.probe() {
            Some((_, sent)) => {
                let first = self.ts_now(sent);
                ts.tsecr.wrapping_sub(first) > latest.wrapping_sub(first)
            }
            None => (ts.tsecr.wrapping_sub(latest) as i32) > 0,
        }
    }

    /// RFC 7323 4.3 (2): TS.Recent takes SEG.TSval when SEG.TSval >= TS.Recent (or
    /// TS.Recent is stale, 5.5) and SEG.SEQ =< Last.ACK.sent, i.e. the segment
    /// covers the point last acknowledged: the echo then times the oldest segment
    /// the next ACK acknowledges, and a delayed ACK echoes the earliest of the run.
    pub(super) fn update_ts_recent(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        let Some(ts) = seg.options.timestamps else {
            return;
        };
        if !self.opts.ts || !seg.seq.le(self.ts.last_ack_sent) {
            return;
        }
        if (ts.tsval.wrapping_sub(self.ts.recent) as i32) >= 0 || !self.ts_recent_valid(now) {
            self.ts.recent = ts.tsval;
            self.ts.recent_stamp = now;
        }
    }

    /// What was just sent again: Karn's rule (RFC 6298 3) stops the
    /// sequence-based measurement, and with timestamps the first ACK echoing a
    /// TSval from now on times the retransmission instead (RFC 7323 4.1).
    pub(super) fn time_after_retransmission(&mut self, now: Instant) {
        self.rtt.clear_probe();
        if self.opts.ts {
            self.ts.rtt_from = Some(self.ts_now(now));
        }
    }

    /// RFC 7323 4.1 / RFC 6298 3: RTT from the echoed timestamp of an ACK of new
    /// data, used once after a retransmission (Karn's rule holds back the
    /// sequence-based sample then; a TSecr names the transmission it answers).
    pub(super) fn ts_rtt_sample(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        let Some(from) = self.ts.rtt_from else {
            return;
        };
        if !seg.flags.ack() || !seg.ack.gt(self.snd.una) {
            return;
        }
        if self.rtt.probe().is_some_and(|(end, _)| seg.ack.ge(end)) {
            // New data sent since the retransmission is timed exactly by the probe.
            self.ts.rtt_from = None;
            return;
        }
        let Some(ts) = seg.options.timestamps.filter(|_| self.opts.ts) else {
            return;
        };
        // RFC 7323 3.2: TSecr is valid only with ACK; 0 is what an unset echo sends
        // (as Linux, ignore it). An echo from the future is not ours.
        let elapsed = self.ts_now(now).wrapping_sub(ts.tsecr) as i32;
        if ts.tsecr == 0 || elapsed < 0 || (ts.tsecr.wrapping_sub(from) as i32) < 0 {
            return;
        }
        let bounds = self.rto_bounds();
        self.rtt.sample(
            Duration::from_millis(u64::from(elapsed.max(1) as u32)),
            bounds,
        );
        self.ts.rtt_from = None;
    }
}
