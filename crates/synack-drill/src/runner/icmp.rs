//! Injecting inbound ICMP errors about the connection under test.

use synack_proto::wire::{self, ChecksumMode, IcmpRepr, IpRepr, TcpRepr};
use synack_proto::SeqNum;

use crate::ast::{Direction, IcmpPacket, SeqSpec};

use super::socket::{PMTUDISC_DO, PMTUDISC_WANT};
use super::{not_run, Res, Runner, REMOTE_PASSIVE_PORT};

impl Runner<'_> {
    /// An ICMP line: an error about the segment `[start:end(len)]` of the
    /// connection under test, built as packetdrill builds it (GRAMMAR.md 3,
    /// packetdrill's `new_icmp_packet`): from the remote address, quoting our
    /// IP header and the first 8 bytes of our TCP header, whose sequence
    /// number is mapped through our ISN like any outbound one.
    pub(super) fn inbound_icmp(&mut self, line: u32, p: &IcmpPacket) -> Res<()> {
        if p.direction == Direction::Outbound {
            return not_run("outbound ICMP packets (synack sends none)");
        }
        if p.encapsulation.is_some() {
            return not_run("ICMP about TCP over UDP encapsulation");
        }
        if let Some(a) = p.ip.first() {
            return not_run(format!("IP header field {a:?} on an inbound ICMP packet"));
        }
        let ipv6 = self.local_ip.is_ipv6();
        let Some((msg_type, code)) = icmp_type_code(ipv6, &p.icmp_type, p.code.as_deref()) else {
            let code = p.code.as_deref().unwrap_or("");
            if !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                // packetdrill's `-D NAME=VALUE`: the script is a template; with
                // no value given (Linux's `run_all.py` gives none) packetdrill
                // itself rejects it ("bad ICMP code").
                return not_run(format!(
                    "ICMP code `{code}`, a template variable no value was given for (packetdrill -D {code}=...)"
                ));
            }
            return not_run(format!("ICMP type `{} {code}`", p.icmp_type));
        };
        let too_big = (msg_type, code) == if ipv6 { (2, 0) } else { (3, 4) };
        let pmtudisc = self
            .subject_fd
            .and_then(|fd| self.sockets.get(&fd))
            .map_or(PMTUDISC_WANT, |s| s.pmtudisc);
        if too_big && pmtudisc != PMTUDISC_WANT && pmtudisc != PMTUDISC_DO {
            // ip(7): with DONT, PROBE, INTERPRET or OMIT Linux keeps its path
            // MTU whatever ICMP says; synack always follows it (RFC 1191, RFC 8201).
            return not_run(format!(
                "an ICMP \"packet too big\" on a socket with IP_MTU_DISCOVER {pmtudisc} (Linux ignores it)"
            ));
        }
        // packetdrill: an MTU only with unreachable frag_needed (16 bits) or
        // packet_too_big (32 bits).
        let rest = match (p.mtu, ipv6) {
            (None, _) => [0; 4],
            (Some(m), false) if (msg_type, code) == (3, 4) => match u16::try_from(m) {
                Ok(m) => {
                    let [a, b] = m.to_be_bytes();
                    [0, 0, a, b]
                }
                Err(_) => return not_run(format!("ICMP MTU {m} beyond 16 bits")),
            },
            (Some(m), true) if (msg_type, code) == (2, 0) => m.to_be_bytes(),
            (Some(_), _) => return not_run("an MTU on an ICMP type that has none"),
        };
        let (start, len) = match p.echoed {
            Some(SeqSpec::Range {
                start,
                len,
                absolute,
                ..
            }) => (
                if absolute {
                    start
                } else {
                    start.wrapping_add(self.isn_offset.unwrap_or(0))
                },
                len,
            ),
            _ => return not_run("an ICMP line without the quoted sequence range"),
        };
        // Our segment: local -> remote, as the connection under test sends.
        let (remote_port, local_port) = self
            .current_tuple
            .unwrap_or((REMOTE_PASSIVE_PORT, self.bind_port));
        let (Some(fwd), Some(back)) = (
            IpRepr::new(self.local_ip, self.remote_ip),
            IpRepr::new(self.remote_ip, self.local_ip),
        ) else {
            return not_run("mixed address families");
        };
        let payload = vec![0u8; len as usize];
        let seg = TcpRepr {
            src_port: local_port,
            dst_port: remote_port,
            seq: SeqNum(start),
            ack: SeqNum(0),
            flags: wire::TcpFlags::ACK,
            window: 0,
            urgent: 0,
            options: wire::TcpOptions::default(),
            payload: &payload,
        };
        let mut quote = Vec::new();
        wire::emit_packet(&fwd, &seg, &mut quote);
        quote.truncate(fwd.header_len() + 8);
        // The message from its raw type, code and second word (no checksum yet).
        let mut raw = vec![msg_type, code, 0, 0];
        raw.extend_from_slice(&rest);
        let Ok(msg) = IcmpRepr::parse(&raw, &back, ChecksumMode::Ignore) else {
            return not_run("an ICMP header synack cannot build");
        };
        let icmp = IcmpRepr {
            quote: &quote,
            ..msg
        };
        let mut buf = std::mem::take(&mut self.scratch);
        if wire::emit_icmp_packet(&back, &icmp, &mut buf).is_err() {
            self.scratch = buf;
            return not_run("an ICMP packet synack cannot build");
        }
        let now = self.at();
        self.stack().handle_packet(now, &buf);
        self.scratch = buf;
        let _ = line;
        self.settle()
    }
}

/// The ICMP type and code bytes of a script's names (packetdrill's
/// `parse_icmp_type_and_code`: its tables, `type_N` and `code_N`, a missing
/// code meaning 0), or `None` for a name it does not know.
fn icmp_type_code(ipv6: bool, ty: &str, code: Option<&str>) -> Option<(u8, u8)> {
    const V4_TYPES: &[(&str, u8)] = &[
        ("echo_reply", 0),
        ("unreachable", 3),
        ("source_quench", 4),
        ("redirect", 5),
        ("echo_request", 8),
        ("time_exceeded", 11),
        ("parameter_problem", 12),
        ("timestamp_request", 13),
        ("timestamp_reply", 14),
        ("information_request", 15),
        ("information_reply", 16),
        ("address_mask_request", 17),
        ("address_mask_reply", 18),
    ];
    const V4_UNREACHABLE: &[&str] = &[
        "net_unreachable",
        "host_unreachable",
        "protocol_unreachable",
        "port_unreachable",
        "frag_needed",
        "source_route_failed",
        "net_unknown",
        "host_unknown",
        "source_host_isolated",
        "net_prohibited",
        "host_prohibited",
        "net_unreachable_for_tos",
        "host_unreachable_for_tos",
        "packet_filtered",
        "precedence_violation",
        "precedence_cutoff",
    ];
    const V4_TIME_EXCEEDED: &[&str] = &["ttl_exceeded_in_transit", "frag_reass_exceeded"];
    const V6_TYPES: &[(&str, u8)] = &[
        ("unreachable", 1),
        ("packet_too_big", 2),
        ("time_exceeded", 3),
        ("parameter_problem", 4),
    ];
    const V6_UNREACHABLE: &[&str] = &[
        "no_route",
        "admin_prohibited",
        "not_neighbour",
        "address_unreachable",
        "port_unreachable",
    ];
    const V6_TIME_EXCEEDED: &[&str] = &["exceeded_hop_limit", "exceeded_frag_time"];
    const V6_PARAMPROB: &[&str] = &["header_field", "unknown_next_header", "unknown_option"];
    let numbered = |s: &str, prefix: &str| s.strip_prefix(prefix)?.parse::<u8>().ok();
    let types = if ipv6 { V6_TYPES } else { V4_TYPES };
    let t = match numbered(ty, "type_") {
        Some(t) => t,
        None => types.iter().find(|(n, _)| *n == ty)?.1,
    };
    let table: &[&str] = match (ipv6, t) {
        (false, 3) => V4_UNREACHABLE,
        (false, 11) => V4_TIME_EXCEEDED,
        (true, 1) => V6_UNREACHABLE,
        (true, 3) => V6_TIME_EXCEEDED,
        (true, 4) => V6_PARAMPROB,
        _ => &[],
    };
    let c = match code {
        None => 0,
        Some(c) => match numbered(c, "code_") {
            Some(n) => n,
            None => u8::try_from(table.iter().position(|n| *n == c)?).ok()?,
        },
    };
    Some((t, c))
}
