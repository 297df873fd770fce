//! Blocking sockets with the shape of `std::net`'s: addresses as
//! [`ToSocketAddrs`], setters on `&self`, `std::io::Error` kinds as std's
//! sockets report them.

use crate::listeners::ListenerSet;
use crate::multi::Runtime;
use crate::runtime::{Key, Shared};
use crate::socket::{
    connect_progress, each_addr, start_connect, start_connect_fast_open, Conn, ConnectOptions,
    ListenOptions,
};
use std::io::{self, Read, Write};
use std::net::{Shutdown as StdShutdown, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use synack_proto::{ConnId, ConnStatus, Error, Instant, Keepalive, Stack};

/// A listening socket on a synack runtime.
/// On a runtime with several queues it listens on every stack and accepts
/// from any.
pub struct TcpListener {
    set: ListenerSet,
    nonblocking: AtomicBool,
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
    pub fn bind(rt: &Runtime, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        Self::bind_with(rt, addr, ListenOptions::default())
    }

    /// Listen with a backlog and settings for the accepted connections.
    pub fn bind_with(
        rt: &Runtime,
        addr: impl ToSocketAddrs,
        opts: ListenOptions,
    ) -> io::Result<TcpListener> {
        Ok(TcpListener {
            set: ListenerSet::bind(rt, addr, opts)?,
            nonblocking: AtomicBool::new(false),
        })
    }

    /// Wait for the next connection (`WouldBlock` at once when nonblocking).
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (shared, id) = if self.nonblocking.load(Ordering::Relaxed) {
            self.set.try_accept()?
        } else {
            self.set.accept_blocking()?
        };
        let stream = TcpStream::from_parts(shared, id);
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// An iterator over accepted connections.
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<TcpStream>> + '_ {
        std::iter::from_fn(move || Some(self.accept().map(|(s, _)| s)))
    }

    /// O_NONBLOCK: `accept` returns `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
        Ok(())
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

/// A timeout kept in an atomic: nanoseconds, 0 for none.
#[derive(Debug, Default)]
struct Timeout(AtomicU64);

impl Timeout {
    fn set(&self, t: Option<Duration>) -> io::Result<()> {
        if t == Some(Duration::ZERO) {
            // As std: a zero timeout is an error, not "no timeout".
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "zero timeout"));
        }
        let ns = t.map_or(0, |t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
        self.0.store(ns, Ordering::Relaxed);
        Ok(())
    }

    fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    fn deadline(&self) -> Option<std::time::Instant> {
        self.get().map(|t| std::time::Instant::now() + t)
    }
}

/// A TCP connection on a synack runtime. Dropping it closes it like std
/// does: FIN after the queued data, or RST if unread data is waiting.
pub struct TcpStream {
    conn: Conn,
    read_timeout: Timeout,
    write_timeout: Timeout,
    nonblocking: AtomicBool,
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
            conn: Conn::new(shared, id),
            read_timeout: Timeout::default(),
            write_timeout: Timeout::default(),
            nonblocking: AtomicBool::new(false),
        }
    }

    /// Open a connection to `addr` (each of its addresses in turn, as std
    /// does) and wait for the handshake.
    pub fn connect(rt: &Runtime, addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        Self::connect_with(rt, addr, ConnectOptions::default())
    }

    /// Open a connection, giving up after `timeout` with `TimedOut` (or the
    /// error of an ICMP message about the attempt, such as host unreachable).
    pub fn connect_timeout(
        rt: &Runtime,
        addr: &SocketAddr,
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

    /// Open a connection with options (timeout, local address, settings).
    pub fn connect_with(
        rt: &Runtime,
        addr: impl ToSocketAddrs,
        opts: ConnectOptions,
    ) -> io::Result<TcpStream> {
        let shared = rt.stack_for_connect(opts.local);
        each_addr(addr, |a| Self::connect_one(&shared, a, opts, None))
    }

    /// Open a connection with TCP Fast Open (RFC 7413) and send `data` on
    /// it, as Linux's `sendto(MSG_FASTOPEN)` followed by writes of the rest.
    /// With a cookie from an earlier connection to the same peer, the SYN
    /// carries `data` (as much as one segment holds) and a Fast Open server
    /// answers one round trip sooner; without one the SYN asks for a cookie
    /// and `data` follows the handshake, as on a plain connection. Returns
    /// once the handshake is done and all of `data` is queued;
    /// [`TcpStream::fast_open`] then says whether the SYN's data was taken,
    /// and why not. Turns on the stack's client side of Fast Open.
    pub fn connect_with_data(
        rt: &Runtime,
        addr: impl ToSocketAddrs,
        opts: ConnectOptions,
        data: &[u8],
    ) -> io::Result<TcpStream> {
        let shared = rt.stack_for_connect(opts.local);
        let s = each_addr(addr, |a| Self::connect_one(&shared, a, opts, Some(data)))?;
        rt.share_fast_open_cookie(&shared, s.peer_addr()?.ip());
        Ok(s)
    }

    fn connect_one(
        shared: &Arc<Shared>,
        addr: SocketAddr,
        opts: ConnectOptions,
        data: Option<&[u8]>,
    ) -> io::Result<TcpStream> {
        let (id, taken) = match data {
            Some(d) => start_connect_fast_open(shared, addr, opts, d)?,
            None => (start_connect(shared, addr, opts)?, 0),
        };
        // From here on, dropping `stream` releases the handle.
        let stream = TcpStream::from_parts(Arc::clone(shared), id);
        let deadline = opts.timeout.map(|t| std::time::Instant::now() + t);
        match shared.block_call(Key::Conn(id), deadline, |s, _| connect_progress(s, id)) {
            Ok(()) => {
                // What the SYN did not carry follows the handshake.
                let rest = data.and_then(|d| d.get(taken..)).unwrap_or_default();
                (&stream).write_all(rest)?;
                Ok(stream)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                stream.conn.abort_quietly();
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection timed out",
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// Shut down reading, writing (FIN after the queued data) or both.
    pub fn shutdown(&self, how: StdShutdown) -> io::Result<()> {
        self.conn.shutdown(how)
    }

    /// Reset the connection now (RST), discarding queued data.
    pub fn abort(self) -> io::Result<()> {
        self.conn.abort()
    }

    /// SO_RCVTIMEO: reads give up with `WouldBlock` after this long
    /// (`Some(Duration::ZERO)` is `InvalidInput`, as in std).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.read_timeout.set(t)
    }

    /// SO_SNDTIMEO: writes give up with `WouldBlock` after this long.
    pub fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.write_timeout.set(t)
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.read_timeout.get())
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.write_timeout.get())
    }

    /// O_NONBLOCK: calls return `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
        Ok(())
    }

    /// Read without consuming (MSG_PEEK).
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let id = self.conn.id;
        self.io_call(&self.read_timeout, |s, now| s.peek(now, id, buf))
    }

    /// A read or write call: at once when nonblocking, else waiting (up to
    /// `timeout`) until it stops returning `WouldBlock`.
    fn io_call<T>(
        &self,
        timeout: &Timeout,
        mut f: impl FnMut(&mut Stack, Instant) -> Result<T, Error>,
    ) -> io::Result<T> {
        if self.nonblocking.load(Ordering::Relaxed) {
            return self.conn.call(f);
        }
        self.conn
            .shared
            .block_call(Key::Conn(self.conn.id), timeout.deadline(), |s, now| {
                f(s, now)
            })
    }
}

/// `read` for both `TcpStream` and `&TcpStream`.
fn read_impl(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    let id = stream.conn.id;
    stream.io_call(&stream.read_timeout, |s, now| s.recv(now, id, buf))
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
    if buf.is_empty() {
        return Ok(0);
    }
    let id = st.conn.id;
    st.io_call(&st.write_timeout, |s, now| s.send(now, id, buf))
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
