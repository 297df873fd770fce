//! NewReno congestion control (RFC 5681, RFC 6582): slow start, congestion
//! avoidance, and the reductions on loss, ECN-Echo (RFC 3168 6.1.2), a
//! repairing loss probe (RFC 8985 7.4.2) and a timeout. Fast recovery's
//! window inflation is loss recovery's (see `recovery`).

use super::{AckSample, Congestion, CongestionControl};
use crate::event::{CcPhase, CcReason};
use crate::time::Instant;

/// NewReno's state: the congestion window and the slow-start threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NewReno {
    cwnd: u32,
    ssthresh: u32,
}

impl NewReno {
    /// Before the handshake: no window yet, no threshold.
    pub(crate) const fn new() -> NewReno {
        NewReno {
            cwnd: 0,
            ssthresh: u32::MAX,
        }
    }
}

impl CongestionControl for NewReno {
    #[inline]
    fn on_established(&mut self, mss: u32, initial_segments: u32, syn_lost: bool) {
        self.cwnd = super::initial_window(mss, initial_segments);
        if syn_lost {
            // RFC 5681 3.1: a lost SYN (or SYN,ACK) means a loss window of one segment.
            self.cwnd = mss;
        }
    }

    #[inline]
    fn on_ack(&mut self, a: &AckSample) -> CcReason {
        let (acked, mss) = (a.acked, a.mss);
        if self.cwnd < self.ssthresh {
            // Slow start: cwnd += min(N, SMSS) (RFC 5681 3.1, ABC RFC 3465 L=1).
            self.cwnd = self.cwnd.saturating_add(acked.min(mss));
        } else {
            // Congestion avoidance: about one MSS per RTT.
            let inc = ((u64::from(mss) * u64::from(mss)) / u64::from(self.cwnd.max(1))).max(1);
            self.cwnd = self.cwnd.saturating_add(inc as u32);
        }
        CcReason::Ack
    }

    #[inline]
    fn on_congestion(&mut self, signal: Congestion, flight: u32, mss: u32, _now: Instant) {
        match signal {
            Congestion::Loss { reduced } => {
                // RFC 5681 3.2 (2), RFC 6582 3.2 step 2: ssthresh = max(FlightSize/2,
                // 2*SMSS), unless an ECE reduction in this window already halved it
                // (RFC 3168 6.1.2: at most one reduction per window).
                if !reduced {
                    self.ssthresh = (flight / 2).max(2 * mss);
                }
                // RFC 5681 3.2 (3): cwnd = ssthresh; loss recovery adds what left the
                // network on top.
                self.cwnd = self.ssthresh;
            }
            Congestion::Ecn | Congestion::ProbeRepair => {
                // RFC 3168 6.1.2 (an ECE is "treated just as a congestion loss") and
                // RFC 8985 7.4.2 (a repaired loss invokes congestion control once,
                // as Linux's CWR state): ssthresh = max(cwnd/2, 2*SMSS) (RFC 5681
                // 3.1: at least 2 * SMSS), and cwnd never grows here.
                self.ssthresh = (self.cwnd / 2).max(2 * mss);
                self.cwnd = self.cwnd.min(self.ssthresh);
            }
            Congestion::Timeout => {
                // RFC 5681 3.1 (4): after a timeout, ssthresh = max(FlightSize/2, 2*SMSS),
                // cwnd = 1 MSS.
                self.ssthresh = (flight / 2).max(2 * mss);
                self.cwnd = mss;
            }
        }
    }

    #[inline]
    fn on_recovery_end(&mut self, flight: u32, mss: u32) {
        // RFC 6582 3.2 step 3 (1): deflate to min(ssthresh, max(FlightSize, SMSS) + SMSS).
        self.cwnd = self.ssthresh.min(flight.max(mss) + mss);
    }

    #[inline]
    fn on_mss_change(&mut self, _old: u32, _new: u32) {
        // RFC 1191 6.4: a smaller path MTU is not congestion; the window, in
        // octets, stays (as Linux's `tcp_simple_retransmit` keeps it).
    }

    fn restart_after_idle(&mut self, cwnd: u32, ssthresh: u32, _mss: u32) {
        self.cwnd = cwnd;
        self.ssthresh = ssthresh;
    }

    #[inline]
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    #[inline]
    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    #[inline]
    fn phase(&self) -> CcPhase {
        if self.cwnd < self.ssthresh {
            CcPhase::SlowStart
        } else {
            CcPhase::CongestionAvoidance
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn ack(c: &mut NewReno, bytes: u32) {
        c.on_ack(&AckSample {
            acked: bytes,
            mss: MSS,
            now: Instant::ZERO,
            srtt: None,
            rtt: None,
            ack: synack_wire::SeqNum(0),
            nxt: synack_wire::SeqNum(0),
            validate: false,
            ack_limit: true,
        });
    }

    #[test]
    fn initial_window_follows_rfc_6928_and_a_lost_syn() {
        let mut c = NewReno::new();
        c.on_established(MSS, 10, false);
        assert_eq!(c.cwnd(), 10_000);
        c.on_established(1460, 10, false);
        assert_eq!(c.cwnd(), 14_600);
        c.on_established(MSS, 4, false);
        assert_eq!(c.cwnd(), 4000);
        c.on_established(MSS, 10, true);
        assert_eq!(c.cwnd(), MSS);
    }

    #[test]
    fn slow_start_then_congestion_avoidance() {
        let mut c = NewReno::new();
        c.on_established(MSS, 2, false);
        ack(&mut c, 5000);
        assert_eq!(c.cwnd(), 3000, "slow start: at most one SMSS per ACK");
        c.on_congestion(Congestion::Timeout, 8000, MSS, Instant::ZERO);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 4000));
        for _ in 0..3 {
            ack(&mut c, MSS);
        }
        assert_eq!(c.cwnd(), 4000);
        ack(&mut c, MSS);
        assert_eq!(c.cwnd(), 4250, "congestion avoidance: SMSS*SMSS/cwnd");
    }

    #[test]
    fn reductions() {
        let mut c = NewReno::new();
        c.on_established(MSS, 10, false);
        c.on_congestion(Congestion::Ecn, 0, MSS, Instant::ZERO);
        assert_eq!((c.cwnd(), c.ssthresh()), (5000, 5000));
        c.on_congestion(Congestion::Loss { reduced: true }, 9000, MSS, Instant::ZERO);
        assert_eq!((c.cwnd(), c.ssthresh()), (5000, 5000));
        c.on_congestion(
            Congestion::Loss { reduced: false },
            9000,
            MSS,
            Instant::ZERO,
        );
        assert_eq!((c.cwnd(), c.ssthresh()), (4500, 4500));
        c.on_recovery_end(1000, MSS);
        assert_eq!(c.cwnd(), 2000);
        c.on_congestion(Congestion::ProbeRepair, 0, MSS, Instant::ZERO);
        assert_eq!((c.cwnd(), c.ssthresh()), (2000, 2000));
    }
}
