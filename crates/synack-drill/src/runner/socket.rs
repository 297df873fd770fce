//! The runner's socket table: what each of the script's file descriptors
//! stands for (a fresh socket, a listener or a connection) and the options
//! set on it.

use std::net::SocketAddr;

use synack_proto::{BindId, ConnConfig, ConnId, Duration, Keepalive, ListenerId};

use super::syscall::conn_errno;
use super::Runner;

/// Keepalive parameters kept per socket whether keepalive is on or off.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeepParams {
    pub(super) idle: Duration,
    pub(super) interval: Duration,
    pub(super) count: u32,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum SockKind {
    Fresh,
    Listener(ListenerId),
    Conn(ConnId),
}

#[derive(Debug, Clone)]
pub(super) struct Socket {
    pub(super) kind: SockKind,
    pub(super) nonblocking: bool,
    pub(super) cfg: ConnConfig,
    pub(super) keep: KeepParams,
    pub(super) keep_on: bool,
    pub(super) linger_zero: bool,
    pub(super) bound: Option<SocketAddr>,
    /// The stack's binding of `bound` while the socket neither listens nor connects.
    pub(super) bind_id: Option<BindId>,
    pub(super) err_reported: bool,
    /// `TCP_INQ`: `recvmsg` says how many bytes are left to read.
    pub(super) inq: bool,
    /// `SO_ZEROCOPY` was set (zero-copy sends are copies in synack).
    pub(super) zerocopy: bool,
    /// The last send had `MSG_MORE`: the connection is corked for it.
    pub(super) more: bool,
    /// `TCP_FASTOPEN`: the Fast Open queue its listener gets.
    pub(super) fastopen_queue: Option<usize>,
    /// `TCP_NOTSENT_LOWAT` as set (0: unset, the sysctl's mark applies).
    pub(super) notsent_lowat: i64,
    /// `TCP_FASTOPEN_CONNECT`: `connect` defers the SYN to the first write.
    pub(super) fastopen_connect: bool,
    /// `TCP_FASTOPEN_KEY`: the cookie keys its listener gets.
    pub(super) fastopen_keys: Option<synack_proto::FastOpenKeys>,
    /// `IP_MTU_DISCOVER` / `IPV6_MTU_DISCOVER` as set (Linux's
    /// `IP_PMTUDISC_*` number; `IP_PMTUDISC_WANT`, 1, unset).
    pub(super) pmtudisc: i64,
}

/// Linux's `IP_PMTUDISC_WANT`, the default.
pub(super) const PMTUDISC_WANT: i64 = 1;
/// Linux's `IP_PMTUDISC_DO`: DF set, the path MTU followed.
pub(super) const PMTUDISC_DO: i64 = 2;

impl Runner<'_> {
    fn sock(&self, fd: i64) -> Option<&Socket> {
        self.sockets.get(&fd)
    }

    pub(super) fn conn_of(&self, fd: i64) -> Option<ConnId> {
        match self.sock(fd)?.kind {
            SockKind::Conn(id) => Some(id),
            _ => None,
        }
    }

    pub(super) fn new_socket(&self) -> Socket {
        let cfg = self.stack_cfg.conn;
        Socket {
            kind: SockKind::Fresh,
            nonblocking: false,
            cfg,
            keep: self.keep_defaults,
            keep_on: false,
            linger_zero: false,
            bound: None,
            bind_id: None,
            err_reported: false,
            inq: false,
            zerocopy: false,
            more: false,
            fastopen_queue: None,
            notsent_lowat: 0,
            fastopen_connect: false,
            fastopen_keys: None,
            pmtudisc: PMTUDISC_WANT,
        }
    }

    pub(super) fn sock_cfg(s: &Socket) -> ConnConfig {
        let mut cfg = s.cfg;
        cfg.keepalive = s.keep_on.then_some(Keepalive {
            idle: s.keep.idle,
            interval: s.keep.interval,
            count: s.keep.count,
        });
        cfg
    }

    /// Socket `fd` opened connection `id`: it takes any binding over, and
    /// packets and `%{ }%` blocks are about it from now on.
    pub(super) fn adopt_conn(&mut self, fd: i64, id: ConnId) {
        if let Some(sm) = self.sockets.get_mut(&fd) {
            sm.kind = SockKind::Conn(id);
            sm.bind_id = None;
        }
        self.current = Some(id);
        if let Some(t) = self.stack.as_ref().and_then(|st| st.tuple(id).ok()) {
            self.current_tuple = Some((t.remote.port(), t.local.port()));
        }
        self.subject_fd = Some(fd);
    }

    /// The connection error an application would see now, once.
    pub(super) fn take_error(&mut self, fd: i64) -> Option<&'static str> {
        let id = self.conn_of(fd)?;
        let err = self.stack.as_ref()?.conn_error(id).ok().flatten()?;
        let s = self.sockets.get_mut(&fd)?;
        if s.err_reported {
            return None;
        }
        s.err_reported = true;
        Some(conn_errno(err))
    }
}
