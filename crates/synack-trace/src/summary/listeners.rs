//! Each listener's SYN-flood counters, derived from the events or supplied
//! as a snapshot.

use crate::model::host_name;
use crate::{HostInfo, TraceEntry};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use synack_proto::{Cause, DropReason, EventKind, FourTuple, SegmentSummary, SendReason, State};
use synack_sim::{HostId, TraceKind};

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
