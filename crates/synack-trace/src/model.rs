//! The interpretation shared by the views: which segment was sent when and
//! by whom, what became of it, and what it means.

use crate::HostInfo;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use synack_proto::wire::{TcpFlags, TcpOptions};
use synack_proto::{Cause, DropReason, EventKind, SegmentSummary, SendReason, State, TimerKind};
use synack_proto::{ConnError, SeqNum};
use synack_sim::{DropCause, HostId, LinkFate, TraceEntry, TraceKind};

/// A column of a two-host view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    /// The left lifeline (the client).
    L,
    /// The right lifeline (the server).
    R,
}

impl Col {
    pub(crate) fn other(self) -> Col {
        match self {
            Col::L => Col::R,
            Col::R => Col::L,
        }
    }
}

/// Each direction's initial sequence number, learned from its first SYN.
#[derive(Debug, Default, Clone)]
pub(crate) struct Isns {
    map: HashMap<(SocketAddr, SocketAddr), SeqNum>,
}

impl Isns {
    /// Learn from every SYN in the trace (first one per direction wins).
    pub(crate) fn learn(entries: &[TraceEntry]) -> Isns {
        let mut isns = Isns::default();
        for e in entries {
            match &e.kind {
                TraceKind::Stack(ev) => match &ev.kind {
                    EventKind::SegmentSent { seg, .. } | EventKind::SegmentReceived { seg, .. } => {
                        isns.note(seg.src, seg.dst, seg.flags, seg.seq)
                    }
                    _ => {}
                },
                TraceKind::Link(link) => {
                    if let Some(p) = parse_packet(&link.packet) {
                        isns.note(p.src, p.dst, p.flags, p.seq);
                    }
                }
            }
        }
        isns
    }

    fn note(&mut self, src: SocketAddr, dst: SocketAddr, flags: TcpFlags, seq: SeqNum) {
        if flags.syn() {
            self.map.entry((src, dst)).or_insert(seq);
        }
    }

    /// The ISN of the direction `src -> dst`, if its SYN was seen.
    pub(crate) fn get(&self, src: SocketAddr, dst: SocketAddr) -> Option<SeqNum> {
        self.map.get(&(src, dst)).copied()
    }

    /// The numbers to show for a segment: `(seq, ack)`.
    pub(crate) fn display(&self, seg: &SegmentSummary, absolute: bool) -> (u32, u32) {
        if absolute {
            return (seg.seq.get(), seg.ack.get());
        }
        let seq = match self.get(seg.src, seg.dst) {
            Some(isn) => seg.seq.since(isn),
            None => seg.seq.get(),
        };
        let ack = match self.get(seg.dst, seg.src) {
            Some(isn) => seg.ack.since(isn),
            None => seg.ack.get(),
        };
        (seq, ack)
    }
}

/// The fields of a packet read at fixed offsets (IPv4 without options or
/// IPv6 without extension headers, carrying TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawSeg {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) flags: TcpFlags,
    pub(crate) seq: SeqNum,
    pub(crate) ack: SeqNum,
    pub(crate) window: u16,
    pub(crate) len: u32,
}

impl RawSeg {
    pub(crate) fn summary(&self) -> SegmentSummary {
        SegmentSummary {
            src: self.src,
            dst: self.dst,
            flags: self.flags,
            seq: self.seq,
            ack: self.ack,
            window: self.window,
            len: self.len,
            options: TcpOptions::default(),
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Read the TCP fields of an IP packet at fixed offsets, every access
/// bounds-checked. `None` when the packet is too short or not TCP.
pub(crate) fn parse_packet(p: &[u8]) -> Option<RawSeg> {
    let version = p.first()? >> 4;
    let (src, dst, tcp_at, total) = match version {
        4 => {
            let ihl = usize::from(p.first()? & 0x0f) * 4;
            if ihl < 20 || *p.get(9)? != 6 {
                return None;
            }
            let total = usize::from(be16(p, 2)?).min(p.len());
            let s: [u8; 4] = p.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = p.get(16..20)?.try_into().ok()?;
            (
                IpAddr::V4(Ipv4Addr::from(s)),
                IpAddr::V4(Ipv4Addr::from(d)),
                ihl,
                total,
            )
        }
        6 => {
            if *p.get(6)? != 6 {
                return None;
            }
            let total = 40usize
                .saturating_add(usize::from(be16(p, 4)?))
                .min(p.len());
            let s: [u8; 16] = p.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            (
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                40,
                total,
            )
        }
        _ => return None,
    };
    let sport = be16(p, tcp_at)?;
    let dport = be16(p, tcp_at.checked_add(2)?)?;
    let seq = be32(p, tcp_at.checked_add(4)?)?;
    let ack = be32(p, tcp_at.checked_add(8)?)?;
    let off = usize::from(p.get(tcp_at.checked_add(12)?)? >> 4) * 4;
    let flags = *p.get(tcp_at.checked_add(13)?)?;
    let window = be16(p, tcp_at.checked_add(14)?)?;
    let len = total.saturating_sub(tcp_at).saturating_sub(off);
    Some(RawSeg {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        flags: TcpFlags(flags),
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        window,
        len: u32::try_from(len).unwrap_or(u32::MAX),
    })
}

/// What became of a segment after it left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Nothing recorded about its arrival.
    Unknown,
    /// Arrived at this time.
    Delivered(u64),
    /// Arrived twice.
    Duplicated(u64, u64),
    /// Arrived with flipped bytes.
    Corrupted(u64),
    /// Arrived with Congestion Experienced set by a congested queue (RFC 3168 5).
    Marked(u64),
    /// The link dropped it.
    LinkDropped(DropCause),
}

/// What a segment means, for its explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// A RST.
    Rst,
    /// A SYN opening a connection.
    Syn,
    /// A SYN,ACK; `acks_isn` when its ack is the peer's ISN + 1.
    SynAck { acks_isn: bool },
    /// The ACK that completes the handshake.
    HandshakeAck,
    /// A FIN, with `len` bytes of data before it.
    Fin { len: u32 },
    /// Data.
    Data { len: u32 },
    /// A pure ACK of the peer's FIN.
    AckOfFin,
    /// A pure ACK acknowledging `newly` more bytes than the previous one.
    Ack { newly: u32 },
}

/// One thing to draw, in trace order.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// When (for segments: when it was sent, or received if the send is unknown).
    pub(crate) at: u64,
    /// Whose event.
    pub(crate) host: HostId,
    /// What.
    pub(crate) kind: StepKind,
}

/// A segment as drawn.
#[derive(Debug, Clone)]
pub(crate) struct SegStep {
    pub(crate) from: Option<HostId>,
    pub(crate) to: Option<HostId>,
    pub(crate) seg: SegmentSummary,
    /// Shown numbers (relative or absolute).
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    /// `None` when only the arrival (or the link) recorded it.
    pub(crate) reason: Option<SendReason>,
    /// `false` when the sender's event is missing and this was drawn from the receiver.
    pub(crate) sent_seen: bool,
    pub(crate) arrival: Arrival,
    /// The receiver's stack discarded it.
    pub(crate) rejected: Option<DropReason>,
    pub(crate) meaning: Meaning,
}

/// Side notes from the stack's ICMP handling.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Note {
    /// An ICMP error about one of our segments (`seq` as shown).
    Icmp {
        message: synack_proto::wire::IcmpMessage,
        seq: Option<u32>,
    },
    /// The path MTU fell (RFC 1191, RFC 8201).
    PathMtu { mtu: u16, mss: u16 },
    /// A soft error was recorded (reported only if the connection gives up).
    SoftError(ConnError),
}

#[derive(Debug, Clone)]
pub(crate) enum StepKind {
    Segment(Box<SegStep>),
    State {
        from: State,
        to: State,
        cause: Cause,
    },
    Timer(TimerKind),
    /// An ICMP error reached the stack, the path MTU fell, or a soft error
    /// was recorded.
    Note(Note),
    /// A stack drop not attached to a drawn segment.
    Drop {
        seg: Option<(SegmentSummary, u32, u32)>,
        reason: DropReason,
    },
    Error(ConnError),
    Lost(u64),
}

/// The interpreted trace.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub(crate) steps: Vec<Step>,
    /// The two hosts drawn: left (client) and right (server, `None` when only one host).
    pub(crate) left: HostId,
    pub(crate) right: Option<HostId>,
    /// Distinct hosts in the trace or the host list.
    pub(crate) host_count: usize,
    /// The pair was chosen among more than two hosts.
    pub(crate) chosen: bool,
    /// The names of the listed hosts.
    pub(crate) names: Vec<String>,
    /// The step drawn for each `SegmentSent` entry, by entry index.
    pub(crate) sent_steps: HashMap<usize, usize>,
}

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

/// The name of host `h`.
pub(crate) fn host_name(hosts: &[HostInfo<'_>], h: HostId) -> String {
    match hosts.get(h) {
        Some(hi) => hi.name.to_string(),
        None => format!("host{h}"),
    }
}

fn host_of(hosts: &[HostInfo<'_>], addr: IpAddr) -> Option<HostId> {
    hosts.iter().position(|h| h.addr == addr)
}

/// Per-direction memory used to give each segment its meaning.
#[derive(Default)]
struct Flow {
    fin_num: Option<SeqNum>,
    last_ack: Option<SeqNum>,
    handshake_acked: bool,
}

fn meaning(
    flows: &mut HashMap<(SocketAddr, SocketAddr), Flow>,
    isns: &Isns,
    s: &SegmentSummary,
) -> Meaning {
    let peer_isn = isns.get(s.dst, s.src);
    let peer_fin = flows.get(&(s.dst, s.src)).and_then(|f| f.fin_num);
    let flow = flows.entry((s.src, s.dst)).or_default();
    let prev_ack = flow.last_ack;
    if s.flags.ack() {
        flow.last_ack = Some(s.ack);
    }
    if s.flags.fin() {
        flow.fin_num = Some(s.seq + s.len);
    }
    if s.flags.rst() {
        return Meaning::Rst;
    }
    if s.flags.syn() {
        if s.flags.ack() {
            return Meaning::SynAck {
                acks_isn: peer_isn.is_some_and(|i| i + 1 == s.ack),
            };
        }
        return Meaning::Syn;
    }
    if s.flags.fin() {
        return Meaning::Fin { len: s.len };
    }
    if s.len > 0 {
        return Meaning::Data { len: s.len };
    }
    if s.flags.ack() {
        if peer_fin.is_some_and(|f| f + 1 == s.ack) {
            return Meaning::AckOfFin;
        }
        if !flow.handshake_acked && peer_isn.is_some_and(|i| i + 1 == s.ack) {
            flow.handshake_acked = true;
            return Meaning::HandshakeAck;
        }
        let newly = match prev_ack {
            Some(p) if s.ack.gt(p) => s.ack.since(p),
            _ => 0,
        };
        return Meaning::Ack { newly };
    }
    Meaning::Ack { newly: 0 }
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

/// Pair each link entry with the `SegmentSent` of the same host at the same
/// instant, in order (preferring one with the packet's seq and flags).
/// Returns, per entry index, the link entry index for each matched send.
pub(crate) fn pair_links(entries: &[TraceEntry]) -> (HashMap<usize, usize>, Vec<bool>) {
    let mut sends: HashMap<(HostId, u64), Vec<usize>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if let TraceKind::Stack(ev) = &e.kind {
            if let EventKind::SegmentSent { .. } = ev.kind {
                sends.entry((e.host, e.at.micros())).or_default().push(i);
            }
        }
    }
    let mut send_to_link = HashMap::new();
    let mut link_matched = vec![false; entries.len()];
    for (i, e) in entries.iter().enumerate() {
        let TraceKind::Link(link) = &e.kind else {
            continue;
        };
        let Some(cands) = sends.get_mut(&(link.from, e.at.micros())) else {
            continue;
        };
        // Only TCP segments pair with SegmentSent events (a router's ICMP error
        // is the link's own packet; the stack reports it on arrival).
        if synack_sim::peek::peek(&link.packet).is_some_and(|p| p.protocol != 6) {
            continue;
        }
        let raw = parse_packet(&link.packet);
        let same = |j: &usize| -> bool {
            match (&entries.get(*j).map(|x| &x.kind), raw) {
                (Some(TraceKind::Stack(ev)), Some(r)) => match &ev.kind {
                    EventKind::SegmentSent { seg, .. } => seg.seq == r.seq && seg.flags == r.flags,
                    _ => false,
                },
                _ => false,
            }
        };
        let pos = cands
            .iter()
            .position(same)
            .or((!cands.is_empty()).then_some(0));
        if let Some(pos) = pos {
            let j = cands.remove(pos);
            send_to_link.insert(j, i);
            if let Some(m) = link_matched.get_mut(i) {
                *m = true;
            }
        }
    }
    (send_to_link, link_matched)
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

impl Model {
    /// The name of a host.
    pub(crate) fn name(&self, h: HostId) -> String {
        self.names
            .get(h)
            .cloned()
            .unwrap_or_else(|| format!("host{h}"))
    }

    /// The right column's name (`peer` when the trace has one host).
    pub(crate) fn right_name(&self) -> String {
        match self.right {
            Some(r) => self.name(r),
            None => "peer".to_string(),
        }
    }

    /// The column of a host's own events, if drawn.
    pub(crate) fn col(&self, h: HostId) -> Option<Col> {
        if h == self.left {
            Some(Col::L)
        } else if self.right == Some(h) {
            Some(Col::R)
        } else {
            None
        }
    }

    /// The columns a segment goes from and to, if drawn.
    pub(crate) fn seg_cols(&self, s: &SegStep) -> Option<(Col, Col)> {
        let from = s.from.map(|h| self.col(h));
        let to = s.to.map(|h| self.col(h));
        let single = self.right.is_none();
        let resolve = |c: Option<Option<Col>>| match c {
            Some(Some(c)) => Some(Some(c)),
            Some(None) if single => Some(None),
            Some(None) => None,
            None => Some(None),
        };
        let (from, to) = (resolve(from)?, resolve(to)?);
        match (from, to) {
            (Some(f), Some(t)) if f != t => Some((f, t)),
            (Some(f), _) => Some((f, f.other())),
            (None, Some(t)) => Some((t.other(), t)),
            (None, None) => None,
        }
    }

    /// The column a step is drawn from (its sender's for segments), if drawn.
    pub(crate) fn step_col(&self, st: &Step) -> Option<Col> {
        match &st.kind {
            StepKind::Segment(s) => self.seg_cols(s).map(|c| c.0),
            _ => self.col(st.host),
        }
    }

    /// Steps of hosts not drawn.
    pub(crate) fn hidden(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| self.step_col(s).is_none())
            .count()
    }
}
