//! Sniffing outbound packets: the stack's output is captured with its virtual
//! send time, decoded, mapped into the script's sequence space and matched
//! against the next outbound line, within its time window.

use std::fmt::Write as _;

use synack_proto::wire::{self, ChecksumMode, Ecn};

use crate::ast::{SeqSpec, TcpFlags, TcpPacket};

use super::format::{fmt_flags, fmt_script_packet, fmt_wire_opts, secs};
use super::{fail, not_run, Res, Runner, SNIFF_SLACK_US};

/// How long `*` may wait for a packet.
const ANY_TIME_LIMIT_US: u64 = 3_600_000_000;

/// One packet the stack emitted, with its virtual send time.
pub(super) struct Captured {
    pub(super) at: u64,
    pub(super) bytes: Vec<u8>,
}

/// A TCP option as seen on the wire (padding included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WireOpt {
    Nop,
    Eol,
    Mss(u16),
    Ws(u8),
    SackOk,
    Sack(Vec<(u32, u32)>),
    Ts(u32, u32),
    /// Fast Open: the cookie, and whether in the experimental kind.
    Fo(Vec<u8>, bool),
    Other(u8),
}

fn wire_options(mut b: &[u8]) -> Vec<WireOpt> {
    let mut out = Vec::new();
    while let Some((&kind, rest)) = b.split_first() {
        match kind {
            0 => {
                out.push(WireOpt::Eol);
                b = rest;
                continue;
            }
            1 => {
                out.push(WireOpt::Nop);
                b = rest;
                continue;
            }
            _ => {}
        }
        let len = usize::from(rest.first().copied().unwrap_or(0));
        let Some(opt) = b.get(..len.max(2)) else {
            out.push(WireOpt::Other(kind));
            break;
        };
        let body = opt.get(2..).unwrap_or(&[]);
        let u32_at = |i: usize| {
            body.get(i..i + 4)
                .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        };
        out.push(match (kind, body.len()) {
            (2, 2) => WireOpt::Mss(u16::from_be_bytes([body[0], body[1]])),
            (3, 1) => WireOpt::Ws(body[0]),
            (4, 0) => WireOpt::SackOk,
            (5, n) if n % 8 == 0 => WireOpt::Sack(
                (0..n / 8)
                    .map(|i| (u32_at(8 * i), u32_at(8 * i + 4)))
                    .collect(),
            ),
            (8, 8) => WireOpt::Ts(u32_at(0), u32_at(4)),
            (34, _) => WireOpt::Fo(body.to_vec(), false),
            (254, n) if n >= 2 && body[..2] == [0xf9, 0x89] => {
                WireOpt::Fo(body[2..].to_vec(), true)
            }
            _ => WireOpt::Other(kind),
        });
        b = b.get(len.max(2)..).unwrap_or(&[]);
    }
    out
}

fn flags_of_wire(f: wire::TcpFlags) -> TcpFlags {
    TcpFlags {
        fin: f.fin(),
        syn: f.syn(),
        rst: f.rst(),
        psh: f.psh(),
        ack: f.ack(),
        urg: f.contains(wire::TcpFlags::URG),
        ece: f.contains(wire::TcpFlags::ECE),
        cwr: f.contains(wire::TcpFlags::CWR),
        ae: false,
        ace: None,
    }
}

/// An outbound packet, decoded and mapped into the script's number space.
pub(super) struct Seen {
    pub(super) at: u64,
    pub(super) flags: TcpFlags,
    pub(super) seq: u32,
    pub(super) ack: u32,
    pub(super) window: u16,
    pub(super) len: u32,
    pub(super) opts: Vec<WireOpt>,
    pub(super) ecn: Ecn,
    /// IPv4 TTL / IPv6 hop limit.
    pub(super) ttl: u8,
    /// IPv4 TOS / IPv6 traffic class byte: DSCP and ECN.
    pub(super) tos: u8,
    pub(super) src_port: u16,
    pub(super) dst_port: u16,
}

impl Seen {
    pub(super) fn describe(&self) -> String {
        let mut s = format!(
            "{} {}:{}({})",
            fmt_flags(&self.flags),
            self.seq,
            self.seq.wrapping_add(self.len),
            self.len
        );
        if self.flags.ack || self.ack != 0 {
            let _ = write!(s, " ack {}", self.ack);
        }
        let _ = write!(s, " win {}", self.window);
        if !self.opts.is_empty() {
            s.push(' ');
            s.push_str(&fmt_wire_opts(&self.opts));
        }
        s
    }
}

impl Runner<'_> {
    fn decode(&self, c: &Captured) -> Option<Seen> {
        let (ip, tcp) = wire::parse_packet(&c.bytes, ChecksumMode::Verify).ok()?;
        let hl = ip.header_len();
        let raw = c.bytes.get(hl..)?;
        let view = wire::TcpPacket::new_checked(raw).ok()?;
        let opts = wire_options(view.options());
        let ecn = ip.ecn();
        let offset = self.isn_offset.unwrap_or(0);
        Some(Seen {
            at: c.at,
            flags: flags_of_wire(tcp.flags),
            seq: tcp.seq.0.wrapping_sub(offset),
            ack: tcp.ack.0,
            window: tcp.window,
            len: tcp.payload.len() as u32,
            opts,
            ecn,
            ttl: ip.ttl(),
            tos: (ip.dscp() << 2) | ecn.bits(),
            src_port: tcp.src_port,
            dst_port: tcp.dst_port,
        })
    }

    /// packetdrill (`sniff_outbound_live_packet`) reads only the packets of
    /// the socket under test, and a new connection's SYN: in Linux scripts
    /// the packets of sockets the script has moved on from (a FIN after
    /// `close`) are passed over.
    fn skip_other_sockets(&mut self) {
        if self.freebsd {
            return;
        }
        let Some((remote, local)) = self.current_tuple else {
            return;
        };
        while let Some(seen) = self.out.front().and_then(|c| self.decode(c)) {
            if seen.flags.syn || (seen.dst_port == remote && seen.src_port == local) {
                break;
            }
            self.out.pop_front();
        }
    }

    /// Waits (on the virtual clock) for the next outbound packet and matches it.
    pub(super) fn outbound(
        &mut self,
        line: u32,
        p: &TcpPacket,
        lo: u64,
        hi: u64,
        exact: bool,
        base: u64,
    ) -> Res<()> {
        if p.encapsulation.is_some() {
            return not_run("TCP over UDP encapsulation");
        }
        let tol = if exact {
            self.tolerance(lo, base)
        } else {
            self.tol_us
        };
        let deadline = if hi == u64::MAX {
            self.now.saturating_add(ANY_TIME_LIMIT_US)
        } else {
            hi + tol + SNIFF_SLACK_US
        };
        loop {
            self.skip_other_sockets();
            if !self.out.is_empty() {
                break;
            }
            let next = self.stack.as_ref().and_then(|s| s.poll_timeout());
            match next {
                Some(d) if d.micros() <= deadline => self.advance_to(d.micros())?,
                _ => {
                    return fail(
                        line,
                        fmt_script_packet(p),
                        format!(
                            "no packet by {}",
                            secs(deadline.min(hi.saturating_add(tol)))
                        ),
                    )
                }
            }
        }
        let Some(first) = self.out.pop_front() else {
            return fail(line, fmt_script_packet(p), "no packet");
        };
        // Learn the ISN from the stack's SYN before mapping.
        let Some(mut seen) = self.decode(&first) else {
            return fail(line, fmt_script_packet(p), "an unparsable packet");
        };
        // Each connection's ISN: packetdrill maps every socket's own (a
        // retransmitted SYN keeps it).
        if seen.flags.syn {
            if let SeqSpec::Range {
                start,
                absolute: false,
                ..
            } = p.seq
            {
                let raw = seen.seq.wrapping_add(self.isn_offset.unwrap_or(0));
                // Linux scripts number the rest from the ISN whatever the
                // SYN's own number says (`S. 1234:1234(0)`, then `ack 1`).
                let script_isn = if self.freebsd { start } else { 0 };
                self.isn_offset = Some(raw.wrapping_sub(script_isn));
                seen.seq = start;
            }
        }
        // Several segments may make up one larger script segment (TSO).
        if !self.strict_segments {
            while seen.len < p.seq.len() {
                let Some(next) = self.out.front().and_then(|c| self.decode(c)) else {
                    break;
                };
                if next.seq != seen.seq.wrapping_add(seen.len) || next.flags.syn || next.len == 0 {
                    break;
                }
                self.out.pop_front();
                seen.len += next.len;
                seen.flags.psh |= next.flags.psh;
                seen.flags.fin |= next.flags.fin;
                seen.ack = next.ack;
            }
        }
        // The connection's ports, for later inbound packets.
        if self.current_tuple.is_none() || seen.flags.syn {
            self.current_tuple = Some((seen.dst_port, seen.src_port));
        }
        self.compare(line, p, &seen)?;
        // Timing.
        let ok = if exact {
            seen.at + tol >= lo && seen.at <= lo + tol
        } else {
            seen.at + tol >= lo && (hi == u64::MAX || seen.at <= hi + tol)
        };
        if !ok {
            let want = if exact {
                secs(lo)
            } else if hi == u64::MAX {
                format!("after {}", secs(lo))
            } else {
                format!("{}~{}", secs(lo), secs(hi))
            };
            return fail(
                line,
                format!("{} at {want}", fmt_script_packet(p)),
                format!("{} at {}", seen.describe(), secs(seen.at)),
            );
        }
        self.last_event = seen.at;
        Ok(())
    }
}
