//! One connection: the transmission control block and the RFC 9293 3.10
//! state machine (OPEN, SEND, RECEIVE, CLOSE, ABORT, SEGMENT ARRIVES, timeouts).
//!
//! The TCB never builds packets: it consumes parsed segments and produces
//! [`OutSegment`] descriptions that the stack turns into bytes. Sequence space
//! bookkeeping follows the RFC names: `snd_una`, `snd_nxt`, `snd_wnd`,
//! `rcv_nxt`, `rcv_wnd`, `iss`, `irs`. `snd_max` is the highest sequence
//! number sent so far (`snd_nxt` falls back to `snd_una` on a retransmission
//! timeout, go-back-N, as BSD and Linux do).

use crate::compact::{ByteRing, LazyVec, OptRange, PackedTuple};
use crate::config::{ConnConfig, Keepalive};
use crate::ecn::EcnState;
use crate::error::{ConnError, Error};
use crate::event::{
    Cause, ConnId, DropReason, EventKind, FourTuple, ListenerId, SendReason, TimerKind,
};
use crate::icmp::IcmpAction;
use crate::probe::{self, Probes};
use crate::rtt::{RtoBounds, RttEstimator};
use crate::sack::{Retransmission, Scoreboard};
use crate::sink::Sink;
use crate::state::State;
use crate::time::{Duration, Instant};
use std::ops::Range;
use std::sync::Arc;
use synack_wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr, Timestamps};

/// The least MSS used toward a peer that advertises a tiny one (Linux's
/// `TCP_MIN_SND_MSS` is 48): smaller segments cost more in headers than they
/// carry and invite resource exhaustion. Our own link's MSS still caps it.
pub(crate) const MIN_SND_MSS: u16 = 64;

/// The least time between two ACKs answering out-of-window pure ACKs on one
/// connection (Linux `tcp_invalid_ratelimit`: 500 ms).
const OOW_ACK_INTERVAL_MS: u32 = 500;

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

/// An out-of-order segment held for reassembly.
#[derive(Debug, Clone)]
struct OooSeg {
    seq: SeqNum,
    data: Vec<u8>,
    fin: bool,
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

/// Append `buf[start..end]` to `out` as at most two slice copies (the ring's
/// two halves), never byte by byte.
fn copy_range(buf: &ByteRing, start: usize, end: usize, out: &mut Vec<u8>) {
    let (a, b) = buf.as_slices();
    if start < a.len() {
        out.extend_from_slice(&a[start..end.min(a.len())]);
    }
    if end > a.len() {
        out.extend_from_slice(&b[start.saturating_sub(a.len())..end - a.len()]);
    }
}

/// RFC 7323 5.5: how long TS.Recent stays valid for PAWS (24 days).
const PAWS_IDLE_LIMIT: Duration = Duration::from_secs(24 * 24 * 60 * 60);

/// The longest an ACK is delayed, whatever the configuration says.
const MAX_DELAYED_ACK: Duration = Duration::from_millis(200);

/// Where a segment's payload lies in the send buffer: the stack copies it
/// straight from there into the packet.
fn take_range(_buf: &ByteRing, start: usize, end: usize, out: &mut Range<usize>) {
    *out = start..end;
}

fn rcv_wscale_for(buffer: usize) -> u8 {
    // RFC 7323 2.3: the smallest shift that lets the 16-bit field cover the buffer, at most 14.
    let mut shift = 0u8;
    while shift < 14 && (buffer >> shift) > 0xffff {
        shift += 1;
    }
    shift
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

    /// OPEN, active (RFC 9293 3.10.1): CLOSED -> SYN_SENT; the SYN goes out on the next poll.
    pub(crate) fn new_active(
        id: ConnId,
        tuple: FourTuple,
        cfg: Arc<ConnConfig>,
        iss: SeqNum,
        our_mss: u16,
        ctx: &mut SegCtx<'_>,
    ) -> Tcb {
        let mut t = Tcb::blank(id, tuple, cfg, iss, our_mss, ctx.now, Origin::Active);
        t.set_state(State::SynSent, Cause::Connect, ctx);
        t.arm_establish(ctx.now);
        t
    }

    /// A SYN arrived at a listener (RFC 9293 3.10.7.2): LISTEN -> SYN_RCVD for a new entry.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_passive(
        id: ConnId,
        tuple: FourTuple,
        cfg: Arc<ConnConfig>,
        iss: SeqNum,
        our_mss: u16,
        listener: ListenerId,
        syn: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
    ) -> Tcb {
        let mut t = Tcb::blank(
            id,
            tuple,
            cfg,
            iss,
            our_mss,
            ctx.now,
            Origin::Passive(listener),
        );
        t.state = State::Listen;
        t.irs = syn.seq;
        t.rcv_nxt = syn.seq + 1;
        t.rcv_adv = t.rcv_nxt;
        t.apply_syn_options(&syn.options);
        // RFC 3168 6.1.1: whether the SYN is ECN-setup decides the SYN,ACK.
        t.ecn.syn_received(syn.flags);
        // RFC 9293 3.10.7.2: SND.WND from the SYN (never scaled on a SYN, RFC 7323 2.2).
        t.snd_wnd = u32::from(syn.window);
        t.max_snd_wnd = t.snd_wnd;
        t.snd_wl1 = syn.seq;
        t.snd_wl2 = iss;
        t.set_state(State::SynReceived, Cause::RecvSyn, ctx);
        t.arm_establish(ctx.now);
        t
    }

    /// A connection recreated from a valid SYN cookie (RFC 4987 3.6): straight to ESTABLISHED.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_cookie(
        id: ConnId,
        tuple: FourTuple,
        cfg: Arc<ConnConfig>,
        iss: SeqNum,
        irs: SeqNum,
        peer_mss: u16,
        our_mss: u16,
        listener: ListenerId,
        ack: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
    ) -> Tcb {
        let mut t = Tcb::blank(
            id,
            tuple,
            cfg,
            iss,
            our_mss,
            ctx.now,
            Origin::Passive(listener),
        );
        t.state = State::Listen;
        // The cookie cannot carry window scaling, SACK or timestamps (see cookie.rs):
        // the connection runs without them.
        t.rcv_wscale = 0;
        t.irs = irs;
        t.rcv_nxt = irs + 1;
        // The cookie SYN,ACK advertised min(buffer, 65535) unscaled (see Stack::listener_segment).
        t.rcv_adv = t.rcv_nxt + t.cfg.recv_buffer.min(0xffff) as u32;
        t.snd_una = iss + 1;
        t.snd_nxt = iss + 1;
        t.snd_max = iss + 1;
        t.snd_mss = peer_mss.max(MIN_SND_MSS).min(our_mss);
        t.snd_wnd = u32::from(ack.window);
        t.max_snd_wnd = t.snd_wnd;
        t.snd_wl1 = ack.seq;
        t.snd_wl2 = ack.ack;
        t.init_cwnd();
        t.set_state(State::Established, Cause::SynCookie, ctx);
        t.arm_keepalive(ctx.now);
        t
    }

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

    fn stop_timers(&mut self) {
        self.set_rtx(None);
        self.probes.set(Probes::TLP_DUE, false);
        self.delack_deadline = None;
        self.persist_deadline = None;
        self.keepalive_deadline = None;
        self.stage_deadline = None;
        self.unacked_since = None;
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

    /// Receive window we can offer now.
    fn rcv_space(&self) -> u32 {
        (self.cfg.recv_buffer.saturating_sub(self.rx.len())) as u32
    }

    /// RCV.WND as advertised: from RCV.NXT to the advertised right edge.
    pub(crate) fn rcv_wnd(&self) -> u32 {
        let adv = self.rcv_adv.diff(self.rcv_nxt);
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
    fn rcv_wnd_accept(&self) -> u32 {
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
            State::TimeWait => wnd.max(self.rcv_space().min(0xffff << self.rcv_wscale)),
            _ => wnd.max(self.rcv_space()),
        }
    }

    fn apply_syn_options(&mut self, o: &TcpOptions) {
        // RFC 9293 3.7.1 / RFC 6691: without the option assume 536 (IPv4) or 1220 (IPv6).
        let default_mss = if self.tuple().remote.is_ipv4() {
            536
        } else {
            1220
        };
        // The floor applies to what the peer claims, never beyond what our link carries.
        let peer_mss = o.mss.unwrap_or(default_mss).max(MIN_SND_MSS);
        self.snd_mss = peer_mss.min(self.our_mss).min(self.path_mss);
        // RFC 7323 2.2: scaling only if both sides sent the option; shift at most 14 (2.3).
        // A SYN,ACK carrying an option answers one of our SYNs that offered it, even
        // after `syn_rexmit_drop_options` struck it from later ones (the peer may only
        // send these options in reply to ours: RFC 7323 2.2, 3.2; RFC 2018 2), so
        // both sides did send it and the connection uses it. FreeBSD ignores them
        // then, and disagrees with the peer about window scaling.
        match (o.window_scale, self.cfg.window_scaling) {
            (Some(ws), true) => {
                self.snd_wscale = ws.min(14);
                self.ws_enabled = true;
            }
            _ => {
                self.snd_wscale = 0;
                self.rcv_wscale = 0;
            }
        }
        // RFC 7323 3.2: timestamps only if both sides sent them; the SYN's TSval is
        // the first TS.Recent, and every later segment gives up 12 bytes to the option.
        self.last_ack_sent = self.rcv_nxt;
        if let (Some(ts), true) = (o.timestamps, self.cfg.timestamps) {
            self.ts_enabled = true;
            self.ts_recent = ts.tsval;
            self.ts_recent_stamp = self.last_recv;
            // RFC 6691: the option's 12 octets come out of the payload; the floor
            // again only as far as our own link carries it.
            let link = self.our_mss.saturating_sub(12);
            self.snd_mss = self.snd_mss.saturating_sub(12).max(MIN_SND_MSS.min(link));
        } else {
            self.ts_enabled = false;
        }
        self.sack_permitted = o.sack_permitted && self.cfg.sack;
        if self.origin == Origin::Active {
            self.round_recv_buffer();
        }
    }

    /// Window scaling is configured and was not dropped from our SYN.
    fn offers_ws(&self) -> bool {
        self.cfg.window_scaling && !self.syn_options_dropped
    }

    /// Timestamps are configured and were not dropped from our SYN.
    fn offers_ts(&self) -> bool {
        self.cfg.timestamps && !self.syn_options_dropped
    }

    /// SACK is configured and was not dropped from our SYN.
    fn offers_sack(&self) -> bool {
        self.cfg.sack && !self.syn_options_dropped
    }

    /// `round_recv_buffer_to_mss`: once the MSS is known and the connection has its
    /// own buffer (at once for an active open, on ESTABLISHED for a passive one, as
    /// FreeBSD sizes the socket the syncache creates).
    fn round_recv_buffer(&mut self) {
        if self.cfg.round_recv_buffer_to_mss {
            let mss = usize::from(self.snd_mss);
            if self.cfg.recv_buffer > mss {
                // Only the connections using this FreeBSD knob pay for their own copy.
                let rounded = self.cfg.recv_buffer.div_ceil(mss) * mss;
                Arc::make_mut(&mut self.cfg).recv_buffer = rounded;
            }
        }
    }

    fn init_cwnd(&mut self) {
        // RFC 6928 2: IW = min(10*MSS, max(2*MSS, 14600)) with the default of 10 segments.
        let mss = u32::from(self.snd_mss);
        let n = self.cfg.initial_cwnd_segments.max(1);
        self.cwnd = if n == 10 {
            (10 * mss).min((2 * mss).max(14600))
        } else {
            n * mss
        };
        if self.syn_retransmitted {
            // RFC 5681 3.1: a lost SYN (or SYN,ACK) means a loss window of one segment.
            self.cwnd = mss;
        }
    }

    /// Start the connection-establishment timer at the OPEN (FreeBSD arms TCP_KEEPINIT
    /// in `tcp_connect` and for the syncache's SYN; a later segment does not restart it).
    fn arm_establish(&mut self, now: Instant) {
        self.stage_deadline = self.cfg.establish_timeout.map(|t| now + t);
    }

    fn arm_keepalive(&mut self, now: Instant) {
        self.keepalive_deadline = self.cfg.keepalive.map(|k| now + k.idle);
        self.keepalive_probes = 0;
    }

    /// TSval: a 1 ms clock (RFC 7323 5.4 allows 1 ms to 1 s per tick) plus the
    /// connection's random offset, monotonic modulo 2^32 as `now` is.
    fn ts_now(&self, now: Instant) -> u32 {
        ((now.micros() / 1000) as u32).wrapping_add(self.ts_offset)
    }

    /// RFC 7323 5.5: TS.Recent older than 24 days is no longer valid for PAWS.
    fn ts_recent_valid(&self, now: Instant) -> bool {
        now.saturating_since(self.ts_recent_stamp) <= PAWS_IDLE_LIMIT
    }

    /// RFC 7323 5.3 R1: in a synchronized state, a non-RST segment whose TSval is
    /// older than a valid TS.Recent is not acceptable.
    fn paws_reject(&self, seg: &TcpRepr<'_>, now: Instant) -> bool {
        match seg.options.timestamps {
            Some(ts) if self.ts_enabled && !seg.flags.rst() && self.state.is_synchronized() => {
                (ts.tsval.wrapping_sub(self.ts_recent) as i32) < 0 && self.ts_recent_valid(now)
            }
            _ => false,
        }
    }

    /// RFC 7323 4.3 (2): TS.Recent takes SEG.TSval when SEG.TSval >= TS.Recent (or
    /// TS.Recent is stale, 5.5) and SEG.SEQ =< Last.ACK.sent, i.e. the segment
    /// covers the point last acknowledged: the echo then times the oldest segment
    /// the next ACK acknowledges, and a delayed ACK echoes the earliest of the run.
    fn update_ts_recent(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        let Some(ts) = seg.options.timestamps else {
            return;
        };
        if !self.ts_enabled || !seg.seq.le(self.last_ack_sent) {
            return;
        }
        if (ts.tsval.wrapping_sub(self.ts_recent) as i32) >= 0 || !self.ts_recent_valid(now) {
            self.ts_recent = ts.tsval;
            self.ts_recent_stamp = now;
        }
    }

    /// RFC 7323 4.1 / RFC 6298 3: RTT from the echoed timestamp of an ACK of new
    /// data, used once after a retransmission (Karn's rule holds back the
    /// sequence-based sample then; a TSecr names the transmission it answers).
    fn ts_rtt_sample(&mut self, seg: &TcpRepr<'_>, now: Instant) {
        let Some(from) = self.ts_rtt_from else {
            return;
        };
        if !seg.flags.ack() || !seg.ack.gt(self.snd_una) {
            return;
        }
        if self.rtt_probe.is_some_and(|(end, _)| seg.ack.ge(end)) {
            // New data sent since the retransmission is timed exactly by the probe.
            self.ts_rtt_from = None;
            return;
        }
        let Some(ts) = seg.options.timestamps.filter(|_| self.ts_enabled) else {
            return;
        };
        // RFC 7323 3.2: TSecr is valid only with ACK; 0 is what an unset echo sends
        // (as Linux, ignore it). An echo from the future is not ours.
        let elapsed = self.ts_now(now).wrapping_sub(ts.tsecr) as i32;
        if ts.tsecr == 0 || elapsed < 0 || (ts.tsecr.wrapping_sub(from) as i32) < 0 {
            return;
        }
        let bounds = self.rto_bounds();
        self.rtt.sample(
            Duration::from_millis(u64::from(elapsed.max(1) as u32)),
            bounds,
        );
        self.ts_rtt_from = None;
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

    /// Challenge ACK (RFC 5961 3.2, 4.2, 5.2) subject to the stack-wide rate limit (RFC 5961 7).
    /// Linux `tcp_oow_rate_limited`: an ACK answering a pure ACK (no data, SYN or
    /// FIN) that was out of window or invalid goes out at most once per
    /// `OOW_ACK_INTERVAL_MS` per connection. Two ends that disagree about the
    /// sequence space would otherwise answer each other's ACKs for ever, one more
    /// loop with every retransmission (an "ACK war"). Answers to data, SYNs and
    /// FINs are never held back: they can be what a peer needs to recover.
    fn oow_ack_limited(&mut self, seg: &TcpRepr<'_>, now: Instant) -> bool {
        // Linux exempts data and FIN segments without SYN; challenge ACKs for
        // SYNs (RFC 5961 4.2) are limited per connection too.
        if (!seg.payload.is_empty() || seg.flags.fin()) && !seg.flags.syn() {
            return false;
        }
        let ms = ms_of(now);
        if ms.wrapping_sub(self.last_oow_ack_ms) < OOW_ACK_INTERVAL_MS {
            return true;
        }
        self.last_oow_ack_ms = ms;
        false
    }

    /// Answer an out-of-window or invalid segment with an ACK, unless the
    /// per-connection limit holds it back (then the drop is counted).
    fn oow_ack(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>, reason: SendReason) {
        if self.oow_ack_limited(seg, ctx.now) {
            self.drop_seg(ctx, DropReason::OowAckLimited);
        } else {
            self.ack_now = Some(reason);
        }
    }

    fn challenge_ack(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>, seg_reason: DropReason) {
        if self.oow_ack_limited(seg, ctx.now) {
            // RFC 5961 7 leaves the limit's form open: per connection first (Linux).
            self.drop_seg(ctx, DropReason::OowAckLimited);
        } else if *ctx.challenge_tokens > 0 {
            *ctx.challenge_tokens -= 1;
            self.ack_now = Some(SendReason::ChallengeAck);
            self.drop_seg(ctx, seg_reason);
        } else {
            self.drop_seg(ctx, DropReason::ChallengeAckLimited);
        }
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

    // ----- SEGMENT ARRIVES ----------------------------------------------

    /// [`Tcb::on_segment`] for a segment whose IP header carried the CE codepoint
    /// (`ce`): the mark counts only where RFC 3168 6.1.3 / 6.1.5 say it does.
    pub(crate) fn on_packet(
        &mut self,
        seg: &TcpRepr<'_>,
        ce: bool,
        ctx: &mut SegCtx<'_>,
    ) -> Disposition {
        self.ecn.set_ce_in(ce);
        let d = self.on_segment(seg, ctx);
        self.ecn.set_ce_in(false);
        d
    }

    /// RFC 9293 3.10.7: process one segment for this connection.
    pub(crate) fn on_segment(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) -> Disposition {
        self.counters.segs_in += 1;
        match self.state {
            State::Closed | State::Listen => {
                // A closed TCB that still has a handle: behave as 3.10.7.1 says for CLOSED.
                self.drop_seg(ctx, DropReason::Closed);
                closed_reply(seg)
            }
            State::SynSent => self.on_segment_syn_sent(seg, ctx),
            _ => self.on_segment_other(seg, ctx),
        }
    }

    /// RFC 9293 3.10.7.3: SYN-SENT.
    fn on_segment_syn_sent(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) -> Disposition {
        let f = seg.flags;
        // First, check the ACK bit.
        if f.ack() {
            // If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set).
            if seg.ack.le(self.iss) || seg.ack.gt(self.snd_max) {
                self.drop_seg(ctx, DropReason::BadAckSynSent);
                if f.rst() {
                    return Disposition::Done;
                }
                return Disposition::Reset {
                    seq: seg.ack,
                    ack: None,
                };
            }
        }
        // Second, check the RST bit.
        if f.rst() {
            if f.ack() {
                // RFC 5961 3.2 / RFC 9293: the RST is acceptable if it acknowledges our SYN.
                self.fail(ConnError::Refused, Cause::RecvRst, ctx);
            } else {
                self.drop_seg(ctx, DropReason::BadAckSynSent);
            }
            return Disposition::Done;
        }
        // Fourth, check the SYN bit.
        if !f.syn() {
            // Fifth: neither SYN nor RST: drop.
            self.drop_seg(ctx, DropReason::SynSentNoSyn);
            return Disposition::Done;
        }
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.apply_syn_options(&seg.options);
        self.last_recv = ctx.now;
        if f.ack() {
            // RFC 3168 6.1.1: an ECN-setup SYN,ACK (ECE without CWR) completes the
            // negotiation our ECN-setup SYN began; any other SYN,ACK means no ECN.
            self.ecn.syn_ack_received(f);
            // Our SYN is acknowledged: ESTABLISHED.
            self.ts_rtt_sample(seg, ctx.now);
            self.process_new_ack(seg.ack, ctx);
            self.snd_wnd = u32::from(seg.window); // RFC 7323 2.2: not scaled on a SYN.
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
            self.rcv_adv = self.rcv_nxt + self.rcv_space().min(0xffff << self.rcv_wscale);
            self.init_cwnd();
            if self.syn_retransmitted {
                self.rtt.reset_after_syn_retransmit(self.rto_bounds());
            }
            self.set_state(State::Established, Cause::RecvSynAck, ctx);
            self.arm_keepalive(ctx.now);
            self.ack_now.get_or_insert(SendReason::Normal);
            // Data or a FIN on the SYN,ACK continue at the sixth step.
            if !seg.payload.is_empty() || f.fin() {
                let trimmed = TcpRepr {
                    seq: seg.seq + 1,
                    flags: TcpFlags(f.0 & !TcpFlags::SYN.0),
                    ..*seg
                };
                self.process_text_and_fin(&trimmed, ctx);
            }
        } else {
            // RFC 3168 6.1.1: in a simultaneous open the peer's SYN is answered as a
            // listener would; our SYN,ACK says whether we agree.
            self.ecn.syn_received(f);
            // Simultaneous open: SYN_RCVD, send SYN,ACK with the original ISS (RFC 9293 3.10.7.3).
            self.snd_wnd = u32::from(seg.window);
            self.max_snd_wnd = self.snd_wnd;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = self.iss;
            self.rcv_adv = self.rcv_nxt + self.rcv_space().min(0xffff);
            self.snd_nxt = self.iss; // the SYN,ACK re-sends our SYN's sequence number
            self.set_state(State::SynReceived, Cause::RecvSynSimultaneous, ctx);
            // "If there are other controls or text in the segment, queue them for
            // processing after the ESTABLISHED state has been reached."
            if !seg.payload.is_empty() || f.fin() {
                let _ = self.insert_ooo(seg.seq + 1, seg.payload, f.fin());
            }
        }
        Disposition::Done
    }

    /// RFC 9293 3.10.7.4 acceptability test (the four cases).
    fn acceptable(&self, seq: SeqNum, len: u32) -> bool {
        let wnd = self.rcv_wnd_accept();
        match (len, wnd) {
            (0, 0) => seq == self.rcv_nxt,
            (0, _) => seq.in_window(self.rcv_nxt, wnd),
            (_, 0) => false,
            (_, _) => {
                seq.in_window(self.rcv_nxt, wnd) || (seq + (len - 1)).in_window(self.rcv_nxt, wnd)
            }
        }
    }

    /// RFC 9293 3.10.7.4: SYN-RECEIVED and the synchronized states.
    fn on_segment_other(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) -> Disposition {
        let f = seg.flags;

        // Simultaneous open: the peer's SYN,ACK in SYN_RCVD (Linux tcp_validate_incoming
        // accepts exactly this; the strict RFC test would reject the SYN's old sequence number).
        if self.state == State::SynReceived
            && matches!(self.origin, Origin::Active)
            && f.syn()
            && f.ack()
            && !f.rst()
            && seg.seq + 1 == self.rcv_nxt
            && seg.ack == self.snd_max
        {
            // RFC 3168 6.1.1: the peer's SYN,ACK counts in the negotiation as well.
            self.ecn.syn_ack_received(f);
            let rest = TcpRepr {
                seq: seg.seq + 1,
                flags: TcpFlags(f.0 & !TcpFlags::SYN.0),
                ..*seg
            };
            return self.on_segment_other(&rest, ctx);
        }

        // A retransmitted SYN in SYN_RCVD: re-send the SYN,ACK (as Linux does for a duplicate SYN).
        if self.state == State::SynReceived
            && f.syn()
            && !f.ack()
            && !f.rst()
            && seg.seq == self.irs
        {
            // RFC 7323 4.3: SEG.SEQ (the ISN) =< Last.ACK.sent: the SYN,ACK echoes the
            // newest SYN, so the peer can time it.
            self.update_ts_recent(seg, ctx.now);
            // RFC 3168 6.1.1.1: a peer that gave up on ECN retransmits a plain SYN;
            // the SYN,ACK answering it is plain too and ECN stays off.
            self.ecn.syn_received(f);
            self.snd_nxt = self.iss;
            self.counters.retransmits += 1;
            return Disposition::Done;
        }

        // RFC 7323 5.3 R1 (PAWS), before the window test: an old TSval marks an old
        // duplicate; acknowledge (as for an unacceptable segment) and drop it.
        if self.paws_reject(seg, ctx.now) {
            self.drop_seg(ctx, DropReason::PawsRejected);
            self.oow_ack(seg, ctx, SendReason::UnacceptableAck);
            return Disposition::Done;
        }

        // TIME_WAIT (RFC 9293 3.10.7.4 eighth, TIME-WAIT): a retransmitted FIN is
        // acknowledged and the 2*MSL timer restarted. Checked before the window test because
        // the FIN is at RCV.NXT-1.
        if self.state == State::TimeWait
            && f.fin()
            && !f.rst()
            && !f.syn()
            && seg.seq + seg.seg_len() == self.rcv_nxt
        {
            self.ack_now = Some(SendReason::TimeWaitAck);
            self.stage_deadline = Some(ctx.now + self.cfg.msl * 2);
            return Disposition::Done;
        }

        // First, check the sequence number.
        let seg_len = seg.seg_len();
        if self.state == State::TimeWait
            && f.ack()
            && !f.rst()
            && !f.syn()
            && (seg.seq != self.rcv_nxt || seg_len != 0)
            && self.acceptable(seg.seq, seg_len)
        {
            // TIME-WAIT: only a retransmitted FIN is expected (RFC 9293 3.10.7.4 fifth);
            // any other acceptable segment with the ACK bit but a bare ACK at exactly
            // RCV.NXT is answered with an ACK of where we stand, as Linux
            // (`tcp_timewait_state_process`) and FreeBSD (`tcp_twcheck`) do, so a peer
            // that missed our last ACK learns it. Without the ACK bit the fifth step
            // drops it silently.
            self.oow_ack(seg, ctx, SendReason::TimeWaitAck);
            return Disposition::Done;
        }
        if !self.acceptable(seg.seq, seg_len) {
            // If an incoming segment is not acceptable, an acknowledgment should be sent in
            // reply (unless the RST bit is set) and the segment dropped.
            if f.rst() {
                self.drop_seg(ctx, DropReason::RstNotExact);
            } else if f.syn() && self.state.is_synchronized() {
                // RFC 5961 4.2: a SYN, whatever its sequence number, gets a challenge ACK.
                self.challenge_ack(seg, ctx, DropReason::SynInWindow);
            } else {
                self.drop_seg(ctx, DropReason::Unacceptable);
                let stale_ack_news = self.state.is_synchronized()
                    && f.ack()
                    && seg_len > 0
                    && seg.seq + seg_len == self.rcv_nxt
                    && seg.ack.gt(self.snd_una)
                    && seg.ack.le(self.snd_max);
                if stale_ack_news {
                    // A retransmission ending exactly at RCV.NXT (typically the peer's
                    // FIN again) whose ACK field acknowledges new data of ours: its text
                    // is old, but its acknowledgment is news. RFC 9293 3.10.7.4 would
                    // drop it whole; Linux (`tcp_sequence` tests the end against
                    // RCV.WUP) and FreeBSD (which trims the old part) both take the ACK,
                    // so that e.g. CLOSING learns that its FIN arrived without waiting
                    // for its own retransmission. The old text is acknowledged below.
                    let rest = TcpRepr {
                        seq: self.rcv_nxt,
                        flags: TcpFlags(f.0 & !(TcpFlags::FIN.0 | TcpFlags::PSH.0)),
                        payload: &[],
                        ..*seg
                    };
                    let d = self.on_segment_other(&rest, ctx);
                    match self.state {
                        _ if !matches!(d, Disposition::Done) => return d,
                        State::Closed => return d,
                        State::TimeWait => {
                            // RFC 9293 3.10.7.4 (TIME-WAIT): a retransmitted FIN is
                            // acknowledged again.
                            self.ack_now = Some(SendReason::TimeWaitAck);
                            return d;
                        }
                        _ => {}
                    }
                }
                if self.state == State::SynReceived {
                    // Our SYN is unacknowledged: the only "ACK" we can send is the SYN,ACK.
                    self.snd_nxt = self.iss;
                } else {
                    self.oow_ack(seg, ctx, SendReason::UnacceptableAck);
                    if !seg.payload.is_empty() && seg.seq == self.rcv_nxt {
                        // A probe of our zero window (RFC 3168 6.1.6).
                        self.ecn.on_window_probe();
                    }
                    if self.sack_permitted
                        && self.cfg.dsack
                        && !seg.payload.is_empty()
                        && seg.seq.lt(self.rcv_nxt)
                    {
                        // RFC 2883 4: data we already have is reported in a D-SACK block.
                        self.dsack
                            .set(self.duplicate_range(seg.seq, seg.payload.len() as u32));
                    }
                }
            }
            return Disposition::Done;
        }
        self.last_recv = ctx.now;
        if self.cfg.keepalive.is_some() && self.state.is_synchronized() {
            self.arm_keepalive(ctx.now);
        }

        // Second, check the RST bit (RFC 5961 3.2: exact match resets, in-window challenges).
        if f.rst() {
            if seg.seq != self.rcv_nxt && self.cfg.rst_challenge {
                self.challenge_ack(seg, ctx, DropReason::RstNotExact);
                return Disposition::Done;
            }
            return match self.state {
                State::SynReceived => match self.origin {
                    // RFC 9293 3.10.7.4: passive open returns to LISTEN.
                    Origin::Passive(_) => {
                        self.set_state(State::Closed, Cause::RecvRst, ctx);
                        Disposition::BackToListen
                    }
                    // Active open: connection refused.
                    Origin::Active => {
                        self.fail(ConnError::Refused, Cause::RecvRst, ctx);
                        Disposition::Done
                    }
                },
                State::TimeWait => {
                    // RFC 1337: a RST does not cut TIME_WAIT short.
                    self.drop_seg(ctx, DropReason::RstInTimeWait);
                    Disposition::Done
                }
                State::Closing | State::LastAck => {
                    // RFC 9293 3.10.7.4: enter CLOSED. The application may still hold the
                    // socket (after shutdown(Write)); like Linux's tcp_reset, it sees the reset.
                    self.fail(ConnError::Reset, Cause::RecvRst, ctx);
                    Disposition::Done
                }
                _ => {
                    // ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT: outstanding calls get "reset".
                    self.tx.clear();
                    self.fail(ConnError::Reset, Cause::RecvRst, ctx);
                    Disposition::Done
                }
            };
        }

        // Fourth, check the SYN bit.
        if f.syn() {
            if self.state == State::SynReceived {
                if let Origin::Passive(_) = self.origin {
                    // RFC 9293 3.10.7.4: passive open returns to LISTEN.
                    self.set_state(State::Closed, Cause::RecvRst, ctx);
                    return Disposition::BackToListen;
                }
            }
            if !self.cfg.syn_challenge {
                // RFC 793 3.9: an in-window SYN is an error: reset, flush, CLOSED.
                let (seq, ack) = (self.snd_max, self.rcv_nxt);
                self.tx.clear();
                self.fail(ConnError::Reset, Cause::RecvRst, ctx);
                return Disposition::Reset {
                    seq,
                    ack: Some(ack),
                };
            }
            // RFC 5961 4.2: challenge ACK in synchronized states.
            self.challenge_ack(seg, ctx, DropReason::SynInWindow);
            return Disposition::Done;
        }

        // Fifth, check the ACK field.
        if !f.ack() {
            self.drop_seg(ctx, DropReason::NoAck);
            return Disposition::Done;
        }
        self.ts_rtt_sample(seg, ctx.now);
        if self.state == State::SynReceived {
            // If SND.UNA < SEG.ACK =< SND.NXT, enter ESTABLISHED; otherwise send a reset.
            if seg.ack.gt(self.snd_una) && seg.ack.le(self.snd_max) {
                // RFC 7323 4.3: an acceptable segment may advance TS.Recent.
                self.update_ts_recent(seg, ctx.now);
                self.process_new_ack(seg.ack, ctx);
                self.snd_wnd = u32::from(seg.window) << self.snd_wscale;
                self.max_snd_wnd = self.max_snd_wnd.max(self.snd_wnd);
                self.snd_wl1 = seg.seq;
                self.snd_wl2 = seg.ack;
                self.init_cwnd();
                if self.syn_retransmitted {
                    self.rtt.reset_after_syn_retransmit(self.rto_bounds());
                }
                if self.origin != Origin::Active {
                    self.round_recv_buffer();
                }
                self.set_state(State::Established, Cause::RecvAckOfSyn, ctx);
                self.arm_keepalive(ctx.now);
                // Text or a FIN queued in SYN_RCVD (RFC 9293 3.10.7.3) is processed now.
                if self.ooo.first().is_some_and(|s| s.seq == self.rcv_nxt) {
                    let fin = self.drain_ooo();
                    self.schedule_ack(ctx.now);
                    if fin {
                        self.on_fin(ctx);
                    }
                }
                // A FIN may have been queued while in SYN_RCVD (CLOSE in SYN-RECEIVED).
                if self.fin_queued {
                    self.set_state(State::FinWait1, Cause::Close, ctx);
                }
            } else {
                self.drop_seg(ctx, DropReason::AckTooNew);
                return Disposition::Reset {
                    seq: seg.ack,
                    ack: None,
                };
            }
        } else {
            // RFC 5961 5.2: SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT, else ACK and drop.
            if seg.ack.gt(self.snd_max) {
                self.drop_seg(ctx, DropReason::AckTooNew);
                self.oow_ack(seg, ctx, SendReason::ChallengeAck);
                return Disposition::Done;
            }
            if seg.ack.lt(self.snd_una - self.max_snd_wnd.max(1)) {
                self.challenge_ack(seg, ctx, DropReason::AckTooOld);
                return Disposition::Done;
            }
            // RFC 7323 4.3: an acceptable segment may advance TS.Recent; only once its
            // ACK passed too (as Linux), so a blind segment with a bad ACK cannot push
            // TS.Recent ahead and make PAWS drop the peer's real segments.
            self.update_ts_recent(seg, ctx.now);
            self.process_ack(seg, ctx);
            if self.state == State::Closed {
                return Disposition::Done;
            }
        }

        // State transitions driven by the ACK of our FIN.
        let our_fin_acked = self.fin_queued && self.snd_una == self.fin_seq() + 1;
        match self.state {
            State::FinWait1 if our_fin_acked => {
                // If the same segment carries the peer's FIN in order, the eighth step
                // goes straight to TIME_WAIT (the three-segment close).
                let fin_in_order = f.fin() && seg.seq + seg.payload.len() as u32 == self.rcv_nxt;
                if !fin_in_order {
                    self.set_state(State::FinWait2, Cause::RecvAckOfFin, ctx);
                }
            }
            State::Closing if our_fin_acked => {
                self.set_state(State::TimeWait, Cause::RecvAckOfFin, ctx);
                return Disposition::Done;
            }
            State::LastAck if our_fin_acked => {
                self.set_state(State::Closed, Cause::RecvAckOfFin, ctx);
                return Disposition::Done;
            }
            _ => {}
        }

        // RFC 3168 6.1.3 / 6.1.5: CE and CWR count on segments inside the window only.
        if self.ecn.on_segment(f, !seg.payload.is_empty()) {
            self.ack_now.get_or_insert(SendReason::Normal);
        }

        // Sixth (URG) is not implemented beyond ignoring the pointer (RFC 6093 deprecates it).
        // Seventh and eighth: text and FIN.
        self.process_text_and_fin(seg, ctx);
        Disposition::Done
    }

    /// An ACK that advances SND.UNA (the SYN or data): bookkeeping common to all states.
    fn process_new_ack(&mut self, ack: SeqNum, ctx: &mut SegCtx<'_>) {
        let mut acked = ack.since(self.snd_una);
        if acked == 0 {
            return;
        }
        let had_syn = !self.syn_acked();
        if had_syn {
            acked -= 1;
        }
        let data = (acked as usize).min(self.tx.len());
        self.tx.drain(..data);
        self.counters.bytes_acked += data as u64;
        self.snd_una = ack;
        // Something got through: forget a soft error (Linux `tcp_ack`, FreeBSD
        // `tcp_xmit_timer`), it no longer explains a later timeout.
        self.soft_error = None;
        if self.snd_nxt.lt(ack) {
            self.snd_nxt = ack;
        }
        // RTT sample (Karn: the probe is cleared when a segment is retransmitted).
        if let Some((end, sent)) = self.rtt_probe {
            if ack.ge(end) {
                self.rtt
                    .sample(ctx.now.saturating_since(sent), self.rto_bounds());
                self.rtt_probe = None;
            }
        }
        self.rtt.reset_backoff();
        self.rtx_count = 0;
        self.persist_backoff = 0;
        // RFC 6298 5.2 / 5.3: stop the timer when all is acknowledged, else restart it.
        if self.snd_una == self.snd_max {
            self.set_rtx(None);
            self.unacked_since = None;
        } else if self.persist_deadline.is_some() {
            // Probing a zero window: the persist timer paces the connection.
            self.set_rtx(None);
        } else {
            self.set_rtx(Some(ctx.now + self.rtt.rto(self.rto_bounds())));
            self.unacked_since = Some(ctx.now);
        }
    }

    /// Fifth step in synchronized states: update SND.UNA, the window, congestion control.
    fn process_ack(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) {
        let ack = seg.ack;
        let wnd = u32::from(seg.window) << self.snd_wscale;
        let mss = u32::from(self.snd_mss);
        // RFC 3168 6.1.2: an ECE from the peer of an ECN connection signals congestion.
        let ece = seg.flags.ece() && self.ecn.sender();
        // RFC 8985 7.4.2: an ACK may end a TLP episode (before SND.UNA and the
        // window move, which tell a pure duplicate ACK).
        self.tlp_process_ack(seg, wnd);
        let advanced = ack.gt(self.snd_una);
        // RFC 6675 4 (Update()): record the SACKed octets before SND.UNA moves
        // past them; `sacked_new` makes the ACK a duplicate ACK (RFC 6675 2).
        let sacked_new = self.sack_update(if advanced { ack } else { self.snd_una }, seg);
        let sack_episode = self.sack_episode();
        if advanced {
            let acked = ack.since(self.snd_una);
            self.process_new_ack(ack, ctx);
            // Congestion control (RFC 5681 3.1, RFC 6582 3.2).
            if self.in_recovery {
                if ack.ge(self.recover) {
                    // Full acknowledgment: deflate the window and leave fast recovery
                    // (RFC 6675 5: loss recovery ends when HighACK reaches RecoveryPoint).
                    self.in_recovery = false;
                    self.end_sack_episode();
                    self.cwnd = self
                        .ssthresh
                        .min(self.snd_max.since(self.snd_una).max(mss) + mss);
                } else if sack_episode {
                    // RFC 6675 5 (step C): a partial ACK changes neither cwnd nor
                    // what is retransmitted: NextSeg() and pipe decide, per ACK.
                } else {
                    // Partial acknowledgment: retransmit the next unacknowledged segment,
                    // deflate by the amount acknowledged, add back one MSS.
                    self.fast_rtx_pending = true;
                    self.cwnd = self.cwnd.saturating_sub(acked).saturating_add(mss);
                }
            } else if ece {
                // RFC 3168 6.1.2: "The sending TCP SHOULD NOT increase the congestion
                // window in response to the receipt of an ECN-Echo ACK packet."
            } else if self.cwnd < self.ssthresh {
                // Slow start: cwnd += min(N, SMSS) (RFC 5681 3.1, ABC RFC 3465 L=1).
                self.cwnd = self.cwnd.saturating_add(acked.min(mss));
            } else {
                // Congestion avoidance: about one MSS per RTT.
                let inc = ((u64::from(mss) * u64::from(mss)) / u64::from(self.cwnd.max(1))).max(1);
                self.cwnd = self.cwnd.saturating_add(inc as u32);
            }
            // RFC 6675 5: a cumulative ACK resets DupAcks; one that also SACKs new
            // octets is a duplicate ACK "regardless of its status as a cumulative
            // acknowledgment" (section 2), so it counts as the first.
            self.dup_acks = u8::from(sacked_new && self.sack_recovery());
        } else if ack == self.snd_una
            && self.snd_max.gt(self.snd_una)
            // Answers to zero-window probes are not a sign of loss (Linux keeps the probe
            // out of its retransmission queue for the same reason).
            && wnd != 0
            && self.persist_deadline.is_none()
            && ((seg.payload.is_empty() && !seg.flags.syn() && !seg.flags.fin() && wnd == self.snd_wnd)
                // RFC 6675 2: with SACK, an ACK that SACKs new octets is a duplicate
                // ACK even if it changes the window or carries data.
                || sacked_new)
        {
            // RFC 5681 2: a duplicate ACK.
            self.dup_acks = self.dup_acks.saturating_add(1);
            self.counters.dup_acks_in += 1;
            // RFC 8985 7.2: no PTO once segments arrived beyond a hole: duplicate
            // ACKs, not a probe, drive the recovery now.
            self.cancel_pto(ctx.now);
            if self.in_recovery {
                if !sack_episode {
                    // RFC 6582 3.2 step 4: inflate by one MSS for each further duplicate.
                    self.cwnd = self.cwnd.saturating_add(mss);
                }
                // RFC 6675 5 (step C): no inflation; pipe accounts for what left.
            } else if self.dup_acks == 3 && (ack.gt(self.recover) || self.ecn.recover_by_ece()) {
                // RFC 5681 3.2 / RFC 6582 3.2: fast retransmit, enter fast recovery
                // (RFC 6675 5 (step A): DupAcks reached DupThresh).
                self.enter_fast_recovery(ack, 3);
            }
        }
        if !self.in_recovery
            && sacked_new
            && self.sack_recovery()
            && self.snd_max.gt(self.snd_una)
            && self.persist_deadline.is_none()
            && (ack.gt(self.recover) || self.ecn.recover_by_ece())
            && self
                .board
                .as_ref()
                .is_some_and(|b| b.is_lost(self.snd_una, self.snd_una, mss))
        {
            // RFC 6675 5 (step B): fewer than DupThresh duplicate ACKs, but the SACK
            // information already makes IsLost(HighACK + 1) true: enter recovery.
            self.enter_fast_recovery(ack, u32::from(self.dup_acks.max(1)));
        }
        if !self.in_recovery
            && self.probe_sacked_beyond_hole(seg)
            && (ack.gt(self.recover) || self.ecn.recover_by_ece())
        {
            // RFC 8985 7.4.1: the loss probe arrived but data sent before it, at
            // least a PTO earlier, did not: lost (RACK would mark it so, 6.2), so
            // fast recovery repairs it now instead of the RTO. Each duplicate ACK
            // so far, at least this one, is a segment that left the network.
            self.enter_fast_recovery(ack, u32::from(self.dup_acks.max(1)));
        }
        if !self.in_recovery && self.recover.lt(self.snd_una) {
            // `recover` only needs to be below SND.UNA here; keeping it just below stops
            // it wrapping out of reach of `gt` after 2^31 octets without a reduction.
            self.recover = self.snd_una - 1;
        }
        if ece && !self.in_recovery && ack.gt(self.recover) {
            self.ecn_reduce(ctx.now);
        }
        // RFC 9293 3.10.7.4: update the window only for newer segments (WL1/WL2 rule).
        if self.snd_wl1.lt(seg.seq) || (self.snd_wl1 == seg.seq && self.snd_wl2.le(ack)) {
            let opened = wnd > self.snd_wnd;
            self.snd_wnd = wnd;
            self.max_snd_wnd = self.max_snd_wnd.max(wnd);
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = ack;
            if opened && wnd > 0 {
                if self.persist_deadline.take().is_some() && self.snd_nxt.gt(self.snd_una) {
                    // The window opened without taking the probe octet: it was never
                    // accepted, so it counts as unsent and data resumes at SND.UNA.
                    if self.snd_max == self.snd_una + 1 {
                        self.snd_max = self.snd_una;
                    }
                    self.snd_nxt = self.snd_una;
                }
                self.persist_backoff = 0;
            }
        }
        if advanced {
            // RFC 8985 7.2: an ACK of new data restarts the PTO.
            self.schedule_loss_probe(ctx.now);
        }
    }

    /// SACK information drives loss recovery on this connection (RFC 6675).
    fn sack_recovery(&self) -> bool {
        self.sack_permitted && self.cfg.sack_recovery
    }

    /// The current recovery is RFC 6675's, driven by the scoreboard (it had
    /// SACK information when it began; otherwise NewReno runs it).
    fn sack_episode(&self) -> bool {
        self.in_recovery && self.board.as_ref().is_some_and(|b| b.active)
    }

    /// RFC 6675 5: loss recovery ended; the scoreboard goes once empty.
    fn end_sack_episode(&mut self) {
        if let Some(b) = self.board.as_mut() {
            b.active = false;
            b.rescue = None;
        }
        self.release_board();
    }

    /// Free the scoreboard when it holds nothing a recovery needs: an idle
    /// connection keeps only the null pointer.
    fn release_board(&mut self) {
        let needed = self
            .board
            .as_ref()
            .is_some_and(|b| !b.is_empty() || (b.active && self.in_recovery));
        if !needed {
            self.board = None;
        }
    }

    /// RFC 6675 4 (Update()): fold the ACK's SACK blocks into the scoreboard,
    /// SND.UNA being `una` after the ACK. Returns whether octets not SACKed
    /// before were SACKed (RFC 6675 2: a duplicate ACK).
    fn sack_update(&mut self, una: SeqNum, seg: &TcpRepr<'_>) -> bool {
        if !self.sack_recovery() {
            return false;
        }
        let blocks = seg.options.sack.as_slice();
        let max = self.snd_max;
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

    /// NextSeg() (RFC 6675 4) for a retransmission, when cwnd - pipe allows a
    /// segment: rule 1 (a lost hole) if `lost_only`, else rule 3 (any hole
    /// below the highest SACKed octet), then rule 4 (the rescue retransmission).
    fn sack_next_seg(&self, lost_only: bool) -> Option<Retransmission> {
        let b = self
            .board
            .as_ref()
            .filter(|b| b.active && self.in_recovery)?;
        let smss = u32::from(self.snd_mss);
        let (una, max) = (self.snd_una, self.snd_max);
        // RFC 6675 5 (step C): transmit only while cwnd - pipe >= 1 SMSS.
        if self.cwnd.saturating_sub(b.pipe(una, max, smss)) < smss {
            return None;
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
        let data_end = self.data_seq0() + self.tx.len() as u32;
        let end = max.min(data_end);
        // RFC 6675 4 (NextSeg rule 4): only once HighACK passed RescueRxt.
        let rescue_ok = b.rescue.is_none_or(|r| una.gt(r));
        if rescue_ok && top.lt(end) && !self.has_unsent() {
            let len = end.since(top).min(smss);
            return Some(Retransmission {
                seq: end - len,
                len,
                rescue: true,
            });
        }
        None
    }

    /// RFC 5681 3.2 / RFC 6582 3.2: fast retransmit of SND.UNA and fast recovery,
    /// the window inflated by the `left` segments that left the network.
    fn enter_fast_recovery(&mut self, ack: SeqNum, left: u32) {
        let mss = u32::from(self.snd_mss);
        // An ECE reduction in this window already halved ssthresh: the loss is
        // still repaired at once, but the window is not cut twice (RFC 3168 6.1.2:
        // at most one reduction per window; Linux goes from CWR to Recovery the
        // same way).
        if !(self.ecn.recover_by_ece() && ack.le(self.recover)) {
            let flight = self.snd_max.since(self.snd_una);
            self.ssthresh = (flight / 2).max(2 * mss);
        }
        self.cwnd = self.ssthresh + left * mss;
        self.recover = self.snd_max;
        if self.sack_recovery() {
            if let Some(b) = self.board.as_mut().filter(|b| !b.is_empty()) {
                // RFC 6675 5 (step 4.2): cwnd = ssthresh, no inflation: pipe counts
                // what left the network. RecoveryPoint = HighData (`recover`).
                self.cwnd = self.ssthresh;
                b.active = true;
                b.rxt_end = self.snd_una;
                // RFC 6675 5 (step 4.3): RescueRxt = the end of the first
                // retransmission, "to prevent ... a premature rescue retransmission".
                b.rescue = Some(self.snd_una + mss);
            }
        }
        self.ecn.set_recover_by_ece(false);
        self.in_recovery = true;
        self.fast_rtx_pending = true;
        // The reduction of fast recovery covers any loss a TLP episode would
        // report (RFC 8985 7.4.2; Linux `tcp_init_cwnd_reduction`); a PTO that
        // fired meanwhile sends no probe in recovery (7.2).
        self.probes.set(Probes::EPISODE | Probes::TLP_DUE, false);
        self.counters.fast_retransmits += 1;
        // RFC 3168 6.1.2: any window reduction is announced with CWR.
        self.ecn.window_reduced();
    }

    /// RFC 3168 6.1.2: an ECE "should be treated just as a congestion loss": halve
    /// cwnd and reduce ssthresh, at most once per window of data (`recover` is the
    /// highest sequence number sent at the reduction, as RFC 6582 uses it for fast
    /// recovery, so ECEs for data sent before it are ignored; a loss in that window
    /// is still fast-retransmitted, see `recover_by_ece`), and set CWR on the next
    /// new data segment.
    fn ecn_reduce(&mut self, now: Instant) {
        let mss = u32::from(self.snd_mss);
        let one_segment = self.cwnd <= mss;
        // RFC 5681 3.1: ssthresh at least 2 * SMSS; cwnd never grows here.
        self.ssthresh = (self.cwnd / 2).max(2 * mss);
        self.cwnd = self.cwnd.min(self.ssthresh);
        self.recover = self.snd_max;
        self.ecn.set_recover_by_ece(true);
        self.ecn.window_reduced();
        // This reduction covers any loss a TLP episode would report (Linux
        // `tcp_enter_cwr` ends the episode).
        self.probes.set(Probes::EPISODE, false);
        if one_segment && self.snd_max.gt(self.snd_una) && self.persist_deadline.is_none() {
            // RFC 3168 6.1.2: with a window of one segment the sender "MUST reset
            // the retransmit timer on receiving the ECN-Echo packet".
            self.set_rtx(Some(now + self.rtt.rto(self.rto_bounds())));
        }
    }

    /// Seventh (segment text) and eighth (FIN) steps.
    fn process_text_and_fin(&mut self, seg: &TcpRepr<'_>, ctx: &mut SegCtx<'_>) {
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
            self.rst_pending = Some((seg.ack, SendReason::Reset));
            self.fail(ConnError::Reset, Cause::Abort, ctx);
            return;
        }
        let mut fin = seg.flags.fin();
        if has_data && accepts_data {
            if self.sack_permitted && self.cfg.dsack {
                self.dsack
                    .set(self.duplicate_range(seg.seq, seg.payload.len() as u32));
            }
            // Trim what we already have and what lies beyond the window.
            let mut seq = seg.seq;
            let mut data = seg.payload;
            let behind = self.rcv_nxt.diff(seq);
            if behind > 0 {
                let cut = (behind as usize).min(data.len());
                data = &data[cut..];
                seq += cut as u32;
            }
            let wnd = self.rcv_wnd_accept() as usize;
            let offset = seq.since(self.rcv_nxt) as usize;
            let room = wnd.saturating_sub(offset);
            if data.len() > room {
                data = &data[..room];
                fin = false; // the FIN lies beyond the window
            }
            if data.is_empty() && !fin {
                // Nothing new (a duplicate): ACK at once (RFC 5681 4.2).
                self.ack_now = Some(SendReason::DuplicateAck);
                return;
            }
            if seq == self.rcv_nxt {
                self.rx.extend(data);
                self.rcv_nxt += data.len() as u32;
                self.counters.bytes_received += data.len() as u64;
                self.unacked_rx_bytes += data.len() as u32;
                self.unacked_rx_segs += 1;
                self.note_data_rx(ctx.now);
                let filled_hole = !self.ooo.is_empty();
                let ooo_fin = self.drain_ooo();
                fin = fin || ooo_fin;
                self.prune_sack_blocks();
                if filled_hole {
                    // RFC 5681 4.2: a segment that fills a hole is acknowledged at once.
                    self.ack_now = Some(SendReason::Normal);
                } else if self.dsack.get().is_some() {
                    // RFC 2883 4: part of the segment was a duplicate; report it while the
                    // sender can still tell a spurious retransmission from a loss.
                    self.ack_now = Some(SendReason::DuplicateAck);
                } else {
                    self.schedule_ack(ctx.now);
                }
            } else {
                // Out of order: hold it, and send a duplicate ACK at once (RFC 5681 4.2).
                if !self.insert_ooo(seq, data, fin) {
                    self.drop_seg(ctx, DropReason::ReassemblyFull);
                } else if self.sack_permitted && !data.is_empty() {
                    self.note_sack_block(seq, seq + data.len() as u32);
                }
                self.ack_now = Some(SendReason::DuplicateAck);
                return;
            }
        } else if fin && seg.seq != self.rcv_nxt {
            // A FIN beyond RCV.NXT with no data: hold it until the gap fills.
            if accepts_data && seg.seq.gt(self.rcv_nxt) {
                let _ = self.insert_ooo(seg.seq, &[], true);
                self.ack_now = Some(SendReason::DuplicateAck);
            }
            return;
        }
        if fin {
            self.on_fin(ctx);
        }
    }

    /// RFC 2883 4: the part of an arriving segment `[seq, seq+len)` that duplicates
    /// data already received: below RCV.NXT if any, else the lowest overlap with the
    /// reassembly queue (as FreeBSD reports it; RFC 2883 lets a receiver report one).
    fn duplicate_range(&self, seq: SeqNum, len: u32) -> Option<(SeqNum, SeqNum)> {
        let end = seq + len;
        if len == 0 {
            return None;
        }
        if seq.lt(self.rcv_nxt) {
            let right = if end.lt(self.rcv_nxt) {
                end
            } else {
                self.rcv_nxt
            };
            return Some((seq, right));
        }
        self.sack_blocks
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
    fn note_sack_block(&mut self, mut left: SeqNum, mut right: SeqNum) {
        self.sack_blocks.retain(|&(l, r)| {
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
        self.sack_blocks.insert(0, (left, right));
    }

    /// Drop the blocks RCV.NXT has passed (RFC 2018 4: blocks report data above it).
    fn prune_sack_blocks(&mut self) {
        let nxt = self.rcv_nxt;
        self.sack_blocks.retain(|&(_, r)| r.gt(nxt));
        for b in &mut self.sack_blocks {
            if b.0.lt(nxt) {
                b.0 = nxt;
            }
        }
    }

    /// A full-sized segment from the peer: our MSS less the timestamps option it
    /// carries in every segment (RFC 7323 3.2; as Linux's measured receive MSS).
    fn rcv_full_segment(&self) -> u32 {
        u32::from(self.our_mss) - if self.ts_enabled { 12 } else { 0 }
    }

    /// In-order data arrived. As Linux's `tcp_event_data_recv`: the first data of the
    /// connection, or data after an idle period longer than the RTO, enters quick-ACK
    /// mode with min(window / (2 * MSS), `quick_ack_segments`) ACKs, at least 2
    /// (`tcp_incr_quickack`).
    fn note_data_rx(&mut self, now: Instant) {
        let idle = match self.last_data_rx {
            None => true,
            Some(t) => now.saturating_since(t) > self.rtt.rto(self.rto_bounds()),
        };
        if idle {
            let quick = (self.rcv_wnd() / (2 * self.rcv_full_segment()))
                .max(2)
                .min(self.cfg.quick_ack_segments);
            self.quick_acks = self
                .quick_acks
                .max(u16::try_from(quick).unwrap_or(u16::MAX));
        }
        self.last_data_rx = Some(now);
    }

    fn schedule_ack(&mut self, now: Instant) {
        // RFC 1122 4.2.3.2 / RFC 5681 4.2: ACK at least every second full-sized segment,
        // otherwise within the delayed-ACK timeout. As Linux (`__tcp_ack_snd_check`,
        // "more than one full frame received") the ACK goes at once as soon as more
        // than one full-sized segment's worth is unacknowledged, so one oversized
        // (coalesced) segment or small segments adding up to more are ACKed as two
        // full-sized ones would be (FreeBSD: never delay a segment above the MSS).
        // With `delayed_ack_by_segments`, every second data segment whatever its size.
        let second_segment = self.cfg.delayed_ack_by_segments && self.unacked_rx_segs >= 2;
        match self.cfg.delayed_ack {
            Some(d)
                if self.unacked_rx_bytes <= self.rcv_full_segment()
                    && !second_segment
                    && self.quick_acks == 0 =>
            {
                if self.delack_deadline.is_none() {
                    // RFC 1122 4.2.3.2 allows up to 500 ms; synack caps it at 200 ms (Linux's maximum).
                    self.delack_deadline = Some(now + d.min(MAX_DELAYED_ACK));
                }
            }
            _ => {
                self.ack_now.get_or_insert(SendReason::Normal);
            }
        }
    }

    fn insert_ooo(&mut self, seq: SeqNum, data: &[u8], fin: bool) -> bool {
        if self.ooo.len() >= self.cfg.max_ooo_segments
            || self.ooo_bytes as usize + data.len() > self.cfg.recv_buffer
        {
            return false;
        }
        // Skip an exact duplicate.
        if self
            .ooo
            .iter()
            .any(|s| s.seq == seq && s.data.len() >= data.len() && (s.fin || !fin))
        {
            return true;
        }
        let pos = self
            .ooo
            .iter()
            .position(|s| seq.lt(s.seq))
            .unwrap_or(self.ooo.len());
        self.ooo_bytes += data.len() as u32;
        self.ooo.insert(
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
    fn drain_ooo(&mut self) -> bool {
        let mut fin = false;
        while let Some(first) = self.ooo.first() {
            if first.seq.gt(self.rcv_nxt) {
                break;
            }
            let s = self.ooo.remove(0);
            self.ooo_bytes -= s.data.len() as u32;
            let skip = self.rcv_nxt.since(s.seq) as usize;
            if skip < s.data.len() {
                let new = &s.data[skip..];
                self.rx.extend(new);
                self.rcv_nxt += new.len() as u32;
                self.counters.bytes_received += new.len() as u64;
                self.unacked_rx_bytes += new.len() as u32;
            }
            if s.fin && s.seq + s.data.len() as u32 == self.rcv_nxt {
                fin = true;
                break;
            }
        }
        if fin {
            self.ooo.clear();
            self.ooo_bytes = 0;
            self.sack_blocks.clear();
        }
        fin
    }

    /// RFC 9293 3.10.7.4 eighth: the FIN bit, in order.
    fn on_fin(&mut self, ctx: &mut SegCtx<'_>) {
        if self.fin_received {
            self.ack_now = Some(SendReason::Normal);
            return;
        }
        self.fin_received = true;
        self.rcv_nxt += 1;
        if self.state == State::Established
            && self.cfg.delayed_fin_ack
            && self.last_data_rx.is_some()
        {
            // Linux's `tcp_fin`: ESTABLISHED -> CLOSE_WAIT enters interactive
            // ("pingpong") mode, so the FIN is ACKed with delay, in the hope that
            // the application's reply or close carries the ACK. No more quick ACKs.
            // (Before any data its delayed-ACK timeout is still 0: an ACK at once.)
            self.quick_acks = 0;
            // The FIN's sequence number is the received octet awaiting the ACK.
            self.unacked_rx_bytes += 1;
            self.schedule_ack(ctx.now);
        } else {
            // FIN implies PUSH; acknowledge it at once.
            self.ack_now = Some(SendReason::Normal);
            self.delack_deadline = None;
        }
        let our_fin_acked = self.fin_queued && self.snd_una == self.fin_seq() + 1;
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

    // ----- ICMP ----------------------------------------------------------

    /// An ICMP or ICMPv6 error quoting this connection's segment with
    /// sequence number `seq` (the stack classified it and found the connection).
    pub(crate) fn on_icmp(
        &mut self,
        action: IcmpAction,
        seq: SeqNum,
        ctx: &mut SegCtx<'_>,
    ) -> Disposition {
        match self.state {
            State::Closed | State::Listen => {
                self.drop_seg(ctx, DropReason::Closed);
                return Disposition::Done;
            }
            State::TimeWait => {
                // Nothing is in flight; FreeBSD skips TIME_WAIT connections too.
                self.drop_seg(ctx, DropReason::IcmpNoConnection);
                return Disposition::Done;
            }
            _ => {}
        }
        // RFC 5927 4.1: act only on an error about a segment in flight,
        // SND.UNA =< SEG.SEQ < SND.NXT (SND.MAX here: SND.NXT goes back on a
        // retransmission timeout), which a blind attacker has to guess.
        if !(seq.ge(self.snd_una) && seq.lt(self.snd_max)) {
            self.drop_seg(ctx, DropReason::IcmpSeqOutOfWindow);
            return Disposition::Done;
        }
        match action {
            IcmpAction::Fatal(err) if !self.state.is_synchronized() && self.cfg.icmp_may_rst => {
                // RFC 1122 4.2.3.9: a hard error SHOULD abort the connection; RFC 5927
                // 5.2: only one that is not yet synchronized.
                if let (State::SynReceived, Origin::Passive(_)) = (self.state, self.origin) {
                    // A listener's half-open entry has no application to tell: it goes
                    // quietly (Linux drops the request socket).
                    self.set_state(State::Closed, Cause::IcmpError, ctx);
                    return Disposition::BackToListen;
                }
                self.fail(err, Cause::IcmpError, ctx);
            }
            IcmpAction::Fatal(err) | IcmpAction::Soft(err) => {
                // RFC 1122 4.2.3.9: soft errors MUST NOT abort the connection, and
                // RFC 5927 5.2 treats hard ones as soft once synchronized: recorded,
                // reported if the connection times out.
                self.soft_error = Some(err);
                ctx.sink.push(
                    ctx.now,
                    EventKind::SoftError {
                        conn: self.id,
                        error: err,
                    },
                );
            }
            IcmpAction::PathMtu(mtu) => self.path_mtu_reduced(mtu, ctx),
        }
        Disposition::Done
    }

    /// RFC 1191 6.4, RFC 8201 5: the path MTU is now `mtu`.
    fn path_mtu_reduced(&mut self, mtu: u16, ctx: &mut SegCtx<'_>) {
        let overhead = if self.tuple().remote.is_ipv4() {
            40
        } else {
            60
        };
        let path_mss = mtu.saturating_sub(overhead).max(1);
        if path_mss >= self.path_mss {
            // RFC 1191 3, RFC 8201 4: a Packet Too Big never raises the estimate, and
            // one that does not lower it changes nothing (RFC 1191 6.4: not one
            // retransmission per message about the same burst).
            self.drop_seg(ctx, DropReason::IcmpMtuNotLower);
            return;
        }
        self.path_mss = path_mss;
        if self.cfg.syn_mss_follows_path_mtu
            && matches!(self.state, State::SynSent | State::SynReceived)
        {
            // The SYN (SYN,ACK) sent again advertises what the path carries.
            self.our_mss = self.our_mss.min(path_mss);
        }
        if self.state != State::SynSent {
            // RFC 6691: timestamps take their 12 octets from the payload.
            let mss = path_mss
                .saturating_sub(if self.ts_enabled { 12 } else { 0 })
                .max(1);
            if mss < self.snd_mss {
                self.snd_mss = mss;
                if self.syn_acked() && self.snd_max.gt(self.snd_una) {
                    // RFC 1191 6.4: the segment was dropped; retransmit at once in
                    // segments that fit, without counting it as congestion: cwnd and
                    // the RTO stay (Linux `tcp_simple_retransmit`). Karn's rule
                    // applies to what is sent again.
                    self.snd_nxt = self.snd_una;
                    self.probes.set(Probes::PMTU_RESEND, true);
                    if self.board.as_ref().is_some_and(|b| b.active) {
                        // A SACK recovery's pipe accounting does not hold for a
                        // go-back-N resend: end the episode as an RTO does (RFC 6675
                        // 5.1) but keep cwnd (no congestion response), so the resend
                        // runs under cwnd from SND.UNA.
                        self.board = None;
                        self.in_recovery = false;
                        self.recover = self.snd_max;
                        self.dup_acks = 0;
                    }
                    self.rtt_probe = None;
                    if self.ts_enabled {
                        self.ts_rtt_from = Some(self.ts_now(ctx.now));
                    }
                }
            }
        }
        ctx.sink.push(
            ctx.now,
            EventKind::PathMtuReduced {
                conn: self.id,
                mtu,
                mss: path_mss,
            },
        );
    }

    // ----- user calls ----------------------------------------------------

    /// SEND (RFC 9293 3.10.2): queue data. Returns bytes queued.
    pub(crate) fn send(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(e) = self.error {
            return Err(Error::Connection(e));
        }
        if self.fin_queued {
            return Err(Error::BrokenPipe);
        }
        match self.state {
            // SYN-SENT, SYN-RECEIVED: queue for transmission after entering ESTABLISHED.
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            State::Closed | State::Listen => return Err(Error::NotConnected),
            _ => return Err(Error::BrokenPipe),
        }
        let room = self.cfg.send_buffer.saturating_sub(self.tx.len());
        if room == 0 {
            return Err(Error::WouldBlock);
        }
        let n = room.min(data.len());
        self.tx.extend(&data[..n]);
        Ok(n)
    }

    /// Room in the send buffer.
    pub(crate) fn send_room(&self) -> usize {
        self.cfg.send_buffer.saturating_sub(self.tx.len())
    }

    /// RECEIVE (RFC 9293 3.10.3): copy out in-order data. `Ok(0)` is end of stream.
    pub(crate) fn recv(
        &mut self,
        buf: &mut [u8],
        peek: bool,
        now: Instant,
    ) -> Result<usize, Error> {
        if !self.rx.is_empty() && !buf.is_empty() {
            let n = buf.len().min(self.rx.len());
            let (a, b) = self.rx.as_slices();
            let na = n.min(a.len());
            buf[..na].copy_from_slice(&a[..na]);
            if n > na {
                buf[na..n].copy_from_slice(&b[..n - na]);
            }
            if !peek {
                self.rx.drain(..n);
                self.maybe_window_update(now);
            }
            return Ok(n);
        }
        if let Some(e) = self.error {
            return Err(Error::Connection(e));
        }
        if self.fin_received || self.read_closed {
            return Ok(0);
        }
        match self.state {
            State::Closed | State::Listen => Err(Error::NotConnected),
            State::TimeWait | State::Closing | State::LastAck | State::CloseWait => Ok(0),
            _ => Err(Error::WouldBlock),
        }
    }

    /// Bytes ready to read.
    pub(crate) fn recv_ready(&self) -> usize {
        self.rx.len()
    }

    fn maybe_window_update(&mut self, _now: Instant) {
        // RFC 9293 3.8.6.2.2: announce a larger window only when it grows by
        // min(buffer/2, MSS) or more (receiver-side silly window avoidance).
        if !self.state.is_synchronized() || self.fin_received {
            return;
        }
        let potential = self.rcv_nxt + self.rcv_space();
        let grow = potential.diff(self.rcv_adv);
        let threshold = (self.cfg.recv_buffer / 2).min(usize::from(self.our_mss)) as i32;
        if grow >= threshold.max(1) {
            // Was the window closed or small? Tell the peer at once.
            if self.rcv_wnd() < u32::from(self.our_mss) * 2 {
                self.ack_now.get_or_insert(SendReason::WindowUpdate);
            }
        }
    }

    /// CLOSE of the sending side (shutdown(Write)); RFC 9293 3.10.4.
    pub(crate) fn shutdown_write(&mut self, ctx: &mut SegCtx<'_>) -> Result<(), Error> {
        if self.fin_queued {
            return Ok(());
        }
        match self.state {
            State::SynSent => {
                // "Delete the TCB and return 'error: closing'": nothing was synchronized.
                self.set_state(State::Closed, Cause::Close, ctx);
            }
            State::SynReceived => {
                // Queue the FIN until ESTABLISHED; the state moves on the ACK of our SYN.
                self.queue_fin();
            }
            State::Established => {
                self.queue_fin();
                self.set_state(State::FinWait1, Cause::Close, ctx);
            }
            State::CloseWait => {
                self.queue_fin();
                self.set_state(State::LastAck, Cause::Close, ctx);
            }
            State::Closed | State::Listen => return Err(Error::NotConnected),
            _ => {}
        }
        Ok(())
    }

    /// shutdown(Read): later reads return end of stream.
    pub(crate) fn shutdown_read(&mut self) {
        self.read_closed = true;
        self.rx.clear();
    }

    /// close(): a graceful close, or an abort when unread data would be lost
    /// (RFC 2525 2.17, as Linux and BSD do).
    pub(crate) fn close(&mut self, ctx: &mut SegCtx<'_>) {
        self.owner = Owner::Orphan;
        if !self.rx.is_empty() && self.state.is_synchronized() && self.state != State::TimeWait {
            self.abort(ctx);
            return;
        }
        let _ = self.shutdown_write(ctx);
        if self.state == State::FinWait2 {
            self.stage_deadline = Some(ctx.now + self.cfg.fin_wait_2_timeout);
        }
    }

    /// ABORT (RFC 9293 3.10.5): send RST in synchronized states and SYN_RCVD, then CLOSED.
    pub(crate) fn abort(&mut self, ctx: &mut SegCtx<'_>) {
        match self.state {
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => {
                // <SEQ=SND.NXT><CTL=RST>
                self.rst_pending = Some((self.snd_max, SendReason::Abort));
            }
            _ => {}
        }
        self.error.get_or_insert(ConnError::Aborted);
        self.set_state(State::Closed, Cause::Abort, ctx);
    }

    /// Change keepalive settings on a live connection.
    pub(crate) fn set_keepalive(&mut self, k: Option<Keepalive>, now: Instant) {
        Arc::make_mut(&mut self.cfg).keepalive = k;
        if self.state.is_synchronized() {
            self.arm_keepalive(now);
        }
    }

    /// Change Nagle on a live connection.
    pub(crate) fn set_nodelay(&mut self, nodelay: bool) {
        Arc::make_mut(&mut self.cfg).nagle = !nodelay;
    }

    /// Change the user timeout.
    pub(crate) fn set_user_timeout(&mut self, t: Option<Duration>) {
        Arc::make_mut(&mut self.cfg).user_timeout = t;
    }

    /// Change the connection-establishment timeout; while the handshake runs the
    /// timer restarts from `now` (as FreeBSD's TCP_KEEPINIT setsockopt does).
    pub(crate) fn set_establish_timeout(&mut self, t: Option<Duration>, now: Instant) {
        Arc::make_mut(&mut self.cfg).establish_timeout = t;
        if matches!(self.state, State::SynSent | State::SynReceived) {
            self.arm_establish(now);
        }
    }

    // ----- timers --------------------------------------------------------

    /// The earliest deadline of this connection.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [
            self.rtx_deadline,
            self.delack_deadline,
            self.persist_deadline,
            self.keepalive_deadline,
            self.stage_deadline,
            self.unacked_since
                .and_then(|t| self.cfg.user_timeout.map(|u| t + u)),
        ]
        .into_iter()
        .fold(None, Instant::earliest)
    }

    fn fired(deadline: &mut Option<Instant>, now: Instant) -> bool {
        match *deadline {
            Some(d) if d <= now => {
                *deadline = None;
                true
            }
            _ => false,
        }
    }

    fn timer_event(&self, ctx: &mut SegCtx<'_>, timer: TimerKind) {
        ctx.sink.push(
            ctx.now,
            EventKind::TimerFired {
                conn: self.id,
                timer,
            },
        );
    }

    /// Fire every expired timer. Returns `BackToListen` when a half-open entry gives up.
    pub(crate) fn on_timeout(&mut self, ctx: &mut SegCtx<'_>) -> Disposition {
        let now = ctx.now;
        let stage_fired = Tcb::fired(&mut self.stage_deadline, now);
        if stage_fired && self.state == State::TimeWait {
            self.timer_event(ctx, TimerKind::TimeWait);
            self.set_state(State::Closed, Cause::TimeWaitExpired, ctx);
            return Disposition::Done;
        }
        if stage_fired && self.state == State::FinWait2 {
            self.timer_event(ctx, TimerKind::FinWait2);
            self.set_state(State::Closed, Cause::FinWait2Timeout, ctx);
            return Disposition::Done;
        }
        if stage_fired && matches!(self.state, State::SynSent | State::SynReceived) {
            // RFC 1122 4.2.3.5 lets the application give up an open attempt before
            // the SYN retransmissions run out; `establish_timeout` (FreeBSD's
            // TCP_KEEPINIT, `tcp_timer_keep` below ESTABLISHED) does so with ETIMEDOUT.
            self.timer_event(ctx, TimerKind::Establish);
            if let (State::SynReceived, Origin::Passive(_)) = (self.state, self.origin) {
                // A listener's half-open entry has no application to tell: it goes quietly.
                self.set_state(State::Closed, Cause::EstablishTimeout, ctx);
                return Disposition::BackToListen;
            }
            self.fail(ConnError::TimedOut, Cause::EstablishTimeout, ctx);
            return Disposition::Done;
        }
        if let (Some(since), Some(limit)) = (self.unacked_since, self.cfg.user_timeout) {
            if since + limit <= now && self.snd_max.gt(self.snd_una) {
                // RFC 9293 3.8.4: the user timeout aborts the connection.
                self.timer_event(ctx, TimerKind::UserTimeout);
                self.fail(ConnError::TimedOut, Cause::UserTimeout, ctx);
                return Disposition::Done;
            }
        }
        if Tcb::fired(&mut self.rtx_deadline, now) {
            if self.probes.take(Probes::PTO) {
                // RFC 8985 7.3: the slot held the PTO: a loss probe, not an RTO.
                self.timer_event(ctx, TimerKind::LossProbe);
                self.on_pto(now);
            } else {
                // RFC 6298 5.4: the RTO.
                self.timer_event(ctx, TimerKind::Retransmit);
                if let Some(d) = self.on_rto(ctx) {
                    return d;
                }
            }
        }
        if Tcb::fired(&mut self.delack_deadline, now) {
            self.timer_event(ctx, TimerKind::DelayedAck);
            if self.unacked_rx_bytes > 0 {
                self.ack_now.get_or_insert(SendReason::DelayedAck);
            }
        }
        if Tcb::fired(&mut self.persist_deadline, now) {
            self.timer_event(ctx, TimerKind::Persist);
            if self.snd_wnd == 0 && !self.tx.is_empty() {
                // RFC 9293 3.8.6.1: probe the zero window with one octet of new data.
                self.probes.set(Probes::WINDOW, true);
                self.persist_backoff = self.persist_backoff.saturating_add(1).min(16);
            }
        }
        if Tcb::fired(&mut self.keepalive_deadline, now) {
            self.timer_event(ctx, TimerKind::Keepalive);
            if let Some(k) = self.cfg.keepalive {
                if self.snd_max != self.snd_una || !self.state.is_synchronized() {
                    // Data in flight: the retransmission timer watches the peer instead.
                    self.keepalive_deadline = Some(now + k.idle);
                } else if self.keepalive_probes >= k.count {
                    // RFC 1122 4.2.3.6: only the configured count of unanswered probes kills.
                    self.fail(ConnError::TimedOut, Cause::KeepaliveTimeout, ctx);
                    return Disposition::Done;
                } else {
                    self.keepalive_probes += 1;
                    self.keepalive_probe_pending = true;
                    self.keepalive_deadline = Some(now + k.interval);
                }
            }
        }
        Disposition::Done
    }

    fn on_rto(&mut self, ctx: &mut SegCtx<'_>) -> Option<Disposition> {
        // What goes again now goes because the timer expired.
        self.probes.set(Probes::PMTU_RESEND, false);
        if self.snd_max == self.snd_una {
            return None;
        }
        self.counters.rto_expirations += 1;
        self.rtx_count += 1;
        // RFC 8985 7.3: the RTO is the last resort after a loss probe; the
        // timeout ends any TLP episode (as Linux's `tcp_enter_loss`).
        self.probes.set(Probes::EPISODE | Probes::TLP_DUE, false);
        let limit = match self.state {
            State::SynSent => self.cfg.syn_retries,
            State::SynReceived => self.cfg.synack_retries,
            _ => self.cfg.data_retries,
        };
        if self.rtx_count > limit {
            if self.state == State::SynReceived {
                if let Origin::Passive(_) = self.origin {
                    // The half-open entry gives up silently (Linux: request sock expires).
                    self.set_state(State::Closed, Cause::RetransmitLimit, ctx);
                    return Some(Disposition::BackToListen);
                }
            }
            self.fail(ConnError::TimedOut, Cause::RetransmitLimit, ctx);
            return Some(Disposition::Done);
        }
        if !self.syn_acked() {
            self.syn_retransmitted = true;
        }
        if self.state == State::SynSent && self.cfg.syn_rexmit_drop_options && self.rtx_count >= 3 {
            // FreeBSD `tcp_timer_rexmt` (rexmit_drop_options): no answer to three SYNs
            // may mean a middlebox that drops unknown options, so the third and later
            // retransmissions carry only the MSS option (which RFC 9293 3.7.1 wants on
            // every SYN).
            self.syn_options_dropped = true;
        }
        // RFC 5681 3.1 (4): after a timeout, ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 MSS.
        if self.syn_acked() {
            let mss = u32::from(self.snd_mss);
            let flight = self.snd_max.since(self.snd_una);
            self.ssthresh = (flight / 2).max(2 * mss);
            self.cwnd = mss;
            self.in_recovery = false;
            // RFC 6675 5.1: an RTO ends the SACK recovery; RecoveryPoint = HighData
            // (`recover`) keeps a new recovery from starting before it is ACKed.
            // RFC 2018 8: the receiver may have reneged, so the SACKed marks go
            // (later ACKs rebuild them, RFC 6675 5.1: Update() goes on).
            self.board = None;
            self.recover = self.snd_max;
            self.ecn.set_recover_by_ece(false);
            self.dup_acks = 0;
            // RFC 3168 6.1.2: any window reduction is announced with CWR.
            self.ecn.window_reduced();
        }
        // RFC 6298 5.4-5.6: retransmit the earliest segment, back off, restart the timer.
        self.rtt.back_off();
        self.rtt_probe = None; // Karn's rule
                               // RFC 7323 4.1: the ACK's TSecr may still time the retransmission (also of a
                               // SYN that offered timestamps: the SYN,ACK's echo).
        if self.ts_enabled || (self.cfg.timestamps && !self.syn_acked()) {
            self.ts_rtt_from = Some(self.ts_now(ctx.now));
        }
        self.snd_nxt = self.snd_una;
        self.set_rtx(Some(ctx.now + self.rtt.rto(self.rto_bounds())));
        None
    }

    // ----- tail loss probe (RFC 8985 7) ------------------------------------

    /// Set the retransmission timer to the RTO `deadline` (or stop it): any
    /// PTO in the slot gives way.
    fn set_rtx(&mut self, deadline: Option<Instant>) {
        self.rtx_deadline = deadline;
        self.probes.set(Probes::PTO, false);
    }

    /// Our FIN is sent and not yet acknowledged.
    fn fin_outstanding(&self) -> bool {
        self.fin_queued && self.snd_max == self.fin_seq() + 1 && self.snd_una.le(self.fin_seq())
    }

    /// When the RTO fires or would fire (RFC 6298 5.1, 5.3: started by a send
    /// with nothing outstanding, restarted by every ACK of new data, which is
    /// when `unacked_since` is set): the deadline in the slot while it holds the
    /// RTO, otherwise counted from `unacked_since`, and never before an armed PTO.
    fn rto_expiry(&self, now: Instant) -> Instant {
        let rto = self.rtt.rto(self.rto_bounds());
        match self.rtx_deadline {
            Some(d) if !self.probes.has(Probes::PTO) => d,
            Some(pto) => self.unacked_since.map_or(now + rto, |t| t + rto).max(pto),
            None => now + rto,
        }
    }

    /// RFC 8985 7.2: may a PTO be scheduled now?
    fn tlp_allowed(&self) -> bool {
        // Fast recovery, or RTO recovery: SND.UNA short of the highest sequence
        // number sent at the timeout (`recover`, RFC 6582 4; an ECE reduction sets
        // it as well, but then the window was only reduced, as Linux's CWR state).
        let recovering = self.in_recovery
            || (self.snd_una.lt(self.recover) && !self.ecn.recover_by_ece())
            || self.snd_nxt != self.snd_max;
        self.cfg.tail_loss_probe
            // RFC 8985 4: RACK-TLP requires SACK (Linux: `tcp_is_sack`).
            && self.sack_permitted
            // No round-trip estimate to base 2*SRTT on: the RTO alone watches the
            // flight (RFC 8985 7.2 would probe at 1 s; synack leaves that to the RTO).
            && self.rtt.srtt().is_some()
            && self.syn_acked()
            && self.state.is_synchronized()
            && self.snd_max.gt(self.snd_una)
            && !recovering
            // RFC 8985 7.2: not when segments were delivered beyond a hole: the
            // duplicate ACKs drive recovery (Linux probes only in the Open and CWR
            // states, not in Disorder).
            && self.dup_acks == 0
            // RFC 8985 7.3: at most one probe outstanding; until its episode ends
            // the RTO stays the last resort.
            && !self.probes.has(Probes::EPISODE)
            // RFC 8985 7.2: no probe while the peer has SACKed data above a hole:
            // that is loss recovery's business (RFC 6675).
            && self.board.as_ref().is_none_or(|b| b.is_empty())
            // A closed window is the persist timer's business.
            && self.snd_wnd > 0
            && self.persist_deadline.is_none()
    }

    /// RFC 8985 7.2: after new data went out (not itself a probe) or an ACK
    /// acknowledged new data, (re)start the PTO in the retransmission timer's
    /// slot, or give the slot back to the RTO when no probe may be scheduled.
    fn schedule_loss_probe(&mut self, now: Instant) {
        if !self.tlp_allowed() {
            self.cancel_pto(now);
            return;
        }
        let Some(srtt) = self.rtt.srtt() else {
            return;
        };
        // RFC 8985 7.2: "If FlightSize is one segment" (as Linux's `packets_out
        // == 1`: the data fits one SMSS, and a FIN sent by itself counts apart).
        let fin = self.fin_outstanding();
        let data = self.snd_max.since(self.snd_una) - u32::from(fin);
        let segments = data.div_ceil(u32::from(self.snd_mss).max(1))
            + u32::from(fin && (data == 0 || self.probes.has(Probes::FIN_ALONE)));
        let pto = probe::pto(srtt, segments <= 1);
        // RFC 8985 7.2: "If Now() + PTO > TCP_RTO_expiration(): PTO =
        // TCP_RTO_expiration() - Now()": never later than the RTO.
        let at = (now + pto).min(self.rto_expiry(now));
        self.rtx_deadline = Some(at);
        self.probes.set(Probes::PTO, true);
    }

    /// A PTO in the slot gives way to the RTO it stood in for.
    fn cancel_pto(&mut self, now: Instant) {
        if self.probes.has(Probes::PTO) {
            let rto = self.rto_expiry(now);
            self.set_rtx(Some(rto));
        }
    }

    /// RFC 8985 7.3: the PTO fired. The probe itself goes out with the next
    /// output (`loss_probe`); the RTO, not a PTO, is re-armed, so that RTO
    /// recovery remains the last resort if the probe fails.
    fn on_pto(&mut self, now: Instant) {
        if self.snd_max == self.snd_una {
            return;
        }
        self.probes.set(Probes::TLP_DUE, true);
        self.set_rtx(Some(now + self.rtt.rto(self.rto_bounds())));
    }

    /// RFC 8985 7.3 (`TLP_send_probe`): the loss probe, one segment: previously
    /// unsent data if there is some and the peer's receive window takes it
    /// (the congestion window and Nagle do not hold a probe back, as Linux's
    /// `tcp_send_loss_probe`), else the most recently sent segment again.
    fn loss_probe(
        &mut self,
        now: Instant,
        mss: usize,
        payload: &mut Range<usize>,
    ) -> Option<OutSegment> {
        if self.snd_max == self.snd_una || self.snd_nxt != self.snd_max || !self.tlp_allowed() {
            // Acknowledged meanwhile, a timeout's go-back-N under way, recovery
            // begun or the window closed since the PTO fired: the RTO (or the
            // persist timer, or recovery) takes over.
            return None;
        }
        let data0 = self.data_seq0();
        if let Some(out) = self.sack_hole_or_skip_sacked(mss, now, payload) {
            return Some(out);
        }
        let offset = self.snd_nxt.since(data0) as usize;
        let unsent = self.tx.len().saturating_sub(offset);
        let room = (self.snd_una + self.snd_wnd).diff(self.snd_nxt).max(0) as usize;
        let n = unsent.min(mss);
        let out = if n > 0 && n <= room {
            // RFC 8985 7.3: "Transmit the lowest-sequence unsent Segment".
            take_range(&self.tx, offset, offset + n, payload);
            let seq = self.snd_nxt;
            self.snd_nxt += n as u32;
            let is_last = n == unsent;
            let mut flags = TcpFlags::ACK;
            if is_last {
                flags |= TcpFlags::PSH;
                if self.fin_queued && self.snd_nxt == self.fin_seq() && room > n {
                    flags |= TcpFlags::FIN;
                    self.snd_nxt += 1;
                }
            }
            self.snd_max = self.snd_nxt;
            self.counters.bytes_sent += n as u64;
            if self.rtt_probe.is_none() {
                self.rtt_probe = Some((self.snd_nxt, now));
            }
            self.probes.set(Probes::RETRANS, false);
            let mut out = self.finish(seq, flags, SendReason::LossProbe, now);
            // RFC 3168 6.1.2: new data goes out ECT(0).
            out.ect = self.ecn.new_data(&mut out.flags);
            out
        } else {
            // RFC 8985 7.3: "Retransmit the highest-sequence Segment sent": we keep
            // no segment boundaries, so the last SMSS of data (which holds the last
            // segment whole) with the FIN if it is outstanding, or the FIN alone
            // when it went out alone.
            let fin = self.fin_outstanding();
            let end = if fin { self.fin_seq() } else { self.snd_max };
            let data = end.since(self.snd_una) as usize;
            let n = if fin && self.probes.has(Probes::FIN_ALONE) {
                0
            } else {
                data.min(mss)
            };
            if n == 0 && !fin {
                return None;
            }
            let seq = end - n as u32;
            let start = seq.since(data0) as usize;
            take_range(&self.tx, start, start + n, payload);
            let mut flags = TcpFlags::ACK;
            if n > 0 {
                flags |= TcpFlags::PSH;
            }
            if fin {
                flags |= TcpFlags::FIN;
            }
            self.counters.retransmits += 1;
            // RFC 6298 3 (Karn): an ACK covering the retransmitted octets no longer
            // says which copy it answers; RFC 7323 4.1: its TSecr does.
            if self.rtt_probe.is_some_and(|(e, _)| e.gt(seq)) {
                self.rtt_probe = None;
            }
            if self.ts_enabled {
                self.ts_rtt_from = Some(self.ts_now(now));
            }
            self.probes.set(Probes::RETRANS, true);
            self.finish(seq, flags, SendReason::LossProbe, now)
        };
        // RFC 8985 7.3: TLP.end_seq = SND.NXT; the episode lasts until its ACK
        // (7.4.2). The RTO, not the PTO, watches the flight now.
        self.tlp_end = self.snd_max;
        self.probes.set(Probes::EPISODE, true);
        self.set_rtx(Some(now + self.rtt.rto(self.rto_bounds())));
        if self.unacked_since.is_none() {
            self.unacked_since = Some(now);
        }
        Some(out)
    }

    /// RFC 8985 7.4.2 (`TLP_process_ack`): an ACK during a TLP episode. A probe
    /// of new data ends it when acknowledged. A retransmitted probe ends it when
    /// the ACK shows that both the original and the probe arrived (a D-SACK of
    /// the probe, or a pure duplicate ACK), or when an ACK goes beyond
    /// TLP.end_seq without that: the probe alone repaired the loss of the last
    /// segment, and the congestion window is reduced for it, once.
    fn tlp_process_ack(&mut self, seg: &TcpRepr<'_>, wnd: u32) {
        if !self.probes.has(Probes::EPISODE) || seg.ack.lt(self.tlp_end) {
            return;
        }
        let end = self.tlp_end;
        let dsack = seg
            .options
            .sack
            .as_slice()
            .first()
            .is_some_and(|&(_, right)| right == end && right.le(seg.ack));
        let pure_dup = seg.ack == self.snd_una
            && seg.payload.is_empty()
            && seg.options.sack.is_empty()
            && wnd == self.snd_wnd;
        if !self.probes.has(Probes::RETRANS) || dsack || pure_dup {
            // "TLP of new data delivered" / "Retransmission was spurious".
            self.probes.set(Probes::EPISODE, false);
        } else if seg.ack.gt(end) {
            // "Repaired the single loss": invoke congestion control once, as for
            // a loss (Linux: `tcp_init_cwnd_reduction` and `tcp_end_cwnd_reduction`
            // in CWR), ssthresh = max(cwnd/2, 2*SMSS) and cwnd = ssthresh.
            self.probes.set(Probes::EPISODE, false);
            let mss = u32::from(self.snd_mss);
            self.ssthresh = (self.cwnd / 2).max(2 * mss);
            self.cwnd = self.cwnd.min(self.ssthresh);
            // RFC 3168 6.1.2: any window reduction is announced with CWR.
            self.ecn.window_reduced();
        }
    }

    /// RFC 8985 7.4.1: this ACK reports the outstanding loss probe's last octet in
    /// a SACK block while the cumulative ACK stays below the block: the probe
    /// arrived beyond a hole.
    fn probe_sacked_beyond_hole(&self, seg: &TcpRepr<'_>) -> bool {
        if !self.probes.has(Probes::EPISODE) || !seg.ack.lt(self.tlp_end) {
            return false;
        }
        let last = self.tlp_end - 1;
        seg.options
            .sack
            .as_slice()
            .iter()
            .any(|&(left, right)| seg.ack.lt(left) && left.le(last) && last.lt(right))
    }

    fn has_unsent(&self) -> bool {
        let sent_data = self.snd_nxt.since(self.data_seq0()) as usize;
        sent_data < self.tx.len() || (self.fin_queued && self.snd_nxt.le(self.fin_seq()))
    }

    // ----- output --------------------------------------------------------

    fn window_field(&mut self, syn: bool) -> u16 {
        // Advertise the buffer space, never moving the right edge left (RFC 9293 3.8.6.2.2)
        // and announcing growth only in MSS-sized steps (receiver SWS avoidance).
        let space = self.rcv_space();
        let potential = self.rcv_nxt + space;
        let grow = potential.diff(self.rcv_adv);
        let threshold = (self.cfg.recv_buffer / 2).min(usize::from(self.our_mss)) as i32;
        if grow >= threshold.max(1)
            || self.rcv_adv.lt(self.rcv_nxt)
            || self.rcv_wnd() == 0 && space > 0 && grow > 0
        {
            self.rcv_adv = potential;
        }
        let wnd = self.rcv_wnd();
        if syn {
            // RFC 7323 2.2: the window field of a SYN is never scaled.
            let field = wnd.min(0xffff);
            if self.rcv_wscale == 0 {
                // Unscaled windows can say exactly what the field says: the advertised
                // right edge is RCV.NXT + 65535, not the buffer's end one octet on.
                self.rcv_adv = self.rcv_nxt + field;
            }
            field as u16
        } else {
            let shifted = wnd >> self.rcv_wscale;
            let field = shifted.min(0xffff);
            // The advertised edge is what the field can express.
            self.rcv_adv = self.rcv_nxt + (field << self.rcv_wscale);
            field as u16
        }
    }

    /// Bytes the SACK option of the next non-SYN segment takes (NOP, NOP, kind,
    /// length, 8 per block), as many blocks as fit beside the timestamps.
    fn sack_option_len(&self) -> usize {
        if !self.sack_permitted {
            return 0;
        }
        let n = self.sack_blocks.len() + usize::from(self.dsack.get().is_some());
        if n == 0 {
            return 0;
        }
        let room = if self.ts_enabled { 40 - 12 } else { 40 };
        4 + 8 * n.min((room - 4) / 8)
    }

    fn options_for(&self, syn: bool, now: Instant) -> TcpOptions {
        let mut o = TcpOptions::default();
        if syn {
            // RFC 9293 3.7.1 / RFC 6691: every SYN carries MSS, unless the application
            // asked for no options at all (TCP_NOOPT).
            o.mss = self.cfg.mss_option.then_some(self.our_mss);
            // RFC 7323 2.2: offer on our SYN; on a SYN,ACK exactly what the peer's SYN
            // and our configuration agreed (`*_enabled`), so both ends hold the same
            // view even when `syn_rexmit_drop_options` struck them from our last SYN
            // of a simultaneous open.
            let syn_sent = self.state == State::SynSent;
            if (syn_sent && self.offers_ws()) || (!syn_sent && self.ws_enabled) {
                o.window_scale = Some(self.rcv_wscale);
            }
            if (syn_sent && self.offers_sack()) || (!syn_sent && self.sack_permitted) {
                o.sack_permitted = true;
            }
            // RFC 7323 3.2: offer on our SYN (TSecr 0); on a SYN,ACK only if the
            // peer's SYN had it, echoing its TSval.
            if (syn_sent && self.offers_ts()) || (!syn_sent && self.ts_enabled) {
                o.timestamps = Some(Timestamps {
                    tsval: self.ts_now(now),
                    tsecr: if self.state == State::SynSent {
                        0
                    } else {
                        self.ts_recent
                    },
                });
            }
        } else {
            // RFC 7323 3.2: once both SYNs carried it, on every segment; TSecr = TS.Recent.
            if self.ts_enabled {
                o.timestamps = Some(Timestamps {
                    tsval: self.ts_now(now),
                    tsecr: self.ts_recent,
                });
            }
            if self.sack_permitted {
                // RFC 2883 4: a D-SACK block comes first; then RFC 2018 4: the block
                // holding the most recently received segment, then the others by
                // recency. Blocks that do not fit in the option space are dropped
                // when the header is written.
                if let Some((l, r)) = self.dsack.get() {
                    o.sack.push(l, r);
                }
                for &(l, r) in &self.sack_blocks {
                    if !o.sack.push(l, r) {
                        break;
                    }
                }
            }
        }
        o
    }

    fn finish(
        &mut self,
        seq: SeqNum,
        mut flags: TcpFlags,
        reason: SendReason,
        now: Instant,
    ) -> OutSegment {
        let syn = flags.syn();
        if syn && !flags.ack() {
            // RFC 3168 6.1.1 / 6.1.1.1: ECE and CWR on our SYN (not on retransmissions
            // beyond `ecn_syn_retries`).
            flags |= self
                .ecn
                .syn_flags(self.cfg.ecn, self.rtx_count, self.cfg.ecn_syn_retries);
        } else if syn {
            // RFC 3168 6.1.1: ECE alone on a SYN,ACK that agrees to ECN.
            flags |= self.ecn.syn_ack_flags(self.cfg.ecn);
        } else if !flags.rst() {
            // RFC 3168 6.1.3: ECE on every ACK while a CE mark is unanswered by CWR.
            flags |= self.ecn.ack_flags();
        }
        let window = self.window_field(syn);
        let ack = if flags.ack() { self.rcv_nxt } else { SeqNum(0) };
        let options = self.options_for(syn, now);
        if flags.ack() {
            // RFC 7323 4.3: Last.ACK.sent.
            self.last_ack_sent = ack;
            // RFC 2883 4: a duplicate is reported once.
            self.dsack.set(None);
            self.ack_now = None;
            self.delack_deadline = None;
            self.unacked_rx_bytes = 0;
            self.unacked_rx_segs = 0;
            // Every segment carrying an ACK uses up a quick ACK (Linux `tcp_dec_quickack_mode`).
            self.quick_acks = self.quick_acks.saturating_sub(1);
        }
        self.counters.segs_out += 1;
        OutSegment {
            seq,
            ack,
            flags,
            window,
            options,
            reason,
            // RFC 3168 6.1.1, 6.1.4: SYNs, pure ACKs and control segments are not-ECT;
            // `poll_segment` marks new data.
            ect: false,
        }
    }

    /// Produce the next segment to send, setting `payload` to its payload's
    /// range in the send buffer (see [`Tcb::copy_payload`]).
    pub(crate) fn poll_segment(
        &mut self,
        now: Instant,
        payload: &mut Range<usize>,
    ) -> Option<OutSegment> {
        *payload = 0..0;
        if let Some((seq, reason)) = self.rst_pending.take() {
            if reason == SendReason::Reset {
                // The reset for data after close: <SEQ=SEG.ACK><CTL=RST>, no ACK.
                let mut out = self.finish(seq, TcpFlags::RST, reason, now);
                out.window = 0;
                out.options = TcpOptions::default();
                return Some(out);
            }
            // A reset from a connection that has a RCV.NXT carries the ACK bit and the
            // usual window and options, as Linux's `tcp_send_active_reset` (RFC 9293
            // 3.10.7 allows ACK on a RST; a RST for no connection is built elsewhere).
            return Some(self.finish(seq, TcpFlags::RST | TcpFlags::ACK, reason, now));
        }
        match self.state {
            State::Closed | State::Listen => return None,
            State::TimeWait => {
                return self
                    .ack_now
                    .map(|r| self.finish(self.snd_max, TcpFlags::ACK, r, now));
            }
            _ => {}
        }

        // SYN or SYN,ACK: when SND.NXT is at ISS.
        if self.snd_nxt == self.iss {
            let passive_or_simul = self.state != State::SynSent;
            let flags = if passive_or_simul {
                TcpFlags::SYN | TcpFlags::ACK
            } else {
                TcpFlags::SYN
            };
            let reason = if self.snd_max != self.iss {
                SendReason::Retransmit
            } else {
                SendReason::Normal
            };
            if reason == SendReason::Retransmit {
                self.counters.retransmits += 1;
            }
            self.snd_nxt = self.iss + 1;
            if self.snd_max == self.iss {
                self.snd_max = self.iss + 1;
                self.rtt_probe = Some((self.iss + 1, now));
            }
            if self.rtx_deadline.is_none() {
                self.set_rtx(Some(now + self.rtt.rto(self.rto_bounds())));
            }
            return Some(self.finish(self.iss, flags, reason, now));
        }
        if !self.syn_acked() && !matches!(self.state, State::SynSent | State::SynReceived) {
            // Should not happen; be safe.
            return None;
        }
        if !self.syn_acked() {
            // Data and FIN wait for the handshake (only an ACK may go out).
            return self
                .ack_now
                .map(|r| self.finish(self.snd_nxt, TcpFlags::ACK, r, now));
        }

        // Keepalive probe: <SEQ=SND.NXT-1>, no data (RFC 1122 4.2.3.6).
        if std::mem::take(&mut self.keepalive_probe_pending) {
            return Some(self.finish(
                self.snd_max - 1,
                TcpFlags::ACK,
                SendReason::KeepaliveProbe,
                now,
            ));
        }

        // RFC 6691: the MSS counts data only, so SACK blocks riding on a data segment
        // take their room from the payload.
        let mss = usize::from(self.snd_mss)
            .saturating_sub(self.sack_option_len())
            .max(1);
        let data0 = self.data_seq0();

        // Fast retransmit (RFC 5681 3.2) of the first unacknowledged segment.
        if std::mem::take(&mut self.fast_rtx_pending) {
            // Only octets already sent: a retransmission that ran past SND.MAX would
            // hand the peer data this side still counts as unsent (SND.NXT/SND.MAX
            // do not move here), and the peer's ACK of it would then be "too new"
            // for ever. (Segments sent while SACK blocks shortened them can end
            // before a full MSS does.)
            let sent = (self.snd_max.since(data0) as usize).min(self.tx.len());
            let mut n = mss.min(sent);
            if let Some(b) = self.board.as_mut() {
                // RFC 6675 4: never retransmit octets the peer SACKed.
                if let Some(l) = b.next_sacked(self.snd_una) {
                    n = n.min(l.since(self.snd_una) as usize);
                }
                // RFC 6675 5 (step 4.3): HighRxt = the last octet retransmitted.
                b.rxt_end = b.rxt_end.max(self.snd_una + n as u32);
            }
            if n > 0 {
                take_range(&self.tx, 0, n, payload);
                self.counters.retransmits += 1;
                self.rtt_probe = None;
                if self.ts_enabled {
                    self.ts_rtt_from = Some(self.ts_now(now));
                }
                self.counters.bytes_sent += n as u64;
                let mut flags = TcpFlags::ACK;
                if n == self.tx.len() {
                    flags |= TcpFlags::PSH;
                }
                return Some(self.finish(self.snd_una, flags, SendReason::FastRetransmit, now));
            }
        }

        if let Some(out) = self.sack_hole_or_skip_sacked(mss, now, payload) {
            return Some(out);
        }
        let offset = self.snd_nxt.since(data0) as usize;
        let unsent = self.tx.len().saturating_sub(offset);
        // RFC 3042 limited transmit: the first and second duplicate ACKs each let one
        // new segment go beyond cwnd (up to cwnd + 2 * SMSS), within the peer's window;
        // cwnd itself is unchanged. Linux does the same by counting duplicate ACKs as
        // segments that left the network (`tcp_add_reno_sack`).
        let limited_transmit = if self.in_recovery {
            0
        } else {
            u32::from(self.dup_acks.min(2)) * u32::from(self.snd_mss)
        };
        let wnd = self.snd_wnd.min(
            self.cwnd
                .max(u32::from(self.snd_mss))
                .saturating_add(limited_transmit),
        );
        let mut usable = (self.snd_una + wnd).diff(self.snd_nxt).max(0) as usize;
        if self.sack_episode() {
            // RFC 6675 4 (NextSeg rule 2) and 5 (step C): new data as far as
            // cwnd - pipe (at least one SMSS) and the peer's window allow.
            let smss = u32::from(self.snd_mss);
            let pipe = self
                .board
                .as_ref()
                .map_or(0, |b| b.pipe(self.snd_una, self.snd_max, smss));
            let room = self.cwnd.saturating_sub(pipe);
            let peer = (self.snd_una + self.snd_wnd).diff(self.snd_nxt).max(0) as u32;
            usable = if room >= smss {
                room.min(peer) as usize
            } else {
                0
            };
        }
        if self.snd_nxt.lt(self.snd_max) {
            // Go-back-N: stop short of the next SACKed range.
            if let Some(l) = self
                .board
                .as_ref()
                .and_then(|b| b.next_sacked(self.snd_nxt))
            {
                usable = usable.min(l.since(self.snd_nxt) as usize);
            }
        }
        let retransmitting = self.snd_nxt.lt(self.snd_max);

        // RFC 8985 7.3: the PTO fired: one loss probe.
        if self.probes.take(Probes::TLP_DUE) {
            if let Some(out) = self.loss_probe(now, mss, payload) {
                return Some(out);
            }
        }

        // Zero-window probe: the first octet past the closed window (RFC 9293 3.8.6.1), always
        // the same octet at SND.UNA until the peer takes it; the persist timer, not the
        // retransmission timer, paces the probes.
        if self.probes.take(Probes::WINDOW) && !self.tx.is_empty() {
            take_range(&self.tx, 0, 1, payload);
            let seq = self.snd_una;
            self.snd_nxt = self.snd_una + 1;
            if self.snd_nxt.gt(self.snd_max) {
                self.snd_max = self.snd_nxt;
            }
            self.set_rtx(None);
            self.arm_persist(now);
            return Some(self.finish(seq, TcpFlags::ACK, SendReason::WindowProbe, now));
        }

        if unsent > 0 && usable > 0 {
            let n = unsent.min(usable).min(mss);
            let is_last = n == unsent;
            // Sender SWS avoidance and Nagle (RFC 9293 3.8.6.2.1, 3.7.4).
            let idle = self.flight() == 0;
            let send = retransmitting
                || n == mss
                || (is_last && (!self.cfg.nagle || idle || self.fin_queued))
                || (self.max_snd_wnd > 0 && n as u32 >= self.max_snd_wnd / 2)
                // The window, not the data, limits the segment and nothing is in flight:
                // RFC 9293 3.8.6.2.1 would wait for its override timeout; Linux sends at
                // once (receiver-side SWS avoidance already keeps such windows large).
                || (idle && n == usable);
            if send {
                take_range(&self.tx, offset, offset + n, payload);
                let seq = self.snd_nxt;
                self.snd_nxt += n as u32;
                let mut flags = TcpFlags::ACK;
                if is_last {
                    flags |= TcpFlags::PSH;
                }
                // Piggyback the FIN on the last data segment.
                if is_last && self.fin_queued && self.snd_nxt == self.fin_seq() && usable > n {
                    flags |= TcpFlags::FIN;
                    self.snd_nxt += 1;
                }
                let reason = if !retransmitting {
                    self.probes.set(Probes::PMTU_RESEND, false);
                    SendReason::Normal
                } else if self.probes.has(Probes::PMTU_RESEND) {
                    SendReason::PathMtuRetransmit
                } else {
                    SendReason::Retransmit
                };
                if retransmitting {
                    self.counters.retransmits += 1;
                } else {
                    self.counters.bytes_sent += n as u64;
                    if self.rtt_probe.is_none() {
                        self.rtt_probe = Some((self.snd_nxt, now));
                    }
                }
                if self.snd_nxt.gt(self.snd_max) {
                    self.snd_max = self.snd_nxt;
                }
                self.on_sent_something(now);
                if !retransmitting {
                    // RFC 8985 7.2: new data went out: (re)start the PTO.
                    self.schedule_loss_probe(now);
                }
                let mut out = self.finish(seq, flags, reason, now);
                if !retransmitting {
                    // RFC 3168 6.1.2: new data goes out ECT(0), with CWR after a window
                    // reduction; 6.1.5: retransmissions never carry ECT.
                    out.ect = self.ecn.new_data(&mut out.flags);
                }
                return Some(out);
            }
        }

        // A bare FIN once all data is sent.
        if self.fin_queued && unsent == 0 && self.snd_nxt == self.fin_seq() {
            let seq = self.snd_nxt;
            self.snd_nxt += 1;
            let reason = if self.snd_nxt.le(self.snd_max) {
                SendReason::Retransmit
            } else {
                SendReason::Normal
            };
            if reason == SendReason::Retransmit {
                self.counters.retransmits += 1;
            }
            if self.snd_nxt.gt(self.snd_max) {
                self.snd_max = self.snd_nxt;
            }
            self.on_sent_something(now);
            if reason == SendReason::Normal {
                // A probe retransmitting the last segment sends this FIN alone.
                self.probes.set(Probes::FIN_ALONE, true);
                // RFC 8985 7.2: new data (the FIN) went out: (re)start the PTO.
                self.schedule_loss_probe(now);
            }
            return Some(self.finish(seq, TcpFlags::FIN | TcpFlags::ACK, reason, now));
        }

        // RFC 6675 4 (NextSeg rules 3 and 4): no new data went, but cwnd - pipe
        // still allows a retransmission.
        if let Some(r) = self.sack_next_seg(false) {
            return Some(self.sack_retransmit(r, mss, now, payload));
        }

        // Zero window with data waiting and nothing in flight: arm the persist timer.
        if unsent > 0
            && self.snd_wnd == 0
            && self.snd_max == self.snd_una
            && self.persist_deadline.is_none()
        {
            self.arm_persist(now);
        }

        // A pure ACK carries the highest sequence number sent (<SEQ=SND.NXT> in the RFC's
        // terms), not the go-back-N retransmission point: a receiver would find a sequence
        // number below its RCV.NXT unacceptable and ignore the acknowledgment in it.
        if let Some(r) = self.ack_now {
            if self.cfg.fin_on_every_ack
                && self.fin_queued
                && self.snd_max == self.fin_seq() + 1
                && self.snd_una != self.snd_max
                && r != SendReason::ChallengeAck
            {
                // BSD habit (`fin_on_every_ack`): the ACK re-sends our unacknowledged
                // FIN at its own sequence number (RFC 9293 3.8.1: any unacknowledged
                // octet, the FIN included, may be retransmitted). RFC 5961 challenge
                // ACKs stay plain: FreeBSD builds them outside `tcp_output`.
                let seq = self.fin_seq();
                self.counters.retransmits += 1;
                // RFC 6298 3 (Karn): an ACK of the FIN no longer says which copy it
                // answers.
                if self.rtt_probe.is_some_and(|(end, _)| end.gt(seq)) {
                    self.rtt_probe = None;
                }
                return Some(self.finish(seq, TcpFlags::FIN | TcpFlags::ACK, r, now));
            }
            return Some(self.finish(self.snd_max, TcpFlags::ACK, r, now));
        }
        None
    }

    /// RFC 6675 4 (NextSeg rule 1): in SACK recovery, a lost hole goes first
    /// (returned). Otherwise, during a go-back-N after a timeout, octets the peer
    /// SACKed since are skipped (RFC 6675 5.1: the scoreboard keeps them from
    /// being resent) and `None` lets the caller send from SND.NXT.
    fn sack_hole_or_skip_sacked(
        &mut self,
        mss: usize,
        now: Instant,
        payload: &mut Range<usize>,
    ) -> Option<OutSegment> {
        if let Some(r) = self.sack_next_seg(true) {
            return Some(self.sack_retransmit(r, mss, now, payload));
        }
        if self.snd_nxt.lt(self.snd_max) {
            if let Some(r) = self
                .board
                .as_ref()
                .and_then(|b| b.sacked_until(self.snd_nxt))
            {
                self.snd_nxt = r.min(self.snd_max);
            }
        }
        None
    }

    /// Send the retransmission NextSeg() chose (RFC 6675 4), at most `mss`
    /// octets of data already sent.
    fn sack_retransmit(
        &mut self,
        r: Retransmission,
        mss: usize,
        now: Instant,
        payload: &mut Range<usize>,
    ) -> OutSegment {
        let data0 = self.data_seq0();
        let off = (r.seq.since(data0) as usize).min(self.tx.len());
        let sent = (self.snd_max.since(data0) as usize).min(self.tx.len());
        let n = (r.len as usize).min(mss).min(sent.saturating_sub(off));
        take_range(&self.tx, off, off + n, payload);
        let end = r.seq + n as u32;
        if let Some(b) = self.board.as_mut() {
            if r.rescue {
                // RFC 6675 4 (NextSeg rule 4): RescueRxt = RecoveryPoint, and
                // "HighRxt MUST NOT be updated".
                b.rescue = Some(self.recover);
            } else {
                // RFC 6675 4 (NextSeg rules 1, 3): HighRxt = the last octet sent.
                b.rxt_end = b.rxt_end.max(end);
            }
            if n == 0 {
                // Nothing left to send in that range (only a FIN): skip it.
                b.rxt_end = b.rxt_end.max(r.seq + r.len);
            }
        }
        self.counters.retransmits += 1;
        // RFC 6298 3 (Karn): no RTT sample from retransmitted data.
        self.rtt_probe = None;
        if self.ts_enabled {
            self.ts_rtt_from = Some(self.ts_now(now));
        }
        self.counters.bytes_sent += n as u64;
        let mut flags = TcpFlags::ACK;
        if off + n == self.tx.len() {
            flags |= TcpFlags::PSH;
        }
        self.finish(r.seq, flags, SendReason::FastRetransmit, now)
    }

    fn arm_persist(&mut self, now: Instant) {
        let mut t = self.rtt.rto(self.rto_bounds()).max(self.cfg.min_rto);
        for _ in 0..self.persist_backoff {
            t = (t * 2).min(self.cfg.max_rto);
        }
        self.persist_deadline = Some(now + t.min(self.cfg.max_rto));
    }

    fn on_sent_something(&mut self, now: Instant) {
        // RFC 6298 5.1: start the timer if it is not running.
        if self.rtx_deadline.is_none() {
            self.set_rtx(Some(now + self.rtt.rto(self.rto_bounds())));
        }
        if self.unacked_since.is_none() {
            self.unacked_since = Some(now);
        }
    }

    /// Whether the connection can be freed: closed and nobody holds a handle.
    pub(crate) fn is_reapable(&self) -> bool {
        self.state == State::Closed && self.owner == Owner::Orphan && self.rst_pending.is_none()
    }

    /// Whether there is output pending (for the stack's dirty list).
    pub(crate) fn wants_output(&self) -> bool {
        self.rst_pending.is_some()
            || self.ack_now.is_some()
            || self.keepalive_probe_pending
            || self.probes.has(Probes::WINDOW | Probes::TLP_DUE)
            || self.fast_rtx_pending
            || self.sack_next_seg(false).is_some()
            || (self.state != State::Closed
                && self.snd_nxt == self.iss
                && self.state != State::Listen)
            || (self.syn_acked() && self.has_unsent())
    }

    /// Append the send buffer's bytes in `range` (from [`Tcb::poll_segment`]) to `out`.
    pub(crate) fn copy_payload(&self, range: Range<usize>, out: &mut Vec<u8>) {
        copy_range(&self.tx, range.start, range.end, out);
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

/// RFC 9293 3.10.7.1: the reply to a segment for a CLOSED connection.
pub(crate) fn closed_reply(seg: &TcpRepr<'_>) -> Disposition {
    if seg.flags.rst() {
        // An incoming segment containing a RST is discarded.
        Disposition::Done
    } else if seg.flags.ack() {
        // <SEQ=SEG.ACK><CTL=RST>
        Disposition::Reset {
            seq: seg.ack,
            ack: None,
        }
    } else {
        // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
        Disposition::Reset {
            seq: SeqNum(0),
            ack: Some(seg.seq + seg.seg_len()),
        }
    }
}
