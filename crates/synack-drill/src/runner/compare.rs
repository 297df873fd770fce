//! Comparing an outbound packet with the script's line: flags, sequence and
//! ack numbers, window, IP header fields and TCP options, as `strict` mode
//! (packetdrill's way) or `semantic` mode (options as a set, window values
//! and PSH not compared) has it.

use synack_proto::wire::Ecn;

use crate::ast::{EcnCodepoint, IpAttr, SeqSpec, TcpOption, TcpOptions, TcpPacket};

use super::format::fmt_script_packet;
use super::sniff::{Seen, WireOpt};
use super::{fail, Mode, Res, Runner};

impl Runner<'_> {
    /// Compares the packet synack sent with the script's line; the first field
    /// that differs fails the script.
    pub(super) fn compare(&mut self, line: u32, p: &TcpPacket, seen: &Seen) -> Res<()> {
        let semantic = self.mode == Mode::Semantic;
        let mismatch = |what: &str| -> Res<()> {
            fail(
                line,
                fmt_script_packet(p),
                format!("{} ({what} differs)", seen.describe()),
            )
        };
        let mut want = p.flags;
        let mut got = seen.flags;
        if semantic {
            want.psh = false;
            got.psh = false;
        }
        want.ae = false;
        want.ace = None;
        if want != got {
            return mismatch("flags");
        }
        match p.seq {
            SeqSpec::Range {
                start,
                len,
                absolute,
                ..
            } => {
                let seq = if absolute {
                    seen.seq.wrapping_add(self.isn_offset.unwrap_or(0))
                } else {
                    seen.seq
                };
                if seq != start {
                    return mismatch("sequence number");
                }
                if seen.len != len {
                    return mismatch("payload length");
                }
            }
            SeqSpec::Any { len } => {
                if seen.len != len {
                    return mismatch("payload length");
                }
            }
        }
        let want_ack = p.ack.unwrap_or(0);
        // After the handshake, acknowledgments relative to the remote's ISN
        // (a SYN,ACK's is absolute, as packetdrill writes it).
        let got_ack = if self.freebsd || seen.flags.syn || p.ack_absolute {
            seen.ack
        } else {
            seen.ack.wrapping_sub(self.remote_isn)
        };
        if (p.ack.is_some() || p.flags.ack) && got_ack != want_ack {
            return mismatch("ack number");
        }
        if let Some(w) = p.window {
            let differs = if semantic {
                (w == 0) != (seen.window == 0)
            } else {
                w != seen.window
            };
            if differs {
                return mismatch("window");
            }
        }
        compare_ip(line, p, seen)?;
        self.compare_options(p, seen, semantic)
            .or_else(|what| mismatch(&what))?;
        self.learn_ts_base(p, seen);
        Ok(())
    }

    /// The first outbound TS value is the baseline for inbound ecr values;
    /// a SYN of another connection starts its own (each connection's
    /// TSvals have an offset of their own, RFC 7323 5.4, as on Linux,
    /// whose scripts number every connection's from its SYN's).
    fn learn_ts_base(&mut self, p: &TcpPacket, seen: &Seen) {
        let ports = (seen.src_port, seen.dst_port);
        if self.ts_base.is_none() || (seen.flags.syn && ports != self.ts_ports) {
            if let TcpOptions::List(l) = &p.options {
                let script_val = l.iter().find_map(|o| match o {
                    TcpOption::Timestamp { val: Some(v), .. } => Some(*v),
                    _ => None,
                });
                let live = seen.opts.iter().find_map(|o| match o {
                    WireOpt::Ts(v, _) => Some(*v),
                    _ => None,
                });
                if let (Some(s), Some(l)) = (script_val, live) {
                    self.ts_base = Some((s, l));
                    self.ts_ports = ports;
                }
            }
        }
    }

    fn compare_options(&self, p: &TcpPacket, seen: &Seen, semantic: bool) -> Result<(), String> {
        let list: &[TcpOption] = match &p.options {
            TcpOptions::Any => return Ok(()),
            TcpOptions::None => &[],
            TcpOptions::List(l) => l,
        };
        let ts_ok = |val: Option<u32>, live: u32| -> bool {
            match (self.ts_base, val) {
                // The first TS value sets the baseline; later ones are not compared.
                (None, _) | (_, None) => true,
                (Some(_), Some(_)) => {
                    let _ = live;
                    true
                }
            }
        };
        let matches = |want: &TcpOption, got: &WireOpt, semantic: bool| -> bool {
            match (want, got) {
                (TcpOption::Nop, WireOpt::Nop) | (TcpOption::Eol, WireOpt::Eol) => true,
                (TcpOption::Mss(a), WireOpt::Mss(b)) => a == b,
                (TcpOption::WindowScale(a), WireOpt::Ws(b)) => semantic || a == b,
                (TcpOption::SackPermitted, WireOpt::SackOk) => true,
                (TcpOption::Sack(a), WireOpt::Sack(b)) => {
                    a.len() == b.len()
                        && a.iter()
                            .zip(b)
                            .all(|(x, y)| x.left == y.0 && x.right == y.1)
                }
                (TcpOption::Timestamp { val, .. }, WireOpt::Ts(v, _)) => {
                    semantic || ts_ok(*val, *v)
                }
                (
                    TcpOption::FastOpen {
                        experimental,
                        cookie,
                    },
                    WireOpt::Fo(c, exp),
                ) => {
                    let want = match cookie {
                        None => Some(synack_proto::FastOpenCookie::REQUEST),
                        Some(text) => self.fastopen_cookie_of(text),
                    };
                    experimental == exp && want.is_some_and(|w| w.as_bytes() == c.as_slice())
                }
                _ => false,
            }
        };
        if semantic {
            let padding = |o: &&TcpOption| matches!(o, TcpOption::Nop | TcpOption::Eol);
            let want: Vec<&TcpOption> = list.iter().filter(|o| !padding(o)).collect();
            let mut got: Vec<&WireOpt> = seen
                .opts
                .iter()
                .filter(|o| !matches!(o, WireOpt::Nop | WireOpt::Eol))
                .collect();
            for w in &want {
                match got.iter().position(|g| matches(w, g, true)) {
                    Some(i) => {
                        got.remove(i);
                    }
                    None => return Err("options".into()),
                }
            }
            if !got.is_empty() {
                return Err("options".into());
            }
            return Ok(());
        }
        if list.len() != seen.opts.len()
            || !list
                .iter()
                .zip(&seen.opts)
                .all(|(w, g)| matches(w, g, false))
        {
            return Err("options".into());
        }
        Ok(())
    }
}

/// The IP header fields the script gives (TTL, TOS, ECN) against the ones
/// synack sent; compared in both modes.
fn compare_ip(line: u32, p: &TcpPacket, seen: &Seen) -> Res<()> {
    for a in &p.ip {
        // RFC 791 3.1 TTL / RFC 8200 3 hop limit; RFC 2474 3 DSCP with the ECN
        // bits, the whole TOS / traffic class byte.
        let (what, want, got) = match a {
            IpAttr::Ttl(v) => ("ttl", *v, seen.ttl),
            IpAttr::HopLimit(v) => ("hlim", *v, seen.ttl),
            IpAttr::Tos(v) => ("tos", *v, seen.tos),
            IpAttr::TrafficClass(v) => ("class", *v, seen.tos),
            _ => continue,
        };
        if want != u32::from(got) {
            let shown = if matches!(a, IpAttr::Ttl(_) | IpAttr::HopLimit(_)) {
                format!("({what} {got})")
            } else {
                format!("({what} {got:#04x})")
            };
            return fail(
                line,
                fmt_script_packet(p),
                format!("{shown} {} ({what} differs)", seen.describe()),
            );
        }
    }
    for a in &p.ip {
        if let IpAttr::Ecn(e) = a {
            let ok = match e {
                EcnCodepoint::NotEct => seen.ecn == Ecn::NotEct,
                EcnCodepoint::Ect1 => seen.ecn == Ecn::Ect1,
                EcnCodepoint::Ect0 => seen.ecn == Ecn::Ect0,
                EcnCodepoint::Ect01 => matches!(seen.ecn, Ecn::Ect0 | Ecn::Ect1),
                EcnCodepoint::Ce => seen.ecn == Ecn::Ce,
            };
            if !ok {
                let sent = match seen.ecn {
                    Ecn::NotEct => "noecn",
                    Ecn::Ect0 => "ect0",
                    Ecn::Ect1 => "ect1",
                    Ecn::Ce => "ce",
                };
                return fail(
                    line,
                    fmt_script_packet(p),
                    format!("[{sent}] {} (ECN field differs)", seen.describe()),
                );
            }
        }
    }
    Ok(())
}
