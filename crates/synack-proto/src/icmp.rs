//! What an ICMP or ICMPv6 error means for the TCP connection it quotes
//! (RFC 1122 4.2.3.9, RFC 5927, RFC 1191, RFC 4443, RFC 8201), before the
//! connection is known: the stack classifies the message, finds the
//! connection by the quoted 4-tuple, and the TCB applies the effect after
//! checking the quoted sequence number.

use crate::error::ConnError;
use crate::event::DropReason;
use synack_wire::{
    IcmpMessage, Icmpv4Message, Icmpv4Unreachable as U4, Icmpv6Message, Icmpv6ParamProblem as P6,
    Icmpv6Unreachable as U6, TimeExceeded,
};

/// The IPv6 minimum link MTU: no path MTU is ever lower (RFC 8200 5, RFC 8201 4).
pub(crate) const IPV6_MIN_MTU: u16 = 1280;

/// What an ICMP error asks of the connection it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpEffect {
    /// An error that ends a connection still opening, when
    /// `ConnConfig::icmp_may_rst` allows; soft otherwise and once synchronized.
    Fatal(ConnError),
    /// A soft error: recorded, reported if the connection later times out.
    Soft(ConnError),
    /// Packet Too Big / fragmentation needed: the next-hop MTU reported (zero
    /// when an old router gives none, RFC 1191 5).
    TooBig(u32),
}

/// What the TCB does with an ICMP error, once the stack resolved a Packet
/// Too Big to a path MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IcmpAction {
    /// See [`IcmpEffect::Fatal`].
    Fatal(ConnError),
    /// See [`IcmpEffect::Soft`].
    Soft(ConnError),
    /// The path MTU is now at most this (floors applied, see [`path_mtu`]).
    PathMtu(u16),
}

/// Classify a message, or say why TCP ignores it.
pub(crate) fn classify(m: &IcmpMessage) -> Result<IcmpEffect, DropReason> {
    use IcmpEffect::{Fatal, Soft, TooBig};
    match *m {
        IcmpMessage::V4(m) => match m {
            Icmpv4Message::DestUnreachable { code, next_hop_mtu } => match code {
                // RFC 1122 4.2.3.9: codes 2 and 3 are hard errors. Linux and FreeBSD
                // report both as ECONNREFUSED on an opening connection.
                U4::Protocol | U4::Port => Ok(Fatal(ConnError::Refused)),
                // RFC 1122 does not classify 9 and 10, nor RFC 1812 5.2.7.1 13: a
                // filter will drop every retransmission too, so Linux and FreeBSD
                // (`icmp_may_rst`) end an opening connection, with ECONNREFUSED in
                // FreeBSD.
                U4::NetProhibited | U4::HostProhibited | U4::CommProhibited => {
                    Ok(Fatal(ConnError::Refused))
                }
                // RFC 1191: code 4 is Path MTU Discovery's signal, not an error.
                U4::FragNeeded => Ok(TooBig(u32::from(next_hop_mtu))),
                // RFC 1122 4.2.3.9: codes 0, 1 and 5 are soft errors; the later codes
                // are further reasons not to reach the network or the host.
                U4::Net | U4::NetUnknown | U4::NetTos => Ok(Soft(ConnError::NetworkUnreachable)),
                U4::Host
                | U4::SourceRouteFailed
                | U4::HostUnknown
                | U4::HostIsolated
                | U4::HostTos
                | U4::HostPrecedence
                | U4::PrecedenceCutoff => Ok(Soft(ConnError::HostUnreachable)),
                U4::Other(_) => Err(DropReason::IcmpUnknownCode),
            },
            Icmpv4Message::TimeExceeded { code } => time_exceeded(code),
            // RFC 1122 4.2.3.9: Parameter Problem is handled like the soft errors.
            Icmpv4Message::ParameterProblem { .. } => Ok(Soft(ConnError::ProtocolError)),
            // RFC 6633 2: "A TCP implementation MUST silently discard any received
            // ICMP Source Quench messages" (counted all the same).
            Icmpv4Message::SourceQuench => Err(DropReason::IcmpSourceQuench),
            Icmpv4Message::Redirect { .. } => Err(DropReason::IcmpRedirect),
            Icmpv4Message::Other { .. } => Err(DropReason::IcmpNotError),
        },
        IcmpMessage::V6(m) => match m {
            Icmpv6Message::DestUnreachable { code } => match code {
                // RFC 4443 3.1: port unreachable is the hard error of RFC 1122; 5 and 6
                // are "more informative subsets of code 1", administratively prohibited,
                // a hard error for an opening connection as in IPv4 (Linux: EACCES;
                // FreeBSD: ECONNREFUSED).
                U6::PortUnreachable | U6::AdminProhibited | U6::SourcePolicy | U6::RejectRoute => {
                    Ok(Fatal(ConnError::Refused))
                }
                U6::NoRoute => Ok(Soft(ConnError::NetworkUnreachable)),
                U6::BeyondScope | U6::AddressUnreachable => Ok(Soft(ConnError::HostUnreachable)),
                U6::Other(_) => Err(DropReason::IcmpUnknownCode),
            },
            Icmpv6Message::PacketTooBig { mtu } => Ok(TooBig(mtu)),
            Icmpv6Message::TimeExceeded { code } => time_exceeded(code),
            Icmpv6Message::ParameterProblem { code, .. } => match code {
                // RFC 4443 3.4: an unrecognized Next Header is IPv6's protocol
                // unreachable (FreeBSD maps it to PRC_UNREACH_PROTOCOL).
                P6::NextHeader => Ok(Fatal(ConnError::Refused)),
                P6::HeaderField | P6::Option | P6::Other(_) => Ok(Soft(ConnError::ProtocolError)),
            },
            // RFC 4443 2.4 (d): informational messages are for other processes;
            // error types without an assigned meaning leave TCP nothing to do.
            Icmpv6Message::Other { msg_type, .. } if msg_type < 128 => {
                Err(DropReason::IcmpUnknownCode)
            }
            Icmpv6Message::Other { .. } => Err(DropReason::IcmpNotError),
        },
    }
}

fn time_exceeded(code: TimeExceeded) -> Result<IcmpEffect, DropReason> {
    match code {
        // RFC 1122 4.2.3.9 calls Time Exceeded soft; a SYN that met a routing loop or
        // a too small TTL will meet it again, so FreeBSD (`icmp_may_rst`) and Linux
        // (RFC 5461: soft errors end connection requests) give up an opening
        // connection with EHOSTUNREACH. Once synchronized it stays soft.
        TimeExceeded::InTransit => Ok(IcmpEffect::Fatal(ConnError::HostUnreachable)),
        TimeExceeded::Reassembly => Ok(IcmpEffect::Soft(ConnError::HostUnreachable)),
        TimeExceeded::Other(_) => Err(DropReason::IcmpUnknownCode),
    }
}

/// RFC 1191 7's table of common MTU plateaus, highest first.
const PLATEAUS: [u32; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// The path MTU a Packet Too Big asks for: the reported MTU, or (IPv4 only,
/// from a router older than RFC 1191 that reports zero) the largest plateau
/// below the quoted datagram's length (RFC 1191 5), never below `floor`
/// (IPv4, `StackConfig::min_path_mtu`) or 1280 (IPv6, RFC 8201 4).
pub(crate) fn path_mtu(ipv4: bool, reported: u32, quoted_len: u32, floor: u16) -> u16 {
    let floor = if ipv4 {
        u32::from(floor.max(68))
    } else {
        u32::from(IPV6_MIN_MTU)
    };
    let mtu = if ipv4 && reported == 0 {
        PLATEAUS.into_iter().find(|p| *p < quoted_len).unwrap_or(68)
    } else {
        reported
    };
    u16::try_from(mtu.clamp(floor, 65535)).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_mtu_floors_and_plateaus() {
        assert_eq!(path_mtu(true, 1400, 1500, 552), 1400);
        assert_eq!(path_mtu(true, 100, 1500, 552), 552);
        assert_eq!(path_mtu(true, 100, 1500, 0), 100);
        assert_eq!(path_mtu(true, 10, 1500, 0), 68);
        // RFC 1191 5: no MTU from the router, the quoted datagram was 1500 bytes.
        assert_eq!(path_mtu(true, 0, 1500, 552), 1492);
        assert_eq!(path_mtu(true, 0, 1492, 552), 1006);
        assert_eq!(path_mtu(true, 0, 600, 68), 508);
        assert_eq!(path_mtu(true, 0, 0, 68), 68);
        assert_eq!(path_mtu(false, 1300, 1500, 552), 1300);
        assert_eq!(path_mtu(false, 0, 1500, 552), 1280);
        assert_eq!(path_mtu(false, 1_000_000, 1500, 552), 65535);
    }

    #[test]
    fn classification() {
        let v4 = |code| {
            classify(&IcmpMessage::V4(Icmpv4Message::DestUnreachable {
                code: U4::from_code(code),
                next_hop_mtu: 1000,
            }))
        };
        assert_eq!(v4(3), Ok(IcmpEffect::Fatal(ConnError::Refused)));
        assert_eq!(v4(13), Ok(IcmpEffect::Fatal(ConnError::Refused)));
        assert_eq!(v4(4), Ok(IcmpEffect::TooBig(1000)));
        assert_eq!(v4(0), Ok(IcmpEffect::Soft(ConnError::NetworkUnreachable)));
        assert_eq!(v4(1), Ok(IcmpEffect::Soft(ConnError::HostUnreachable)));
        assert_eq!(v4(16), Err(DropReason::IcmpUnknownCode));
        let v6 = |m| classify(&IcmpMessage::V6(m));
        assert_eq!(
            v6(Icmpv6Message::ParameterProblem {
                code: P6::NextHeader,
                pointer: 6
            }),
            Ok(IcmpEffect::Fatal(ConnError::Refused))
        );
        assert_eq!(
            v6(Icmpv6Message::Other {
                msg_type: 128,
                code: 0,
                rest: [0; 4]
            }),
            Err(DropReason::IcmpNotError)
        );
    }
}
