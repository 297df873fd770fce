//! The stack (endpoint): addresses, demultiplexing by 4-tuple, listeners with
//! SYN and accept queues and SYN cookies, ISNs, ephemeral ports, timers, and
//! the socket calls applications make.
//!
//! This module holds the [`Stack`] and its socket calls; its rooms hold the
//! rest: `table` (connection slots, demultiplexing, the bookkeeping after a
//! connection changed), `timer_heap` (the connections' deadlines),
//! `listener` (SYN and accept queues, SYN cookies), `any` (listeners for
//! any destination), `pending` (deciding on a SYN before answering it), `input` (packets and
//! timers in), `output` (packets and events out) and `status` (snapshots and
//! counters).

mod any;
mod fastopen;
mod input;
mod listener;
mod output;
mod pending;
mod ready;
mod status;
mod table;
mod timer_heap;

pub use any::{AnyDestination, IpPrefix, PrefixParseError};
pub use pending::{Decision, PendingSyn};
pub use ready::{Readiness, Ready};
pub use status::{ConnStatus, ListenerStatus, StackStats};

use crate::config::{ConnConfig, Keepalive, StackConfig, DEFAULT_TTL};
use crate::conn::{Owner, SegCtx, Tcb};
use crate::crypto::{siphash, siphash13, tuple_words, SipKey};
use crate::error::{ConnError, Error};
use crate::event::{ConnId, FourTuple, ListenerId, SegmentSummary};
use crate::hash::TableHash;
#[cfg(feature = "os-random")]
use crate::secrets::SecretsError;
use crate::secrets::{SecretKey, Secrets};
use crate::sink::Sink;
use crate::state::State;
use crate::time::{Duration, Instant};
use hashbrown::HashTable;
use listener::Listener;
use output::CtlSeg;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use synack_wire::{SeqNum, TcpRepr};
use table::Slot;
use timer_heap::TimerHeap;

/// Which half of a connection to shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Stop reading: later reads return end of stream.
    Read,
    /// Stop writing: a FIN follows the queued data.
    Write,
    /// Both.
    Both,
}

/// The IP header fields a socket chooses for its segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IpOpts {
    /// RFC 791 3.1 TTL / RFC 8200 3 hop limit.
    ttl: u8,
    /// RFC 2474 3: DSCP, low six bits.
    dscp: u8,
}

impl IpOpts {
    fn of(cfg: &ConnConfig) -> IpOpts {
        IpOpts {
            ttl: cfg.ttl.unwrap_or(DEFAULT_TTL),
            dscp: cfg.dscp & 0x3f,
        }
    }
}

/// A bound socket's handle ([`Stack::bind`]). After [`Stack::unbind`] (or a
/// listener taking the address over) its number may name the next bound socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BindId(pub u32);

/// A socket bound to a local address but neither listening nor connected.
#[derive(Debug)]
struct Bound {
    local: SocketAddr,
    cfg: ConnConfig,
}

/// Most bound sockets at once: binding without listening or connecting is a
/// short step between socket() and listen()/connect(), so a small table does.
pub const MAX_BOUND: usize = 256;

/// A TCP/IP stack: the sans-IO core's top-level object.
///
/// Inputs: [`Stack::handle_packet`], [`Stack::handle_timeout`] and the socket
/// calls. Outputs: [`Stack::poll_transmit`] (packets), [`Stack::poll_event`]
/// (the event stream) and [`Stack::poll_timeout`] (the next deadline). After
/// any input, drain `poll_transmit` until it returns `false`.
#[derive(Debug)]
pub struct Stack {
    cfg: StackConfig,
    /// `cfg.conn`, shared by the connections that use the defaults.
    conn_cfg: Arc<ConnConfig>,
    addrs: Vec<IpAddr>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Freed connections' boxes and small buffers, reused by the next ones.
    spare: table::Spare,
    live: usize,
    /// Connections by 4-tuple: slot indices, the tuple itself kept once, in
    /// the slot's TCB (every indexed slot holds its TCB, except inside
    /// `with_tcb`'s and `poll_transmit`'s callbacks, which never touch the table).
    demux: HashTable<u32>,
    demux_hash: TableHash,
    listeners: Vec<Option<Listener>>,
    listen_map: HashMap<SocketAddr, ListenerId, TableHash>,
    /// Any-destination listeners (`stack/any.rs`), looked up after `listen_map`.
    any_listeners: Vec<ListenerId>,
    /// Bound sockets ([`Stack::bind`]), at most [`MAX_BOUND`]; `None` is a free slot.
    bound: Vec<Option<Bound>>,
    timers: TimerHeap,
    dirty: VecDeque<ConnId>,
    ctl: VecDeque<CtlSeg>,
    sink: Sink,
    ready: ready::ReadyQueue,
    /// The keyed functions' keys (ISN, cookie, timestamp offset, port).
    secrets: Secrets,
    /// The cookie key before the last rotation: cookies it made stay valid
    /// for their lifetime (RFC 4987 3.6), as Linux keeps its previous key.
    cookie_prev: Option<SipKey>,
    challenge_tokens: u32,
    challenge_refill: Instant,
    stats: StackStats,
    /// The latest `now` any call brought: the time of events from calls that take none.
    last_now: Instant,
    /// TCP Fast Open (RFC 7413): keys, the cookie cache, connections using it.
    fo: fastopen::FoState,
}

fn summary(src: SocketAddr, dst: SocketAddr, t: &TcpRepr<'_>) -> SegmentSummary {
    SegmentSummary {
        src,
        dst,
        flags: t.flags,
        seq: t.seq,
        ack: t.ack,
        window: t.window,
        len: t.payload.len() as u32,
        options: t.options,
    }
}

impl Stack {
    /// A stack for real traffic: its ISN, SYN-cookie, timestamp-offset and
    /// port keys come from the operating system's random source.
    #[cfg(feature = "os-random")]
    pub fn new(cfg: StackConfig) -> Result<Stack, SecretsError> {
        Ok(Stack::with_secrets(cfg, Secrets::from_os()?))
    }

    /// **Insecure on a real network.** A stack whose keys are stretched from
    /// `seed` ([`Secrets::deterministic`]), so the same seed repeats the same
    /// run byte for byte: for the simulator, the conformance runner,
    /// benchmarks and tests. Anyone who guesses the seed can predict its ISNs
    /// and forge its SYN cookies.
    pub fn new_deterministic(cfg: StackConfig, seed: u64) -> Stack {
        Stack::with_secrets(cfg, Secrets::deterministic(seed))
    }

    /// A stack with keys the caller provides (e.g. from a platform RNG
    /// through [`Secrets::from_bytes`]).
    pub fn with_secrets(mut cfg: StackConfig, secrets: Secrets) -> Stack {
        cfg.conn = cfg.conn.clamped();
        let fo_keys = fastopen::FoState::keys_from(secrets.cookie);
        Stack {
            cfg,
            conn_cfg: Arc::new(cfg.conn),
            addrs: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            spare: table::Spare::default(),
            live: 0,
            demux: HashTable::new(),
            demux_hash: TableHash::default(),
            listeners: Vec::new(),
            listen_map: HashMap::default(),
            any_listeners: Vec::new(),
            bound: Vec::new(),
            timers: TimerHeap::default(),
            dirty: VecDeque::new(),
            ctl: VecDeque::new(),
            sink: Sink::new(cfg.max_events, cfg.trace),
            ready: ready::ReadyQueue::default(),
            secrets,
            cookie_prev: None,
            challenge_tokens: cfg.challenge_ack_limit,
            challenge_refill: Instant::ZERO,
            stats: StackStats::default(),
            last_now: Instant::ZERO,
            fo: fastopen::FoState {
                cfg: cfg.fast_open,
                keys: fo_keys,
                ..fastopen::FoState::default()
            },
        }
    }

    /// Add a local address.
    pub fn add_address(&mut self, addr: IpAddr) {
        if !self.addrs.contains(&addr) {
            self.addrs.push(addr);
        }
    }

    /// The local addresses.
    pub fn addresses(&self) -> &[IpAddr] {
        &self.addrs
    }

    /// The settings.
    pub fn config(&self) -> &StackConfig {
        &self.cfg
    }

    /// Change the defaults for connections opened from now on.
    pub fn set_conn_config(&mut self, cfg: ConnConfig) {
        let cfg = cfg.clamped();
        self.cfg.conn = cfg;
        self.conn_cfg = Arc::new(cfg);
    }

    /// A shared copy of `cfg`: the stack's defaults when equal, else a new one.
    fn shared_conn_config(&self, cfg: ConnConfig) -> Arc<ConnConfig> {
        if cfg == *self.conn_cfg {
            Arc::clone(&self.conn_cfg)
        } else {
            Arc::new(cfg)
        }
    }

    fn our_mss(&self, remote: &SocketAddr, cfg: &ConnConfig) -> u16 {
        // RFC 9293 3.7.1 / RFC 6691: the MSS we advertise is what our link can receive,
        // its MTU minus the fixed IP and TCP headers, however small (an MTU of 72 gives
        // 32). The configured MTU is the truth for both families, even below IPv6's
        // 1280 (RFC 8200 5; advertising more would invite packets the link drops);
        // only values below IPv4's minimum of 68 octets (RFC 791) are raised to it.
        let overhead = if remote.is_ipv4() { 40 } else { 60 };
        let from_mtu = self.cfg.mtu.max(68) - overhead;
        // TCP_MAXSEG lowers it, though not below the floor for the MSS we use.
        cfg.mss
            .map_or(from_mtu, |m| m.max(crate::conn::MIN_SND_MSS).min(from_mtu))
    }

    /// RFC 6528: ISN = M + F(4-tuple, secret), M ticking every 4 microseconds.
    fn isn(&self, tuple: &FourTuple, now: Instant) -> SeqNum {
        let f = siphash13(self.secrets.isn, &tuple_words(tuple, 0)) as u32;
        SeqNum(((now.micros() / 4) as u32).wrapping_add(f))
    }

    /// RFC 7323 5.4 (as RFC 6528 for ISNs): a per-connection offset for the
    /// timestamp clock, a keyed hash of the 4-tuple, so TSvals do not reveal uptime.
    fn ts_offset(&self, tuple: &FourTuple) -> u32 {
        siphash13(self.secrets.ts, &tuple_words(tuple, 0)) as u32
    }

    /// Replace the SYN-cookie key. Cookies made with the key it replaces stay
    /// valid until they expire (at most 128 s, two 64-second slots), so a
    /// rotation never fails a handshake in flight; the key before that is
    /// forgotten. Rotating bounds what an attacker gains from working on one
    /// key (RFC 4987 3.6), as Linux keeps a current and a previous key.
    pub fn rotate_cookie_secret(&mut self, key: SecretKey) {
        self.cookie_prev = Some(self.secrets.cookie);
        self.secrets.cookie = key.sip();
    }

    /// Replace the keys of the ISN function, the timestamp offsets and the
    /// ephemeral-port choice for connections opened from now on (RFC 6528 3:
    /// the key may be changed after some time or some number of ISNs).
    /// Open connections keep their sequence and timestamp spaces. The cost
    /// RFC 6528 names: a new connection reusing a 4-tuple whose previous
    /// incarnation the peer still holds in TIME_WAIT may get an ISN below the
    /// old one, and a peer without timestamps (RFC 6191) may then refuse it
    /// until its TIME_WAIT ends; rotate rarely (hours, not seconds).
    pub fn rotate_isn_secret(&mut self, key: SecretKey) {
        let fresh = key.sip();
        self.secrets.isn = fresh;
        // The other two keys are derived from the new one, each in its own domain.
        self.secrets.ts = SipKey(
            siphash(fresh, &[0x7473_5f6f_6666_7365]),
            siphash(fresh, &[0x7473_5f6f_6666_7366]),
        );
        self.secrets.port = SipKey(
            siphash(fresh, &[0x706f_7274_5f6b_6579]),
            siphash(fresh, &[0x706f_7274_5f6b_657a]),
        );
    }
}

impl Stack {
    // ----- socket calls ------------------------------------------------------

    /// Reserve `local` for a socket that is neither listening nor connected
    /// yet (bind() before listen() or connect()). A segment for the address that
    /// matches no connection or listener is answered as RFC 9293 3.10.7.1 says
    /// for CLOSED, but the RST carries `cfg`'s TTL and DSCP, as it comes from the
    /// socket (FreeBSD answers from the socket's inpcb). [`Stack::listen_with`]
    /// on the same address, or [`Stack::connect_with`] from it, takes the address
    /// over and ends the binding; the caller passes the settings again there.
    ///
    /// Errors: `InvalidArgument` for port 0, `AddrNotAvailable` for an address
    /// not the stack's, `AddrInUse` when a listener or another bound socket has
    /// the address, `TooManyConnections` beyond [`MAX_BOUND`] bound sockets.
    pub fn bind(&mut self, local: SocketAddr, cfg: ConnConfig) -> Result<BindId, Error> {
        if local.port() == 0 || !cfg.is_valid() {
            return Err(Error::InvalidArgument);
        }
        if !local.ip().is_unspecified() && !self.addrs.contains(&local.ip()) {
            return Err(Error::AddrNotAvailable);
        }
        if self.listen_map.contains_key(&local)
            || self.bound.iter().flatten().any(|b| b.local == local)
        {
            return Err(Error::AddrInUse);
        }
        let entry = Some(Bound { local, cfg });
        let i = match self.bound.iter().position(Option::is_none) {
            Some(i) => {
                self.bound[i] = entry;
                i
            }
            None if self.bound.len() < MAX_BOUND => {
                self.bound.push(entry);
                self.bound.len() - 1
            }
            None => return Err(Error::TooManyConnections),
        };
        // MAX_BOUND fits in u32.
        Ok(BindId(i as u32))
    }

    /// Release a bound socket's address (close() of a socket that was only bound).
    pub fn unbind(&mut self, b: BindId) -> Result<(), Error> {
        self.bound
            .get_mut(b.0 as usize)
            .and_then(Option::take)
            .map(|_| ())
            .ok_or(Error::InvalidHandle)
    }

    /// End the binding of exactly `local`, if any (a listener or connection takes it over).
    fn take_bound(&mut self, local: &SocketAddr) {
        for slot in &mut self.bound {
            if slot.as_ref().is_some_and(|b| b.local == *local) {
                *slot = None;
            }
        }
    }

    /// The bound socket a segment to `local` reaches: the exact address, else
    /// the wildcard address of the port.
    fn find_bound(&self, local: &SocketAddr) -> Option<&Bound> {
        let live = || self.bound.iter().flatten();
        live().find(|b| b.local == *local).or_else(|| {
            live().find(|b| b.local.ip().is_unspecified() && b.local.port() == local.port())
        })
    }

    /// Active OPEN to `remote` with the stack's default settings.
    pub fn connect(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
    ) -> Result<ConnId, Error> {
        self.connect_with(now, local, remote, self.cfg.conn)
    }

    /// Active OPEN with per-connection settings. `local` may give an address,
    /// a port, both or neither (port 0 picks an ephemeral port).
    pub fn connect_with(
        &mut self,
        now: Instant,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        cfg: ConnConfig,
    ) -> Result<ConnId, Error> {
        self.last_now = self.last_now.max(now);
        if remote.port() == 0 || remote.ip().is_unspecified() || !cfg.is_valid() {
            return Err(Error::InvalidArgument);
        }
        let local_ip = match local.map(|l| l.ip()).filter(|ip| !ip.is_unspecified()) {
            Some(ip) => {
                if !self.addrs.contains(&ip) {
                    return Err(Error::AddrNotAvailable);
                }
                ip
            }
            None => *self
                .addrs
                .iter()
                .find(|a| a.is_ipv4() == remote.is_ipv4())
                .ok_or(Error::AddrNotAvailable)?,
        };
        if local_ip.is_ipv4() != remote.is_ipv4() {
            return Err(Error::AddressFamilyMismatch);
        }
        let port = match local.map(|l| l.port()).filter(|p| *p != 0) {
            Some(p) => {
                let tuple = FourTuple {
                    local: SocketAddr::new(local_ip, p),
                    remote,
                };
                if self.demux_get(&tuple).is_some() {
                    return Err(Error::AddrInUse);
                }
                p
            }
            None => self.ephemeral_port(local_ip, remote)?,
        };
        let tuple = FourTuple {
            local: SocketAddr::new(local_ip, port),
            remote,
        };
        let id = self.alloc()?;
        // A socket bound to the address connects (connect() after bind()).
        if let Some(l) = local {
            self.take_bound(&l);
        }
        let iss = self.isn(&tuple, now);
        let ts_offset = self.ts_offset(&tuple);
        let mss = self.our_mss(&remote, &cfg);
        let shared = self.shared_conn_config(cfg);
        let mut ctx = SegCtx {
            now,
            sink: &mut self.sink,
            challenge_tokens: &mut self.challenge_tokens,
        };
        let mut tcb = Tcb::new_active(id, tuple, shared, iss, mss, &mut ctx);
        tcb.ts.offset = ts_offset;
        self.slots[id.index as usize].tcb = Some(self.spare.boxed(tcb));
        self.demux_insert(&tuple, id);
        self.stats.active_opens += 1;
        self.schedule(id);
        self.mark_dirty(id);
        Ok(id)
    }

    fn ephemeral_port(&self, local_ip: IpAddr, remote: SocketAddr) -> Result<u16, Error> {
        // RFC 6056 algorithm 3 in spirit: a keyed hash of the destination picks the start.
        let (lo, hi) = self.cfg.ephemeral_ports;
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        let probe = FourTuple {
            local: SocketAddr::new(local_ip, 0),
            remote,
        };
        let start = siphash13(self.secrets.port, &tuple_words(&probe, self.live as u64)) as u32;
        for i in 0..span {
            let port = lo + ((start.wrapping_add(i)) % span) as u16;
            let tuple = FourTuple {
                local: SocketAddr::new(local_ip, port),
                remote,
            };
            if self.demux_get(&tuple).is_none() && !self.listen_map.contains_key(&tuple.local) {
                return Ok(port);
            }
        }
        Err(Error::NoPortsAvailable)
    }

    /// SEND: queue bytes; returns how many were taken (`WouldBlock` when the buffer is full).
    pub fn send(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize, Error> {
        self.tcb(id)?;
        // A deferred Fast Open connect takes on its first send what its SYN
        // carries.
        let data = self.fo_send_part(id, data);
        let n = self
            .with_tcb(id, now, |t, ctx| {
                t.restart_after_idle(ctx);
                t.send(data)
            })
            .ok_or(Error::InvalidHandle)??;
        self.fo_on_send(id);
        Ok(n)
    }

    /// RECEIVE: copy out in-order bytes. `Ok(0)` means end of stream (the peer closed).
    pub fn recv(&mut self, now: Instant, id: ConnId, buf: &mut [u8]) -> Result<usize, Error> {
        self.tcb(id)?;
        self.with_tcb(id, now, |t, _| t.recv(buf, false, now))
            .ok_or(Error::InvalidHandle)?
    }

    /// SEND without a copy of the caller's own: `f` writes straight into
    /// the connection's send buffer (a contiguous run of free space, at
    /// most the room left; shorter while the buffer's memory grows toward
    /// its limit by doubling, from 64 KiB) and returns how many octets it wrote
    /// and a value of its own, which `send_with` returns. The errors are
    /// [`Stack::send`]'s (`WouldBlock` when the buffer is full; `f` is not
    /// called then).
    pub fn send_with<R>(
        &mut self,
        now: Instant,
        id: ConnId,
        f: impl FnOnce(&mut [u8]) -> (usize, R),
    ) -> Result<R, Error> {
        self.tcb(id)?;
        // A deferred Fast Open connect takes on its first send what its SYN
        // carries, as `send` does.
        let cap = self.fo_send_cap(id);
        let r = self
            .with_tcb(id, now, |t, ctx| {
                t.restart_after_idle(ctx);
                t.send_with(|buf| {
                    let buf_len = buf.len().min(cap);
                    let (n, r) = f(&mut buf[..buf_len]);
                    (n.min(buf_len), r)
                })
            })
            .ok_or(Error::InvalidHandle)??;
        self.fo_on_send(id);
        Ok(r)
    }

    /// RECEIVE without a copy: `f` reads the longest contiguous run of
    /// unread octets in place (the empty slice at the end of the stream) and
    /// returns how many it consumed and a value of its own, which
    /// `recv_with` returns. The errors are [`Stack::recv`]'s (`WouldBlock`
    /// when nothing is there yet; `f` is not called then).
    pub fn recv_with<R>(
        &mut self,
        now: Instant,
        id: ConnId,
        f: impl FnOnce(&[u8]) -> (usize, R),
    ) -> Result<R, Error> {
        self.tcb(id)?;
        self.with_tcb(id, now, |t, _| t.recv_with(f, now))
            .ok_or(Error::InvalidHandle)?
    }

    /// Like `recv` but leaves the bytes in the buffer (MSG_PEEK).
    pub fn peek(&mut self, now: Instant, id: ConnId, buf: &mut [u8]) -> Result<usize, Error> {
        self.tcb(id)?;
        self.with_tcb(id, now, |t, _| t.recv(buf, true, now))
            .ok_or(Error::InvalidHandle)?
    }

    /// Bytes ready to read without blocking.
    pub fn recv_ready(&self, id: ConnId) -> Result<usize, Error> {
        Ok(self.tcb(id)?.recv_ready())
    }

    /// Room in the send buffer.
    pub fn send_room(&self, id: ConnId) -> Result<usize, Error> {
        Ok(self.tcb(id)?.send_room())
    }

    /// Shut down reading, writing or both.
    pub fn shutdown(&mut self, now: Instant, id: ConnId, how: Shutdown) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, now, |t, ctx| {
            if matches!(how, Shutdown::Read | Shutdown::Both) {
                t.shutdown_read();
            }
            if matches!(how, Shutdown::Write | Shutdown::Both) {
                t.shutdown_write(ctx)
            } else {
                Ok(())
            }
        })
        .ok_or(Error::InvalidHandle)?
    }

    /// Close the handle: FIN after queued data, or RST if unread data would be
    /// lost. The stack finishes the close (TIME_WAIT included) on its own.
    pub fn close(&mut self, now: Instant, id: ConnId) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, now, |t, ctx| t.close(ctx))
            .ok_or(Error::InvalidHandle)
    }

    /// ABORT: RST and forget the connection; the handle is released.
    pub fn abort(&mut self, now: Instant, id: ConnId) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, now, |t, ctx| {
            t.owner = Owner::Orphan;
            t.abort(ctx);
        })
        .ok_or(Error::InvalidHandle)
    }

    /// The connection's state.
    pub fn state(&self, id: ConnId) -> Result<State, Error> {
        Ok(self.tcb(id)?.state)
    }

    /// The connection's addresses.
    pub fn tuple(&self, id: ConnId) -> Result<FourTuple, Error> {
        Ok(self.tcb(id)?.tuple())
    }

    /// The error a connection failed with, if it failed.
    pub fn conn_error(&self, id: ConnId) -> Result<Option<ConnError>, Error> {
        Ok(self.tcb(id)?.error)
    }

    /// Limit the unsent octets of a live connection to `mark` (Linux's
    /// TCP_NOTSENT_LOWAT; `None`: the send buffer alone limits): see
    /// [`ConnConfig::notsent_lowat`].
    pub fn set_notsent_lowat(&mut self, id: ConnId, mark: Option<u32>) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, self.last_now, |t, _| t.set_notsent_lowat(mark))
            .ok_or(Error::InvalidHandle)
    }

    /// Turn Nagle's algorithm off (`true`, TCP_NODELAY) or on.
    pub fn set_nodelay(&mut self, id: ConnId, nodelay: bool) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, self.last_now, |t, _| t.set_nodelay(nodelay))
            .ok_or(Error::InvalidHandle)
    }

    /// Cork (`true`, Linux's TCP_CORK) or uncork a connection: while corked a
    /// segment shorter than the MSS at the end of the queued data waits, even
    /// with nothing in flight, until more data fills it, the FIN follows, the
    /// cork comes out or [`Stack::push`] is called.
    pub fn set_cork(&mut self, id: ConnId, cork: bool) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, self.last_now, |t, _| t.set_cork(cork))
            .ok_or(Error::InvalidHandle)
    }

    /// Send what is queued now, a short last segment included, whatever the
    /// cork and Nagle say (as setting TCP_NODELAY does on Linux, even while
    /// corked). The peer's window and cwnd still apply.
    pub fn push(&mut self, id: ConnId) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, self.last_now, |t, _| t.push())
            .ok_or(Error::InvalidHandle)
    }

    /// SEND a record (Linux's `MSG_EOR`): as [`Stack::send`], and when all of
    /// `data` was queued its end is a record end, so data sent later never
    /// shares a segment with it. A record only partly queued continues with
    /// the next send. `WouldBlock` (nothing queued) while
    /// 1,024 record ends wait unacknowledged.
    pub fn send_record(&mut self, now: Instant, id: ConnId, data: &[u8]) -> Result<usize, Error> {
        self.tcb(id)?;
        let all = data.len();
        let data = self.fo_send_part(id, data);
        let n = self
            .with_tcb(id, now, |t, ctx| {
                t.record_room()?;
                t.restart_after_idle(ctx);
                let n = t.send(data)?;
                if n == all {
                    t.end_record()?;
                }
                Ok::<usize, Error>(n)
            })
            .ok_or(Error::InvalidHandle)??;
        self.fo_on_send(id);
        Ok(n)
    }

    /// Resize a live connection's send buffer (SO_SNDBUF after connect or
    /// accept): bytes already queued stay, and [`Stack::send`] takes more once
    /// fewer than `bytes` are queued.
    pub fn set_send_buffer(&mut self, id: ConnId, bytes: usize) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, self.last_now, |t, _| t.set_send_buffer(bytes))
            .ok_or(Error::InvalidHandle)
    }

    /// Change the TTL / hop limit (`None`: [`DEFAULT_TTL`]) and DSCP (low six
    /// bits) of a live connection (IP_TTL, IP_TOS and their IPv6 twins after
    /// connect or accept): every segment sent from now on carries them,
    /// retransmissions included (RFC 791 3.1, RFC 2474 3).
    pub fn set_ip_options(&mut self, id: ConnId, ttl: Option<u8>, dscp: u8) -> Result<(), Error> {
        if ttl == Some(0) {
            return Err(Error::InvalidArgument);
        }
        self.tcb(id)?;
        self.with_tcb(id, self.last_now, |t, _| {
            if t.cfg.ttl != ttl || t.cfg.dscp != dscp & 0x3f {
                // The settings may be shared with other connections: copy on write.
                let cfg = Arc::make_mut(&mut t.cfg);
                cfg.ttl = ttl;
                cfg.dscp = dscp & 0x3f;
            }
        })
        .ok_or(Error::InvalidHandle)
    }

    /// A connection's settings, as changed since it opened (IP options, Nagle, ...).
    pub fn conn_config(&self, id: ConnId) -> Result<ConnConfig, Error> {
        Ok(*self.tcb(id)?.cfg)
    }

    /// Set or clear keepalive on a live connection (restarts the idle timer).
    pub fn set_keepalive(
        &mut self,
        now: Instant,
        id: ConnId,
        k: Option<Keepalive>,
    ) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, now, |t, _| t.set_keepalive(k, now))
            .ok_or(Error::InvalidHandle)
    }

    /// Set or clear the user timeout (TCP_USER_TIMEOUT).
    pub fn set_user_timeout(&mut self, id: ConnId, timeout: Option<Duration>) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, self.last_now, |t, _| t.set_user_timeout(timeout))
            .ok_or(Error::InvalidHandle)
    }

    /// How many times the connection's SYN is retransmitted before connect
    /// fails (Linux's TCP_SYNCNT, [`ConnConfig::syn_retries`]); a connection
    /// in SYN-SENT counts the retransmissions it already made.
    pub fn set_syn_retries(&mut self, id: ConnId, retries: u32) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, self.last_now, |t, _| t.set_syn_retries(retries))
            .ok_or(Error::InvalidHandle)
    }

    /// Set or clear the connection-establishment timeout (FreeBSD's TCP_KEEPINIT,
    /// see [`ConnConfig::establish_timeout`]); on a connection still in SYN_SENT or
    /// SYN_RCVD the timer restarts now.
    pub fn set_establish_timeout(
        &mut self,
        now: Instant,
        id: ConnId,
        timeout: Option<Duration>,
    ) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, now, |t, ctx| t.set_establish_timeout(timeout, ctx.now))
            .ok_or(Error::InvalidHandle)
    }

    /// What a process exit does: every connection the application holds is
    /// closed (FIN, or RST when unread data is waiting, SCENARIOS 13), every
    /// listener closed.
    pub fn close_all(&mut self, now: Instant) {
        for l in 0..self.listeners.len() {
            let _ = self.close_listener(now, ListenerId(l as u32));
        }
        let ids: Vec<ConnId> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.tcb.as_deref().is_some_and(|t| t.owner == Owner::App))
            .map(|(i, s)| ConnId {
                index: i as u32,
                generation: s.generation,
            })
            .collect();
        for id in ids {
            let _ = self.close(now, id);
        }
    }
}
