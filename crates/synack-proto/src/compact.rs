//! Compact containers for per-connection state: one TCB exists per
//! connection, so every header word counts (a `VecDeque` header is 32 bytes,
//! a `Vec` header 24).

use crate::event::FourTuple;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::ops::{Deref, DerefMut, RangeTo};
use synack_wire::{checksum, SeqNum};

/// A connection's 4-tuple in 38 bytes instead of 64: the addresses and
/// ports without `SocketAddrV6`'s flow label and scope, which segments never
/// carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackedTuple {
    local_ip: IpAddr,
    remote_ip: IpAddr,
    local_port: u16,
    remote_port: u16,
}

impl PackedTuple {
    pub(crate) fn unpack(&self) -> FourTuple {
        FourTuple {
            local: SocketAddr::new(self.local_ip, self.local_port),
            remote: SocketAddr::new(self.remote_ip, self.remote_port),
        }
    }
}

impl Hash for PackedTuple {
    /// Two words for an IPv4 tuple (the connection table's usual key), the
    /// address bytes for IPv6; equal tuples hash equally.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let ports = u64::from(self.local_port) << 16 | u64::from(self.remote_port);
        match (self.local_ip, self.remote_ip) {
            (IpAddr::V4(l), IpAddr::V4(r)) => {
                state.write_u64(u64::from(l.to_bits()) << 32 | u64::from(r.to_bits()));
                state.write_u64(ports);
            }
            (l, r) => {
                state.write_u64(ports | 1 << 32);
                for ip in [l, r] {
                    match ip {
                        IpAddr::V4(a) => state.write_u32(a.to_bits()),
                        IpAddr::V6(a) => state.write_u128(a.to_bits()),
                    }
                }
            }
        }
    }
}

impl From<FourTuple> for PackedTuple {
    fn from(t: FourTuple) -> Self {
        PackedTuple {
            local_ip: t.local.ip(),
            remote_ip: t.remote.ip(),
            local_port: t.local.port(),
            remote_port: t.remote.port(),
        }
    }
}

/// A vector that is usually empty: one pointer, the vector allocated on the
/// first push and freed again when it empties.
// The box is the point: 8 bytes in the TCB instead of a 24-byte header.
#[allow(clippy::box_collection)]
#[derive(Debug, Clone, Default)]
pub(crate) struct LazyVec<T>(Option<Box<Vec<T>>>);

impl<T> LazyVec<T> {
    pub(crate) const fn new() -> Self {
        LazyVec(None)
    }

    fn vec(&mut self) -> &mut Vec<T> {
        self.0.get_or_insert_with(Box::default)
    }

    /// Free the vector when it holds nothing.
    fn release_if_empty(&mut self) {
        if self.0.as_ref().is_some_and(|v| v.is_empty()) {
            self.0 = None;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.0 = None;
    }

    pub(crate) fn insert(&mut self, index: usize, value: T) {
        self.vec().insert(index, value);
    }

    pub(crate) fn remove(&mut self, index: usize) -> T {
        let v = self.vec().remove(index);
        self.release_if_empty();
        v
    }

    pub(crate) fn retain(&mut self, f: impl FnMut(&T) -> bool) {
        if let Some(v) = self.0.as_mut() {
            v.retain(f);
            self.release_if_empty();
        }
    }
}

impl<T> Deref for LazyVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl<T> DerefMut for LazyVec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.0.as_deref_mut().map_or(&mut [], Vec::as_mut_slice)
    }
}

impl<'a, T> IntoIterator for &'a LazyVec<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut LazyVec<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

/// A byte ring buffer: the part of `VecDeque<u8>` a connection's send and
/// receive buffers use, in 24 bytes instead of 32 (32-bit head and length;
/// a buffer never comes near 4 GiB). Capacity grows as `VecDeque`'s does, and
/// goes back to nothing whenever the ring empties.
#[derive(Debug, Default)]
pub(crate) struct ByteRing {
    buf: Box<[u8]>,
    head: u32,
    len: u32,
}

/// The first storage [`ByteRing::free_mut`] gives an empty ring (it
/// doubles from there).
const FREE_FIRST: usize = 64 * 1024;

impl ByteRing {
    pub(crate) fn new() -> Self {
        ByteRing::default()
    }

    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empty the ring and give its memory back: an idle connection holds no
    /// buffer, and the next bytes take one again (from the thread's few
    /// spare buffers when one is large enough, so a busy connection whose
    /// ring empties after every read does not allocate each time).
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        if !self.buf.is_empty() {
            spare::give(std::mem::take(&mut self.buf));
        }
    }

    /// Bytes allocated (the capacity).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The bytes in order, as two slices (the second empty unless they wrap).
    pub(crate) fn as_slices(&self) -> (&[u8], &[u8]) {
        let cap = self.buf.len();
        let (head, len) = (self.head as usize, self.len as usize);
        if head + len <= cap {
            (&self.buf[head..head + len], &[])
        } else {
            (&self.buf[head..], &self.buf[..head + len - cap])
        }
    }

    /// Remove the first `range.end` bytes; removing the last frees the memory.
    pub(crate) fn drain(&mut self, range: RangeTo<usize>) {
        let n = range.end;
        assert!(n <= self.len(), "drain beyond the end of a ByteRing");
        if n == self.len() {
            self.clear();
            return;
        }
        let mut head = self.head as usize + n;
        if head >= self.buf.len() {
            head -= self.buf.len();
        }
        self.head = head as u32;
        self.len -= n as u32;
    }

    /// Append `data`.
    pub(crate) fn extend(&mut self, data: &[u8]) {
        let need = self.len() + data.len();
        if need > self.buf.len() {
            self.grow(need);
        }
        let cap = self.buf.len();
        // head < cap and len <= cap: one subtraction wraps the tail.
        let mut tail = self.head as usize + self.len();
        if tail >= cap {
            tail -= cap;
        }
        let first = data.len().min(cap - tail);
        self.buf[tail..tail + first].copy_from_slice(&data[..first]);
        self.buf[..data.len() - first].copy_from_slice(&data[first..]);
        // Connections hold at most MAX_BUFFER (2^30) octets per ring (ConnConfig::is_valid).
        self.len = u32::try_from(need).expect("ByteRing stays below 4 GiB");
    }

    /// Copy `data` into the free space after the bytes held, without making
    /// it part of them (see [`ByteRing::commit`]), and return its
    /// one's-complement sum (RFC 1071), copied and summed in one pass.
    /// `None`, with nothing written, when the capacity cannot take it.
    pub(crate) fn stage_summed(&mut self, data: &[u8]) -> Option<u32> {
        // A ring that gave its storage back when it emptied takes storage
        // again as the full path's append would (a spare one when there is).
        if self.buf.is_empty() && self.is_empty() && !data.is_empty() {
            self.grow(data.len());
        }
        let cap = self.buf.len();
        if self.len() + data.len() > cap {
            return None;
        }
        let mut tail = self.head as usize + self.len();
        if tail >= cap {
            tail -= cap;
        }
        let first = data.len().min(cap - tail);
        let (a, b) = data.split_at(first);
        let mut s = checksum::copy_and_sum(0, &mut self.buf[tail..tail + first], a);
        if !b.is_empty() {
            let part = checksum::copy_and_sum(0, &mut self.buf[..b.len()], b);
            // RFC 1071 2(B): a part starting at an odd offset adds byte-swapped.
            s += if first % 2 == 1 {
                checksum::at_odd_offset(part)
            } else {
                part
            };
        }
        Some(s)
    }

    /// Make the first `n` bytes staged by [`ByteRing::stage_summed`] (or
    /// written to [`ByteRing::free_mut`]) part of the bytes held. A ring
    /// still empty afterwards gives its memory back, as one that drains
    /// does.
    pub(crate) fn commit(&mut self, n: usize) {
        debug_assert!(
            self.len() + n <= self.buf.len(),
            "commit beyond the capacity"
        );
        self.len += n as u32;
        if self.len == 0 {
            self.clear();
        }
    }

    /// The free space right after the bytes held, at most `max` bytes and
    /// contiguous (shorter than `max` where it wraps), the ring first grown
    /// toward `max` more bytes: to twice its capacity (at least
    /// [`FREE_FIRST`]), so a run shorter than `max` also comes when the
    /// ring is still small. What is written there becomes part of
    /// the ring with [`ByteRing::commit`].
    pub(crate) fn free_mut(&mut self, max: usize) -> &mut [u8] {
        let need = self.len() + max;
        if need > self.buf.len() {
            // Grow by doubling (from FREE_FIRST), not at once to `max`: a
            // caller offered a large room that writes a few bytes (a read
            // from a socket that had one) takes a small buffer.
            self.grow(need.min((2 * self.buf.len()).max(FREE_FIRST)));
        }
        let cap = self.buf.len();
        let mut tail = self.head as usize + self.len();
        if tail >= cap {
            tail -= cap;
        }
        let end = (tail + max).min(cap);
        &mut self.buf[tail..end]
    }

    fn grow(&mut self, need: usize) {
        let cap = need.max(2 * self.buf.len()).max(8);
        let mut buf = match spare::take(cap) {
            Some(b) => b,
            None => vec![0; cap].into_boxed_slice(),
        };
        let (a, b) = self.as_slices();
        buf[..a.len()].copy_from_slice(a);
        buf[a.len()..a.len() + b.len()].copy_from_slice(b);
        let old = std::mem::replace(&mut self.buf, buf);
        if !old.is_empty() {
            spare::give(old);
        }
        self.head = 0;
    }
}

/// The buffers emptied rings gave back, in the thread's spare pool
/// (`crate::spare`) for the next ring that needs one: bounded in count and
/// size, so a busy connection does not go to the allocator each time its
/// ring empties.
mod spare {
    use crate::spare::{self as pool, Spares};

    /// Buffers kept per thread.
    const COUNT: usize = 8;
    /// Larger buffers go back to the allocator.
    const MAX_BYTES: usize = 1 << 20;

    thread_local! {
        static SPARE: Spares<Box<[u8]>> = const { Spares::new() };
    }

    /// Keep `buf` for later, or free it when the spares are full.
    pub(super) fn give(buf: Box<[u8]>) {
        if buf.len() > MAX_BYTES {
            return;
        }
        pool::give(&SPARE, buf, COUNT, |kept, buf| {
            // Keep the larger of the two: it serves more requests.
            let (i, small) = kept.iter().enumerate().min_by_key(|(_, b)| b.len())?;
            (small.len() < buf.len()).then_some(i)
        });
    }

    /// The largest spare buffer, if one is kept and holds at least `need`
    /// bytes. The largest, not the smallest that fits: a ring that empties
    /// after every read takes a buffer again for each burst, and one that
    /// starts small grows by doubling, copying its bytes at every step.
    pub(super) fn take(need: usize) -> Option<Box<[u8]>> {
        pool::take(&SPARE, |kept| {
            let (i, _) = kept
                .iter()
                .enumerate()
                .max_by_key(|(_, b)| b.len())
                .filter(|(_, b)| b.len() >= need)?;
            Some(i)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn ring_matches_vecdeque() {
        let mut r = ByteRing::new();
        let mut d: VecDeque<u8> = VecDeque::new();
        let mut x = 0u32;
        for step in 0..2000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let n = (x >> 16) as usize % 40;
            if step % 3 == 2 {
                let k = n.min(d.len());
                d.drain(..k);
                r.drain(..k);
            } else {
                let data: Vec<u8> = (0..n).map(|i| (step as usize + i) as u8).collect();
                d.extend(&data);
                r.extend(&data);
            }
            let (a, b) = r.as_slices();
            let got: Vec<u8> = a.iter().chain(b).copied().collect();
            assert_eq!(got, d.iter().copied().collect::<Vec<u8>>());
            assert_eq!(r.len(), d.len());
        }
    }

    #[test]
    fn free_space_grows_by_doubling_and_an_empty_commit_frees_it() {
        let mut r = ByteRing::new();
        // A large room offered to a writer that writes nothing costs nothing.
        assert_eq!(r.free_mut(4 << 20).len(), FREE_FIRST);
        r.commit(0);
        assert_eq!((r.len(), r.capacity()), (0, 0));
        let first = r.free_mut(4 << 20);
        first.fill(5);
        let n = first.len();
        r.commit(n);
        assert_eq!(n, FREE_FIRST);
        // Full: the next run comes from a buffer twice the size, the bytes kept.
        assert_eq!(r.free_mut(4 << 20).len(), FREE_FIRST);
        assert_eq!(r.capacity(), 2 * FREE_FIRST);
        assert_eq!(r.as_slices().0, &[5u8; FREE_FIRST][..]);
    }

    #[test]
    fn a_ring_grows_on_demand_and_frees_its_memory_when_emptied() {
        let mut r = ByteRing::new();
        assert_eq!(r.capacity(), 0);
        r.extend(&[7; 3000]);
        assert_eq!(r.capacity(), 3000);
        r.extend(&[8; 100]);
        assert_eq!(r.capacity(), 6000);
        r.drain(..3000);
        assert_eq!((r.len(), r.capacity()), (100, 6000));
        r.drain(..100);
        assert_eq!((r.len(), r.capacity()), (0, 0));
        r.extend(&[9; 10]);
        assert_eq!(r.as_slices(), (&[9u8; 10][..], &[][..]));
        r.clear();
        assert_eq!(r.capacity(), 0);
    }

    #[test]
    fn lazy_vec_frees_when_empty() {
        let mut v: LazyVec<u32> = LazyVec::new();
        assert!(v.is_empty());
        v.insert(0, 1);
        v.insert(1, 2);
        v.retain(|&x| x == 2);
        assert_eq!(&*v, &[2]);
        assert_eq!(v.remove(0), 2);
        assert!(v.0.is_none());
    }
}

/// An optional non-empty sequence range in 8 bytes: `None` is stored as an
/// empty range (an `Option<(SeqNum, SeqNum)>` takes 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OptRange(SeqNum, SeqNum);

impl OptRange {
    /// No range.
    pub(crate) const NONE: OptRange = OptRange(SeqNum(0), SeqNum(0));

    /// The range, if one is set.
    pub(crate) fn get(self) -> Option<(SeqNum, SeqNum)> {
        (self.0 != self.1).then_some((self.0, self.1))
    }

    /// Set (an empty range clears it) or clear the range.
    pub(crate) fn set(&mut self, range: Option<(SeqNum, SeqNum)>) {
        *self = range.map_or(OptRange::NONE, |(l, r)| OptRange(l, r));
    }
}
