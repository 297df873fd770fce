//! Reading a trace into a [`Model`], entry by entry.

use super::meaning::{meaning, Flow};
use super::{pair_links, parse_packet, Arrival, Isns, Model, Note, SegStep, Step, StepKind};
use crate::HostInfo;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use synack_proto::{Cause, EventKind, SegmentSummary, SendReason, State};
use synack_sim::{HostId, LinkFate, TraceEntry, TraceKind};

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

/// Interpret a trace.
pub(crate) fn build(entries: &[TraceEntry], hosts: &[HostInfo<'_>], absolute: bool) -> Model {
    let isns = Isns::learn(entries);
    let (send_to_link, link_matched) = pair_links(entries);
    let mut flows = HashMap::new();
    let mut steps: Vec<Step> = Vec::new();
    // The step of each SegmentSent entry.
    let mut sent_steps: HashMap<usize, usize> = HashMap::new();
    // Segments that may still be received, by their fields.
    let mut pending: HashMap<SegKey, VecDeque<usize>> = HashMap::new();
    // Segments received, by (host, time, fields), for drops right after.
    let mut received: HashMap<(HostId, u64, SegKey), usize> = HashMap::new();

    let seg_step = |seg: SegmentSummary,
                    from: Option<HostId>,
                    to: Option<HostId>,
                    reason: Option<SendReason>,
                    arrival: Arrival,
                    sent_seen: bool,
                    flows: &mut HashMap<(SocketAddr, SocketAddr), Flow>| {
        let (seq, ack) = isns.display(&seg, absolute);
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
            meaning: meaning(flows, &isns, &seg),
        }
    };

    for (i, e) in entries.iter().enumerate() {
        let at = e.at.micros();
        match &e.kind {
            TraceKind::Link(link) => {
                if link_matched.get(i).copied().unwrap_or(false) {
                    continue;
                }
                let Some(raw) = parse_packet(&link.packet) else {
                    continue;
                };
                let arrival = arrival_of(&link.fate);
                let n = expected_receives(&arrival);
                let s = seg_step(
                    raw.summary(),
                    Some(link.from),
                    Some(link.to),
                    None,
                    arrival,
                    true,
                    &mut flows,
                );
                let idx = steps.len();
                for _ in 0..n {
                    pending.entry(key(&s.seg)).or_default().push_back(idx);
                }
                steps.push(Step {
                    at,
                    host: link.from,
                    kind: StepKind::Segment(Box::new(s)),
                });
            }
            TraceKind::Stack(ev) => match &ev.kind {
                EventKind::SegmentSent { seg, reason, .. } => {
                    let link = send_to_link
                        .get(&i)
                        .and_then(|l| entries.get(*l))
                        .and_then(|l| match &l.kind {
                            TraceKind::Link(link) => Some(link),
                            TraceKind::Stack(_) => None,
                        });
                    let arrival = link.map_or(Arrival::Unknown, |l| arrival_of(&l.fate));
                    let to = link.map(|l| l.to).or_else(|| host_of(hosts, seg.dst.ip()));
                    let n = expected_receives(&arrival);
                    let s = seg_step(
                        *seg,
                        Some(e.host),
                        to,
                        Some(*reason),
                        arrival,
                        true,
                        &mut flows,
                    );
                    let idx = steps.len();
                    sent_steps.insert(i, idx);
                    for _ in 0..n {
                        pending.entry(key(seg)).or_default().push_back(idx);
                    }
                    steps.push(Step {
                        at,
                        host: e.host,
                        kind: StepKind::Segment(Box::new(s)),
                    });
                }
                EventKind::SegmentReceived { seg, .. } => {
                    let k = key(seg);
                    let matched = pending.get_mut(&k).and_then(|q| q.pop_front());
                    match matched {
                        Some(idx) => {
                            if let Some(StepKind::Segment(s)) =
                                steps.get_mut(idx).map(|st| &mut st.kind)
                            {
                                if s.arrival == Arrival::Unknown {
                                    s.arrival = Arrival::Delivered(at);
                                }
                                if s.to.is_none() {
                                    s.to = Some(e.host);
                                }
                            }
                            received.insert((e.host, at, k), idx);
                        }
                        None => {
                            let from = host_of(hosts, seg.src.ip());
                            let s = seg_step(
                                *seg,
                                from,
                                Some(e.host),
                                None,
                                Arrival::Delivered(at),
                                false,
                                &mut flows,
                            );
                            received.insert((e.host, at, k), steps.len());
                            steps.push(Step {
                                at,
                                host: e.host,
                                kind: StepKind::Segment(Box::new(s)),
                            });
                        }
                    }
                }
                EventKind::Dropped { seg, reason, .. } => {
                    let mut attached = false;
                    if let Some(sg) = seg {
                        let k = key(sg);
                        let idx = received.get(&(e.host, at, k)).copied().or_else(|| {
                            let idx = pending.get_mut(&k).and_then(|q| q.pop_front());
                            if let Some(idx) = idx {
                                if let Some(StepKind::Segment(s)) =
                                    steps.get_mut(idx).map(|st| &mut st.kind)
                                {
                                    if s.arrival == Arrival::Unknown {
                                        s.arrival = Arrival::Delivered(at);
                                    }
                                }
                            }
                            idx
                        });
                        if let Some(idx) = idx {
                            if let Some(StepKind::Segment(s)) =
                                steps.get_mut(idx).map(|st| &mut st.kind)
                            {
                                if s.rejected.is_none() {
                                    s.rejected = Some(*reason);
                                    attached = true;
                                }
                            }
                        }
                    }
                    if !attached {
                        let seg = seg.map(|s| {
                            let (q, a) = isns.display(&s, absolute);
                            (s, q, a)
                        });
                        steps.push(Step {
                            at,
                            host: e.host,
                            kind: StepKind::Drop {
                                seg,
                                reason: *reason,
                            },
                        });
                    }
                }
                EventKind::StateChanged {
                    from, to, cause, ..
                } => steps.push(Step {
                    at,
                    host: e.host,
                    kind: StepKind::State {
                        from: *from,
                        to: *to,
                        cause: *cause,
                    },
                }),
                EventKind::TimerFired { timer, .. } => steps.push(Step {
                    at,
                    host: e.host,
                    kind: StepKind::Timer(*timer),
                }),
                EventKind::ConnectionError { error, .. } => steps.push(Step {
                    at,
                    host: e.host,
                    kind: StepKind::Error(*error),
                }),
                EventKind::IcmpReceived {
                    message,
                    tuple,
                    seq,
                    ..
                } => {
                    let shown = match (tuple, seq) {
                        (Some(_), Some(q)) if absolute => Some(q.get()),
                        (Some(t), Some(q)) => Some(match isns.get(t.local, t.remote) {
                            Some(isn) => q.since(isn),
                            None => q.get(),
                        }),
                        _ => None,
                    };
                    steps.push(Step {
                        at,
                        host: e.host,
                        kind: StepKind::Note(Note::Icmp {
                            message: *message,
                            seq: shown,
                        }),
                    });
                }
                EventKind::PathMtuReduced { mtu, mss, .. } => steps.push(Step {
                    at,
                    host: e.host,
                    kind: StepKind::Note(Note::PathMtu {
                        mtu: *mtu,
                        mss: *mss,
                    }),
                }),
                EventKind::SoftError { error, .. } => steps.push(Step {
                    at,
                    host: e.host,
                    kind: StepKind::Note(Note::SoftError(*error)),
                }),
                EventKind::EventsLost { count } => steps.push(Step {
                    at,
                    host: e.host,
                    kind: StepKind::Lost(*count),
                }),
                _ => {}
            },
        }
    }

    // Which two hosts to draw.
    let mut seen: std::collections::HashSet<HostId> = (0..hosts.len()).collect();
    for e in entries {
        seen.insert(e.host);
        if let TraceKind::Link(l) = &e.kind {
            seen.insert(l.from);
            seen.insert(l.to);
        }
    }
    let host_count = seen.len();
    let mut pairs: HashMap<(HostId, HostId), usize> = HashMap::new();
    for st in &steps {
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
    // The client is the one whose SYN comes first, or the other of a listener.
    let mut left = a;
    let mut right = b;
    if let Some(bb) = b {
        for st in &steps {
            let swap = match &st.kind {
                StepKind::Segment(s) if s.seg.flags.syn() && !s.seg.flags.ack() => {
                    Some(s.from == Some(bb))
                }
                StepKind::State {
                    to: State::Listen, ..
                } if st.host == a || st.host == bb => Some(st.host == a),
                StepKind::State {
                    cause: Cause::Connect,
                    ..
                } if st.host == a || st.host == bb => Some(st.host == bb),
                _ => None,
            };
            if let Some(swap) = swap {
                if swap {
                    left = bb;
                    right = Some(a);
                }
                break;
            }
        }
    }
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
