//! SYN cookies (RFC 4987 3.6).
//!
//! The cookie is the ISN of the SYN,ACK: `t (5 bits) | mss index (3 bits) | hash (24 bits)`,
//! where `t` is a 64-second time slot and the hash is SipHash of the 4-tuple, `t` and the
//! client's ISN under a secret key. The returning ACK carries `cookie + 1`; it is valid when
//! the slot is the current or the previous one and the hash matches.
//!
//! Lost in encoding (the listener keeps no state): window scaling, SACK-permitted and
//! timestamps. A connection recreated from a cookie runs without them; the MSS survives
//! as the nearest table value not above the client's.

use crate::crypto::{siphash, tuple_words, SipKey};
use crate::event::FourTuple;
use crate::time::Instant;
use synack_wire::SeqNum;

/// The MSS values a cookie can encode (what Linux's table holds, plus jumbo).
const MSS_TABLE: [u16; 8] = [536, 1220, 1300, 1440, 1460, 4312, 8960, 8960];

const SLOT_SECS: u64 = 64;

fn slot(now: Instant) -> u32 {
    ((now.micros() / 1_000_000 / SLOT_SECS) & 0x1f) as u32
}

fn hash24(key: SipKey, tuple: &FourTuple, t: u32, client_isn: SeqNum, mss_idx: u32) -> u32 {
    let extra = (u64::from(client_isn.get()) << 32) | (u64::from(t) << 8) | u64::from(mss_idx);
    (siphash(key, &tuple_words(tuple, extra)) & 0x00ff_ffff) as u32
}

/// Make the cookie ISN for a SYN from `tuple.remote` with ISN `client_isn` and MSS option `mss`.
pub(crate) fn make(
    key: SipKey,
    tuple: &FourTuple,
    client_isn: SeqNum,
    mss: u16,
    now: Instant,
) -> (SeqNum, u16) {
    let idx = MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0) as u32;
    let t = slot(now);
    let h = hash24(key, tuple, t, client_isn, idx);
    (SeqNum((t << 27) | (idx << 24) | h), MSS_TABLE[idx as usize])
}

/// Check the ACK of a cookie SYN,ACK. Returns the MSS it encoded when valid.
pub(crate) fn check(
    key: SipKey,
    tuple: &FourTuple,
    seg_seq: SeqNum,
    seg_ack: SeqNum,
    now: Instant,
) -> Option<u16> {
    let cookie = (seg_ack - 1).get();
    let client_isn = seg_seq - 1;
    let t = cookie >> 27;
    let idx = (cookie >> 24) & 0x7;
    let cur = slot(now);
    // Valid for the current slot and the one before (64 to 128 s).
    if t != cur && t != (cur + 31) & 0x1f {
        return None;
    }
    (hash24(key, tuple, t, client_isn, idx) == cookie & 0x00ff_ffff)
        .then_some(MSS_TABLE[idx as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple() -> FourTuple {
        FourTuple {
            local: "10.0.0.2:80".parse().unwrap(),
            remote: "10.0.0.1:40000".parse().unwrap(),
        }
    }

    #[test]
    fn roundtrip_and_expiry() {
        let key = SipKey(1, 2);
        let now = Instant::from_millis(1000);
        let (c, mss) = make(key, &tuple(), SeqNum(5000), 1460, now);
        assert_eq!(mss, 1460);
        assert_eq!(check(key, &tuple(), SeqNum(5001), c + 1, now), Some(1460));
        assert_eq!(
            check(
                key,
                &tuple(),
                SeqNum(5001),
                c + 1,
                now + crate::Duration::from_secs(100)
            ),
            Some(1460)
        );
        assert_eq!(
            check(
                key,
                &tuple(),
                SeqNum(5001),
                c + 1,
                now + crate::Duration::from_secs(200)
            ),
            None
        );
        // Wrong client ISN, wrong key, wrong tuple.
        assert_eq!(check(key, &tuple(), SeqNum(5002), c + 1, now), None);
        assert_eq!(
            check(SipKey(1, 3), &tuple(), SeqNum(5001), c + 1, now),
            None
        );
        let mut other = tuple();
        other.remote.set_port(40001);
        assert_eq!(check(key, &other, SeqNum(5001), c + 1, now), None);
    }

    #[test]
    fn mss_rounds_down() {
        let (_, m) = make(SipKey(0, 0), &tuple(), SeqNum(1), 1400, Instant::ZERO);
        assert_eq!(m, 1300);
        let (_, m) = make(SipKey(0, 0), &tuple(), SeqNum(1), 100, Instant::ZERO);
        assert_eq!(m, 536);
    }
}
