//! A transparent TCP forwarder (feature `forward`): every connection an
//! [`AnyListener`] in deciding mode sees is first tried upstream, at the
//! destination the client dialled, with the host's own sockets; then the
//! client's SYN is accepted, refused or ignored to match, and the two
//! connections are relayed both ways.
//!
//! What crosses the relay: bytes, in order; a FIN on either side as a FIN on
//! the other (half-close: `shutdown(SHUT_WR)` on one end is end of stream at
//! the other while the reverse direction still flows); a reset on either
//! side as a reset on the other; an upstream that refuses as a client that
//! is refused (RST to its SYN); an upstream that cannot be reached in time
//! as a client whose SYNs go unanswered.
//!
//! An idle relay holds no buffer: bytes move between the host socket and
//! the connection's own send and receive rings in the core, in place (the
//! host socket is written from the receive ring and read into the send
//! ring), only while both sides are ready, and the rings free their memory
//! when they empty.

use crate::any::AnyListenOptions;
use crate::any_tokio::{AnyListener, PendingConn};
use crate::multi::Runtime;
use crate::runtime::Key;
use crate::socket::Conn;
use crate::tokio::TcpStream;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use synack_proto::{AnyDestination, Error, Shutdown};
use tokio::io::AsyncWrite;

/// Most bytes read from the host socket per step (one call, made while the
/// stack is held, so the driver waits at most for one such call: a copy of
/// some tens of µs).
const READ_STEP: usize = 128 * 1024;

/// Most bytes written to the host socket per step. Smaller than a read:
/// a write may carry the segments through the host's stack to a local
/// receiver within the call, all while the stack is held.
const WRITE_STEP: usize = 32 * 1024;

/// How to forward.
#[derive(Debug, Clone, Copy)]
pub struct ForwardOptions {
    /// How long an upstream connection may take before the client's SYN is
    /// ignored (its own retries then time out, as they would against an
    /// unreachable host).
    pub connect_timeout: Duration,
    /// The any-destination listener's backlog: pending SYNs (upstream
    /// connections being tried) and handshakes at once.
    pub backlog: usize,
    /// Send and receive buffer limit of each client connection. Rings grow
    /// to it only while data waits and free their memory when they empty,
    /// so a large limit costs an idle relay nothing; it lets a fast
    /// transfer keep more in flight between the relay's wake-ups.
    pub buffer: usize,
}

impl Default for ForwardOptions {
    fn default() -> ForwardOptions {
        ForwardOptions {
            connect_timeout: Duration::from_secs(10),
            backlog: crate::DEFAULT_BACKLOG,
            buffer: 4 << 20,
        }
    }
}

/// Listen on every destination of `dest` in deciding mode, as [`forward`]
/// does (the stack's connection settings with `opts.buffer`).
pub fn forward_listener(
    rt: &Runtime,
    dest: AnyDestination,
    opts: ForwardOptions,
) -> io::Result<AnyListener> {
    let mut cfg = rt.with_stack(|s, _| s.config().conn);
    cfg.send_buffer = opts.buffer;
    cfg.recv_buffer = opts.buffer;
    AnyListener::bind_with(
        rt,
        dest,
        AnyListenOptions {
            backlog: opts.backlog,
            config: Some(cfg),
            decide: true,
        },
    )
}

/// Listen on every destination of `dest` in deciding mode and forward each
/// connection to the destination its client dialled; runs until the
/// runtime stops. Must run inside a tokio runtime (relays are spawned tasks).
pub async fn forward(rt: &Runtime, dest: AnyDestination, opts: ForwardOptions) -> io::Result<()> {
    let listener = forward_listener(rt, dest, opts)?;
    forward_from(&listener, opts).await
}

/// [`forward`] on a listener already open in deciding mode.
pub async fn forward_from(listener: &AnyListener, opts: ForwardOptions) -> io::Result<()> {
    loop {
        let pending = listener.next_pending().await?;
        tokio::spawn(try_upstream(pending, opts.connect_timeout));
    }
}

/// Connect upstream first, then decide on the client's SYN; relay on success.
async fn try_upstream(pending: PendingConn, timeout: Duration) {
    let dest = pending.local_addr();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(dest)).await {
        Ok(Ok(upstream)) => match pending.accept().await {
            // The relay runs as its own task: this one's connect state is freed.
            Ok(client) => drop(tokio::spawn(Relay::new(client, upstream))),
            // The client never completed its handshake: close upstream quietly.
            Err(_) => drop(upstream),
        },
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            let _ = pending.refuse();
        }
        // Unreachable, timed out or failed otherwise: the client's SYNs stay unanswered.
        _ => {
            let _ = pending.ignore();
        }
    }
}

/// Which end a relay failed on.
#[derive(Debug)]
pub enum RelayEnd {
    /// The client's connection on synack.
    Client(io::Error),
    /// The upstream connection on the host's sockets.
    Upstream(io::Error),
}

/// What a relay moved before both directions ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayTotals {
    /// Bytes from the client to upstream.
    pub to_upstream: u64,
    /// Bytes from upstream to the client.
    pub to_client: u64,
}

/// Relays a synack stream and a host socket both ways until both directions
/// have ended (FIN each way) or one side fails: a reset or error on one side
/// resets the other, and the relay ends with the error ([`RelayEnd`]).
#[derive(Debug)]
pub struct Relay {
    client: Option<Arc<Conn>>,
    upstream: Option<tokio::net::TcpStream>,
    totals: RelayTotals,
    to_upstream_done: bool,
    to_client_done: bool,
}

impl Relay {
    /// A relay between `client` (synack) and `upstream` (a host socket).
    pub fn new(client: TcpStream, upstream: tokio::net::TcpStream) -> Relay {
        Relay {
            client: Some(Arc::clone(client.conn())),
            upstream: Some(upstream),
            totals: RelayTotals::default(),
            to_upstream_done: false,
            to_client_done: false,
        }
    }
}

/// Result of one relay step: which side failed.
type Step = Result<(), RelayEnd>;

/// What one step toward upstream did.
enum Moved {
    /// Bytes the host socket took (0: it took none, its buffer is full).
    Bytes(usize),
    /// The client's end of stream.
    End,
}

/// Move what the client sent to upstream in one call on the stack: the
/// host socket is written straight from the connection's receive buffer,
/// and exactly what it took is consumed (no copy of the relay's own).
/// Pending, with the task's waker registered, while nothing waits.
fn step_to_upstream(
    c: &Conn,
    up: &tokio::net::TcpStream,
    cx: &mut Context<'_>,
) -> Poll<Result<Moved, RelayEnd>> {
    let id = c.id;
    let r = ready!(c.shared.poll_call(Key::Conn(id), cx.waker(), |s, now| {
        s.recv_with(now, id, |data| {
            if data.is_empty() {
                return (0, Ok(Moved::End));
            }
            let data = &data[..data.len().min(WRITE_STEP)];
            match up.try_write(data) {
                Ok(w) => (w, Ok(Moved::Bytes(w))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => (0, Ok(Moved::Bytes(0))),
                Err(e) => (0, Err(e)),
            }
        })
    }))
    .map_err(RelayEnd::Client)?;
    Poll::Ready(r.map_err(RelayEnd::Upstream))
}

/// Move what upstream sent to the client in one call on the stack: the
/// host socket is read straight into the connection's send buffer.
/// `Some(0)` when the host socket had nothing after all, `None` at
/// upstream's end of stream; pending, with the task's waker registered,
/// while the send buffer is full.
fn step_to_client(
    c: &Conn,
    up: &tokio::net::TcpStream,
    cx: &mut Context<'_>,
) -> Poll<Result<Option<usize>, RelayEnd>> {
    let id = c.id;
    let r = ready!(c.shared.poll_call(Key::Conn(id), cx.waker(), |s, now| {
        s.send_with(now, id, |space| {
            let n = space.len().min(READ_STEP);
            match up.try_read(&mut space[..n]) {
                Ok(0) => (0, Ok(None)),
                Ok(n) => (n, Ok(Some(n))),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => (0, Ok(Some(0))),
                Err(e) => (0, Err(e)),
            }
        })
    }))
    .map_err(RelayEnd::Client)?;
    Poll::Ready(r.map_err(RelayEnd::Upstream))
}

impl Relay {
    fn poll_to_upstream(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        let (Some(c), Some(up)) = (self.client.as_deref(), self.upstream.as_mut()) else {
            return Poll::Ready(Ok(()));
        };
        loop {
            if let Err(e) = ready!(up.poll_write_ready(cx)) {
                return Poll::Ready(Err(RelayEnd::Upstream(e)));
            }
            match ready!(step_to_upstream(c, up, cx)) {
                Ok(Moved::Bytes(n)) => self.totals.to_upstream += n as u64,
                Ok(Moved::End) => {
                    // The client's FIN: half-close upstream (shutdown(SHUT_WR)).
                    return Pin::new(up).poll_shutdown(cx).map_err(RelayEnd::Upstream);
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_to_client(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        let (Some(c), Some(up)) = (self.client.as_deref(), self.upstream.as_ref()) else {
            return Poll::Ready(Ok(()));
        };
        loop {
            if let Err(e) = ready!(up.poll_read_ready(cx)) {
                return Poll::Ready(Err(RelayEnd::Upstream(e)));
            }
            match ready!(step_to_client(c, up, cx)) {
                Ok(Some(n)) => self.totals.to_client += n as u64,
                Ok(None) => {
                    // Upstream's FIN: half-close toward the client.
                    let id = c.id;
                    let r = c.call(|s, now| s.shutdown(now, id, Shutdown::Write));
                    return Poll::Ready(r.map_err(RelayEnd::Client));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// One side failed: reset the other, and let both go.
    fn fail(&mut self, e: RelayEnd) -> RelayEnd {
        match &e {
            RelayEnd::Client(_) => {
                if let Some(up) = self.upstream.take() {
                    // SO_LINGER 0: closing sends a RST instead of a FIN.
                    #[allow(deprecated)]
                    let _ = up.set_linger(Some(Duration::ZERO));
                }
            }
            RelayEnd::Upstream(_) => {
                if let Some(c) = self.client.take() {
                    let id = c.id;
                    let _ = c.call(|s, now| s.abort(now, id).map_err(|_| Error::InvalidHandle));
                }
            }
        }
        self.client = None;
        self.upstream = None;
        e
    }
}

impl Future for Relay {
    type Output = Result<RelayTotals, RelayEnd>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if !this.to_upstream_done {
            match this.poll_to_upstream(cx) {
                Poll::Ready(Ok(())) => this.to_upstream_done = true,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(this.fail(e))),
                Poll::Pending => {}
            }
        }
        if !this.to_client_done {
            match this.poll_to_client(cx) {
                Poll::Ready(Ok(())) => this.to_client_done = true,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(this.fail(e))),
                Poll::Pending => {}
            }
        }
        if this.to_upstream_done && this.to_client_done {
            this.client = None;
            this.upstream = None;
            return Poll::Ready(Ok(this.totals));
        }
        Poll::Pending
    }
}
