//! The connections' deadlines: one heap entry per connection slot.

use super::table::{Slot, NOT_QUEUED};
use crate::time::Instant;

/// The connections' deadlines: a binary min-heap of (deadline, slot index)
/// with at most one entry per slot, whose slot records the entry's position,
/// so a deadline that changes moves its entry instead of leaving a stale one
/// behind. Ties go to the lower slot index.
#[derive(Debug, Default)]
pub(super) struct TimerHeap {
    pub(super) heap: Vec<(Instant, u32)>,
}

impl TimerHeap {
    pub(super) fn peek(&self) -> Option<(Instant, u32)> {
        self.heap.first().copied()
    }

    /// Set (or with `None` remove) the deadline of slot `index`.
    pub(super) fn set(&mut self, slots: &mut [Slot], index: u32, deadline: Option<Instant>) {
        let pos = slots[index as usize].heap_pos();
        match (pos, deadline) {
            (NOT_QUEUED, None) => {}
            (NOT_QUEUED, Some(d)) => {
                let at = self.heap.len();
                self.heap.push((d, index));
                slots[index as usize].set_heap_pos(at as u32);
                self.sift_up(slots, at);
            }
            (pos, Some(d)) => {
                let pos = pos as usize;
                let old = self.heap[pos];
                if old.0 != d {
                    self.heap[pos].0 = d;
                    if (d, index) < old {
                        self.sift_up(slots, pos);
                    } else {
                        self.sift_down(slots, pos);
                    }
                }
            }
            (pos, None) => {
                let pos = pos as usize;
                slots[index as usize].set_heap_pos(NOT_QUEUED);
                let last = self.heap.len() - 1;
                if pos != last {
                    let moved = self.heap[last];
                    let removed = self.heap[pos];
                    self.heap[pos] = moved;
                    self.heap.pop();
                    slots[moved.1 as usize].set_heap_pos(pos as u32);
                    if moved < removed {
                        self.sift_up(slots, pos);
                    } else {
                        self.sift_down(slots, pos);
                    }
                } else {
                    self.heap.pop();
                }
                self.shrink_if_sparse();
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

    pub(super) fn sift_up(&mut self, slots: &mut [Slot], mut pos: usize) {
        let e = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            let p = self.heap[parent];
            if p <= e {
                break;
            }
            self.heap[pos] = p;
            slots[p.1 as usize].set_heap_pos(pos as u32);
            pos = parent;
        }
        self.heap[pos] = e;
        slots[e.1 as usize].set_heap_pos(pos as u32);
    }

    pub(super) fn sift_down(&mut self, slots: &mut [Slot], mut pos: usize) {
        let e = self.heap[pos];
        let n = self.heap.len();
        loop {
            let l = 2 * pos + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && self.heap[r] < self.heap[l] {
                r
            } else {
                l
            };
            let ch = self.heap[c];
            if e <= ch {
                break;
            }
            self.heap[pos] = ch;
            slots[ch.1 as usize].set_heap_pos(pos as u32);
            pos = c;
        }
        self.heap[pos] = e;
        slots[e.1 as usize].set_heap_pos(pos as u32);
    }
}
