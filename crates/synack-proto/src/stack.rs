//! The stack (endpoint): addresses, demultiplexing by 4-tuple, listeners with
//! SYN and accept queues and SYN cookies, ISNs, ephemeral ports, timers, and
//! the socket calls applications make.

use crate::compact::PackedTuple;
use crate::config::{ConnConfig, Keepalive, StackConfig, SynCookies, DEFAULT_TTL};
use crate::cookie;
use crate::crypto::{siphash, tuple_words, SipKey};
use crate::error::{ConnError, Error};
use crate::event::{
    Cause, ConnId, DropReason, Event, EventKind, FourTuple, ListenerId, SegmentSummary, SendReason,
};
use crate::hash::TableHash;
use crate::icmp::{self, IcmpAction, IcmpEffect};
#[cfg(feature = "os-random")]
use crate::secrets::SecretsError;
use crate::secrets::{SecretKey, Secrets};
use crate::sink::Sink;
use crate::state::State;
use crate::tcb::{Disposition, OutSegment, Owner, SegCtx, Tcb};
use crate::time::{Duration, Instant};
use hashbrown::HashTable;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use synack_wire::{ChecksumMode, Ecn, IpRepr, SeqNum, TcpFlags, TcpOptions, TcpRepr, WireError};

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

/// A status snapshot of one connection, like Linux's TCP_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnStatus {
    /// State.
    pub state: State,
    /// Addresses.
    pub tuple: FourTuple,
    /// Our initial sequence number.
    pub iss: SeqNum,
    /// The peer's initial sequence number (zero before it is known).
    pub irs: SeqNum,
    /// Oldest unacknowledged sequence number.
    pub snd_una: SeqNum,
    /// Next sequence number to send.
    pub snd_nxt: SeqNum,
    /// Next sequence number expected.
    pub rcv_nxt: SeqNum,
    /// The peer's window (scaled).
    pub snd_wnd: u32,
    /// Our advertised window.
    pub rcv_wnd: u32,
    /// The peer's window shift.
    pub snd_wscale: u8,
    /// Our window shift.
    pub rcv_wscale: u8,
    /// Effective send MSS.
    pub snd_mss: u16,
    /// Smoothed RTT, once measured.
    pub srtt: Option<Duration>,
    /// RTT variance.
    pub rttvar: Duration,
    /// Current retransmission timeout (with backoff).
    pub rto: Duration,
    /// Congestion window in bytes.
    pub cwnd: u32,
    /// Slow-start threshold in bytes (`u32::MAX` when unset).
    pub ssthresh: u32,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// Bytes sent and not yet acknowledged.
    pub bytes_in_flight: u32,
    /// New payload bytes sent.
    pub bytes_sent: u64,
    /// Payload bytes acknowledged by the peer.
    pub bytes_acked: u64,
    /// Payload bytes received in order.
    pub bytes_received: u64,
    /// Segments sent.
    pub segs_out: u64,
    /// Segments received.
    pub segs_in: u64,
    /// Bytes waiting to be read.
    pub unread: usize,
    /// Bytes in the send buffer (unsent or unacknowledged).
    pub send_queued: usize,
    /// Keepalive probes sent without answer.
    pub keepalive_probes: u32,
    /// Window scaling is in use (both SYNs carried the option, RFC 7323 2.2).
    pub window_scaling: bool,
    /// SACK is in use (both SYNs carried SACK-permitted, RFC 2018).
    pub sack: bool,
    /// Timestamps are in use (both SYNs carried them, RFC 7323 3.2).
    pub timestamps: bool,
    /// ECN is in use (RFC 3168 6.1.1: both sides sent only ECN-setup SYNs and
    /// SYN,ACKs): new data goes out ECT(0) and ECE halves the window.
    pub ecn: bool,
    /// The error the connection failed with, if any.
    pub error: Option<ConnError>,
}

/// A listener's counters: what an operator needs to recognise a SYN flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ListenerStatus {
    /// Half-open (SYN_RCVD) entries now.
    pub syn_queue: usize,
    /// Limit of half-open entries.
    pub syn_queue_limit: usize,
    /// Completed connections waiting for accept.
    pub accept_queue: usize,
    /// Limit of the accept queue (the backlog).
    pub accept_queue_limit: usize,
    /// Distinct source addresses among the half-open entries now.
    pub distinct_sources: usize,
    /// SYNs received.
    pub syns_received: u64,
    /// SYN,ACKs retransmitted by half-open entries.
    pub synack_retransmits: u64,
    /// SYN,ACKs sent with a cookie.
    pub cookies_sent: u64,
    /// ACKs whose cookie was valid (connections recreated).
    pub cookies_validated: u64,
    /// ACKs whose cookie was invalid.
    pub cookies_rejected: u64,
    /// SYNs dropped because a queue was full and cookies were off.
    pub syns_dropped: u64,
    /// Completed handshakes dropped because the accept queue was full.
    pub accept_overflows: u64,
    /// Handshakes completed.
    pub established: u64,
    /// Half-open entries that gave up or were reset.
    pub half_open_expired: u64,
}

/// Stack-wide counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StackStats {
    /// Packets handed to `handle_packet`.
    pub packets_in: u64,
    /// Packets produced by `poll_transmit`.
    pub packets_out: u64,
    /// RSTs sent for segments that matched no connection.
    pub resets_sent: u64,
    /// Connections opened actively.
    pub active_opens: u64,
    /// Connections opened passively (handshakes completed).
    pub passive_opens: u64,
    /// ICMP and ICMPv6 messages that parsed, whatever came of them (those
    /// ignored are also counted in `drops`).
    pub icmp_in: u64,
    /// Every drop, by reason.
    pub drops: BTreeMap<DropReason, u64>,
}

#[derive(Debug)]
struct Listener {
    local: SocketAddr,
    backlog: usize,
    syn_backlog: usize,
    cfg: Arc<ConnConfig>,
    accept: VecDeque<ConnId>,
    half_open: usize,
    sources: HashMap<IpAddr, u32>,
    status: ListenerStatus,
}

/// One connection entry: 16 bytes, as there is one per connection.
#[derive(Debug)]
struct Slot {
    generation: u32,
    /// Position of this slot's entry in the timer heap (`NOT_QUEUED`: none) in
    /// the low 31 bits; the top bit says the slot is in the output queue.
    heap_and_dirty: u32,
    tcb: Option<Box<Tcb>>,
}

/// `Slot::heap_pos` of a slot with no deadline.
const NOT_QUEUED: u32 = u32::MAX >> 1;
/// The "in the output queue" bit of `Slot::heap_and_dirty`.
const DIRTY: u32 = 1 << 31;
/// Slot indices stay below this, so that heap positions fit in 31 bits.
const MAX_SLOTS: u32 = NOT_QUEUED;

impl Slot {
    fn heap_pos(&self) -> u32 {
        self.heap_and_dirty & !DIRTY
    }

    fn set_heap_pos(&mut self, pos: u32) {
        self.heap_and_dirty = (self.heap_and_dirty & DIRTY) | pos;
    }

    fn dirty(&self) -> bool {
        self.heap_and_dirty & DIRTY != 0
    }

    fn set_dirty(&mut self, dirty: bool) {
        if dirty {
            self.heap_and_dirty |= DIRTY;
        } else {
            self.heap_and_dirty &= !DIRTY;
        }
    }
}

/// The connections' deadlines: a binary min-heap of (deadline, slot index)
/// with at most one entry per slot, whose slot records the entry's position,
/// so a deadline that changes moves its entry instead of leaving a stale one
/// behind. Ties go to the lower slot index.
#[derive(Debug, Default)]
struct TimerHeap {
    heap: Vec<(Instant, u32)>,
}

impl TimerHeap {
    fn peek(&self) -> Option<(Instant, u32)> {
        self.heap.first().copied()
    }

    /// Set (or with `None` remove) the deadline of slot `index`.
    fn set(&mut self, slots: &mut [Slot], index: u32, deadline: Option<Instant>) {
        let pos = slots[index as usize].heap_pos();
        match (pos, deadline) {
            (NOT_QUEUED, None) => {}
            (NOT_QUEUED, Some(d)) => {
                let at = self.heap.len();
                self.heap.push((d, index));
                slots[index as usize].set_heap_pos(at as u32);
                self.sift_up(slots, at);
            }
            (pos, Some(d)) => {
                let pos = pos as usize;
                let old = self.heap[pos];
                if old.0 != d {
                    self.heap[pos].0 = d;
                    if (d, index) < old {
                        self.sift_up(slots, pos);
                    } else {
                        self.sift_down(slots, pos);
                    }
                }
            }
            (pos, None) => {
                let pos = pos as usize;
                slots[index as usize].set_heap_pos(NOT_QUEUED);
                let last = self.heap.len() - 1;
                if pos != last {
                    let moved = self.heap[last];
                    let removed = self.heap[pos];
                    self.heap[pos] = moved;
                    self.heap.pop();
                    slots[moved.1 as usize].set_heap_pos(pos as u32);
                    if moved < removed {
                        self.sift_up(slots, pos);
                    } else {
                        self.sift_down(slots, pos);
                    }
                } else {
                    self.heap.pop();
                }
                self.shrink_if_sparse();
            }
        }
    }

    /// Give memory back once at most a quarter of the heap's capacity is in
    /// use (deadlines of a burst of connections have passed; idle
    /// connections have none): shrink to twice the entries. Amortized O(1):
    /// the entries must halve again before the next shrink.
    fn shrink_if_sparse(&mut self) {
        const MIN_CAPACITY: usize = 64;
        let cap = self.heap.capacity();
        if cap > MIN_CAPACITY && self.heap.len() < cap / 4 {
            self.heap.shrink_to((2 * self.heap.len()).max(MIN_CAPACITY));
        }
    }

    fn sift_up(&mut self, slots: &mut [Slot], mut pos: usize) {
        let e = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            let p = self.heap[parent];
            if p <= e {
                break;
            }
            self.heap[pos] = p;
            slots[p.1 as usize].set_heap_pos(pos as u32);
            pos = parent;
        }
        self.heap[pos] = e;
        slots[e.1 as usize].set_heap_pos(pos as u32);
    }

    fn sift_down(&mut self, slots: &mut [Slot], mut pos: usize) {
        let e = self.heap[pos];
        let n = self.heap.len();
        loop {
            let l = 2 * pos + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && self.heap[r] < self.heap[l] {
                r
            } else {
                l
            };
            let ch = self.heap[c];
            if e <= ch {
                break;
            }
            self.heap[pos] = ch;
            slots[ch.1 as usize].set_heap_pos(pos as u32);
            pos = c;
        }
        self.heap[pos] = e;
        slots[e.1 as usize].set_heap_pos(pos as u32);
    }
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

/// A control segment owned by no connection (RST replies, cookie SYN,ACKs).
#[derive(Debug, Clone, Copy)]
struct CtlSeg {
    tuple: FourTuple,
    ip: IpOpts,
    seq: SeqNum,
    ack: SeqNum,
    flags: TcpFlags,
    window: u16,
    options: TcpOptions,
    reason: SendReason,
}

/// Most control segments queued before further ones are dropped (bounded memory under flood).
const MAX_CTL_QUEUE: usize = 4096;

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
    live: usize,
    /// Connections by 4-tuple: slot indices, the tuple itself kept once, in
    /// the slot's TCB (every indexed slot holds its TCB, except inside
    /// `with_tcb`'s and `poll_transmit`'s callbacks, which never touch the table).
    demux: HashTable<u32>,
    demux_hash: TableHash,
    listeners: Vec<Option<Listener>>,
    listen_map: HashMap<SocketAddr, ListenerId, TableHash>,
    /// Bound sockets ([`Stack::bind`]), at most [`MAX_BOUND`]; `None` is a free slot.
    bound: Vec<Option<Bound>>,
    timers: TimerHeap,
    dirty: VecDeque<ConnId>,
    ctl: VecDeque<CtlSeg>,
    sink: Sink,
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
        Stack {
            cfg,
            conn_cfg: Arc::new(cfg.conn),
            addrs: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            demux: HashTable::new(),
            demux_hash: TableHash::default(),
            listeners: Vec::new(),
            listen_map: HashMap::default(),
            bound: Vec::new(),
            timers: TimerHeap::default(),
            dirty: VecDeque::new(),
            ctl: VecDeque::new(),
            sink: Sink::new(cfg.max_events, cfg.trace),
            secrets,
            cookie_prev: None,
            challenge_tokens: cfg.challenge_ack_limit,
            challenge_refill: Instant::ZERO,
            stats: StackStats::default(),
            last_now: Instant::ZERO,
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
            .map_or(from_mtu, |m| m.max(crate::tcb::MIN_SND_MSS).min(from_mtu))
    }

    /// RFC 6528: ISN = M + F(4-tuple, secret), M ticking every 4 microseconds.
    fn isn(&self, tuple: &FourTuple, now: Instant) -> SeqNum {
        let f = siphash(self.secrets.isn, &tuple_words(tuple, 0)) as u32;
        SeqNum(((now.micros() / 4) as u32).wrapping_add(f))
    }

    /// RFC 7323 5.4 (as RFC 6528 for ISNs): a per-connection offset for the
    /// timestamp clock, a keyed hash of the 4-tuple, so TSvals do not reveal uptime.
    fn ts_offset(&self, tuple: &FourTuple) -> u32 {
        siphash(self.secrets.ts, &tuple_words(tuple, 0)) as u32
    }

    /// Check the ACK of a cookie SYN,ACK against the current cookie key, then
    /// against the one before the last rotation.
    fn check_cookie(&self, tuple: &FourTuple, seg: &TcpRepr<'_>, now: Instant) -> Option<u16> {
        cookie::check(self.secrets.cookie, tuple, seg.seq, seg.ack, now).or_else(|| {
            self.cookie_prev
                .and_then(|k| cookie::check(k, tuple, seg.seq, seg.ack, now))
        })
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

    // ----- handles ---------------------------------------------------------

    fn tcb(&self, id: ConnId) -> Result<&Tcb, Error> {
        self.slots
            .get(id.index as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.tcb.as_deref())
            .filter(|t| t.owner != Owner::Orphan)
            .ok_or(Error::InvalidHandle)
    }

    /// The connection with this 4-tuple in the demultiplexing table.
    fn demux_get(&self, tuple: &FourTuple) -> Option<ConnId> {
        let slots = &self.slots;
        let key = PackedTuple::from(*tuple);
        self.demux
            .find(self.demux_hash.hash_one(key), |&i| {
                slots[i as usize]
                    .tcb
                    .as_deref()
                    .is_some_and(|t| t.packed_tuple == key)
            })
            .map(|&index| ConnId {
                index,
                generation: slots[index as usize].generation,
            })
    }

    /// Index `id` (whose slot already holds its TCB) under `tuple`.
    fn demux_insert(&mut self, tuple: &FourTuple, id: ConnId) {
        let (slots, hash) = (&self.slots, self.demux_hash);
        self.demux
            .insert_unique(hash.hash_one(PackedTuple::from(*tuple)), id.index, |&i| {
                let t = slots[i as usize].tcb.as_deref();
                hash.hash_one(
                    t.map(|t| t.packed_tuple)
                        .expect("indexed slot holds its TCB"),
                )
            });
    }

    /// Remove `id`'s entry under `tuple`, if it has one.
    fn demux_remove(&mut self, key: PackedTuple, id: ConnId) {
        if let Ok(e) = self
            .demux
            .find_entry(self.demux_hash.hash_one(key), |&i| i == id.index)
        {
            e.remove();
        }
    }

    fn alloc(&mut self) -> Result<ConnId, Error> {
        if self.live >= self.cfg.max_connections {
            return Err(Error::TooManyConnections);
        }
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(self.slots.len()).map_err(|_| Error::TooManyConnections)?;
                if i >= MAX_SLOTS {
                    return Err(Error::TooManyConnections);
                }
                self.slots.push(Slot {
                    generation: 0,
                    heap_and_dirty: NOT_QUEUED,
                    tcb: None,
                });
                i
            }
        };
        self.live += 1;
        let slot = &mut self.slots[index as usize];
        Ok(ConnId {
            index,
            generation: slot.generation,
        })
    }

    fn release(&mut self, id: ConnId) {
        if let Some(slot) = self.slots.get_mut(id.index as usize) {
            if slot.generation == id.generation && slot.tcb.is_some() {
                if let Some(tuple) = slot.tcb.as_deref().map(|t| t.packed_tuple) {
                    self.demux_remove(tuple, id);
                }
                let slot = &mut self.slots[id.index as usize];
                slot.tcb = None;
                slot.generation = slot.generation.wrapping_add(1);
                slot.set_dirty(false);
                self.timers.set(&mut self.slots, id.index, None);
                self.free.push(id.index);
                self.live -= 1;
            }
        }
    }

    /// Run `f` on a connection with a context, then do the bookkeeping its
    /// state change requires (accept queue, demux, timers, output, freeing).
    fn with_tcb<R>(
        &mut self,
        id: ConnId,
        now: Instant,
        f: impl FnOnce(&mut Tcb, &mut SegCtx<'_>) -> R,
    ) -> Option<R> {
        self.last_now = self.last_now.max(now);
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let mut tcb = slot.tcb.take()?;
        let before = tcb.state;
        let mut ctx = SegCtx {
            now,
            sink: &mut self.sink,
            challenge_tokens: &mut self.challenge_tokens,
        };
        let r = f(&mut tcb, &mut ctx);
        let after = tcb.state;
        self.slots[id.index as usize].tcb = Some(tcb);
        self.after_change(id, before, after, now, true);
        Some(r)
    }

    fn after_change(
        &mut self,
        id: ConnId,
        before: State,
        after: State,
        _now: Instant,
        requeue: bool,
    ) {
        if self.slots[id.index as usize].tcb.is_none() {
            return;
        }
        if before != after {
            self.state_changed(id, before, after);
        }
        // One look at the TCB for the timer, the output queue and reaping.
        let Some(tcb) = self.slots[id.index as usize].tcb.as_deref() else {
            return;
        };
        let next = tcb.next_deadline();
        let wants_output = tcb.wants_output();
        let passive_dead =
            tcb.state == State::Closed && tcb.owner == Owner::AcceptQueue && !wants_output;
        let reap = tcb.is_reapable() || passive_dead;
        let origin = tcb.origin;
        self.timers.set(&mut self.slots, id.index, next);
        let slot = &mut self.slots[id.index as usize];
        if requeue && wants_output && !slot.dirty() {
            slot.set_dirty(true);
            self.dirty.push_back(id);
        }
        if reap {
            if passive_dead {
                if let crate::tcb::Origin::Passive(l) = origin {
                    if let Some(lst) = self.listener_mut(l) {
                        lst.accept.retain(|c| *c != id);
                    }
                }
            }
            self.release(id);
        }
    }

    /// The bookkeeping a state change requires: the listener's queues when a
    /// half-open entry leaves SYN_RCVD, the demultiplexing entry on CLOSED.
    fn state_changed(&mut self, id: ConnId, before: State, after: State) {
        let Some(tcb) = self.slots[id.index as usize].tcb.as_deref() else {
            return;
        };
        let origin = tcb.origin;
        let key = tcb.packed_tuple;
        // A passive half-open entry left SYN_RCVD.
        if before == State::SynReceived {
            if let crate::tcb::Origin::Passive(l) = origin {
                let established = after.is_synchronized();
                if let Some(lst) = self.listener_mut(l) {
                    lst.half_open = lst.half_open.saturating_sub(1);
                    dec_source(&mut lst.sources, key.unpack().remote.ip());
                    if established {
                        lst.status.established += 1;
                        lst.accept.push_back(id);
                    } else {
                        lst.status.half_open_expired += 1;
                    }
                }
                if established {
                    self.stats.passive_opens += 1;
                }
            }
        }
        if after == State::Closed {
            self.demux_remove(key, id);
        }
    }

    fn schedule(&mut self, id: ConnId) {
        let Some(slot) = self.slots.get_mut(id.index as usize) else {
            return;
        };
        let Some(tcb) = slot.tcb.as_deref() else {
            return;
        };
        let next = tcb.next_deadline();
        self.timers.set(&mut self.slots, id.index, next);
    }

    fn mark_dirty(&mut self, id: ConnId) {
        let Some(slot) = self.slots.get_mut(id.index as usize) else {
            return;
        };
        if slot.dirty() {
            return;
        }
        if slot.tcb.as_deref().is_some_and(|t| t.wants_output()) {
            slot.set_dirty(true);
            self.dirty.push_back(id);
        }
    }

    fn listener_mut(&mut self, l: ListenerId) -> Option<&mut Listener> {
        self.listeners
            .get_mut(l.0 as usize)
            .and_then(|x| x.as_mut())
    }

    fn listener(&self, l: ListenerId) -> Result<&Listener, Error> {
        self.listeners
            .get(l.0 as usize)
            .and_then(|x| x.as_ref())
            .ok_or(Error::InvalidHandle)
    }

    // ----- socket calls ------------------------------------------------------

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
        let listener = Listener {
            local,
            backlog,
            syn_backlog: syn_backlog.max(1),
            cfg: self.shared_conn_config(cfg),
            accept: VecDeque::new(),
            half_open: 0,
            sources: HashMap::new(),
            status: ListenerStatus::default(),
        };
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
        self.listen_map.insert(local, id);
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
        Ok(id)
    }

    /// Stop listening: half-open entries are dropped, unaccepted connections reset.
    pub fn close_listener(&mut self, now: Instant, l: ListenerId) -> Result<(), Error> {
        let lst = self
            .listeners
            .get_mut(l.0 as usize)
            .and_then(|x| x.take())
            .ok_or(Error::InvalidHandle)?;
        self.listen_map.remove(&lst.local);
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
                if t.origin == crate::tcb::Origin::Passive(l) && t.state == State::SynReceived {
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
        Ok(s)
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
        tcb.ts_offset = ts_offset;
        self.slots[id.index as usize].tcb = Some(Box::new(tcb));
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
        let start = siphash(self.secrets.port, &tuple_words(&probe, self.live as u64)) as u32;
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
        self.with_tcb(id, now, |t, _| t.send(data))
            .ok_or(Error::InvalidHandle)?
    }

    /// RECEIVE: copy out in-order bytes. `Ok(0)` means end of stream (the peer closed).
    pub fn recv(&mut self, now: Instant, id: ConnId, buf: &mut [u8]) -> Result<usize, Error> {
        self.tcb(id)?;
        self.with_tcb(id, now, |t, _| t.recv(buf, false, now))
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

    /// Turn Nagle's algorithm off (`true`, TCP_NODELAY) or on.
    pub fn set_nodelay(&mut self, id: ConnId, nodelay: bool) -> Result<(), Error> {
        self.tcb(id)?;
        self.with_tcb(id, self.last_now, |t, _| t.set_nodelay(nodelay))
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

    /// A TCP_INFO-like snapshot.
    pub fn status(&self, id: ConnId) -> Result<ConnStatus, Error> {
        let t = self.tcb(id)?;
        Ok(conn_status(t))
    }

    /// Every live connection (orphans in TIME_WAIT included), like `ss -tan`.
    pub fn connections(&self) -> Vec<(Option<ConnId>, ConnStatus)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.tcb.as_deref().map(|t| {
                    let id = ConnId {
                        index: i as u32,
                        generation: s.generation,
                    };
                    ((t.owner != Owner::Orphan).then_some(id), conn_status(t))
                })
            })
            .collect()
    }

    /// Number of live connection entries (half-open and TIME_WAIT included).
    pub fn connection_count(&self) -> usize {
        self.live
    }

    /// Stack-wide counters.
    pub fn stats(&self) -> StackStats {
        let mut s = self.stats.clone();
        s.drops = self.sink.drops().clone();
        s
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

    // ----- packets in ---------------------------------------------------------

    fn drop_pkt(
        &mut self,
        now: Instant,
        conn: Option<ConnId>,
        seg: Option<SegmentSummary>,
        reason: DropReason,
    ) {
        self.sink.count_drop(reason);
        self.sink
            .push(now, EventKind::Dropped { conn, seg, reason });
    }

    /// An IP packet arrived.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.last_now = self.last_now.max(now);
        self.stats.packets_in += 1;
        self.refill_challenge(now);
        let (ip, seg) = match synack_wire::parse_packet(packet, ChecksumMode::Verify) {
            Ok(x) => x,
            Err(WireError::NotTcp) => {
                self.handle_icmp(now, packet);
                return;
            }
            Err(e) => {
                self.drop_pkt(now, None, None, DropReason::Malformed(e));
                return;
            }
        };
        let remote = SocketAddr::new(ip.src(), seg.src_port);
        let local = SocketAddr::new(ip.dst(), seg.dst_port);
        let sum = summary(remote, local, &seg);
        if !self.addrs.contains(&local.ip()) {
            self.drop_pkt(now, None, Some(sum), DropReason::NotOurAddress);
            return;
        }
        let tuple = FourTuple { local, remote };
        if let Some(id) = self.demux_get(&tuple) {
            self.sink.push(
                now,
                EventKind::SegmentReceived {
                    conn: Some(id),
                    seg: sum,
                },
            );
            // RFC 6191 / RFC 1122 4.2.2.13: a new SYN may reopen a TIME_WAIT connection
            // when its sequence number is above the old RCV.NXT and a listener exists.
            let reuse = self.tcb_any(id).is_some_and(|t| {
                t.state == State::TimeWait
                    && seg.flags.syn()
                    && !seg.flags.ack()
                    && !seg.flags.rst()
                    && seg.seq.gt(t.rcv_nxt)
            }) && self.find_listener(&local).is_some();
            if reuse {
                self.with_tcb(id, now, |t, ctx| {
                    let _ = ctx;
                    t.owner = Owner::Orphan;
                });
                self.force_close(id, now, Cause::TimeWaitReuse);
            } else {
                // RFC 3168 6.1.3: the TCB decides whether a CE mark counts.
                let ce = ip.ecn() == Ecn::Ce;
                let disp = self.with_tcb(id, now, |t, ctx| {
                    (t.on_packet(&seg, ce, ctx), IpOpts::of(&t.cfg))
                });
                let (disp, ip) = disp.unwrap_or((Disposition::Done, self.default_ip()));
                self.dispose(id, &tuple, disp, ip);
                return;
            }
        } else {
            self.sink.push(
                now,
                EventKind::SegmentReceived {
                    conn: None,
                    seg: sum,
                },
            );
        }
        match self.find_listener(&local) {
            Some(l) => self.listener_segment(now, l, tuple, &seg, sum),
            None => {
                // RFC 9293 3.10.7.1: CLOSED.
                match crate::tcb::closed_reply(&seg) {
                    Disposition::Reset { seq, ack } => {
                        self.drop_pkt(now, None, Some(sum), DropReason::NoConnection);
                        // A bound socket answers with its own TTL and DSCP.
                        let ip = match self.find_bound(&local) {
                            Some(b) => IpOpts::of(&b.cfg),
                            None => self.default_ip(),
                        };
                        self.queue_rst(tuple, seq, ack, ip);
                    }
                    _ => self.drop_pkt(now, None, Some(sum), DropReason::RstNoConnection),
                }
            }
        }
    }

    /// A packet that is not TCP: an ICMP or ICMPv6 error about one of our
    /// segments (RFC 1122 4.2.3.9, RFC 4443 2.4), or something for no one.
    fn handle_icmp(&mut self, now: Instant, packet: &[u8]) {
        let (ip, msg) = match synack_wire::parse_icmp_packet(packet, ChecksumMode::Verify) {
            Ok(x) => x,
            Err(WireError::NotIcmp) => {
                // Neither TCP nor ICMP (UDP, ...): counted as before, not TCP.
                self.drop_pkt(now, None, None, DropReason::Malformed(WireError::NotTcp));
                return;
            }
            Err(e) => {
                self.drop_pkt(now, None, None, DropReason::IcmpMalformed(e));
                return;
            }
        };
        self.stats.icmp_in += 1;
        if !self.addrs.contains(&ip.dst()) {
            self.drop_pkt(now, None, None, DropReason::NotOurAddress);
            return;
        }
        // The quoted segment went from us to the peer: its source is our end.
        let quote = msg.quoted_tcp();
        let tuple = quote.ok().map(|q| FourTuple {
            local: q.src,
            remote: q.dst,
        });
        let conn = tuple.and_then(|t| self.demux_get(&t));
        self.sink.push(
            now,
            EventKind::IcmpReceived {
                conn,
                from: ip.src(),
                message: msg.message,
                tuple,
                seq: quote.ok().map(|q| q.seq),
            },
        );
        let effect = match icmp::classify(&msg.message) {
            Ok(e) => e,
            Err(reason) => {
                self.drop_pkt(now, conn, None, reason);
                return;
            }
        };
        let q = match quote {
            Ok(q) => q,
            Err(e) => {
                self.drop_pkt(now, None, None, DropReason::IcmpMalformed(e));
                return;
            }
        };
        let (Some(id), Some(tuple)) = (conn, tuple) else {
            self.drop_pkt(now, None, None, DropReason::IcmpNoConnection);
            return;
        };
        let action = match effect {
            IcmpEffect::Fatal(e) => IcmpAction::Fatal(e),
            IcmpEffect::Soft(e) => IcmpAction::Soft(e),
            IcmpEffect::TooBig(reported) => IcmpAction::PathMtu(icmp::path_mtu(
                tuple.remote.is_ipv4(),
                reported,
                q.ip_len,
                self.cfg.min_path_mtu,
            )),
        };
        let disp = self.with_tcb(id, now, |t, ctx| {
            (t.on_icmp(action, q.seq, ctx), IpOpts::of(&t.cfg))
        });
        let (disp, ip) = disp.unwrap_or((Disposition::Done, self.default_ip()));
        self.dispose(id, &tuple, disp, ip);
    }

    fn tcb_any(&self, id: ConnId) -> Option<&Tcb> {
        self.slots
            .get(id.index as usize)
            .filter(|s| s.generation == id.generation)
            .and_then(|s| s.tcb.as_deref())
    }

    fn force_close(&mut self, id: ConnId, now: Instant, cause: Cause) {
        if let Some(t) = self.tcb_any(id) {
            let (tuple, from) = (t.tuple(), t.state);
            self.sink.push(
                now,
                EventKind::StateChanged {
                    conn: Some(id),
                    listener: None,
                    tuple,
                    from,
                    to: State::Closed,
                    cause,
                },
            );
        }
        self.release(id);
    }

    /// What a connection's `on_packet` asked for; a RST it sends carries its
    /// IP options `ip`.
    fn dispose(&mut self, id: ConnId, tuple: &FourTuple, d: Disposition, ip: IpOpts) {
        match d {
            Disposition::Done => {}
            Disposition::Reset { seq, ack } => self.queue_rst(*tuple, seq, ack, ip),
            Disposition::BackToListen => {
                // The half-open entry is forgotten; the listener stays in LISTEN.
                self.release(id);
            }
        }
    }

    fn find_listener(&self, local: &SocketAddr) -> Option<ListenerId> {
        self.listen_map.get(local).copied().or_else(|| {
            let any = if local.is_ipv4() {
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
            } else {
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
            };
            self.listen_map
                .get(&SocketAddr::new(any, local.port()))
                .copied()
        })
    }

    /// The IP options of segments no socket owns: the stack's connection defaults.
    fn default_ip(&self) -> IpOpts {
        IpOpts::of(&self.conn_cfg)
    }

    fn queue_rst(&mut self, tuple: FourTuple, seq: SeqNum, ack: Option<SeqNum>, ip: IpOpts) {
        let flags = if ack.is_some() {
            TcpFlags::RST | TcpFlags::ACK
        } else {
            TcpFlags::RST
        };
        self.push_ctl(CtlSeg {
            tuple,
            ip,
            seq,
            ack: ack.unwrap_or(SeqNum(0)),
            flags,
            window: 0,
            options: TcpOptions::default(),
            reason: SendReason::Reset,
        });
    }

    fn push_ctl(&mut self, c: CtlSeg) {
        if self.ctl.len() < MAX_CTL_QUEUE {
            self.ctl.push_back(c);
        }
    }

    /// RFC 9293 3.10.7.2: a segment for a listener.
    fn listener_segment(
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
            if !f.syn() && self.cfg.syn_cookies != SynCookies::Off {
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
            return;
        }
        // Third, check for a SYN.
        if !f.syn() {
            // "Any other control or text-bearing segment (not containing SYN) must have
            // an ACK and thus would be discarded by the ACK processing."
            self.drop_pkt(now, None, Some(sum), DropReason::ListenerIgnored);
            return;
        }
        let policy = self.cfg.syn_cookies;
        let Some(lst) = self.listener_mut(l) else {
            return;
        };
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
            // RFC 4987 3.6: answer with a cookie and keep no state.
            let peer_mss =
                seg.options
                    .mss
                    .unwrap_or(if tuple.remote.is_ipv4() { 536 } else { 1220 });
            let cfg = Arc::clone(&lst.cfg);
            let our = self.our_mss(&tuple.remote, &cfg);
            let (iss, _) = cookie::make(self.secrets.cookie, &tuple, seg.seq, peer_mss, now);
            if let Some(lst) = self.listener_mut(l) {
                lst.status.cookies_sent += 1;
            }
            let window = (cfg.recv_buffer.min(0xffff)) as u16;
            self.push_ctl(CtlSeg {
                tuple,
                ip: IpOpts::of(&cfg),
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
            return;
        }
        if syn_full {
            lst.status.syns_dropped += 1;
            self.drop_pkt(now, None, Some(sum), DropReason::SynQueueFull);
            return;
        }
        let cfg = Arc::clone(&lst.cfg);
        let id = match self.alloc() {
            Ok(id) => id,
            Err(_) => {
                if let Some(lst) = self.listener_mut(l) {
                    lst.status.syns_dropped += 1;
                }
                self.drop_pkt(now, None, Some(sum), DropReason::ConnectionLimit);
                return;
            }
        };
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
        tcb.ts_offset = ts_offset;
        self.slots[id.index as usize].tcb = Some(Box::new(tcb));
        self.demux_insert(&tuple, id);
        self.schedule(id);
        self.mark_dirty(id);
    }

    fn cookie_accept(
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
        self.slots[id.index as usize].tcb = Some(Box::new(tcb));
        self.demux_insert(&tuple, id);
        if let Some(lst) = self.listener_mut(l) {
            lst.status.cookies_validated += 1;
            lst.status.established += 1;
            lst.accept.push_back(id);
        }
        self.stats.passive_opens += 1;
        self.schedule(id);
        self.mark_dirty(id);
    }

    fn refill_challenge(&mut self, now: Instant) {
        // RFC 5961 7: at most `challenge_ack_limit` challenge ACKs per second.
        if now.saturating_since(self.challenge_refill) >= Duration::from_secs(1) {
            self.challenge_refill = now;
            self.challenge_tokens = self.cfg.challenge_ack_limit;
        }
    }

    // ----- packets out, timers, events ----------------------------------------

    /// Write the next outgoing IP packet into `buf`. Returns `false` when
    /// nothing is waiting.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        if let Some(c) = self.ctl.pop_front() {
            if c.flags.rst() {
                self.stats.resets_sent += 1;
            }
            self.emit(
                now,
                None,
                c.tuple,
                c.seq,
                c.ack,
                c.flags,
                c.window,
                c.options,
                c.reason,
                Ecn::NotEct,
                c.ip,
                buf,
                0,
                |_| {},
            );
            return true;
        }
        while let Some(id) = self.dirty.pop_front() {
            let Some(slot) = self.slots.get_mut(id.index as usize) else {
                continue;
            };
            if slot.generation != id.generation {
                continue;
            }
            slot.set_dirty(false);
            let Some(mut tcb) = slot.tcb.take() else {
                continue;
            };
            let mut payload = 0..0;
            let before = tcb.state;
            let out: Option<OutSegment> = tcb.poll_segment(now, &mut payload);
            let tuple = tcb.tuple();
            let after = tcb.state;
            if let Some(o) = out {
                // The payload goes from the send buffer straight into the packet.
                let t = &*tcb;
                self.emit(
                    now,
                    Some(id),
                    tuple,
                    o.seq,
                    o.ack,
                    o.flags,
                    o.window,
                    o.options,
                    o.reason,
                    if o.ect { Ecn::Ect0 } else { Ecn::NotEct },
                    IpOpts::of(&t.cfg),
                    buf,
                    payload.len(),
                    |b| t.copy_payload(payload, b),
                );
            }
            self.slots[id.index as usize].tcb = Some(tcb);
            // Only a connection that produced a segment may have more to say now; one that
            // produced nothing waits for its next input (ACK, window, timer, user call).
            self.after_change(id, before, after, now, out.is_some());
            if out.is_some() {
                return true;
            }
        }
        false
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        now: Instant,
        conn: Option<ConnId>,
        tuple: FourTuple,
        seq: SeqNum,
        ack: SeqNum,
        flags: TcpFlags,
        window: u16,
        options: TcpOptions,
        reason: SendReason,
        ecn: Ecn,
        ip_opts: IpOpts,
        buf: &mut Vec<u8>,
        payload_len: usize,
        fill: impl FnOnce(&mut Vec<u8>),
    ) {
        let repr = TcpRepr {
            src_port: tuple.local.port(),
            dst_port: tuple.remote.port(),
            seq,
            ack,
            flags,
            window,
            urgent: 0,
            options,
            payload: &[],
        };
        let Some(ip) = IpRepr::new(tuple.local.ip(), tuple.remote.ip()) else {
            buf.clear();
            return;
        };
        // RFC 791 3.1 TTL, RFC 2474 3 DSCP: the socket's; RFC 3168 5: ECN, the TCP's.
        let ip = ip
            .with_ecn(ecn)
            .with_ttl(ip_opts.ttl)
            .with_dscp(ip_opts.dscp);
        synack_wire::emit_packet_with(&ip, &repr, payload_len, buf, fill);
        self.stats.packets_out += 1;
        let mut seg = summary(tuple.local, tuple.remote, &repr);
        seg.len = payload_len as u32;
        self.sink
            .push(now, EventKind::SegmentSent { conn, seg, reason });
    }

    /// The earliest deadline at which `handle_timeout` must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|(t, _)| t)
    }

    /// Fire every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        self.refill_challenge(now);
        while let Some((t, index)) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.set(&mut self.slots, index, None);
            let slot = &self.slots[index as usize];
            let id = ConnId {
                index,
                generation: slot.generation,
            };
            let tuple = match slot.tcb.as_deref() {
                Some(tcb) => tcb.tuple(),
                None => continue,
            };
            let half_open_listener = slot.tcb.as_deref().and_then(|t| match (t.state, t.origin) {
                (State::SynReceived, crate::tcb::Origin::Passive(l)) => Some(l),
                _ => None,
            });
            let d = self.with_tcb(id, now, |t, ctx| (t.on_timeout(ctx), IpOpts::of(&t.cfg)));
            if let Some(l) = half_open_listener {
                if self
                    .tcb_any(id)
                    .is_some_and(|t| t.state == State::SynReceived && t.wants_output())
                {
                    if let Some(lst) = self.listener_mut(l) {
                        lst.status.synack_retransmits += 1;
                    }
                }
            }
            let (d, ip) = d.unwrap_or((Disposition::Done, self.default_ip()));
            self.dispose(id, &tuple, d, ip);
        }
    }

    /// The next event of the stream.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.sink.pop()
    }
}

fn dec_source(m: &mut HashMap<IpAddr, u32>, ip: IpAddr) {
    if let Some(c) = m.get_mut(&ip) {
        *c -= 1;
        if *c == 0 {
            m.remove(&ip);
        }
    }
}

fn conn_status(t: &Tcb) -> ConnStatus {
    let (srtt, rttvar, rto, _backoff, probes) = t.snapshot_parts();
    ConnStatus {
        state: t.state,
        tuple: t.tuple(),
        iss: t.iss,
        irs: t.irs,
        snd_una: t.snd_una,
        snd_nxt: t.snd_nxt,
        rcv_nxt: t.rcv_nxt,
        snd_wnd: t.snd_wnd,
        rcv_wnd: t.rcv_wnd(),
        snd_wscale: t.snd_wscale,
        rcv_wscale: t.rcv_wscale,
        snd_mss: t.snd_mss,
        srtt,
        rttvar,
        rto,
        cwnd: t.cwnd,
        ssthresh: t.ssthresh,
        retransmits: t.counters.retransmits.into(),
        bytes_in_flight: t.snd_max.since(t.snd_una),
        bytes_sent: t.counters.bytes_sent,
        bytes_acked: t.counters.bytes_acked,
        bytes_received: t.counters.bytes_received,
        segs_out: t.counters.segs_out,
        segs_in: t.counters.segs_in,
        unread: t.recv_ready(),
        send_queued: t.send_queued(),
        keepalive_probes: probes,
        window_scaling: t.ws_enabled,
        sack: t.sack_permitted,
        timestamps: t.ts_enabled,
        ecn: t.ecn.sender(),
        error: t.error,
    }
}
