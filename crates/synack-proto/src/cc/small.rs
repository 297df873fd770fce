//! CUBIC before it needs its full state: the first slow start of a
//! connection, kept in 15 bytes inside the TCB.
//!
//! Most connections never leave their first slow start: a request, a
//! response, a close. Until then CUBIC (RFC 9438 4.10 leaves slow start to
//! RFC 5681 and RFC 9406) needs only cwnd and HyStart++'s round bookkeeping
//! (windowEnd, the minimum RTTs of this round and the last, the samples of
//! this round); its epoch, W_max, K and W_est wait for the first reduction or
//! congestion avoidance. [`Small`] holds exactly that, so an idle connection
//! end allocates nothing for its controller. Anything the compact state
//! cannot hold (a round with N_RTT_SAMPLE samples, where HyStart++ may decide,
//! a reduction, an MSS change, a value past 24 bits) makes the caller expand
//! it into the full state first ([`Small::expand`]), which then runs as if it
//! had run from the start: the two give the same windows, ACK by ACK.

use super::cubic::Cubic;
use super::hystart::{HyStart, L_SEGMENTS, N_RTT_SAMPLE};
use super::AckSample;
use crate::event::CcReason;
use crate::time::Duration;
use synack_wire::SeqNum;

/// The largest value a 24-bit field holds; as an RTT it means "none".
const U24_MAX: u32 = 0xff_ffff;
/// `bits`: windowEnd is set.
const WINDOW_END_SET: u8 = 0x10;
/// `bits`: the sample count of the round.
const SAMPLES: u8 = 0x0f;

/// The SMSS CUBIC assumes before the handshake (as [`Cubic::new`]).
const MSS_BEFORE_HANDSHAKE: u32 = 536;

/// CUBIC's first slow start, packed (byte arrays, so the enum that holds it
/// takes 16 bytes with its tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Small {
    /// cwnd in octets (0 before the handshake).
    cwnd: [u8; 3],
    /// RFC 9406 4.2 windowEnd, when `bits` has [`WINDOW_END_SET`].
    window_end: [u8; 4],
    /// lastRoundMinRTT in microseconds, [`U24_MAX`] for none.
    last_min: [u8; 3],
    /// currentRoundMinRTT in microseconds, [`U24_MAX`] for none.
    cur_min: [u8; 3],
    /// rttSampleCount (below N_RTT_SAMPLE) and whether windowEnd is set.
    bits: u8,
    /// The reason of the last change, for the event stream.
    pub(crate) reason: Option<CcReason>,
}

fn get24(b: [u8; 3]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], 0])
}

fn put24(v: u32) -> [u8; 3] {
    let [a, b, c, _] = v.to_le_bytes();
    [a, b, c]
}

fn rtt_of(b: [u8; 3]) -> Option<Duration> {
    let v = get24(b);
    (v != U24_MAX).then(|| Duration::from_micros(u64::from(v)))
}

/// An RTT in whole microseconds below [`U24_MAX`], or `None` when the
/// compact state cannot hold it exactly.
fn micros24(d: Duration) -> Option<u32> {
    let us = u32::try_from(d.as_micros()).ok()?;
    (us < U24_MAX && d.subsec_nanos() % 1000 == 0).then_some(us)
}

impl Small {
    /// Before the handshake.
    pub(crate) const fn new() -> Small {
        Small {
            cwnd: [0; 3],
            window_end: [0; 4],
            last_min: [0xff; 3],
            cur_min: [0xff; 3],
            bits: 0,
            reason: None,
        }
    }

    /// The congestion window, in octets.
    pub(crate) fn cwnd(&self) -> u32 {
        get24(self.cwnd)
    }

    /// The handshake completed: the initial window as [`Cubic`] sets it, or
    /// `false` if it does not fit (the caller expands).
    pub(crate) fn on_established(
        &mut self,
        mss: u32,
        initial_segments: u32,
        syn_lost: bool,
    ) -> bool {
        let mut full = Cubic::new();
        super::CongestionControl::on_established(&mut full, mss, initial_segments, syn_lost);
        let cwnd = super::CongestionControl::cwnd(&full);
        if cwnd > U24_MAX {
            return false;
        }
        self.cwnd = put24(cwnd);
        true
    }

    /// An ACK of new data in slow start (RFC 5681 3.1) with HyStart++'s
    /// bookkeeping (RFC 9406 4.2), as [`Cubic`] runs it; `false`, with
    /// nothing changed, when the compact state cannot take it: the round
    /// reaches N_RTT_SAMPLE samples (HyStart++ may then decide), or a value
    /// outgrows its field. The caller then expands and hands the ACK on.
    pub(crate) fn on_ack(&mut self, a: &AckSample) -> bool {
        let rtt = match a.rtt {
            Some(d) => match micros24(d) {
                Some(us) => Some(us),
                None => return false,
            },
            None => None,
        };
        // RFC 9406 4.2: cwnd += min(N, L * SMSS), ssthresh still infinite.
        let inc = a.acked.min(L_SEGMENTS.saturating_mul(a.mss));
        let cwnd = match self.cwnd().checked_add(inc) {
            Some(c) if c <= U24_MAX => c,
            _ => return false,
        };
        let mut samples = u32::from(self.bits & SAMPLES);
        let mut cur = get24(self.cur_min);
        let mut last = get24(self.last_min);
        let mut end = self.window_end();
        let round_end = *end.get_or_insert(a.nxt);
        if a.ack.ge(round_end) {
            // RFC 9406 4.2: a round ends; the next one ends at SND.NXT.
            end = Some(a.nxt);
            last = cur;
            cur = U24_MAX;
            samples = 0;
        }
        if let Some(r) = rtt {
            cur = cur.min(r);
            samples += 1;
        }
        if samples >= N_RTT_SAMPLE {
            return false;
        }
        self.cwnd = put24(cwnd);
        self.cur_min = put24(cur);
        self.last_min = put24(last);
        self.window_end = end.map_or(0, |s| s.0).to_le_bytes();
        self.bits = samples as u8 | if end.is_some() { WINDOW_END_SET } else { 0 };
        true
    }

    fn window_end(&self) -> Option<SeqNum> {
        (self.bits & WINDOW_END_SET != 0).then(|| SeqNum(u32::from_le_bytes(self.window_end)))
    }

    /// The full state this one stands for; `mss` is the connection's SMSS
    /// now (what every call since the handshake carried; an MSS change
    /// expands before it applies).
    pub(crate) fn expand(&self, mss: u32) -> Cubic {
        let cwnd = self.cwnd();
        let mss = if cwnd == 0 {
            MSS_BEFORE_HANDSHAKE
        } else {
            mss.max(1)
        };
        let hystart = HyStart::first_slow_start(
            self.window_end(),
            rtt_of(self.last_min),
            rtt_of(self.cur_min),
            u32::from(self.bits & SAMPLES),
        );
        Cubic::from_first_slow_start(cwnd, mss, hystart)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cc::CongestionControl;
    use crate::time::Instant;

    const MSS: u32 = 1448;

    /// A small deterministic generator (xorshift), for ACK patterns.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn it_takes_fifteen_bytes_and_the_controller_sixteen() {
        assert_eq!(core::mem::size_of::<Small>(), 15);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(core::mem::size_of::<crate::cc::Cc>(), 16);
    }

    /// ACK after ACK, the compact state and the full one give the same
    /// window; once the compact one gives up, its expansion equals the
    /// full state that ran all along.
    #[test]
    fn the_compact_state_runs_as_the_full_one_and_expands_to_it() {
        for seed in 1..200u64 {
            let mut g = Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let mut small = Small::new();
            let mut full = Cubic::new();
            assert!(small.on_established(MSS, 10, seed % 7 == 0));
            full.on_established(MSS, 10, seed % 7 == 0);
            let (mut una, mut nxt) = (1000u32, 1000 + full.cwnd());
            let mut now = Instant::ZERO;
            loop {
                let acked = (1 + g.next(3) as u32) * MSS;
                una += acked;
                nxt = nxt.max(una) + g.next(2) as u32 * MSS;
                now += Duration::from_micros(100 + g.next(50_000));
                let rtt = match g.next(3) {
                    0 => None,
                    1 => Some(Duration::from_millis(20 + g.next(30))),
                    _ => Some(Duration::from_micros(20_000 + g.next(30_000))),
                };
                let a = AckSample {
                    acked,
                    mss: MSS,
                    now,
                    srtt: None,
                    rtt,
                    ack: SeqNum(una),
                    nxt: SeqNum(nxt),
                };
                if !small.on_ack(&a) {
                    assert_eq!(small.expand(MSS), full, "seed {seed}");
                    break;
                }
                full.on_ack(&a);
                assert_eq!(small.cwnd(), full.cwnd(), "seed {seed}");
                assert_eq!(small.expand(MSS), full, "seed {seed}");
            }
        }
    }

    #[test]
    fn what_does_not_fit_is_refused_unchanged() {
        let mut s = Small::new();
        assert!(s.on_established(MSS, 10, false));
        let before = s;
        let a = AckSample {
            acked: MSS,
            mss: MSS,
            now: Instant::ZERO,
            srtt: None,
            rtt: Some(Duration::from_secs(20)),
            ack: SeqNum(MSS),
            nxt: SeqNum(MSS),
        };
        assert!(
            !s.on_ack(&a),
            "an RTT of 20 s needs more than 24 bits of microseconds"
        );
        assert!(!s.on_ack(&AckSample {
            rtt: Some(Duration::from_nanos(1500)),
            ..a
        }));
        assert!(!s.on_ack(&AckSample {
            acked: 1 << 24,
            mss: 1 << 22,
            rtt: None,
            ..a
        }));
        assert_eq!(s, before);
        let mut big = Small::new();
        assert!(
            !big.on_established(60_000, 300, false),
            "18 MB do not fit 24 bits"
        );
    }
}
