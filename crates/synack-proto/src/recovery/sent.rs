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

/// The records of the segments in flight, oldest sequence first.
#[derive(Debug, Clone)]
pub(crate) struct SentLog {
    /// The first octet of the first record.
    pub(crate) start: SeqNum,
    /// The records, contiguous from `start`.
    pub(crate) segs: VecDeque<Sent>,
}

impl SentLog {
    /// No record; the first will start at `start`.
    pub(crate) fn new(start: SeqNum) -> SentLog {
        SentLog {
            start,
            segs: VecDeque::new(),
        }
    }

    /// Nothing is in flight.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// One past the last recorded octet (`start` when empty).
    #[inline]
    pub(crate) fn end(&self) -> SeqNum {
        self.segs.back().map_or(self.start, |s| s.end)
    }

    /// The first octet of record `i`.
    #[inline]
    pub(crate) fn seg_start(&self, i: usize) -> SeqNum {
        match i.checked_sub(1) {
            Some(p) => self.segs[p].end,
            None => self.start,
        }
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
            if let Some(last) = self.segs.back_mut() {
                last.end = end;
                last.at = now;
                return;
            }
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
        let (Some(a), Some(mut b)) = (self.split_at(seq), self.split_at(end)) else {
            return;
        };
        // A full log cut nothing: the record holding `end` went out in part,
        // and counts as sent again (else NextSeg would choose it forever).
        if b < self.segs.len() && self.seg_start(b).lt(end) {
            b += 1;
        }
        for s in self.segs.range_mut(a..b) {
            // RFC 8985 6.2: "Segment.xmit_ts" is the latest transmission.
            s.at = now;
            s.flags |= mark::RETRANS | mark::EVER_RETRANS;
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
        // The first record ending beyond `seq` holds it.
        let i = self.segs.partition_point(|s| s.end.le(seq));
        if i == self.segs.len() || self.seg_start(i) == seq {
            return Some(i);
        }
        if self.segs.len() >= MAX_SEGMENTS {
            return Some(i);
        }
        let mut front = self.segs[i];
        front.end = seq;
        self.segs.insert(i, front);
        Some(i + 1)
    }

    /// SND.UNA moved to `una`: the records it covers whole go (each handed
    /// to `delivered` first), and one it covers in part starts at `una`.
    pub(crate) fn on_cumulative_ack(&mut self, una: SeqNum, mut delivered: impl FnMut(&Sent)) {
        while let Some(s) = self.segs.front() {
            if s.end.gt(una) {
                break;
            }
            delivered(s);
            self.start = s.end;
            self.segs.pop_front();
        }
        if self.start.lt(una) {
            self.start = una;
        }
    }

    /// Mark the records the SACKed `ranges` (sorted, disjoint) cover whole
    /// as SACKed, handing each newly SACKed one to `newly`. A record covered
    /// only in part stays unSACKed, as Linux counts only whole segments
    /// (`tcp_match_skb_to_sack`): a block of one octet delivers no segment.
    pub(crate) fn on_sacked(&mut self, ranges: &[(SeqNum, SeqNum)], mut newly: impl FnMut(&Sent)) {
        let mut from = self.start;
        let mut k = 0;
        for s in self.segs.iter_mut() {
            let (a, b) = (from, s.end);
            from = b;
            while k < ranges.len() && ranges[k].1.le(a) {
                k += 1;
            }
            let Some(&(l, r)) = ranges.get(k) else {
                break;
            };
            if s.has(mark::SACKED) || !(l.le(a) && b.le(r)) {
                continue;
            }
            // RFC 6675 pipe: a SACKed segment is neither lost nor in flight.
            s.flags = (s.flags | mark::SACKED) & !(mark::LOST | mark::RETRANS);
            newly(s);
        }
    }

    /// The retransmission timer expired: every segment is lost (RFC 8985
    /// 6.3, Linux `tcp_timeout_mark_lost`), none in flight, and the SACK
    /// marks go with the scoreboard (RFC 2018 8: the peer may have reneged).
    pub(crate) fn on_timeout(&mut self) {
        for s in self.segs.iter_mut() {
            s.flags = (s.flags | mark::LOST) & !(mark::SACKED | mark::RETRANS);
        }
    }

    /// The timeout proved spurious (RFC 4015 3.2: the original
    /// transmissions arrived): nothing it marked is lost after all.
    pub(crate) fn undo_timeout(&mut self) {
        for s in self.segs.iter_mut() {
            s.flags &= !mark::LOST;
        }
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
