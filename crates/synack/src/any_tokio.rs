//! The async twins of [`crate::AnyListener`] and [`crate::PendingConn`],
//! re-exported as [`crate::tokio::AnyListener`] and
//! [`crate::tokio::PendingConn`].

use crate::any::{handshake_progress, mode_error, no_connection, AnyListenOptions, Pending};
use crate::multi::Runtime;
use crate::runtime::Key;
use crate::tokio::TcpStream;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use synack_proto::{AnyDestination, Decision, ListenerId, ListenerStatus};

/// An async listener for any destination. Dropping it stops listening.
#[derive(Debug)]
pub struct AnyListener {
    h: crate::any::AnyHandle,
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
            h: crate::any::AnyHandle::bind(rt, dest, opts)?,
        })
    }

    /// Poll for the next connection (not in deciding mode).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        if self.h.decide {
            return Poll::Ready(Err(mode_error(
                "accept",
                "a deciding listener: use next_pending",
            )));
        }
        let id = self.h.id;
        self.h
            .shared
            .poll_call(Key::Listener(id), cx.waker(), |s, _| {
                let c = s.accept(id)?;
                Ok((c, s.tuple(c)?.remote))
            })
            .map_ok(|(c, peer)| (TcpStream::from_parts(Arc::clone(&self.h.shared), c), peer))
    }

    /// Wait for the next connection; the stream's `local_addr()` is the
    /// destination the client dialled.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Poll for the next SYN (deciding mode).
    pub fn poll_next_pending(&self, cx: &mut Context<'_>) -> Poll<io::Result<PendingConn>> {
        if !self.h.decide {
            return Poll::Ready(Err(mode_error(
                "next_pending",
                "a listener that does not decide: use accept",
            )));
        }
        let l = self.h.id;
        self.h
            .shared
            .poll_call(Key::Listener(l), cx.waker(), |s, now| {
                s.next_pending(now, l)
            })
            .map_ok(|syn| {
                PendingConn(Pending {
                    shared: Arc::clone(&self.h.shared),
                    listener: l,
                    syn,
                    decided: false,
                })
            })
    }

    /// Wait for the next SYN (deciding mode).
    pub async fn next_pending(&self) -> io::Result<PendingConn> {
        poll_fn(|cx| self.poll_next_pending(cx)).await
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

/// A SYN waiting for the application's decision (async). Dropping it
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
    pub async fn accept(mut self) -> io::Result<TcpStream> {
        let id = self.0.decide(Decision::Accept)?.ok_or_else(no_connection)?;
        let shared = Arc::clone(&self.0.shared);
        let stream = TcpStream::from_parts(Arc::clone(&shared), id);
        poll_fn(|cx| shared.poll_call(Key::Conn(id), cx.waker(), |s, _| handshake_progress(s, id)))
            .await?;
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
