//! Tokenizer and preprocessor.
//!
//! The script language is token-based, not line-based: an event ends where the
//! next timestamp starts, and commands, code blocks and syscalls may span
//! lines. The lexer therefore turns every source file into one token stream,
//! applying `#ifdef`/`#ifndef`/`#else`/`#endif` and splicing in `#include`d
//! files on the way. Directives are recognised only as the first non-blank
//! thing on a line, outside any token.

use std::path::{Path, PathBuf};

use crate::ast::SourceId;
use crate::error::{ParseError, ParseErrorKind};
use crate::Defines;

mod cursor;

use cursor::{is_word_char, Cursor};

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

/// One open `#ifdef`/`#ifndef` block.
struct Cond {
    parent_active: bool,
    taken: bool,
    else_seen: bool,
    line: u32,
    col: u32,
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

fn lex_chars(
    out: &mut Lexed,
    id: SourceId,
    chars: &[char],
    depth: usize,
    defines: &Defines,
) -> Result<(), ParseError> {
    let name = out.sources[id].name.clone();
    let err = |line: u32, col: u32, kind: ParseErrorKind| ParseError {
        file: name.clone(),
        line,
        column: col,
        kind,
    };
    let mut cur = Cursor {
        chars,
        pos: 0,
        line: 1,
        col: 1,
    };
    let mut conds: Vec<Cond> = Vec::new();
    let mut active = true;
    let mut at_line_start = true;

    loop {
        if at_line_start {
            cur.skip_blanks();
            at_line_start = false;
            if cur.peek() == Some('#') {
                let (line, col) = (cur.line, cur.col);
                cur.bump();
                let dstart = cur.pos;
                while cur.peek().is_some_and(is_word_char) {
                    cur.bump();
                }
                let directive = cur.text(dstart);
                cur.skip_blanks();
                match directive.as_str() {
                    "ifdef" | "ifndef" => {
                        let nstart = cur.pos;
                        while cur.peek().is_some_and(is_word_char) {
                            cur.bump();
                        }
                        let sym = cur.text(nstart);
                        if sym.is_empty() {
                            return Err(err(
                                cur.line,
                                cur.col,
                                ParseErrorKind::Preprocessor(format!(
                                    "expected a symbol name after #{directive}"
                                )),
                            ));
                        }
                        end_of_directive(&mut cur, &directive)
                            .map_err(|k| err(cur.line, cur.col, k))?;
                        let defined = defines.is_defined(&sym);
                        let taken = if directive == "ifdef" {
                            defined
                        } else {
                            !defined
                        };
                        conds.push(Cond {
                            parent_active: active,
                            taken,
                            else_seen: false,
                            line,
                            col,
                        });
                        active = active && taken;
                    }
                    "else" => {
                        end_of_directive(&mut cur, "else")
                            .map_err(|k| err(cur.line, cur.col, k))?;
                        let Some(top) = conds.last_mut() else {
                            return Err(err(
                                line,
                                col,
                                ParseErrorKind::Preprocessor("#else without #ifdef".into()),
                            ));
                        };
                        if top.else_seen {
                            return Err(err(
                                line,
                                col,
                                ParseErrorKind::Preprocessor(format!(
                                    "second #else for the #ifdef on line {}",
                                    top.line
                                )),
                            ));
                        }
                        top.else_seen = true;
                        active = top.parent_active && !top.taken;
                    }
                    "endif" => {
                        end_of_directive(&mut cur, "endif")
                            .map_err(|k| err(cur.line, cur.col, k))?;
                        let Some(top) = conds.pop() else {
                            return Err(err(
                                line,
                                col,
                                ParseErrorKind::Preprocessor("#endif without #ifdef".into()),
                            ));
                        };
                        active = top.parent_active;
                    }
                    "include" if active => {
                        if cur.peek() != Some('"') {
                            return Err(err(
                                cur.line,
                                cur.col,
                                ParseErrorKind::Preprocessor(
                                    "expected \"file\" after #include".into(),
                                ),
                            ));
                        }
                        cur.bump();
                        let pstart = cur.pos;
                        while cur.peek().is_some_and(|c| c != '"' && c != '\n') {
                            cur.bump();
                        }
                        if cur.peek() != Some('"') {
                            return Err(err(
                                line,
                                col,
                                ParseErrorKind::Unterminated("#include file name"),
                            ));
                        }
                        let rel = cur.text(pstart);
                        cur.bump();
                        end_of_directive(&mut cur, "include")
                            .map_err(|k| err(cur.line, cur.col, k))?;
                        if depth + 1 > MAX_INCLUDE_DEPTH {
                            return Err(err(
                                line,
                                col,
                                ParseErrorKind::IncludeTooDeep(MAX_INCLUDE_DEPTH),
                            ));
                        }
                        let path = match &out.sources[id].dir {
                            Some(d) => d.join(&rel),
                            None => PathBuf::from(&rel),
                        };
                        let text = std::fs::read_to_string(&path).map_err(|e| {
                            err(
                                line,
                                col,
                                ParseErrorKind::Io(format!("{}: {e}", path.display())),
                            )
                        })?;
                        let child = out.sources.len();
                        out.sources.push(SourceFile {
                            name: path.display().to_string(),
                            chars: text.chars().collect(),
                            dir: path.parent().map(Path::to_path_buf),
                        });
                        lex_source(out, child, depth + 1, defines)?;
                    }
                    _ if !active => {
                        // Unknown or inactive directives in a skipped branch
                        // are ignored, as a C preprocessor does.
                        cur.skip_line();
                    }
                    other => {
                        return Err(err(
                            line,
                            col,
                            ParseErrorKind::Preprocessor(format!("unknown directive #{other}")),
                        ));
                    }
                }
                continue;
            }
            if !active {
                cur.skip_line();
                if cur.bump().is_none() {
                    break;
                }
                at_line_start = true;
                continue;
            }
        }

        let Some(c) = cur.peek() else { break };
        let (line, col, start) = (cur.line, cur.col, cur.pos);
        let mut push = |cur: &Cursor<'_>, tok: Tok| {
            out.tokens.push(Token {
                tok,
                text: cur.text(start),
                source: id,
                line,
                col,
                start,
                end: cur.pos,
            });
        };
        match c {
            '\n' => {
                cur.bump();
                at_line_start = true;
            }
            ' ' | '\t' | '\r' | '\x0c' | '\x0b' => {
                cur.bump();
            }
            '/' if cur.peek_at(1) == Some('/') => cur.skip_line(),
            '/' if cur.peek_at(1) == Some('*') => {
                cur.bump();
                cur.bump();
                loop {
                    if cur.starts_with("*/") {
                        cur.bump();
                        cur.bump();
                        break;
                    }
                    if cur.bump().is_none() {
                        return Err(err(line, col, ParseErrorKind::Unterminated("/* comment")));
                    }
                }
            }
            '`' => {
                cur.bump();
                let cstart = cur.pos;
                while cur.peek().is_some_and(|c| c != '`') {
                    cur.bump();
                }
                if cur.peek().is_none() {
                    return Err(err(
                        line,
                        col,
                        ParseErrorKind::Unterminated("backtick command"),
                    ));
                }
                let body = cur.text(cstart);
                cur.bump();
                push(&cur, Tok::Backtick(body));
            }
            '%' if cur.peek_at(1) == Some('{') => {
                cur.bump();
                cur.bump();
                let cstart = cur.pos;
                while !cur.starts_with("}%") {
                    if cur.bump().is_none() {
                        return Err(err(line, col, ParseErrorKind::Unterminated("%{ }% block")));
                    }
                }
                let body = cur.text(cstart);
                cur.bump();
                cur.bump();
                push(&cur, Tok::Code(body));
            }
            '"' => {
                cur.bump();
                let cstart = cur.pos;
                loop {
                    match cur.peek() {
                        None => {
                            return Err(err(line, col, ParseErrorKind::Unterminated("string")));
                        }
                        Some('"') => break,
                        Some('\\') => {
                            cur.bump();
                            cur.bump();
                        }
                        Some(_) => {
                            cur.bump();
                        }
                    }
                }
                let body = cur.text(cstart);
                cur.bump();
                push(&cur, Tok::Str(body));
            }
            '-' if cur.peek_at(1) == Some('-')
                && cur
                    .peek_at(2)
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_') =>
            {
                cur.bump();
                cur.bump();
                let nstart = cur.pos;
                while cur.peek().is_some_and(|c| is_word_char(c) || c == '-') {
                    cur.bump();
                }
                let name = cur.text(nstart);
                let value = if cur.peek() == Some('=') {
                    cur.bump();
                    let vstart = cur.pos;
                    while cur.peek().is_some_and(|c| !c.is_whitespace()) {
                        cur.bump();
                    }
                    Some(cur.text(vstart))
                } else {
                    None
                };
                push(&cur, Tok::Opt { name, value });
            }
            '.' if cur.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => {
                cur.bump();
                while cur.peek().is_some_and(|c| c.is_ascii_digit()) {
                    cur.bump();
                }
                push(&cur, Tok::Float);
            }
            '.' if cur.starts_with("...") => {
                cur.bump();
                cur.bump();
                cur.bump();
                push(&cur, Tok::Ellipsis);
            }
            c if is_word_char(c) => {
                while cur.peek().is_some_and(is_word_char) {
                    cur.bump();
                }
                let word = cur.text(start);
                let all_digits = word.chars().all(|c| c.is_ascii_digit());
                if all_digits
                    && cur.peek() == Some('.')
                    && cur.peek_at(1).is_some_and(|c| c.is_ascii_digit())
                {
                    let mut dots = 0;
                    while cur.peek() == Some('.')
                        && cur.peek_at(1).is_some_and(|c| c.is_ascii_digit())
                    {
                        dots += 1;
                        cur.bump();
                        while cur.peek().is_some_and(|c| c.is_ascii_digit()) {
                            cur.bump();
                        }
                    }
                    match dots {
                        1 => push(&cur, Tok::Float),
                        3 => push(&cur, Tok::Ipv4),
                        _ => {
                            return Err(err(
                                line,
                                col,
                                ParseErrorKind::Invalid(format!(
                                    "malformed number {:?}",
                                    cur.text(start)
                                )),
                            ))
                        }
                    }
                } else if all_digits {
                    let v = word.parse::<u64>().map_err(|_| {
                        err(
                            line,
                            col,
                            ParseErrorKind::NumberOutOfRange {
                                text: word.clone(),
                                what: "an integer",
                            },
                        )
                    })?;
                    push(&cur, Tok::Int(v));
                } else if let Some(hex) = word
                    .strip_prefix("0x")
                    .or_else(|| word.strip_prefix("0X"))
                    .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
                {
                    let v = u64::from_str_radix(hex, 16).map_err(|_| {
                        err(
                            line,
                            col,
                            ParseErrorKind::NumberOutOfRange {
                                text: word.clone(),
                                what: "an integer",
                            },
                        )
                    })?;
                    push(&cur, Tok::Int(v));
                } else {
                    push(&cur, Tok::Word);
                }
            }
            _ => {
                cur.bump();
                let tok = match c {
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
                };
                push(&cur, tok);
            }
        }
    }

    if let Some(open) = conds.last() {
        return Err(err(
            open.line,
            open.col,
            ParseErrorKind::Preprocessor("#ifdef without matching #endif".into()),
        ));
    }
    Ok(())
}

/// Accepts only blanks or a `//` comment after a directive.
fn end_of_directive(cur: &mut Cursor<'_>, directive: &str) -> Result<(), ParseErrorKind> {
    cur.skip_blanks();
    if cur.starts_with("//") {
        cur.skip_line();
    }
    match cur.peek() {
        None | Some('\n') => Ok(()),
        Some(c) => Err(ParseErrorKind::Preprocessor(format!(
            "unexpected {c:?} after #{directive}"
        ))),
    }
}
