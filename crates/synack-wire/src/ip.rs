//! IPv4 (RFC 791) and IPv6 (RFC 8200) headers as far as TCP needs them.

use crate::{ChecksumMode, WireError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;

/// A parsed IPv4 header (no options, not a fragment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Repr {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Time to live.
    pub ttl: u8,
    /// The Don't Fragment bit.
    pub dont_frag: bool,
    /// The identification field.
    pub ident: u16,
}

/// A parsed IPv6 fixed header (extension headers already skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Hop limit.
    pub hop_limit: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

/// An IPv4 or IPv6 header carrying TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpRepr {
    /// IPv4.
    V4(Ipv4Repr),
    /// IPv6.
    V6(Ipv6Repr),
}

impl IpRepr {
    /// Build a header for a segment from `src` to `dst` with default TTL/hop limit 64.
    /// Mixed address families are a caller bug and give `None`.
    pub fn new(src: IpAddr, dst: IpAddr) -> Option<IpRepr> {
        match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => Some(IpRepr::V4(Ipv4Repr {
                src,
                dst,
                ttl: 64,
                dont_frag: true,
                ident: 0,
            })),
            (IpAddr::V6(src), IpAddr::V6(dst)) => Some(IpRepr::V6(Ipv6Repr {
                src,
                dst,
                hop_limit: 64,
                flow_label: 0,
            })),
            _ => None,
        }
    }

    /// Source address.
    pub fn src(&self) -> IpAddr {
        match self {
            IpRepr::V4(r) => IpAddr::V4(r.src),
            IpRepr::V6(r) => IpAddr::V6(r.src),
        }
    }

    /// Destination address.
    pub fn dst(&self) -> IpAddr {
        match self {
            IpRepr::V4(r) => IpAddr::V4(r.dst),
            IpRepr::V6(r) => IpAddr::V6(r.dst),
        }
    }

    /// Length of the header `emit` writes (20 for IPv4, 40 for IPv6).
    pub fn header_len(&self) -> usize {
        match self {
            IpRepr::V4(_) => 20,
            IpRepr::V6(_) => 40,
        }
    }

    /// Parse an IP header from the start of `bytes`, returning the header and
    /// the TCP bytes it carries (trimmed to the IP length field; link padding
    /// after it is ignored).
    pub fn parse(bytes: &[u8], mode: ChecksumMode) -> Result<(IpRepr, &[u8]), WireError> {
        let _ = (bytes, mode);
        todo!("wire: IpRepr::parse")
    }

    /// Write the header into `buf[..self.header_len()]` for a TCP segment of
    /// `payload_len` bytes, computing the IPv4 header checksum.
    pub fn emit(&self, buf: &mut [u8], payload_len: usize) {
        let _ = (buf, payload_len);
        todo!("wire: IpRepr::emit")
    }
}
