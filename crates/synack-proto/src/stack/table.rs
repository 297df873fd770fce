//! The connection table: slots holding the TCBs, handles (index and
//! generation), demultiplexing by 4-tuple, and the bookkeeping a connection
//! needs after each call into it (timer, output queue, listener queues, freeing).

use super::listener::dec_source;
use super::Stack;
use crate::compact::PackedTuple;
use crate::conn::{Owner, SegCtx, Tcb};
use crate::error::Error;
use crate::event::{Cause, ConnId, EventKind, FourTuple};
use crate::state::State;
use crate::time::Instant;
use std::hash::BuildHasher;

/// One connection entry: 16 bytes, as there is one per connection.
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) generation: u32,
    /// Position of this slot's entry in the timer heap (`NOT_QUEUED`: none) in
    /// the low 31 bits; the top bit says the slot is in the output queue.
    pub(super) heap_and_dirty: u32,
    pub(super) tcb: Option<Box<Tcb>>,
}

/// `Slot::heap_pos` of a slot with no deadline.
pub(super) const NOT_QUEUED: u32 = u32::MAX >> 1;

/// The "in the output queue" bit of `Slot::heap_and_dirty`.
pub(super) const DIRTY: u32 = 1 << 31;

/// Slot indices stay below this, so that heap positions fit in 31 bits.
pub(super) const MAX_SLOTS: u32 = NOT_QUEUED;

impl Slot {
    pub(super) fn heap_pos(&self) -> u32 {
        self.heap_and_dirty & !DIRTY
    }

    pub(super) fn set_heap_pos(&mut self, pos: u32) {
        self.heap_and_dirty = (self.heap_and_dirty & DIRTY) | pos;
    }

    pub(super) fn dirty(&self) -> bool {
        self.heap_and_dirty & DIRTY != 0
    }

    pub(super) fn set_dirty(&mut self, dirty: bool) {
        if dirty {
            self.heap_and_dirty |= DIRTY;
        } else {
            self.heap_and_dirty &= !DIRTY;
        }
    }
}

/// Boxes of freed connections, kept for the next ones so that opening a
/// connection in steady state does not go to the allocator. Their buffers
/// go to the thread's spare buffers (`compact.rs`), which every ring draws
/// from when it needs storage again, so an idle connection costs what a
/// fresh one does.
#[derive(Debug, Default)]
pub(super) struct Spare {
    // The boxes themselves are what is reused: a slot holds a `Box<Tcb>`.
    #[allow(clippy::vec_box)]
    tcbs: Vec<Box<Tcb>>,
}

impl Spare {
    const TCBS: usize = 64;

    /// `tcb` in a box, a spare one if there is one.
    pub(super) fn boxed(&mut self, tcb: Tcb) -> Box<Tcb> {
        match self.tcbs.pop() {
            Some(mut b) => {
                *b = tcb;
                b
            }
            None => Box::new(tcb),
        }
    }

    /// A freed connection: its buffers go to the thread's spares, its box
    /// is kept while there is room.
    pub(super) fn keep(&mut self, mut tcb: Box<Tcb>) {
        for ring in tcb.buffers_mut() {
            ring.clear();
        }
        if self.tcbs.len() < Self::TCBS {
            self.tcbs.push(tcb);
        }
    }
}

impl Stack {
    // ----- handles ---------------------------------------------------------

    pub(super) fn tcb(&self, id: ConnId) -> Result<&Tcb, Error> {
        self.slots
            .get(id.index as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.tcb.as_deref())
            .filter(|t| t.owner != Owner::Orphan)
            .ok_or(Error::InvalidHandle)
    }

    pub(super) fn tcb_any(&self, id: ConnId) -> Option<&Tcb> {
        self.slots
            .get(id.index as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.tcb.as_deref())
    }

    pub(super) fn tcb_any_mut(&mut self, id: ConnId) -> Option<&mut Tcb> {
        self.slots
            .get_mut(id.index as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.tcb.as_deref_mut())
    }

    /// The connection with this 4-tuple in the demultiplexing table.
    pub(super) fn demux_get(&self, tuple: &FourTuple) -> Option<ConnId> {
        let slots = &self.slots;
        let key = PackedTuple::from(*tuple);
        self.demux
            .find(self.demux_hash.hash_one(key), |&i| {
                slots[i as usize]
                    .tcb
                    .as_deref()
                    .is_some_and(|t| t.packed_tuple == key)
            })
            .map(|&index| ConnId {
                index,
                generation: slots[index as usize].generation,
            })
    }

    /// Index `id` (whose slot already holds its TCB) under `tuple`.
    pub(super) fn demux_insert(&mut self, tuple: &FourTuple, id: ConnId) {
        let (slots, hash) = (&self.slots, self.demux_hash);
        self.demux
            .insert_unique(hash.hash_one(PackedTuple::from(*tuple)), id.index, |&i| {
                let t = slots[i as usize].tcb.as_deref();
                hash.hash_one(
                    t.map(|t| t.packed_tuple)
                        .expect("indexed slot holds its TCB"),
                )
            });
    }

    /// Remove `id`'s entry under `tuple`, if it has one.
    pub(super) fn demux_remove(&mut self, key: PackedTuple, id: ConnId) {
        if let Ok(e) = self
            .demux
            .find_entry(self.demux_hash.hash_one(key), |&i| i == id.index)
        {
            e.remove();
        }
    }

    pub(super) fn alloc(&mut self) -> Result<ConnId, Error> {
        if self.live >= self.cfg.max_connections {
            return Err(Error::TooManyConnections);
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(self.slots.len()).map_err(|_| Error::TooManyConnections)?;
                if i >= MAX_SLOTS {
                    return Err(Error::TooManyConnections);
                }
                self.slots.push(Slot {
                    generation: 0,
                    heap_and_dirty: NOT_QUEUED,
                    tcb: None,
                });
                i
            }
        };
        self.live += 1;
        self.ready.reset(index);
        let slot = &mut self.slots[index as usize];
        Ok(ConnId {
            index,
            generation: slot.generation,
        })
    }

    pub(super) fn release(&mut self, id: ConnId) {
        if let Some(slot) = self.slots.get_mut(id.index as usize) {
            if slot.generation == id.generation && slot.tcb.is_some() {
                let Some((tuple, owner, error)) = slot
                    .tcb
                    .as_deref()
                    .map(|t| (t.packed_tuple, t.owner, t.error))
                else {
                    return;
                };
                self.demux_remove(tuple, id);
                self.note_released(id, owner, error);
                self.fo_forget(id);
                let slot = &mut self.slots[id.index as usize];
                if let Some(tcb) = slot.tcb.take() {
                    self.spare.keep(tcb);
                }
                let slot = &mut self.slots[id.index as usize];
                slot.generation = slot.generation.wrapping_add(1);
                slot.set_dirty(false);
                self.timers.set(&mut self.slots, id.index, None);
                self.free.push(id.index);
                self.live -= 1;
            }
        }
    }

    /// Run `f` on a connection with a context, then do the bookkeeping its
    /// state change requires (accept queue, demux, timers, output, freeing).
    pub(super) fn with_tcb<R>(
        &mut self,
        id: ConnId,
        now: Instant,
        f: impl FnOnce(&mut Tcb, &mut SegCtx<'_>) -> R,
    ) -> Option<R> {
        self.last_now = self.last_now.max(now);
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let mut tcb = slot.tcb.take()?;
        let before = tcb.state;
        let mut ctx = SegCtx {
            now,
            sink: &mut self.sink,
            challenge_tokens: &mut self.challenge_tokens,
        };
        let r = f(&mut tcb, &mut ctx);
        let after = tcb.state;
        self.slots[id.index as usize].tcb = Some(tcb);
        self.after_change(id, before, after, now, true);
        Some(r)
    }

    pub(super) fn after_change(
        &mut self,
        id: ConnId,
        before: State,
        after: State,
        _now: Instant,
        requeue: bool,
    ) {
        self.settle(id, before, after, requeue, true);
    }

    /// [`Stack::after_change`] after the connection was asked for output.
    /// Sending changes neither the buffers' contents nor the error, so what
    /// the connection can do for the application (readiness) moves only with
    /// its state, or, under a not-sent low-water mark (`lowat`), with the
    /// octets still unsent: readiness is looked at again only then.
    pub(super) fn after_output(
        &mut self,
        id: ConnId,
        (before, after): (State, State),
        requeue: bool,
        lowat: bool,
    ) {
        self.settle(id, before, after, requeue, lowat || before != after);
    }

    fn settle(&mut self, id: ConnId, before: State, after: State, requeue: bool, ready: bool) {
        if self.slots[id.index as usize].tcb.is_none() {
            return;
        }
        if before != after {
            self.state_changed(id, before, after);
        }
        // One look at the TCB for the timer, the output queue and reaping.
        let Some(tcb) = self.slots[id.index as usize].tcb.as_deref() else {
            return;
        };
        let next = tcb.next_deadline();
        let wants_output = tcb.wants_output();
        // A connection reset before it was accepted goes, unless it holds data
        // the stack acknowledged (a Fast Open child's SYN data, RFC 7413 4.2.2,
        // or segments after the handshake): accept returns it with its data
        // and then its error, as Linux's accept queue does.
        let passive_dead = tcb.state == State::Closed
            && tcb.owner == Owner::AcceptQueue
            && !wants_output
            && tcb.recv_ready() == 0;
        let reap = tcb.is_reapable() || passive_dead;
        let origin = tcb.origin;
        self.timers.set(&mut self.slots, id.index, next);
        let slot = &mut self.slots[id.index as usize];
        if requeue && wants_output && !slot.dirty() {
            slot.set_dirty(true);
            self.dirty.push_back(id);
        }
        if ready {
            self.note_ready(id);
        }
        if reap {
            if passive_dead {
                if let crate::conn::Origin::Passive(l) = origin {
                    if let Some(lst) = self.listener_mut(l) {
                        lst.accept.retain(|c| *c != id);
                    }
                }
            }
            self.release(id);
        }
    }

    /// The bookkeeping a state change requires: the listener's queues when a
    /// half-open entry leaves SYN_RCVD, the demultiplexing entry on CLOSED.
    pub(super) fn state_changed(&mut self, id: ConnId, before: State, after: State) {
        let Some(tcb) = self.slots[id.index as usize].tcb.as_deref() else {
            return;
        };
        let origin = tcb.origin;
        let key = tcb.packed_tuple;
        // Accepted from a pending SYN (stack/pending.rs): the application holds it already.
        let held = tcb.owner == Owner::App;
        // A Fast Open child sits in the accept queue since its SYN.
        let early = before == State::SynReceived && self.fo_child_done(id);
        let held = held || early;
        // A passive half-open entry left SYN_RCVD.
        if before == State::SynReceived {
            if let crate::conn::Origin::Passive(l) = origin {
                let established = after.is_synchronized();
                if let Some(lst) = self.listener_mut(l) {
                    lst.half_open = lst.half_open.saturating_sub(1);
                    dec_source(&mut lst.sources, key.unpack().remote.ip());
                    if established {
                        lst.status.established += 1;
                        if !held {
                            lst.accept.push_back(id);
                        }
                    } else {
                        lst.status.half_open_expired += 1;
                    }
                    let queued = lst.accept.len();
                    if established {
                        self.note_acceptable(l, queued);
                    }
                }
                if established {
                    self.stats.passive_opens += 1;
                }
            }
        }
        if after == State::Closed {
            self.demux_remove(key, id);
        }
    }

    pub(super) fn schedule(&mut self, id: ConnId) {
        let Some(slot) = self.slots.get_mut(id.index as usize) else {
            return;
        };
        let Some(tcb) = slot.tcb.as_deref() else {
            return;
        };
        let next = tcb.next_deadline();
        self.timers.set(&mut self.slots, id.index, next);
    }

    pub(super) fn mark_dirty(&mut self, id: ConnId) {
        let Some(slot) = self.slots.get_mut(id.index as usize) else {
            return;
        };
        if slot.dirty() {
            return;
        }
        if slot.tcb.as_deref().is_some_and(|t| t.wants_output()) {
            slot.set_dirty(true);
            self.dirty.push_back(id);
        }
    }

    pub(super) fn force_close(&mut self, id: ConnId, now: Instant, cause: Cause) {
        if let Some(t) = self.tcb_any(id) {
            let (tuple, from) = (t.tuple(), t.state);
            self.sink.push(
                now,
                EventKind::StateChanged {
                    conn: Some(id),
                    listener: None,
                    tuple,
                    from,
                    to: State::Closed,
                    cause,
                },
            );
        }
        self.release(id);
    }
}
