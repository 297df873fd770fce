//! When to acknowledge: delayed ACKs (RFC 1122 4.2.3.2, RFC 5681 4.2) and
//! Linux's quick-ACK mode.

use super::timers::Timer;
use super::Tcb;
use crate::time::{Duration, Instant};

/// When to acknowledge what arrived.
#[derive(Debug)]
pub(super) struct AckPolicy {
    /// An ACK is due at the next output, and why.
    pub(super) due: Option<super::Queued>,
    /// Octets received since the last ACK went out.
    pub(super) unacked_bytes: u32,
    /// Data segments received since the last ACK went out.
    pub(super) unacked_segs: u32,
    /// ACKs still to be sent at once rather than delayed (quick-ACK mode).
    /// Immediate ACKs left (Linux caps quick-ack mode at 16; kept in a u16).
    pub(super) quick: u16,
    /// When in-order data last arrived, or the handshake completed while none
    /// had (Linux's `icsk_ack.lrcvtime`, which `tcpi_last_data_recv` reads):
    /// for re-entering quick-ACK mode. `None` before either.
    pub(super) last_data_rx: Option<Instant>,
    /// In-order data has arrived (Linux: the delayed-ACK estimate `ato` is
    /// set): the first data enters quick-ACK mode whatever `last_data_rx` says.
    pub(super) data_seen: bool,
    /// When (milliseconds, wrapping) we last answered a pure ACK that was out of
    /// window or otherwise invalid (`OOW_ACK_INTERVAL_MS`).
    pub(super) last_oow_ms: u32,
}

/// The longest an ACK is delayed, whatever the configuration says.
const MAX_DELAYED_ACK: Duration = Duration::from_millis(200);

impl Tcb {
    /// A full-sized segment from the peer: our MSS less the timestamps option it
    /// carries in every segment (RFC 7323 3.2; as Linux's measured receive MSS).
    pub(super) fn rcv_full_segment(&self) -> u32 {
        u32::from(self.opts.our_mss) - if self.opts.ts { 12 } else { 0 }
    }

    /// In-order data arrived. As Linux's `tcp_event_data_recv`: the first data of the
    /// connection, or data after an idle period longer than the RTO, enters quick-ACK
    /// mode with min(window / (2 * MSS), `quick_ack_segments`) ACKs, at least 2
    /// (`tcp_incr_quickack`).
    pub(super) fn note_data_rx(&mut self, now: Instant) {
        let idle = match self.acks.last_data_rx {
            Some(t) if self.acks.data_seen => {
                now.saturating_since(t) > self.rtt.rto(self.rto_bounds())
            }
            _ => true,
        };
        self.acks.data_seen = true;
        if idle {
            let quick = (self.rcv_wnd() / (2 * self.rcv_full_segment()))
                .max(2)
                .min(self.cfg.quick_ack_segments);
            self.acks.quick = self
                .acks
                .quick
                .max(u16::try_from(quick).unwrap_or(u16::MAX));
        }
        self.acks.last_data_rx = Some(now);
    }

    pub(super) fn schedule_ack(&mut self, now: Instant) {
        // RFC 1122 4.2.3.2 / RFC 5681 4.2: ACK at least every second full-sized segment,
        // otherwise within the delayed-ACK timeout. As Linux (`__tcp_ack_snd_check`,
        // "more than one full frame received") the ACK goes at once as soon as more
        // than one full-sized segment's worth is unacknowledged, so one oversized
        // (coalesced) segment or small segments adding up to more are ACKed as two
        // full-sized ones would be (FreeBSD: never delay a segment above the MSS).
        // With `delayed_ack_by_segments`, every second data segment whatever its size.
        let second_segment = self.cfg.delayed_ack_by_segments && self.acks.unacked_segs >= 2;
        match self.cfg.delayed_ack {
            Some(d)
                if self.acks.unacked_bytes <= self.rcv_full_segment()
                    && !second_segment
                    && self.acks.quick == 0 =>
            {
                if !self.timers.is_armed(Timer::DelayedAck) {
                    // RFC 1122 4.2.3.2 allows up to 500 ms; synack caps it at 200 ms (Linux's maximum).
                    self.timers
                        .set(Timer::DelayedAck, now + d.min(MAX_DELAYED_ACK));
                }
            }
            _ => {
                self.acks.due.get_or_insert(super::Queued::Normal);
            }
        }
    }
}
