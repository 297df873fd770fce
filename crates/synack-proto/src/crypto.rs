//! Keyed hashing, written here to keep the core free of dependencies and
//! stable across toolchains: SipHash-2-4 for what an attacker gains by
//! forging or inverting (SYN cookies, RFC 4987 3.6; Fast Open cookies; key
//! derivation), and SipHash-1-3, half the rounds, for the per-connection
//! values that only need to be unpredictable to an off-path attacker and
//! are computed for every connection (initial sequence numbers, RFC 6528;
//! timestamp offsets, RFC 7323 5.4; the ephemeral port's start, RFC 6056).
//! No attack is known on either round count; 1-3 is what Rust's standard
//! hash maps rely on against chosen keys.

use crate::event::FourTuple;
use std::net::{IpAddr, SocketAddr};

/// A 128-bit SipHash key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SipKey(pub(crate) u64, pub(crate) u64);

impl SipKey {
    /// Derive a key from a seed with SplitMix64, so callers pass one number.
    pub(crate) fn from_seed(seed: u64, domain: u64) -> SipKey {
        let mut s = seed ^ domain.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        SipKey(splitmix(&mut s), splitmix(&mut s))
    }
}

/// SplitMix64 step.
pub(crate) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline]
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-2-4 of a sequence of 64-bit words (a fixed-layout message).
pub(crate) fn siphash(key: SipKey, words: &[u64]) -> u64 {
    sip::<2, 4>(key, words)
}

/// SipHash-1-3 of a sequence of 64-bit words: one compression round per
/// word and three finalization rounds (the module says where it is used).
pub(crate) fn siphash13(key: SipKey, words: &[u64]) -> u64 {
    sip::<1, 3>(key, words)
}

/// SipHash-`C`-`D`: `C` rounds per message word, `D` to finalize.
#[inline]
fn sip<const C: usize, const D: usize>(key: SipKey, words: &[u64]) -> u64 {
    let mut v = [
        key.0 ^ 0x736f_6d65_7073_6575,
        key.1 ^ 0x646f_7261_6e64_6f6d,
        key.0 ^ 0x6c79_6765_6e65_7261,
        key.1 ^ 0x7465_6462_7974_6573,
    ];
    for &m in words {
        v[3] ^= m;
        for _ in 0..C {
            round(&mut v);
        }
        v[0] ^= m;
    }
    let b = ((words.len() as u64 * 8) & 0xff) << 56;
    v[3] ^= b;
    for _ in 0..C {
        round(&mut v);
    }
    v[0] ^= b;
    v[2] ^= 0xff;
    for _ in 0..D {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

fn addr_words(a: SocketAddr, out: &mut [u64; 6], at: usize) {
    match a.ip() {
        IpAddr::V4(ip) => {
            out[at] = u64::from(u32::from(ip));
            out[at + 1] = 0;
        }
        IpAddr::V6(ip) => {
            let v = u128::from(ip);
            out[at] = (v >> 64) as u64;
            out[at + 1] = v as u64;
        }
    }
}

/// The 4-tuple as hash input words (address, address, ports, extra).
pub(crate) fn tuple_words(t: &FourTuple, extra: u64) -> [u64; 6] {
    let mut w = [0u64; 6];
    addr_words(t.local, &mut w, 0);
    addr_words(t.remote, &mut w, 2);
    w[4] = (u64::from(t.local.port()) << 16) | u64::from(t.remote.port());
    w[5] = extra;
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_reference_vector() {
        // SipHash-2-4 reference: key 00..0f, message 00..07 (one word, little-endian)
        // gives 0x93f5f5799a932462 (from the SipHash paper's test vectors, 8-byte input).
        let key = SipKey(0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        let m = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(siphash(key, &[m]), 0x93f5_f579_9a93_2462);
    }

    #[test]
    fn siphash13_reference_vectors() {
        // SipHash-1-3 with the same key, as the published SipHash-1-3 vectors
        // (Rust's core library tests its SipHasher13 against them): the empty
        // message and the 8-byte message 00..07.
        let key = SipKey(0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
        assert_eq!(siphash13(key, &[]), 0xabac_0158_050f_c4dc);
        let m = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(siphash13(key, &[m]), 0x3690_9511_8d29_9a8e);
    }
}
