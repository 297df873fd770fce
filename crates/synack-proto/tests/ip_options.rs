//! Per-socket IP header fields: the TTL / hop limit (RFC 791 3.1, RFC 8200 3)
//! and the DSCP (RFC 2474 3) chosen in `ConnConfig`, set on a bound socket, a
//! listener or a live connection, pinned on every segment sent; the ECN field
//! stays the TCP's (RFC 3168 5).
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use synack_proto::wire::{
    emit_packet, parse_packet, ChecksumMode, Ecn, IpRepr, SeqNum, TcpFlags, TcpOptions, TcpRepr,
};
use synack_proto::{
    ConnConfig, ConnId, EcnMode, Error, Instant, Stack, StackConfig, DEFAULT_TTL, MAX_BOUND,
};

const PEER_ISS: u32 = 7000;
const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const FIN: TcpFlags = TcpFlags::FIN;
const ECE: TcpFlags = TcpFlags::ECE;
const CWR: TcpFlags = TcpFlags::CWR;

/// DSCP CS1 (RFC 2474 4.2.2.1): TOS byte 0x20.
const CS1: u8 = 8;
/// DSCP CS7: TOS byte 0xe0.
const CS7: u8 = 56;

fn cfg(ttl: Option<u8>, dscp: u8) -> ConnConfig {
    ConnConfig {
        ttl,
        dscp,
        delayed_ack: None,
        timestamps: false,
        window_scaling: false,
        sack: false,
        ..ConnConfig::default()
    }
}

struct Host {
    stack: Stack,
    now: Instant,
    iss: Option<u32>,
    us: SocketAddr,
    peer: SocketAddr,
}

impl Host {
    fn new(us: &str, peer: &str) -> Host {
        let us: IpAddr = us.parse().unwrap();
        let mut stack = Stack::new_deterministic(StackConfig::default(), 7);
        stack.add_address(us);
        Host {
            stack,
            now: Instant::ZERO,
            iss: None,
            us: SocketAddr::new(us, 80),
            peer: SocketAddr::new(peer.parse().unwrap(), 40000),
        }
    }

    fn v4() -> Host {
        Host::new("10.0.0.2", "10.0.0.1")
    }

    fn v6() -> Host {
        Host::new("2001:db8::2", "2001:db8::1")
    }

    /// The peer's segment, in an IP header with TTL 3, DSCP AF11 (0x28) and `ecn`.
    fn inject(&mut self, seq: u32, ack: u32, flags: TcpFlags, ecn: Ecn, len: usize) {
        let payload = vec![0u8; len];
        let iss = self.iss.unwrap_or(0);
        let tcp = TcpRepr {
            src_port: self.peer.port(),
            dst_port: self.us.port(),
            seq: SeqNum(PEER_ISS.wrapping_add(seq)),
            ack: if flags.ack() {
                SeqNum(iss.wrapping_add(ack))
            } else {
                SeqNum(0)
            },
            flags,
            window: 65535,
            urgent: 0,
            options: TcpOptions {
                mss: flags.syn().then_some(1000),
                ..TcpOptions::default()
            },
            payload: &payload,
        };
        let ip = IpRepr::new(self.peer.ip(), self.us.ip())
            .unwrap()
            .with_ecn(ecn)
            .with_ttl(3)
            .with_dscp(10);
        let mut buf = Vec::new();
        emit_packet(&ip, &tcp, &mut buf);
        self.stack.handle_packet(self.now, &buf);
    }

    /// Every segment sent now, as `FLAGS len=L ttl=T tos=0xNN`.
    fn out(&mut self) -> Vec<String> {
        let mut buf = Vec::new();
        let mut segs = Vec::new();
        while self.stack.poll_transmit(self.now, &mut buf) {
            let (ip, tcp) = parse_packet(&buf, ChecksumMode::Verify).unwrap();
            if tcp.flags.syn() && self.iss.is_none() {
                self.iss = Some(tcp.seq.get());
            }
            let tos = (ip.dscp() << 2) | ip.ecn().bits();
            segs.push(format!(
                "{} len={} ttl={} tos={tos:#04x}",
                tcp.flags,
                tcp.payload.len(),
                ip.ttl()
            ));
        }
        while self.stack.poll_event().is_some() {}
        segs
    }

    /// A passive open through a listener with `conn`.
    fn accepted(&mut self, conn: ConnConfig, synack: &str) -> ConnId {
        let l = self.stack.listen_with(self.us, 8, 8, conn).unwrap();
        self.inject(0, 0, SYN, Ecn::NotEct, 0);
        assert_eq!(self.out(), [synack]);
        self.inject(1, 1, ACK, Ecn::NotEct, 0);
        assert_eq!(self.out(), Vec::<String>::new());
        self.stack.accept(l).unwrap()
    }

    fn send(&mut self, id: ConnId, len: usize) {
        assert_eq!(self.stack.send(self.now, id, &vec![0u8; len]).unwrap(), len);
    }
}

#[test]
fn defaults_are_ttl_64_and_dscp_0() {
    assert_eq!(DEFAULT_TTL, 64);
    let mut h = Host::v4();
    let c = h.accepted(cfg(None, 0), "SYN,ACK len=0 ttl=64 tos=0x00");
    h.send(c, 10);
    assert_eq!(h.out(), ["PSH,ACK len=10 ttl=64 tos=0x00"]);
}

#[test]
fn every_segment_of_a_connection_carries_its_ttl_and_dscp() {
    for mut h in [Host::v4(), Host::v6()] {
        let c = h.accepted(cfg(Some(4), CS1), "SYN,ACK len=0 ttl=4 tos=0x20");
        h.send(c, 100);
        assert_eq!(h.out(), ["PSH,ACK len=100 ttl=4 tos=0x20"]);
        h.inject(1, 101, ACK, Ecn::NotEct, 0);
        // RFC 791 3.1 / RFC 2474 3: a live change applies to the next segment.
        h.stack.set_ip_options(c, Some(6), CS7).unwrap();
        let got = h.stack.conn_config(c).unwrap();
        assert_eq!((got.ttl, got.dscp), (Some(6), CS7));
        h.send(c, 100);
        assert_eq!(h.out(), ["PSH,ACK len=100 ttl=6 tos=0xe0"]);
        h.inject(1, 201, ACK, Ecn::NotEct, 0);
        h.stack.close(h.now, c).unwrap();
        assert_eq!(h.out(), ["FIN,ACK len=0 ttl=6 tos=0xe0"]);
        h.inject(1, 202, FIN | ACK, Ecn::NotEct, 0);
        assert_eq!(h.out(), ["ACK len=0 ttl=6 tos=0xe0"]);
    }
}

#[test]
fn a_connection_resets_with_its_own_ip_options() {
    let mut h = Host::v4();
    let c = h.accepted(cfg(Some(9), CS1), "SYN,ACK len=0 ttl=9 tos=0x20");
    // An abort: the TCB's own RST.
    h.stack.abort(h.now, c).unwrap();
    assert_eq!(h.out(), ["RST,ACK len=0 ttl=9 tos=0x20"]);

    // A RST answering a segment (an unacceptable ACK in SYN_RCVD, RFC 9293 3.10.7.4).
    let mut h = Host::v4();
    h.stack.listen_with(h.us, 8, 8, cfg(Some(5), CS7)).unwrap();
    h.inject(0, 0, SYN, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["SYN,ACK len=0 ttl=5 tos=0xe0"]);
    h.inject(1, 77, ACK, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["RST len=0 ttl=5 tos=0xe0"]);
}

#[test]
fn a_bound_socket_resets_with_its_ip_options_then_listens() {
    for mut h in [Host::v4(), Host::v6()] {
        let b = h.stack.bind(h.us, cfg(Some(4), CS1)).unwrap();
        // A second bind of the address fails; listen takes it over.
        assert_eq!(
            h.stack.bind(h.us, ConnConfig::default()),
            Err(Error::AddrInUse)
        );
        // RFC 9293 3.10.7.1: no listener, so a SYN gets <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>,
        // from the bound socket.
        h.inject(0, 0, SYN, Ecn::NotEct, 0);
        assert_eq!(h.out(), ["RST,ACK len=0 ttl=4 tos=0x20"]);
        h.stack.listen_with(h.us, 1, 1, cfg(Some(4), CS1)).unwrap();
        assert_eq!(h.stack.unbind(b), Err(Error::InvalidHandle));
        h.inject(0, 0, SYN, Ecn::NotEct, 0);
        assert_eq!(h.out(), ["SYN,ACK len=0 ttl=4 tos=0x20"]);
    }
}

#[test]
fn unbinding_frees_the_address_and_the_stack_defaults_answer() {
    let mut h = Host::v4();
    let b = h.stack.bind(h.us, cfg(Some(4), CS1)).unwrap();
    h.stack.unbind(b).unwrap();
    h.inject(0, 0, SYN, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["RST,ACK len=0 ttl=64 tos=0x00"]);
    let b2 = h.stack.bind(h.us, ConnConfig::default()).unwrap();
    assert_eq!(b2, b);
    // A wildcard binding answers for any of our addresses on the port.
    let mut h = Host::v4();
    let any = SocketAddr::from(([0, 0, 0, 0], 80));
    h.stack.bind(any, cfg(Some(200), 0)).unwrap();
    h.inject(0, 0, SYN, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["RST,ACK len=0 ttl=200 tos=0x00"]);
}

#[test]
fn bind_is_bounded_and_checks_its_address() {
    let mut h = Host::v4();
    assert_eq!(
        h.stack
            .bind(SocketAddr::from(([10, 0, 0, 9], 80)), ConnConfig::default()),
        Err(Error::AddrNotAvailable)
    );
    assert_eq!(
        h.stack
            .bind(SocketAddr::from(([10, 0, 0, 2], 0)), ConnConfig::default()),
        Err(Error::InvalidArgument)
    );
    for port in 1..=MAX_BOUND as u16 {
        h.stack
            .bind(
                SocketAddr::from(([10, 0, 0, 2], port)),
                ConnConfig::default(),
            )
            .unwrap();
    }
    assert_eq!(
        h.stack.bind(
            SocketAddr::from(([10, 0, 0, 2], 9999)),
            ConnConfig::default()
        ),
        Err(Error::TooManyConnections)
    );
}

#[test]
fn connect_from_a_bound_address_takes_it_over() {
    let mut h = Host::v4();
    h.us.set_port(40000);
    h.peer.set_port(80);
    h.stack.bind(h.us, cfg(Some(7), CS1)).unwrap();
    h.stack
        .connect_with(h.now, Some(h.us), h.peer, cfg(Some(7), CS1))
        .unwrap();
    assert_eq!(h.out(), ["SYN len=0 ttl=7 tos=0x20"]);
    // The address is free again for a bind once the binding was taken over.
    let other = SocketAddr::new(h.us.ip(), 40000);
    assert!(h.stack.bind(other, ConnConfig::default()).is_ok());
}

#[test]
fn dscp_leaves_the_ecn_field_to_tcp() {
    // RFC 3168 5 / 6.1.2: ECT(0) on data of an ECN connection, whatever the DSCP.
    let mut h = Host::v4();
    let l = h
        .stack
        .listen_with(
            h.us,
            8,
            8,
            ConnConfig {
                ecn: EcnMode::Accept,
                ..cfg(Some(4), CS7)
            },
        )
        .unwrap();
    h.inject(0, 0, SYN | ECE | CWR, Ecn::NotEct, 0);
    assert_eq!(h.out(), ["SYN,ACK,ECE len=0 ttl=4 tos=0xe0"]);
    h.inject(1, 1, ACK, Ecn::NotEct, 0);
    let c = h.stack.accept(l).unwrap();
    h.send(c, 10);
    assert_eq!(h.out(), ["PSH,ACK len=10 ttl=4 tos=0xe2"]);
    // Only six bits of DSCP are taken: the ECN bits of a TOS value are not.
    h.stack.set_ip_options(c, Some(4), 0xff).unwrap();
    h.inject(1, 11, ACK, Ecn::NotEct, 0);
    h.send(c, 10);
    assert_eq!(h.out(), ["PSH,ACK len=10 ttl=4 tos=0xfe"]);
}
