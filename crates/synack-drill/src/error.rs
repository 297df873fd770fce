//! Parse errors.

use std::fmt;

/// A syntax or semantic error in a script, with its location.
///
/// Displays as `file:line:column: message`, e.g.
/// `conformance/foo.pkt:12:7: expected ')' after syscall arguments, found 'x'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Name of the file the error is in (an included file if that is where
    /// the error is).
    pub file: String,
    /// 1-based line; `0` when the error concerns the file as a whole.
    pub line: u32,
    /// 1-based column in characters; `0` when unknown.
    pub column: u32,
    /// What went wrong.
    pub kind: ParseErrorKind,
}

/// The kinds of [`ParseError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The file could not be read.
    Io(String),
    /// A character that starts no token.
    UnexpectedChar(char),
    /// A backtick command, `%{ }%` block, string or comment that does not end.
    Unterminated(&'static str),
    /// A token other than the one the grammar requires.
    Expected {
        /// What was required, e.g. `')' after syscall arguments`.
        expected: String,
        /// What was there, e.g. `'x'` or `end of file`.
        found: String,
    },
    /// A number that does not fit where it is used.
    NumberOutOfRange {
        /// The number as written.
        text: String,
        /// What it was used for.
        what: &'static str,
    },
    /// Well-formed syntax that the language does not allow, e.g. a backwards
    /// time range or a sequence range whose end is not start + length.
    Invalid(String),
    /// A malformed or unbalanced `#ifdef`/`#ifndef`/`#else`/`#endif`/`#include`.
    Preprocessor(String),
    /// `#include` nested deeper than the limit.
    IncludeTooDeep(usize),
    /// Brackets or expressions nested deeper than the limit.
    NestingTooDeep(usize),
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::Io(e) => write!(f, "cannot read file: {e}"),
            ParseErrorKind::UnexpectedChar(c) => write!(f, "unexpected character {c:?}"),
            ParseErrorKind::Unterminated(what) => write!(f, "unterminated {what}"),
            ParseErrorKind::Expected { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ParseErrorKind::NumberOutOfRange { text, what } => {
                write!(f, "number {text} out of range for {what}")
            }
            ParseErrorKind::Invalid(m) => f.write_str(m),
            ParseErrorKind::Preprocessor(m) => f.write_str(m),
            ParseErrorKind::IncludeTooDeep(n) => {
                write!(f, "#include nested deeper than {n} levels")
            }
            ParseErrorKind::NestingTooDeep(n) => {
                write!(f, "expression nested deeper than {n} levels")
            }
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.file, self.kind),
            (l, 0) => write!(f, "{}:{}: {}", self.file, l, self.kind),
            (l, c) => write!(f, "{}:{}:{}: {}", self.file, l, c, self.kind),
        }
    }
}

impl std::error::Error for ParseError {}
