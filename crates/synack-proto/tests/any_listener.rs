//! Any-destination listeners and deciding before the handshake, between two
//! stacks: S owns 10.0.0.2 but takes connections to addresses it does not
//! own, as a transparent proxy's TCP engine does.
#![allow(clippy::unwrap_used)]

mod util;

use std::net::SocketAddr;
use synack_proto::{
    AnyDestination, ConnError, Decision, DropReason, Duration, Error, IpPrefix, Stack, StackConfig,
    State,
};
use util::*;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn any(prefixes: &[&str], ports: std::ops::RangeInclusive<u16>) -> AnyDestination {
    AnyDestination {
        prefixes: prefixes
            .iter()
            .map(|p| p.parse::<IpPrefix>().unwrap())
            .collect(),
        ports,
    }
}

fn listen_any(s: &mut Stack, d: AnyDestination) -> synack_proto::ListenerId {
    let cfg = s.config().conn;
    s.listen_any(d, 16, 16, cfg).unwrap()
}

fn drops(s: &Stack, r: DropReason) -> u64 {
    s.stats().drops.get(&r).copied().unwrap_or(0)
}

#[test]
fn a_connection_to_any_address_of_the_prefix_keeps_the_dialled_destination() {
    let mut net = Net::new(StackConfig::default());
    let l = listen_any(net.s(), any(&["10.9.0.0/16"], 1..=65535));
    let now = net.now;
    let c = net.c().connect(now, None, sa("10.9.3.4:8443")).unwrap();
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.c().state(c).unwrap(), State::Established);
    let a = net.s().accept(l).unwrap();
    let t = net.s().tuple(a).unwrap();
    assert_eq!(t.local, sa("10.9.3.4:8443"));
    assert_eq!(t.remote, net.c().tuple(c).unwrap().local);
    let now = net.now;
    net.c().send(now, c, b"through").unwrap();
    net.run_for(Duration::from_secs(1));
    let mut buf = [0u8; 16];
    let now = net.now;
    assert_eq!(net.s().recv(now, a, &mut buf).unwrap(), 7);
    assert_eq!(&buf[..7], b"through");
}

#[test]
fn destinations_outside_the_prefixes_or_ports_are_not_ours() {
    let mut net = Net::new(StackConfig::default());
    listen_any(net.s(), any(&["10.9.0.0/16"], 80..=80));
    let now = net.now;
    let wrong_port = net.c().connect(now, None, sa("10.9.0.1:81")).unwrap();
    let wrong_net = net.c().connect(now, None, sa("10.8.0.1:80")).unwrap();
    net.run_for(Duration::from_millis(500));
    // Dropped unanswered, as for any address not the stack's: no RST, the SYNs wait.
    assert_eq!(net.c().state(wrong_port).unwrap(), State::SynSent);
    assert_eq!(net.c().state(wrong_net).unwrap(), State::SynSent);
    assert_eq!(drops(&net.hosts[1], DropReason::NotOurAddress), 2);
    assert_eq!(net.hosts[1].stats().resets_sent, 0);
}

#[test]
fn more_specific_listeners_win() {
    let mut net = Net::new(StackConfig::default());
    let everything = listen_any(net.s(), AnyDestination::everything());
    let narrow = listen_any(net.s(), any(&["10.9.0.0/16"], 1..=65535));
    let narrow_ports = listen_any(net.s(), any(&["10.9.0.0/16"], 80..=80));
    let exact = net.s().listen(s_addr(80), 4).unwrap();
    let wildcard = net.s().listen(sa("0.0.0.0:81"), 4).unwrap();
    let now = net.now;
    for to in [
        "10.0.0.2:80",
        "10.0.0.2:81",
        "10.0.0.2:82",
        "10.9.1.1:80",
        "10.9.1.1:90",
        "192.0.2.1:90",
    ] {
        net.c().connect(now, None, sa(to)).unwrap();
    }
    net.run_for(Duration::from_secs(1));
    let local = |net: &mut Net, l| {
        let id = net.s().accept(l).unwrap();
        assert_eq!(net.s().accept(l), Err(Error::WouldBlock));
        net.s().tuple(id).unwrap().local
    };
    assert_eq!(local(&mut net, exact), sa("10.0.0.2:80"));
    assert_eq!(local(&mut net, wildcard), sa("10.0.0.2:81"));
    assert_eq!(local(&mut net, narrow_ports), sa("10.9.1.1:80"));
    assert_eq!(local(&mut net, narrow), sa("10.9.1.1:90"));
    let mut rest = vec![
        local_any(&mut net, everything),
        local_any(&mut net, everything),
    ];
    rest.sort();
    assert_eq!(rest, vec![sa("10.0.0.2:82"), sa("192.0.2.1:90")]);
    // The same destinations twice is refused; an overlapping set is not.
    let cfg = net.s().config().conn;
    assert_eq!(
        net.s().listen_any(AnyDestination::everything(), 4, 4, cfg),
        Err(Error::AddrInUse)
    );
}

fn local_any(net: &mut Net, l: synack_proto::ListenerId) -> SocketAddr {
    let id = net.s().accept(l).unwrap();
    net.s().tuple(id).unwrap().local
}

#[test]
fn connections_outlive_their_any_listener() {
    let mut net = Net::new(StackConfig::default());
    let l = listen_any(net.s(), any(&["10.9.0.0/16"], 1..=65535));
    let now = net.now;
    let c = net.c().connect(now, None, sa("10.9.0.9:22")).unwrap();
    net.run_for(Duration::from_secs(1));
    let a = net.s().accept(l).unwrap();
    let now = net.now;
    net.s().close_listener(now, l).unwrap();
    net.c().send(now, c, b"still here").unwrap();
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.s().recv_ready(a).unwrap(), 10);
    assert_eq!(drops(&net.hosts[1], DropReason::NotOurAddress), 0);
}

fn deciding(net: &mut Net, syn_backlog: usize) -> synack_proto::ListenerId {
    let cfg = net.s().config().conn;
    let l = net
        .s()
        .listen_any(any(&["10.9.0.0/16"], 1..=65535), 16, syn_backlog, cfg)
        .unwrap();
    net.s().set_decide_before_handshake(l, true).unwrap();
    l
}

#[test]
fn a_pending_syn_is_answered_only_when_accepted() {
    let mut net = Net::new(StackConfig::default());
    let l = deciding(&mut net, 8);
    let now = net.now;
    let c = net.c().connect(now, None, sa("10.9.0.7:443")).unwrap();
    net.run_for(Duration::from_millis(100));
    // Nothing answered yet: the client's SYN waits for the application.
    assert_eq!(net.c().state(c).unwrap(), State::SynSent);
    assert_eq!(net.hosts[1].stats().packets_out, 0);
    let now = net.now;
    let p = net.s().next_pending(now, l).unwrap();
    assert_eq!(p.tuple.local, sa("10.9.0.7:443"));
    assert_eq!(p.expires.micros() - p.arrived.micros(), 63_000_000);
    assert_eq!(net.s().next_pending(now, l), Err(Error::WouldBlock));
    let id = net
        .s()
        .decide(now, l, p.tuple, Decision::Accept)
        .unwrap()
        .unwrap();
    assert_eq!(net.s().state(id).unwrap(), State::SynReceived);
    net.run_for(Duration::from_millis(100));
    assert_eq!(net.c().state(c).unwrap(), State::Established);
    assert_eq!(net.s().state(id).unwrap(), State::Established);
    // The application holds it: it never enters the accept queue.
    assert_eq!(net.s().accept(l), Err(Error::WouldBlock));
    assert_eq!(net.s().listener_status(l).unwrap().established, 1);
    assert_eq!(net.s().listener_status(l).unwrap().syn_queue, 0);
}

#[test]
fn a_refused_pending_syn_is_answered_with_a_reset() {
    let mut net = Net::new(StackConfig::default());
    let l = deciding(&mut net, 8);
    let now = net.now;
    let c = net.c().connect(now, None, sa("10.9.0.7:443")).unwrap();
    net.run_for(Duration::from_millis(100));
    let now = net.now;
    let p = net.s().next_pending(now, l).unwrap();
    net.take_log();
    assert_eq!(net.s().decide(now, l, p.tuple, Decision::Refuse), Ok(None));
    net.run_for(Duration::from_millis(100));
    let log = net.take_log();
    assert!(
        log.iter()
            .any(|s| s.starts_with("S>C") && s.contains("RST")),
        "{log:#?}"
    );
    assert_eq!(
        net.c().conn_error(c).map_err(|e| e.to_string()),
        Ok(Some(ConnError::Refused))
    );
    let st = net.s().listener_status(l).unwrap();
    assert_eq!((st.pending, st.pending_refused), (0, 1));
}

#[test]
fn an_ignored_pending_syn_stays_unanswered_until_the_client_gives_up() {
    let mut net = Net::new(StackConfig::default());
    let l = deciding(&mut net, 8);
    let now = net.now;
    let c = net.c().connect(now, None, sa("10.9.0.7:443")).unwrap();
    net.run_for(Duration::from_millis(100));
    let now = net.now;
    let p = net.s().next_pending(now, l).unwrap();
    assert_eq!(net.s().decide(now, l, p.tuple, Decision::Ignore), Ok(None));
    // A second decision on an ignored entry is refused.
    assert_eq!(
        net.s().decide(now, l, p.tuple, Decision::Accept),
        Err(Error::InvalidHandle)
    );
    net.run_for(Duration::from_secs(200));
    assert_eq!(net.hosts[1].stats().packets_out, 0);
    // Linux's tcp_syn_retries = 6, at 1, 3, 7, 15, 31 and 63 s: the first five
    // were dropped as pending; the last came as the ignored entry expired (it
    // lives as long as a half-open entry, 63 s) and was pending anew, until it
    // expired in turn, unanswered.
    assert_eq!(drops(&net.hosts[1], DropReason::SynPending), 5);
    let now = net.now;
    assert_eq!(net.s().next_pending(now, l), Err(Error::WouldBlock));
    assert_eq!(net.s().listener_status(l).unwrap().pending_expired, 2);
    assert_eq!(
        net.c().conn_error(c).map_err(|e| e.to_string()),
        Ok(Some(ConnError::TimedOut))
    );
    assert_eq!(net.s().listener_status(l).unwrap().pending_ignored, 1);
}

#[test]
fn an_undecided_pending_syn_expires_with_the_synack_retries() {
    let mut net = Net::new(StackConfig::default());
    let l = deciding(&mut net, 8);
    let now = net.now;
    net.c().connect(now, None, sa("10.9.0.7:443")).unwrap();
    net.run_for(Duration::from_millis(100));
    let now = net.now;
    let p = net.s().next_pending(now, l).unwrap();
    let later = p.expires;
    assert_eq!(
        net.s().decide(later, l, p.tuple, Decision::Accept),
        Err(Error::Connection(ConnError::TimedOut))
    );
    assert_eq!(net.s().listener_status(l).unwrap().pending_expired, 1);
    assert_eq!(net.s().listener_status(l).unwrap().pending, 0);
}

#[test]
fn pending_syns_are_bounded_by_the_syn_queue() {
    let mut net = Net::new(StackConfig::default());
    let l = deciding(&mut net, 2);
    let now = net.now;
    for port in [1, 2, 3] {
        net.c()
            .connect(now, None, sa(&format!("10.9.0.7:{port}")))
            .unwrap();
    }
    net.run_for(Duration::from_millis(100));
    let st = net.s().listener_status(l).unwrap();
    assert_eq!((st.pending, st.syns_dropped), (2, 1));
    assert_eq!(drops(&net.hosts[1], DropReason::SynQueueFull), 1);
    // Once the two are decided, the third's retransmitted SYN finds room.
    let now = net.now;
    for _ in 0..2 {
        let p = net.s().next_pending(now, l).unwrap();
        net.s().decide(now, l, p.tuple, Decision::Refuse).unwrap();
    }
    net.run_for(Duration::from_millis(1500));
    let now = net.now;
    let p = net.s().next_pending(now, l).unwrap();
    assert_eq!(p.tuple.local, sa("10.9.0.7:3"));
}
