//! Fuzz the whole endpoint: a stack with a listener and an open connection
//! receives fuzzer-chosen segments (well-formed, with valid checksums, so the
//! state machine rather than the parser is exercised), socket calls and clock
//! jumps. Nothing may panic, and the connection table stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_proto::wire::{
    emit_icmp_packet, emit_packet, ChecksumMode, Ecn, IcmpRepr, IpRepr, SeqNum, TcpFlags,
    TcpOptions, TcpRepr,
};
use synack_proto::{ConnConfig, Duration, EcnMode, Instant, Shutdown, Stack, StackConfig};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

fn take<const N: usize>(data: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = data.split_first_chunk::<N>()?;
    *data = rest;
    Some(*head)
}

fuzz_target!(|input: &[u8]| {
    let mut data = input;
    // The connection asks for ECN, so ECE/CWR and CE marks reach its ECN logic.
    let conn_cfg = ConnConfig { ecn: EcnMode::Request, ..ConnConfig::default() };
    let cfg = StackConfig { max_connections: 64, conn: conn_cfg, ..StackConfig::default() };
    let mut st = Stack::new_deterministic(cfg, 7);
    st.add_address(LOCAL);
    let Ok(listener) = st.listen(SocketAddr::new(LOCAL, 80), 4) else { return };
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 5555);
    let Ok(conn) = st.connect(Instant::ZERO, Some(SocketAddr::new(LOCAL, 4000)), peer) else { return };
    let mut now = Instant::ZERO;
    let mut buf = Vec::new();
    let mut rbuf = [0u8; 512];
    while let Some([op, a, b, c]) = take::<4>(&mut data) {
        match op % 8 {
            // An ICMP error (type and code from the input) about a segment from
            // one of our ports to one of a few peers.
            3 => {
                let Some(head) = take::<8>(&mut data) else { break };
                let local = SocketAddr::new(LOCAL, [80, 4000, 81][usize::from(a % 3)]);
                let remote = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1 + b % 3)), [5555, 5556, 40000][usize::from(c % 3)]);
                let (Some(fwd), Some(back)) = (IpRepr::new(local.ip(), remote.ip()), IpRepr::new(remote.ip(), local.ip())) else { continue };
                let tcp = TcpRepr {
                    src_port: local.port(),
                    dst_port: remote.port(),
                    seq: SeqNum(u32::from_le_bytes([head[4], head[5], head[6], head[7]])),
                    ack: SeqNum(0),
                    flags: TcpFlags::ACK,
                    window: 0,
                    urgent: 0,
                    options: TcpOptions::default(),
                    payload: &[],
                };
                let mut quote = Vec::new();
                emit_packet(&fwd, &tcp, &mut quote);
                quote.truncate(20 + usize::from(head[3] % 32));
                let raw = [head[0], head[1], 0, 0, 0, 0, head[2], head[3]];
                if let Ok(msg) = IcmpRepr::parse(&raw, &back, ChecksumMode::Ignore) {
                    let mut pkt = Vec::new();
                    if emit_icmp_packet(&back, &IcmpRepr { quote: &quote, ..msg }, &mut pkt).is_ok() {
                        st.handle_packet(now, &pkt);
                    }
                }
            }
            // A segment from one of a few peers to one of a few ports.
            0..=2 => {
                let Some(head) = take::<12>(&mut data) else { break };
                let len = usize::from(c % 64).min(data.len());
                let (payload, rest) = data.split_at(len);
                data = rest;
                let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1 + a % 3)), [5555, 5556, 40000][usize::from(b % 3)]);
                let dst = SocketAddr::new(LOCAL, [80, 4000, 81][usize::from(op % 3)]);
                let ack = SeqNum(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
                // SACK blocks near the ACK, so the sender's scoreboard sees hostile ones.
                let mut sack = synack_proto::wire::SackBlocks::default();
                if head[11] & 4 != 0 {
                    let left = ack + u32::from(b) * 8;
                    sack.push(left, left + u32::from(c) * 16 + 1);
                    let left2 = ack + u32::from(a) * 64;
                    sack.push(left2, left2 + u32::from(head[10]) * 32);
                }
                let tcp = TcpRepr {
                    src_port: src.port(),
                    dst_port: dst.port(),
                    seq: SeqNum(u32::from_le_bytes([head[0], head[1], head[2], head[3]])),
                    ack,
                    flags: TcpFlags(head[8]),
                    window: u16::from_le_bytes([head[9], head[10]]),
                    urgent: 0,
                    options: TcpOptions {
                        mss: (head[11] & 1 != 0).then_some(536 + u16::from(head[11])),
                        window_scale: (head[11] & 2 != 0).then_some(head[11] >> 4),
                        sack_permitted: head[11] & 8 != 0,
                        sack,
                        ..TcpOptions::default()
                    },
                    payload,
                };
                if let Some(ip) = IpRepr::new(src.ip(), dst.ip()) {
                    let ip = ip.with_ecn(Ecn::from_bits(a >> 6));
                    let mut pkt = Vec::new();
                    emit_packet(&ip, &tcp, &mut pkt);
                    st.handle_packet(now, &pkt);
                }
            }
            4 => now += Duration::from_millis(u64::from(u16::from_le_bytes([a, b])) * u64::from(c % 8 + 1)),
            5 => {
                let _ = st.send(now, conn, &rbuf[..usize::from(a)]);
                let _ = st.recv(now, conn, &mut rbuf);
            }
            6 => {
                let _ = match a % 4 {
                    0 => st.shutdown(now, conn, Shutdown::Write),
                    1 => st.close(now, conn),
                    2 => st.abort(now, conn),
                    _ => st.accept(listener).map(|_| ()),
                };
            }
            _ => st.handle_timeout(now),
        }
        st.handle_timeout(now);
        let mut n = 0;
        while st.poll_transmit(now, &mut buf) {
            n += 1;
            assert!(n < 10_000, "runaway output");
        }
        while st.poll_event().is_some() {}
        assert!(st.connection_count() <= 64);
    }
});
