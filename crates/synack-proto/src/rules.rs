//! RFC 9293's connection state diagram as a pure function, and the words
//! for what a segment seen on the wire did.
//!
//! [`next`] takes a state and what happened to the endpoint — a user call,
//! a segment it sent, a segment it received and accepted, a timer — and
//! returns the state changes RFC 9293 prescribes, each with its
//! [`Cause`] and the rule's citation. It holds no connection state: the
//! caller says whether a received segment acknowledges our SYN or our FIN.
//! The stack itself (`tcb.rs`) moves between states by the same rules; the
//! tests check that every `StateChanged` the stack emits is one that
//! [`explains`] accepts, so this table and the core cannot drift apart.
//!
//! [`Observation`] names what a segment did as seen from a capture (a
//! retransmission, a duplicate ACK, a zero-window probe, the likely cause
//! of a RST ...). A capture reader reports it in
//! [`SendReason::Observed`](crate::SendReason::Observed); the stack never
//! emits it.

use crate::event::Cause;
use crate::state::State;
use synack_wire::TcpFlags;

/// A segment as the state diagram sees it: its control bits and what its
/// acknowledgment number covers from the receiver's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Segment {
    /// Control bits (SYN, ACK, FIN, RST ...).
    pub flags: TcpFlags,
    /// With ACK: the acknowledgment covers the receiver's SYN
    /// (SND.UNA > ISS).
    pub acks_syn: bool,
    /// With ACK: the acknowledgment covers the receiver's FIN.
    pub acks_fin: bool,
}

impl Segment {
    /// A segment with these flags acknowledging neither SYN nor FIN.
    pub const fn new(flags: TcpFlags) -> Segment {
        Segment {
            flags,
            acks_syn: false,
            acks_fin: false,
        }
    }
}

/// What happened to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Input {
    /// The application called connect: active OPEN (RFC 9293 3.10.1).
    Connect,
    /// The application called listen: passive OPEN (RFC 9293 3.10.1).
    Listen,
    /// The application closed, or shut down writing (RFC 9293 3.10.4).
    Close,
    /// The application aborted (RFC 9293 3.10.5).
    Abort,
    /// The endpoint sent this segment. A SYN means an active OPEN, a FIN a
    /// CLOSE, a RST an ABORT; a RST that only answers an unacceptable
    /// segment (RFC 9293 3.10.7.3) changes nothing and is not an input.
    Sent(Segment),
    /// The endpoint received this segment and it passed the acceptability
    /// test (RFC 9293 3.10.7.4, first check; for a RST, RFC 5961 3.2's
    /// exact match). Segments it discarded are not inputs.
    Received(Segment),
    /// A timer or a failure ended the connection: [`Cause::TimeWaitExpired`],
    /// [`Cause::FinWait2Timeout`], [`Cause::RetransmitLimit`] and the other
    /// causes that are neither a user call nor a segment.
    Timeout(Cause),
}

/// One state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transition {
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// Why, in the event stream's words.
    pub cause: Cause,
    /// The rule, e.g. `RFC 9293 3.10.7.4 (eighth, FIN): ESTABLISHED -> CLOSE-WAIT`.
    pub rule: &'static str,
}

/// The state changes one input causes: none, one, or two (a segment that
/// completes the handshake and carries a FIN moves through ESTABLISHED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Steps {
    items: [Option<Transition>; 2],
}

impl Steps {
    fn one(from: State, to: State, cause: Cause, rule: &'static str) -> Steps {
        Steps {
            items: [
                Some(Transition {
                    from,
                    to,
                    cause,
                    rule,
                }),
                None,
            ],
        }
    }

    fn then(mut self, t: Steps) -> Steps {
        if self.items[0].is_none() {
            return t;
        }
        self.items[1] = t.items[0];
        self
    }

    /// The transitions, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Transition> {
        self.items.iter().flatten()
    }

    /// The state after all transitions, or `None` when nothing changes.
    pub fn end(&self) -> Option<State> {
        self.iter().last().map(|t| t.to)
    }

    /// No transition.
    pub fn is_empty(&self) -> bool {
        self.items[0].is_none()
    }
}

/// The state changes RFC 9293 prescribes for `input` in state `state`.
///
/// Inputs that change nothing (an ACK in ESTABLISHED, a retransmitted SYN
/// in SYN_SENT, a repeated FIN in TIME_WAIT) give no transition.
pub fn next(state: State, input: Input) -> Steps {
    use State::*;
    match input {
        // RFC 9293 3.10.1: OPEN in CLOSED; an active OPEN sends the SYN.
        Input::Connect if state == Closed => Steps::one(
            Closed,
            SynSent,
            Cause::Connect,
            "RFC 9293 3.10.1 OPEN (active): CLOSED -> SYN-SENT",
        ),
        Input::Listen if state == Closed => Steps::one(
            Closed,
            Listen,
            Cause::Listen,
            "RFC 9293 3.10.1 OPEN (passive): CLOSED -> LISTEN",
        ),
        Input::Connect | Input::Listen => Steps::default(),
        Input::Close => close(state),
        Input::Abort => abort(state),
        Input::Sent(seg) => sent(state, seg),
        Input::Received(seg) => received(state, seg),
        Input::Timeout(cause) => timeout(state, cause),
    }
}

/// RFC 9293 3.10.4, CLOSE call.
fn close(state: State) -> Steps {
    use State::*;
    let (to, rule) = match state {
        Listen => (
            Closed,
            "RFC 9293 3.10.4 CLOSE in LISTEN: delete the TCB, CLOSED",
        ),
        SynSent => (
            Closed,
            "RFC 9293 3.10.4 CLOSE in SYN-SENT: delete the TCB, CLOSED",
        ),
        // A FIN queued in SYN_RCVD goes out once ESTABLISHED is reached.
        SynReceived | Established => (
            FinWait1,
            "RFC 9293 3.10.4 CLOSE in ESTABLISHED (or SYN-RECEIVED): send FIN, FIN-WAIT-1",
        ),
        CloseWait => (
            LastAck,
            "RFC 9293 3.10.4 CLOSE in CLOSE-WAIT: send FIN, LAST-ACK",
        ),
        _ => return Steps::default(),
    };
    Steps::one(state, to, Cause::Close, rule)
}

/// RFC 9293 3.10.5, ABORT call.
fn abort(state: State) -> Steps {
    match state {
        State::Closed => Steps::default(),
        s => Steps::one(
            s,
            State::Closed,
            Cause::Abort,
            "RFC 9293 3.10.5 ABORT: send RST (in synchronized states), delete the TCB, CLOSED",
        ),
    }
}

/// A segment the endpoint sent: what user call it reveals.
fn sent(state: State, seg: Segment) -> Steps {
    use State::*;
    let f = seg.flags;
    if f.rst() {
        return abort(state);
    }
    if f.syn() && !f.ack() {
        // RFC 9293 3.10.1: an active OPEN sends the SYN.
        return next(state, Input::Connect);
    }
    if f.syn() && f.ack() && state == Listen {
        // RFC 9293 3.10.7.2: a listener answers a SYN with SYN,ACK in SYN-RECEIVED.
        return Steps::one(
            Listen,
            SynReceived,
            Cause::RecvSyn,
            "RFC 9293 3.10.7.2 LISTEN, SYN: send SYN,ACK, SYN-RECEIVED",
        );
    }
    if f.fin() && matches!(state, Established | CloseWait | SynReceived) {
        return close(state);
    }
    Steps::default()
}

/// A segment the endpoint received and accepted (RFC 9293 3.10.7).
fn received(state: State, seg: Segment) -> Steps {
    use State::*;
    let f = seg.flags;
    match state {
        Closed => Steps::default(),
        // RFC 9293 3.10.7.2: LISTEN ignores RST, answers ACK with RST, takes SYN.
        Listen if f.syn() && !f.ack() && !f.rst() => Steps::one(
            Listen,
            SynReceived,
            Cause::RecvSyn,
            "RFC 9293 3.10.7.2 LISTEN, SYN: send SYN,ACK, SYN-RECEIVED",
        ),
        Listen => Steps::default(),
        SynSent => syn_sent(seg),
        _ if f.rst() => rst(state),
        // RFC 9293 3.10.7.4 fourth check: a SYN in SYN-RECEIVED from a passive
        // OPEN returns to LISTEN (the connection itself goes); in the
        // synchronized states RFC 5961 4.2 answers with a challenge ACK and
        // nothing changes (RFC 793 reset the connection instead).
        SynReceived if f.syn() && !f.ack() => Steps::one(
            SynReceived,
            Closed,
            Cause::RecvRst,
            "RFC 9293 3.10.7.4 (fourth, SYN) in SYN-RECEIVED: the half-open connection goes, the listener stays",
        ),
        _ if !f.ack() => Steps::default(),
        _ => acked(state, seg).then(fin(state_after_ack(state, seg), seg)),
    }
}

/// RFC 9293 3.10.7.3, SYN-SENT.
fn syn_sent(seg: Segment) -> Steps {
    use State::*;
    let f = seg.flags;
    if f.rst() {
        // "If the ACK was acceptable, then signal 'connection reset', drop the segment,
        // enter CLOSED state"; a RST without an acceptable ACK is dropped.
        if f.ack() && seg.acks_syn {
            return Steps::one(
                SynSent,
                Closed,
                Cause::RecvRst,
                "RFC 9293 3.10.7.3 SYN-SENT, RST with an acceptable ACK: connection refused, CLOSED",
            );
        }
        return Steps::default();
    }
    if !f.syn() {
        return Steps::default();
    }
    if f.ack() && seg.acks_syn {
        let est = Steps::one(
            SynSent,
            Established,
            Cause::RecvSynAck,
            "RFC 9293 3.10.7.3 SYN-SENT, SYN,ACK acknowledging our SYN: ESTABLISHED",
        );
        return est.then(fin(Established, seg));
    }
    if f.ack() {
        // An unacceptable ACK is answered with RST; the state stays.
        return Steps::default();
    }
    Steps::one(
        SynSent,
        SynReceived,
        Cause::RecvSynSimultaneous,
        "RFC 9293 3.10.7.3 SYN-SENT, SYN without ACK (simultaneous open): SYN-RECEIVED",
    )
}

/// RFC 9293 3.10.7.4 second check (RST) in SYN-RECEIVED and the synchronized states.
fn rst(state: State) -> Steps {
    let rule = match state {
        State::SynReceived => {
            "RFC 9293 3.10.7.4 (second, RST) in SYN-RECEIVED: passive OPEN returns to LISTEN, active OPEN is refused; the connection goes"
        }
        State::TimeWait => {
            "RFC 9293 3.10.7.4 (second, RST) in TIME-WAIT: CLOSED (RFC 1337 stacks, synack among them, ignore it)"
        }
        State::Closing | State::LastAck => {
            "RFC 9293 3.10.7.4 (second, RST) in CLOSING, LAST-ACK: CLOSED"
        }
        _ => {
            "RFC 9293 3.10.7.4 (second, RST) in ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT: connection reset, CLOSED"
        }
    };
    Steps::one(state, State::Closed, Cause::RecvRst, rule)
}

/// RFC 9293 3.10.7.4 fifth check (ACK): what acknowledging our SYN or FIN does.
fn acked(state: State, seg: Segment) -> Steps {
    use State::*;
    match state {
        SynReceived if seg.acks_syn => Steps::one(
            SynReceived,
            Established,
            Cause::RecvAckOfSyn,
            "RFC 9293 3.10.7.4 (fifth, ACK) in SYN-RECEIVED: our SYN is acknowledged, ESTABLISHED",
        ),
        // With the peer's FIN in the same segment, eighth step goes straight to
        // TIME-WAIT (see `fin`): one transition, as the stack reports it.
        FinWait1 if seg.acks_fin && !seg.flags.fin() => Steps::one(
            FinWait1,
            FinWait2,
            Cause::RecvAckOfFin,
            "RFC 9293 3.10.7.4 (fifth, ACK) in FIN-WAIT-1: our FIN is acknowledged, FIN-WAIT-2",
        ),
        Closing if seg.acks_fin => Steps::one(
            Closing,
            TimeWait,
            Cause::RecvAckOfFin,
            "RFC 9293 3.10.7.4 (fifth, ACK) in CLOSING: our FIN is acknowledged, TIME-WAIT",
        ),
        LastAck if seg.acks_fin => Steps::one(
            LastAck,
            Closed,
            Cause::RecvAckOfFin,
            "RFC 9293 3.10.7.4 (fifth, ACK) in LAST-ACK: our FIN is acknowledged, CLOSED",
        ),
        _ => Steps::default(),
    }
}

fn state_after_ack(state: State, seg: Segment) -> State {
    acked(state, seg).end().unwrap_or(state)
}

/// RFC 9293 3.10.7.4 eighth check (FIN), in the state the ACK left.
fn fin(state: State, seg: Segment) -> Steps {
    use State::*;
    if !seg.flags.fin() {
        return Steps::default();
    }
    match state {
        SynReceived | Established => Steps::one(
            state,
            CloseWait,
            Cause::RecvFin,
            "RFC 9293 3.10.7.4 (eighth, FIN) in SYN-RECEIVED, ESTABLISHED: CLOSE-WAIT",
        ),
        FinWait1 if seg.acks_fin => Steps::one(
            FinWait1,
            TimeWait,
            Cause::RecvFinAck,
            "RFC 9293 3.10.7.4 (fifth and eighth) in FIN-WAIT-1: the FIN acknowledges ours, TIME-WAIT",
        ),
        FinWait1 => Steps::one(
            FinWait1,
            Closing,
            Cause::RecvFin,
            "RFC 9293 3.10.7.4 (eighth, FIN) in FIN-WAIT-1, our FIN not yet acknowledged: CLOSING",
        ),
        FinWait2 => Steps::one(
            FinWait2,
            TimeWait,
            Cause::RecvFin,
            "RFC 9293 3.10.7.4 (eighth, FIN) in FIN-WAIT-2: TIME-WAIT",
        ),
        // CLOSE-WAIT, CLOSING, LAST-ACK remain; TIME-WAIT restarts its 2*MSL timer.
        _ => Steps::default(),
    }
}

/// Timers and failures.
fn timeout(state: State, cause: Cause) -> Steps {
    use State::*;
    let rule = match (state, cause) {
        (Closed, _) => return Steps::default(),
        (TimeWait, Cause::TimeWaitExpired) => {
            "RFC 9293 3.10.8: the TIME-WAIT timeout (2*MSL) deletes the TCB, CLOSED"
        }
        (TimeWait, Cause::TimeWaitReuse) => {
            "RFC 6191: a new SYN with a higher sequence number or timestamp ends TIME-WAIT"
        }
        (FinWait2, Cause::FinWait2Timeout) => {
            "RFC 9293 3.6 (Linux tcp_fin_timeout): an orphaned FIN-WAIT-2 is deleted, CLOSED"
        }
        (SynSent | SynReceived, Cause::EstablishTimeout | Cause::IcmpError) => {
            "RFC 1122 4.2.3.5, 4.2.3.9: the opening connection gives up, CLOSED"
        }
        (SynReceived, Cause::BadAck) => {
            "RFC 9293 3.10.7.4 (fifth, ACK) in SYN-RECEIVED: an unacceptable ACK is answered with RST"
        }
        (
            _,
            Cause::RetransmitLimit
            | Cause::KeepaliveTimeout
            | Cause::UserTimeout
            | Cause::StackClosed,
        ) => "RFC 9293 3.8.3, RFC 1122 4.2.3.5: the connection gives up (or its stack went), CLOSED",
        _ => return Steps::default(),
    };
    Steps::one(state, Closed, cause, rule)
}

/// The inputs that can produce a transition with `cause`.
fn inputs_for(cause: Cause) -> Vec<Input> {
    let f = |bits: u8| TcpFlags(bits);
    let (s, a, fi, r) = (
        TcpFlags::SYN.0,
        TcpFlags::ACK.0,
        TcpFlags::FIN.0,
        TcpFlags::RST.0,
    );
    let seg = |bits: u8, acks_syn: bool, acks_fin: bool| Segment {
        flags: f(bits),
        acks_syn,
        acks_fin,
    };
    match cause {
        Cause::Connect => vec![Input::Connect],
        Cause::Listen => vec![Input::Listen],
        Cause::Close => vec![Input::Close],
        Cause::Abort => vec![Input::Abort],
        Cause::RecvSyn => vec![Input::Received(seg(s, false, false))],
        Cause::RecvSynSimultaneous => vec![Input::Received(seg(s, false, false))],
        Cause::RecvSynAck => vec![Input::Received(seg(s | a, true, false))],
        Cause::RecvAckOfSyn => vec![
            Input::Received(seg(a, true, false)),
            Input::Received(seg(s | a, true, false)),
        ],
        Cause::RecvAckOfFin => vec![Input::Received(seg(a, false, true))],
        Cause::RecvFin => vec![
            Input::Received(seg(fi | a, false, false)),
            Input::Received(seg(fi | a, true, false)),
        ],
        Cause::RecvFinAck => vec![Input::Received(seg(fi | a, false, true))],
        // An in-window SYN resets the connection as a RST does (RFC 793 3.9).
        Cause::RecvRst => vec![
            Input::Received(seg(r, false, false)),
            Input::Received(seg(r | a, true, false)),
            Input::Received(seg(s, false, false)),
        ],
        other => vec![Input::Timeout(other)],
    }
}

/// Whether RFC 9293 (with the RFCs the stack follows) allows a state change
/// from `from` to `to` with `cause`; the rule's citation when it does.
///
/// The stack can get to SYN-RECEIVED from a SYN cookie's ACK only by
/// rebuilding the connection in ESTABLISHED (RFC 4987 3.6), which this
/// accepts from LISTEN and SYN-RECEIVED.
pub fn explains(from: State, to: State, cause: Cause) -> Option<&'static str> {
    if cause == Cause::SynCookie && to == State::Established {
        return matches!(from, State::Listen | State::SynReceived | State::Closed).then_some(
            "RFC 4987 3.6: a valid SYN cookie in an ACK recreates the connection, ESTABLISHED",
        );
    }
    inputs_for(cause).into_iter().find_map(|input| {
        next(from, input)
            .iter()
            .find(|t| t.from == from && t.to == to && t.cause == cause)
            .map(|t| t.rule)
    })
}

/// What a segment seen in a capture did, beyond what its flags say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Seen {
    /// Nothing more to say than its flags and numbers do.
    Normal,
    /// The first segment of a connection whose opening the capture missed:
    /// both endpoints' states are unknown.
    MidStream,
    /// Sequence space sent before (RFC 9293 3.8.1, RFC 6298).
    Retransmit,
    /// A retransmission after three duplicate ACKs (RFC 5681 3.2).
    FastRetransmit,
    /// A retransmission of octets the peer had already acknowledged.
    SpuriousRetransmit,
    /// New octets below the highest sent: they arrived after later ones.
    OutOfOrder,
    /// Octets beyond the highest seen: this many before them were not
    /// captured (lost before the capture point, or still to come).
    Gap {
        /// Octets missing.
        missing: u32,
    },
    /// The `n`-th ACK in a row repeating the same acknowledgment number
    /// while data is outstanding (RFC 5681 2, 4.2).
    DuplicateAck {
        /// 1 for the first duplicate.
        n: u32,
    },
    /// Only the window changed (RFC 9293 3.8.6).
    WindowUpdate,
    /// The receiver advertises a zero window: its buffer is full (3.8.6).
    ZeroWindow,
    /// A probe of a zero window (RFC 9293 3.8.6.1).
    WindowProbe,
    /// A keepalive probe: seq = SND.NXT - 1, no new data (RFC 1122 4.2.3.6).
    KeepaliveProbe,
    /// The ACK answering a keepalive probe.
    KeepaliveAck,
    /// An ACK answering an in-window SYN or an inexact RST (RFC 5961 3.2, 4.2).
    ChallengeAck,
    /// TIME-WAIT answering a repeated FIN with the final ACK again
    /// (RFC 9293 3.10.7.4).
    TimeWaitAck,
    /// RST: nobody listens on the port (RFC 9293 3.10.7.1).
    RstRefused,
    /// RST: the application aborted (SO_LINGER 0, RFC 9293 3.10.5).
    RstAbort,
    /// RST: the application closed with data it had not read (RFC 2525
    /// 2.17, RFC 1122 4.2.2.13).
    RstUnreadData,
    /// RST answering a challenge ACK: the peer had no such connection
    /// (RFC 5961 3.2, 4.2).
    RstChallengeAnswer,
    /// RST from an endpoint with no connection for an ACK or data segment:
    /// a half-open connection, its state lost in a reboot or a crash
    /// (RFC 9293 3.5.1).
    RstHalfOpen,
    /// RST answering a SYN,ACK or ACK for nothing the endpoint sent (RFC 9293 3.10.7.3).
    RstBadAck,
}

/// A segment's [`Seen`] and what the capture says about its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Observation {
    /// What the segment did.
    pub seen: Seen,
    /// The TCP checksum is wrong: corrupted, or captured on the sending
    /// host before checksum offload filled it in.
    pub bad_checksum: bool,
    /// The capture kept only part of the packet (snap length).
    pub snapped: bool,
}

impl Seen {
    /// Every kind, the ones with a field once with a representative value
    /// (for views and their tests: every kind must have its text).
    pub fn all() -> Vec<Seen> {
        vec![
            Seen::Normal,
            Seen::MidStream,
            Seen::Retransmit,
            Seen::FastRetransmit,
            Seen::SpuriousRetransmit,
            Seen::OutOfOrder,
            Seen::Gap { missing: 1 },
            Seen::DuplicateAck { n: 1 },
            Seen::WindowUpdate,
            Seen::ZeroWindow,
            Seen::WindowProbe,
            Seen::KeepaliveProbe,
            Seen::KeepaliveAck,
            Seen::ChallengeAck,
            Seen::TimeWaitAck,
            Seen::RstRefused,
            Seen::RstAbort,
            Seen::RstUnreadData,
            Seen::RstChallengeAnswer,
            Seen::RstHalfOpen,
            Seen::RstBadAck,
        ]
    }

    /// The position of the kind in [`Seen::all`]: an exhaustive match, so a
    /// new kind cannot compile without a place in the list.
    #[cfg(test)]
    const fn position(self) -> usize {
        match self {
            Seen::Normal => 0,
            Seen::MidStream => 1,
            Seen::Retransmit => 2,
            Seen::FastRetransmit => 3,
            Seen::SpuriousRetransmit => 4,
            Seen::OutOfOrder => 5,
            Seen::Gap { .. } => 6,
            Seen::DuplicateAck { .. } => 7,
            Seen::WindowUpdate => 8,
            Seen::ZeroWindow => 9,
            Seen::WindowProbe => 10,
            Seen::KeepaliveProbe => 11,
            Seen::KeepaliveAck => 12,
            Seen::ChallengeAck => 13,
            Seen::TimeWaitAck => 14,
            Seen::RstRefused => 15,
            Seen::RstAbort => 16,
            Seen::RstUnreadData => 17,
            Seen::RstChallengeAnswer => 18,
            Seen::RstHalfOpen => 19,
            Seen::RstBadAck => 20,
        }
    }
}

impl Observation {
    /// Every kind with clean bytes, then one with a bad checksum and one
    /// snapped (the flags add a note to any kind's text).
    pub fn all() -> Vec<Observation> {
        let mut all: Vec<Observation> = Seen::all().into_iter().map(Observation::new).collect();
        all.push(Observation {
            bad_checksum: true,
            ..Observation::new(Seen::Normal)
        });
        all.push(Observation {
            snapped: true,
            ..Observation::new(Seen::Normal)
        });
        all
    }

    /// An observation with clean bytes.
    pub const fn new(seen: Seen) -> Observation {
        Observation {
            seen,
            bad_checksum: false,
            snapped: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_all_lists_each_kind_in_its_place() {
        let all = Seen::all();
        for (i, k) in all.iter().enumerate() {
            assert_eq!(k.position(), i, "{k:?}");
        }
        // The largest position any kind can have is the last one listed.
        assert_eq!(Seen::RstBadAck.position(), all.len() - 1);
    }
}
