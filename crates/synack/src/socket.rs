//! What the blocking and the tokio sockets share: the options types, address
//! resolution as `std::net` does it, and a connection handle whose socket
//! options both stream types expose.

use crate::runtime::{Key, Shared};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use synack_proto::{
    ConnConfig, ConnError, ConnId, ConnStatus, Error, FastOpenStatus, Keepalive, Shutdown, Stack,
    State, DEFAULT_TTL,
};

/// The socket options and queries both stream types offer, each a call on
/// their `conn` (a [`Conn`], or an `Arc` of one): written once, expanded in
/// each type's `impl`.
macro_rules! conn_methods {
    () => {
        /// The peer's address.
        pub fn peer_addr(&self) -> io::Result<SocketAddr> {
            self.conn.peer_addr()
        }

        /// Our address.
        pub fn local_addr(&self) -> io::Result<SocketAddr> {
            self.conn.local_addr()
        }

        /// TCP_NODELAY: send small segments at once instead of waiting (Nagle off).
        pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
            self.conn.set_nodelay(nodelay)
        }

        /// Whether TCP_NODELAY is set.
        pub fn nodelay(&self) -> io::Result<bool> {
            self.conn.nodelay()
        }

        /// IP_TTL / IPV6_UNICAST_HOPS of the segments sent from now on (1 to 255).
        pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
            self.conn.set_ttl(ttl)
        }

        /// The TTL / hop limit of the segments this connection sends.
        pub fn ttl(&self) -> io::Result<u32> {
            self.conn.ttl()
        }

        /// SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT in one
        /// call (`None` turns keepalive off).
        pub fn set_keepalive(&self, k: Option<Keepalive>) -> io::Result<()> {
            self.conn.set_keepalive(k)
        }

        /// The keepalive settings (`None`: off).
        pub fn keepalive(&self) -> io::Result<Option<Keepalive>> {
            self.conn.keepalive()
        }

        /// TCP_USER_TIMEOUT.
        pub fn set_user_timeout(&self, t: Option<Duration>) -> io::Result<()> {
            self.conn.set_user_timeout(t)
        }

        /// IP_TTL / IPV6_UNICAST_HOPS and the DSCP half of IP_TOS / IPV6_TCLASS
        /// for the segments this connection sends from now on (`ttl: None` is
        /// the stack default, 64; `dscp` is six bits, RFC 2474; the ECN bits
        /// stay the stack's).
        pub fn set_ip_options(&self, ttl: Option<u8>, dscp: u8) -> io::Result<()> {
            self.conn.set_ip_options(ttl, dscp)
        }

        /// A TCP_INFO-like snapshot: state, sequence numbers, RTT, window, counters.
        pub fn status(&self) -> io::Result<ConnStatus> {
            self.conn.status()
        }

        /// Whether the connection used TCP Fast Open (RFC 7413) and, when
        /// it did not, why: a client whose SYN's data was acknowledged, or a
        /// server that took data from a SYN with a valid cookie, reports
        /// `Used`; a first connection that only asked for a cookie reports
        /// `NotUsed(CookieRequested)`. The same as `status()?.fast_open`.
        pub fn fast_open(&self) -> io::Result<synack_proto::FastOpenStatus> {
            self.conn.fast_open()
        }

        /// The connection handle in the core.
        pub fn id(&self) -> ConnId {
            self.conn.id
        }
    };
}
pub(crate) use conn_methods;

/// Default backlog, as Linux's `somaxconn`.
pub const DEFAULT_BACKLOG: usize = 4096;

/// How to open a connection: [`crate::TcpStream::connect_with`] and
/// [`crate::tokio::TcpStream::connect_with`] take the same options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectOptions {
    /// Give up after this long (`TimedOut`, or the error of an ICMP message
    /// about the attempt, such as host unreachable): the stack's connection-establishment
    /// timer ends the attempt (the shorter of this and the configuration's
    /// [`ConnConfig::establish_timeout`], FreeBSD's TCP_KEEPINIT). `None`: the
    /// SYN retries and `establish_timeout` decide.
    pub timeout: Option<Duration>,
    /// Local address or port to use.
    pub local: Option<SocketAddr>,
    /// Connection settings (`None`: the stack's defaults).
    pub config: Option<ConnConfig>,
}

/// The Fast Open queue of a listener whose caller names no length: at
/// most this many connections that took data on their SYN may wait for
/// the end of their handshake at once (RFC 7413 5.1 asks for a bound;
/// beyond it a SYN's data waits for a normal handshake).
pub const DEFAULT_FASTOPEN_QUEUE: usize = 16;

/// How to listen: [`crate::TcpListener::bind_with`] and
/// [`crate::tokio::TcpListener::bind_with`] take the same options.
#[derive(Debug, Clone, Copy)]
pub struct ListenOptions {
    /// Entries in the accept queue and in the SYN queue (`listen(2)`'s backlog).
    pub backlog: usize,
    /// Settings of the accepted connections (`None`: the stack's defaults).
    pub config: Option<ConnConfig>,
    /// TCP Fast Open (RFC 7413), as Linux's `TCP_FASTOPEN` socket option:
    /// `Some(queue)` makes the listener a Fast Open server that hands out
    /// cookies and takes the data of a SYN carrying a valid one, with at
    /// most `queue` such connections before their handshake ends
    /// ([`DEFAULT_FASTOPEN_QUEUE`] is a fair choice). Such a connection is
    /// accepted at once, its request readable before the handshake's last
    /// ACK arrives, so the response leaves one round trip earlier. The
    /// stack's [`synack_proto::FastOpenConfig::server`] is turned on for it.
    /// `None` (the default): no Fast Open.
    pub fast_open: Option<usize>,
}

impl Default for ListenOptions {
    fn default() -> ListenOptions {
        ListenOptions {
            backlog: DEFAULT_BACKLOG,
            config: None,
            fast_open: None,
        }
    }
}

/// Resolve `addr` as `std::net` does and try `f` on each address in turn,
/// returning the first success or the last error. Name lookups use the
/// system resolver and block; IP literals do not.
pub(crate) fn each_addr<T>(
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_addresses))
}

/// The error when an address resolves to nothing (as std's).
pub(crate) fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any addresses",
    )
}

/// `cfg` with its connection-establishment timeout shortened to `limit`.
pub(crate) fn with_establish_limit(mut cfg: ConnConfig, limit: Option<Duration>) -> ConnConfig {
    if let Some(t) = limit {
        cfg.establish_timeout = Some(cfg.establish_timeout.map_or(t, |e| e.min(t)));
    }
    cfg
}

/// `Ok(())` once the handshake is done, `WouldBlock` while it runs, the
/// connection's error when it failed.
pub(crate) fn connect_progress(s: &mut Stack, id: ConnId) -> Result<(), Error> {
    let st = s.status(id)?;
    if let Some(e) = st.error {
        return Err(Error::Connection(e));
    }
    match st.state {
        State::SynSent | State::SynReceived => Err(Error::WouldBlock),
        State::Closed | State::Listen => Err(Error::Connection(ConnError::Refused)),
        _ => Ok(()),
    }
}

/// Start an active open with `opts` (the handshake runs on the driver).
pub(crate) fn start_connect(
    shared: &Shared,
    addr: SocketAddr,
    opts: ConnectOptions,
) -> io::Result<ConnId> {
    shared.call(|s, now| {
        let cfg = with_establish_limit(opts.config.unwrap_or(s.config().conn), opts.timeout);
        s.connect_with(now, opts.local, addr, cfg)
    })
}

/// Start an active open with Fast Open (RFC 7413 4.2.1): `data` rides on
/// the SYN when the stack holds a cookie for the peer, else the SYN asks
/// for one. The stack's client side of Fast Open is turned on for it.
/// Returns the connection and how many bytes of `data` the SYN took.
pub(crate) fn start_connect_fast_open(
    shared: &Shared,
    addr: SocketAddr,
    opts: ConnectOptions,
    data: &[u8],
) -> io::Result<(ConnId, usize)> {
    shared.call(|s, now| {
        let mut fo = s.fast_open_config();
        if !fo.client {
            fo.client = true;
            s.set_fast_open_config(fo);
        }
        let cfg = with_establish_limit(opts.config.unwrap_or(s.config().conn), opts.timeout);
        s.connect_fast_open(now, opts.local, addr, cfg, Some(data))
    })
}

/// Open a listener with `opts` (a Fast Open server when they say so).
pub(crate) fn start_listen(
    shared: &Shared,
    addr: SocketAddr,
    opts: ListenOptions,
) -> io::Result<synack_proto::ListenerId> {
    shared.call(|s, _| {
        let cfg = opts.config.unwrap_or(s.config().conn);
        let l = s.listen_with(addr, opts.backlog, opts.backlog, cfg)?;
        if let Some(queue) = opts.fast_open {
            let mut fo = s.fast_open_config();
            if !fo.server {
                fo.server = true;
                s.set_fast_open_config(fo);
            }
            s.set_listener_fast_open(l, queue)?;
        }
        Ok(l)
    })
}

/// One connection of the core, as a socket: the options and queries both
/// stream types offer. Dropping it closes the connection like std does (FIN
/// after the queued data, or RST if unread data is waiting).
pub(crate) struct Conn {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: ConnId,
    /// Cleared by `abort`, which releases the handle itself.
    open: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("id", &self.id).finish()
    }
}

impl Conn {
    pub(crate) fn new(shared: Arc<Shared>, id: ConnId) -> Conn {
        Conn {
            shared,
            id,
            open: true,
        }
    }

    pub(crate) fn call<T>(
        &self,
        f: impl FnOnce(&mut Stack, synack_proto::Instant) -> Result<T, Error>,
    ) -> io::Result<T> {
        self.shared.call(f)
    }

    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        let id = self.id;
        self.call(|s, _| s.tuple(id)).map(|t| t.remote)
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        let id = self.id;
        self.call(|s, _| s.tuple(id)).map(|t| t.local)
    }

    pub(crate) fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        let how = match how {
            std::net::Shutdown::Read => Shutdown::Read,
            std::net::Shutdown::Write => Shutdown::Write,
            std::net::Shutdown::Both => Shutdown::Both,
        };
        let id = self.id;
        self.call(|s, now| s.shutdown(now, id, how))
    }

    pub(crate) fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let id = self.id;
        self.call(|s, _| s.set_nodelay(id, nodelay))
    }

    pub(crate) fn nodelay(&self) -> io::Result<bool> {
        let id = self.id;
        self.call(|s, _| s.conn_config(id)).map(|c| !c.nagle)
    }

    pub(crate) fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let ttl = u8::try_from(ttl)
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "TTL must be 1 to 255"))?;
        let id = self.id;
        self.call(|s, _| {
            let dscp = s.conn_config(id)?.dscp;
            s.set_ip_options(id, Some(ttl), dscp)
        })
    }

    pub(crate) fn ttl(&self) -> io::Result<u32> {
        let id = self.id;
        self.call(|s, _| s.conn_config(id))
            .map(|c| u32::from(c.ttl.unwrap_or(DEFAULT_TTL)))
    }

    pub(crate) fn set_keepalive(&self, k: Option<Keepalive>) -> io::Result<()> {
        let id = self.id;
        self.call(|s, now| s.set_keepalive(now, id, k))
    }

    pub(crate) fn keepalive(&self) -> io::Result<Option<Keepalive>> {
        let id = self.id;
        self.call(|s, _| s.conn_config(id)).map(|c| c.keepalive)
    }

    pub(crate) fn set_user_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        let id = self.id;
        self.call(|s, _| s.set_user_timeout(id, t))
    }

    pub(crate) fn set_ip_options(&self, ttl: Option<u8>, dscp: u8) -> io::Result<()> {
        let id = self.id;
        self.call(|s, _| s.set_ip_options(id, ttl, dscp))
    }

    pub(crate) fn status(&self) -> io::Result<ConnStatus> {
        let id = self.id;
        self.call(|s, _| s.status(id))
    }

    pub(crate) fn fast_open(&self) -> io::Result<FastOpenStatus> {
        let id = self.id;
        self.call(|s, _| s.fast_open_status(id))
    }

    /// Reset now; the handle is released, so the close in `Drop` is skipped.
    pub(crate) fn abort(mut self) -> io::Result<()> {
        let id = self.id;
        let r = self.call(|s, now| s.abort(now, id));
        self.shared.with_inner(|i, _| i.forget(Key::Conn(id)));
        self.open = false;
        r
    }

    /// Abort without reporting (a failed connect attempt).
    pub(crate) fn abort_quietly(&self) {
        let id = self.id;
        let _ = self.call(|s, now| s.abort(now, id));
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let id = self.id;
        self.shared.with_inner(|i, now| {
            i.forget(Key::Conn(id));
            let _ = i.stack.close(now, id);
        });
    }
}
