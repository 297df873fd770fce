//! Captures built byte by byte for the tests: IP packets carrying TCP,
//! the link layers around them, and pcap and pcapng files.
#![allow(dead_code, unreachable_pub)]

use std::net::{IpAddr, SocketAddr};
use synack_proto::wire::{emit_packet, IpRepr, SeqNum, TcpFlags, TcpOptions, TcpRepr};

/// One segment to build.
#[derive(Debug, Clone)]
pub struct S {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    pub data: Vec<u8>,
    pub sack: Vec<(u32, u32)>,
}

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;

pub fn s(src: SocketAddr, dst: SocketAddr, flags: u8, seq: u32, ack: u32, data: &[u8]) -> S {
    S {
        src,
        dst,
        flags,
        seq,
        ack,
        win: 65535,
        data: data.to_vec(),
        sack: Vec::new(),
    }
}

/// The IP packet of a segment, checksums right.
pub fn ip(seg: &S) -> Vec<u8> {
    let ip = IpRepr::new(seg.src.ip(), seg.dst.ip()).expect("same family");
    let mut options = TcpOptions::default();
    for (l, r) in &seg.sack {
        options.sack.push(SeqNum(*l), SeqNum(*r));
    }
    let tcp = TcpRepr {
        src_port: seg.src.port(),
        dst_port: seg.dst.port(),
        seq: SeqNum(seg.seq),
        ack: SeqNum(seg.ack),
        flags: TcpFlags(seg.flags),
        window: seg.win,
        urgent: 0,
        options,
        payload: &seg.data,
    };
    let mut buf = Vec::new();
    emit_packet(&ip, &tcp, &mut buf);
    buf
}

pub fn ethernet(ip: &[u8], vlans: &[u16]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    for v in vlans {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&v.to_be_bytes());
    }
    let t: u16 = if ip.first().is_some_and(|b| b >> 4 == 6) {
        0x86dd
    } else {
        0x0800
    };
    f.extend_from_slice(&t.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

fn ethertype(ip: &[u8]) -> u16 {
    if ip.first().is_some_and(|b| b >> 4 == 6) {
        0x86dd
    } else {
        0x0800
    }
}

pub fn sll(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    f.extend_from_slice(&ethertype(ip).to_be_bytes());
    f.extend_from_slice(ip);
    f
}

pub fn sll2(ip: &[u8]) -> Vec<u8> {
    let mut f = ethertype(ip).to_be_bytes().to_vec();
    f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    f.extend_from_slice(ip);
    f
}

pub fn null(ip: &[u8]) -> Vec<u8> {
    let fam: u32 = if ip.first().is_some_and(|b| b >> 4 == 6) {
        30
    } else {
        2
    };
    let mut f = fam.to_le_bytes().to_vec();
    f.extend_from_slice(ip);
    f
}

pub fn looped(ip: &[u8]) -> Vec<u8> {
    let fam: u32 = if ip.first().is_some_and(|b| b >> 4 == 6) {
        24
    } else {
        2
    };
    let mut f = fam.to_be_bytes().to_vec();
    f.extend_from_slice(ip);
    f
}

/// A classic pcap file: `nano` for nanosecond timestamps, `be` for big-endian.
pub fn pcap(link: u32, nano: bool, be: bool, snap: u32, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut o = Vec::new();
    o.extend_from_slice(&w32(if nano { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    o.extend_from_slice(&w16(2));
    o.extend_from_slice(&w16(4));
    o.extend_from_slice(&[0; 8]);
    o.extend_from_slice(&w32(snap));
    o.extend_from_slice(&w32(link));
    for (ts_ns, data) in frames {
        let frac = if nano {
            ts_ns % 1_000_000_000
        } else {
            ts_ns % 1_000_000_000 / 1000
        };
        let cap = data.len().min(snap as usize);
        o.extend_from_slice(&w32((ts_ns / 1_000_000_000) as u32));
        o.extend_from_slice(&w32(frac as u32));
        o.extend_from_slice(&w32(cap as u32));
        o.extend_from_slice(&w32(data.len() as u32));
        o.extend_from_slice(&data[..cap]);
    }
    o
}

fn block(o: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let pad = (4 - body.len() % 4) % 4;
    let len = (12 + body.len() + pad) as u32;
    o.extend_from_slice(&kind.to_le_bytes());
    o.extend_from_slice(&len.to_le_bytes());
    o.extend_from_slice(body);
    o.extend_from_slice(&vec![0; pad]);
    o.extend_from_slice(&len.to_le_bytes());
}

/// A pcapng section (little-endian) with interfaces `(link, if_tsresol)`
/// and packets `(interface, timestamp in that interface's units, bytes)`.
pub fn pcapng(ifaces: &[(u16, u8)], packets: &[(u32, u64, Vec<u8>)]) -> Vec<u8> {
    let mut o = Vec::new();
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut o, 0x0a0d_0d0a, &shb);
    for (link, res) in ifaces {
        let mut idb = link.to_le_bytes().to_vec();
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        // if_tsresol (9), then opt_endofopt.
        idb.extend_from_slice(&9u16.to_le_bytes());
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&[*res, 0, 0, 0]);
        idb.extend_from_slice(&[0, 0, 0, 0]);
        block(&mut o, 1, &idb);
    }
    for (iface, ts, data) in packets {
        let mut epb = iface.to_le_bytes().to_vec();
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(*ts as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(data);
        epb.extend_from_slice(&vec![0; (4 - data.len() % 4) % 4]);
        block(&mut o, 6, &epb);
    }
    o
}

pub fn sa(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// A whole conversation: handshake, a request and a response, the client
/// closes first; `(capture time in ns, segment)`.
pub fn conversation(c: SocketAddr, srv: SocketAddr) -> Vec<(u64, S)> {
    let (ci, si) = (1000u32, 5000u32);
    let ms = 1_000_000u64;
    let t0 = 1_700_000_000 * 1_000_000_000u64;
    vec![
        (t0, s(c, srv, SYN, ci, 0, b"")),
        (t0 + 10 * ms, s(srv, c, SYN | ACK, si, ci + 1, b"")),
        (t0 + 20 * ms, s(c, srv, ACK, ci + 1, si + 1, b"")),
        (
            t0 + 20 * ms + 1,
            s(c, srv, PSH | ACK, ci + 1, si + 1, b"GET / HTTP/1.0\r\n\r\n"),
        ),
        (
            t0 + 30 * ms,
            s(
                srv,
                c,
                PSH | ACK,
                si + 1,
                ci + 19,
                b"HTTP/1.0 200 OK\r\n\r\nhello",
            ),
        ),
        (t0 + 40 * ms, s(c, srv, FIN | ACK, ci + 19, si + 25, b"")),
        (t0 + 50 * ms, s(srv, c, ACK, si + 25, ci + 20, b"")),
        (t0 + 60 * ms, s(srv, c, FIN | ACK, si + 25, ci + 20, b"")),
        (t0 + 70 * ms, s(c, srv, ACK, ci + 20, si + 26, b"")),
    ]
}

pub fn ip_v4_pair() -> (SocketAddr, SocketAddr) {
    (sa("10.0.0.1:40000"), sa("10.0.0.2:80"))
}

pub fn ip_v6_pair() -> (SocketAddr, SocketAddr) {
    (sa("[2001:db8::1]:40000"), sa("[2001:db8::2]:443"))
}

/// IP version of an address pair, for link framing.
pub fn is_v6(a: SocketAddr) -> bool {
    matches!(a.ip(), IpAddr::V6(_))
}
