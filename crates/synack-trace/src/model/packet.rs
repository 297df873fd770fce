//! The TCP fields of a packet read straight from its bytes, for packets no
//! stack event describes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use synack_proto::wire::{TcpFlags, TcpOptions};
use synack_proto::{SegmentSummary, SeqNum};

/// The fields of a packet read at fixed offsets (IPv4 without options or
/// IPv6 without extension headers, carrying TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawSeg {
    pub(crate) src: SocketAddr,
    pub(crate) dst: SocketAddr,
    pub(crate) flags: TcpFlags,
    pub(crate) seq: SeqNum,
    pub(crate) ack: SeqNum,
    pub(crate) window: u16,
    pub(crate) len: u32,
}

impl RawSeg {
    pub(crate) fn summary(&self) -> SegmentSummary {
        SegmentSummary {
            src: self.src,
            dst: self.dst,
            flags: self.flags,
            seq: self.seq,
            ack: self.ack,
            window: self.window,
            len: self.len,
            options: TcpOptions::default(),
        }
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Read the TCP fields of an IP packet at fixed offsets, every access
/// bounds-checked. `None` when the packet is too short or not TCP.
pub(crate) fn parse_packet(p: &[u8]) -> Option<RawSeg> {
    let version = p.first()? >> 4;
    let (src, dst, tcp_at, total) = match version {
        4 => {
            let ihl = usize::from(p.first()? & 0x0f) * 4;
            if ihl < 20 || *p.get(9)? != 6 {
                return None;
            }
            let total = usize::from(be16(p, 2)?).min(p.len());
            let s: [u8; 4] = p.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = p.get(16..20)?.try_into().ok()?;
            (
                IpAddr::V4(Ipv4Addr::from(s)),
                IpAddr::V4(Ipv4Addr::from(d)),
                ihl,
                total,
            )
        }
        6 => {
            if *p.get(6)? != 6 {
                return None;
            }
            let total = 40usize
                .saturating_add(usize::from(be16(p, 4)?))
                .min(p.len());
            let s: [u8; 16] = p.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = p.get(24..40)?.try_into().ok()?;
            (
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                40,
                total,
            )
        }
        _ => return None,
    };
    let sport = be16(p, tcp_at)?;
    let dport = be16(p, tcp_at.checked_add(2)?)?;
    let seq = be32(p, tcp_at.checked_add(4)?)?;
    let ack = be32(p, tcp_at.checked_add(8)?)?;
    let off = usize::from(p.get(tcp_at.checked_add(12)?)? >> 4) * 4;
    let flags = *p.get(tcp_at.checked_add(13)?)?;
    let window = be16(p, tcp_at.checked_add(14)?)?;
    let len = total.saturating_sub(tcp_at).saturating_sub(off);
    Some(RawSeg {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        flags: TcpFlags(flags),
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        window,
        len: u32::try_from(len).unwrap_or(u32::MAX),
    })
}
