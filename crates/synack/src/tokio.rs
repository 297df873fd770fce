//! Async sockets for tokio: [`TcpListener`] and [`TcpStream`] implement the
//! same calls as `tokio::net`'s, and the stream implements `AsyncRead` and
//! `AsyncWrite`, so codecs and HTTP servers run on synack unchanged.
//!
//! The driver is the runtime's own thread; these sockets only register
//! wakers, so they work on any tokio runtime (current-thread included).

use crate::blocking::{connect_progress, with_establish_limit};
use crate::runtime::{Key, Runtime, Shared};
use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use synack_proto::{ConnConfig, ConnId, ConnStatus, Keepalive, ListenerId, Shutdown};

/// An async listening socket.
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

impl TcpListener {
    /// Listen on `addr` with the default backlog.
    pub fn bind(rt: &Runtime, addr: SocketAddr) -> io::Result<TcpListener> {
        Self::bind_with_backlog(rt, addr, crate::blocking::DEFAULT_BACKLOG)
    }

    /// Listen on `addr` with `backlog` entries in the accept and SYN queues.
    pub fn bind_with_backlog(
        rt: &Runtime,
        addr: SocketAddr,
        backlog: usize,
    ) -> io::Result<TcpListener> {
        Self::bind_with_config(rt, addr, backlog, None)
    }

    /// Listen with per-connection settings for accepted connections.
    pub fn bind_with_config(
        rt: &Runtime,
        addr: SocketAddr,
        backlog: usize,
        cfg: Option<ConnConfig>,
    ) -> io::Result<TcpListener> {
        let shared = rt.shared();
        let id = shared.call(|s, _| {
            let cfg = cfg.unwrap_or(s.config().conn);
            s.listen_with(addr, backlog, backlog, cfg)
        })?;
        Ok(TcpListener {
            shared,
            id,
            local: addr,
        })
    }

    /// Poll for the next connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let id = self.id;
        match self
            .shared
            .poll_call(Key::Listener(id), cx.waker(), |s, _| {
                let c = s.accept(id)?;
                Ok((c, s.tuple(c)?.remote))
            }) {
            Poll::Ready(Ok((c, peer))) => Poll::Ready(Ok((
                TcpStream::from_parts(Arc::clone(&self.shared), c),
                peer,
            ))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Wait for the next connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The address listened on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
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

/// An async TCP connection. Dropping it closes it (FIN, or RST with unread data).
pub struct TcpStream {
    shared: Arc<Shared>,
    id: ConnId,
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream").field("id", &self.id).finish()
    }
}

impl TcpStream {
    fn from_parts(shared: Arc<Shared>, id: ConnId) -> TcpStream {
        TcpStream { shared, id }
    }

    /// Open a connection and wait for the handshake.
    pub async fn connect(rt: &Runtime, addr: SocketAddr) -> io::Result<TcpStream> {
        Self::connect_with(rt, addr, None).await
    }

    /// Open a connection with per-connection settings.
    pub async fn connect_with(
        rt: &Runtime,
        addr: SocketAddr,
        cfg: Option<ConnConfig>,
    ) -> io::Result<TcpStream> {
        Self::open(rt, addr, cfg, None).await
    }

    /// Open a connection, giving up after `timeout` with `TimedOut` (or the error
    /// of an ICMP message about the attempt, such as host unreachable): the stack's
    /// connection-establishment timer ([`ConnConfig::establish_timeout`], FreeBSD's
    /// TCP_KEEPINIT) ends the attempt.
    pub async fn connect_timeout(
        rt: &Runtime,
        addr: SocketAddr,
        timeout: std::time::Duration,
    ) -> io::Result<TcpStream> {
        Self::open(rt, addr, None, Some(timeout)).await
    }

    async fn open(
        rt: &Runtime,
        addr: SocketAddr,
        cfg: Option<ConnConfig>,
        timeout: Option<std::time::Duration>,
    ) -> io::Result<TcpStream> {
        let shared = rt.shared();
        let id = shared.call(|s, now| {
            let cfg = with_establish_limit(cfg.unwrap_or(s.config().conn), timeout);
            s.connect_with(now, None, addr, cfg)
        })?;
        let stream = TcpStream::from_parts(Arc::clone(&shared), id);
        poll_fn(|cx| shared.poll_call(Key::Conn(id), cx.waker(), |s, _| connect_progress(s, id)))
            .await?;
        Ok(stream)
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

    /// TCP_NODELAY.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        let id = self.id;
        self.shared.call(|s, _| s.set_nodelay(id, nodelay))
    }

    /// Keepalive settings (`None`: off).
    pub fn set_keepalive(&self, k: Option<Keepalive>) -> io::Result<()> {
        let id = self.id;
        self.shared.call(|s, now| s.set_keepalive(now, id, k))
    }

    /// IP_TTL / IPV6_UNICAST_HOPS and the DSCP half of IP_TOS / IPV6_TCLASS for
    /// the segments this connection sends from now on (`ttl: None` is the stack
    /// default, 64; `dscp` is six bits, RFC 2474; the ECN bits stay the stack's).
    pub fn set_ip_options(&self, ttl: Option<u8>, dscp: u8) -> io::Result<()> {
        let id = self.id;
        self.shared.call(|s, _| s.set_ip_options(id, ttl, dscp))
    }

    /// A TCP_INFO-like snapshot.
    pub fn status(&self) -> io::Result<ConnStatus> {
        let id = self.id;
        self.shared.call(|s, _| s.status(id))
    }

    /// Shut down reading, writing or both.
    pub fn shutdown_std(&self, how: std::net::Shutdown) -> io::Result<()> {
        let how = match how {
            std::net::Shutdown::Read => Shutdown::Read,
            std::net::Shutdown::Write => Shutdown::Write,
            std::net::Shutdown::Both => Shutdown::Both,
        };
        let id = self.id;
        self.shared.call(|s, now| s.shutdown(now, id, how))
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let id = self.id;
        let dst = buf.initialize_unfilled();
        if dst.is_empty() {
            return Poll::Ready(Ok(()));
        }
        match self
            .shared
            .poll_call(Key::Conn(id), cx.waker(), |s, now| s.recv(now, id, dst))
        {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let id = self.id;
        self.shared
            .poll_call(Key::Conn(id), cx.waker(), |s, now| s.send(now, id, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let id = self.id;
        Poll::Ready(
            self.shared
                .call(|s, now| s.shutdown(now, id, Shutdown::Write)),
        )
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
