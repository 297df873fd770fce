//! Async sockets for tokio: [`TcpListener`] and [`TcpStream`] have the calls
//! of `tokio::net`'s (async `bind` and `connect`, `split` and `into_split`,
//! `shutdown` through `AsyncWrite`), and the stream implements `AsyncRead`
//! and `AsyncWrite`, so codecs and HTTP servers run on synack unchanged.
//!
//! The driver is the runtime's own thread; these sockets only register
//! wakers, so they work on any tokio runtime (current-thread included).
//! Addresses are `std::net::ToSocketAddrs`: IP literals resolve at once, a
//! host name uses the system resolver and blocks the task while it does.

use crate::listeners::ListenerSet;
use crate::multi::Runtime;
use crate::runtime::{Key, Shared};
use crate::socket::{
    connect_progress, no_addresses, start_connect, start_connect_fast_open, Conn, ConnectOptions,
    ListenOptions,
};
use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use std::future::poll_fn;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use synack_proto::{ConnId, ConnStatus, Keepalive, Shutdown};

pub use crate::any_tokio::{AnyListener, PendingConn};

/// An async listening socket. On a runtime with several queues it listens
/// on every stack and accepts from any.
pub struct TcpListener {
    set: ListenerSet,
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.set.local)
            .finish()
    }
}

impl TcpListener {
    /// Listen on `addr` (the first of its addresses that works) with the
    /// default backlog ([`crate::DEFAULT_BACKLOG`]).
    pub async fn bind(rt: &Runtime, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::bind_with(rt, addr, ListenOptions::default()).await
    }

    /// Listen with a backlog and settings for the accepted connections.
    pub async fn bind_with(
        rt: &Runtime,
        addr: impl ToSocketAddrs,
        opts: ListenOptions,
    ) -> io::Result<TcpListener> {
        Ok(TcpListener {
            set: ListenerSet::bind(rt, addr, opts)?,
        })
    }

    /// Poll for the next connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match self.set.poll_accept(cx.waker()) {
            Poll::Ready(Ok((shared, c))) => {
                let stream = TcpStream::from_parts(shared, c);
                Poll::Ready(stream.peer_addr().map(|peer| (stream, peer)))
            }
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
        Ok(self.set.local)
    }

    /// The listener's queue lengths and counters (added over the stacks).
    pub fn status(&self) -> io::Result<synack_proto::ListenerStatus> {
        self.set.status()
    }
}

/// An async TCP connection. Dropping it closes it (FIN, or RST with unread data).
pub struct TcpStream {
    conn: Arc<Conn>,
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("id", &self.conn.id)
            .finish()
    }
}

impl TcpStream {
    crate::socket::conn_methods!();

    pub(crate) fn from_parts(shared: Arc<Shared>, id: ConnId) -> TcpStream {
        TcpStream {
            conn: Arc::new(Conn::new(shared, id)),
        }
    }

    #[cfg(feature = "forward")]
    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }

    /// Open a connection to `addr` (each of its addresses in turn) and wait
    /// for the handshake.
    pub async fn connect(rt: &Runtime, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        Self::connect_with(rt, addr, ConnectOptions::default()).await
    }

    /// Open a connection, giving up after `timeout` with `TimedOut` (or the error
    /// of an ICMP message about the attempt, such as host unreachable): the stack's
    /// connection-establishment timer ([`synack_proto::ConnConfig::establish_timeout`],
    /// FreeBSD's TCP_KEEPINIT) ends the attempt.
    pub async fn connect_timeout(
        rt: &Runtime,
        addr: &SocketAddr,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        let opts = ConnectOptions {
            timeout: Some(timeout),
            ..ConnectOptions::default()
        };
        Self::connect_with(rt, addr, opts).await
    }

    /// Open a connection with options (timeout, local address, settings):
    /// the same [`ConnectOptions`] as the blocking stream's.
    pub async fn connect_with(
        rt: &Runtime,
        addr: impl ToSocketAddrs,
        opts: ConnectOptions,
    ) -> io::Result<TcpStream> {
        Self::connect_maybe_with_data(rt, addr, opts, None).await
    }

    /// Open a connection with TCP Fast Open (RFC 7413) and send `data` on
    /// it: the SYN carries `data` when a cookie from an earlier connection
    /// to the peer is cached, else it asks for one and `data` follows the
    /// handshake. Resolves once the handshake is done and all of `data` is
    /// queued; as the blocking [`crate::TcpStream::connect_with_data`].
    pub async fn connect_with_data(
        rt: &Runtime,
        addr: impl ToSocketAddrs,
        opts: ConnectOptions,
        data: &[u8],
    ) -> io::Result<TcpStream> {
        Self::connect_maybe_with_data(rt, addr, opts, Some(data)).await
    }

    async fn connect_maybe_with_data(
        rt: &Runtime,
        addr: impl ToSocketAddrs,
        opts: ConnectOptions,
        data: Option<&[u8]>,
    ) -> io::Result<TcpStream> {
        let shared = rt.stack_for_connect(opts.local);
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        let mut last = None;
        for a in addrs {
            match Self::connect_one(&shared, a, opts, data).await {
                Ok(s) => {
                    if data.is_some() {
                        rt.share_fast_open_cookie(&shared, a.ip());
                    }
                    return Ok(s);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_addresses))
    }

    async fn connect_one(
        shared: &Arc<Shared>,
        addr: SocketAddr,
        opts: ConnectOptions,
        data: Option<&[u8]>,
    ) -> io::Result<TcpStream> {
        let (id, taken) = match data {
            Some(d) => start_connect_fast_open(shared, addr, opts, d)?,
            None => (start_connect(shared, addr, opts)?, 0),
        };
        let stream = TcpStream::from_parts(Arc::clone(shared), id);
        poll_fn(|cx| shared.poll_call(Key::Conn(id), cx.waker(), |s, _| connect_progress(s, id)))
            .await?;
        // What the SYN did not carry follows the handshake.
        let mut rest = data.and_then(|d| d.get(taken..)).unwrap_or_default();
        while !rest.is_empty() {
            let n = poll_fn(|cx| poll_write(&stream.conn, cx, rest)).await?;
            rest = rest.get(n..).unwrap_or_default();
        }
        Ok(stream)
    }

    /// Borrowed read and write halves, usable at the same time (as
    /// `tokio::net::TcpStream::split`).
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf(&self.conn), WriteHalf(&self.conn))
    }

    /// Owned halves that can move to different tasks (as
    /// `tokio::net::TcpStream::into_split`). Dropping the write half shuts
    /// down writing (FIN); the connection closes when both are dropped.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (
            OwnedReadHalf(Arc::clone(&self.conn)),
            OwnedWriteHalf(self.conn),
        )
    }
}

fn poll_read(conn: &Conn, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
    let id = conn.id;
    let dst = buf.initialize_unfilled();
    if dst.is_empty() {
        return Poll::Ready(Ok(()));
    }
    match conn
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

fn poll_write(conn: &Conn, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let id = conn.id;
    conn.shared
        .poll_call(Key::Conn(id), cx.waker(), |s, now| s.send(now, id, buf))
}

/// `AsyncWrite::poll_shutdown`: the FIN goes after the queued data (as
/// `shutdown(Write)`); reading stays possible.
fn poll_shutdown(conn: &Conn) -> Poll<io::Result<()>> {
    let id = conn.id;
    Poll::Ready(conn.call(|s, now| s.shutdown(now, id, Shutdown::Write)))
}

/// Implement `AsyncRead` and `AsyncWrite` for a type that derefs to a `Conn`.
macro_rules! async_io {
    ($t:ty, read) => {
        impl AsyncRead for $t {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read(&self.0, cx, buf)
            }
        }
    };
    ($t:ty, write) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                poll_write(&self.0, cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                poll_shutdown(&self.0)
            }
        }
    };
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        poll_read(&self.conn, cx, buf)
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write(&self.conn, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        poll_shutdown(&self.conn)
    }
}

/// The read half of [`TcpStream::split`].
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a Conn);

/// The write half of [`TcpStream::split`].
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a Conn);

/// The read half of [`TcpStream::into_split`].
#[derive(Debug)]
pub struct OwnedReadHalf(Arc<Conn>);

/// The write half of [`TcpStream::into_split`]; dropping it sends the FIN.
#[derive(Debug)]
pub struct OwnedWriteHalf(Arc<Conn>);

async_io!(ReadHalf<'_>, read);
async_io!(WriteHalf<'_>, write);
async_io!(OwnedReadHalf, read);
async_io!(OwnedWriteHalf, write);

impl OwnedReadHalf {
    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}

impl OwnedWriteHalf {
    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.peer_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        // As tokio's: dropping the write half shuts down writing.
        let id = self.0.id;
        let _ = self.0.call(|s, now| s.shutdown(now, id, Shutdown::Write));
    }
}
