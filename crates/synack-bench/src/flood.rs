//! SYN flood: spoofed SYNs from random addresses and ports fed to a synack
//! listener answering with SYN cookies, with one legitimate handshake from a
//! real client stack interleaved every `every` spoofed SYNs. Every SYN,ACK the
//! listener sends is built (checksum included) and drained; the legitimate
//! handshakes must all complete.

use crate::cpu;
use crate::pattern::splitmix;
use crate::synack_pair::{self, Pair, SERVER_IP};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use synack_proto::{Duration as VDuration, Error, State, SynCookies};
use synack_wire::{IpRepr, SeqNum, TcpFlags, TcpOptions, TcpRepr};

/// Distinct spoofed SYN packets, built before the clock starts and replayed.
const DISTINCT: usize = 1 << 16;

/// One timed flood.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    /// Spoofed SYNs handled.
    pub(crate) spoofed: u64,
    /// Legitimate handshakes attempted.
    pub(crate) attempted: u64,
    /// Legitimate handshakes completed (both ends ESTABLISHED, accepted).
    pub(crate) completed: u64,
    /// SYN,ACKs the listener sent.
    pub(crate) synacks: u64,
    /// Wall time.
    pub(crate) elapsed: Duration,
    /// CPU time of the measuring thread, where the system tells.
    pub(crate) cpu: Option<Duration>,
}

impl Run {
    /// Spoofed SYNs per second.
    pub(crate) fn rate(&self) -> f64 {
        // Per second of the thread's CPU time: what one core absorbs.
        self.spoofed as f64 / self.cpu.unwrap_or(self.elapsed).as_secs_f64()
    }
}

fn spoofed_syns(seed: u64) -> Vec<Vec<u8>> {
    let mut st = seed;
    (0..DISTINCT)
        .map(|_| {
            let r = splitmix(&mut st);
            // 198.18.0.0/15 (benchmarking addresses), any port above 1023.
            let src = Ipv4Addr::new(198, 18 + (r & 1) as u8, (r >> 8) as u8, (r >> 16) as u8);
            let port = 1024 + ((r >> 24) as u16 % 64000);
            let repr = TcpRepr {
                src_port: port,
                dst_port: 80,
                seq: SeqNum((r >> 32) as u32),
                ack: SeqNum(0),
                flags: TcpFlags::SYN,
                window: 65535,
                urgent: 0,
                options: TcpOptions {
                    mss: Some(1460),
                    window_scale: Some(7),
                    sack_permitted: true,
                    ..TcpOptions::default()
                },
                payload: &[],
            };
            let mut buf = Vec::new();
            if let Some(ip) = IpRepr::new(IpAddr::V4(src), IpAddr::V4(SERVER_IP)) {
                synack_wire::emit_packet(&ip, &repr, &mut buf);
            }
            buf
        })
        .collect()
}

/// Flood a listener with `spoofed` SYNs under `policy` (SYN backlog `backlog`),
/// one legitimate handshake every `every` SYNs.
pub(crate) fn synack(
    policy: SynCookies,
    backlog: usize,
    spoofed: u64,
    every: u64,
) -> Result<Run, String> {
    let e = |e: Error| format!("synack flood: {e}");
    let syns = spoofed_syns(0xf100d);
    let mut cfg = synack_pair::config(1500);
    cfg.syn_cookies = policy;
    let mut p = Pair::new(cfg);
    let server = synack_pair::server_addr(80);
    let l = p
        .server
        .listen_with(server, 1024, backlog, cfg.conn)
        .map_err(e)?;
    let mut out = Vec::with_capacity(2048);
    let (mut attempted, mut completed, mut synacks) = (0u64, 0u64, 0u64);
    let tick = VDuration::from_micros(1);
    let cpu0 = cpu::now();
    let t0 = Instant::now();
    for i in 0..spoofed {
        p.now += tick;
        p.server.handle_packet(p.now, &syns[i as usize % DISTINCT]);
        while p.server.poll_transmit(p.now, &mut out) {
            black_box(&out);
            synacks += 1;
        }
        if p.server.poll_timeout().is_some_and(|t| t <= p.now) {
            p.server.handle_timeout(p.now);
            while p.server.poll_transmit(p.now, &mut out) {
                black_box(&out);
                synacks += 1;
            }
        }
        if i % every == every - 1 {
            attempted += 1;
            let c = p.client.connect(p.now, None, server).map_err(e)?;
            p.pump();
            if let Ok(s) = p.server.accept(l) {
                if p.client.state(c) == Ok(State::Established)
                    && p.server.state(s) == Ok(State::Established)
                {
                    completed += 1;
                }
                // Done with it: abort both ends so the run stays steady.
                p.client.abort(p.now, c).map_err(e)?;
                p.pump();
                let _ = p.server.abort(p.now, s);
                p.pump();
            } else {
                let _ = p.client.abort(p.now, c);
                p.pump();
            }
        }
    }
    let elapsed = t0.elapsed();
    let cpu = cpu::since(cpu0);
    Ok(Run {
        spoofed,
        attempted,
        completed,
        synacks,
        elapsed,
        cpu,
    })
}
