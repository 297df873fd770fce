//! The sender's SACK scoreboard for conservative loss recovery (RFC 6675).
//!
//! The scoreboard holds the octets between SND.UNA and SND.MAX that the peer
//! reported in SACK blocks (RFC 2018), as at most [`MAX_RANGES`] disjoint,
//! sorted ranges, plus HighRxt. It lives in a box that the TCB allocates only
//! while SACK information is outstanding or a SACK-driven recovery runs, so an
//! idle connection pays one pointer. Whatever the peer sends, it never grows
//! beyond `MAX_RANGES` ranges: when full, the smallest range is forgotten,
//! which only makes the sender more conservative (forgotten octets count as
//! in flight and may be retransmitted, never the other way round).

use synack_wire::SeqNum;

/// Most SACKed ranges remembered. Receivers report at most 3-4 blocks per ACK
/// (RFC 2018 3) and adjacent ranges merge, so 8 covers any sane pattern.
pub(crate) const MAX_RANGES: usize = 8;

/// DupThresh (RFC 6675 2): duplicate ACKs, or discontiguous SACKed ranges
/// above a hole, that declare it lost.
pub(crate) const DUP_THRESH: u32 = 3;

/// What NextSeg() (RFC 6675 4) chose to retransmit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Retransmission {
    /// First octet.
    pub(crate) seq: SeqNum,
    /// Octets, at most SMSS, never beyond the hole.
    pub(crate) len: u32,
    /// The rescue retransmission (NextSeg rule 4).
    pub(crate) rescue: bool,
}

/// The SACK scoreboard (RFC 6675 3) of one connection.
#[derive(Debug, Clone)]
pub(crate) struct Scoreboard {
    /// SACKed ranges `[left, right)`, sorted, disjoint and not adjacent; only
    /// the first `len` are meaningful.
    ranges: [(SeqNum, SeqNum); MAX_RANGES],
    len: u8,
    /// This recovery is driven by the scoreboard (RFC 6675 5), not NewReno.
    pub(crate) active: bool,
    /// HighRxt (RFC 6675 2), exclusive: one past the highest octet
    /// retransmitted in this recovery.
    pub(crate) rxt_end: SeqNum,
    /// RescueRxt (RFC 6675 2): HighData when the rescue retransmission
    /// (NextSeg rule 4) went out in this recovery.
    pub(crate) rescue: Option<SeqNum>,
    /// Proportional Rate Reduction's state while a recovery with it runs
    /// (RFC 9937).
    pub(crate) prr: Option<super::prr::Prr>,
    /// What the ACK being processed delivered (RFC 9937 5).
    pub(crate) ack: super::AckDelivery,
}

impl Scoreboard {
    /// An empty scoreboard at SND.UNA `una`.
    pub(crate) fn new(una: SeqNum) -> Self {
        Scoreboard {
            ranges: [(una, una); MAX_RANGES],
            len: 0,
            active: false,
            rxt_end: una,
            rescue: None,
            prr: None,
            ack: super::AckDelivery::default(),
        }
    }

    /// The SACKed ranges, lowest first.
    pub(crate) fn ranges(&self) -> &[(SeqNum, SeqNum)] {
        &self.ranges[..usize::from(self.len)]
    }

    /// Octets SACKed above `una`.
    pub(crate) fn sacked_above(&self, una: SeqNum) -> u32 {
        self.ranges()
            .iter()
            .filter(|(_, b)| b.gt(una))
            .map(|(a, b)| b.since(a.max(una)))
            .fold(0u32, u32::saturating_add)
    }

    /// Octets SACKed within `[from, to)`.
    pub(crate) fn sacked_between(&self, from: SeqNum, to: SeqNum) -> u32 {
        self.ranges()
            .iter()
            .filter(|&&(l, r)| r.gt(from) && l.lt(to))
            .map(|&(l, r)| r.min(to).since(l.max(from)))
            .fold(0u32, u32::saturating_add)
    }

    /// Nothing is SACKed.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forget everything at or below the new SND.UNA `una` (a cumulative ACK).
    pub(crate) fn advance(&mut self, una: SeqNum) {
        let mut kept = 0;
        for i in 0..usize::from(self.len) {
            let (l, r) = self.ranges[i];
            if r.gt(una) {
                self.ranges[kept] = (l.max(una), r);
                kept += 1;
            }
        }
        self.len = kept as u8;
        self.rxt_end = self.rxt_end.max(una);
    }

    /// Update() (RFC 6675 4) with the blocks of one ACK, SND.UNA `una` (after
    /// the ACK) and SND.MAX `max`. Returns whether a block SACKed octets not
    /// SACKed before (RFC 6675 2: what makes the ACK a duplicate ACK).
    pub(crate) fn update(&mut self, una: SeqNum, max: SeqNum, blocks: &[(SeqNum, SeqNum)]) -> bool {
        self.advance(una);
        let mut new = false;
        for (i, &(left, right)) in blocks.iter().enumerate() {
            // RFC 2883 4: a first block below the cumulative ACK, or inside the
            // second block, reports a duplicate segment (D-SACK), not a loss
            // signal and not data held out of order.
            if i == 0
                && (right.le(una)
                    || blocks
                        .get(1)
                        .is_some_and(|&(l2, r2)| l2.le(left) && right.le(r2)))
            {
                continue;
            }
            // RFC 2018 / RFC 6675 4: only blocks inside SND.UNA..SND.MAX carry
            // information; empty, inverted or out-of-window blocks are ignored.
            if !(left.lt(right) && una.le(left) && right.le(max)) {
                continue;
            }
            new |= self.insert(left, right);
        }
        new
    }

    /// Add `[left, right)`, merging with overlapping or adjacent ranges.
    /// Returns whether it covered octets not SACKed before.
    fn insert(&mut self, mut left: SeqNum, mut right: SeqNum) -> bool {
        let n = usize::from(self.len);
        if self.ranges[..n]
            .iter()
            .any(|&(l, r)| l.le(left) && right.le(r))
        {
            return false;
        }
        let mut out = [(left, left); MAX_RANGES + 1];
        let mut k = 0;
        let mut placed = false;
        for &(l, r) in &self.ranges[..n] {
            if r.lt(left) {
                out[k] = (l, r);
                k += 1;
            } else if right.lt(l) {
                if !placed {
                    out[k] = (left, right);
                    k += 1;
                    placed = true;
                }
                out[k] = (l, r);
                k += 1;
            } else {
                // Overlapping or adjacent: absorb.
                left = left.min(l);
                right = right.max(r);
            }
        }
        if !placed {
            out[k] = (left, right);
            k += 1;
        }
        if k > MAX_RANGES {
            // Bounded under any input: forget the smallest range (its octets
            // then count as outstanding, the conservative direction).
            let smallest = (0..k)
                .min_by_key(|&i| out[i].1.since(out[i].0))
                .unwrap_or(0);
            out.copy_within(smallest + 1..k, smallest);
            k -= 1;
        }
        self.ranges[..k].copy_from_slice(&out[..k]);
        self.len = k as u8;
        true
    }

    /// The highest SACKed octet plus one (`None` when nothing is SACKed).
    pub(crate) fn high_sacked(&self) -> Option<SeqNum> {
        self.ranges().last().map(|&(_, r)| r)
    }

    /// The loss edge: every unSACKed octet before it is lost by IsLost()
    /// (RFC 6675 4: DupThresh discontiguous SACKed ranges, or more than
    /// (DupThresh - 1) * SMSS SACKed octets, above it); `una` when none is.
    pub(crate) fn loss_edge(&self, una: SeqNum, mss: u32) -> SeqNum {
        let mut count = 0;
        let mut bytes = 0u32;
        for &(l, r) in self.ranges().iter().rev() {
            count += 1;
            bytes = bytes.saturating_add(r.since(l));
            if count >= DUP_THRESH || bytes > (DUP_THRESH - 1) * mss {
                return l.max(una);
            }
        }
        una
    }

    /// IsLost(seq) (RFC 6675 4) for an unSACKed octet `seq`.
    pub(crate) fn is_lost(&self, seq: SeqNum, una: SeqNum, mss: u32) -> bool {
        seq.lt(self.loss_edge(una, mss))
    }

    /// The holes: unSACKed stretches between `una` and the highest SACKed octet.
    fn holes(&self, una: SeqNum) -> impl Iterator<Item = (SeqNum, SeqNum)> + '_ {
        let mut prev = una;
        self.ranges().iter().filter_map(move |&(l, r)| {
            let hole = (prev, l);
            prev = r;
            hole.0.lt(hole.1).then_some(hole)
        })
    }

    /// SetPipe() (RFC 6675 4): the octets in flight between `una` and `max`.
    /// Every unSACKed octet not lost by IsLost() counts once, and every
    /// unSACKed octet below HighRxt (retransmitted) once more.
    pub(crate) fn pipe(&self, una: SeqNum, max: SeqNum, mss: u32) -> u32 {
        let edge = self.loss_edge(una, mss);
        let rxt = self.rxt_end;
        let mut pipe = 0u32;
        let mut count = |a: SeqNum, b: SeqNum| {
            if b.gt(edge) {
                pipe = pipe.saturating_add(b.since(a.max(edge)));
            }
            if rxt.gt(a) {
                pipe = pipe.saturating_add(b.min(rxt).since(a));
            }
        };
        for (a, b) in self.holes(una) {
            count(a, b);
        }
        // The octets above the highest SACKed one are never lost by IsLost().
        let top = self.high_sacked().unwrap_or(una).max(una);
        if max.gt(top) {
            count(top, max);
        }
        pipe
    }

    /// NextSeg() rules 1 and 3 (RFC 6675 4): the first unSACKed octet above
    /// HighRxt and below the highest SACKed octet, lost by IsLost() if
    /// `lost_only`, as a segment of at most `mss` octets that stops at the
    /// next SACKed range.
    pub(crate) fn next_hole(
        &self,
        una: SeqNum,
        mss: u32,
        lost_only: bool,
    ) -> Option<Retransmission> {
        let edge = self.loss_edge(una, mss);
        let from = self.rxt_end.max(una);
        self.holes(una).find_map(|(a, b)| {
            let s = a.max(from);
            if !s.lt(b) || (lost_only && !s.lt(edge)) {
                return None;
            }
            Some(Retransmission {
                seq: s,
                len: b.since(s).min(mss),
                rescue: false,
            })
        })
    }

    /// The end of the SACKed range holding `seq`, if any: a retransmission
    /// from `seq` would resend SACKed octets.
    pub(crate) fn sacked_until(&self, seq: SeqNum) -> Option<SeqNum> {
        self.ranges()
            .iter()
            .find(|&&(l, r)| l.le(seq) && seq.lt(r))
            .map(|&(_, r)| r)
    }

    /// The first SACKed octet at or after `seq`, if any.
    pub(crate) fn next_sacked(&self, seq: SeqNum) -> Option<SeqNum> {
        self.ranges()
            .iter()
            .find(|&&(_, r)| seq.lt(r))
            .map(|&(l, _)| l.max(seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum(n)
    }

    #[test]
    fn merges_and_bounds() {
        let mut b = Scoreboard::new(s(0));
        assert!(b.update(s(0), s(10_000), &[(s(100), s(200))]));
        assert!(!b.update(s(0), s(10_000), &[(s(120), s(180))]));
        assert!(b.update(s(0), s(10_000), &[(s(200), s(300))]));
        assert_eq!(b.ranges(), &[(s(100), s(300))]);
        for i in 0..50u32 {
            let l = 400 + i * 100;
            b.update(s(0), s(10_000), &[(s(l), s(l + 10 + i))]);
            assert!(b.ranges().len() <= MAX_RANGES);
        }
        // Out of window, inverted, D-SACK: ignored.
        let mut c = Scoreboard::new(s(1000));
        assert!(!c.update(s(1000), s(2000), &[(s(500), s(600))]));
        assert!(!c.update(s(1000), s(2000), &[(s(1500), s(2500))]));
        assert!(!c.update(s(1000), s(2000), &[(s(1500), s(1400))]));
        // A D-SACK first block inside the second: only the second counts.
        assert!(c.update(s(1000), s(2000), &[(s(1200), s(1300)), (s(1100), s(1400))]));
        assert_eq!(c.ranges(), &[(s(1100), s(1400))]);
    }

    #[test]
    fn loss_edge_and_pipe() {
        let mss = 100;
        let mut b = Scoreboard::new(s(0));
        // Hole 0..100, SACKed 100..300, hole 300..400, SACKed 400..500.
        b.update(s(0), s(1000), &[(s(100), s(300)), (s(400), s(500))]);
        // Above 0: 300 octets SACKed > 2 * SMSS: lost. Above 300: 100: not.
        assert_eq!(b.loss_edge(s(0), mss), s(100));
        assert!(b.is_lost(s(0), s(0), mss));
        assert!(!b.is_lost(s(300), s(0), mss));
        // Pipe: hole 300..400 and the tail 500..1000 are in flight.
        assert_eq!(b.pipe(s(0), s(1000), mss), 600);
        let r = b.next_hole(s(0), mss, true);
        assert_eq!(
            r,
            Some(Retransmission {
                seq: s(0),
                len: 100,
                rescue: false
            })
        );
        b.rxt_end = s(100);
        assert_eq!(b.pipe(s(0), s(1000), mss), 700);
        assert_eq!(b.next_hole(s(0), mss, true), None);
        assert_eq!(
            b.next_hole(s(0), mss, false),
            Some(Retransmission {
                seq: s(300),
                len: 100,
                rescue: false
            })
        );
    }
}
