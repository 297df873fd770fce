//! The user calls (RFC 9293 3.10): SEND, RECEIVE, CLOSE, ABORT, and socket
//! options changed on a live connection.

use super::timers::Timer;
use super::{Owner, SegCtx, Tcb};
use crate::config::Keepalive;
use crate::error::{ConnError, Error};
use crate::event::Cause;
use crate::stack::Readiness;
use crate::state::State;
use crate::time::{Duration, Instant};
use std::sync::Arc;

impl Tcb {
    // ----- user calls ----------------------------------------------------

    /// SEND (RFC 9293 3.10.2): queue data. Returns bytes queued.
    pub(crate) fn send(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(e) = self.error {
            return Err(Error::Connection(e));
        }
        if self.snd.fin_queued {
            return Err(Error::BrokenPipe);
        }
        match self.state {
            // SYN-SENT, SYN-RECEIVED: queue for transmission after entering ESTABLISHED.
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            State::Closed | State::Listen => return Err(Error::NotConnected),
            _ => return Err(Error::BrokenPipe),
        }
        let room = self.send_room();
        if room == 0 {
            return Err(Error::WouldBlock);
        }
        let n = room.min(data.len());
        self.snd.buf.extend(&data[..n]);
        Ok(n)
    }

    /// SEND in place: `f` writes into the send buffer's free space (a
    /// contiguous run, at most the room left, shorter while the buffer's
    /// memory grows) and says how many
    /// octets it wrote. The errors are [`Tcb::send`]'s.
    pub(crate) fn send_with<R>(
        &mut self,
        f: impl FnOnce(&mut [u8]) -> (usize, R),
    ) -> Result<R, Error> {
        if let Some(e) = self.error {
            return Err(Error::Connection(e));
        }
        if self.snd.fin_queued {
            return Err(Error::BrokenPipe);
        }
        match self.state {
            State::SynSent | State::SynReceived | State::Established | State::CloseWait => {}
            State::Closed | State::Listen => return Err(Error::NotConnected),
            _ => return Err(Error::BrokenPipe),
        }
        let room = self.send_room();
        if room == 0 {
            return Err(Error::WouldBlock);
        }
        let free = self.snd.buf.free_mut(room);
        let len = free.len();
        let (n, r) = f(free);
        self.snd.buf.commit(n.min(len));
        Ok(r)
    }

    /// RECEIVE in place: `f` reads the longest contiguous run of unread
    /// octets and says how many it consumed; at the end of the stream it
    /// gets the empty slice. The errors are [`Tcb::recv`]'s.
    pub(crate) fn recv_with<R>(
        &mut self,
        f: impl FnOnce(&[u8]) -> (usize, R),
        now: Instant,
    ) -> Result<R, Error> {
        if !self.rcv.buf.is_empty() {
            let (a, _) = self.rcv.buf.as_slices();
            let (n, r) = f(a);
            let n = n.min(a.len());
            if n > 0 {
                self.rcv.buf.drain(..n);
                self.maybe_window_update(now);
            }
            return Ok(r);
        }
        match self.recv(&mut [], false, now) {
            Ok(_) => Ok(f(&[]).1),
            Err(e) => Err(e),
        }
    }

    /// Room in the send buffer, and below the unsent-data mark if one is set
    /// (`ConnConfig::notsent_lowat`).
    pub(crate) fn send_room(&self) -> usize {
        let room = self.cfg.send_buffer.saturating_sub(self.snd.buf.len());
        match self.cfg.notsent_lowat {
            Some(mark) => room.min((mark as usize).saturating_sub(self.unsent_len())),
            None => room,
        }
    }

    /// Octets in the send buffer never sent: beyond SND.MAX (what a
    /// retransmission timeout rewinds SND.NXT over was sent once).
    pub(crate) fn unsent_len(&self) -> usize {
        // Before the SYN leaves, SND.MAX is ISS, one short of the data.
        let sent = self.snd.max.diff(self.data_seq0()).max(0) as usize;
        self.snd.buf.len().saturating_sub(sent)
    }

    /// Change the unsent-data mark (`None`: none).
    pub(crate) fn set_notsent_lowat(&mut self, mark: Option<u32>) {
        Arc::make_mut(&mut self.cfg).notsent_lowat = mark;
    }

    /// RECEIVE (RFC 9293 3.10.3): copy out in-order data. `Ok(0)` is end of stream.
    pub(crate) fn recv(
        &mut self,
        buf: &mut [u8],
        peek: bool,
        now: Instant,
    ) -> Result<usize, Error> {
        if !self.rcv.buf.is_empty() && !buf.is_empty() {
            let n = buf.len().min(self.rcv.buf.len());
            let (a, b) = self.rcv.buf.as_slices();
            let na = n.min(a.len());
            buf[..na].copy_from_slice(&a[..na]);
            if n > na {
                buf[na..n].copy_from_slice(&b[..n - na]);
            }
            if !peek {
                self.rcv.buf.drain(..n);
                self.maybe_window_update(now);
            }
            return Ok(n);
        }
        if let Some(e) = self.error {
            return Err(Error::Connection(e));
        }
        if self.rcv.fin_received || self.rcv.read_closed {
            return Ok(0);
        }
        match self.state {
            State::Closed | State::Listen => Err(Error::NotConnected),
            State::TimeWait | State::Closing | State::LastAck | State::CloseWait => Ok(0),
            _ => Err(Error::WouldBlock),
        }
    }

    /// Bytes ready to read.
    pub(crate) fn recv_ready(&self) -> usize {
        self.rcv.buf.len()
    }

    /// CLOSE of the sending side (shutdown(Write)); RFC 9293 3.10.4.
    pub(crate) fn shutdown_write(&mut self, ctx: &mut SegCtx<'_>) -> Result<(), Error> {
        if self.snd.fin_queued {
            return Ok(());
        }
        match self.state {
            State::SynSent => {
                // "Delete the TCB and return 'error: closing'": nothing was synchronized.
                self.set_state(State::Closed, Cause::Close, ctx);
            }
            State::SynReceived => {
                // Queue the FIN until ESTABLISHED; the state moves on the ACK of our SYN.
                self.queue_fin();
            }
            State::Established => {
                self.queue_fin();
                self.set_state(State::FinWait1, Cause::Close, ctx);
            }
            State::CloseWait => {
                self.queue_fin();
                self.set_state(State::LastAck, Cause::Close, ctx);
            }
            State::Closed | State::Listen => return Err(Error::NotConnected),
            _ => {}
        }
        Ok(())
    }

    /// shutdown(Read): later reads return end of stream.
    pub(crate) fn shutdown_read(&mut self) {
        self.rcv.read_closed = true;
        self.rcv.buf.clear();
    }

    /// close(): a graceful close, or an abort when unread data would be lost
    /// (RFC 2525 2.17, as Linux and BSD do; a Fast Open child holds data in
    /// SYN_RCVD, RFC 7413 4.2.2, and is aborted likewise).
    pub(crate) fn close(&mut self, ctx: &mut SegCtx<'_>) {
        self.owner = Owner::Orphan;
        let may_hold_data = self.state.is_synchronized() || self.state == State::SynReceived;
        if !self.rcv.buf.is_empty() && may_hold_data && self.state != State::TimeWait {
            self.abort(ctx);
            return;
        }
        let _ = self.shutdown_write(ctx);
        if self.state == State::FinWait2 {
            self.timers
                .set(Timer::FinWait2, ctx.now + self.cfg.fin_wait_2_timeout);
        }
    }

    /// ABORT (RFC 9293 3.10.5): send RST in synchronized states and SYN_RCVD, then CLOSED.
    pub(crate) fn abort(&mut self, ctx: &mut SegCtx<'_>) {
        match self.state {
            State::SynReceived
            | State::Established
            | State::FinWait1
            | State::FinWait2
            | State::CloseWait => {
                // <SEQ=SND.NXT><CTL=RST>
                self.rst_pending = Some((self.snd.max, super::Queued::Abort));
            }
            _ => {}
        }
        self.error.get_or_insert(ConnError::Aborted);
        self.set_state(State::Closed, Cause::Abort, ctx);
    }

    /// Change keepalive settings on a live connection.
    pub(crate) fn set_keepalive(&mut self, k: Option<Keepalive>, now: Instant) {
        Arc::make_mut(&mut self.cfg).keepalive = k;
        if self.state.is_synchronized() {
            self.arm_keepalive(now);
        }
    }

    /// Change the send buffer's size on a live connection (SO_SNDBUF after
    /// connect or accept). Bytes already queued stay queued; `send` takes
    /// more once the queue is below the new size.
    pub(crate) fn set_send_buffer(&mut self, bytes: usize) {
        Arc::make_mut(&mut self.cfg).send_buffer = bytes;
    }

    /// Change Nagle on a live connection.
    pub(crate) fn set_nodelay(&mut self, nodelay: bool) {
        Arc::make_mut(&mut self.cfg).nagle = !nodelay;
    }

    /// Change the user timeout.
    pub(crate) fn set_user_timeout(&mut self, t: Option<Duration>) {
        Arc::make_mut(&mut self.cfg).user_timeout = t;
    }

    /// Change how many SYN retransmissions connect makes (TCP_SYNCNT).
    pub(crate) fn set_syn_retries(&mut self, n: u32) {
        Arc::make_mut(&mut self.cfg).syn_retries = n;
    }

    /// Change the connection-establishment timeout; while the handshake runs the
    /// timer restarts from `now` (as FreeBSD's TCP_KEEPINIT setsockopt does).
    pub(crate) fn set_establish_timeout(&mut self, t: Option<Duration>, now: Instant) {
        Arc::make_mut(&mut self.cfg).establish_timeout = t;
        if matches!(self.state, State::SynSent | State::SynReceived) {
            self.arm_establish(now);
        }
    }

    /// What the application's calls on this connection would do without
    /// blocking (the conditions of `send` and `recv` above).
    pub(crate) fn readiness(&self) -> Readiness {
        let failed = self.error.is_some();
        // RFC 9293 3.10.3: RECEIVE returns data, or the end of the stream
        // once the peer's FIN was processed, or "connection closing".
        let readable = failed
            || self.recv_ready() > 0
            || self.rcv.fin_received
            || self.rcv.read_closed
            || !matches!(
                self.state,
                State::SynSent
                    | State::SynReceived
                    | State::Established
                    | State::FinWait1
                    | State::FinWait2
            );
        // RFC 9293 3.10.2: SEND queues data in ESTABLISHED and CLOSE-WAIT;
        // in every other state, or after our FIN, it returns an error at
        // once. Before the handshake completes a socket is not writable (as
        // POSIX connect), so writability also says a connect finished.
        let writable = match self.state {
            State::Established | State::CloseWait => {
                failed || self.snd.fin_queued || self.send_room() > 0
            }
            State::SynSent | State::SynReceived => failed,
            _ => true,
        };
        let closed = failed || self.state == State::Closed;
        let mut r = Readiness::NONE;
        if readable {
            r = r | Readiness::READABLE;
        }
        if writable {
            r = r | Readiness::WRITABLE;
        }
        if closed {
            r = r | Readiness::CLOSED;
        }
        r
    }
}
