//! The bytes the bulk benchmark moves, and their check on arrival.
//!
//! The stream is a pseudo-random block of `PERIOD` bytes repeated; `PERIOD` is
//! prime so that no segment, buffer or window size lines up with it, and a
//! byte delivered at the wrong offset, twice or not at all fails the compare.

/// Length of the repeated block (2^17 - 1, prime).
pub(crate) const PERIOD: usize = 131_071;

/// Largest slice handed to `send` or checked at once.
pub(crate) const CHUNK: usize = 64 * 1024;

/// The stream's bytes, with the first `CHUNK` bytes repeated at the end so
/// that any slice of up to `CHUNK` bytes at any offset is contiguous.
pub(crate) struct Pattern {
    bytes: Vec<u8>,
}

impl Pattern {
    /// The pattern for `seed`.
    pub(crate) fn new(seed: u64) -> Pattern {
        let mut state = seed;
        let mut bytes = Vec::with_capacity(PERIOD + CHUNK);
        while bytes.len() < PERIOD {
            bytes.extend_from_slice(&splitmix(&mut state).to_le_bytes());
        }
        bytes.truncate(PERIOD);
        let head: Vec<u8> = bytes[..CHUNK].to_vec();
        bytes.extend_from_slice(&head);
        Pattern { bytes }
    }

    /// Up to `len` (at most `CHUNK`) stream bytes starting at stream position `pos`.
    pub(crate) fn slice(&self, pos: u64, len: usize) -> &[u8] {
        let off = (pos % PERIOD as u64) as usize;
        &self.bytes[off..off + len.min(CHUNK)]
    }

    /// Whether `data` is what the stream holds at position `pos` (`data` at most `CHUNK` bytes).
    pub(crate) fn check(&self, pos: u64, data: &[u8]) -> bool {
        data.len() <= CHUNK && self.slice(pos, data.len()) == data
    }
}

/// SplitMix64: a small, good enough generator for test data and addresses.
pub(crate) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
