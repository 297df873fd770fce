//! A keyed hasher for the stack's lookup tables (connections by 4-tuple,
//! listeners by address).
//!
//! The connection table is consulted for every segment. The default hasher
//! (SipHash-1-3) runs its full compression for each of the many small writes a
//! derived `Hash` of two socket addresses makes; this one folds each write into
//! the state with one 64x64->128-bit multiply under a secret per-table key.
//! The key comes from the process's random hash state, so an off-path sender
//! cannot choose 4-tuples that collide (the tables' keys are
//! attacker-chosen: every SYN names its own source). Initial sequence numbers
//! and SYN cookies keep SipHash (crypto.rs).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline(always)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Builds [`TableHasher`]s with one secret key per table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableHash {
    k0: u64,
    k1: u64,
}

impl Default for TableHash {
    fn default() -> Self {
        // Two independent random words from the process's random hash state.
        let rs = RandomState::new();
        let k0 = rs.hash_one(0x5eed_u64);
        let k1 = rs.hash_one(0x5eed_0001_u64) | 1;
        TableHash { k0, k1 }
    }
}

impl BuildHasher for TableHash {
    type Hasher = TableHasher;

    #[inline]
    fn build_hasher(&self) -> TableHasher {
        TableHasher {
            state: self.k0,
            key: self.k1,
        }
    }
}

/// The hasher itself: state and key, one multiply per written word.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableHasher {
    state: u64,
    key: u64,
}

impl TableHasher {
    #[inline(always)]
    fn mix(&mut self, word: u64) {
        self.state = folded_multiply(self.state ^ word, self.key ^ MUL);
    }
}

impl Hasher for TableHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" + "" apart from "a" + "b".
            self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        folded_multiply(self.state, self.key.rotate_left(23) ^ MUL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::FourTuple;
    use std::collections::HashSet;

    #[test]
    fn distinct_tuples_spread() {
        // Tuples that differ in one port or one address byte land in different buckets.
        let b = TableHash::default();
        let mut seen = HashSet::new();
        for port in 0..4096u16 {
            for host in 0..16u8 {
                let t = FourTuple {
                    local: std::net::SocketAddr::from(([10, 0, 0, 2], 80)),
                    remote: std::net::SocketAddr::from(([10, 0, 1, host], port)),
                };
                seen.insert(b.hash_one(t) >> 52); // the top 12 bits
            }
        }
        assert_eq!(seen.len(), 4096, "every top-12-bit bucket is used");
    }

    #[test]
    fn tables_have_distinct_keys() {
        let t = FourTuple {
            local: std::net::SocketAddr::from(([10, 0, 0, 2], 80)),
            remote: std::net::SocketAddr::from(([10, 0, 0, 1], 40000)),
        };
        assert_ne!(
            TableHash::default().hash_one(t),
            TableHash::default().hash_one(t)
        );
    }
}
