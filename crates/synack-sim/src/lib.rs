//! A deterministic network simulator: hosts running synack stacks (or any
//! [`Node`]), links with delay, bandwidth, loss, duplication, reordering and
//! corruption, targeted faults, a seeded RNG and a virtual clock that jumps to
//! the next deadline.
//!
//! ```
//! use synack_sim::{LinkConfig, Node, RunOutcome, Sim};
//! use synack_proto::{Duration, Event, Instant};
//!
//! /// Counts what it receives.
//! #[derive(Default)]
//! struct Sink(usize);
//! impl Node for Sink {
//!     fn handle_packet(&mut self, _: Instant, _: &[u8]) { self.0 += 1 }
//!     fn poll_transmit(&mut self, _: Instant, _: &mut Vec<u8>) -> bool { false }
//!     fn poll_timeout(&self) -> Option<Instant> { None }
//!     fn handle_timeout(&mut self, _: Instant) {}
//!     fn poll_event(&mut self) -> Option<Event> { None }
//! }
//!
//! let mut sim = Sim::new(42);
//! let a = sim.add_host("a", [10, 0, 0, 1], Sink::default());
//! let b = sim.add_host("b", [10, 0, 0, 2], Sink::default());
//! sim.link(a, b, LinkConfig::default().with_delay(Duration::from_millis(5)));
//! let mut packet = vec![0u8; 20];
//! packet[0] = 0x45;
//! packet[16..20].copy_from_slice(&[10, 0, 0, 2]);
//! sim.inject(a, packet);
//! assert_eq!(sim.run_until_idle(Instant::from_millis(1000)).unwrap(), RunOutcome::Idle);
//! assert_eq!(sim.now(), Instant::from_millis(5));
//! assert_eq!(sim.node(b).0, 1);
//! ```
#![forbid(unsafe_code)]

pub mod fault;
mod link;
pub mod peek;
pub mod rng;
mod sim;
pub mod trace;

pub use fault::{FaultAction, FaultRule, FaultSpecError};
pub use link::{LinkConfig, LinkStats};
pub use peek::Flags;
pub use rng::Rng;
pub use sim::{App, FaultStatus, RunOutcome, Sim, SimConfig, SimError, Wake};
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

/// A synack stack is a node: the simulator drives it exactly as the TUN
/// driver does, with the virtual clock in place of the real one.
impl Node for synack_proto::Stack {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        synack_proto::Stack::handle_packet(self, now, packet);
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        synack_proto::Stack::poll_transmit(self, now, buf)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        synack_proto::Stack::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        synack_proto::Stack::handle_timeout(self, now);
    }
    fn poll_event(&mut self) -> Option<Event> {
        synack_proto::Stack::poll_event(self)
    }
}
