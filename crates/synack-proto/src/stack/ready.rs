//! Readiness: which connections and listeners can make progress, so a
//! driver wakes exactly the tasks whose call would not block, and sleeps
//! otherwise.
//!
//! Reports are edge-triggered, as `epoll` with `EPOLLET`: a connection is
//! reported when it gains a readiness it did not have at its last report
//! (bytes or the end of the stream arrive, room opens in the send buffer,
//! the connection fails or ends), a listener when its accept queue stops
//! being empty (or, at a listener that decides before the handshake, when a
//! SYN waits for a decision). After a report the application calls until `WouldBlock`.
//! Each report is checked again when it is taken: one whose readiness was
//! already consumed is not handed out, so a driver that wakes on a report
//! always finds work. The queue is bounded; when it overflows, the next
//! report is [`Ready::Lost`] and the driver checks every handle.
//!
//! A connection the application held is reported once more when it is
//! gone ([`Ready::Closed`], with the error it ended with), also after the
//! application closed its handle: the end of a graceful close (the last
//! ACK, or TIME_WAIT's end) is observable without scanning the table.

use super::Stack;
use crate::conn::Owner;
use crate::error::ConnError;
use crate::event::{ConnId, ListenerId};
use std::collections::VecDeque;

/// What a connection can do without blocking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Readiness(u8);

impl Readiness {
    /// Nothing.
    pub const NONE: Readiness = Readiness(0);
    /// `recv` returns bytes, the end of the stream or an error.
    pub const READABLE: Readiness = Readiness(1);
    /// `send` takes bytes or returns an error.
    pub const WRITABLE: Readiness = Readiness(2);
    /// The connection is CLOSED or failed: its error (if any) is final.
    pub const CLOSED: Readiness = Readiness(4);

    /// Both sets of bits.
    pub const fn union(self, other: Readiness) -> Readiness {
        Readiness(self.0 | other.0)
    }

    /// Whether every bit of `other` is set here.
    pub fn contains(self, other: Readiness) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// `recv` would not block.
    pub fn is_readable(self) -> bool {
        self.contains(Readiness::READABLE)
    }

    /// `send` would not block.
    pub fn is_writable(self) -> bool {
        self.contains(Readiness::WRITABLE)
    }

    /// The connection has ended (CLOSED or failed).
    pub fn is_closed(self) -> bool {
        self.contains(Readiness::CLOSED)
    }
}

impl std::ops::BitOr for Readiness {
    type Output = Readiness;
    fn bitor(self, rhs: Readiness) -> Readiness {
        self.union(rhs)
    }
}

/// One readiness report, from [`Stack::poll_ready`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// A connection the application holds gained a readiness since its last
    /// report; `readiness` is what it can do now.
    Conn {
        /// The connection.
        id: ConnId,
        /// What it can do now.
        readiness: Readiness,
    },
    /// A listener's accept queue is no longer empty: `accept` succeeds.
    Acceptable {
        /// The listener.
        listener: ListenerId,
    },
    /// A SYN waits for the application's decision at a listener that decides
    /// before the handshake: `next_pending` succeeds.
    Pending {
        /// The listener.
        listener: ListenerId,
    },
    /// A connection the application held is gone and its handle released
    /// (after the application closed it, or aborted, or `close_all`). Its
    /// final state is CLOSED; `error` is why it ended, `None` for a clean
    /// close.
    Closed {
        /// The released handle.
        id: ConnId,
        /// The error the connection ended with.
        error: Option<ConnError>,
    },
    /// Reports were lost because the queue was full: check every handle.
    Lost {
        /// How many.
        count: u64,
    },
}

/// Reports a drained queue may keep room for; beyond it the room is freed.
const READY_KEEP: usize = 1024;

/// The set bit meaning "this slot has a report queued".
const QUEUED: u8 = 0x80;

/// The stack's readiness queue and each slot's last reported readiness.
#[derive(Debug, Default)]
pub(super) struct ReadyQueue {
    queue: VecDeque<Ready>,
    /// Per slot: the readiness last reported, and `QUEUED`.
    last: Vec<u8>,
    lost: u64,
}

impl ReadyQueue {
    /// A new connection occupies slot `index`: nothing reported yet.
    pub(super) fn reset(&mut self, index: u32) {
        let i = index as usize;
        if self.last.len() <= i {
            self.last.resize(i + 1, 0);
        }
        self.last[i] = 0;
    }

    fn push(&mut self, r: Ready, limit: usize) {
        if self.queue.len() >= limit {
            self.lost += 1;
        } else {
            self.queue.push_back(r);
        }
    }
}

impl Stack {
    /// The limit of queued reports: one per connection and listener, and
    /// room for the closed handles not yet reported.
    fn ready_limit(&self) -> usize {
        self.cfg.max_connections.saturating_mul(2).max(1024)
    }

    /// After a call into connection `id`: queue a report if it gained a
    /// readiness since its last one (only for connections the application
    /// holds).
    pub(super) fn note_ready(&mut self, id: ConnId) {
        let i = id.index as usize;
        let Some(tcb) = self.slots.get(i).and_then(|s| s.tcb.as_deref()) else {
            return;
        };
        if tcb.owner != Owner::App {
            return;
        }
        let now = tcb.readiness().0;
        let limit = self.ready_limit();
        let q = &mut self.ready;
        if q.last.len() <= i {
            q.last.resize(i + 1, 0);
        }
        let last = q.last[i];
        let gained = now & !last & !QUEUED;
        if gained == 0 {
            // Lost bits are forgotten, so that they are reported again when
            // they come back.
            q.last[i] = (last & QUEUED) | (last & now);
            return;
        }
        if last & QUEUED == 0 {
            q.push(
                Ready::Conn {
                    id,
                    readiness: Readiness(now),
                },
                limit,
            );
        }
        q.last[i] = now | QUEUED;
    }

    /// A connection leaves the table: report its end if the application
    /// held it (it is App or Orphan; never accepted ones are not reported).
    pub(super) fn note_released(&mut self, id: ConnId, owner: Owner, error: Option<ConnError>) {
        if let Some(l) = self.ready.last.get_mut(id.index as usize) {
            *l = 0;
        }
        if owner == Owner::AcceptQueue {
            return;
        }
        let limit = self.ready_limit();
        self.ready.push(Ready::Closed { id, error }, limit);
    }

    /// Listener `l`'s accept queue gained a connection: report it when the
    /// queue was empty before.
    pub(super) fn note_acceptable(&mut self, l: ListenerId, queued: usize) {
        if queued == 1 {
            let limit = self.ready_limit();
            self.ready.push(Ready::Acceptable { listener: l }, limit);
        }
    }

    /// A SYN became pending at deciding listener `l`: report it when none
    /// was waiting to be offered before.
    pub(super) fn note_pending(&mut self, l: ListenerId, fresh: usize) {
        if fresh == 1 {
            let limit = self.ready_limit();
            self.ready.push(Ready::Pending { listener: l }, limit);
        }
    }

    /// The next readiness report, or `None` when nothing can progress that
    /// was not reported before. Edge-triggered: after a report, call until
    /// `WouldBlock`. A report whose readiness was consumed before it was
    /// taken is skipped.
    pub fn poll_ready(&mut self) -> Option<Ready> {
        if self.ready.lost > 0 {
            let count = std::mem::take(&mut self.ready.lost);
            return Some(Ready::Lost { count });
        }
        while let Some(r) = self.ready.queue.pop_front() {
            match r {
                Ready::Conn { id, .. } => {
                    if let Some(l) = self.ready.last.get_mut(id.index as usize) {
                        *l &= !QUEUED;
                    }
                    let Ok(t) = self.tcb(id) else { continue };
                    let readiness = t.readiness();
                    if readiness.is_empty() {
                        continue;
                    }
                    if let Some(l) = self.ready.last.get_mut(id.index as usize) {
                        *l = readiness.0;
                    }
                    return Some(Ready::Conn { id, readiness });
                }
                Ready::Acceptable { listener } => {
                    if self.listener(listener).is_ok_and(|l| !l.accept.is_empty()) {
                        return Some(r);
                    }
                }
                Ready::Pending { listener } => {
                    if self.has_fresh_pending(listener) {
                        return Some(r);
                    }
                }
                Ready::Closed { .. } | Ready::Lost { .. } => return Some(r),
            }
        }
        // Drained: a queue grown for a burst gives its memory back, so that
        // idle connections hold none of it.
        if self.ready.queue.capacity() > READY_KEEP {
            self.ready.queue = VecDeque::new();
        }
        None
    }

    /// What connection `id` can do now (level-triggered, for a driver that
    /// checks before it sleeps).
    pub fn readiness(&self, id: ConnId) -> Result<Readiness, crate::error::Error> {
        Ok(self.tcb(id)?.readiness())
    }
}
