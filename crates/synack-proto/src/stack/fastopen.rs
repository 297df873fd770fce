//! TCP Fast Open at the stack (RFC 7413): the settings and keys, the
//! client's cookie cache, listeners' Fast Open queues, the table of
//! connections that use Fast Open, and the hooks the input and output
//! paths call for them. A connection without Fast Open has no entry and
//! costs nothing (the TCB does not grow).

use super::{ConnStatus, Stack};
use crate::config::ConnConfig;
use crate::conn::{FoConn, OutSegment, Tcb};
use crate::crypto::siphash;
use crate::error::{ConnError, Error};
use crate::event::{ConnId, FourTuple, ListenerId};
use crate::fastopen::{
    make_cookie, CachedCookie, CookieCache, FastOpenConfig, FastOpenCookie, FastOpenKey,
    FastOpenKeys, FastOpenMiss, FastOpenOption, FastOpenStatus,
};
use crate::state::State;
use crate::time::Instant;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::sync::Arc;
use synack_wire::TcpRepr;

/// Linux reserves the whole option space when sizing SYN data, so that a
/// middlebox adding options to the SYN does not make it too big
/// (`MAX_TCP_OPTION_SPACE` in `tcp_send_syn_data`).
const SYN_DATA_OPTION_RESERVE: u16 = 40;

/// The stack's Fast Open part.
#[derive(Debug, Default)]
pub(super) struct FoState {
    pub(super) cfg: FastOpenConfig,
    pub(super) keys: FastOpenKeys,
    pub(super) cache: CookieCache,
    /// Connections that use (or asked for) Fast Open.
    pub(super) conns: HashMap<ConnId, FoConn>,
}

/// What a SYN at a listener is to Fast Open.
pub(super) enum FoSyn {
    /// Nothing: no option, or the listener is no Fast Open server.
    Plain,
    /// A normal handshake whose entry gets this state (a cookie to offer,
    /// why the data was not taken).
    Normal(FoConn),
    /// A child took the SYN's data.
    Child,
    /// A child was due but no connection could be allocated.
    Failed,
}

/// A listener's Fast Open settings.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct FoListener {
    /// The Fast Open queue length (TCP_FASTOPEN); `None`: not set.
    pub(super) queue: Option<usize>,
    /// The listener's own keys (TCP_FASTOPEN_KEY on it).
    pub(super) keys: Option<FastOpenKeys>,
    /// Children that took data on their SYN and are still in SYN_RCVD.
    pub(super) pending: usize,
}

impl FoState {
    /// The default keys: derived from the SYN-cookie key, each in its own domain.
    pub(super) fn keys_from(cookie: crate::crypto::SipKey) -> FastOpenKeys {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&siphash(cookie, &[0x7466_6f5f_6b65_7930]).to_le_bytes());
        b[8..].copy_from_slice(&siphash(cookie, &[0x7466_6f5f_6b65_7931]).to_le_bytes());
        FastOpenKeys {
            primary: FastOpenKey(b),
            backup: None,
        }
    }
}

impl Stack {
    // ----- settings and keys ---------------------------------------------------

    /// The Fast Open settings.
    pub fn fast_open_config(&self) -> FastOpenConfig {
        self.fo.cfg
    }

    /// Change the Fast Open settings (Linux's `net.ipv4.tcp_fastopen` and
    /// companions); connections already open keep what they did.
    pub fn set_fast_open_config(&mut self, cfg: FastOpenConfig) {
        self.cfg.fast_open = cfg;
        self.fo.cfg = cfg;
    }

    /// The server's cookie keys (`net.ipv4.tcp_fastopen_key`).
    pub fn fast_open_keys(&self) -> FastOpenKeys {
        self.fo.keys
    }

    /// Set the server's cookie keys for every listener without its own.
    pub fn set_fast_open_keys(&mut self, keys: FastOpenKeys) {
        self.fo.keys = keys;
    }

    /// Make `key` the primary cookie key; the primary it replaces becomes the
    /// backup, so cookies it made stay valid until the next rotation (as
    /// Linux keeps two keys). Rotating bounds what a stolen cookie is worth.
    pub fn rotate_fast_open_key(&mut self, key: FastOpenKey) {
        self.fo.keys = FastOpenKeys {
            primary: key,
            backup: Some(self.fo.keys.primary),
        };
    }

    /// Make a listener a Fast Open server with a queue of `queue` children
    /// that took data on their SYN and have not completed the handshake
    /// (TCP_FASTOPEN; RFC 7413 5.1 bounds them); 0 turns it off.
    pub fn set_listener_fast_open(&mut self, l: ListenerId, queue: usize) -> Result<(), Error> {
        let lst = self.listener_mut(l).ok_or(Error::InvalidHandle)?;
        lst.fo.queue = Some(queue);
        Ok(())
    }

    /// A listener's own cookie keys (TCP_FASTOPEN_KEY on a listener), or
    /// with `None` the stack's again.
    pub fn set_listener_fast_open_keys(
        &mut self,
        l: ListenerId,
        keys: Option<FastOpenKeys>,
    ) -> Result<(), Error> {
        let lst = self.listener_mut(l).ok_or(Error::InvalidHandle)?;
        lst.fo.keys = keys;
        Ok(())
    }

    // ----- the client's cookie cache ---------------------------------------------

    /// The cookie cached for `remote`, if any (RFC 7413 4.1.3).
    pub fn fast_open_cookie(&self, remote: IpAddr) -> Option<FastOpenCookie> {
        self.fo.cache.get(remote).map(|c| c.cookie)
    }

    /// Cache a cookie for `remote` (kind 34), or with `None` forget it.
    pub fn set_fast_open_cookie(&mut self, remote: IpAddr, cookie: Option<FastOpenCookie>) {
        let entry = cookie.map(|cookie| CachedCookie {
            cookie,
            experimental: false,
            mss: None,
            stamp: 0,
        });
        let max = self.fo.cfg.max_cached_cookies;
        self.fo.cache.put(remote, entry, max);
    }

    /// Forget every cached cookie (`ip tcp_metrics flush`).
    pub fn clear_fast_open_cookies(&mut self) {
        self.fo.cache.clear();
    }

    /// Whether and how connection `id` used Fast Open.
    pub fn fast_open_status(&self, id: ConnId) -> Result<FastOpenStatus, Error> {
        self.tcb(id)?;
        Ok(self.fo_status(id))
    }

    /// A status snapshot's Fast Open parts: the status, and a client's SYN
    /// data acknowledged with its SYN counted in the SYN's segment (Linux's
    /// `tcp_rcv_fastopen_synack` takes back the second packet `tcp_ack` counted).
    pub(super) fn fo_fill_status(&self, id: ConnId, s: &mut ConnStatus) {
        let Some(f) = self.fo.conns.get(&id) else {
            return;
        };
        s.fast_open = f.status;
        if f.status.syn_data_acked() && f.syn_data > 0 {
            if let Ok(t) = self.tcb(id) {
                s.delivered = t.delivered(f.syn_data);
            }
        }
    }

    pub(super) fn fo_status(&self, id: ConnId) -> FastOpenStatus {
        self.fo
            .conns
            .get(&id)
            .map_or(FastOpenStatus::NotTried, |f| f.status)
    }

    // ----- the client ------------------------------------------------------------

    /// Active OPEN with Fast Open (RFC 7413 4.2.1): connect() with data
    /// (MSG_FASTOPEN), or with `data` `None` a connect whose SYN waits for
    /// the first [`Stack::send`] (TCP_FASTOPEN_CONNECT).
    ///
    /// With a cookie cached for `remote`, the first SYN carries it and as
    /// much of `data` as fits in one segment (the cached MSS, less 40 bytes
    /// kept for options as Linux does); the call returns how many bytes it
    /// took. Without one, the SYN asks for a cookie, carries no data and
    /// `0` is returned (so the caller's EINPROGRESS), and the connection
    /// reports [`FastOpenMiss::CookieRequested`]; a deferred connect then
    /// sends that SYN at once. With client Fast Open off the call is a plain
    /// connect that takes no data.
    pub fn connect_fast_open(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        cfg: ConnConfig,
        data: Option<&[u8]>,
    ) -> Result<(ConnId, usize), Error> {
        let id = self.connect_with(now, local, remote, cfg)?;
        let mut fo = FoConn::default();
        let cached = self.fo.cache.get(remote.ip());
        let paused = self.fo.cache.paused(now, self.fo.cfg.blackhole_timeout);
        let mut room = 0;
        if !self.fo.cfg.client {
            fo.status = FastOpenStatus::NotUsed(FastOpenMiss::ClientDisabled);
        } else if paused {
            fo.status = FastOpenStatus::NotUsed(FastOpenMiss::Blackholed);
        } else if let Some(c) = cached.filter(|c| !c.cookie.is_request()) {
            fo.option = Some(FastOpenOption {
                cookie: c.cookie,
                experimental: c.experimental,
            });
            room = self.fo_syn_room(id, c.mss);
        } else if self.fo.cfg.client_no_cookie {
            // Linux's 0x4: data on the SYN with no option at all.
            room = self.fo_syn_room(id, None);
        } else {
            fo.option = Some(FastOpenOption::default());
            fo.status = FastOpenStatus::NotUsed(FastOpenMiss::CookieRequested);
        }
        let mut taken = 0;
        match data {
            Some(d) if room > 0 => {
                let n = d.len().min(room);
                taken = self.send(now, id, &d[..n])?;
                fo.syn_data = taken as u32;
            }
            None if room > 0 => fo.deferred = true,
            _ => {}
        }
        self.fo.conns.insert(id, fo);
        Ok((id, taken))
    }

    /// How many bytes a SYN to this connection's peer may carry.
    fn fo_syn_room(&self, id: ConnId, cached_mss: Option<u16>) -> usize {
        let Some(t) = self.tcb_any(id) else {
            return 0;
        };
        let ours = t.opts.our_mss;
        let mss = cached_mss.map_or(ours, |m| m.min(ours));
        usize::from(mss.saturating_sub(SYN_DATA_OPTION_RESERVE))
    }

    /// A deferred Fast Open connect (TCP_FASTOPEN_CONNECT) whose first send
    /// came: the SYN takes what fits of the send buffer.
    pub(super) fn fo_on_send(&mut self, id: ConnId) {
        if !self.fo_deferred(id) {
            return;
        }
        let mss = self.fo.cache.get(
            self.tcb_any(id)
                .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |t| {
                    t.tuple().remote.ip()
                }),
        );
        let room = self.fo_syn_room(id, mss.and_then(|c| c.mss));
        let queued = self.tcb_any(id).map_or(0, |t| t.send_queued());
        if let Some(f) = self.fo.conns.get_mut(&id) {
            f.deferred = false;
            f.syn_data = queued.min(room) as u32;
        }
        self.mark_dirty(id);
    }

    /// Whether the connection's SYN waits for its first send.
    pub(super) fn fo_deferred(&self, id: ConnId) -> bool {
        !self.fo.conns.is_empty() && self.fo.conns.get(&id).is_some_and(|f| f.deferred)
    }

    /// Whether connection `id` is a Fast Open connect whose SYN waits for
    /// the first send (`TCP_FASTOPEN_CONNECT` with a cookie cached: Linux's
    /// `connect` returns 0 at once and the first write sends the SYN with
    /// its data).
    pub fn fast_open_deferred(&self, id: ConnId) -> bool {
        self.fo_deferred(id)
    }

    /// What of `data` a send on connection `id` takes: on a deferred
    /// connect, what its SYN can carry (Linux's sendto returns that count,
    /// tcp_send_syn_data); otherwise all of it.
    pub(super) fn fo_send_part<'d>(&self, id: ConnId, data: &'d [u8]) -> &'d [u8] {
        &data[..data.len().min(self.fo_send_cap(id))]
    }

    /// How many octets a send on connection `id` may take: on a deferred
    /// connect, what its SYN can carry; otherwise no limit (`usize::MAX`).
    pub(super) fn fo_send_cap(&self, id: ConnId) -> usize {
        if !self.fo_deferred(id) {
            return usize::MAX;
        }
        let Some(tcb) = self.tcb_any(id) else {
            return usize::MAX;
        };
        let mss = self
            .fo
            .cache
            .get(tcb.tuple().remote.ip())
            .and_then(|c| c.mss);
        self.fo_syn_room(id, mss)
    }

    /// Output hook: a SYN or SYN,ACK of a Fast Open connection gets its
    /// option and data.
    pub(super) fn fo_dress(
        &mut self,
        id: ConnId,
        tcb: &mut Tcb,
        out: &mut OutSegment,
        payload: &mut Range<usize>,
    ) {
        if let Some(fo) = self.fo.conns.get_mut(&id) {
            tcb.fo_dress_syn(fo, out, payload);
        }
    }

    /// Input hook for a connection in SYN-SENT: run `f` (the TCB's
    /// processing), then learn from a SYN,ACK (cache its cookie and MSS,
    /// RFC 7413 4.1.3) and recover data it did not acknowledge.
    pub(super) fn fo_take(&mut self, id: ConnId) -> Option<FoConn> {
        if self.fo.conns.is_empty() {
            return None;
        }
        self.fo.conns.get(&id).copied()
    }

    /// After the TCB handled `seg` with Fast Open state `fo` (from
    /// [`Stack::fo_take`]).
    pub(super) fn fo_put(&mut self, id: ConnId, fo: FoConn, seg: &TcpRepr<'_>, was: State) {
        let remote = self.tcb_any(id).map(|t| t.tuple().remote.ip());
        let synack = seg.flags.syn() && seg.flags.ack();
        if let (true, State::SynSent, Some(remote)) = (synack, was, remote) {
            if fo.option.is_some() || fo.syn_data > 0 {
                self.fo_cache_from(remote, seg);
            }
            // Data on the SYN went through after a pause: the path works again
            // (Linux resets `tfo_active_disable_times` likewise).
            if fo.status == FastOpenStatus::Used {
                self.fo.cache.blackhole = None;
            }
        }
        self.fo.conns.insert(id, fo);
    }

    /// RFC 7413 4.1.3: cache the cookie of a SYN,ACK, and the MSS it gave
    /// (Linux keeps the old cookie when a SYN,ACK brings none).
    fn fo_cache_from(&mut self, remote: IpAddr, seg: &TcpRepr<'_>) {
        let old = self.fo.cache.get(remote);
        let new = seg
            .options
            .fast_open
            .filter(|o| o.cookie.is_valid_len())
            .map(|o| (o.cookie, o.experimental));
        let Some((cookie, experimental)) = new.or_else(|| old.map(|c| (c.cookie, c.experimental)))
        else {
            return;
        };
        let entry = CachedCookie {
            cookie,
            experimental,
            mss: seg.options.mss.or(old.and_then(|c| c.mss)),
            stamp: 0,
        };
        let max = self.fo.cfg.max_cached_cookies;
        self.fo.cache.put(remote, Some(entry), max);
    }

    /// RFC 7413 7 (Linux's `tcp_fastopen_active_detect_blackhole`): a
    /// middlebox may drop SYNs with data or the option, or a Fast Open
    /// connection's later segments. A client connection that tried Fast
    /// Open and times out for the third time in a row, or gives up before
    /// that, pauses client Fast Open for
    /// [`FastOpenConfig::blackhole_timeout`], doubling with each repeat.
    pub(super) fn fo_after_timeout(&mut self, id: ConnId, now: Instant) {
        if self.fo.cfg.blackhole_timeout.is_none() || self.fo.conns.is_empty() {
            return;
        }
        let Some(f) = self.fo.conns.get(&id).copied() else {
            return;
        };
        let tried = f.option.is_some() || f.syn_data > 0;
        if !tried || f.early_child.is_some() || f.blackhole_seen {
            return;
        }
        let Some(t) = self.tcb_any(id) else {
            return;
        };
        let expired = t.error == Some(ConnError::TimedOut);
        if t.consecutive_timeouts() < 3 && !expired {
            return;
        }
        if let Some(e) = self.fo.conns.get_mut(&id) {
            e.blackhole_seen = true;
        }
        self.fo.cache.blackholed(now);
    }

    /// A freed connection's entry goes with it.
    pub(super) fn fo_forget(&mut self, id: ConnId) {
        if !self.fo.conns.is_empty() {
            self.fo.conns.remove(&id);
        }
    }

    // ----- the server --------------------------------------------------------------

    /// The Fast Open queue length of a listener, if it is a Fast Open server.
    fn fo_server_queue(&self, l: ListenerId) -> Option<usize> {
        if !self.fo.cfg.server {
            return None;
        }
        let lst = self.listener(l).ok()?;
        lst.fo
            .queue
            .or(self.fo.cfg.server_default_queue)
            .filter(|q| *q > 0)
    }

    /// A SYN at a listener that may be a Fast Open server (RFC 7413 4.2.2):
    /// handled here when it makes a child that took the SYN's data;
    /// otherwise the normal path answers, with the Fast Open state (the
    /// cookie to offer) its half-open entry gets.
    pub(super) fn fo_syn(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        cfg: &Arc<ConnConfig>,
    ) -> FoSyn {
        let Some(queue) = self.fo_server_queue(l) else {
            return FoSyn::Plain;
        };
        let opt = seg.options.fast_open;
        let data_without_cookie = self.fo.cfg.server_no_cookie && !seg.payload.is_empty();
        if opt.is_none() && !data_without_cookie {
            return FoSyn::Plain;
        }
        let keys = self
            .listener(l)
            .ok()
            .and_then(|x| x.fo.keys)
            .unwrap_or(self.fo.keys);
        let (client, server) = (tuple.remote.ip(), tuple.local.ip());
        let experimental = opt.is_some_and(|o| o.experimental);
        let fresh = make_cookie(&keys.primary, client, server).map(|cookie| FastOpenOption {
            cookie,
            experimental,
        });
        let mut fo = FoConn::default();
        let cookie = opt.map(|o| o.cookie).filter(|c| !c.is_request());
        let valid = match cookie {
            Some(c) => c.is_valid_len() && keys.check(&c, client, server),
            None => self.fo.cfg.server_no_cookie,
        };
        if !valid {
            // RFC 7413 4.2.2: no (valid) cookie, a normal handshake that
            // offers one; the SYN's data is not acknowledged.
            fo.option = fresh;
            if !seg.payload.is_empty() {
                fo.status = FastOpenStatus::NotUsed(if cookie.is_some() {
                    FastOpenMiss::InvalidCookie
                } else {
                    FastOpenMiss::NoCookie
                });
            }
            return FoSyn::Normal(fo);
        }
        let pending = self.listener(l).map_or(0, |x| x.fo.pending);
        if pending >= queue {
            // RFC 7413 5.1: over the queue, a normal handshake, no cookie.
            fo.status = FastOpenStatus::NotUsed(FastOpenMiss::QueueFull);
            return FoSyn::Normal(fo);
        }
        // A cookie from the backup key earns the primary's (Linux).
        if cookie.is_some_and(|c| Some(c) != fresh.map(|f| f.cookie)) {
            fo.option = fresh;
        }
        match self.fo_child(now, l, tuple, seg, Arc::clone(cfg), fo) {
            Ok(()) => FoSyn::Child,
            Err(_) => FoSyn::Failed,
        }
    }

    /// RFC 7413 4.2.2: a child for a SYN with a valid cookie, its data taken
    /// at once and the child in the accept queue before the handshake ends.
    fn fo_child(
        &mut self,
        now: Instant,
        l: ListenerId,
        tuple: FourTuple,
        seg: &TcpRepr<'_>,
        cfg: Arc<ConnConfig>,
        mut fo: FoConn,
    ) -> Result<(), Error> {
        let id = self.open_half(now, l, tuple, seg, cfg)?;
        if let Some(t) = self.tcb_any_mut(id) {
            t.fo_take_syn_data(seg);
        }
        fo.status = if seg.payload.is_empty() {
            FastOpenStatus::NotTried
        } else {
            FastOpenStatus::Used
        };
        fo.early_child = Some(l);
        self.fo.conns.insert(id, fo);
        if let Some(lst) = self.listener_mut(l) {
            lst.fo.pending += 1;
            lst.accept.push_back(id);
            let queued = lst.accept.len();
            self.note_acceptable(l, queued);
        }
        self.mark_dirty(id);
        Ok(())
    }

    /// An early child left SYN_RCVD: out of its listener's Fast Open queue.
    /// Returns whether it was one (it is in the accept queue already).
    pub(super) fn fo_child_done(&mut self, id: ConnId) -> bool {
        if self.fo.conns.is_empty() {
            return false;
        }
        let Some(l) = self
            .fo
            .conns
            .get_mut(&id)
            .and_then(|f| f.early_child.take())
        else {
            return false;
        };
        if let Some(lst) = self.listener_mut(l) {
            lst.fo.pending = lst.fo.pending.saturating_sub(1);
        }
        true
    }

    /// Give a new half-open entry the Fast Open state its SYN earned.
    pub(super) fn fo_attach(&mut self, id: ConnId, fo: FoConn) {
        self.fo.conns.insert(id, fo);
    }
}
