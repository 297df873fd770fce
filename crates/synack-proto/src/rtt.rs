//! The retransmission timer's estimator (RFC 6298).

use crate::time::{Duration, Instant};
use synack_wire::SeqNum;

/// Clock granularity G of RFC 6298 2 (synack's clock is in microseconds;
/// Linux uses one jiffy; 1 ms keeps RTTVAR from collapsing on a LAN).
const GRANULARITY: Duration = Duration::from_millis(1);

/// "No sample yet" in `srtt`.
const NO_SRTT: u64 = u64::MAX;

/// Nanoseconds of `d` (saturating; 584 years).
fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
}

/// SRTT, RTTVAR and the RTO with its exponential backoff, and the segment
/// being timed for the next sample.
///
/// Kept per connection, so stored compactly: durations as nanoseconds (exact
/// for every `Duration` the arithmetic below produces), SRTT's absence as a
/// sentinel, the timed segment in two fields that share the padding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RttEstimator {
    srtt: u64,
    rttvar: u64,
    rto: u64,
    backoff: u8,
    /// The sequence number whose acknowledgment ends the measurement.
    probe_end: SeqNum,
    /// When the timed segment went out (`None`: nothing is timed).
    probe_at: Option<Instant>,
}

/// The RTO's bounds and slop (`ConnConfig::min_rto`, `max_rto`, `rto_slop`), passed
/// in rather than kept in every connection's estimator: the shared configuration
/// already holds them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RtoBounds {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
    /// Added to every RTO computed after the initial one, before the upper bound
    /// applies (FreeBSD's `TCPT_RANGESET` adds `net.inet.tcp.rexmit_slop`); zero
    /// is RFC 6298.
    pub(crate) slop: Duration,
    /// `min` bounds the variance term, not the sum (`ConnConfig::rto_min_on_variance`).
    pub(crate) min_on_variance: bool,
}

impl RttEstimator {
    /// RFC 6298 2.1: before any sample, RTO is the initial value (1 s).
    pub(crate) fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        RttEstimator {
            srtt: NO_SRTT,
            rttvar: 0,
            rto: ns(initial.clamp(min, max)),
            backoff: 0,
            probe_end: SeqNum(0),
            probe_at: None,
        }
    }

    /// The segment being timed, one at a time (RFC 6298 3): the sequence
    /// number its ACK must reach, and when it went out.
    pub(crate) fn probe(&self) -> Option<(SeqNum, Instant)> {
        self.probe_at.map(|at| (self.probe_end, at))
    }

    /// Time the segment ending at `end`, sent at `at`.
    pub(crate) fn start_probe(&mut self, end: SeqNum, at: Instant) {
        self.probe_end = end;
        self.probe_at = Some(at);
    }

    /// Stop timing (Karn's rule: the timed octets were sent again, or sampled).
    pub(crate) fn clear_probe(&mut self) {
        self.probe_at = None;
    }

    /// Feed one RTT measurement (never from a retransmitted segment: Karn's rule).
    pub(crate) fn sample(&mut self, r: Duration, b: RtoBounds) {
        // In nanoseconds, as the estimator keeps them: the same values as
        // `Duration` arithmetic (whose division floors too), without its
        // seconds-and-nanoseconds normalization at every step.
        let r = ns(r);
        let (srtt, rttvar) = if self.srtt == NO_SRTT {
            // RFC 6298 2.2: first measurement.
            (r, r / 2)
        } else {
            // RFC 6298 2.3: alpha = 1/8, beta = 1/4; RTTVAR first, with the old SRTT.
            let err = self.srtt.abs_diff(r);
            let rttvar = self.rttvar.saturating_mul(3).saturating_add(err) / 4;
            (self.srtt.saturating_mul(7).saturating_add(r) / 8, rttvar)
        };
        self.srtt = srtt.min(NO_SRTT - 1);
        self.rttvar = rttvar;
        // RFC 6298 2.3 and 2.4: RTO = SRTT + max(G, K*RTTVAR), clamped.
        let mut var = ns(GRANULARITY).max(rttvar.saturating_mul(4));
        if b.min_on_variance {
            // Linux (`tcp_rtt_estimator`, `__tcp_set_rto`): RTO = SRTT +
            // max(K*RTTVAR, rto_min), as `rttvar_us` never falls below
            // `tcp_rto_min`: the timer stays rto_min beyond the round trip
            // however steady the path, where RFC 6298 2.4's clamp lets it
            // fall to the round trip itself once it exceeds the minimum.
            var = var.max(ns(b.min));
        }
        let rto = srtt.saturating_add(var);
        self.rto = rto.clamp(ns(b.min), ns(b.max));
        // A valid sample ends any backoff (RFC 6298 5.7 note, as Linux does).
        self.backoff = 0;
    }

    /// RFC 6298 5.5: back off the timer (double it, up to the maximum).
    pub(crate) fn back_off(&mut self) {
        self.backoff = self.backoff.saturating_add(1).min(16);
    }

    /// New data was acknowledged: forget the backoff (Linux `icsk_backoff = 0`).
    pub(crate) fn reset_backoff(&mut self) {
        self.backoff = 0;
    }

    /// RFC 6298 5.7: after a retransmitted SYN and with no sample, use 3 s.
    pub(crate) fn reset_after_syn_retransmit(&mut self, b: RtoBounds) {
        if self.srtt == NO_SRTT {
            self.rto = ns(Duration::from_secs(3).clamp(b.min, b.max));
        }
    }

    /// The current timeout, backoff included.
    ///
    /// RFC 6298 5.5 doubles the RTO on each expiry, up to the maximum (2.5).
    /// FreeBSD computes `RTO = min(base * 2^k + slop, max)` for the k-th backoff and
    /// after every RTT sample, but not for the initial RTO before any sample
    /// (`t_rxtcur = tcp_rexmit_initial`); with a zero slop both are the same.
    pub(crate) fn rto(&self, b: RtoBounds) -> Duration {
        let max = b.max;
        let mut t = Duration::from_nanos(self.rto);
        for _ in 0..self.backoff {
            t = t.saturating_mul(2);
            if t >= max {
                return max;
            }
        }
        if self.backoff > 0 || self.srtt != NO_SRTT {
            // FreeBSD TCPT_RANGESET: the slop rides on every computed RTO; RFC 6298 has none.
            t = t.saturating_add(b.slop);
        }
        t.min(max)
    }

    /// Smoothed RTT, if measured.
    pub(crate) fn srtt(&self) -> Option<Duration> {
        (self.srtt != NO_SRTT).then(|| Duration::from_nanos(self.srtt))
    }

    /// RTT variance.
    pub(crate) fn rttvar(&self) -> Duration {
        Duration::from_nanos(self.rttvar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: RtoBounds = RtoBounds {
        min: Duration::from_millis(200),
        max: Duration::from_secs(120),
        slop: Duration::ZERO,
        min_on_variance: false,
    };

    fn est() -> RttEstimator {
        RttEstimator::new(
            Duration::from_secs(1),
            Duration::from_millis(200),
            Duration::from_secs(120),
        )
    }

    #[test]
    fn initial_rto_is_one_second_and_doubles() {
        let mut e = est();
        assert_eq!(e.rto(B), Duration::from_secs(1));
        e.back_off();
        assert_eq!(e.rto(B), Duration::from_secs(2));
        e.back_off();
        assert_eq!(e.rto(B), Duration::from_secs(4));
        for _ in 0..20 {
            e.back_off();
        }
        assert_eq!(e.rto(B), Duration::from_secs(120));
    }

    #[test]
    fn first_and_second_sample_follow_rfc6298() {
        let mut e = est();
        e.sample(Duration::from_millis(100), B);
        // SRTT = 100, RTTVAR = 50, RTO = 100 + 200 = 300 ms.
        assert_eq!(e.srtt(), Some(Duration::from_millis(100)));
        assert_eq!(e.rttvar(), Duration::from_millis(50));
        assert_eq!(e.rto(B), Duration::from_millis(300));
        e.sample(Duration::from_millis(200), B);
        // RTTVAR = 3/4*50 + 1/4*100 = 62.5; SRTT = 7/8*100 + 1/8*200 = 112.5
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(B), Duration::from_micros(112_500 + 250_000));
    }

    #[test]
    fn linux_keeps_min_rto_beyond_a_steady_round_trip() {
        let linux = RtoBounds {
            min_on_variance: true,
            ..B
        };
        let (mut rfc, mut lx) = (est(), est());
        // 300 ms, steady: RTTVAR decays towards the 1 ms granularity.
        for _ in 0..60 {
            rfc.sample(Duration::from_millis(300), B);
            lx.sample(Duration::from_millis(300), linux);
        }
        // RFC 6298 2.4: SRTT + max(G, 4 RTTVAR), here 301 ms: barely past
        // the round trip. Linux: SRTT + max(4 RTTVAR, rto_min) = 500 ms.
        assert_eq!(rfc.rto(B), Duration::from_millis(301));
        assert_eq!(lx.rto(linux), Duration::from_millis(500));
        // Below rto_min the two agree on the first sample's 3 * RTT ...
        let (mut rfc, mut lx) = (est(), est());
        rfc.sample(Duration::from_millis(100), B);
        lx.sample(Duration::from_millis(100), linux);
        assert_eq!(rfc.rto(B), Duration::from_millis(300));
        assert_eq!(lx.rto(linux), Duration::from_millis(300));
        // ... and Linux's never falls to rto_min on a LAN: 50 us + 200 ms.
        lx.sample(Duration::from_micros(50), linux);
        assert!(lx.rto(linux) > Duration::from_millis(200));
    }

    #[test]
    fn min_rto_clamps() {
        let mut e = est();
        e.sample(Duration::from_micros(50), B);
        assert_eq!(e.rto(B), Duration::from_millis(200));
    }

    #[test]
    fn slop_is_added_to_every_rto_after_the_initial_one() {
        // FreeBSD with rexmit_initial 1000 ms and rexmit_slop 200 ms: a SYN's
        // timeouts are 1.0, 2.2, 4.2, 8.2 ... s, capped by TCPTV_REXMTMAX (64 s).
        let b = RtoBounds {
            min: Duration::from_millis(30),
            max: Duration::from_secs(64),
            slop: Duration::from_millis(200),
            min_on_variance: false,
        };
        let mut e = est();
        let mut seen = vec![e.rto(b)];
        for _ in 0..7 {
            e.back_off();
            seen.push(e.rto(b));
        }
        let ms: Vec<u128> = seen.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [1000, 2200, 4200, 8200, 16200, 32200, 64000, 64000]);
        // After a sample the slop comes on top of SRTT + 4 * RTTVAR.
        e.sample(Duration::from_millis(100), b);
        assert_eq!(e.rto(b), Duration::from_millis(300 + 200));
    }

    proptest::proptest! {
        /// The nanosecond arithmetic gives what RFC 6298 2.2-2.4 written
        /// with `Duration` gives, sample after sample.
        #[test]
        fn samples_match_the_duration_formulas(rs in proptest::collection::vec(0u64..20_000_000_000, 1..20)) {
            let mut e = est();
            let (mut srtt, mut rttvar): (Option<Duration>, Duration) = (None, Duration::ZERO);
            for r in rs {
                let r = Duration::from_nanos(r);
                e.sample(r, B);
                let (s, v) = match srtt {
                    None => (r, r / 2),
                    Some(s) => ((s * 7 + r) / 8, (rttvar * 3 + s.abs_diff(r)) / 4),
                };
                (srtt, rttvar) = (Some(s), v);
                let rto = (s + GRANULARITY.max(v * 4)).clamp(B.min, B.max);
                proptest::prop_assert_eq!(e.srtt(), Some(s));
                proptest::prop_assert_eq!(e.rttvar(), v);
                proptest::prop_assert_eq!(e.rto(B), rto);
            }
        }
    }
}
