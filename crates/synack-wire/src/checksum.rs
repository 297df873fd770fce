//! The Internet checksum (RFC 1071) and the TCP pseudo-headers.
//!
//! The sum is accumulated 64 bits at a time: one's-complement addition is
//! associative and commutative, and 2^16 = 1 modulo 2^16 - 1, so adding
//! big-endian 64-bit words with an end-around carry and folding the result
//! to 16 bits gives the same value as adding 16-bit words (RFC 1071 2(B),
//! "parallel summation").

use std::net::IpAddr;

/// One's-complement addition of two 64-bit words (end-around carry).
#[inline(always)]
fn add64(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    // With a carry, `s` is at most 2^64 - 2, so adding it back cannot overflow.
    s + carry as u64
}

#[inline(always)]
fn be64(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    u64::from_be_bytes(w)
}

/// Fold a 64-bit one's-complement accumulator to 16 bits.
#[inline]
fn fold64(acc: u64) -> u16 {
    let s = add64(acc >> 32, acc & 0xffff_ffff);
    // `s` fits in 33 bits; two more 32-bit folds bring it to 16.
    let s = (s >> 32) + (s & 0xffff_ffff);
    let s = (s >> 16) + (s & 0xffff);
    let s = (s >> 16) + (s & 0xffff);
    let s = (s >> 16) + (s & 0xffff);
    s as u16
}

/// One's-complement sum of `data` folded to 16 bits, starting from `initial`
/// (an unfolded 32-bit partial sum). Not inverted.
///
/// `data` is read as big-endian 16-bit words; an odd final byte is padded
/// with a zero byte on the right (RFC 1071 1).
///
/// Long inputs go through a vectorized block loop; the blocks end at an even offset,
/// so the rest continues with the big-endian loop.
pub fn sum(initial: u32, data: &[u8]) -> u32 {
    if data.len() < BLOCK {
        return sum_short(initial, data);
    }
    let split = data.len() - data.len() % BLOCK;
    let (long, rest) = data.split_at(split);
    let total = sum_blocks(long, |_, _| {});
    let a = add64(u64::from(initial), u64::from(fold64(total).swap_bytes()));
    sum_be(a, rest)
}

/// Bytes per block of the long loop.
const BLOCK: usize = 64;

#[inline(always)]
fn le64(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    u64::from_le_bytes(w)
}

/// The long loop: `data` (a multiple of [`BLOCK`] bytes) summed as
/// little-endian 64-bit words with end-around carry, in four independent
/// chains so that the CPU overlaps their carries (an add and an add-with-carry
/// per word, no shuffles), each block handed to `visit` with its offset
/// first. The one's-complement sum is byte-order independent (RFC 1071 2(B)),
/// so the little-endian result is byte-swapped once by the caller. Returns
/// the unfolded 64-bit sum.
#[inline(always)]
fn sum_blocks(data: &[u8], mut visit: impl FnMut(usize, &[u8; BLOCK])) -> u64 {
    let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
    for (i, blk) in data.chunks_exact(BLOCK).enumerate() {
        let Ok(blk) = <&[u8; BLOCK]>::try_from(blk) else {
            continue;
        };
        visit(i * BLOCK, blk);
        a = add64(a, le64(&blk[0..8]));
        b = add64(b, le64(&blk[8..16]));
        c = add64(c, le64(&blk[16..24]));
        d = add64(d, le64(&blk[24..32]));
        a = add64(a, le64(&blk[32..40]));
        b = add64(b, le64(&blk[40..48]));
        c = add64(c, le64(&blk[48..56]));
        d = add64(d, le64(&blk[56..64]));
    }
    add64(add64(a, b), add64(c, d))
}

/// Copy `src` into `dst` (of the same length) and return the one's-complement
/// sum of the bytes, as [`sum`]`(initial, src)` would, touching each byte once:
/// a segment's payload is checksummed while it is copied into the packet, and
/// an arriving payload while it is copied into the receive buffer, instead of
/// in a pass of its own.
///
/// # Panics
/// If `dst` and `src` differ in length.
pub fn copy_and_sum(initial: u32, dst: &mut [u8], src: &[u8]) -> u32 {
    assert_eq!(dst.len(), src.len(), "copy_and_sum: lengths differ");
    if src.len() < BLOCK {
        dst.copy_from_slice(src);
        return sum_short(initial, src);
    }
    let split = src.len() - src.len() % BLOCK;
    let (long, rest) = src.split_at(split);
    let (dlong, drest) = dst.split_at_mut(split);
    let mut out = dlong.chunks_exact_mut(BLOCK);
    // Each block is read once into registers, stored to `dst` and summed.
    let total = sum_blocks(long, |_, blk| {
        if let Some(d) = out.next() {
            d.copy_from_slice(blk);
        }
    });
    drest.copy_from_slice(rest);
    let a = add64(u64::from(initial), u64::from(fold64(total).swap_bytes()));
    sum_be(a, rest)
}

/// The sum of a part of a message that starts at an odd offset, so that it
/// can be added to the sum of what precedes it: RFC 1071 2(B), the sum of
/// byte-swapped words is the byte-swapped sum. `part` is the folded sum of
/// the part computed as if it started at an even offset.
pub fn at_odd_offset(part: u32) -> u32 {
    u32::from(fold(part).swap_bytes())
}

/// [`sum`] for inputs shorter than a block (headers, small payloads):
/// big-endian 32-bit words added into 64 bits, where fewer than 16 of them
/// and `initial` cannot carry out, so no end-around carry is needed until
/// the fold (2^32 = 1 modulo 2^16 - 1, as for the 64-bit words).
#[inline]
fn sum_short(initial: u32, data: &[u8]) -> u32 {
    debug_assert!(data.len() < BLOCK);
    let mut s = u64::from(initial);
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        s += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    // The rest starts at a multiple of 4: a 16-bit word, then (RFC 1071 1)
    // an odd byte padded with a zero octet.
    s += match *words.remainder() {
        [a] => u64::from(a) << 8,
        [a, b] => u64::from(u16::from_be_bytes([a, b])),
        [a, b, c] => u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        _ => 0,
    };
    u32::from(fold64(s))
}

/// [`sum`]'s loop for tails: big-endian 64-bit words with
/// end-around carry, from an unfolded 64-bit partial sum `initial`.
fn sum_be(initial: u64, data: &[u8]) -> u32 {
    // Two independent accumulators let the CPU overlap the carry chains.
    let mut a = initial;
    let mut b = 0u64;
    let mut blocks = data.chunks_exact(32);
    for blk in &mut blocks {
        a = add64(a, be64(&blk[0..8]));
        b = add64(b, be64(&blk[8..16]));
        a = add64(a, be64(&blk[16..24]));
        b = add64(b, be64(&blk[24..32]));
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        a = add64(a, be64(w));
    }
    let mut tail = words.remainder().chunks_exact(2);
    for w in &mut tail {
        b = add64(b, u64::from(u16::from_be_bytes([w[0], w[1]])));
    }
    if let [last] = tail.remainder() {
        // RFC 1071 1: an odd byte count is padded with a zero octet.
        b = add64(b, u64::from(*last) << 8);
    }
    u32::from(fold64(add64(a, b)))
}

/// [`sum`] of exactly 20 bytes, an IPv4 header without options (the only
/// kind synack sends or accepts), unrolled: five big-endian 32-bit words
/// cannot carry out of 64 bits, so one fold at the end suffices.
#[inline]
pub fn sum20(initial: u32, h: &[u8; 20]) -> u32 {
    let w = |i: usize| u64::from(u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]));
    u32::from(fold64(
        u64::from(initial) + w(0) + w(4) + w(8) + w(12) + w(16),
    ))
}

/// Fold a 32-bit partial sum to 16 bits.
pub fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The checksum field value for `data` starting from partial sum `initial`:
/// the one's complement of the folded one's-complement sum.
pub fn checksum(initial: u32, data: &[u8]) -> u16 {
    !fold(sum(initial, data))
}

/// True when `data` (checksum field included) sums to all ones, i.e. the
/// checksum it carries is correct (RFC 1071 1, "the result is checked").
pub fn verify(initial: u32, data: &[u8]) -> bool {
    fold(sum(initial, data)) == 0xffff
}

/// Partial sum of the TCP pseudo-header (RFC 9293 3.1 for IPv4, RFC 8200 8.1 for IPv6).
///
/// `length` is the TCP length (header plus payload, without IP headers or
/// extension headers). The IPv4 pseudo-header carries it in 16 bits and the
/// IPv6 one in 32; both sum the same way for lengths below 2^16. Mixed
/// address families are a caller bug; both addresses are summed anyway.
pub fn pseudo_header(src: IpAddr, dst: IpAddr, protocol: u8, length: u32) -> u32 {
    if let (IpAddr::V4(a), IpAddr::V4(b)) = (src, dst) {
        // The common case, as 16-bit halves: six words and the protocol stay
        // far below 2^32, so one fold at the end suffices.
        let (a, b) = (a.to_bits(), b.to_bits());
        let s = (a >> 16)
            + (a & 0xffff)
            + (b >> 16)
            + (b & 0xffff)
            + (length >> 16)
            + (length & 0xffff)
            + u32::from(protocol);
        return u32::from(fold(s));
    }
    let mut s = 0u32;
    for addr in [src, dst] {
        s = match addr {
            IpAddr::V4(a) => sum(s, &a.octets()),
            IpAddr::V6(a) => sum(s, &a.octets()),
        };
    }
    // RFC 9293 3.1: zero, PTCL, TCP length. RFC 8200 8.1: upper-layer packet
    // length (32 bits), three zero octets, next header.
    s += length >> 16;
    s += length & 0xffff;
    s += u32::from(protocol);
    u32::from(fold(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// The textbook RFC 1071 loop, one 16-bit word at a time.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u64 = 0;
        let mut i = 0;
        while i + 1 < data.len() {
            s += (u64::from(data[i]) << 8) | u64::from(data[i + 1]);
            i += 2;
        }
        if i < data.len() {
            s += u64::from(data[i]) << 8;
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(0, &d), 0xddf2);
        assert_eq!(checksum(0, &d), !0xddf2u16);
    }

    #[test]
    fn odd_length_and_empty() {
        assert_eq!(sum(0, &[]), 0);
        assert_eq!(sum(0, &[0xab]), 0xab00);
        assert_eq!(sum(0, &[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
        assert_eq!(sum(0x1_0000, &[]), 1);
    }

    #[test]
    fn all_ones_folds_to_ffff() {
        let d = [0xffu8; 1500];
        assert_eq!(sum(0, &d), 0xffff);
    }

    #[test]
    fn pseudo_header_v4_by_hand() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        // 0a00 + 0001 + 0a00 + 0002 + 0006 + 0014
        let want = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 0x0006 + 0x0014;
        assert_eq!(pseudo_header(src.into(), dst.into(), 6, 20), want);
    }

    #[test]
    fn pseudo_header_v6_matches_layout() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap_or(Ipv6Addr::LOCALHOST);
        let dst: Ipv6Addr = "2001:db8::2".parse().unwrap_or(Ipv6Addr::LOCALHOST);
        let len = 70_000u32;
        let mut ph = Vec::new();
        ph.extend_from_slice(&src.octets());
        ph.extend_from_slice(&dst.octets());
        ph.extend_from_slice(&len.to_be_bytes());
        ph.extend_from_slice(&[0, 0, 0, 6]);
        assert_eq!(
            pseudo_header(src.into(), dst.into(), 6, len),
            u32::from(reference(&ph))
        );
    }

    proptest! {
        #[test]
        fn pseudo_header_v4_matches_layout(a in any::<u32>(), b in any::<u32>(), len in 0u32..0x1_0000, proto in any::<u8>()) {
            let mut ph = Vec::new();
            ph.extend_from_slice(&a.to_be_bytes());
            ph.extend_from_slice(&b.to_be_bytes());
            ph.extend_from_slice(&[0, proto]);
            ph.extend_from_slice(&(len as u16).to_be_bytes());
            let (src, dst) = (Ipv4Addr::from_bits(a), Ipv4Addr::from_bits(b));
            prop_assert_eq!(pseudo_header(src.into(), dst.into(), proto, len), u32::from(reference(&ph)));
        }

        #[test]
        fn matches_reference(data in proptest::collection::vec(any::<u8>(), 0..3000), init in 0u32..0x10_0000) {
            let mut with_init = reference(&data) as u64 + init as u64;
            while with_init > 0xffff {
                with_init = (with_init & 0xffff) + (with_init >> 16);
            }
            prop_assert_eq!(sum(init, &data), with_init as u32);
            prop_assert_eq!(sum(0, &data), u32::from(reference(&data)));
        }

        #[test]
        fn short_inputs_match_reference(data in proptest::collection::vec(any::<u8>(), 0..80), init in any::<u32>()) {
            let mut with_init = reference(&data) as u64 + init as u64;
            while with_init > 0xffff {
                with_init = (with_init & 0xffff) + (with_init >> 16);
            }
            prop_assert_eq!(sum(init, &data), with_init as u32);
            let mut dst = vec![0u8; data.len()];
            prop_assert_eq!(copy_and_sum(init, &mut dst, &data), with_init as u32);
            prop_assert_eq!(&dst[..], &data[..]);
        }

        #[test]
        fn long_inputs_match_reference(data in proptest::collection::vec(any::<u8>(), 0..9000), init in 0u32..0x10_0000, skip in 0usize..64) {
            let d = &data[skip.min(data.len())..];
            let mut with_init = reference(d) as u64 + init as u64;
            while with_init > 0xffff {
                with_init = (with_init & 0xffff) + (with_init >> 16);
            }
            prop_assert_eq!(sum(init, d), with_init as u32);
        }

        #[test]
        fn sum20_matches_sum(h in proptest::array::uniform20(any::<u8>()), init in any::<u32>()) {
            prop_assert_eq!(sum20(init, &h), sum(init, &h));
        }

        #[test]
        fn copy_and_sum_copies_and_sums(data in proptest::collection::vec(any::<u8>(), 0..5000), init in 0u32..0x10_0000, skip in 0usize..64) {
            let d = &data[skip.min(data.len())..];
            let mut dst = vec![0u8; d.len()];
            prop_assert_eq!(copy_and_sum(init, &mut dst, d), sum(init, d));
            prop_assert_eq!(&dst[..], d);
        }

        #[test]
        fn split_anywhere_with_odd_offsets_swapped(data in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..600) {
            let cut = cut.min(data.len());
            let (a, b) = data.split_at(cut);
            let second = if cut % 2 == 1 { at_odd_offset(sum(0, b)) } else { sum(0, b) };
            prop_assert_eq!(fold(sum(0, a) + second), fold(sum(0, &data)));
        }

        #[test]
        fn split_anywhere_at_even_offset(data in proptest::collection::vec(any::<u8>(), 0..600), cut in 0usize..300) {
            let cut = (cut * 2).min(data.len() & !1);
            let (a, b) = data.split_at(cut);
            prop_assert_eq!(sum(sum(0, a), b), sum(0, &data));
        }
    }
}
