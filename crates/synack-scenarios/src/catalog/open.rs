//! Opening: the three-way handshake, both sides opening at once, a stale SYN
//! the handshake turns away, and a SYN nobody listens for.

use super::{raw_syn, LIMIT, THINK};
use crate::peer::{Action, Peer, Role, Trigger};
use crate::world::{client_addr, server_addr, stack_config, World, PORT};
use crate::{Options, Outcome, ScenarioError};
use synack_proto::wire::{SeqNum, TcpFlags};
use synack_proto::State;

/// Client connects, server accepts; both idle in ESTABLISHED.
pub(super) fn handshake(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let cp = Peer::new(w.connect_role());
    let sp = Peer::new(Role::Accept(l));
    let (cr, sr) = (cp.record(), sp.record());
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    w.check(
        w.went(c, State::Closed, State::SynSent) && w.went(c, State::SynSent, State::Established),
        "client: CLOSED -> SYN_SENT -> ESTABLISHED",
    );
    w.check(
        w.went(s, State::Listen, State::SynReceived)
            && w.went(s, State::SynReceived, State::Established),
        "server: LISTEN -> SYN_RCVD -> ESTABLISHED",
    );
    w.check(
        cr.borrow().established.is_some() && sr.borrow().established.is_some(),
        "accept() returned the connection",
    );
    let cs = w.sent(c);
    let ss = w.sent(s);
    let path = cs.len() == 2
        && ss.len() == 1
        && cs[0].1.flags == TcpFlags::SYN
        && cs[0].1.options.mss.is_some()
        && ss[0].1.flags == TcpFlags(TcpFlags::SYN.0 | TcpFlags::ACK.0)
        && ss[0].1.ack == cs[0].1.seq + 1
        && cs[1].1.flags == TcpFlags::ACK
        && cs[1].1.seq == cs[0].1.seq + 1
        && cs[1].1.ack == ss[0].1.seq + 1;
    w.check_path(
        path,
        "exactly three segments: SYN seq=x (MSS option), SYN,ACK seq=y ack=x+1, ACK seq=x+1 ack=y+1",
    );
    // RFC 9293 3.4.1: the ISN comes from a clock and a secret, not zero.
    // (A side that sent nothing, its SYN never reaching it, chose no ISN.)
    w.check_rule(
        cs.first().is_none_or(|s| s.1.seq != SeqNum(0))
            && ss.first().is_none_or(|s| s.1.seq != SeqNum(0)),
        "initial sequence numbers are not zero",
    );
    w.finish()
}

pub(super) fn simultaneous_open(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let conn = stack_config(o).conn;
    let cp = Peer::new(Role::Connect {
        local: Some(client_addr(1000)),
        remote: server_addr(2000),
        cfg: Box::new(conn),
    })
    .send_on(Trigger::Established, b"ping".to_vec())
    .then(Trigger::Received(4), THINK, Action::Close);
    let sp = Peer::new(Role::Connect {
        local: Some(server_addr(2000)),
        remote: client_addr(1000),
        cfg: Box::new(conn),
    })
    .send_on(Trigger::Established, b"pong".to_vec())
    .then(Trigger::Eof, THINK, Action::Close);
    let (cr, sr) = (cp.record(), sp.record());
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    w.run(LIMIT)?;
    for (h, name) in [(w.client, "client"), (w.server, "server")] {
        w.check_path(
            w.went(h, State::SynSent, State::SynReceived)
                && w.went(h, State::SynReceived, State::Established),
            format!("{name}: SYN_SENT -> SYN_RCVD -> ESTABLISHED"),
        );
        let opens = w
            .transitions(h)
            .iter()
            .filter(|t| t.1 == State::Established)
            .count();
        w.check(opens == 1, format!("{name}: one connection, not two"));
    }
    let (c, s) = (cr.borrow().clone(), sr.borrow().clone());
    w.check_bytes("server", b"ping", &s);
    w.check_bytes("client", b"pong", &c);
    w.finish()
}

pub(super) fn old_duplicate_syn(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let sp = Peer::new(Role::Accept(l));
    let sr = sp.record();
    w.set_app(w.server, sp);
    // A SYN from an earlier incarnation of client port 40000, still in the network.
    let stale = raw_syn(client_addr(40000), server_addr(PORT), 90_000);
    let client = w.client;
    w.sim.inject(client, stale);
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    let synack = w
        .sent(s)
        .into_iter()
        .find(|x| x.1.flags.syn() && x.1.flags.ack());
    w.check(
        synack.is_some_and(|x| x.1.ack == SeqNum(90_001)),
        "the server answered the stale SYN with SYN,ACK ack=90001",
    );
    let rst = w.sent(c).into_iter().find(|x| x.1.flags.rst());
    w.check_path(
        matches!((synack, rst), (Some(sa), Some(r)) if r.1.seq == sa.1.ack),
        "the client, which opened no such connection, answered RST with seq = the SYN,ACK's ack",
    );
    w.check_path(
        w.went(s, State::SynReceived, State::Closed),
        "the server's half-open entry went away (back to LISTEN)",
    );
    // Nothing in RFC 9293 turns a SYN,ACK answered with RST into a connection.
    w.check_rule(
        sr.borrow().established.is_none(),
        "no connection was ever handed to the server application",
    );
    let expired = w
        .sim
        .node(s)
        .listener_status(l)
        .map(|st| st.half_open_expired)
        .unwrap_or(0);
    w.check_path(
        expired == 1,
        "the listener counts one half-open entry removed",
    );
    let all_closed = w.all_closed();
    w.check(all_closed, "no connection is left on either side");
    w.finish()
}

pub(super) fn refused(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    // Nobody listens on port 81.
    let cp = Peer::new(Role::Connect {
        local: None,
        remote: server_addr(81),
        cfg: Box::new(stack_config(o).conn),
    });
    let cr = cp.record();
    w.set_app(w.client, cp);
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    let syn = w.sent(c).into_iter().find(|x| x.1.flags.syn());
    let rst = w.sent(s).into_iter().find(|x| x.1.flags.rst());
    w.check_path(
        matches!((syn, rst), (Some(sy), Some(r))
            if r.1.flags == TcpFlags(TcpFlags::RST.0 | TcpFlags::ACK.0)
                && r.1.seq == SeqNum(0)
                && r.1.ack == sy.1.seq + 1),
        "the server answered RST,ACK seq=0 ack=x+1",
    );
    let err = cr.borrow().conn_error();
    w.check_error(
        err,
        synack_proto::ConnError::Refused,
        "connect failed with \"connection refused\"",
    );
    w.check(
        w.went(c, State::SynSent, State::Closed),
        "client: SYN_SENT -> CLOSED",
    );
    w.finish()
}
