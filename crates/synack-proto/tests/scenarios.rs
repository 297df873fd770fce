#![allow(clippy::unwrap_used)]
//! The lifecycle scenarios, pinned segment by segment and state by state.

mod util;

use synack_proto::{Duration, Instant, Shutdown, StackConfig, State};
use util::*;

fn cfg() -> StackConfig {
    StackConfig::default()
}

#[test]
fn handshake_and_teardown() {
    let mut n = Net::new(cfg());
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let now = n.now;
    let c = n.c().connect(now, None, s_addr(80)).unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.s().accept(l).unwrap();
    assert_eq!(n.c().state(c).unwrap(), State::Established);
    assert_eq!(n.s().state(s).unwrap(), State::Established);
    let now = n.now;
    n.c().close(now, c).unwrap();
    n.run_for(Duration::from_millis(100));
    let mut buf = [0u8; 10];
    let now = n.now;
    assert_eq!(n.s().recv(now, s, &mut buf), Ok(0));
    n.s().close(now, s).unwrap();
    n.run();
    assert_log(
        &n.take_log(),
        &[
            "C CLOSED->SYN_SENT",
            "C>S SYN seq=0 len=0",
            "S LISTEN->SYN_RCVD",
            "S>C SYN,ACK seq=0 ack=1 len=0",
            "C SYN_SENT->ESTABLISHED",
            "C>S ACK seq=1 ack=1 len=0",
            "S SYN_RCVD->ESTABLISHED",
            "C ESTABLISHED->FIN_WAIT_1",
            "C>S FIN,ACK seq=1 ack=1 len=0",
            "S ESTABLISHED->CLOSE_WAIT",
            "S>C ACK seq=1 ack=2 len=0",
            "C FIN_WAIT_1->FIN_WAIT_2",
            "S CLOSE_WAIT->LAST_ACK",
            "S>C FIN,ACK seq=1 ack=2 len=0",
            "C FIN_WAIT_2->TIME_WAIT",
            "C>S ACK seq=2 ack=2 len=0",
            "S LAST_ACK->CLOSED",
            "C TIME_WAIT->CLOSED",
        ],
    );
    assert_eq!(n.c().connection_count(), 0);
    assert_eq!(n.s().connection_count(), 0);
}

/// Open a connection and clear the log: (client conn, server conn, listener).
fn open(
    n: &mut Net,
) -> (
    synack_proto::ConnId,
    synack_proto::ConnId,
    synack_proto::ListenerId,
) {
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let now = n.now;
    let c = n.c().connect(now, Some(c_addr(40000)), s_addr(80)).unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.s().accept(l).unwrap();
    n.take_log();
    (c, s, l)
}

fn read_all(
    st: &mut synack_proto::Stack,
    now: synack_proto::Instant,
    c: synack_proto::ConnId,
) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match st.recv(now, c, &mut buf) {
            Ok(0) => return (out, true),
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(_) => return (out, false),
        }
    }
}

#[test]
fn server_closes_first() {
    let mut n = Net::new(cfg());
    let (c, s, _) = open(&mut n);
    let now = n.now;
    n.s().close(now, s).unwrap();
    n.run_for(Duration::from_millis(100));
    let now = n.now;
    assert_eq!(read_all(n.c(), now, c), (vec![], true));
    n.c().close(now, c).unwrap();
    n.run();
    assert_log(
        &n.take_log(),
        &[
            "S ESTABLISHED->FIN_WAIT_1",
            "S>C FIN,ACK seq=1 ack=1 len=0",
            "C ESTABLISHED->CLOSE_WAIT",
            "C>S ACK seq=1 ack=2 len=0",
            "S FIN_WAIT_1->FIN_WAIT_2",
            "C CLOSE_WAIT->LAST_ACK",
            "C>S FIN,ACK seq=1 ack=2 len=0",
            "S FIN_WAIT_2->TIME_WAIT",
            "S>C ACK seq=2 ack=2 len=0",
            "C LAST_ACK->CLOSED",
            "S TIME_WAIT->CLOSED",
        ],
    );
}

#[test]
fn three_segment_close() {
    let mut n = Net::new(cfg());
    let (c, s, _) = open(&mut n);
    // The server application closes as soon as it reads EOF: its ACK and FIN share a segment.
    n.apps[1] = Some(Box::new(move |st, now| {
        let mut b = [0u8; 16];
        if st.recv(now, s, &mut b) == Ok(0) {
            let _ = st.close(now, s);
        }
    }));
    let now = n.now;
    n.c().close(now, c).unwrap();
    n.with_time = true;
    n.run();
    assert_log(
        &n.take_log(),
        &[
            "    100 C ESTABLISHED->FIN_WAIT_1",
            "    100 C>S FIN,ACK seq=1 ack=1 len=0",
            "    110 S ESTABLISHED->CLOSE_WAIT",
            "    110 S CLOSE_WAIT->LAST_ACK",
            "    110 S>C FIN,ACK seq=1 ack=2 len=0",
            "    120 C FIN_WAIT_1->TIME_WAIT",
            "    120 C>S ACK seq=2 ack=2 len=0",
            "    130 S LAST_ACK->CLOSED",
            "  60120 C TIME_WAIT->CLOSED",
        ],
    );
}

#[test]
fn half_close_keeps_data_flowing() {
    let mut n = Net::new(cfg());
    let (c, s, _) = open(&mut n);
    let now = n.now;
    n.c().shutdown(now, c, Shutdown::Write).unwrap();
    n.run_for(Duration::from_millis(100));
    assert_eq!(n.c().state(c).unwrap(), State::FinWait2);
    assert_eq!(n.s().state(s).unwrap(), State::CloseWait);
    let now = n.now;
    assert_eq!(read_all(n.s(), now, s), (vec![], true));
    // The server keeps sending in CLOSE_WAIT; the client keeps receiving in FIN_WAIT_2.
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(n.s().send(now, s, &data), Ok(3000));
    assert_eq!(
        n.c().send(now, c, b"x"),
        Err(synack_proto::Error::BrokenPipe)
    );
    n.run_for(Duration::from_millis(200));
    let now = n.now;
    let (got, eof) = read_all(n.c(), now, c);
    assert_eq!(got, data);
    assert!(!eof, "no EOF before the server closes");
    n.s().close(now, s).unwrap();
    n.run_for(Duration::from_millis(100));
    let now = n.now;
    assert_eq!(read_all(n.c(), now, c), (vec![], true));
    assert_log(
        &n.take_log(),
        &[
            "C ESTABLISHED->FIN_WAIT_1",
            "C>S FIN,ACK seq=1 ack=1 len=0",
            "S ESTABLISHED->CLOSE_WAIT",
            "S>C ACK seq=1 ack=2 len=0",
            "C FIN_WAIT_1->FIN_WAIT_2",
            "S>C ACK seq=1 ack=2 len=1448",
            "S>C ACK seq=1449 ack=2 len=1448",
            // The client's first data: quick-ACK mode acknowledges each segment at
            // once (as Linux; RFC 1122 4.2.3.2 allows it) ...
            "C>S ACK seq=2 ack=1449 len=0",
            "C>S ACK seq=2 ack=2897 len=0",
            // ... and Nagle held the 104-byte tail until nothing was in flight (RFC 9293 3.7.4).
            "S>C PSH,ACK seq=2897 ack=2 len=104",
            "C>S ACK seq=2 ack=3001 len=0",
            "S CLOSE_WAIT->LAST_ACK",
            "S>C FIN,ACK seq=3001 ack=2 len=0",
            "C FIN_WAIT_2->TIME_WAIT",
            "C>S ACK seq=2 ack=3002 len=0",
            "S LAST_ACK->CLOSED",
        ],
    );
}

#[test]
fn simultaneous_close() {
    let mut n = Net::new(cfg());
    let (c, s, _) = open(&mut n);
    let now = n.now;
    n.c().close(now, c).unwrap();
    n.s().close(now, s).unwrap();
    n.run();
    assert_log(
        &n.take_log(),
        &[
            "C ESTABLISHED->FIN_WAIT_1",
            "C>S FIN,ACK seq=1 ack=1 len=0",
            "S ESTABLISHED->FIN_WAIT_1",
            "S>C FIN,ACK seq=1 ack=1 len=0",
            "S FIN_WAIT_1->CLOSING",
            "S>C ACK seq=2 ack=2 len=0",
            "C FIN_WAIT_1->CLOSING",
            "C>S ACK seq=2 ack=2 len=0",
            "C CLOSING->TIME_WAIT",
            "S CLOSING->TIME_WAIT",
            "C TIME_WAIT->CLOSED",
            "S TIME_WAIT->CLOSED",
        ],
    );
}

#[test]
fn simultaneous_open() {
    let mut n = Net::new(cfg());
    let now = n.now;
    let c = n
        .c()
        .connect(now, Some(c_addr(1000)), s_addr(2000))
        .unwrap();
    let s = n
        .s()
        .connect(now, Some(s_addr(2000)), c_addr(1000))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    assert_eq!(n.c().state(c).unwrap(), State::Established);
    assert_eq!(n.s().state(s).unwrap(), State::Established);
    assert_eq!(n.c().connection_count(), 1, "one connection, not two");
    assert_log(
        &n.take_log(),
        &[
            "C CLOSED->SYN_SENT",
            "C>S SYN seq=0 len=0",
            "S CLOSED->SYN_SENT",
            "S>C SYN seq=0 len=0",
            "S SYN_SENT->SYN_RCVD",
            "S>C SYN,ACK seq=0 ack=1 len=0",
            "C SYN_SENT->SYN_RCVD",
            "C>S SYN,ACK seq=0 ack=1 len=0",
            "C SYN_RCVD->ESTABLISHED",
            "S SYN_RCVD->ESTABLISHED",
        ],
    );
    // Data flows both ways on the one connection.
    let now = n.now;
    n.c().send(now, c, b"ping").unwrap();
    n.s().send(now, s, b"pong").unwrap();
    n.run_for(Duration::from_millis(100));
    let now = n.now;
    assert_eq!(read_all(n.s(), now, s).0, b"ping");
    assert_eq!(read_all(n.c(), now, c).0, b"pong");
}

#[test]
fn lost_final_ack_is_repaired_by_time_wait() {
    let mut n = Net::new(cfg());
    let (c, s, _) = open(&mut n);
    // Drop the client's 2nd pure ACK: the final ACK of the teardown.
    n.drop = Some(Box::new(|from, flags, nth, _| {
        from == 0 && flags.0 == 0x10 && nth == 2
    }));
    n.with_time = true;
    let now = n.now;
    n.c().close(now, c).unwrap();
    n.run_for(Duration::from_millis(100));
    let now = n.now;
    n.s().close(now, s).unwrap();
    n.run();
    assert_log(
        &n.take_log(),
        &[
            "    100 C ESTABLISHED->FIN_WAIT_1",
            "    100 C>S FIN,ACK seq=1 ack=1 len=0",
            "    110 S ESTABLISHED->CLOSE_WAIT",
            "    110 S>C ACK seq=1 ack=2 len=0",
            "    120 C FIN_WAIT_1->FIN_WAIT_2",
            "    200 S CLOSE_WAIT->LAST_ACK",
            "    200 S>C FIN,ACK seq=1 ack=2 len=0",
            "    210 C FIN_WAIT_2->TIME_WAIT",
            "    210 C>S ACK seq=2 ack=2 len=0",
            "    210 C X dropped",
            // The server's RTO (SRTT 20 ms + the 200 ms minimum, as Linux) fires;
            // it re-sends its FIN.
            "    420 S>C FIN,ACK seq=1 ack=2 len=0",
            // TIME_WAIT answers with a fresh ACK and restarts its 2*MSL timer.
            "    430 C>S ACK seq=2 ack=2 len=0",
            "    440 S LAST_ACK->CLOSED",
            "  60430 C TIME_WAIT->CLOSED",
        ],
    );
}

#[test]
fn lost_syn_is_retransmitted_after_one_second() {
    let mut n = Net::new(cfg());
    n.with_time = true;
    n.drop = Some(Box::new(|from, flags, nth, _| {
        from == 0 && flags.syn() && nth == 1
    }));
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(2));
    assert!(n.s().accept(l).is_ok());
    assert_log(
        &n.take_log(),
        &[
            "      0 C CLOSED->SYN_SENT",
            "      0 C>S SYN seq=0 len=0",
            "      0 C X dropped",
            "   1000 C>S SYN seq=0 len=0",
            "   1010 S LISTEN->SYN_RCVD",
            "   1010 S>C SYN,ACK seq=0 ack=1 len=0",
            "   1020 C SYN_SENT->ESTABLISHED",
            "   1020 C>S ACK seq=1 ack=1 len=0",
            "   1030 S SYN_RCVD->ESTABLISHED",
        ],
    );
    // Karn's rule forbids timing the retransmitted SYN by sequence numbers, but the
    // SYN,ACK's TSecr names the SYN it answers (RFC 7323 4.1): SRTT 20 ms, so the
    // RTO is SRTT + the 200 ms minimum (Linux's `rttvar_us` never below
    // `tcp_rto_min`), not RFC 6298 5.7's 3 s fallback for "no sample"
    // (tests/timestamps.rs pins the fallback without timestamps).
    assert_eq!(
        n.c().status(c).unwrap().srtt,
        Some(Duration::from_millis(20))
    );
    assert_eq!(n.c().status(c).unwrap().rto, Duration::from_millis(220));
}

#[test]
fn connect_times_out_after_six_syn_retries() {
    let mut n = Net::new(cfg());
    n.with_time = true;
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run();
    let log = n.take_log();
    let syn_times: Vec<&str> = log
        .iter()
        .filter(|l| l.contains("C>S SYN"))
        .map(|l| l[..7].trim())
        .collect();
    // Exponential backoff from 1 s (RFC 6298 5.5): 0, 1, 3, 7, 15, 31, 63 s; fail at 127 s.
    assert_eq!(
        syn_times,
        ["0", "1000", "3000", "7000", "15000", "31000", "63000"]
    );
    assert_eq!(log[log.len() - 2], " 127000 C error connection timed out");
    assert_eq!(log[log.len() - 1], " 127000 C SYN_SENT->CLOSED");
    let mut b = [0u8; 1];
    assert_eq!(
        n.hosts[0].recv(n.now, c, &mut b),
        Err(synack_proto::Error::Connection(
            synack_proto::ConnError::TimedOut
        ))
    );
}

#[test]
fn lost_syn_ack_is_repaired_by_both_timers() {
    let mut n = Net::new(cfg());
    n.with_time = true;
    n.drop = Some(Box::new(|from, flags, nth, _| {
        from == 1 && flags.syn() && nth == 1
    }));
    let l = n.s().listen(s_addr(80), 8).unwrap();
    n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(2));
    assert!(n.s().accept(l).is_ok());
    assert_log(
        &n.take_log(),
        &[
            "      0 C CLOSED->SYN_SENT",
            "      0 C>S SYN seq=0 len=0",
            "     10 S LISTEN->SYN_RCVD",
            "     10 S>C SYN,ACK seq=0 ack=1 len=0",
            "     10 S X dropped",
            // The client's SYN timer fires first and its SYN reaches the half-open entry,
            // which answers with its SYN,ACK again (as Linux does for a duplicate SYN).
            "   1000 C>S SYN seq=0 len=0",
            "   1010 S>C SYN,ACK seq=0 ack=1 len=0",
            "   1010 S>C SYN,ACK seq=0 ack=1 len=0",
            "   1020 C SYN_SENT->ESTABLISHED",
            "   1020 C>S ACK seq=1 ack=1 len=0",
            "   1020 C>S ACK seq=1 ack=1 len=0",
            "   1030 S SYN_RCVD->ESTABLISHED",
        ],
    );
}

#[test]
fn half_open_entry_gives_up_after_five_syn_ack_retries() {
    let mut n = Net::new(cfg());
    n.with_time = true;
    // The client never hears the server: the entry retransmits and then goes away.
    n.drop = Some(Box::new(|from, _, _, _| from == 1));
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let c_cfg = synack_proto::ConnConfig {
        syn_retries: 0,
        ..Default::default()
    };
    n.hosts[0]
        .connect_with(n.now, Some(c_addr(40000)), s_addr(80), c_cfg)
        .unwrap();
    n.run();
    let log = n.take_log();
    let synack_times: Vec<&str> = log
        .iter()
        .filter(|l| l.contains("S>C SYN,ACK"))
        .map(|l| l[..7].trim())
        .collect();
    assert_eq!(
        synack_times,
        ["10", "1010", "3010", "7010", "15010", "31010"]
    );
    assert!(
        log.contains(&"  63010 S SYN_RCVD->CLOSED".to_string()),
        "{log:#?}"
    );
    let st = n.s().listener_status(l).unwrap();
    assert_eq!(
        (st.syn_queue, st.half_open_expired, st.synack_retransmits),
        (0, 1, 5)
    );
    assert_eq!(n.s().connection_count(), 0);
}

#[test]
fn lost_third_ack_then_data_completes_the_handshake() {
    let mut n = Net::new(cfg());
    n.drop = Some(Box::new(|from, flags, nth, _| {
        from == 0 && flags.0 == 0x10 && nth == 1
    }));
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(50));
    assert_eq!(n.c().state(c).unwrap(), State::Established);
    assert_eq!(
        n.s().accept(l),
        Err(synack_proto::Error::WouldBlock),
        "server still in SYN_RCVD"
    );
    let now = n.now;
    n.c().send(now, c, b"hello").unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.s().accept(l).unwrap();
    let now = n.now;
    assert_eq!(read_all(n.s(), now, s).0, b"hello");
    assert_log(
        &n.take_log(),
        &[
            "C CLOSED->SYN_SENT",
            "C>S SYN seq=0 len=0",
            "S LISTEN->SYN_RCVD",
            "S>C SYN,ACK seq=0 ack=1 len=0",
            "C SYN_SENT->ESTABLISHED",
            "C>S ACK seq=1 ack=1 len=0",
            "C X dropped",
            "C>S PSH,ACK seq=1 ack=1 len=5",
            // The data segment carries the ACK of the SYN,ACK: the handshake completes.
            "S SYN_RCVD->ESTABLISHED",
            // One small segment: its ACK waits for the delayed-ACK timer (RFC 1122 4.2.3.2).
            "S>C ACK seq=1 ack=6 len=0",
        ],
    );
}

#[test]
fn lost_third_ack_without_data_is_repaired_by_syn_ack_retransmission() {
    let mut n = Net::new(cfg());
    n.with_time = true;
    n.drop = Some(Box::new(|from, flags, nth, _| {
        from == 0 && flags.0 == 0x10 && nth == 1
    }));
    let l = n.s().listen(s_addr(80), 8).unwrap();
    n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(2));
    assert!(n.s().accept(l).is_ok());
    let log = n.take_log();
    assert_eq!(
        &log[6..],
        [
            "     20 C X dropped",
            "   1010 S>C SYN,ACK seq=0 ack=1 len=0",
            "   1020 C>S ACK seq=1 ack=1 len=0",
            "   1030 S SYN_RCVD->ESTABLISHED",
        ]
    );
}

#[test]
fn old_duplicate_syn_is_reset_and_never_accepted() {
    let mut n = Net::new(cfg());
    let l = n.s().listen(s_addr(80), 8).unwrap();
    // A stale SYN from an earlier incarnation of client port 40000 reaches the server.
    let stale = raw_packet(
        c_addr(40000),
        s_addr(80),
        90_000,
        0,
        synack_proto::wire::TcpFlags::SYN,
        65535,
        &[],
    );
    n.s().handle_packet(Instant::ZERO, &stale);
    n.run_for(Duration::from_millis(100));
    assert_eq!(n.s().accept(l), Err(synack_proto::Error::WouldBlock));
    assert_eq!(
        n.s().connection_count(),
        0,
        "the half-open entry went back to LISTEN"
    );
    let log = n.take_log();
    assert_eq!(log[0], "S LISTEN->SYN_RCVD");
    assert!(log[1].starts_with("S>C SYN,ACK seq=0 ack=90001"), "{log:?}");
    // The client has no such connection: RST with seq = the SYN,ACK's ack (RFC 9293 3.10.7.1).
    assert_eq!(log[2], "C>S RST seq=90001 len=0");
    assert_eq!(log[3], "S SYN_RCVD->CLOSED");
    assert_eq!(n.s().listener_status(l).unwrap().half_open_expired, 1);
}

#[test]
fn old_duplicate_syn_while_client_is_in_syn_sent() {
    let mut n = Net::new(cfg());
    n.delay = Duration::from_millis(10);
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    // The stale SYN arrives at the server just before the real one.
    let stale = raw_packet(
        c_addr(40000),
        s_addr(80),
        90_000,
        0,
        synack_proto::wire::TcpFlags::SYN,
        65535,
        &[],
    );
    n.s().handle_packet(Instant::from_millis(5), &stale);
    n.run_for(Duration::from_secs(3));
    // The client rejected the SYN,ACK for the stale SYN with a RST, the server forgot that
    // entry, and the real handshake completed (after the client's SYN retransmission).
    assert_eq!(n.c().state(c).unwrap(), State::Established);
    let s = n.s().accept(l).unwrap();
    assert_eq!(n.s().tuple(s).unwrap().remote, c_addr(40000));
    let log = n.take_log();
    // (Relative numbers: the RST's seq is the stale SYN's ISN + 1, far from the client's ISN.)
    assert!(
        log.iter().any(|l| l.starts_with("C>S RST seq=")),
        "{log:#?}"
    );
    assert_eq!(
        log.iter().filter(|l| *l == "S SYN_RCVD->CLOSED").count(),
        1,
        "{log:#?}"
    );
    assert_eq!(n.s().listener_status(l).unwrap().established, 1);
}

#[test]
fn connection_refused() {
    let mut n = Net::new(cfg());
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(81))
        .unwrap();
    n.run();
    assert_log(
        &n.take_log(),
        &[
            "C CLOSED->SYN_SENT",
            "C>S SYN seq=0 len=0",
            // No listener: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> (RFC 9293 3.10.7.1).
            "S>C RST,ACK seq=0 ack=1 len=0",
            "C error connection refused",
            "C SYN_SENT->CLOSED",
        ],
    );
    assert_eq!(
        n.hosts[0].send(n.now, c, b"x"),
        Err(synack_proto::Error::Connection(
            synack_proto::ConnError::Refused
        ))
    );
    assert_eq!(n.s().stats().resets_sent, 1);
}

#[test]
fn abort_resets_the_peer() {
    let mut n = Net::new(cfg());
    let (c, s, _) = open(&mut n);
    let now = n.now;
    n.c().abort(now, c).unwrap();
    n.run();
    assert_log(
        &n.take_log(),
        &[
            "C ESTABLISHED->CLOSED",
            // From a synchronized connection: RST,ACK with ack = RCV.NXT (Linux).
            "C>S RST,ACK seq=1 ack=1 len=0",
            "S error connection reset",
            "S ESTABLISHED->CLOSED",
        ],
    );
    let now = n.now;
    let mut b = [0u8; 4];
    let reset = Err(synack_proto::Error::Connection(
        synack_proto::ConnError::Reset,
    ));
    assert_eq!(n.s().recv(now, s, &mut b), reset);
    assert_eq!(n.s().send(now, s, b"x"), reset);
    assert_eq!(
        n.c().state(c),
        Err(synack_proto::Error::InvalidHandle),
        "an aborted handle is released"
    );
}

#[test]
fn close_with_unread_data_sends_rst() {
    let mut n = Net::new(cfg());
    let (c, s, _) = open(&mut n);
    let now = n.now;
    n.c().send(now, c, b"unread").unwrap();
    n.run_for(Duration::from_millis(100));
    let now = n.now;
    n.s().close(now, s).unwrap();
    n.run();
    let log = n.take_log();
    assert_eq!(
        &log[log.len() - 4..],
        [
            "S ESTABLISHED->CLOSED",
            "S>C RST,ACK seq=1 ack=7 len=0",
            "C error connection reset",
            "C ESTABLISHED->CLOSED"
        ]
    );
}

#[test]
fn stack_close_all_is_a_process_exit() {
    let mut n = Net::new(cfg());
    let (c, s, _) = open(&mut n);
    let now = n.now;
    n.s().close_all(now);
    n.run();
    let now = n.now;
    // The server's connection was closed gracefully: the client reads EOF.
    assert_eq!(read_all(n.c(), now, c), (vec![], true));
    let _ = s;
}

#[test]
fn peer_reboot_resets_the_survivor() {
    let mut n = Net::new(cfg());
    let (c, _s, _) = open(&mut n);
    // The server loses all its state (a reboot): a fresh stack at the same address.
    let mut fresh = synack_proto::Stack::new_deterministic(cfg(), 99);
    fresh.add_address(S_IP.parse().unwrap());
    n.hosts[1] = fresh;
    let now = n.now;
    n.c().send(now, c, b"are you there?").unwrap();
    n.run();
    assert_log(
        &n.take_log(),
        &[
            "C>S PSH,ACK seq=1 ack=1 len=14",
            // The peer knows no such connection: <SEQ=SEG.ACK><CTL=RST>.
            "S>C RST seq=1 len=0",
            "C error connection reset",
            "C ESTABLISHED->CLOSED",
        ],
    );
}

#[test]
fn keepalive_probes_an_idle_peer_and_gives_up_when_it_vanishes() {
    let mut n = Net::new(cfg());
    n.with_time = true;
    let (c, _s, _) = open(&mut n);
    n.hosts[0]
        .set_keepalive(n.now, c, Some(synack_proto::Keepalive::default()))
        .unwrap();
    // 2 h idle: one probe, answered.
    n.run_for(Duration::from_secs(2 * 3600 + 10));
    assert_log(
        &n.take_log(),
        &[
            // RFC 1122 4.2.3.6: <SEQ=SND.NXT-1>, no data, after 2 hours of silence.
            "7200100 C>S ACK seq=0 ack=1 len=0",
            // The peer finds it unacceptable and answers with an ACK (RFC 9293 3.10.7.4).
            "7200110 S>C ACK seq=1 ack=1 len=0",
        ],
    );
    assert_eq!(n.hosts[0].state(c).unwrap(), State::Established);
    // Now the server vanishes: its segments never arrive.
    n.drop = Some(Box::new(|from, _, _, _| from == 1));
    n.run();
    let log = n.take_log();
    let probes: Vec<u64> = log
        .iter()
        .filter(|l| l.contains("C>S ACK seq=0"))
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    // The idle timer restarted when the answer arrived (7200120 ms); then a probe every 75 s, 9 in all.
    let first = 7_200_120 + 7_200_000;
    let expected: Vec<u64> = (0..9).map(|i| first + i * 75_000).collect();
    assert_eq!(probes, expected);
    let end = first + 9 * 75_000;
    assert_eq!(
        log[log.len() - 2],
        format!("{end:>7} C error connection timed out")
    );
    assert_eq!(
        log[log.len() - 1],
        format!("{end:>7} C ESTABLISHED->CLOSED")
    );
}

#[test]
fn keepalive_is_off_by_default() {
    let mut n = Net::new(cfg());
    let (c, _s, _) = open(&mut n);
    n.run_for(Duration::from_secs(10 * 3600));
    assert!(n.take_log().is_empty());
    assert_eq!(n.hosts[0].state(c).unwrap(), State::Established);
}

fn syn_flood(n: &mut Net, count: u32) {
    use synack_proto::wire::TcpFlags;
    for i in 0..count {
        let src = std::net::SocketAddr::new(
            std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 9, (i >> 8) as u8, i as u8)),
            1024 + i as u16,
        );
        let p = raw_packet(src, s_addr(80), 7_000 + i, 0, TcpFlags::SYN, 65535, &[]);
        n.hosts[1].handle_packet(n.now, &p);
    }
}

#[test]
fn syn_flood_is_absorbed_by_syn_cookies() {
    let mut n = Net::new(cfg());
    let l = n.hosts[1].listen(s_addr(80), 4).unwrap();
    syn_flood(&mut n, 200);
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    // The legitimate client got through at once, although the SYN queue is full.
    assert_eq!(n.hosts[0].state(c).unwrap(), State::Established);
    let s = n.hosts[1].accept(l).unwrap();
    assert_eq!(n.hosts[1].state(s).unwrap(), State::Established);
    let st = n.hosts[1].listener_status(l).unwrap();
    assert_eq!(
        (st.syn_queue, st.syn_queue_limit, st.distinct_sources),
        (4, 4, 4)
    );
    assert_eq!(st.syns_received, 201);
    assert_eq!(
        st.cookies_sent, 197,
        "every SYN beyond the queue got a cookie"
    );
    assert_eq!(st.cookies_validated, 1);
    assert_eq!(st.syns_dropped, 0);
    // The flood costs no state beyond the full SYN queue: 4 half-open + the real connection.
    assert_eq!(n.hosts[1].connection_count(), 5);
    // Data flows on the cookie connection (it runs without window scaling).
    let now = n.now;
    n.hosts[0].send(now, c, b"hello").unwrap();
    n.run_for(Duration::from_millis(100));
    let now = n.now;
    assert_eq!(read_all(&mut n.hosts[1], now, s).0, b"hello");
}

#[test]
fn syn_flood_without_cookies_locks_out_real_clients() {
    let mut c = cfg();
    c.syn_cookies = synack_proto::SynCookies::Off;
    let mut n = Net::new(c);
    let l = n.hosts[1].listen(s_addr(80), 4).unwrap();
    syn_flood(&mut n, 200);
    let conn = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(20));
    assert_eq!(
        n.hosts[0].state(conn).unwrap(),
        State::SynSent,
        "still locked out after 20 s"
    );
    let st = n.hosts[1].listener_status(l).unwrap();
    assert_eq!(st.syn_queue, 4);
    assert_eq!(
        st.syns_dropped,
        196 + 5,
        "flood SYNs beyond the queue plus the client's SYN and 4 retries"
    );
    assert!(
        st.synack_retransmits > 0,
        "the half-open entries retransmit to addresses that never answer"
    );
    assert_eq!(
        n.hosts[1]
            .stats()
            .drops
            .get(&synack_proto::DropReason::SynQueueFull),
        Some(&201)
    );
}

#[test]
fn zero_window_is_probed_until_it_opens() {
    let mut s_cfg = cfg();
    s_cfg.conn.recv_buffer = 4096;
    let mut n = Net::with_configs(cfg(), s_cfg);
    n.with_window = true;
    let (c, s, _) = open(&mut n);
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let now = n.now;
    assert_eq!(n.hosts[0].send(now, c, &data), Ok(20_000));
    // The server application does not read for 10 s: its window closes.
    n.run_for(Duration::from_secs(10));
    let st = n.hosts[0].status(c).unwrap();
    assert_eq!(st.snd_wnd, 0);
    assert_eq!(n.hosts[1].recv_ready(s).unwrap(), 4096);
    let log = n.take_log();
    assert!(
        log.iter()
            .any(|l| l.starts_with("S>C ACK seq=1 ack=4097 win=0 len=0")),
        "{log:#?}"
    );
    let probes = log
        .iter()
        .filter(|l| l.starts_with("C>S ACK seq=4097") && l.ends_with("len=1"))
        .count();
    assert!(
        probes >= 3,
        "persist timer probes the zero window with one octet: {log:#?}"
    );
    assert_eq!(
        n.hosts[0].state(c).unwrap(),
        State::Established,
        "a peer answering probes is never timed out"
    );
    // Now the application reads everything as it arrives.
    let mut got = Vec::new();
    for _ in 0..200 {
        let now = n.now;
        got.extend(read_all(&mut n.hosts[1], now, s).0);
        if got.len() == data.len() {
            break;
        }
        n.run_for(Duration::from_millis(50));
    }
    assert_eq!(got, data);
}
