//! Blocking sockets with the shape of `std::net`'s.

use crate::runtime::{Key, Runtime, Shared};
use std::io::{self, Read, Write};
use std::net::{Shutdown as StdShutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use synack_proto::{
    ConnConfig, ConnError, ConnId, ConnStatus, Error, Keepalive, ListenerId, Shutdown, Stack, State,
};

/// A listening socket on a synack runtime.
pub struct TcpListener {
    shared: Arc<Shared>,
    id: ListenerId,
    local: SocketAddr,
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local)
            .finish()
    }
}

/// Default backlog, as Linux's `somaxconn`.
pub const DEFAULT_BACKLOG: usize = 4096;

impl TcpListener {
    /// Listen on `addr` with the default backlog.
    pub fn bind(rt: &Runtime, addr: SocketAddr) -> io::Result<TcpListener> {
        Self::bind_with_backlog(rt, addr, DEFAULT_BACKLOG)
    }

    /// Listen on `addr`; the accept queue and the SYN queue hold `backlog` entries each.
    pub fn bind_with_backlog(
        rt: &Runtime,
        addr: SocketAddr,
        backlog: usize,
    ) -> io::Result<TcpListener> {
        let shared = rt.shared();
        let id = shared.call(|s, _| s.listen(addr, backlog))?;
        Ok(TcpListener {
            shared,
            id,
            local: addr,
        })
    }

    /// Listen with per-connection settings for accepted connections.
    pub fn bind_with_config(
        rt: &Runtime,
        addr: SocketAddr,
        backlog: usize,
        cfg: ConnConfig,
    ) -> io::Result<TcpListener> {
        let shared = rt.shared();
        let id = shared.call(|s, _| s.listen_with(addr, backlog, backlog, cfg))?;
        Ok(TcpListener {
            shared,
            id,
            local: addr,
        })
    }

    /// Wait for the next connection.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let id = self
            .shared
            .block_call(Key::Listener(self.id), None, |s, _| s.accept(self.id))?;
        let stream = TcpStream::from_parts(Arc::clone(&self.shared), id);
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// Take a connection if one is ready (`WouldBlock` otherwise).
    pub fn try_accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let id = self.shared.call(|s, _| s.accept(self.id))?;
        let stream = TcpStream::from_parts(Arc::clone(&self.shared), id);
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// An iterator over accepted connections.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::from_fn(move || Some(self.accept().map(|(s, _)| s)))
    }

    /// The address listened on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// The listener's queue lengths and counters.
    pub fn status(&self) -> io::Result<synack_proto::ListenerStatus> {
        self.shared.call(|s, _| s.listener_status(self.id))
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        let id = self.id;
        self.shared.with_inner(|i, now| {
            i.forget(Key::Listener(id));
            let _ = i.stack.close_listener(now, id);
        });
    }
}

/// Options of [`TcpStream::connect_with`].
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

/// A TCP connection on a synack runtime. Dropping it closes it like std
/// does: FIN after the queued data, or RST if unread data is waiting.
pub struct TcpStream {
    shared: Arc<Shared>,
    id: ConnId,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    nonblocking: bool,
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream").field("id", &self.id).finish()
    }
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

impl TcpStream {
    pub(crate) fn from_parts(shared: Arc<Shared>, id: ConnId) -> TcpStream {
        TcpStream {
            shared,
            id,
            read_timeout: None,
            write_timeout: None,
            nonblocking: false,
        }
    }

    /// Open a connection to `addr` and wait for the handshake.
    pub fn connect(rt: &Runtime, addr: SocketAddr) -> io::Result<TcpStream> {
        Self::connect_with(rt, addr, ConnectOptions::default())
    }

    /// Open a connection, giving up after `timeout` with `TimedOut` (or the
    /// error of an ICMP message about the attempt, such as host unreachable).
    pub fn connect_timeout(
        rt: &Runtime,
        addr: SocketAddr,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        Self::connect_with(
            rt,
            addr,
            ConnectOptions {
                timeout: Some(timeout),
                ..ConnectOptions::default()
            },
        )
    }

    /// Open a connection with options.
    pub fn connect_with(
        rt: &Runtime,
        addr: SocketAddr,
        opts: ConnectOptions,
    ) -> io::Result<TcpStream> {
        let shared = rt.shared();
        let id = shared.call(|s, now| {
            let cfg = with_establish_limit(opts.config.unwrap_or(s.config().conn), opts.timeout);
            s.connect_with(now, opts.local, addr, cfg)
        })?;
        // From here on, dropping `stream` releases the handle.
        let stream = TcpStream::from_parts(Arc::clone(&shared), id);
        let deadline = opts.timeout.map(|t| std::time::Instant::now() + t);
        match shared.block_call(Key::Conn(id), deadline, |s, _| connect_progress(s, id)) {
            Ok(()) => Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                stream.abort_quietly();
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection timed out",
                ))
            }
            Err(e) => Err(e),
        }
    }

    fn abort_quietly(&self) {
        let id = self.id;
        let _ = self.shared.call(|s, now| s.abort(now, id));
    }

    fn deadline(t: Option<Duration>) -> Option<std::time::Instant> {
        t.map(|t| std::time::Instant::now() + t)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        let id = self.id;
        self.shared.call(|s, _| s.tuple(id)).map(|t| t.remote)
    }

    /// Our address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        let id = self.id;
        self.shared.call(|s, _| s.tuple(id)).map(|t| t.local)
    }

    /// Shut down reading, writing or both.
    pub fn shutdown(&self, how: StdShutdown) -> io::Result<()> {
        let how = match how {
            StdShutdown::Read => Shutdown::Read,
            StdShutdown::Write => Shutdown::Write,
            StdShutdown::Both => Shutdown::Both,
        };
        let id = self.id;
        self.shared.call(|s, now| s.shutdown(now, id, how))
    }

    /// Reset the connection now (RST), discarding queued data.
    pub fn abort(self) -> io::Result<()> {
        let id = self.id;
        let r = self.shared.call(|s, now| s.abort(now, id));
        // The handle is released by the abort; skip close in Drop.
        std::mem::forget(self);
        r
    }

    /// TCP_NODELAY.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let id = self.id;
        self.shared.call(|s, _| s.set_nodelay(id, nodelay))
    }

    /// SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT in one call
    /// (`None` turns keepalive off).
    pub fn set_keepalive(&self, k: Option<Keepalive>) -> io::Result<()> {
        let id = self.id;
        self.shared.call(|s, now| s.set_keepalive(now, id, k))
    }

    /// TCP_USER_TIMEOUT.
    pub fn set_user_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        let id = self.id;
        self.shared.call(|s, _| s.set_user_timeout(id, t))
    }

    /// IP_TTL / IPV6_UNICAST_HOPS and the DSCP half of IP_TOS / IPV6_TCLASS for
    /// the segments this connection sends from now on (`ttl: None` is the stack
    /// default, 64; `dscp` is six bits, RFC 2474; the ECN bits stay the stack's).
    pub fn set_ip_options(&self, ttl: Option<u8>, dscp: u8) -> io::Result<()> {
        let id = self.id;
        self.shared.call(|s, _| s.set_ip_options(id, ttl, dscp))
    }

    /// SO_RCVTIMEO: reads give up with `WouldBlock` after this long.
    pub fn set_read_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        if t == Some(Duration::ZERO) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "zero timeout"));
        }
        self.read_timeout = t;
        Ok(())
    }

    /// SO_SNDTIMEO: writes give up with `WouldBlock` after this long.
    pub fn set_write_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        if t == Some(Duration::ZERO) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "zero timeout"));
        }
        self.write_timeout = t;
        Ok(())
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.write_timeout
    }

    /// O_NONBLOCK: calls return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        self.nonblocking = nonblocking;
        Ok(())
    }

    /// A TCP_INFO-like snapshot: state, sequence numbers, RTT, window, counters.
    pub fn status(&self) -> io::Result<ConnStatus> {
        let id = self.id;
        self.shared.call(|s, _| s.status(id))
    }

    /// Read without consuming (MSG_PEEK).
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let id = self.id;
        if self.nonblocking {
            return self.shared.call(|s, now| s.peek(now, id, buf));
        }
        self.shared.block_call(
            Key::Conn(id),
            Self::deadline(self.read_timeout),
            |s, now| s.peek(now, id, buf),
        )
    }

    /// The connection handle in the core.
    pub fn id(&self) -> ConnId {
        self.id
    }
}

/// `read` for both `TcpStream` and `&TcpStream`.
fn read_impl(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let id = stream.id;
    if buf.is_empty() {
        return Ok(0);
    }
    if stream.nonblocking {
        return stream.shared.call(|s, now| s.recv(now, id, buf));
    }
    stream.shared.block_call(
        Key::Conn(id),
        TcpStream::deadline(stream.read_timeout),
        |s, now| s.recv(now, id, buf),
    )
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_impl(self, buf)
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_impl(self, buf)
    }
}

fn write_impl(st: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    let id = st.id;
    if buf.is_empty() {
        return Ok(0);
    }
    if st.nonblocking {
        return st.shared.call(|s, now| s.send(now, id, buf));
    }
    st.shared.block_call(
        Key::Conn(id),
        TcpStream::deadline(st.write_timeout),
        |s, now| s.send(now, id, buf),
    )
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_impl(self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_impl(self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let id = self.id;
        self.shared.with_inner(|i, now| {
            i.forget(Key::Conn(id));
            let _ = i.stack.close(now, id);
        });
    }
}
