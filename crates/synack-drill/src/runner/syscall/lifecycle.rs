//! Socket lifecycle syscalls: `socket`, `bind`, `listen`, `accept`, `connect`,
//! `close` and `shutdown`.

use std::net::SocketAddr;

use synack_proto::{Error, Shutdown, State};

use crate::ast::{Expr, SyscallEvent};
use crate::runner::expr::int_of;
use crate::runner::socket::SockKind;
use crate::runner::{not_run, Res, Runner};

use super::{conn_errno, done, errno, errno_of, Attempt};

impl Runner<'_> {
    /// `socket`: a fresh socket under the descriptor number the script expects.
    pub(super) fn socket(&mut self, call: &SyscallEvent) -> Res<Attempt> {
        let Some(fd) = int_of(&call.result.value) else {
            return not_run("socket() without a descriptor number");
        };
        let s = self.new_socket();
        self.sockets.insert(fd, s);
        done(fd)
    }

    /// `bind`: the script's local address and `--bind_port`.
    pub(super) fn bind(&mut self, call: &SyscallEvent) -> Res<Attempt> {
        let args = &call.args;
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

    /// `listen`: a listener on the bound (or the default) address.
    pub(super) fn listen(&mut self, call: &SyscallEvent) -> Res<Attempt> {
        let args = &call.args;
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
        let fastopen_queue = s.fastopen_queue;
        let socket_keys = s.fastopen_keys;
        match self.stack().listen(addr, backlog, cfg) {
            Ok(l) => {
                // Linux's tcp_fastopen 0x400: a Fast Open server with the
                // backlog as its queue; the sysctl's key for every listener.
                if let Some(q) = fastopen_queue {
                    let _ = self.stack().set_listener_fast_open(l, q);
                } else if self.fastopen_bits & 0x400 != 0 {
                    let _ = self.stack().set_listener_fast_open(l, backlog);
                }
                if let Some(keys) = socket_keys.or(self.fastopen_keys) {
                    let _ = self.stack().set_listener_fast_open_keys(l, Some(keys));
                }
                // The listener took the binding over.
                if let Some(s) = self.sockets.get_mut(&fd) {
                    s.kind = SockKind::Listener(l);
                    s.bind_id = None;
                }
                self.subject_fd = Some(fd);
                self.listener_got_syn = false;
                done(0)
            }
            Err(e) => errno(errno_of(e)),
        }
    }

    /// `accept`/`accept4`: the next established connection (blocking sockets
    /// wait for one).
    pub(super) fn accept(&mut self, call: &SyscallEvent) -> Res<Attempt> {
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

    /// `connect`: an active open to the remote address and `--connect_port`;
    /// blocking sockets wait for the handshake.
    pub(super) fn connect(
        &mut self,
        call: &SyscallEvent,
        progress: &mut usize,
        retry: bool,
    ) -> Res<Attempt> {
        let args = &call.args;
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
                // Linux: a connect whose SYN waits for the first write
                // (TCP_FASTOPEN_CONNECT) counts as connected.
                if stack.fast_open_deferred(id) {
                    return errno("EISCONN");
                }
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
                let opened = if s.fastopen_connect {
                    self.stack()
                        .connect_fast_open(now, s.bound, remote, cfg, None)
                        .map(|(id, _)| id)
                } else {
                    self.stack().connect(now, s.bound, remote, cfg)
                };
                match opened {
                    Ok(id) => {
                        self.adopt_conn(fd, id);
                        *progress = 1;
                        // Linux's tcp_fastopen_defer_connect: with a cookie
                        // cached, connect returns at once and sends nothing.
                        if self.stack().fast_open_deferred(id) {
                            return done(0);
                        }
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

    /// `close`: closes (or with a zero linger, aborts) whatever the descriptor
    /// stands for.
    pub(super) fn close(&mut self, call: &SyscallEvent) -> Res<Attempt> {
        let fd = self.fd_arg(call)?;
        if let Some(r) = self.epoll_close(fd) {
            return r;
        }
        let Some(s) = self.sockets.remove(&fd) else {
            return errno("EBADF");
        };
        for ep in self.epolls.values_mut() {
            ep.remove(&fd);
        }
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

    /// `shutdown`: `SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`.
    pub(super) fn shutdown(&mut self, call: &SyscallEvent) -> Res<Attempt> {
        let args = &call.args;
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
}
