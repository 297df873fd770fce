//! Each host's connections, as their events tell them.

use crate::model::{host_name, Isns};
use crate::{HostInfo, TraceEntry};
use std::collections::HashMap;
use std::net::SocketAddr;
use synack_proto::{EventKind, SegmentSummary, SendReason, State};
use synack_sim::{HostId, TraceKind};

/// One connection of one host, as its events tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSummary {
    /// The host's name.
    pub host: String,
    /// Local address and port.
    pub local: SocketAddr,
    /// Remote address and port.
    pub remote: SocketAddr,
    /// The last state reached, if any state change was seen.
    pub state: Option<State>,
    /// The connection's own initial sequence number (absolute), from its first SYN.
    pub isn: Option<u32>,
    /// Sequence number of the last segment sent (relative unless absolute).
    pub last_seq: Option<u32>,
    /// Acknowledgment number of the last segment sent with ACK (relative unless absolute).
    pub last_ack: Option<u32>,
    /// SND.NXT at the end (RFC 9293 3.3.1): the sequence number after the
    /// highest sequence space sent, SYN and FIN included (relative unless
    /// absolute).
    pub snd_nxt: Option<u32>,
    /// RCV.NXT at the end (RFC 9293 3.3.1): the next sequence number
    /// expected from the peer, as the segments show it: what arrived in
    /// order, and what this side acknowledged (relative unless absolute).
    pub rcv_nxt: Option<u32>,
    /// Payload bytes sent, retransmissions not counted again.
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Segments sent, retransmissions included.
    pub segments_sent: u64,
    /// Retransmissions (timer-driven and fast).
    pub retransmissions: u64,
}

/// Each connection of each host, in order of first appearance. Only events
/// that name a connection count, and a SYN to a listener for the connection
/// it created (its data, RFC 7413's, is the connection's first received);
/// a listener's own state and other segments for no connection are left out.
pub fn connection_summaries(
    entries: &[TraceEntry],
    hosts: &[HostInfo<'_>],
    absolute: bool,
) -> Vec<ConnSummary> {
    let (mut rows, updates) = updates(entries, hosts, absolute);
    apply(&mut rows, updates);
    rows
}

/// A row per connection, empty, and what each event that names one tells
/// of its row, in trace order.
fn updates(
    entries: &[TraceEntry],
    hosts: &[HostInfo<'_>],
    absolute: bool,
) -> (Vec<ConnSummary>, Vec<(usize, Update)>) {
    let isns = Isns::learn(entries);
    let mut rows: Vec<ConnSummary> = Vec::new();
    let mut index: HashMap<(HostId, SocketAddr, SocketAddr), usize> = HashMap::new();
    let mut row = |h: HostId, local: SocketAddr, remote: SocketAddr| -> usize {
        *index.entry((h, local, remote)).or_insert_with(|| {
            rows.push(ConnSummary {
                host: host_name(hosts, h),
                local,
                remote,
                state: None,
                isn: None,
                last_seq: None,
                last_ack: None,
                snd_nxt: None,
                rcv_nxt: None,
                bytes_sent: 0,
                bytes_received: 0,
                segments_sent: 0,
                retransmissions: 0,
            });
            rows.len() - 1
        })
    };
    let mut updates: Vec<(usize, Update)> = Vec::new();
    // SYNs that reached a listener, by the connection they would create,
    // with where they go among the updates.
    let mut syns: Vec<(usize, (HostId, SocketAddr, SocketAddr), Update)> = Vec::new();
    for e in entries {
        let TraceKind::Stack(ev) = &e.kind else {
            continue;
        };
        match &ev.kind {
            EventKind::StateChanged {
                conn: Some(_),
                tuple,
                to,
                ..
            } => updates.push((row(e.host, tuple.local, tuple.remote), Update::State(*to))),
            EventKind::SegmentSent {
                conn: Some(_),
                seg,
                reason,
            } => {
                let (seq, ack) = isns.display(seg, absolute);
                let r = row(e.host, seg.src, seg.dst);
                updates.push((r, Update::sent(seg, *reason, seq, ack)));
            }
            EventKind::SegmentReceived { conn, seg } => {
                let (seq, _) = isns.display(seg, absolute);
                if conn.is_some() {
                    let u = Update::Received {
                        len: seg.len,
                        seq,
                        syn: seg.flags.syn(),
                        end: seq.wrapping_add(seg_len(seg)),
                    };
                    updates.push((row(e.host, seg.dst, seg.src), u));
                } else if seg.flags.syn() && !seg.flags.ack() {
                    // Its data counts as received; whether it was taken (a
                    // valid cookie) the connection's own ACKs tell RCV.NXT.
                    let u = Update::Received {
                        len: seg.len,
                        seq,
                        syn: true,
                        end: seq.wrapping_add(1),
                    };
                    syns.push((updates.len(), (e.host, seg.dst, seg.src), u));
                }
            }
            _ => {}
        }
    }
    // A SYN counts for the connection it created, if it created one.
    for (at, key, u) in syns.into_iter().rev() {
        if let Some(&r) = index.get(&key) {
            updates.insert(at, (r, u));
        }
    }
    (rows, updates)
}

/// Fill the rows from their updates, in trace order.
fn apply(rows: &mut [ConnSummary], updates: Vec<(usize, Update)>) {
    // The end of the highest sequence space each row has sent.
    let mut high: Vec<Option<u32>> = vec![None; rows.len()];
    for (i, u) in updates {
        let Some(r) = rows.get_mut(i) else { continue };
        match u {
            Update::State(s) => r.state = Some(s),
            Update::Sent {
                isn,
                seq,
                ack,
                len,
                seg_len,
                rexmit,
            } => {
                if r.isn.is_none() {
                    r.isn = isn;
                }
                let end = seq.wrapping_add(seg_len);
                let high_end = high.get(i).copied().flatten();
                let rexmit = rexmit.unwrap_or_else(|| {
                    high_end.is_some_and(|h| seg_len > 0 && h.wrapping_sub(end) as i32 >= 0)
                });
                if high_end.is_none_or(|h| end.wrapping_sub(h) as i32 > 0) {
                    if let Some(slot) = high.get_mut(i) {
                        *slot = Some(end);
                    }
                }
                r.last_seq = Some(seq);
                r.snd_nxt = high.get(i).copied().flatten();
                if let Some(a) = ack {
                    r.last_ack = ack;
                    r.rcv_nxt = Some(later(r.rcv_nxt, a));
                }
                r.segments_sent += 1;
                if rexmit {
                    r.retransmissions += 1;
                } else {
                    r.bytes_sent += u64::from(len);
                }
            }
            Update::Received { len, seq, syn, end } => {
                r.bytes_received += u64::from(len);
                // In order: the segment starts at or before RCV.NXT and ends past it.
                let in_order = match r.rcv_nxt {
                    None => syn,
                    Some(n) => {
                        (n.wrapping_sub(seq) as i32) >= 0 && (end.wrapping_sub(n) as i32) > 0
                    }
                };
                if in_order {
                    r.rcv_nxt = Some(end);
                }
            }
        }
    }
}

/// The later of two sequence numbers (RFC 9293 3.4's comparison).
fn later(a: Option<u32>, b: u32) -> u32 {
    match a {
        Some(a) if (a.wrapping_sub(b) as i32) > 0 => a,
        _ => b,
    }
}

/// Sequence space a segment takes: its payload, SYN and FIN.
fn seg_len(seg: &SegmentSummary) -> u32 {
    seg.len + u32::from(seg.flags.syn()) + u32::from(seg.flags.fin())
}

enum Update {
    State(State),
    Sent {
        isn: Option<u32>,
        seq: u32,
        ack: Option<u32>,
        len: u32,
        /// Sequence space taken: the payload, SYN and FIN.
        seg_len: u32,
        /// Whether a retransmission, when the reason tells.
        rexmit: Option<bool>,
    },
    Received {
        len: u32,
        /// Its sequence number and the end of its sequence space, as shown.
        seq: u32,
        syn: bool,
        end: u32,
    },
}

impl Update {
    /// A segment sent, with its numbers as shown (`seq`, `ack`).
    fn sent(seg: &SegmentSummary, reason: SendReason, seq: u32, ack: u32) -> Update {
        Update::Sent {
            isn: seg.flags.syn().then_some(seg.seq.get()),
            seq,
            ack: seg.flags.ack().then_some(ack),
            len: seg.len,
            seg_len: seg.len + u32::from(seg.flags.syn()) + u32::from(seg.flags.fin()),
            rexmit: match reason {
                SendReason::Retransmit
                | SendReason::FastRetransmit
                | SendReason::PathMtuRetransmit => Some(true),
                // A tail loss probe is new data or a retransmission of
                // the last segment: told by its sequence numbers in `apply`.
                SendReason::LossProbe => None,
                _ => Some(false),
            },
        }
    }
}
