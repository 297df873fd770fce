//! A small scriptable application (a [`Peer`]) written against the stack's
//! socket calls, for the two-host world every scenario runs in.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use synack_proto::{
    ConnConfig, ConnError, ConnId, Duration, Error, FastOpenStatus, Instant, ListenerId, Stack,
};
use synack_sim::{App, HostId};
use synack_trace::{Call, SocketCall};

/// Where a [`Peer`] writes down its socket calls, for the lanes of the HTML view.
pub(crate) type CallLog = Rc<RefCell<Vec<SocketCall>>>;

/// When an action of a [`Peer`] becomes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// The connection reached ESTABLISHED (or a later state).
    Established,
    /// This many bytes were read in total.
    Received(usize),
    /// End of stream was read.
    Eof,
    /// Everything the peer application wrote was sent and acknowledged.
    Sent,
    /// At this instant.
    At(Instant),
}

/// What a [`Peer`] does when a step is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// close(): FIN after the queued data (RST if unread data is waiting).
    Close,
    /// shutdown(Write): FIN, but keep reading.
    ShutdownWrite,
    /// abort(): RST.
    Abort,
}

/// How a peer gets its connection.
#[derive(Debug, Clone)]
pub(crate) enum Role {
    /// Active open.
    Connect {
        local: Option<SocketAddr>,
        remote: SocketAddr,
        cfg: Box<ConnConfig>,
    },
    /// Active open with TCP Fast Open (RFC 7413), as `sendto(MSG_FASTOPEN)`:
    /// the peer's data goes on the SYN when a cookie is cached, the rest
    /// (all of it without a cookie) when its trigger fires.
    FastOpen {
        remote: SocketAddr,
        cfg: Box<ConnConfig>,
    },
    /// Passive open: take the first connection the listener completes.
    Accept(ListenerId),
}

/// What an application saw; shared with the scenario for its checks.
#[derive(Debug, Default, Clone)]
pub(crate) struct Record {
    pub(crate) established: Option<Instant>,
    pub(crate) received: Vec<u8>,
    /// When the first byte was read.
    pub(crate) first_byte: Option<Instant>,
    /// What the connection last reported of Fast Open (RFC 7413).
    pub(crate) fast_open: FastOpenStatus,
    pub(crate) eof: bool,
    pub(crate) error: Option<Error>,
    pub(crate) sent: usize,
}

impl Record {
    pub(crate) fn conn_error(&self) -> Option<ConnError> {
        match self.error {
            Some(Error::Connection(e)) => Some(e),
            _ => None,
        }
    }
}

/// A scripted application: open, write once when a trigger fires, read
/// everything that arrives, then run its closing steps in order.
pub(crate) struct Peer {
    role: Role,
    start: Instant,
    conn: Option<ConnId>,
    started: bool,
    send: Option<(Trigger, Duration, Vec<u8>)>,
    steps: Vec<(Trigger, Duration, Action)>,
    read_from: Instant,
    fired: Vec<Option<Instant>>,
    send_fired: Option<Instant>,
    send_own_wake: bool,
    done: bool,
    record: Rc<RefCell<Record>>,
    log: Option<(CallLog, HostId)>,
}

impl Peer {
    pub(crate) fn new(role: Role) -> Peer {
        Peer {
            role,
            start: Instant::ZERO,
            conn: None,
            started: false,
            send: None,
            steps: Vec::new(),
            read_from: Instant::ZERO,
            fired: Vec::new(),
            send_fired: None,
            send_own_wake: false,
            done: false,
            record: Rc::new(RefCell::new(Record::default())),
            log: None,
        }
    }

    /// Write every socket call down in `log`, as made by host `host`.
    pub(crate) fn logging_to(mut self, log: CallLog, host: HostId) -> Peer {
        self.log = Some((log, host));
        self
    }

    /// Write down a call made at `now`.
    fn note(&self, now: Instant, call: Call) {
        if let Some((log, host)) = &self.log {
            log.borrow_mut().push(SocketCall {
                at: now,
                host: *host,
                call,
                inferred: false,
            });
        }
    }

    /// Open (connect or start accepting) at this instant.
    pub(crate) fn starting_at(mut self, t: Instant) -> Peer {
        self.start = t;
        self
    }

    /// Write `data` when `t` fires.
    pub(crate) fn send_on(mut self, t: Trigger, data: impl Into<Vec<u8>>) -> Peer {
        self.send = Some((t, Duration::ZERO, data.into()));
        self
    }

    /// Write `data` `delay` after `t` fires, in a wake-up of its own (so
    /// what the stack sent on its own, such as an ACK, leaves first).
    pub(crate) fn send_after(
        mut self,
        t: Trigger,
        delay: Duration,
        data: impl Into<Vec<u8>>,
    ) -> Peer {
        self.send = Some((t, delay, data.into()));
        self.send_own_wake = true;
        self
    }

    /// Then, `delay` after `t` fires, do `a`.
    pub(crate) fn then(mut self, t: Trigger, delay: Duration, a: Action) -> Peer {
        self.steps.push((t, delay, a));
        self.fired.push(None);
        self
    }

    /// Leave arriving data unread until `t` (a slow reader).
    pub(crate) fn reading_from(mut self, t: Instant) -> Peer {
        self.read_from = t;
        self
    }

    /// What the application saw, shared.
    pub(crate) fn record(&self) -> Rc<RefCell<Record>> {
        self.record.clone()
    }

    fn holds(&self, t: Trigger, now: Instant, st: &Stack, c: ConnId) -> bool {
        let r = self.record.borrow();
        match t {
            Trigger::Established => r.established.is_some(),
            Trigger::Received(n) => r.received.len() >= n,
            Trigger::Eof => r.eof,
            Trigger::At(at) => now >= at,
            Trigger::Sent => {
                let all_written = self.send.as_ref().is_none_or(|(_, _, d)| r.sent >= d.len());
                all_written && st.status(c).map_or(true, |s| s.send_queued == 0)
            }
        }
    }
}

fn earliest(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}

impl Peer {
    /// Connect (once) or take a connection the listener completed. A
    /// failed connect is recorded and ends the peer.
    fn open(&mut self, now: Instant, st: &mut Stack) {
        match &self.role {
            Role::Connect { local, remote, cfg } => {
                if !self.started {
                    self.started = true;
                    match st.connect_with(now, *local, *remote, **cfg) {
                        Ok(c) => {
                            self.conn = Some(c);
                            self.note(now, Call::Connect);
                        }
                        Err(e) => {
                            self.record.borrow_mut().error = Some(e);
                            self.done = true;
                        }
                    }
                }
            }
            Role::FastOpen { remote, cfg } => {
                if !self.started {
                    self.started = true;
                    let data = self.send.as_ref().map(|(_, _, d)| d.as_slice());
                    match st.connect_fast_open(now, None, *remote, **cfg, data) {
                        Ok((c, taken)) => {
                            self.conn = Some(c);
                            self.record.borrow_mut().sent = taken;
                            self.note(now, Call::Connect);
                            if taken > 0 {
                                self.note(now, Call::Send(taken));
                            }
                        }
                        Err(e) => {
                            self.record.borrow_mut().error = Some(e);
                            self.done = true;
                        }
                    }
                }
            }
            Role::Accept(l) => {
                if let Ok(c) = st.accept(*l) {
                    self.conn = Some(c);
                    self.note(now, Call::Accept);
                }
            }
        }
    }

    /// Note when the connection got established and any error it reports.
    /// `false` (and the peer ends) when the stack no longer knows it.
    fn observe(&mut self, now: Instant, st: &Stack, c: ConnId) -> bool {
        let state = match st.state(c) {
            Ok(s) => s,
            Err(_) => {
                self.done = true;
                return false;
            }
        };
        let mut r = self.record.borrow_mut();
        if r.established.is_none() && state.is_synchronized() {
            r.established = Some(now);
        }
        if let Ok(fo) = st.fast_open_status(c) {
            r.fast_open = fo;
        }
        if let Ok(Some(e)) = st.conn_error(c) {
            r.error = Some(Error::Connection(e));
        }
        true
    }

    /// Read whatever has arrived, unless this is a slow reader; returns
    /// when to wake to start reading.
    fn read(&mut self, now: Instant, st: &mut Stack, c: ConnId) -> Option<Instant> {
        if now < self.read_from {
            return earliest(None, self.read_from);
        }
        let mut buf = [0u8; 4096];
        loop {
            let got = st.recv(now, c, &mut buf);
            // End of stream is noted once, not at every later wake.
            if let Ok(n) = got {
                if n > 0 || !self.record.borrow().eof {
                    self.note(now, Call::Recv(n));
                }
            }
            let mut r = self.record.borrow_mut();
            match got {
                Ok(0) => {
                    r.eof = true;
                    break;
                }
                Ok(n) => {
                    r.first_byte.get_or_insert(now);
                    r.received.extend_from_slice(&buf[..n]);
                }
                Err(Error::WouldBlock) | Err(Error::NotConnected) => break,
                Err(e @ Error::Connection(_)) => {
                    r.error = Some(e);
                    break;
                }
                Err(_) => break,
            }
        }
        None
    }

    /// Whether the write is due now: its trigger fired and its delay passed.
    /// Otherwise when it will be is merged into `next`.
    fn send_due(
        &mut self,
        now: Instant,
        st: &Stack,
        c: ConnId,
        next: &mut Option<Instant>,
    ) -> bool {
        let mut send_due = false;
        if let Some((t, delay, _)) = self.send {
            let mut just_fired = false;
            if self.send_fired.is_none() && self.holds(t, now, st, c) {
                self.send_fired = Some(now);
                just_fired = true;
            }
            if let Trigger::At(at) = t {
                if now < at {
                    *next = earliest(*next, at);
                }
            }
            if let Some(f) = self.send_fired {
                let due = f + delay;
                if now < due || (just_fired && self.send_own_wake) {
                    *next = earliest(*next, due);
                } else {
                    send_due = true;
                }
            }
        }
        send_due
    }

    /// Write what is left of the data, as much as the buffer takes.
    fn write(&mut self, now: Instant, st: &mut Stack, c: ConnId) {
        if let Some((_, _, data)) = &self.send {
            let sent = self.record.borrow().sent;
            if sent < data.len() {
                match st.send(now, c, &data[sent..]) {
                    Ok(n) => {
                        self.record.borrow_mut().sent += n;
                        self.note(now, Call::Send(n));
                    }
                    Err(Error::WouldBlock) => {}
                    Err(e) => self.record.borrow_mut().error = Some(e),
                }
            }
        }
    }

    /// The closing steps, in order: each waits for its trigger and delay,
    /// and the first that is not due yet stops the walk. Returns when to
    /// wake next, or `None` once the peer closed or aborted.
    fn closing_steps(
        &mut self,
        now: Instant,
        st: &mut Stack,
        c: ConnId,
        mut next: Option<Instant>,
    ) -> Option<Instant> {
        for i in 0..self.steps.len() {
            let (t, delay, action) = self.steps[i];
            if self.fired[i] == Some(Instant::from_micros(u64::MAX)) {
                continue; // already done
            }
            if self.fired[i].is_none() && self.holds(t, now, st, c) {
                self.fired[i] = Some(now);
            }
            let Some(at) = self.fired[i] else {
                if let Trigger::At(at) = t {
                    next = earliest(next, at);
                }
                break;
            };
            let due = at + delay;
            if now < due {
                next = earliest(next, due);
                break;
            }
            self.fired[i] = Some(Instant::from_micros(u64::MAX));
            self.note(
                now,
                match action {
                    Action::Close => Call::Close,
                    Action::Abort => Call::Abort,
                    Action::ShutdownWrite => Call::Shutdown,
                },
            );
            let res = match action {
                Action::Close => {
                    self.done = true;
                    st.close(now, c)
                }
                Action::Abort => {
                    self.done = true;
                    st.abort(now, c)
                }
                Action::ShutdownWrite => st.shutdown(now, c, synack_proto::Shutdown::Write),
            };
            if let Err(e) = res {
                let mut r = self.record.borrow_mut();
                if r.error.is_none() {
                    r.error = Some(e);
                }
            }
            if self.done {
                return None;
            }
        }
        next
    }
}

impl App<Stack> for Peer {
    /// Open, note the connection's state, read, write once the trigger
    /// fires, then run the closing steps; returns when to wake next.
    fn on_wake(&mut self, now: Instant, st: &mut Stack) -> Option<Instant> {
        if self.done {
            return None;
        }
        if now < self.start {
            return Some(self.start);
        }
        if self.conn.is_none() {
            self.open(now, st);
            if self.done {
                return None;
            }
        }
        let c = self.conn?;
        if !self.observe(now, st, c) {
            return None;
        }
        let mut next = self.read(now, st, c);
        // A failed connection: report it (done above) and release the handle.
        if matches!(self.record.borrow().error, Some(Error::Connection(_))) {
            let _ = st.close(now, c);
            self.done = true;
            return None;
        }
        if self.send_due(now, st, c, &mut next) {
            self.write(now, st, c);
        }
        self.closing_steps(now, st, c, next)
    }
}
