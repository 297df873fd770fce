//! Lost segments of the handshake and the teardown, and how each side
//! recovers.

use super::close::{check_active_close, teardown_apps};
use super::{LIMIT, THINK};
use crate::peer::{Action, Peer, Role, Trigger};
use crate::world::{stack_config, World};
use crate::{Options, Outcome, ScenarioError};
use synack_proto::wire::TcpFlags;
use synack_proto::{Instant, SendReason, State};

pub(super) fn lost_final_ack(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    // The client's pure ACKs: the handshake's, then the teardown's last one.
    w.default_drop("client:2:ACK,!SYN,!FIN,!RST,!PSH")?;
    teardown_apps(&mut w)?;
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    let server_sent = w.sent(s);
    // The FIN alone is in flight: the tail loss probe (RFC 8985 7.3) resends it,
    // at 2*SRTT + 200 ms or the RTO, whichever comes first.
    let refin = server_sent
        .iter()
        .find(|x| x.1.flags.fin() && matches!(x.2, SendReason::Retransmit | SendReason::LossProbe))
        .map(|x| x.0);
    w.check_path(
        refin.is_some(),
        "the server, in LAST_ACK, resent its FIN after its loss probe timeout",
    );
    let reack = w
        .sent(c)
        .iter()
        .filter(|x| refin.is_some_and(|t| x.0 > t) && x.1.flags == TcpFlags::ACK)
        .map(|x| x.0)
        .next();
    w.check_path(
        reack.is_some(),
        "the client, in TIME_WAIT, answered with a fresh ACK",
    );
    let msl = stack_config(o).conn.msl;
    let closed = w.went_at(c, State::TimeWait, State::Closed);
    w.check_path(
        matches!((reack, closed), (Some(a), Some(b)) if b - a == msl * 2),
        "the client restarted its 2*MSL timer when it answered",
    );
    w.check(
        w.went(s, State::LastAck, State::Closed),
        "server: LAST_ACK -> CLOSED",
    );
    let all_closed = w.all_closed();
    w.check(all_closed, "no connection is left on either side");
    w.finish()
}

pub(super) fn lost_syn(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    w.default_drop("client:1:SYN")?;
    teardown_apps(&mut w)?;
    w.run(LIMIT)?;
    let c = w.client;
    let syns: Vec<Instant> = w
        .sent(c)
        .iter()
        .filter(|x| x.1.flags.syn())
        .map(|x| x.0)
        .collect();
    let rto = stack_config(o).conn.initial_rto;
    w.check_path(
        syns.len() == 2 && syns[1] - syns[0] == rto,
        format!(
            "the SYN was sent again after the initial RTO ({} s)",
            rto.as_secs_f64()
        ),
    );
    w.check(
        w.went(c, State::SynSent, State::Established),
        "the retransmitted SYN opened the connection",
    );
    check_active_close(&mut w, c, "client");
    w.finish()
}

pub(super) fn lost_syn_ack(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    w.default_drop("server:1:SYN,ACK")?;
    teardown_apps(&mut w)?;
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    let syns = w.sent(c).iter().filter(|x| x.1.flags.syn()).count();
    let synacks = w.sent(s).iter().filter(|x| x.1.flags.syn()).count();
    w.check_path(syns >= 2, "the client sent its SYN again");
    w.check_path(synacks >= 2, "the server sent its SYN,ACK again");
    w.check(
        w.went(c, State::SynSent, State::Established)
            && w.went(s, State::SynReceived, State::Established),
        "the handshake completed on both sides",
    );
    check_active_close(&mut w, c, "client");
    w.finish()
}

pub(super) fn lost_third_ack(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    // The client's first pure ACK is the handshake's third segment.
    w.default_drop("client:1:ACK,!SYN,!FIN,!RST,!PSH")?;
    let l = w.listen(None)?;
    // The client stays silent; the server closes once its handshake completes.
    let cp = Peer::new(w.connect_role()).then(Trigger::Eof, THINK, Action::Close);
    let sp = Peer::new(Role::Accept(l)).then(Trigger::Established, THINK, Action::Close);
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    let resent = w
        .sent(s)
        .iter()
        .any(|x| x.1.flags.syn() && x.2 == SendReason::Retransmit);
    w.check_path(resent, "the server, in SYN_RCVD, resent its SYN,ACK");
    let c_est = w.went_at(c, State::SynSent, State::Established);
    let s_est = w.went_at(s, State::SynReceived, State::Established);
    w.check_path(
        matches!((c_est, s_est), (Some(a), Some(b)) if b - a > stack_config(o).conn.initial_rto / 2),
        "the client was ESTABLISHED long before the server left SYN_RCVD",
    );
    check_active_close(&mut w, s, "server");
    w.finish()
}
