//! How packets and times are written in a difference: the script's expected
//! segment as the script spells it, and options seen on the wire.

use std::fmt::Write as _;

use crate::ast::{EcnCodepoint, IpAttr, SeqSpec, TcpFlags, TcpOption, TcpOptions, TcpPacket};

use super::sniff::WireOpt;

pub(super) fn fmt_wire_opts(opts: &[WireOpt]) -> String {
    let parts: Vec<String> = opts
        .iter()
        .map(|o| match o {
            WireOpt::Nop => "nop".into(),
            WireOpt::Eol => "eol".into(),
            WireOpt::Mss(m) => format!("mss {m}"),
            WireOpt::Ws(w) => format!("wscale {w}"),
            WireOpt::SackOk => "sackOK".into(),
            WireOpt::Sack(b) => {
                let blocks: Vec<String> = b.iter().map(|(l, r)| format!("{l}:{r}")).collect();
                format!("sack {}", blocks.join(" "))
            }
            WireOpt::Ts(v, e) => format!("TS val {v} ecr {e}"),
            WireOpt::Fo(c, exp) => {
                let hex: String = c.iter().map(|b| format!("{b:02x}")).collect();
                let name = if *exp { "FOEXP" } else { "FO" };
                if hex.is_empty() {
                    name.into()
                } else {
                    format!("{name} {hex}")
                }
            }
            WireOpt::Other(k) => format!("kind {k}"),
        })
        .collect();
    format!("<{}>", parts.join(","))
}

pub(super) fn fmt_script_opts(opts: &TcpOptions) -> String {
    match opts {
        TcpOptions::None => String::new(),
        TcpOptions::Any => " <...>".into(),
        TcpOptions::List(l) => {
            let parts: Vec<String> = l
                .iter()
                .map(|o| match o {
                    TcpOption::Nop => "nop".into(),
                    TcpOption::Eol => "eol".into(),
                    TcpOption::Mss(m) => format!("mss {m}"),
                    TcpOption::WindowScale(w) => format!("wscale {w}"),
                    TcpOption::SackPermitted => "sackOK".into(),
                    TcpOption::Sack(b) => {
                        let blocks: Vec<String> = b
                            .iter()
                            .map(|s| format!("{}:{}", s.left, s.right))
                            .collect();
                        format!("sack {}", blocks.join(" "))
                    }
                    TcpOption::Timestamp { val, ecr, .. } => match val {
                        Some(v) => format!("TS val {v} ecr {ecr}"),
                        None => format!("TS val ... ecr {ecr}"),
                    },
                    other => format!("{other:?}"),
                })
                .collect();
            format!(" <{}>", parts.join(","))
        }
    }
}

pub(super) fn fmt_flags(f: &TcpFlags) -> String {
    let mut s = String::new();
    for (on, c) in [
        (f.fin, 'F'),
        (f.syn, 'S'),
        (f.rst, 'R'),
        (f.psh, 'P'),
        (f.urg, 'U'),
        (f.ece, 'E'),
        (f.cwr, 'W'),
        (f.ack, '.'),
    ] {
        if on {
            s.push(c);
        }
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

pub(super) fn fmt_script_packet(p: &TcpPacket) -> String {
    let mut s = String::new();
    for a in &p.ip {
        if let IpAttr::Ecn(e) = a {
            let name = match e {
                EcnCodepoint::NotEct => "noecn",
                EcnCodepoint::Ect0 => "ect0",
                EcnCodepoint::Ect1 => "ect1",
                EcnCodepoint::Ect01 => "ect01",
                EcnCodepoint::Ce => "ce",
            };
            let _ = write!(s, "[{name}] ");
        }
    }
    s.push_str(&fmt_flags(&p.flags));
    match p.seq {
        SeqSpec::Range {
            start, end, len, ..
        } => {
            let _ = write!(s, " {start}:{end}({len})");
        }
        SeqSpec::Any { len } => {
            let _ = write!(s, " ...({len})");
        }
    }
    if let Some(a) = p.ack {
        let _ = write!(s, " ack {a}");
    }
    if let Some(w) = p.window {
        let _ = write!(s, " win {w}");
    }
    s.push_str(&fmt_script_opts(&p.options));
    s
}

pub(super) fn secs(us: u64) -> String {
    format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
}
