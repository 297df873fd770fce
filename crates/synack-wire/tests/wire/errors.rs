//! One or more hand-built packets per `WireError` variant, plus the
//! accepted corner cases next to each rule.

use crate::common::*;
use std::net::{Ipv4Addr, Ipv6Addr};
use synack_wire::{parse_packet, ChecksumMode, SeqNum, TcpOptions, WireError};

const V: ChecksumMode = ChecksumMode::Verify;
const I: ChecksumMode = ChecksumMode::Ignore;

fn err(bytes: &[u8]) -> WireError {
    match parse_packet(bytes, V) {
        Ok(r) => panic!("parsed: {r:?}"),
        Err(e) => e,
    }
}

fn opts(options: &[u8]) -> Result<TcpOptions, WireError> {
    let seg = tcp_segment(5 + (options.len() / 4) as u8, 0x10, options, b"x");
    parse_packet(&v4_packet(&seg), V).map(|(_, t)| t.options)
}

#[test]
fn valid_packets_parse() {
    let p = v4_packet(&simple_tcp(b"hello"));
    let (_, t) = parse_packet(&p, V).expect("v4");
    assert_eq!(t.payload, b"hello");
    assert_eq!(t.seq, SeqNum(1000));
    let p = v6_packet(&simple_tcp(b"hello"));
    let (_, t) = parse_packet(&p, V).expect("v6");
    assert_eq!(t.payload, b"hello");
}

#[test]
fn truncated() {
    assert_eq!(err(&[]), WireError::Truncated);
    let p = v4_packet(&simple_tcp(b"abc"));
    assert_eq!(
        err(&p[..10]),
        WireError::Truncated,
        "inside the IPv4 header"
    );
    assert_eq!(
        err(&p[..p.len() - 1]),
        WireError::Truncated,
        "total length beyond buffer"
    );
    let p = v6_packet(&simple_tcp(b"abc"));
    assert_eq!(
        err(&p[..39]),
        WireError::Truncated,
        "inside the IPv6 header"
    );
    assert_eq!(
        err(&p[..p.len() - 1]),
        WireError::Truncated,
        "payload length beyond buffer"
    );
    // A TCP segment shorter than 20 bytes inside a consistent IP packet.
    let p = v4_packet(&simple_tcp(b"")[..12]);
    assert_eq!(err(&p), WireError::Truncated);
    // An extension header that runs past the payload.
    let p = v6_packet_full(A6, B6, 60, &[6, 1, 0, 0, 0, 0, 0, 0], &simple_tcp(b""));
    let mut short = p.clone();
    short[4..6].copy_from_slice(&4u16.to_be_bytes());
    assert_eq!(err(&short[..44]), WireError::Truncated);
    let ext_only = v6_packet_full(A6, B6, 60, &[6, 0], &[]);
    assert_eq!(err(&ext_only), WireError::Truncated);
}

#[test]
fn link_padding_is_ignored() {
    let mut p = v4_packet(&simple_tcp(b"abc"));
    p.extend_from_slice(&[0; 6]);
    let (_, t) = parse_packet(&p, V).expect("padded v4");
    assert_eq!(t.payload, b"abc");
    let mut p = v6_packet(&simple_tcp(b"abc"));
    p.extend_from_slice(&[0xee; 3]);
    let (_, t) = parse_packet(&p, V).expect("padded v6");
    assert_eq!(t.payload, b"abc");
}

#[test]
fn bad_ip_version() {
    let mut p = v4_packet(&simple_tcp(b""));
    p[0] = 0x55;
    assert_eq!(err(&p), WireError::BadIpVersion);
    p[0] = 0x05;
    assert_eq!(err(&p), WireError::BadIpVersion);
    assert_eq!(err(&[0xf0]), WireError::BadIpVersion);
}

#[test]
fn bad_length() {
    let mut p = v4_packet(&simple_tcp(b""));
    p[0] = 0x44; // IHL 4
    assert_eq!(err(&p), WireError::BadLength);
    let mut p = v4_packet(&simple_tcp(b""));
    p[2..4].copy_from_slice(&19u16.to_be_bytes()); // total length < header
    assert_eq!(err(&p), WireError::BadLength);
}

#[test]
fn bad_ip_checksum() {
    let mut p = v4_packet(&simple_tcp(b""));
    p[8] ^= 1; // TTL
    assert_eq!(err(&p), WireError::BadIpChecksum);
    assert!(parse_packet(&p, I).is_ok(), "ignored when told to");
}

#[test]
fn fragment() {
    let seg = simple_tcp(b"");
    for ff in [0x2000u16, 0x0001, 0x6000, 0x1fff] {
        let p = v4_packet_full(A4, B4, 6, ff, &[], &seg);
        assert_eq!(err(&p), WireError::Fragment, "flags/offset {ff:#06x}");
    }
    // DF alone and no flags at all are not fragments.
    assert!(parse_packet(&v4_packet_full(A4, B4, 6, 0, &[], &seg), V).is_ok());
    // IPv6 Fragment header.
    let p = v6_packet_full(A6, B6, 44, &[6, 0, 0, 0, 0, 0, 0, 1], &seg);
    assert_eq!(err(&p), WireError::Fragment);
}

#[test]
fn ip_options() {
    let p = v4_packet_full(A4, B4, 6, 0x4000, &[1, 1, 1, 0], &simple_tcp(b""));
    assert_eq!(err(&p), WireError::IpOptions);
}

#[test]
fn ipv6_extension_headers_skipped() {
    let seg = simple_tcp(b"data");
    // Hop-by-Hop -> Destination Options -> Routing (segments left 0) -> TCP.
    let ext = [
        60, 0, 1, 4, 0, 0, 0, 0, // HBH: next DestOpts, PadN
        43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // DestOpts, 16 bytes
        6, 0, 0, 0, 0, 0, 0, 0, // Routing type 0, segments left 0
    ];
    let p = v6_packet_full(A6, B6, 0, &ext, &seg);
    let (_, t) = parse_packet(&p, V).expect("chain of skippable headers");
    assert_eq!(t.payload, b"data");
}

#[test]
fn unsupported_extension() {
    let seg = simple_tcp(b"");
    // Routing header with segments left.
    let p = v6_packet_full(A6, B6, 43, &[6, 0, 0, 1, 0, 0, 0, 0], &seg);
    assert_eq!(err(&p), WireError::UnsupportedExtension);
    // ESP and AH.
    for nh in [50u8, 51] {
        let p = v6_packet_full(A6, B6, nh, &[6, 0, 0, 0, 0, 0, 0, 0], &seg);
        assert_eq!(err(&p), WireError::UnsupportedExtension, "next header {nh}");
    }
    // Hop-by-Hop anywhere but first.
    let p = v6_packet_full(
        A6,
        B6,
        60,
        &[0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0],
        &seg,
    );
    assert_eq!(err(&p), WireError::UnsupportedExtension);
    // Eight Destination Options headers are fine, nine are not.
    for (n, ok) in [(8, true), (9, false)] {
        let mut ext = Vec::new();
        for i in 0..n {
            let next = if i + 1 == n { 6 } else { 60 };
            ext.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
        }
        let p = v6_packet_full(A6, B6, 60, &ext, &seg);
        let r = parse_packet(&p, V);
        if ok {
            assert!(r.is_ok(), "{n} headers: {r:?}");
        } else {
            assert_eq!(
                r.err(),
                Some(WireError::UnsupportedExtension),
                "{n} headers"
            );
        }
    }
}

#[test]
fn not_tcp() {
    let p = v4_packet_full(A4, B4, 17, 0x4000, &[], &[0; 8]);
    assert_eq!(err(&p), WireError::NotTcp);
    for nh in [17u8, 58, 59] {
        let p = v6_packet_full(A6, B6, nh, &[], &[0; 8]);
        assert_eq!(err(&p), WireError::NotTcp, "next header {nh}");
    }
    // Behind a skipped extension header too.
    let p = v6_packet_full(A6, B6, 60, &[59, 0, 1, 4, 0, 0, 0, 0], &[]);
    assert_eq!(err(&p), WireError::NotTcp);
}

#[test]
fn bad_data_offset() {
    for off in 0..5u8 {
        let p = v4_packet(&tcp_segment(off, 0x10, &[], b"12345678"));
        assert_eq!(err(&p), WireError::BadDataOffset, "offset {off}");
    }
    // 15 words = 60 bytes, but the segment is 28.
    let p = v4_packet(&tcp_segment(15, 0x10, &[], b"12345678"));
    assert_eq!(err(&p), WireError::BadDataOffset);
    // Exactly at the end of the segment is fine (no payload).
    let p = v4_packet(&tcp_segment(7, 0x10, &[1; 8], b""));
    assert!(parse_packet(&p, V).is_ok());
}

#[test]
fn bad_option() {
    let bad: &[&[u8]] = &[
        &[0x22, 1, 1, 1],          // unknown kind, length 1
        &[0x22, 0, 1, 1],          // unknown kind, length 0
        &[1, 1, 1, 0x22],          // length byte missing
        &[0x22, 5, 1, 1],          // runs past the header
        &[2, 3, 5, 1],             // MSS of length 3
        &[2, 5, 5, 1, 1, 1, 1, 1], // MSS of length 5
        &[3, 4, 7, 1],             // window scale of length 4
        &[4, 3, 0, 1],             // SACK permitted of length 3
        &[5, 2, 1, 1],             // SACK with no blocks
        &[5, 6, 0, 0, 0, 1, 1, 1], // SACK with half a block
        &[8, 8, 0, 0, 0, 0, 0, 0], // timestamps of length 8
    ];
    for o in bad {
        assert_eq!(opts(o), Err(WireError::BadOption), "{o:?}");
    }
    let mut sack5 = vec![1, 1, 5, 42];
    sack5.extend_from_slice(&[0; 36]);
    assert_eq!(
        opts(&sack5[..40]),
        Err(WireError::BadOption),
        "five SACK blocks"
    );
}

#[test]
fn option_parsing_rules() {
    // Unknown options are skipped and counted (kind 254 without Fast Open's
    // magic among them).
    let o = opts(&[0x23, 4, 9, 9, 0xfe, 2, 1, 1]).expect("unknown kinds");
    assert_eq!(o.unknown, 2);
    // Fast Open: kind 34 with an empty cookie is a request; kind 254 with
    // magic 0xF989 the experimental form.
    let o = opts(&[0x22, 2, 1, 1, 0xfe, 8, 0xf9, 0x89, 1, 2, 3, 4]).expect("Fast Open");
    let fo = o.fast_open.expect("the last one wins");
    assert!(fo.experimental);
    assert_eq!(fo.cookie.as_bytes(), &[1, 2, 3, 4]);
    let o = opts(&[0x22, 2, 1, 1]).expect("a cookie request");
    assert!(o
        .fast_open
        .is_some_and(|f| f.cookie.is_request() && !f.experimental));
    // EOL ends parsing: the garbage after it is not looked at.
    let o = opts(&[2, 4, 0, 100, 0, 0xff, 0x00, 0x13]).expect("EOL");
    assert_eq!(o.mss, Some(100));
    // Duplicates: the last one wins.
    let o = opts(&[2, 4, 0, 100, 2, 4, 0, 200]).expect("duplicate MSS");
    assert_eq!(o.mss, Some(200));
    let o = opts(&[
        1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 10, 0, 0, 0, 3, 0, 0, 0, 4,
    ])
    .expect("duplicate SACK");
    assert_eq!(o.sack.as_slice(), &[(SeqNum(3), SeqNum(4))]);
    // Window scale above 14 is kept as sent.
    let o = opts(&[1, 3, 3, 200]).expect("big shift");
    assert_eq!(o.window_scale, Some(200));
    // The unknown counter saturates.
    let many = [0x23u8, 2].repeat(20);
    assert_eq!(TcpOptions::parse(&many).map(|o| o.unknown), Ok(20));
    assert_eq!(
        TcpOptions::parse(&[0x23, 2].repeat(300)).map(|o| o.unknown),
        Ok(255)
    );
}

#[test]
fn bad_tcp_checksum() {
    let mut p = v4_packet(&simple_tcp(b"payload"));
    let last = p.len() - 1;
    p[last] ^= 0x40;
    assert_eq!(err(&p), WireError::BadTcpChecksum);
    assert!(parse_packet(&p, I).is_ok(), "ignored when told to");
    let mut p = v6_packet(&simple_tcp(b"payload"));
    p[8] ^= 0x01; // source address: covered by the pseudo-header
    assert_eq!(err(&p), WireError::BadTcpChecksum);
}

#[test]
fn bad_address() {
    let seg = simple_tcp(b"");
    let bad4 = [
        Ipv4Addr::BROADCAST,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::new(239, 255, 255, 250),
    ];
    for a in bad4 {
        assert_eq!(
            err(&v4_packet_full(a, B4, 6, 0, &[], &seg)),
            WireError::BadAddress,
            "src {a}"
        );
        assert_eq!(
            err(&v4_packet_full(A4, a, 6, 0, &[], &seg)),
            WireError::BadAddress,
            "dst {a}"
        );
    }
    let bad6 = [
        Ipv6Addr::UNSPECIFIED,
        Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
    ];
    for a in bad6 {
        assert_eq!(
            err(&v6_packet_full(a, B6, 6, &[], &seg)),
            WireError::BadAddress,
            "src {a}"
        );
        assert_eq!(
            err(&v6_packet_full(A6, a, 6, &[], &seg)),
            WireError::BadAddress,
            "dst {a}"
        );
    }
    // Loopback is a fine peer.
    let lo = v4_packet_full(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 6, 0, &[], &seg);
    assert!(parse_packet(&lo, V).is_ok());
}

#[test]
fn errors_display() {
    assert_eq!(WireError::BadOption.to_string(), "malformed TCP option");
}
