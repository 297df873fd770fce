//! Reading a trace into a [`Model`], entry by entry.

use super::meaning::{meaning, Flow};
use super::{pair_links, parse_packet, Arrival, Isns, Model, Note, SegStep, Step, StepKind};
use crate::HostInfo;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use synack_proto::{
    Cause, DropReason, EventKind, FourTuple, SegmentSummary, SendReason, SeqNum, State,
};
use synack_sim::{HostId, LinkEvent, LinkFate, TraceEntry, TraceKind};

type SegKey = (SocketAddr, SocketAddr, u8, u32, u32, u16, u32);

fn key(s: &SegmentSummary) -> SegKey {
    (
        s.src,
        s.dst,
        s.flags.0,
        s.seq.get(),
        s.ack.get(),
        s.window,
        s.len,
    )
}

fn host_of(hosts: &[HostInfo<'_>], addr: IpAddr) -> Option<HostId> {
    hosts.iter().position(|h| h.addr == addr)
}

fn arrival_of(fate: &LinkFate) -> Arrival {
    match fate {
        LinkFate::Delivered { at } => Arrival::Delivered(at.micros()),
        LinkFate::Corrupted { at } => Arrival::Corrupted(at.micros()),
        LinkFate::Marked { at } => Arrival::Marked(at.micros()),
        LinkFate::Duplicated { at, again } => Arrival::Duplicated(at.micros(), again.micros()),
        LinkFate::Dropped(c) => Arrival::LinkDropped(c.clone()),
    }
}

/// How many receive events the arrival promises (for matching).
fn expected_receives(a: &Arrival) -> usize {
    match a {
        Arrival::LinkDropped(_) | Arrival::Corrupted(_) => 0,
        Arrival::Duplicated(..) => 2,
        Arrival::Unknown | Arrival::Delivered(_) | Arrival::Marked(_) => 1,
    }
}

/// Interpret a trace: a step per drawn event, in trace order, then the two
/// hosts to draw.
pub(crate) fn build(entries: &[TraceEntry], hosts: &[HostInfo<'_>], absolute: bool) -> Model {
    let mut b = Builder::new(entries, hosts, absolute);
    for (i, e) in entries.iter().enumerate() {
        match &e.kind {
            TraceKind::Link(link) => b.on_link(i, e.at.micros(), link),
            TraceKind::Stack(ev) => b.on_event(i, e.at.micros(), e.host, &ev.kind),
        }
    }
    let Builder {
        steps, sent_steps, ..
    } = b;
    let host_count = count_hosts(entries, hosts);
    let (left, right) = pair_to_draw(&steps, host_count);
    let names = hosts.iter().map(|h| h.name.to_string()).collect();
    Model {
        steps,
        left,
        right,
        host_count,
        chosen: host_count > 2,
        names,
        sent_steps,
    }
}

/// What a pass over the trace has drawn so far, and what it still expects.
struct Builder<'a, 'h> {
    entries: &'a [TraceEntry],
    hosts: &'a [HostInfo<'h>],
    absolute: bool,
    isns: Isns,
    /// The link entry of each matched `SegmentSent`, by entry index.
    send_to_link: HashMap<usize, usize>,
    /// The link entries a `SegmentSent` describes (not drawn on their own).
    link_matched: Vec<bool>,
    flows: HashMap<(SocketAddr, SocketAddr), Flow>,
    steps: Vec<Step>,
    /// The step of each SegmentSent entry.
    sent_steps: HashMap<usize, usize>,
    /// Segments that may still be received, by their fields.
    pending: HashMap<SegKey, VecDeque<usize>>,
    /// Segments received, by (host, time, fields), for drops right after.
    received: HashMap<(HostId, u64, SegKey), usize>,
}

impl<'a, 'h> Builder<'a, 'h> {
    fn new(entries: &'a [TraceEntry], hosts: &'a [HostInfo<'h>], absolute: bool) -> Self {
        let isns = Isns::learn(entries);
        let (send_to_link, link_matched) = pair_links(entries);
        Builder {
            entries,
            hosts,
            absolute,
            isns,
            send_to_link,
            link_matched,
            flows: HashMap::new(),
            steps: Vec::new(),
            sent_steps: HashMap::new(),
            pending: HashMap::new(),
            received: HashMap::new(),
        }
    }

    /// A segment as drawn: its numbers as shown, its meaning in its flow.
    fn seg_step(
        &mut self,
        seg: SegmentSummary,
        from: Option<HostId>,
        to: Option<HostId>,
        reason: Option<SendReason>,
        arrival: Arrival,
        sent_seen: bool,
    ) -> SegStep {
        let (seq, ack) = self.isns.display(&seg, self.absolute);
        SegStep {
            from,
            to,
            seg,
            seq,
            ack,
            reason,
            sent_seen,
            arrival,
            rejected: None,
            meaning: meaning(&mut self.flows, &self.isns, &seg),
        }
    }

    /// Draw a segment sent at `at` by `host`, and expect `n` receive events for it.
    fn push_segment(&mut self, at: u64, host: HostId, s: SegStep, n: usize) -> usize {
        let idx = self.steps.len();
        for _ in 0..n {
            self.pending.entry(key(&s.seg)).or_default().push_back(idx);
        }
        self.steps.push(Step {
            at,
            host,
            kind: StepKind::Segment(Box::new(s)),
        });
        idx
    }

    /// The segment drawn as step `idx`.
    fn segment_mut(&mut self, idx: usize) -> Option<&mut SegStep> {
        match self.steps.get_mut(idx).map(|st| &mut st.kind) {
            Some(StepKind::Segment(s)) => Some(&mut **s),
            _ => None,
        }
    }

    /// The drawn segment next expected with these fields, which has now
    /// arrived at `at`.
    fn arrive(&mut self, k: &SegKey, at: u64) -> Option<usize> {
        let idx = self.pending.get_mut(k).and_then(|q| q.pop_front())?;
        if let Some(s) = self.segment_mut(idx) {
            if s.arrival == Arrival::Unknown {
                s.arrival = Arrival::Delivered(at);
            }
        }
        Some(idx)
    }

    /// A packet on the link: drawn from its bytes, unless a `SegmentSent`
    /// describes it.
    fn on_link(&mut self, i: usize, at: u64, link: &LinkEvent) {
        if self.link_matched.get(i).copied().unwrap_or(false) {
            return;
        }
        let Some(raw) = parse_packet(&link.packet) else {
            return;
        };
        let arrival = arrival_of(&link.fate);
        let n = expected_receives(&arrival);
        let s = self.seg_step(
            raw.summary(),
            Some(link.from),
            Some(link.to),
            None,
            arrival,
            true,
        );
        self.push_segment(at, link.from, s, n);
    }

    /// A stack event: segments are matched up with each other, the rest
    /// become steps of their own.
    fn on_event(&mut self, i: usize, at: u64, host: HostId, kind: &EventKind) {
        let kind = match kind {
            EventKind::SegmentSent { seg, reason, .. } => {
                return self.on_sent(i, at, host, seg, *reason)
            }
            EventKind::SegmentReceived { seg, .. } => return self.on_received(at, host, seg),
            EventKind::Dropped { seg, reason, .. } => {
                return self.on_dropped(at, host, *seg, *reason)
            }
            EventKind::StateChanged {
                from, to, cause, ..
            } => StepKind::State {
                from: *from,
                to: *to,
                cause: *cause,
            },
            EventKind::TimerFired { timer, .. } => StepKind::Timer(*timer),
            EventKind::ConnectionError { error, .. } => StepKind::Error(*error),
            EventKind::IcmpReceived {
                message,
                tuple,
                seq,
                ..
            } => StepKind::Note(Note::Icmp {
                message: *message,
                seq: self.quoted_seq(*tuple, *seq),
            }),
            EventKind::PathMtuReduced { mtu, mss, .. } => StepKind::Note(Note::PathMtu {
                mtu: *mtu,
                mss: *mss,
            }),
            EventKind::SoftError { error, .. } => StepKind::Note(Note::SoftError(*error)),
            EventKind::EventsLost { count } => StepKind::Lost(*count),
            _ => return,
        };
        self.steps.push(Step { at, host, kind });
    }

    /// The sequence number an ICMP error quotes, as shown (relative to the
    /// ISN of the quoted segment's direction unless absolute).
    fn quoted_seq(&self, tuple: Option<FourTuple>, seq: Option<SeqNum>) -> Option<u32> {
        match (tuple, seq) {
            (Some(_), Some(q)) if self.absolute => Some(q.get()),
            (Some(t), Some(q)) => Some(match self.isns.get(t.local, t.remote) {
                Some(isn) => q.since(isn),
                None => q.get(),
            }),
            _ => None,
        }
    }

    /// A `SegmentSent`: drawn from its sender, with the fate of the packet
    /// on the link that carried it.
    fn on_sent(
        &mut self,
        i: usize,
        at: u64,
        host: HostId,
        seg: &SegmentSummary,
        reason: SendReason,
    ) {
        let entries = self.entries;
        let link = self
            .send_to_link
            .get(&i)
            .and_then(|l| entries.get(*l))
            .and_then(|l| match &l.kind {
                TraceKind::Link(link) => Some(link),
                TraceKind::Stack(_) => None,
            });
        let arrival = link.map_or(Arrival::Unknown, |l| arrival_of(&l.fate));
        let to = link
            .map(|l| l.to)
            .or_else(|| host_of(self.hosts, seg.dst.ip()));
        let n = expected_receives(&arrival);
        let s = self.seg_step(*seg, Some(host), to, Some(reason), arrival, true);
        let idx = self.push_segment(at, host, s, n);
        self.sent_steps.insert(i, idx);
    }

    /// A `SegmentReceived`: the arrival of a segment already drawn, or, when
    /// its sender's event is missing, a segment drawn from the receiver.
    fn on_received(&mut self, at: u64, host: HostId, seg: &SegmentSummary) {
        let k = key(seg);
        match self.arrive(&k, at) {
            Some(idx) => {
                if let Some(s) = self.segment_mut(idx) {
                    if s.to.is_none() {
                        s.to = Some(host);
                    }
                }
                self.received.insert((host, at, k), idx);
            }
            None => {
                let from = host_of(self.hosts, seg.src.ip());
                let s = self.seg_step(*seg, from, Some(host), None, Arrival::Delivered(at), false);
                self.received.insert((host, at, k), self.steps.len());
                self.push_segment(at, host, s, 0);
            }
        }
    }

    /// A stack's `Dropped`: the drawn segment it discarded (just received,
    /// or still expected) is marked rejected; otherwise a step of its own.
    fn on_dropped(
        &mut self,
        at: u64,
        host: HostId,
        seg: Option<SegmentSummary>,
        reason: DropReason,
    ) {
        let mut attached = false;
        if let Some(sg) = &seg {
            let k = key(sg);
            let idx = match self.received.get(&(host, at, k)).copied() {
                Some(idx) => Some(idx),
                None => self.arrive(&k, at),
            };
            if let Some(s) = idx.and_then(|idx| self.segment_mut(idx)) {
                if s.rejected.is_none() {
                    s.rejected = Some(reason);
                    attached = true;
                }
            }
        }
        if !attached {
            let seg = seg.map(|s| {
                let (q, a) = self.isns.display(&s, self.absolute);
                (s, q, a)
            });
            self.steps.push(Step {
                at,
                host,
                kind: StepKind::Drop { seg, reason },
            });
        }
    }
}

/// The distinct hosts in the trace or the host list.
fn count_hosts(entries: &[TraceEntry], hosts: &[HostInfo<'_>]) -> usize {
    let mut seen: HashSet<HostId> = (0..hosts.len()).collect();
    for e in entries {
        seen.insert(e.host);
        if let TraceKind::Link(l) = &e.kind {
            seen.insert(l.from);
            seen.insert(l.to);
        }
    }
    seen.len()
}

/// Which two hosts to draw: the pair that exchanged the most segments,
/// left (the client) and right (`None` when there is only one host).
fn pair_to_draw(steps: &[Step], host_count: usize) -> (HostId, Option<HostId>) {
    let mut pairs: HashMap<(HostId, HostId), usize> = HashMap::new();
    for st in steps {
        if let StepKind::Segment(s) = &st.kind {
            if let (Some(a), Some(b)) = (s.from, s.to) {
                if a != b {
                    *pairs.entry((a.min(b), a.max(b))).or_default() += 1;
                }
            }
        }
    }
    let best = pairs
        .iter()
        .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
        .map(|(p, _)| *p);
    let (a, b) = match best {
        Some((a, b)) => (a, Some(b)),
        None if host_count >= 2 => (0, Some(1)),
        None => (0, None),
    };
    match b {
        Some(bb) if b_is_client(steps, a, bb) => (bb, Some(a)),
        _ => (a, b),
    }
}

/// Whether `b` rather than `a` is the client: the client is the one whose
/// SYN comes first, or the other of a listener.
fn b_is_client(steps: &[Step], a: HostId, b: HostId) -> bool {
    for st in steps {
        let swap = match &st.kind {
            StepKind::Segment(s) if s.seg.flags.syn() && !s.seg.flags.ack() => {
                Some(s.from == Some(b))
            }
            StepKind::State {
                to: State::Listen, ..
            } if st.host == a || st.host == b => Some(st.host == a),
            StepKind::State {
                cause: Cause::Connect,
                ..
            } if st.host == a || st.host == b => Some(st.host == b),
            _ => None,
        };
        if let Some(swap) = swap {
            return swap;
        }
    }
    false
}
