//! Data transfer: bulk data, ECN marks, path MTU discovery, a zero window.

use super::{at, pattern, LIMIT, THINK};
use crate::peer::{Action, Peer, Role, Trigger};
use crate::world::{server_addr, stack_config, World, PORT};
use crate::{Options, Outcome, ScenarioError};
use synack_proto::wire::SeqNum;
use synack_proto::{Duration, EcnMode, Instant, SendReason};

/// The client (as `client`) writes 20 000 patterned bytes once ESTABLISHED and
/// closes; the server reads to EOF and closes. Runs the world and checks the
/// bytes; returns them and what the server read.
pub(super) fn one_way_transfer(
    w: &mut World,
    client: Role,
) -> Result<(Vec<u8>, crate::peer::Record), ScenarioError> {
    let l = w.listen(None)?;
    let data = pattern(20_000);
    let cp = Peer::new(client)
        .send_on(Trigger::Established, data.clone())
        .then(Trigger::Sent, Duration::ZERO, Action::Close);
    let sp = Peer::new(Role::Accept(l)).then(Trigger::Eof, THINK, Action::Close);
    let sr = sp.record();
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
    w.run(LIMIT)?;
    let r = sr.borrow().clone();
    w.check_bytes("server", &data, &r);
    Ok((data, r))
}

pub(super) fn bulk_transfer(o: &Options) -> Result<Outcome, ScenarioError> {
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

pub(super) fn ecn(o: &Options) -> Result<Outcome, ScenarioError> {
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
    // With loss on the link too, retransmissions are the loss's, not ECN's.
    w.check_path(
        !cs.iter().any(|x| x.2 != SendReason::Normal && x.1.len > 0),
        "no data was retransmitted: the congestion signal cost no packet",
    );
    w.check(w.all_closed(), "no connection is left on either side");
    w.finish()
}

pub(super) fn path_mtu(o: &Options) -> Result<Outcome, ScenarioError> {
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

pub(super) fn zero_window(o: &Options) -> Result<Outcome, ScenarioError> {
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
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
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
