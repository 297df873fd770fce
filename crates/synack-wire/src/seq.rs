//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 3.4).
//!
//! [`SeqNum`] deliberately has no `PartialOrd`: `a < b` on raw integers is wrong
//! across the wrap. Use [`SeqNum::lt`], [`SeqNum::le`], [`SeqNum::gt`],
//! [`SeqNum::ge`], which compare by the sign of the 32-bit difference
//! (RFC 9293 3.4: "comparisons ... use modulo arithmetic").

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence (or acknowledgment) number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// The raw 32-bit value.
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// `self - other` as a signed distance: negative when `self` is before `other`.
    #[inline]
    pub const fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// The forward distance from `earlier` to `self`, modulo 2^32.
    #[inline]
    pub const fn since(self, earlier: SeqNum) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }

    /// `self` comes strictly before `other` (RFC 9293 3.4 "<").
    #[inline]
    pub const fn lt(self, other: SeqNum) -> bool {
        self.diff(other) < 0
    }

    /// `self` comes before or is `other` ("=<").
    #[inline]
    pub const fn le(self, other: SeqNum) -> bool {
        self.diff(other) <= 0
    }

    /// `self` comes strictly after `other` (">").
    #[inline]
    pub const fn gt(self, other: SeqNum) -> bool {
        self.diff(other) > 0
    }

    /// `self` comes after or is `other` (">=").
    #[inline]
    pub const fn ge(self, other: SeqNum) -> bool {
        self.diff(other) >= 0
    }

    /// `start =< self < start + len`, the window test of RFC 9293 3.10.7.4.
    #[inline]
    pub const fn in_window(self, start: SeqNum, len: u32) -> bool {
        self.since(start) < len
    }

    /// The later of two sequence numbers.
    #[inline]
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self.ge(other) {
            self
        } else {
            other
        }
    }

    /// The earlier of two sequence numbers.
    #[inline]
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self.le(other) {
            self
        } else {
            other
        }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn add(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs))
    }
}

impl AddAssign<u32> for SeqNum {
    #[inline]
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn sub(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(rhs))
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNum({})", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps() {
        let a = SeqNum(u32::MAX - 1);
        let b = a + 4;
        assert_eq!(b, SeqNum(2));
        assert!(a.lt(b));
        assert!(b.gt(a));
        assert_eq!(b.since(a), 4);
        assert_eq!(a.diff(b), -4);
        assert!(SeqNum(1).in_window(SeqNum(u32::MAX), 3));
        assert!(!SeqNum(2).in_window(SeqNum(u32::MAX), 3));
    }

    proptest! {
        #[test]
        fn order_laws(a: u32, d in 1u32..(1 << 31)) {
            let a = SeqNum(a);
            let b = a + d;
            // Strict order: antisymmetric, consistent across the wrap.
            prop_assert!(a.lt(b));
            prop_assert!(!b.lt(a));
            prop_assert!(b.gt(a));
            prop_assert!(a.le(b) && !a.ge(b));
            prop_assert!(a.le(a) && a.ge(a) && !a.lt(a));
            prop_assert_eq!(b.since(a), d);
            prop_assert_eq!(a.max(b), b);
            prop_assert_eq!(a.min(b), a);
            prop_assert!(b.in_window(a, d + 1));
            prop_assert!(!b.in_window(a, d));
        }

        #[test]
        fn transitive(a: u32, d1 in 1u32..(1 << 30), d2 in 1u32..(1 << 30)) {
            let a = SeqNum(a);
            let b = a + d1;
            let c = b + d2;
            prop_assert!(a.lt(b) && b.lt(c) && a.lt(c));
        }

        #[test]
        fn add_sub_inverse(a: u32, d: u32) {
            prop_assert_eq!((SeqNum(a) + d) - d, SeqNum(a));
        }
    }
}
