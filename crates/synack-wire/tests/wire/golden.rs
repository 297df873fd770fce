//! Hand-written packets, checked byte for byte.

use crate::common::{ref_checksum, ref_sum};
use synack_wire::{
    emit_packet, parse_packet, ChecksumMode, IpRepr, SeqNum, TcpFlags, TcpOptions, Timestamps,
};

/// TCP part of the golden SYN: 50000 -> 80, seq 0x12345678, window 64240,
/// options in the Linux SYN order.
const TCP_SYN: [u8; 40] = [
    0xc3, 0x50, 0x00, 0x50, // src port 50000, dst port 80
    0x12, 0x34, 0x56, 0x78, // seq
    0x00, 0x00, 0x00, 0x00, // ack
    0xa0, 0x02, // data offset 10 words, SYN
    0xfa, 0xf0, // window 64240
    0x00, 0x00, // checksum (filled per IP version below)
    0x00, 0x00, // urgent pointer
    0x02, 0x04, 0x05, 0xb4, // MSS 1460
    0x04, 0x02, // SACK permitted
    0x08, 0x0a, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x00, 0x00, 0x00, // TS 1000000, 0
    0x01, // NOP
    0x03, 0x03, 0x07, // window scale 7
];

fn golden_v4() -> Vec<u8> {
    let mut p = vec![
        0x45, 0x00, 0x00, 0x3c, // v4, IHL 5, total length 60
        0x1c, 0x46, 0x40, 0x00, // ident 0x1c46, DF
        0x40, 0x06, 0x9d, 0x22, // TTL 64, TCP, header checksum
        0xc0, 0xa8, 0x00, 0x01, // 192.168.0.1
        0xc0, 0xa8, 0x00, 0x02, // 192.168.0.2
    ];
    let mut tcp = TCP_SYN;
    tcp[16] = 0x5d;
    tcp[17] = 0x1f;
    p.extend_from_slice(&tcp);
    p
}

fn golden_v6() -> Vec<u8> {
    let mut p = vec![
        0x60, 0x01, 0x23, 0x45, // v6, traffic class 0, flow label 0x12345
        0x00, 0x28, 0x06, 0x40, // payload length 40, TCP, hop limit 64
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // 2001:db8::2
    ];
    let mut tcp = TCP_SYN;
    tcp[16] = 0x82;
    tcp[17] = 0xfe;
    p.extend_from_slice(&tcp);
    p
}

fn expected_options() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some(Timestamps {
            tsval: 1_000_000,
            tsecr: 0,
        }),
        ..TcpOptions::default()
    }
}

#[test]
fn golden_v4_checksums_match_reference() {
    let p = golden_v4();
    // IPv4 header, by hand: 4500 + 003c + 1c46 + 4000 + 4006 + c0a8 + 0001
    // + c0a8 + 0002 = 0x262db, folded 0x62dd, complemented 0x9d22.
    let mut hdr = p[..20].to_vec();
    hdr[10] = 0;
    hdr[11] = 0;
    assert_eq!(ref_checksum(&[&hdr]), 0x9d22);
    assert_eq!(ref_sum(&[&p[..20]]), 0xffff);
    let mut tcp = p[20..].to_vec();
    tcp[16] = 0;
    tcp[17] = 0;
    let pseudo = [
        0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0x02, 0x00, 0x06, 0x00, 40,
    ];
    assert_eq!(ref_checksum(&[&pseudo, &tcp]), 0x5d1f);
}

#[test]
fn golden_v6_checksum_matches_reference() {
    let p = golden_v6();
    let mut tcp = p[40..].to_vec();
    tcp[16] = 0;
    tcp[17] = 0;
    let mut pseudo = p[8..40].to_vec();
    pseudo.extend_from_slice(&[0, 0, 0, 40, 0, 0, 0, 6]);
    assert_eq!(ref_checksum(&[&pseudo, &tcp]), 0x82fe);
}

#[test]
fn golden_v4_syn_parses_and_reemits_byte_for_byte() {
    let bytes = golden_v4();
    let (ip, tcp) = parse_packet(&bytes, ChecksumMode::Verify).expect("golden v4 parses");
    let IpRepr::V4(v4) = ip else {
        panic!("not v4: {ip:?}")
    };
    assert_eq!(v4.src.octets(), [192, 168, 0, 1]);
    assert_eq!(v4.dst.octets(), [192, 168, 0, 2]);
    assert_eq!((v4.ttl, v4.dont_frag, v4.ident), (64, true, 0x1c46));
    assert_eq!((tcp.src_port, tcp.dst_port), (50000, 80));
    assert_eq!(tcp.seq, SeqNum(0x1234_5678));
    assert_eq!(tcp.ack, SeqNum(0));
    assert_eq!(tcp.flags, TcpFlags::SYN);
    assert_eq!(tcp.window, 64240);
    assert_eq!(tcp.urgent, 0);
    assert_eq!(tcp.options, expected_options());
    assert_eq!(tcp.options.wire_len(), 20);
    assert!(tcp.payload.is_empty());

    let mut out = Vec::new();
    emit_packet(&ip, &tcp, &mut out);
    assert_eq!(out, bytes);
}

#[test]
fn golden_v6_syn_parses_and_reemits_byte_for_byte() {
    let bytes = golden_v6();
    let (ip, tcp) = parse_packet(&bytes, ChecksumMode::Verify).expect("golden v6 parses");
    let IpRepr::V6(v6) = ip else {
        panic!("not v6: {ip:?}")
    };
    assert_eq!(v6.src.segments(), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
    assert_eq!(v6.dst.segments(), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 2]);
    assert_eq!((v6.hop_limit, v6.flow_label), (64, 0x12345));
    assert_eq!(tcp.flags, TcpFlags::SYN);
    assert_eq!(tcp.options, expected_options());

    let mut out = Vec::new();
    emit_packet(&ip, &tcp, &mut out);
    assert_eq!(out, bytes);
}

#[test]
fn golden_checksums_match_crate_checksum() {
    // The crate's own functions agree with the reference on the golden bytes.
    let p = golden_v4();
    assert_eq!(synack_wire::checksum::sum(0, &p[..20]), 0xffff);
    let ph = synack_wire::checksum::pseudo_header(
        [192, 168, 0, 1].into(),
        [192, 168, 0, 2].into(),
        6,
        40,
    );
    assert!(synack_wire::checksum::verify(ph, &p[20..]));
}

/// Layouts without timestamps and on non-SYN segments, as Linux writes them.
#[test]
fn option_layouts() {
    let mut buf = [0u8; 40];

    let o = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        ..TcpOptions::default()
    };
    let n = o.emit(&mut buf);
    assert_eq!(n, o.wire_len());
    assert_eq!(
        &buf[..n],
        &[2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7],
        "MSS, NOP, NOP, SACK_PERM, NOP, WSCALE"
    );

    let o = TcpOptions {
        timestamps: Some(Timestamps {
            tsval: 0x0102_0304,
            tsecr: 0x0506_0708,
        }),
        ..TcpOptions::default()
    };
    let n = o.emit(&mut buf);
    assert_eq!(&buf[..n], &[1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);

    let mut o = TcpOptions::default();
    o.sack.push(SeqNum(1), SeqNum(2));
    let n = o.emit(&mut buf);
    assert_eq!(&buf[..n], &[1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2]);

    assert_eq!(TcpOptions::default().wire_len(), 0);
}

/// 40 bytes of option space: SACK blocks that do not fit are dropped.
#[test]
fn sack_blocks_dropped_when_space_runs_out() {
    let mut o = TcpOptions {
        timestamps: Some(Timestamps::default()),
        ..TcpOptions::default()
    };
    for i in 0..4 {
        o.sack.push(SeqNum(i * 10), SeqNum(i * 10 + 5));
    }
    assert_eq!(o.sack_blocks_emitted(), 3);
    assert_eq!(o.wire_len(), 12 + 4 + 24);
    o.mss = Some(536);
    o.window_scale = Some(2);
    o.sack_permitted = true;
    assert_eq!(o.sack_blocks_emitted(), 2);
    assert_eq!(o.wire_len(), 20 + 4 + 16);
    o.timestamps = None;
    o.mss = None;
    o.window_scale = None;
    o.sack_permitted = false;
    assert_eq!(o.sack_blocks_emitted(), 4);
    assert_eq!(o.wire_len(), 36);

    let mut buf = [0u8; 40];
    o.timestamps = Some(Timestamps::default());
    let n = o.emit(&mut buf);
    let back = TcpOptions::parse(&buf[..n]).expect("emitted options parse");
    assert_eq!(back, o.normalized());
    assert_eq!(back.sack.as_slice(), &o.sack.as_slice()[..3]);
}
