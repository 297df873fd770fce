//! The two-host world every scenario runs in: the simulator with `client`
//! and `server`, their link, the server's listener and the checks. Its
//! applications are [`Peer`](crate::peer::Peer)s.

use crate::peer::{CallLog, Peer, Record, Role};
use crate::props::{self, Limits};
use crate::verdict::{CheckKind, LinkTally, RuleReport, Verdict};
use crate::{Check, Host, HostConn, Mutation, Options, Outcome, ScenarioError};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_proto::{
    ConnConfig, ConnError, Duration, EventKind, Instant, Keepalive, ListenerId, SegmentSummary,
    SendReason, Stack, StackConfig, State,
};
use synack_sim::{HostId, LinkConfig, RunOutcome, Sim, TraceKind};
use synack_trace::{Call, ListenerView, Series, SocketCall};

pub(crate) const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(crate) const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub(crate) const PORT: u16 = 80;

pub(crate) fn server_addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(SERVER_IP), port)
}

pub(crate) fn client_addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(CLIENT_IP), port)
}

/// The stacks' settings for these options (with a test's mutation, if any).
pub(crate) fn stack_config(opts: &Options) -> StackConfig {
    let mut cfg = declared_config(opts);
    match opts.mutation {
        Some(Mutation::ShortTimeWait) => cfg.conn.msl /= 2,
        Some(Mutation::NoBackoff) => cfg.conn.max_rto = cfg.conn.initial_rto,
        _ => {}
    }
    cfg
}

/// The settings the options ask for: what the rule checks hold the stacks to.
pub(crate) fn declared_config(opts: &Options) -> StackConfig {
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
    /// Every connection's sender numbers, sampled after each step of [`World::run`].
    series: Series,
    /// The applications' socket calls.
    calls: CallLog,
    /// The keepalive schedule the client runs, for the keepalive rule.
    pub(crate) keepalive: Option<Keepalive>,
    /// The run stopped because nothing was pending (not at its time limit).
    idle: bool,
    /// The specs of the fault rules installed, in order, and whether the
    /// user gave each.
    specs: Vec<(String, bool)>,
}

impl World {
    /// Two hosts joined by a link with the options' faults; the user's
    /// targeted drops installed.
    pub(crate) fn new(opts: &Options) -> Result<World, ScenarioError> {
        opts.validate()?;
        let cfg = stack_config(opts);
        let mut sim = Sim::new(opts.seed);
        let mut c = Stack::new_deterministic(cfg, opts.seed.wrapping_mul(2).wrapping_add(1));
        c.add_address(IpAddr::V4(CLIENT_IP));
        let mut s = Stack::new_deterministic(cfg, opts.seed.wrapping_mul(2).wrapping_add(2));
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
            series: Series::new(),
            calls: CallLog::default(),
            keepalive: None,
            idle: false,
            specs: opts.drops.iter().map(|d| (d.clone(), true)).collect(),
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
            self.specs.push((spec.to_string(), false));
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
        self.calls.borrow_mut().push(SocketCall {
            at: self.sim.now(),
            host: self.server,
            call: Call::Listen,
            inferred: false,
        });
        Ok(l)
    }

    /// Install a peer as host `h`'s application, its socket calls written down.
    pub(crate) fn set_app(&mut self, h: HostId, peer: Peer) {
        let peer = peer.logging_to(self.calls.clone(), h);
        self.sim.set_app(h, peer);
    }

    /// A client connecting to the server's port 80 with default settings.
    pub(crate) fn connect_role(&self) -> Role {
        Role::Connect {
            local: None,
            remote: server_addr(PORT),
            cfg: Box::new(stack_config(&self.opts).conn),
        }
    }

    /// Run until nothing is pending (bounded by `limit` of virtual time),
    /// as `Sim::run_until_idle` does, sampling every connection's sender
    /// numbers after each step.
    pub(crate) fn run(&mut self, limit: Duration) -> Result<(), ScenarioError> {
        let end = Instant::ZERO + limit;
        if self.sim.now() > end {
            self.idle = match self.sim.run_until_idle(end)? {
                RunOutcome::Idle => true,
                RunOutcome::Limit { .. } => false,
            };
            return Ok(());
        }
        // What is due now first (this also sends what the scenario's own
        // socket calls queued), then one step at a time.
        self.sim.run_until(self.sim.now())?;
        self.sample();
        loop {
            match self.sim.next_wake() {
                // The run stops at its time limit with something pending,
                // or because nothing is (the rule checks tell them apart).
                Some((at, _)) if at > end => {
                    self.idle = false;
                    return Ok(());
                }
                None => {
                    self.idle = true;
                    return Ok(());
                }
                Some(_) => {
                    self.sim.step()?;
                    self.sample();
                }
            }
        }
    }

    /// Every live connection's sender numbers now.
    fn sample(&mut self) {
        let now = self.sim.now();
        for h in [self.client, self.server] {
            for (_, status) in self.sim.node(h).connections() {
                self.series.push_status(now, h, &status);
            }
        }
    }

    fn push(&mut self, kind: CheckKind, passed: bool, what: String) {
        self.checks.push(Check { what, passed, kind });
    }

    /// Record a check of the scenario's story: its end result.
    pub(crate) fn check(&mut self, passed: bool, what: impl Into<String>) {
        self.push(CheckKind::Story, passed, what.into());
    }

    /// Record a check of an RFC rule that holds on any link.
    pub(crate) fn check_rule(&mut self, passed: bool, what: impl Into<String>) {
        self.push(CheckKind::Rule, passed, what.into());
    }

    /// Record that a connection failed with `expected` (a story check); the
    /// check's text names what it got instead, if anything.
    pub(crate) fn check_error(&mut self, got: Option<ConnError>, expected: ConnError, what: &str) {
        let seen = got.map_or("no error".to_string(), |e| e.to_string());
        self.check(got == Some(expected), format!("{what} (got {seen})"));
    }

    /// Record a story check only when faults were injected: on a clean link
    /// the path checks already decide it (and the pinned clean-link output
    /// lists only them).
    pub(crate) fn check_if_faulty(&mut self, passed: bool, what: impl Into<String>) {
        if !self.opts.is_clean() {
            self.check(passed, what);
        }
    }

    /// Record a check of the exact textbook path: decisive on a clean link,
    /// shown for comparison when faults were injected.
    pub(crate) fn check_path(&mut self, passed: bool, what: impl Into<String>) {
        self.push(CheckKind::Path, passed, what.into());
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
        self.went_after(h, from, to, Instant::ZERO)
    }

    /// When a host first went through `from -> to` at or after `after`.
    pub(crate) fn went_after(
        &self,
        h: HostId,
        from: State,
        to: State,
        after: Instant,
    ) -> Option<Instant> {
        self.sim
            .trace()
            .iter()
            .filter(|e| e.host == h && e.at >= after)
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
        let mut received = reader.received.clone();
        if self.opts.mutation == Some(Mutation::RepeatByte) {
            if let Some(&b) = received.first() {
                received.insert(0, b);
            }
        }
        // RFC 9293 3.10.2 (SEND), 3.10.3 (RECEIVE): the stream is delivered
        // exactly, in order, without duplication; and (3.10.7.4, eighth
        // step) the FIN comes after every byte, so end of file means the
        // whole stream was read.
        let prefix = wrote.starts_with(&received);
        let short_eof = reader.eof && received.len() != wrote.len();
        let what = if short_eof && prefix {
            format!(
                "the {who} read the bytes in the order they were written (but saw end of file after {} of {} bytes)",
                received.len(),
                wrote.len()
            )
        } else {
            format!("the {who} read the bytes in the order they were written")
        };
        self.check_rule(prefix && !short_eof, what);
        self.check(
            received.len() == wrote.len(),
            format!(
                "the {who} read all {} bytes ({} read)",
                wrote.len(),
                received.len()
            ),
        );
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
        let rules = self.rule_reports();
        let tally = self.tally();
        let mut trace = self.sim.take_trace();
        if self.opts.mutation == Some(Mutation::SkipTimeWait) {
            skip_time_wait(&mut trace);
        }
        let declared = declared_config(&self.opts).conn;
        let limits = Limits {
            msl: declared.msl,
            max_rto: declared.max_rto,
            keepalive: self.keepalive,
        };
        let rule_checks = props::check(&trace, &hosts, &connections, self.idle, &limits);
        let checks = std::mem::take(&mut self.checks);
        let mut outcome = Outcome {
            trace,
            hosts,
            listeners,
            connections,
            checks,
            series: std::mem::take(&mut self.series),
            calls: std::mem::take(&mut *self.calls.borrow_mut()),
            rule_checks,
            verdict: Verdict::AsExpected,
            faulty: !self.opts.is_clean(),
            tally,
            rules,
        };
        outcome.verdict = verdict(&outcome);
        if outcome.verdict.is_violation() {
            return Err(ScenarioError::Misbehaved(Box::new(outcome)));
        }
        Ok(outcome)
    }

    /// Each fault rule installed, with what it did.
    fn rule_reports(&self) -> Vec<RuleReport> {
        self.sim
            .faults()
            .iter()
            .zip(&self.specs)
            .map(|(f, (spec, user))| RuleReport {
                spec: spec.clone(),
                description: f.description.to_string(),
                user: *user,
                matched: f.matched,
                fired: f.fired,
                not_ect: f.not_ect,
            })
            .collect()
    }

    /// What the link's faults did, both directions together.
    fn tally(&self) -> LinkTally {
        let mut t = LinkTally::default();
        for (_, s) in self.sim.all_link_stats() {
            t.lost += s.dropped_loss;
            t.duplicated += s.duplicated;
            t.reordered += s.reordered;
            t.corrupted += s.corrupted;
            t.dropped_by_rule += s.dropped_rule;
            t.delayed_by_rule += s.delayed_by_rule;
            t.ce_marked += s.ce_marked;
        }
        t
    }
}

/// What the checks add up to (see [`Verdict`]).
fn verdict(o: &Outcome) -> Verdict {
    if o.violations().next().is_some() {
        return Verdict::Violation;
    }
    if !o.faulty {
        return Verdict::AsExpected;
    }
    let unmet: Vec<String> = o
        .checks
        .iter()
        .filter(|c| !c.passed && c.kind == CheckKind::Story)
        .map(|c| c.what.clone())
        .collect();
    if !unmet.is_empty() {
        return Verdict::Incomplete { unmet };
    }
    Verdict::LegalPath {
        differed: o
            .checks
            .iter()
            .filter(|c| !c.passed && c.kind == CheckKind::Path)
            .count(),
    }
}

/// The [`Mutation::SkipTimeWait`] defect: the stacks' reports of entering
/// TIME_WAIT from FIN_WAIT_2 say CLOSED instead.
fn skip_time_wait(trace: &mut [synack_sim::TraceEntry]) {
    for e in trace {
        if let TraceKind::Stack(ev) = &mut e.kind {
            if let EventKind::StateChanged { from, to, .. } = &mut ev.kind {
                if *from == State::FinWait2 && *to == State::TimeWait {
                    *to = State::Closed;
                }
            }
        }
    }
}
