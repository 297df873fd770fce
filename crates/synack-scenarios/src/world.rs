//! The two-host world every scenario runs in, and a small scriptable
//! application (a [`Peer`]) written against the stack's socket calls.

use crate::{Check, Host, HostConn, Options, Outcome, ScenarioError};
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use synack_proto::{
    ConnConfig, ConnError, ConnId, Duration, Error, EventKind, Instant, ListenerId, SegmentSummary,
    SendReason, Stack, StackConfig, State,
};
use synack_sim::{App, HostId, LinkConfig, RunOutcome, Sim, TraceKind};
use synack_trace::ListenerView;

pub(crate) const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(crate) const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub(crate) const PORT: u16 = 80;

pub(crate) fn server_addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(SERVER_IP), port)
}

pub(crate) fn client_addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(CLIENT_IP), port)
}

/// The stacks' settings for these options.
pub(crate) fn stack_config(opts: &Options) -> StackConfig {
    let mut cfg = StackConfig::default();
    if let Some(m) = opts.mtu {
        cfg.mtu = m;
    }
    if let Some(msl) = opts.msl {
        cfg.conn.msl = msl;
    }
    if let Some(c) = opts.syn_cookies {
        cfg.syn_cookies = c;
    }
    cfg
}

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
    /// Passive open: take the first connection the listener completes.
    Accept(ListenerId),
}

/// What an application saw; shared with the scenario for its checks.
#[derive(Debug, Default, Clone)]
pub(crate) struct Record {
    pub(crate) established: Option<Instant>,
    pub(crate) received: Vec<u8>,
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
                        Ok(c) => self.conn = Some(c),
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
            let mut r = self.record.borrow_mut();
            match got {
                Ok(0) => {
                    r.eof = true;
                    break;
                }
                Ok(n) => r.received.extend_from_slice(&buf[..n]),
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
                    Ok(n) => self.record.borrow_mut().sent += n,
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

/// The simulator with `client` and `server`, a link, and the checks so far.
pub(crate) struct World {
    pub(crate) sim: Sim<Stack>,
    pub(crate) client: HostId,
    pub(crate) server: HostId,
    pub(crate) opts: Options,
    pub(crate) listeners: Vec<(HostId, ListenerId)>,
    pub(crate) checks: Vec<Check>,
    /// Listener snapshots taken during the run, shown before the final ones.
    pub(crate) snapshots: Vec<ListenerView>,
}

impl World {
    /// Two hosts joined by a link with the options' faults; the user's
    /// targeted drops installed.
    pub(crate) fn new(opts: &Options) -> Result<World, ScenarioError> {
        opts.validate()?;
        let cfg = stack_config(opts);
        let mut sim = Sim::new(opts.seed);
        let mut c = Stack::new(cfg, opts.seed.wrapping_mul(2).wrapping_add(1));
        c.add_address(IpAddr::V4(CLIENT_IP));
        let mut s = Stack::new(cfg, opts.seed.wrapping_mul(2).wrapping_add(2));
        s.add_address(IpAddr::V4(SERVER_IP));
        let client = sim.try_add_host("client", CLIENT_IP, c)?;
        let server = sim.try_add_host("server", SERVER_IP, s)?;
        let mut link = LinkConfig::default()
            .with_delay(opts.delay)
            .with_jitter(opts.jitter)
            .with_loss(opts.loss)
            .with_duplicate(opts.duplicate)
            .with_reorder(opts.reorder, opts.delay.max(Duration::from_millis(10)))
            .with_corrupt(opts.corrupt);
        if let Some(m) = opts.mtu {
            link = link.with_mtu(usize::from(m));
        }
        sim.link(client, server, link);
        for spec in &opts.drops {
            sim.add_fault_spec(spec)
                .map_err(|error| ScenarioError::BadDrop {
                    spec: spec.clone(),
                    error,
                })?;
        }
        Ok(World {
            sim,
            client,
            server,
            opts: opts.clone(),
            listeners: Vec::new(),
            checks: Vec::new(),
            snapshots: Vec::new(),
        })
    }

    /// Change the client-server link (both directions), keeping what the
    /// options set.
    pub(crate) fn relink(&mut self, f: impl FnOnce(LinkConfig) -> LinkConfig) {
        if let Some(c) = self.sim.link_config(self.client, self.server).cloned() {
            self.sim.link(self.client, self.server, f(c));
        }
    }

    /// Install the scenario's own targeted drop, unless the user gave some.
    pub(crate) fn default_drop(&mut self, spec: &str) -> Result<(), ScenarioError> {
        if self.opts.drops.is_empty() {
            self.sim
                .add_fault_spec(spec)
                .map_err(|error| ScenarioError::BadDrop {
                    spec: spec.to_string(),
                    error,
                })?;
        }
        Ok(())
    }

    /// The server listens on port 80 with the backlog given (default 8).
    pub(crate) fn listen(&mut self, cfg: Option<ConnConfig>) -> Result<ListenerId, ScenarioError> {
        let backlog = self.opts.backlog.unwrap_or(8);
        let conn = cfg.unwrap_or(stack_config(&self.opts).conn);
        let l = self
            .sim
            .with_node(self.server, |_, st| {
                st.listen_with(server_addr(PORT), backlog, backlog, conn)
            })?
            .map_err(|error| ScenarioError::Stack {
                call: "listen",
                error,
            })?;
        self.listeners.push((self.server, l));
        Ok(l)
    }

    /// A client connecting to the server's port 80 with default settings.
    pub(crate) fn connect_role(&self) -> Role {
        Role::Connect {
            local: None,
            remote: server_addr(PORT),
            cfg: Box::new(stack_config(&self.opts).conn),
        }
    }

    /// Run until nothing is pending (bounded by `limit` of virtual time).
    pub(crate) fn run(&mut self, limit: Duration) -> Result<(), ScenarioError> {
        let end = Instant::ZERO + limit;
        match self.sim.run_until_idle(end)? {
            RunOutcome::Idle | RunOutcome::Limit { .. } => Ok(()),
        }
    }

    /// Record a check.
    pub(crate) fn check(&mut self, passed: bool, what: impl Into<String>) {
        self.checks.push(Check {
            what: what.into(),
            passed,
        });
    }

    /// Record that a connection failed with `expected`; the check's text names what
    /// it got instead, if anything.
    pub(crate) fn check_error(&mut self, got: Option<ConnError>, expected: ConnError, what: &str) {
        let seen = got.map_or("no error".to_string(), |e| e.to_string());
        self.check(got == Some(expected), format!("{what} (got {seen})"));
    }

    /// Record a check of the exact textbook path, only when the link is clean.
    pub(crate) fn check_path(&mut self, passed: bool, what: impl Into<String>) {
        if self.opts.is_clean() {
            self.check(passed, what);
        }
    }

    /// The state changes of a host, in order.
    pub(crate) fn transitions(&self, h: HostId) -> Vec<(State, State)> {
        self.sim
            .trace()
            .iter()
            .filter(|e| e.host == h)
            .filter_map(|e| match &e.kind {
                TraceKind::Stack(ev) => match &ev.kind {
                    EventKind::StateChanged { from, to, .. } => Some((*from, *to)),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// When a host first went through `from -> to`.
    pub(crate) fn went_at(&self, h: HostId, from: State, to: State) -> Option<Instant> {
        self.sim
            .trace()
            .iter()
            .filter(|e| e.host == h)
            .find_map(|e| match &e.kind {
                TraceKind::Stack(ev) => match &ev.kind {
                    EventKind::StateChanged { from: f, to: t, .. } if *f == from && *t == to => {
                        Some(e.at)
                    }
                    _ => None,
                },
                _ => None,
            })
    }

    /// Whether a host went through `from -> to`.
    pub(crate) fn went(&self, h: HostId, from: State, to: State) -> bool {
        self.transitions(h).contains(&(from, to))
    }

    /// The segments a host sent, with why, and when.
    pub(crate) fn sent(&self, h: HostId) -> Vec<(Instant, SegmentSummary, SendReason)> {
        self.sim
            .trace()
            .iter()
            .filter(|e| e.host == h)
            .filter_map(|e| match &e.kind {
                TraceKind::Stack(ev) => match &ev.kind {
                    EventKind::SegmentSent { seg, reason, .. } => Some((e.at, *seg, *reason)),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// The connection errors a host reported.
    pub(crate) fn errors(&self, h: HostId) -> Vec<ConnError> {
        self.sim
            .trace()
            .iter()
            .filter(|e| e.host == h)
            .filter_map(|e| match &e.kind {
                TraceKind::Stack(ev) => match &ev.kind {
                    EventKind::ConnectionError { error, .. } => Some(*error),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// Both sides' live connections are gone.
    pub(crate) fn all_closed(&self) -> bool {
        self.sim.node(self.client).connection_count() == 0
            && self.sim.node(self.server).connection_count() == 0
    }

    /// Check that what `reader` read is exactly (or, on a faulty link, a
    /// prefix of) what the other side wrote.
    pub(crate) fn check_bytes(&mut self, who: &str, wrote: &[u8], reader: &Record) {
        let prefix = wrote.starts_with(&reader.received);
        self.check(
            prefix,
            format!("the {who} read the bytes in the order they were written"),
        );
        if self.opts.drops.is_empty() {
            self.check(
                reader.received.len() == wrote.len(),
                format!(
                    "the {who} read all {} bytes ({} read)",
                    wrote.len(),
                    reader.received.len()
                ),
            );
        }
    }

    /// A listener's counters as its stack reports them now; `when` is
    /// appended to its name.
    pub(crate) fn listener_view(
        &self,
        h: HostId,
        l: ListenerId,
        when: &str,
    ) -> Option<ListenerView> {
        let st = self.sim.node(h);
        let (s, addr) = (st.listener_status(l).ok()?, st.listener_addr(l).ok()?);
        Some(ListenerView {
            name: format!("{} {}{when}", self.sim.host_name(h), addr),
            half_open: s.syn_queue as u64,
            half_open_limit: Some(s.syn_queue_limit as u64),
            accept_queue: Some(s.accept_queue as u64),
            accept_limit: Some(s.accept_queue_limit as u64),
            distinct_sources: s.distinct_sources as u64,
            cookies_sent: s.cookies_sent,
            cookies_validated: s.cookies_validated,
            syns_dropped: s.syns_dropped,
            synack_retransmits: s.synack_retransmits,
            established: s.established,
        })
    }

    /// The outcome: the trace, the hosts, the listeners' own counters and
    /// the connections left.
    pub(crate) fn finish(mut self) -> Result<Outcome, ScenarioError> {
        let hosts = (0..self.sim.host_count())
            .map(|h| Host {
                name: self.sim.host_name(h).to_string(),
                addr: self.sim.addresses(h)[0],
            })
            .collect::<Vec<_>>();
        let mut listeners = std::mem::take(&mut self.snapshots);
        for &(h, l) in &self.listeners {
            if let Some(v) = self.listener_view(h, l, "") {
                listeners.push(v);
            }
        }
        let mut connections = Vec::new();
        for h in 0..self.sim.host_count() {
            for (_, status) in self.sim.node(h).connections() {
                connections.push(HostConn {
                    host: self.sim.host_name(h).to_string(),
                    status,
                });
            }
        }
        let trace = self.sim.take_trace();
        let outcome = Outcome {
            trace,
            hosts,
            listeners,
            connections,
            checks: std::mem::take(&mut self.checks),
        };
        if outcome.failures().next().is_some() {
            return Err(ScenarioError::Misbehaved(Box::new(outcome)));
        }
        Ok(outcome)
    }
}
