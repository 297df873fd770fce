//! Syscall lines: each call is attempted against the stack; a call that would
//! block waits while later lines run and is retried whenever the stack
//! settles, and its return value (or errno) and return time are checked.

use synack_proto::{ConnError, Error};

use crate::ast::{EventKind, Expr, SyscallEvent};

use super::expr::{fmt_expr, int_of};
use super::{fail, not_run, Res, Runner};

mod control;
pub(super) mod epoll;
mod fastopen;
mod io;
mod lifecycle;
mod msg;
mod poll;
mod send_flags;
mod sockopt;
mod sockopt_more;

/// A syscall's return: a value or an errno name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SysRet {
    Value(i64),
    Errno(&'static str),
}

impl std::fmt::Display for SysRet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SysRet::Value(v) => write!(f, "{v}"),
            SysRet::Errno(e) => write!(f, "-1 {e}"),
        }
    }
}

/// What one attempt at a call came to: it returned, or it would block.
pub(super) enum Attempt {
    Done(SysRet),
    Block,
}

/// A call that returned `v`.
fn done(v: i64) -> Res<Attempt> {
    Ok(Attempt::Done(SysRet::Value(v)))
}

/// A call that failed with `e`.
fn errno(e: &'static str) -> Res<Attempt> {
    Ok(Attempt::Done(SysRet::Errno(e)))
}

/// The errno a socket call reports for a stack error.
pub(super) fn errno_of(e: Error) -> &'static str {
    match e {
        Error::InvalidHandle => "EBADF",
        Error::InvalidState | Error::InvalidArgument => "EINVAL",
        Error::WouldBlock => "EAGAIN",
        Error::BrokenPipe => "EPIPE",
        Error::NotConnected => "ENOTCONN",
        Error::Connection(c) => conn_errno(c),
        Error::AddrInUse => "EADDRINUSE",
        Error::AddrNotAvailable => "EADDRNOTAVAIL",
        Error::NoPortsAvailable => "EAGAIN",
        Error::TooManyConnections => "ENOBUFS",
        Error::AddressFamilyMismatch => "EAFNOSUPPORT",
        _ => "EIO",
    }
}

/// The errno a socket call reports for a connection's error.
pub(super) fn conn_errno(c: ConnError) -> &'static str {
    match c {
        ConnError::Refused => "ECONNREFUSED",
        ConnError::Reset => "ECONNRESET",
        ConnError::TimedOut => "ETIMEDOUT",
        ConnError::Aborted => "ECONNABORTED",
        ConnError::HostUnreachable => "EHOSTUNREACH",
        ConnError::NetworkUnreachable => "ENETUNREACH",
        ConnError::ProtocolError => "EPROTO",
        _ => "EIO",
    }
}

/// A blocking syscall that has not returned yet.
pub(super) struct Pending {
    pub(super) event: usize,
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) progress: usize,
}

impl Runner<'_> {
    pub(super) fn syscall(
        &mut self,
        index: usize,
        line: u32,
        call: &SyscallEvent,
        start: u64,
        end: u64,
    ) -> Res<()> {
        let mut progress = 0usize;
        match self.attempt(line, call, &mut progress, false)? {
            Attempt::Done(ret) => {
                self.check_return_time(line, start, end)?;
                self.check_result(line, call, &ret)?;
                self.settle()
            }
            Attempt::Block => {
                if self.pending.is_some() {
                    return not_run("two blocking calls at once");
                }
                self.pending = Some(Pending {
                    event: index,
                    start,
                    end,
                    progress,
                });
                self.settle()
            }
        }
    }

    pub(super) fn retry_pending(&mut self) -> Res<()> {
        let Some(mut p) = self.pending.take() else {
            return Ok(());
        };
        let script = self.script;
        let ev = &script.events[p.event];
        let EventKind::Syscall(call) = &ev.kind else {
            return Ok(());
        };
        match self.attempt(ev.line, call, &mut p.progress, true)? {
            Attempt::Block => {
                self.pending = Some(p);
                Ok(())
            }
            Attempt::Done(ret) => {
                self.check_return_time(ev.line, p.start, p.end)?;
                self.check_result(ev.line, call, &ret)?;
                // Output caused by the call (e.g. an ACK after a read).
                self.settle()
            }
        }
    }

    pub(super) fn check_result(&self, line: u32, call: &SyscallEvent, ret: &SysRet) -> Res<()> {
        let expected = match (&call.result.value, &call.result.errno) {
            (v, Some(e)) => format!("{} {e}", fmt_expr(v)),
            (v, None) => fmt_expr(v),
        };
        let ok =
            match (&call.result.value, ret) {
                (Expr::Ellipsis, _) => true,
                (v, SysRet::Value(got)) => {
                    if call.result.errno.is_some() {
                        false
                    } else if matches!(call.name.as_str(), "socket" | "accept") {
                        *got >= 0 && int_of(v).is_some_and(|n| n >= 0)
                    } else {
                        int_of(v) == Some(*got)
                    }
                }
                // `-1` with no errno name (`= -1 (Invalid Argument)`): any errno.
                (v, SysRet::Errno(e)) => {
                    int_of(v) == Some(-1)
                        && call.result.errno.as_deref().is_none_or(|want| {
                            want == *e || (want == "EWOULDBLOCK" && *e == "EAGAIN")
                        })
                }
            };
        if ok {
            Ok(())
        } else {
            fail(
                line,
                format!("{}(...) = {expected}", call.name),
                format!("{}(...) = {ret}", call.name),
            )
        }
    }

    pub(super) fn fd_arg(&self, call: &SyscallEvent) -> Res<i64> {
        call.args.first().and_then(int_of).map_or_else(
            || not_run(format!("{} without a file descriptor", call.name)),
            Ok,
        )
    }

    /// Runs `call` once against the stack: it returns, or it would block.
    pub(super) fn attempt(
        &mut self,
        line: u32,
        call: &SyscallEvent,
        progress: &mut usize,
        retry: bool,
    ) -> Res<Attempt> {
        match call.name.as_str() {
            "socket" => self.socket(call),
            "bind" => self.bind(call),
            "listen" => self.listen(call),
            "accept" | "accept4" => self.accept(call),
            "connect" => self.connect(call, progress, retry),
            "read" | "recv" | "recvfrom" => self.read(call),
            "write" | "send" | "sendto" => self.write(call, progress, retry),
            "recvmsg" => self.recvmsg(line, call),
            "sendmsg" => self.sendmsg(call, progress, retry),
            "close" => self.close(call),
            "shutdown" => self.shutdown(call),
            "fcntl" => self.fcntl(call),
            "ioctl" => self.ioctl(line, call),
            "setsockopt" => self.setsockopt(call),
            "getsockopt" => self.getsockopt(line, call),
            "poll" => self.poll(line, call, progress),
            "epoll_create" | "epoll_create1" => self.epoll_create(call),
            "epoll_ctl" => self.epoll_ctl(call),
            "epoll_wait" | "epoll_pwait" => self.epoll_wait(line, call, progress),
            other => not_run(format!("syscall {other}")),
        }
    }
}
