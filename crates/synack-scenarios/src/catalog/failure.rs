//! Connections that end badly: an abort, a peer that vanishes behind
//! keepalive, a peer that reboots.

use super::{at, LIMIT, THINK};
use crate::peer::{Action, Peer, Role, Trigger};
use crate::world::{server_addr, stack_config, World, PORT};
use crate::{Options, Outcome, ScenarioError};
use synack_proto::{Duration, Instant, SendReason, Stack, State};
use synack_sim::FaultRule;

pub(super) fn abort(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let cp = Peer::new(w.connect_role()).then(Trigger::Established, THINK, Action::Abort);
    let sp = Peer::new(Role::Accept(l));
    let sr = sp.record();
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    w.check(
        w.sent(c)
            .iter()
            .any(|x| x.1.flags.rst() && x.2 == SendReason::Abort),
        "the client's abort sent RST",
    );
    let err = sr.borrow().conn_error();
    w.check_error(
        err,
        synack_proto::ConnError::Reset,
        "the server's next call failed with \"connection reset\"",
    );
    w.check(
        w.went(s, State::Established, State::Closed),
        "server: ESTABLISHED -> CLOSED, no TIME_WAIT",
    );
    let all_closed = w.all_closed();
    w.check(all_closed, "no connection is left on either side");
    w.finish()
}

pub(super) fn keepalive(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let k = o.keepalive.unwrap_or_default();
    let l = w.listen(None)?;
    let mut cfg = stack_config(o).conn;
    cfg.keepalive = Some(k);
    w.keepalive = Some(k);
    let cp = Peer::new(Role::Connect {
        local: None,
        remote: server_addr(PORT),
        cfg: Box::new(cfg),
    });
    let sp = Peer::new(Role::Accept(l));
    let cr = cp.record();
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    // After the first probe is answered, the server vanishes from the
    // client's view: everything it sends is lost.
    let start = at(k.idle + k.idle / 2);
    let (c, s) = (w.client, w.server);
    w.sim.add_fault(
        FaultRule::partition(s, c, start, Instant::from_micros(u64::MAX))
            .labelled("the server is unreachable"),
    );
    let limit = k.idle * 3 + k.interval * (k.count + 2);
    w.run(limit.max(LIMIT))?;
    let probes: Vec<Instant> = w
        .sent(c)
        .iter()
        .filter(|x| x.2 == SendReason::KeepaliveProbe)
        .map(|x| x.0)
        .collect();
    let est = cr.borrow().established;
    w.check_path(
        matches!((est, probes.first()), (Some(e), Some(&p)) if p - e == k.idle),
        format!("the first probe left after {} s idle", k.idle.as_secs()),
    );
    let answered = probes.first().is_some_and(|&p| {
        w.sent(s)
            .iter()
            .any(|x| x.0 > p && x.0 < start && x.1.flags.ack())
    });
    w.check_path(answered, "the server answered the first probe");
    w.check_path(
        probes.len() == 1 + k.count as usize,
        format!(
            "after the answered probe, {} unanswered probes ({} sent in all)",
            k.count,
            probes.len()
        ),
    );
    w.check(
        w.errors(c).contains(&synack_proto::ConnError::TimedOut),
        "the client's connection failed with \"connection timed out\"",
    );
    w.finish()
}

pub(super) fn peer_reboot(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let reboot = at(Duration::from_secs(1));
    let cp = Peer::new(w.connect_role())
        .send_on(Trigger::At(reboot + THINK), b"are you there?".to_vec());
    let sp = Peer::new(Role::Accept(l));
    let cr = cp.record();
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    w.sim.run_until(reboot)?;
    // The server loses every connection: a fresh stack at the same address.
    let server = w.server;
    w.sim.remove_app(server);
    let mut fresh = Stack::new_deterministic(stack_config(o), o.seed.wrapping_add(99));
    fresh.add_address(w.sim.addresses(server)[0]);
    *w.sim.node_mut(server) = fresh;
    w.listeners.clear();
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    w.check(
        w.sent(s).iter().any(|x| x.1.flags.rst()),
        "the rebooted server answered the unknown connection's segment with RST",
    );
    let err = cr.borrow().conn_error();
    w.check_error(
        err,
        synack_proto::ConnError::Reset,
        "the client saw \"connection reset\"",
    );
    w.check(
        w.went(c, State::Established, State::Closed),
        "client: ESTABLISHED -> CLOSED instead of waiting forever",
    );
    w.finish()
}
