//! Tokenizer and preprocessor.
//!
//! The script language is token-based, not line-based: an event ends where the
//! next timestamp starts, and commands, code blocks and syscalls may span
//! lines. The lexer therefore turns every source file into one token stream,
//! applying `#ifdef`/`#ifndef`/`#else`/`#endif` and splicing in `#include`d
//! files on the way. Directives are recognised only as the first non-blank
//! thing on a line, outside any token.
//!
//! `preprocess` handles the directives, `tokens` the token families and
//! `cursor` the position (line and column) in a file's characters.

use std::path::PathBuf;

use crate::ast::SourceId;
use crate::error::{ParseError, ParseErrorKind};
use crate::Defines;

mod cursor;
mod preprocess;
mod tokens;

use cursor::Cursor;
use preprocess::Cond;

/// Deepest allowed `#include` nesting.
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// Token kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Decimal or hexadecimal integer.
    Int(u64),
    /// Decimal number with a fraction (`0.100`, `.1`); value in the text.
    Float,
    /// Dotted IPv4 address.
    Ipv4,
    /// `[a-zA-Z0-9_]+` that is not a number.
    Word,
    /// `"..."`, content without the quotes.
    Str(String),
    /// `` `...` ``, content without the backticks.
    Backtick(String),
    /// `%{ ... }%`, content without the delimiters.
    Code(String),
    /// `--name[=value]`.
    Opt {
        name: String,
        value: Option<String>,
    },
    Ellipsis,
    Dot,
    Comma,
    Colon,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Lt,
    Gt,
    Eq,
    Pipe,
    Bang,
    Tilde,
    Star,
    Plus,
    Minus,
    Slash,
    /// A character that starts no token; an error if the parser reaches it
    /// anywhere except inside the free-text note after a syscall result.
    Unknown(char),
    Eof,
}

/// A token with its location.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    /// The token as written.
    pub(crate) text: String,
    pub(crate) source: SourceId,
    pub(crate) line: u32,
    pub(crate) col: u32,
    /// Character offsets of the token in its source.
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// One source file taking part in a parse.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub(crate) name: String,
    pub(crate) chars: Vec<char>,
    /// Folder that `#include` paths are resolved against.
    pub(crate) dir: Option<PathBuf>,
}

/// The result of lexing a script and everything it includes.
#[derive(Debug)]
pub(crate) struct Lexed {
    pub(crate) sources: Vec<SourceFile>,
    pub(crate) tokens: Vec<Token>,
}

/// Tokenizes `text` (named `name`, including relative to `dir`).
pub(crate) fn lex(
    text: &str,
    name: &str,
    dir: Option<PathBuf>,
    defines: &Defines,
) -> Result<Lexed, ParseError> {
    let mut out = Lexed {
        sources: Vec::new(),
        tokens: Vec::new(),
    };
    out.sources.push(SourceFile {
        name: name.to_string(),
        chars: text.chars().collect(),
        dir,
    });
    lex_source(&mut out, 0, 0, defines)?;
    let (line, col, pos) = out
        .tokens
        .last()
        .map(|t| (t.line, t.col, t.end))
        .unwrap_or((1, 1, 0));
    out.tokens.push(Token {
        tok: Tok::Eof,
        text: String::new(),
        source: 0,
        line,
        col,
        start: pos,
        end: pos,
    });
    Ok(out)
}

fn lex_source(
    out: &mut Lexed,
    id: SourceId,
    depth: usize,
    defines: &Defines,
) -> Result<(), ParseError> {
    // Take the characters out so that included files can be pushed while
    // this one is being read; they are put back at the end.
    let chars = std::mem::take(&mut out.sources[id].chars);
    let result = lex_chars(out, id, &chars, depth, defines);
    out.sources[id].chars = chars;
    result
}

/// The state of reading one source file.
struct Lexer<'a, 'c> {
    out: &'a mut Lexed,
    id: SourceId,
    /// The file's name, for errors.
    name: String,
    cur: Cursor<'c>,
    /// How deep in `#include`s this file is.
    depth: usize,
    defines: &'a Defines,
    /// The open `#ifdef`/`#ifndef` blocks, innermost last.
    conds: Vec<Cond>,
    /// Whether lines are read rather than skipped by a conditional.
    active: bool,
}

fn lex_chars(
    out: &mut Lexed,
    id: SourceId,
    chars: &[char],
    depth: usize,
    defines: &Defines,
) -> Result<(), ParseError> {
    let name = out.sources[id].name.clone();
    let mut lexer = Lexer {
        out,
        id,
        name,
        cur: Cursor {
            chars,
            pos: 0,
            line: 1,
            col: 1,
        },
        depth,
        defines,
        conds: Vec::new(),
        active: true,
    };
    lexer.run()
}

impl Lexer<'_, '_> {
    fn err(&self, line: u32, col: u32, kind: ParseErrorKind) -> ParseError {
        ParseError {
            file: self.name.clone(),
            line,
            column: col,
            kind,
        }
    }

    /// Reads the whole file: directives at the start of a line, tokens
    /// everywhere else, skipping lines a conditional turns off.
    fn run(&mut self) -> Result<(), ParseError> {
        let mut at_line_start = true;
        loop {
            if at_line_start {
                self.cur.skip_blanks();
                at_line_start = false;
                if self.cur.peek() == Some('#') {
                    self.directive()?;
                    continue;
                }
                if !self.active {
                    self.cur.skip_line();
                    if self.cur.bump().is_none() {
                        break;
                    }
                    at_line_start = true;
                    continue;
                }
            }
            let Some(c) = self.cur.peek() else { break };
            if c == '\n' {
                self.cur.bump();
                at_line_start = true;
                continue;
            }
            self.token(c)?;
        }
        self.check_closed()
    }
}
