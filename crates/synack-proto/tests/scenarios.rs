//! The lifecycle scenarios, pinned segment by segment and state by state.

mod util;

use synack_proto::{Duration, Shutdown, StackConfig, State};
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
fn open(n: &mut Net) -> (synack_proto::ConnId, synack_proto::ConnId, synack_proto::ListenerId) {
    let l = n.s().listen(s_addr(80), 8).unwrap();
    let now = n.now;
    let c = n.c().connect(now, Some(c_addr(40000)), s_addr(80)).unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.s().accept(l).unwrap();
    n.take_log();
    (c, s, l)
}

fn read_all(st: &mut synack_proto::Stack, now: synack_proto::Instant, c: synack_proto::ConnId) -> (Vec<u8>, bool) {
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
    assert_eq!(n.c().send(now, c, b"x"), Err(synack_proto::Error::BrokenPipe));
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
            "S>C ACK seq=1 ack=2 len=1460",
            "S>C ACK seq=1461 ack=2 len=1460",
            // Every second full-sized segment is acknowledged at once (RFC 1122 4.2.3.2) ...
            "C>S ACK seq=2 ack=2921 len=0",
            // ... and Nagle held the 80-byte tail until nothing was in flight (RFC 9293 3.7.4).
            "S>C PSH,ACK seq=2921 ack=2 len=80",
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
    let c = n.c().connect(now, Some(c_addr(1000)), s_addr(2000)).unwrap();
    let s = n.s().connect(now, Some(s_addr(2000)), c_addr(1000)).unwrap();
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
    n.drop = Some(Box::new(|from, flags, nth, _| from == 0 && flags.0 == 0x10 && nth == 2));
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
            // The server's RTO (SRTT 20 ms -> min RTO 200 ms) fires; it re-sends its FIN.
            "    400 S>C FIN,ACK seq=1 ack=2 len=0",
            // TIME_WAIT answers with a fresh ACK and restarts its 2*MSL timer.
            "    410 C>S ACK seq=2 ack=2 len=0",
            "    420 S LAST_ACK->CLOSED",
            "  60410 C TIME_WAIT->CLOSED",
        ],
    );
}
