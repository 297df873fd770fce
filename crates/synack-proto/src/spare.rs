//! The spare pool: what connections gave back (ring buffers, send-record
//! boxes), kept per thread for the next one that needs it. Bounded in count
//! and shared by every connection the thread serves, so no idle connection
//! holds memory and a busy one does not go to the allocator each time a
//! buffer empties or a flight ends. Each kind of thing has its own
//! thread-local [`Spares`], with its own bound and its own rule for which
//! kept item to hand out.

use std::cell::RefCell;
use std::thread::LocalKey;

/// The kept items of one kind (declared with `thread_local!`).
#[derive(Debug)]
pub(crate) struct Spares<T>(RefCell<Vec<T>>);

impl<T> Spares<T> {
    /// None kept.
    pub(crate) const fn new() -> Self {
        Spares(RefCell::new(Vec::new()))
    }
}

/// Keep `item` in the thread's `pool`, at most `count` items; when that many
/// are kept, `swap` may name one for `item` to replace (else `item` goes
/// back to the allocator, as it does while the thread shuts down).
pub(crate) fn give<T: 'static>(
    pool: &'static LocalKey<Spares<T>>,
    item: T,
    count: usize,
    swap: impl FnOnce(&[T], &T) -> Option<usize>,
) {
    let _ = pool.try_with(|p| {
        if let Ok(mut kept) = p.0.try_borrow_mut() {
            if kept.len() < count {
                kept.push(item);
            } else if let Some(i) = swap(&kept, &item) {
                kept[i] = item;
            }
        }
    });
}

/// Take the kept item `pick` names from the thread's `pool`, if any.
pub(crate) fn take<T: 'static>(
    pool: &'static LocalKey<Spares<T>>,
    pick: impl FnOnce(&[T]) -> Option<usize>,
) -> Option<T> {
    pool.try_with(|p| {
        let mut kept = p.0.try_borrow_mut().ok()?;
        let i = pick(&kept).filter(|&i| i < kept.len())?;
        Some(kept.swap_remove(i))
    })
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static POOL: Spares<u32> = const { Spares::new() };
    }

    #[test]
    fn the_pool_is_bounded_and_hands_out_what_pick_names() {
        for n in [5, 1, 9] {
            give(&POOL, n, 2, |_, _| None);
        }
        // Full at two: 9 was dropped; a swap rule lets it replace the smallest.
        give(&POOL, 9, 2, |kept, new| {
            let (i, small) = kept.iter().enumerate().min_by_key(|(_, x)| **x)?;
            (small < new).then_some(i)
        });
        let largest = |kept: &[u32]| {
            kept.iter()
                .enumerate()
                .max_by_key(|(_, x)| **x)
                .map(|(i, _)| i)
        };
        assert_eq!(take(&POOL, largest), Some(9));
        assert_eq!(take(&POOL, largest), Some(5));
        assert_eq!(take(&POOL, largest), None);
        assert_eq!(
            take(&POOL, |_| Some(7)),
            None,
            "an index out of range takes nothing"
        );
    }
}
