//! The preprocessor: `#ifdef`/`#ifndef`/`#else`/`#endif` against the caller's
//! [`Defines`](crate::Defines), and `#include "file"` spliced into the token
//! stream, at most [`MAX_INCLUDE_DEPTH`] levels deep.

use std::path::{Path, PathBuf};

use crate::error::{ParseError, ParseErrorKind};

use super::cursor::{is_word_char, Cursor};
use super::{lex_source, Lexer, SourceFile, MAX_INCLUDE_DEPTH};

/// One open `#ifdef`/`#ifndef` block.
pub(super) struct Cond {
    parent_active: bool,
    taken: bool,
    else_seen: bool,
    line: u32,
    col: u32,
}

impl Lexer<'_, '_> {
    /// A `#` directive at the start of a line, up to the end of that line.
    pub(super) fn directive(&mut self) -> Result<(), ParseError> {
        let (line, col) = (self.cur.line, self.cur.col);
        self.cur.bump();
        let dstart = self.cur.pos;
        while self.cur.peek().is_some_and(is_word_char) {
            self.cur.bump();
        }
        let directive = self.cur.text(dstart);
        self.cur.skip_blanks();
        match directive.as_str() {
            "ifdef" | "ifndef" => self.conditional(&directive, line, col),
            "else" => self.else_branch(line, col),
            "endif" => self.endif(line, col),
            "include" if self.active => self.include(line, col),
            _ if !self.active => {
                // Unknown or inactive directives in a skipped branch
                // are ignored, as a C preprocessor does.
                self.cur.skip_line();
                Ok(())
            }
            other => Err(self.err(
                line,
                col,
                ParseErrorKind::Preprocessor(format!("unknown directive #{other}")),
            )),
        }
    }

    /// `#ifdef SYMBOL` / `#ifndef SYMBOL`.
    fn conditional(&mut self, directive: &str, line: u32, col: u32) -> Result<(), ParseError> {
        let nstart = self.cur.pos;
        while self.cur.peek().is_some_and(is_word_char) {
            self.cur.bump();
        }
        let sym = self.cur.text(nstart);
        if sym.is_empty() {
            return Err(self.err(
                self.cur.line,
                self.cur.col,
                ParseErrorKind::Preprocessor(format!("expected a symbol name after #{directive}")),
            ));
        }
        self.end_directive(directive)?;
        let defined = self.defines.is_defined(&sym);
        let taken = if directive == "ifdef" {
            defined
        } else {
            !defined
        };
        self.conds.push(Cond {
            parent_active: self.active,
            taken,
            else_seen: false,
            line,
            col,
        });
        self.active = self.active && taken;
        Ok(())
    }

    /// `#else`.
    fn else_branch(&mut self, line: u32, col: u32) -> Result<(), ParseError> {
        self.end_directive("else")?;
        let Some(top) = self.conds.last() else {
            return Err(self.err(
                line,
                col,
                ParseErrorKind::Preprocessor("#else without #ifdef".into()),
            ));
        };
        if top.else_seen {
            return Err(self.err(
                line,
                col,
                ParseErrorKind::Preprocessor(format!(
                    "second #else for the #ifdef on line {}",
                    top.line
                )),
            ));
        }
        let active = top.parent_active && !top.taken;
        if let Some(top) = self.conds.last_mut() {
            top.else_seen = true;
        }
        self.active = active;
        Ok(())
    }

    /// `#endif`.
    fn endif(&mut self, line: u32, col: u32) -> Result<(), ParseError> {
        self.end_directive("endif")?;
        let Some(top) = self.conds.pop() else {
            return Err(self.err(
                line,
                col,
                ParseErrorKind::Preprocessor("#endif without #ifdef".into()),
            ));
        };
        self.active = top.parent_active;
        Ok(())
    }

    /// `#include "file"`: the file, relative to the including file's folder,
    /// is read and lexed in place.
    fn include(&mut self, line: u32, col: u32) -> Result<(), ParseError> {
        if self.cur.peek() != Some('"') {
            return Err(self.err(
                self.cur.line,
                self.cur.col,
                ParseErrorKind::Preprocessor("expected \"file\" after #include".into()),
            ));
        }
        self.cur.bump();
        let pstart = self.cur.pos;
        while self.cur.peek().is_some_and(|c| c != '"' && c != '\n') {
            self.cur.bump();
        }
        if self.cur.peek() != Some('"') {
            return Err(self.err(
                line,
                col,
                ParseErrorKind::Unterminated("#include file name"),
            ));
        }
        let rel = self.cur.text(pstart);
        self.cur.bump();
        self.end_directive("include")?;
        if self.depth + 1 > MAX_INCLUDE_DEPTH {
            return Err(self.err(line, col, ParseErrorKind::IncludeTooDeep(MAX_INCLUDE_DEPTH)));
        }
        let path = match &self.out.sources[self.id].dir {
            Some(d) => d.join(&rel),
            None => PathBuf::from(&rel),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            self.err(
                line,
                col,
                ParseErrorKind::Io(format!("{}: {e}", path.display())),
            )
        })?;
        let child = self.out.sources.len();
        self.out.sources.push(SourceFile {
            name: path.display().to_string(),
            chars: text.chars().collect(),
            dir: path.parent().map(Path::to_path_buf),
        });
        lex_source(self.out, child, self.depth + 1, self.defines)
    }

    /// The rest of a directive's line, which must be blank.
    fn end_directive(&mut self, directive: &str) -> Result<(), ParseError> {
        end_of_directive(&mut self.cur, directive)
            .map_err(|k| self.err(self.cur.line, self.cur.col, k))
    }

    /// At the end of the file: every `#ifdef` must have been closed.
    pub(super) fn check_closed(&self) -> Result<(), ParseError> {
        if let Some(open) = self.conds.last() {
            return Err(self.err(
                open.line,
                open.col,
                ParseErrorKind::Preprocessor("#ifdef without matching #endif".into()),
            ));
        }
        Ok(())
    }
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
