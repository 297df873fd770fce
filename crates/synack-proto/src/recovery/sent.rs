//! The segments in flight, one record each: where it ends, when it was last
//! sent, and what became of it (SACKed, marked lost, retransmitted). RACK
//! (RFC 8985 6) reasons with them: "for each data segment sent, the sender
//! records its most recent transmission time" (`Segment.xmit_ts`) and
//! `Segment.end_seq`, `Segment.lost` and `Segment.retransmitted`.
//!
//! The records are contiguous: the first starts at [`SentLog::start`], each
//! one where the previous one ends, the last at SND.MAX, so a record keeps
//! only its end. They live in the box the send buffer's record ends share
//! (`conn/records.rs`), allocated while data is in flight and freed once it
//! is all acknowledged. Whatever the application and the peer do, at most
//! [`MAX_SEGMENTS`] records exist: past that, new data joins the last record
//! (sent later, it only makes RACK slower to call the joined octets lost,
//! the conservative direction), and SACK blocks no longer cut records.

use crate::time::Instant;
use std::collections::VecDeque;
use synack_wire::SeqNum;

/// Most records kept per connection (16 bytes each): 4096 full-sized
/// segments are 6 MB in flight at an MSS of 1460.
pub(crate) const MAX_SEGMENTS: usize = 4096;

/// What became of a segment, as bits of [`Sent::flags`].
pub(crate) mod mark {
    /// The peer SACKed every octet of it (RFC 2018).
    pub(crate) const SACKED: u8 = 1;
    /// RACK (or a timeout) declared it lost (RFC 8985 6.2 `Segment.lost`).
    pub(crate) const LOST: u8 = 2;
    /// A retransmission of it is in flight: sent again and neither SACKed
    /// nor declared lost since (RFC 6675 pipe's "retransmitted" octets).
    pub(crate) const RETRANS: u8 = 4;
    /// It was ever sent more than once (RFC 8985 6.2
    /// `Segment.retransmitted`): an ACK of it may answer either copy.
    pub(crate) const EVER_RETRANS: u8 = 8;
}

/// One segment in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    /// One past its last octet (`Segment.end_seq`).
    pub(crate) end: SeqNum,
    /// When it was last sent (`Segment.xmit_ts`).
    pub(crate) at: Instant,
    /// [`mark`] bits.
    pub(crate) flags: u8,
}

impl Sent {
    /// Whether every bit of `m` is set.
    #[inline]
    pub(crate) fn has(&self, m: u8) -> bool {
        self.flags & m == m
    }
}

/// Running totals over the records, kept where a mark or a length changes so
/// that an ACK reads them without walking the log (RFC 6675's pipe, RACK's
/// `segs_sacked`, the octets SACKed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Records SACKed whole (RACK's `segs_sacked`, Linux's `sacked_out`).
    pub(crate) sacked_segs: u32,
    /// Octets of the SACKed records.
    pub(crate) sacked: u32,
    /// Octets marked lost and not SACKed.
    pub(crate) lost: u32,
    /// Octets with a retransmission in flight, not SACKed.
    pub(crate) retrans: u32,
    /// Records marked lost, not retransmitted since and not SACKed: what
    /// NextSeg's rule 1 would send.
    pub(crate) to_repair: u32,
}

impl Totals {
    /// Count (`add`) or uncount a record of `len` octets with `flags`.
    #[inline]
    fn tally(&mut self, flags: u8, len: u32, add: bool) {
        if flags & (mark::SACKED | mark::LOST | mark::RETRANS) == 0 {
            return;
        }
        let f = |x: &mut u32, n: u32| {
            *x = if add {
                x.wrapping_add(n)
            } else {
                x.wrapping_sub(n)
            }
        };
        if flags & mark::SACKED != 0 {
            f(&mut self.sacked_segs, 1);
            f(&mut self.sacked, len);
            return;
        }
        if flags & mark::LOST != 0 {
            f(&mut self.lost, len);
        }
        if flags & mark::RETRANS != 0 {
            f(&mut self.retrans, len);
        } else if flags & mark::LOST != 0 {
            f(&mut self.to_repair, 1);
        }
    }
}

/// The records of the segments in flight, oldest sequence first.
#[derive(Debug, Clone)]
pub(crate) struct SentLog {
    /// The first octet of the first record.
    start: SeqNum,
    /// The records, contiguous from `start`.
    segs: VecDeque<Sent>,
    /// What the records' marks add up to.
    totals: Totals,
}

impl SentLog {
    /// No record; the first will start at `start`.
    pub(crate) fn new(start: SeqNum) -> SentLog {
        SentLog {
            start,
            segs: VecDeque::new(),
            totals: Totals::default(),
        }
    }

    /// Forget every record (keeping the memory); the first will start at
    /// `start`.
    pub(crate) fn reset(&mut self, start: SeqNum) {
        self.segs.clear();
        self.start = start;
        self.totals = Totals::default();
    }

    /// Records the log has room for without allocating.
    pub(crate) fn capacity(&self) -> usize {
        self.segs.capacity()
    }

    /// Nothing is in flight.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// How many records there are.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.segs.len()
    }

    /// The first octet of the first record.
    #[inline]
    pub(crate) fn start(&self) -> SeqNum {
        self.start
    }

    /// One past the last recorded octet (`start` when empty).
    #[inline]
    pub(crate) fn end(&self) -> SeqNum {
        self.segs.back().map_or(self.start, |s| s.end)
    }

    /// What the records' marks add up to.
    #[inline]
    pub(crate) fn totals(&self) -> Totals {
        self.totals
    }

    /// Record `i`, if there is one.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&Sent> {
        self.segs.get(i)
    }

    /// The first octet of record `i`.
    #[inline]
    pub(crate) fn seg_start(&self, i: usize) -> SeqNum {
        match i.checked_sub(1) {
            Some(p) => self.segs[p].end,
            None => self.start,
        }
    }

    /// The index of the record holding `seq` (the first ending beyond it;
    /// `len()` when none does).
    #[inline]
    pub(crate) fn index_of(&self, seq: SeqNum) -> usize {
        self.segs.partition_point(|s| s.end.le(seq))
    }

    /// Every record with its first octet, oldest sequence first.
    #[inline]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (SeqNum, &Sent)> + '_ {
        self.iter_from(0)
    }

    /// The records from index `i` on, each with its first octet.
    pub(crate) fn iter_from(&self, i: usize) -> impl Iterator<Item = (SeqNum, &Sent)> + '_ {
        let mut from = if i < self.segs.len() {
            self.seg_start(i)
        } else {
            self.end()
        };
        self.segs.range(i.min(self.segs.len())..).map(move |s| {
            let a = from;
            from = s.end;
            (a, s)
        })
    }

    /// The length of record `i`.
    #[inline]
    fn seg_len(&self, i: usize) -> u32 {
        self.segs[i].end.since(self.seg_start(i))
    }

    /// Set record `i`'s marks to `flags`, keeping the totals.
    #[inline]
    pub(crate) fn set_flags(&mut self, i: usize, flags: u8) {
        let len = self.seg_len(i);
        let old = self.segs[i].flags;
        self.totals.tally(old, len, false);
        self.totals.tally(flags, len, true);
        self.segs[i].flags = flags;
    }

    /// The totals counted afresh (after a change to many records).
    fn recount(&self) -> Totals {
        let mut t = Totals::default();
        for (a, s) in self.iter() {
            t.tally(s.flags, s.end.since(a), true);
        }
        t
    }

    /// The octets `[seq, end)` went out at `now`: new data appends a record,
    /// octets sent before are marked sent again.
    pub(crate) fn on_sent(&mut self, seq: SeqNum, end: SeqNum, now: Instant) {
        if !seq.lt(end) {
            return;
        }
        if self.segs.is_empty() {
            self.start = seq;
        }
        let top = self.end();
        if seq.lt(top) {
            self.resent(seq, end.min(top), now);
        }
        if end.gt(top) {
            self.append(end, now);
        }
    }

    /// New data from the log's end to `end`: one record, or the last one
    /// extended when the log is full.
    fn append(&mut self, end: SeqNum, now: Instant) {
        if self.segs.len() >= MAX_SEGMENTS {
            let i = self.segs.len() - 1;
            let (len, flags) = (self.seg_len(i), self.segs[i].flags);
            self.totals.tally(flags, len, false);
            self.segs[i].end = end;
            self.segs[i].at = now;
            self.totals.tally(flags, self.seg_len(i), true);
            return;
        }
        self.segs.push_back(Sent {
            end,
            at: now,
            flags: 0,
        });
    }

    /// Octets `[seq, end)` already recorded went out again at `now`: the
    /// records they cover (cut to fit, room permitting) are retransmitted.
    fn resent(&mut self, seq: SeqNum, end: SeqNum, now: Instant) {
        for i in self.cut(seq, end) {
            // RFC 8985 6.2: "Segment.xmit_ts" is the latest transmission.
            self.segs[i].at = now;
            let flags = self.segs[i].flags | mark::RETRANS | mark::EVER_RETRANS;
            self.set_flags(i, flags);
        }
    }

    /// The records `[seq, end)` covers, cut to fit where there is room; a
    /// full log cut nothing and the record holding `end` counts whole (else
    /// NextSeg would choose its rest forever). Empty when `seq` is outside
    /// the log.
    fn cut(&mut self, seq: SeqNum, end: SeqNum) -> std::ops::Range<usize> {
        let end = end.min(self.end());
        let (Some(a), Some(mut b)) = (self.split_at(seq), self.split_at(end)) else {
            return 0..0;
        };
        if b < self.segs.len() && self.seg_start(b).lt(end) {
            b += 1;
        }
        a..b
    }

    /// A repair of `[seq, end)` was chosen but not one octet of it could go:
    /// the records it covers are no longer to be repaired (so NextSeg moves
    /// on), and nothing more. Nothing went out, so neither the transmission
    /// time (RFC 8985 6.1 sets `Segment.xmit_ts` upon transmitting) nor the
    /// retransmission marks change, and pipe counts no retransmission in
    /// flight for them (RFC 6675 4, SetPipe); should they stay missing,
    /// RACK marks them lost again.
    pub(crate) fn unmark_lost(&mut self, seq: SeqNum, end: SeqNum) {
        for i in self.cut(seq, end) {
            let flags = self.segs[i].flags & !mark::LOST;
            self.set_flags(i, flags);
        }
    }

    /// Cut the record holding `seq` so that one starts there (both halves
    /// keep its time and marks) and return the index of the record starting
    /// at `seq`; a full log cuts nothing and answers the record holding it.
    /// `None` when `seq` is outside the log, `len()` at its end.
    pub(crate) fn split_at(&mut self, seq: SeqNum) -> Option<usize> {
        if seq.lt(self.start) || seq.gt(self.end()) {
            return None;
        }
        let i = self.index_of(seq);
        if i == self.segs.len() || self.seg_start(i) == seq {
            return Some(i);
        }
        if self.segs.len() >= MAX_SEGMENTS {
            return Some(i);
        }
        let mut front = self.segs[i];
        // The halves count as two records (and their octets as before).
        let (a, len) = (self.seg_start(i), self.seg_len(i));
        self.totals.tally(front.flags, len, false);
        self.totals.tally(front.flags, seq.since(a), true);
        self.totals.tally(front.flags, front.end.since(seq), true);
        front.end = seq;
        self.segs.insert(i, front);
        Some(i + 1)
    }

    /// SND.UNA moved to `una`: the records it covers whole go (each handed
    /// to `delivered` first), and one it covers in part starts at `una`.
    pub(crate) fn on_cumulative_ack(&mut self, una: SeqNum, mut delivered: impl FnMut(&Sent)) {
        while let Some(&s) = self.segs.front() {
            if s.end.gt(una) {
                break;
            }
            delivered(&s);
            self.totals.tally(s.flags, s.end.since(self.start), false);
            self.start = s.end;
            self.segs.pop_front();
        }
        if self.start.lt(una) {
            if let Some(&s) = self.segs.front() {
                self.totals.tally(s.flags, s.end.since(self.start), false);
                self.totals.tally(s.flags, s.end.since(una), true);
            }
            self.start = una;
        }
    }

    /// Octets of the records SACKed whole above `una` (those SND.UNA at
    /// `una` leaves outstanding): the total, less what lies below `una`,
    /// found in the few records an ACK is about to take away.
    pub(crate) fn sacked_above(&self, una: SeqNum) -> u32 {
        let mut n = self.totals.sacked;
        if n == 0 || !self.start.lt(una) {
            return n;
        }
        for (a, s) in self.iter() {
            if !a.lt(una) {
                break;
            }
            if s.has(mark::SACKED) {
                n = n.wrapping_sub(s.end.min(una).since(a));
            }
        }
        n
    }

    /// Mark the records the SACKed `ranges` (sorted, disjoint) cover whole
    /// as SACKed, handing each newly SACKed one to `newly`. A record covered
    /// only in part stays unSACKed, as Linux counts only whole segments
    /// (`tcp_match_skb_to_sack`): a block of one octet delivers no segment.
    pub(crate) fn on_sacked(&mut self, ranges: &[(SeqNum, SeqNum)], mut newly: impl FnMut(&Sent)) {
        for &(l, r) in ranges {
            // The first record ending beyond `l`, then those ending by `r`.
            let mut i = self.index_of(l);
            while let Some(&s) = self.segs.get(i) {
                if !s.end.le(r) {
                    break;
                }
                if !s.has(mark::SACKED) && l.le(self.seg_start(i)) {
                    // RFC 6675 pipe: a SACKed segment is neither lost nor in flight.
                    self.set_flags(i, (s.flags | mark::SACKED) & !(mark::LOST | mark::RETRANS));
                    newly(&self.segs[i]);
                }
                i += 1;
            }
        }
    }

    /// The retransmission timer expired: every segment is lost, none in
    /// flight, and the SACK marks go with the scoreboard (RFC 2018 8: the
    /// peer may have reneged). RFC 8985 6.3 (`RACK_mark_losses_on_RTO`) and
    /// Linux's `tcp_timeout_mark_lost` spare the segments sent less than
    /// `RACK.rtt + RACK.reo_wnd` ago; marking them too resends them in the
    /// go-back-N that follows, a little sooner than RACK would.
    pub(crate) fn on_timeout(&mut self) {
        for s in self.segs.iter_mut() {
            s.flags = (s.flags | mark::LOST) & !(mark::SACKED | mark::RETRANS);
        }
        self.totals = self.recount();
    }

    /// The timeout proved spurious (RFC 4015 3.2: the original
    /// transmissions arrived): nothing it marked is lost after all.
    pub(crate) fn undo_timeout(&mut self) {
        for s in self.segs.iter_mut() {
            s.flags &= !mark::LOST;
        }
        self.totals = self.recount();
    }

    /// SND.MAX fell back to `max` (an unaccepted window probe octet): the
    /// records beyond it go.
    pub(crate) fn truncate(&mut self, max: SeqNum) {
        if let Some(i) = self.split_at(max) {
            // A full log cut nothing: the record holding `max` keeps its
            // octets below it (shortened below).
            let keep = i < self.segs.len() && self.seg_start(i).lt(max);
            self.segs.truncate(i + usize::from(keep));
        }
        if let Some(last) = self.segs.back_mut() {
            if last.end.gt(max) {
                last.end = max;
            }
        }
        self.totals = self.recount();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u32) -> SeqNum {
        SeqNum(n)
    }

    fn t(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000 + 1)
    }

    #[test]
    fn records_follow_sends_retransmissions_and_acks() {
        let mut log = SentLog::new(s(1));
        log.on_sent(s(1), s(101), t(0));
        log.on_sent(s(101), s(201), t(0));
        log.on_sent(s(201), s(301), t(5));
        assert_eq!(log.segs.len(), 3);
        // A retransmission of 51..151 cuts both records it touches.
        log.on_sent(s(51), s(151), t(9));
        let ends: Vec<_> = log.segs.iter().map(|x| (x.end.0, x.flags)).collect();
        let r = mark::RETRANS | mark::EVER_RETRANS;
        assert_eq!(ends, [(51, 0), (101, r), (151, r), (201, 0), (301, 0)]);
        assert_eq!(log.segs[1].at, t(9));
        // A partial cumulative ACK delivers the whole records below it only.
        let mut got = Vec::new();
        log.on_cumulative_ack(s(120), |x| got.push(x.end.0));
        assert_eq!(got, [51, 101]);
        assert_eq!(log.start, s(120));
        assert_eq!(log.seg_start(0), s(120));
        // SACK blocks mark whole records only.
        let mut sacked = Vec::new();
        log.on_sacked(&[(s(151), s(260))], |x| sacked.push(x.end.0));
        assert_eq!(sacked, [201]);
        assert!(log.segs[1].has(mark::SACKED));
        log.on_timeout();
        assert!(log
            .segs
            .iter()
            .all(|x| x.has(mark::LOST) && !x.has(mark::SACKED)));
        log.undo_timeout();
        assert!(log.segs.iter().all(|x| !x.has(mark::LOST)));
        log.on_timeout();
        log.truncate(s(250));
        assert_eq!(log.end(), s(250));
        log.on_cumulative_ack(s(250), |_| {});
        assert!(log.is_empty());
    }

    /// A small deterministic generator (xorshift) for the property test.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u32) -> u32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % u64::from(n.max(1))) as u32
        }
    }

    /// The SACKed octets above `una`, record by record.
    fn sacked_above_walk(log: &SentLog, una: SeqNum) -> u32 {
        log.iter()
            .filter(|(a, x)| x.has(mark::SACKED) && a.max(una).lt(x.end))
            .map(|(a, x)| x.end.since(a.max(una)))
            .sum()
    }

    #[test]
    fn running_totals_match_a_recount_whatever_happens() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut log = SentLog::new(s(1000));
        let (mut una, mut max, mut now) = (s(1000), s(1000), 0u64);
        for step in 0..20_000 {
            now += u64::from(rng.below(3));
            let span = max.since(una).max(1);
            match rng.below(8) {
                0 | 1 => {
                    let end = max + 1 + rng.below(3000);
                    log.on_sent(max, end, t(now));
                    max = end;
                }
                2 => {
                    let a = una + rng.below(span);
                    log.on_sent(a, a + 1 + rng.below(2000), t(now));
                }
                3 => {
                    let a = una + rng.below(span);
                    let b = a + 1 + rng.below(4000);
                    let c = b + 1 + rng.below(3000);
                    log.on_sacked(&[(a, b), (c, c + rng.below(5000))], |_| {});
                }
                4 => {
                    una += rng.below(span / 2 + 1);
                    log.on_cumulative_ack(una, |_| {});
                }
                5 if rng.below(40) == 0 => log.on_timeout(),
                5 if rng.below(20) == 0 => log.undo_timeout(),
                6 if rng.below(30) == 0 => {
                    max = una + rng.below(span);
                    log.truncate(max);
                }
                _ if !log.is_empty() => {
                    let i = rng.below(log.len() as u32) as usize;
                    let f = log.segs[i].flags | mark::LOST;
                    log.set_flags(i, f & !mark::RETRANS);
                }
                _ => {}
            }
            assert_eq!(log.totals(), log.recount(), "step {step}");
            let probe = una + rng.below(span);
            assert_eq!(log.sacked_above(probe), sacked_above_walk(&log, probe));
            assert_eq!(log.sacked_above(una), sacked_above_walk(&log, una));
        }
    }

    #[test]
    fn a_repair_that_sent_nothing_only_stops_being_lost() {
        let mut log = SentLog::new(s(1));
        log.on_sent(s(1), s(101), t(0));
        log.on_sent(s(101), s(201), t(0));
        log.on_timeout();
        assert_eq!((log.totals().lost, log.totals().to_repair), (200, 2));
        log.unmark_lost(s(101), s(151));
        // Cut at 151: the first half is no longer lost, and not taken for a
        // retransmission (same time, no marks): pipe counts it once.
        let got: Vec<_> = log
            .iter()
            .map(|(a, x)| (a.0, x.end.0, x.flags, x.at))
            .collect();
        let lost = mark::LOST;
        assert_eq!(
            got,
            [
                (1, 101, lost, t(0)),
                (101, 151, 0, t(0)),
                (151, 201, lost, t(0))
            ]
        );
        assert_eq!(log.totals(), log.recount());
        assert_eq!((log.totals().lost, log.totals().retrans), (150, 0));
    }

    #[test]
    fn the_log_stays_bounded() {
        let mut log = SentLog::new(s(0));
        for i in 0..(MAX_SEGMENTS as u32 + 100) {
            log.on_sent(s(i * 10), s(i * 10 + 10), t(u64::from(i)));
        }
        assert_eq!(log.segs.len(), MAX_SEGMENTS);
        assert_eq!(log.end(), s((MAX_SEGMENTS as u32 + 100) * 10));
        // Cutting is refused when full; the retransmission still marks.
        log.on_sent(s(5), s(15), t(99_999));
        assert_eq!(log.segs.len(), MAX_SEGMENTS);
        assert!(log.segs[0].has(mark::RETRANS));
        // A retransmission inside one record marks that record.
        log.on_sent(s(23), s(27), t(99_999));
        assert!(log.segs[2].has(mark::RETRANS));
        assert_eq!(log.segs[2].at, t(99_999));
        // Falling back inside a record keeps its octets below the new end.
        log.truncate(s(45));
        assert_eq!(log.end(), s(45));
        assert_eq!(log.segs.len(), 5);
    }
}
