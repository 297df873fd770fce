//! The driver: one thread owns the device side of a [`Stack`], feeds it
//! packets and the real clock, sleeps until the stack's next deadline or
//! the next packet, and wakes the applications whose sockets changed.
//!
//! Application calls lock the stack, make the socket call, write whatever
//! the stack has to send straight to the device, and wake the driver only
//! when the call brought the next deadline forward.

use crate::device::Device;
use crate::error::to_io;
use crate::multi::Steer;
use crate::pcap::PcapWriter;
use crate::sys::{self, EventFd};
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Wake, Waker};
use std::thread::JoinHandle;
use std::time::Duration;
use synack_proto::{
    Burst, ConnError, ConnId, ConnStatus, DeviceCaps, Error, Event, FastOpenKey, Instant,
    ListenerId, Ready, SecretKey, Stack, StackConfig, StackStats, State, Transmitter,
};

/// Most packets the driver reads per wake-up before it sends what the
/// stack has to say and lets the applications in.
const READ_BATCH: usize = 64;

/// A callback that sees every event of the stack as it happens (live traces).
pub type EventHook = Box<dyn FnMut(&Event) + Send>;

/// Which way a packet went through the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the device into the stack.
    In,
    /// From the stack out to the device.
    Out,
}

/// A callback that sees every packet in and out, with the stack's clock.
pub type PacketHook = Box<dyn FnMut(Instant, Direction, &[u8]) + Send>;

/// Faults the runtime applies to packets in both directions, like `netem`
/// on both ends of the link: loss, delay with jitter, duplication and
/// reordering (a reordered packet skips the delay and overtakes others).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Base one-way delay.
    pub delay: Duration,
    /// Delay varies uniformly by up to this much either way.
    pub jitter: Duration,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
    /// Probability that a packet is sent at once, overtaking delayed ones.
    pub reorder: f64,
    /// Seed of the fault generator.
    pub seed: u64,
}

/// How to build a [`Runtime`](crate::Runtime).
pub struct RuntimeConfig {
    /// Stack settings; the MTU is taken from the device.
    pub stack: StackConfig,
    /// The stack's own addresses.
    pub addresses: Vec<IpAddr>,
    /// **Insecure on a real network.** `Some(seed)` makes the stack's ISN,
    /// SYN-cookie, timestamp-offset and port keys a function of `seed`
    /// ([`synack_proto::Stack::new_deterministic`]) and turns key rotation
    /// off, so a test can repeat a run; anyone who guesses the seed can
    /// predict ISNs and forge cookies. `None` (the default): fresh keys from
    /// the operating system's random source.
    pub deterministic_seed: Option<u64>,
    /// How often the SYN-cookie key is replaced with a fresh random one (the
    /// previous key stays valid for the cookies it made); `None`: never.
    /// Default: every hour. The Fast Open cookie key (RFC 7413) is replaced
    /// with it, its previous key valid until the next replacement.
    pub cookie_key_rotation: Option<Duration>,
    /// How often the ISN, timestamp-offset and port keys are replaced
    /// ([`synack_proto::Stack::rotate_isn_secret`] says what that costs);
    /// `None` (the default): never, as Linux keeps its key for the boot.
    pub isn_key_rotation: Option<Duration>,
    /// Faults to inject on the link, if any.
    pub impairment: Option<Impairment>,
    /// Sees every event of the stack.
    pub on_event: Option<EventHook>,
    /// Sees every packet in and out.
    pub on_packet: Option<PacketHook>,
    /// Receives a pcap capture of every packet in and out.
    pub pcap: Option<Box<dyn Write + Send>>,
    /// How long the driver keeps running after the runtime is dropped so
    /// closing handshakes can finish.
    pub linger: Duration,
    /// Device queues, each with its own driver thread and stack (default
    /// 1). More than one needs a device that opens further queues
    /// ([`crate::Device::open_queue`]: a TUN device opened with
    /// [`crate::TunOptions::multi_queue`]). The kernel spreads flows over
    /// the queues by its flow hash; listeners listen on every stack,
    /// connections are opened on the stacks in turn, each from its own
    /// slice of the ephemeral ports; the stacks share the SYN-cookie key.
    /// Hooks and the capture see the packets of every queue.
    pub queues: usize,
}

impl RuntimeConfig {
    /// Default settings for a stack owning `addresses`.
    pub fn new(addresses: Vec<IpAddr>) -> RuntimeConfig {
        RuntimeConfig {
            stack: StackConfig::default(),
            addresses,
            deterministic_seed: None,
            cookie_key_rotation: Some(Duration::from_secs(3600)),
            isn_key_rotation: None,
            impairment: None,
            on_event: None,
            on_packet: None,
            pcap: None,
            linger: Duration::from_millis(300),
            queues: 1,
        }
    }
}

impl std::fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("stack", &self.stack)
            .field("addresses", &self.addresses)
            .field("impairment", &self.impairment)
            .field("linger", &self.linger)
            .field("queues", &self.queues)
            .finish_non_exhaustive()
    }
}

/// What a waiter waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    Conn(ConnId),
    Listener(ListenerId),
}

struct Delayed {
    at: u64,
    order: u64,
    packet: Vec<u8>,
    /// The device vouched for the checksums (inbound only).
    checksum_valid: bool,
}

impl PartialEq for Delayed {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.order) == (o.at, o.order)
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Delayed {
    // Reversed: BinaryHeap pops the earliest.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.at, o.order).cmp(&(self.at, self.order))
    }
}

struct Impairer {
    cfg: Impairment,
    rng: u64,
    order: u64,
    inbound: BinaryHeap<Delayed>,
    outbound: BinaryHeap<Delayed>,
}

impl Impairer {
    fn rand(&mut self) -> f64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The delays (in µs) of the copies of one packet: none when lost.
    fn fate(&mut self) -> Vec<u64> {
        if self.rand() < self.cfg.loss {
            return Vec::new();
        }
        let copies = if self.rand() < self.cfg.duplicate {
            2
        } else {
            1
        };
        (0..copies)
            .map(|_| {
                if self.rand() < self.cfg.reorder {
                    return 0;
                }
                let base = self.cfg.delay.as_micros() as f64;
                let j = self.cfg.jitter.as_micros() as f64;
                (base + (self.rand() * 2.0 - 1.0) * j).max(0.0) as u64
            })
            .collect()
    }

    fn next_release(&self) -> Option<u64> {
        let a = self.inbound.peek().map(|d| d.at);
        let b = self.outbound.peek().map(|d| d.at);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Everything behind the lock.
pub(crate) struct Inner {
    pub(crate) stack: Stack,
    /// The driver's wake-up time in µs (`u64::MAX`: none; 0: awake).
    planned: u64,
    wakers: HashMap<Key, Vec<Waker>>,
    to_wake: Vec<Waker>,
    closing: bool,
    stopped: bool,
    hook: Option<EventHook>,
    packet_hook: Option<PacketHook>,
    pcap: Option<Arc<Mutex<PcapWriter>>>,
    impair: Option<Impairer>,
    /// Packs the stack's segments into bursts the device cuts.
    tx: Transmitter,
    buf: Vec<u8>,
    send_errors: u64,
    rotation: Rotation,
}

/// When the driver next replaces the stack's keys with fresh random ones.
#[derive(Debug, Default)]
struct Rotation {
    cookie_every: Option<u64>,
    next_cookie: u64,
    isn_every: Option<u64>,
    next_isn: u64,
    /// Keys replaced.
    done: u64,
    /// Draws from the random source that failed (the old key stays; retried
    /// at the next period).
    failures: u64,
}

impl Rotation {
    fn new(cookie: Option<Duration>, isn: Option<Duration>) -> Rotation {
        let us = |d: Duration| (d.as_micros() as u64).max(1);
        let cookie_every = cookie.map(us);
        let isn_every = isn.map(us);
        Rotation {
            cookie_every,
            next_cookie: cookie_every.unwrap_or(u64::MAX),
            isn_every,
            next_isn: isn_every.unwrap_or(u64::MAX),
            done: 0,
            failures: 0,
        }
    }

    fn next(&self) -> u64 {
        self.next_cookie.min(self.next_isn)
    }

    /// Rotate what is due at `now` (µs since the runtime started); the new
    /// cookie keys (SYN cookie, Fast Open), if there are any, for the other
    /// stacks of the runtime. The Fast Open key (RFC 7413 4.1.2) turns with
    /// the SYN-cookie key; the one it replaces still validates the cookies
    /// it made until the next turn.
    fn run(&mut self, stack: &mut Stack, now: u64) -> Keys {
        let mut keys = Keys::default();
        if let Some(every) = self.cookie_every.filter(|_| now >= self.next_cookie) {
            match SecretKey::from_os() {
                Ok(k) => {
                    stack.rotate_cookie_secret(k);
                    keys.cookie = Some(k);
                    self.done += 1;
                }
                Err(_) => self.failures += 1,
            }
            match FastOpenKey::from_os() {
                Ok(k) => {
                    stack.rotate_fast_open_key(k);
                    keys.fast_open = Some(k);
                }
                Err(_) => self.failures += 1,
            }
            self.next_cookie = now.saturating_add(every);
        }
        if let Some(every) = self.isn_every.filter(|_| now >= self.next_isn) {
            match SecretKey::from_os() {
                Ok(k) => {
                    stack.rotate_isn_secret(k);
                    self.done += 1;
                }
                Err(_) => self.failures += 1,
            }
            self.next_isn = now.saturating_add(every);
        }
        keys
    }
}

/// Keys one stack's driver rotated, for the runtime's other stacks.
#[derive(Debug, Default, Clone, Copy)]
struct Keys {
    cookie: Option<SecretKey>,
    fast_open: Option<FastOpenKey>,
}

/// Record a packet in the capture, if there is one.
fn record(pcap: &Option<Arc<Mutex<PcapWriter>>>, packet: &[u8]) {
    if let Some(p) = pcap {
        p.lock().unwrap_or_else(|e| e.into_inner()).record(packet);
    }
}

impl Inner {
    fn next_deadline(&self) -> u64 {
        let s = self.stack.poll_timeout().map_or(u64::MAX, |t| t.micros());
        let i = self
            .impair
            .as_ref()
            .and_then(|i| i.next_release())
            .unwrap_or(u64::MAX);
        s.min(i).min(self.rotation.next())
    }

    fn send_out(&mut self, dev: &dyn Device, now: Instant, packet: Vec<u8>, b: &Burst) -> Vec<u8> {
        if self.impair.is_none() {
            if dev.send_burst(&packet, b).is_err() {
                self.send_errors += 1;
            }
            return packet;
        }
        if let Some(imp) = self.impair.as_mut() {
            for d in imp.fate() {
                if d == 0 {
                    if dev.send(&packet).is_err() {
                        self.send_errors += 1;
                    }
                } else {
                    imp.order += 1;
                    let order = imp.order;
                    imp.outbound.push(Delayed {
                        at: now.micros() + d,
                        order,
                        packet: packet.clone(),
                        checksum_valid: false,
                    });
                }
            }
        } else if dev.send(&packet).is_err() {
            self.send_errors += 1;
        }
        packet
    }

    /// Drain the stack's output and events after any input.
    fn after_input(&mut self, dev: &dyn Device, now: Instant) {
        let mut buf = std::mem::take(&mut self.buf);
        loop {
            let Inner {
                stack,
                tx,
                pcap,
                packet_hook,
                ..
            } = self;
            // Captures and hooks see each segment the stack sent, before
            // the transmitter joins them into bursts.
            let burst = tx.poll(stack, now, &mut buf, |seg| {
                record(pcap, seg);
                if let Some(h) = packet_hook.as_mut() {
                    h(now, Direction::Out, seg);
                }
            });
            let Some(b) = burst else { break };
            buf = self.send_out(dev, now, buf, &b);
        }
        self.buf = buf;
        while let Some(ev) = self.stack.poll_event() {
            if let Some(h) = self.hook.as_mut() {
                h(&ev);
            }
        }
        // Wake exactly the tasks whose call would now make progress.
        while let Some(r) = self.stack.poll_ready() {
            match r {
                Ready::Conn { id, .. } | Ready::Closed { id, .. } => self.wake(Key::Conn(id)),
                Ready::Acceptable { listener } | Ready::Pending { listener } => {
                    self.wake(Key::Listener(listener))
                }
                Ready::Lost { .. } => self.wake_everyone(),
            }
        }
    }

    fn wake(&mut self, key: Key) {
        if let Some(ws) = self.wakers.remove(&key) {
            self.to_wake.extend(ws);
        }
    }

    fn wake_everyone(&mut self) {
        for (_, ws) in self.wakers.drain() {
            self.to_wake.extend(ws);
        }
    }

    fn register(&mut self, key: Key, waker: &Waker) {
        let ws = self.wakers.entry(key).or_default();
        if !ws.iter().any(|w| w.will_wake(waker)) {
            ws.push(waker.clone());
        }
    }

    /// Forget the waiters of a handle that is going away.
    pub(crate) fn forget(&mut self, key: Key) {
        self.wakers.remove(&key);
    }

    /// A packet from the device; its output is sent by the caller's
    /// [`Inner::after_input`] once the batch is in.
    fn inbound(&mut self, now: Instant, packet: &[u8], checksum_valid: bool) {
        record(&self.pcap, packet);
        if let Some(h) = self.packet_hook.as_mut() {
            h(now, Direction::In, packet);
        }
        if let Some(imp) = self.impair.as_mut() {
            for d in imp.fate() {
                if d == 0 {
                    self.stack
                        .handle_packet_checked(now, packet, checksum_valid);
                } else if let Some(imp) = self.impair.as_mut() {
                    imp.order += 1;
                    let order = imp.order;
                    imp.inbound.push(Delayed {
                        at: now.micros() + d,
                        order,
                        packet: packet.to_vec(),
                        checksum_valid,
                    });
                }
            }
            return;
        }
        self.stack
            .handle_packet_checked(now, packet, checksum_valid);
    }

    fn release_due(&mut self, dev: &dyn Device, now: Instant) {
        loop {
            let Some(imp) = self.impair.as_mut() else {
                return;
            };
            if let Some(d) = imp.outbound.peek() {
                if d.at <= now.micros() {
                    if let Some(d) = imp.outbound.pop() {
                        if dev.send(&d.packet).is_err() {
                            self.send_errors += 1;
                        }
                    }
                    continue;
                }
            }
            if let Some(d) = imp.inbound.peek() {
                if d.at <= now.micros() {
                    if let Some(d) = imp.inbound.pop() {
                        self.stack
                            .handle_packet_checked(now, &d.packet, d.checksum_valid);
                        self.after_input(dev, now);
                    }
                    continue;
                }
            }
            return;
        }
    }
}

/// State shared by the driver thread and every socket.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    dev: Box<dyn Device>,
    wake: EventFd,
    start: std::time::Instant,
    linger: Duration,
    /// This stack's index among the runtime's stacks.
    me: usize,
    /// Which stack owns a packet, when there are several.
    steer: Option<Steer>,
    /// Packets this driver read for other stacks and handed to them.
    handed: AtomicU64,
}

/// A thread waiting in a blocking call.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// A waker that unparks the calling thread.
pub(crate) fn thread_waker() -> Waker {
    Waker::from(Arc::new(ThreadWaker(std::thread::current())))
}

fn stopped_error() -> io::Error {
    to_io(Error::Connection(ConnError::StackClosed))
}

impl Shared {
    pub(crate) fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the stack usable enough to close.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Finish an application call: flush output, wake the driver if its
    /// deadline moved earlier, then wake the waiters outside the lock.
    fn finish(&self, mut g: MutexGuard<'_, Inner>, now: Instant) {
        g.after_input(&*self.dev, now);
        let signal = g.next_deadline() < g.planned;
        let wakers = std::mem::take(&mut g.to_wake);
        drop(g);
        if signal {
            self.wake.signal();
        }
        for w in wakers {
            w.wake();
        }
    }

    /// Make one socket call.
    pub(crate) fn call<T>(
        &self,
        f: impl FnOnce(&mut Stack, Instant) -> Result<T, Error>,
    ) -> io::Result<T> {
        let mut g = self.lock();
        if g.stopped {
            return Err(stopped_error());
        }
        let now = self.now();
        let r = f(&mut g.stack, now);
        self.finish(g, now);
        r.map_err(to_io)
    }

    /// Make a call with the inner state (forgetting wakers, etc.).
    pub(crate) fn with_inner<T>(&self, f: impl FnOnce(&mut Inner, Instant) -> T) -> T {
        let mut g = self.lock();
        let now = self.now();
        let r = f(&mut g, now);
        self.finish(g, now);
        r
    }

    /// Make a call; on `WouldBlock` register `waker` under `key` and return `Pending`.
    pub(crate) fn poll_call<T>(
        &self,
        key: Key,
        waker: &Waker,
        f: impl FnOnce(&mut Stack, Instant) -> Result<T, Error>,
    ) -> Poll<io::Result<T>> {
        let mut g = self.lock();
        if g.stopped {
            return Poll::Ready(Err(stopped_error()));
        }
        let now = self.now();
        let r = f(&mut g.stack, now);
        let pending = matches!(r, Err(Error::WouldBlock));
        if pending {
            g.register(key, waker);
        }
        self.finish(g, now);
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(r.map_err(to_io))
        }
    }

    /// Make a call until it stops returning `WouldBlock`, sleeping in
    /// between; `Err(WouldBlock)` when `deadline` passes first.
    pub(crate) fn block_call<T>(
        &self,
        key: Key,
        deadline: Option<std::time::Instant>,
        mut f: impl FnMut(&mut Stack, Instant) -> Result<T, Error>,
    ) -> io::Result<T> {
        let waker = thread_waker();
        loop {
            match self.poll_call(key, &waker, &mut f) {
                Poll::Ready(r) => return r,
                Poll::Pending => match deadline {
                    Some(d) => {
                        let left = d.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            self.with_inner(|i, _| i.forget(key));
                            return Err(io::Error::new(
                                io::ErrorKind::WouldBlock,
                                "operation timed out",
                            ));
                        }
                        std::thread::park_timeout(left);
                    }
                    None => std::thread::park(),
                },
            }
        }
    }

    /// A packet another stack's driver read from its queue for this stack.
    fn take_foreign(&self, packet: &[u8], checksum_valid: bool) {
        let mut g = self.lock();
        if g.stopped {
            g.send_errors += 1;
            return;
        }
        let now = self.now();
        g.inbound(now, packet, checksum_valid);
        self.finish(g, now);
    }

    /// Hand the packets read for other stacks to them (outside this
    /// stack's lock, so two drivers never wait on each other).
    fn hand_over(&self, peers: &[Arc<Shared>], foreign: &mut Vec<(usize, Vec<u8>, bool)>) {
        for (k, packet, valid) in foreign.drain(..) {
            if let Some(p) = peers.get(k) {
                self.handed.fetch_add(1, Ordering::Relaxed);
                p.take_foreign(&packet, valid);
            }
        }
    }

    /// The driver loop of the stack `peers[self.me]`: one lock per
    /// wake-up (reading, timers and planning the next sleep together), so
    /// an application thread woken by this driver does not then wait for
    /// it on the lock.
    fn drive(&self, peers: &[Arc<Shared>]) {
        let dev = &*self.dev;
        let mut foreign = Vec::new();
        // A super-segment of up to 64 KiB, and room to spare.
        let mut rbuf = vec![0u8; 65_536 + 1024];
        let mut linger_until: Option<u64> = None;
        let mut timeout = Some(Duration::ZERO);
        loop {
            let ready =
                sys::wait_readable(&[dev.fd(), self.wake.fd()], timeout).unwrap_or_default();
            if ready.get(1).copied().unwrap_or(false) {
                self.wake.drain();
            }
            // Batches of packets, each answered as a whole, until the device
            // has no more (or 8 batches passed: deadlines and the lock's
            // other users get their turn).
            for round in 0..8 {
                let mut g = self.lock();
                g.planned = 0;
                let now = self.now();
                let mut read = 0;
                while read < READ_BATCH {
                    match dev.recv_checked(&mut rbuf) {
                        Ok(r) => {
                            let pkt = rbuf.get(..r.len).unwrap_or(&[]);
                            match self.steer.map(|s| s.owner(pkt, self.me)) {
                                Some(k) if k != self.me => {
                                    foreign.push((k, pkt.to_vec(), r.checksum_valid));
                                }
                                _ => g.inbound(now, pkt, r.checksum_valid),
                            }
                            read += 1;
                        }
                        Err(_) => break,
                    }
                }
                let last = read < READ_BATCH || round == 7;
                let keys = if last {
                    match self.timers_and_plan(&mut g, now, &mut linger_until) {
                        Some((t, keys)) => {
                            timeout = t;
                            keys
                        }
                        None => return,
                    }
                } else {
                    g.after_input(dev, now);
                    Keys::default()
                };
                let wakers = std::mem::take(&mut g.to_wake);
                drop(g);
                for w in wakers {
                    w.wake();
                }
                self.hand_over(peers, &mut foreign);
                if last {
                    self.share_keys(peers, keys);
                    break;
                }
            }
        }
    }

    /// The end of a wake-up, under the lock: release delayed packets, rotate
    /// keys, run the stack's timers, send what all that produced, and plan
    /// the next sleep (its timeout, and the keys rotated for the other
    /// stacks). `None` once the driver has stopped (the waiters are woken).
    fn timers_and_plan(
        &self,
        g: &mut Inner,
        now: Instant,
        linger_until: &mut Option<u64>,
    ) -> Option<(Option<Duration>, Keys)> {
        let dev = &*self.dev;
        g.release_due(dev, now);
        let Inner {
            rotation, stack, ..
        } = g;
        let keys = rotation.run(stack, now.micros());
        if g.stack.poll_timeout().is_some_and(|t| t <= now) {
            g.stack.handle_timeout(now);
        }
        if g.closing && linger_until.is_none() {
            g.stack.close_all(now);
            *linger_until = Some(now.micros() + self.linger.as_micros() as u64);
        }
        g.after_input(dev, now);
        if let Some(until) = *linger_until {
            let quiet = g
                .stack
                .connections()
                .iter()
                .all(|(_, s)| matches!(s.state, State::TimeWait | State::Closed));
            if quiet || now.micros() >= until {
                g.stopped = true;
                g.wake_everyone();
                let wakers = std::mem::take(&mut g.to_wake);
                for w in wakers {
                    w.wake();
                }
                return None;
            }
        }
        let next = g.next_deadline().min(linger_until.unwrap_or(u64::MAX));
        g.planned = next;
        let timeout =
            (next != u64::MAX).then(|| Duration::from_micros(next.saturating_sub(now.micros())));
        Some((timeout, keys))
    }

    /// The stacks share the cookie keys: the first one's driver rotates
    /// them for all.
    fn share_keys(&self, peers: &[Arc<Shared>], keys: Keys) {
        let rotated = keys.cookie.is_some() || keys.fast_open.is_some();
        for p in peers.iter().filter(|p| rotated && p.me != self.me) {
            let mut g = p.lock();
            if let Some(k) = keys.cookie {
                g.stack.rotate_cookie_secret(k);
            }
            if let Some(k) = keys.fast_open {
                g.stack.rotate_fast_open_key(k);
            }
        }
    }
}

/// How the driver of one stack replaces its keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyPlan {
    /// Fresh keys at all (off for a deterministic runtime).
    pub(crate) rotate: bool,
    pub(crate) cookie: Option<Duration>,
    pub(crate) isn: Option<Duration>,
}

/// What one stack's driver gets from the runtime's configuration.
pub(crate) struct StackParts {
    pub(crate) dev: Box<dyn Device>,
    pub(crate) stack: Stack,
    pub(crate) keys: KeyPlan,
    pub(crate) impairment: Option<Impairment>,
    pub(crate) hook: Option<EventHook>,
    pub(crate) packet_hook: Option<PacketHook>,
    pub(crate) pcap: Option<Arc<Mutex<PcapWriter>>>,
    pub(crate) linger: Duration,
    pub(crate) me: usize,
    pub(crate) steer: Option<Steer>,
    /// The origin of the stack's clock (the same for every stack).
    pub(crate) start: std::time::Instant,
}

impl Shared {
    /// A stack's shared state, its driver not yet started.
    pub(crate) fn build(p: StackParts) -> io::Result<Arc<Shared>> {
        // Faults apply segment by segment, so an impaired link gets no bursts.
        let caps = if p.impairment.is_some() {
            DeviceCaps::NONE
        } else {
            p.dev.caps()
        };
        let impair = p.impairment.map(|c| Impairer {
            cfg: c,
            rng: c.seed | 1,
            order: 0,
            inbound: BinaryHeap::new(),
            outbound: BinaryHeap::new(),
        });
        let rotation = if p.keys.rotate {
            Rotation::new(p.keys.cookie, p.keys.isn)
        } else {
            Rotation::default()
        };
        let inner = Inner {
            stack: p.stack,
            planned: 0,
            wakers: HashMap::new(),
            to_wake: Vec::new(),
            closing: false,
            stopped: false,
            hook: p.hook,
            packet_hook: p.packet_hook,
            pcap: p.pcap,
            impair,
            tx: Transmitter::new(caps),
            buf: Vec::with_capacity(2048),
            send_errors: 0,
            rotation,
        };
        Ok(Arc::new(Shared {
            inner: Mutex::new(inner),
            dev: p.dev,
            wake: EventFd::new()?,
            start: p.start,
            linger: p.linger,
            me: p.me,
            steer: p.steer,
            handed: AtomicU64::new(0),
        }))
    }

    /// Start the driver thread of `peers[self.me]`.
    pub(crate) fn spawn(self: &Arc<Self>, peers: Vec<Arc<Shared>>) -> io::Result<JoinHandle<()>> {
        let s = Arc::clone(self);
        std::thread::Builder::new()
            .name(format!("synack-driver-{}", self.me))
            .spawn(move || s.drive(&peers))
    }

    /// Ask the driver to close everything and stop.
    pub(crate) fn request_stop(&self) {
        self.lock().closing = true;
        self.wake.signal();
    }

    /// Flush the capture, if there is one.
    pub(crate) fn flush_pcap(&self) {
        if let Some(p) = self.lock().pcap.as_ref() {
            p.lock().unwrap_or_else(|e| e.into_inner()).flush();
        }
    }

    /// The start of this stack's clock.
    pub(crate) fn start(&self) -> std::time::Instant {
        self.start
    }

    /// This stack's counters.
    pub(crate) fn stats(&self) -> StackStats {
        self.lock().stack.stats()
    }

    /// Keys replaced and rotations that failed.
    pub(crate) fn key_rotations(&self) -> (u64, u64) {
        let g = self.lock();
        (g.rotation.done, g.rotation.failures)
    }

    /// Every live connection.
    pub(crate) fn connections(&self) -> Vec<ConnStatus> {
        self.lock()
            .stack
            .connections()
            .into_iter()
            .map(|(_, s)| s)
            .collect()
    }

    /// Bursts and their segments.
    pub(crate) fn bursts(&self) -> (u64, u64) {
        self.lock().tx.bursts()
    }

    /// Packets this driver read for other stacks.
    pub(crate) fn handed_over(&self) -> u64 {
        self.handed.load(Ordering::Relaxed)
    }

    /// Packets the device refused (or another stack could no longer take).
    pub(crate) fn send_errors(&self) -> u64 {
        self.lock().send_errors
    }
}
