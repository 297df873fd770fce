//! Timers, limits and congestion control, each pinned by what a user sees.
#![allow(clippy::unwrap_used)]

mod util;

use std::net::{IpAddr, SocketAddr};
use synack_proto::wire::TcpFlags;
use synack_proto::{
    ConnConfig, ConnError, DropReason, Duration, Error, Instant, Stack, StackConfig, State,
};
use util::*;

fn open(
    n: &mut Net,
) -> (
    synack_proto::ConnId,
    synack_proto::ConnId,
    synack_proto::ListenerId,
) {
    let l = n.hosts[1].listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.hosts[1].accept(l).unwrap();
    n.take_log();
    (c, s, l)
}

#[test]
fn user_timeout_aborts_unacknowledged_data() {
    let mut n = Net::new(StackConfig::default());
    n.with_time = true;
    let (c, _s, _) = open(&mut n);
    n.hosts[0]
        .set_user_timeout(c, Some(Duration::from_secs(5)))
        .unwrap();
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    n.hosts[0].send(n.now, c, b"lost forever").unwrap();
    n.run();
    let log = n.take_log();
    assert_eq!(
        log[log.len() - 2],
        "   5100 C error connection timed out",
        "{log:#?}"
    );
    let mut b = [0u8; 4];
    assert_eq!(
        n.hosts[0].recv(n.now, c, &mut b),
        Err(Error::Connection(ConnError::TimedOut))
    );
}

#[test]
fn data_retransmissions_back_off_and_give_up() {
    let mut n = Net::new(StackConfig::default());
    n.with_time = true;
    let (c, _s, _) = open(&mut n);
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    n.hosts[0].send(n.now, c, b"x").unwrap();
    n.run();
    let log = n.take_log();
    let times: Vec<u64> = log
        .iter()
        .filter(|l| l.contains("C>S PSH,ACK"))
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    // RTO after the handshake's 20 ms sample: 20 + max(4*10, 200 ms min) = 220 ms
    // (Linux: `rttvar_us` never below `tcp_rto_min`), doubling to 120 s.
    // First the tail loss probe (RFC 8985 7.2): PTO = 2*SRTT + 200 ms for a lone
    // segment = 240 ms, capped at the RTO's 220 ms; after it the RTO is re-armed
    // (7.3), unbacked-off; the probe does not count against tcp_retries2.
    assert_eq!(
        times.len(),
        17,
        "the original, the loss probe and 15 retransmissions (tcp_retries2): {times:?}"
    );
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(
        &gaps[..11],
        &[220, 220, 440, 880, 1760, 3520, 7040, 14080, 28160, 56320, 112640]
    );
    assert!(
        gaps[11..].iter().all(|&g| g == 120_000),
        "capped at 120 s: {gaps:?}"
    );
    assert!(log.last().unwrap().ends_with("C ESTABLISHED->CLOSED"));
}

#[test]
fn orphaned_fin_wait_2_times_out() {
    let mut n = Net::new(StackConfig::default());
    n.with_time = true;
    let (c, _s, _) = open(&mut n);
    n.hosts[0].close(n.now, c).unwrap();
    // The server never closes: the client's orphaned FIN_WAIT_2 lasts tcp_fin_timeout (60 s).
    n.run_for(Duration::from_secs(120));
    let log = n.take_log();
    assert!(
        log.contains(&"    120 C FIN_WAIT_1->FIN_WAIT_2".to_string()),
        "{log:#?}"
    );
    assert!(
        log.contains(&"  60120 C FIN_WAIT_2->CLOSED".to_string()),
        "{log:#?}"
    );
    assert_eq!(n.hosts[0].connection_count(), 0);
}

#[test]
fn half_closed_fin_wait_2_does_not_time_out() {
    let mut n = Net::new(StackConfig::default());
    let (c, _s, _) = open(&mut n);
    n.hosts[0]
        .shutdown(n.now, c, synack_proto::Shutdown::Write)
        .unwrap();
    n.run_for(Duration::from_secs(600));
    assert_eq!(
        n.hosts[0].state(c).unwrap(),
        State::FinWait2,
        "the application still reads"
    );
}

#[test]
fn ipv6_handshake_and_mss() {
    let a_ip: IpAddr = "fd00::1".parse().unwrap();
    let b_ip: IpAddr = "fd00::2".parse().unwrap();
    let mut a = Stack::new_deterministic(StackConfig::default(), 1);
    a.add_address(a_ip);
    let mut b = Stack::new_deterministic(StackConfig::default(), 2);
    b.add_address(b_ip);
    let l = b.listen(SocketAddr::new(b_ip, 443), 4).unwrap();
    let c = a
        .connect(Instant::ZERO, None, SocketAddr::new(b_ip, 443))
        .unwrap();
    let mut buf = Vec::new();
    for _ in 0..4 {
        while a.poll_transmit(Instant::ZERO, &mut buf) {
            b.handle_packet(Instant::ZERO, &buf);
        }
        while b.poll_transmit(Instant::ZERO, &mut buf) {
            a.handle_packet(Instant::ZERO, &buf);
        }
    }
    let s = b.accept(l).unwrap();
    assert_eq!(a.state(c).unwrap(), State::Established);
    // MTU 1500 minus 40 (IPv6), 20 (TCP) and 12 (timestamps, RFC 7323 3.2).
    assert_eq!(a.status(c).unwrap().snd_mss, 1428);
    assert_eq!(b.tuple(s).unwrap().remote.ip(), a_ip);
}

#[test]
fn fast_retransmit_on_third_duplicate_ack_halves_the_window() {
    // NewReno halves (RFC 5681 3.2); CUBIC's 0.7 has tests of its own.
    let mut cfg = StackConfig::default();
    cfg.conn.congestion = synack_proto::CongestionAlgorithm::NewReno;
    cfg.conn.prr = false;
    let mut n = Net::new(cfg);
    n.with_time = true;
    let (c, s, _) = open(&mut n);
    // Lose the client's 2nd data segment once.
    n.drop = Some(Box::new(|from, flags, nth, _| {
        from == 0 && flags == TcpFlags::ACK && nth == 2
    }));
    let data = vec![7u8; 10 * 1460];
    n.hosts[0].send(n.now, c, &data).unwrap();
    n.run_for(Duration::from_millis(100));
    let st = n.hosts[0].status(c).unwrap();
    assert_eq!(st.retransmits, 1);
    let log = n.take_log();
    // Repaired within one RTT by the fast retransmit, long before the 200 ms RTO.
    let rtx = log
        .iter()
        .find(|l| l.contains("C>S ACK seq=1449 "))
        .unwrap();
    let (t, rest) = rtx.trim().split_once(' ').unwrap();
    assert!(t.parse::<u64>().unwrap() < 200, "{rtx}");
    // 1460 minus 12 for the timestamps option (RFC 7323 3.2).
    assert!(rest.contains("len=1448"));
    // NewReno: ssthresh = FlightSize/2 = 5 segments.
    assert_eq!(st.ssthresh, 5 * 1448);
    let now = n.now;
    let mut got = Vec::new();
    let mut b = [0u8; 20000];
    while let Ok(k) = n.hosts[1].recv(now, s, &mut b) {
        got.extend_from_slice(&b[..k]);
    }
    assert_eq!(got, data);
}

#[test]
fn time_wait_is_reopened_by_a_new_syn_above_rcv_nxt() {
    // RFC 6191 / RFC 1122 4.2.2.13: the server is the active closer; the same client
    // port reconnects while the server holds TIME_WAIT.
    let mut n = Net::new(StackConfig::default());
    let (c, s, l) = open(&mut n);
    n.hosts[1].close(n.now, s).unwrap();
    n.run_for(Duration::from_millis(100));
    n.hosts[0].close(n.now, c).unwrap();
    n.run_for(Duration::from_millis(100));
    assert_eq!(n.hosts[1].connections()[0].1.state, State::TimeWait);
    let c2 = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    assert_eq!(n.hosts[0].state(c2).unwrap(), State::Established);
    assert!(n.hosts[1].accept(l).is_ok());
    assert!(n.take_log().iter().any(|l| l == "S TIME_WAIT->CLOSED"));
}

#[test]
fn challenge_acks_are_rate_limited() {
    // Two limits (RFC 5961 7 leaves their form open): per connection at most one
    // answer to an out-of-window pure segment per 500 ms (Linux
    // `tcp_invalid_ratelimit`), and stack-wide `challenge_ack_limit` per second.
    let cfg = StackConfig {
        challenge_ack_limit: 10,
        ..StackConfig::default()
    };
    let mut n = Net::new(cfg);
    let l = n.hosts[1].listen(s_addr(80), 64).unwrap();
    let mut conns = Vec::new();
    for port in 40000..40020u16 {
        let c = n.hosts[0]
            .connect(n.now, Some(c_addr(port)), s_addr(80))
            .unwrap();
        conns.push((port, c));
    }
    n.run_for(Duration::from_millis(100));
    while n.hosts[1].accept(l).is_ok() {}
    n.take_log();
    let mut acks = 0;
    let mut buf = Vec::new();
    for &(port, c) in &conns {
        let st = n.hosts[0].status(c).unwrap();
        for i in 0..5u32 {
            // SYNs into a synchronized connection: each deserves a challenge ACK
            // (RFC 5961 4.2), within both limits.
            let p = raw_packet(
                s_addr(80),
                c_addr(port),
                st.rcv_nxt.get() + i,
                0,
                TcpFlags::SYN,
                1000,
                &[],
            );
            n.hosts[0].handle_packet(n.now, &p);
            while n.hosts[0].poll_transmit(n.now, &mut buf) {
                acks += 1;
            }
        }
    }
    // One per connection for the first ten connections, then the stack-wide
    // budget is spent.
    assert_eq!(acks, 10, "at most challenge_ack_limit per second");
    let drops = &n.hosts[0].stats().drops;
    assert_eq!(drops.get(&DropReason::OowAckLimited), Some(&(20 * 4)));
    assert_eq!(drops.get(&DropReason::ChallengeAckLimited), Some(&10));
    for &(_, c) in &conns {
        assert_eq!(n.hosts[0].state(c).unwrap(), State::Established);
    }
}

#[test]
fn full_accept_queue_drops_syns_until_accept() {
    let mut n = Net::new(StackConfig::default());
    let l = n.hosts[1].listen(s_addr(80), 1).unwrap();
    let c1 = n.hosts[0].connect(n.now, None, s_addr(80)).unwrap();
    n.run_for(Duration::from_millis(100));
    let c2 = n.hosts[0].connect(n.now, None, s_addr(80)).unwrap();
    n.run_for(Duration::from_millis(500));
    assert_eq!(n.hosts[0].state(c1).unwrap(), State::Established);
    assert_eq!(
        n.hosts[0].state(c2).unwrap(),
        State::SynSent,
        "its SYN was dropped: the accept queue is full"
    );
    assert_eq!(n.hosts[1].listener_status(l).unwrap().syns_dropped, 1);
    // The application accepts; the retransmitted SYN now gets through.
    n.hosts[1].accept(l).unwrap();
    n.run_for(Duration::from_secs(2));
    assert_eq!(n.hosts[0].state(c2).unwrap(), State::Established);
}

#[test]
fn connection_limit_refuses_new_work() {
    let cfg = StackConfig {
        max_connections: 2,
        ..StackConfig::default()
    };
    let mut n = Net::new(cfg);
    n.hosts[0].connect(n.now, None, s_addr(80)).unwrap();
    n.hosts[0].connect(n.now, None, s_addr(81)).unwrap();
    assert_eq!(
        n.hosts[0].connect(n.now, None, s_addr(82)),
        Err(Error::TooManyConnections)
    );
}

#[test]
fn bad_arguments_are_typed_errors() {
    let mut st = Stack::new_deterministic(StackConfig::default(), 0);
    st.add_address(C_IP.parse().unwrap());
    assert_eq!(st.listen(c_addr(0), 4), Err(Error::InvalidArgument));
    assert_eq!(st.listen(c_addr(80), 0), Err(Error::InvalidArgument));
    assert_eq!(st.listen(s_addr(80), 4), Err(Error::AddrNotAvailable));
    st.listen(c_addr(80), 4).unwrap();
    assert_eq!(st.listen(c_addr(80), 4), Err(Error::AddrInUse));
    assert_eq!(
        st.connect(Instant::ZERO, None, s_addr(0)),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        st.connect(Instant::ZERO, None, "[fd00::9]:80".parse().unwrap()),
        Err(Error::AddrNotAvailable)
    );
    // Buffers beyond what a TCP window can describe (RFC 7323 2.3), TTL 0.
    let huge = synack_proto::ConnConfig {
        send_buffer: synack_proto::MAX_BUFFER + 1,
        ..synack_proto::ConnConfig::default()
    };
    assert_eq!(
        st.connect_with(Instant::ZERO, None, s_addr(80), huge),
        Err(Error::InvalidArgument)
    );
    let ttl0 = synack_proto::ConnConfig {
        ttl: Some(0),
        ..synack_proto::ConnConfig::default()
    };
    assert_eq!(
        st.listen_with(c_addr(81), 4, 4, ttl0),
        Err(Error::InvalidArgument)
    );
    let stale = synack_proto::ConnId {
        index: 99,
        generation: 0,
    };
    assert_eq!(
        st.send(Instant::ZERO, stale, b"x"),
        Err(Error::InvalidHandle)
    );
    let c = st
        .connect(Instant::ZERO, Some(c_addr(1234)), s_addr(80))
        .unwrap();
    assert_eq!(
        st.connect(Instant::ZERO, Some(c_addr(1234)), s_addr(80)),
        Err(Error::AddrInUse)
    );
    let mut b = [0u8; 1];
    assert_eq!(st.recv(Instant::ZERO, c, &mut b), Err(Error::WouldBlock));
}

#[test]
fn listen_and_close_listener_are_state_changes() {
    let mut st = Stack::new_deterministic(StackConfig::default(), 0);
    st.add_address(S_IP.parse().unwrap());
    st.handle_timeout(Instant::from_millis(5));
    let l = st.listen(s_addr(80), 4).unwrap();
    st.close_listener(Instant::from_millis(9), l).unwrap();
    let changes: Vec<(u64, State, State)> = std::iter::from_fn(|| st.poll_event())
        .filter_map(|e| match e.kind {
            synack_proto::EventKind::StateChanged {
                listener: Some(_),
                conn: None,
                from,
                to,
                ..
            } => Some((e.at.millis(), from, to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            (5, State::Closed, State::Listen),
            (9, State::Listen, State::Closed)
        ]
    );
}

#[test]
fn delayed_ack_waits_40_ms_by_default_and_never_over_200_ms() {
    for (setting, expected_gap) in [(None, 40), (Some(Duration::from_secs(1)), 200)] {
        let mut cfg = StackConfig::default();
        if let Some(d) = setting {
            cfg.conn.delayed_ack = Some(d);
        }
        // Without quick ACKs the very first data segment is delayed.
        cfg.conn.quick_ack_segments = 0;
        let mut n = Net::new(cfg);
        n.with_time = true;
        let (c, _s, _) = open(&mut n);
        n.hosts[0].send(n.now, c, b"one small segment").unwrap();
        n.run_for(Duration::from_secs(2));
        let log = n.take_log();
        let at = |prefix: &str| -> u64 {
            let l = log.iter().find(|l| l.contains(prefix)).unwrap();
            l.split_whitespace().next().unwrap().parse().unwrap()
        };
        // The segment arrives 10 ms after it is sent; its ACK waits for the timer.
        let gap = at("S>C ACK seq=1 ack=18") - (at("C>S PSH,ACK seq=1") + 10);
        assert_eq!(gap, expected_gap, "{log:#?}");
    }
}

#[test]
fn rst_in_last_ack_is_reported_as_reset() {
    let mut n = Net::new(StackConfig::default());
    let (c, s, _) = open(&mut n);
    n.hosts[0]
        .shutdown(n.now, c, synack_proto::Shutdown::Write)
        .unwrap();
    n.run_for(Duration::from_millis(100));
    n.drop = Some(Box::new(|_, _, _, _| true));
    n.hosts[1]
        .shutdown(n.now, s, synack_proto::Shutdown::Write)
        .unwrap();
    n.run_for(Duration::from_millis(5));
    assert_eq!(n.hosts[1].state(s).unwrap(), State::LastAck);
    let st = n.hosts[1].status(s).unwrap();
    let rst = raw_packet(
        c_addr(40000),
        s_addr(80),
        st.rcv_nxt.get(),
        0,
        TcpFlags::RST,
        0,
        &[],
    );
    n.hosts[1].handle_packet(n.now, &rst);
    // RFC 9293 3.10.7.4 closes the connection; the application still holding it learns why.
    assert_eq!(n.hosts[1].state(s).unwrap(), State::Closed);
    assert_eq!(n.hosts[1].conn_error(s).unwrap(), Some(ConnError::Reset));
}

#[test]
fn syn_without_options_when_asked() {
    let cfg = ConnConfig {
        mss_option: false,
        window_scaling: false,
        sack: false,
        timestamps: false,
        ..ConnConfig::default()
    };
    let mut st = Stack::new_deterministic(StackConfig::default(), 0);
    st.add_address(C_IP.parse().unwrap());
    st.connect_with(Instant::ZERO, None, s_addr(80), cfg)
        .unwrap();
    let mut buf = Vec::new();
    assert!(st.poll_transmit(Instant::ZERO, &mut buf));
    let (_, syn) =
        synack_proto::wire::parse_packet(&buf, synack_proto::wire::ChecksumMode::Verify).unwrap();
    assert_eq!(syn.options, synack_proto::wire::TcpOptions::default());
    assert_eq!(syn.header_len(), 20);
}

#[test]
fn listen_and_close_in_a_loop_reuses_the_listener_slot() {
    let mut st = Stack::new_deterministic(StackConfig::default(), 0);
    st.add_address(S_IP.parse().unwrap());
    let first = st.listen(s_addr(80), 4).unwrap();
    st.close_listener(Instant::ZERO, first).unwrap();
    for _ in 0..1000 {
        let l = st.listen(s_addr(80), 4).unwrap();
        assert_eq!(
            l, first,
            "a closed listener's slot is reused: the table stays bounded"
        );
        st.close_listener(Instant::ZERO, l).unwrap();
    }
    assert_eq!(st.listener_status(first), Err(Error::InvalidHandle));
}

/// An RTO floor above its ceiling is refused by the calls that can return an
/// error, and raised into a valid range where none can (no panic either way).
#[test]
fn rto_floor_above_ceiling_is_an_error_or_is_repaired() {
    let inverted = ConnConfig {
        min_rto: Duration::from_secs(100_000),
        max_rto: Duration::from_secs(64),
        ..ConnConfig::default()
    };
    let mut st = Stack::new_deterministic(StackConfig::default(), 0);
    st.add_address(c_addr(1).ip());
    assert_eq!(
        st.connect_with(Instant::ZERO, None, s_addr(80), inverted),
        Err(synack_proto::Error::InvalidArgument)
    );
    // As the stack's default settings: repaired, and a connection opens.
    let mut st = Stack::new_deterministic(
        StackConfig {
            conn: inverted,
            ..StackConfig::default()
        },
        0,
    );
    st.add_address(c_addr(1).ip());
    let c = st.connect(Instant::ZERO, None, s_addr(80)).unwrap();
    let status = st.status(c).unwrap();
    assert_eq!(status.rto, Duration::from_secs(100_000));
}

#[test]
fn send_buffer_resized_on_a_live_connection() {
    let mut n = Net::new(StackConfig::default());
    let (c, s, _) = open(&mut n);
    n.hosts[0].set_send_buffer(c, 1000).unwrap();
    let now = n.now;
    assert_eq!(n.hosts[0].send_room(c), Ok(1000));
    assert_eq!(n.hosts[0].send(now, c, &[7u8; 1500]), Ok(1000));
    assert_eq!(n.hosts[0].send(now, c, &[7u8; 10]), Err(Error::WouldBlock));
    // Shrinking below what is queued keeps the queue and takes no more.
    n.hosts[0].set_send_buffer(c, 400).unwrap();
    assert_eq!(n.hosts[0].send(now, c, &[7u8; 10]), Err(Error::WouldBlock));
    n.run();
    // Once acknowledged, the new size is the limit.
    assert_eq!(n.hosts[0].send_room(c), Ok(400));
    let mut b = [0u8; 2000];
    assert_eq!(n.hosts[1].recv(n.now, s, &mut b), Ok(1000));
    assert_eq!(n.hosts[0].conn_config(c).unwrap().send_buffer, 400);
}

#[test]
fn listener_settings_changed_after_listen_reach_new_connections() {
    let mut n = Net::new(StackConfig::default());
    let l = n.hosts[1].listen(s_addr(80), 8).unwrap();
    let cfg = ConnConfig {
        mss: Some(1100),
        ..ConnConfig::default()
    };
    n.hosts[1].set_listener_config(l, cfg).unwrap();
    let bad = ConnConfig {
        ttl: Some(0),
        ..ConnConfig::default()
    };
    assert_eq!(
        n.hosts[1].set_listener_config(l, bad),
        Err(Error::InvalidArgument)
    );
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.hosts[1].accept(l).unwrap();
    // The SYN,ACK advertised 1100: the client sends segments of that size.
    assert_eq!(n.hosts[1].status(s).unwrap().adv_mss, 1100);
    assert_eq!(n.hosts[0].status(c).unwrap().snd_mss, 1100 - 12);
    assert_eq!(n.hosts[0].status(c).unwrap().adv_mss, 1460);
}

#[test]
fn a_bulk_transfer_keeps_going_past_two_gibibytes() {
    // RFC 9293 3.4: sequence numbers compare modulo 2^32, so SND.UNA > ISS
    // turns false once 2^31 octets are acknowledged. Asking it whether our
    // SYN was acknowledged made the sender take its data for the SYN's and
    // stop sending at about 2.1 GB.
    let mut cfg = StackConfig {
        mtu: 65_000,
        trace: false,
        ..StackConfig::default()
    };
    cfg.conn.send_buffer = 8 << 20;
    cfg.conn.recv_buffer = 8 << 20;
    let mut n = Net::new(cfg);
    n.delay = Duration::from_millis(1);
    let (c, s, _) = open(&mut n);
    let chunk = vec![0x5a_u8; 1 << 20];
    let read = std::rc::Rc::new(std::cell::Cell::new(0u64));
    n.apps[0] = Some(Box::new(move |st, now| {
        while st.send(now, c, &chunk).is_ok_and(|k| k > 0) {}
    }));
    let r = read.clone();
    let mut buf = vec![0u8; 1 << 20];
    n.apps[1] = Some(Box::new(move |st, now| {
        while let Ok(k) = st.recv(now, s, &mut buf) {
            if k == 0 {
                break;
            }
            r.set(r.get() + k as u64);
        }
    }));
    // Start the sender; from then on each arrival runs both applications.
    n.hosts[0].send(n.now, c, b"x").unwrap();
    let target = (1u64 << 31) + (64 << 20);
    for _ in 0..600 {
        n.run_for(Duration::from_millis(100));
        n.log.clear();
        if read.get() >= target {
            break;
        }
    }
    assert!(
        read.get() >= target,
        "only {} octets arrived within 60 s of the virtual clock",
        read.get()
    );
}
