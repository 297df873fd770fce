//! Listening on every stack of a runtime: one listener per stack (the
//! kernel's flow hash picks the stack a passive open lands on), accepting
//! from whichever has a connection ready. The blocking and the tokio
//! listeners both wrap a [`ListenerSet`].

use crate::multi::Runtime;
use crate::runtime::{thread_waker, Key, Shared};
use crate::socket::{each_addr, start_listen, ListenOptions};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use synack_proto::{ConnId, Error, ListenerId, ListenerStatus};

/// One listener on every stack of a runtime; accepts from any of them.
pub(crate) struct ListenerSet {
    parts: Vec<(Arc<Shared>, ListenerId)>,
    /// The stack asked first on the next accept, so no stack starves.
    next: AtomicUsize,
    pub(crate) local: SocketAddr,
}

impl ListenerSet {
    /// Listen on `addr` (the first of its addresses that works) on every stack.
    pub(crate) fn bind(
        rt: &Runtime,
        addr: impl ToSocketAddrs,
        opts: ListenOptions,
    ) -> io::Result<ListenerSet> {
        each_addr(addr, |a| {
            let mut set = ListenerSet {
                parts: Vec::new(),
                next: AtomicUsize::new(0),
                local: a,
            };
            // A failure drops `set`, closing the listeners opened so far.
            for shared in rt.stacks() {
                let id = start_listen(&shared, a, opts)?;
                set.parts.push((shared, id));
            }
            Ok(set)
        })
    }

    /// Accept from the first stack with a connection ready; when none has
    /// one, `waker` is registered with each and `Pending` returned.
    pub(crate) fn poll_accept(&self, waker: &Waker) -> Poll<io::Result<(Arc<Shared>, ConnId)>> {
        let n = self.parts.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed) % n.max(1);
        for i in 0..n {
            let Some((shared, l)) = self.parts.get((first + i) % n) else {
                continue;
            };
            let l = *l;
            match shared.poll_call(Key::Listener(l), waker, |s, _| s.accept(l)) {
                Poll::Ready(Ok(c)) => return Poll::Ready(Ok((Arc::clone(shared), c))),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }

    /// Accept without waiting (`WouldBlock` when no stack has a connection).
    pub(crate) fn try_accept(&self) -> io::Result<(Arc<Shared>, ConnId)> {
        let n = self.parts.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed) % n.max(1);
        for i in 0..n {
            let Some((shared, l)) = self.parts.get((first + i) % n) else {
                continue;
            };
            let l = *l;
            match shared.call(|s, _| s.accept(l)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return r.map(|c| (Arc::clone(shared), c)),
            }
        }
        Err(crate::error::to_io(Error::WouldBlock))
    }

    /// Wait for a connection on any stack.
    pub(crate) fn accept_blocking(&self) -> io::Result<(Arc<Shared>, ConnId)> {
        let waker = thread_waker();
        loop {
            match self.poll_accept(&waker) {
                Poll::Ready(r) => return r,
                Poll::Pending => std::thread::park(),
            }
        }
    }

    /// The listeners' queue lengths and counters, added over the stacks.
    pub(crate) fn status(&self) -> io::Result<ListenerStatus> {
        let mut all: Option<ListenerStatus> = None;
        for (shared, l) in &self.parts {
            let l = *l;
            let s = shared.call(|s, _| s.listener_status(l))?;
            all = Some(match all {
                None => s,
                Some(a) => add_status(a, &s),
            });
        }
        all.ok_or_else(|| crate::error::to_io(Error::InvalidState))
    }
}

fn add_status(mut a: ListenerStatus, b: &ListenerStatus) -> ListenerStatus {
    a.syn_queue += b.syn_queue;
    a.syn_queue_limit += b.syn_queue_limit;
    a.accept_queue += b.accept_queue;
    a.accept_queue_limit += b.accept_queue_limit;
    a.distinct_sources += b.distinct_sources;
    a.syns_received += b.syns_received;
    a.synack_retransmits += b.synack_retransmits;
    a.cookies_sent += b.cookies_sent;
    a.cookies_validated += b.cookies_validated;
    a.cookies_rejected += b.cookies_rejected;
    a.syns_dropped += b.syns_dropped;
    a.accept_overflows += b.accept_overflows;
    a.established += b.established;
    a.half_open_expired += b.half_open_expired;
    a
}

impl Drop for ListenerSet {
    fn drop(&mut self) {
        for (shared, id) in &self.parts {
            let id = *id;
            shared.with_inner(|i, now| {
                i.forget(Key::Listener(id));
                let _ = i.stack.close_listener(now, id);
            });
        }
    }
}
