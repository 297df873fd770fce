//! What one endpoint has sent, as far as the capture shows: its ISN, the
//! highest sequence number, its FIN, the ACKs and windows it advertised,
//! and the round-trip samples its data gave. Bounded: a few holes and a
//! few outstanding RTT samples per direction.

use std::collections::VecDeque;
use synack_proto::wire::{SeqNum, TcpFlags};

/// Holes remembered per direction (octets skipped, maybe filled later).
pub(crate) const MAX_HOLES: usize = 8;
/// Outstanding data segments remembered for RTT samples per direction.
pub(crate) const MAX_RTT_PENDING: usize = 64;
/// Segments waiting for evidence of their arrival per direction.
pub(crate) const MAX_PENDING: usize = 64;

/// Round-trip samples from ACKs (RFC 6298 2, Karn's rule: none from
/// retransmitted octets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RttStats {
    /// Samples taken.
    pub samples: u64,
    /// Smallest, in microseconds.
    pub min_us: u64,
    /// Largest, in microseconds.
    pub max_us: u64,
    /// Sum, in microseconds.
    pub sum_us: u64,
}

impl RttStats {
    fn add(&mut self, us: u64) {
        if self.samples == 0 || us < self.min_us {
            self.min_us = us;
        }
        self.max_us = self.max_us.max(us);
        self.sum_us = self.sum_us.saturating_add(us);
        self.samples += 1;
    }

    /// The mean in microseconds, if any sample.
    pub fn mean_us(&self) -> Option<u64> {
        self.sum_us.checked_div(self.samples)
    }
}

/// A segment sent by one end whose arrival at the other is not yet shown
/// by an ACK, in sending order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pending {
    /// Its flags.
    pub(crate) flags: TcpFlags,
    /// Its acknowledgment number.
    pub(crate) ack: SeqNum,
    /// The end of its sequence space (seq + len + SYN + FIN).
    pub(crate) end: SeqNum,
    /// It occupies sequence space: only an ACK covering `end` shows it arrived.
    pub(crate) needs_ack: bool,
    /// Where its state changes go in the recorded events.
    pub(crate) pos: usize,
    /// Its capture time, in microseconds since the capture began.
    pub(crate) at_us: u64,
}

/// One direction of a connection: what its sender sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dir {
    pub(crate) isn: Option<SeqNum>,
    /// The sequence number the FIN occupies.
    pub(crate) fin_seq: Option<SeqNum>,
    /// The highest seq + len (+ SYN + FIN) sent.
    pub(crate) snd_max: Option<SeqNum>,
    /// The highest ACK this end sent (what it received of the other direction).
    pub(crate) max_ack: Option<SeqNum>,
    /// The previous segment's ACK and window, for duplicate ACKs and updates.
    pub(crate) last_ack: Option<SeqNum>,
    pub(crate) last_win: Option<u16>,
    /// The window scale from this end's SYN.
    pub(crate) wscale: Option<u8>,
    /// Duplicate ACKs in a row.
    pub(crate) dup_acks: u32,
    /// New payload octets.
    pub(crate) bytes: u64,
    /// Segments sent.
    pub(crate) segs: u64,
    /// Retransmissions (of any kind, spurious ones included).
    pub(crate) retrans: u64,
    /// Octet ranges skipped (start, end, capture time in us).
    pub(crate) holes: Vec<(SeqNum, SeqNum, u64)>,
    /// Data waiting for its ACK: (end, capture time in us).
    pub(crate) rtt_q: VecDeque<(SeqNum, u64)>,
    /// RTT samples of this direction's data.
    pub(crate) rtt: RttStats,
    /// This end sent a keepalive or window probe not yet answered.
    pub(crate) probe_pending: bool,
    /// This end's last segment repeated its FIN.
    pub(crate) fin_again: bool,
    /// This end's last segment was a SYN without ACK.
    pub(crate) syn_last: bool,
    /// The sequence number this end last fast-retransmitted.
    pub(crate) last_fast: Option<SeqNum>,
    /// This end sent a SYN without ACK (bit 0) and a SYN,ACK (bit 1).
    pub(crate) syns: u8,
    /// This end's last segment was a challenge ACK with this ack.
    pub(crate) challenge: Option<SeqNum>,
    /// This end's last segment was a RST that was not accepted.
    pub(crate) rst_ignored: bool,
    /// This end's last segment: its flags and ack.
    pub(crate) last_flags: Option<TcpFlags>,
    pub(crate) last_seg_ack: SeqNum,
    /// Capture time (us) of this end's last data octets.
    pub(crate) last_data_us: Option<u64>,
    /// Capture time (us) of this end's last segment.
    pub(crate) last_us: u64,
    /// Segments awaiting evidence of their arrival.
    pub(crate) pending: VecDeque<Pending>,
    /// Pending entries dropped for the bound.
    pub(crate) pending_dropped: u64,
    /// Recorded-event index just after this end's last sent segment.
    pub(crate) last_sent_pos: usize,
}

/// Sequence-space length of a segment: payload, SYN and FIN (RFC 9293 3.4).
pub(crate) fn seg_space(flags: TcpFlags, len: u32) -> u32 {
    len.wrapping_add(u32::from(flags.syn()))
        .wrapping_add(u32::from(flags.fin()))
}

impl Dir {
    /// Whether octets up to `end` were sent before.
    pub(crate) fn sent_before(&self, end: SeqNum) -> bool {
        self.snd_max.is_some_and(|m| end.le(m))
    }

    /// The hole that `[seq, end)` falls in, if any.
    pub(crate) fn hole_of(&self, seq: SeqNum, end: SeqNum) -> Option<usize> {
        self.holes
            .iter()
            .position(|(s, e, _)| seq.ge(*s) && end.le(*e) && seq.lt(*e))
    }

    /// Note the segment `[seq, end)` this end sent at `at_us`, with `len`
    /// payload octets; `rexmit` when it was sent before.
    pub(crate) fn note_sent(
        &mut self,
        seq: SeqNum,
        end: SeqNum,
        len: u32,
        at_us: u64,
        rexmit: bool,
    ) {
        self.segs += 1;
        self.last_us = at_us;
        if rexmit {
            self.retrans += 1;
            // RFC 6298 3 (Karn): no sample from retransmitted octets.
            self.rtt_q.clear();
        }
        if let Some(i) = self.hole_of(seq, end) {
            self.fill_hole(i, seq, end);
        }
        let old = self.snd_max;
        match old {
            Some(m) if seq.gt(m) && self.holes.len() < MAX_HOLES => {
                self.holes.push((m, seq, at_us));
            }
            _ => {}
        }
        if old.is_none_or(|m| end.gt(m)) {
            let from = match old {
                Some(m) if m.gt(seq) => m,
                _ => seq,
            };
            let fresh = end.since(from).min(len);
            self.bytes += u64::from(fresh);
            self.snd_max = Some(end);
            if len > 0 && !rexmit {
                if self.rtt_q.len() >= MAX_RTT_PENDING {
                    self.rtt_q.pop_front();
                }
                self.rtt_q.push_back((end, at_us));
            }
        }
        if len > 0 {
            self.last_data_us = Some(at_us);
        }
    }

    fn fill_hole(&mut self, i: usize, seq: SeqNum, end: SeqNum) {
        let Some((s, e, t)) = self.holes.get(i).copied() else {
            return;
        };
        self.holes.swap_remove(i);
        if seq.gt(s) && self.holes.len() < MAX_HOLES {
            self.holes.push((s, seq, t));
        }
        if end.lt(e) && self.holes.len() < MAX_HOLES {
            self.holes.push((end, e, t));
        }
    }

    /// The other end acknowledged up to `ack` at `at_us`: an RTT sample
    /// from the newest segment it covers.
    pub(crate) fn acked(&mut self, ack: SeqNum, at_us: u64) {
        let mut newest = None;
        while let Some(&(end, t)) = self.rtt_q.front() {
            if end.le(ack) {
                newest = Some(t);
                self.rtt_q.pop_front();
            } else {
                break;
            }
        }
        if let Some(t) = newest {
            self.rtt.add(at_us.saturating_sub(t));
        }
        self.holes.retain(|(_, e, _)| e.gt(ack));
    }

    /// Queue a segment awaiting evidence of its arrival.
    pub(crate) fn push_pending(&mut self, p: Pending) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            self.pending_dropped += 1;
        }
        self.pending.push_back(p);
    }
}
