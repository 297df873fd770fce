//! One stack per queue: what a runtime with several device queues
//! (`RuntimeConfig::queues`, a TUN device opened with `IFF_MULTI_QUEUE`)
//! needs beyond one driver per stack.
//!
//! * Where a flow lives. The kernel picks the queue of a packet it sends
//!   into the TUN device by its flow table (a flow goes to the queue that
//!   last sent one of its packets) or, for a flow it has not seen, by its
//!   symmetric flow hash. A passive open therefore lands on the stack the
//!   hash picks and stays there; every stack listens. An active open from
//!   stack k leaves through queue k, so the kernel's answers come back to
//!   queue k, but only while the flow table remembers the flow (its entries
//!   age out after a few idle seconds; after that the hash decides). So
//!   each stack opens connections from its own slice of the ephemeral
//!   ports ([`Steer::port_range`]), and a driver hands a packet whose local
//!   port lies in another stack's slice to that stack ([`Steer::owner`]),
//!   which answers through its own queue and so pins the flow again.
//! * SYN cookies: every stack has its own ISN, timestamp and port keys, but
//!   they share the cookie key (rotated together), so a cookie validates on
//!   whichever stack the ACK reaches. Likewise the Fast Open cookie key
//!   (RFC 7413), rotated with it, so a cookie one stack handed out
//!   validates on the stack the next SYN lands on; and a Fast Open client's
//!   cookie, learned by one stack, is copied to the others.
//! * Listeners: [`ListenerSet`] is one listener per stack, accepting from
//!   whichever has a connection ready.

use crate::device::Device;
use crate::pcap::PcapWriter;
use crate::runtime::{EventHook, KeyPlan, PacketHook, RuntimeConfig, Shared, StackParts};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use synack_proto::{
    ConnStatus, FastOpenCookie, FastOpenKey, FastOpenKeys, Instant, SecretKey, Stack, StackStats,
};

/// How the ephemeral ports are split between the stacks, and which stack
/// owns a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Steer {
    lo: u16,
    hi: u16,
    chunk: u32,
    stacks: usize,
}

impl Steer {
    /// `stacks` stacks sharing the ephemeral ports `lo..=hi`.
    pub(crate) fn new((lo, hi): (u16, u16), stacks: usize) -> Steer {
        let stacks = stacks.max(1);
        let span = u32::from(hi.saturating_sub(lo)) + 1;
        Steer {
            lo,
            hi: hi.max(lo),
            chunk: (span / stacks as u32).max(1),
            stacks,
        }
    }

    /// The ephemeral ports stack `k` opens connections from.
    pub(crate) fn port_range(&self, k: usize) -> (u16, u16) {
        let start = u32::from(self.lo) + self.chunk * k as u32;
        let end = if k + 1 >= self.stacks {
            u32::from(self.hi)
        } else {
            start + self.chunk - 1
        };
        let clamp = |p: u32| u16::try_from(p.min(u32::from(self.hi))).unwrap_or(self.hi);
        (clamp(start), clamp(end))
    }

    /// The stack that owns local port `port`, if it is an ephemeral one.
    pub(crate) fn port_owner(&self, port: u16) -> Option<usize> {
        if port < self.lo || port > self.hi {
            return None;
        }
        let k = (u32::from(port - self.lo) / self.chunk) as usize;
        Some(k.min(self.stacks - 1))
    }

    /// The stack that handles `packet`, which arrived on queue `arrived`:
    /// the owner of its local port when that is ephemeral, else the stack
    /// of the queue (a passive open, which the flow hash keeps there).
    pub(crate) fn owner(&self, packet: &[u8], arrived: usize) -> usize {
        local_port(packet)
            .and_then(|p| self.port_owner(p))
            .unwrap_or(arrived)
    }
}

/// The destination port (ours) of a TCP segment in an IPv4 or IPv6 packet;
/// `None` for anything else (fragments, extension headers, short packets).
fn local_port(p: &[u8]) -> Option<u16> {
    let at = match p.first()? >> 4 {
        4 => {
            let ihl = usize::from(p.first()? & 0x0f) * 4;
            // Not TCP, or a fragment that is not the first.
            let frag = u16::from_be_bytes([*p.get(6)?, *p.get(7)?]) & 0x1fff;
            if *p.get(9)? != 6 || frag != 0 || ihl < 20 {
                return None;
            }
            ihl + 2
        }
        6 if *p.get(6)? == 6 => 42,
        _ => return None,
    };
    Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))
}

/// A running synack runtime: one stack per device queue, each with its
/// driver thread ([`RuntimeConfig::queues`], default one).
///
/// Sockets ([`crate::TcpListener`], [`crate::TcpStream`] and the async ones)
/// are opened on a runtime. Dropping the runtime closes every connection
/// (FIN, or RST where unread data waits), lets the closing handshakes run
/// for the configured linger time, and stops the drivers; sockets still
/// open then fail with [`io::ErrorKind::ConnectionAborted`].
pub struct Runtime {
    stacks: Vec<Arc<Shared>>,
    threads: Vec<JoinHandle<()>>,
    /// The stack the next connection is opened on.
    next: AtomicUsize,
    steer: Option<Steer>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("queues", &self.stacks.len())
            .finish_non_exhaustive()
    }
}

/// One hook shared by the drivers of every stack.
fn share_event_hook(h: Option<EventHook>) -> impl Fn() -> Option<EventHook> {
    let h = h.map(|h| Arc::new(Mutex::new(h)));
    move || {
        h.clone().map(|h| {
            Box::new(move |e: &synack_proto::Event| {
                (h.lock().unwrap_or_else(|e| e.into_inner()))(e);
            }) as EventHook
        })
    }
}

/// One packet hook shared by the drivers of every stack.
fn share_packet_hook(h: Option<PacketHook>) -> impl Fn() -> Option<PacketHook> {
    let h = h.map(|h| Arc::new(Mutex::new(h)));
    move || {
        h.clone().map(|h| {
            Box::new(move |t, d, p: &[u8]| {
                (h.lock().unwrap_or_else(|e| e.into_inner()))(t, d, p);
            }) as PacketHook
        })
    }
}

impl Runtime {
    /// Start a runtime on `device`, with as many queues (each a stack and a
    /// driver thread) as `cfg.queues` says: the others are opened with
    /// [`Device::open_queue`].
    pub fn new(device: impl Device, cfg: RuntimeConfig) -> io::Result<Runtime> {
        let n = cfg.queues.max(1);
        let mut devs: Vec<Box<dyn Device>> = vec![Box::new(device)];
        for _ in 1..n {
            let more = devs[0].open_queue()?;
            devs.push(more);
        }
        let steer = (n > 1).then(|| Steer::new(cfg.stack.ephemeral_ports, n));
        // Several stacks share one cookie key, so a cookie validates on
        // whichever stack the handshake's ACK reaches.
        let cookie = match (n > 1, cfg.deterministic_seed) {
            (true, None) => Some(SecretKey::from_os().map_err(io::Error::other)?),
            _ => None,
        };
        // One Fast Open key for every stack, for the same reason (a
        // deterministic runtime keeps the key its seed gives).
        let fast_open_key = match cfg.deterministic_seed {
            None => Some(FastOpenKey::from_os().map_err(io::Error::other)?),
            Some(_) => None,
        };
        let pcap = match cfg.pcap {
            Some(w) => Some(Arc::new(Mutex::new(PcapWriter::new(w)?))),
            None => None,
        };
        let hook = share_event_hook(cfg.on_event);
        let packet_hook = share_packet_hook(cfg.on_packet);
        let mut stacks = Vec::with_capacity(n);
        let start = std::time::Instant::now();
        for (k, dev) in devs.into_iter().enumerate() {
            let mut scfg = cfg.stack;
            scfg.mtu = dev.mtu();
            // The driver wakes sockets from the event stream.
            scfg.trace = true;
            if let Some(s) = steer {
                scfg.ephemeral_ports = s.port_range(k);
            }
            let mut stack = match cfg.deterministic_seed {
                Some(seed) => Stack::new_deterministic(scfg, seed),
                None => Stack::new(scfg).map_err(io::Error::other)?,
            };
            if let Some(c) = cookie {
                // Twice: the stack's own first key is forgotten.
                stack.rotate_cookie_secret(c);
                stack.rotate_cookie_secret(c);
            }
            if let Some(k) = fast_open_key {
                stack.set_fast_open_keys(FastOpenKeys {
                    primary: k,
                    backup: None,
                });
            }
            for a in &cfg.addresses {
                stack.add_address(*a);
            }
            stacks.push(Shared::build(StackParts {
                dev,
                stack,
                keys: KeyPlan {
                    rotate: cfg.deterministic_seed.is_none(),
                    // The first stack's driver rotates the shared cookie key.
                    cookie: cfg.cookie_key_rotation.filter(|_| k == 0),
                    isn: cfg.isn_key_rotation,
                },
                impairment: cfg.impairment,
                hook: hook(),
                packet_hook: packet_hook(),
                pcap: pcap.clone(),
                linger: cfg.linger,
                me: k,
                steer,
                start,
            })?);
        }
        let mut rt = Runtime {
            stacks,
            threads: Vec::with_capacity(n),
            next: AtomicUsize::new(0),
            steer,
        };
        for s in &rt.stacks {
            let t = s.spawn(rt.stacks.clone())?;
            rt.threads.push(t);
        }
        Ok(rt)
    }

    /// Every stack (one per queue).
    pub(crate) fn stacks(&self) -> Vec<Arc<Shared>> {
        self.stacks.clone()
    }

    /// The stack a new connection from `local` opens on: the owner of the
    /// port when it is an ephemeral one, else the stacks in turn.
    pub(crate) fn stack_for_connect(&self, local: Option<SocketAddr>) -> Arc<Shared> {
        let n = self.stacks.len();
        let owner = local
            .and_then(|a| self.steer.and_then(|s| s.port_owner(a.port())))
            .unwrap_or_else(|| self.next.fetch_add(1, Ordering::Relaxed) % n);
        Arc::clone(&self.stacks[owner.min(n - 1)])
    }

    /// How many queues (stacks and driver threads) the runtime runs.
    pub fn queues(&self) -> usize {
        self.stacks.len()
    }

    /// The stacks' clock now: virtual time since the runtime started.
    pub fn now(&self) -> Instant {
        self.stacks[0].now()
    }

    /// The bridge between the stacks' time and `std::time::Instant`
    /// (its origin is the runtime's start): `epoch().std_instant(t)` is when
    /// a deadline the stack reports falls, `epoch().instant(i)` the stack time
    /// of a real instant.
    pub fn epoch(&self) -> synack_proto::Epoch {
        synack_proto::Epoch::new(self.stacks[0].start())
    }

    /// Stack-wide counters, added over the stacks.
    pub fn stats(&self) -> StackStats {
        let mut all = StackStats::default();
        for s in self.stack_stats() {
            all.packets_in += s.packets_in;
            all.packets_out += s.packets_out;
            all.resets_sent += s.resets_sent;
            all.active_opens += s.active_opens;
            all.passive_opens += s.passive_opens;
            all.icmp_in += s.icmp_in;
            for (r, c) in s.drops {
                *all.drops.entry(r).or_default() += c;
            }
        }
        all
    }

    /// Each stack's counters, in queue order.
    pub fn stack_stats(&self) -> Vec<StackStats> {
        self.stacks.iter().map(|s| s.stats()).collect()
    }

    /// Keys the drivers have replaced so far (cookie and ISN rotations), and
    /// the rotations that could not read the operating system's random
    /// source (the old key stayed in use; tried again at the next period).
    pub fn key_rotations(&self) -> (u64, u64) {
        self.stacks.iter().fold((0, 0), |(d, f), s| {
            let (d2, f2) = s.key_rotations();
            (d + d2, f + f2)
        })
    }

    /// Every live connection of every stack, like `ss -tan`.
    pub fn connections(&self) -> Vec<ConnStatus> {
        self.stacks.iter().flat_map(|s| s.connections()).collect()
    }

    /// Bursts of more than one segment handed to the device so far, and the
    /// segments in them (both 0 on a device without segmentation offload).
    pub fn bursts(&self) -> (u64, u64) {
        self.stacks.iter().fold((0, 0), |(b, g), s| {
            let (b2, g2) = s.bursts();
            (b + b2, g + g2)
        })
    }

    /// Packets a driver read from its queue for another stack (the owner of
    /// their local port) and handed to it; 0 with one queue.
    pub fn handed_over(&self) -> u64 {
        self.stacks.iter().map(|s| s.handed_over()).sum()
    }

    /// Packets the device refused to take.
    pub fn send_errors(&self) -> u64 {
        self.stacks.iter().map(|s| s.send_errors()).sum()
    }

    /// The Fast Open cookie cached for `peer` (RFC 7413 4.1.3), if any: what
    /// a client saves to use it again after a restart.
    pub fn fast_open_cookie(&self, peer: IpAddr) -> Option<FastOpenCookie> {
        self.with_stack(|s, _| s.fast_open_cookie(peer))
    }

    /// Cache a Fast Open cookie for `peer` on every stack (`None` forgets
    /// it): a saved cookie lets the first connection after a restart carry
    /// its data on the SYN.
    pub fn set_fast_open_cookie(&self, peer: IpAddr, cookie: Option<FastOpenCookie>) {
        self.with_each_stack(|_, s, _| s.set_fast_open_cookie(peer, cookie));
    }

    /// Copy the cookie `from` holds for `peer` to the other stacks, so the
    /// next connection carries data on its SYN whichever stack opens it.
    pub(crate) fn share_fast_open_cookie(&self, from: &Arc<Shared>, peer: IpAddr) {
        if self.stacks.len() < 2 {
            return;
        }
        let Some(c) = from.with_inner(|i, _| i.stack.fast_open_cookie(peer)) else {
            return;
        };
        for s in self.stacks.iter().filter(|s| !Arc::ptr_eq(s, from)) {
            s.with_inner(|i, _| i.stack.set_fast_open_cookie(peer, Some(c)));
        }
    }

    /// Run `f` on the first stack itself (for settings and inspection);
    /// [`Runtime::with_each_stack`] reaches every stack. Output it causes is
    /// sent when `f` returns.
    pub fn with_stack<T>(&self, f: impl FnOnce(&mut Stack, Instant) -> T) -> T {
        self.stacks[0].with_inner(|i, now| f(&mut i.stack, now))
    }

    /// Run `f` on every stack in turn, with its index.
    pub fn with_each_stack(&self, mut f: impl FnMut(usize, &mut Stack, Instant)) {
        for (k, s) in self.stacks.iter().enumerate() {
            s.with_inner(|i, now| f(k, &mut i.stack, now));
        }
    }

    /// Close everything and stop the drivers (what dropping does), waiting
    /// for them to finish.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        for s in &self.stacks {
            s.request_stop();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(s) = self.stacks.first() {
            s.flush_pcap();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_segment(dst_port: u16, frag: u16) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p[9] = 6;
        p[20..22].copy_from_slice(&80u16.to_be_bytes());
        p[22..24].copy_from_slice(&dst_port.to_be_bytes());
        p
    }

    #[test]
    fn ports_are_split_without_gaps_or_overlap() {
        let s = Steer::new((32768, 60999), 2);
        assert_eq!(s.port_range(0), (32768, 46883));
        assert_eq!(s.port_range(1), (46884, 60999));
        let s3 = Steer::new((32768, 60999), 3);
        let r: Vec<_> = (0..3).map(|k| s3.port_range(k)).collect();
        assert_eq!(r, vec![(32768, 42177), (42178, 51587), (51588, 60999)]);
        for (k, (lo, hi)) in r.iter().enumerate() {
            assert_eq!(s3.port_owner(*lo), Some(k));
            assert_eq!(s3.port_owner(*hi), Some(k));
        }
        assert_eq!(s3.port_owner(32767), None);
        assert_eq!(s3.port_owner(61000), None);
    }

    #[test]
    fn a_segment_goes_to_the_owner_of_its_ephemeral_port() {
        let s = Steer::new((32768, 60999), 2);
        // An answer to stack 1's active open that came in on queue 0.
        assert_eq!(s.owner(&v4_segment(50000, 0), 0), 1);
        assert_eq!(s.owner(&v4_segment(40000, 0), 1), 0);
        // A listener's port: the queue it came in on.
        assert_eq!(s.owner(&v4_segment(80, 0), 1), 1);
        // A later fragment carries no ports: the queue it came in on.
        assert_eq!(s.owner(&v4_segment(50000, 100), 0), 0);
        // Truncated or not IP: the queue.
        assert_eq!(s.owner(&[0x45, 0], 1), 1);
        assert_eq!(s.owner(&[], 0), 0);
        let mut v6 = vec![0u8; 60];
        v6[0] = 0x60;
        v6[6] = 6;
        v6[42..44].copy_from_slice(&50000u16.to_be_bytes());
        assert_eq!(s.owner(&v6, 0), 1);
        v6[6] = 17;
        assert_eq!(s.owner(&v6, 0), 0);
    }
}
