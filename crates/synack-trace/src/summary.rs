//! Tables derived from the events: each side's connections and each
//! listener's SYN-flood counters.

use crate::explain::words;
use crate::model::{host_name, Isns};
use crate::{HostInfo, Lang, TraceEntry};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use synack_proto::{Cause, DropReason, EventKind, FourTuple, SegmentSummary, SendReason, State};
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
/// that name a connection count; a listener's own state and segments for
/// no connection are left out.
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
                bytes_sent: 0,
                bytes_received: 0,
                segments_sent: 0,
                retransmissions: 0,
            });
            rows.len() - 1
        })
    };
    let mut updates: Vec<(usize, Update)> = Vec::new();
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
            EventKind::SegmentReceived { conn: Some(_), seg } => {
                updates.push((row(e.host, seg.dst, seg.src), Update::Received(seg.len)))
            }
            _ => {}
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
                if ack.is_some() {
                    r.last_ack = ack;
                }
                r.segments_sent += 1;
                if rexmit {
                    r.retransmissions += 1;
                } else {
                    r.bytes_sent += u64::from(len);
                }
            }
            Update::Received(len) => r.bytes_received += u64::from(len),
        }
    }
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
    Received(u32),
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

/// A listener's counters computed from the events of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerStats {
    /// The host's name.
    pub host: String,
    /// The listening address and port.
    pub local: SocketAddr,
    /// Half-open entries (SYN_RCVD) created.
    pub half_open_created: u64,
    /// Half-open entries still in SYN_RCVD at the end of the trace.
    pub half_open_now: u64,
    /// Distinct source addresses of SYNs (entries, cookies or drops).
    pub distinct_sources: u64,
    /// SYN,ACKs carrying a SYN cookie sent.
    pub cookies_sent: u64,
    /// Connections rebuilt from a valid SYN cookie.
    pub cookies_validated: u64,
    /// SYNs dropped because the SYN queue was full.
    pub syns_dropped: u64,
    /// SYN,ACK retransmissions.
    pub synack_retransmits: u64,
    /// Connections that reached ESTABLISHED from this listener.
    pub established: u64,
}

/// A listener's state as the stack reports it (a snapshot supplied by the
/// caller, e.g. from the stack's own counters), printed instead of the
/// counters [`listener_stats`] derives from events. Limits unknown to the
/// caller are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListenerView {
    /// Display name (host and port, say).
    pub name: String,
    /// Half-open entries now.
    pub half_open: u64,
    /// The SYN queue's limit.
    pub half_open_limit: Option<u64>,
    /// Connections waiting in the accept queue now.
    pub accept_queue: Option<u64>,
    /// The accept queue's limit (backlog).
    pub accept_limit: Option<u64>,
    /// Distinct source addresses seen.
    pub distinct_sources: u64,
    /// SYN cookies sent.
    pub cookies_sent: u64,
    /// SYN cookies validated.
    pub cookies_validated: u64,
    /// SYNs dropped because the SYN queue was full.
    pub syns_dropped: u64,
    /// SYN,ACK retransmissions.
    pub synack_retransmits: u64,
    /// Connections established.
    pub established: u64,
}

impl From<&ListenerStats> for ListenerView {
    fn from(s: &ListenerStats) -> ListenerView {
        ListenerView {
            name: format!("{} {}", s.host, s.local),
            half_open: s.half_open_now,
            half_open_limit: None,
            accept_queue: None,
            accept_limit: None,
            distinct_sources: s.distinct_sources,
            cookies_sent: s.cookies_sent,
            cookies_validated: s.cookies_validated,
            syns_dropped: s.syns_dropped,
            synack_retransmits: s.synack_retransmits,
            established: s.established,
        }
    }
}

/// Each listener's counters, computed from the events (for SYN-flood runs).
/// A listener is known from its LISTEN state change, or from the first
/// listener event (SYN cookie, SYN queue drop) on an address.
pub fn listener_stats(entries: &[TraceEntry], hosts: &[HostInfo<'_>]) -> Vec<ListenerStats> {
    let mut ls = Listeners {
        hosts,
        acc: Vec::new(),
    };
    for e in entries {
        let TraceKind::Stack(ev) = &e.kind else {
            continue;
        };
        let h = e.host;
        match &ev.kind {
            EventKind::StateChanged {
                conn,
                listener,
                tuple,
                from,
                to,
                cause,
            } => {
                // A listener's own state change: LISTEN makes it known.
                if conn.is_none() && listener.is_some() {
                    if *to == State::Listen {
                        ls.find(h, tuple.local, true);
                    }
                    continue;
                }
                if listener.is_some() || *cause == Cause::SynCookie {
                    ls.on_state(h, tuple, *from, *to, *cause);
                }
            }
            EventKind::SegmentSent { seg, reason, .. } => ls.on_sent(h, seg, *reason),
            EventKind::Dropped {
                seg: Some(seg),
                reason: DropReason::SynQueueFull,
                ..
            } => ls.on_syn_dropped(h, seg),
            _ => {}
        }
    }
    ls.acc
        .into_iter()
        .map(|mut a| {
            a.stats.distinct_sources = a.sources.len() as u64;
            a.stats
        })
        .collect()
}

/// One listener's counters so far, and the sources it has seen.
struct Acc {
    host: HostId,
    local: SocketAddr,
    stats: ListenerStats,
    sources: HashSet<IpAddr>,
}

/// The listeners found so far, in order of first appearance.
struct Listeners<'a, 'h> {
    hosts: &'a [HostInfo<'h>],
    acc: Vec<Acc>,
}

impl Listeners<'_, '_> {
    /// The listener of host `h` on `local`'s port (at that address, or
    /// listening on any); a new one unless `create` is false.
    fn find(&mut self, h: HostId, local: SocketAddr, create: bool) -> Option<&mut Acc> {
        let pos = self.acc.iter().position(|a| {
            a.host == h
                && a.local.port() == local.port()
                && (a.local.ip() == local.ip() || a.local.ip().is_unspecified())
        });
        let i = match pos {
            Some(i) => i,
            None if create => {
                self.acc.push(Acc {
                    host: h,
                    local,
                    stats: ListenerStats {
                        host: host_name(self.hosts, h),
                        local,
                        half_open_created: 0,
                        half_open_now: 0,
                        distinct_sources: 0,
                        cookies_sent: 0,
                        cookies_validated: 0,
                        syns_dropped: 0,
                        synack_retransmits: 0,
                        established: 0,
                    },
                    sources: HashSet::new(),
                });
                self.acc.len() - 1
            }
            None => return None,
        };
        self.acc.get_mut(i)
    }

    /// A state change of a connection the listener made (or rebuilt from
    /// a SYN cookie): half-open entries come and go, connections establish.
    fn on_state(&mut self, h: HostId, tuple: &FourTuple, from: State, to: State, cause: Cause) {
        let Some(a) = self.find(h, tuple.local, true) else {
            return;
        };
        if to == State::SynReceived && from != State::SynReceived {
            a.stats.half_open_created += 1;
            a.stats.half_open_now += 1;
            a.sources.insert(tuple.remote.ip());
        } else if from == State::SynReceived && to != State::SynReceived {
            a.stats.half_open_now = a.stats.half_open_now.saturating_sub(1);
        }
        if cause == Cause::SynCookie {
            a.stats.cookies_validated += 1;
            a.sources.insert(tuple.remote.ip());
        }
        if to == State::Established && (from == State::SynReceived || cause == Cause::SynCookie) {
            a.stats.established += 1;
        }
    }

    /// A segment sent: a SYN,ACK with a cookie, or a resent SYN,ACK of a
    /// half-open entry.
    fn on_sent(&mut self, h: HostId, seg: &SegmentSummary, reason: SendReason) {
        let cookie = reason == SendReason::SynCookie;
        let synack_rexmit =
            seg.flags.syn() && seg.flags.ack() && matches!(reason, SendReason::Retransmit);
        if !cookie && !synack_rexmit {
            return;
        }
        let Some(a) = self.find(h, seg.src, cookie) else {
            return;
        };
        if cookie {
            a.stats.cookies_sent += 1;
            a.sources.insert(seg.dst.ip());
        } else {
            a.stats.synack_retransmits += 1;
        }
    }

    /// A SYN dropped because the SYN queue was full.
    fn on_syn_dropped(&mut self, h: HostId, seg: &SegmentSummary) {
        if let Some(a) = self.find(h, seg.dst, true) {
            a.stats.syns_dropped += 1;
            a.sources.insert(seg.src.ip());
        }
    }
}

/// Display width: CJK characters take two columns.
pub(crate) fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let c = c as u32;
            if (0x1100..=0x115F).contains(&c)
                || (0x2E80..=0xA4CF).contains(&c)
                || (0xAC00..=0xD7A3).contains(&c)
                || (0xF900..=0xFAFF).contains(&c)
                || (0xFE30..=0xFE4F).contains(&c)
                || (0xFF00..=0xFF60).contains(&c)
                || (0xFFE0..=0xFFE6).contains(&c)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    for _ in width(s)..w {
        out.push(' ');
    }
    out
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The connection table, as text.
pub(crate) fn conn_table(rows: &[ConnSummary], lang: Lang) -> String {
    let head: [&str; 11] = match lang {
        Lang::En => [
            "host", "local", "remote", "state", "ISN", "seq", "ack", "sent", "rcvd", "segs",
            "rexmit",
        ],
        Lang::Zh => [
            "主机",
            "本地",
            "远端",
            "状态",
            "ISN",
            "seq",
            "ack",
            "发送字节",
            "接收字节",
            "报文段",
            "重传",
        ],
    };
    let mut table: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        table.push(vec![
            r.host.clone(),
            r.local.to_string(),
            r.remote.to_string(),
            opt(r.state.map(|s| s.name())),
            opt(r.isn),
            opt(r.last_seq),
            opt(r.last_ack),
            r.bytes_sent.to_string(),
            r.bytes_received.to_string(),
            r.segments_sent.to_string(),
            r.retransmissions.to_string(),
        ]);
    }
    let mut widths = [0usize; 11];
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let mut out = format!("{}\n", words(lang).connections);
    for row in &table {
        let mut line = String::from(" ");
        for (w, cell) in widths.iter().zip(row) {
            line.push(' ');
            line.push_str(&pad(cell, *w));
            line.push(' ');
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn kv(out: &mut String, rows: &[(&str, String)]) {
    let w = rows.iter().map(|(k, _)| width(k)).max().unwrap_or(0);
    for (k, v) in rows {
        out.push_str("  ");
        out.push_str(&pad(k, w));
        out.push_str("  ");
        out.push_str(v);
        out.push('\n');
    }
}

fn limit(v: u64, l: Option<u64>) -> String {
    match l {
        Some(l) => format!("{v} / {l}"),
        None => v.to_string(),
    }
}

/// The listener counters derived from events, as text.
pub(crate) fn listener_text(s: &ListenerStats, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut out = format!("{} {} {}\n", words(lang).listener, s.host, s.local);
    let rows = [
        (
            if zh {
                "已创建的半开连接"
            } else {
                "half-open entries created"
            },
            s.half_open_created.to_string(),
        ),
        (
            if zh {
                "当前半开连接"
            } else {
                "half-open now"
            },
            s.half_open_now.to_string(),
        ),
        (
            if zh {
                "不同的源地址"
            } else {
                "distinct source addresses"
            },
            s.distinct_sources.to_string(),
        ),
        (
            if zh {
                "已发送 SYN cookie"
            } else {
                "SYN cookies sent"
            },
            s.cookies_sent.to_string(),
        ),
        (
            if zh {
                "已验证 SYN cookie"
            } else {
                "SYN cookies validated"
            },
            s.cookies_validated.to_string(),
        ),
        (
            if zh {
                "丢弃的 SYN（队列满）"
            } else {
                "SYNs dropped (queue full)"
            },
            s.syns_dropped.to_string(),
        ),
        (
            if zh {
                "SYN,ACK 重传"
            } else {
                "SYN,ACK retransmissions"
            },
            s.synack_retransmits.to_string(),
        ),
        (
            if zh {
                "已建立的连接"
            } else {
                "connections established"
            },
            s.established.to_string(),
        ),
    ];
    kv(&mut out, &rows);
    out
}

/// A supplied listener snapshot, as text.
pub(crate) fn listener_view_text(v: &ListenerView, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let mut out = format!("{} {}\n", words(lang).listener, v.name);
    let rows = [
        (
            if zh { "半开连接" } else { "half-open" },
            limit(v.half_open, v.half_open_limit),
        ),
        (
            if zh { "accept 队列" } else { "accept queue" },
            match v.accept_queue {
                Some(q) => limit(q, v.accept_limit),
                None => opt(v.accept_limit.map(|l| format!("- / {l}"))),
            },
        ),
        (
            if zh {
                "不同的源地址"
            } else {
                "distinct source addresses"
            },
            v.distinct_sources.to_string(),
        ),
        (
            if zh {
                "已发送 SYN cookie"
            } else {
                "SYN cookies sent"
            },
            v.cookies_sent.to_string(),
        ),
        (
            if zh {
                "已验证 SYN cookie"
            } else {
                "SYN cookies validated"
            },
            v.cookies_validated.to_string(),
        ),
        (
            if zh {
                "丢弃的 SYN（队列满）"
            } else {
                "SYNs dropped (queue full)"
            },
            v.syns_dropped.to_string(),
        ),
        (
            if zh {
                "SYN,ACK 重传"
            } else {
                "SYN,ACK retransmissions"
            },
            v.synack_retransmits.to_string(),
        ),
        (
            if zh {
                "已建立的连接"
            } else {
                "connections established"
            },
            v.established.to_string(),
        ),
    ];
    kv(&mut out, &rows);
    out
}
