//! CUBIC before it needs its full state: the first slow start of a
//! connection, kept in 15 bytes inside the TCB.
//!
//! Most connections never leave their first slow start: a request, a
//! response, a close. Until then CUBIC (RFC 9438 4.10 leaves slow start to
//! RFC 5681 and RFC 9406) needs only cwnd, HyStart++'s round bookkeeping
//! (windowEnd, the minimum RTTs of this round and the last, the samples of
//! this round) and the record of the window's use (`validation.rs`); its
//! epoch, W_max, K and W_est wait for the first reduction or congestion
//! avoidance. [`Small`] holds exactly that, so an idle connection end
//! allocates nothing for its controller. Anything the compact state cannot
//! hold (a round with N_RTT_SAMPLE samples, where HyStart++ may decide, a
//! reduction, an MSS change, an RTT not in whole milliseconds, a value past
//! its field) makes the caller expand it into the full state first
//! ([`Small::expand`]), which then runs as if it had run from the start:
//! the two give the same windows, ACK by ACK.

use super::cubic::Cubic;
use super::hystart::{HyStart, N_RTT_SAMPLE};
use super::validation::{CwndUse, SendSample};
use super::AckSample;
use crate::event::CcReason;
use crate::time::Duration;
use synack_wire::SeqNum;

/// The largest value a 24-bit field holds.
const U24_MAX: u32 = 0xff_ffff;
/// An RTT field's "none".
const NO_RTT: u16 = u16::MAX;
/// `bits`: the sample count of the round (below N_RTT_SAMPLE).
const SAMPLES: u8 = 0x07;
/// `bits`: windowEnd is set.
const WINDOW_END_SET: u8 = 0x08;
/// `bits`: the window's use record says cwnd-limited.
const LIMITED: u8 = 0x10;
/// `bits`: the reason of the last change (0 none, 1 the initial window, 2
/// an ACK).
const REASON: u8 = 0x60;
const REASON_SHIFT: u32 = 5;

/// The SMSS CUBIC assumes before the handshake (as [`Cubic::new`]).
const MSS_BEFORE_HANDSHAKE: u32 = 536;

/// CUBIC's first slow start, packed (byte arrays, so the enum that holds it
/// takes 16 bytes with its tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Small {
    /// cwnd in octets (0 before the handshake).
    cwnd: [u8; 3],
    /// The use record's window end (`CwndUse::seq`).
    use_seq: [u8; 4],
    /// RFC 9406 4.2 windowEnd, less `use_seq`, when `bits` has
    /// [`WINDOW_END_SET`].
    end_off: [u8; 2],
    /// lastRoundMinRTT in milliseconds, [`NO_RTT`] for none.
    last_min: [u8; 2],
    /// currentRoundMinRTT in milliseconds, [`NO_RTT`] for none.
    cur_min: [u8; 2],
    /// The use record's most segments out.
    max_out: u8,
    /// [`SAMPLES`], [`WINDOW_END_SET`], [`LIMITED`], [`REASON`].
    bits: u8,
}

fn get24(b: [u8; 3]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], 0])
}

fn put24(v: u32) -> [u8; 3] {
    let [a, b, c, _] = v.to_le_bytes();
    [a, b, c]
}

fn rtt_of(b: [u8; 2]) -> Option<Duration> {
    let v = u16::from_le_bytes(b);
    (v != NO_RTT).then(|| Duration::from_millis(u64::from(v)))
}

/// An RTT in whole milliseconds below [`NO_RTT`] (as the timestamp echo
/// measures them), or `None` when the compact state cannot hold it exactly.
fn millis16(d: Duration) -> Option<u16> {
    let ms = u16::try_from(d.as_millis()).ok()?;
    (ms != NO_RTT && d.subsec_nanos() % 1_000_000 == 0).then_some(ms)
}

/// HyStart++'s round bookkeeping, unpacked.
struct Round {
    end: Option<SeqNum>,
    last: u16,
    cur: u16,
    samples: u32,
}

impl Small {
    /// Before the handshake.
    pub(crate) const fn new() -> Small {
        Small {
            cwnd: [0; 3],
            use_seq: [0; 4],
            end_off: [0; 2],
            last_min: [0xff; 2],
            cur_min: [0xff; 2],
            max_out: 0,
            bits: 0,
        }
    }

    /// The congestion window, in octets.
    pub(crate) fn cwnd(&self) -> u32 {
        get24(self.cwnd)
    }

    /// The reason of the last change, taken.
    pub(crate) fn take_reason(&mut self) -> Option<CcReason> {
        let r = match (self.bits & REASON) >> REASON_SHIFT {
            1 => Some(CcReason::InitialWindow),
            2 => Some(CcReason::Ack),
            _ => None,
        };
        self.bits &= !REASON;
        r
    }

    fn set_reason(&mut self, r: CcReason) {
        let v = if r == CcReason::InitialWindow { 1 } else { 2 };
        self.bits = (self.bits & !REASON) | (v << REASON_SHIFT);
    }

    fn used(&self) -> CwndUse {
        CwndUse {
            seq: SeqNum(u32::from_le_bytes(self.use_seq)),
            max_out: u32::from(self.max_out),
            limited: self.bits & LIMITED != 0,
        }
    }

    fn round(&self) -> Round {
        let end = (self.bits & WINDOW_END_SET != 0).then(|| {
            let off = i16::from_le_bytes(self.end_off);
            SeqNum(u32::from_le_bytes(self.use_seq).wrapping_add(off as i32 as u32))
        });
        Round {
            end,
            last: u16::from_le_bytes(self.last_min),
            cur: u16::from_le_bytes(self.cur_min),
            samples: u32::from(self.bits & SAMPLES),
        }
    }

    /// Store `used` and `round`, or `false` (nothing changed) if they do not
    /// fit: more than 255 segments out, windowEnd too far from the record's end.
    fn store(&mut self, used: CwndUse, round: &Round) -> bool {
        let Ok(max_out) = u8::try_from(used.max_out) else {
            return false;
        };
        let off = match round.end {
            Some(end) => match i16::try_from(end.diff(used.seq)) {
                Ok(o) => o,
                Err(_) => return false,
            },
            None => 0,
        };
        self.use_seq = used.seq.0.to_le_bytes();
        self.max_out = max_out;
        self.end_off = off.to_le_bytes();
        self.last_min = round.last.to_le_bytes();
        self.cur_min = round.cur.to_le_bytes();
        let mut bits = self.bits & REASON;
        bits |= round.samples as u8 & SAMPLES;
        if round.end.is_some() {
            bits |= WINDOW_END_SET;
        }
        if used.limited {
            bits |= LIMITED;
        }
        self.bits = bits;
        true
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
        self.set_reason(CcReason::InitialWindow);
        true
    }

    /// New data went out, or data waits (`validation.rs`); `false`, with
    /// nothing changed, when the record does not fit.
    pub(crate) fn on_sent(&mut self, s: &SendSample) -> bool {
        let used = self.used().after(s);
        let round = self.round();
        self.store(used, &round)
    }

    /// An ACK of new data in slow start (RFC 5681 3.1) with HyStart++'s
    /// bookkeeping (RFC 9406 4.2), as [`Cubic`] runs it; `false`, with
    /// nothing changed, when the compact state cannot take it: the round
    /// reaches N_RTT_SAMPLE samples (HyStart++ may then decide), or a value
    /// outgrows its field. The caller then expands and hands the ACK on.
    pub(crate) fn on_ack(&mut self, a: &AckSample) -> bool {
        let rtt = match a.rtt {
            Some(d) => match millis16(d) {
                Some(ms) => Some(ms),
                None => return false,
            },
            None => None,
        };
        let used = self.used();
        // RFC 7661 4.3: the window grows only while the flow uses it.
        let grow = !a.validate || used.allows_growth(self.cwnd(), a.mss, true);
        // RFC 9406 4.2: cwnd += min(N, L * SMSS), ssthresh still infinite.
        let inc = if grow {
            a.acked.min(a.slow_start_limit())
        } else {
            0
        };
        let cwnd = match self.cwnd().checked_add(inc) {
            Some(c) if c <= U24_MAX => c,
            _ => return false,
        };
        let mut r = self.round();
        let round_end = *r.end.get_or_insert(a.nxt);
        if a.ack.ge(round_end) {
            // RFC 9406 4.2: a round ends; the next one ends at SND.NXT.
            r.end = Some(a.nxt);
            r.last = r.cur;
            r.cur = NO_RTT;
            r.samples = 0;
        }
        if let Some(ms) = rtt {
            r.cur = r.cur.min(ms);
            r.samples += 1;
        }
        if r.samples >= N_RTT_SAMPLE || !self.store(used, &r) {
            return false;
        }
        self.cwnd = put24(cwnd);
        self.set_reason(CcReason::Ack);
        true
    }

    /// The full state this one stands for, with the reason of the last
    /// change; `mss` is the connection's SMSS now (what every call since
    /// the handshake carried; an MSS change expands before it applies).
    pub(crate) fn expand(&self, mss: u32) -> Cubic {
        let cwnd = self.cwnd();
        let mss = if cwnd == 0 {
            MSS_BEFORE_HANDSHAKE
        } else {
            mss.max(1)
        };
        let r = self.round();
        let hystart = HyStart::first_slow_start(
            r.end,
            rtt_of(r.last.to_le_bytes()),
            rtt_of(r.cur.to_le_bytes()),
            r.samples,
        );
        Cubic::from_first_slow_start(cwnd, mss, hystart, self.used())
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

    /// ACK after ACK and send after send, the compact state and the full
    /// one give the same window; once the compact one gives up, its
    /// expansion equals the full state that ran all along.
    #[test]
    fn the_compact_state_runs_as_the_full_one_and_expands_to_it() {
        for seed in 1..300u64 {
            let mut g = Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            let validate = seed % 3 != 0;
            let mut small = Small::new();
            let mut full = Cubic::new();
            assert!(small.on_established(MSS, 10, seed % 7 == 0));
            full.on_established(MSS, 10, seed % 7 == 0);
            let (mut una, mut nxt) = (1000u32, 1000u32);
            let mut now = Instant::ZERO;
            loop {
                // Send up to cwnd, or less: an application-limited flow.
                let room = (una + full.cwnd()).saturating_sub(nxt) / MSS;
                let n = g.next(u64::from(room) + 2) as u32;
                for _ in 0..n.min(room.max(1)) {
                    nxt += MSS;
                    let s = SendSample {
                        una: SeqNum(una),
                        nxt: SeqNum(nxt),
                        out: (nxt - una) / MSS,
                        limited: (nxt - una) / MSS >= full.cwnd() / MSS,
                        mss: MSS,
                    };
                    if !small.on_sent(&s) {
                        assert_eq!(small.expand(MSS), full, "seed {seed}");
                        break;
                    }
                    full.on_sent(&s);
                }
                if nxt == una {
                    continue;
                }
                let acked = ((1 + g.next(3) as u32) * MSS).min(nxt - una);
                una += acked;
                now += Duration::from_micros(100 + g.next(50_000));
                let rtt = match g.next(12) {
                    0..=2 => None,
                    3 => Some(Duration::from_micros(20_000 + g.next(30_000))),
                    _ => Some(Duration::from_millis(20 + g.next(30))),
                };
                let a = AckSample {
                    acked,
                    mss: MSS,
                    now,
                    srtt: None,
                    rtt,
                    ack: SeqNum(una),
                    nxt: SeqNum(nxt),
                    validate,
                    ack_limit: true,
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
    fn an_application_limited_flow_does_not_grow_its_window() {
        let mut s = Small::new();
        assert!(s.on_established(MSS, 10, false));
        // One segment out of ten: an ACK of it grows nothing (1 < 10 / 2).
        assert!(s.on_sent(&SendSample {
            una: SeqNum(1),
            nxt: SeqNum(1 + MSS),
            out: 1,
            limited: false,
            mss: MSS,
        }));
        let a = AckSample {
            acked: MSS,
            mss: MSS,
            now: Instant::ZERO,
            srtt: None,
            rtt: Some(Duration::from_millis(10)),
            ack: SeqNum(1 + MSS),
            nxt: SeqNum(1 + MSS),
            validate: true,
            ack_limit: true,
        };
        assert!(s.on_ack(&a));
        assert_eq!(s.cwnd(), 10 * MSS);
        // Without validation (RFC 5681) it grows.
        assert!(s.on_ack(&AckSample {
            validate: false,
            ack_limit: true,
            ..a
        }));
        assert_eq!(s.cwnd(), 11 * MSS);
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
            rtt: Some(Duration::from_secs(70)),
            ack: SeqNum(MSS),
            nxt: SeqNum(MSS),
            validate: true,
            ack_limit: true,
        };
        assert!(
            !s.on_ack(&a),
            "an RTT of 70 s needs more than 16 bits of milliseconds"
        );
        assert!(!s.on_ack(&AckSample {
            rtt: Some(Duration::from_micros(1500)),
            ..a
        }));
        assert!(!s.on_ack(&AckSample {
            acked: 1 << 24,
            mss: 1 << 22,
            rtt: None,
            validate: false,
            ack_limit: true,
            ..a
        }));
        assert!(
            !s.on_sent(&SendSample {
                una: SeqNum(0),
                nxt: SeqNum(300 * MSS),
                out: 300,
                limited: true,
                mss: MSS,
            }),
            "300 segments out do not fit a byte"
        );
        assert_eq!(s, before);
        let mut big = Small::new();
        assert!(
            !big.on_established(60_000, 300, false),
            "18 MB do not fit 24 bits"
        );
    }
}
