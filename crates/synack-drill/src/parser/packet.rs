//! Packet lines: direction, IP annotations, ports, and the TCP, ICMP or UDP
//! packet itself.

use crate::ast::{
    Direction, EcnCodepoint, IcmpPacket, IpAttr, PacketEvent, SeqSpec, TcpFlags, TcpOptions,
    TcpPacket, UdpEncapsulation, UdpPacket,
};
use crate::lexer::Tok;

use super::{PResult, Parser};

impl Parser<'_> {
    pub(super) fn packet(&mut self) -> PResult<PacketEvent> {
        let direction = match self.bump().tok {
            Tok::Lt => Direction::Inbound,
            _ => Direction::Outbound,
        };
        let mut ip = Vec::new();
        while self.at(&Tok::LBracket) || self.at(&Tok::LParen) {
            self.ip_info(&mut ip)?;
        }
        let ports = if matches!(self.peek().tok, Tok::Int(_)) && self.peek_nth(1).tok == Tok::Gt {
            let s = self.u16("a source port")?;
            self.bump();
            let d = self.u16("a destination port")?;
            Some((s, d))
        } else {
            None
        };
        if self.at_word("icmp") && ports.is_none() {
            return self.icmp(direction, ip).map(PacketEvent::Icmp);
        }
        if self.at_word("udp") {
            self.bump();
            self.expect(&Tok::LParen, "'(' before the UDP payload length")?;
            let len = self.u32("a UDP payload length")?;
            self.expect(&Tok::RParen, "')' after the UDP payload length")?;
            return Ok(PacketEvent::Udp(UdpPacket {
                direction,
                ip,
                ports,
                len,
            }));
        }
        self.tcp(direction, ip, ports).map(PacketEvent::Tcp)
    }

    fn ip_info(&mut self, ip: &mut Vec<IpAttr>) -> PResult<()> {
        let close = if self.bump().tok == Tok::LBracket {
            Tok::RBracket
        } else {
            Tok::RParen
        };
        loop {
            let t = self.peek();
            if t.tok != Tok::Word {
                return Err(self.expected("an IP annotation (noecn, ect0, ect1, ect01, ce, tos, class, flowlabel, ttl, hlim)"));
            }
            let attr = match t.text.to_ascii_lowercase().as_str() {
                "noecn" => IpAttr::Ecn(EcnCodepoint::NotEct),
                "ect0" => IpAttr::Ecn(EcnCodepoint::Ect0),
                "ect1" => IpAttr::Ecn(EcnCodepoint::Ect1),
                "ect01" => IpAttr::Ecn(EcnCodepoint::Ect01),
                "ce" => IpAttr::Ecn(EcnCodepoint::Ce),
                kw @ ("tos" | "class" | "flowlabel" | "flow_label" | "ttl" | "hlim" | "hoplimit") => {
                    self.bump();
                    let v = self.u32("an IP header field")?;
                    let attr = match kw {
                        "tos" => IpAttr::Tos(v),
                        "class" => IpAttr::TrafficClass(v),
                        "ttl" => IpAttr::Ttl(v),
                        "hlim" | "hoplimit" => IpAttr::HopLimit(v),
                        _ => IpAttr::FlowLabel(v),
                    };
                    ip.push(attr);
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                    continue;
                }
                _ => return Err(self.expected("an IP annotation (noecn, ect0, ect1, ect01, ce, tos, class, flowlabel, ttl, hlim)")),
            };
            self.bump();
            ip.push(attr);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        let what = if close == Tok::RBracket {
            "']' after the IP annotation"
        } else {
            "')' after the IP annotation"
        };
        self.expect(&close, what)?;
        Ok(())
    }

    fn icmp(&mut self, direction: Direction, ip: Vec<IpAttr>) -> PResult<IcmpPacket> {
        self.bump();
        let t = self.peek();
        if t.tok != Tok::Word {
            return Err(self.expected("an ICMP type after 'icmp'"));
        }
        self.bump();
        let icmp_type = t.text.clone();
        let code = if self.peek().tok == Tok::Word && !self.at_word("mtu") {
            Some(self.bump().text.clone())
        } else {
            None
        };
        let mtu = if self.at_word("mtu") {
            self.bump();
            Some(self.u32("an MTU")?)
        } else {
            None
        };
        let echoed = if self.eat(&Tok::LBracket) {
            let s = self.seq()?;
            self.expect(&Tok::RBracket, "']' after the quoted sequence range")?;
            Some(s)
        } else {
            None
        };
        let encapsulation = self.encapsulation()?;
        Ok(IcmpPacket {
            direction,
            ip,
            icmp_type,
            code,
            mtu,
            echoed,
            encapsulation,
        })
    }

    fn tcp(
        &mut self,
        direction: Direction,
        ip: Vec<IpAttr>,
        ports: Option<(u16, u16)>,
    ) -> PResult<TcpPacket> {
        let flags = self.flags()?;
        let seq = self.seq()?;
        let mut ack = None;
        let mut ack_absolute = false;
        let mut window = None;
        let mut urgent = None;
        loop {
            let t = self.peek();
            if t.tok != Tok::Word {
                break;
            }
            let dup = match t.text.as_str() {
                "ack" => {
                    self.bump();
                    let dup = ack.is_some();
                    ack = Some(self.u32("an ack number")?);
                    ack_absolute = self.eat(&Tok::Bang);
                    dup
                }
                "win" => {
                    self.bump();
                    let dup = window.is_some();
                    window = Some(self.u16("a window")?);
                    dup
                }
                "urg" => {
                    self.bump();
                    let dup = urgent.is_some();
                    urgent = Some(self.u16("an urgent pointer")?);
                    dup
                }
                _ => break,
            };
            if dup {
                return Err(self.invalid(t, format!("'{}' given twice", t.text)));
            }
        }
        let options = if self.at(&Tok::Lt) {
            self.tcp_options(direction)?
        } else {
            TcpOptions::None
        };
        let encapsulation = self.encapsulation()?;
        if direction == Direction::Inbound && window.is_none() {
            return Err(self.expected("'win N' (required on inbound packets)"));
        }
        Ok(TcpPacket {
            direction,
            ip,
            ports,
            flags,
            seq,
            ack,
            ack_absolute,
            window,
            urgent,
            options,
            encapsulation,
        })
    }

    fn flags(&mut self) -> PResult<TcpFlags> {
        let mut f = TcpFlags::default();
        let t = self.peek();
        match t.tok {
            Tok::Minus => {
                self.bump();
                return Ok(f);
            }
            Tok::Dot => {
                self.bump();
                f.ack = true;
                return Ok(f);
            }
            Tok::Word | Tok::Int(_) => {}
            _ => {
                return Err(self.expected("TCP flags (e.g. S, S., ., P., F., R, -)"));
            }
        }
        self.bump();
        for c in t.text.chars() {
            match c {
                'F' => f.fin = true,
                'S' => f.syn = true,
                'R' => f.rst = true,
                'P' => f.psh = true,
                'U' => f.urg = true,
                'E' => f.ece = true,
                'W' => f.cwr = true,
                'A' => f.ae = true,
                '0'..='7' => {
                    if f.ace.is_some() {
                        return Err(
                            self.invalid(t, format!("two ACE digits in TCP flags '{}'", t.text))
                        );
                    }
                    f.ace = Some(c as u8 - b'0');
                }
                _ => {
                    return Err(self.invalid(
                        t,
                        format!(
                            "unknown TCP flag '{c}' in '{}' (expected one of FSRPUEWA., 0-7 or -)",
                            t.text
                        ),
                    ))
                }
            }
        }
        if self.eat(&Tok::Dot) {
            f.ack = true;
        }
        Ok(f)
    }

    fn seq(&mut self) -> PResult<SeqSpec> {
        if self.eat(&Tok::Ellipsis) {
            self.expect(&Tok::LParen, "'(' before the payload length")?;
            let len = self.u32("a payload length")?;
            self.expect(&Tok::RParen, "')' after the payload length")?;
            return Ok(SeqSpec::Any { len });
        }
        let first = self.peek();
        if !matches!(first.tok, Tok::Int(_)) {
            return Err(self.expected("a sequence range start:end(length)"));
        }
        let start = self.u32("a sequence number")?;
        self.expect(&Tok::Colon, "':' in the sequence range start:end(length)")?;
        let end = self.u32("a sequence number")?;
        self.expect(&Tok::LParen, "'(' before the payload length")?;
        let len = self.u32("a payload length")?;
        self.expect(&Tok::RParen, "')' after the payload length")?;
        let absolute = self.eat(&Tok::Bang);
        if start.wrapping_add(len) != end {
            return Err(self.invalid(
                first,
                format!(
                    "sequence range {start}:{end}({len}) is inconsistent: {start} + {len} != {end}"
                ),
            ));
        }
        Ok(SeqSpec::Range {
            start,
            end,
            len,
            absolute,
        })
    }

    fn encapsulation(&mut self) -> PResult<Option<UdpEncapsulation>> {
        if !(self.at(&Tok::Slash)
            && self.peek_nth(1).tok == Tok::Word
            && self.peek_nth(1).text == "udp")
        {
            return Ok(None);
        }
        self.bump();
        self.bump();
        self.expect(&Tok::LParen, "'(' after '/udp'")?;
        let src_port = self.u16("a UDP source port")?;
        self.expect(&Tok::Gt, "'>' between the UDP ports")?;
        let dst_port = self.u16("a UDP destination port")?;
        self.expect(&Tok::RParen, "')' after the UDP ports")?;
        Ok(Some(UdpEncapsulation { src_port, dst_port }))
    }
}
