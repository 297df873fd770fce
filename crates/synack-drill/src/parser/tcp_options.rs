//! TCP option lists: `<mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>` and
//! `<...>`.

use crate::ast::{Direction, SackBlock, TcpOption, TcpOptions};
use crate::lexer::Tok;

use super::{PResult, Parser};

impl Parser<'_> {
    pub(super) fn tcp_options(&mut self, direction: Direction) -> PResult<TcpOptions> {
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
}
