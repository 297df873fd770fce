//! Recursive-descent parser from tokens to [`Script`].
//!
//! This file reads the script, its events and their times; `packet` and
//! `tcp_options` read packet lines, `syscall` syscall lines and `expr` their
//! argument expressions.

use crate::ast::{Direction, Event, EventKind, Script, ScriptOption, TimeSpec, UntimedCommand};
use crate::error::{ParseError, ParseErrorKind};
use crate::lexer::{Lexed, Tok, Token};

mod expr;
mod packet;
mod syscall;
mod tcp_options;

pub use expr::MAX_EXPR_DEPTH;

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
