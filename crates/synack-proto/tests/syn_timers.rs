//! Connection setup under loss: the RTO's slop, the connection-establishment
//! timer, SYN option dropping and the MSS a tiny link advertises, each pinned
//! by exact segment times on the virtual clock.
#![allow(clippy::unwrap_used)]

mod util;

use synack_proto::{ConnConfig, ConnError, Duration, Error, Profile, StackConfig};
use util::*;

/// FreeBSD's retransmission timing, as its sysctls and constants set it:
/// `rexmit_initial` 1 s, `rexmit_slop` 200 ms, `rexmit_min` 30 ms,
/// `TCPTV_REXMTMAX` 64 s, `TCP_MAXRXTSHIFT` 12; and no tail loss probe (its
/// first data retransmission is the RTO's). The FreeBSD profile sets them,
/// with the rest of FreeBSD's behaviour.
fn freebsd_timing() -> StackConfig {
    let cfg = StackConfig::with_profile(Profile::FreeBsd, false);
    assert_eq!(cfg.conn.initial_rto, Duration::from_secs(1));
    cfg
}

/// Times (ms) of the log lines containing `needle`.
fn times_of(log: &[String], needle: &str) -> Vec<u64> {
    log.iter()
        .filter(|l| l.contains(needle))
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn syn_retransmissions_add_the_slop_to_every_backed_off_rto() {
    // Without FreeBSD's connection-establishment timer, which would end the
    // attempt at 75 s, the schedule runs to the last retransmission.
    let mut cfg = freebsd_timing();
    cfg.conn.establish_timeout = None;
    let mut n = Net::new(cfg);
    n.with_time = true;
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run();
    let log = n.take_log();
    // RTO 1 s, then 1 s * 2^k + 200 ms, at most 64 s: 1.0, 2.2, 4.2, 8.2, 16.2, 32.2,
    // 64, 64 ... s. The original SYN and 12 retransmissions; the 13th expiry fails.
    assert_eq!(
        times_of(&log, "C>S SYN"),
        [
            0, 1000, 3200, 7400, 15600, 31800, 64000, 128000, 192000, 256000, 320000, 384000,
            448000
        ]
    );
    assert_eq!(log[log.len() - 2], " 512000 C error connection timed out");
    assert_eq!(
        n.hosts[0].recv(n.now, c, &mut [0u8; 1]),
        Err(Error::Connection(ConnError::TimedOut))
    );
}

#[test]
fn data_rto_after_a_sample_carries_the_slop() {
    let mut n = Net::new(freebsd_timing());
    n.with_time = true;
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    n.s().accept(l).unwrap();
    n.take_log();
    // The handshake's 20 ms sample: SRTT 20 ms, RTTVAR 10 ms, RTO 20 + 4 * 10 = 60 ms,
    // then 60 ms * 2^k; each with 200 ms of slop on top.
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    n.hosts[0].send(n.now, c, b"x").unwrap();
    let start = n.now.millis();
    n.run_for(Duration::from_secs(2));
    let sent: Vec<u64> = times_of(&n.take_log(), "C>S PSH,ACK")
        .into_iter()
        .map(|t| t - start)
        .collect();
    assert_eq!(sent, [0, 260, 580, 1020, 1700]);
}

#[test]
fn without_slop_the_syn_schedule_is_rfc_6298s() {
    // The default: no slop, so 1, 2, 4 ... s exactly (RFC 6298 2.1, 5.5).
    let mut n = Net::new(StackConfig::default());
    n.with_time = true;
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    n.hosts[0]
        .connect_with(
            n.now,
            Some(c_addr(40000)),
            s_addr(80),
            ConnConfig {
                syn_retries: 3,
                ..ConnConfig::default()
            },
        )
        .unwrap();
    n.run();
    let log = n.take_log();
    assert_eq!(times_of(&log, "C>S SYN"), [0, 1000, 3000, 7000]);
    assert_eq!(log[log.len() - 2], "  15000 C error connection timed out");
}

/// `freebsd_timing` with a connection-establishment timeout.
fn with_establish_timeout(t: Duration) -> StackConfig {
    let mut cfg = freebsd_timing();
    cfg.conn.establish_timeout = Some(t);
    cfg
}

#[test]
fn establish_timeout_ends_an_unanswered_connect() {
    let mut n = Net::new(with_establish_timeout(Duration::from_secs(5)));
    n.with_time = true;
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run();
    // SYNs at 0, 1.0 and 3.2 s; the next would be at 7.4 s, but the attempt
    // ends at 5 s (FreeBSD's TCP_KEEPINIT of 5 s).
    assert_log(
        &n.take_log(),
        &[
            "      0 C CLOSED->SYN_SENT",
            "      0 C>S SYN seq=0 len=0",
            "      0 C X dropped",
            "   1000 C>S SYN seq=0 len=0",
            "   1000 C X dropped",
            "   3200 C>S SYN seq=0 len=0",
            "   3200 C X dropped",
            "   5000 C error connection timed out",
            "   5000 C SYN_SENT->CLOSED",
        ],
    );
    assert_eq!(
        n.hosts[0].recv(n.now, c, &mut [0u8; 1]),
        Err(Error::Connection(ConnError::TimedOut))
    );
}

#[test]
fn establish_timeout_drops_a_half_open_entry_quietly() {
    let mut n = Net::new(freebsd_timing());
    n.with_time = true;
    // The server's SYN,ACKs are lost; the client sends one SYN only.
    n.drop = Some(Box::new(|from, _, _, _| from == 1));
    let l = n.hosts[1]
        .listen_with(
            s_addr(80),
            8,
            8,
            ConnConfig {
                establish_timeout: Some(Duration::from_millis(2500)),
                ..freebsd_timing().conn
            },
        )
        .unwrap();
    n.hosts[0]
        .connect_with(
            n.now,
            Some(c_addr(40000)),
            s_addr(80),
            ConnConfig {
                syn_retries: 0,
                ..ConnConfig::default()
            },
        )
        .unwrap();
    n.run_for(Duration::from_secs(2));
    assert_eq!(n.hosts[1].listener_status(l).unwrap().syn_queue, 1);
    n.run();
    let log = n.take_log();
    // SYN,ACKs at 10 ms and 1.01 s; the next (3.21 s) never goes: the entry
    // ends 2.5 s after the SYN arrived, without a RST or an error.
    assert_eq!(times_of(&log, "S>C SYN,ACK"), [10, 1010]);
    assert!(
        log.contains(&"   2510 S SYN_RCVD->CLOSED".to_string()),
        "{log:#?}"
    );
    assert!(!log.iter().any(|l| l.contains("S error")), "{log:#?}");
    assert_eq!(n.hosts[1].listener_status(l).unwrap().syn_queue, 0);
}

#[test]
fn establish_timeout_ends_a_simultaneous_open_in_syn_rcvd() {
    let mut n = Net::new(with_establish_timeout(Duration::from_secs(4)));
    n.with_time = true;
    // Both SYNs cross; every SYN,ACK is lost, so both sides stay in SYN_RCVD.
    n.drop = Some(Box::new(|_, flags, _, _| flags.syn() && flags.ack()));
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    let s = n.hosts[1]
        .connect(n.now, Some(s_addr(80)), c_addr(40000))
        .unwrap();
    n.run();
    let log = n.take_log();
    assert!(
        log.contains(&"     10 C SYN_SENT->SYN_RCVD".to_string()),
        "{log:#?}"
    );
    // The SYN,ACK answers the peer's SYN at 10 ms; the SYN's retransmission timer,
    // running since 0, resends it at 1.0 and 3.2 s; the attempt ends 4 s after the OPEN.
    assert_eq!(times_of(&log, "C>S SYN,ACK"), [10, 1000, 3200]);
    assert!(
        log.ends_with(&[
            "   4000 C error connection timed out".to_string(),
            "   4000 C SYN_RCVD->CLOSED".to_string(),
            "   4000 S error connection timed out".to_string(),
            "   4000 S SYN_RCVD->CLOSED".to_string(),
        ]),
        "{log:#?}"
    );
    for (h, id) in [(0, c), (1, s)] {
        assert_eq!(
            n.hosts[h].recv(n.now, id, &mut [0u8; 1]),
            Err(Error::Connection(ConnError::TimedOut))
        );
    }
}

#[test]
fn establish_timeout_stops_once_established() {
    let mut n = Net::new(with_establish_timeout(Duration::from_secs(2)));
    n.with_time = true;
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(10));
    let s = n.s().accept(l).unwrap();
    assert_eq!(n.c().state(c).unwrap(), synack_proto::State::Established);
    assert_eq!(n.s().state(s).unwrap(), synack_proto::State::Established);
    assert_eq!(n.c().conn_error(c).unwrap(), None);
    assert_eq!(n.next_time(), None, "no timer left running");
}

#[test]
fn setting_the_establish_timeout_while_connecting_restarts_it() {
    let mut n = Net::new(freebsd_timing());
    n.with_time = true;
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(2));
    let now = n.now;
    n.hosts[0]
        .set_establish_timeout(now, c, Some(Duration::from_secs(3)))
        .unwrap();
    n.run();
    let log = n.take_log();
    assert_eq!(times_of(&log, "C>S SYN"), [0, 1000, 3200]);
    assert_eq!(log[log.len() - 2], "   5000 C error connection timed out");
}

/// The options of every SYN the client sent, as `mss,ws,sack,ts` flags.
fn syn_options(n: &mut Net, from: usize) -> std::rc::Rc<std::cell::RefCell<Vec<String>>> {
    use synack_proto::wire::{parse_packet, ChecksumMode};
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let out = std::rc::Rc::clone(&seen);
    let mut inner = n.drop.take();
    n.drop = Some(Box::new(move |h, flags, nth, bytes| {
        if h == from && flags.syn() {
            let (_, seg) = parse_packet(bytes, ChecksumMode::Verify).unwrap();
            let o = seg.options;
            out.borrow_mut().push(format!(
                "mss={:?} ws={:?} sack={} ts={}",
                o.mss,
                o.window_scale,
                o.sack_permitted,
                o.timestamps.is_some()
            ));
        }
        inner.as_mut().is_some_and(|f| f(h, flags, nth, bytes))
    }));
    seen
}

#[test]
fn syn_options_are_dropped_from_the_third_retransmission_on() {
    let mut cfg = freebsd_timing();
    cfg.conn.syn_rexmit_drop_options = true;
    let mut n = Net::new(cfg);
    n.with_time = true;
    // The first four SYNs are lost; the fifth gets through.
    n.drop = Some(Box::new(|from, flags, nth, _| {
        from == 0 && flags.syn() && nth <= 4
    }));
    let seen = syn_options(&mut n, 0);
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(20));
    let log = n.take_log();
    assert_eq!(times_of(&log, "C>S SYN"), [0, 1000, 3200, 7400, 15600]);
    let full = "mss=Some(1460) ws=Some(1) sack=true ts=true";
    let bare = "mss=Some(1460) ws=None sack=false ts=false";
    assert_eq!(*seen.borrow(), [full, full, full, bare, bare]);
    // The server, offered nothing, answers without options; the connection runs
    // without window scaling, timestamps and SACK.
    let s = n.s().accept(l).unwrap();
    for (h, id) in [(0, c), (1, s)] {
        let st = n.hosts[h].status(id).unwrap();
        assert_eq!(st.state, synack_proto::State::Established);
        assert!(!st.timestamps && !st.sack && st.snd_wscale == 0 && st.rcv_wscale == 0);
    }
}

#[test]
fn a_syn_ack_answering_an_earlier_syn_still_enables_its_options() {
    let mut cfg = freebsd_timing();
    cfg.conn.syn_rexmit_drop_options = true;
    let mut n = Net::new(cfg);
    n.with_time = true;
    // The server's SYN,ACKs are lost until the client has dropped its options; the
    // half-open entry took the first SYN's options, so its SYN,ACKs offer them.
    let l = n.s().listen(s_addr(80), 8).unwrap();
    n.drop = Some(Box::new(|from, flags, nth, _| {
        (from == 0 && flags.syn() && (2..=4).contains(&nth)) || (from == 1 && nth <= 3)
    }));
    let seen = syn_options(&mut n, 0);
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(20));
    let log = n.take_log();
    assert_eq!(times_of(&log, "S>C SYN,ACK"), [10, 1010, 3210, 7410]);
    let full = "mss=Some(1460) ws=Some(1) sack=true ts=true";
    let bare = "mss=Some(1460) ws=None sack=false ts=false";
    assert_eq!(*seen.borrow(), [full, full, full, bare]);
    // Both sides sent the options (RFC 7323 2.2, 3.2; RFC 2018 2), so both use
    // them: the peer scales its windows and expects ours scaled.
    let s = n.s().accept(l).unwrap();
    for (h, id) in [(0, c), (1, s)] {
        let st = n.hosts[h].status(id).unwrap();
        assert_eq!(st.state, synack_proto::State::Established, "{log:#?}");
        assert!(st.timestamps && st.sack && st.snd_wscale == 1 && st.rcv_wscale == 1);
    }
}

#[test]
fn a_tiny_link_advertises_its_true_mss() {
    // The client's link has an MTU of 72: 72 - 20 - 20 = 32 octets of payload.
    let tiny = StackConfig {
        mtu: 72,
        ..StackConfig::default()
    };
    let mut n = Net::with_configs(tiny, StackConfig::default());
    let seen = syn_options(&mut n, 0);
    let server_syn = syn_options(&mut n, 1);
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.s().accept(l).unwrap();
    assert_eq!(
        seen.borrow()[0],
        "mss=Some(32) ws=Some(1) sack=true ts=true"
    );
    assert_eq!(
        server_syn.borrow()[0],
        "mss=Some(1460) ws=Some(1) sack=true ts=true"
    );
    // The client sends what its link carries: 32 - 12 octets of timestamps.
    assert_eq!(n.c().status(c).unwrap().snd_mss, 20);
    // The server does not go below its 64-octet floor for a peer's tiny MSS.
    assert_eq!(n.s().status(s).unwrap().snd_mss, 64);
}
