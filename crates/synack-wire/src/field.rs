//! Bounds-checked big-endian field access shared by the packet views.
//!
//! Readers never panic: a field outside the buffer reads as zero. The views'
//! `new_checked` constructors guarantee every field they read is inside the
//! buffer, so the zero fallback is only reachable through `new_unchecked`.

#[inline]
pub(crate) fn u8_at(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

#[inline]
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    match b.get(at..at.saturating_add(2)) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

#[inline]
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at.saturating_add(4)) {
        Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
        _ => 0,
    }
}

#[inline]
pub(crate) fn array_at<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = b.get(at..at.saturating_add(N)) {
        out.copy_from_slice(src);
    }
    out
}

/// Write a big-endian `u16` at `at`. Panics if the buffer is too short, which
/// is a caller bug on the emit path (the buffer is sized by `buffer_len`).
#[inline]
pub(crate) fn set_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Write a big-endian `u32` at `at`. Panics like [`set_u16`].
#[inline]
pub(crate) fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
