//! IPv4 (RFC 791) and IPv6 (RFC 8200) headers as far as TCP needs them.

use crate::checksum;
use crate::field::{array_at, set_u16, u16_at, u32_at, u8_at};
use crate::{ChecksumMode, WireError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of ICMP (RFC 792).
pub const PROTO_ICMP: u8 = 1;
/// IPv6 next-header value of ICMPv6 (RFC 4443).
pub const PROTO_ICMPV6: u8 = 58;

/// Length of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// Most IPv6 extension headers [`Ipv6Repr::parse`] walks before giving up
/// with [`WireError::UnsupportedExtension`]; bounds the work a hostile chain
/// of tiny headers can cause.
pub const MAX_IPV6_EXTENSION_HEADERS: usize = 8;

/// IPv6 next-header values synack recognises (IANA "Assigned Internet
/// Protocol Numbers" and RFC 8200 4).
pub mod next_header {
    /// Hop-by-Hop Options (RFC 8200 4.3).
    pub const HOP_BY_HOP: u8 = 0;
    /// TCP.
    pub const TCP: u8 = 6;
    /// Routing (RFC 8200 4.4).
    pub const ROUTING: u8 = 43;
    /// Fragment (RFC 8200 4.5).
    pub const FRAGMENT: u8 = 44;
    /// Encapsulating Security Payload (RFC 4303).
    pub const ESP: u8 = 50;
    /// Authentication Header (RFC 4302).
    pub const AH: u8 = 51;
    /// No Next Header (RFC 8200 4.7).
    pub const NO_NEXT_HEADER: u8 = 59;
    /// Destination Options (RFC 8200 4.6).
    pub const DEST_OPTIONS: u8 = 60;
    /// Mobility (RFC 6275).
    pub const MOBILITY: u8 = 135;
    /// Host Identity Protocol (RFC 7401).
    pub const HIP: u8 = 139;
    /// Shim6 (RFC 5533).
    pub const SHIM6: u8 = 140;
    /// Experimentation and testing (RFC 3692).
    pub const EXPERIMENT_1: u8 = 253;
    /// Experimentation and testing (RFC 3692).
    pub const EXPERIMENT_2: u8 = 254;
}

/// The ECN field of the IP header: the low two bits of the IPv4 TOS byte
/// and of the IPv6 traffic class (RFC 3168 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Ecn {
    /// `00`: the transport is not ECN-capable.
    #[default]
    NotEct,
    /// `01`: ECN-capable transport, ECT(1).
    Ect1,
    /// `10`: ECN-capable transport, ECT(0) (RFC 3168 6.1.2: what TCP sends).
    Ect0,
    /// `11`: congestion experienced.
    Ce,
}

impl Ecn {
    /// The codepoint in the low two bits of `byte` (the other bits are the DSCP).
    pub const fn from_bits(byte: u8) -> Ecn {
        match byte & 3 {
            0 => Ecn::NotEct,
            1 => Ecn::Ect1,
            2 => Ecn::Ect0,
            _ => Ecn::Ce,
        }
    }

    /// The two-bit codepoint.
    pub const fn bits(self) -> u8 {
        match self {
            Ecn::NotEct => 0,
            Ecn::Ect1 => 1,
            Ecn::Ect0 => 2,
            Ecn::Ce => 3,
        }
    }
}

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
    /// The Differentiated Services field: the upper six bits of the TOS byte
    /// (RFC 2474 3), kept in the low six bits here.
    pub dscp: u8,
    /// The ECN field, the low two bits of the TOS byte (RFC 3168 5).
    pub ecn: Ecn,
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
    /// The Differentiated Services field: the upper six bits of the traffic
    /// class (RFC 2474 3, RFC 8200 7), kept in the low six bits here.
    pub dscp: u8,
    /// The ECN field, the low two bits of the traffic class (RFC 3168 5).
    pub ecn: Ecn,
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
    /// Build a header for a segment from `src` to `dst` with default TTL/hop limit 64
    /// and DSCP 0 (default forwarding, RFC 2474 4.1).
    /// Mixed address families are a caller bug and give `None`.
    pub fn new(src: IpAddr, dst: IpAddr) -> Option<IpRepr> {
        match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => Some(IpRepr::V4(Ipv4Repr {
                src,
                dst,
                ttl: 64,
                dont_frag: true,
                ident: 0,
                dscp: 0,
                ecn: Ecn::NotEct,
            })),
            (IpAddr::V6(src), IpAddr::V6(dst)) => Some(IpRepr::V6(Ipv6Repr {
                src,
                dst,
                hop_limit: 64,
                flow_label: 0,
                dscp: 0,
                ecn: Ecn::NotEct,
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

    /// The ECN field.
    pub fn ecn(&self) -> Ecn {
        match self {
            IpRepr::V4(r) => r.ecn,
            IpRepr::V6(r) => r.ecn,
        }
    }

    /// The same header with the ECN field set to `ecn`.
    #[must_use]
    pub fn with_ecn(self, ecn: Ecn) -> IpRepr {
        match self {
            IpRepr::V4(r) => IpRepr::V4(Ipv4Repr { ecn, ..r }),
            IpRepr::V6(r) => IpRepr::V6(Ipv6Repr { ecn, ..r }),
        }
    }

    /// The TTL (IPv4) or hop limit (IPv6).
    pub fn ttl(&self) -> u8 {
        match self {
            IpRepr::V4(r) => r.ttl,
            IpRepr::V6(r) => r.hop_limit,
        }
    }

    /// The same header with TTL (IPv4, RFC 791 3.1) or hop limit (IPv6, RFC 8200 3) `ttl`.
    #[must_use]
    pub fn with_ttl(self, ttl: u8) -> IpRepr {
        match self {
            IpRepr::V4(r) => IpRepr::V4(Ipv4Repr { ttl, ..r }),
            IpRepr::V6(r) => IpRepr::V6(Ipv6Repr {
                hop_limit: ttl,
                ..r
            }),
        }
    }

    /// The DSCP (RFC 2474 3), in the low six bits.
    pub fn dscp(&self) -> u8 {
        match self {
            IpRepr::V4(r) => r.dscp,
            IpRepr::V6(r) => r.dscp,
        }
    }

    /// The same header with DSCP `dscp` (only its low six bits count; RFC 2474 3).
    #[must_use]
    pub fn with_dscp(self, dscp: u8) -> IpRepr {
        let dscp = dscp & 0x3f;
        match self {
            IpRepr::V4(r) => IpRepr::V4(Ipv4Repr { dscp, ..r }),
            IpRepr::V6(r) => IpRepr::V6(Ipv6Repr { dscp, ..r }),
        }
    }

    /// Length of the header `emit` writes (20 for IPv4, 40 for IPv6).
    pub fn header_len(&self) -> usize {
        match self {
            IpRepr::V4(_) => 20,
            IpRepr::V6(_) => 40,
        }
    }

    /// The largest TCP segment (header plus payload) this header can carry:
    /// 65515 bytes for IPv4 (16-bit total length), 65535 for IPv6 (16-bit
    /// payload length; jumbograms are not supported). [`IpRepr::emit`] must
    /// not be asked for more.
    pub const fn max_payload_len(&self) -> usize {
        match self {
            IpRepr::V4(_) => u16::MAX as usize - IPV4_HEADER_LEN,
            IpRepr::V6(_) => u16::MAX as usize,
        }
    }

    /// Parse an IP header from the start of `bytes`, returning the header and
    /// the TCP bytes it carries (trimmed to the IP length field; link padding
    /// after it is ignored).
    ///
    /// Dispatches on the version nibble; see [`Ipv4Repr::parse`] and
    /// [`Ipv6Repr::parse`] for the checks and the order they run in.
    pub fn parse(bytes: &[u8], mode: ChecksumMode) -> Result<(IpRepr, &[u8]), WireError> {
        let first = *bytes.first().ok_or(WireError::Truncated)?;
        match first >> 4 {
            4 => Ipv4Repr::parse(bytes, mode).map(|(r, p)| (IpRepr::V4(r), p)),
            6 => Ipv6Repr::parse(bytes).map(|(r, p)| (IpRepr::V6(r), p)),
            _ => Err(WireError::BadIpVersion),
        }
    }

    /// Write the header into `buf[..self.header_len()]` for a TCP segment of
    /// `payload_len` bytes, computing the IPv4 header checksum.
    ///
    /// # Panics
    /// If `buf` is shorter than [`IpRepr::header_len`].
    pub fn emit(&self, buf: &mut [u8], payload_len: usize) {
        match self {
            IpRepr::V4(r) => r.emit(buf, payload_len),
            IpRepr::V6(r) => r.emit(buf, payload_len),
        }
    }
}

mod v4_field {
    pub(super) const VER_IHL: usize = 0;
    pub(super) const TOS: usize = 1;
    pub(super) const TOTAL_LEN: usize = 2;
    pub(super) const IDENT: usize = 4;
    pub(super) const FLAGS_FRAG: usize = 6;
    pub(super) const TTL: usize = 8;
    pub(super) const PROTOCOL: usize = 9;
    pub(super) const CHECKSUM: usize = 10;
    pub(super) const SRC: usize = 12;
    pub(super) const DST: usize = 16;
}

/// Don't Fragment bit of the IPv4 flags/fragment-offset field.
const V4_DF: u16 = 0x4000;
/// More Fragments bit.
const V4_MF: u16 = 0x2000;
/// Fragment offset mask (in 8-octet units).
const V4_FRAG_OFFSET: u16 = 0x1fff;

/// A zero-copy view of an IPv4 header and the payload it carries.
///
/// After [`Ipv4Packet::new_checked`] succeeds, no accessor panics and every
/// length field is consistent with the buffer. Readers on a view built with
/// [`Ipv4Packet::new_unchecked`] never panic either; fields outside the
/// buffer read as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wrap `buffer` without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wrap `buffer`, checking that the header and the total length fit.
    ///
    /// * shorter than 20 bytes, or shorter than IHL says: [`WireError::Truncated`];
    /// * IHL below 5: [`WireError::BadLength`] (RFC 791 3.1: minimum value is 5);
    /// * total length below the header length: [`WireError::BadLength`];
    /// * total length beyond the buffer: [`WireError::Truncated`].
    ///
    /// Bytes after the total length (link-layer padding) are allowed and
    /// excluded from [`Ipv4Packet::payload`].
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Ipv4Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// The length checks of [`Ipv4Packet::new_checked`].
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.buffer.as_ref().len();
        if len < IPV4_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let ihl = self.ihl();
        if ihl < 5 {
            return Err(WireError::BadLength);
        }
        let hlen = self.header_len();
        if hlen > len {
            return Err(WireError::Truncated);
        }
        let total = usize::from(self.total_len());
        if total < hlen {
            return Err(WireError::BadLength);
        }
        if total > len {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Version nibble (4 for a valid packet).
    pub fn version(&self) -> u8 {
        u8_at(self.b(), v4_field::VER_IHL) >> 4
    }

    /// Internet Header Length in 32-bit words.
    pub fn ihl(&self) -> u8 {
        u8_at(self.b(), v4_field::VER_IHL) & 0x0f
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// DSCP and ECN byte (the former type of service).
    pub fn tos(&self) -> u8 {
        u8_at(self.b(), v4_field::TOS)
    }

    /// Total length: header plus payload.
    pub fn total_len(&self) -> u16 {
        u16_at(self.b(), v4_field::TOTAL_LEN)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        u16_at(self.b(), v4_field::IDENT)
    }

    /// Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        u16_at(self.b(), v4_field::FLAGS_FRAG) & V4_DF != 0
    }

    /// More Fragments flag.
    pub fn more_frags(&self) -> bool {
        u16_at(self.b(), v4_field::FLAGS_FRAG) & V4_MF != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        (u16_at(self.b(), v4_field::FLAGS_FRAG) & V4_FRAG_OFFSET) << 3
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        u8_at(self.b(), v4_field::TTL)
    }

    /// Protocol number.
    pub fn protocol(&self) -> u8 {
        u8_at(self.b(), v4_field::PROTOCOL)
    }

    /// Header checksum field.
    pub fn checksum(&self) -> u16 {
        u16_at(self.b(), v4_field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array_at::<4>(self.b(), v4_field::SRC))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(array_at::<4>(self.b(), v4_field::DST))
    }

    /// The header checksum is correct (RFC 791 3.1: the one's complement sum
    /// over the header, checksum included, is all ones).
    pub fn verify_checksum(&self) -> bool {
        let hlen = self.header_len();
        if let Some(h) = self.b().first_chunk::<IPV4_HEADER_LEN>() {
            if hlen == IPV4_HEADER_LEN {
                return checksum::fold(checksum::sum20(0, h)) == 0xffff;
            }
        }
        match self.b().get(..hlen) {
            Some(h) => checksum::verify(0, h),
            None => false,
        }
    }

    /// The options bytes (empty when IHL is 5).
    pub fn options(&self) -> &[u8] {
        self.b()
            .get(IPV4_HEADER_LEN..self.header_len())
            .unwrap_or(&[])
    }

    /// The payload, up to the total length (link padding excluded).
    pub fn payload(&self) -> &[u8] {
        self.b()
            .get(self.header_len()..usize::from(self.total_len()))
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Set version 4 and the header length in bytes (a multiple of 4, 20..=60).
    ///
    /// # Panics
    /// All setters panic if the buffer is shorter than 20 bytes.
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.bm()[v4_field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }

    /// Set the DSCP/ECN byte.
    pub fn set_tos(&mut self, v: u8) {
        self.bm()[v4_field::TOS] = v;
    }

    /// Set the total length.
    pub fn set_total_len(&mut self, v: u16) {
        set_u16(self.bm(), v4_field::TOTAL_LEN, v);
    }

    /// Set the identification.
    pub fn set_ident(&mut self, v: u16) {
        set_u16(self.bm(), v4_field::IDENT, v);
    }

    /// Set the flags and fragment offset (offset in bytes, a multiple of 8).
    pub fn set_flags_and_frag(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let mut v = (offset >> 3) & V4_FRAG_OFFSET;
        if dont_frag {
            v |= V4_DF;
        }
        if more_frags {
            v |= V4_MF;
        }
        set_u16(self.bm(), v4_field::FLAGS_FRAG, v);
    }

    /// Set the time to live.
    pub fn set_ttl(&mut self, v: u8) {
        self.bm()[v4_field::TTL] = v;
    }

    /// Set the protocol.
    pub fn set_protocol(&mut self, v: u8) {
        self.bm()[v4_field::PROTOCOL] = v;
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.bm(), v4_field::CHECKSUM, v);
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.bm()[v4_field::SRC..v4_field::SRC + 4].copy_from_slice(&a.octets());
    }

    /// Set the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.bm()[v4_field::DST..v4_field::DST + 4].copy_from_slice(&a.octets());
    }

    /// Compute and store the header checksum over `header_len()` bytes.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hlen = self.header_len();
        let c = match self.b().first_chunk::<IPV4_HEADER_LEN>() {
            Some(h) if hlen == IPV4_HEADER_LEN => !checksum::fold(checksum::sum20(0, h)),
            _ => checksum::checksum(0, &self.b()[..hlen]),
        };
        self.set_checksum(c);
    }
}

/// RFC 1122 3.2.1.3 / RFC 1112 / RFC 919: addresses that cannot be one end
/// of a TCP connection.
fn v4_addr_ok(a: Ipv4Addr) -> bool {
    !(a.is_unspecified() || a.is_multicast() || a.is_broadcast())
}

/// RFC 4291 2.5.2 (unspecified) and 2.7 (multicast): never a TCP peer.
fn v6_addr_ok(a: Ipv6Addr) -> bool {
    !(a.is_unspecified() || a.is_multicast())
}

impl Ipv4Repr {
    /// Parse an IPv4 header, returning it and the TCP bytes it carries.
    ///
    /// Checks, in order: version ([`WireError::BadIpVersion`]), lengths (see
    /// [`Ipv4Packet::new_checked`]), the header checksum when `mode` is
    /// [`ChecksumMode::Verify`] ([`WireError::BadIpChecksum`]), options
    /// ([`WireError::IpOptions`]), fragmentation ([`WireError::Fragment`]),
    /// protocol ([`WireError::NotTcp`]) and addresses ([`WireError::BadAddress`]).
    pub fn parse(bytes: &[u8], mode: ChecksumMode) -> Result<(Ipv4Repr, &[u8]), WireError> {
        Ipv4Repr::parse_carrying(bytes, mode, PROTO_TCP, WireError::NotTcp)
    }

    /// [`Ipv4Repr::parse`] for a packet carrying `protocol` rather than TCP:
    /// the same checks in the same order, with `wrong` where the protocol differs.
    pub(crate) fn parse_carrying(
        bytes: &[u8],
        mode: ChecksumMode,
        protocol: u8,
        wrong: WireError,
    ) -> Result<(Ipv4Repr, &[u8]), WireError> {
        let first = *bytes.first().ok_or(WireError::Truncated)?;
        if first >> 4 != 4 {
            return Err(WireError::BadIpVersion);
        }
        let p = Ipv4Packet::new_checked(bytes)?;
        if mode == ChecksumMode::Verify && !p.verify_checksum() {
            return Err(WireError::BadIpChecksum);
        }
        if p.header_len() > IPV4_HEADER_LEN {
            // synack sends no IP options and accepts none.
            return Err(WireError::IpOptions);
        }
        // RFC 791 3.2: a packet is a fragment when MF is set or the fragment
        // offset is non-zero; synack does not reassemble.
        if p.more_frags() || p.frag_offset() != 0 {
            return Err(WireError::Fragment);
        }
        if p.protocol() != protocol {
            return Err(wrong);
        }
        let (src, dst) = (p.src_addr(), p.dst_addr());
        // RFC 9293 3.10.7.2 / RFC 1122 4.2.3.10: segments from or to a
        // broadcast or multicast address are dropped; 0.0.0.0 is "this host"
        // and only valid as a source during bootstrap (RFC 1122 3.2.1.3).
        if !v4_addr_ok(src) || !v4_addr_ok(dst) {
            return Err(WireError::BadAddress);
        }
        let repr = Ipv4Repr {
            src,
            dst,
            ttl: p.ttl(),
            dont_frag: p.dont_frag(),
            ident: p.ident(),
            dscp: p.tos() >> 2,
            ecn: Ecn::from_bits(p.tos()),
        };
        let payload = bytes
            .get(p.header_len()..usize::from(p.total_len()))
            .ok_or(WireError::Truncated)?;
        Ok((repr, payload))
    }

    /// Write a 20-byte header for a TCP payload of `payload_len` bytes (the
    /// TOS byte holds the DSCP and the ECN field).
    ///
    /// A total length above 65535 cannot be represented and is clamped (a
    /// caller bug: segments are sized by the MSS).
    ///
    /// # Panics
    /// If `buf` is shorter than 20 bytes.
    pub fn emit(&self, buf: &mut [u8], payload_len: usize) {
        self.emit_carrying(buf, payload_len, PROTO_TCP);
    }

    /// [`Ipv4Repr::emit`] for a payload of `protocol` rather than TCP.
    pub(crate) fn emit_carrying(&self, buf: &mut [u8], payload_len: usize, protocol: u8) {
        debug_assert!(payload_len <= usize::from(u16::MAX) - IPV4_HEADER_LEN);
        let total = u16::try_from(payload_len.saturating_add(IPV4_HEADER_LEN)).unwrap_or(u16::MAX);
        let mut p = Ipv4Packet::new_unchecked(&mut buf[..IPV4_HEADER_LEN]);
        p.set_version_and_header_len(IPV4_HEADER_LEN);
        // RFC 2474 3: DSCP in the upper six bits; RFC 3168 5: ECN in the lower two.
        p.set_tos((self.dscp << 2) | self.ecn.bits());
        p.set_total_len(total);
        p.set_ident(self.ident);
        p.set_flags_and_frag(self.dont_frag, false, 0);
        p.set_ttl(self.ttl);
        p.set_protocol(protocol);
        p.set_src_addr(self.src);
        p.set_dst_addr(self.dst);
        p.fill_checksum();
    }
}

mod v6_field {
    pub(super) const VER_TC_FLOW: usize = 0;
    pub(super) const PAYLOAD_LEN: usize = 4;
    pub(super) const NEXT_HEADER: usize = 6;
    pub(super) const HOP_LIMIT: usize = 7;
    pub(super) const SRC: usize = 8;
    pub(super) const DST: usize = 24;
}

/// A zero-copy view of the fixed IPv6 header and the payload it carries
/// (extension headers included).
///
/// After [`Ipv6Packet::new_checked`] succeeds, no accessor panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wrap `buffer` without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wrap `buffer`, checking that the fixed header and the payload length
    /// fit ([`WireError::Truncated`] otherwise). Bytes beyond the payload
    /// length (link padding) are allowed and ignored.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = Ipv6Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// The length checks of [`Ipv6Packet::new_checked`].
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.b().len();
        if len < IPV6_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        // RFC 8200 3: payload length counts everything after the fixed header.
        if usize::from(self.payload_len()) > len - IPV6_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Version nibble (6 for a valid packet).
    pub fn version(&self) -> u8 {
        u8_at(self.b(), v6_field::VER_TC_FLOW) >> 4
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        ((u32_at(self.b(), v6_field::VER_TC_FLOW) >> 20) & 0xff) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        u32_at(self.b(), v6_field::VER_TC_FLOW) & 0x000f_ffff
    }

    /// Payload length (extension headers plus upper-layer data).
    pub fn payload_len(&self) -> u16 {
        u16_at(self.b(), v6_field::PAYLOAD_LEN)
    }

    /// Next header of the fixed header.
    pub fn next_header(&self) -> u8 {
        u8_at(self.b(), v6_field::NEXT_HEADER)
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        u8_at(self.b(), v6_field::HOP_LIMIT)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array_at::<16>(self.b(), v6_field::SRC))
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(array_at::<16>(self.b(), v6_field::DST))
    }

    /// The payload (extension headers and upper layer), up to the payload length.
    pub fn payload(&self) -> &[u8] {
        let end = IPV6_HEADER_LEN + usize::from(self.payload_len());
        self.b().get(IPV6_HEADER_LEN..end).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Set version 6, the traffic class and the flow label (masked to 20 bits).
    ///
    /// # Panics
    /// All setters panic if the buffer is shorter than 40 bytes.
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let v = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        crate::field::set_u32(self.bm(), v6_field::VER_TC_FLOW, v);
    }

    /// Set the payload length.
    pub fn set_payload_len(&mut self, v: u16) {
        set_u16(self.bm(), v6_field::PAYLOAD_LEN, v);
    }

    /// Set the next header.
    pub fn set_next_header(&mut self, v: u8) {
        self.bm()[v6_field::NEXT_HEADER] = v;
    }

    /// Set the hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.bm()[v6_field::HOP_LIMIT] = v;
    }

    /// Set the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.bm()[v6_field::SRC..v6_field::SRC + 16].copy_from_slice(&a.octets());
    }

    /// Set the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.bm()[v6_field::DST..v6_field::DST + 16].copy_from_slice(&a.octets());
    }
}

/// Walk the extension headers of an IPv6 payload starting with `next`,
/// returning the TCP bytes.
///
/// RFC 8200 4: Hop-by-Hop (only directly after the fixed header, 4.1),
/// Destination Options, and Routing with Segments Left 0 (4.4: "the node
/// must ignore the Routing header and proceed") are skipped by their length.
/// A Fragment header is [`WireError::Fragment`]. Extension headers synack
/// cannot skip (ESP, AH, Mobility, HIP, Shim6, experimental, Routing with
/// segments left) and chains longer than [`MAX_IPV6_EXTENSION_HEADERS`] are
/// [`WireError::UnsupportedExtension`]. No Next Header and every other
/// upper-layer protocol are [`WireError::NotTcp`].
pub fn skip_extension_headers(next: u8, payload: &[u8]) -> Result<&[u8], WireError> {
    skip_to(next, payload, next_header::TCP, WireError::NotTcp)
}

/// [`skip_extension_headers`] looking for the upper-layer protocol `want`
/// rather than TCP, with `wrong` for any other upper layer.
pub(crate) fn skip_to(
    mut next: u8,
    payload: &[u8],
    want: u8,
    wrong: WireError,
) -> Result<&[u8], WireError> {
    use next_header as nh;
    let mut rest = payload;
    for i in 0..=MAX_IPV6_EXTENSION_HEADERS {
        if next == want {
            return Ok(rest);
        }
        let len = match next {
            nh::HOP_BY_HOP if i != 0 => {
                // RFC 8200 4.1: Hop-by-Hop must immediately follow the IPv6 header.
                return Err(WireError::UnsupportedExtension);
            }
            nh::HOP_BY_HOP | nh::DEST_OPTIONS | nh::ROUTING => {
                if i == MAX_IPV6_EXTENSION_HEADERS {
                    return Err(WireError::UnsupportedExtension);
                }
                // RFC 8200 4.3/4.4/4.6: Next Header, Hdr Ext Len in 8-octet
                // units not counting the first 8 octets.
                let (hdr_next, ext_len) = match rest {
                    [a, b, ..] => (*a, *b),
                    _ => return Err(WireError::Truncated),
                };
                if next == nh::ROUTING {
                    // RFC 8200 4.4: Segments Left is the fourth octet.
                    let segments_left = *rest.get(3).ok_or(WireError::Truncated)?;
                    if segments_left != 0 {
                        return Err(WireError::UnsupportedExtension);
                    }
                }
                next = hdr_next;
                (usize::from(ext_len) + 1) * 8
            }
            // RFC 8200 4.5; synack does not reassemble.
            nh::FRAGMENT => return Err(WireError::Fragment),
            nh::ESP
            | nh::AH
            | nh::MOBILITY
            | nh::HIP
            | nh::SHIM6
            | nh::EXPERIMENT_1
            | nh::EXPERIMENT_2 => return Err(WireError::UnsupportedExtension),
            // RFC 8200 4.7 (No Next Header) and any other upper layer.
            _ => return Err(wrong),
        };
        rest = rest.get(len..).ok_or(WireError::Truncated)?;
    }
    Err(WireError::UnsupportedExtension)
}

impl Ipv6Repr {
    /// Parse an IPv6 header and its extension headers, returning the fixed
    /// header fields and the TCP bytes.
    ///
    /// Checks, in order: version ([`WireError::BadIpVersion`]), lengths
    /// (see [`Ipv6Packet::new_checked`]), the extension header chain (see
    /// [`skip_extension_headers`]), then addresses ([`WireError::BadAddress`]).
    /// IPv6 has no header checksum.
    pub fn parse(bytes: &[u8]) -> Result<(Ipv6Repr, &[u8]), WireError> {
        Ipv6Repr::parse_carrying(bytes, next_header::TCP, WireError::NotTcp)
    }

    /// [`Ipv6Repr::parse`] for a packet whose upper layer is `want` rather
    /// than TCP: the same checks in the same order, with `wrong` for another.
    pub(crate) fn parse_carrying(
        bytes: &[u8],
        want: u8,
        wrong: WireError,
    ) -> Result<(Ipv6Repr, &[u8]), WireError> {
        let first = *bytes.first().ok_or(WireError::Truncated)?;
        if first >> 4 != 6 {
            return Err(WireError::BadIpVersion);
        }
        let p = Ipv6Packet::new_checked(bytes)?;
        let payload = bytes
            .get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + usize::from(p.payload_len()))
            .ok_or(WireError::Truncated)?;
        let upper = skip_to(p.next_header(), payload, want, wrong)?;
        let (src, dst) = (p.src_addr(), p.dst_addr());
        if !v6_addr_ok(src) || !v6_addr_ok(dst) {
            return Err(WireError::BadAddress);
        }
        let repr = Ipv6Repr {
            src,
            dst,
            hop_limit: p.hop_limit(),
            flow_label: p.flow_label(),
            dscp: p.traffic_class() >> 2,
            ecn: Ecn::from_bits(p.traffic_class()),
        };
        Ok((repr, upper))
    }

    /// Write the 40-byte fixed header (next header TCP, a traffic class
    /// holding the DSCP and the ECN field) for a TCP payload of `payload_len` bytes.
    /// The flow label is masked to 20 bits; a payload above 65535 bytes is
    /// clamped (jumbograms are not supported).
    ///
    /// # Panics
    /// If `buf` is shorter than 40 bytes.
    pub fn emit(&self, buf: &mut [u8], payload_len: usize) {
        self.emit_carrying(buf, payload_len, PROTO_TCP);
    }

    /// [`Ipv6Repr::emit`] with next header `next` rather than TCP.
    pub(crate) fn emit_carrying(&self, buf: &mut [u8], payload_len: usize, next: u8) {
        debug_assert!(payload_len <= usize::from(u16::MAX));
        let plen = u16::try_from(payload_len).unwrap_or(u16::MAX);
        let mut p = Ipv6Packet::new_unchecked(&mut buf[..IPV6_HEADER_LEN]);
        // RFC 8200 7 / RFC 2474 3: DSCP in the upper six bits of the traffic
        // class; RFC 3168 5: ECN in the lower two.
        p.set_version_tc_flow((self.dscp << 2) | self.ecn.bits(), self.flow_label);
        p.set_payload_len(plen);
        p.set_next_header(next);
        p.set_hop_limit(self.hop_limit);
        p.set_src_addr(self.src);
        p.set_dst_addr(self.dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchecked_views_never_panic_on_short_buffers() {
        for len in 0..64 {
            let buf = vec![0xffu8; len];
            let p = Ipv4Packet::new_unchecked(&buf[..]);
            let _ = (
                p.version(),
                p.header_len(),
                p.total_len(),
                p.ident(),
                p.dont_frag(),
            );
            let _ = (
                p.more_frags(),
                p.frag_offset(),
                p.ttl(),
                p.protocol(),
                p.checksum(),
            );
            let _ = (
                p.src_addr(),
                p.dst_addr(),
                p.verify_checksum(),
                p.options(),
                p.payload(),
            );
            let _ = (p.tos(), p.ihl(), p.check_len());
            let p = Ipv6Packet::new_unchecked(&buf[..]);
            let _ = (
                p.version(),
                p.traffic_class(),
                p.flow_label(),
                p.payload_len(),
            );
            let _ = (
                p.next_header(),
                p.hop_limit(),
                p.src_addr(),
                p.dst_addr(),
                p.payload(),
            );
            let _ = p.check_len();
        }
    }

    #[test]
    fn checked_views() {
        assert_eq!(
            Ipv4Packet::new_checked(&[0x45u8; 19][..]).err(),
            Some(WireError::Truncated)
        );
        let mut h = [0u8; 24];
        h[0] = 0x46;
        h[3] = 24;
        let p = Ipv4Packet::new_checked(&h[..]).expect("IHL 6 view");
        assert_eq!(p.options().len(), 4);
        assert!(p.payload().is_empty());
        h[0] = 0x47;
        assert_eq!(
            Ipv4Packet::new_checked(&h[..]).err(),
            Some(WireError::Truncated)
        );
        let mut h6 = [0u8; 41];
        h6[0] = 0x60;
        h6[5] = 2;
        assert_eq!(
            Ipv6Packet::new_checked(&h6[..]).err(),
            Some(WireError::Truncated)
        );
        h6[5] = 1;
        assert_eq!(
            Ipv6Packet::new_checked(&h6[..]).map(|p| p.payload().len()),
            Ok(1)
        );
    }

    #[test]
    fn setters_round_trip_through_getters() {
        let mut b = [0u8; 20];
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_version_and_header_len(20);
        p.set_total_len(20);
        p.set_flags_and_frag(false, true, 1480);
        p.set_ttl(3);
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert!(p.more_frags() && !p.dont_frag());
        assert_eq!(p.frag_offset(), 1480);
        let mut b = [0u8; 40];
        let mut p = Ipv6Packet::new_unchecked(&mut b[..]);
        p.set_version_tc_flow(0xab, 0xfff_ffff);
        assert_eq!(
            (p.version(), p.traffic_class(), p.flow_label()),
            (6, 0xab, 0xf_ffff)
        );
    }

    #[test]
    fn max_payload() {
        let v4 = IpRepr::new(Ipv4Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into());
        let v6 = IpRepr::new(Ipv6Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into());
        assert_eq!(v4.map(|r| r.max_payload_len()), Some(65515));
        assert_eq!(v6.map(|r| r.max_payload_len()), Some(65535));
        assert_eq!(
            IpRepr::new(Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()),
            None
        );
    }

    #[test]
    fn ecn_field_is_the_low_two_bits_of_tos_and_traffic_class() {
        // RFC 3168 5: 00 Not-ECT, 01 ECT(1), 10 ECT(0), 11 CE.
        for (bits, e) in [
            (0, Ecn::NotEct),
            (1, Ecn::Ect1),
            (2, Ecn::Ect0),
            (3, Ecn::Ce),
        ] {
            assert_eq!(Ecn::from_bits(0xb8 | bits), e);
            assert_eq!(e.bits(), bits);
        }
        let a: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into();
        let b: IpAddr = Ipv4Addr::new(192, 0, 2, 2).into();
        let Some(v4) = IpRepr::new(a, b) else {
            panic!("v4 header");
        };
        assert_eq!(v4.ecn(), Ecn::NotEct);
        let mut buf = [0u8; 20];
        v4.with_ecn(Ecn::Ect0).emit(&mut buf, 0);
        assert_eq!(buf[1], 0x02);
        buf[1] = 0x03;
        Ipv4Packet::new_unchecked(&mut buf[..]).fill_checksum();
        assert_eq!(
            Ipv4Repr::parse(&buf, ChecksumMode::Verify).map(|(r, _)| r.ecn),
            Ok(Ecn::Ce)
        );
        let a: IpAddr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into();
        let b: IpAddr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).into();
        let Some(v6) = IpRepr::new(a, b) else {
            panic!("v6 header");
        };
        let mut buf = [0u8; 40];
        v6.with_ecn(Ecn::Ce).emit(&mut buf, 0);
        assert_eq!(Ipv6Packet::new_unchecked(&buf[..]).traffic_class(), 0x03);
        assert_eq!(Ipv6Repr::parse(&buf).map(|(r, _)| r.ecn), Ok(Ecn::Ce));
    }

    #[test]
    fn dscp_is_the_upper_six_bits_next_to_ecn() {
        // RFC 2474 3: DSCP in bits 0-5 of the TOS / traffic class; RFC 3168 5:
        // ECN in bits 6-7. Setting one leaves the other alone.
        let a: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into();
        let b: IpAddr = Ipv4Addr::new(192, 0, 2, 2).into();
        let Some(v4) = IpRepr::new(a, b) else {
            panic!("v4 header");
        };
        let v4 = v4.with_ecn(Ecn::Ect0).with_dscp(0x38).with_ttl(4);
        assert_eq!((v4.dscp(), v4.ecn(), v4.ttl()), (0x38, Ecn::Ect0, 4));
        let mut buf = [0u8; 20];
        v4.emit(&mut buf, 0);
        assert_eq!((buf[1], buf[8]), (0xe2, 4));
        let parsed =
            Ipv4Repr::parse(&buf, ChecksumMode::Verify).map(|(r, _)| (r.dscp, r.ecn, r.ttl));
        assert_eq!(parsed, Ok((0x38, Ecn::Ect0, 4)));
        // Only six bits fit.
        assert_eq!(v4.with_dscp(0xff).dscp(), 0x3f);
        let a: IpAddr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into();
        let b: IpAddr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).into();
        let Some(v6) = IpRepr::new(a, b) else {
            panic!("v6 header");
        };
        let mut buf = [0u8; 40];
        v6.with_dscp(0x08)
            .with_ecn(Ecn::Ce)
            .with_ttl(6)
            .emit(&mut buf, 0);
        let p = Ipv6Packet::new_unchecked(&buf[..]);
        assert_eq!((p.traffic_class(), p.hop_limit()), (0x23, 6));
        assert_eq!(
            Ipv6Repr::parse(&buf).map(|(r, _)| (r.dscp, r.ecn, r.hop_limit)),
            Ok((0x08, Ecn::Ce, 6))
        );
    }
}
