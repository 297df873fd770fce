//! The receive side: segment text and FIN (RFC 9293 3.10.7.4 seventh and
//! eighth steps), reassembly, SACK blocks (RFC 2018, RFC 2883) and the
//! receive window (3.8.6.2.2).

use super::timers::Timer;
use super::{Origin, Owner, SegCtx, Tcb};
use crate::compact::{ByteRing, LazyVec, OptRange};
use crate::error::ConnError;
use crate::event::{Cause, DropReason};
use crate::state::State;
use crate::time::Instant;
use synack_wire::{SeqNum, TcpRepr};

/// The receive sequence space (RFC 9293 3.3.1), the receive buffer, the
/// reassembly queue and what the SACK option reports about it.
#[derive(Debug)]
pub(crate) struct RecvSpace {
    /// IRS.
    pub(crate) irs: SeqNum,
    /// RCV.NXT.
    pub(crate) nxt: SeqNum,
    /// Right edge of the window last advertised (never moved left, RFC 9293 3.8.6.2.2).
    pub(super) adv: SeqNum,
    /// Our window shift (applied to windows we send).
    pub(crate) wscale: u8,
    /// In-order data the application has not read.
    pub(super) buf: ByteRing,
    /// Out-of-order segments held for reassembly.
    pub(super) ooo: LazyVec<OooSeg>,
    /// The peer's FIN has been received in order.
    pub(crate) fin_received: bool,
    /// The application shut down reading.
    pub(super) read_closed: bool,
    /// SACK blocks describing the reassembly queue, the block holding the most
    /// recently received segment first (RFC 2018 4).
    pub(super) sack_blocks: LazyVec<(SeqNum, SeqNum)>,
    /// A duplicate range to report in the first block of the next ACK (RFC 2883 4).
    pub(super) dsack: OptRange,
}

/// An out-of-order segment held for reassembly.
#[derive(Debug, Clone)]
pub(super) struct OooSeg {
    pub(super) seq: SeqNum,
    pub(super) data: Vec<u8>,
    pub(super) fin: bool,
}

impl Tcb {
    /// Receive window we can offer now.
    pub(super) fn rcv_space(&self) -> u32 {
        (self.cfg.recv_buffer.saturating_sub(self.rcv.buf.len())) as u32
    }

    /// RCV.WND as advertised: from RCV.NXT to the advertised right edge.
    pub(crate) fn rcv_wnd(&self) -> u32 {
        let adv = self.rcv.adv.diff(self.rcv.nxt);
        if adv > 0 {
            adv as u32
        } else {
            0
        }
    }

    /// The window the acceptability test and the trimming of text use: RCV.WND, or
    /// with `accept_up_to_buffer_space` the free buffer space when that is larger.
    /// A passive half-open entry and TIME-WAIT have no buffer of their own there
    /// (FreeBSD's syncache and `tcptw`): they keep to what the window field can say.
    pub(super) fn rcv_wnd_accept(&self) -> u32 {
        let mut wnd = self.rcv_wnd();
        if self.state == State::SynReceived {
            // RFC 7323 2.2: all the peer has been told is our SYN,ACK's unscaled
            // window field; RCV.NXT + 65535 is already beyond it.
            wnd = wnd.min(0xffff);
        }
        if !self.cfg.accept_up_to_buffer_space {
            return wnd;
        }
        match self.state {
            State::SynReceived if self.origin != Origin::Active => wnd,
            State::TimeWait => wnd.max(self.rcv_space().min(0xffff << self.rcv.wscale)),
            _ => wnd.max(self.rcv_space()),
        }
    }

    /// Seventh (segment text) and eighth (FIN) steps.
    pub(super) fn process_text_and_fin(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) {
        let accepts_data = matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        );
        let has_data = !seg.payload.is_empty();
        if has_data && !accepts_data {
            // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: "This should not occur since a FIN
            // has been received from the remote side. Ignore the segment text."
            if !seg.flags.fin() {
                return;
            }
        }
        if has_data && accepts_data && self.owner == Owner::Orphan {
            // Data for a connection the application has closed: nobody will read it.
            // Linux resets (tcp_rcv_state_process, "abort on data"); RFC 9293 3.10.4 allows it.
            // The reset takes the form of one for no connection, <SEQ=SEG.ACK><CTL=RST>
            // (RFC 9293 3.10.7.1, as Linux's `tcp_v4_send_reset`): SEG.ACK is exactly
            // the peer's RCV.NXT, so the RST is acceptable to it even while our FIN
            // is still unacknowledged (SND.NXT would be ahead of what the peer has
            // and only draw an RFC 5961 challenge ACK).
            self.rst_pending = Some((seg.ack, super::Queued::Reset));
            self.fail(ConnError::Reset, Cause::Abort, ctx);
            return;
        }
        let mut fin = seg.flags.fin();
        if has_data && accepts_data {
            if self.opts.sack && self.cfg.dsack {
                self.rcv
                    .dsack
                    .set(self.duplicate_range(seg.seq, seg.payload.len() as u32));
            }
            // Trim what we already have and what lies beyond the window.
            let mut seq = seg.seq;
            let mut data = seg.payload;
            let behind = self.rcv.nxt.diff(seq);
            if behind > 0 {
                let cut = (behind as usize).min(data.len());
                data = &data[cut..];
                seq += cut as u32;
            }
            let wnd = self.rcv_wnd_accept() as usize;
            let offset = seq.since(self.rcv.nxt) as usize;
            let room = wnd.saturating_sub(offset);
            if data.len() > room {
                data = &data[..room];
                fin = false; // the FIN lies beyond the window
            }
            if data.is_empty() && !fin {
                // Nothing new (a duplicate): ACK at once (RFC 5681 4.2).
                self.acks.due = Some(super::Queued::DuplicateAck);
                return;
            }
            if seq == self.rcv.nxt {
                self.rcv.buf.extend(data);
                fin = self.took_in_order(data.len(), ctx.now) || fin;
            } else {
                // Out of order: hold it, and send a duplicate ACK at once (RFC 5681 4.2).
                if !self.insert_ooo(seq, data, fin) {
                    self.drop_seg(ctx, DropReason::ReassemblyFull);
                } else if self.opts.sack && !data.is_empty() {
                    self.note_sack_block(seq, seq + data.len() as u32);
                }
                self.acks.due = Some(super::Queued::DuplicateAck);
                return;
            }
        } else if fin && seg.seq != self.rcv.nxt {
            // A FIN beyond RCV.NXT with no data: hold it until the gap fills.
            if accepts_data && seg.seq.gt(self.rcv.nxt) {
                let _ = self.insert_ooo(seg.seq, &[], true);
                self.acks.due = Some(super::Queued::DuplicateAck);
            }
            return;
        }
        if fin {
            self.on_fin(ctx);
        }
    }

    /// `len` octets at RCV.NXT were just appended to the receive buffer:
    /// advance RCV.NXT, drain the reassembly queue behind them and decide
    /// when to acknowledge. Returns whether an in-order FIN was reached.
    pub(super) fn took_in_order(&mut self, len: usize, now: Instant) -> bool {
        self.rcv.nxt += len as u32;
        self.counters.bytes_received += len as u64;
        self.acks.unacked_bytes += len as u32;
        self.acks.unacked_segs += 1;
        self.note_data_rx(now);
        let filled_hole = !self.rcv.ooo.is_empty();
        let ooo_fin = self.drain_ooo();
        self.prune_sack_blocks();
        if filled_hole {
            // RFC 5681 4.2: a segment that fills a hole is acknowledged at once.
            self.acks.due = Some(super::Queued::Normal);
        } else if self.rcv.dsack.get().is_some() {
            // RFC 2883 4: part of the segment was a duplicate; report it while the
            // sender can still tell a spurious retransmission from a loss.
            self.acks.due = Some(super::Queued::DuplicateAck);
        } else {
            self.schedule_ack(now);
        }
        ooo_fin
    }

    /// RFC 2883 4: the part of an arriving segment `[seq, seq+len)` that duplicates
    /// data already received: below RCV.NXT if any, else the lowest overlap with the
    /// reassembly queue (as FreeBSD reports it; RFC 2883 lets a receiver report one).
    pub(super) fn duplicate_range(&self, seq: SeqNum, len: u32) -> Option<(SeqNum, SeqNum)> {
        let end = seq + len;
        if len == 0 {
            return None;
        }
        if seq.lt(self.rcv.nxt) {
            let right = if end.lt(self.rcv.nxt) {
                end
            } else {
                self.rcv.nxt
            };
            return Some((seq, right));
        }
        self.rcv
            .sack_blocks
            .iter()
            .filter(|&&(l, r)| l.lt(end) && seq.lt(r))
            .map(|&(l, r)| {
                (
                    if l.gt(seq) { l } else { seq },
                    if r.lt(end) { r } else { end },
                )
            })
            .min_by(|a, b| a.0.diff(b.0).cmp(&0))
    }

    /// RFC 2018 4: `[left, right)` was just queued out of order. Its block, merged with
    /// every block it overlaps or touches, becomes the first one.
    pub(super) fn note_sack_block(&mut self, mut left: SeqNum, mut right: SeqNum) {
        self.rcv.sack_blocks.retain(|&(l, r)| {
            if l.le(right) && left.le(r) {
                if l.lt(left) {
                    left = l;
                }
                if r.gt(right) {
                    right = r;
                }
                false
            } else {
                true
            }
        });
        self.rcv.sack_blocks.insert(0, (left, right));
    }

    /// Drop the blocks RCV.NXT has passed (RFC 2018 4: blocks report data above it).
    pub(super) fn prune_sack_blocks(&mut self) {
        let nxt = self.rcv.nxt;
        self.rcv.sack_blocks.retain(|&(_, r)| r.gt(nxt));
        for b in &mut self.rcv.sack_blocks {
            if b.0.lt(nxt) {
                b.0 = nxt;
            }
        }
    }

    /// Bytes held for reassembly: counted when a segment is queued, which
    /// happens only out of order, rather than kept in every connection.
    fn ooo_bytes(&self) -> usize {
        self.rcv.ooo.iter().map(|s| s.data.len()).sum()
    }

    pub(super) fn insert_ooo(&mut self, seq: SeqNum, data: &[u8], fin: bool) -> bool {
        if self.rcv.ooo.len() >= self.cfg.max_ooo_segments
            || self.ooo_bytes() + data.len() > self.cfg.recv_buffer
        {
            return false;
        }
        // Skip an exact duplicate.
        if self
            .rcv
            .ooo
            .iter()
            .any(|s| s.seq == seq && s.data.len() >= data.len() && (s.fin || !fin))
        {
            return true;
        }
        let pos = self
            .rcv
            .ooo
            .iter()
            .position(|s| seq.lt(s.seq))
            .unwrap_or(self.rcv.ooo.len());
        self.rcv.ooo.insert(
            pos,
            OooSeg {
                seq,
                data: data.to_vec(),
                fin,
            },
        );
        true
    }

    /// Move now-contiguous out-of-order data into the receive buffer. Returns whether an
    /// in-order FIN was reached.
    pub(super) fn drain_ooo(&mut self) -> bool {
        let mut fin = false;
        while let Some(first) = self.rcv.ooo.first() {
            if first.seq.gt(self.rcv.nxt) {
                break;
            }
            let s = self.rcv.ooo.remove(0);
            let skip = self.rcv.nxt.since(s.seq) as usize;
            if skip < s.data.len() {
                let new = &s.data[skip..];
                self.rcv.buf.extend(new);
                self.rcv.nxt += new.len() as u32;
                self.counters.bytes_received += new.len() as u64;
                self.acks.unacked_bytes += new.len() as u32;
            }
            if s.fin && s.seq + s.data.len() as u32 == self.rcv.nxt {
                fin = true;
                break;
            }
        }
        if fin {
            self.rcv.ooo.clear();
            self.rcv.sack_blocks.clear();
        }
        fin
    }

    /// RFC 9293 3.10.7.4 eighth: the FIN bit, in order.
    pub(super) fn on_fin(&mut self, ctx: &mut SegCtx<'_>) {
        if self.rcv.fin_received {
            self.acks.due = Some(super::Queued::Normal);
            return;
        }
        self.rcv.fin_received = true;
        self.rcv.nxt += 1;
        if self.state == State::Established && self.cfg.delayed_fin_ack && self.acks.data_seen {
            // Linux's `tcp_fin`: ESTABLISHED -> CLOSE_WAIT enters interactive
            // ("pingpong") mode, so the FIN is ACKed with delay, in the hope that
            // the application's reply or close carries the ACK. No more quick ACKs.
            // (Before any data its delayed-ACK timeout is still 0: an ACK at once.)
            self.acks.quick = 0;
            // The FIN's sequence number is the received octet awaiting the ACK.
            self.acks.unacked_bytes += 1;
            self.schedule_ack(ctx.now);
        } else {
            // FIN implies PUSH; acknowledge it at once.
            self.acks.due = Some(super::Queued::Normal);
            self.timers.stop(Timer::DelayedAck);
        }
        let our_fin_acked = self.snd.fin_queued && self.snd.una == self.fin_seq() + 1;
        match self.state {
            State::SynReceived | State::Established => {
                self.set_state(State::CloseWait, Cause::RecvFin, ctx)
            }
            State::FinWait1 => {
                if our_fin_acked {
                    // Our FIN was acknowledged by this very segment: FIN,ACK -> TIME_WAIT.
                    self.set_state(State::TimeWait, Cause::RecvFinAck, ctx);
                } else {
                    self.set_state(State::Closing, Cause::RecvFin, ctx);
                }
            }
            State::FinWait2 => self.set_state(State::TimeWait, Cause::RecvFin, ctx),
            _ => {}
        }
    }

    pub(super) fn maybe_window_update(&mut self, _now: Instant) {
        // RFC 9293 3.8.6.2.2: announce a larger window only when it grows by
        // min(buffer/2, MSS) or more (receiver-side silly window avoidance).
        if !self.state.is_synchronized() || self.rcv.fin_received {
            return;
        }
        let potential = self.rcv.nxt + self.rcv_space();
        let grow = potential.diff(self.rcv.adv);
        let threshold = (self.cfg.recv_buffer / 2).min(usize::from(self.opts.our_mss)) as i32;
        if grow >= threshold.max(1) {
            // Was the window closed or small? Tell the peer at once.
            if self.rcv_wnd() < u32::from(self.opts.our_mss) * 2 {
                self.acks.due.get_or_insert(super::Queued::WindowUpdate);
            }
        }
    }

    pub(super) fn window_field(&mut self, syn: bool) -> u16 {
        // Advertise the buffer space, never moving the right edge left (RFC 9293 3.8.6.2.2)
        // and announcing growth only in MSS-sized steps (receiver SWS avoidance).
        let space = self.rcv_space();
        let potential = self.rcv.nxt + space;
        let grow = potential.diff(self.rcv.adv);
        let threshold = (self.cfg.recv_buffer / 2).min(usize::from(self.opts.our_mss)) as i32;
        if grow >= threshold.max(1)
            || self.rcv.adv.lt(self.rcv.nxt)
            || self.rcv_wnd() == 0 && space > 0 && grow > 0
        {
            self.rcv.adv = potential;
        }
        let wnd = self.rcv_wnd();
        if syn {
            // RFC 7323 2.2: the window field of a SYN is never scaled.
            let field = wnd.min(0xffff);
            if self.rcv.wscale == 0 {
                // Unscaled windows can say exactly what the field says: the advertised
                // right edge is RCV.NXT + 65535, not the buffer's end one octet on.
                self.rcv.adv = self.rcv.nxt + field;
            }
            field as u16
        } else {
            let shifted = wnd >> self.rcv.wscale;
            let field = shifted.min(0xffff);
            // The advertised edge is what the field can express.
            self.rcv.adv = self.rcv.nxt + (field << self.rcv.wscale);
            field as u16
        }
    }
}
