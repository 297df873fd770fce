//! Injecting inbound TCP packets: a script's `<` line is built as the remote
//! host would send it (options, ECN and TTL, the ack and SACK blocks mapped
//! through synack's ISN) and handed to the stack.

use synack_proto::wire::{self, Ecn, IpRepr, SackBlocks, TcpRepr, Timestamps};
use synack_proto::SeqNum;

use crate::ast::{EcnCodepoint, IpAttr, SeqSpec, TcpFlags, TcpOption, TcpOptions, TcpPacket};

use super::socket::SockKind;
use super::{not_run, Res, Runner, REMOTE_PASSIVE_PORT};

impl Runner<'_> {
    fn ports_in(&self, p: &TcpPacket) -> (u16, u16) {
        if let Some((s, d)) = p.ports {
            return (s, d);
        }
        if let Some(t) = self.current_tuple {
            return t;
        }
        (REMOTE_PASSIVE_PORT, self.bind_port)
    }

    /// A `<` TCP line: builds the segment and hands it to the stack.
    pub(super) fn inbound(&mut self, line: u32, p: &TcpPacket) -> Res<()> {
        if p.encapsulation.is_some() {
            return not_run("TCP over UDP encapsulation");
        }
        if p.flags.ae || p.flags.ace.is_some() {
            return not_run("accurate ECN (AE/ACE flags)");
        }
        let (ecn, dscp, ttl) = ip_fields(p)?;
        let (seq, len) = match p.seq {
            SeqSpec::Range { start, len, .. } => (start, len),
            SeqSpec::Any { .. } => return not_run("inbound packet with any sequence number"),
        };
        // packetdrill: a SYN's sequence number is the remote's ISN, and the
        // remote's later ones are relative to it (Linux's scripts use a
        // non-zero one where SYN data is acknowledged).
        let seq = if self.freebsd {
            seq
        } else if p.flags.syn {
            self.remote_isn = seq;
            seq
        } else {
            seq.wrapping_add(self.remote_isn)
        };
        let offset = self.isn_offset.unwrap_or(0);
        let ack = p.ack.map_or(0, |a| {
            if p.ack_absolute {
                a
            } else {
                a.wrapping_add(offset)
            }
        });
        let (options, raw_fast_open) = self.inbound_options(p, offset)?;
        let flags = wire_flags(&p.flags);
        self.new_passive_open(p);
        let (sport, dport) = self.ports_in(p);
        let payload = vec![0u8; len as usize];
        let repr = TcpRepr {
            src_port: sport,
            dst_port: dport,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags,
            window: p.window.unwrap_or(0),
            urgent: p.urgent.unwrap_or(0),
            options,
            payload: &payload,
        };
        let Some(ip) = IpRepr::new(self.remote_ip, self.local_ip) else {
            return not_run("mixed address families");
        };
        let mut ip = ip.with_ecn(ecn).with_dscp(dscp);
        if let Some(t) = ttl {
            ip = ip.with_ttl(t);
        }
        if options.wire_len() + raw_fast_open.len() > 40 {
            return not_run("inbound options longer than 40 bytes");
        }
        let mut buf = std::mem::take(&mut self.scratch);
        wire::emit_packet(&ip, &repr, &mut buf);
        if !raw_fast_open.is_empty() {
            append_raw_option(&ip, &mut buf, &raw_fast_open);
        }
        let now = self.at();
        self.stack().handle_packet(now, &buf);
        self.scratch = buf;
        let _ = line;
        self.settle()?;
        self.track_half_open();
        Ok(())
    }

    /// The TCP options of an injected packet, SACK blocks mapped through
    /// synack's ISN and the echoed timestamp through its first TS value;
    /// and the bytes of a Fast Open option whose cookie synack's options
    /// cannot hold (over 16 bytes, RFC 7413 4.1.1's most), which a script
    /// writes to see it ignored.
    fn inbound_options(&self, p: &TcpPacket, offset: u32) -> Res<(wire::TcpOptions, Vec<u8>)> {
        let mut options = wire::TcpOptions::default();
        let mut raw = Vec::new();
        if let TcpOptions::List(list) = &p.options {
            for o in list {
                match o {
                    TcpOption::Nop | TcpOption::Eol => {}
                    TcpOption::Mss(m) => options.mss = Some(*m),
                    TcpOption::WindowScale(w) => options.window_scale = Some(*w),
                    TcpOption::SackPermitted => options.sack_permitted = true,
                    TcpOption::Sack(blocks) => {
                        let mut s = SackBlocks::default();
                        for b in blocks {
                            let _ = s.push(
                                SeqNum(b.left.wrapping_add(offset)),
                                SeqNum(b.right.wrapping_add(offset)),
                            );
                        }
                        options.sack = s;
                    }
                    TcpOption::Timestamp {
                        val,
                        ecr,
                        ecr_absolute,
                    } => {
                        let ecr = if *ecr_absolute {
                            *ecr
                        } else {
                            match self.ts_base {
                                Some((script, live)) => ecr.wrapping_sub(script).wrapping_add(live),
                                None => *ecr,
                            }
                        };
                        options.timestamps = Some(Timestamps {
                            tsval: val.unwrap_or(0),
                            tsecr: ecr,
                        });
                    }
                    TcpOption::FastOpen {
                        experimental,
                        cookie,
                    } => {
                        let built = match cookie {
                            None => Some(synack_proto::FastOpenCookie::REQUEST),
                            Some(text) => self.fastopen_cookie_of(text),
                        };
                        let Some(cookie) = built else {
                            let bytes = cookie.as_deref().and_then(long_cookie);
                            let Some(bytes) = bytes else {
                                return not_run("Fast Open cookie not in hex digits");
                            };
                            raw = raw_fast_open(*experimental, &bytes);
                            continue;
                        };
                        options.fast_open = Some(synack_proto::FastOpenOption {
                            cookie,
                            experimental: *experimental,
                        });
                    }
                    TcpOption::Md5(_) => return not_run("TCP MD5 signature option"),
                    TcpOption::AccEcn { .. } => return not_run("accurate ECN option"),
                }
            }
        } else if p.options == TcpOptions::Any {
            return not_run("`<...>` options on an inbound packet");
        }
        Ok((options, raw))
    }

    /// A SYN to a listener creates the connection packets belong to.
    /// packetdrill: the first SYN to the listener under test opens a new
    /// connection, from a remote port of its own once an earlier
    /// connection has one (so a script can open, close and open again).
    fn new_passive_open(&mut self, p: &TcpPacket) {
        if !p.flags.syn || p.flags.ack || p.ports.is_some() || self.listener_got_syn {
            return;
        }
        let listening = self
            .subject_fd
            .and_then(|fd| self.sockets.get(&fd))
            .is_some_and(|s| matches!(s.kind, SockKind::Listener(_)));
        if !listening {
            return;
        }
        self.listener_got_syn = true;
        if self.current_tuple.is_some() {
            self.passive_opens = self.passive_opens.wrapping_add(1);
            let port = REMOTE_PASSIVE_PORT.wrapping_add(self.passive_opens);
            self.current_tuple = Some((port, self.bind_port));
        }
    }

    fn track_half_open(&mut self) {
        if self.current.is_some() {
            return;
        }
        let Some(stack) = self.stack.as_ref() else {
            return;
        };
        if let Some((_, t)) = stack.conns().into_iter().next() {
            self.current_tuple = Some((t.remote.port(), t.local.port()));
        }
    }
}

/// The IP header fields of an injected packet: the ECN field, DSCP and TTL
/// (`None`: the default).
fn ip_fields(p: &TcpPacket) -> Res<(Ecn, u8, Option<u8>)> {
    // The ECN field of the injected packet: not-ECT unless the script says;
    // likewise DSCP 0 and the default TTL.
    let mut ecn = Ecn::NotEct;
    let mut dscp = 0u8;
    let mut ttl = None;
    for a in &p.ip {
        match a {
            IpAttr::Ecn(EcnCodepoint::NotEct) => ecn = Ecn::NotEct,
            IpAttr::Ecn(EcnCodepoint::Ect0) => ecn = Ecn::Ect0,
            IpAttr::Ecn(EcnCodepoint::Ect1) => ecn = Ecn::Ect1,
            IpAttr::Ecn(EcnCodepoint::Ce) => ecn = Ecn::Ce,
            IpAttr::Ecn(EcnCodepoint::Ect01) => {
                return not_run("`[ect01]` (either ECT codepoint) on an inbound packet")
            }
            // RFC 2474 3 / RFC 3168 5: the whole byte, DSCP and ECN.
            IpAttr::Tos(v) | IpAttr::TrafficClass(v) => {
                let Ok(b) = u8::try_from(*v) else {
                    return not_run(format!("TOS {v:#x} beyond a byte"));
                };
                dscp = b >> 2;
                ecn = Ecn::from_bits(b);
            }
            IpAttr::Ttl(v) | IpAttr::HopLimit(v) => {
                let Ok(t) = u8::try_from(*v) else {
                    return not_run(format!("TTL {v} beyond a byte"));
                };
                ttl = Some(t);
            }
            other => return not_run(format!("IP header field {other:?} on an inbound packet")),
        }
    }
    Ok((ecn, dscp, ttl))
}

/// The wire flags of a script's flags (AE and ACE are refused earlier).
fn wire_flags(f: &TcpFlags) -> wire::TcpFlags {
    let mut flags = wire::TcpFlags::NONE;
    for (on, bit) in [
        (f.fin, wire::TcpFlags::FIN),
        (f.syn, wire::TcpFlags::SYN),
        (f.rst, wire::TcpFlags::RST),
        (f.psh, wire::TcpFlags::PSH),
        (f.ack, wire::TcpFlags::ACK),
        (f.urg, wire::TcpFlags::URG),
        (f.ece, wire::TcpFlags::ECE),
        (f.cwr, wire::TcpFlags::CWR),
    ] {
        if on {
            flags |= bit;
        }
    }
    flags
}

impl Runner<'_> {
    /// A cookie as a script writes it: hex digits, or `TFO_COOKIE`, the
    /// cookie the server's key gives the script's addresses (as Linux's
    /// harness defines it).
    pub(super) fn fastopen_cookie_of(&self, text: &str) -> Option<synack_proto::FastOpenCookie> {
        if text == "TFO_COOKIE" {
            let keys = self.fastopen_keys?;
            return synack_proto::fastopen::make_cookie(
                &keys.primary,
                self.remote_ip,
                self.local_ip,
            );
        }
        synack_proto::FastOpenCookie::from_hex(text)
    }
}

/// The bytes of a cookie written in hex digits that is longer than the 16
/// bytes a `FastOpenCookie` holds (and fits a TCP header's options).
fn long_cookie(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.len() > 2 * 36 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// A Fast Open option (kind 34, or 254 with magic 0xF989) carrying `cookie`,
/// NOP-padded to a multiple of 4 as Linux pads it.
fn raw_fast_open(experimental: bool, cookie: &[u8]) -> Vec<u8> {
    let mut o = if experimental {
        let [m0, m1] = wire::fastopen::EXPERIMENTAL_MAGIC.to_be_bytes();
        vec![wire::fastopen::KIND_EXPERIMENTAL, 0, m0, m1]
    } else {
        vec![wire::fastopen::KIND, 0]
    };
    o.extend_from_slice(cookie);
    o[1] = o.len() as u8;
    while o.len() % 4 != 0 {
        o.push(1);
    }
    o
}

/// Append `option` (a multiple of 4 bytes) to the options of the packet in
/// `buf`: the data offset, the IP length and both checksums follow.
fn append_raw_option(ip: &IpRepr, buf: &mut Vec<u8>, option: &[u8]) {
    let ip_len = ip.header_len();
    let Some(doff) = buf.get(ip_len + 12).map(|b| usize::from(b >> 4) * 4) else {
        return;
    };
    let mut tcp = buf.split_off(ip_len);
    let at = doff.min(tcp.len());
    tcp.splice(at..at, option.iter().copied());
    tcp[12] = (((doff + option.len()) / 4) as u8) << 4 | (tcp[12] & 0x0f);
    ip.emit(buf, tcp.len());
    buf.extend_from_slice(&tcp);
    wire::TcpPacket::new_unchecked(&mut buf[ip_len..]).fill_checksum(ip.src(), ip.dst());
}
