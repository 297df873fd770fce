//! Segmentation offload on the wire: joining consecutive TCP segments of one
//! flow into a super-segment (what a device with TCP segmentation offload,
//! TSO, takes: up to 64 KiB with one header, cut again at a segment size),
//! and the cutting itself, by the rules Linux's `tcp_gso_segment` follows.
//!
//! Joining is strict, so that cutting gives back the segments that were
//! joined: the same IP header apart from the length, identification and
//! header checksum; the same TCP header apart from the sequence number, the
//! checksum and PSH/FIN on the last segment; contiguous sequence numbers;
//! every segment but the last of the same size. Cutting sets the sequence
//! numbers, clears PSH and FIN on all segments but the last and CWR on all
//! but the first (RFC 3168 6.1.2 allows CWR on one segment only), numbers
//! IPv4 identifications upward from the first (the one field that differs
//! from segments sent one by one; for atomic datagrams, DF set, it carries
//! no meaning, RFC 6864 4.1) and fills in every checksum.

use crate::checksum;
use crate::tcp::TcpFlags;

const PROTO_TCP: u8 = 6;
/// The largest IPv4 packet, and the largest IPv6 payload without jumbograms.
const MAX_LEN: usize = 65_535;

/// Why a segment cannot start or join a super-segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a plain TCP packet: IPv4 fragments, IPv6 extension headers, bad
    /// lengths, or not TCP at all.
    NotPlainTcp,
    /// Control bits other than ACK, ECE, PSH and FIN (SYN, RST, URG, CWR),
    /// or no payload: such a segment always goes alone.
    Control,
    /// IP or TCP headers differ beyond the fields cutting sets.
    Headers,
    /// The sequence number does not continue the super-segment.
    NotContiguous,
    /// The payload is larger than the super-segment's segment size.
    Oversize,
    /// The super-segment would exceed 64 KiB.
    Full,
    /// The super-segment's last segment was short or carried PSH or FIN.
    Closed,
    /// A segment size of zero.
    ZeroSize,
}

/// Where the headers and payload of a plain TCP packet are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// IPv6 (else IPv4).
    pub ipv6: bool,
    /// Length of the IP header.
    pub ip_len: usize,
    /// Length of the TCP header, options included.
    pub tcp_len: usize,
    /// Length of the TCP payload.
    pub payload: usize,
}

impl Layout {
    /// The layout of `packet`, an IPv4 packet (not a fragment) or an IPv6
    /// packet without extension headers, carrying a whole TCP segment.
    pub fn of(packet: &[u8]) -> Result<Layout, Refusal> {
        let first = *packet.first().ok_or(Refusal::NotPlainTcp)?;
        let (ipv6, ip_len, total) = match first >> 4 {
            4 => {
                let ihl = usize::from(first & 0x0f) * 4;
                let frag = be16(packet, 6)?;
                if ihl < 20 || packet.get(9) != Some(&PROTO_TCP) || frag & 0x3fff != 0 {
                    return Err(Refusal::NotPlainTcp);
                }
                (false, ihl, usize::from(be16(packet, 2)?))
            }
            6 => {
                if packet.get(6) != Some(&PROTO_TCP) {
                    return Err(Refusal::NotPlainTcp);
                }
                (true, 40, 40 + usize::from(be16(packet, 4)?))
            }
            _ => return Err(Refusal::NotPlainTcp),
        };
        let doff = packet.get(ip_len + 12).ok_or(Refusal::NotPlainTcp)?;
        let tcp_len = usize::from(doff >> 4) * 4;
        if total != packet.len() || tcp_len < 20 || ip_len + tcp_len > total {
            return Err(Refusal::NotPlainTcp);
        }
        Ok(Layout {
            ipv6,
            ip_len,
            tcp_len,
            payload: total - ip_len - tcp_len,
        })
    }

    /// IP and TCP header length together.
    pub fn header_len(&self) -> usize {
        self.ip_len + self.tcp_len
    }
}

fn be16(p: &[u8], at: usize) -> Result<u16, Refusal> {
    match p.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(Refusal::NotPlainTcp),
    }
}

fn be32(p: &[u8], at: usize) -> u32 {
    p.get(at..at + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn put16(p: &mut [u8], at: usize, v: u16) {
    if let Some(b) = p.get_mut(at..at + 2) {
        b.copy_from_slice(&v.to_be_bytes());
    }
}

/// The control bits a joined segment may carry (PSH and FIN only on the last).
const JOINABLE: u8 = TcpFlags::ACK.0 | TcpFlags::ECE.0 | TcpFlags::PSH.0 | TcpFlags::FIN.0;
const LAST_ONLY: u8 = TcpFlags::PSH.0 | TcpFlags::FIN.0;

/// A super-segment being built in a buffer: the first segment's headers and
/// the payloads of every joined segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Super {
    layout: Layout,
    seg_size: usize,
    count: u16,
    next_seq: u32,
    closed: bool,
}

impl Super {
    /// Start a super-segment with the segment in `buf`, whose payload size
    /// becomes the segment size.
    pub fn start(buf: &[u8]) -> Result<Super, Refusal> {
        let layout = Layout::of(buf)?;
        let flags = buf[layout.ip_len + 13];
        if flags & !JOINABLE != 0 || flags & TcpFlags::ACK.0 == 0 || layout.payload == 0 {
            return Err(Refusal::Control);
        }
        Ok(Super {
            layout,
            seg_size: layout.payload,
            count: 1,
            next_seq: be32(buf, layout.ip_len + 4).wrapping_add(layout.payload as u32),
            closed: flags & LAST_ONLY != 0,
        })
    }

    /// Append the payload of `seg` to the super-segment in `buf` when `seg`
    /// continues it; `buf` is unchanged otherwise.
    pub fn append(&mut self, buf: &mut Vec<u8>, seg: &[u8]) -> Result<(), Refusal> {
        if self.closed {
            return Err(Refusal::Closed);
        }
        let l = Layout::of(seg)?;
        let head = self.layout;
        if l.ip_len != head.ip_len || l.tcp_len != head.tcp_len || l.ipv6 != head.ipv6 {
            return Err(Refusal::Headers);
        }
        let (ip, t) = (head.ip_len, head.ip_len);
        let flags = seg[t + 13];
        if flags & !JOINABLE != 0 || l.payload == 0 {
            return Err(Refusal::Control);
        }
        // IP: everything but the lengths, the identification and the header checksum.
        let ip_same = if head.ipv6 {
            buf[..4] == seg[..4] && buf[6..40] == seg[6..40]
        } else {
            buf[..2] == seg[..2] && buf[6..10] == seg[6..10] && buf[12..ip] == seg[12..ip]
        };
        // TCP: ports, ACK, offset, window, urgent pointer and options; the
        // control bits but PSH and FIN.
        let tcp_same = buf[t..t + 4] == seg[t..t + 4]
            && buf[t + 8..t + 13] == seg[t + 8..t + 13]
            && buf[t + 13] & !LAST_ONLY == flags & !LAST_ONLY
            && buf[t + 14..t + 16] == seg[t + 14..t + 16]
            && buf[t + 18..t + head.tcp_len] == seg[t + 18..t + head.tcp_len];
        if !ip_same || !tcp_same {
            return Err(Refusal::Headers);
        }
        if be32(seg, t + 4) != self.next_seq {
            return Err(Refusal::NotContiguous);
        }
        if l.payload > self.seg_size {
            return Err(Refusal::Oversize);
        }
        let fixed = if head.ipv6 { 40 } else { 0 };
        if buf.len() - fixed + l.payload > MAX_LEN {
            return Err(Refusal::Full);
        }
        buf.extend_from_slice(&seg[l.header_len()..]);
        self.count += 1;
        self.next_seq = self.next_seq.wrapping_add(l.payload as u32);
        if l.payload < self.seg_size || flags & LAST_ONLY != 0 {
            buf[t + 13] = flags;
            self.closed = true;
        }
        Ok(())
    }

    /// Segments joined so far.
    pub fn segments(&self) -> u16 {
        self.count
    }

    /// The payload size of every segment but the last.
    pub fn segment_size(&self) -> u16 {
        self.seg_size as u16
    }

    /// The layout of the first segment (its header lengths).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Whether nothing more can be joined.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Make `buf` a valid super-segment: the IP lengths (and the IPv4
    /// header checksum) of the whole, and the TCP checksum field holding
    /// the pseudo-header sum only, unfinished, as a device that computes
    /// checksums expects it (Linux's CHECKSUM_PARTIAL, virtio's NEEDS_CSUM).
    pub fn finish(&self, buf: &mut [u8]) {
        set_ip_len(buf, self.layout);
        let tcp_total = buf.len() - self.layout.ip_len;
        let (src, dst) = addresses(buf, self.layout);
        let partial = checksum::fold(checksum::pseudo_header(
            src,
            dst,
            PROTO_TCP,
            tcp_total as u32,
        ));
        put16(buf, self.layout.ip_len + 16, partial);
    }
}

fn set_ip_len(buf: &mut [u8], l: Layout) {
    if l.ipv6 {
        put16(buf, 4, (buf.len() - 40) as u16);
    } else {
        put16(buf, 2, buf.len() as u16);
        put16(buf, 10, 0);
        let c = checksum::checksum(0, &buf[..l.ip_len]);
        put16(buf, 10, c);
    }
}

fn addresses(buf: &[u8], l: Layout) -> (std::net::IpAddr, std::net::IpAddr) {
    if l.ipv6 {
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        a.copy_from_slice(&buf[8..24]);
        b.copy_from_slice(&buf[24..40]);
        (a.into(), b.into())
    } else {
        let mut a = [0u8; 4];
        let mut b = [0u8; 4];
        a.copy_from_slice(&buf[12..16]);
        b.copy_from_slice(&buf[16..20]);
        (a.into(), b.into())
    }
}

/// Cut the super-segment `packet` into segments of `seg_size` payload
/// octets (the last may be shorter), as a device doing TSO would, and hand
/// each whole segment, checksums filled in, to `out`. Its TCP checksum field
/// is not read. Returns how many segments it made.
pub fn segment(
    packet: &[u8],
    seg_size: usize,
    mut out: impl FnMut(&[u8]),
) -> Result<usize, Refusal> {
    if seg_size == 0 {
        return Err(Refusal::ZeroSize);
    }
    let l = Layout::of(packet)?;
    let hdr = l.header_len();
    let t = l.ip_len;
    let seq0 = be32(packet, t + 4);
    let flags = packet[t + 13];
    let id0 = if l.ipv6 { 0 } else { be16(packet, 4)? };
    let (src, dst) = addresses(packet, l);
    let payload = &packet[hdr..];
    let n = payload.len().div_ceil(seg_size).max(1);
    let mut seg = Vec::with_capacity(hdr + seg_size.min(payload.len()));
    for i in 0..n {
        let chunk = payload
            .get(i * seg_size..((i + 1) * seg_size).min(payload.len()))
            .unwrap_or(&[]);
        seg.clear();
        seg.extend_from_slice(&packet[..hdr]);
        seg.extend_from_slice(chunk);
        if !l.ipv6 {
            put16(&mut seg, 4, id0.wrapping_add(i as u16));
        }
        set_ip_len(&mut seg, l);
        let seq = seq0.wrapping_add((i * seg_size) as u32);
        seg[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
        let mut f = flags;
        if i + 1 < n {
            f &= !LAST_ONLY;
        }
        if i > 0 {
            f &= !TcpFlags::CWR.0;
        }
        seg[t + 13] = f;
        put16(&mut seg, t + 16, 0);
        let sum = checksum::pseudo_header(src, dst, PROTO_TCP, (seg.len() - t) as u32);
        let c = checksum::checksum(sum, &seg[t..]);
        put16(&mut seg, t + 16, c);
        out(&seg);
    }
    Ok(n)
}

/// Fill in the TCP checksum of a packet whose checksum field holds only
/// the pseudo-header sum (a device's NEEDS_CSUM packet, when the receiver
/// wants it whole).
pub fn complete_checksum(packet: &mut [u8]) -> Result<(), Refusal> {
    let l = Layout::of(packet)?;
    let (src, dst) = addresses(packet, l);
    let t = l.ip_len;
    put16(packet, t + 16, 0);
    let sum = checksum::pseudo_header(src, dst, PROTO_TCP, (packet.len() - t) as u32);
    let c = checksum::checksum(sum, &packet[t..]);
    put16(packet, t + 16, c);
    Ok(())
}
