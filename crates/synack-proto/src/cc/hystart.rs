//! HyStart++ (RFC 9406): leave slow start when the round-trip time starts
//! to grow, before the queue overflows, through a conservative slow start
//! (CSS) that undoes a premature exit caused by jitter.
//!
//! Rounds are delimited by `windowEnd`, SND.NXT when a round starts (RFC
//! 9406 4.2); the RTT samples come one per ACK that measured one (a
//! timestamp echo, or the timed segment without timestamps). As Linux and
//! RFC 9406 4.3 recommend, only the first slow start of a connection uses it.

use super::AckSample;
use crate::time::Duration;
use synack_wire::SeqNum;

/// RFC 9406 4.3: MIN_RTT_THRESH.
const MIN_RTT_THRESH: Duration = Duration::from_millis(4);
/// RFC 9406 4.3: MAX_RTT_THRESH.
const MAX_RTT_THRESH: Duration = Duration::from_millis(16);
/// RFC 9406 4.3: MIN_RTT_DIVISOR.
const MIN_RTT_DIVISOR: u32 = 8;
/// RFC 9406 4.3: N_RTT_SAMPLE, the samples a round needs before it counts.
pub(crate) const N_RTT_SAMPLE: u32 = 8;
/// RFC 9406 4.3: CSS_GROWTH_DIVISOR.
pub(crate) const CSS_GROWTH_DIVISOR: u32 = 4;
/// RFC 9406 4.3: CSS_ROUNDS.
const CSS_ROUNDS: u32 = 5;
/// RFC 9406 4.3: L, the segments one ACK may add, for a sender without
/// pacing (synack does not pace).
pub(crate) const L_SEGMENTS: u32 = 8;

/// What HyStart++ decided on an ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Slow start goes on.
    SlowStart,
    /// Conservative slow start goes on (growth divided by CSS_GROWTH_DIVISOR).
    Css,
    /// The RTT grew: conservative slow start begins (RFC 9406 4.2).
    EnterCss,
    /// The RTT fell back during CSS: the exit was spurious, slow start
    /// resumes (RFC 9406 4.2).
    Resume,
    /// CSS ran CSS_ROUNDS rounds: congestion avoidance begins, ssthresh =
    /// cwnd (RFC 9406 4.2).
    Done,
}

/// HyStart++'s round and RTT bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HyStart {
    /// Still in the first slow start (RFC 9406 4.3: later ones run plain).
    pub(crate) enabled: bool,
    /// In conservative slow start.
    pub(crate) css: bool,
    /// windowEnd: the round ends when an ACK reaches it.
    window_end: Option<SeqNum>,
    /// lastRoundMinRTT.
    last_round_min: Option<Duration>,
    /// currentRoundMinRTT.
    cur_round_min: Option<Duration>,
    /// rttSampleCount.
    samples: u32,
    /// cssBaselineMinRtt.
    css_baseline: Option<Duration>,
    /// Rounds spent in CSS.
    css_rounds: u32,
}

impl HyStart {
    /// RFC 9406 4.2: at the start of the connection.
    pub(crate) const fn new() -> HyStart {
        HyStart {
            enabled: true,
            css: false,
            window_end: None,
            last_round_min: None,
            cur_round_min: None,
            samples: 0,
            css_baseline: None,
            css_rounds: 0,
        }
    }

    /// The first slow start's bookkeeping as a compact state kept it (see
    /// `small.rs`): no CSS yet, the round ending at `window_end`, its and the
    /// last round's minimum RTTs and its sample count.
    pub(crate) const fn first_slow_start(
        window_end: Option<SeqNum>,
        last_round_min: Option<Duration>,
        cur_round_min: Option<Duration>,
        samples: u32,
    ) -> HyStart {
        HyStart {
            window_end,
            last_round_min,
            cur_round_min,
            samples,
            ..HyStart::new()
        }
    }

    /// RFC 9406 4.2: a loss or ECN-Echo (or a timeout) ends slow start and
    /// HyStart++ with it; later slow starts run without it.
    pub(crate) fn stop(&mut self) {
        self.enabled = false;
        self.css = false;
    }

    /// An ACK of new data during the first slow start or CSS.
    pub(crate) fn on_ack(&mut self, a: &AckSample) -> Verdict {
        let end = *self.window_end.get_or_insert(a.nxt);
        let mut verdict = if self.css {
            Verdict::Css
        } else {
            Verdict::SlowStart
        };
        if a.ack.ge(end) {
            // RFC 9406 4.2: a round ends; the next one ends at SND.NXT.
            self.window_end = Some(a.nxt);
            self.last_round_min = self.cur_round_min.take();
            self.samples = 0;
            if self.css {
                self.css_rounds += 1;
                if self.css_rounds >= CSS_ROUNDS {
                    // RFC 9406 4.2: "If CSS_ROUNDS rounds are complete, enter
                    // congestion avoidance by setting the ssthresh to the current cwnd."
                    self.stop();
                    return Verdict::Done;
                }
            }
        }
        if let Some(r) = a.rtt {
            self.cur_round_min = Some(self.cur_round_min.map_or(r, |m| m.min(r)));
            self.samples = self.samples.saturating_add(1);
        }
        if self.samples < N_RTT_SAMPLE {
            return verdict;
        }
        let Some(cur) = self.cur_round_min else {
            return verdict;
        };
        if self.css {
            if self.css_baseline.is_some_and(|b| cur < b) {
                // RFC 9406 4.2: "If currentRoundMinRTT < cssBaselineMinRtt, the
                // slow start exit was spurious": back to slow start.
                self.css = false;
                self.css_baseline = None;
                verdict = Verdict::Resume;
            }
        } else if let Some(last) = self.last_round_min {
            // RFC 9406 4.2: RttThresh = max(MIN_RTT_THRESH,
            // min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH)).
            let thresh = (last / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH, MAX_RTT_THRESH);
            if cur >= last + thresh {
                // RFC 9406 4.2: the delay grew: exit to CSS.
                self.css = true;
                self.css_baseline = Some(cur);
                self.css_rounds = 0;
                verdict = Verdict::EnterCss;
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    fn ack(h: &mut HyStart, ack: u32, nxt: u32, rtt_ms: u64) -> Verdict {
        h.on_ack(&AckSample {
            acked: 1000,
            mss: 1000,
            now: Instant::ZERO,
            srtt: None,
            rtt: Some(Duration::from_millis(rtt_ms)),
            ack: SeqNum(ack),
            nxt: SeqNum(nxt),
            validate: false,
            ack_limit: true,
        })
    }

    /// Rounds of ACKs, one per 1000 octets, each round ending at SND.NXT
    /// of its start.
    struct Rounds {
        h: HyStart,
        at: u32,
    }

    impl Rounds {
        fn new() -> Rounds {
            let mut h = HyStart::new();
            ack(&mut h, 0, 10_000, 100);
            Rounds { h, at: 0 }
        }

        /// One round of `n` ACKs (`n` = 10 unless fewer samples are wanted).
        fn round(&mut self, n: u32, rtt_ms: u64) -> Vec<Verdict> {
            let start = self.at;
            self.at += 10_000;
            (1..=n)
                .map(|i| ack(&mut self.h, start + i * 1000, start + 20_000, rtt_ms))
                .collect()
        }

        fn count(&mut self, rounds: u32, rtt_ms: u64, v: Verdict) -> usize {
            (0..rounds)
                .flat_map(|_| self.round(10, rtt_ms))
                .filter(|x| *x == v)
                .count()
        }
    }

    #[test]
    fn a_growing_rtt_enters_css_and_five_rounds_end_slow_start() {
        let mut r = Rounds::new();
        assert_eq!(r.count(2, 100, Verdict::EnterCss), 0);
        // 100 ms + max(4, min(100/8, 16)) = 112.5 ms: 112 stays in slow start.
        assert_eq!(r.count(3, 112, Verdict::EnterCss), 0);
        assert!(!r.h.css);
        // The ACK ending a round still measured the last one's RTT: the growth
        // shows in the second round at 130 ms.
        assert_eq!(r.count(2, 130, Verdict::EnterCss), 1);
        assert!(r.h.css);
        assert_eq!(r.count(6, 130, Verdict::Done), 1);
        assert!(!r.h.enabled && !r.h.css);
    }

    #[test]
    fn jitter_resumes_slow_start() {
        let mut r = Rounds::new();
        r.count(2, 100, Verdict::EnterCss);
        assert_eq!(r.count(2, 130, Verdict::EnterCss), 1);
        assert_eq!(r.count(1, 110, Verdict::Resume), 1);
        assert!(!r.h.css && r.h.enabled);
    }

    #[test]
    fn too_few_samples_decide_nothing() {
        let mut r = Rounds::new();
        r.round(10, 100);
        r.round(6, 100);
        let v = r.round(6, 300);
        assert!(v.iter().all(|v| *v == Verdict::SlowStart), "{v:?}");
    }
}
