//! The connection table: frames in, finished connections out, in bounded
//! memory. Connections are found by their four numbers whichever way a
//! segment goes; a SYN with a new ISN on a finished (or abandoned)
//! connection starts a new one. When the table is full the connections
//! idle longest are finished early and counted as evicted.

use crate::conn::Conn;
use crate::decode::{ip_payload, tcp_segment, Skip};
use crate::reader::Frame;
use crate::report::{ConnSummary, ListenerSummary, Totals};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};
use synack_proto::rules::Seen;
use synack_proto::State;
use synack_sim::TraceEntry;
use synack_trace::HostInfo;

/// A small, fast hasher for the table (FxHash's multiply-rotate).
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            for (d, s) in b.iter_mut().zip(chunk) {
                *d = *s;
            }
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

type Fx = BuildHasherDefault<FxHasher>;

/// Which connections keep their events for the views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// None: summaries only.
    None,
    /// Every connection.
    All,
    /// Only connection number N (1 for the first).
    Conn(u64),
    /// Only connections with this port at either end.
    Port(u16),
}

/// Limits and choices of an [`Explainer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Connections tracked at once; beyond, the longest idle are evicted.
    pub max_conns: usize,
    /// Events kept per recorded connection; beyond, they are counted only.
    pub max_events: usize,
    /// Events kept by all connections in the table together; beyond, the
    /// connections still open stop recording (and count what they leave out).
    pub max_recorded: usize,
    /// Which connections keep their events.
    pub record: Record,
    /// Check TCP checksums (reported per segment, never a reason to drop it).
    pub verify_checksums: bool,
    /// How long (capture time, microseconds) a finished connection stays
    /// in the table to pick up late retransmissions and TIME_WAIT's re-ACKs.
    pub linger_us: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_conns: 100_000,
            max_events: 50_000,
            max_recorded: 2_000_000,
            record: Record::All,
            verify_checksums: true,
            linger_us: 1_000_000,
        }
    }
}

/// Distinct source addresses remembered per listening port.
const MAX_SOURCES: usize = 65_536;
/// Listening ports tracked.
const MAX_LISTENERS: usize = 65_536;
/// Frames between sweeps of finished connections.
const SWEEP_EVERY: u64 = 65_536;

/// A connection's recorded events and the two hosts they name.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The events, host 0 the client, host 1 the server.
    pub entries: Vec<TraceEntry>,
    /// The hosts' names (`client`, `server`).
    pub names: [String; 2],
    /// Their addresses.
    pub addrs: [IpAddr; 2],
    /// Events left out because of [`Config::max_events`].
    pub dropped: u64,
}

impl Trace {
    /// The hosts as the views take them.
    pub fn hosts(&self) -> Vec<HostInfo<'_>> {
        vec![
            HostInfo {
                name: &self.names[0],
                addr: self.addrs[0],
            },
            HostInfo {
                name: &self.names[1],
                addr: self.addrs[1],
            },
        ]
    }
}

/// A connection the explainer is done with.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its summary.
    pub summary: ConnSummary,
    /// Its events, when it was recorded.
    pub trace: Option<Trace>,
}

#[derive(Debug, Default, Clone)]
struct Listener {
    s: ListenerSummary,
    sources: HashSet<IpAddr, Fx>,
}

/// Follows every TCP connection of a capture, frame by frame.
#[derive(Debug)]
pub struct Explainer {
    cfg: Config,
    conns: HashMap<Key, Box<Conn>, Fx>,
    listeners: HashMap<SocketAddr, Listener, Fx>,
    next_id: u64,
    t0: Option<u64>,
    now_us: u64,
    since_sweep: u64,
    last_sweep_us: u64,
    /// Events recorded by the connections in the table.
    recorded: usize,
    totals: Totals,
}

/// A connection's four numbers, the same whichever way a segment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    lo: u128,
    hi: u128,
    ports: u32,
}

fn ip_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)) | 1 << 100,
        IpAddr::V6(a) => u128::from(a),
    }
}

impl Key {
    fn new(a: SocketAddr, b: SocketAddr) -> Key {
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        Key {
            lo: ip_bits(a.ip()),
            hi: ip_bits(b.ip()),
            ports: u32::from(a.port()) << 16 | u32::from(b.port()),
        }
    }
}

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let fold = |v: u128| (v as u64) ^ ((v >> 64) as u64).rotate_left(23);
        h.write_u64(fold(self.lo) ^ fold(self.hi).rotate_left(41) ^ u64::from(self.ports) << 3);
    }
}

impl Explainer {
    /// An explainer with these limits.
    pub fn new(cfg: Config) -> Explainer {
        Explainer {
            cfg,
            conns: HashMap::default(),
            listeners: HashMap::default(),
            next_id: 1,
            t0: None,
            now_us: 0,
            since_sweep: 0,
            last_sweep_us: 0,
            recorded: 0,
            totals: Totals::default(),
        }
    }

    /// The counts so far.
    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    /// Take one frame; connections it finishes (and those swept out)
    /// go to `out`.
    pub fn frame(&mut self, frame: &Frame<'_>, out: &mut dyn FnMut(Finished)) {
        self.totals.frames += 1;
        let t0 = *self.t0.get_or_insert(frame.ts_ns);
        let at_us = frame.ts_ns.saturating_sub(t0) / 1000;
        self.now_us = self.now_us.max(at_us);
        let dec = match ip_payload(frame.link, frame.data)
            .and_then(|ip| tcp_segment(ip, self.cfg.verify_checksums))
        {
            Ok(d) => d,
            Err(skip) => {
                self.totals.skip(skip);
                return;
            }
        };
        self.totals.tcp_segments += 1;
        self.totals.bad_checksums += u64::from(dec.checksum_ok == Some(false));
        self.totals.offload_checksums += u64::from(dec.checksum_offload);
        self.totals.snapped += u64::from(dec.snapped);
        self.totals.bad_options += u64::from(dec.bad_options);
        let seg = dec.seg;
        let k = Key::new(seg.src, seg.dst);
        let f = seg.flags;
        // A SYN with a new ISN on a connection that is over (or abandoned) opens a new one.
        let restart = f.syn()
            && !f.ack()
            && self.conns.get(&k).is_some_and(|c| {
                let i = c.end_of(seg.src);
                c.dirs[i].isn.is_some_and(|isn| isn != seg.seq)
                    || (c.dirs[i].isn.is_none() && c.dirs[1 - i].isn.is_some() && c.finished())
                    || (!c.opened && c.finished())
            });
        if restart {
            if let Some(mut old) = self.conns.remove(&k) {
                old.reused = true;
                self.finish_conn(old, false, out);
            }
        }
        let first = !self.conns.contains_key(&k);
        if first {
            if self.conns.len() >= self.cfg.max_conns {
                self.sweep(true, out);
            }
            let id = self.next_id;
            self.next_id += 1;
            let rec = match self.cfg.record {
                Record::All => true,
                Record::None => false,
                Record::Conn(n) => n == id,
                Record::Port(p) => seg.src.port() == p || seg.dst.port() == p,
            };
            let cap = rec.then_some(self.cfg.max_events);
            self.conns
                .insert(k, Box::new(Conn::new(id, seg.src, seg.dst, f, at_us, cap)));
            self.totals.connections += 1;
        }
        let Some(conn) = self.conns.get_mut(&k) else {
            return;
        };
        let i = conn.end_of(seg.src);
        let before = conn.recorded();
        if self.recorded >= self.cfg.max_recorded {
            conn.freeze_record();
        }
        let seen = conn.segment(i, &dec, at_us, first);
        self.recorded += conn.recorded().saturating_sub(before);
        let opened_syn = conn.opened && i == 0 && f.syn() && !f.ack();
        let server = conn.ends[1];
        // Both CLOSED with nothing in flight: nothing more can change, it goes at once.
        let done = conn
            .state
            .iter()
            .all(|e| *e == crate::conn::End::Known(State::Closed))
            && conn.dirs.iter().all(|d| d.pending.is_empty());
        if opened_syn {
            if let Some(l) = listener(&mut self.listeners, server) {
                l.s.syns += 1;
                l.s.connections += u64::from(first || restart);
            }
        }
        if seen == Seen::RstRefused {
            if let Some(l) = listener(&mut self.listeners, seg.src) {
                l.s.refused += 1;
            }
        }
        if done {
            if let Some(c) = self.conns.remove(&k) {
                self.finish_conn(c, false, out);
            }
        }
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY
            || self.now_us > self.last_sweep_us.saturating_add(self.cfg.linger_us)
        {
            self.sweep(false, out);
        }
    }

    /// Finish connections that are over and lingered long enough; with
    /// `full`, also the longest idle eighth of the table.
    fn sweep(&mut self, full: bool, out: &mut dyn FnMut(Finished)) {
        self.since_sweep = 0;
        let now = self.now_us;
        self.last_sweep_us = now;
        let linger = self.cfg.linger_us;
        let mut done: Vec<(u64, u64, Key)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.finished() && c.last_us.saturating_add(linger) < now)
            .map(|(k, c)| (c.id, c.last_us, *k))
            .collect();
        let mut evict = Vec::new();
        if full && self.conns.len() - done.len() >= self.cfg.max_conns {
            let mut idle: Vec<(u64, u64, Key)> = self
                .conns
                .iter()
                .filter(|(_, c)| !(c.finished() && c.last_us.saturating_add(linger) < now))
                .map(|(k, c)| (c.last_us, c.id, *k))
                .collect();
            idle.sort_unstable_by_key(|x| (x.0, x.1));
            let n = (self.cfg.max_conns / 8).max(1);
            evict.extend(idle.into_iter().take(n).map(|(t, id, k)| (id, t, k)));
        }
        done.sort_unstable_by_key(|x| (x.0, x.1));
        for (_, _, k) in done {
            if let Some(c) = self.conns.remove(&k) {
                self.finish_conn(c, false, out);
            }
        }
        evict.sort_unstable_by_key(|x| (x.0, x.1));
        for (_, _, k) in evict {
            if let Some(c) = self.conns.remove(&k) {
                self.finish_conn(c, true, out);
            }
        }
    }

    fn finish_conn(&mut self, c: Box<Conn>, evicted: bool, out: &mut dyn FnMut(Finished)) {
        if evicted {
            self.totals.evicted += 1;
        }
        self.totals.finished += 1;
        self.recorded = self.recorded.saturating_sub(c.recorded());
        let summary = ConnSummary::of(&c, evicted);
        if c.opened {
            let server = c.ends[1];
            if let Some(l) = listener(&mut self.listeners, server) {
                match c.state_of(1) {
                    Some(State::SynReceived) => {
                        l.s.half_open += 1;
                        if l.sources.len() < MAX_SOURCES {
                            l.sources.insert(c.ends[0].ip());
                        }
                    }
                    _ if c.is_fresh(1) => l.s.unanswered += 1,
                    _ => {}
                }
                if c.hs.ack.is_some() || c.reached[1].contains(&Some(State::Established)) {
                    l.s.handshakes += 1;
                }
            }
        }
        let trace = c.rec.map(|rec| Trace {
            entries: rec.entries,
            names: if c.opened {
                ["client".to_string(), "server".to_string()]
            } else {
                [c.ends[0].to_string(), c.ends[1].to_string()]
            },
            addrs: [c.ends[0].ip(), c.ends[1].ip()],
            dropped: rec.dropped,
        });
        out(Finished { summary, trace });
    }

    /// The end of the capture: every connection still open is finished
    /// (in the order they began); the listening ports and the counts.
    pub fn finish(mut self, out: &mut dyn FnMut(Finished)) -> (Vec<ListenerSummary>, Totals) {
        let mut rest: Vec<Box<Conn>> = self.conns.drain().map(|(_, c)| c).collect();
        rest.sort_by_key(|c| c.id);
        for c in rest {
            self.finish_conn(c, false, out);
        }
        let mut ls: Vec<ListenerSummary> = self
            .listeners
            .into_iter()
            .map(|(addr, l)| {
                let mut s = l.s;
                s.addr = Some(addr);
                s.half_open_sources = l.sources.len() as u64;
                s
            })
            .collect();
        ls.sort_by_key(|l| l.addr);
        (ls, self.totals)
    }
}

fn listener(
    map: &mut HashMap<SocketAddr, Listener, Fx>,
    addr: SocketAddr,
) -> Option<&mut Listener> {
    if !map.contains_key(&addr) && map.len() >= MAX_LISTENERS {
        return None;
    }
    Some(map.entry(addr).or_default())
}

impl Totals {
    fn skip(&mut self, s: Skip) {
        match s {
            Skip::UnknownLink(t) => {
                self.unknown_link += 1;
                self.last_unknown_link = Some(t);
            }
            Skip::NotIp => self.not_ip += 1,
            Skip::NotTcp => self.not_tcp += 1,
            Skip::Fragment => self.fragments += 1,
            Skip::Truncated => self.truncated += 1,
            Skip::Malformed => self.malformed += 1,
        }
    }
}
