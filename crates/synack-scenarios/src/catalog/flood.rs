//! A SYN flood against the listener, and SYN cookies.

use super::{at, raw_syn, LIMIT, REQUEST, RESPONSE};
use crate::peer::{Action, Peer, Role, Trigger};
use crate::world::{server_addr, stack_config, World, PORT};
use crate::{Options, Outcome, ScenarioError};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_proto::{Duration, SendReason, Stack, SynCookies};
use synack_sim::Rng;

pub(super) fn syn_flood(o: &Options) -> Result<Outcome, ScenarioError> {
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
    w.set_app(w.client, cp);
    w.set_app(w.server, sp);
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
