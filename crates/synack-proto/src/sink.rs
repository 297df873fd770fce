//! Where events and drop counters go: a bounded queue the application polls.

use crate::event::{DropReason, Event, EventKind};
use crate::time::Instant;
use std::collections::{BTreeMap, VecDeque};

/// The stack's event queue and counters.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    events: VecDeque<Event>,
    max: usize,
    enabled: bool,
    lost: u64,
    drops: BTreeMap<DropReason, u64>,
}

impl Sink {
    pub(crate) fn new(max: usize, enabled: bool) -> Sink {
        Sink {
            events: VecDeque::new(),
            max,
            enabled,
            lost: 0,
            drops: BTreeMap::new(),
        }
    }

    /// Record an event (bounded: beyond the limit events are counted as lost).
    pub(crate) fn push(&mut self, at: Instant, kind: EventKind) {
        if !self.enabled {
            return;
        }
        if self.events.len() >= self.max {
            self.lost += 1;
            return;
        }
        self.events.push_back(Event { at, kind });
    }

    /// Count a dropped segment.
    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        *self.drops.entry(reason).or_insert(0) += 1;
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        if self.lost > 0 {
            let count = std::mem::take(&mut self.lost);
            let at = self.events.front().map(|e| e.at).unwrap_or_default();
            return Some(Event {
                at,
                kind: EventKind::EventsLost { count },
            });
        }
        self.events.pop_front()
    }

    pub(crate) fn drops(&self) -> &BTreeMap<DropReason, u64> {
        &self.drops
    }
}
