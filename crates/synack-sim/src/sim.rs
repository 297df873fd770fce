//! The event loop: hosts, links, the virtual clock and the trace.

use crate::fault::{FaultAction, FaultRule, FaultSpecError};
use crate::link::{Link, LinkConfig, LinkStats, RuleVerdict};
use crate::peek;
use crate::rng::Rng;
use crate::trace::{DropCause, HostId, LinkEvent, LinkFate, TraceEntry, TraceKind};
use crate::Node;
use core::fmt;
use std::collections::BTreeMap;
use std::net::IpAddr;
use synack_proto::Instant;

/// Application logic running on a host, written against its node.
///
/// `on_wake` is called:
/// 1. once at the instant the app is installed ([`Sim::set_app`] schedules
///    it for the current time, so it runs on the next step);
/// 2. after every packet delivered to its host and every timeout fired on its
///    host, right after the node handled it;
/// 3. at the deadline it last returned.
///
/// The returned instant replaces any earlier deadline; `None` means "only
/// wake me for deliveries and timeouts". The app runs before the simulator
/// polls the node's transmit queue, so whatever it makes the node send leaves
/// at the same instant.
///
/// Closures `FnMut(Instant, &mut N) -> Option<Instant>` are apps.
pub trait App<N> {
    /// Run; return when to be woken next.
    fn on_wake(&mut self, now: Instant, node: &mut N) -> Option<Instant>;
}

impl<N, F: FnMut(Instant, &mut N) -> Option<Instant>> App<N> for F {
    fn on_wake(&mut self, now: Instant, node: &mut N) -> Option<Instant> {
        self(now, node)
    }
}

/// Settings of a simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Seed of every random decision. The same seed, hosts, links, rules and
    /// (deterministic) nodes reproduce the same trace bit for bit.
    pub seed: u64,
    /// The most trace entries kept between two [`Sim::take_trace`] calls;
    /// entries beyond it are counted in [`Sim::trace_overflow`], not stored.
    pub trace_cap: usize,
    /// The most steps run at one instant before the simulation is declared
    /// livelocked ([`SimError::Livelock`]).
    pub max_steps_per_instant: u64,
    /// The most packets (or events) one host may produce in one poll before
    /// the simulation gives up ([`SimError::Flood`]).
    pub max_polls: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            trace_cap: 1_000_000,
            max_steps_per_instant: 100_000,
            max_polls: 1_000_000,
        }
    }
}

/// What a step fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A packet arrived at `to`.
    Delivery {
        /// Sender.
        from: HostId,
        /// Receiver.
        to: HostId,
    },
    /// A node's deadline.
    Timeout {
        /// The host.
        host: HostId,
    },
    /// An app's deadline.
    App {
        /// The host.
        host: HostId,
    },
}

impl Wake {
    /// The host that was woken.
    pub fn host(self) -> HostId {
        match self {
            Wake::Delivery { to, .. } => to,
            Wake::Timeout { host } | Wake::App { host } => host,
        }
    }
}

/// Why the simulation could not go on, or a configuration mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// Too many steps at one instant: something keeps asking to run at (or
    /// before) the current time, so the clock cannot advance.
    Livelock {
        /// The instant the clock is stuck at.
        at: Instant,
        /// Steps run at that instant.
        steps: u64,
        /// What the last refused step would have fired.
        wake: Wake,
        /// The name of the host concerned.
        name: String,
    },
    /// A host produced more packets or events in one poll than allowed.
    Flood {
        /// When.
        at: Instant,
        /// The host.
        host: HostId,
        /// Its name.
        name: String,
        /// `"packets"` or `"events"`.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// An address is already owned by another host.
    DuplicateAddress {
        /// The address.
        addr: IpAddr,
        /// Its owner.
        owner: HostId,
    },
    /// A host name is already taken.
    DuplicateName {
        /// The name.
        name: String,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Livelock {
                at,
                steps,
                wake,
                name,
            } => {
                let what = match wake {
                    Wake::Delivery { .. } => "packet deliveries",
                    Wake::Timeout { .. } => "a node deadline at or before the current time",
                    Wake::App { .. } => "an app deadline at or before the current time",
                };
                write!(
                    f,
                    "livelock at {at}: {steps} steps without the clock advancing, \
                     driven by {what} on host {name:?}"
                )
            }
            SimError::Flood {
                at,
                name,
                what,
                limit,
                ..
            } => write!(
                f,
                "host {name:?} produced more than {limit} {what} in one poll at {at}"
            ),
            SimError::DuplicateAddress { addr, owner } => {
                write!(f, "address {addr} already belongs to host {owner}")
            }
            SimError::DuplicateName { name } => write!(f, "host name {name:?} already taken"),
        }
    }
}

impl std::error::Error for SimError {}

/// How [`Sim::run_until_idle`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// Nothing is pending: no packet in flight, no deadline anywhere.
    Idle,
    /// The next thing to do is after the limit; the clock was left at the
    /// last thing done.
    Limit {
        /// When the next thing is due.
        next: Instant,
    },
}

struct Host<N> {
    name: String,
    addrs: Vec<IpAddr>,
    node: N,
    app: Option<Box<dyn App<N>>>,
    app_deadline: Option<Instant>,
    no_route: u64,
}

struct Delivery {
    from: HostId,
    to: HostId,
    packet: Vec<u8>,
}

struct ArmedRule {
    rule: FaultRule,
    description: String,
    matched: u64,
    fired: u64,
    not_ect: u64,
}

/// A deterministic network of hosts running [`Node`]s.
///
/// # The loop
///
/// The clock starts at [`Instant::ZERO`] and only moves when [`step`](Sim::step)
/// (or a `run_*` method built on it) jumps it to the next thing due: a packet
/// arrival, a node deadline ([`Node::poll_timeout`]) or an app deadline. Idle
/// time costs nothing: two hours of silence is one step.
///
/// A step
/// 1. polls every host's transmit queue at the current time (this picks up
///    packets a node queued because of calls made on it from outside);
/// 2. picks the earliest due thing; ties go to packet arrivals first (in the
///    order they were scheduled), then node deadlines, then app deadlines,
///    each in host order; a deadline in the past counts as now;
/// 3. fires it: hands the packet to the node, or calls
///    [`Node::handle_timeout`]; then wakes the host's [`App`] (or only the app
///    for an app deadline);
/// 4. polls every host, in host order: drains its events into the trace, then
///    repeatedly takes a packet from [`Node::poll_transmit`], drains the
///    events that produced, and puts the packet on its link.
///
/// # Calling into nodes between steps
///
/// Use [`with_node`](Sim::with_node): it hands the node and the current time
/// to a closure and then polls that node at once, so what the call made it
/// send leaves at the current instant. [`node_mut`](Sim::node_mut) is fine for
/// calls that send nothing; anything it queues is picked up at the start of
/// the next step, still at the current instant.
///
/// # Putting a packet on the network
///
/// A packet from host A goes to the host owning its destination address
/// (IPv4 or IPv6). It is dropped with [`DropCause::NoRoute`] when no host owns
/// it (the trace entry then names A as the receiver too) or when no link
/// A->B was configured. Otherwise the [fault rules](crate::fault) decide,
/// then the link (see [`LinkConfig`]).
pub struct Sim<N: Node> {
    config: SimConfig,
    now: Instant,
    hosts: Vec<Host<N>>,
    routes: BTreeMap<IpAddr, HostId>,
    links: BTreeMap<(HostId, HostId), Link>,
    rules: Vec<ArmedRule>,
    deliveries: BTreeMap<(Instant, u64), Delivery>,
    next_seq: u64,
    steps_at_now: u64,
    trace: Vec<TraceEntry>,
    trace_overflow: u64,
}

impl<N: Node> Sim<N> {
    /// An empty simulation with default settings and this seed.
    pub fn new(seed: u64) -> Sim<N> {
        Sim::with_config(SimConfig {
            seed,
            ..SimConfig::default()
        })
    }

    /// An empty simulation with these settings.
    pub fn with_config(config: SimConfig) -> Sim<N> {
        Sim {
            config,
            now: Instant::ZERO,
            hosts: Vec::new(),
            routes: BTreeMap::new(),
            links: BTreeMap::new(),
            rules: Vec::new(),
            deliveries: BTreeMap::new(),
            next_seq: 0,
            steps_at_now: 0,
            trace: Vec::new(),
            trace_overflow: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The virtual clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    // ---- hosts -----------------------------------------------------------

    /// Add a host owning `addr`.
    ///
    /// # Panics
    /// If the name or the address is taken; [`try_add_host`](Sim::try_add_host)
    /// reports that as an error instead.
    pub fn add_host(&mut self, name: &str, addr: impl Into<IpAddr>, node: N) -> HostId {
        match self.try_add_host(name, addr, node) {
            Ok(id) => id,
            Err(e) => panic!("add_host: {e}"),
        }
    }

    /// Add a host owning `addr`, or say why not.
    pub fn try_add_host(
        &mut self,
        name: &str,
        addr: impl Into<IpAddr>,
        node: N,
    ) -> Result<HostId, SimError> {
        let addr = addr.into();
        if self.hosts.iter().any(|h| h.name == name) {
            return Err(SimError::DuplicateName {
                name: name.to_string(),
            });
        }
        if let Some(&owner) = self.routes.get(&addr) {
            return Err(SimError::DuplicateAddress { addr, owner });
        }
        let id = self.hosts.len();
        self.routes.insert(addr, id);
        self.hosts.push(Host {
            name: name.to_string(),
            addrs: vec![addr],
            node,
            app: None,
            app_deadline: None,
            no_route: 0,
        });
        Ok(id)
    }

    /// Give host `id` another address (e.g. an IPv6 one beside its IPv4 one).
    ///
    /// # Panics
    /// If `id` is not a host.
    pub fn add_address(&mut self, id: HostId, addr: impl Into<IpAddr>) -> Result<(), SimError> {
        let addr = addr.into();
        assert!(id < self.hosts.len(), "add_address: no host {id}");
        if let Some(&owner) = self.routes.get(&addr) {
            return Err(SimError::DuplicateAddress { addr, owner });
        }
        self.routes.insert(addr, id);
        self.hosts[id].addrs.push(addr);
        Ok(())
    }

    /// How many hosts there are; ids are `0..host_count()`.
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// The name of host `id`.
    ///
    /// # Panics
    /// If `id` is not a host.
    pub fn host_name(&self, id: HostId) -> &str {
        &self.hosts[id].name
    }

    /// The names of all hosts, indexed by [`HostId`] (what
    /// [`FaultRule::parse`] wants).
    pub fn host_names(&self) -> Vec<&str> {
        self.hosts.iter().map(|h| h.name.as_str()).collect()
    }

    /// The host called `name`.
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// The addresses of host `id`, the first one given first.
    ///
    /// # Panics
    /// If `id` is not a host.
    pub fn addresses(&self, id: HostId) -> &[IpAddr] {
        &self.hosts[id].addrs
    }

    /// The host owning `addr`.
    pub fn route(&self, addr: IpAddr) -> Option<HostId> {
        self.routes.get(&addr).copied()
    }

    /// The node of host `id`.
    ///
    /// # Panics
    /// If `id` is not a host.
    pub fn node(&self, id: HostId) -> &N {
        &self.hosts[id].node
    }

    /// The node of host `id`, mutably. Packets it queues are sent at the
    /// start of the next step, at the current instant; prefer
    /// [`with_node`](Sim::with_node), which sends them at once.
    ///
    /// # Panics
    /// If `id` is not a host.
    pub fn node_mut(&mut self, id: HostId) -> &mut N {
        &mut self.hosts[id].node
    }

    /// Call `f` with the current time and the node of host `id`, then poll
    /// that node: its events go into the trace and its packets onto the links,
    /// all at the current instant. Returns what `f` returned.
    ///
    /// ```
    /// # use synack_sim::{Sim, Node};
    /// # use synack_proto::{Event, Instant};
    /// # struct N(Vec<Vec<u8>>);
    /// # impl Node for N {
    /// #   fn handle_packet(&mut self, _: Instant, _: &[u8]) {}
    /// #   fn poll_transmit(&mut self, _: Instant, b: &mut Vec<u8>) -> bool {
    /// #     match self.0.pop() { Some(p) => { *b = p; true } None => false } }
    /// #   fn poll_timeout(&self) -> Option<Instant> { None }
    /// #   fn handle_timeout(&mut self, _: Instant) {}
    /// #   fn poll_event(&mut self) -> Option<Event> { None }
    /// # }
    /// let mut sim = Sim::new(1);
    /// let a = sim.add_host("a", [10, 0, 0, 1], N(Vec::new()));
    /// // e.g. a socket call that makes the node queue a packet
    /// sim.with_node(a, |_now, node| node.0.push(vec![0x45; 20])).unwrap();
    /// assert_eq!(sim.trace().len(), 1); // sent (and dropped: no route)
    /// ```
    ///
    /// # Panics
    /// If `id` is not a host.
    pub fn with_node<R>(
        &mut self,
        id: HostId,
        f: impl FnOnce(Instant, &mut N) -> R,
    ) -> Result<R, SimError> {
        let r = f(self.now, &mut self.hosts[id].node);
        self.flush_host(id)?;
        Ok(r)
    }

    /// Install the app of host `id` (replacing any), to be woken at the
    /// current instant on the next step. See [`App`] for when it runs.
    ///
    /// # Panics
    /// If `id` is not a host.
    pub fn set_app(&mut self, id: HostId, app: impl App<N> + 'static) {
        let host = &mut self.hosts[id];
        host.app = Some(Box::new(app));
        host.app_deadline = Some(self.now);
    }

    /// Remove the app of host `id`, if any.
    ///
    /// # Panics
    /// If `id` is not a host.
    pub fn remove_app(&mut self, id: HostId) {
        let host = &mut self.hosts[id];
        host.app = None;
        host.app_deadline = None;
    }

    /// Put `packet` on the network at the current instant as if host `from`
    /// had sent it (routing, rules, link and trace as for any packet).
    ///
    /// # Panics
    /// If `from` is not a host.
    pub fn inject(&mut self, from: HostId, packet: Vec<u8>) {
        assert!(from < self.hosts.len(), "inject: no host {from}");
        self.transmit(from, packet);
    }

    // ---- links -----------------------------------------------------------

    /// Connect `a` and `b` with the same configuration in both directions.
    ///
    /// # Panics
    /// If either is not a host.
    pub fn link(&mut self, a: HostId, b: HostId, config: LinkConfig) {
        self.set_link(a, b, config.clone());
        self.set_link(b, a, config);
    }

    /// Configure the direction `from` -> `to`. Reconfiguring keeps the
    /// direction's statistics, queue and random stream.
    ///
    /// # Panics
    /// If either is not a host.
    pub fn set_link(&mut self, from: HostId, to: HostId, config: LinkConfig) {
        assert!(
            from < self.hosts.len() && to < self.hosts.len(),
            "set_link: no host {from} or {to}"
        );
        let seed = self.config.seed;
        self.links
            .entry((from, to))
            .and_modify(|l| l.config = config.clone())
            .or_insert_with(|| {
                let stream = ((from as u64) << 32) | (to as u64 & 0xffff_ffff);
                Link::new(config, Rng::stream(seed, stream))
            });
    }

    /// The configuration of `from` -> `to`, if connected.
    pub fn link_config(&self, from: HostId, to: HostId) -> Option<&LinkConfig> {
        self.links.get(&(from, to)).map(|l| &l.config)
    }

    /// The counters of `from` -> `to`, if connected.
    pub fn link_stats(&self, from: HostId, to: HostId) -> Option<&LinkStats> {
        self.links.get(&(from, to)).map(|l| &l.stats)
    }

    /// Every configured direction with its counters, in `(from, to)` order.
    pub fn all_link_stats(&self) -> Vec<((HostId, HostId), LinkStats)> {
        self.links.iter().map(|(&k, l)| (k, l.stats)).collect()
    }

    /// Packets sent by `id` dropped with [`DropCause::NoRoute`].
    ///
    /// # Panics
    /// If `id` is not a host.
    pub fn no_route_drops(&self, id: HostId) -> u64 {
        self.hosts[id].no_route
    }

    // ---- faults ----------------------------------------------------------

    /// Append a fault rule; returns its index. See [`crate::fault`] for the
    /// order of evaluation.
    pub fn add_fault(&mut self, rule: FaultRule) -> usize {
        let description = rule.describe(&self.host_names());
        self.rules.push(ArmedRule {
            rule,
            description,
            matched: 0,
            fired: 0,
            not_ect: 0,
        });
        self.rules.len() - 1
    }

    /// Parse a spec (see [`crate::fault`]) against this simulation's host
    /// names and append the rule.
    pub fn add_fault_spec(&mut self, spec: &str) -> Result<usize, FaultSpecError> {
        let rule = FaultRule::parse(spec, &self.host_names())?;
        Ok(self.add_fault(rule))
    }

    /// Remove every fault rule.
    pub fn clear_faults(&mut self) {
        self.rules.clear();
    }

    /// The rules with their descriptions and how many packets each matched
    /// and fired on so far.
    pub fn faults(&self) -> Vec<FaultStatus<'_>> {
        self.rules
            .iter()
            .map(|r| FaultStatus {
                rule: &r.rule,
                description: &r.description,
                matched: r.matched,
                fired: r.fired,
                not_ect: r.not_ect,
            })
            .collect()
    }

    // ---- trace -----------------------------------------------------------

    /// The trace recorded since the last [`take_trace`](Sim::take_trace), in
    /// time order.
    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// Take the trace recorded so far, leaving room for `trace_cap` more.
    pub fn take_trace(&mut self) -> Vec<TraceEntry> {
        core::mem::take(&mut self.trace)
    }

    /// Entries not stored because the trace was at its cap.
    pub fn trace_overflow(&self) -> u64 {
        self.trace_overflow
    }

    fn record(&mut self, host: HostId, kind: TraceKind) {
        if self.trace.len() < self.config.trace_cap {
            self.trace.push(TraceEntry {
                at: self.now,
                host,
                kind,
            });
        } else {
            self.trace_overflow += 1;
        }
    }

    // ---- the loop --------------------------------------------------------

    /// Packets on the links, not yet delivered (duplicates count twice).
    pub fn in_flight(&self) -> usize {
        self.deliveries.len()
    }

    /// When the next thing is due (a past deadline counts as now), and what.
    pub fn next_wake(&self) -> Option<(Instant, Wake)> {
        let mut best = self.deliveries.iter().next().map(|(&(at, _), d)| {
            (
                at.max(self.now),
                Wake::Delivery {
                    from: d.from,
                    to: d.to,
                },
            )
        });
        let mut consider = |at: Instant, wake: Wake| {
            let at = at.max(self.now);
            match best {
                Some((earliest, _)) if earliest <= at => {}
                _ => best = Some((at, wake)),
            }
        };
        for (id, h) in self.hosts.iter().enumerate() {
            if let Some(at) = h.node.poll_timeout() {
                consider(at, Wake::Timeout { host: id });
            }
        }
        for (id, h) in self.hosts.iter().enumerate() {
            if let (Some(at), Some(_)) = (h.app_deadline, h.app.as_ref()) {
                consider(at, Wake::App { host: id });
            }
        }
        best
    }

    /// Advance to the next thing due and fire it (see [the loop](Sim#the-loop)).
    /// Returns the new time, or `None` when nothing is pending.
    pub fn step(&mut self) -> Result<Option<Instant>, SimError> {
        self.flush_all()?;
        let Some((at, wake)) = self.next_wake() else {
            return Ok(None);
        };
        if at > self.now {
            self.now = at;
            self.steps_at_now = 0;
        }
        if self.steps_at_now >= self.config.max_steps_per_instant {
            return Err(SimError::Livelock {
                at: self.now,
                steps: self.steps_at_now,
                wake,
                name: self.hosts[wake.host()].name.clone(),
            });
        }
        self.steps_at_now += 1;
        let now = self.now;
        match wake {
            Wake::Delivery { .. } => {
                if let Some((_, d)) = self.deliveries.pop_first() {
                    if let Some(link) = self.links.get_mut(&(d.from, d.to)) {
                        link.stats.delivered_packets += 1;
                        link.stats.delivered_bytes += d.packet.len() as u64;
                    }
                    self.hosts[d.to].node.handle_packet(now, &d.packet);
                    self.wake_app(d.to);
                }
            }
            Wake::Timeout { host } => {
                self.hosts[host].node.handle_timeout(now);
                self.wake_app(host);
            }
            Wake::App { host } => self.wake_app(host),
        }
        self.flush_all()?;
        Ok(Some(now))
    }

    /// Run every step due at or before `t`, then set the clock to `t` (if it
    /// is later).
    pub fn run_until(&mut self, t: Instant) -> Result<(), SimError> {
        loop {
            self.flush_all()?;
            match self.next_wake() {
                Some((at, _)) if at <= t => {
                    self.step()?;
                }
                _ => break,
            }
        }
        if t > self.now {
            self.now = t;
            self.steps_at_now = 0;
        }
        Ok(())
    }

    /// Run for `d` of virtual time from now.
    pub fn run_for(&mut self, d: synack_proto::Duration) -> Result<(), SimError> {
        self.run_until(self.now + d)
    }

    /// Step until nothing is pending ([`RunOutcome::Idle`]) or the next thing
    /// is due after `limit` ([`RunOutcome::Limit`]; the clock then stays at
    /// the last thing done).
    pub fn run_until_idle(&mut self, limit: Instant) -> Result<RunOutcome, SimError> {
        loop {
            self.flush_all()?;
            match self.next_wake() {
                None => return Ok(RunOutcome::Idle),
                Some((at, _)) if at > limit => return Ok(RunOutcome::Limit { next: at }),
                Some(_) => {
                    self.step()?;
                }
            }
        }
    }

    fn wake_app(&mut self, id: HostId) {
        let now = self.now;
        let host = &mut self.hosts[id];
        if let Some(app) = host.app.as_mut() {
            host.app_deadline = app.on_wake(now, &mut host.node);
        }
    }

    fn flush_all(&mut self) -> Result<(), SimError> {
        for id in 0..self.hosts.len() {
            self.flush_host(id)?;
        }
        Ok(())
    }

    fn flush_host(&mut self, id: HostId) -> Result<(), SimError> {
        self.drain_events(id)?;
        let mut sent = 0u64;
        loop {
            let mut buf = Vec::new();
            if !self.hosts[id].node.poll_transmit(self.now, &mut buf) {
                return Ok(());
            }
            sent += 1;
            if sent > self.config.max_polls {
                return Err(self.flood(id, "packets"));
            }
            self.drain_events(id)?;
            self.transmit(id, buf);
        }
    }

    fn drain_events(&mut self, id: HostId) -> Result<(), SimError> {
        let mut count = 0u64;
        while let Some(event) = self.hosts[id].node.poll_event() {
            count += 1;
            if count > self.config.max_polls {
                return Err(self.flood(id, "events"));
            }
            self.record(id, TraceKind::Stack(event));
        }
        Ok(())
    }

    fn flood(&self, id: HostId, what: &'static str) -> SimError {
        SimError::Flood {
            at: self.now,
            host: id,
            name: self.hosts[id].name.clone(),
            what,
            limit: self.config.max_polls,
        }
    }

    fn transmit(&mut self, from: HostId, packet: Vec<u8>) {
        let now = self.now;
        let dest = peek::dst_addr(&packet).and_then(|a| self.routes.get(&a).copied());
        let (to, link) = match dest {
            None => (from, None),
            Some(to) => (to, self.links.get_mut(&(from, to))),
        };
        let Some(link) = link else {
            self.hosts[from].no_route += 1;
            self.record(
                from,
                TraceKind::Link(LinkEvent {
                    from,
                    to,
                    packet,
                    fate: LinkFate::Dropped(DropCause::NoRoute),
                }),
            );
            return;
        };
        let mut verdict = RuleVerdict::Pass;
        let mut decided = false;
        for armed in &mut self.rules {
            if !armed.rule.matches(from, to, now, &packet) {
                continue;
            }
            armed.matched += 1;
            let fires = match armed.rule.nth {
                Some(n) => armed.matched == n,
                None => true,
            };
            if fires && armed.rule.action == FaultAction::MarkCe && !peek::is_ect(&packet) {
                // RFC 3168 5: a router marks only ECN-capable packets. The rule
                // leaves this one alone and counts it, so the run can say why
                // the rule never marked anything.
                armed.not_ect += 1;
                continue;
            }
            if fires {
                armed.fired += 1;
                if !decided {
                    decided = true;
                    verdict = match armed.rule.action {
                        FaultAction::Drop => RuleVerdict::Drop(armed.description.clone()),
                        FaultAction::Delay(d) => RuleVerdict::Delay(d),
                        FaultAction::MarkCe => RuleVerdict::MarkCe,
                    };
                }
            }
        }
        let outcome = link.offer(now, &packet, verdict);
        let too_big = (matches!(outcome.fate, LinkFate::Dropped(DropCause::TooBig))
            && link.config.too_big_icmp)
            .then_some((link.config.mtu, link.config.delay));
        for (at, bytes) in outcome.copies {
            self.next_seq += 1;
            self.deliveries.insert(
                (at, self.next_seq),
                Delivery {
                    from,
                    to,
                    packet: bytes,
                },
            );
        }
        let icmp = too_big.and_then(|(mtu, delay)| {
            let router = *self.hosts[to].addrs.first()?;
            too_big_error(router, &packet, mtu).map(|p| (p, delay))
        });
        self.record(
            from,
            TraceKind::Link(LinkEvent {
                from,
                to,
                packet,
                fate: outcome.fate,
            }),
        );
        if let Some((error, delay)) = icmp {
            // The router's answer travels back over the link's delay, past the
            // link's other faults (it is the router's own packet).
            let at = now + delay;
            self.next_seq += 1;
            self.deliveries.insert(
                (at, self.next_seq),
                Delivery {
                    from: to,
                    to: from,
                    packet: error.clone(),
                },
            );
            self.record(
                to,
                TraceKind::Link(LinkEvent {
                    from: to,
                    to: from,
                    packet: error,
                    fate: LinkFate::Delivered { at },
                }),
            );
        }
    }
}

/// The ICMP error a router on a link of `mtu` octets sends about `packet`,
/// too big to forward (RFC 1191 4, RFC 8201 4): quoting as much of it as the
/// error may carry (RFC 1812 4.3.2.3: up to 576 octets in all for IPv4; RFC
/// 4443 2.4: up to the IPv6 minimum MTU).
fn too_big_error(router: std::net::IpAddr, packet: &[u8], mtu: usize) -> Option<Vec<u8>> {
    use synack_proto::wire::{
        emit_icmp_packet, IcmpMessage, IcmpRepr, Icmpv4Message, Icmpv4Unreachable, Icmpv6Message,
        IpRepr,
    };
    let sender = peek::src_addr(packet)?;
    let ip = IpRepr::new(router, sender)?;
    let (message, room) = match sender {
        std::net::IpAddr::V4(_) => (
            IcmpMessage::V4(Icmpv4Message::DestUnreachable {
                code: Icmpv4Unreachable::FragNeeded,
                next_hop_mtu: u16::try_from(mtu).unwrap_or(u16::MAX),
            }),
            576 - 20 - 8,
        ),
        std::net::IpAddr::V6(_) => (
            IcmpMessage::V6(Icmpv6Message::PacketTooBig {
                mtu: u32::try_from(mtu).unwrap_or(u32::MAX),
            }),
            1280 - 40 - 8,
        ),
    };
    let quote = &packet[..packet.len().min(room)];
    let mut buf = Vec::new();
    emit_icmp_packet(&ip, &IcmpRepr { message, quote }, &mut buf).ok()?;
    Some(buf)
}

/// A fault rule as installed, with its counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultStatus<'a> {
    /// The rule.
    pub rule: &'a FaultRule,
    /// Its description, as used in [`DropCause::Rule`].
    pub description: &'a str,
    /// Packets that matched its criteria (the count the Nth refers to).
    pub matched: u64,
    /// Packets it fired on (whether or not an earlier rule won).
    pub fired: u64,
    /// Packets a CE-marking rule was due to mark but passed unchanged
    /// because they were not ECN-capable (RFC 3168 5); not in `fired`.
    pub not_ect: u64,
}
