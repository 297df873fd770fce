//! Wire formats for synack: IPv4, IPv6, TCP, and the ICMP and ICMPv6
//! errors that concern TCP.
//!
//! Each format has a zero-copy view (`*Packet<T: AsRef<[u8]>>`, whose
//! `new_checked` guarantees that no accessor panics) and a parsed, validated
//! representation (`*Repr`) with `parse`, `emit` and `buffer_len`.
//! Malformed input is a typed [`WireError`], never a panic.
#![forbid(unsafe_code)]

pub mod checksum;
pub mod fastopen;
mod field;
pub mod gso;
pub mod icmp;
pub mod ip;
pub mod seq;
pub mod tcp;

pub use fastopen::{FastOpenCookie, FastOpenOption};
pub use icmp::{
    IcmpMessage, IcmpRepr, Icmpv4Message, Icmpv4Unreachable, Icmpv6Message, Icmpv6ParamProblem,
    Icmpv6Unreachable, QuotedTcp, TimeExceeded,
};
pub use ip::{Ecn, IpRepr, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr};
pub use seq::SeqNum;
pub use tcp::{SackBlocks, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps};

/// Declare an enum and, by construction, the list of all its values:
/// `fn all() -> Vec<Self>` yields every unit variant once and, for a variant
/// carrying a field, one value per value of the field's type (which must
/// offer `all()` as well). Views and tests iterate it, so a new variant is
/// listed without anyone remembering to list it.
#[macro_export]
#[doc(hidden)]
macro_rules! listed_enum {
    (
        $(#[$m:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vm:meta])* $v:ident $( ( $f:ty ) )? ),* $(,)?
        }
    ) => {
        $(#[$m])*
        $vis enum $name {
            $( $(#[$vm])* $v $( ( $f ) )? ),*
        }

        impl $name {
            /// Every value: each unit variant, and each variant with a field
            /// once per value of the field.
            #[allow(clippy::vec_init_then_push)]
            pub fn all() -> ::std::vec::Vec<$name> {
                let mut all = ::std::vec::Vec::new();
                $( $crate::listed_enum!(@push all, $name, $v $(, $f)?); )*
                all
            }
        }
    };
    (@push $all:ident, $name:ident, $v:ident) => {
        $all.push($name::$v);
    };
    (@push $all:ident, $name:ident, $v:ident, $f:ty) => {
        for x in <$f>::all() {
            $all.push($name::$v(x));
        }
    };
}

listed_enum! {
    /// Why a packet could not be parsed. Every variant is counted by the stack.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[non_exhaustive]
    pub enum WireError {
        /// The buffer ends before the header (or a length field) says it should.
        Truncated,
        /// The IP version nibble is neither 4 nor 6.
        BadIpVersion,
        /// IPv4 IHL below 5, or IPv6/IPv4 length fields that disagree with the buffer.
        BadLength,
        /// IPv4 header checksum mismatch.
        BadIpChecksum,
        /// The packet is an IPv4 fragment (not reassembled by synack).
        Fragment,
        /// The IPv4 header carries options (not supported by synack).
        IpOptions,
        /// An IPv6 extension header that cannot be skipped safely.
        UnsupportedExtension,
        /// The transport protocol is not TCP.
        NotTcp,
        /// TCP data offset below 5 or beyond the segment.
        BadDataOffset,
        /// A TCP option whose length byte is invalid or runs past the header.
        BadOption,
        /// TCP checksum mismatch (pseudo-header included).
        BadTcpChecksum,
        /// A source or destination address that can never be a TCP peer
        /// (multicast, broadcast, unspecified).
        BadAddress,
        /// The packet carries neither ICMP (over IPv4) nor ICMPv6 (over IPv6):
        /// [`parse_icmp_packet`]'s counterpart of [`WireError::NotTcp`].
        NotIcmp,
        /// ICMP or ICMPv6 checksum mismatch (pseudo-header included for ICMPv6).
        BadIcmpChecksum,
    }
}

impl core::fmt::Display for WireError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            WireError::Truncated => "packet truncated",
            WireError::BadIpVersion => "bad IP version",
            WireError::BadLength => "IP length fields disagree with the packet",
            WireError::BadIpChecksum => "bad IPv4 header checksum",
            WireError::Fragment => "IPv4 fragment (not reassembled)",
            WireError::IpOptions => "IPv4 options (not supported)",
            WireError::UnsupportedExtension => "unsupported IPv6 extension header",
            WireError::NotTcp => "not a TCP packet",
            WireError::BadDataOffset => "bad TCP data offset",
            WireError::BadOption => "malformed TCP option",
            WireError::BadTcpChecksum => "bad TCP checksum",
            WireError::BadAddress => "address cannot be a TCP endpoint",
            WireError::NotIcmp => "not an ICMP packet",
            WireError::BadIcmpChecksum => "bad ICMP checksum",
        };
        f.write_str(s)
    }
}

impl std::error::Error for WireError {}

/// Whether checksums are verified on parse (always computed on emit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumMode {
    /// Verify IPv4 header and TCP checksums (the default).
    #[default]
    Verify,
    /// Skip verification (for packets whose checksum hardware already checked).
    Ignore,
}

/// Parse a whole IP packet carrying TCP: the IP header and the TCP segment.
///
/// Returns the IP representation (addresses, TTL ...) and the TCP
/// representation borrowing its payload from `bytes`.
pub fn parse_packet(bytes: &[u8], mode: ChecksumMode) -> Result<(IpRepr, TcpRepr<'_>), WireError> {
    let (ip, tcp_bytes) = IpRepr::parse(bytes, mode)?;
    let tcp = TcpRepr::parse(tcp_bytes, &ip, mode)?;
    Ok((ip, tcp))
}

/// [`parse_packet`] with the TCP checksum left for the caller to finish:
/// the IPv4 header checksum is verified, the TCP one is not; the `u32` is
/// the partial sum of the pseudo-header and the TCP header, to be completed
/// with the payload's sum by [`TcpRepr::checksum_ok`] (typically while the
/// payload is copied into a receive buffer) before anything in the segment
/// is acted on. The errors are [`parse_packet`]'s, in the same order.
pub fn parse_packet_deferred(bytes: &[u8]) -> Result<(IpRepr, TcpRepr<'_>, u32), WireError> {
    parse_packet_deferred_with(bytes, ChecksumMode::Verify)
}

/// [`parse_packet_deferred`], the IPv4 header checksum checked as `mode`
/// says (`Ignore` for a packet whose checksums the device already checked;
/// the caller then skips [`TcpRepr::checksum_ok`] too).
pub fn parse_packet_deferred_with(
    bytes: &[u8],
    mode: ChecksumMode,
) -> Result<(IpRepr, TcpRepr<'_>, u32), WireError> {
    let (ip, tcp_bytes) = IpRepr::parse(bytes, mode)?;
    let (tcp, head_sum) = TcpRepr::parse_deferred(tcp_bytes, &ip)?;
    Ok((ip, tcp, head_sum))
}

/// Parse a whole IP packet carrying an ICMP message (IPv4, protocol 1) or an
/// ICMPv6 message (IPv6, next header 58): the IP header and the message.
///
/// The IP header gets the checks of [`IpRepr::parse`] in the same order,
/// [`WireError::NotIcmp`] taking the place of [`WireError::NotTcp`]; then
/// see [`IcmpRepr::parse`]. Whether the message quotes a TCP segment is
/// [`IcmpRepr::quoted_tcp`]'s business.
pub fn parse_icmp_packet(
    bytes: &[u8],
    mode: ChecksumMode,
) -> Result<(IpRepr, IcmpRepr<'_>), WireError> {
    let first = *bytes.first().ok_or(WireError::Truncated)?;
    let (ip, payload) = match first >> 4 {
        4 => Ipv4Repr::parse_carrying(bytes, mode, ip::PROTO_ICMP, WireError::NotIcmp)
            .map(|(r, p)| (IpRepr::V4(r), p))?,
        6 => Ipv6Repr::parse_carrying(bytes, ip::PROTO_ICMPV6, WireError::NotIcmp)
            .map(|(r, p)| (IpRepr::V6(r), p))?,
        _ => return Err(WireError::BadIpVersion),
    };
    let icmp = IcmpRepr::parse(payload, &ip, mode)?;
    Ok((ip, icmp))
}

/// Emit an IP packet carrying the ICMP message `icmp` into `buf` (cleared
/// first), computing the lengths and checksums.
///
/// Errors (nothing is written): an ICMPv4 message under an IPv6 header or
/// the other way round ([`WireError::BadIpVersion`]), and a message longer
/// than the IP length field can say ([`WireError::BadLength`]).
pub fn emit_icmp_packet(
    ip: &IpRepr,
    icmp: &IcmpRepr<'_>,
    buf: &mut Vec<u8>,
) -> Result<(), WireError> {
    buf.clear();
    let len = icmp.buffer_len();
    if len > ip.max_payload_len() {
        return Err(WireError::BadLength);
    }
    let ip_len = ip.header_len();
    match (ip, icmp.message) {
        (IpRepr::V4(r), IcmpMessage::V4(_)) => {
            buf.resize(ip_len + len, 0);
            r.emit_carrying(buf, len, ip::PROTO_ICMP);
        }
        (IpRepr::V6(r), IcmpMessage::V6(_)) => {
            buf.resize(ip_len + len, 0);
            r.emit_carrying(buf, len, ip::PROTO_ICMPV6);
        }
        _ => return Err(WireError::BadIpVersion),
    }
    icmp.emit(&mut buf[ip_len..], ip);
    Ok(())
}

/// Emit an IP packet carrying `tcp` into `buf` (cleared first). The IP
/// payload length and both checksums are computed here.
pub fn emit_packet(ip: &IpRepr, tcp: &TcpRepr<'_>, buf: &mut Vec<u8>) {
    buf.clear();
    let ip_len = ip.header_len();
    let tcp_len = tcp.buffer_len();
    buf.resize(ip_len + tcp_len, 0);
    let (ip_buf, tcp_buf) = buf.split_at_mut(ip_len);
    ip.emit(ip_buf, tcp_len);
    tcp.emit(tcp_buf, ip);
}

/// Emit an IP packet carrying `tcp`'s header and a payload of `payload_len`
/// bytes that `fill` appends to `buf` (`tcp.payload` is ignored). `buf` is
/// cleared first; only the headers are zero-filled before being written, the
/// payload is written once, by `fill`, and the TCP checksum is computed over
/// the final bytes.
///
/// # Panics
/// If `fill` does not append exactly `payload_len` bytes.
pub fn emit_packet_with(
    ip: &IpRepr,
    tcp: &TcpRepr<'_>,
    payload_len: usize,
    buf: &mut Vec<u8>,
    fill: impl FnOnce(&mut Vec<u8>),
) {
    buf.clear();
    let ip_len = ip.header_len();
    let tcp_hlen = tcp.header_len();
    let tcp_len = tcp_hlen + payload_len;
    buf.reserve(ip_len + tcp_len);
    buf.resize(ip_len + tcp_hlen, 0);
    fill(buf);
    assert_eq!(buf.len(), ip_len + tcp_len, "payload length mismatch");
    let (ip_buf, tcp_buf) = buf.split_at_mut(ip_len);
    ip.emit(ip_buf, tcp_len);
    tcp.emit_header(tcp_buf);
    // RFC 9293 3.1: the checksum covers pseudo-header, header and data.
    tcp::TcpPacket::new_unchecked(tcp_buf).fill_checksum(ip.src(), ip.dst());
}

/// Emit an IP packet carrying `tcp`'s header and a payload of `payload_len`
/// bytes that `fill` writes into the slice it is given and sums
/// (`tcp.payload` is ignored): `fill` returns the one's-complement sum of
/// the payload as [`checksum::sum`]`(0, payload)` would (for instance from
/// [`checksum::copy_and_sum`]), so the payload is copied and summed in one
/// pass and never read again here.
///
/// `buf` ends up holding exactly the packet. Its bytes are reused where it
/// is long enough already: `fill` overwrites the payload area and the
/// headers are written octet by octet, so nothing is zeroed first.
pub fn emit_packet_summed(
    ip: &IpRepr,
    tcp: &TcpRepr<'_>,
    payload_len: usize,
    buf: &mut Vec<u8>,
    fill: impl FnOnce(&mut [u8]) -> u32,
) {
    let ip_len = ip.header_len();
    let tcp_hlen = tcp.header_len();
    let tcp_len = tcp_hlen + payload_len;
    let total = ip_len + tcp_len;
    if buf.len() < total {
        buf.resize(total, 0);
    } else {
        buf.truncate(total);
    }
    let (ip_buf, tcp_buf) = buf.split_at_mut(ip_len);
    // Both emits write every header octet, so stale bytes need no zeroing.
    ip.emit(ip_buf, tcp_len);
    let (head, data) = tcp_buf.split_at_mut(tcp_hlen);
    tcp.emit_header(head);
    let data_sum = fill(data);
    // RFC 9293 3.1: the checksum covers pseudo-header, header and data. The
    // header is a multiple of 4 octets long, so the data starts at an even
    // offset and its sum adds as it is (RFC 1071 2(B)).
    let len = u32::try_from(tcp_len).unwrap_or(u32::MAX);
    let pseudo = checksum::pseudo_header(ip.src(), ip.dst(), ip::PROTO_TCP, len);
    let head_sum = checksum::sum(pseudo, head);
    let c = !checksum::fold(head_sum + u32::from(checksum::fold(data_sum)));
    tcp::TcpPacket::new_unchecked(tcp_buf).set_checksum(c);
}
