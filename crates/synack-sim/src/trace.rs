//! The simulator's record of a run: each host's stack events and the link's
//! fate of every packet, merged in time order. The ladder diagram, the JSON
//! lines, the Mermaid and SVG views and the pcap file are all rendered from it.

use synack_proto::{Event, Instant};

/// Index of a host in the simulation, in the order hosts were added.
pub type HostId = usize;

/// One entry of the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// When it happened on the virtual clock.
    pub at: Instant,
    /// Which host it concerns (for link events: the sender).
    pub host: HostId,
    /// What happened.
    pub kind: TraceKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceKind {
    /// An event of the host's stack.
    Stack(Event),
    /// A packet on a link.
    Link(LinkEvent),
}

/// A packet put on a link by `from` towards `to`, and what the link did with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    /// Sending host.
    pub from: HostId,
    /// Receiving host: the owner of the destination address. When no host
    /// owns it ([`DropCause::NoRoute`]) this is the sender itself.
    pub to: HostId,
    /// The IP packet as sent (before any corruption).
    pub packet: Vec<u8>,
    /// What the link did.
    pub fate: LinkFate,
}

/// What a link did with a packet.
///
/// A packet held back for reordering is `Delivered` (or `Corrupted`,
/// `Duplicated`) at its later time, so the trace shows packets sent after it
/// arriving first; the link's `reordered` counter counts them. When a
/// packet is both corrupted and duplicated, the fate is `Duplicated` (both
/// copies carry the same flipped bytes) and the `corrupted` counter says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkFate {
    /// Delivered at the given time.
    Delivered {
        /// Arrival time.
        at: Instant,
    },
    /// Delivered at the given time, with bytes flipped.
    Corrupted {
        /// Arrival time.
        at: Instant,
    },
    /// Delivered at the given time with Congestion Experienced set in its IP
    /// header (RFC 3168 5: a congested queue marked it instead of dropping it).
    Marked {
        /// Arrival time.
        at: Instant,
    },
    /// Delivered twice.
    Duplicated {
        /// First arrival.
        at: Instant,
        /// Second arrival.
        again: Instant,
    },
    /// Dropped, with why.
    Dropped(DropCause),
}

/// Why a link dropped a packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropCause {
    /// Random loss.
    Loss,
    /// A targeted fault rule, with its description.
    Rule(String),
    /// The link's queue was full.
    QueueFull,
    /// The packet was larger than the link MTU.
    TooBig,
    /// No route between the hosts.
    NoRoute,
}
