//! CUBIC congestion control (RFC 9438), as Linux runs it by default: slow
//! start with HyStart++ (RFC 9406), then a window that follows the cubic
//! function of the time since the last reduction, concave below the window
//! of that reduction (W_max) and convex beyond it, never below what Reno
//! would reach (the Reno-friendly region); a multiplicative decrease by
//! beta_cubic = 0.7 with fast convergence; a timeout that the timestamps
//! prove spurious (RFC 3522), or a fast recovery whose retransmissions the
//! peer all reports as duplicates (D-SACK, RFC 3708), is undone (RFC 9438
//! 4.9).
//!
//! Windows in the cubic arithmetic are in segments (RFC 9438 4.1: "cwnd ...
//! in segments"), as `f64`: the simulator and the tests replay it exactly,
//! since no clock or randomness enters.

use super::hystart::{HyStart, Verdict, CSS_GROWTH_DIVISOR};
use super::validation::{CwndUse, SendSample};
use super::{AckSample, Congestion, CongestionControl};
use crate::event::{CcPhase, CcReason};
use crate::time::{Duration, Instant};
use synack_wire::SeqNum;

/// RFC 9438 4.1: C, in segments per second cubed.
const C: f64 = 0.4;
/// RFC 9438 4.1: beta_cubic, the multiplicative decrease factor.
const BETA: f64 = 0.7;
/// RFC 9438 4.3: alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic), the
/// Reno-friendly additive increase until W_est reaches cwnd_prior.
const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);
/// The round-trip time assumed before the first sample (RFC 6298 2.1's
/// initial RTO is 1 s; a congestion avoidance stage before any sample is
/// rare, so the value matters little).
const RTT_UNKNOWN: Duration = Duration::from_millis(100);

/// The congestion avoidance stage: what RFC 9438 4.2 computes from.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Epoch {
    /// W_max: the window before the last reduction, in segments (after
    /// fast convergence, RFC 9438 4.7), 0 when no reduction happened yet.
    w_max: f64,
    /// cwnd_prior: the window when ssthresh was last set (RFC 9438 4.3).
    cwnd_prior: f64,
    /// t_epoch: when the current congestion avoidance stage began.
    start: Option<Instant>,
    /// K: the time the cubic function takes to reach W_max (RFC 9438 4.2).
    k: f64,
    /// W_est: the window Reno would have (RFC 9438 4.3), in segments.
    w_est: f64,
    /// The window in this stage grew first as CUBIC's or Reno's.
    region: CcPhase,
    /// The stage follows a timeout: K = 0 and W_max = the window when the
    /// stage begins (RFC 9438 4.8).
    after_timeout: bool,
}

/// CUBIC's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cubic {
    cwnd: u32,
    ssthresh: u32,
    /// SMSS, for the conversions to segments.
    mss: u32,
    /// Octets of growth earned and not yet a whole octet of cwnd.
    acc: f64,
    epoch: Epoch,
    hystart: HyStart,
    /// Whether the flow used its window (RFC 7661, `validation.rs`).
    used: CwndUse,
    /// RFC 9438 4.9: the state before the last timeout or fast recovery,
    /// while it may still prove spurious.
    undo: Option<Undo>,
}

/// What a spurious reduction's undo restores (RFC 9438 4.9: cwnd_prior,
/// ssthresh_prior, W_max, K, the epoch, W_est, and HyStart++'s state).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Undo {
    cwnd: u32,
    ssthresh: u32,
    epoch: Epoch,
    hystart: HyStart,
    /// A fast recovery's record (`None`: a timeout's): what D-SACK detection
    /// counts against.
    dsack: Option<DsackWait>,
}

/// RFC 3708 2 (Linux `undo_marker`, `undo_retrans`): a fast recovery was
/// spurious when every segment it retransmitted comes back in a D-SACK.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DsackWait {
    /// SND.UNA when the recovery began: a D-SACK of octets below it is
    /// about an older episode.
    marker: SeqNum,
    /// The connection's retransmission count when the recovery began.
    base: u32,
    /// Segments of this episode reported in D-SACK blocks so far.
    dsacked: u32,
}

impl Cubic {
    /// Before the handshake: no window yet, no threshold.
    pub(crate) const fn new() -> Cubic {
        Cubic {
            cwnd: 0,
            ssthresh: u32::MAX,
            mss: 536,
            acc: 0.0,
            epoch: Epoch {
                w_max: 0.0,
                cwnd_prior: 0.0,
                start: None,
                k: 0.0,
                w_est: 0.0,
                region: CcPhase::CubicConvex,
                after_timeout: false,
            },
            hystart: HyStart::new(),
            used: CwndUse::new(),
            undo: None,
        }
    }

    /// The state of a first slow start kept compact until now (see
    /// `small.rs`): `cwnd` octets of SMSS `mss`, no reduction yet.
    pub(crate) const fn from_first_slow_start(
        cwnd: u32,
        mss: u32,
        hystart: HyStart,
        used: CwndUse,
    ) -> Cubic {
        Cubic {
            cwnd,
            mss,
            hystart,
            used,
            ..Cubic::new()
        }
    }

    fn segs(&self, octets: u32) -> f64 {
        f64::from(octets) / f64::from(self.mss.max(1))
    }

    /// Add `octets` (fractional) to cwnd, carrying the fraction.
    fn grow(&mut self, octets: f64) {
        self.acc += octets.max(0.0);
        let whole = self.acc.floor();
        self.acc -= whole;
        self.cwnd = self
            .cwnd
            .saturating_add(whole.min(f64::from(u32::MAX)) as u32);
    }

    /// Slow start (RFC 5681 3.1), with HyStart++ in the first (RFC 9406 4.2):
    /// at most L segments an ACK, a quarter of that in CSS; nothing when the
    /// flow did not use its window (`grow`), though HyStart++ still counts
    /// its rounds and samples, as Linux's runs apart from the window's growth.
    fn slow_start(&mut self, a: &AckSample, grow: bool) -> CcReason {
        let mut reason = CcReason::Ack;
        let mut divisor = 1;
        if self.hystart.enabled {
            match self.hystart.on_ack(a) {
                Verdict::SlowStart => {}
                Verdict::Css => divisor = CSS_GROWTH_DIVISOR,
                Verdict::EnterCss => {
                    divisor = CSS_GROWTH_DIVISOR;
                    reason = CcReason::HystartExit;
                }
                Verdict::Resume => reason = CcReason::HystartResume,
                Verdict::Done => {
                    // RFC 9406 4.2: congestion avoidance with ssthresh = cwnd.
                    self.ssthresh = self.cwnd;
                    return CcReason::HystartDone;
                }
            }
        }
        if !grow {
            return reason;
        }
        // RFC 9406 4.2: cwnd += min(N, L * SMSS) / divisor.
        let inc = a.acked.min(a.slow_start_limit()) / divisor;
        self.cwnd = self
            .cwnd
            .saturating_add(inc)
            .min(self.ssthresh.max(self.cwnd));
        reason
    }

    /// RFC 9438 4.2: W_cubic(t) = C * (t - K)^3 + W_max, in segments.
    fn w_cubic(&self, t: f64) -> f64 {
        let d = t - self.epoch.k;
        C * d * d * d + self.epoch.w_max
    }

    /// Congestion avoidance (RFC 9438 4.2 to 4.5).
    fn avoid(&mut self, a: &AckSample) {
        let cwnd = self.segs(self.cwnd);
        let start = match self.epoch.start {
            Some(s) => s,
            None => {
                // RFC 9438 4.2: a congestion avoidance stage begins: t_epoch, and
                // cwnd_epoch, from which W_est also starts (4.3).
                let e = &mut self.epoch;
                e.start = Some(a.now);
                e.w_est = cwnd;
                if e.w_max <= 0.0 || e.after_timeout {
                    // RFC 9438 4.8 (after a timeout) and 4.10 (a slow start left
                    // without loss, as by HyStart++): W_max = cwnd, K = 0.
                    e.w_max = cwnd;
                    e.cwnd_prior = e.cwnd_prior.max(cwnd);
                    e.k = 0.0;
                    e.after_timeout = false;
                } else {
                    // RFC 9438 4.2, Figure 2: K = cubic_root((W_max - cwnd_epoch) / C).
                    e.k = ((e.w_max - cwnd).max(0.0) / C).cbrt();
                }
                a.now
            }
        };
        let t = a.now.saturating_since(start).as_secs_f64();
        let rtt = a.srtt.unwrap_or(RTT_UNKNOWN).as_secs_f64();
        let acked = self.segs(a.acked);
        // RFC 9438 4.3: W_est grows by alpha_cubic segments a window of ACKs,
        // by one once it has reached cwnd_prior.
        let alpha = if self.epoch.w_est >= self.epoch.cwnd_prior {
            1.0
        } else {
            ALPHA
        };
        self.epoch.w_est += alpha * acked / cwnd.max(1.0);
        if self.w_cubic(t) < self.epoch.w_est {
            // RFC 9438 4.3: the Reno-friendly region: cwnd = W_est.
            self.epoch.region = CcPhase::CubicRenoFriendly;
            let target = self.epoch.w_est * f64::from(self.mss);
            self.grow(target - f64::from(self.cwnd));
            return;
        }
        // RFC 9438 4.2: target = W_cubic(t + RTT), within [cwnd, 1.5 * cwnd].
        let target = self.w_cubic(t + rtt).clamp(cwnd, 1.5 * cwnd);
        // RFC 9438 4.4 (concave, cwnd < W_max) and 4.5 (convex): cwnd grows by
        // (target - cwnd) / cwnd for each segment acknowledged.
        self.epoch.region = if cwnd < self.epoch.w_max {
            CcPhase::CubicConcave
        } else {
            CcPhase::CubicConvex
        };
        self.grow((target - cwnd) / cwnd.max(1.0) * acked * f64::from(self.mss));
    }

    /// RFC 9438 4.6 and 4.7: the multiplicative decrease with fast
    /// convergence; `flight` is the FlightSize the new ssthresh comes from.
    fn decrease(&mut self, flight: u32, mss: u32) {
        let cwnd = self.segs(self.cwnd);
        let e = &mut self.epoch;
        // RFC 9438 4.7: fast convergence: a flow whose W_max shrinks releases
        // bandwidth: W_max = cwnd * (1 + beta_cubic) / 2.
        e.w_max = if cwnd < e.w_max {
            cwnd * (1.0 + BETA) / 2.0
        } else {
            cwnd
        };
        // RFC 9438 4.3: cwnd_prior, the window when ssthresh was set.
        e.cwnd_prior = cwnd;
        // RFC 9438 4.4: the window restarts below W_max, in the concave region.
        e.region = CcPhase::CubicConcave;
        e.start = None;
        // RFC 9438 4.6: ssthresh = flight_size * beta_cubic, at least 2 segments.
        // The flight, not cwnd, when the application left cwnd unused (4.6: an
        // implementation using cwnd must keep it from growing unused); never
        // more than cwnd, so the segments limited transmit sent beyond it
        // (RFC 3042) do not raise the new window.
        let base = flight.min(self.cwnd);
        self.ssthresh = ((f64::from(base) * BETA) as u32).max(2 * mss);
        self.acc = 0.0;
        self.hystart.stop();
    }
}

impl Cubic {
    /// RFC 9438 4.9: the last reduction (a timeout, RFC 3522, or a fast
    /// recovery, RFC 3708) proved spurious: restore the state before it,
    /// keeping any window regained since if larger. `false` when there is
    /// nothing to undo.
    pub(crate) fn undo(&mut self) -> bool {
        let Some(u) = self.undo.take() else {
            return false;
        };
        self.cwnd = self.cwnd.max(u.cwnd);
        self.ssthresh = u.ssthresh;
        self.epoch = u.epoch;
        self.hystart = u.hystart;
        self.acc = 0.0;
        true
    }

    /// The timeout proved genuine: its record goes.
    pub(crate) fn confirm_timeout(&mut self) {
        if self.timeout_pending() {
            self.undo = None;
        }
    }

    /// The last timeout's record, if that is what is kept (a fast
    /// recovery's is not the timestamps' to judge).
    pub(crate) fn timeout_pending(&self) -> bool {
        self.undo.is_some_and(|u| u.dsack.is_none())
    }

    /// RFC 3708 2: the fast recovery that just began, at SND.UNA `marker`
    /// with the connection's `retransmits` so far, is watched for D-SACKs.
    pub(crate) fn watch_recovery(&mut self, marker: SeqNum, retransmits: u32) {
        if let Some(u) = self.undo.as_mut() {
            u.dsack = Some(DsackWait {
                marker,
                base: retransmits,
                dsacked: 0,
            });
        }
    }

    /// RFC 3708 2: a D-SACK, if any, reported `segments` segments ending at
    /// `end`; the connection has retransmitted `retransmits` segments in
    /// all. Counts them against the watched recovery, and answers whether
    /// every segment it retransmitted has been reported (Linux
    /// `undo_retrans` reaching 0).
    pub(crate) fn on_dsack(&mut self, dsack: Option<(SeqNum, u32)>, retransmits: u32) -> bool {
        let Some(w) = self.undo.as_mut().and_then(|u| u.dsack.as_mut()) else {
            return false;
        };
        if let Some((_, segments)) = dsack.filter(|(end, _)| end.gt(w.marker)) {
            w.dsacked = w.dsacked.saturating_add(segments);
        }
        let sent = retransmits.wrapping_sub(w.base);
        sent > 0 && w.dsacked >= sent
    }
}

impl CongestionControl for Cubic {
    fn on_established(&mut self, mss: u32, initial_segments: u32, syn_lost: bool) {
        // RFC 9438 4.10 leaves the initial window to RFC 5681 and RFC 6928:
        // IW = min(10*MSS, max(2*MSS, 14600)) with the default of 10 segments.
        self.mss = mss.max(1);
        self.cwnd = super::initial_window(mss, initial_segments);
        if syn_lost {
            // RFC 5681 3.1: a lost SYN (or SYN,ACK) means a loss window of one segment.
            self.cwnd = mss;
        }
    }

    fn on_ack(&mut self, a: &AckSample) -> CcReason {
        self.mss = a.mss.max(1);
        let slow_start = self.cwnd < self.ssthresh;
        // RFC 7661 4.3, RFC 9438 4.6 and 5.8: the window grows only while the
        // flow uses it (Linux `tcp_is_cwnd_limited`).
        let grow = !a.validate || self.used.allows_growth(self.cwnd, self.mss, slow_start);
        if slow_start {
            return self.slow_start(a, grow);
        }
        if grow {
            self.avoid(a);
        }
        CcReason::Ack
    }

    fn on_sent(&mut self, s: &SendSample) {
        self.used = self.used.after(s);
    }

    fn on_congestion(&mut self, signal: Congestion, flight: u32, mss: u32, _now: Instant) {
        // A later reduction makes an earlier one's record stale.
        self.undo = None;
        match signal {
            Congestion::Loss { reduced: true } => {
                // RFC 3168 6.1.2: an ECN-Echo already reduced this window of data:
                // recovery repairs the loss without a second cut.
                self.cwnd = self.cwnd.min(self.ssthresh);
            }
            Congestion::Loss { reduced: false } | Congestion::Ecn | Congestion::ProbeRepair => {
                if signal == (Congestion::Loss { reduced: false }) {
                    // RFC 9438 4.9: keep what a spurious fast recovery would
                    // restore; the connection says what to watch
                    // (`watch_recovery`).
                    self.undo = Some(Undo {
                        cwnd: self.cwnd,
                        ssthresh: self.ssthresh,
                        epoch: self.epoch,
                        hystart: self.hystart,
                        dsack: None,
                    });
                }
                // RFC 9438 4.6: on a loss (fast retransmit), an ECN-Echo (RFC 3168
                // 6.1.2) or a loss a probe repaired (RFC 8985 7.4.2):
                // cwnd = ssthresh = FlightSize * beta_cubic, at least 2 segments.
                self.decrease(flight, mss);
                self.cwnd = self.ssthresh;
            }
            Congestion::Timeout => {
                // RFC 9438 4.9: keep what a spurious timeout would restore; only
                // the first of a series of timeouts can be undone (a backed-off
                // one would restore the window the first one left).
                self.undo = (!self.epoch.after_timeout).then_some(Undo {
                    cwnd: self.cwnd,
                    ssthresh: self.ssthresh,
                    epoch: self.epoch,
                    hystart: self.hystart,
                    dsack: None,
                });
                // RFC 9438 4.8: after a timeout ssthresh comes from beta_cubic as
                // in 4.6, cwnd is one segment (RFC 5681 3.1), and the next stage
                // starts with K = 0 from the window it begins at.
                self.decrease(flight, mss);
                self.epoch.after_timeout = true;
                self.cwnd = mss;
            }
        }
    }

    fn on_recovery_end(&mut self, _flight: u32, _mss: u32) {
        // RFC 9937 5: at the end of recovery cwnd = ssthresh (Linux
        // `tcp_end_cwnd_reduction`); congestion avoidance starts from it.
        self.cwnd = self.ssthresh;
    }

    fn on_mss_change(&mut self, _old: u32, new: u32) {
        // RFC 1191 6.4: a smaller path MTU is not congestion; the window, in
        // octets, stays, its segments are counted in the new size.
        self.mss = new.max(1);
    }

    fn restart_after_idle(&mut self, cwnd: u32, ssthresh: u32, _mss: u32) {
        // RFC 9438 leaves the idle restart to RFC 5681 4.1; the next
        // congestion-avoidance stage starts its own epoch (RFC 9438 5.8:
        // the idle time must not count as growth time).
        self.cwnd = cwnd;
        self.ssthresh = ssthresh;
        self.epoch.start = None;
        self.acc = 0.0;
        self.undo = None;
    }

    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn phase(&self) -> CcPhase {
        if self.cwnd < self.ssthresh {
            if self.hystart.css {
                CcPhase::ConservativeSlowStart
            } else {
                CcPhase::SlowStart
            }
        } else {
            self.epoch.region
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synack_wire::SeqNum;

    const MSS: u32 = 1000;

    fn ack_at(c: &mut Cubic, bytes: u32, ms: u64, rtt_ms: u64) -> CcReason {
        c.on_ack(&AckSample {
            acked: bytes,
            mss: MSS,
            now: Instant::ZERO + Duration::from_millis(ms),
            srtt: Some(Duration::from_millis(rtt_ms)),
            rtt: None,
            ack: SeqNum(0),
            nxt: SeqNum(0),
            validate: false,
            ack_limit: true,
        })
    }

    fn established() -> Cubic {
        let mut c = Cubic::new();
        c.on_established(MSS, 10, false);
        c
    }

    #[test]
    fn slow_start_takes_up_to_l_segments_an_ack() {
        let mut c = established();
        ack_at(&mut c, 20 * MSS, 0, 100);
        assert_eq!(c.cwnd(), 18_000, "RFC 9406: at most L = 8 segments an ACK");
        assert_eq!(c.phase(), CcPhase::SlowStart);
        // Without the limit, as Linux's tcp_slow_start: every segment.
        c.on_ack(&AckSample {
            acked: 20 * MSS,
            mss: MSS,
            now: Instant::ZERO,
            srtt: Some(Duration::from_millis(100)),
            rtt: None,
            ack: SeqNum(0),
            nxt: SeqNum(0),
            validate: false,
            ack_limit: false,
        });
        assert_eq!(c.cwnd(), 38_000);
    }

    #[test]
    fn an_idle_restart_sets_the_window_and_starts_a_new_epoch() {
        let mut c = established();
        c.cwnd = 40 * MSS;
        c.epoch.start = Some(Instant::ZERO);
        c.restart_after_idle(10 * MSS, 30 * MSS, MSS);
        assert_eq!((c.cwnd(), c.ssthresh()), (10 * MSS, 30 * MSS));
        assert_eq!(c.epoch.start, None);
    }

    #[test]
    fn loss_cuts_to_seven_tenths_and_fast_convergence_lowers_w_max() {
        let mut c = established();
        c.cwnd = 100 * MSS;
        c.on_congestion(
            Congestion::Loss { reduced: false },
            100 * MSS,
            MSS,
            Instant::ZERO,
        );
        assert_eq!((c.cwnd(), c.ssthresh()), (70 * MSS, 70 * MSS));
        assert_eq!(c.epoch.w_max, 100.0);
        // A second loss below W_max: W_max = cwnd * (1 + 0.7) / 2.
        c.on_congestion(
            Congestion::Loss { reduced: false },
            70 * MSS,
            MSS,
            Instant::ZERO,
        );
        assert_eq!(c.cwnd(), 49 * MSS);
        assert!((c.epoch.w_max - 59.5).abs() < 1e-9);
        // An ECE already reduced this window: no second cut.
        c.on_congestion(
            Congestion::Loss { reduced: true },
            70 * MSS,
            MSS,
            Instant::ZERO,
        );
        assert_eq!(c.cwnd(), 49 * MSS);
    }

    #[test]
    fn the_window_is_concave_below_w_max_and_reaches_it_after_k() {
        let mut c = established();
        c.cwnd = 1000 * MSS;
        c.on_congestion(
            Congestion::Loss { reduced: false },
            1000 * MSS,
            MSS,
            Instant::ZERO,
        );
        c.on_recovery_end(0, MSS);
        // K = cbrt((1000 - 700) / 0.4) = cbrt(750) ~ 9.09 s.
        let rtt = 100;
        let mut t = 0;
        let mut trace = Vec::new();
        while t <= 13_000 {
            for _ in 0..c.cwnd() / MSS {
                ack_at(&mut c, MSS, t, rtt);
            }
            trace.push((t, c.phase(), c.cwnd() / MSS));
            t += rtt;
        }
        let at = |ms: u64| trace.iter().find(|r| r.0 >= ms).map_or(0, |r| r.2);
        assert_eq!(trace[2].1, CcPhase::CubicConcave);
        // W(K) = W_max: the window plateaus at the last one before the loss.
        let near_k = at(9000);
        assert!((990..=1010).contains(&near_k), "W(K) = {near_k}");
        assert!(at(2000) - at(1000) > at(9000) - at(8000), "concave");
        assert!(at(13_000) - at(12_000) > at(10_000) - at(9000), "convex");
        assert_eq!(trace.last().map(|r| r.1), Some(CcPhase::CubicConvex));
    }

    #[test]
    fn a_short_rtt_runs_in_the_reno_friendly_region() {
        let mut c = established();
        c.cwnd = 20 * MSS;
        c.on_congestion(
            Congestion::Loss { reduced: false },
            20 * MSS,
            MSS,
            Instant::ZERO,
        );
        c.on_recovery_end(0, MSS);
        for t in 0..50 {
            for _ in 0..c.cwnd() / MSS {
                ack_at(&mut c, MSS, t, 1);
            }
        }
        assert_eq!(c.phase(), CcPhase::CubicRenoFriendly);
        // From 14 segments, alpha_cubic = 0.53 a round trip up to cwnd_prior
        // (20, about 11 round trips), then one a round trip: about 58.
        assert!((55_000..=60_000).contains(&c.cwnd()), "{}", c.cwnd());
    }

    #[test]
    fn timeout_leaves_one_segment_and_restarts_from_it() {
        let mut c = established();
        c.cwnd = 50 * MSS;
        c.on_congestion(Congestion::Timeout, 50 * MSS, MSS, Instant::ZERO);
        assert_eq!((c.cwnd(), c.ssthresh()), (MSS, 35 * MSS));
        // Slow start back to ssthresh, then K = 0 from there (RFC 9438 4.8).
        for _ in 0..40 {
            ack_at(&mut c, MSS, 0, 100);
        }
        assert_eq!(c.epoch.k, 0.0);
        assert_eq!(c.epoch.w_max, 35.0);
    }
}
