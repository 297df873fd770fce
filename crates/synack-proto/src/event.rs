//! The event stream: every segment sent, received or dropped, every state
//! change with its cause, every timer that fires, every connection error.
//! The ladder diagram, pcap, tables and statistics are views of this stream.

use crate::error::ConnError;
use crate::state::State;
use crate::time::Instant;
use std::net::{IpAddr, SocketAddr};
use synack_wire::listed_enum;
use synack_wire::{IcmpMessage, SeqNum, TcpFlags, TcpOptions, WireError};

/// A connection handle: a slot index and a generation, so a stale handle
/// to a reused slot is detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    /// Slot index.
    pub index: u32,
    /// Generation of the slot.
    pub generation: u32,
}

/// A listener handle. After `close_listener` its number may name the next listener,
/// as a closed file descriptor's number is reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId(pub u32);

/// The four numbers that name a connection, seen from this stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FourTuple {
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
}

/// What a segment looked like, without its payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentSummary {
    /// Sender address and port.
    pub src: SocketAddr,
    /// Receiver address and port.
    pub dst: SocketAddr,
    /// Control bits.
    pub flags: TcpFlags,
    /// Sequence number (absolute).
    pub seq: SeqNum,
    /// Acknowledgment number (absolute; meaningful with ACK).
    pub ack: SeqNum,
    /// Raw window field.
    pub window: u16,
    /// Payload length.
    pub len: u32,
    /// Options carried.
    pub options: TcpOptions,
}

listed_enum! {
    /// Why a segment was sent, for explanations.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum SendReason {
        /// Ordinary output: handshake, data, FIN, ACK.
        Normal,
        /// A retransmission after the retransmission timer fired.
        Retransmit,
        /// A fast retransmission after three duplicate ACKs (RFC 5681 3.2).
        FastRetransmit,
        /// Data sent again in smaller segments because an ICMP error lowered the
        /// path MTU (RFC 1191 6.4, RFC 8201): the original was dropped on the way.
        PathMtuRetransmit,
        /// A tail loss probe (RFC 8985 7.3): the probe timeout passed without an
        /// ACK, so new data (if the peer's window allows) or else the last segment
        /// again goes out to elicit one.
        LossProbe,
        /// A keepalive probe (RFC 1122 4.2.3.6).
        KeepaliveProbe,
        /// A zero-window probe (RFC 9293 3.8.6.1).
        WindowProbe,
        /// A challenge ACK (RFC 5961).
        ChallengeAck,
        /// An ACK for an unacceptable segment (RFC 9293 3.10.7.4).
        UnacceptableAck,
        /// A duplicate ACK for an out-of-order segment (RFC 5681 4.2).
        DuplicateAck,
        /// An ACK sent when the delayed-ACK timer fired.
        DelayedAck,
        /// A reset answering a segment for no connection (RFC 9293 3.10.7.1) or a bad ACK.
        Reset,
        /// A reset because the application aborted.
        Abort,
        /// A SYN,ACK carrying a SYN cookie (RFC 4987 3.6).
        SynCookie,
        /// A window update after the application read data.
        WindowUpdate,
        /// An ACK re-sent in TIME_WAIT for a repeated FIN.
        TimeWaitAck,
        /// What a segment seen in a capture did, as a capture reader inferred
        /// it (never emitted by the stack).
        Observed(crate::rules::Observation),
    }
}

listed_enum! {
    /// Why a segment or packet was dropped. Each reason has a counter.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[non_exhaustive]
    pub enum DropReason {
        /// The packet did not parse.
        Malformed(WireError),
        /// The destination address is not one of ours.
        NotOurAddress,
        /// A RST for no connection: never answered (RFC 9293 3.10.7.1).
        RstNoConnection,
        /// A segment for no connection, answered with RST.
        NoConnection,
        /// A segment to a listener that is neither SYN nor ACK, or a RST (3.10.7.2).
        ListenerIgnored,
        /// The listener's SYN queue is full and SYN cookies are off.
        SynQueueFull,
        /// The listener's accept queue is full.
        AcceptQueueFull,
        /// An ACK to a listener with an invalid SYN cookie.
        BadCookie,
        /// The stack's connection limit is reached.
        ConnectionLimit,
        /// A segment failing the acceptability test (3.10.7.4); answered with ACK.
        Unacceptable,
        /// A RST outside the window or not exact (RFC 5961 3.2).
        RstNotExact,
        /// A RST in TIME_WAIT (RFC 1337).
        RstInTimeWait,
        /// A segment without ACK in a synchronized state (3.10.7.4 fifth).
        NoAck,
        /// An ACK for data never sent (RFC 5961 5).
        AckTooNew,
        /// An ACK older than the window (RFC 5961 5).
        AckTooOld,
        /// A bad ACK in SYN_SENT (answered with RST unless a RST).
        BadAckSynSent,
        /// A segment in SYN_SENT with neither SYN nor RST.
        SynSentNoSyn,
        /// An acceptable ACK in SYN_SENT whose timestamp echo is no TSval of
        /// ours since the SYN: it answers another SYN (Linux's
        /// PAWSActiveRejected); answered with RST unless a RST.
        ForeignEchoSynSent,
        /// Out-of-order data beyond the reassembly bound.
        ReassemblyFull,
        /// A SYN in a synchronized state (answered with a challenge ACK, RFC 5961 4).
        SynInWindow,
        /// A challenge ACK suppressed by the rate limit (RFC 5961 7).
        ChallengeAckLimited,
        /// An out-of-window or invalid pure ACK left unanswered: the connection
        /// answered one less than 500 ms ago (Linux `tcp_invalid_ratelimit`),
        /// which stops two ends that disagree from ACKing each other for ever.
        OowAckLimited,
        /// A segment to a connection that is closed.
        Closed,
        /// A segment whose timestamp is older than the last one accepted: an old
        /// duplicate (PAWS, RFC 7323 5.3); answered with ACK.
        PawsRejected,
        /// An ICMP or ICMPv6 message that did not parse, or whose quoted packet
        /// is not a TCP segment synack can identify (too short, not TCP, a later
        /// fragment, the wrong IP version).
        IcmpMalformed(WireError),
        /// An ICMP message that is not an error (echo and other queries): TCP has
        /// no use for it.
        IcmpNotError,
        /// An ICMP Source Quench: ignored (RFC 6633 2: TCP MUST silently discard it).
        IcmpSourceQuench,
        /// An ICMP Redirect: it changes the route, which is not TCP's business
        /// (RFC 1122 3.2.2.2); synack keeps no route cache to update.
        IcmpRedirect,
        /// An ICMP error type or code with no meaning for TCP.
        IcmpUnknownCode,
        /// An ICMP error quoting a segment of no connection (or one in TIME_WAIT).
        IcmpNoConnection,
        /// An ICMP error whose quoted sequence number is outside SND.UNA to
        /// SND.MAX - 1, so not about a segment in flight: a stale or forged
        /// message (RFC 5927 4.1).
        IcmpSeqOutOfWindow,
        /// A Packet Too Big (or fragmentation needed) reporting an MTU no lower
        /// than the connection's path MTU: a path MTU is never raised by ICMP
        /// (RFC 1191 3, RFC 8201 4).
        IcmpMtuNotLower,
        /// A SYN for a connection pending at a listener that decides before
        /// the handshake: the client's retransmission while the application
        /// decides, or after it chose to ignore the connection.
        SynPending,
    }
}

listed_enum! {
    /// What caused a state change.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum Cause {
        /// The application called connect (active OPEN).
        Connect,
        /// The application called listen (passive OPEN).
        Listen,
        /// A SYN arrived at a listener.
        RecvSyn,
        /// A SYN arrived in SYN_SENT (simultaneous open).
        RecvSynSimultaneous,
        /// A SYN,ACK acknowledging our SYN arrived.
        RecvSynAck,
        /// An ACK of our SYN arrived.
        RecvAckOfSyn,
        /// A valid ACK recreated a connection from a SYN cookie.
        SynCookie,
        /// An ACK of our FIN arrived.
        RecvAckOfFin,
        /// The peer's FIN arrived.
        RecvFin,
        /// The peer's FIN arrived in a segment that also acknowledges our FIN.
        RecvFinAck,
        /// The application closed (or shut down writing).
        Close,
        /// The application aborted.
        Abort,
        /// A RST arrived.
        RecvRst,
        /// The TIME_WAIT timer (2*MSL) expired.
        TimeWaitExpired,
        /// The FIN_WAIT_2 timer expired for an orphaned connection.
        FinWait2Timeout,
        /// Retransmissions ran out (SYN, SYN,ACK, data or FIN).
        RetransmitLimit,
        /// Keepalive probes went unanswered.
        KeepaliveTimeout,
        /// The user timeout expired with data unacknowledged.
        UserTimeout,
        /// The connection-establishment timer expired in SYN_SENT or SYN_RCVD
        /// (`ConnConfig::establish_timeout`, FreeBSD's TCP_KEEPINIT).
        EstablishTimeout,
        /// An ACK for something never sent arrived in SYN_RCVD (RST sent).
        BadAck,
        /// The stack was closed (process exit).
        StackClosed,
        /// A new SYN reused a TIME_WAIT connection (RFC 6191).
        TimeWaitReuse,
        /// An ICMP error (port or protocol unreachable, administratively
        /// prohibited, time exceeded in transit) ended an opening connection
        /// (RFC 1122 4.2.3.9, RFC 5927 5.2; `ConnConfig::icmp_may_rst`).
        IcmpError,
    }
}

listed_enum! {
    /// The timers of a connection.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[non_exhaustive]
    pub enum TimerKind {
        /// Retransmission (RFC 6298).
        Retransmit,
        /// Delayed ACK (RFC 1122 4.2.3.2).
        DelayedAck,
        /// Persist / zero-window probe (RFC 9293 3.8.6.1).
        Persist,
        /// Keepalive (RFC 1122 4.2.3.6).
        Keepalive,
        /// TIME_WAIT (2*MSL).
        TimeWait,
        /// FIN_WAIT_2 for orphaned connections.
        FinWait2,
        /// User timeout (RFC 9293 3.8.4).
        UserTimeout,
        /// Connection establishment (`ConnConfig::establish_timeout`, FreeBSD's TCP_KEEPINIT).
        Establish,
        /// Tail loss probe timeout, PTO (RFC 8985 7.2): about two round trips
        /// without an ACK. It holds the retransmission timer's place while armed.
        LossProbe,
        /// RACK's reordering timer (RFC 8985 6.2): a segment sent before one
        /// that was delivered is declared lost if the reordering window
        /// passes without it. It holds the retransmission timer's place.
        Reorder,
    }
}

impl TimerKind {
    /// Short name for displays.
    pub const fn name(self) -> &'static str {
        match self {
            TimerKind::Retransmit => "retransmit",
            TimerKind::DelayedAck => "delayed-ack",
            TimerKind::Persist => "persist",
            TimerKind::Keepalive => "keepalive",
            TimerKind::TimeWait => "time-wait",
            TimerKind::FinWait2 => "fin-wait-2",
            TimerKind::UserTimeout => "user-timeout",
            TimerKind::Establish => "establish",
            TimerKind::LossProbe => "loss-probe",
            TimerKind::Reorder => "reorder",
        }
    }
}

listed_enum! {
    /// Where a connection's congestion controller stands: its growth mode, or
    /// the reduction it is in. The phase of a
    /// [`EventKind::CongestionChanged`] event and of `ConnStatus`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[non_exhaustive]
    pub enum CcPhase {
        /// Slow start: the window doubles each round trip (RFC 5681 3.1).
        SlowStart,
        /// HyStart++'s conservative slow start: the round trip grew, so the
        /// window grows by a quarter of slow start's pace until the exit is
        /// confirmed or undone (RFC 9406 4.2).
        ConservativeSlowStart,
        /// NewReno's congestion avoidance: about one segment a round trip
        /// (RFC 5681 3.1).
        CongestionAvoidance,
        /// CUBIC below the window of the last reduction, W_max: the concave
        /// part of the cubic function, slowing as it nears W_max (RFC 9438 4.3).
        CubicConcave,
        /// CUBIC past W_max: the convex part, probing faster for more
        /// bandwidth (RFC 9438 4.5).
        CubicConvex,
        /// CUBIC in its Reno-friendly region: the estimate of what Reno would
        /// reach is the larger, so the window follows it (RFC 9438 4.3).
        CubicRenoFriendly,
        /// Fast recovery after a loss (RFC 5681 3.2, RFC 6675 5, with RFC
        /// 9937's proportional rate reduction as the send budget).
        Recovery,
        /// The window was reduced without a loss to repair: an ECN-Echo (RFC
        /// 3168 6.1.2) or a tail loss probe that repaired a loss (RFC 8985
        /// 7.4.2); Linux's CWR state.
        Reduced,
    }
}

listed_enum! {
    /// Why a connection's congestion window or slow-start threshold changed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[non_exhaustive]
    pub enum CcReason {
        /// The handshake completed: the initial window (RFC 5681 3.1, RFC
        /// 6928), one segment if a SYN was lost.
        InitialWindow,
        /// An ACK of new data grew the window (slow start, conservative slow
        /// start or congestion avoidance, as the phase says).
        Ack,
        /// HyStart++ saw the round trip grow and left slow start for
        /// conservative slow start (RFC 9406 4.2).
        HystartExit,
        /// HyStart++ found the round trip fall back during conservative slow
        /// start: slow start resumes (RFC 9406 4.2).
        HystartResume,
        /// Conservative slow start ran its rounds: congestion avoidance
        /// begins with ssthresh = cwnd (RFC 9406 4.2).
        HystartDone,
        /// Loss found by duplicate ACKs or SACK: fast retransmit and the
        /// multiplicative decrease (RFC 5681 3.2, RFC 9438 4.6).
        Loss,
        /// During recovery, the send budget moved the window: NewReno's
        /// inflation and deflation (RFC 6582 3.2) or proportional rate
        /// reduction (RFC 9937 5).
        RecoveryProgress,
        /// Recovery ended: the window settles at ssthresh (RFC 6582 3.2 step
        /// 3, RFC 9937 5).
        RecoveryEnd,
        /// An ECN-Echo (RFC 3168 6.1.2, RFC 9438 4.6).
        Ecn,
        /// A tail loss probe repaired a loss (RFC 8985 7.4.2).
        ProbeRepair,
        /// The retransmission timer expired (RFC 5681 3.1, RFC 9438 4.8).
        Timeout,
        /// A reduction proved spurious (D-SACK or timestamps) and was undone
        /// (RFC 9438 4.9).
        SpuriousUndo,
        /// The send MSS changed (a Packet Too Big, RFC 1191 6.4).
        MssChange,
        /// New data after the sender was idle longer than the RTO: cwnd
        /// falls toward the restart window (RFC 5681 4.1,
        /// [`crate::ConnConfig::restart_after_idle`]).
        IdleRestart,
    }
}

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// A segment left the stack.
    SegmentSent {
        /// The connection that sent it, if any (a RST for no connection has none).
        conn: Option<ConnId>,
        /// The segment.
        seg: SegmentSummary,
        /// Why.
        reason: SendReason,
    },
    /// A segment arrived and parsed.
    SegmentReceived {
        /// The connection it was demultiplexed to, if any.
        conn: Option<ConnId>,
        /// The segment.
        seg: SegmentSummary,
    },
    /// A packet or segment was dropped.
    Dropped {
        /// The connection it was for, if any.
        conn: Option<ConnId>,
        /// The segment, if it parsed.
        seg: Option<SegmentSummary>,
        /// Why.
        reason: DropReason,
    },
    /// A connection (or listener) changed state.
    StateChanged {
        /// The connection (`None` for a listener's own LISTEN/CLOSED changes).
        conn: Option<ConnId>,
        /// The listener, for listener changes and half-open entries.
        listener: Option<ListenerId>,
        /// Who.
        tuple: FourTuple,
        /// From.
        from: State,
        /// To.
        to: State,
        /// Why.
        cause: Cause,
    },
    /// A timer fired.
    TimerFired {
        /// The connection.
        conn: ConnId,
        /// Which timer.
        timer: TimerKind,
    },
    /// A connection failed; the application sees this error on its next call.
    ConnectionError {
        /// The connection.
        conn: ConnId,
        /// The error.
        error: ConnError,
    },
    /// An ICMP or ICMPv6 error message arrived and parsed. What came of it
    /// follows: a `Dropped` event, a `SoftError`, a `PathMtuReduced`, or a
    /// `ConnectionError` and a state change with [`Cause::IcmpError`].
    IcmpReceived {
        /// The connection whose segment it quotes, if any.
        conn: Option<ConnId>,
        /// Who sent it (a router on the path, or the peer).
        from: IpAddr,
        /// Type, code and fields.
        message: IcmpMessage,
        /// The quoted segment's connection, seen from this stack, when the
        /// quote parsed.
        tuple: Option<FourTuple>,
        /// The quoted segment's sequence number, when the quote parsed.
        seq: Option<SeqNum>,
    },
    /// A soft ICMP error was recorded on a connection (RFC 1122 4.2.3.9): the
    /// connection goes on, and reports this error rather than `TimedOut` if
    /// it later times out.
    SoftError {
        /// The connection.
        conn: ConnId,
        /// The error it would report.
        error: ConnError,
    },
    /// A Packet Too Big (or fragmentation needed) lowered the path MTU of a
    /// connection (RFC 1191, RFC 8201): it now sends smaller segments.
    PathMtuReduced {
        /// The connection.
        conn: ConnId,
        /// The new path MTU (IP header included).
        mtu: u16,
        /// The largest payload a segment may now carry (TCP options such as
        /// timestamps come out of it; in SYN_SENT it caps the MSS the peer
        /// will announce).
        mss: u16,
    },
    /// A SYN arrived at a listener that decides before the handshake: a
    /// pending connection waits for the application's decision
    /// ([`crate::Stack::next_pending`], [`crate::Stack::decide`]).
    SynPending {
        /// The listener.
        listener: ListenerId,
        /// The connection: `local` is the address and port the client dialled.
        tuple: FourTuple,
    },
    /// A connection's congestion window, slow-start threshold or phase
    /// changed. Changes made while one segment or one timer is handled come
    /// as one event, with the reason of the last.
    CongestionChanged {
        /// The connection.
        conn: ConnId,
        /// The algorithm it runs.
        algorithm: crate::config::CongestionAlgorithm,
        /// The congestion window the sender uses now, in octets (during
        /// recovery, the recovery's window: NewReno's inflated one, or RFC
        /// 9937's).
        cwnd: u32,
        /// The slow-start threshold, in octets (`u32::MAX` until a reduction).
        ssthresh: u32,
        /// Where the controller stands now.
        phase: CcPhase,
        /// Why it changed.
        reason: CcReason,
    },
    /// The event queue overflowed and this many events were discarded.
    EventsLost {
        /// How many.
        count: u64,
    },
}
