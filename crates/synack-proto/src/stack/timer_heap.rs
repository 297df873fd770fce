//! The connections' deadlines: one heap entry per connection slot.

use super::table::{Slot, NOT_QUEUED};
use crate::time::Instant;

/// Where the heap keeps each slot's entry position, and each slot's true
/// deadline (what its connection asks for now), against which a key left
/// behind is checked when it surfaces.
pub(super) trait Deadlines {
    /// The position of slot `index`'s entry (`NOT_QUEUED`: none).
    fn pos(&self, index: u32) -> u32;
    /// Record the position of slot `index`'s entry.
    fn set_pos(&mut self, index: u32, pos: u32);
    /// Slot `index`'s deadline as its connection has it now.
    fn truth(&self, index: u32) -> Option<Instant>;
}

impl Deadlines for Vec<Slot> {
    #[inline]
    fn pos(&self, index: u32) -> u32 {
        self[index as usize].heap_pos()
    }

    #[inline]
    fn set_pos(&mut self, index: u32, pos: u32) {
        self[index as usize].set_heap_pos(pos);
    }

    fn truth(&self, index: u32) -> Option<Instant> {
        self[index as usize]
            .tcb
            .as_deref()
            .and_then(|t| t.next_deadline())
    }
}

/// The connections' deadlines: a binary min-heap of (key, slot index) with
/// at most one entry per slot, whose slot records the entry's position.
///
/// Updates are lazy where that is safe: a deadline that moves *later* (the
/// retransmission timer restarted by an ACK, a keepalive pushed back by
/// traffic) leaves its entry where it is, keyed by the earlier time, so a
/// busy connection's ACKs do not sift through the heap. A key is therefore
/// never later than its slot's true deadline (an entry left behind is
/// marked stale), and the top entry is kept exact: a stale entry that
/// surfaces is re-keyed to its slot's true deadline ([`Deadlines::truth`])
/// or removed first.
/// So [`peek`](TimerHeap::peek) is the exact earliest deadline, and entries
/// leave the top in (deadline, slot index) order, as with eager updates.
#[derive(Debug, Default)]
pub(super) struct TimerHeap {
    heap: Vec<Entry>,
}

/// One heap entry: 16 bytes, the flag in what would be padding.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The key: the slot's deadline, or an earlier one when `stale`.
    at: Instant,
    index: u32,
    /// The slot's deadline moved later than `at` since the entry was keyed.
    stale: bool,
}

impl Entry {
    /// The heap order: by key, ties to the lower slot index.
    #[inline]
    fn key(&self) -> (Instant, u32) {
        (self.at, self.index)
    }
}

impl TimerHeap {
    /// The earliest deadline and its slot (exact: see the type's comment).
    pub(super) fn peek(&self) -> Option<(Instant, u32)> {
        self.heap.first().map(Entry::key)
    }

    /// Set (or with `None` remove) the deadline of slot `index`. With a
    /// deadline, `slots` must already answer it as the slot's truth; the
    /// truth of a slot whose entry is removed is not asked.
    pub(super) fn set<D: Deadlines + ?Sized>(
        &mut self,
        slots: &mut D,
        index: u32,
        deadline: Option<Instant>,
    ) {
        let pos = slots.pos(index);
        match (pos, deadline) {
            (NOT_QUEUED, None) => {}
            (NOT_QUEUED, Some(d)) => {
                let at = self.heap.len();
                self.heap.push(Entry {
                    at: d,
                    index,
                    stale: false,
                });
                slots.set_pos(index, at as u32);
                self.sift_up(slots, at);
            }
            (pos, Some(d)) => {
                let pos = pos as usize;
                let e = &mut self.heap[pos];
                if d < e.at {
                    *e = Entry {
                        at: d,
                        index,
                        stale: false,
                    };
                    self.sift_up(slots, pos);
                } else if d > e.at && pos == 0 {
                    // The top moved later: it must stay exact.
                    *e = Entry {
                        at: d,
                        index,
                        stale: false,
                    };
                    self.sift_down(slots, 0);
                    self.settle_top(slots);
                } else if d > e.at {
                    // Later and not on top: the earlier key stays until it surfaces.
                    e.stale = true;
                } else {
                    // The same key; exact again if it had moved away and back.
                    e.stale = false;
                }
            }
            (pos, None) => {
                self.remove_at(slots, pos as usize);
                self.settle_top(slots);
                self.shrink_if_sparse();
            }
        }
    }

    /// Remove the entry at `pos` (its slot's position becomes `NOT_QUEUED`).
    #[inline]
    fn remove_at<D: Deadlines + ?Sized>(&mut self, slots: &mut D, pos: usize) {
        let removed = self.heap[pos];
        slots.set_pos(removed.index, NOT_QUEUED);
        let last = self.heap.len() - 1;
        if pos != last {
            let moved = self.heap[last];
            self.heap[pos] = moved;
            self.heap.pop();
            slots.set_pos(moved.index, pos as u32);
            if moved.key() < removed.key() {
                self.sift_up(slots, pos);
            } else {
                self.sift_down(slots, pos);
            }
        } else {
            self.heap.pop();
        }
    }

    /// Make the top entry exact: while it is stale, re-key it to its
    /// slot's true deadline (or remove it when the slot has none) and let
    /// the next one surface.
    #[inline]
    fn settle_top<D: Deadlines + ?Sized>(&mut self, slots: &mut D) {
        while let Some(&Entry {
            index, stale: true, ..
        }) = self.heap.first()
        {
            match slots.truth(index) {
                Some(at) => {
                    self.heap[0] = Entry {
                        at,
                        index,
                        stale: false,
                    };
                    self.sift_down(slots, 0);
                }
                None => self.remove_at(slots, 0),
            }
        }
    }

    /// Give memory back once at most a quarter of the heap's capacity is in
    /// use (deadlines of a burst of connections have passed; idle
    /// connections have none): shrink to twice the entries. Amortized O(1):
    /// the entries must halve again before the next shrink.
    pub(super) fn shrink_if_sparse(&mut self) {
        const MIN_CAPACITY: usize = 64;
        let cap = self.heap.capacity();
        if cap > MIN_CAPACITY && self.heap.len() < cap / 4 {
            self.heap.shrink_to((2 * self.heap.len()).max(MIN_CAPACITY));
        }
    }

    fn sift_up<D: Deadlines + ?Sized>(&mut self, slots: &mut D, mut pos: usize) {
        let e = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            let p = self.heap[parent];
            if p.key() <= e.key() {
                break;
            }
            self.heap[pos] = p;
            slots.set_pos(p.index, pos as u32);
            pos = parent;
        }
        self.heap[pos] = e;
        slots.set_pos(e.index, pos as u32);
    }

    fn sift_down<D: Deadlines + ?Sized>(&mut self, slots: &mut D, mut pos: usize) {
        let e = self.heap[pos];
        let n = self.heap.len();
        loop {
            let l = 2 * pos + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && self.heap[r].key() < self.heap[l].key() {
                r
            } else {
                l
            };
            let ch = self.heap[c];
            if e.key() <= ch.key() {
                break;
            }
            self.heap[pos] = ch;
            slots.set_pos(ch.index, pos as u32);
            pos = c;
        }
        self.heap[pos] = e;
        slots.set_pos(e.index, pos as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    /// Slots for the test: positions and true deadlines side by side.
    struct Model {
        pos: Vec<u32>,
        truth: Vec<Option<Instant>>,
    }

    impl Deadlines for Model {
        fn pos(&self, index: u32) -> u32 {
            self.pos[index as usize]
        }
        fn set_pos(&mut self, index: u32, pos: u32) {
            self.pos[index as usize] = pos;
        }
        fn truth(&self, index: u32) -> Option<Instant> {
            self.truth[index as usize]
        }
    }

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    /// The earliest (deadline, slot) of the model, as an eager heap has it.
    fn exact_min(m: &Model) -> Option<(Instant, u32)> {
        m.truth
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.map(|t| (t, i as u32)))
            .min()
    }

    #[test]
    fn a_later_deadline_below_the_top_stays_then_surfaces_exact() {
        let mut m = Model {
            pos: vec![NOT_QUEUED; 3],
            truth: vec![None; 3],
        };
        let mut h = TimerHeap::default();
        for (i, ms) in [(0u32, 10u64), (1, 20), (2, 30)] {
            m.truth[i as usize] = Some(at(ms));
            h.set(&mut m, i, Some(at(ms)));
        }
        // Slot 1 moves to 40 ms: its entry keeps the 20 ms key.
        m.truth[1] = Some(at(40));
        h.set(&mut m, 1, Some(at(40)));
        assert!(h.heap.iter().any(|e| e.key() == (at(20), 1) && e.stale));
        // The top fires: the next exact deadline is slot 2's 30 ms, not 20 ms.
        m.truth[0] = None;
        h.set(&mut m, 0, None);
        assert_eq!(h.peek(), Some((at(30), 2)));
        m.truth[2] = None;
        h.set(&mut m, 2, None);
        assert_eq!(h.peek(), Some((at(40), 1)));
    }

    proptest! {
        /// Whatever the updates, the top is the exact earliest deadline
        /// (ties to the lower slot), and draining pops in that order.
        #[test]
        fn top_is_always_exact(ops in proptest::collection::vec((0u32..12, proptest::option::of(1u64..50)), 1..200)) {
            let mut m = Model { pos: vec![NOT_QUEUED; 12], truth: vec![None; 12] };
            let mut h = TimerHeap::default();
            for (i, d) in ops {
                let d = d.map(at);
                m.truth[i as usize] = d;
                h.set(&mut m, i, d);
                prop_assert_eq!(h.peek(), exact_min(&m));
            }
            while let Some((_, i)) = h.peek() {
                prop_assert_eq!(h.peek(), exact_min(&m));
                m.truth[i as usize] = None;
                h.set(&mut m, i, None);
            }
            prop_assert_eq!(exact_min(&m), None);
        }
    }
}
