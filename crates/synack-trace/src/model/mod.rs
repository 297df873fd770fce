//! The interpretation shared by the views: which segment was sent when and
//! by whom, what became of it, and what it means.
//!
//! [`build()`] reads a trace into a [`Model`]: [`pair_links`] matches each
//! packet on the link with the `SegmentSent` it carries, [`Isns`] learns each
//! direction's initial sequence number, [`parse_packet`] reads a packet no
//! event describes, and `meaning` names what each segment does.

mod build;
mod isns;
mod meaning;
mod packet;
mod pair;

pub(crate) use build::build;
pub(crate) use isns::Isns;
pub(crate) use packet::parse_packet;
pub(crate) use pair::pair_links;

use crate::HostInfo;
use std::collections::HashMap;
use synack_proto::{Cause, ConnError, DropReason, SegmentSummary, SendReason, State, TimerKind};
use synack_sim::{DropCause, HostId};

/// A column of a two-host view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    /// The left lifeline (the client).
    L,
    /// The right lifeline (the server).
    R,
}

impl Col {
    pub(crate) fn other(self) -> Col {
        match self {
            Col::L => Col::R,
            Col::R => Col::L,
        }
    }
}

/// What became of a segment after it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Nothing recorded about its arrival.
    Unknown,
    /// Arrived at this time.
    Delivered(u64),
    /// Arrived twice.
    Duplicated(u64, u64),
    /// Arrived with flipped bytes.
    Corrupted(u64),
    /// Arrived with Congestion Experienced set by a congested queue (RFC 3168 5).
    Marked(u64),
    /// The link dropped it.
    LinkDropped(DropCause),
}

/// What a segment means, for its explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// A RST.
    Rst,
    /// A SYN opening a connection.
    Syn,
    /// A SYN,ACK; `acks_isn` when its ack is the peer's ISN + 1.
    SynAck { acks_isn: bool },
    /// The ACK that completes the handshake.
    HandshakeAck,
    /// A FIN, with `len` bytes of data before it.
    Fin { len: u32 },
    /// Data.
    Data { len: u32 },
    /// A pure ACK of the peer's FIN.
    AckOfFin,
    /// A pure ACK acknowledging `newly` more bytes than the previous one.
    Ack { newly: u32 },
}

/// One thing to draw, in trace order.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// When (for segments: when it was sent, or received if the send is unknown).
    pub(crate) at: u64,
    /// Whose event.
    pub(crate) host: HostId,
    /// What.
    pub(crate) kind: StepKind,
}

/// A segment as drawn.
#[derive(Debug, Clone)]
pub(crate) struct SegStep {
    pub(crate) from: Option<HostId>,
    pub(crate) to: Option<HostId>,
    pub(crate) seg: SegmentSummary,
    /// Shown numbers (relative or absolute).
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    /// `None` when only the arrival (or the link) recorded it.
    pub(crate) reason: Option<SendReason>,
    /// `false` when the sender's event is missing and this was drawn from the receiver.
    pub(crate) sent_seen: bool,
    pub(crate) arrival: Arrival,
    /// The receiver's stack discarded it.
    pub(crate) rejected: Option<DropReason>,
    pub(crate) meaning: Meaning,
}

/// Side notes from the stack's ICMP handling.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Note {
    /// An ICMP error about one of our segments (`seq` as shown).
    Icmp {
        message: synack_proto::wire::IcmpMessage,
        seq: Option<u32>,
    },
    /// The path MTU fell (RFC 1191, RFC 8201).
    PathMtu { mtu: u16, mss: u16 },
    /// A soft error was recorded (reported only if the connection gives up).
    SoftError(ConnError),
}

#[derive(Debug, Clone)]
pub(crate) enum StepKind {
    Segment(Box<SegStep>),
    State {
        from: State,
        to: State,
        cause: Cause,
    },
    Timer(TimerKind),
    /// An ICMP error reached the stack, the path MTU fell, or a soft error
    /// was recorded.
    Note(Note),
    /// A stack drop not attached to a drawn segment.
    Drop {
        seg: Option<(SegmentSummary, u32, u32)>,
        reason: DropReason,
    },
    Error(ConnError),
    Lost(u64),
}

/// The interpreted trace.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub(crate) steps: Vec<Step>,
    /// The two hosts drawn: left (client) and right (server, `None` when only one host).
    pub(crate) left: HostId,
    pub(crate) right: Option<HostId>,
    /// Distinct hosts in the trace or the host list.
    pub(crate) host_count: usize,
    /// The pair was chosen among more than two hosts.
    pub(crate) chosen: bool,
    /// The names of the listed hosts.
    pub(crate) names: Vec<String>,
    /// The step drawn for each `SegmentSent` entry, by entry index.
    pub(crate) sent_steps: HashMap<usize, usize>,
}

/// The name of host `h`.
pub(crate) fn host_name(hosts: &[HostInfo<'_>], h: HostId) -> String {
    match hosts.get(h) {
        Some(hi) => hi.name.to_string(),
        None => format!("host{h}"),
    }
}

impl Model {
    /// The name of a host.
    pub(crate) fn name(&self, h: HostId) -> String {
        self.names
            .get(h)
            .cloned()
            .unwrap_or_else(|| format!("host{h}"))
    }

    /// The right column's name (`peer` when the trace has one host).
    pub(crate) fn right_name(&self) -> String {
        match self.right {
            Some(r) => self.name(r),
            None => "peer".to_string(),
        }
    }

    /// The column of a host's own events, if drawn.
    pub(crate) fn col(&self, h: HostId) -> Option<Col> {
        if h == self.left {
            Some(Col::L)
        } else if self.right == Some(h) {
            Some(Col::R)
        } else {
            None
        }
    }

    /// The columns a segment goes from and to, if drawn.
    pub(crate) fn seg_cols(&self, s: &SegStep) -> Option<(Col, Col)> {
        let from = s.from.map(|h| self.col(h));
        let to = s.to.map(|h| self.col(h));
        let single = self.right.is_none();
        let resolve = |c: Option<Option<Col>>| match c {
            Some(Some(c)) => Some(Some(c)),
            Some(None) if single => Some(None),
            Some(None) => None,
            None => Some(None),
        };
        let (from, to) = (resolve(from)?, resolve(to)?);
        match (from, to) {
            (Some(f), Some(t)) if f != t => Some((f, t)),
            (Some(f), _) => Some((f, f.other())),
            (None, Some(t)) => Some((t.other(), t)),
            (None, None) => None,
        }
    }

    /// The column a step is drawn from (its sender's for segments), if drawn.
    pub(crate) fn step_col(&self, st: &Step) -> Option<Col> {
        match &st.kind {
            StepKind::Segment(s) => self.seg_cols(s).map(|c| c.0),
            _ => self.col(st.host),
        }
    }

    /// Steps of hosts not drawn.
    pub(crate) fn hidden(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| self.step_col(s).is_none())
            .count()
    }
}
