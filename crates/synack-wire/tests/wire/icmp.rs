//! ICMP and ICMPv6: hand-assembled golden messages, one test per error,
//! and properties (no panic on random input, parse(emit(x)) == x).

use crate::common::{ref_checksum, tcp_segment, v4_packet_full, A4, A6, B4, B6};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use synack_wire::icmp::{icmpv4_type, icmpv6_type};
use synack_wire::{
    emit_icmp_packet, emit_packet, parse_icmp_packet, parse_packet, ChecksumMode, Ecn, IcmpMessage,
    IcmpRepr, Icmpv4Message, Icmpv4Unreachable, Icmpv6Message, Icmpv6ParamProblem,
    Icmpv6Unreachable, IpRepr, Ipv4Repr, Ipv6Repr, QuotedTcp, SeqNum, TcpFlags, TcpOptions,
    TcpRepr, TimeExceeded, WireError,
};

const V: ChecksumMode = ChecksumMode::Verify;
const I: ChecksumMode = ChecksumMode::Ignore;

/// The first 28 bytes of the IPv4 packet `A4:1234 -> B4:80` (seq 1000) with
/// a 100-byte payload: what a router quotes (RFC 792: header + 64 bits).
fn quote_v4() -> Vec<u8> {
    let seg = tcp_segment(5, 0x18, &[], &[0u8; 100]);
    let mut p = v4_packet_full(A4, B4, 6, 0x4000, &[], &seg);
    p.truncate(28);
    p
}

/// An ICMP message (header and quote) with its checksum set.
fn icmp_msg(t: u8, code: u8, rest: [u8; 4], quote: &[u8], pseudo: &[u8]) -> Vec<u8> {
    let mut m = vec![t, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(quote);
    let c = ref_checksum(&[pseudo, &m]);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An IPv4 packet from the router B4 to A4 carrying `msg`.
fn v4_icmp(msg: &[u8]) -> Vec<u8> {
    v4_packet_full(B4, A4, 1, 0x4000, &[], msg)
}

fn v6_pseudo58(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> Vec<u8> {
    let mut ph = Vec::new();
    ph.extend_from_slice(&src.octets());
    ph.extend_from_slice(&dst.octets());
    ph.extend_from_slice(&(len as u32).to_be_bytes());
    ph.extend_from_slice(&[0, 0, 0, 58]);
    ph
}

/// An IPv6 packet `B6 -> A6` with next header `next` and payload `p`.
fn v6_raw(next: u8, p: &[u8]) -> Vec<u8> {
    let mut out = vec![0x60, 0, 0, 0];
    out.extend_from_slice(&(p.len() as u16).to_be_bytes());
    out.extend_from_slice(&[next, 64]);
    out.extend_from_slice(&B6.octets());
    out.extend_from_slice(&A6.octets());
    out.extend_from_slice(p);
    out
}

/// The start of the IPv6 packet `A6:1234 -> B6:80` (seq 1000) with a
/// 1400-byte payload, with `ext` extension headers after the fixed header.
fn quote_v6(next: u8, ext: &[u8], tcp_bytes: usize) -> Vec<u8> {
    let seg = tcp_segment(5, 0x18, &[], &[]);
    let mut q = vec![0x60, 0, 0, 0];
    q.extend_from_slice(&((ext.len() + 20 + 1400) as u16).to_be_bytes());
    q.extend_from_slice(&[next, 64]);
    q.extend_from_slice(&A6.octets());
    q.extend_from_slice(&B6.octets());
    q.extend_from_slice(ext);
    q.extend_from_slice(&seg[..tcp_bytes]);
    q
}

fn v6_icmp(t: u8, code: u8, rest: [u8; 4], quote: &[u8]) -> Vec<u8> {
    let len = 8 + quote.len();
    let m = icmp_msg(t, code, rest, quote, &v6_pseudo58(B6, A6, len));
    v6_raw(58, &m)
}

fn quoted_v4() -> QuotedTcp {
    QuotedTcp {
        src: SocketAddr::new(IpAddr::V4(A4), 1234),
        dst: SocketAddr::new(IpAddr::V4(B4), 80),
        seq: SeqNum(1000),
        ip_len: 140,
    }
}

#[test]
fn golden_port_unreachable_v4() {
    let q = quote_v4();
    let pkt = v4_icmp(&icmp_msg(3, 3, [0; 4], &q, &[]));
    let (ip, icmp) = parse_icmp_packet(&pkt, V).expect("parses");
    assert_eq!(ip.src(), IpAddr::V4(B4));
    assert_eq!(
        icmp.message,
        IcmpMessage::V4(Icmpv4Message::DestUnreachable {
            code: Icmpv4Unreachable::Port,
            next_hop_mtu: 0
        })
    );
    assert!(icmp.message.is_error());
    assert_eq!(icmp.quote, &q[..]);
    assert_eq!(icmp.quoted_tcp(), Ok(quoted_v4()));
    // Re-emitted byte for byte (the outer header had ident 0x1234, TTL 64, DF).
    let mut out = Vec::new();
    emit_icmp_packet(&ip, &icmp, &mut out).expect("emits");
    assert_eq!(out, pkt);
    // Not a TCP packet.
    assert_eq!(parse_packet(&pkt, V).err(), Some(WireError::NotTcp));
}

#[test]
fn golden_frag_needed_carries_the_next_hop_mtu() {
    // RFC 1191 4: the low 16 bits of the second word.
    let pkt = v4_icmp(&icmp_msg(3, 4, [0, 0, 0x05, 0x78], &quote_v4(), &[]));
    let (_, icmp) = parse_icmp_packet(&pkt, V).expect("parses");
    assert_eq!(
        icmp.message,
        IcmpMessage::V4(Icmpv4Message::DestUnreachable {
            code: Icmpv4Unreachable::FragNeeded,
            next_hop_mtu: 1400
        })
    );
}

#[test]
fn golden_other_v4_types() {
    let q = quote_v4();
    let parse = |t, code, rest| {
        let pkt = v4_icmp(&icmp_msg(t, code, rest, &q, &[]));
        parse_icmp_packet(&pkt, V).expect("parses").1.message
    };
    assert_eq!(
        parse(11, 0, [0; 4]),
        IcmpMessage::V4(Icmpv4Message::TimeExceeded {
            code: TimeExceeded::InTransit
        })
    );
    assert_eq!(
        parse(12, 0, [20, 0, 0, 0]),
        IcmpMessage::V4(Icmpv4Message::ParameterProblem {
            code: 0,
            pointer: 20
        })
    );
    assert_eq!(
        parse(4, 0, [0; 4]),
        IcmpMessage::V4(Icmpv4Message::SourceQuench)
    );
    assert_eq!(
        parse(5, 1, [10, 0, 0, 9]),
        IcmpMessage::V4(Icmpv4Message::Redirect {
            code: 1,
            gateway: Ipv4Addr::new(10, 0, 0, 9)
        })
    );
    let echo = parse(8, 0, [0, 1, 0, 2]);
    assert_eq!(
        echo,
        IcmpMessage::V4(Icmpv4Message::Other {
            msg_type: icmpv4_type::ECHO_REQUEST,
            code: 0,
            rest: [0, 1, 0, 2]
        })
    );
    assert!(!echo.is_error());
}

#[test]
fn golden_packet_too_big_v6_uses_the_pseudo_header() {
    let q = quote_v6(6, &[], 20);
    let pkt = v6_icmp(2, 0, 1280u32.to_be_bytes(), &q);
    let (ip, icmp) = parse_icmp_packet(&pkt, V).expect("parses");
    assert_eq!(
        icmp.message,
        IcmpMessage::V6(Icmpv6Message::PacketTooBig { mtu: 1280 })
    );
    assert_eq!(
        icmp.quoted_tcp(),
        Ok(QuotedTcp {
            src: SocketAddr::new(IpAddr::V6(A6), 1234),
            dst: SocketAddr::new(IpAddr::V6(B6), 80),
            seq: SeqNum(1000),
            ip_len: 40 + 1420,
        })
    );
    let mut out = Vec::new();
    emit_icmp_packet(&ip, &icmp, &mut out).expect("emits");
    assert_eq!(out, pkt);
    // The same message checksummed without the pseudo-header is rejected.
    let m = icmp_msg(2, 0, 1280u32.to_be_bytes(), &q, &[]);
    assert_eq!(
        parse_icmp_packet(&v6_raw(58, &m), V).err(),
        Some(WireError::BadIcmpChecksum)
    );
}

#[test]
fn golden_v6_codes() {
    let q = quote_v6(6, &[], 8);
    let parse = |t, code, rest| {
        parse_icmp_packet(&v6_icmp(t, code, rest, &q), V)
            .expect("parses")
            .1
            .message
    };
    assert_eq!(
        parse(1, 4, [0; 4]),
        IcmpMessage::V6(Icmpv6Message::DestUnreachable {
            code: Icmpv6Unreachable::PortUnreachable
        })
    );
    assert_eq!(
        parse(4, 1, [0, 0, 0, 6]),
        IcmpMessage::V6(Icmpv6Message::ParameterProblem {
            code: Icmpv6ParamProblem::NextHeader,
            pointer: 6
        })
    );
    assert_eq!(
        parse(3, 1, [0; 4]),
        IcmpMessage::V6(Icmpv6Message::TimeExceeded {
            code: TimeExceeded::Reassembly
        })
    );
    assert!(!parse(icmpv6_type::ECHO_REQUEST, 0, [0; 4]).is_error());
    assert!(parse(127, 0, [0; 4]).is_error());
}

#[test]
fn v6_quote_behind_extension_headers() {
    // Destination Options (next: TCP), 8 bytes.
    let ext = [6, 0, 1, 4, 0, 0, 0, 0];
    let q = quote_v6(60, &ext, 8);
    let pkt = v6_icmp(1, 3, [0; 4], &q);
    let (_, icmp) = parse_icmp_packet(&pkt, V).expect("parses");
    let t = icmp.quoted_tcp().expect("finds TCP");
    assert_eq!(
        (t.src.port(), t.dst.port(), t.seq),
        (1234, 80, SeqNum(1000))
    );
    assert_eq!(t.ip_len, 40 + 8 + 1420);
}

#[test]
fn errors_of_the_message() {
    let q = quote_v4();
    let good = icmp_msg(3, 3, [0; 4], &q, &[]);
    // Shorter than the header.
    assert_eq!(
        parse_icmp_packet(&v4_icmp(&good[..7]), V).err(),
        Some(WireError::Truncated)
    );
    // A wrong checksum is caught unless checks are off.
    let mut bad = good.clone();
    bad[9] ^= 0x40;
    assert_eq!(
        parse_icmp_packet(&v4_icmp(&bad), V).err(),
        Some(WireError::BadIcmpChecksum)
    );
    assert!(parse_icmp_packet(&v4_icmp(&bad), I).is_ok());
    // Neither ICMP nor ICMPv6: TCP, UDP, ICMP inside IPv6, ICMPv6 inside IPv4.
    let tcp = v4_packet_full(A4, B4, 6, 0x4000, &[], &tcp_segment(5, 2, &[], &[]));
    assert_eq!(parse_icmp_packet(&tcp, V).err(), Some(WireError::NotIcmp));
    let udp = v4_packet_full(B4, A4, 17, 0x4000, &[], &[0u8; 8]);
    assert_eq!(parse_icmp_packet(&udp, V).err(), Some(WireError::NotIcmp));
    assert_eq!(
        parse_icmp_packet(&v6_raw(1, &good), V).err(),
        Some(WireError::NotIcmp)
    );
    let v4_58 = v4_packet_full(B4, A4, 58, 0x4000, &[], &good);
    assert_eq!(parse_icmp_packet(&v4_58, V).err(), Some(WireError::NotIcmp));
    // The IP checks come first, as for TCP.
    assert_eq!(parse_icmp_packet(&[], V).err(), Some(WireError::Truncated));
    assert_eq!(
        parse_icmp_packet(&[0x55; 40], V).err(),
        Some(WireError::BadIpVersion)
    );
    let frag = v4_packet_full(B4, A4, 1, 0x2000, &[], &good);
    assert_eq!(parse_icmp_packet(&frag, V).err(), Some(WireError::Fragment));
}

#[test]
fn errors_of_the_quote() {
    let quoted = |q: &[u8]| {
        let pkt = v4_icmp(&icmp_msg(3, 3, [0; 4], q, &[]));
        let (_, icmp) = parse_icmp_packet(&pkt, V).expect("the message parses");
        icmp.quoted_tcp()
    };
    let q = quote_v4();
    assert_eq!(quoted(&[]), Err(WireError::Truncated));
    // Less than 64 bits of TCP.
    assert_eq!(quoted(&q[..27]), Err(WireError::Truncated));
    assert_eq!(quoted(&q[..20]), Err(WireError::Truncated));
    // IHL beyond the quote.
    let mut long = q.clone();
    long[0] = 0x4f;
    assert_eq!(quoted(&long), Err(WireError::Truncated));
    let mut v6 = q.clone();
    v6[0] = 0x65;
    assert_eq!(quoted(&v6), Err(WireError::BadIpVersion));
    let mut ihl = q.clone();
    ihl[0] = 0x44;
    assert_eq!(quoted(&ihl), Err(WireError::BadLength));
    // A later fragment has no TCP header; a first fragment has.
    let mut frag = q.clone();
    frag[6] = 0x00;
    frag[7] = 0x10;
    assert_eq!(quoted(&frag), Err(WireError::Fragment));
    frag[6] = 0x20;
    frag[7] = 0x00;
    assert_eq!(quoted(&frag), Ok(quoted_v4()));
    let mut udp = q.clone();
    udp[9] = 17;
    assert_eq!(quoted(&udp), Err(WireError::NotTcp));
    // Options in the quoted header are skipped by IHL.
    let seg = tcp_segment(5, 0x18, &[], &[]);
    let mut opt = v4_packet_full(A4, B4, 6, 0x4000, &[1, 1, 1, 0], &seg);
    opt.truncate(24 + 8);
    assert_eq!(quoted(&opt).map(|t| t.seq), Ok(SeqNum(1000)));
    // IPv6 quotes.
    let quoted6 = |q: &[u8]| {
        let pkt = v6_icmp(1, 4, [0; 4], q);
        let (_, icmp) = parse_icmp_packet(&pkt, V).expect("parses");
        icmp.quoted_tcp()
    };
    assert_eq!(quoted6(&quote_v6(6, &[], 7)), Err(WireError::Truncated));
    assert_eq!(quoted6(&quote_v4()), Err(WireError::BadIpVersion));
    assert_eq!(quoted6(&quote_v6(17, &[], 8)), Err(WireError::NotTcp));
    assert_eq!(
        quoted6(&quote_v6(44, &[6, 0, 0, 0, 0, 0, 0, 1], 8)),
        Err(WireError::Fragment)
    );
    assert_eq!(
        quoted6(&quote_v6(6, &[], 0)[..39]),
        Err(WireError::Truncated)
    );
}

#[test]
fn emit_refuses_mixed_families() {
    let Some(ip) = IpRepr::new(IpAddr::V6(B6), IpAddr::V6(A6)) else {
        panic!("v6 header");
    };
    let icmp = IcmpRepr {
        message: IcmpMessage::V4(Icmpv4Message::SourceQuench),
        quote: &[],
    };
    let mut buf = vec![1, 2, 3];
    assert_eq!(
        emit_icmp_packet(&ip, &icmp, &mut buf),
        Err(WireError::BadIpVersion)
    );
    assert!(buf.is_empty());
    let big = vec![0u8; 70_000];
    let icmp = IcmpRepr {
        message: IcmpMessage::V6(Icmpv6Message::PacketTooBig { mtu: 1280 }),
        quote: &big,
    };
    assert_eq!(
        emit_icmp_packet(&ip, &icmp, &mut buf),
        Err(WireError::BadLength)
    );
}

fn ip_pair() -> impl Strategy<Value = IpRepr> {
    prop_oneof![
        (any::<u8>(), any::<u16>(), any::<bool>()).prop_map(|(ttl, ident, df)| IpRepr::V4(
            Ipv4Repr {
                src: B4,
                dst: A4,
                ttl,
                dont_frag: df,
                ident,
                dscp: 0,
                ecn: Ecn::NotEct,
            }
        )),
        (any::<u8>(), 0u32..(1 << 20)).prop_map(|(hop_limit, flow_label)| IpRepr::V6(Ipv6Repr {
            src: B6,
            dst: A6,
            hop_limit,
            flow_label,
            dscp: 0,
            ecn: Ecn::NotEct,
        })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Random bytes, also behind a valid IP header saying ICMP, never panic
    /// in either mode; what parses re-emits to a packet that parses back
    /// to the same thing, and its quote's parse never panics.
    #[test]
    fn random_bytes_never_panic(
        ip in ip_pair(),
        body in proptest::collection::vec(any::<u8>(), 0..120),
        raw in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut framed = Vec::new();
        let msg = IcmpRepr { message: IcmpMessage::V4(Icmpv4Message::SourceQuench), quote: &[] };
        // A valid header for `body` bytes of ICMP: emit an empty message, then append.
        let msg = match ip {
            IpRepr::V4(_) => msg,
            IpRepr::V6(_) => IcmpRepr { message: IcmpMessage::V6(Icmpv6Message::PacketTooBig { mtu: 0 }), ..msg },
        };
        emit_icmp_packet(&ip, &msg, &mut framed).expect("emits");
        framed.truncate(ip.header_len());
        framed.extend_from_slice(&body);
        let plen = (body.len() as u16).to_be_bytes();
        match ip {
            IpRepr::V4(_) => {
                let total = (20 + body.len() as u16).to_be_bytes();
                framed[2..4].copy_from_slice(&total);
                framed[10] = 0;
                framed[11] = 0;
                let c = ref_checksum(&[&framed[..20]]);
                framed[10..12].copy_from_slice(&c.to_be_bytes());
            }
            IpRepr::V6(_) => framed[4..6].copy_from_slice(&plen),
        }
        for bytes in [&framed[..], &raw[..]] {
            for mode in [V, I] {
                let Ok((ip2, icmp)) = parse_icmp_packet(bytes, mode) else { continue };
                let _ = icmp.quoted_tcp();
                let _ = icmp.message.is_error();
                let mut out = Vec::new();
                emit_icmp_packet(&ip2, &icmp, &mut out).expect("re-emits");
                let (ip3, icmp3) = parse_icmp_packet(&out, V).expect("re-emitted parses");
                prop_assert_eq!(ip3, ip2);
                prop_assert_eq!(icmp3, icmp);
            }
        }
    }

    /// parse(emit(x)) == x over every type, code, second word and quote.
    #[test]
    fn roundtrip(
        ip in ip_pair(),
        t in any::<u8>(),
        code in any::<u8>(),
        rest in any::<[u8; 4]>(),
        quote in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        // Every message is what parse makes of some header: build one by
        // parsing a raw message without checksum checks.
        let mut raw = vec![t, code, 0, 0];
        raw.extend_from_slice(&rest);
        raw.extend_from_slice(&quote);
        let x = IcmpRepr::parse(&raw, &ip, I).expect("8 bytes or more parse");
        let mut out = Vec::new();
        emit_icmp_packet(&ip, &x, &mut out).expect("emits");
        let (ip2, y) = parse_icmp_packet(&out, V).expect("parses");
        prop_assert_eq!(ip2, ip);
        prop_assert_eq!(y, x);
        let mut again = Vec::new();
        emit_icmp_packet(&ip2, &y, &mut again).expect("emits");
        prop_assert_eq!(again, out);
    }

    /// The quote of any TCP segment gives back its addresses, ports and
    /// sequence number, and the IP length, however much of it is quoted
    /// beyond the first 64 bits of TCP.
    #[test]
    fn quoted_segment(
        ip in ip_pair(),
        sport in any::<u16>(),
        dport in any::<u16>(),
        seq in any::<u32>(),
        len in 0usize..200,
        extra in 0usize..40,
    ) {
        // The quoted segment went the other way: from A to B.
        let Some(fwd) = IpRepr::new(ip.dst(), ip.src()) else { unreachable!("same family") };
        let payload = vec![0u8; len];
        let seg = TcpRepr {
            src_port: sport,
            dst_port: dport,
            seq: SeqNum(seq),
            ack: SeqNum(0),
            flags: TcpFlags::ACK,
            window: 100,
            urgent: 0,
            options: TcpOptions::default(),
            payload: &payload,
        };
        let mut whole = Vec::new();
        emit_packet(&fwd, &seg, &mut whole);
        let cut = (fwd.header_len() + 8 + extra).min(whole.len());
        let message = match ip {
            IpRepr::V4(_) => IcmpMessage::V4(Icmpv4Message::DestUnreachable { code: Icmpv4Unreachable::Host, next_hop_mtu: 0 }),
            IpRepr::V6(_) => IcmpMessage::V6(Icmpv6Message::DestUnreachable { code: Icmpv6Unreachable::NoRoute }),
        };
        let icmp = IcmpRepr { message, quote: &whole[..cut] };
        let mut out = Vec::new();
        emit_icmp_packet(&ip, &icmp, &mut out).expect("emits");
        let (_, parsed) = parse_icmp_packet(&out, V).expect("parses");
        prop_assert_eq!(parsed.quoted_tcp(), Ok(QuotedTcp {
            src: SocketAddr::new(fwd.src(), sport),
            dst: SocketAddr::new(fwd.dst(), dport),
            seq: SeqNum(seq),
            ip_len: whole.len() as u32,
        }));
        // One octet less than 64 bits of TCP is not enough.
        let short = IcmpRepr { message, quote: &whole[..fwd.header_len() + 7] };
        prop_assert_eq!(short.quoted_tcp(), Err(WireError::Truncated));
    }
}
