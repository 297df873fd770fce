//! Whether the flow used its congestion window, so that an
//! application-limited flow does not grow it (RFC 7661 3, RFC 9438 4.6
//! and 5.8): the window only grows while it limits what is sent, since an
//! ACK of data that did not fill it says nothing about whether the network
//! would carry more.
//!
//! As Linux's `tcp_cwnd_validate` and `tcp_is_cwnd_limited`: after each
//! transmission of new data (and whenever data waits while the flight
//! fills cwnd) the sender records whether the flight filled cwnd and the
//! largest number of segments out during the current window of data (the
//! window ends when SND.UNA reaches SND.NXT of the last record). An ACK
//! may grow cwnd if the flow was cwnd-limited in that window, or, in slow
//! start, while cwnd is below twice the segments that were out (so that
//! slow start still doubles what the flow actually sent).

use synack_wire::SeqNum;

/// What the output path reports after sending new data, or when data
/// waits and nothing was sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendSample {
    /// SND.UNA.
    pub(crate) una: SeqNum,
    /// SND.NXT after the transmission.
    pub(crate) nxt: SeqNum,
    /// Segments sent and not yet acknowledged (Linux's `packets_out`).
    pub(crate) out: u32,
    /// The flight fills cwnd (Linux: packets in flight >= cwnd).
    pub(crate) limited: bool,
    /// SMSS.
    pub(crate) mss: u32,
}

/// The record of the current window (Linux's `cwnd_usage_seq`,
/// `max_packets_out`, `is_cwnd_limited`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CwndUse {
    /// SND.NXT when the record was last reset: its window ends when SND.UNA
    /// reaches it.
    pub(crate) seq: SeqNum,
    /// The most segments out in the window.
    pub(crate) max_out: u32,
    /// The flight filled cwnd in the window.
    pub(crate) limited: bool,
}

impl CwndUse {
    /// Nothing sent yet.
    pub(crate) const fn new() -> CwndUse {
        CwndUse {
            seq: SeqNum(0),
            max_out: 0,
            limited: false,
        }
    }

    /// The record after `s`: a new one when the window ended, when the
    /// flight fills cwnd, or when more segments are out than the record
    /// holds (and it does not already say cwnd-limited).
    pub(crate) fn after(self, s: &SendSample) -> CwndUse {
        if !s.una.lt(self.seq) || s.limited || (!self.limited && s.out > self.max_out) {
            CwndUse {
                seq: s.nxt,
                max_out: s.out,
                limited: s.limited,
            }
        } else {
            self
        }
    }

    /// RFC 7661 4.3 (Linux `tcp_is_cwnd_limited`): whether an ACK may grow
    /// `cwnd` (octets of SMSS `mss`): the flow filled it, or in slow start
    /// cwnd is below twice the segments that were out.
    pub(crate) fn allows_growth(&self, cwnd: u32, mss: u32, slow_start: bool) -> bool {
        self.limited
            || (slow_start && u64::from(cwnd) < 2 * u64::from(self.max_out) * u64::from(mss.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn sent(u: CwndUse, una: u32, nxt: u32, cwnd: u32) -> CwndUse {
        let flight = nxt - una;
        u.after(&SendSample {
            una: SeqNum(una),
            nxt: SeqNum(nxt),
            out: flight.div_ceil(MSS),
            limited: flight / MSS >= cwnd / MSS,
            mss: MSS,
        })
    }

    #[test]
    fn slow_start_grows_to_twice_what_was_sent() {
        // Linux's slow-start-app-limited-9-packets-out: 9 of 10 segments sent.
        let u = sent(CwndUse::new(), 1, 9001, 10 * MSS);
        assert!(!u.limited);
        assert_eq!(u.max_out, 9);
        assert!(u.allows_growth(17 * MSS, MSS, true));
        assert!(!u.allows_growth(18 * MSS, MSS, true));
        assert!(
            !u.allows_growth(10 * MSS, MSS, false),
            "no growth in avoidance"
        );
    }

    #[test]
    fn a_full_window_allows_growth_until_the_window_ends() {
        let u = sent(CwndUse::new(), 1, 10_001, 10 * MSS);
        assert!(u.limited && u.allows_growth(100 * MSS, MSS, false));
        // Within the window, a smaller flight keeps the record.
        assert_eq!(sent(u, 5001, 12_001, 20 * MSS), u);
        // Once SND.UNA reaches its end, the next transmission starts a new one.
        let v = sent(u, 10_001, 11_001, 20 * MSS);
        assert!(!v.limited && v.max_out == 1);
        assert!(!v.allows_growth(20 * MSS, MSS, true));
    }
}
