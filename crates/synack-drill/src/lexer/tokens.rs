//! Token families: blanks and comments, quoted forms (backtick commands,
//! `%{ }%` code blocks, strings), `--options`, numbers and words (integers,
//! decimal times, IPv4 addresses), and punctuation.

use crate::error::{ParseError, ParseErrorKind};

use super::cursor::is_word_char;
use super::{Lexer, Tok, Token};

/// Where a token starts.
#[derive(Clone, Copy)]
pub(super) struct Mark {
    line: u32,
    col: u32,
    start: usize,
}

impl Lexer<'_, '_> {
    /// The token (or blank, or comment) that starts with `c`, which is not a
    /// newline.
    pub(super) fn token(&mut self, c: char) -> Result<(), ParseError> {
        let m = Mark {
            line: self.cur.line,
            col: self.cur.col,
            start: self.cur.pos,
        };
        match c {
            ' ' | '\t' | '\r' | '\x0c' | '\x0b' => {
                self.cur.bump();
            }
            '/' if self.cur.peek_at(1) == Some('/') => self.cur.skip_line(),
            '/' if self.cur.peek_at(1) == Some('*') => self.block_comment(m)?,
            '`' => self.backtick(m)?,
            '%' if self.cur.peek_at(1) == Some('{') => self.code_block(m)?,
            '"' => self.string(m)?,
            '-' if self.cur.peek_at(1) == Some('-')
                && self
                    .cur
                    .peek_at(2)
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_') =>
            {
                self.option(m)
            }
            '.' if self.cur.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => {
                self.cur.bump();
                while self.cur.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.cur.bump();
                }
                self.push(m, Tok::Float);
            }
            '.' if self.cur.starts_with("...") => {
                self.cur.bump();
                self.cur.bump();
                self.cur.bump();
                self.push(m, Tok::Ellipsis);
            }
            c if is_word_char(c) => self.word_or_number(m)?,
            _ => {
                self.cur.bump();
                self.push(m, punctuation(c));
            }
        }
        Ok(())
    }

    /// Adds the token from `m` to the cursor.
    fn push(&mut self, m: Mark, tok: Tok) {
        self.out.tokens.push(Token {
            tok,
            text: self.cur.text(m.start),
            source: self.id,
            line: m.line,
            col: m.col,
            start: m.start,
            end: self.cur.pos,
        });
    }

    /// `/* ... */`.
    fn block_comment(&mut self, m: Mark) -> Result<(), ParseError> {
        self.cur.bump();
        self.cur.bump();
        loop {
            if self.cur.starts_with("*/") {
                self.cur.bump();
                self.cur.bump();
                return Ok(());
            }
            if self.cur.bump().is_none() {
                return Err(self.err(m.line, m.col, ParseErrorKind::Unterminated("/* comment")));
            }
        }
    }

    /// `` `command` ``.
    fn backtick(&mut self, m: Mark) -> Result<(), ParseError> {
        self.cur.bump();
        let cstart = self.cur.pos;
        while self.cur.peek().is_some_and(|c| c != '`') {
            self.cur.bump();
        }
        if self.cur.peek().is_none() {
            return Err(self.err(
                m.line,
                m.col,
                ParseErrorKind::Unterminated("backtick command"),
            ));
        }
        let body = self.cur.text(cstart);
        self.cur.bump();
        self.push(m, Tok::Backtick(body));
        Ok(())
    }

    /// `%{ code }%`.
    fn code_block(&mut self, m: Mark) -> Result<(), ParseError> {
        self.cur.bump();
        self.cur.bump();
        let cstart = self.cur.pos;
        while !self.cur.starts_with("}%") {
            if self.cur.bump().is_none() {
                return Err(self.err(m.line, m.col, ParseErrorKind::Unterminated("%{ }% block")));
            }
        }
        let body = self.cur.text(cstart);
        self.cur.bump();
        self.cur.bump();
        self.push(m, Tok::Code(body));
        Ok(())
    }

    /// `"string"`, backslash escaping the next character.
    fn string(&mut self, m: Mark) -> Result<(), ParseError> {
        self.cur.bump();
        let cstart = self.cur.pos;
        loop {
            match self.cur.peek() {
                None => {
                    return Err(self.err(m.line, m.col, ParseErrorKind::Unterminated("string")));
                }
                Some('"') => break,
                Some('\\') => {
                    self.cur.bump();
                    self.cur.bump();
                }
                Some(_) => {
                    self.cur.bump();
                }
            }
        }
        let body = self.cur.text(cstart);
        self.cur.bump();
        self.push(m, Tok::Str(body));
        Ok(())
    }

    /// `--name[=value]`.
    fn option(&mut self, m: Mark) {
        self.cur.bump();
        self.cur.bump();
        let nstart = self.cur.pos;
        while self.cur.peek().is_some_and(|c| is_word_char(c) || c == '-') {
            self.cur.bump();
        }
        let name = self.cur.text(nstart);
        let value = if self.cur.peek() == Some('=') {
            self.cur.bump();
            let vstart = self.cur.pos;
            while self.cur.peek().is_some_and(|c| !c.is_whitespace()) {
                self.cur.bump();
            }
            Some(self.cur.text(vstart))
        } else {
            None
        };
        self.push(m, Tok::Opt { name, value });
    }

    /// A word, or a number: decimal or hexadecimal integer, decimal with a
    /// fraction, or dotted IPv4 address.
    fn word_or_number(&mut self, m: Mark) -> Result<(), ParseError> {
        while self.cur.peek().is_some_and(is_word_char) {
            self.cur.bump();
        }
        let word = self.cur.text(m.start);
        let all_digits = word.chars().all(|c| c.is_ascii_digit());
        if all_digits
            && self.cur.peek() == Some('.')
            && self.cur.peek_at(1).is_some_and(|c| c.is_ascii_digit())
        {
            return self.dotted_number(m);
        }
        let out_of_range = || {
            self.err(
                m.line,
                m.col,
                ParseErrorKind::NumberOutOfRange {
                    text: word.clone(),
                    what: "an integer",
                },
            )
        };
        if all_digits {
            let v = word.parse::<u64>().map_err(|_| out_of_range())?;
            self.push(m, Tok::Int(v));
        } else if let Some(hex) = word
            .strip_prefix("0x")
            .or_else(|| word.strip_prefix("0X"))
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
        {
            let v = u64::from_str_radix(hex, 16).map_err(|_| out_of_range())?;
            self.push(m, Tok::Int(v));
        } else {
            self.push(m, Tok::Word);
        }
        Ok(())
    }

    /// Digits followed by `.digits` groups: one makes a decimal, three an
    /// IPv4 address.
    fn dotted_number(&mut self, m: Mark) -> Result<(), ParseError> {
        let mut dots = 0;
        while self.cur.peek() == Some('.')
            && self.cur.peek_at(1).is_some_and(|c| c.is_ascii_digit())
        {
            dots += 1;
            self.cur.bump();
            while self.cur.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.cur.bump();
            }
        }
        match dots {
            1 => self.push(m, Tok::Float),
            3 => self.push(m, Tok::Ipv4),
            _ => {
                return Err(self.err(
                    m.line,
                    m.col,
                    ParseErrorKind::Invalid(format!(
                        "malformed number {:?}",
                        self.cur.text(m.start)
                    )),
                ))
            }
        }
        Ok(())
    }
}

/// A one-character token.
fn punctuation(c: char) -> Tok {
    match c {
        '.' => Tok::Dot,
        ',' => Tok::Comma,
        ':' => Tok::Colon,
        '(' => Tok::LParen,
        ')' => Tok::RParen,
        '[' => Tok::LBracket,
        ']' => Tok::RBracket,
        '{' => Tok::LBrace,
        '}' => Tok::RBrace,
        '<' => Tok::Lt,
        '>' => Tok::Gt,
        '=' => Tok::Eq,
        '|' => Tok::Pipe,
        '!' => Tok::Bang,
        '~' => Tok::Tilde,
        '*' => Tok::Star,
        '+' => Tok::Plus,
        '-' => Tok::Minus,
        '/' => Tok::Slash,
        other => Tok::Unknown(other),
    }
}
