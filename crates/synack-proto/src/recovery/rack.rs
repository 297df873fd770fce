//! RACK, loss detection by time (RFC 8985 6): a segment is lost once a
//! segment sent after it was delivered and a reordering window has passed
//! since, whatever the sequence numbers say. It reasons with the records of
//! the segments in flight (`sent`), each with its latest transmission time,
//! and marks the lost ones there; SACK recovery then repairs exactly those
//! (NextSeg's rule 1) and counts them out of the pipe, and PRR follows.
//!
//! What a flight needs (`RackFlight`: the most recently sent delivered
//! segment, its RTT, the minimum RTT, the highest delivered end, the D-SACK
//! round) lives in the box with the records and goes with them; what a
//! connection keeps across flights (`RackMemory`: reordering seen, the
//! reordering window's multiplier and how long it persists) is one byte.

use super::sent::{mark, Sent, SentLog};
use crate::time::{Duration, Instant};
use synack_wire::SeqNum;

/// RFC 8985 6.2 step 4: `RACK.reo_wnd_persist` after a D-SACK: the window
/// stays widened for this many loss recoveries.
const REO_WND_PERSIST: u8 = 16;

/// The largest `RACK.reo_wnd_mult` kept (the window is capped at SRTT
/// anyway, and 8 quarters of the minimum RTT are two of them).
const MAX_REO_WND_MULT: u8 = 8;

/// What RACK keeps across flights, in one byte: `RACK.reordering_seen`
/// (bit 7), `RACK.reo_wnd_mult - 1` (bits 4-6) and `RACK.reo_wnd_persist -
/// 1` (bits 0-3, meaningful while the multiplier is above one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RackMemory(u8);

impl RackMemory {
    /// Nothing seen: no reordering, the multiplier one.
    pub(crate) const NEW: RackMemory = RackMemory(0);

    /// `RACK.reordering_seen`.
    pub(crate) fn reordering_seen(self) -> bool {
        self.0 & 0x80 != 0
    }

    fn see_reordering(&mut self) {
        self.0 |= 0x80;
    }

    /// `RACK.reo_wnd_mult`, 1 to [`MAX_REO_WND_MULT`].
    pub(crate) fn mult(self) -> u8 {
        ((self.0 >> 4) & 0x7) + 1
    }

    fn set(&mut self, mult: u8, persist: u8) {
        let m = mult.clamp(1, MAX_REO_WND_MULT) - 1;
        let p = persist.clamp(1, REO_WND_PERSIST) - 1;
        self.0 = (self.0 & 0x80) | (m << 4) | p;
    }

    /// RFC 8985 6.2 step 4: a D-SACK starts a round: widen the window by a
    /// quarter of the minimum RTT, for the next 16 recoveries.
    fn widen(&mut self) {
        self.set(self.mult().saturating_add(1), REO_WND_PERSIST);
    }

    /// RFC 8985 6.2 step 4: a loss recovery ended: `reo_wnd_persist -= 1`,
    /// and the multiplier falls back to one when it reaches zero.
    pub(crate) fn on_recovery_exit(&mut self) {
        if self.mult() == 1 {
            return;
        }
        let p = self.0 & 0xf;
        if p == 0 {
            self.set(1, 1);
        } else {
            self.0 -= 1;
        }
    }
}

/// RACK's state for the current flight (RFC 8985 6.1).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RackFlight {
    /// `RACK.xmit_ts` and `RACK.end_seq`: the most recently sent segment
    /// delivered so far (`None` until one is).
    pub(crate) last: Option<(Instant, SeqNum)>,
    /// `RACK.rtt`: the RTT of the segment last taken into `last`.
    pub(crate) rtt: Duration,
    /// `RACK.min_RTT`, started from SRTT when the flight begins (see
    /// [`RackFlight::seed_min_rtt`]).
    pub(crate) min_rtt: Option<Duration>,
    /// `RACK.fack`: the highest end delivered.
    pub(crate) fack: Option<SeqNum>,
    /// `RACK.dsack_round`: SND.NXT when a D-SACK last widened the window.
    pub(crate) dsack_round: Option<SeqNum>,
    /// `RACK.fack` before the ACK being processed (step 3 compares with it).
    pub(crate) fack_before: Option<SeqNum>,
}

/// RFC 8985 6.2 (`RACK_sent_after`): whether `(t1, s1)` went out after
/// `(t2, s2)`, the end sequence breaking a tie.
#[inline]
fn sent_after(t1: Instant, s1: SeqNum, t2: Instant, s2: SeqNum) -> bool {
    t1 > t2 || (t1 == t2 && s1.gt(s2))
}

/// What an ACK tells RACK beyond the segments it delivered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckInfo {
    /// The arrival time.
    pub(crate) now: Instant,
    /// The ACK's TSecr, when timestamps are on: a retransmitted segment's
    /// delivery counts only if it echoes the latest transmission.
    pub(crate) tsecr: Option<u32>,
    /// Our TSval clock's offset: TSval = milliseconds + offset.
    pub(crate) ts_offset: u32,
}

impl AckInfo {
    /// The TSecr echoes a transmission before `at` (RFC 8985 6.2 step 2:
    /// "ACK.ts_option.echo_reply < Segment.xmit_ts").
    fn echoes_before(&self, at: Instant) -> bool {
        let sent = ((at.micros() / 1000) as u32).wrapping_add(self.ts_offset);
        self.tsecr
            .is_some_and(|e| (e.wrapping_sub(sent) as i32) < 0)
    }
}

impl RackFlight {
    /// `RACK.min_RTT` before the flight's first sample: SRTT. RFC 8985 6.2
    /// step 1 wants a windowed minimum of the connection's RTT measurements
    /// (RFC 6298, RFC 7323), and Linux reads `tcp_min_rtt()`, a minimum over
    /// five minutes of every sample. This state lives with the flight's
    /// records (no per-connection bytes to spare), so a flight starts from
    /// SRTT, the estimate those same measurements left, and keeps the
    /// minimum of its own samples from there. SRTT is never below the true
    /// minimum, so the deviation can only widen the reordering window and
    /// make step 2 readier to take an ACK of a retransmission for the
    /// original's: both call a loss later, never sooner.
    pub(crate) fn seed_min_rtt(&mut self, srtt: Option<Duration>) {
        if self.min_rtt.is_none() {
            self.min_rtt = srtt;
        }
    }

    /// RFC 8985 6.2 steps 1-3 for one newly delivered segment (acknowledged
    /// cumulatively or SACKed).
    pub(crate) fn on_delivered(&mut self, mem: &mut RackMemory, s: &Sent, a: AckInfo) {
        let fack0 = self.fack_before;
        let rtt = a.now.saturating_since(s.at);
        let retransmitted = s.has(mark::EVER_RETRANS);
        if retransmitted {
            // Step 2: the ACK may answer the original transmission: only a
            // TSecr at or after the latest one, or an RTT no shorter than the
            // minimum, proves it answers the retransmission.
            if a.echoes_before(s.at) || self.min_rtt.is_some_and(|m| rtt < m) {
                return;
            }
        } else {
            // Step 1: RACK.min_RTT from unambiguous samples.
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
        }
        // Step 2: RACK.rtt, RACK.xmit_ts, RACK.end_seq.
        self.rtt = rtt;
        if self.last.is_none_or(|(t, e)| sent_after(s.at, s.end, t, e)) {
            self.last = Some((s.at, s.end));
        }
        // Step 3: a segment below the highest one delivered before, never
        // retransmitted, arrived out of order.
        if !retransmitted && fack0.is_some_and(|f| s.end.lt(f)) {
            mem.see_reordering();
        }
        if self.fack.is_none_or(|f| s.end.gt(f)) {
            self.fack = Some(s.end);
        }
    }

    /// RFC 8985 6.2 step 4 (first half): a D-SACK on this ACK widens the
    /// reordering window once per round (SND.NXT `nxt`, SND.UNA `una`).
    pub(crate) fn on_dsack(&mut self, mem: &mut RackMemory, dsack: bool, una: SeqNum, nxt: SeqNum) {
        if self.dsack_round.is_some_and(|r| una.ge(r)) {
            self.dsack_round = None;
        }
        if dsack && self.dsack_round.is_none() {
            self.dsack_round = Some(nxt);
            mem.widen();
        }
    }

    /// RFC 8985 6.2 step 4: `RACK.reo_wnd`. Zero while no reordering was
    /// seen and loss recovery runs (`recovering`) or DupThresh segments are
    /// SACKed (`sacked` records); otherwise a quarter of the minimum RTT
    /// per multiplier step, at most SRTT.
    pub(crate) fn reo_wnd(
        &self,
        mem: RackMemory,
        recovering: bool,
        sacked: u32,
        srtt: Option<Duration>,
    ) -> Duration {
        if !mem.reordering_seen() && (recovering || sacked >= super::scoreboard::DUP_THRESH) {
            return Duration::ZERO;
        }
        let Some(min) = self.min_rtt else {
            return Duration::ZERO;
        };
        let w = min / 4 * u32::from(mem.mult());
        srtt.map_or(w, |s| w.min(s))
    }
}

/// What one pass of RACK's loss detection found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Detection {
    /// Segments newly marked lost.
    pub(crate) newly_lost: u32,
    /// When the reordering timer must fire to judge the rest.
    pub(crate) timer: Option<Instant>,
}

/// RFC 8985 6.2 step 5 (`RACK_detect_loss`): every segment not SACKed,
/// and not already lost unless retransmitted since (a lost retransmission
/// is detected the same way), that went out before `RACK.xmit_ts` is lost
/// once `RACK.rtt + reo_wnd` has passed since it was sent; the reordering
/// timer is armed for the latest of the others.
///
/// Step 5 judges only the segments sent before `RACK.xmit_ts`, so the walk
/// stops at the first record never retransmitted that went out at or after
/// it, as Linux's `tcp_rack_detect_loss` stops in its time-sorted queue:
/// original transmissions go in sequence order, so every later record went
/// out later still (a retransmission later than its original).
pub(crate) fn detect_loss(
    log: &mut SentLog,
    f: &RackFlight,
    reo_wnd: Duration,
    now: Instant,
) -> Detection {
    let mut d = Detection::default();
    let Some((xt, xe)) = f.last else {
        return d;
    };
    for i in 0..log.len() {
        let Some(&s) = log.get(i) else {
            break;
        };
        let before = sent_after(xt, xe, s.at, s.end);
        if !before && !s.has(mark::EVER_RETRANS) {
            break;
        }
        if !before || s.has(mark::SACKED) || (s.has(mark::LOST) && !s.has(mark::RETRANS)) {
            continue;
        }
        let due = s.at + f.rtt + reo_wnd;
        if due <= now {
            // Lost: out of the pipe, and to be retransmitted (again).
            log.set_flags(i, (s.flags | mark::LOST) & !mark::RETRANS);
            d.newly_lost += 1;
        } else {
            d.timer = Some(d.timer.map_or(due, |t| t.max(due)));
        }
    }
    d
}

/// RFC 6675's pipe with RACK's marks (RFC 8985 6.2, as Linux's
/// `tcp_packets_in_flight`): every octet from `una` to `max` not SACKed and
/// not lost counts once, and a retransmission in flight once more.
pub(crate) fn pipe(log: &SentLog, una: SeqNum, max: SeqNum) -> u32 {
    let (start, end) = (log.start(), log.end());
    if una.le(start) && end.le(max) {
        // The log lies whole in [una, max): its totals say it all (as Linux
        // keeps `packets_out`, `sacked_out`, `lost_out` and `retrans_out`).
        let t = log.totals();
        let inside = end
            .since(start)
            .wrapping_sub(t.sacked)
            .wrapping_sub(t.lost)
            .wrapping_add(t.retrans);
        // Octets below the records (sent before they were kept) and beyond
        // them (none when every send is recorded).
        return start
            .since(una)
            .saturating_add(inside)
            .saturating_add(max.since(end));
    }
    pipe_walk(log, una, max)
}

/// [`pipe`] record by record, for a log that sticks out of `[una, max)`.
fn pipe_walk(log: &SentLog, una: SeqNum, max: SeqNum) -> u32 {
    // Octets below the records (sent before they were kept).
    let mut pipe = if log.start().gt(una) {
        log.start().min(max).since(una)
    } else {
        0
    };
    for (from, s) in log.iter() {
        let (a, b) = (from.max(una), s.end.min(max));
        if !a.lt(b) || s.has(mark::SACKED) {
            continue;
        }
        let len = b.since(a);
        if !s.has(mark::LOST) {
            pipe = pipe.saturating_add(len);
        }
        if s.has(mark::RETRANS) {
            pipe = pipe.saturating_add(len);
        }
    }
    // Octets beyond the records (none when every send is recorded).
    let top = log.end().max(una);
    if max.gt(top) {
        pipe = pipe.saturating_add(max.since(top));
    }
    pipe
}

/// NextSeg() rule 1 with RACK's marks: the first segment marked lost and
/// not retransmitted since, at most `mss` octets of it.
pub(crate) fn next_lost(log: &SentLog, mss: u32) -> Option<(SeqNum, u32)> {
    if log.totals().to_repair == 0 {
        return None;
    }
    log.iter()
        .find(|(_, s)| s.has(mark::LOST) && s.flags & (mark::RETRANS | mark::SACKED) == 0)
        .map(|(a, s)| (a, s.end.since(a).min(mss)))
}

/// Segments SACKed whole (RACK's `segs_sacked`).
#[inline]
pub(crate) fn sacked_segments(log: &SentLog) -> u32 {
    log.totals().sacked_segs
}

/// Segments marked lost and not SACKed since, retransmitted or not (Linux's
/// `lost_out`, which a retransmission leaves and a SACK clears).
pub(crate) fn lost_segments(log: &SentLog) -> u32 {
    log.iter()
        .filter(|(_, s)| s.has(mark::LOST) && !s.has(mark::SACKED))
        .count() as u32
}

/// Segments retransmitted and neither acknowledged nor SACKed since (Linux's
/// `retrans_out`).
pub(crate) fn retransmitted_segments(log: &SentLog) -> u32 {
    log.iter().filter(|(_, s)| s.has(mark::RETRANS)).count() as u32
}

/// Octets of the segments SACKed whole above `una`.
#[inline]
pub(crate) fn sacked_octets_above(log: &SentLog, una: SeqNum) -> u32 {
    log.sacked_above(una)
}

/// The end of the SACKed segment holding `seq`, if any (a go-back-N skips
/// it).
pub(crate) fn sacked_until(log: &SentLog, seq: SeqNum) -> Option<SeqNum> {
    if log.totals().sacked_segs == 0 {
        return None;
    }
    let i = log.index_of(seq);
    let s = log.get(i)?;
    (s.has(mark::SACKED) && log.seg_start(i).le(seq)).then_some(s.end)
}

/// The first octet of the first SACKed segment at or after `seq`.
pub(crate) fn next_sacked(log: &SentLog, seq: SeqNum) -> Option<SeqNum> {
    if log.totals().sacked_segs == 0 {
        return None;
    }
    log.iter_from(log.index_of(seq))
        .find(|(_, s)| s.has(mark::SACKED))
        .map(|(a, _)| a.max(seq))
}

/// RFC 2883 4: whether the first SACK block of an ACK of `ack` reports a
/// duplicate segment: below the cumulative ACK, or inside the second block.
pub(crate) fn is_dsack(blocks: &[(SeqNum, SeqNum)], ack: SeqNum) -> bool {
    let Some(&(l, r)) = blocks.first() else {
        return false;
    };
    r.le(ack) || blocks.get(1).is_some_and(|&(l2, r2)| l2.le(l) && r.le(r2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(us: u64) -> Instant {
        Instant::from_micros(us + 1)
    }

    /// RFC 8985 6.2 step 5 as written: every record judged.
    fn detect_loss_walk(
        log: &mut SentLog,
        f: &RackFlight,
        reo: Duration,
        now: Instant,
    ) -> Detection {
        let mut d = Detection::default();
        let Some((xt, xe)) = f.last else {
            return d;
        };
        for i in 0..log.len() {
            let s = *log.get(i).expect("in range");
            if s.has(mark::SACKED) || (s.has(mark::LOST) && !s.has(mark::RETRANS)) {
                continue;
            }
            if !sent_after(xt, xe, s.at, s.end) {
                continue;
            }
            let due = s.at + f.rtt + reo;
            if due <= now {
                log.set_flags(i, (s.flags | mark::LOST) & !mark::RETRANS);
                d.newly_lost += 1;
            } else {
                d.timer = Some(d.timer.map_or(due, |x| x.max(due)));
            }
        }
        d
    }

    #[test]
    fn the_shortcuts_agree_with_walking_every_record() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |n: u32| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % u64::from(n.max(1))) as u32
        };
        for round in 0..400 {
            let (una, mut max, mut now) = (SeqNum(7), SeqNum(7), 0u64);
            let mut log = SentLog::new(una);
            for _ in 0..rnd(60) {
                now += u64::from(rnd(500));
                if rnd(3) == 0 && max.gt(una) {
                    let a = una + rnd(max.since(una));
                    log.on_sent(a, a + 1 + rnd(3000), t(now));
                } else {
                    let end = max + 1 + rnd(1500);
                    log.on_sent(max, end, t(now));
                    max = end;
                }
                if rnd(4) == 0 {
                    let a = una + rnd(max.since(una));
                    log.on_sacked(&[(a, a + rnd(5000))], |_| {});
                }
            }
            let Some(&pick) = log.get(rnd(log.len() as u32) as usize) else {
                continue;
            };
            let f = RackFlight {
                last: Some((pick.at, pick.end)),
                rtt: Duration::from_micros(u64::from(rnd(2000))),
                ..RackFlight::default()
            };
            let reo = Duration::from_micros(u64::from(rnd(1000)));
            let at = t(now + u64::from(rnd(3000)));
            let mut walked = log.clone();
            let want = detect_loss_walk(&mut walked, &f, reo, at);
            assert_eq!(detect_loss(&mut log, &f, reo, at), want, "round {round}");
            let flags = |l: &SentLog| l.iter().map(|(_, s)| s.flags).collect::<Vec<_>>();
            assert_eq!(flags(&log), flags(&walked), "round {round}");
            for (u, m) in [(una, max), (una + rnd(100), max), (una, max + rnd(100))] {
                assert_eq!(pipe(&log, u, m), pipe_walk(&log, u, m), "round {round}");
            }
        }
    }
}
