//! A two-host harness for scenario tests: stacks C (client, 10.0.0.1) and
//! S (server, 10.0.0.2) joined by a link with a one-way delay, on a virtual
//! clock that jumps to the next delivery or deadline. Every segment sent and
//! every state change is logged with relative sequence numbers, so a test can
//! pin a whole exchange.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use synack_proto::wire::{parse_packet, ChecksumMode, SeqNum, TcpFlags};
use synack_proto::{Duration, EventKind, Instant, SendReason, Stack, StackConfig};

pub const C_IP: &str = "10.0.0.1";
pub const S_IP: &str = "10.0.0.2";

pub fn s_addr(port: u16) -> SocketAddr {
    SocketAddr::new(S_IP.parse().unwrap(), port)
}
pub fn c_addr(port: u16) -> SocketAddr {
    SocketAddr::new(C_IP.parse().unwrap(), port)
}

/// A filter deciding the fate of each packet: `(from 0=C 1=S, flags, nth packet from that side with exactly these flags counted from 1)` -> drop?
pub type DropFn = Box<dyn FnMut(usize, TcpFlags, usize, &[u8]) -> bool>;

/// Application logic run on a host after each packet or timeout it handles,
/// before its output is collected (so a reply can share a segment with an ACK).
pub type AppFn = Box<dyn FnMut(&mut Stack, Instant)>;

pub struct Net {
    pub apps: [Option<AppFn>; 2],
    pub now: Instant,
    pub hosts: [Stack; 2],
    pub delay: Duration,
    pending: Vec<(Instant, u64, usize, Vec<u8>)>,
    seqno: u64,
    pub log: Vec<String>,
    pub drop: Option<DropFn>,
    iss: [Option<SeqNum>; 2],
    counts: std::collections::HashMap<(usize, u8), usize>,
    pub with_window: bool,
    pub with_time: bool,
    /// Log why each segment was sent (other than ordinary output) and every
    /// timer that fires.
    pub with_reasons: bool,
}

pub fn name(h: usize) -> &'static str {
    if h == 0 {
        "C"
    } else {
        "S"
    }
}

impl Net {
    pub fn new(cfg: StackConfig) -> Net {
        Net::with_configs(cfg, cfg)
    }

    pub fn with_configs(c: StackConfig, s: StackConfig) -> Net {
        let mut a = Stack::new_deterministic(c, 1);
        a.add_address(C_IP.parse::<IpAddr>().unwrap());
        let mut b = Stack::new_deterministic(s, 2);
        b.add_address(S_IP.parse::<IpAddr>().unwrap());
        Net {
            apps: [None, None],
            now: Instant::ZERO,
            hosts: [a, b],
            delay: Duration::from_millis(10),
            pending: Vec::new(),
            seqno: 0,
            log: Vec::new(),
            drop: None,
            iss: [None, None],
            counts: Default::default(),
            with_window: false,
            with_time: false,
            with_reasons: false,
        }
    }

    pub fn c(&mut self) -> &mut Stack {
        &mut self.hosts[0]
    }
    pub fn s(&mut self) -> &mut Stack {
        &mut self.hosts[1]
    }

    fn rel(&self, h: usize, v: SeqNum) -> u32 {
        self.iss[h].map_or(v.get(), |i| v.since(i))
    }

    /// Move every pending output onto the link and every event into the log,
    /// in the order they happened on each host.
    pub fn flush(&mut self) {
        let mut buf = Vec::new();
        for h in 0..2 {
            self.drain_events(h);
            while self.hosts[h].poll_transmit(self.now, &mut buf) {
                self.drain_events(h);
                let (_, seg) =
                    parse_packet(&buf, ChecksumMode::Verify).expect("stack emitted a bad packet");
                let flags = seg.flags;
                let n = {
                    let c = self.counts.entry((h, flags.0)).or_insert(0);
                    *c += 1;
                    *c
                };
                let dropped = match self.drop.as_mut() {
                    Some(f) => f(h, flags, n, &buf),
                    None => false,
                };
                self.seqno += 1;
                if dropped {
                    self.log.push(format!("{}{} X dropped", self.t(), name(h)));
                } else {
                    self.pending
                        .push((self.now + self.delay, self.seqno, 1 - h, buf.clone()));
                }
            }
        }
    }

    fn drain_events(&mut self, h: usize) {
        while let Some(e) = self.hosts[h].poll_event() {
            self.log_event(h, e.kind);
        }
    }

    fn t(&self) -> String {
        if self.with_time {
            format!("{:>7} ", self.now.millis())
        } else {
            String::new()
        }
    }

    fn log_event(&mut self, h: usize, k: EventKind) {
        match k {
            EventKind::SegmentSent { seg, reason, .. } => {
                if seg.flags.syn() && self.iss[h].is_none() {
                    self.iss[h] = Some(seg.seq);
                }
                let seq = self.rel(h, seg.seq);
                let ack = self.rel(1 - h, seg.ack);
                let mut s = format!(
                    "{}{}>{} {} seq={}",
                    self.t(),
                    name(h),
                    name(1 - h),
                    seg.flags,
                    seq
                );
                if seg.flags.ack() {
                    s += &format!(" ack={ack}");
                }
                if self.with_window {
                    s += &format!(" win={}", seg.window);
                }
                s += &format!(" len={}", seg.len);
                if self.with_reasons && reason != SendReason::Normal {
                    s += &format!(" ({reason:?})");
                }
                self.log.push(s);
            }
            // A listener's own LISTEN/CLOSED changes are pinned by their own test.
            EventKind::StateChanged { conn: None, .. } => {}
            EventKind::StateChanged { from, to, .. } => {
                let s = format!("{}{} {}->{}", self.t(), name(h), from, to);
                self.log.push(s);
            }
            EventKind::ConnectionError { error, .. } => {
                let s = format!("{}{} error {}", self.t(), name(h), error);
                self.log.push(s);
            }
            EventKind::TimerFired { timer, .. } if self.with_reasons => {
                let s = format!("{}{} timer {}", self.t(), name(h), timer.name());
                self.log.push(s);
            }
            _ => {}
        }
    }

    /// Advance to the next delivery or deadline and process it. Returns false when idle.
    pub fn step(&mut self) -> bool {
        self.flush();
        let next_pkt = self.pending.iter().map(|p| (p.0, p.1)).min();
        let next_timer = [self.hosts[0].poll_timeout(), self.hosts[1].poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let t = match (next_pkt.map(|p| p.0), next_timer) {
            (None, None) => return false,
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (Some(a), Some(b)) => a.min(b),
        };
        self.now = self.now.max(t);
        if let Some((pt, ps)) = next_pkt {
            if pt <= t {
                let i = self
                    .pending
                    .iter()
                    .position(|p| p.0 == pt && p.1 == ps)
                    .unwrap();
                let (_, _, to, bytes) = self.pending.remove(i);
                self.hosts[to].handle_packet(self.now, &bytes);
                self.run_app(to);
                self.flush();
                return true;
            }
        }
        for h in 0..2 {
            self.hosts[h].handle_timeout(self.now);
            self.run_app(h);
        }
        self.flush();
        true
    }

    fn run_app(&mut self, h: usize) {
        if let Some(app) = self.apps[h].as_mut() {
            app(&mut self.hosts[h], self.now);
        }
    }

    /// Run until nothing is pending or `limit` of virtual time has passed.
    pub fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        for _ in 0..1_000_000 {
            let next = self.next_time();
            match next {
                Some(t) if t <= end => {
                    self.step();
                }
                _ => break,
            }
        }
        self.now = self.now.max(end.min(self.next_time().unwrap_or(end)));
        self.flush();
    }

    pub fn next_time(&mut self) -> Option<Instant> {
        self.flush();
        let p = self.pending.iter().map(|p| p.0).min();
        let t = [self.hosts[0].poll_timeout(), self.hosts[1].poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        [p, t].into_iter().flatten().min()
    }

    /// Run until idle (bounded by 10 virtual hours).
    pub fn run(&mut self) {
        self.run_for(Duration::from_secs(36_000));
    }

    pub fn take_log(&mut self) -> Vec<String> {
        self.flush();
        std::mem::take(&mut self.log)
    }
}

/// Compare logs with a readable diff on failure.
#[track_caller]
pub fn assert_log(actual: &[String], expected: &[&str]) {
    let a: Vec<&str> = actual.iter().map(|s| s.as_str()).collect();
    if a != expected {
        panic!(
            "log differs\n--- expected\n{}\n--- actual\n{}\n",
            expected.join("\n"),
            a.join("\n")
        );
    }
}

/// Build an IPv4 TCP packet (for injecting stale or spoofed segments).
pub fn raw_packet(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
    payload: &[u8],
) -> Vec<u8> {
    use synack_proto::wire::{emit_packet, IpRepr, TcpOptions, TcpRepr};
    let ip = IpRepr::new(src.ip(), dst.ip()).unwrap();
    let tcp = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        window,
        urgent: 0,
        options: TcpOptions {
            mss: flags.syn().then_some(1460),
            ..Default::default()
        },
        payload,
    };
    let mut buf = Vec::new();
    emit_packet(&ip, &tcp, &mut buf);
    buf
}

/// Both stacks with TCP Fast Open on, client and server (RFC 7413), the
/// client's blackhole pause as given.
pub fn fast_open_net(blackhole_timeout: Option<Duration>) -> Net {
    Net::new(StackConfig {
        fast_open: synack_proto::FastOpenConfig {
            client: true,
            server: true,
            blackhole_timeout,
            ..synack_proto::FastOpenConfig::default()
        },
        ..StackConfig::default()
    })
}

/// A Fast Open listener on S's port 80 (backlog 8, Fast Open queue 4).
pub fn fast_open_listener(n: &mut Net) -> synack_proto::ListenerId {
    let l = n.s().listen(s_addr(80), 8).unwrap();
    n.s().set_listener_fast_open(l, 4).unwrap();
    l
}

/// C's `connect_fast_open` to S's port 80 with `data` on the SYN (`None`:
/// a deferred connect); the connection and the bytes the SYN took.
pub fn connect_fast_open(n: &mut Net, data: Option<&[u8]>) -> (synack_proto::ConnId, usize) {
    let now = n.now;
    n.c()
        .connect_fast_open(now, None, s_addr(80), StackConfig::default().conn, data)
        .unwrap()
}

/// Log lines without their `seq=` and `ack=` fields, for connections whose
/// sequence numbers are not the log's relative ones.
pub fn without_seq_ack(log: impl IntoIterator<Item = String>) -> Vec<String> {
    log.into_iter()
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.starts_with("seq=") && !w.starts_with("ack="))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// S's (10.0.0.2:80) ACK to C (10.0.0.1:40000) of C's relative octet `ack`
/// (`base`: C's first data sequence number), SACKing the relative `blocks`
/// (RFC 2018), from S's sequence number `rcv` with window `wnd`.
pub fn sack_ack(base: u32, rcv: u32, wnd: u16, ack: u32, blocks: &[(u32, u32)]) -> Vec<u8> {
    use synack_proto::wire::{emit_packet, IpRepr, TcpOptions, TcpRepr};
    let mut options = TcpOptions::default();
    for &(l, r) in blocks {
        options
            .sack
            .push(SeqNum(base.wrapping_add(l)), SeqNum(base.wrapping_add(r)));
    }
    let (src, dst) = (s_addr(80), c_addr(40000));
    let tcp = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: SeqNum(rcv),
        ack: SeqNum(base.wrapping_add(ack)),
        flags: TcpFlags::ACK,
        window: wnd,
        urgent: 0,
        options,
        payload: &[],
    };
    let mut buf = Vec::new();
    emit_packet(&IpRepr::new(src.ip(), dst.ip()).unwrap(), &tcp, &mut buf);
    buf
}

/// C's data segments waiting now, as `(relative seq, len)` from `base`;
/// C's events are drained.
pub fn data_sent(n: &mut Net, base: u32) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while n.hosts[0].poll_transmit(n.now, &mut buf) {
        let (_, seg) = parse_packet(&buf, ChecksumMode::Verify).unwrap();
        if !seg.payload.is_empty() {
            out.push((seg.seq.get().wrapping_sub(base), seg.payload.len()));
        }
    }
    while n.hosts[0].poll_event().is_some() {}
    out
}
