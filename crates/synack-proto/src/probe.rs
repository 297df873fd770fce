//! The probes a sender uses when ACKs stop coming: the zero-window probe
//! (RFC 9293 3.8.6.1) and the Tail Loss Probe (RFC 8985 7). Their flags share
//! one byte of the TCB (one TCB exists per connection); the probe timeout
//! (PTO) itself is `Timer::LossProbe` in the connection's timer table, where
//! it shares the retransmission timer's slot, as Linux's single retransmit
//! timer slot holds either (`ICSK_TIME_RETRANS` or `ICSK_TIME_LOSS_PROBE`),
//! since the PTO never fires later than the RTO.

use crate::time::Duration;

/// RFC 8985 7.2: the worst-case delayed-ACK time (WCDelAckT, 200 ms) a PTO
/// allows for when a single segment is in flight, whose ACK the receiver
/// may delay (Linux adds `tcp_rto_min`, 200 ms by default).
pub(crate) const WC_DEL_ACK_T: Duration = Duration::from_millis(200);

/// Added to 2*SRTT when more than one segment is in flight: Linux's
/// `TCP_TIMEOUT_MIN_US` (2 ms), a floor for timer granularity that keeps a
/// near-zero SRTT from firing the probe at once (RFC 6298's G plays the
/// same part for the RTO).
pub(crate) const PTO_FLOOR: Duration = Duration::from_millis(2);

/// RFC 8985 7.2 (`TLP_calc_PTO`), before the cap at the RTO's expiry:
/// PTO = 2*SRTT, plus WCDelAckT when FlightSize is one segment.
pub(crate) fn pto(srtt: Duration, one_segment: bool) -> Duration {
    let extra = if one_segment { WC_DEL_ACK_T } else { PTO_FLOOR };
    srtt.saturating_mul(2).saturating_add(extra)
}

/// The probe flags of a connection, one byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Probes(u8);

impl Probes {
    /// The persist timer fired with the peer's window closed: the next output
    /// is a zero-window probe (RFC 9293 3.8.6.1).
    pub(crate) const WINDOW: u8 = 1 << 0;
    /// The PTO fired: the next output is a loss probe (RFC 8985 7.3).
    pub(crate) const TLP_DUE: u8 = 1 << 1;
    /// A loss probe is outstanding, a "TLP episode": `TLP.end_seq` is set
    /// (RFC 8985 7.1, 7.4.2).
    pub(crate) const EPISODE: u8 = 1 << 2;
    /// The outstanding loss probe was a retransmission (`TLP.is_retrans`).
    pub(crate) const RETRANS: u8 = 1 << 3;
    /// Our FIN went out in a segment of its own rather than on the last data
    /// segment: a probe retransmitting the last segment sends the FIN alone.
    pub(crate) const FIN_ALONE: u8 = 1 << 4;
    /// The path MTU fell and what was in flight is being sent again in smaller
    /// segments (RFC 1191 6.4), not because a timer expired.
    pub(crate) const PMTU_RESEND: u8 = 1 << 5;
    /// A Fast Open child may send data before its SYN,ACK is acknowledged
    /// (RFC 7413 4.2.2: the server may send right after the SYN,ACK); kept
    /// here so the TCB stays the size it was.
    pub(crate) const EARLY_DATA: u8 = 1 << 6;

    /// Whether `bit` is set.
    pub(crate) fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// Set or clear `bit`.
    pub(crate) fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }

    /// Clear `bit`, returning whether it was set.
    pub(crate) fn take(&mut self, bit: u8) -> bool {
        let was = self.has(bit);
        self.set(bit, false);
        was
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pto_is_two_srtt_plus_the_delayed_ack_allowance_for_one_segment() {
        let srtt = Duration::from_millis(50);
        assert_eq!(pto(srtt, true), Duration::from_millis(300));
        assert_eq!(pto(srtt, false), Duration::from_millis(102));
    }

    #[test]
    fn flags_are_independent_bits() {
        let mut p = Probes::default();
        p.set(Probes::TLP_DUE, true);
        p.set(Probes::EPISODE, true);
        assert!(p.has(Probes::TLP_DUE) && p.has(Probes::EPISODE));
        assert!(p.take(Probes::TLP_DUE));
        assert!(!p.take(Probes::TLP_DUE));
        assert!(p.has(Probes::EPISODE) && !p.has(Probes::WINDOW));
    }
}
