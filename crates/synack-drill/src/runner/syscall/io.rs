//! Data syscalls: `read`/`recv`/`recvfrom` and `write`/`send`/`sendto`
//! (`recvmsg` and `sendmsg` in `msg`).

use synack_proto::Error;

use crate::ast::{Expr, SyscallEvent};
use crate::runner::expr::{fmt_expr, has_symbol, int_of, symbol_of};
use crate::runner::socket::SockKind;
use crate::runner::{not_run, Res, Runner};

use super::fastopen::FoSend;
use super::{conn_errno, done, errno, errno_of, send_flags, Attempt};

impl Runner<'_> {
    /// `read`/`recv`/`recvfrom` (with `MSG_PEEK`): up to the requested count of
    /// what the connection has received, or block.
    pub(super) fn read(&mut self, call: &SyscallEvent) -> Res<Attempt> {
        let args = &call.args;
        let fd = self.fd_arg(call)?;
        let n = args.get(2).and_then(int_of).unwrap_or(0).max(0) as usize;
        let flags = if call.name == "read" {
            None
        } else {
            args.get(3)
        };
        self.read_n(fd, n, flags, null_buffer(call))
    }

    /// Reads up to `n` bytes with recv `flags` (0 or `MSG_PEEK`) into a
    /// buffer (`null`: the null pointer).
    pub(super) fn read_n(
        &mut self,
        fd: i64,
        n: usize,
        flags: Option<&Expr>,
        null: bool,
    ) -> Res<Attempt> {
        let peek = flags.is_some_and(|f| has_symbol(f, "MSG_PEEK"));
        if let Some(f) = flags {
            if !matches!(f, Expr::Int(0)) && !matches!(f, Expr::Symbol(s) if s == "MSG_PEEK") {
                return not_run(format!("recv flags {}", fmt_expr(f)));
            }
        }
        let Some(s) = self.sockets.get(&fd).cloned() else {
            return errno("EBADF");
        };
        let SockKind::Conn(id) = s.kind else {
            return errno("ENOTCONN");
        };
        if n > 0 && null {
            // The bytes stay queued: nothing could be copied out.
            return errno("EFAULT");
        }
        let now = self.at();
        let stack = self.stack();
        // The script's count is input: allocate no more than can be read
        // now (at least one byte, so an empty buffer still blocks).
        let ready = stack.recv_ready(id).unwrap_or(0).max(1);
        let mut buf = vec![0u8; n.min(ready)];
        let r = stack.recv(now, id, &mut buf, peek);
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

    /// `write`/`send`/`sendto`: queue the requested count, blocking sockets
    /// until all of it is in the send buffer.
    pub(super) fn write(
        &mut self,
        call: &SyscallEvent,
        progress: &mut usize,
        retry: bool,
    ) -> Res<Attempt> {
        let args = &call.args;
        let fd = self.fd_arg(call)?;
        let n = args.get(2).and_then(int_of).unwrap_or(0).max(0) as usize;
        let flags = if call.name == "write" {
            None
        } else {
            args.get(3)
        };
        let how = SendCall {
            retry,
            unspec: call.name == "sendto" && args.get(4).and_then(symbol_of) == Some("AF_UNSPEC"),
        };
        self.write_n(fd, n, flags, null_buffer(call), progress, how)
    }

    /// Queues `n` bytes with send `flags` from a buffer (`null`: the null
    /// pointer), `progress` of them already queued by earlier attempts.
    pub(super) fn write_n(
        &mut self,
        fd: i64,
        n: usize,
        flags: Option<&Expr>,
        null: bool,
        progress: &mut usize,
        how: SendCall,
    ) -> Res<Attempt> {
        let f = send_flags::parse(flags)?;
        let Some(nonblocking) = self.sockets.get(&fd).map(|s| s.nonblocking || f.dontwait) else {
            return errno("EBADF");
        };
        let fo = FoSend {
            flags: f,
            nonblocking,
            unspec: how.unspec,
            retry: how.retry,
            null,
        };
        if let Some(a) = self.fastopen_send(fd, n, &fo, progress)? {
            return Ok(a);
        }
        let Some(s) = self.sockets.get(&fd).cloned() else {
            return errno("EBADF");
        };
        let SockKind::Conn(id) = s.kind else {
            // Linux's sk_stream_wait_connect: EPIPE outside a connection;
            // FreeBSD's sosend: ENOTCONN.
            return errno(if self.freebsd { "ENOTCONN" } else { "EPIPE" });
        };
        if let Some(e) = self.take_error(fd) {
            return errno(e);
        }
        if n > 0 && null {
            return errno("EFAULT");
        }
        let now = self.at();
        // The script's count is input: allocate no more than the send
        // buffer takes now (at least one byte, so a full buffer blocks).
        let room = self.stack().send_room(id).unwrap_or(0).max(1);
        let want = n.saturating_sub(*progress).min(room);
        let buf = vec![0u8; want];
        self.apply_more(fd, f);
        // The record ends with this attempt only if it queues the call's last octet.
        let sent = if f.eor && *progress + want >= n {
            self.stack().send_record(now, id, &buf)
        } else {
            self.stack().send(now, id, &buf)
        };
        match sent {
            Ok(k) => {
                *progress += k;
                if *progress >= n || nonblocking {
                    done(*progress as i64)
                } else {
                    Ok(Attempt::Block)
                }
            }
            Err(Error::WouldBlock) if nonblocking => {
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
}

/// How a send was called, beyond its count and flags.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SendCall {
    /// A blocked call tried again.
    pub(super) retry: bool,
    /// `sendto` to an `AF_UNSPEC` address.
    pub(super) unspec: bool,
}

/// The call's buffer is the null pointer (`NULL`): a socket call copying
/// bytes to or from it fails with EFAULT before touching the connection.
fn null_buffer(call: &SyscallEvent) -> bool {
    matches!(call.args.get(1), Some(Expr::Symbol(s)) if s == "NULL")
}
