//! Syscall argument expressions: numbers, names, strings, arrays, structs,
//! calls, `a|b` and `name=value`, nested at most [`MAX_EXPR_DEPTH`] deep.

use crate::ast::Expr;
use crate::error::ParseErrorKind;
use crate::lexer::Tok;

use super::{PResult, Parser};

/// Deepest allowed nesting of `[...]`, `{...}` and calls in expressions.
pub const MAX_EXPR_DEPTH: usize = 32;

impl Parser<'_> {
    pub(super) fn int_expr(&mut self) -> PResult<Expr> {
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

    pub(super) fn expr(&mut self) -> PResult<Expr> {
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
