//! Closing: the four-way teardown and its variants (who closes first, a
//! shared ACK and FIN, a half-close, both at once).

use super::{at, pattern, LIMIT, THINK};
use crate::peer::{Action, Peer, Role, Trigger};
use crate::world::{stack_config, World};
use crate::{Options, Outcome, ScenarioError};
use synack_proto::wire::TcpFlags;
use synack_proto::{Duration, SendReason, State};

/// The four-way teardown apps: the client closes `THINK` after the
/// handshake, the server `THINK` after reading EOF.
pub(super) fn teardown_apps(w: &mut World) -> Result<(), ScenarioError> {
    let l = w.listen(None)?;
    let cp = Peer::new(w.connect_role()).then(Trigger::Established, THINK, Action::Close);
    let sp = Peer::new(Role::Accept(l)).then(Trigger::Eof, THINK, Action::Close);
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    Ok(())
}

pub(super) fn check_active_close(w: &mut World, active: usize, name: &str) {
    let passive_name = if name == "client" { "server" } else { "client" };
    let passive = 1 - active;
    // With faults, the peer's FIN may carry the ACK of ours: FIN_WAIT_1 ->
    // TIME_WAIT directly (RFC 9293 3.10.7.4) is another legal path.
    w.check_path(
        w.went(active, State::Established, State::FinWait1)
            && w.went(active, State::FinWait1, State::FinWait2)
            && w.went(active, State::FinWait2, State::TimeWait)
            && w.went(active, State::TimeWait, State::Closed),
        format!("{name}: ESTABLISHED -> FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT -> CLOSED"),
    );
    w.check_path(
        w.went(passive, State::Established, State::CloseWait)
            && w.went(passive, State::CloseWait, State::LastAck)
            && w.went(passive, State::LastAck, State::Closed),
        format!("{passive_name}: ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSED"),
    );
    let active_tw = w.went(active, State::TimeWait, State::Closed);
    let passive_la = w.went(passive, State::LastAck, State::Closed);
    w.check_if_faulty(
        active_tw && passive_la,
        format!("{name} closed through TIME_WAIT, {passive_name} through LAST_ACK"),
    );
    let msl = stack_config(&w.opts).conn.msl;
    let tw = w.went_at(active, State::FinWait2, State::TimeWait);
    let closed = w.went_at(active, State::TimeWait, State::Closed);
    w.check_path(
        matches!((tw, closed), (Some(a), Some(b)) if b - a == msl * 2),
        format!(
            "{name} held TIME_WAIT for 2*MSL = {} s",
            (msl * 2).as_secs_f64()
        ),
    );
    let all_closed = w.all_closed();
    w.check(all_closed, "no connection is left on either side");
}

pub(super) fn teardown(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    teardown_apps(&mut w)?;
    w.run(LIMIT)?;
    let c = w.client;
    check_active_close(&mut w, c, "client");
    w.finish()
}

pub(super) fn server_closes_first(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let cp = Peer::new(w.connect_role()).then(Trigger::Eof, THINK, Action::Close);
    let sp = Peer::new(Role::Accept(l)).then(Trigger::Established, THINK, Action::Close);
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    w.run(LIMIT)?;
    let s = w.server;
    check_active_close(&mut w, s, "server");
    w.finish()
}

pub(super) fn three_segment_close(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let cp = Peer::new(w.connect_role()).then(Trigger::Established, THINK, Action::Close);
    // The server closes within the wake-up that reads EOF: ACK and FIN share a segment.
    let sp = Peer::new(Role::Accept(l)).then(Trigger::Eof, Duration::ZERO, Action::Close);
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    w.check(
        w.went(s, State::CloseWait, State::LastAck),
        "server: CLOSE_WAIT -> LAST_ACK at once",
    );
    let fins: Vec<_> = w.sent(s).into_iter().filter(|x| x.1.flags.fin()).collect();
    let client_fin = w.sent(c).into_iter().find(|x| x.1.flags.fin());
    let one_segment = w.sent(s).iter().all(|x| {
        !(x.1.flags == TcpFlags::ACK
            && x.2 == SendReason::Normal
            && client_fin.is_some_and(|f| x.1.ack == f.1.seq + 1))
    });
    w.check_path(
        fins.len() == 1
            && fins[0].1.flags.ack()
            && client_fin.is_some_and(|f| fins[0].1.ack == f.1.seq + 1)
            && one_segment,
        "the server's ACK of the client's FIN and its own FIN travel in one FIN,ACK segment",
    );
    w.check_path(
        w.went(c, State::FinWait1, State::TimeWait) && !w.went(c, State::FinWait1, State::FinWait2),
        "client: FIN_WAIT_1 -> TIME_WAIT directly, no FIN_WAIT_2",
    );
    let all_closed = w.all_closed();
    w.check(all_closed, "no connection is left on either side");
    w.finish()
}

pub(super) fn half_close(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let data = pattern(3000);
    let cp = Peer::new(w.connect_role())
        .then(Trigger::Established, THINK, Action::ShutdownWrite)
        .then(Trigger::Eof, Duration::ZERO, Action::Close);
    let sp = Peer::new(Role::Accept(l))
        .send_on(Trigger::Eof, data.clone())
        .then(Trigger::Sent, Duration::ZERO, Action::Close);
    let (cr, sr) = (cp.record(), sp.record());
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    w.check_path(
        w.went(c, State::FinWait1, State::FinWait2) && w.went(c, State::FinWait2, State::TimeWait),
        "client: FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT",
    );
    let tw = w.went(c, State::TimeWait, State::Closed);
    w.check_if_faulty(tw, "the client closed through TIME_WAIT");
    let cw = w.went_at(s, State::Established, State::CloseWait);
    let data_in_close_wait = w
        .sent(s)
        .iter()
        .any(|x| x.1.len > 0 && cw.is_some_and(|t| x.0 >= t));
    w.check(
        data_in_close_wait,
        "the server sent data after entering CLOSE_WAIT",
    );
    let r = cr.borrow().clone();
    w.check_bytes("client", &data, &r);
    w.check(r.eof, "the client read EOF after the data");
    w.check(sr.borrow().eof, "the server read the client's EOF");
    w.finish()
}

pub(super) fn simultaneous_close(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    // Both applications close at the same instant, after both handshake ends.
    let t = at(o.delay * 4 + THINK);
    let cp = Peer::new(w.connect_role()).then(Trigger::At(t), Duration::ZERO, Action::Close);
    let sp = Peer::new(Role::Accept(l)).then(Trigger::At(t), Duration::ZERO, Action::Close);
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    w.run(LIMIT)?;
    for (h, name) in [(w.client, "client"), (w.server, "server")] {
        w.check_path(
            w.went(h, State::FinWait1, State::Closing)
                && w.went(h, State::Closing, State::TimeWait)
                && w.went(h, State::TimeWait, State::Closed),
            format!("{name}: FIN_WAIT_1 -> CLOSING -> TIME_WAIT -> CLOSED"),
        );
    }
    let all_closed = w.all_closed();
    w.check(all_closed, "no connection is left on either side");
    w.finish()
}
