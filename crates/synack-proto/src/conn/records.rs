//! How the application shapes segments beyond Nagle: record boundaries
//! (Linux's `MSG_EOR`), the cork (`TCP_CORK`) and an explicit push (setting
//! `TCP_NODELAY` while corked).
//!
//! RFC 9293 3.8.6.2.1 and 3.7.4 leave it to the sender when a short segment
//! goes; these are the application's say in it. A record end is a sequence
//! number no segment may carry octets on both sides of (Linux marks the
//! record's last buffer `EOR` and never appends to it), kept until the
//! record's last octet is acknowledged.

use super::Tcb;
use crate::error::Error;
use crate::recovery::rack::RackFlight;
use crate::recovery::sent::SentLog;
use std::sync::Arc;
use synack_wire::SeqNum;

/// At most this many record ends wait in a connection's send buffer (four
/// bytes each): a send that would add one more is refused with
/// [`Error::WouldBlock`] until some are acknowledged.
pub(crate) const MAX_RECORD_ENDS: usize = 1024;

impl Tcb {
    /// Whether another record end may be marked now.
    pub(crate) fn record_room(&self) -> Result<(), Error> {
        if self.records.ends().len() >= MAX_RECORD_ENDS {
            return Err(Error::WouldBlock);
        }
        Ok(())
    }

    /// Mark the end of the data queued so far as the end of a record: data
    /// queued later never shares a segment with it. Nothing to mark when the
    /// record has already gone out whole, or when the buffer is empty.
    pub(crate) fn end_record(&mut self) -> Result<(), Error> {
        let end = self.data_seq0() + self.snd.buf.len() as u32;
        if self.snd.buf.is_empty() || end.le(self.snd.nxt) {
            return Ok(());
        }
        if self.records.ends().last().is_some_and(|e| e.ge(end)) {
            return Ok(());
        }
        self.record_room()?;
        self.records.push_end(end);
        Ok(())
    }

    /// The length of the next segment from SND.NXT, `n` at most, cut at the
    /// first record end after SND.NXT; `true` when it ends a record there.
    pub(super) fn cut_at_record(&self, n: usize) -> (usize, bool) {
        let nxt = self.snd.nxt;
        match self.records.ends().iter().find(|e| e.gt(nxt)) {
            Some(e) if (e.since(nxt) as usize) <= n => (e.since(nxt) as usize, true),
            _ => (n, false),
        }
    }

    /// SND.UNA moved to `una`: forget the record ends it passed.
    pub(super) fn records_acked(&mut self, una: SeqNum) {
        self.records.ends_acked(una);
    }

    /// Cork or uncork (TCP_CORK): while corked a short last segment waits for
    /// more data; uncorked, Nagle decides again, so what waited goes now if
    /// nothing is in flight.
    pub(crate) fn set_cork(&mut self, cork: bool) {
        if self.cfg.cork != cork {
            Arc::make_mut(&mut self.cfg).cork = cork;
        }
    }

    /// Send what is queued now, a short last segment included, whatever the
    /// cork and Nagle say (Linux's `TCP_NAGLE_PUSH`, as setting TCP_NODELAY
    /// does even while corked: tcp(7)). The windows still apply.
    pub(crate) fn push(&mut self) {
        self.push_pending = self.has_unsent();
    }

    /// Whether a short segment that is the last of the queued data may go now
    /// (RFC 9293 3.7.4 Nagle, unless the application corked or pushed).
    pub(super) fn last_short_segment_may_go(&self, idle: bool) -> bool {
        if self.push_pending || self.snd.fin_queued {
            return true;
        }
        !self.cfg.cork && (!self.cfg.nagle || idle)
    }
}

/// The send buffer's records: the record ends the application marked and
/// the segments in flight (`recovery::sent`), in one box allocated while
/// either holds something, so an idle connection keeps a null pointer.
/// A box given up goes to the thread's spare boxes (`spare` below), which
/// the next flight of any connection draws from: a connection sends a few
/// flights over its life (SYN, request, FIN), and each would otherwise
/// allocate the box and its log afresh.
#[derive(Debug, Default)]
pub(crate) struct SendRecords(Option<Box<RecordsInner>>);

#[derive(Debug)]
struct RecordsInner {
    /// Ends of records (MSG_EOR) not yet acknowledged, in order.
    ends: Vec<SeqNum>,
    /// The segments in flight, when the connection keeps them (RACK).
    sent: SentLog,
    /// RACK's state for this flight (RFC 8985 6.1).
    rack: RackFlight,
}

impl SendRecords {
    /// Nothing recorded.
    pub(crate) const fn new() -> SendRecords {
        SendRecords(None)
    }

    fn inner(&mut self, start: SeqNum) -> &mut RecordsInner {
        self.0.get_or_insert_with(|| match spare::take() {
            Some(mut b) => {
                // A spare box keeps its two allocations, emptied.
                b.ends.clear();
                b.sent.reset(start);
                b.rack = RackFlight::default();
                b
            }
            None => Box::new(RecordsInner {
                ends: Vec::new(),
                sent: SentLog::new(start),
                rack: RackFlight::default(),
            }),
        })
    }

    /// Free the box once it holds nothing.
    pub(crate) fn release(&mut self) {
        if self
            .0
            .as_ref()
            .is_some_and(|r| r.ends.is_empty() && r.sent.is_empty())
        {
            if let Some(b) = self.0.take() {
                spare::give(b);
            }
        } else if let Some(r) = self.0.as_mut().filter(|r| r.sent.is_empty()) {
            // Record ends keep the box: the next flight's RACK starts afresh.
            r.rack = RackFlight::default();
        }
    }

    /// The record ends, in order.
    pub(crate) fn ends(&self) -> &[SeqNum] {
        self.0.as_ref().map_or(&[], |r| r.ends.as_slice())
    }

    /// Mark `end` as a record end (after every other).
    fn push_end(&mut self, end: SeqNum) {
        self.inner(end).ends.push(end);
    }

    /// Forget the record ends at or below `una`.
    fn ends_acked(&mut self, una: SeqNum) {
        if let Some(r) = self.0.as_mut() {
            r.ends.retain(|e| e.gt(una));
        }
        self.release();
    }

    /// The segments in flight, the box allocated if need be (the first
    /// record would start at `start`).
    pub(crate) fn sent_mut(&mut self, start: SeqNum) -> &mut SentLog {
        &mut self.inner(start).sent
    }

    /// The segments in flight, if the box exists.
    pub(crate) fn sent_if_any(&mut self) -> Option<&mut SentLog> {
        self.0.as_mut().map(|r| &mut r.sent)
    }

    /// The segments in flight, read-only, if the box exists.
    pub(crate) fn sent_log(&self) -> Option<&SentLog> {
        self.0.as_ref().map(|r| &r.sent)
    }

    /// The segments in flight and RACK's state for the flight, if the box
    /// exists.
    pub(crate) fn rack_parts(&mut self) -> Option<(&mut SentLog, &mut RackFlight)> {
        self.0.as_mut().map(|r| (&mut r.sent, &mut r.rack))
    }

    /// Forget the segments in flight (the connection closed).
    pub(crate) fn clear_sent(&mut self) {
        if let Some(r) = self.0.as_mut() {
            r.sent.reset(r.sent.start());
        }
        self.release();
    }
}

/// Record boxes kept in the thread's spare pool (`crate::spare`, which
/// also keeps the rings' buffers) for the next flight: bounded in count and
/// in what each holds.
mod spare {
    use super::RecordsInner;
    use crate::spare::{self as pool, Spares};

    /// Boxes kept per thread.
    const COUNT: usize = 64;
    /// A box whose log or record ends grew beyond these goes back to the
    /// allocator (a bulk flight's log is not worth keeping around).
    const MAX_SEGS: usize = 64;
    const MAX_ENDS: usize = 16;

    // The boxes themselves are what is reused: a connection holds a `Box`.
    thread_local! {
        static SPARE: Spares<Box<RecordsInner>> = const { Spares::new() };
    }

    /// Keep `b` for a later flight, or free it.
    pub(super) fn give(b: Box<RecordsInner>) {
        if b.sent.capacity() > MAX_SEGS || b.ends.capacity() > MAX_ENDS {
            return;
        }
        pool::give(&SPARE, b, COUNT, |_, _| None);
    }

    /// A kept box, if any (its contents are stale: the caller resets them).
    pub(super) fn take() -> Option<Box<RecordsInner>> {
        pool::take(&SPARE, |kept| kept.len().checked_sub(1))
    }
}
