//! Loss recovery: duplicate ACK counting, fast retransmit and NewReno's fast
//! recovery (RFC 5681 3.2, RFC 6582), SACK-based recovery (RFC 6675) over the
//! scoreboard, and the send budget they leave. The congestion controller
//! (`cc`) sets cwnd and ssthresh; recovery decides when to call it and what
//! may be sent meanwhile: NewReno's window inflation by the segments that
//! left the network, or RFC 6675's pipe.

mod prr;
pub(crate) mod rack;
pub(crate) mod scoreboard;
pub(crate) mod sent;

use crate::cc::{Cc, CongestionControl};
use core::num::NonZeroU32;
use prr::{Prr, PrrAck};
use scoreboard::{Retransmission, Scoreboard};
use sent::SentLog;
use synack_wire::SeqNum;

/// Where the send sequence space stands, for recovery's decisions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flight {
    /// SND.UNA (HighACK + 1 in RFC 6675's terms).
    pub(crate) una: SeqNum,
    /// SND.NXT.
    pub(crate) nxt: SeqNum,
    /// SND.MAX (HighData + 1).
    pub(crate) max: SeqNum,
    /// The peer's window, scaled.
    pub(crate) peer_wnd: u32,
    /// SMSS.
    pub(crate) smss: u32,
}

/// A connection's loss recovery state.
#[derive(Debug)]
pub(crate) struct Recovery {
    /// Duplicate ACKs in a row (saturating; only small counts matter).
    pub(crate) dup_acks: u8,
    /// The recovery point (RFC 6582 `recover`, RFC 6675 RecoveryPoint): the
    /// highest sequence number sent when the window was last reduced.
    pub(crate) recover: SeqNum,
    /// The SACK scoreboard (RFC 6675 3), allocated only while the peer's SACK
    /// blocks report data above SND.UNA or a SACK-driven recovery runs.
    pub(crate) board: Option<Box<Scoreboard>>,
    /// Fast recovery runs: NewReno's, or RFC 6675's when the scoreboard is
    /// active.
    pub(crate) active: bool,
    /// The next output is a fast retransmission of SND.UNA.
    pub(crate) fast_rtx_pending: bool,
    /// During NewReno's fast recovery, cwnd inflated by the segments that
    /// left the network (RFC 5681 3.2 steps 4 and 5, RFC 6582 3.2): the
    /// window the sender uses in place of the controller's. `None` otherwise.
    inflated: Option<NonZeroU32>,
    /// TLP.end_seq (RFC 8985 7.1): SND.NXT when the outstanding loss probe
    /// went out; meaningful while `Probes::EPISODE` is set.
    pub(crate) tlp_end: SeqNum,
    /// What RACK keeps across flights (RFC 8985 6.1).
    pub(crate) rack: rack::RackMemory,
}

/// What one ACK delivered (RFC 9937 5), measured before and after its SACK
/// blocks and cumulative acknowledgment were applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AckDelivery {
    /// DeliveredData: octets newly acknowledged cumulatively plus octets
    /// newly SACKed (less SACKed octets the cumulative ACK now covers).
    pub(crate) delivered: u32,
    /// SND.MAX - SND.UNA less the octets SACKed, both before this ACK:
    /// RecoverFS should recovery begin on it (RFC 9937 5: octets SACKed
    /// before recovery are never delivered during it).
    pub(crate) recover_fs: u32,
    /// safeACK (RFC 9937 5): SND.UNA advanced and no further loss indicated.
    pub(crate) safe: bool,
}

impl Recovery {
    /// No recovery, the recovery point at the ISS.
    pub(crate) const fn new(iss: SeqNum) -> Recovery {
        Recovery {
            dup_acks: 0,
            recover: iss,
            board: None,
            active: false,
            fast_rtx_pending: false,
            inflated: None,
            tlp_end: iss,
            rack: rack::RackMemory::NEW,
        }
    }

    /// The congestion window the sender uses: NewReno's inflated window
    /// during its fast recovery, otherwise the controller's.
    #[inline]
    pub(crate) fn cwnd(&self, cc: &Cc) -> u32 {
        match self.inflated {
            Some(w) => w.get(),
            None => cc.cwnd(),
        }
    }

    /// The current recovery is RFC 6675's, driven by the scoreboard (it had
    /// SACK information when it began; otherwise NewReno runs it).
    #[inline]
    pub(crate) fn sack_episode(&self) -> bool {
        self.active && self.board.as_ref().is_some_and(|b| b.active)
    }

    /// Free the scoreboard when it holds nothing a recovery needs: an idle
    /// connection keeps only the null pointer.
    pub(crate) fn release_board(&mut self) {
        let needed = self
            .board
            .as_ref()
            .is_some_and(|b| !b.is_empty() || (b.active && self.active));
        if !needed {
            self.board = None;
        }
    }

    /// RFC 6675 5: loss recovery ended; the scoreboard goes once empty.
    fn end_sack_episode(&mut self) {
        if let Some(b) = self.board.as_mut() {
            b.active = false;
            b.rescue = None;
            b.prr = None;
        }
        self.release_board();
    }

    /// RFC 6675 4 (Update()): fold an ACK's SACK `blocks` into the
    /// scoreboard, SND.UNA being `una` after the ACK and SND.MAX `max`.
    /// Returns whether octets not SACKed before were SACKed (RFC 6675 2: a
    /// duplicate ACK).
    #[inline]
    pub(crate) fn sack_update(
        &mut self,
        una: SeqNum,
        max: SeqNum,
        blocks: &[(SeqNum, SeqNum)],
    ) -> bool {
        if self.board.is_none() && blocks.is_empty() {
            // Nothing SACKed before or now: no scoreboard to keep.
            return false;
        }
        self.fold_sack_blocks(una, max, blocks)
    }

    /// [`Recovery::sack_update`] with blocks to fold or a scoreboard to update.
    fn fold_sack_blocks(&mut self, una: SeqNum, max: SeqNum, blocks: &[(SeqNum, SeqNum)]) -> bool {
        let new = match self.board.as_mut() {
            Some(b) => b.update(una, max, blocks),
            None if !blocks.is_empty() => {
                let mut b = Scoreboard::new(una);
                let new = b.update(una, max, blocks);
                if new {
                    self.board = Some(Box::new(b));
                }
                new
            }
            None => false,
        };
        self.release_board();
        new
    }

    /// RFC 5681 3.2 / RFC 6582 3.2: fast retransmit of SND.UNA and fast
    /// recovery, once the controller set cwnd to ssthresh for the loss. With
    /// `sack` and SACK information, RFC 6675's recovery (5, step 4.2: no
    /// inflation, pipe counts what left the network); otherwise NewReno's,
    /// the window inflated by the `left` segments that left the network.
    /// With `prr`, RFC 9937's proportional rate reduction sets what a SACK
    /// recovery may send.
    pub(crate) fn enter(&mut self, cc: &Cc, f: Flight, left: u32, sack: bool, prr: bool) {
        self.recover = f.max;
        self.inflated = NonZeroU32::new(cc.cwnd() + left * f.smss);
        if sack {
            if let Some(b) = self.board.as_mut().filter(|b| !b.is_empty()) {
                // RFC 6675 5 (step 4.2): cwnd = ssthresh, no inflation: pipe counts
                // what left the network. RecoveryPoint = HighData (`recover`).
                self.inflated = None;
                b.active = true;
                b.rxt_end = f.una;
                // RFC 6675 5 (step 4.3): RescueRxt = the end of the first
                // retransmission, "to prevent ... a premature rescue retransmission".
                b.rescue = Some(f.una + f.smss);
                // RFC 9937 5: prr_delivered = prr_out = 0, RecoverFS = snd.nxt -
                // snd.una less what was SACKed before this ACK (SND.MAX: what a
                // go-back-N may resend is in flight).
                b.prr = prr.then(|| Prr::start(b.ack.recover_fs));
            }
        }
        self.active = true;
        self.fast_rtx_pending = true;
    }

    /// Full acknowledgment: leave fast recovery (RFC 6582 3.2 step 3; RFC
    /// 6675 5: loss recovery ends when HighACK reaches RecoveryPoint). The
    /// caller lets the controller deflate the window.
    pub(crate) fn end(&mut self) {
        // RFC 8985 6.2 step 4: "exiting Fast or RTO recovery".
        self.rack.on_recovery_exit();
        self.active = false;
        self.inflated = None;
        self.end_sack_episode();
    }

    /// NewReno's partial acknowledgment of `acked` octets (RFC 6582 3.2 step
    /// 5): retransmit the next unacknowledged segment, deflate the window by
    /// the amount acknowledged and add back one SMSS.
    pub(crate) fn partial_ack(&mut self, cc: &Cc, acked: u32, smss: u32) {
        self.fast_rtx_pending = true;
        let w = self.cwnd(cc).saturating_sub(acked).saturating_add(smss);
        self.inflated = NonZeroU32::new(w);
    }

    /// A further duplicate ACK during NewReno's fast recovery (RFC 6582 3.2
    /// step 4): inflate the window by one SMSS.
    pub(crate) fn inflate(&mut self, cc: &Cc, smss: u32) {
        self.inflated = NonZeroU32::new(self.cwnd(cc).saturating_add(smss));
    }

    /// The retransmission timer expired with data outstanding: recovery ends
    /// (RFC 6675 5.1), RecoveryPoint = HighData (`max`) keeps a new one from
    /// starting before it is acknowledged, and the SACKed marks go (RFC 2018
    /// 8: the receiver may have reneged; later ACKs rebuild them).
    pub(crate) fn on_timeout(&mut self, max: SeqNum) {
        self.active = false;
        self.inflated = None;
        self.board = None;
        self.recover = max;
        self.dup_acks = 0;
    }

    /// A go-back-N resend after the path MTU fell (RFC 1191 6.4): RFC 6675's
    /// pipe accounting does not hold for it, so a SACK recovery ends as a
    /// timeout would end it (RFC 6675 5.1), but nothing tells the controller:
    /// the window stays.
    pub(crate) fn abandon_sack_episode(&mut self, max: SeqNum) {
        if self.board.as_ref().is_some_and(|b| b.active) {
            self.board = None;
            self.active = false;
            self.recover = max;
            self.dup_acks = 0;
        }
    }

    /// NextSeg() (RFC 6675 4) for a retransmission, when cwnd - pipe allows a
    /// segment: rule 1 (a lost hole) if `lost_only`, else rule 3 (any hole
    /// below the highest SACKed octet), then rule 4 (the rescue
    /// retransmission) of the data sent and buffered up to `data_end` when
    /// `no_new_data` says none is waiting.
    /// With RACK's `marks` (RFC 8985), the segments RACK declared lost are
    /// the holes and pipe counts by them; rules 3 and 4 do not apply (RACK
    /// marks a hole lost once a later segment arrived and the reordering
    /// window passed, and the loss probe repairs a tail).
    pub(crate) fn next_seg(
        &self,
        cc: &Cc,
        f: Flight,
        marks: Option<&SentLog>,
        lost_only: bool,
        data_end: SeqNum,
        no_new_data: impl FnOnce() -> bool,
    ) -> Option<Retransmission> {
        let b = self.board.as_ref().filter(|b| b.active && self.active)?;
        let smss = f.smss;
        let (una, max) = (f.una, f.max);
        let pipe = match marks {
            Some(log) => rack::pipe(log, una, max),
            None => b.pipe(una, max, smss),
        };
        // RFC 6675 5 (step C): transmit only while cwnd - pipe >= 1 SMSS.
        if self.cwnd(cc).saturating_sub(pipe) < smss {
            return None;
        }
        if let Some(log) = marks {
            // RFC 8985 6.2: RACK's lost marks in place of IsLost().
            return rack::next_lost(log, smss).map(|(seq, len)| Retransmission {
                seq,
                len,
                rescue: false,
            });
        }
        // RFC 6675 4 (NextSeg rule 1): the first lost octet above HighRxt.
        if let Some(r) = b.next_hole(una, smss, true) {
            return Some(r);
        }
        if lost_only {
            return None;
        }
        // RFC 6675 4 (NextSeg rule 3): no new data could go (rule 2): the first
        // unSACKed octet above HighRxt below the highest SACKed one.
        if let Some(r) = b.next_hole(una, smss, false) {
            return Some(r);
        }
        // RFC 6675 4 (NextSeg rule 4): once per recovery, with no new data to
        // send, the last segment of the unSACKed tail keeps the ACK clock going
        // (RescueRxt).
        let top = b.high_sacked().unwrap_or(una).max(una).max(b.rxt_end);
        let end = max.min(data_end);
        // RFC 6675 4 (NextSeg rule 4): only once HighACK passed RescueRxt.
        let rescue_ok = b.rescue.is_none_or(|r| una.gt(r));
        if rescue_ok && top.lt(end) && no_new_data() {
            let len = end.since(top).min(smss);
            return Some(Retransmission {
                seq: end - len,
                len,
                rescue: true,
            });
        }
        None
    }

    /// RFC 9937 5, on every ACK starting or during a SACK recovery that runs
    /// PRR: the window the sender may fill is pipe + SndCnt until the next
    /// ACK; an ACK that delivered nothing leaves it as it was.
    pub(crate) fn prr_on_ack(&mut self, cc: &Cc, f: Flight, marks: Option<&SentLog>) {
        if !self.sack_episode() {
            return;
        }
        let Some(b) = self.board.as_mut() else {
            return;
        };
        let pipe = match marks {
            Some(log) => rack::pipe(log, f.una, f.max),
            None => b.pipe(f.una, f.max, f.smss),
        };
        let d = b.ack;
        let Some(prr) = b.prr.as_mut() else {
            return;
        };
        let a = PrrAck {
            delivered: d.delivered,
            safe: d.safe,
            pipe,
            ssthresh: cc.ssthresh(),
            mss: f.smss,
        };
        if let Some(sndcnt) = prr.on_ack(a) {
            // RFC 9937 5: cwnd = pipe + SndCnt. At least one octet, so the
            // window is the recovery's and not the controller's.
            self.inflated = NonZeroU32::new(pipe.saturating_add(sndcnt).max(1));
        }
    }

    /// Record what the ACK being processed delivered, for PRR (kept with the
    /// scoreboard: without one no SACK recovery, and so no PRR, runs).
    #[inline]
    pub(crate) fn note_ack(&mut self, d: AckDelivery) {
        if let Some(b) = self.board.as_mut() {
            b.ack = d;
        }
    }

    /// RFC 9937 5: the ACK being processed indicated further loss (RACK
    /// marked a segment lost): it is not a safe ACK.
    #[inline]
    pub(crate) fn note_further_loss(&mut self) {
        if let Some(b) = self.board.as_mut() {
            b.ack.safe = false;
        }
    }

    /// Octets SACKed above `una` (0 without a scoreboard).
    #[inline]
    pub(crate) fn sacked_above(&self, una: SeqNum) -> u32 {
        self.board.as_ref().map_or(0, |b| b.sacked_above(una))
    }

    /// The loss edge of the scoreboard (RFC 6675 IsLost): every unSACKed
    /// octet below it is lost; `una` without a scoreboard.
    #[inline]
    pub(crate) fn loss_edge(&self, una: SeqNum, mss: u32) -> SeqNum {
        self.board.as_ref().map_or(una, |b| b.loss_edge(una, mss))
    }

    /// Whether unSACKed octets in `[from, to)` exist: an edge moved over
    /// them marks them lost.
    #[inline]
    pub(crate) fn unsacked_between(&self, from: SeqNum, to: SeqNum) -> bool {
        from.lt(to)
            && self
                .board
                .as_ref()
                .is_none_or(|b| b.sacked_between(from, to) < to.since(from))
    }

    /// RFC 9937 5: prr_out counts every octet sent during the recovery.
    #[inline]
    pub(crate) fn on_sent(&mut self, len: usize) {
        if self.active && len > 0 {
            if let Some(p) = self.board.as_mut().and_then(|b| b.prr.as_mut()) {
                p.on_sent(u32::try_from(len).unwrap_or(u32::MAX));
            }
        }
    }

    /// The send budget: how far beyond SND.NXT the windows let data go. The
    /// peer's window and cwnd (with limited transmit), or in a SACK recovery
    /// cwnd - pipe, and during a go-back-N never into the next SACKed range.
    #[inline]
    pub(crate) fn send_budget(&self, cc: &Cc, f: Flight, marks: Option<&SentLog>) -> usize {
        // RFC 3042 limited transmit: the first and second duplicate ACKs each let one
        // new segment go beyond cwnd (up to cwnd + 2 * SMSS), within the peer's window;
        // cwnd itself is unchanged. Linux does the same by counting duplicate ACKs as
        // segments that left the network (`tcp_add_reno_sack`).
        let limited_transmit = if self.active {
            0
        } else {
            u32::from(self.dup_acks.min(2)) * f.smss
        };
        let cwnd = self.cwnd(cc);
        let wnd = f
            .peer_wnd
            .min(cwnd.max(f.smss).saturating_add(limited_transmit));
        let mut usable = (f.una + wnd).diff(f.nxt).max(0) as usize;
        if self.sack_episode() {
            // RFC 6675 4 (NextSeg rule 2) and 5 (step C): new data as far as
            // cwnd - pipe (at least one SMSS) and the peer's window allow.
            let smss = f.smss;
            let pipe = match marks {
                Some(log) => rack::pipe(log, f.una, f.max),
                None => self
                    .board
                    .as_ref()
                    .map_or(0, |b| b.pipe(f.una, f.max, smss)),
            };
            let room = cwnd.saturating_sub(pipe);
            let peer = (f.una + f.peer_wnd).diff(f.nxt).max(0) as u32;
            usable = if room >= smss {
                room.min(peer) as usize
            } else {
                0
            };
        }
        if f.nxt.lt(f.max) {
            // Go-back-N: stop short of the next SACKed range (with RACK, the
            // next segment SACKed whole).
            let next = match marks {
                Some(log) => rack::next_sacked(log, f.nxt),
                None => self.board.as_ref().and_then(|b| b.next_sacked(f.nxt)),
            };
            if let Some(l) = next {
                usable = usable.min(l.since(f.nxt) as usize);
            }
        }
        usable
    }
}
