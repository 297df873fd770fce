//! One connection: the transmission control block and the RFC 9293 3.10
//! state machine (OPEN, SEND, RECEIVE, CLOSE, ABORT, SEGMENT ARRIVES, timeouts).
//!
//! The TCB never builds packets: it consumes parsed segments and produces
//! [`OutSegment`] descriptions that the stack turns into bytes. Sequence space
//! bookkeeping follows the RFC names: `snd.una`, `snd.nxt`, `snd.wnd`,
//! `rcv.nxt`, `rcv_wnd()`, `snd.iss`, `rcv.irs`. `snd.max` is the highest sequence
//! number sent so far (`snd.nxt` falls back to `snd.una` on a retransmission
//! timeout, go-back-N, as BSD and Linux do).
//!
//! The TCB's code is spread over rooms, one per mechanism: `handshake`
//! (OPEN and the SYN-SENT step), `arrive` (SEGMENT ARRIVES in the other
//! states), `ack` (ACK processing), `recv` (text, reassembly, windows),
//! `ack_policy` (delayed and quick ACKs), `timestamps` (RFC 7323), `output`
//! (what to send next), `timers`, `tlp` (tail loss probe), `icmp` and `user`
//! (SEND, RECEIVE, CLOSE, ABORT and socket options). Congestion control
//! (`crate::cc`) and loss recovery (`crate::recovery`) have rooms of their
//! own beside `conn`; the TCB holds their state and calls them.

mod ack;
mod ack_policy;
mod arrive;
mod cc_hook;
mod fast;
mod fastopen;
mod handshake;
mod icmp;
mod output;
mod rack;
mod records;
mod recv;
mod timers;
mod timestamps;
mod tlp;
mod user;

use crate::cc::{Cc, CongestionControl};
use crate::compact::{ByteRing, LazyVec, OptRange, PackedTuple};
use crate::config::ConnConfig;
use crate::ecn::EcnState;
use crate::error::ConnError;
use crate::event::{Cause, ConnId, DropReason, EventKind, FourTuple, ListenerId, SendReason};
use crate::probe::Probes;
use crate::recovery::Recovery;
use crate::rtt::{RtoBounds, RttEstimator};
use crate::sink::Sink;
use crate::stack::ConnStatus;
use crate::state::State;
use crate::time::Instant;
use ack_policy::AckPolicy;
pub(crate) use arrive::closed_reply;
use arrive::OOW_ACK_INTERVAL_MS;
pub(crate) use fastopen::FoConn;
use handshake::rcv_wscale_for;
use handshake::Negotiated;
use output::SendSpace;
use recv::RecvSpace;
use std::sync::Arc;
use synack_wire::{SeqNum, TcpFlags, TcpOptions};
use timers::{Timer, Timers};
use timestamps::TsState;

/// The least MSS used toward a peer that advertises a tiny one (Linux's
/// `TCP_MIN_SND_MSS` is 48): smaller segments cost more in headers than they
/// carry and invite resource exhaustion. Our own link's MSS still caps it.
pub(crate) const MIN_SND_MSS: u16 = 64;

/// `now` in milliseconds, wrapping (only differences are used).
fn ms_of(now: Instant) -> u32 {
    (now.micros() / 1000) as u32
}

/// A segment the connection wants sent. Its payload is a range of the send buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutSegment {
    pub(crate) seq: SeqNum,
    pub(crate) ack: SeqNum,
    pub(crate) flags: TcpFlags,
    pub(crate) window: u16,
    pub(crate) options: TcpOptions,
    pub(crate) reason: SendReason,
    /// Send it ECN-capable, ECT(0) (RFC 3168 6.1.2: new data of an ECN connection).
    pub(crate) ect: bool,
}

/// What the stack must do after the TCB handled a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Nothing more.
    Done,
    /// Send a RST `seq=seq` (with `ack` if given) that no TCB owns, e.g. a bad ACK in SYN_SENT.
    Reset { seq: SeqNum, ack: Option<SeqNum> },
    /// A passive SYN_RCVD entry was reset or timed out: return it to LISTEN (drop it).
    BackToListen,
}

/// How the connection was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Active,
    Passive(ListenerId),
}

/// Who holds the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The application has a handle.
    App,
    /// Completed, waiting in a listener's accept queue.
    AcceptQueue,
    /// The application closed its handle: the stack finishes the close and frees it.
    Orphan,
}

/// Per-connection counters, reported by status snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// Segments sent and received, wrapping at 2^32 as Linux's
    /// `tcpi_segs_out`/`tcpi_segs_in` do (four bytes each in every TCB).
    pub(crate) segs_out: u32,
    pub(crate) segs_in: u32,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_acked: u64,
    pub(crate) bytes_received: u64,
    pub(crate) retransmits: u32,
    pub(crate) fast_retransmits: u32,
    pub(crate) rto_expirations: u32,
    pub(crate) dup_acks_in: u32,
}

/// The transmission control block: who the connection is, its state, and
/// one part per mechanism, each owned by the room that runs it.
#[derive(Debug)]
pub(crate) struct Tcb {
    pub(crate) id: ConnId,
    /// The 4-tuple, packed (see [`Tcb::tuple`]).
    pub(crate) packed_tuple: PackedTuple,
    pub(crate) state: State,
    pub(crate) origin: Origin,
    pub(crate) owner: Owner,
    /// Shared with the listener or the stack; copied on write when a setting
    /// changes on this connection (Nagle, keepalive, user timeout).
    pub(crate) cfg: Arc<ConnConfig>,
    pub(crate) error: Option<ConnError>,
    /// The last soft ICMP error (RFC 1122 4.2.3.9), reported instead of
    /// `TimedOut` if the connection times out; cleared by an ACK of new data.
    soft_error: Option<ConnError>,
    pub(crate) counters: Counters,
    /// Send sequence space and send buffer (RFC 9293 3.3.1).
    pub(crate) snd: SendSpace,
    /// Receive sequence space, receive buffer and reassembly.
    pub(crate) rcv: RecvSpace,
    /// What the SYNs negotiated: MSS, window scaling, timestamps, SACK, ECN.
    pub(crate) opts: Negotiated,
    /// Timestamp state (RFC 7323).
    pub(crate) ts: TsState,
    /// When to acknowledge (delayed and quick ACKs).
    acks: AckPolicy,
    /// The timers, as deadlines.
    timers: Timers,
    /// Loss recovery: duplicate ACKs, fast recovery, the SACK scoreboard.
    recovery: Recovery,
    /// Congestion control: cwnd and ssthresh.
    cc: Cc,
    /// RTT estimation and the RTO (RFC 6298).
    pub(crate) rtt: RttEstimator,

    // Output requests.
    rst_pending: Option<(SeqNum, Queued)>,
    /// Zero-window and tail loss probe flags (see `Probes`).
    probes: Probes,
    keepalive_probe_pending: bool,
    /// The application asked for the queued data to go out now, partial
    /// segment and cork notwithstanding (`records`).
    push_pending: bool,
    /// Ends of records (MSG_EOR) in the send buffer not yet acknowledged
    /// (no segment carries octets of two records, `records`)
    /// and the segments in flight (`recovery::sent`), one box for both.
    records: records::SendRecords,
}

/// A delivered (or reportable) result of a segment, for the stack.
pub(crate) struct SegCtx<'a> {
    pub(crate) now: Instant,
    pub(crate) sink: &'a mut Sink,
    /// Tokens for challenge ACKs (RFC 5961 7); decremented when one is sent.
    pub(crate) challenge_tokens: &'a mut u32,
}

impl Tcb {
    /// The connection's addresses.
    pub(crate) fn tuple(&self) -> FourTuple {
        self.packed_tuple.unpack()
    }

    fn blank(
        id: ConnId,
        tuple: FourTuple,
        cfg: Arc<ConnConfig>,
        iss: SeqNum,
        our_mss: u16,
        now: Instant,
        origin: Origin,
    ) -> Tcb {
        let rtt = RttEstimator::new(cfg.initial_rto, cfg.min_rto, cfg.max_rto);
        let cc = Cc::new(cfg.congestion);
        let rcv_wscale = if cfg.window_scaling {
            rcv_wscale_for(cfg.recv_buffer)
        } else {
            0
        };
        Tcb {
            id,
            packed_tuple: PackedTuple::from(tuple),
            state: State::Closed,
            origin,
            owner: if matches!(origin, Origin::Active) {
                Owner::App
            } else {
                Owner::AcceptQueue
            },
            cfg,
            error: None,
            soft_error: None,
            counters: Counters::default(),
            snd: SendSpace {
                iss,
                una: iss,
                nxt: iss,
                max: iss,
                wnd: 0,
                wl1: SeqNum(0),
                wl2: iss,
                max_wnd: 0,
                wscale: 0,
                buf: ByteRing::new(),
                fin_queued: false,
                fin_at: iss,
                syn_retransmitted: false,
                syn_options_dropped: false,
            },
            rcv: RecvSpace {
                irs: SeqNum(0),
                nxt: SeqNum(0),
                adv: SeqNum(0),
                wscale: rcv_wscale,
                buf: ByteRing::new(),
                ooo: LazyVec::new(),
                fin_received: false,
                read_closed: false,
                sack_blocks: LazyVec::new(),
                dsack: OptRange::NONE,
            },
            opts: Negotiated {
                snd_mss: 536,
                our_mss,
                path_mss: our_mss,
                ws: false,
                ts: false,
                sack: false,
                ecn: EcnState::default(),
            },
            ts: TsState {
                recent: 0,
                recent_stamp: now,
                last_ack_sent: SeqNum(0),
                offset: 0,
                rtt_from: None,
            },
            acks: AckPolicy {
                due: None,
                unacked_bytes: 0,
                unacked_segs: 0,
                quick: 0,
                last_data_rx: None,
                data_seen: false,
                last_oow_ms: ms_of(now).wrapping_sub(OOW_ACK_INTERVAL_MS),
            },
            timers: Timers::new(),
            recovery: Recovery::new(iss),
            cc,
            rtt,
            rst_pending: None,
            probes: Probes::default(),
            keepalive_probe_pending: false,
            push_pending: false,
            records: records::SendRecords::new(),
        }
    }
}

impl Tcb {
    // ----- helpers -------------------------------------------------------

    fn set_state(&mut self, to: State, cause: Cause, ctx: &mut SegCtx<'_>) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        if matches!(from, State::SynSent | State::SynReceived)
            && !matches!(to, State::SynSent | State::SynReceived)
        {
            // The handshake is over, one way or the other: no establishment timer.
            self.timers.stop(Timer::Establish);
            self.timers.last_sent_ms = ms_of(ctx.now);
            if !self.acks.data_seen {
                // Linux starts `lrcvtime` here (`tcp_finish_connect`,
                // `tcp_create_openreq_child`): the idle time before any data.
                self.acks.last_data_rx = Some(ctx.now);
            }
        }
        if matches!(to, State::TimeWait | State::Closed) {
            // RFC 3168 6.1.1: TIME-WAIT and CLOSED ignore the ECN negotiation.
            self.opts.ecn.forget();
        }
        let listener = match self.origin {
            Origin::Passive(l) => Some(l),
            Origin::Active => None,
        };
        ctx.sink.push(
            ctx.now,
            EventKind::StateChanged {
                conn: Some(self.id),
                listener,
                tuple: self.tuple(),
                from,
                to,
                cause,
            },
        );
        match to {
            State::TimeWait => {
                // RFC 9293 3.10.7.4 (FIN, FIN-WAIT-2): start the 2*MSL timer; all others stop.
                self.stop_timers();
                self.timers.set(Timer::TimeWait, ctx.now + self.cfg.msl * 2);
            }
            State::Closed => {
                self.stop_timers();
                self.snd.buf.clear();
                self.rcv.ooo.clear();
                self.rcv.sack_blocks.clear();
                self.rcv.dsack.set(None);
                self.recovery.board = None;
                self.records.clear_sent();
            }
            State::FinWait2 => {
                self.set_rtx(None);
                if self.owner == Owner::Orphan {
                    self.timers
                        .set(Timer::FinWait2, ctx.now + self.cfg.fin_wait_2_timeout);
                }
            }
            _ => {}
        }
    }

    fn fail(&mut self, err: ConnError, cause: Cause, ctx: &mut SegCtx<'_>) {
        // RFC 1122 4.2.3.9: a soft error is reported when the connection gives up
        // (Linux `tcp_write_err`: EHOSTUNREACH rather than ETIMEDOUT).
        let err = match (err, self.soft_error) {
            (ConnError::TimedOut, Some(soft)) => soft,
            _ => err,
        };
        if self.error.is_none() {
            self.error = Some(err);
            ctx.sink.push(
                ctx.now,
                EventKind::ConnectionError {
                    conn: self.id,
                    error: err,
                },
            );
        }
        self.set_state(State::Closed, cause, ctx);
    }

    /// Our SYN is acknowledged. Not by `SND.UNA > ISS` alone: that order is
    /// modular and flips once 2^31 octets were acknowledged, which made a
    /// long transfer take its data for the SYN's and stall. In the
    /// synchronized states the SYN was acknowledged, but for a close in
    /// SYN-RECEIVED (RFC 9293 3.10.4), which sent a FIN right after the SYN
    /// and nothing else.
    ///
    /// The close's shape (SND.UNA = ISS, SND.MAX = ISS + 2) comes back after
    /// exactly 2^32 - 1 acknowledged data octets with two in flight; no data
    /// acknowledged tells the close apart.
    fn syn_acked(&self) -> bool {
        if self.state.is_synchronized() {
            !(self.counters.bytes_acked == 0
                && self.snd.una == self.snd.iss
                && self.snd.max == self.snd.iss + 2)
        } else {
            self.snd.una.gt(self.snd.iss)
        }
    }

    /// Segments the peer acknowledged or SACKed, as Linux's `tp->delivered`:
    /// the SYN one (with the first `syn_octets` of payload, which a Fast
    /// Open SYN carried), the rest of the octets in send-MSS segments.
    pub(crate) fn delivered(&self, syn_octets: u32) -> u64 {
        let octets =
            self.counters.bytes_acked + u64::from(self.recovery.sacked_above(self.snd.una));
        let mss = u64::from(self.opts.snd_mss.max(1));
        u64::from(self.syn_acked()) + octets.saturating_sub(u64::from(syn_octets)).div_ceil(mss)
    }

    /// Sequence number of `tx[0]`.
    fn data_seq0(&self) -> SeqNum {
        if self.syn_acked() {
            self.snd.una
        } else {
            self.snd.iss + 1
        }
    }

    /// Sequence number of our FIN, when queued.
    fn fin_seq(&self) -> SeqNum {
        self.snd.fin_at
    }

    /// Queue our FIN after all data now in the send buffer.
    fn queue_fin(&mut self) {
        self.snd.fin_queued = true;
        self.snd.fin_at = self.data_seq0() + self.snd.buf.len() as u32;
    }

    /// The RTO's bounds from the (shared) configuration.
    fn rto_bounds(&self) -> RtoBounds {
        RtoBounds {
            min: self.cfg.min_rto,
            max: self.cfg.max_rto,
            slop: self.cfg.rto_slop,
            min_on_variance: self.cfg.rto_min_on_variance,
        }
    }

    fn flight(&self) -> u32 {
        self.snd.nxt.since(self.snd.una)
    }

    fn drop_seg(&self, ctx: &mut SegCtx<'_>, reason: DropReason) {
        ctx.sink.count_drop(reason);
        ctx.sink.push(
            ctx.now,
            EventKind::Dropped {
                conn: Some(self.id),
                seg: None,
                reason,
            },
        );
    }

    fn has_unsent(&self) -> bool {
        let sent_data = self.snd.nxt.since(self.data_seq0()) as usize;
        sent_data < self.snd.buf.len() || (self.snd.fin_queued && self.snd.nxt.le(self.fin_seq()))
    }

    /// Whether the connection can be freed: closed and nobody holds a handle.
    pub(crate) fn is_reapable(&self) -> bool {
        self.state == State::Closed && self.owner == Owner::Orphan && self.rst_pending.is_none()
    }

    /// Bytes in the send buffer not yet acknowledged.
    pub(crate) fn send_queued(&self) -> usize {
        self.snd.buf.len()
    }

    /// A TCP_INFO-like snapshot of the connection.
    pub(crate) fn status(&self) -> ConnStatus {
        let bounds = self.rto_bounds();
        ConnStatus {
            state: self.state,
            tuple: self.tuple(),
            iss: self.snd.iss,
            irs: self.rcv.irs,
            snd_una: self.snd.una,
            snd_nxt: self.snd.nxt,
            rcv_nxt: self.rcv.nxt,
            snd_wnd: self.snd.wnd,
            rcv_wnd: self.rcv_wnd(),
            snd_wscale: self.snd.wscale,
            rcv_wscale: self.rcv.wscale,
            snd_mss: self.opts.snd_mss,
            adv_mss: self.opts.our_mss,
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            rto: self.rtt.rto(bounds),
            cwnd: self.recovery.cwnd(&self.cc),
            ssthresh: self.cc.ssthresh(),
            congestion: self.cc.algorithm(),
            cc_phase: self.cc.current_phase(),
            retransmits: self.counters.retransmits.into(),
            bytes_in_flight: self.snd.max.since(self.snd.una),
            bytes_sent: self.counters.bytes_sent,
            bytes_acked: self.counters.bytes_acked,
            bytes_received: self.counters.bytes_received,
            segs_out: self.counters.segs_out.into(),
            segs_in: self.counters.segs_in.into(),
            delivered: self.delivered(0),
            unread: self.recv_ready(),
            send_queued: self.send_queued(),
            keepalive_probes: u32::from(self.timers.keepalive_probes),
            window_probes: self.timers.persist_backoff,
            rto_backoff: self.timers.rtx_count,
            sacked: self.recovery.sacked_above(self.snd.una),
            last_data_received: self.acks.last_data_rx,
            lost: self
                .rack_marks()
                .map_or(0, crate::recovery::rack::lost_segments),
            retrans_out: self
                .rack_marks()
                .map_or(0, crate::recovery::rack::retransmitted_segments),
            window_scaling: self.opts.ws,
            sack: self.opts.sack,
            timestamps: self.opts.ts,
            ecn: self.opts.ecn.sender(),
            error: self.error,
            fast_open: crate::fastopen::FastOpenStatus::NotTried,
        }
    }
}

impl Tcb {
    /// Both buffers, for the stack to hand their storage to the thread's
    /// spares when the connection is freed.
    pub(crate) fn buffers_mut(&mut self) -> [&mut ByteRing; 2] {
        [&mut self.snd.buf, &mut self.rcv.buf]
    }
}

#[cfg(test)]
mod tests {
    use super::{Origin, Tcb};
    use crate::config::ConnConfig;
    use crate::event::{ConnId, FourTuple};
    use crate::state::State;
    use crate::time::Instant;
    use std::sync::Arc;
    use synack_wire::SeqNum;

    #[test]
    fn the_syn_stays_acknowledged_when_snd_una_wraps_back_to_iss() {
        let tuple = FourTuple {
            local: "10.0.0.1:1000".parse().unwrap(),
            remote: "10.0.0.2:80".parse().unwrap(),
        };
        let id = ConnId {
            index: 0,
            generation: 0,
        };
        let cfg = Arc::new(ConnConfig::default());
        let mut t = Tcb::blank(
            id,
            tuple,
            cfg,
            SeqNum(7),
            1460,
            Instant::ZERO,
            Origin::Active,
        );
        t.state = State::Established;
        // 2^32 - 1 data octets acknowledged after the SYN bring SND.UNA back
        // to ISS; two more are in flight. Data starts at SND.UNA, not ISS + 1.
        t.snd.una = t.snd.iss;
        t.snd.max = t.snd.iss + 2;
        t.counters.bytes_acked = (1 << 32) - 1;
        assert!(t.syn_acked());
        assert_eq!(t.data_seq0(), t.snd.iss);
        // RFC 9293 3.10.4: a close in SYN-RECEIVED sent its FIN right after
        // the SYN, and nothing was acknowledged: the SYN is still out.
        t.state = State::FinWait1;
        t.counters.bytes_acked = 0;
        assert!(!t.syn_acked());
        assert_eq!(t.data_seq0(), t.snd.iss + 1);
    }

    /// One TCB per connection, boxed: with its two buffers, its table entry
    /// and its slot it makes the heap bytes per idle connection end that
    /// synack-bench measures (501 B, against a goal of 512; CUBIC's first
    /// slow start lives inside it, see `cc/small.rs`).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn the_tcb_stays_within_472_bytes() {
        let size = std::mem::size_of::<Tcb>();
        assert!(size <= 472, "a TCB takes {size} bytes");
    }
}

/// A [`SendReason`] kept in the TCB for a segment it has queued (an ACK or
/// a RST): one byte, where `SendReason` itself grows with the data its
/// capture-only variant carries. Only the reasons a connection queues exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queued {
    Normal,
    DelayedAck,
    TimeWaitAck,
    ChallengeAck,
    UnacceptableAck,
    DuplicateAck,
    WindowUpdate,
    Abort,
    Reset,
}

impl From<Queued> for SendReason {
    fn from(q: Queued) -> SendReason {
        match q {
            Queued::Normal => SendReason::Normal,
            Queued::DelayedAck => SendReason::DelayedAck,
            Queued::TimeWaitAck => SendReason::TimeWaitAck,
            Queued::ChallengeAck => SendReason::ChallengeAck,
            Queued::UnacceptableAck => SendReason::UnacceptableAck,
            Queued::DuplicateAck => SendReason::DuplicateAck,
            Queued::WindowUpdate => SendReason::WindowUpdate,
            Queued::Abort => SendReason::Abort,
            Queued::Reset => SendReason::Reset,
        }
    }
}
