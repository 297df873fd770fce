//! Syscall lines: each call is attempted against the stack; a call that would
//! block waits while later lines run and is retried whenever the stack
//! settles, and its return value (or errno) and return time are checked.

use std::net::SocketAddr;

use synack_proto::{ConnError, Error, Shutdown, State};

use crate::ast::{EventKind, Expr, SyscallEvent};

use super::expr::{fmt_expr, has_symbol, int_of, symbol_of};
use super::socket::SockKind;
use super::{fail, not_run, Res, Runner};

mod sockopt;

const O_RDWR: i64 = 0x2;
const O_NONBLOCK_FREEBSD: i64 = 0x4;
const O_NONBLOCK_LINUX: i64 = 0x800;

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

pub(super) enum Attempt {
    Done(SysRet),
    Block,
}

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
                (v, SysRet::Errno(e)) => {
                    int_of(v) == Some(-1)
                        && call.result.errno.as_deref().is_some_and(|want| {
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

    pub(super) fn attempt(
        &mut self,
        line: u32,
        call: &SyscallEvent,
        progress: &mut usize,
        retry: bool,
    ) -> Res<Attempt> {
        let _ = line;
        let args = &call.args;
        let done = |v: i64| Ok(Attempt::Done(SysRet::Value(v)));
        let errno = |e: &'static str| Ok(Attempt::Done(SysRet::Errno(e)));
        match call.name.as_str() {
            "socket" => {
                let Some(fd) = int_of(&call.result.value) else {
                    return not_run("socket() without a descriptor number");
                };
                let s = self.new_socket();
                self.sockets.insert(fd, s);
                done(fd)
            }
            "bind" => {
                let fd = self.fd_arg(call)?;
                let addr = SocketAddr::new(self.local_ip, self.bind_port);
                if args.get(1).is_some_and(|a| *a != Expr::Ellipsis) {
                    return not_run("bind() to an explicit address");
                }
                let Some(s) = self.sockets.get(&fd) else {
                    return errno("EBADF");
                };
                if s.bound.is_some() || !matches!(s.kind, SockKind::Fresh) {
                    return errno("EINVAL");
                }
                // The stack answers segments to the address from the socket now
                // (its RSTs carry the socket's TTL and DSCP).
                let cfg = Self::sock_cfg(s);
                let bind_id = match self.stack().bind(addr, cfg) {
                    Ok(b) => Some(b),
                    // SO_REUSEADDR/SO_REUSEPORT sharing is not modelled: the address
                    // stays the other socket's for unmatched segments.
                    Err(Error::AddrInUse) => None,
                    Err(e) => return errno(errno_of(e)),
                };
                if let Some(s) = self.sockets.get_mut(&fd) {
                    s.bound = Some(addr);
                    s.bind_id = bind_id;
                }
                done(0)
            }
            "listen" => {
                let fd = self.fd_arg(call)?;
                let backlog = args.get(1).and_then(int_of).unwrap_or(1).max(1) as usize;
                let Some(s) = self.sockets.get(&fd) else {
                    return errno("EBADF");
                };
                if let SockKind::Listener(_) = s.kind {
                    return done(0);
                }
                let addr = s
                    .bound
                    .unwrap_or(SocketAddr::new(self.local_ip, self.bind_port));
                let cfg = Self::sock_cfg(s);
                let now = self.at();
                let _ = now;
                match self.stack().listen_with(addr, backlog, backlog, cfg) {
                    Ok(l) => {
                        // The listener took the binding over.
                        if let Some(s) = self.sockets.get_mut(&fd) {
                            s.kind = SockKind::Listener(l);
                            s.bind_id = None;
                        }
                        self.subject_fd = Some(fd);
                        done(0)
                    }
                    Err(e) => errno(errno_of(e)),
                }
            }
            "accept" | "accept4" => {
                let fd = self.fd_arg(call)?;
                let Some(s) = self.sockets.get(&fd).cloned() else {
                    return errno("EBADF");
                };
                let SockKind::Listener(l) = s.kind else {
                    return errno("EINVAL");
                };
                match self.stack().accept(l) {
                    Ok(id) => {
                        let Some(newfd) = int_of(&call.result.value) else {
                            return not_run("accept() without a descriptor number");
                        };
                        let mut ns = s.clone();
                        ns.kind = SockKind::Conn(id);
                        ns.bound = None;
                        ns.bind_id = None;
                        ns.err_reported = false;
                        // FreeBSD's accepted sockets inherit O_NONBLOCK; Linux's do not.
                        ns.nonblocking = self.freebsd && s.nonblocking;
                        self.sockets.insert(newfd, ns);
                        self.current = Some(id);
                        if let Some(st) = self.stack.as_ref().and_then(|st| st.tuple(id).ok()) {
                            self.current_tuple = Some((st.remote.port(), st.local.port()));
                        }
                        self.subject_fd = Some(newfd);
                        done(newfd)
                    }
                    Err(Error::WouldBlock) if !s.nonblocking => Ok(Attempt::Block),
                    Err(e) => errno(errno_of(e)),
                }
            }
            "connect" => {
                let fd = self.fd_arg(call)?;
                if args.get(1).is_some_and(|a| *a != Expr::Ellipsis) {
                    return not_run("connect() to an explicit address");
                }
                let Some(s) = self.sockets.get(&fd).cloned() else {
                    return errno("EBADF");
                };
                match s.kind {
                    SockKind::Conn(id) => {
                        let stack = self.stack();
                        let state = stack.state(id).unwrap_or(State::Closed);
                        if let Ok(Some(e)) = stack.conn_error(id) {
                            if let Some(s) = self.sockets.get_mut(&fd) {
                                s.err_reported = true;
                            }
                            return errno(conn_errno(e));
                        }
                        if state.is_synchronized() {
                            return if retry { done(0) } else { errno("EISCONN") };
                        }
                        if s.nonblocking {
                            errno("EALREADY")
                        } else {
                            Ok(Attempt::Block)
                        }
                    }
                    SockKind::Listener(_) => errno("EINVAL"),
                    SockKind::Fresh => {
                        let remote = SocketAddr::new(self.remote_ip, self.connect_port);
                        let cfg = Self::sock_cfg(&s);
                        let now = self.at();
                        match self.stack().connect_with(now, s.bound, remote, cfg) {
                            Ok(id) => {
                                // The connection took any binding over.
                                if let Some(sm) = self.sockets.get_mut(&fd) {
                                    sm.kind = SockKind::Conn(id);
                                    sm.bind_id = None;
                                }
                                self.current = Some(id);
                                if let Some(t) =
                                    self.stack.as_ref().and_then(|st| st.tuple(id).ok())
                                {
                                    self.current_tuple = Some((t.remote.port(), t.local.port()));
                                }
                                self.subject_fd = Some(fd);
                                *progress = 1;
                                if s.nonblocking {
                                    errno("EINPROGRESS")
                                } else {
                                    Ok(Attempt::Block)
                                }
                            }
                            Err(e) => errno(errno_of(e)),
                        }
                    }
                }
            }
            "read" | "recv" | "recvfrom" => {
                let fd = self.fd_arg(call)?;
                let n = args.get(2).and_then(int_of).unwrap_or(0).max(0) as usize;
                let peek =
                    call.name != "read" && args.get(3).is_some_and(|f| has_symbol(f, "MSG_PEEK"));
                if call.name != "read" {
                    if let Some(f) = args.get(3) {
                        if !matches!(f, Expr::Int(0))
                            && !matches!(f, Expr::Symbol(s) if s == "MSG_PEEK")
                        {
                            return not_run(format!("recv flags {}", fmt_expr(f)));
                        }
                    }
                }
                let Some(s) = self.sockets.get(&fd).cloned() else {
                    return errno("EBADF");
                };
                let SockKind::Conn(id) = s.kind else {
                    return errno("ENOTCONN");
                };
                let now = self.at();
                let stack = self.stack();
                // The script's count is input: allocate no more than can be read
                // now (at least one byte, so an empty buffer still blocks).
                let ready = stack.recv_ready(id).unwrap_or(0).max(1);
                let mut buf = vec![0u8; n.min(ready)];
                let r = if peek {
                    stack.peek(now, id, &mut buf)
                } else {
                    stack.recv(now, id, &mut buf)
                };
                match r {
                    Ok(k) => done(k as i64),
                    Err(Error::WouldBlock) if !s.nonblocking => Ok(Attempt::Block),
                    Err(Error::Connection(c)) => {
                        let sm = self.sockets.get_mut(&fd);
                        match sm {
                            Some(sm) if !sm.err_reported => {
                                sm.err_reported = true;
                                errno(conn_errno(c))
                            }
                            _ => done(0),
                        }
                    }
                    Err(e) => errno(errno_of(e)),
                }
            }
            "write" | "send" | "sendto" => {
                let fd = self.fd_arg(call)?;
                let n = args.get(2).and_then(int_of).unwrap_or(0).max(0) as usize;
                if call.name != "write" {
                    if let Some(f) = args.get(3) {
                        if !matches!(f, Expr::Int(0)) {
                            return not_run(format!("send flags {}", fmt_expr(f)));
                        }
                    }
                }
                let Some(s) = self.sockets.get(&fd).cloned() else {
                    return errno("EBADF");
                };
                let SockKind::Conn(id) = s.kind else {
                    return errno("ENOTCONN");
                };
                if let Some(e) = self.take_error(fd) {
                    return errno(e);
                }
                let now = self.at();
                // The script's count is input: allocate no more than the send
                // buffer takes now (at least one byte, so a full buffer blocks).
                let room = self.stack().send_room(id).unwrap_or(0).max(1);
                let want = n.saturating_sub(*progress).min(room);
                let buf = vec![0u8; want];
                match self.stack().send(now, id, &buf) {
                    Ok(k) => {
                        *progress += k;
                        if *progress >= n || s.nonblocking {
                            done(*progress as i64)
                        } else {
                            Ok(Attempt::Block)
                        }
                    }
                    Err(Error::WouldBlock) if s.nonblocking => {
                        if *progress > 0 {
                            done(*progress as i64)
                        } else {
                            errno("EAGAIN")
                        }
                    }
                    Err(Error::WouldBlock) => Ok(Attempt::Block),
                    Err(e) => errno(errno_of(e)),
                }
            }
            "close" => {
                let fd = self.fd_arg(call)?;
                let Some(s) = self.sockets.remove(&fd) else {
                    return errno("EBADF");
                };
                let now = self.at();
                match s.kind {
                    SockKind::Fresh => {
                        if let Some(b) = s.bind_id {
                            let _ = self.stack().unbind(b);
                        }
                    }
                    SockKind::Listener(l) => {
                        let _ = self.stack().close_listener(now, l);
                    }
                    SockKind::Conn(id) => {
                        if s.linger_zero {
                            let _ = self.stack().abort(now, id);
                        } else {
                            let _ = self.stack().close(now, id);
                        }
                    }
                }
                done(0)
            }
            "shutdown" => {
                let fd = self.fd_arg(call)?;
                let how = match args.get(1) {
                    Some(Expr::Symbol(s)) if s == "SHUT_RD" => Shutdown::Read,
                    Some(Expr::Symbol(s)) if s == "SHUT_WR" => Shutdown::Write,
                    Some(Expr::Symbol(s)) if s == "SHUT_RDWR" => Shutdown::Both,
                    Some(Expr::Int(0)) => Shutdown::Read,
                    Some(Expr::Int(1)) => Shutdown::Write,
                    Some(Expr::Int(2)) => Shutdown::Both,
                    other => return not_run(format!("shutdown how {other:?}")),
                };
                let Some(id) = self.conn_of(fd) else {
                    return errno("ENOTCONN");
                };
                let now = self.at();
                match self.stack().shutdown(now, id, how) {
                    Ok(()) => done(0),
                    Err(e) => errno(errno_of(e)),
                }
            }
            "fcntl" => {
                let fd = self.fd_arg(call)?;
                let cmd = args.get(1).and_then(symbol_of).unwrap_or("");
                let Some(s) = self.sockets.get_mut(&fd) else {
                    return errno("EBADF");
                };
                match cmd {
                    "F_GETFL" => {
                        let nb = if s.nonblocking {
                            if self.freebsd {
                                O_NONBLOCK_FREEBSD
                            } else {
                                O_NONBLOCK_LINUX
                            }
                        } else {
                            0
                        };
                        // The script's own dialect decides the numbers.
                        match int_of(&call.result.value) {
                            Some(v) if v & !(O_NONBLOCK_FREEBSD | O_NONBLOCK_LINUX) == O_RDWR => {
                                let want_nb = v & (O_NONBLOCK_FREEBSD | O_NONBLOCK_LINUX) != 0;
                                if want_nb == s.nonblocking {
                                    done(v)
                                } else {
                                    done(O_RDWR | nb)
                                }
                            }
                            _ => done(O_RDWR | nb),
                        }
                    }
                    "F_SETFL" => {
                        s.nonblocking = args.get(2).is_some_and(|a| has_symbol(a, "O_NONBLOCK"));
                        done(0)
                    }
                    other => not_run(format!("fcntl {other}")),
                }
            }
            "ioctl" => {
                let fd = self.fd_arg(call)?;
                let cmd = args.get(1).and_then(symbol_of).unwrap_or("");
                if !matches!(cmd, "SIOCINQ" | "FIONREAD") {
                    return not_run(format!("ioctl {cmd}"));
                }
                let Some(id) = self.conn_of(fd) else {
                    return errno("ENOTCONN");
                };
                let ready = self.stack().recv_ready(id).unwrap_or(0) as i64;
                match args.get(2).and_then(int_of) {
                    Some(want) if want != ready => fail(
                        line,
                        format!("ioctl {cmd} = [{want}]"),
                        format!("ioctl {cmd} = [{ready}]"),
                    ),
                    _ => done(0),
                }
            }
            "setsockopt" => self.setsockopt(call),
            "getsockopt" => self.getsockopt(line, call),
            other => not_run(format!("syscall {other}")),
        }
    }
}
