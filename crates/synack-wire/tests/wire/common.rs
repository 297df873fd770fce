//! Test helpers, independent of the code under test: packets are assembled
//! by hand and checksummed with a textbook RFC 1071 loop.

use std::net::{Ipv4Addr, Ipv6Addr};

/// RFC 1071 one 16-bit word at a time: the folded sum (not inverted).
pub fn ref_sum(parts: &[&[u8]]) -> u16 {
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend_from_slice(p);
    }
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    let mut s: u64 = 0;
    for w in bytes.chunks(2) {
        s += (u64::from(w[0]) << 8) | u64::from(w[1]);
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The checksum field value: the complement of the sum.
pub fn ref_checksum(parts: &[&[u8]]) -> u16 {
    !ref_sum(parts)
}

pub fn v4_pseudo(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> Vec<u8> {
    let mut ph = Vec::new();
    ph.extend_from_slice(&src.octets());
    ph.extend_from_slice(&dst.octets());
    ph.extend_from_slice(&[0, 6]);
    ph.extend_from_slice(&(len as u16).to_be_bytes());
    ph
}

pub fn v6_pseudo(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> Vec<u8> {
    let mut ph = Vec::new();
    ph.extend_from_slice(&src.octets());
    ph.extend_from_slice(&dst.octets());
    ph.extend_from_slice(&(len as u32).to_be_bytes());
    ph.extend_from_slice(&[0, 0, 0, 6]);
    ph
}

/// A TCP segment with checksum zero: ports 1234 -> 80, seq 1000, ack 2000.
pub fn tcp_segment(data_offset_words: u8, flags: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut t = vec![
        0x04,
        0xd2,
        0x00,
        0x50, // ports
        0x00,
        0x00,
        0x03,
        0xe8, // seq
        0x00,
        0x00,
        0x07,
        0xd0, // ack
        data_offset_words << 4,
        flags,
        0xff,
        0xff, // window
        0x00,
        0x00, // checksum
        0x00,
        0x00, // urgent
    ];
    t.extend_from_slice(options);
    t.extend_from_slice(payload);
    t
}

pub fn set_tcp_checksum(tcp: &mut [u8], pseudo: &[u8]) {
    tcp[16] = 0;
    tcp[17] = 0;
    let c = ref_checksum(&[pseudo, tcp]);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
}

pub const A4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const B4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// An IPv4 packet around `tcp`, with both checksums correct.
/// `flags_frag` is the raw flags/fragment-offset field, `ip_opts` IPv4
/// options (a multiple of 4 bytes).
pub fn v4_packet_full(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    flags_frag: u16,
    ip_opts: &[u8],
    tcp: &[u8],
) -> Vec<u8> {
    let mut tcp = tcp.to_vec();
    if proto == 6 && tcp.len() >= 18 {
        let ph = v4_pseudo(src, dst, tcp.len());
        set_tcp_checksum(&mut tcp, &ph);
    }
    let hlen = 20 + ip_opts.len();
    let total = (hlen + tcp.len()) as u16;
    let mut ip = vec![0x40 | (hlen / 4) as u8, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0x12, 0x34]);
    ip.extend_from_slice(&flags_frag.to_be_bytes());
    ip.extend_from_slice(&[64, proto, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    ip.extend_from_slice(ip_opts);
    let c = ref_checksum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&tcp);
    ip
}

pub fn v4_packet(tcp: &[u8]) -> Vec<u8> {
    v4_packet_full(A4, B4, 6, 0x4000, &[], tcp)
}

/// An IPv6 packet: `next` is the fixed header's next header, `ext` the raw
/// extension headers, `tcp` the segment (checksum filled in).
pub fn v6_packet_full(src: Ipv6Addr, dst: Ipv6Addr, next: u8, ext: &[u8], tcp: &[u8]) -> Vec<u8> {
    let mut tcp = tcp.to_vec();
    if tcp.len() >= 18 {
        let ph = v6_pseudo(src, dst, tcp.len());
        set_tcp_checksum(&mut tcp, &ph);
    }
    let plen = (ext.len() + tcp.len()) as u16;
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&plen.to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(ext);
    p.extend_from_slice(&tcp);
    p
}

pub fn v6_packet(tcp: &[u8]) -> Vec<u8> {
    v6_packet_full(A6, B6, 6, &[], tcp)
}

/// A plain ACK segment with `payload`.
pub fn simple_tcp(payload: &[u8]) -> Vec<u8> {
    tcp_segment(5, 0x10, &[], payload)
}
