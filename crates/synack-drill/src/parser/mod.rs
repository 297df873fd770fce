//! Recursive-descent parser from tokens to [`Script`].

use crate::ast::{
    Direction, EcnCodepoint, Event, EventKind, Expr, IcmpPacket, IpAttr, PacketEvent, SackBlock,
    Script, ScriptOption, SeqSpec, SyscallEvent, SyscallResult, TcpFlags, TcpOption, TcpOptions,
    TcpPacket, TimeSpec, UdpEncapsulation, UdpPacket, UntimedCommand,
};
use crate::error::{ParseError, ParseErrorKind};
use crate::lexer::{Lexed, Tok, Token};

/// Deepest allowed nesting of `[...]`, `{...}` and calls in expressions.
pub const MAX_EXPR_DEPTH: usize = 32;

/// Parses a lexed token stream.
pub(crate) fn parse(lexed: &Lexed, name: &str) -> Result<Script, ParseError> {
    let mut p = Parser {
        lexed,
        pos: 0,
        depth: 0,
    };
    p.script(name)
}

struct Parser<'a> {
    lexed: &'a Lexed,
    pos: usize,
    depth: usize,
}

type PResult<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    // ----- token access -------------------------------------------------

    fn tok_at(&self, i: usize) -> &'a Token {
        let toks = &self.lexed.tokens;
        // The lexer always ends the stream with Eof, so the fallback is only
        // reached past the end, where Eof is the right answer.
        toks.get(i).or_else(|| toks.last()).unwrap_or(&EOF_TOKEN)
    }

    fn peek(&self) -> &'a Token {
        self.tok_at(self.pos)
    }

    fn peek_nth(&self, n: usize) -> &'a Token {
        self.tok_at(self.pos + n)
    }

    fn bump(&mut self) -> &'a Token {
        let t = self.peek();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn at(&self, tok: &Tok) -> bool {
        &self.peek().tok == tok
    }

    fn at_word(&self, word: &str) -> bool {
        let t = self.peek();
        t.tok == Tok::Word && t.text == word
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.at(tok) {
            self.bump();
            true
        } else {
            false
        }
    }

    // ----- errors --------------------------------------------------------

    fn file_of(&self, t: &Token) -> String {
        self.lexed
            .sources
            .get(t.source)
            .map(|s| s.name.clone())
            .unwrap_or_default()
    }

    fn error_at(&self, t: &Token, kind: ParseErrorKind) -> ParseError {
        ParseError {
            file: self.file_of(t),
            line: t.line,
            column: t.col,
            kind,
        }
    }

    /// "expected X, found Y" at the current token, or at the end of the
    /// previous token when the current one is already on a later line.
    fn expected(&self, what: &str) -> ParseError {
        let t = self.peek();
        let prev = self.pos.checked_sub(1).map(|i| self.tok_at(i));
        let kind = |found: String| ParseErrorKind::Expected {
            expected: what.to_string(),
            found,
        };
        if let Some(prev) = prev {
            let prev_end_line = prev.line + prev.text.matches('\n').count() as u32;
            if t.tok == Tok::Eof || (t.line > prev_end_line && t.source == prev.source) {
                let col = match prev.text.rfind('\n') {
                    Some(i) => prev.text.get(i + 1..).unwrap_or("").chars().count() as u32 + 1,
                    None => prev.col + prev.text.chars().count() as u32,
                };
                let found = if t.tok == Tok::Eof {
                    "end of file".to_string()
                } else {
                    "end of line".to_string()
                };
                return ParseError {
                    file: self.file_of(prev),
                    line: prev_end_line,
                    column: col,
                    kind: kind(found),
                };
            }
        }
        self.error_at(t, kind(describe(t)))
    }

    fn invalid(&self, t: &Token, msg: String) -> ParseError {
        self.error_at(t, ParseErrorKind::Invalid(msg))
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> PResult<&'a Token> {
        if self.at(tok) {
            Ok(self.bump())
        } else {
            Err(self.expected(what))
        }
    }

    fn expect_word(&mut self, word: &str, what: &str) -> PResult<&'a Token> {
        if self.at_word(word) {
            Ok(self.bump())
        } else {
            Err(self.expected(what))
        }
    }

    /// An unsigned integer token that fits `max`.
    fn uint(&mut self, max: u64, what: &'static str) -> PResult<u64> {
        let t = self.peek();
        match t.tok {
            Tok::Int(v) if v <= max => {
                self.bump();
                Ok(v)
            }
            Tok::Int(_) => Err(self.error_at(
                t,
                ParseErrorKind::NumberOutOfRange {
                    text: t.text.clone(),
                    what,
                },
            )),
            _ => Err(self.expected(&format!("a number for {what}"))),
        }
    }

    fn u32(&mut self, what: &'static str) -> PResult<u32> {
        self.uint(u64::from(u32::MAX), what).map(|v| v as u32)
    }

    fn u16(&mut self, what: &'static str) -> PResult<u16> {
        self.uint(u64::from(u16::MAX), what).map(|v| v as u16)
    }

    // ----- script --------------------------------------------------------

    fn script(&mut self, name: &str) -> PResult<Script> {
        let mut script = Script {
            name: name.to_string(),
            sources: self.lexed.sources.iter().map(|s| s.name.clone()).collect(),
            options: Vec::new(),
            init_command: None,
            events: Vec::new(),
            cleanup_command: None,
        };
        loop {
            let t = self.peek();
            match &t.tok {
                Tok::Eof => break,
                Tok::Opt { name, value } => {
                    if !script.events.is_empty() {
                        return Err(self.invalid(
                            t,
                            format!("option --{name} must come before the first event"),
                        ));
                    }
                    self.bump();
                    script.options.push(ScriptOption {
                        line: t.line,
                        name: name.clone(),
                        value: value.clone(),
                    });
                }
                Tok::Backtick(text) => {
                    let cmd = UntimedCommand {
                        source: t.source,
                        line: t.line,
                        text: text.clone(),
                    };
                    if script.events.is_empty() && script.init_command.is_none() {
                        self.bump();
                        script.init_command = Some(cmd);
                    } else if self.peek_nth(1).tok == Tok::Eof && !script.events.is_empty() {
                        self.bump();
                        script.cleanup_command = Some(cmd);
                    } else {
                        return Err(self.error_at(
                            t,
                            ParseErrorKind::Expected {
                                expected: "a time before the command (only the first and \
                                           last command may be untimed)"
                                    .into(),
                                found: describe(t),
                            },
                        ));
                    }
                }
                _ => {
                    let ev = self.event()?;
                    script.events.push(ev);
                }
            }
        }
        Ok(script)
    }

    fn event(&mut self) -> PResult<Event> {
        let start = self.peek();
        let time = self.time()?;
        let action = self.peek();
        let kind = match &action.tok {
            Tok::Lt | Tok::Gt => EventKind::Packet(self.packet()?),
            Tok::Backtick(text) => {
                self.bump();
                EventKind::Command(text.clone())
            }
            Tok::Code(text) => {
                self.bump();
                EventKind::Code(text.clone())
            }
            Tok::Word if self.peek_nth(1).tok == Tok::LParen => {
                EventKind::Syscall(self.syscall()?)
            }
            _ => {
                return Err(self.expected(
                    "a packet ('<' or '>'), a syscall, a `command` or a %{ code }% block after the time",
                ))
            }
        };
        match (&time, &kind) {
            (TimeSpec::Any | TimeSpec::Range { .. }, EventKind::Packet(p))
                if p.direction() == Direction::Outbound => {}
            (TimeSpec::Any | TimeSpec::Range { .. }, _) => {
                return Err(self.invalid(
                    start,
                    "'*' and 'T1~T2' times are only allowed on outbound packets".into(),
                ))
            }
            (TimeSpec::Blocking { .. }, EventKind::Syscall(_)) => {}
            (TimeSpec::Blocking { .. }, _) => {
                return Err(self.invalid(
                    start,
                    "'S...E' blocking times are only allowed on syscalls".into(),
                ))
            }
            _ => {}
        }
        Ok(Event {
            source: start.source,
            line: start.line,
            column: start.col,
            action_line: action.line,
            time,
            kind,
        })
    }

    // ----- times ---------------------------------------------------------

    fn time_value(&mut self) -> PResult<u64> {
        let t = self.peek();
        let v = match t.tok {
            Tok::Int(v) => v.checked_mul(1_000_000),
            Tok::Float => float_usecs(&t.text),
            _ => return Err(self.expected("a time in seconds")),
        };
        self.bump();
        v.ok_or_else(|| {
            self.error_at(
                t,
                ParseErrorKind::NumberOutOfRange {
                    text: t.text.clone(),
                    what: "a time",
                },
            )
        })
    }

    fn time(&mut self) -> PResult<TimeSpec> {
        let first = self.peek();
        if self.eat(&Tok::Star) {
            return Ok(TimeSpec::Any);
        }
        let relative = self.eat(&Tok::Plus);
        if !relative && !matches!(first.tok, Tok::Int(_) | Tok::Float) {
            return Err(self.expected("an event time (e.g. 0.100, +0.1, *, 0.1~0.2, +0...0.2)"));
        }
        let start = self.time_value()?;
        if self.at(&Tok::Tilde) {
            self.bump();
            let end_rel = self.eat(&Tok::Plus);
            if end_rel != relative {
                return Err(self.invalid(
                    first,
                    "both ends of a time range must be absolute, or both relative ('+')".into(),
                ));
            }
            let end = self.time_value()?;
            if end < start {
                return Err(self.invalid(first, "time range ends before it starts".into()));
            }
            return Ok(TimeSpec::Range {
                relative,
                start,
                end,
            });
        }
        if self.at(&Tok::Ellipsis)
            && matches!(self.peek_nth(1).tok, Tok::Int(_) | Tok::Float | Tok::Plus)
        {
            self.bump();
            let plus = self.peek();
            if self.eat(&Tok::Plus) && !relative {
                return Err(self.invalid(
                    plus,
                    "the end of an absolute blocking time cannot be relative".into(),
                ));
            }
            let end = self.time_value()?;
            if end < start {
                return Err(self.invalid(first, "blocking call returns before it starts".into()));
            }
            return Ok(TimeSpec::Blocking {
                relative,
                start,
                end,
            });
        }
        Ok(if relative {
            TimeSpec::Relative(start)
        } else {
            TimeSpec::Absolute(start)
        })
    }

    // ----- packets -------------------------------------------------------

    fn packet(&mut self) -> PResult<PacketEvent> {
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

    fn tcp_options(&mut self, direction: Direction) -> PResult<TcpOptions> {
        let open = self.bump();
        if self.at(&Tok::Ellipsis) && self.peek_nth(1).tok == Tok::Gt {
            if direction == Direction::Inbound {
                return Err(self.invalid(
                    open,
                    "'<...>' (options not checked) is only allowed on outbound packets".into(),
                ));
            }
            self.bump();
            self.bump();
            return Ok(TcpOptions::Any);
        }
        let mut list = Vec::new();
        if self.eat(&Tok::Gt) {
            return Ok(TcpOptions::List(list));
        }
        loop {
            list.push(self.tcp_option()?);
            if self.eat(&Tok::Comma) {
                continue;
            }
            self.expect(&Tok::Gt, "',' or '>' in the TCP option list")?;
            return Ok(TcpOptions::List(list));
        }
    }

    fn tcp_option(&mut self) -> PResult<TcpOption> {
        let t = self.peek();
        if t.tok != Tok::Word {
            return Err(self
                .expected("a TCP option (nop, eol, mss, wscale, sackOK, sack, TS, FO, md5, ECN)"));
        }
        self.bump();
        Ok(match t.text.as_str() {
            "nop" | "NOP" => TcpOption::Nop,
            "eol" | "EOL" => TcpOption::Eol,
            "mss" => TcpOption::Mss(self.u16("an MSS")?),
            "wscale" => {
                TcpOption::WindowScale(self.uint(u64::from(u8::MAX), "a window scale")? as u8)
            }
            "sackOK" => TcpOption::SackPermitted,
            "sack" => {
                let mut blocks = Vec::new();
                while matches!(self.peek().tok, Tok::Int(_)) {
                    let left = self.u32("a SACK block edge")?;
                    self.expect(&Tok::Colon, "':' in the SACK block left:right")?;
                    let right = self.u32("a SACK block edge")?;
                    blocks.push(SackBlock { left, right });
                }
                if blocks.is_empty() {
                    return Err(self.expected("a SACK block left:right after 'sack'"));
                }
                TcpOption::Sack(blocks)
            }
            "TS" => {
                self.expect_word("val", "'val' after 'TS'")?;
                let val = if self.eat(&Tok::Ellipsis) {
                    None
                } else {
                    Some(self.u32("a timestamp value")?)
                };
                self.expect_word("ecr", "'ecr' after the timestamp value")?;
                let ecr = self.u32("a timestamp echo reply")?;
                let ecr_absolute = self.eat(&Tok::Bang);
                TcpOption::Timestamp {
                    val,
                    ecr,
                    ecr_absolute,
                }
            }
            "FO" | "FOEXP" => {
                let cookie = match self.peek().tok {
                    Tok::Word | Tok::Int(_) => Some(self.bump().text.clone()),
                    _ => None,
                };
                TcpOption::FastOpen {
                    experimental: t.text == "FOEXP",
                    cookie,
                }
            }
            "md5" => match self.peek().tok {
                Tok::Word | Tok::Int(_) => TcpOption::Md5(self.bump().text.clone()),
                _ => return Err(self.expected("an MD5 signature (e.g. 'valid') after 'md5'")),
            },
            "ECN" => {
                let mut counters = Vec::new();
                while self.peek().tok == Tok::Word
                    && matches!(self.peek().text.as_str(), "e0b" | "ceb" | "e1b")
                {
                    let name = self.bump().text.clone();
                    counters.push((name, self.u32("an ECN byte counter")?));
                }
                if counters.is_empty() {
                    return Err(self.expected("'e0b N' after 'ECN'"));
                }
                TcpOption::AccEcn { counters }
            }
            other => {
                return Err(self.invalid(t, format!("unknown TCP option '{other}'")));
            }
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

    // ----- syscalls ------------------------------------------------------

    fn syscall(&mut self) -> PResult<SyscallEvent> {
        let name = self.bump().text.clone();
        self.bump(); // '('
        let mut args = Vec::new();
        if !self.eat(&Tok::RParen) {
            loop {
                args.push(self.expr()?);
                if self.eat(&Tok::Comma) {
                    continue;
                }
                self.expect(&Tok::RParen, "')' after syscall arguments")?;
                break;
            }
        }
        self.expect(&Tok::Eq, "'=' and the expected result after the syscall")?;
        let value = self.result_value()?;
        let errno = if self.peek().tok == Tok::Word {
            Some(self.bump().text.clone())
        } else {
            None
        };
        let note = if self.at(&Tok::LParen) {
            Some(self.note()?)
        } else {
            None
        };
        Ok(SyscallEvent {
            name,
            args,
            result: SyscallResult { value, errno, note },
        })
    }

    fn result_value(&mut self) -> PResult<Expr> {
        let mut terms = vec![self.result_term()?];
        while self.eat(&Tok::Pipe) {
            terms.push(self.result_term()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().unwrap_or(Expr::Ellipsis)
        } else {
            Expr::BitOr(terms)
        })
    }

    fn result_term(&mut self) -> PResult<Expr> {
        let t = self.peek();
        match t.tok {
            Tok::Ellipsis => {
                self.bump();
                Ok(Expr::Ellipsis)
            }
            Tok::Int(_) | Tok::Minus => self.int_expr(),
            Tok::Word => {
                self.bump();
                Ok(Expr::Symbol(t.text.clone()))
            }
            _ => Err(self.expected("the expected syscall result after '='")),
        }
    }

    /// The parenthesised free text after a result, verbatim.
    fn note(&mut self) -> PResult<String> {
        let open = self.bump();
        let mut depth = 1usize;
        loop {
            let t = self.peek();
            match t.tok {
                Tok::Eof => {
                    return Err(self.error_at(
                        open,
                        ParseErrorKind::Expected {
                            expected: "')' closing the note after the syscall result".into(),
                            found: "end of file".into(),
                        },
                    ))
                }
                Tok::LParen => depth += 1,
                Tok::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        self.bump();
                        if t.source != open.source {
                            return Err(self.invalid(open, "note spans files".into()));
                        }
                        let chars = self
                            .lexed
                            .sources
                            .get(open.source)
                            .and_then(|s| s.chars.get(open.end..t.start))
                            .unwrap_or(&[]);
                        return Ok(chars.iter().collect::<String>().trim().to_string());
                    }
                }
                _ => {}
            }
            self.bump();
        }
    }

    fn int_expr(&mut self) -> PResult<Expr> {
        let neg = self.eat(&Tok::Minus);
        let t = self.peek();
        let Tok::Int(v) = t.tok else {
            return Err(self.expected("a number"));
        };
        self.bump();
        let v = i64::try_from(v).ok().map(|v| if neg { -v } else { v });
        v.map(Expr::Int).ok_or_else(|| {
            self.error_at(
                t,
                ParseErrorKind::NumberOutOfRange {
                    text: t.text.clone(),
                    what: "an expression",
                },
            )
        })
    }

    fn expr(&mut self) -> PResult<Expr> {
        if self.depth >= MAX_EXPR_DEPTH {
            return Err(self.error_at(self.peek(), ParseErrorKind::NestingTooDeep(MAX_EXPR_DEPTH)));
        }
        self.depth += 1;
        let r = self.expr_inner();
        self.depth -= 1;
        r
    }

    fn expr_inner(&mut self) -> PResult<Expr> {
        let first = self.term()?;
        // Only a name (or a call form like `msg_iov(1)`) can be assigned.
        if matches!(first, Expr::Symbol(_) | Expr::Call { .. }) && self.eat(&Tok::Eq) {
            let rhs = self.expr()?;
            return Ok(Expr::Field {
                lhs: Box::new(first),
                rhs: Box::new(rhs),
            });
        }
        if !self.at(&Tok::Pipe) {
            return Ok(first);
        }
        let mut terms = vec![first];
        while self.eat(&Tok::Pipe) {
            terms.push(self.term()?);
        }
        Ok(Expr::BitOr(terms))
    }

    fn list(&mut self, close: Tok, what: &str) -> PResult<Vec<Expr>> {
        let mut items = Vec::new();
        if self.eat(&close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat(&Tok::Comma) {
                continue;
            }
            self.expect(&close, what)?;
            return Ok(items);
        }
    }

    fn term(&mut self) -> PResult<Expr> {
        let t = self.peek();
        match &t.tok {
            Tok::Ellipsis => {
                self.bump();
                Ok(Expr::Ellipsis)
            }
            Tok::Int(_) | Tok::Minus => self.int_expr(),
            Tok::Str(s) => {
                self.bump();
                if self.eat(&Tok::Ellipsis) {
                    Ok(Expr::StrPrefix(s.clone()))
                } else {
                    Ok(Expr::Str(s.clone()))
                }
            }
            Tok::Word => {
                self.bump();
                if self.eat(&Tok::LParen) {
                    let args = self.list(Tok::RParen, "',' or ')' in the call arguments")?;
                    Ok(Expr::Call {
                        name: t.text.clone(),
                        args,
                    })
                } else {
                    Ok(Expr::Symbol(t.text.clone()))
                }
            }
            Tok::LBracket => {
                self.bump();
                Ok(Expr::Array(
                    self.list(Tok::RBracket, "',' or ']' in the array")?,
                ))
            }
            Tok::LBrace => {
                self.bump();
                Ok(Expr::Struct(
                    self.list(Tok::RBrace, "',' or '}' in the struct")?,
                ))
            }
            _ => {
                Err(self
                    .expected("a syscall argument (number, name, \"string\", [..], {..} or ...)"))
            }
        }
    }
}

/// The end-of-file token returned when reading past the stream.
static EOF_TOKEN: Token = Token {
    tok: Tok::Eof,
    text: String::new(),
    source: 0,
    line: 0,
    col: 0,
    start: 0,
    end: 0,
};

/// How a token is named in "found ..." messages.
fn describe(t: &Token) -> String {
    match &t.tok {
        Tok::Eof => "end of file".into(),
        Tok::Backtick(_) => "a `command`".into(),
        Tok::Code(_) => "a %{ }% block".into(),
        Tok::Str(s) => format!("string \"{s}\""),
        Tok::Opt { name, .. } => format!("option '--{name}'"),
        _ => format!("'{}'", t.text),
    }
}

/// Converts decimal seconds (`0.100`, `.1`, `3.`) to microseconds, rounding
/// beyond the sixth fractional digit to nearest.
fn float_usecs(text: &str) -> Option<u64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut usecs: u64 = 0;
    let mut digits = frac.chars();
    for _ in 0..6 {
        let d = digits.next().map_or(Some(0), |c| c.to_digit(10))?;
        usecs = usecs * 10 + u64::from(d);
    }
    if let Some(c) = digits.next() {
        if c.to_digit(10)? >= 5 {
            usecs += 1;
        }
    }
    secs.checked_mul(1_000_000)?.checked_add(usecs)
}

#[cfg(test)]
mod tests {
    use super::float_usecs;

    #[test]
    fn float_seconds_convert_exactly() {
        assert_eq!(float_usecs("0.100"), Some(100_000));
        assert_eq!(float_usecs(".1"), Some(100_000));
        assert_eq!(float_usecs("1.000001"), Some(1_000_001));
        assert_eq!(float_usecs("0.0000005"), Some(1));
        assert_eq!(float_usecs("2.5"), Some(2_500_000));
        assert_eq!(float_usecs("99999999999999999.0"), None);
    }
}
