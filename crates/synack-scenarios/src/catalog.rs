//! The scenarios of SCENARIOS.md, and the demo.

use crate::world::{
    client_addr, server_addr, stack_config, Action, Peer, Role, Trigger, World, PORT,
};
use crate::{Options, Outcome, ScenarioError, ScenarioInfo};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_proto::wire::{emit_packet, IpRepr, SeqNum, TcpFlags, TcpOptions, TcpRepr};
use synack_proto::{Duration, EcnMode, Instant, SendReason, Stack, State, SynCookies};
use synack_sim::{FaultRule, Rng};

/// How long an application "thinks" before its next call.
const THINK: Duration = Duration::from_millis(100);
/// The most virtual time a scenario runs (keepalive's defaults need ~4 h).
const LIMIT: Duration = Duration::from_secs(24 * 60 * 60);

/// The demo's request.
pub(crate) const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
/// The demo's response.
pub(crate) const RESPONSE: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n";

/// Every scenario, in the order of SCENARIOS.md.
pub static SCENARIOS: &[ScenarioInfo] = &[
    ScenarioInfo {
        name: "handshake",
        description: "the three-way handshake: SYN, SYN,ACK, ACK (CLOSED -> SYN_SENT -> ESTABLISHED)",
        run: handshake,
    },
    ScenarioInfo {
        name: "teardown",
        description: "the four-way teardown, client closes first (FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT)",
        run: teardown,
    },
    ScenarioInfo {
        name: "server-closes-first",
        description: "the server closes first (HTTP/1.0 style): it holds TIME_WAIT, the client goes CLOSE_WAIT, LAST_ACK",
        run: server_closes_first,
    },
    ScenarioInfo {
        name: "three-segment-close",
        description: "the passive closer closes at once: its ACK and FIN share one segment, FIN_WAIT_2 is skipped",
        run: three_segment_close,
    },
    ScenarioInfo {
        name: "half-close",
        description: "shutdown(Write): the client sends FIN, the server keeps sending in CLOSE_WAIT, then closes",
        run: half_close,
    },
    ScenarioInfo {
        name: "simultaneous-close",
        description: "both sides send FIN at once: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both",
        run: simultaneous_close,
    },
    ScenarioInfo {
        name: "simultaneous-open",
        description: "both sides send SYN to each other: SYN_SENT -> SYN_RCVD -> ESTABLISHED, one connection",
        run: simultaneous_open,
    },
    ScenarioInfo {
        name: "lost-final-ack",
        description: "the last ACK of the teardown is lost: LAST_ACK resends FIN, TIME_WAIT answers again",
        run: lost_final_ack,
    },
    ScenarioInfo {
        name: "lost-syn",
        description: "the SYN is lost: the client resends it after the initial RTO of 1 s",
        run: lost_syn,
    },
    ScenarioInfo {
        name: "lost-syn-ack",
        description: "the SYN,ACK is lost: the client resends its SYN, the server its SYN,ACK",
        run: lost_syn_ack,
    },
    ScenarioInfo {
        name: "lost-third-ack",
        description: "the handshake's ACK is lost: the server stays in SYN_RCVD and resends SYN,ACK",
        run: lost_third_ack,
    },
    ScenarioInfo {
        name: "old-duplicate-syn",
        description: "a stale SYN reaches the server: the client answers its SYN,ACK with RST, nothing is accepted",
        run: old_duplicate_syn,
    },
    ScenarioInfo {
        name: "refused",
        description: "a SYN to a port nobody listens on: RST,ACK, connect fails with \"connection refused\"",
        run: refused,
    },
    ScenarioInfo {
        name: "abort",
        description: "the client aborts: RST, the server's next call fails with \"connection reset\"",
        run: abort,
    },
    ScenarioInfo {
        name: "keepalive",
        description: "keepalive probes after the idle time: one answered, then the peer vanishes and the connection times out",
        run: keepalive,
    },
    ScenarioInfo {
        name: "syn-flood",
        description: "spoofed SYNs fill the SYN queue; SYN cookies still serve the real client",
        run: syn_flood,
    },
    ScenarioInfo {
        name: "peer-reboot",
        description: "the server loses its state: it answers the client's data with RST, the client sees \"connection reset\"",
        run: peer_reboot,
    },
    ScenarioInfo {
        name: "bulk-transfer",
        description: "20 000 bytes from client to server: seq/ack advance by bytes, every byte arrives in order",
        run: bulk_transfer,
    },
    ScenarioInfo {
        name: "ecn",
        description: "a congested queue marks a data segment CE instead of dropping it: ECE echoes, the sender halves cwnd and answers CWR, nothing is lost",
        run: ecn,
    },
    ScenarioInfo {
        name: "path-mtu",
        description: "a link on the path carries only 1280-byte packets: its router answers the first full-sized segments with ICMP; the sender lowers its MSS and resends",
        run: path_mtu,
    },
    ScenarioInfo {
        name: "zero-window",
        description: "a slow reader's window closes to zero; the sender probes it (persist timer) until it opens",
        run: zero_window,
    },
];

fn at(d: Duration) -> Instant {
    Instant::ZERO + d
}

/// Bytes 0, 1, ... 250, 0, 1 ... so a misplaced byte shows.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Client connects, server accepts; both idle in ESTABLISHED.
fn handshake(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let cp = Peer::new(w.connect_role());
    let sp = Peer::new(Role::Accept(l));
    let (cr, sr) = (cp.record(), sp.record());
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
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
    w.check(
        cs.first().is_some_and(|s| s.1.seq != SeqNum(0))
            && ss.first().is_some_and(|s| s.1.seq != SeqNum(0)),
        "initial sequence numbers are not zero",
    );
    w.finish()
}

/// The four-way teardown apps: the client closes `THINK` after the
/// handshake, the server `THINK` after reading EOF.
fn teardown_apps(w: &mut World) -> Result<(), ScenarioError> {
    let l = w.listen(None)?;
    let cp = Peer::new(w.connect_role()).then(Trigger::Established, THINK, Action::Close);
    let sp = Peer::new(Role::Accept(l)).then(Trigger::Eof, THINK, Action::Close);
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
    Ok(())
}

fn check_active_close(w: &mut World, active: usize, name: &str) {
    let passive_name = if name == "client" { "server" } else { "client" };
    let passive = 1 - active;
    w.check(
        w.went(active, State::Established, State::FinWait1)
            && w.went(active, State::FinWait1, State::FinWait2)
            && w.went(active, State::FinWait2, State::TimeWait)
            && w.went(active, State::TimeWait, State::Closed),
        format!("{name}: ESTABLISHED -> FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT -> CLOSED"),
    );
    w.check(
        w.went(passive, State::Established, State::CloseWait)
            && w.went(passive, State::CloseWait, State::LastAck)
            && w.went(passive, State::LastAck, State::Closed),
        format!("{passive_name}: ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSED"),
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

fn teardown(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    teardown_apps(&mut w)?;
    w.run(LIMIT)?;
    let c = w.client;
    check_active_close(&mut w, c, "client");
    w.finish()
}

fn server_closes_first(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let cp = Peer::new(w.connect_role()).then(Trigger::Eof, THINK, Action::Close);
    let sp = Peer::new(Role::Accept(l)).then(Trigger::Established, THINK, Action::Close);
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
    w.run(LIMIT)?;
    let s = w.server;
    check_active_close(&mut w, s, "server");
    w.finish()
}

fn three_segment_close(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let cp = Peer::new(w.connect_role()).then(Trigger::Established, THINK, Action::Close);
    // The server closes within the wake-up that reads EOF: ACK and FIN share a segment.
    let sp = Peer::new(Role::Accept(l)).then(Trigger::Eof, Duration::ZERO, Action::Close);
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
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

fn half_close(o: &Options) -> Result<Outcome, ScenarioError> {
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
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    w.check(
        w.went(c, State::FinWait1, State::FinWait2) && w.went(c, State::FinWait2, State::TimeWait),
        "client: FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT",
    );
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

fn simultaneous_close(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    // Both applications close at the same instant, after both handshake ends.
    let t = at(o.delay * 4 + THINK);
    let cp = Peer::new(w.connect_role()).then(Trigger::At(t), Duration::ZERO, Action::Close);
    let sp = Peer::new(Role::Accept(l)).then(Trigger::At(t), Duration::ZERO, Action::Close);
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
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

fn simultaneous_open(o: &Options) -> Result<Outcome, ScenarioError> {
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
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
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

fn lost_final_ack(o: &Options) -> Result<Outcome, ScenarioError> {
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

fn lost_syn(o: &Options) -> Result<Outcome, ScenarioError> {
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

fn lost_syn_ack(o: &Options) -> Result<Outcome, ScenarioError> {
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

fn lost_third_ack(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    // The client's first pure ACK is the handshake's third segment.
    w.default_drop("client:1:ACK,!SYN,!FIN,!RST,!PSH")?;
    let l = w.listen(None)?;
    // The client stays silent; the server closes once its handshake completes.
    let cp = Peer::new(w.connect_role()).then(Trigger::Eof, THINK, Action::Close);
    let sp = Peer::new(Role::Accept(l)).then(Trigger::Established, THINK, Action::Close);
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
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

/// An IPv4 TCP packet built by hand (stale or spoofed segments).
fn raw_syn(src: SocketAddr, dst: SocketAddr, seq: u32) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(ip) = IpRepr::new(src.ip(), dst.ip()) {
        let tcp = TcpRepr {
            src_port: src.port(),
            dst_port: dst.port(),
            seq: SeqNum(seq),
            ack: SeqNum(0),
            flags: TcpFlags::SYN,
            window: 65535,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1460),
                ..Default::default()
            },
            payload: &[],
        };
        emit_packet(&ip, &tcp, &mut buf);
    }
    buf
}

fn old_duplicate_syn(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let sp = Peer::new(Role::Accept(l));
    let sr = sp.record();
    w.sim.set_app(w.server, sp);
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
    w.check(
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

fn refused(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    // Nobody listens on port 81.
    let cp = Peer::new(Role::Connect {
        local: None,
        remote: server_addr(81),
        cfg: Box::new(stack_config(o).conn),
    });
    let cr = cp.record();
    w.sim.set_app(w.client, cp);
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

fn abort(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let cp = Peer::new(w.connect_role()).then(Trigger::Established, THINK, Action::Abort);
    let sp = Peer::new(Role::Accept(l));
    let sr = sp.record();
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
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

fn keepalive(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let k = o.keepalive.unwrap_or_default();
    let l = w.listen(None)?;
    let mut cfg = stack_config(o).conn;
    cfg.keepalive = Some(k);
    let cp = Peer::new(Role::Connect {
        local: None,
        remote: server_addr(PORT),
        cfg: Box::new(cfg),
    });
    let sp = Peer::new(Role::Accept(l));
    let cr = cp.record();
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
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

fn syn_flood(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let backlog = o.backlog.unwrap_or(4);
    let mut o2 = o.clone();
    o2.backlog = Some(backlog);
    w.opts = o2;
    let l = w.listen(None)?;
    let spoofed = (backlog * 2).clamp(4, 64);
    // The real client arrives once the flood is under way.
    let start = at(Duration::from_millis(spoofed as u64 + 10));
    let cp = Peer::new(w.connect_role())
        .starting_at(start)
        .send_on(Trigger::Established, REQUEST.to_vec())
        .then(
            Trigger::Received(RESPONSE.len()),
            Duration::ZERO,
            Action::Close,
        );
    let sp = Peer::new(Role::Accept(l))
        .send_on(Trigger::Received(REQUEST.len()), RESPONSE.to_vec())
        .then(Trigger::Eof, Duration::ZERO, Action::Close);
    let (cr, sr) = (cp.record(), sp.record());
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
    // One spoofed SYN a millisecond, each from a random address.
    let mut rng = Rng::stream(o.seed, 0x5f1d);
    let server = w.server;
    for i in 0..spoofed {
        w.sim.run_until(at(Duration::from_millis(i as u64)))?;
        let a = rng.next_u64();
        let src = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(
                198,
                18 + (a & 1) as u8,
                (a >> 8) as u8,
                1 + (a >> 16) as u8 % 254,
            )),
            1024 + (a >> 24) as u16 % 60000,
        );
        let pkt = raw_syn(src, server_addr(PORT), (a >> 32) as u32);
        w.sim
            .with_node(server, |now, st: &mut Stack| st.handle_packet(now, &pkt))?;
    }
    // What an operator sees while the attack is on, as the real client arrives.
    w.sim.run_until(start)?;
    let peak = w.sim.node(server).listener_status(l).ok();
    let when = format!(" at {} ms, under attack", start.millis());
    if let Some(v) = w.listener_view(server, l, &when) {
        w.snapshots.push(v);
    }
    w.sim.run_until(start)?;
    w.run(LIMIT)?;
    let st = w.sim.node(server).listener_status(l).ok();
    let cookies = stack_config(o).syn_cookies;
    let served = cr.borrow().received == RESPONSE && sr.borrow().received == REQUEST;
    if let Some(st) = st {
        w.check_path(
            peak.is_some_and(|p| p.distinct_sources > 1 && p.syn_queue == p.syn_queue_limit),
            "under attack, the SYN queue was full of half-open entries from many addresses",
        );
        match cookies {
            SynCookies::Off => {
                w.check_path(
                    st.syns_dropped > 0,
                    "with cookies off, the full SYN queue dropped SYNs",
                );
            }
            SynCookies::WhenFull | SynCookies::Always => {
                w.check_path(
                    st.cookies_sent > 0,
                    "the listener answered with SYN cookies",
                );
                w.check_path(
                    st.cookies_validated >= 1,
                    "the real client's ACK carried a valid cookie",
                );
                w.check(served, "the real client was served despite the flood");
                let client = w.client;
                w.check_path(
                    !w.sent(client).iter().any(|x| x.2 == SendReason::Retransmit),
                    "the request riding on the cookie-validating ACK was accepted at once (no retransmission)",
                );
            }
        }
        w.check_path(
            st.synack_retransmits > 0 || cookies == SynCookies::Always,
            "half-open entries resent SYN,ACKs to addresses that never answer",
        );
    }
    w.finish()
}

fn peer_reboot(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    let reboot = at(Duration::from_secs(1));
    let cp = Peer::new(w.connect_role())
        .send_on(Trigger::At(reboot + THINK), b"are you there?".to_vec());
    let sp = Peer::new(Role::Accept(l));
    let cr = cp.record();
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
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

/// The client (as `client`) writes 20 000 patterned bytes once ESTABLISHED and
/// closes; the server reads to EOF and closes. Runs the world and checks the
/// bytes; returns them and what the server read.
fn one_way_transfer(
    w: &mut World,
    client: Role,
) -> Result<(Vec<u8>, crate::world::Record), ScenarioError> {
    let l = w.listen(None)?;
    let data = pattern(20_000);
    let cp = Peer::new(client)
        .send_on(Trigger::Established, data.clone())
        .then(Trigger::Sent, Duration::ZERO, Action::Close);
    let sp = Peer::new(Role::Accept(l)).then(Trigger::Eof, THINK, Action::Close);
    let sr = sp.record();
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
    w.run(LIMIT)?;
    let r = sr.borrow().clone();
    w.check_bytes("server", &data, &r);
    Ok((data, r))
}

fn bulk_transfer(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let role = w.connect_role();
    let (data, r) = one_way_transfer(&mut w, role)?;
    w.check(r.eof, "the server read EOF after the data");
    let c = w.client;
    let fin = w.sent(c).into_iter().find(|x| x.1.flags.fin());
    let syn = w.sent(c).into_iter().find(|x| x.1.flags.syn());
    w.check(
        matches!((syn, fin), (Some(s), Some(f)) if f.1.seq == s.1.seq + 1 + data.len() as u32),
        "the client's FIN has seq = ISN + 1 + 20000: sequence numbers count bytes",
    );
    let all_closed = w.all_closed();
    w.check(all_closed, "no connection is left on either side");
    w.finish()
}

fn ecn(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    // The client asks for ECN (RFC 3168 6.1.1); the server accepts, as by default.
    let mut cfg = stack_config(o).conn;
    cfg.ecn = EcnMode::Request;
    // The client's 2nd non-SYN packet, its second data segment (the handshake's
    // ACK rides on the first): a congested queue sets CE on it.
    w.default_drop("client:2:ACK,!SYN=ce")?;
    let role = Role::Connect {
        local: None,
        remote: server_addr(PORT),
        cfg: Box::new(cfg),
    };
    one_way_transfer(&mut w, role)?;
    let (c, s) = (w.client, w.server);
    let cs = w.sent(c);
    let ss = w.sent(s);
    let syn = cs.iter().find(|x| x.1.flags.syn()).map(|x| x.1.flags);
    let syn_ack = ss.iter().find(|x| x.1.flags.syn()).map(|x| x.1.flags);
    w.check(
        syn.is_some_and(|f| f.ece() && f.cwr()) && syn_ack.is_some_and(|f| f.ece() && !f.cwr()),
        "ECN negotiated: SYN with ECE,CWR, SYN,ACK with ECE only (RFC 3168 6.1.1)",
    );
    let eces: Vec<Instant> = ss
        .iter()
        .filter(|x| !x.1.flags.syn() && x.1.flags.ece())
        .map(|x| x.0)
        .collect();
    let cwrs: Vec<&(Instant, synack_proto::SegmentSummary, SendReason)> = cs
        .iter()
        .filter(|x| x.1.flags.cwr() && !x.1.flags.syn())
        .collect();
    w.check_path(
        !eces.is_empty(),
        "the server's ACKs carried ECE after the CE-marked segment (RFC 3168 6.1.3)",
    );
    w.check_path(
        cwrs.len() == 1 && cwrs[0].1.len > 0 && cwrs[0].2 == SendReason::Normal,
        "the client answered with CWR once, on new data (RFC 3168 6.1.2)",
    );
    // Every ACK of data at or past the CWR segment is free of ECE.
    let cwr_end = cwrs.first().map(|x| x.1.seq + x.1.len);
    w.check_path(
        cwr_end.is_some_and(|end| {
            ss.iter()
                .filter(|x| !x.1.flags.syn() && x.1.ack.ge(end))
                .all(|x| !x.1.flags.ece())
        }),
        "the server stopped echoing ECE once the CWR segment arrived",
    );
    w.check(
        !cs.iter().any(|x| x.2 != SendReason::Normal && x.1.len > 0),
        "no data was retransmitted: the congestion signal cost no packet",
    );
    w.check(w.all_closed(), "no connection is left on either side");
    w.finish()
}

fn path_mtu(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    // Both hosts sit on links of the configured MTU (1500 by default); the path
    // between them carries at most 1280 octets, and its router says so (RFC 1191,
    // RFC 8201) instead of dropping silently.
    let path = 1280usize;
    let host_mtu = usize::from(o.mtu.unwrap_or(1500));
    w.relink(|mut l| {
        l.mtu = path.min(host_mtu);
        l.too_big_icmp = true;
        l
    });
    let role = w.connect_role();
    one_way_transfer(&mut w, role)?;
    let c = w.client;
    let reduced: Vec<(u16, u16)> = w
        .sim
        .trace()
        .iter()
        .filter(|e| e.host == c)
        .filter_map(|e| match &e.kind {
            synack_sim::TraceKind::Stack(ev) => match ev.kind {
                synack_proto::EventKind::PathMtuReduced { mtu, mss, .. } => Some((mtu, mss)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    if host_mtu > path {
        w.check(
            reduced
                .first()
                .is_some_and(|&(mtu, _)| usize::from(mtu) == path),
            format!("the client learnt the path MTU of {path} from the router's ICMP error"),
        );
        let mss = reduced.first().map_or(0, |&(_, m)| u32::from(m));
        let after = w
            .sent(c)
            .into_iter()
            .skip_while(|x| x.1.len <= mss)
            .skip_while(|x| x.1.len > mss)
            .collect::<Vec<_>>();
        w.check_path(
            after.iter().all(|x| x.1.len <= mss),
            format!("after it, every segment carried at most {mss} bytes"),
        );
        w.check_path(
            !w.sent(c).iter().any(|x| x.2 == SendReason::Retransmit),
            "the drops were repaired without waiting for a retransmission timeout",
        );
    }
    w.check(w.all_closed(), "no connection is left on either side");
    w.finish()
}

fn zero_window(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let mut cfg = stack_config(o).conn;
    // Room for exactly two full segments: the sender fills it and the window closes.
    // A full segment is the MSS less the 12-byte timestamps option when in use (RFC 7323 3.2).
    let ts = if cfg.timestamps { 12 } else { 0 };
    let mss = usize::from(o.mtu.unwrap_or(1500))
        .saturating_sub(40 + ts)
        .max(1);
    cfg.recv_buffer = 2 * mss;
    let l = w.listen(Some(cfg))?;
    let data = pattern(10_000);
    let cp = Peer::new(w.connect_role())
        .send_on(Trigger::Established, data.clone())
        .then(Trigger::Sent, Duration::ZERO, Action::Close);
    // The server application reads nothing for its first 3 seconds.
    let sp = Peer::new(Role::Accept(l))
        .reading_from(at(Duration::from_secs(3)))
        .then(Trigger::Eof, THINK, Action::Close);
    let sr = sp.record();
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
    w.run(LIMIT)?;
    let (c, s) = (w.client, w.server);
    w.check(
        w.sent(s).iter().any(|x| x.1.window == 0 && x.1.flags.ack()),
        "the server advertised a zero window",
    );
    w.check(
        w.sent(c).iter().any(|x| x.2 == SendReason::WindowProbe),
        "the client probed the closed window (persist timer)",
    );
    let probes: Vec<SeqNum> = w
        .sent(c)
        .iter()
        .filter(|x| x.2 == SendReason::WindowProbe)
        .map(|x| x.1.seq)
        .collect();
    w.check_path(
        probes.windows(2).all(|p| p[0] == p[1]),
        "every window probe repeats the first unacknowledged byte (the window is still zero)",
    );
    w.check_path(
        !w.sent(c).iter().any(|x| {
            matches!(x.2, SendReason::Retransmit | SendReason::FastRetransmit) && x.1.len > 1
        }),
        "no data segment had to be retransmitted",
    );
    w.check(
        w.sent(s).iter().any(|x| x.2 == SendReason::WindowUpdate),
        "the server announced the reopened window once its application read",
    );
    let r = sr.borrow().clone();
    w.check_bytes("server", &data, &r);
    w.finish()
}

/// The demo: the client sends a request, the server answers, the client
/// closes first; both sides go through every state of a normal life.
pub fn demo(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    let l = w.listen(None)?;
    // The request is written once the handshake's ACK has left.
    let cp = Peer::new(w.connect_role())
        .send_after(Trigger::Established, Duration::ZERO, REQUEST.to_vec())
        .then(
            Trigger::Received(RESPONSE.len()),
            Duration::ZERO,
            Action::Close,
        );
    let sp = Peer::new(Role::Accept(l))
        .send_on(Trigger::Received(REQUEST.len()), RESPONSE.to_vec())
        .then(Trigger::Eof, THINK, Action::Close);
    let (cr, sr) = (cp.record(), sp.record());
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
    w.run(LIMIT)?;
    let (c, s) = (cr.borrow().clone(), sr.borrow().clone());
    w.check_bytes("server", REQUEST, &s);
    w.check_bytes("client", RESPONSE, &c);
    let client = w.client;
    check_active_close(&mut w, client, "client");
    w.finish()
}
