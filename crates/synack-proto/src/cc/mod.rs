//! Congestion control: how much a connection may have in flight.
//!
//! A controller answers a handful of events (the handshake completed, new
//! data was acknowledged, the network signalled congestion, loss recovery
//! ended, the MSS changed) and keeps `cwnd` and `ssthresh`. It knows nothing
//! of loss recovery: duplicate ACK counting, NewReno's window inflation and
//! the SACK pipe live in `recovery`, which asks the controller for the
//! window and tells it when recovery begins and ends. [`Cc`] dispatches to
//! the algorithm a connection uses without allocating or calling through a
//! pointer.

mod new_reno;

pub(crate) use new_reno::NewReno;

use crate::config::CongestionAlgorithm;
use crate::time::{Duration, Instant};

/// A congestion signal, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Congestion {
    /// Loss found by duplicate ACKs or SACK information: fast retransmit and
    /// fast recovery begin (RFC 5681 3.2, RFC 6582 3.2, RFC 6675 5).
    /// `reduced`: an ECN-Echo already reduced the window for this window of
    /// data (RFC 3168 6.1.2: at most one reduction per window).
    Loss {
        /// The window was already reduced for this window of data.
        reduced: bool,
    },
    /// An ECN-Echo (RFC 3168 6.1.2), outside loss recovery.
    Ecn,
    /// A tail loss probe alone repaired the loss of the last segment
    /// (RFC 8985 7.4.2): the window is reduced once, as for a loss.
    ProbeRepair,
    /// The retransmission timer expired (RFC 5681 3.1, RFC 6298 5).
    Timeout,
}

/// A congestion control algorithm. Every method is called from the TCB's
/// input and timer paths, so implementations keep to arithmetic: no
/// allocation, no I/O.
pub(crate) trait CongestionControl {
    /// The handshake completed: the initial window, for SMSS `mss` and
    /// `initial_segments` segments (RFC 5681 3.1, RFC 6928); `syn_lost` when
    /// our SYN or SYN,ACK had to be sent again.
    fn on_established(&mut self, mss: u32, initial_segments: u32, syn_lost: bool);

    /// `acked` new octets were acknowledged outside loss recovery, by an ACK
    /// without ECN-Echo, at `now`; `srtt` is the smoothed round-trip time once
    /// measured (for controllers whose growth depends on time, as CUBIC's,
    /// RFC 9438 4.2).
    fn on_ack(&mut self, acked: u32, mss: u32, now: Instant, srtt: Option<Duration>);

    /// A congestion signal. `flight` is FlightSize, the octets sent and not
    /// yet acknowledged.
    fn on_congestion(&mut self, signal: Congestion, flight: u32, mss: u32, now: Instant);

    /// Fast recovery ended with a full acknowledgment; `flight` is what is
    /// still outstanding after it.
    fn on_recovery_end(&mut self, flight: u32, mss: u32);

    /// The send MSS went from `old` to `new` octets (a Packet Too Big).
    fn on_mss_change(&mut self, old: u32, new: u32);

    /// The congestion window, in octets.
    fn cwnd(&self) -> u32;

    /// The slow-start threshold, in octets (`u32::MAX` until a reduction).
    fn ssthresh(&self) -> u32;
}

/// The congestion controller of a connection: one variant per
/// [`CongestionAlgorithm`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cc {
    /// NewReno (RFC 5681, RFC 6582).
    NewReno(NewReno),
}

impl Cc {
    /// A controller running `algorithm`, before the handshake completes.
    pub(crate) fn new(algorithm: CongestionAlgorithm) -> Cc {
        match algorithm {
            CongestionAlgorithm::NewReno => Cc::NewReno(NewReno::new()),
        }
    }

    /// The algorithm this controller runs.
    pub(crate) fn algorithm(&self) -> CongestionAlgorithm {
        match self {
            Cc::NewReno(_) => CongestionAlgorithm::NewReno,
        }
    }
}

impl CongestionControl for Cc {
    #[inline]
    fn on_established(&mut self, mss: u32, initial_segments: u32, syn_lost: bool) {
        match self {
            Cc::NewReno(c) => c.on_established(mss, initial_segments, syn_lost),
        }
    }

    #[inline]
    fn on_ack(&mut self, acked: u32, mss: u32, now: Instant, srtt: Option<Duration>) {
        match self {
            Cc::NewReno(c) => c.on_ack(acked, mss, now, srtt),
        }
    }

    #[inline]
    fn on_congestion(&mut self, signal: Congestion, flight: u32, mss: u32, now: Instant) {
        match self {
            Cc::NewReno(c) => c.on_congestion(signal, flight, mss, now),
        }
    }

    #[inline]
    fn on_recovery_end(&mut self, flight: u32, mss: u32) {
        match self {
            Cc::NewReno(c) => c.on_recovery_end(flight, mss),
        }
    }

    #[inline]
    fn on_mss_change(&mut self, old: u32, new: u32) {
        match self {
            Cc::NewReno(c) => c.on_mss_change(old, new),
        }
    }

    #[inline]
    fn cwnd(&self) -> u32 {
        match self {
            Cc::NewReno(c) => c.cwnd(),
        }
    }

    #[inline]
    fn ssthresh(&self) -> u32 {
        match self {
            Cc::NewReno(c) => c.ssthresh(),
        }
    }
}
