//! Bulk flows over a simulated bottleneck, for synack and for smoltcp 0.14,
//! and the analytic references they are measured against.
//!
//! The path: a sender and a receiver host joined by a link whose forward
//! direction is the bottleneck (a rate, a drop-tail queue counted in
//! packets, random loss) and whose reverse direction carries the ACKs with
//! the same propagation delay and no limit. Every flow runs from the
//! sender to the receiver, so flows share the one queue. The simulator is
//! deterministic: one seed, one result.

mod smol;

use smol::{SmolCc, SmolHost};
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use synack_proto::{
    CongestionAlgorithm, ConnConfig, ConnId, Duration, Event, Instant, Stack, StackConfig,
};
use synack_sim::{LinkConfig, Node, Sim, SimConfig};

/// The sender's address.
const SENDER: [u8; 4] = [10, 0, 0, 1];
/// The receiver's address.
const RECEIVER: [u8; 4] = [10, 0, 0, 2];
/// The receiver's port.
const PORT: u16 = 5001;
/// IP MTU of the path.
pub(crate) const MTU: usize = 1500;

/// A stack and the algorithm it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contender {
    /// synack with CUBIC (and HyStart++, PRR: the Linux profile).
    SynackCubic,
    /// synack with NewReno (and PRR).
    SynackNewReno,
    /// smoltcp 0.14 with its CUBIC.
    SmolCubic,
    /// smoltcp 0.14 with its Reno.
    SmolReno,
}

impl Contender {
    /// All four, in table order.
    pub(crate) const ALL: [Contender; 4] = [
        Contender::SynackCubic,
        Contender::SynackNewReno,
        Contender::SmolCubic,
        Contender::SmolReno,
    ];

    /// Short name for tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Contender::SynackCubic => "synack cubic",
            Contender::SynackNewReno => "synack newreno",
            Contender::SmolCubic => "smoltcp cubic",
            Contender::SmolReno => "smoltcp reno",
        }
    }

    /// Whether the algorithm is CUBIC (else Reno-like).
    pub(crate) fn is_cubic(self) -> bool {
        matches!(self, Contender::SynackCubic | Contender::SmolCubic)
    }
}

/// One path and its flows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PathCase {
    /// Bottleneck rate, bits per second.
    pub(crate) rate: u64,
    /// Round-trip propagation delay.
    pub(crate) rtt: Duration,
    /// Drop-tail queue, packets.
    pub(crate) queue: usize,
    /// Random loss probability of the forward direction.
    pub(crate) loss: f64,
    /// Flows, each started `stagger` after the one before.
    pub(crate) flows: usize,
    /// The delay between two flows' starts.
    pub(crate) stagger: Duration,
    /// How long the run lasts after the last flow started.
    pub(crate) measure: Duration,
    /// Socket buffers (send and receive), bytes.
    pub(crate) buffer: usize,
}

impl PathCase {
    /// The bandwidth-delay product in packets of MTU size.
    pub(crate) fn bdp_packets(&self) -> f64 {
        self.rate as f64 * self.rtt.as_secs_f64() / (8.0 * MTU as f64)
    }
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PathResult {
    /// Payload bytes each flow delivered to the receiving application over
    /// the measurement window, per second.
    pub(crate) goodput: Vec<f64>,
    /// IP bytes the bottleneck delivered over the window, over its capacity.
    pub(crate) utilisation: f64,
    /// Packets the bottleneck's queue dropped, over packets offered to it
    /// (whole run).
    pub(crate) queue_drop_rate: f64,
}

impl PathResult {
    /// All flows' goodput, bytes per second.
    pub(crate) fn total(&self) -> f64 {
        self.goodput.iter().sum()
    }
}

/// A host of the path: synack or smoltcp.
enum PathNode {
    Synack(Box<Stack>),
    Smol(Box<SmolHost>),
}

impl Node for PathNode {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        match self {
            PathNode::Synack(s) => s.handle_packet(now, packet),
            PathNode::Smol(s) => s.handle_packet(now, packet),
        }
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        match self {
            PathNode::Synack(s) => s.poll_transmit(now, buf),
            PathNode::Smol(s) => s.poll_transmit(now, buf),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            PathNode::Synack(s) => s.poll_timeout(),
            PathNode::Smol(s) => s.poll_timeout(),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            PathNode::Synack(s) => s.handle_timeout(now),
            PathNode::Smol(s) => s.poll(now),
        }
    }
    fn poll_event(&mut self) -> Option<Event> {
        match self {
            PathNode::Synack(s) => s.poll_event(),
            PathNode::Smol(_) => None,
        }
    }
}

/// Bytes each flow's receiver read, and when the window opened.
#[derive(Default)]
struct Tally {
    read: Vec<u64>,
    at_window: Vec<u64>,
}

/// How often the applications run: often enough to keep buffers full and
/// empty at any rate here (1 ms at 100 Mbit/s is 12.5 kB).
const APP_TICK: Duration = Duration::from_millis(1);

fn addr(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn synack_stack(c: Contender, case: &PathCase, ip: [u8; 4], seed: u64) -> Stack {
    let conn = ConnConfig {
        send_buffer: case.buffer,
        recv_buffer: case.buffer,
        congestion: if c == Contender::SynackCubic {
            CongestionAlgorithm::Cubic
        } else {
            CongestionAlgorithm::NewReno
        },
        prr: true,
        ..ConnConfig::default()
    };
    let cfg = StackConfig {
        mtu: MTU as u16,
        trace: false,
        conn,
        ..StackConfig::default()
    };
    let mut s = Stack::new_deterministic(cfg, seed);
    s.add_address(addr(ip));
    s
}

/// The sender's application: start flow i at i * stagger, keep every send
/// buffer full.
fn synack_sender(case: PathCase) -> impl FnMut(Instant, &mut PathNode) -> Option<Instant> {
    let mut conns: Vec<ConnId> = Vec::new();
    let chunk = vec![0x5a_u8; 64 * 1024];
    move |now, node| {
        let PathNode::Synack(s) = node else {
            return None;
        };
        while conns.len() < case.flows && now.micros() >= start_of(&case, conns.len()).micros() {
            let to = SocketAddr::new(addr(RECEIVER), PORT);
            match s.connect(now, None, to) {
                Ok(c) => conns.push(c),
                Err(_) => return None,
            }
        }
        for &c in &conns {
            while let Ok(n) = s.send(now, c, &chunk) {
                if n == 0 {
                    break;
                }
            }
        }
        Some(now + APP_TICK)
    }
}

fn start_of(case: &PathCase, i: usize) -> Instant {
    Instant::from_micros(1000 + case.stagger.as_micros() as u64 * i as u64)
}

/// The receiver's application: accept and read everything, counting per flow.
fn synack_receiver(
    tally: Rc<RefCell<Tally>>,
) -> impl FnMut(Instant, &mut PathNode) -> Option<Instant> {
    let mut listener = None;
    let mut conns: Vec<ConnId> = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    move |now, node| {
        let PathNode::Synack(s) = node else {
            return None;
        };
        let l = match listener {
            Some(l) => l,
            None => {
                let l = s.listen(SocketAddr::new(addr(RECEIVER), PORT), 16).ok()?;
                listener = Some(l);
                l
            }
        };
        while let Ok(c) = s.accept(l) {
            conns.push(c);
        }
        let mut t = tally.borrow_mut();
        t.read.resize(conns.len(), 0);
        for (i, &c) in conns.iter().enumerate() {
            while let Ok(n) = s.recv(now, c, &mut buf) {
                if n == 0 {
                    break;
                }
                t.read[i] += n as u64;
            }
        }
        Some(now + APP_TICK)
    }
}

/// smoltcp's sender: one socket per flow, connected at its start, kept full.
fn smol_sender(case: PathCase) -> impl FnMut(Instant, &mut PathNode) -> Option<Instant> {
    let mut started = 0;
    let chunk = vec![0x5a_u8; 64 * 1024];
    move |now, node| {
        let PathNode::Smol(h) = node else { return None };
        while started < case.flows && now.micros() >= start_of(&case, started).micros() {
            let s = h.add_socket();
            h.connect(s, (RECEIVER, PORT), 49152 + started as u16)
                .ok()?;
            started += 1;
        }
        for i in 0..h.handles.len() {
            let hd = h.handles[i];
            let s = h.socket(hd);
            while s.can_send() {
                match s.send_slice(&chunk) {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
            }
        }
        h.poll(now);
        Some(now + APP_TICK)
    }
}

/// smoltcp's receiver: listening sockets, one per flow (smoltcp has no
/// accept queue), read as data comes.
fn smol_receiver(
    case: PathCase,
    tally: Rc<RefCell<Tally>>,
) -> impl FnMut(Instant, &mut PathNode) -> Option<Instant> {
    let mut buf = vec![0u8; 256 * 1024];
    move |now, node| {
        let PathNode::Smol(h) = node else { return None };
        if h.handles.is_empty() {
            for _ in 0..case.flows {
                let s = h.add_socket();
                h.socket(s).listen(PORT).ok()?;
            }
        }
        let mut t = tally.borrow_mut();
        t.read.resize(h.handles.len(), 0);
        for i in 0..h.handles.len() {
            let hd = h.handles[i];
            let s = h.socket(hd);
            while s.can_recv() {
                match s.recv_slice(&mut buf) {
                    Ok(n) if n > 0 => t.read[i] += n as u64,
                    _ => break,
                }
            }
        }
        h.poll(now);
        Some(now + APP_TICK)
    }
}

/// Run `case` for contender `c`. The measurement window opens `warmup`
/// after the last flow's start and lasts `case.measure` minus that.
pub(crate) fn run(
    c: Contender,
    case: &PathCase,
    warmup: Duration,
    seed: u64,
) -> Result<PathResult, String> {
    let mut sim: Sim<PathNode> = Sim::with_config(SimConfig {
        seed,
        trace_cap: 0,
        ..SimConfig::default()
    });
    let buffer = case.buffer;
    let (tx, rx) = match c {
        Contender::SynackCubic | Contender::SynackNewReno => (
            PathNode::Synack(Box::new(synack_stack(c, case, SENDER, seed ^ 1))),
            PathNode::Synack(Box::new(synack_stack(c, case, RECEIVER, seed ^ 2))),
        ),
        Contender::SmolCubic | Contender::SmolReno => {
            let cc = if c == Contender::SmolCubic {
                SmolCc::Cubic
            } else {
                SmolCc::Reno
            };
            (
                PathNode::Smol(Box::new(SmolHost::new(SENDER, MTU, cc, buffer, seed ^ 1))),
                PathNode::Smol(Box::new(SmolHost::new(RECEIVER, MTU, cc, buffer, seed ^ 2))),
            )
        }
    };
    let a = sim.add_host("sender", addr(SENDER), tx);
    let b = sim.add_host("receiver", addr(RECEIVER), rx);
    let one_way = case.rtt / 2;
    let forward = LinkConfig::default()
        .with_delay(one_way)
        .with_bandwidth(case.rate)
        .with_queue_limit(case.queue.max(1))
        .with_loss(case.loss);
    sim.set_link(a, b, forward);
    sim.set_link(b, a, LinkConfig::default().with_delay(one_way));
    let tally = Rc::new(RefCell::new(Tally::default()));
    match c {
        Contender::SynackCubic | Contender::SynackNewReno => {
            sim.set_app(b, synack_receiver(tally.clone()));
            sim.set_app(a, synack_sender(*case));
        }
        Contender::SmolCubic | Contender::SmolReno => {
            sim.set_app(b, smol_receiver(*case, tally.clone()));
            sim.set_app(a, smol_sender(*case));
        }
    }
    let last_start = start_of(case, case.flows.saturating_sub(1));
    let open = last_start + warmup;
    let end = last_start + case.measure;
    sim.run_until(open).map_err(|e| e.to_string())?;
    let wire_at_open = sim.link_stats(a, b).map_or(0, |s| s.delivered_bytes);
    {
        let mut t = tally.borrow_mut();
        t.at_window = t.read.clone();
    }
    sim.run_until(end).map_err(|e| e.to_string())?;
    let stats = sim.link_stats(a, b).cloned().unwrap_or_default();
    let secs = end.saturating_since(open).as_secs_f64().max(1e-9);
    let t = tally.borrow();
    let goodput = (0..case.flows)
        .map(|i| {
            let r = t.read.get(i).copied().unwrap_or(0);
            let w = t.at_window.get(i).copied().unwrap_or(0);
            r.saturating_sub(w) as f64 / secs
        })
        .collect();
    let wire = stats.delivered_bytes.saturating_sub(wire_at_open) as f64;
    Ok(PathResult {
        goodput,
        utilisation: wire * 8.0 / (case.rate as f64 * secs),
        queue_drop_rate: stats.dropped_queue_full as f64 / (stats.sent_packets.max(1)) as f64,
    })
}

/// Payload bytes of a full segment on this path: MTU less the IPv4 and TCP
/// headers and the timestamp option both stacks' peers may carry (12).
pub(crate) fn smss(timestamps: bool) -> f64 {
    (MTU - 40 - if timestamps { 12 } else { 0 }) as f64
}

/// The Mathis et al. response function of a Reno-like flow under random
/// loss `p`: rate = (MSS / RTT) * sqrt(3 / (2 b p)), `b` segments per ACK
/// (2 with delayed ACKs), in payload bytes per second, capped at the link.
pub(crate) fn mathis(case: &PathCase, mss: f64, b: f64) -> f64 {
    let w = (3.0 / (2.0 * b * case.loss)).sqrt();
    (w * mss / case.rtt.as_secs_f64()).min(capacity(case, mss))
}

/// RFC 9438 5.1 (and 4.3): CUBIC's average window under random loss `p`,
/// the larger of the cubic function's, `(C (3 + beta) / (4 (1 - beta)))^(1/4)
/// RTT^(3/4) / p^(3/4)` segments, and the Reno-friendly region's (the Reno
/// response, which alpha_cubic is chosen to match); in payload bytes per
/// second, capped at the link.
pub(crate) fn cubic_response(case: &PathCase, mss: f64) -> f64 {
    let (c, beta, rtt, p) = (0.4_f64, 0.7_f64, case.rtt.as_secs_f64(), case.loss);
    let w_cubic =
        (c * (3.0 + beta) / (4.0 * (1.0 - beta))).powf(0.25) * rtt.powf(0.75) / p.powf(0.75);
    // The Reno-friendly estimate W_est grows by alpha_cubic per window of
    // segments acknowledged, not per ACK (RFC 9438 4.3): delayed ACKs do not
    // slow it, so its Reno response has b = 1.
    let rate = (w_cubic * mss / rtt).max(mathis(case, mss, 1.0));
    rate.min(capacity(case, mss))
}

/// The link's capacity in payload bytes per second with full segments.
pub(crate) fn capacity(case: &PathCase, mss: f64) -> f64 {
    case.rate as f64 / 8.0 * mss / MTU as f64
}

/// Jain's fairness index of `x`: (sum x)^2 / (n sum x^2).
pub(crate) fn jain(x: &[f64]) -> f64 {
    let s: f64 = x.iter().sum();
    let q: f64 = x.iter().map(|v| v * v).sum();
    if q == 0.0 {
        0.0
    } else {
        s * s / (x.len() as f64 * q)
    }
}
