//! Syscall lines: `name(args) = result [errno] [(note)]`.

use crate::ast::{Expr, SyscallEvent, SyscallResult};
use crate::error::ParseErrorKind;
use crate::lexer::Tok;

use super::{PResult, Parser};

impl Parser<'_> {
    pub(super) fn syscall(&mut self) -> PResult<SyscallEvent> {
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
}
