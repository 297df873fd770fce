//! A deterministic network simulator: hosts running synack stacks (or any
//! [`Node`]), links with delay, bandwidth, loss, duplication, reordering and
//! corruption, targeted faults, a seeded RNG and a virtual clock that jumps to
//! the next deadline.
#![forbid(unsafe_code)]

pub mod trace;

pub use trace::{DropCause, HostId, LinkEvent, LinkFate, TraceEntry, TraceKind};

use synack_proto::{Event, Instant};

/// Anything that sends and receives IP packets on the virtual clock.
/// A synack `Stack` is one; tests may use simpler ones.
pub trait Node {
    /// An IP packet arrived.
    fn handle_packet(&mut self, now: Instant, packet: &[u8]);
    /// Write the next outgoing IP packet into `buf`; `false` when there is none.
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool;
    /// The next deadline at which `handle_timeout` must be called.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Fire every deadline at or before `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// The next event of the node's stream, if it has one.
    fn poll_event(&mut self) -> Option<Event>;
}
