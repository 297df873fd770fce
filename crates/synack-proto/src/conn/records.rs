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
use std::sync::Arc;
use synack_wire::SeqNum;

/// At most this many record ends wait in a connection's send buffer (four
/// bytes each): a send that would add one more is refused with
/// [`Error::WouldBlock`] until some are acknowledged.
pub(crate) const MAX_RECORD_ENDS: usize = 1024;

impl Tcb {
    /// Whether another record end may be marked now.
    pub(crate) fn record_room(&self) -> Result<(), Error> {
        if self.record_ends.len() >= MAX_RECORD_ENDS {
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
        if self.record_ends.last().is_some_and(|e| e.ge(end)) {
            return Ok(());
        }
        self.record_room()?;
        let at = self.record_ends.len();
        self.record_ends.insert(at, end);
        Ok(())
    }

    /// The length of the next segment from SND.NXT, `n` at most, cut at the
    /// first record end after SND.NXT; `true` when it ends a record there.
    pub(super) fn cut_at_record(&self, n: usize) -> (usize, bool) {
        let nxt = self.snd.nxt;
        match self.record_ends.iter().find(|e| e.gt(nxt)) {
            Some(e) if (e.since(nxt) as usize) <= n => (e.since(nxt) as usize, true),
            _ => (n, false),
        }
    }

    /// SND.UNA moved to `una`: forget the record ends it passed.
    pub(super) fn records_acked(&mut self, una: SeqNum) {
        self.record_ends.retain(|e| e.gt(una));
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
