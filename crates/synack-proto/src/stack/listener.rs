//! Listeners (RFC 9293 3.10.7.2): the SYN queue of half-open entries, the
//! accept queue, per-source counts, and SYN cookies (RFC 4987 3.6).

use super::any::AnyDestination;
use super::fastopen::{FoListener, FoSyn};
use super::output::CtlSeg;
use super::pending::PendingQueue;
use super::status::ListenerStatus;
use super::{IpOpts, Stack};
use crate::config::{ConnConfig, SynCookies};
use crate::conn::{Owner, SegCtx, Tcb};
use crate::cookie;
use crate::error::Error;
use crate::event::{
    Cause, ConnId, DropReason, EventKind, FourTuple, ListenerId, SegmentSummary, SendReason,
};
use crate::hash::TableHash;
use crate::state::State;
use crate::time::Instant;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use synack_wire::{TcpFlags, TcpOptions, TcpRepr};

#[derive(Debug)]
pub(super) struct Listener {
    pub(super) local: SocketAddr,
    pub(super) backlog: usize,
    pub(super) syn_backlog: usize,
    pub(super) cfg: Arc<ConnConfig>,
    pub(super) accept: VecDeque<ConnId>,
    pub(super) half_open: usize,
    /// Half-open entries per source address, under the stack's keyed table
    /// hash (the keys are attacker-chosen: every SYN names its own source).
    pub(super) sources: HashMap<IpAddr, u32, TableHash>,
    pub(super) status: ListenerStatus,
    /// What an any-destination listener takes (`None`: `local` alone).
    pub(super) any: Option<Box<AnyDestination>>,
    /// The pending connections of a listener that decides before the
    /// handshake (`None`: it answers SYNs itself).
    pub(super) pending: Option<Box<PendingQueue>>,
    /// Fast Open (RFC 7413): the queue, the listener's own keys.
    pub(super) fo: FoListener,
}

impl Listener {
    pub(super) fn new(
        local: SocketAddr,
        backlog: usize,
        syn_backlog: usize,
        cfg: Arc<ConnConfig>,
    ) -> Listener {
        Listener {
            local,
            backlog,
            syn_backlog: syn_backlog.max(1),
            cfg,
            accept: VecDeque::new(),
            half_open: 0,
            sources: HashMap::with_hasher(TableHash::default()),
            status: ListenerStatus::default(),
            any: None,
            pending: None,
            fo: FoListener::default(),
        }
    }
}

pub(super) fn dec_source(m: &mut HashMap<IpAddr, u32, TableHash>, ip: IpAddr) {
    // One lookup for the count and, when it reaches zero, its removal.
    if let Entry::Occupied(mut e) = m.entry(ip) {
        *e.get_mut() -= 1;
        if *e.get() == 0 {
            e.remove();
        }
    }
}

impl Stack {
    pub(super) fn listener_mut(&mut self, l: ListenerId) -> Option<&mut Listener> {
        self.listeners
            .get_mut(l.0 as usize)
            .and_then(|x| x.as_mut())
    }

    pub(super) fn listener(&self, l: ListenerId) -> Result<&Listener, Error> {
        self.listeners
            .get(l.0 as usize)
            .and_then(|x| x.as_ref())
            .ok_or(Error::InvalidHandle)
    }

    /// Listen on `local` (passive OPEN) with the given backlog: the accept queue
    /// holds `backlog` completed connections and the SYN queue `backlog`
    /// half-open ones (use [`Stack::listen_with`] to size them apart).
    pub fn listen(&mut self, local: SocketAddr, backlog: usize) -> Result<ListenerId, Error> {
        self.listen_with(local, backlog, backlog, self.cfg.conn)
    }

    /// Listen with separate accept-queue and SYN-queue limits and connection settings.
    pub fn listen_with(
        &mut self,
        local: SocketAddr,
        backlog: usize,
        syn_backlog: usize,
        cfg: ConnConfig,
    ) -> Result<ListenerId, Error> {
        if backlog == 0 || local.port() == 0 || !cfg.is_valid() {
            return Err(Error::InvalidArgument);
        }
        if !local.ip().is_unspecified() && !self.addrs.contains(&local.ip()) {
            return Err(Error::AddrNotAvailable);
        }
        if self.listen_map.contains_key(&local) {
            return Err(Error::AddrInUse);
        }
        // A socket bound to this very address becomes the listener (listen() after bind()).
        self.take_bound(&local);
        let listener = Listener::new(local, backlog, syn_backlog, self.shared_conn_config(cfg));
        let id = self.install_listener(listener)?;
        self.listen_map.insert(local, id);
        Ok(id)
    }

    /// Give `listener` a slot and announce it: CLOSED -> LISTEN.
    pub(super) fn install_listener(&mut self, listener: Listener) -> Result<ListenerId, Error> {
        let local = listener.local;
        // Reuse a closed listener's slot (as a file descriptor number is reused), so
        // listening and closing again and again does not grow the table.
        let id = match self.listeners.iter().position(Option::is_none) {
            Some(i) => {
                self.listeners[i] = Some(listener);
                ListenerId(i as u32)
            }
            None => {
                let i =
                    u32::try_from(self.listeners.len()).map_err(|_| Error::TooManyConnections)?;
                self.listeners.push(Some(listener));
                ListenerId(i)
            }
        };
        // RFC 9293 3.10.1 (OPEN, passive): CLOSED -> LISTEN.
        let any = if local.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        self.sink.push(
            self.last_now,
            EventKind::StateChanged {
                conn: None,
                listener: Some(id),
                tuple: FourTuple { local, remote: any },
                from: State::Closed,
                to: State::Listen,
                cause: Cause::Listen,
            },
        );
        Ok(id)
    }

    /// Take a completed connection from the listener's accept queue.
    pub fn accept(&mut self, l: ListenerId) -> Result<ConnId, Error> {
        let lst = self.listener_mut(l).ok_or(Error::InvalidHandle)?;
        let Some(id) = lst.accept.pop_front() else {
            return Err(Error::WouldBlock);
        };
        if let Some(t) = self
            .slots
            .get_mut(id.index as usize)
            .and_then(|s| s.tcb.as_deref_mut())
        {
            t.owner = Owner::App;
        }
        // What arrived while it waited in the queue is reported now.
        self.note_ready(id);
        Ok(id)
    }

    /// Stop listening: half-open entries are dropped, unaccepted connections reset.
    pub fn close_listener(&mut self, now: Instant, l: ListenerId) -> Result<(), Error> {
        let lst = self
            .listeners
            .get_mut(l.0 as usize)
            .and_then(|x| x.take())
            .ok_or(Error::InvalidHandle)?;
        if lst.any.is_some() {
            self.forget_any_listener(l);
        } else {
            self.listen_map.remove(&lst.local);
        }
        let any = if lst.local.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        self.sink.push(
            now,
            EventKind::StateChanged {
                conn: None,
                listener: Some(l),
                tuple: FourTuple {
                    local: lst.local,
                    remote: any,
                },
                from: State::Listen,
                to: State::Closed,
                cause: Cause::Close,
            },
        );
        let mut victims: Vec<ConnId> = lst.accept.into_iter().collect();
        for (i, s) in self.slots.iter().enumerate() {
            if let Some(t) = s.tcb.as_deref() {
                // A handshake the application accepted (from a pending SYN,
                // or a Fast Open child, RFC 7413 4.2.2) is its own, closed
                // by the application or not.
                if t.origin == crate::conn::Origin::Passive(l)
                    && t.state == State::SynReceived
                    && t.owner == Owner::AcceptQueue
                {
                    victims.push(ConnId {
                        index: i as u32,
                        generation: s.generation,
                    });
                }
            }
        }
        for id in victims {
            self.with_tcb(id, now, |t, ctx| {
                t.owner = Owner::Orphan;
                t.abort(ctx);
            });
        }
        Ok(())
    }

    /// Change the settings a listener gives the connections it opens from now
    /// on (a socket option set on a listening socket, such as TCP_MAXSEG or
    /// SO_RCVBUF, is inherited by the connections it accepts); connections
    /// already open or half-open keep theirs.
    pub fn set_listener_config(&mut self, l: ListenerId, cfg: ConnConfig) -> Result<(), Error> {
        if !cfg.is_valid() {
            return Err(Error::InvalidArgument);
        }
        let shared = self.shared_conn_config(cfg);
        let lst = self.listener_mut(l).ok_or(Error::InvalidHandle)?;
        lst.cfg = shared;
        Ok(())
    }

    /// The local address of a listener.
    pub fn listener_addr(&self, l: ListenerId) -> Result<SocketAddr, Error> {
        Ok(self.listener(l)?.local)
    }

    /// A listener's counters and queue lengths.
    pub fn listener_status(&self, l: ListenerId) -> Result<ListenerStatus, Error> {
        let lst = self.listener(l)?;
        let mut s = lst.status;
        s.syn_queue = lst.half_open;
        s.syn_queue_limit = lst.syn_backlog;
        s.accept_queue = lst.accept.len();
        s.accept_queue_limit = lst.backlog;
        s.distinct_sources = lst.sources.len();
        s.pending = self.pending_count(l);
        Ok(s)
    }

    /// The listener a segment to `local` reaches: the exact address and port,
    /// else the unspecified address and the port, else the most specific
    /// any-destination listener.
    pub(super) fn find_listener(&self, local: &SocketAddr) -> Option<ListenerId> {
        self.listen_map
            .get(local)
            .copied()
            .or_else(|| {
                let any = if local.is_ipv4() {
                    IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
                } else {
                    IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                };
                self.listen_map
                    .get(&SocketAddr::new(any, local.port()))
                    .copied()
            })
            .or_else(|| {
                if self.any_listeners.is_empty() {
                    None
                } else {
                    self.find_any_listener(local)
                }
            })
    }

    /// Check the ACK of a cookie SYN,ACK against the current cookie key, then
    /// against the one before the last rotation.
    pub(super) fn check_cookie(
        &self,
        tuple: &FourTuple,
        seg: &TcpRepr<'_>,
        now: Instant,
    ) -> Option<u16> {
        cookie::check(self.secrets.cookie, tuple, seg.seq, seg.ack, now).or_else(|| {
            self.cookie_prev
                .and_then(|k| cookie::check(k, tuple, seg.seq, seg.ack, now))
        })
    }

    /// RFC 9293 3.10.7.2: a segment for a listener.
    pub(super) fn listener_segment(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        sum: SegmentSummary,
    ) {
        let f = seg.flags;
        // First, check for a RST: ignore it.
        if f.rst() {
            self.drop_pkt(now, None, Some(sum), DropReason::ListenerIgnored);
            return;
        }
        // Second, check for an ACK: a SYN cookie, or a reset.
        if f.ack() {
            self.ack_at_listener(now, l, tuple, seg, sum);
            return;
        }
        // Third, check for a SYN.
        if !f.syn() {
            // "Any other control or text-bearing segment (not containing SYN) must have
            // an ACK and thus would be discarded by the ACK processing."
            self.drop_pkt(now, None, Some(sum), DropReason::ListenerIgnored);
            return;
        }
        self.syn_at_listener(now, l, tuple, seg, sum);
    }

    /// An ACK at a listener: the ACK of a cookie SYN,ACK (RFC 4987 3.6)
    /// recreates the connection; anything else is answered with a reset.
    fn ack_at_listener(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        sum: SegmentSummary,
    ) {
        if !seg.flags.syn() && self.cfg.syn_cookies != SynCookies::Off {
            if let Some(mss) = self.check_cookie(&tuple, seg, now) {
                self.cookie_accept(now, l, tuple, seg, mss, sum);
                return;
            }
            if let Some(lst) = self.listener_mut(l) {
                lst.status.cookies_rejected += 1;
            }
        }
        self.drop_pkt(now, None, Some(sum), DropReason::BadCookie);
        // The listener's socket answers, with its IP options.
        let ip = self
            .listener(l)
            .map_or_else(|_| self.default_ip(), |lst| IpOpts::of(&lst.cfg));
        self.queue_rst(tuple, seg.ack, None, ip);
    }

    /// A SYN at a listener: dropped while the accept queue is full, answered
    /// with a SYN cookie by the cookie policy, dropped when the SYN queue is
    /// full, else a new half-open entry.
    fn syn_at_listener(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        sum: SegmentSummary,
    ) {
        let policy = self.cfg.syn_cookies;
        let Some(lst) = self.listener_mut(l) else {
            return;
        };
        if lst.pending.is_some() {
            // The application decides before anything is answered.
            self.pending_syn(now, l, tuple, seg, sum);
            return;
        }
        lst.status.syns_received += 1;
        let syn_full = lst.half_open >= lst.syn_backlog;
        let accept_full = lst.accept.len() >= lst.backlog;
        if accept_full {
            // Linux drops SYNs while the accept queue is full (the client retries).
            lst.status.syns_dropped += 1;
            self.drop_pkt(now, None, Some(sum), DropReason::AcceptQueueFull);
            return;
        }
        if policy == SynCookies::Always || (syn_full && policy == SynCookies::WhenFull) {
            // RFC 7413 5: a SYN cookie keeps no state for Fast Open, whose
            // option and data are left out (the client falls back).
            let cfg = Arc::clone(&lst.cfg);
            self.cookie_syn_ack(now, l, tuple, seg, &cfg);
            return;
        }
        if syn_full {
            lst.status.syns_dropped += 1;
            self.drop_pkt(now, None, Some(sum), DropReason::SynQueueFull);
            return;
        }
        let cfg = Arc::clone(&lst.cfg);
        let fo = match self.fo_syn(now, l, tuple, seg, &cfg) {
            FoSyn::Child => return,
            FoSyn::Failed => {
                self.drop_pkt(now, None, Some(sum), DropReason::ConnectionLimit);
                return;
            }
            FoSyn::Plain => None,
            FoSyn::Normal(fo) => Some(fo),
        };
        if let Some(id) = self.new_half_open(now, l, tuple, seg, sum, cfg) {
            if let Some(fo) = fo {
                self.fo_attach(id, fo);
            }
        }
    }

    /// RFC 4987 3.6: answer a SYN with a cookie and keep no state.
    fn cookie_syn_ack(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        cfg: &ConnConfig,
    ) {
        let peer_mss = seg
            .options
            .mss
            .unwrap_or(if tuple.remote.is_ipv4() { 536 } else { 1220 });
        let our = self.our_mss(&tuple.remote, cfg);
        let (iss, _) = cookie::make(self.secrets.cookie, &tuple, seg.seq, peer_mss, now);
        if let Some(lst) = self.listener_mut(l) {
            lst.status.cookies_sent += 1;
        }
        let window = (cfg.recv_buffer.min(0xffff)) as u16;
        self.push_ctl(CtlSeg {
            tuple,
            ip: IpOpts::of(cfg),
            seq: iss,
            ack: seg.seq + 1,
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window,
            // Only the MSS survives in a cookie: no window scale, SACK or
            // timestamps (RFC 7323 3.2: the client then sends none either).
            // Nor ECN: RFC 3168 6.1.1, a SYN,ACK without ECE means no ECN.
            options: TcpOptions {
                mss: Some(our),
                ..TcpOptions::default()
            },
            reason: SendReason::SynCookie,
        });
    }

    /// A new half-open entry for a SYN (RFC 9293 3.10.7.2): LISTEN -> SYN_RCVD.
    fn new_half_open(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        sum: SegmentSummary,
        cfg: Arc<ConnConfig>,
    ) -> Option<ConnId> {
        let id = self.open_half(now, l, tuple, seg, cfg);
        if id.is_err() {
            if let Some(lst) = self.listener_mut(l) {
                lst.status.syns_dropped += 1;
            }
            self.drop_pkt(now, None, Some(sum), DropReason::ConnectionLimit);
        }
        id.ok()
    }

    /// A half-open entry the application accepted from a pending SYN: the
    /// application holds it from the start, so it never enters the accept queue.
    pub(super) fn half_open_for_app(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        cfg: Arc<ConnConfig>,
    ) -> Result<ConnId, Error> {
        let id = self.open_half(now, l, tuple, seg, cfg)?;
        if let Some(t) = self
            .slots
            .get_mut(id.index as usize)
            .and_then(|s| s.tcb.as_deref_mut())
        {
            t.owner = Owner::App;
        }
        Ok(id)
    }

    /// The TCB of a half-open entry, indexed, its SYN,ACK queued.
    pub(super) fn open_half(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        cfg: Arc<ConnConfig>,
    ) -> Result<ConnId, Error> {
        let id = self.alloc()?;
        if let Some(lst) = self.listener_mut(l) {
            lst.half_open += 1;
            *lst.sources.entry(tuple.remote.ip()).or_insert(0) += 1;
        }
        let iss = self.isn(&tuple, now);
        let ts_offset = self.ts_offset(&tuple);
        let mss = self.our_mss(&tuple.remote, &cfg);
        let mut ctx = SegCtx {
            now,
            sink: &mut self.sink,
            challenge_tokens: &mut self.challenge_tokens,
        };
        let mut tcb = Tcb::new_passive(id, tuple, cfg, iss, mss, l, seg, &mut ctx);
        tcb.ts.offset = ts_offset;
        self.slots[id.index as usize].tcb = Some(self.spare.boxed(tcb));
        self.demux_insert(&tuple, id);
        self.schedule(id);
        self.mark_dirty(id);
        Ok(id)
    }

    pub(super) fn cookie_accept(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        mss: u16,
        sum: SegmentSummary,
    ) {
        let Some(lst) = self.listener_mut(l) else {
            return;
        };
        if lst.accept.len() >= lst.backlog {
            lst.status.accept_overflows += 1;
            self.drop_pkt(now, None, Some(sum), DropReason::AcceptQueueFull);
            return;
        }
        let cfg = Arc::clone(&lst.cfg);
        let Ok(id) = self.alloc() else {
            self.drop_pkt(now, None, Some(sum), DropReason::ConnectionLimit);
            return;
        };
        let our = self.our_mss(&tuple.remote, &cfg);
        let mut ctx = SegCtx {
            now,
            sink: &mut self.sink,
            challenge_tokens: &mut self.challenge_tokens,
        };
        let mut tcb = Tcb::from_cookie(
            id,
            tuple,
            cfg,
            seg.ack - 1,
            seg.seq - 1,
            mss,
            our,
            l,
            seg,
            &mut ctx,
        );
        // The ACK may carry data (or a FIN): process it as the first segment.
        let has_more = !seg.payload.is_empty() || seg.flags.fin();
        if has_more {
            let _ = tcb.on_segment(seg, &mut ctx);
        }
        self.slots[id.index as usize].tcb = Some(self.spare.boxed(tcb));
        self.demux_insert(&tuple, id);
        if let Some(lst) = self.listener_mut(l) {
            lst.status.cookies_validated += 1;
            lst.status.established += 1;
            lst.accept.push_back(id);
            let queued = lst.accept.len();
            self.note_acceptable(l, queued);
        }
        self.stats.passive_opens += 1;
        self.schedule(id);
        self.mark_dirty(id);
    }
}
