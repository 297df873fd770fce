//! Bounds-checked reading of the few packet fields the simulator needs:
//! addresses for routing, TCP flags, ports, sequence number and payload
//! length for fault rules.
//!
//! Every function reads fixed offsets from raw bytes and returns `None` when
//! the bytes do not hold what is asked for. Nothing here panics, whatever the
//! input: corrupted and hand-made packets reach it too. Checksums are not
//! verified; that is the receiving stack's business.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;

/// A set of TCP control bits, as in byte 13 of the TCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// No flags.
    pub const EMPTY: Flags = Flags(0);
    /// No more data from sender.
    pub const FIN: Flags = Flags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: Flags = Flags(0x02);
    /// Reset the connection.
    pub const RST: Flags = Flags(0x04);
    /// Push function.
    pub const PSH: Flags = Flags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: Flags = Flags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: Flags = Flags(0x20);
    /// ECN echo.
    pub const ECE: Flags = Flags(0x40);
    /// Congestion window reduced.
    pub const CWR: Flags = Flags(0x80);

    /// Every flag with its name, lowest bit first.
    pub const NAMED: [(Flags, &'static str); 8] = [
        (Flags::FIN, "FIN"),
        (Flags::SYN, "SYN"),
        (Flags::RST, "RST"),
        (Flags::PSH, "PSH"),
        (Flags::ACK, "ACK"),
        (Flags::URG, "URG"),
        (Flags::ECE, "ECE"),
        (Flags::CWR, "CWR"),
    ];

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set in `self`.
    pub const fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flags of both.
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// The flag called `name` (case-insensitive), if there is one.
    pub fn from_name(name: &str) -> Option<Flags> {
        Flags::NAMED
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|&(f, _)| f)
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        self.union(rhs)
    }
}

/// Names joined by commas in the order SYN, ACK, FIN, RST, PSH, URG, ECE, CWR
/// (`SYN,ACK`); `-` when empty.
impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ORDER: [(Flags, &str); 8] = [
            (Flags::SYN, "SYN"),
            (Flags::ACK, "ACK"),
            (Flags::FIN, "FIN"),
            (Flags::RST, "RST"),
            (Flags::PSH, "PSH"),
            (Flags::URG, "URG"),
            (Flags::ECE, "ECE"),
            (Flags::CWR, "CWR"),
        ];
        if self.is_empty() {
            return f.write_str("-");
        }
        let mut first = true;
        for (flag, name) in ORDER {
            if self.contains(flag) {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// What [`peek`] could read of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketInfo {
    /// IP version: 4 or 6.
    pub version: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The upper-layer protocol (IPv4 protocol field; for IPv6 the next
    /// header after any hop-by-hop, routing and destination options headers).
    pub protocol: u8,
    /// The TCP header fields, when the packet carries a readable TCP header.
    pub tcp: Option<TcpInfo>,
}

/// The TCP header fields the simulator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Control bits.
    pub flags: Flags,
    /// Bytes after the TCP header (options included in the header).
    pub payload_len: usize,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn array<const L: usize>(b: &[u8], at: usize) -> Option<[u8; L]> {
    b.get(at..at.checked_add(L)?)?.try_into().ok()
}

/// The IP version nibble: 4 or 6, `None` for anything else or an empty packet.
pub fn ip_version(packet: &[u8]) -> Option<u8> {
    match packet.first()? >> 4 {
        v @ (4 | 6) => Some(v),
        _ => None,
    }
}

/// The destination address, if the fixed IP header is complete.
pub fn dst_addr(packet: &[u8]) -> Option<IpAddr> {
    match ip_version(packet)? {
        4 => array::<4>(packet, 16).map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        _ => array::<16>(packet, 24).map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    }
}

/// The source address, if the fixed IP header is complete.
pub fn src_addr(packet: &[u8]) -> Option<IpAddr> {
    match ip_version(packet)? {
        4 => array::<4>(packet, 12).map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        _ => array::<16>(packet, 8).map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    }
}

/// Where the upper-layer header starts, where the IP packet ends, and the
/// protocol; `None` for a first fragment's successors (no header to read).
struct Layout {
    protocol: u8,
    l4_start: Option<usize>,
    end: usize,
}

fn ipv4_layout(p: &[u8]) -> Option<Layout> {
    if p.len() < 20 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    if ihl < 20 || ihl > p.len() {
        return None;
    }
    let total = usize::from(be16(p, 2)?);
    // Trust the length field only when it is consistent with the bytes.
    let end = if total >= ihl && total <= p.len() {
        total
    } else {
        p.len()
    };
    let fragment_offset = be16(p, 6)? & 0x1fff;
    Some(Layout {
        protocol: p[9],
        l4_start: (fragment_offset == 0).then_some(ihl),
        end,
    })
}

fn ipv6_layout(p: &[u8]) -> Option<Layout> {
    if p.len() < 40 {
        return None;
    }
    let payload = usize::from(be16(p, 4)?);
    let end = match payload.checked_add(40) {
        Some(e) if e <= p.len() && payload != 0 => e,
        _ => p.len(),
    };
    let mut next = p[6];
    let mut at = 40usize;
    // Walk a bounded number of extension headers the simulator can skip.
    for _ in 0..8 {
        match next {
            // Hop-by-hop, routing, destination options.
            0 | 43 | 60 => {
                let nh = *p.get(at)?;
                let len = (usize::from(*p.get(at + 1)?) + 1) * 8;
                next = nh;
                at = at.checked_add(len)?;
                if at > end {
                    return None;
                }
            }
            // Fragment header: only the first fragment carries the TCP header.
            44 => {
                let nh = *p.get(at)?;
                let offset = be16(p, at + 2)? >> 3;
                return Some(Layout {
                    protocol: nh,
                    l4_start: (offset == 0).then_some(at + 8),
                    end,
                });
            }
            proto => {
                return Some(Layout {
                    protocol: proto,
                    l4_start: Some(at),
                    end,
                })
            }
        }
    }
    None
}

fn tcp_at(p: &[u8], start: usize, end: usize) -> Option<TcpInfo> {
    let seg = p.get(start..end)?;
    if seg.len() < 20 {
        return None;
    }
    let data_offset = usize::from(seg[12] >> 4) * 4;
    if data_offset < 20 || data_offset > seg.len() {
        return None;
    }
    Some(TcpInfo {
        src_port: be16(seg, 0)?,
        dst_port: be16(seg, 2)?,
        seq: be32(seg, 4)?,
        ack: be32(seg, 8)?,
        flags: Flags(seg[13]),
        payload_len: seg.len() - data_offset,
    })
}

/// Read the IP header and, when the packet carries one, the TCP header.
/// `None` when not even the fixed IP header is readable.
pub fn peek(packet: &[u8]) -> Option<PacketInfo> {
    let version = ip_version(packet)?;
    let layout = match version {
        4 => ipv4_layout(packet)?,
        _ => ipv6_layout(packet)?,
    };
    let tcp = match layout.l4_start {
        Some(start) if layout.protocol == PROTO_TCP => tcp_at(packet, start, layout.end),
        _ => None,
    };
    Some(PacketInfo {
        version,
        src: src_addr(packet)?,
        dst: dst_addr(packet)?,
        protocol: layout.protocol,
        tcp,
    })
}

/// Just the TCP header fields, if the packet has a readable one.
pub fn tcp(packet: &[u8]) -> Option<TcpInfo> {
    peek(packet)?.tcp
}

/// The ECN codepoint of an IP packet (the low two bits of the IPv4 TOS byte
/// or the IPv6 traffic class), if the version is readable.
pub fn ecn(packet: &[u8]) -> Option<synack_proto::wire::Ecn> {
    let tc = match ip_version(packet)? {
        4 => *packet.get(1)?,
        _ => (u16::from_be_bytes(array::<2>(packet, 0)?) >> 4) as u8,
    };
    Some(synack_proto::wire::Ecn::from_bits(tc))
}

/// Whether the packet is ECN-capable (ECT(0), ECT(1) or already CE).
pub fn is_ect(packet: &[u8]) -> bool {
    use synack_proto::wire::Ecn;
    matches!(ecn(packet), Some(Ecn::Ect0 | Ecn::Ect1 | Ecn::Ce))
}

/// Set Congestion Experienced on an ECT packet, as an ECN-capable router's
/// queue does instead of dropping it (RFC 3168 5), and repair the IPv4
/// header checksum. Returns `false` (and leaves the packet alone) for a
/// not-ECT or unreadable packet.
pub fn mark_ce(packet: &mut [u8]) -> bool {
    use synack_proto::wire::Ecn;
    match ecn(packet) {
        Some(Ecn::Ect0 | Ecn::Ect1) => {}
        Some(Ecn::Ce) => return true,
        _ => return false,
    }
    match ip_version(packet) {
        Some(4) => {
            let ihl = packet.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
            let Some(header) = packet.get_mut(..ihl.max(20)) else {
                return false;
            };
            header[1] |= 0b11;
            // The header checksum is recomputed over the (at most 60-byte) header.
            header[10] = 0;
            header[11] = 0;
            let mut sum = 0u32;
            for w in header.chunks(2) {
                sum += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
            }
            while sum > 0xffff {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            let c = !(sum as u16);
            header[10..12].copy_from_slice(&c.to_be_bytes());
            true
        }
        Some(6) if packet.len() >= 40 => {
            // Traffic class bits 4..11 of the first word; ECN is its low two bits.
            packet[1] |= 0b11 << 4;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_tcp(flags: u8, payload: usize) -> Vec<u8> {
        let total = 40 + payload;
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[8] = 64;
        p[9] = PROTO_TCP;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        p[20..22].copy_from_slice(&1234u16.to_be_bytes());
        p[22..24].copy_from_slice(&80u16.to_be_bytes());
        p[24..28].copy_from_slice(&1000u32.to_be_bytes());
        p[28..32].copy_from_slice(&2000u32.to_be_bytes());
        p[32] = 5 << 4;
        p[33] = flags;
        p
    }

    fn v6_tcp(flags: u8, payload: usize, ext: bool) -> Vec<u8> {
        let ext_len = if ext { 8 } else { 0 };
        let plen = ext_len + 20 + payload;
        let mut p = vec![0u8; 40 + plen];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(plen as u16).to_be_bytes());
        p[6] = if ext { 60 } else { PROTO_TCP };
        p[7] = 64;
        p[23] = 1;
        p[39] = 2;
        let t = 40 + ext_len;
        if ext {
            p[40] = PROTO_TCP;
            p[41] = 0;
        }
        p[t..t + 2].copy_from_slice(&5555u16.to_be_bytes());
        p[t + 2..t + 4].copy_from_slice(&443u16.to_be_bytes());
        p[t + 12] = 5 << 4;
        p[t + 13] = flags;
        p
    }

    #[test]
    fn reads_ipv4_tcp() {
        let p = v4_tcp(0x12, 7);
        let info = peek(&p).expect("readable");
        assert_eq!(info.version, 4);
        assert_eq!(info.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(info.dst, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
        let t = info.tcp.expect("tcp");
        assert_eq!(
            (t.src_port, t.dst_port, t.seq, t.ack),
            (1234, 80, 1000, 2000)
        );
        assert_eq!(t.flags, Flags::SYN | Flags::ACK);
        assert_eq!(t.payload_len, 7);
    }

    #[test]
    fn reads_ipv6_tcp_with_and_without_extension() {
        for ext in [false, true] {
            let p = v6_tcp(0x11, 3, ext);
            let info = peek(&p).expect("readable");
            assert_eq!(info.version, 6);
            assert_eq!(info.dst, "::2".parse::<IpAddr>().expect("addr"));
            let t = info.tcp.expect("tcp");
            assert_eq!((t.src_port, t.dst_port), (5555, 443));
            assert_eq!(t.flags, Flags::FIN | Flags::ACK);
            assert_eq!(t.payload_len, 3);
        }
    }

    #[test]
    fn ignores_trailing_bytes_beyond_total_length() {
        let mut p = v4_tcp(0x10, 4);
        p.extend_from_slice(&[0xff; 6]);
        assert_eq!(tcp(&p).map(|t| t.payload_len), Some(4));
    }

    #[test]
    fn non_tcp_and_fragments_have_no_tcp() {
        let mut p = v4_tcp(0x10, 0);
        p[9] = 17;
        assert!(peek(&p).expect("ip").tcp.is_none());
        let mut p = v4_tcp(0x10, 0);
        p[7] = 1;
        assert!(peek(&p).expect("ip").tcp.is_none());
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(peek(&[]), None);
        assert_eq!(peek(&[0x45; 10]), None);
        assert_eq!(peek(&[0x75; 60]), None);
        let mut p = v4_tcp(0, 0);
        p[0] = 0x4f; // IHL 60 > 40 bytes
        assert_eq!(peek(&p), None);
        let mut p = v4_tcp(0, 0);
        p[32] = 0xf0; // data offset 60 > segment
        assert!(peek(&p).expect("ip").tcp.is_none());
        assert_eq!(dst_addr(&[0x60; 30]), None);
    }

    #[test]
    fn flag_names() {
        assert_eq!((Flags::SYN | Flags::ACK).to_string(), "SYN,ACK");
        assert_eq!(Flags::EMPTY.to_string(), "-");
        assert_eq!(Flags::from_name("fin"), Some(Flags::FIN));
        assert_eq!(Flags::from_name("XYZ"), None);
    }
}
