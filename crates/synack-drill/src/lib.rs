//! A packetdrill script parser and runner for the synack core.
//!
//! This crate reads packetdrill scripts, written for other TCP stacks, into
//! a typed syntax tree ([`Script`]) that the runner executes against the
//! sans-IO core on a virtual clock.
//!
//! ```
//! use synack_drill::{parse_str, Defines, EventKind};
//!
//! let script = parse_str(
//!     "--tolerance_usecs=10000\n\
//!      0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n\
//!      +0.1 < S 0:0(0) win 1000 <mss 1460>\n",
//!     "example.pkt",
//!     &Defines::standard(),
//! )
//! .expect("valid script");
//! assert_eq!(script.tolerance_usecs(), Some(10_000));
//! assert!(matches!(script.events[1].kind, EventKind::Packet(_)));
//! ```
//!
//! Names in syscall lines (`SOL_SOCKET`, `O_NONBLOCK`, `ECONNRESET`) stay
//! symbolic: their values depend on the system a script was written for, so
//! the runner maps them. `#ifdef`/`#ifndef`/`#else`/`#endif` are applied
//! while reading, against a [`Defines`] set chosen by the caller (the runner
//! uses [`Defines::standard`]); `#include "file"` is resolved against the
//! including file's folder, at most [`MAX_INCLUDE_DEPTH`] levels deep.
//!
//! [`run_script`] executes a parsed script against a fresh synack stack on a
//! virtual clock (the script plays the remote host) and reports one of three
//! outcomes: passed, failed at the first difference, or not run for a missing
//! feature. [`run_script_on`] runs it against another stack: with the
//! `smoltcp` cargo feature, smoltcp 0.14 ([`StackKind::Smoltcp`]: its
//! interface, sockets and clock, "not run" where it has no API for a call).
//! [`run_paths`] runs many scripts in parallel threads and
//! [`run_cli`] is the `drill` command line; [`compare_paths`] runs the same
//! scripts against both stacks for a side-by-side table.
//!
//! The parser never panics: every malformed input yields a [`ParseError`]
//! naming the file, line and column and what was expected there.
#![forbid(unsafe_code)]

mod ast;
mod cli;
mod compare;
mod error;
mod lexer;
mod parser;
mod report;
mod runner;
mod tcpinfo;

use std::collections::BTreeMap;
use std::path::Path;

pub use ast::{
    Direction, EcnCodepoint, Event, EventKind, Expr, IcmpPacket, IpAttr, PacketEvent, SackBlock,
    Script, ScriptOption, SeqSpec, SourceId, SyscallEvent, SyscallResult, TcpFlags, TcpOption,
    TcpOptions, TcpPacket, TimeSpec, UdpEncapsulation, UdpPacket, UntimedCommand,
};
pub use cli::{exit_status, run_cli};
pub use compare::{compare_paths, Comparison, FolderPair};
pub use error::{ParseError, ParseErrorKind};
pub use lexer::MAX_INCLUDE_DEPTH;
pub use parser::MAX_EXPR_DEPTH;
pub use report::{
    run_file, run_file_on, run_paths, Report, RunError, RunOptions, ScriptResult, Totals,
};
pub use runner::{run_script, run_script_on, Difference, Mode, Outcome, StackKind};

/// Preprocessor symbols for `#ifdef`/`#ifndef`, with optional values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defines {
    symbols: BTreeMap<String, Option<String>>,
}

impl Defines {
    /// No symbols defined.
    pub fn new() -> Self {
        Self::default()
    }

    /// The set the runner uses: `STANDARD` (RFC behaviour rather than one
    /// operating system's choices).
    pub fn standard() -> Self {
        Self::new().with("STANDARD")
    }

    /// Adds a symbol without a value.
    pub fn with(mut self, name: &str) -> Self {
        self.define(name, None);
        self
    }

    /// Defines `name`, optionally with a value (replacing any earlier one).
    pub fn define(&mut self, name: &str, value: Option<&str>) {
        self.symbols
            .insert(name.to_string(), value.map(str::to_string));
    }

    /// Removes `name`.
    pub fn undefine(&mut self, name: &str) {
        self.symbols.remove(name);
    }

    /// Whether `name` is defined.
    pub fn is_defined(&self, name: &str) -> bool {
        self.symbols.contains_key(name)
    }

    /// The value of `name`, if it is defined with one.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.symbols.get(name).and_then(|v| v.as_deref())
    }
}

/// Parses script text. `name` is used in error messages and as
/// [`Script::name`]; `#include` paths are resolved against its folder.
pub fn parse_str(text: &str, name: &str, defines: &Defines) -> Result<Script, ParseError> {
    let dir = Path::new(name).parent().map(Path::to_path_buf);
    let lexed = lexer::lex(text, name, dir, defines)?;
    parser::parse(&lexed, name)
}

/// Reads and parses the script at `path`.
pub fn parse_file(path: impl AsRef<Path>, defines: &Defines) -> Result<Script, ParseError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ParseError {
        file: name.clone(),
        line: 0,
        column: 0,
        kind: ParseErrorKind::Io(e.to_string()),
    })?;
    parse_str(&text, &name, defines)
}
