//! Deciding before the handshake: a listener in this mode answers no SYN by
//! itself. Each new SYN becomes a pending connection the application takes
//! ([`Stack::next_pending`]) and decides on ([`Stack::decide`]): accept
//! (the SYN,ACK goes out now, RFC 9293 3.10.7.2), refuse (a RST, which the
//! client reports as "connection refused", RFC 9293 3.10.7.1) or ignore
//! (nothing is sent; the client's retransmitted SYNs are dropped too, so it
//! times out). A proxy decides after trying the upstream connection.
//!
//! Pending connections count against the listener's SYN queue limit, as
//! half-open entries do, and live as long as a half-open entry would: the
//! initial RTO doubled for each of the SYN,ACK retransmissions
//! (`synack_retries`), capped by `max_rto` and by `establish_timeout`. No
//! timer runs for them: an expired entry is found and counted when the
//! application takes it, decides on it, or a SYN needs its room.

use super::{IpOpts, Stack};
use crate::config::ConnConfig;
use crate::error::{ConnError, Error};
use crate::event::{ConnId, DropReason, EventKind, FourTuple, ListenerId, SegmentSummary};
use crate::time::{Duration, Instant};
use std::collections::{HashMap, VecDeque};
use synack_wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr};

/// What the application does with a pending connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Answer the SYN with a SYN,ACK: the handshake runs and the connection
    /// is the application's (no accept queue).
    Accept,
    /// Answer the SYN with a RST: the client sees "connection refused".
    Refuse,
    /// Send nothing, and drop the client's retransmitted SYNs until the
    /// entry expires: the client times out.
    Ignore,
}

/// A SYN waiting for the application's [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingSyn {
    /// The connection: `local` is the address and port the client dialled.
    pub tuple: FourTuple,
    /// When the SYN arrived.
    pub arrived: Instant,
    /// When the entry expires if not decided on: the time a half-open entry
    /// would keep retransmitting its SYN,ACK.
    pub expires: Instant,
}

/// What a pending entry keeps of its SYN: what a half-open entry needs
/// (RFC 9293 3.10.7.2: IRS, SND.WND, options; RFC 3168 6.1.1: ECN setup).
#[derive(Debug, Clone, Copy)]
struct SynCopy {
    seq: SeqNum,
    window: u16,
    flags: TcpFlags,
    options: TcpOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not yet handed to the application.
    New,
    /// Handed out by `next_pending`, no decision yet.
    Offered,
    /// Ignored: its SYNs are dropped until it expires.
    Ignored,
}

#[derive(Debug)]
struct Entry {
    syn: SynCopy,
    arrived: Instant,
    expires: Instant,
    phase: Phase,
}

/// A listener's pending connections: by tuple, and in arrival order (which
/// is also expiry order, since every entry lives equally long).
#[derive(Debug, Default)]
pub(super) struct PendingQueue {
    entries: HashMap<FourTuple, Entry>,
    /// Arrival order; entries decided on are skipped when met.
    order: VecDeque<(FourTuple, Instant)>,
    /// Entries the application has not taken yet, oldest first.
    fresh: VecDeque<FourTuple>,
}

impl PendingQueue {
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drop the entries expired at `now`; how many went.
    fn expire(&mut self, now: Instant) -> u64 {
        let mut gone = 0;
        while let Some(&(tuple, arrived)) = self.order.front() {
            let live = self.entries.get(&tuple).filter(|e| e.arrived == arrived);
            match live {
                Some(e) if e.expires > now => break,
                Some(_) => {
                    self.entries.remove(&tuple);
                    gone += 1;
                }
                None => {}
            }
            self.order.pop_front();
        }
        gone
    }
}

/// How long a pending entry lives: as long as a half-open entry keeps
/// retransmitting its SYN,ACK (RFC 6298 5.5 doubling, `max_rto` cap), or
/// the connection-establishment timeout when that is shorter.
fn lifetime(cfg: &ConnConfig) -> Duration {
    let mut rto = cfg.initial_rto;
    let mut total = rto;
    for _ in 0..cfg.synack_retries {
        rto = rto.saturating_mul(2).min(cfg.max_rto);
        total = total.saturating_add(rto);
    }
    cfg.establish_timeout.map_or(total, |t| t.min(total))
}

impl Stack {
    /// Make listener `l` hand every new SYN to the application before
    /// answering it (`true`), or answer SYNs itself as usual (`false`, the
    /// default). Switching off drops the pending entries (their clients'
    /// retransmitted SYNs are then answered as any SYN).
    ///
    /// While deciding, the listener sends no SYN cookies: a cookie SYN,ACK
    /// would accept before the application decides. A SYN finding the
    /// pending entries at the SYN queue limit is dropped (counted in
    /// `syns_dropped`); the client retries.
    pub fn set_decide_before_handshake(&mut self, l: ListenerId, on: bool) -> Result<(), Error> {
        let lst = self.listener_mut(l).ok_or(Error::InvalidHandle)?;
        if on != lst.pending.is_some() {
            lst.pending = on.then(Box::default);
        }
        Ok(())
    }

    /// The oldest pending connection of listener `l` not yet taken: from now
    /// on the application owns the decision ([`Stack::decide`]). Errors:
    /// `WouldBlock` when none waits, `InvalidState` when the listener does
    /// not decide before the handshake, `InvalidHandle` for no listener.
    pub fn next_pending(&mut self, now: Instant, l: ListenerId) -> Result<PendingSyn, Error> {
        let lst = self.listener_mut(l).ok_or(Error::InvalidHandle)?;
        let q = lst.pending.as_deref_mut().ok_or(Error::InvalidState)?;
        lst.status.pending_expired += q.expire(now);
        while let Some(tuple) = q.fresh.pop_front() {
            if let Some(e) = q.entries.get_mut(&tuple) {
                if e.phase == Phase::New {
                    e.phase = Phase::Offered;
                    return Ok(PendingSyn {
                        tuple,
                        arrived: e.arrived,
                        expires: e.expires,
                    });
                }
            }
        }
        Err(Error::WouldBlock)
    }

    /// Decide on the pending connection `tuple` of listener `l`. `Accept`
    /// returns the new connection in SYN_RCVD, the SYN,ACK queued; it is the
    /// application's at once (it never enters the accept queue) and becomes
    /// ESTABLISHED when the client's ACK arrives, or fails as a half-open
    /// entry does. `Refuse` queues `<SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>`
    /// (RFC 9293 3.10.7.1 for a SYN without ACK). `Ignore` sends nothing.
    ///
    /// Errors: `Connection(TimedOut)` when the entry expired first,
    /// `InvalidHandle` when no such entry is pending (it was ignored, or
    /// expired and was already dropped when a later SYN needed the room),
    /// `InvalidState` when the listener does not decide, `TooManyConnections`
    /// at the stack's connection limit (the entry is dropped).
    pub fn decide(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        decision: Decision,
    ) -> Result<Option<ConnId>, Error> {
        self.last_now = self.last_now.max(now);
        let lst = self.listener_mut(l).ok_or(Error::InvalidHandle)?;
        let q = lst.pending.as_deref_mut().ok_or(Error::InvalidState)?;
        let entry = match q.entries.get(&tuple) {
            Some(e) if e.phase == Phase::Ignored => return Err(Error::InvalidHandle),
            Some(e) if e.expires <= now => {
                q.entries.remove(&tuple);
                lst.status.pending_expired += 1;
                return Err(Error::Connection(ConnError::TimedOut));
            }
            Some(_) => q.entries.get_mut(&tuple),
            None => return Err(Error::InvalidHandle),
        };
        let Some(entry) = entry else {
            return Err(Error::InvalidHandle);
        };
        let syn = entry.syn;
        match decision {
            Decision::Ignore => {
                // RFC 9293 3.10.7.2 lets a listener drop a SYN; its retransmissions follow.
                entry.phase = Phase::Ignored;
                lst.status.pending_ignored += 1;
                Ok(None)
            }
            Decision::Refuse => {
                q.entries.remove(&tuple);
                lst.status.pending_refused += 1;
                let ip = IpOpts::of(&lst.cfg);
                // RFC 9293 3.10.7.1: a SYN (no ACK) for no one gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN>.
                self.queue_rst(tuple, SeqNum(0), Some(syn.seq + 1), ip);
                Ok(None)
            }
            Decision::Accept => {
                q.entries.remove(&tuple);
                let cfg = std::sync::Arc::clone(&lst.cfg);
                let seg = TcpRepr {
                    src_port: tuple.remote.port(),
                    dst_port: tuple.local.port(),
                    seq: syn.seq,
                    ack: SeqNum(0),
                    flags: syn.flags,
                    window: syn.window,
                    urgent: 0,
                    options: syn.options,
                    payload: &[],
                };
                let id = self.half_open_for_app(now, l, tuple, &seg, cfg)?;
                Ok(Some(id))
            }
        }
    }

    /// A SYN at a deciding listener (RFC 9293 3.10.7.2, third: "check for a
    /// SYN"): a new pending entry and an event, unless one exists for the
    /// tuple or the SYN queue is full.
    pub(super) fn pending_syn(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        sum: SegmentSummary,
    ) {
        let Some(lst) = self.listener_mut(l) else {
            return;
        };
        let limit = lst.syn_backlog;
        let half_open = lst.half_open;
        let life = lifetime(&lst.cfg);
        let Some(q) = lst.pending.as_deref_mut() else {
            return;
        };
        lst.status.syns_received += 1;
        let expired = q.expire(now);
        lst.status.pending_expired += expired;
        if q.entries.contains_key(&tuple) {
            // The client's retransmission while the application decides (or after it ignored).
            self.drop_pkt(now, None, Some(sum), DropReason::SynPending);
            return;
        }
        if q.len() + half_open >= limit {
            lst.status.syns_dropped += 1;
            self.drop_pkt(now, None, Some(sum), DropReason::SynQueueFull);
            return;
        }
        q.entries.insert(
            tuple,
            Entry {
                syn: SynCopy {
                    seq: seg.seq,
                    window: seg.window,
                    flags: seg.flags,
                    options: seg.options,
                },
                arrived: now,
                expires: now + life,
                phase: Phase::New,
            },
        );
        q.order.push_back((tuple, now));
        q.fresh.push_back(tuple);
        let fresh = q.fresh.len();
        self.sink
            .push(now, EventKind::SynPending { listener: l, tuple });
        self.note_pending(l, fresh);
    }

    /// Whether listener `l` has a pending SYN not yet offered by
    /// `next_pending` (readiness checks it when a report is taken).
    pub(super) fn has_fresh_pending(&self, l: ListenerId) -> bool {
        self.listener(l)
            .ok()
            .and_then(|x| x.pending.as_deref())
            .is_some_and(|q| {
                q.fresh
                    .iter()
                    .any(|t| q.entries.get(t).is_some_and(|e| e.phase == Phase::New))
            })
    }

    /// Pending connections of listener `l` now (none for a listener that
    /// does not decide).
    pub(super) fn pending_count(&self, l: ListenerId) -> usize {
        self.listener(l)
            .ok()
            .and_then(|x| x.pending.as_deref())
            .map_or(0, PendingQueue::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_entry_lives_as_long_as_the_synack_retries() {
        let cfg = ConnConfig::default();
        // Linux's defaults: 1 s initial RTO, 5 retries: 1+2+4+8+16+32 s.
        assert_eq!(lifetime(&cfg), Duration::from_secs(63));
        let capped = ConnConfig {
            max_rto: Duration::from_secs(4),
            ..cfg
        };
        assert_eq!(
            lifetime(&capped),
            Duration::from_secs(1 + 2 + 4 + 4 + 4 + 4)
        );
        let short = ConnConfig {
            establish_timeout: Some(Duration::from_secs(10)),
            ..cfg
        };
        assert_eq!(lifetime(&short), Duration::from_secs(10));
    }
}
