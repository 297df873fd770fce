//! The send budget during a SACK recovery, segment by segment: what the
//! sender emits in answer to each ACK under Proportional Rate Reduction
//! (RFC 9937) with CUBIC's reduction to 0.7 (RFC 9438 4.6), the Linux
//! profile's defaults. The peer is played by hand, as a packetdrill script
//! would: MSS 1000, SACK, no timestamps, 10 ms round trip.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_proto::wire::{
    emit_packet, parse_packet, ChecksumMode, IpRepr, TcpFlags, TcpOptions, TcpRepr,
};
use synack_proto::{ConnId, Duration, Instant, SeqNum, Stack, StackConfig};

const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
const HOST: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 80);

/// The stack under test, its connection, the peer's view of its ISN, the clock.
struct Sender {
    stack: Stack,
    conn: ConnId,
    isn: u32,
    now: Instant,
}

/// One segment from the peer: `ack` and SACK blocks relative to the
/// sender's ISN.
fn peer_segment(
    flags: TcpFlags,
    seq: u32,
    ack: u32,
    sack: &[(u32, u32)],
    syn_opts: bool,
) -> Vec<u8> {
    let ip = IpRepr::new(PEER.ip(), HOST.ip()).unwrap();
    let mut options = TcpOptions::default();
    if syn_opts {
        options.mss = Some(1000);
        options.sack_permitted = true;
        options.window_scale = Some(7);
    }
    for &(l, r) in sack {
        options.sack.push(SeqNum(l), SeqNum(r));
    }
    let tcp = TcpRepr {
        src_port: PEER.port(),
        dst_port: HOST.port(),
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        window: 320,
        urgent: 0,
        options,
        payload: &[],
    };
    let mut buf = Vec::new();
    emit_packet(&ip, &tcp, &mut buf);
    buf
}

impl Sender {
    /// Everything the stack sends now, as "first:end" relative to its ISN.
    fn sent(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while self.stack.poll_transmit(self.now, &mut buf) {
            let (_, tcp) = parse_packet(&buf, ChecksumMode::Verify).unwrap();
            let seq = tcp.seq.0.wrapping_sub(self.isn);
            if !tcp.payload.is_empty() {
                out.push(format!("{}:{}", seq, seq + tcp.payload.len() as u32));
            }
            buf.clear();
        }
        out
    }

    /// The peer ACKs `ack` with SACK blocks `sack` (relative) after `ms`
    /// milliseconds; what the sender sends in answer.
    fn ack(&mut self, ms: u64, ack: u32, sack: &[(u32, u32)]) -> Vec<String> {
        self.now += Duration::from_millis(ms);
        let rel: Vec<(u32, u32)> = sack
            .iter()
            .map(|&(l, r)| (l.wrapping_add(self.isn), r.wrapping_add(self.isn)))
            .collect();
        let p = peer_segment(TcpFlags::ACK, 1, ack.wrapping_add(self.isn), &rel, false);
        self.stack.handle_packet(self.now, &p);
        self.sent()
    }
}

/// A connection accepted from the peer, with `len` octets written once the
/// handshake is done; returns the sender and the flight it sent at once.
fn established(len: usize) -> (Sender, Vec<String>) {
    let mut stack = Stack::new_deterministic(StackConfig::default(), 7);
    stack.add_address(HOST.ip());
    let l = stack.listen(HOST, 8).unwrap();
    let now = Instant::ZERO + Duration::from_millis(1);
    stack.handle_packet(now, &peer_segment(TcpFlags::SYN, 0, 0, &[], true));
    let mut buf = Vec::new();
    assert!(stack.poll_transmit(now, &mut buf));
    let (_, synack) = parse_packet(&buf, ChecksumMode::Verify).unwrap();
    let isn = synack.seq.0;
    let now = now + Duration::from_millis(10);
    stack.handle_packet(
        now,
        &peer_segment(TcpFlags::ACK, 1, isn.wrapping_add(1), &[], false),
    );
    let conn = stack.accept(l).unwrap();
    assert_eq!(stack.send(now, conn, &vec![0u8; len]).unwrap(), len);
    let mut s = Sender {
        stack,
        conn,
        isn,
        now,
    };
    let flight = s.sent();
    (s, flight)
}

#[test]
fn prr_sends_what_each_ack_delivered_and_one_more_on_a_safe_ack() {
    let (mut s, flight) = established(20_000);
    // The initial window: ten segments 1..10001.
    assert_eq!(flight.len(), 10);
    assert_eq!(flight[0], "1:1001");
    assert_eq!(flight[9], "9001:10001");
    // Segments 1..4001 are lost. The first two duplicate ACKs each let one
    // new segment go (RFC 3042 limited transmit).
    assert_eq!(s.ack(10, 1, &[(4001, 5001)]), ["10001:11001"]);
    assert_eq!(s.ack(2, 1, &[(4001, 6001)]), ["11001:12001"]);
    // The third: recovery (ssthresh 7 segments, pipe below it): PRR-CRB
    // sends what the ACK delivered, one segment: the fast retransmit.
    assert_eq!(s.ack(2, 1, &[(4001, 7001)]), ["1:1001"]);
    assert_eq!(s.status_cwnd_ssthresh(), 7000);
    // Each further SACKed segment releases one retransmission of a hole.
    assert_eq!(s.ack(2, 1, &[(4001, 8001)]), ["1001:2001"]);
    assert_eq!(s.ack(2, 1, &[(4001, 9001)]), ["2001:3001"]);
    assert_eq!(s.ack(2, 1, &[(4001, 10001)]), ["3001:4001"]);
    // Holes repaired: one new segment per segment delivered (no SSRB: SND.UNA
    // did not move, RFC 9937 5).
    assert_eq!(s.ack(2, 1, &[(4001, 11001)]), ["12001:13001"]);
    assert_eq!(s.ack(2, 1, &[(4001, 12001)]), ["13001:14001"]);
    // A safe ACK (SND.UNA advances, no further loss): what it delivered plus
    // one MSS (PRR-SSRB), two segments.
    assert_eq!(
        s.ack(10, 1001, &[(4001, 12001)]),
        ["14001:15001", "15001:16001"]
    );
    // An ACK that delivers nothing sends nothing.
    assert!(s.ack(1, 1001, &[(4001, 12001)]).is_empty());
    assert!(s.stack.status(s.conn).is_ok());
}

impl Sender {
    /// ssthresh, once recovery began.
    fn status_cwnd_ssthresh(&self) -> u32 {
        self.stack.status(self.conn).unwrap().ssthresh
    }
}
