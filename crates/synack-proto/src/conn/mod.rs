//! One connection: the transmission control block and the RFC 9293 3.10
//! state machine (OPEN, SEND, RECEIVE, CLOSE, ABORT, SEGMENT ARRIVES, timeouts).
//!
//! The TCB never builds packets: it consumes parsed segments and produces
//! [`OutSegment`] descriptions that the stack turns into bytes. Sequence space
//! bookkeeping follows the RFC names: `snd_una`, `snd_nxt`, `snd_wnd`,
//! `rcv_nxt`, `rcv_wnd`, `iss`, `irs`. `snd_max` is the highest sequence
//! number sent so far (`snd_nxt` falls back to `snd_una` on a retransmission
//! timeout, go-back-N, as BSD and Linux do).
//!
//! The TCB's code is spread over rooms, one per mechanism: `handshake`
//! (OPEN and the SYN-SENT step), `arrive` (SEGMENT ARRIVES in the other
//! states), `ack` (ACK processing), `recv` (text, reassembly, windows),
//! `ack_policy` (delayed and quick ACKs), `timestamps` (RFC 7323), `output`
//! (what to send next), `timers`, `tlp` (tail loss probe), `icmp` and `user`
//! (SEND, RECEIVE, CLOSE, ABORT and socket options).

mod ack;
mod ack_policy;
mod arrive;
mod handshake;
mod icmp;
mod output;
mod recv;
mod timers;
mod timestamps;
mod tlp;
mod user;

use crate::compact::{ByteRing, LazyVec, OptRange, PackedTuple};
use crate::config::ConnConfig;
use crate::ecn::EcnState;
use crate::error::ConnError;
use crate::event::{Cause, ConnId, DropReason, EventKind, FourTuple, ListenerId, SendReason};
use crate::probe::Probes;
use crate::recovery::scoreboard::Scoreboard;
use crate::rtt::{RtoBounds, RttEstimator};
use crate::sink::Sink;
use crate::state::State;
use crate::time::{Duration, Instant};
pub(crate) use arrive::closed_reply;
use arrive::OOW_ACK_INTERVAL_MS;
use handshake::rcv_wscale_for;
use recv::OooSeg;
use std::sync::Arc;
use synack_wire::{SeqNum, TcpFlags, TcpOptions};

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
    pub(crate) segs_out: u64,
    pub(crate) segs_in: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) bytes_acked: u64,
    pub(crate) bytes_received: u64,
    pub(crate) retransmits: u32,
    pub(crate) fast_retransmits: u32,
    pub(crate) rto_expirations: u32,
    pub(crate) dup_acks_in: u32,
}

/// The transmission control block.
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

    // Send sequence space (RFC 9293 3.3.1).
    pub(crate) iss: SeqNum,
    pub(crate) snd_una: SeqNum,
    pub(crate) snd_nxt: SeqNum,
    pub(crate) snd_max: SeqNum,
    pub(crate) snd_wnd: u32,
    snd_wl1: SeqNum,
    snd_wl2: SeqNum,
    max_snd_wnd: u32,
    /// The peer's window shift (applied to windows it sends).
    pub(crate) snd_wscale: u8,
    /// Unacknowledged and unsent data; `tx[0]` is at `data_seq0()`.
    tx: ByteRing,
    /// The application closed its sending side: a FIN follows the data.
    fin_queued: bool,
    /// Sequence number of our FIN, fixed when it is queued (no data follows it).
    fin_at: SeqNum,
    syn_retransmitted: bool,
    /// `syn_rexmit_drop_options` struck window scaling, timestamps and SACK from
    /// our SYN (a SYN,ACK answering an earlier SYN may still bring them).
    syn_options_dropped: bool,

    // Receive sequence space.
    pub(crate) irs: SeqNum,
    pub(crate) rcv_nxt: SeqNum,
    /// Right edge of the window last advertised (never moved left, RFC 9293 3.8.6.2.2).
    rcv_adv: SeqNum,
    /// Our window shift (applied to windows we send).
    pub(crate) rcv_wscale: u8,
    rx: ByteRing,
    ooo: LazyVec<OooSeg>,
    /// Bytes held for reassembly (at most the receive buffer, so u32).
    ooo_bytes: u32,
    /// The peer's FIN has been received in order.
    pub(crate) fin_received: bool,
    /// The application shut down reading.
    read_closed: bool,

    // Options.
    /// Effective send MSS (payload bytes per segment).
    pub(crate) snd_mss: u16,
    /// MSS we advertised.
    pub(crate) our_mss: u16,
    /// The largest payload the path carries, from the link MTU and ICMP
    /// Packet Too Big messages (RFC 1191, RFC 8201); caps `snd_mss`.
    path_mss: u16,
    /// Both sides sent the window scale option (RFC 7323 2.2).
    pub(crate) ws_enabled: bool,
    pub(crate) ts_enabled: bool,
    /// TS.Recent (RFC 7323 4.3): the TSval to echo next.
    ts_recent: u32,
    /// When TS.Recent was last set, for its 24-day validity (RFC 7323 5.5).
    ts_recent_stamp: Instant,
    /// When (milliseconds, wrapping) we last answered a pure ACK that was out of
    /// window or otherwise invalid (`OOW_ACK_INTERVAL_MS`).
    last_oow_ack_ms: u32,
    /// Last.ACK.sent (RFC 7323 4.3): the ACK field of the last ACK sent.
    last_ack_sent: SeqNum,
    /// Added to the 1 ms clock so TSvals do not reveal uptime (RFC 7323 5.4);
    /// set by the stack from a keyed hash of the 4-tuple.
    pub(crate) ts_offset: u32,
    /// A retransmission cleared the RTT probe (Karn's rule): the first ACK of new
    /// data echoing this TSval or a later one (so answering the retransmission, not
    /// an earlier transmission or a stale TS.Recent) is timed from its TSecr
    /// instead (RFC 7323 4.1, RFC 6298 3).
    ts_rtt_from: Option<u32>,
    pub(crate) sack_permitted: bool,
    /// SACK blocks describing the reassembly queue, the block holding the most
    /// recently received segment first (RFC 2018 4).
    sack_blocks: LazyVec<(SeqNum, SeqNum)>,
    /// A duplicate range to report in the first block of the next ACK (RFC 2883 4).
    dsack: OptRange,
    /// ECN negotiation and signals (RFC 3168 6.1).
    pub(crate) ecn: EcnState,

    // Congestion control (RFC 5681, RFC 6582).
    pub(crate) cwnd: u32,
    pub(crate) ssthresh: u32,
    /// Duplicate ACKs in a row (saturating; only small counts matter).
    dup_acks: u8,
    recover: SeqNum,
    /// The SACK scoreboard (RFC 6675 3), allocated only while the peer's SACK
    /// blocks report data above SND.UNA or a SACK-driven recovery runs.
    board: Option<Box<Scoreboard>>,
    in_recovery: bool,
    fast_rtx_pending: bool,

    // Timers as deadlines.
    pub(crate) rtt: RttEstimator,
    rtt_probe: Option<(SeqNum, Instant)>,
    /// The retransmission timer: the RTO (RFC 6298), or while `Probes::PTO` is
    /// set the tail loss probe timeout (RFC 8985 7.2), which never fires later
    /// than the RTO would, so the two share the slot. Set through `set_rtx`.
    rtx_deadline: Option<Instant>,
    pub(crate) rtx_count: u32,
    delack_deadline: Option<Instant>,
    persist_deadline: Option<Instant>,
    persist_backoff: u8,
    keepalive_deadline: Option<Instant>,
    keepalive_probes: u32,
    /// The deadline of the current stage, whose meaning the state gives (the three
    /// never overlap, so they share one field): in SYN_SENT/SYN_RCVD the attempt
    /// gives up (`establish_timeout`), in FIN_WAIT_2 an orphan goes
    /// (`fin_wait_2_timeout`), in TIME_WAIT 2*MSL ends.
    stage_deadline: Option<Instant>,
    /// When the oldest unacknowledged data was first sent (user timeout).
    unacked_since: Option<Instant>,
    last_recv: Instant,

    // Output requests.
    ack_now: Option<SendReason>,
    unacked_rx_bytes: u32,
    /// Data segments received since the last ACK went out.
    unacked_rx_segs: u32,
    /// ACKs still to be sent at once rather than delayed (quick-ACK mode).
    /// Immediate ACKs left (Linux caps quick-ack mode at 16; kept in a u16).
    quick_acks: u16,
    /// When in-order data last arrived (`None`: never), for re-entering quick-ACK mode.
    last_data_rx: Option<Instant>,
    rst_pending: Option<(SeqNum, SendReason)>,
    /// Zero-window and tail loss probe flags (see `Probes`).
    probes: Probes,
    keepalive_probe_pending: bool,
    /// TLP.end_seq (RFC 8985 7.1): SND.NXT when the outstanding loss probe
    /// went out; meaningful while `Probes::EPISODE` is set.
    tlp_end: SeqNum,
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
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: SeqNum(0),
            snd_wl2: iss,
            max_snd_wnd: 0,
            snd_wscale: 0,
            tx: ByteRing::new(),
            fin_queued: false,
            fin_at: iss,
            syn_retransmitted: false,
            syn_options_dropped: false,
            irs: SeqNum(0),
            rcv_nxt: SeqNum(0),
            rcv_adv: SeqNum(0),
            rcv_wscale,
            rx: ByteRing::new(),
            ooo: LazyVec::new(),
            ooo_bytes: 0,
            fin_received: false,
            read_closed: false,
            snd_mss: 536,
            our_mss,
            path_mss: our_mss,
            ws_enabled: false,
            ts_enabled: false,
            ts_recent: 0,
            ts_recent_stamp: now,
            last_oow_ack_ms: ms_of(now).wrapping_sub(OOW_ACK_INTERVAL_MS),
            last_ack_sent: SeqNum(0),
            ts_offset: 0,
            ts_rtt_from: None,
            sack_permitted: false,
            sack_blocks: LazyVec::new(),
            dsack: OptRange::NONE,
            ecn: EcnState::default(),
            cwnd: 0,
            ssthresh: u32::MAX,
            dup_acks: 0,
            recover: iss,
            board: None,
            in_recovery: false,
            fast_rtx_pending: false,
            rtt,
            rtt_probe: None,
            rtx_deadline: None,
            rtx_count: 0,
            delack_deadline: None,
            persist_deadline: None,
            persist_backoff: 0,
            keepalive_deadline: None,
            keepalive_probes: 0,
            stage_deadline: None,
            unacked_since: None,
            last_recv: now,
            ack_now: None,
            unacked_rx_bytes: 0,
            unacked_rx_segs: 0,
            quick_acks: 0,
            last_data_rx: None,
            rst_pending: None,
            probes: Probes::default(),
            keepalive_probe_pending: false,
            tlp_end: iss,
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
            self.stage_deadline = None;
        }
        if matches!(to, State::TimeWait | State::Closed) {
            // RFC 3168 6.1.1: TIME-WAIT and CLOSED ignore the ECN negotiation.
            self.ecn.forget();
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
                self.stage_deadline = Some(ctx.now + self.cfg.msl * 2);
            }
            State::Closed => {
                self.stop_timers();
                self.tx.clear();
                self.ooo.clear();
                self.ooo_bytes = 0;
                self.sack_blocks.clear();
                self.dsack.set(None);
                self.board = None;
            }
            State::FinWait2 => {
                self.set_rtx(None);
                if self.owner == Owner::Orphan {
                    self.stage_deadline = Some(ctx.now + self.cfg.fin_wait_2_timeout);
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

    fn syn_acked(&self) -> bool {
        self.snd_una.gt(self.iss)
    }

    /// Sequence number of `tx[0]`.
    fn data_seq0(&self) -> SeqNum {
        if self.syn_acked() {
            self.snd_una
        } else {
            self.iss + 1
        }
    }

    /// Sequence number of our FIN, when queued.
    fn fin_seq(&self) -> SeqNum {
        self.fin_at
    }

    /// Queue our FIN after all data now in the send buffer.
    fn queue_fin(&mut self) {
        self.fin_queued = true;
        self.fin_at = self.data_seq0() + self.tx.len() as u32;
    }

    /// The RTO's bounds from the (shared) configuration.
    fn rto_bounds(&self) -> RtoBounds {
        RtoBounds {
            min: self.cfg.min_rto,
            max: self.cfg.max_rto,
            slop: self.cfg.rto_slop,
        }
    }

    fn flight(&self) -> u32 {
        self.snd_nxt.since(self.snd_una)
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
        let sent_data = self.snd_nxt.since(self.data_seq0()) as usize;
        sent_data < self.tx.len() || (self.fin_queued && self.snd_nxt.le(self.fin_seq()))
    }

    /// Whether the connection can be freed: closed and nobody holds a handle.
    pub(crate) fn is_reapable(&self) -> bool {
        self.state == State::Closed && self.owner == Owner::Orphan && self.rst_pending.is_none()
    }

    /// Bytes in the send buffer not yet acknowledged.
    pub(crate) fn send_queued(&self) -> usize {
        self.tx.len()
    }

    /// Status fields used by snapshots.
    pub(crate) fn snapshot_parts(&self) -> (Option<Duration>, Duration, Duration, u32, u32) {
        (
            self.rtt.srtt(),
            self.rtt.rttvar(),
            self.rtt.rto(self.rto_bounds()),
            self.rtt.backoff(),
            self.keepalive_probes,
        )
    }
}
