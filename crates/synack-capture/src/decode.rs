//! From a captured frame to a TCP segment: the link layer (Ethernet with
//! VLAN tags, raw IP, Linux cooked SLL and SLL2, BSD null and loopback),
//! then IPv4 or IPv6, then the TCP header.
//!
//! Nothing here trusts a length field: every access is bounds-checked,
//! and what cannot be decoded is a [`Skip`] that the caller counts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use synack_proto::wire::checksum;
use synack_proto::wire::ip::{skip_extension_headers, PROTO_TCP};
use synack_proto::wire::{SeqNum, TcpFlags, TcpOptions, TcpPacket, WireError};
use synack_proto::SegmentSummary;

/// `LINKTYPE_NULL`: BSD loopback, a 4-byte address family in host order.
pub const LINKTYPE_NULL: u32 = 0;
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// `LINKTYPE_RAW`: a bare IPv4 or IPv6 packet.
pub const LINKTYPE_RAW: u32 = 101;
/// `LINKTYPE_LOOP`: OpenBSD loopback, the address family in network order.
pub const LINKTYPE_LOOP: u32 = 108;
/// `LINKTYPE_LINUX_SLL`: Linux cooked capture v1 (`tcpdump -i any`).
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// `LINKTYPE_IPV4`.
pub const LINKTYPE_IPV4: u32 = 228;
/// `LINKTYPE_IPV6`.
pub const LINKTYPE_IPV6: u32 = 229;
/// `LINKTYPE_LINUX_SLL2`: Linux cooked capture v2.
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// Why a frame carries no TCP segment synack can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Skip {
    /// A link type synack does not decode.
    UnknownLink(u32),
    /// Not IP (ARP, LLDP ...).
    NotIp,
    /// IP, but not TCP (UDP, ICMP ...).
    NotTcp,
    /// An IP fragment: synack does not reassemble.
    Fragment,
    /// The frame ends inside the link, IP or TCP header (snap length or a
    /// broken packet).
    Truncated,
    /// A header field makes no sense (IHL below 5, data offset below 5 ...).
    Malformed,
}

/// A decoded TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Its fields, in the stack's event form (payload length from the IP header).
    pub seg: SegmentSummary,
    /// `Some(true)` when the checksum is right, `Some(false)` when wrong,
    /// `None` when the capture did not keep the whole segment or the
    /// checksum was left to offload (`checksum_offload`).
    pub checksum_ok: Option<bool>,
    /// The checksum field holds only the pseudo-header's sum: the sender
    /// left the rest to its device's checksum offload, and the capture saw
    /// the segment before the device completed it (a capture on the sending
    /// host, or on a veth pair). Not an error; the checksum is unknown.
    pub checksum_offload: bool,
    /// The capture kept only part of the packet.
    pub snapped: bool,
    /// The options did not parse (they are left empty).
    pub bad_options: bool,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

/// The IP packet inside a frame of link type `link`.
pub fn ip_payload(link: u32, data: &[u8]) -> Result<&[u8], Skip> {
    match link {
        LINKTYPE_RAW | 12 | 14 | LINKTYPE_IPV4 | LINKTYPE_IPV6 => Ok(data),
        LINKTYPE_ETHERNET => ethernet(data),
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            let fam = data.get(..4).ok_or(Skip::Truncated)?;
            let fam = [fam[0], fam[1], fam[2], fam[3]];
            let family = if link == LINKTYPE_LOOP {
                u32::from_be_bytes(fam)
            } else if u32::from_le_bytes(fam) < 256 {
                // Host order: whichever reading gives a small number.
                u32::from_le_bytes(fam)
            } else {
                u32::from_be_bytes(fam)
            };
            // AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 on the BSDs, 10 on Linux.
            match family {
                2 | 10 | 24 | 28 | 30 => data.get(4..).ok_or(Skip::Truncated),
                _ => Err(Skip::NotIp),
            }
        }
        LINKTYPE_LINUX_SLL => cooked(data, 14, 16),
        LINKTYPE_LINUX_SLL2 => cooked(data, 0, 20),
        other => Err(Skip::UnknownLink(other)),
    }
}

fn ip_ethertype(t: u16) -> bool {
    t == 0x0800 || t == 0x86dd
}

/// Ethernet II, skipping 802.1Q and 802.1ad tags (up to four).
fn ethernet(data: &[u8]) -> Result<&[u8], Skip> {
    let mut at = 12;
    for _ in 0..5 {
        let t = be16(data, at).ok_or(Skip::Truncated)?;
        match t {
            0x8100 | 0x88a8 | 0x9100 => at += 4,
            t if ip_ethertype(t) => return data.get(at + 2..).ok_or(Skip::Truncated),
            _ => return Err(Skip::NotIp),
        }
    }
    Err(Skip::Malformed)
}

/// Linux cooked headers: the protocol (an EtherType) at `proto_at`, the
/// packet after `len` bytes.
fn cooked(data: &[u8], proto_at: usize, len: usize) -> Result<&[u8], Skip> {
    let t = be16(data, proto_at).ok_or(Skip::Truncated)?;
    if !ip_ethertype(t) {
        return Err(Skip::NotIp);
    }
    data.get(len..).ok_or(Skip::Truncated)
}

/// The addresses, the TCP bytes captured, and the TCP length on the wire.
struct IpPart<'a> {
    src: IpAddr,
    dst: IpAddr,
    tcp: &'a [u8],
    tcp_len: usize,
}

fn ipv4(p: &[u8]) -> Result<IpPart<'_>, Skip> {
    let ihl = usize::from(p.first().ok_or(Skip::Truncated)? & 0x0f) * 4;
    if ihl < 20 {
        return Err(Skip::Malformed);
    }
    let total = usize::from(be16(p, 2).ok_or(Skip::Truncated)?);
    let frag = be16(p, 6).ok_or(Skip::Truncated)?;
    // RFC 791: More Fragments, or a fragment offset, mark a fragment.
    if frag & 0x3fff != 0 {
        return Err(Skip::Fragment);
    }
    if *p.get(9).ok_or(Skip::Truncated)? != 6 {
        return Err(Skip::NotTcp);
    }
    let s: [u8; 4] = p
        .get(12..16)
        .ok_or(Skip::Truncated)?
        .try_into()
        .map_err(|_| Skip::Truncated)?;
    let d: [u8; 4] = p
        .get(16..20)
        .ok_or(Skip::Truncated)?
        .try_into()
        .map_err(|_| Skip::Truncated)?;
    if total < ihl {
        return Err(Skip::Malformed);
    }
    // A frame may carry Ethernet padding after the IP packet.
    let end = total.min(p.len());
    let tcp = p.get(ihl..end).ok_or(Skip::Truncated)?;
    Ok(IpPart {
        src: IpAddr::V4(Ipv4Addr::from(s)),
        dst: IpAddr::V4(Ipv4Addr::from(d)),
        tcp,
        tcp_len: total - ihl,
    })
}

fn ipv6(p: &[u8]) -> Result<IpPart<'_>, Skip> {
    let plen = usize::from(be16(p, 4).ok_or(Skip::Truncated)?);
    let next = *p.get(6).ok_or(Skip::Truncated)?;
    let s: [u8; 16] = p
        .get(8..24)
        .ok_or(Skip::Truncated)?
        .try_into()
        .map_err(|_| Skip::Truncated)?;
    let d: [u8; 16] = p
        .get(24..40)
        .ok_or(Skip::Truncated)?
        .try_into()
        .map_err(|_| Skip::Truncated)?;
    let end = 40usize.saturating_add(plen).min(p.len());
    let payload = p.get(40..end).ok_or(Skip::Truncated)?;
    let tcp = skip_extension_headers(next, payload).map_err(|e| match e {
        WireError::Fragment => Skip::Fragment,
        WireError::Truncated => Skip::Truncated,
        WireError::NotTcp => Skip::NotTcp,
        _ => Skip::Malformed,
    })?;
    let ext = payload.len() - tcp.len();
    Ok(IpPart {
        src: IpAddr::V6(Ipv6Addr::from(s)),
        dst: IpAddr::V6(Ipv6Addr::from(d)),
        tcp,
        tcp_len: plen.saturating_sub(ext),
    })
}

/// Decode the TCP segment of an IP packet. `verify` checks the checksum
/// when the whole segment was captured.
pub fn tcp_segment(ip: &[u8], verify: bool) -> Result<Decoded, Skip> {
    let part = match ip.first().map(|b| b >> 4) {
        Some(4) => ipv4(ip)?,
        Some(6) => ipv6(ip)?,
        Some(_) => return Err(Skip::NotIp),
        None => return Err(Skip::Truncated),
    };
    let t = part.tcp;
    if t.len() < 20 {
        return Err(Skip::Truncated);
    }
    let pkt = TcpPacket::new_unchecked(t);
    let hlen = usize::from(pkt.data_offset()) * 4;
    if hlen < 20 || hlen > part.tcp_len {
        return Err(Skip::Malformed);
    }
    let opt_bytes = t.get(20..hlen).ok_or(Skip::Truncated)?;
    let (options, bad_options) = match TcpOptions::parse(opt_bytes) {
        Ok(o) => (o, false),
        Err(_) => (TcpOptions::default(), true),
    };
    let snapped = t.len() < part.tcp_len;
    let mut checksum_ok = (verify && !snapped).then(|| pkt.verify_checksum(part.src, part.dst));
    // Checksum offload: the stack wrote the folded pseudo-header sum into the
    // field and the device adds the segment's sum on the way out.
    let checksum_offload = checksum_ok == Some(false)
        && pkt.checksum()
            == checksum::fold(checksum::pseudo_header(
                part.src,
                part.dst,
                PROTO_TCP,
                u32::try_from(part.tcp_len).unwrap_or(u32::MAX),
            ));
    if checksum_offload {
        checksum_ok = None;
    }
    let len = u32::try_from(part.tcp_len - hlen).map_err(|_| Skip::Malformed)?;
    Ok(Decoded {
        seg: SegmentSummary {
            src: SocketAddr::new(part.src, pkt.src_port()),
            dst: SocketAddr::new(part.dst, pkt.dst_port()),
            flags: TcpFlags(pkt.flags().0),
            seq: SeqNum(pkt.seq_number().get()),
            ack: SeqNum(pkt.ack_number().get()),
            window: pkt.window_len(),
            len,
            options,
        },
        checksum_ok,
        checksum_offload,
        snapped,
        bad_options,
    })
}
