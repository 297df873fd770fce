//! ICMP (RFC 792) and ICMPv6 (RFC 4443) messages as far as TCP needs them:
//! the type and code of an error, the field TCP acts on (the next-hop MTU of
//! RFC 1191, the MTU of an ICMPv6 Packet Too Big), and the packet the error
//! quotes, from which [`IcmpRepr::quoted_tcp`] takes the addresses, ports and
//! sequence number of the TCP segment that caused it.
//!
//! Every ICMP message has the same 8-byte header: type, code, checksum and a
//! 32-bit word whose meaning depends on the type; the rest is the quote (for
//! an error, "as much of the invoking packet as possible", RFC 4443 3.1; at
//! least the IP header and 64 bits of data, RFC 792).

use crate::checksum;
use crate::field::{set_u16, u16_at, u32_at};
use crate::ip::{self, IpRepr, PROTO_ICMPV6, PROTO_TCP};
use crate::{ChecksumMode, SeqNum, WireError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Length of the ICMP header (type, code, checksum and the type's 32-bit word).
pub const ICMP_HEADER_LEN: usize = 8;

/// ICMP message types synack knows (RFC 792, IANA "ICMP Parameters").
pub mod icmpv4_type {
    /// Echo Reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination Unreachable.
    pub const DEST_UNREACHABLE: u8 = 3;
    /// Source Quench (deprecated by RFC 6633).
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect.
    pub const REDIRECT: u8 = 5;
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Time Exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter Problem.
    pub const PARAMETER_PROBLEM: u8 = 12;
}

/// ICMPv6 message types synack knows (RFC 4443 2.1).
pub mod icmpv6_type {
    /// Destination Unreachable.
    pub const DEST_UNREACHABLE: u8 = 1;
    /// Packet Too Big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time Exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter Problem.
    pub const PARAMETER_PROBLEM: u8 = 4;
    /// Echo Request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo Reply.
    pub const ECHO_REPLY: u8 = 129;
}

/// The codes of an ICMP Destination Unreachable (RFC 792; 6 to 12 from
/// RFC 1122 3.2.2.1; 13 to 15 from RFC 1812 5.2.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Icmpv4Unreachable {
    /// 0: net unreachable.
    Net,
    /// 1: host unreachable.
    Host,
    /// 2: protocol unreachable.
    Protocol,
    /// 3: port unreachable.
    Port,
    /// 4: fragmentation needed and DF set (with RFC 1191's next-hop MTU).
    FragNeeded,
    /// 5: source route failed.
    SourceRouteFailed,
    /// 6: destination network unknown.
    NetUnknown,
    /// 7: destination host unknown.
    HostUnknown,
    /// 8: source host isolated.
    HostIsolated,
    /// 9: communication with the destination network administratively prohibited.
    NetProhibited,
    /// 10: communication with the destination host administratively prohibited.
    HostProhibited,
    /// 11: network unreachable for the type of service.
    NetTos,
    /// 12: host unreachable for the type of service.
    HostTos,
    /// 13: communication administratively prohibited (filtered).
    CommProhibited,
    /// 14: host precedence violation.
    HostPrecedence,
    /// 15: precedence cutoff in effect.
    PrecedenceCutoff,
    /// A code without an assigned meaning (16 and above; parsing never gives
    /// a code named above here).
    Other(u8),
}

impl Icmpv4Unreachable {
    /// The code for the wire value `code`.
    pub const fn from_code(code: u8) -> Icmpv4Unreachable {
        use Icmpv4Unreachable as U;
        match code {
            0 => U::Net,
            1 => U::Host,
            2 => U::Protocol,
            3 => U::Port,
            4 => U::FragNeeded,
            5 => U::SourceRouteFailed,
            6 => U::NetUnknown,
            7 => U::HostUnknown,
            8 => U::HostIsolated,
            9 => U::NetProhibited,
            10 => U::HostProhibited,
            11 => U::NetTos,
            12 => U::HostTos,
            13 => U::CommProhibited,
            14 => U::HostPrecedence,
            15 => U::PrecedenceCutoff,
            c => U::Other(c),
        }
    }

    /// The wire value.
    pub const fn code(self) -> u8 {
        use Icmpv4Unreachable as U;
        match self {
            U::Net => 0,
            U::Host => 1,
            U::Protocol => 2,
            U::Port => 3,
            U::FragNeeded => 4,
            U::SourceRouteFailed => 5,
            U::NetUnknown => 6,
            U::HostUnknown => 7,
            U::HostIsolated => 8,
            U::NetProhibited => 9,
            U::HostProhibited => 10,
            U::NetTos => 11,
            U::HostTos => 12,
            U::CommProhibited => 13,
            U::HostPrecedence => 14,
            U::PrecedenceCutoff => 15,
            U::Other(c) => c,
        }
    }
}

/// The codes of an ICMPv6 Destination Unreachable (RFC 4443 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Icmpv6Unreachable {
    /// 0: no route to destination.
    NoRoute,
    /// 1: communication with the destination administratively prohibited.
    AdminProhibited,
    /// 2: beyond the scope of the source address.
    BeyondScope,
    /// 3: address unreachable.
    AddressUnreachable,
    /// 4: port unreachable.
    PortUnreachable,
    /// 5: source address failed ingress/egress policy.
    SourcePolicy,
    /// 6: reject route to destination.
    RejectRoute,
    /// A code without an assigned meaning (7 and above).
    Other(u8),
}

impl Icmpv6Unreachable {
    /// The code for the wire value `code`.
    pub const fn from_code(code: u8) -> Icmpv6Unreachable {
        use Icmpv6Unreachable as U;
        match code {
            0 => U::NoRoute,
            1 => U::AdminProhibited,
            2 => U::BeyondScope,
            3 => U::AddressUnreachable,
            4 => U::PortUnreachable,
            5 => U::SourcePolicy,
            6 => U::RejectRoute,
            c => U::Other(c),
        }
    }

    /// The wire value.
    pub const fn code(self) -> u8 {
        use Icmpv6Unreachable as U;
        match self {
            U::NoRoute => 0,
            U::AdminProhibited => 1,
            U::BeyondScope => 2,
            U::AddressUnreachable => 3,
            U::PortUnreachable => 4,
            U::SourcePolicy => 5,
            U::RejectRoute => 6,
            U::Other(c) => c,
        }
    }
}

/// The codes of a Time Exceeded, the same for ICMP (RFC 792) and ICMPv6
/// (RFC 4443 3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimeExceeded {
    /// 0: time to live (hop limit) exceeded in transit.
    InTransit,
    /// 1: fragment reassembly time exceeded.
    Reassembly,
    /// A code without an assigned meaning (2 and above).
    Other(u8),
}

impl TimeExceeded {
    /// The code for the wire value `code`.
    pub const fn from_code(code: u8) -> TimeExceeded {
        match code {
            0 => TimeExceeded::InTransit,
            1 => TimeExceeded::Reassembly,
            c => TimeExceeded::Other(c),
        }
    }

    /// The wire value.
    pub const fn code(self) -> u8 {
        match self {
            TimeExceeded::InTransit => 0,
            TimeExceeded::Reassembly => 1,
            TimeExceeded::Other(c) => c,
        }
    }
}

/// The codes of an ICMPv6 Parameter Problem (RFC 4443 3.4; 3 from RFC 7112).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Icmpv6ParamProblem {
    /// 0: erroneous header field.
    HeaderField,
    /// 1: unrecognized Next Header type.
    NextHeader,
    /// 2: unrecognized IPv6 option.
    Option,
    /// Another code (3, "IPv6 first fragment has incomplete header chain", and above).
    Other(u8),
}

impl Icmpv6ParamProblem {
    /// The code for the wire value `code`.
    pub const fn from_code(code: u8) -> Icmpv6ParamProblem {
        match code {
            0 => Icmpv6ParamProblem::HeaderField,
            1 => Icmpv6ParamProblem::NextHeader,
            2 => Icmpv6ParamProblem::Option,
            c => Icmpv6ParamProblem::Other(c),
        }
    }

    /// The wire value.
    pub const fn code(self) -> u8 {
        match self {
            Icmpv6ParamProblem::HeaderField => 0,
            Icmpv6ParamProblem::NextHeader => 1,
            Icmpv6ParamProblem::Option => 2,
            Icmpv6ParamProblem::Other(c) => c,
        }
    }
}

/// An ICMP message: the type, the code and the type's 32-bit word.
///
/// Fields a type leaves unused are sent as zero and ignored on receipt, so
/// `parse` then `emit` may change them; `emit` then `parse` gives back the
/// same message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv4Message {
    /// Destination Unreachable (type 3).
    DestUnreachable {
        /// Why.
        code: Icmpv4Unreachable,
        /// The low 16 bits of the second word: RFC 1191's next-hop MTU, set
        /// with [`Icmpv4Unreachable::FragNeeded`] by routers that know it
        /// (zero from older ones).
        next_hop_mtu: u16,
    },
    /// Source Quench (type 4; RFC 6633 deprecates it).
    SourceQuench,
    /// Redirect (type 5).
    Redirect {
        /// 0 network, 1 host, 2 network and TOS, 3 host and TOS.
        code: u8,
        /// The gateway to use.
        gateway: Ipv4Addr,
    },
    /// Time Exceeded (type 11).
    TimeExceeded {
        /// Why.
        code: TimeExceeded,
    },
    /// Parameter Problem (type 12).
    ParameterProblem {
        /// 0 the pointer indicates the error, 1 missing a required option
        /// (RFC 1108), 2 bad length (RFC 1812 5.2.7.3).
        code: u8,
        /// The octet of the quoted header where the problem was found.
        pointer: u8,
    },
    /// Any other type (queries and replies such as echo, or types without
    /// an assigned meaning).
    Other {
        /// The type.
        msg_type: u8,
        /// The code.
        code: u8,
        /// The second word as it was.
        rest: [u8; 4],
    },
}

/// An ICMPv6 message: the type, the code and the type's 32-bit word (see
/// [`Icmpv4Message`] about unused fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Icmpv6Message {
    /// Destination Unreachable (type 1).
    DestUnreachable {
        /// Why.
        code: Icmpv6Unreachable,
    },
    /// Packet Too Big (type 2; the code is sent as zero and ignored, RFC 4443 3.2).
    PacketTooBig {
        /// The MTU of the next-hop link.
        mtu: u32,
    },
    /// Time Exceeded (type 3).
    TimeExceeded {
        /// Why.
        code: TimeExceeded,
    },
    /// Parameter Problem (type 4).
    ParameterProblem {
        /// Why.
        code: Icmpv6ParamProblem,
        /// The octet offset in the quoted packet where the problem was found.
        pointer: u32,
    },
    /// Any other type (informational messages from 128 on, or error types
    /// without an assigned meaning).
    Other {
        /// The type.
        msg_type: u8,
        /// The code.
        code: u8,
        /// The second word as it was.
        rest: [u8; 4],
    },
}

/// An ICMP or ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpMessage {
    /// ICMP, carried by IPv4.
    V4(Icmpv4Message),
    /// ICMPv6, carried by IPv6.
    V6(Icmpv6Message),
}

impl IcmpMessage {
    /// Whether this is an error message, which quotes the packet that caused it
    /// (RFC 792's Destination Unreachable, Source Quench, Redirect, Time Exceeded
    /// and Parameter Problem; RFC 4443 2.1: ICMPv6 types 0 to 127).
    pub fn is_error(&self) -> bool {
        match self {
            IcmpMessage::V4(Icmpv4Message::Other { .. }) => false,
            IcmpMessage::V4(_) => true,
            IcmpMessage::V6(Icmpv6Message::Other { msg_type, .. }) => *msg_type < 128,
            IcmpMessage::V6(_) => true,
        }
    }

    /// Type, code and second word as sent.
    fn header(&self) -> (u8, u8, [u8; 4]) {
        use icmpv4_type as t4;
        use icmpv6_type as t6;
        match *self {
            IcmpMessage::V4(m) => match m {
                Icmpv4Message::DestUnreachable { code, next_hop_mtu } => {
                    let [a, b] = next_hop_mtu.to_be_bytes();
                    (t4::DEST_UNREACHABLE, code.code(), [0, 0, a, b])
                }
                Icmpv4Message::SourceQuench => (t4::SOURCE_QUENCH, 0, [0; 4]),
                Icmpv4Message::Redirect { code, gateway } => (t4::REDIRECT, code, gateway.octets()),
                Icmpv4Message::TimeExceeded { code } => (t4::TIME_EXCEEDED, code.code(), [0; 4]),
                Icmpv4Message::ParameterProblem { code, pointer } => {
                    (t4::PARAMETER_PROBLEM, code, [pointer, 0, 0, 0])
                }
                Icmpv4Message::Other {
                    msg_type,
                    code,
                    rest,
                } => (msg_type, code, rest),
            },
            IcmpMessage::V6(m) => match m {
                Icmpv6Message::DestUnreachable { code } => {
                    (t6::DEST_UNREACHABLE, code.code(), [0; 4])
                }
                Icmpv6Message::PacketTooBig { mtu } => (t6::PACKET_TOO_BIG, 0, mtu.to_be_bytes()),
                Icmpv6Message::TimeExceeded { code } => (t6::TIME_EXCEEDED, code.code(), [0; 4]),
                Icmpv6Message::ParameterProblem { code, pointer } => {
                    (t6::PARAMETER_PROBLEM, code.code(), pointer.to_be_bytes())
                }
                Icmpv6Message::Other {
                    msg_type,
                    code,
                    rest,
                } => (msg_type, code, rest),
            },
        }
    }
}

fn v4_message(msg_type: u8, code: u8, rest: [u8; 4]) -> Icmpv4Message {
    use icmpv4_type as t;
    match msg_type {
        t::DEST_UNREACHABLE => Icmpv4Message::DestUnreachable {
            code: Icmpv4Unreachable::from_code(code),
            next_hop_mtu: u16::from_be_bytes([rest[2], rest[3]]),
        },
        t::SOURCE_QUENCH => Icmpv4Message::SourceQuench,
        t::REDIRECT => Icmpv4Message::Redirect {
            code,
            gateway: Ipv4Addr::from(rest),
        },
        t::TIME_EXCEEDED => Icmpv4Message::TimeExceeded {
            code: TimeExceeded::from_code(code),
        },
        t::PARAMETER_PROBLEM => Icmpv4Message::ParameterProblem {
            code,
            pointer: rest[0],
        },
        _ => Icmpv4Message::Other {
            msg_type,
            code,
            rest,
        },
    }
}

fn v6_message(msg_type: u8, code: u8, rest: [u8; 4]) -> Icmpv6Message {
    use icmpv6_type as t;
    match msg_type {
        t::DEST_UNREACHABLE => Icmpv6Message::DestUnreachable {
            code: Icmpv6Unreachable::from_code(code),
        },
        t::PACKET_TOO_BIG => Icmpv6Message::PacketTooBig {
            mtu: u32::from_be_bytes(rest),
        },
        t::TIME_EXCEEDED => Icmpv6Message::TimeExceeded {
            code: TimeExceeded::from_code(code),
        },
        t::PARAMETER_PROBLEM => Icmpv6Message::ParameterProblem {
            code: Icmpv6ParamProblem::from_code(code),
            pointer: u32::from_be_bytes(rest),
        },
        _ => Icmpv6Message::Other {
            msg_type,
            code,
            rest,
        },
    }
}

/// A parsed ICMP or ICMPv6 message and the bytes it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IcmpRepr<'a> {
    /// Type, code and the type's fields.
    pub message: IcmpMessage,
    /// Everything after the 8-byte header: for an error message, the start
    /// of the packet that caused it (see [`IcmpRepr::quoted_tcp`]).
    pub quote: &'a [u8],
}

/// The TCP segment an ICMP error quotes: enough of it to find the
/// connection and check the error against its sequence space (RFC 5927 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuotedTcp {
    /// Where the quoted segment came from: for an error about a segment this
    /// host sent, the local address and port.
    pub src: SocketAddr,
    /// Where it was going: the peer.
    pub dst: SocketAddr,
    /// Its sequence number.
    pub seq: SeqNum,
    /// Its length as its IP header gave it (the IPv4 total length, or 40 plus
    /// the IPv6 payload length), which RFC 1191 5 uses to estimate the path
    /// MTU when a router does not say.
    pub ip_len: u32,
}

impl<'a> IcmpRepr<'a> {
    /// Parse the ICMP message `bytes` (the IP payload) carried by `ip`:
    /// ICMP for IPv4, ICMPv6 for IPv6.
    ///
    /// Checks, in order: at least the 8-byte header ([`WireError::Truncated`]),
    /// then the checksum when `mode` is [`ChecksumMode::Verify`]
    /// ([`WireError::BadIcmpChecksum`]; for ICMPv6 over the pseudo-header too,
    /// RFC 4443 2.3). Every type and code is accepted; the quote is not
    /// looked at (see [`IcmpRepr::quoted_tcp`]).
    pub fn parse(bytes: &'a [u8], ip: &IpRepr, mode: ChecksumMode) -> Result<Self, WireError> {
        let (head, quote) = match bytes.split_at_checked(ICMP_HEADER_LEN) {
            Some(x) => x,
            None => return Err(WireError::Truncated),
        };
        if mode == ChecksumMode::Verify && !checksum::verify(icmp_pseudo(ip, bytes.len()), bytes) {
            return Err(WireError::BadIcmpChecksum);
        }
        let (msg_type, code) = (head[0], head[1]);
        let rest = u32_at(head, 4).to_be_bytes();
        let message = match ip {
            IpRepr::V4(_) => IcmpMessage::V4(v4_message(msg_type, code, rest)),
            IpRepr::V6(_) => IcmpMessage::V6(v6_message(msg_type, code, rest)),
        };
        Ok(IcmpRepr { message, quote })
    }

    /// Header plus quote length.
    pub fn buffer_len(&self) -> usize {
        ICMP_HEADER_LEN + self.quote.len()
    }

    /// Write the message into `buf[..self.buffer_len()]`, computing the
    /// checksum (with `ip`'s pseudo-header for ICMPv6). A message of the
    /// other family than `ip` is a caller bug: it is written all the same,
    /// its checksum computed as for its own family with `ip`'s addresses.
    ///
    /// # Panics
    /// If `buf` is shorter than [`IcmpRepr::buffer_len`].
    pub fn emit(&self, buf: &mut [u8], ip: &IpRepr) {
        let total = self.buffer_len();
        let buf = &mut buf[..total];
        let (msg_type, code, rest) = self.message.header();
        buf[0] = msg_type;
        buf[1] = code;
        set_u16(buf, 2, 0);
        buf[4..8].copy_from_slice(&rest);
        buf[ICMP_HEADER_LEN..].copy_from_slice(self.quote);
        let initial = match self.message {
            IcmpMessage::V4(_) => 0,
            IcmpMessage::V6(_) => {
                checksum::pseudo_header(ip.src(), ip.dst(), PROTO_ICMPV6, total as u32)
            }
        };
        let c = checksum::checksum(initial, buf);
        set_u16(buf, 2, c);
    }

    /// The TCP segment an error message quotes (RFC 792: the IP header and at
    /// least the first 64 bits of the datagram; RFC 4443 3: as much as fits),
    /// whatever the message's type.
    ///
    /// Errors: a quote shorter than its IP header and 8 octets of TCP
    /// ([`WireError::Truncated`]), a quoted packet of the other IP version
    /// ([`WireError::BadIpVersion`]), an IPv4 IHL below 5
    /// ([`WireError::BadLength`]), a quoted fragment other than the first
    /// ([`WireError::Fragment`]), a quoted packet that is not TCP
    /// ([`WireError::NotTcp`]), and for IPv6 what
    /// [`ip::skip_extension_headers`] finds. The quoted IPv4 header checksum
    /// is not verified and the quoted lengths may exceed the quote (errors
    /// quote a prefix of the packet).
    pub fn quoted_tcp(&self) -> Result<QuotedTcp, WireError> {
        let q = self.quote;
        let first = *q.first().ok_or(WireError::Truncated)?;
        let (src, dst, tcp, ip_len) = match self.message {
            IcmpMessage::V4(_) => {
                if first >> 4 != 4 {
                    return Err(WireError::BadIpVersion);
                }
                let hlen = usize::from(first & 0x0f) * 4;
                if hlen < ip::IPV4_HEADER_LEN {
                    return Err(WireError::BadLength);
                }
                let tcp = q.get(hlen..).ok_or(WireError::Truncated)?;
                // RFC 791 3.1: only a first fragment (offset 0) carries the TCP header.
                if u16_at(q, 6) & 0x1fff != 0 {
                    return Err(WireError::Fragment);
                }
                if q.get(9) != Some(&PROTO_TCP) {
                    return Err(WireError::NotTcp);
                }
                let src = IpAddr::V4(Ipv4Addr::from(u32_at(q, 12)));
                let dst = IpAddr::V4(Ipv4Addr::from(u32_at(q, 16)));
                (src, dst, tcp, u32::from(u16_at(q, 2)))
            }
            IcmpMessage::V6(_) => {
                if first >> 4 != 6 {
                    return Err(WireError::BadIpVersion);
                }
                let (head, payload) = q
                    .split_at_checked(ip::IPV6_HEADER_LEN)
                    .ok_or(WireError::Truncated)?;
                let tcp = ip::skip_extension_headers(head[6], payload)?;
                let mut a = [0u8; 16];
                a.copy_from_slice(&head[8..24]);
                let src = IpAddr::V6(Ipv6Addr::from(a));
                a.copy_from_slice(&head[24..40]);
                let dst = IpAddr::V6(Ipv6Addr::from(a));
                let len = ip::IPV6_HEADER_LEN as u32 + u32::from(u16_at(head, 4));
                (src, dst, tcp, len)
            }
        };
        if tcp.len() < 8 {
            return Err(WireError::Truncated);
        }
        Ok(QuotedTcp {
            src: SocketAddr::new(src, u16_at(tcp, 0)),
            dst: SocketAddr::new(dst, u16_at(tcp, 2)),
            seq: SeqNum(u32_at(tcp, 4)),
            ip_len,
        })
    }
}

/// The checksum's starting sum: none for ICMP (RFC 792), the pseudo-header
/// for ICMPv6 (RFC 4443 2.3, RFC 8200 8.1).
fn icmp_pseudo(ip: &IpRepr, len: usize) -> u32 {
    match ip {
        IpRepr::V4(_) => 0,
        IpRepr::V6(_) => checksum::pseudo_header(ip.src(), ip.dst(), PROTO_ICMPV6, len as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_name_every_assigned_value() {
        for c in 0..=255u8 {
            assert_eq!(Icmpv4Unreachable::from_code(c).code(), c);
            assert_eq!(Icmpv6Unreachable::from_code(c).code(), c);
            assert_eq!(TimeExceeded::from_code(c).code(), c);
            assert_eq!(Icmpv6ParamProblem::from_code(c).code(), c);
            assert_eq!(
                matches!(Icmpv4Unreachable::from_code(c), Icmpv4Unreachable::Other(_)),
                c > 15
            );
            assert_eq!(
                matches!(Icmpv6Unreachable::from_code(c), Icmpv6Unreachable::Other(_)),
                c > 6
            );
        }
    }

    #[test]
    fn error_types() {
        let other4 = |t| {
            IcmpMessage::V4(Icmpv4Message::Other {
                msg_type: t,
                code: 0,
                rest: [0; 4],
            })
        };
        let other6 = |t| {
            IcmpMessage::V6(Icmpv6Message::Other {
                msg_type: t,
                code: 0,
                rest: [0; 4],
            })
        };
        assert!(!other4(icmpv4_type::ECHO_REQUEST).is_error());
        assert!(IcmpMessage::V4(Icmpv4Message::SourceQuench).is_error());
        assert!(other6(100).is_error());
        assert!(!other6(icmpv6_type::ECHO_REPLY).is_error());
    }
}
