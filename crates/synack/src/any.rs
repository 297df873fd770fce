//! Listening on any destination, as a transparent proxy's TCP engine does:
//! [`AnyListener`] takes connections to every address of a set of prefixes
//! and every port of a range arriving on the device (see
//! [`synack_proto::Stack::listen_any`]); each accepted stream's
//! `local_addr()` is the address and port the client dialled. In deciding
//! mode ([`AnyListenOptions::decide`]) each SYN is first handed over as a
//! [`PendingConn`], to accept, refuse (RST: the client sees "connection
//! refused") or ignore, for example after trying the upstream connection.
//!
//! The blocking types are here; [`crate::tokio::AnyListener`] and
//! [`crate::tokio::PendingConn`] are their async twins.

use crate::multi::Runtime;
use crate::runtime::{Key, Shared};
use crate::socket::DEFAULT_BACKLOG;
use crate::TcpStream;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use synack_proto::{
    AnyDestination, ConnConfig, ConnId, Decision, Error, ListenerId, ListenerStatus, PendingSyn,
    Stack, State,
};

/// How to listen on any destination.
#[derive(Debug, Clone, Copy)]
pub struct AnyListenOptions {
    /// Entries in the accept queue and in the SYN queue (pending connections
    /// count against the SYN queue).
    pub backlog: usize,
    /// Settings of the accepted connections (`None`: the stack's defaults).
    pub config: Option<ConnConfig>,
    /// Hand each SYN over as a pending connection before answering it.
    pub decide: bool,
}

impl Default for AnyListenOptions {
    fn default() -> AnyListenOptions {
        AnyListenOptions {
            backlog: DEFAULT_BACKLOG,
            config: None,
            decide: false,
        }
    }
}

/// Open an any-destination listener with `opts`.
pub(crate) fn start_listen_any(
    shared: &Shared,
    dest: AnyDestination,
    opts: AnyListenOptions,
) -> io::Result<ListenerId> {
    shared.call(|s, now| {
        let cfg = opts.config.unwrap_or(s.config().conn);
        let l = s.listen_any(dest, opts.backlog, opts.backlog, cfg)?;
        if opts.decide {
            if let Err(e) = s.set_decide_before_handshake(l, true) {
                let _ = s.close_listener(now, l);
                return Err(e);
            }
        }
        Ok(l)
    })
}

/// `Ok(())` once an accepted pending connection's handshake is done,
/// `WouldBlock` while it runs. A handshake the client never completes (its
/// half-open entry is gone) is `ConnectionAborted`.
pub(crate) fn handshake_progress(s: &mut Stack, id: ConnId) -> Result<(), Error> {
    match s.status(id) {
        Ok(st) => match (st.error, st.state) {
            (Some(e), _) => Err(Error::Connection(e)),
            (None, State::SynReceived) => Err(Error::WouldBlock),
            (None, State::Closed) => Err(Error::Connection(synack_proto::ConnError::Aborted)),
            _ => Ok(()),
        },
        Err(Error::InvalidHandle) => Err(Error::Connection(synack_proto::ConnError::Aborted)),
        Err(e) => Err(e),
    }
}

/// What both pending-connection types share: the entry and its listener.
pub(crate) struct Pending {
    pub(crate) shared: Arc<Shared>,
    pub(crate) listener: ListenerId,
    pub(crate) syn: PendingSyn,
    pub(crate) decided: bool,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("syn", &self.syn)
            .field("decided", &self.decided)
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// The address and port the client dialled.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.syn.tuple.local
    }

    /// The client's address and port.
    pub(crate) fn peer_addr(&self) -> SocketAddr {
        self.syn.tuple.remote
    }

    /// Make the decision (once).
    pub(crate) fn decide(&mut self, d: Decision) -> io::Result<Option<ConnId>> {
        self.decided = true;
        let (l, t) = (self.listener, self.syn.tuple);
        self.shared.call(|s, now| s.decide(now, l, t, d))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.decided {
            let _ = self.decide(Decision::Ignore);
        }
    }
}

/// One any-destination listener in the core, closed when dropped: what the
/// blocking and the tokio listener hold.
pub(crate) struct AnyHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: ListenerId,
    pub(crate) decide: bool,
}

impl std::fmt::Debug for AnyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnyListener").field("id", &self.id).finish()
    }
}

impl AnyHandle {
    /// Listen on `dest` on the runtime's one stack.
    pub(crate) fn bind(
        rt: &Runtime,
        dest: AnyDestination,
        opts: AnyListenOptions,
    ) -> io::Result<AnyHandle> {
        let shared = single_stack(rt)?;
        let id = start_listen_any(&shared, dest, opts)?;
        Ok(AnyHandle {
            shared,
            id,
            decide: opts.decide,
        })
    }

    pub(crate) fn status(&self) -> io::Result<ListenerStatus> {
        self.shared.call(|s, _| s.listener_status(self.id))
    }
}

impl Drop for AnyHandle {
    fn drop(&mut self) {
        let id = self.id;
        self.shared.with_inner(|i, now| {
            i.forget(Key::Listener(id));
            let _ = i.stack.close_listener(now, id);
        });
    }
}

/// A listener for any destination (blocking). Dropping it stops listening.
#[derive(Debug)]
pub struct AnyListener {
    h: AnyHandle,
}

impl AnyListener {
    /// Listen on every destination `dest` names, with the default backlog.
    pub fn bind(rt: &Runtime, dest: AnyDestination) -> io::Result<AnyListener> {
        Self::bind_with(rt, dest, AnyListenOptions::default())
    }

    /// Listen with options (backlog, settings, deciding mode).
    pub fn bind_with(
        rt: &Runtime,
        dest: AnyDestination,
        opts: AnyListenOptions,
    ) -> io::Result<AnyListener> {
        Ok(AnyListener {
            h: AnyHandle::bind(rt, dest, opts)?,
        })
    }

    /// Wait for the next connection; the stream's `local_addr()` is the
    /// destination the client dialled. (`InvalidInput` in deciding mode:
    /// use [`AnyListener::next_pending`].)
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        if self.h.decide {
            return Err(mode_error(
                "accept",
                "a deciding listener: use next_pending",
            ));
        }
        let l = self.h.id;
        let id = self
            .h
            .shared
            .block_call(Key::Listener(l), None, |s, _| s.accept(l))?;
        let stream = TcpStream::from_parts(Arc::clone(&self.h.shared), id);
        let peer = stream.peer_addr()?;
        Ok((stream, peer))
    }

    /// Wait for the next SYN (deciding mode); `InvalidInput` otherwise.
    pub fn next_pending(&self) -> io::Result<PendingConn> {
        if !self.h.decide {
            return Err(mode_error(
                "next_pending",
                "a listener that does not decide: use accept",
            ));
        }
        let l = self.h.id;
        let syn = self
            .h
            .shared
            .block_call(Key::Listener(l), None, |s, now| s.next_pending(now, l))?;
        Ok(PendingConn(Pending {
            shared: Arc::clone(&self.h.shared),
            listener: l,
            syn,
            decided: false,
        }))
    }

    /// The listener's queue lengths and counters (pending connections included).
    pub fn status(&self) -> io::Result<ListenerStatus> {
        self.h.status()
    }

    /// The listener handle in the core.
    pub fn id(&self) -> ListenerId {
        self.h.id
    }
}

/// A SYN waiting for the application's decision (blocking). Dropping it
/// undecided ignores it.
#[derive(Debug)]
pub struct PendingConn(Pending);

impl PendingConn {
    /// The address and port the client dialled.
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    /// The client's address and port.
    pub fn peer_addr(&self) -> SocketAddr {
        self.0.peer_addr()
    }

    /// Answer with a SYN,ACK and wait for the handshake: the stream, or
    /// `ConnectionAborted` when the client never completes it, `TimedOut`
    /// when the entry expired before the decision.
    pub fn accept(mut self) -> io::Result<TcpStream> {
        let id = self.0.decide(Decision::Accept)?.ok_or_else(no_connection)?;
        let shared = Arc::clone(&self.0.shared);
        let stream = TcpStream::from_parts(Arc::clone(&shared), id);
        shared.block_call(Key::Conn(id), None, |s, _| handshake_progress(s, id))?;
        Ok(stream)
    }

    /// Answer with a RST: the client sees "connection refused".
    pub fn refuse(mut self) -> io::Result<()> {
        self.0.decide(Decision::Refuse).map(|_| ())
    }

    /// Answer nothing, now or to the client's retransmitted SYNs.
    pub fn ignore(mut self) -> io::Result<()> {
        self.0.decide(Decision::Ignore).map(|_| ())
    }
}

pub(crate) fn no_connection() -> io::Error {
    io::Error::other("accepting a pending connection made none")
}

/// The error of a call the listener's mode does not allow.
pub(crate) fn mode_error(call: &str, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{call} on {why}"))
}

/// The one stack of a single-queue runtime: an any-destination listener is
/// not yet spread over the stacks of several queues, so it refuses such a
/// runtime with `Unsupported` rather than miss the SYNs other queues get.
pub(crate) fn single_stack(rt: &Runtime) -> io::Result<std::sync::Arc<Shared>> {
    let mut stacks = rt.stacks();
    if stacks.len() != 1 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "an any-destination listener needs a runtime with one queue (RuntimeConfig::queues = 1)",
        ));
    }
    stacks
        .pop()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the runtime has no stack"))
}
