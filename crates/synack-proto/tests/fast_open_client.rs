//! TCP Fast Open's client side as Linux has it (RFC 7413 4.2.1): a
//! deferred connect (`TCP_FASTOPEN_CONNECT`) whose first write sends the
//! SYN, what a SYN may carry, and the retransmission and recovery rules.
#![allow(clippy::unwrap_used)]

mod util;

use synack_proto::{ConnId, Duration, FastOpenMiss, FastOpenStatus, StackConfig, State};
use util::{
    assert_log, connect_fast_open, fast_open_listener, fast_open_net, s_addr, without_seq_ack, Net,
};

/// A Fast Open server on port 80 and a client holding its cookie (earned by
/// a first connection, now closed).
fn with_cookie() -> Net {
    with_cookie_and(None)
}

fn with_cookie_and(blackhole_timeout: Option<Duration>) -> Net {
    let mut n = fast_open_net(blackhole_timeout);
    fast_open_listener(&mut n);
    let (c, _) = connect_fast_open(&mut n, None);
    n.run_for(Duration::from_millis(100));
    assert_eq!(n.c().state(c).unwrap(), State::Established);
    assert!(n
        .c()
        .fast_open_cookie(util::S_IP.parse().unwrap())
        .is_some());
    n.take_log();
    n
}

fn deferred(n: &mut Net) -> ConnId {
    let (c, taken) = connect_fast_open(n, None);
    assert_eq!(taken, 0);
    c
}

/// TCP_FASTOPEN_CONNECT with a cookie: nothing is sent until the first
/// write, which takes what the SYN carries (the MSS less the 40 bytes Linux
/// keeps for options: `tcp_send_syn_data`) and no more, as Linux's write
/// returns; the rest goes after the handshake.
#[test]
fn a_deferred_connect_sends_its_syn_with_the_first_write() {
    let mut n = with_cookie();
    let c = deferred(&mut n);
    assert!(n.c().fast_open_deferred(c));
    n.run_for(Duration::from_secs(5));
    assert!(
        n.take_log().iter().all(|l| !l.starts_with("C>S")),
        "no SYN yet"
    );
    assert_eq!(n.c().state(c).unwrap(), State::SynSent);
    let now = n.now;
    let took = n.c().send(now, c, &[7u8; 3000]).unwrap();
    assert_eq!(took, 1420, "one SYN's worth: 1460 - 40");
    assert!(!n.c().fast_open_deferred(c));
    n.run_for(Duration::from_millis(100));
    let log = without_seq_ack(n.take_log().into_iter().filter(|l| l.starts_with("C>S")));
    assert_log(&log, &["C>S SYN len=1420", "C>S ACK len=0"]);
    assert_eq!(n.c().status(c).unwrap().fast_open, FastOpenStatus::Used);
}

/// `send_with` on a deferred connect is cut as `send` is: its writer is
/// handed no more than the SYN carries (1460 - 40), and what it claims past
/// that is not queued; the SYN goes with those octets alone.
#[test]
fn a_deferred_connects_send_with_takes_what_the_syn_carries() {
    let mut n = with_cookie();
    let c = deferred(&mut n);
    let now = n.now;
    let offered = n
        .c()
        .send_with(now, c, |buf| {
            buf.fill(7);
            (buf.len() + 100, buf.len())
        })
        .unwrap();
    assert_eq!(offered, 1420, "one SYN's worth: 1460 - 40");
    assert!(!n.c().fast_open_deferred(c));
    n.run_for(Duration::from_millis(100));
    let log = without_seq_ack(n.take_log().into_iter().filter(|l| l.starts_with("C>S")));
    assert_log(&log, &["C>S SYN len=1420", "C>S ACK len=0"]);
    assert_eq!(n.c().status(c).unwrap().fast_open, FastOpenStatus::Used);
}

/// An empty write on a deferred connect sends the SYN with the cookie and
/// no data (Linux's sendto of 0 bytes: EINPROGRESS); Fast Open is then not
/// used for data.
#[test]
fn an_empty_first_write_sends_the_bare_syn() {
    let mut n = with_cookie();
    let c = deferred(&mut n);
    let now = n.now;
    assert_eq!(n.c().send(now, c, &[]).unwrap(), 0);
    n.run_for(Duration::from_millis(100));
    assert_eq!(n.c().state(c).unwrap(), State::Established);
    assert_ne!(n.c().status(c).unwrap().fast_open, FastOpenStatus::Used);
}

/// TCP_SYNCNT on a connection in SYN-SENT: with one retransmission allowed
/// the connect fails 3 s after the SYN (1 s, then 2 s more), as Linux's
/// does; the retransmitted SYN goes bare (RFC 7413 4.2.1 leaves it to the
/// client: Linux drops the data and the cookie, `tcp_retransmit_skb` of a
/// SYN-data).
#[test]
fn syn_retries_set_on_a_connecting_connection() {
    let mut n = with_cookie();
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    let (c, taken) = connect_fast_open(&mut n, Some(&[1u8; 100]));
    assert_eq!(taken, 100);
    n.c().set_syn_retries(c, 1).unwrap();
    n.run_for(Duration::from_millis(2_900));
    assert_eq!(n.c().state(c).unwrap(), State::SynSent);
    n.run_for(Duration::from_millis(200));
    assert_eq!(
        n.c().conn_error(c).unwrap(),
        Some(synack_proto::ConnError::TimedOut)
    );
    let syns: Vec<String> = n
        .take_log()
        .into_iter()
        .filter(|l| l.starts_with("C>S SYN"))
        .map(|l| l.rsplit(' ').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(syns, ["len=100", "len=0"]);
    assert_eq!(
        n.c().status(c).map(|s| s.fast_open),
        Ok(FastOpenStatus::NotUsed(FastOpenMiss::SynRetransmitted))
    );
}

fn connect_with_data(n: &mut Net) -> (ConnId, usize) {
    let now = n.now;
    n.c()
        .connect_fast_open(
            now,
            None,
            s_addr(80),
            StackConfig::default().conn,
            Some(b"GET /"),
        )
        .unwrap()
}

/// RFC 7413 7 (Linux's `tcp_fastopen_active_detect_blackhole`): a path that
/// drops a Fast Open connection's packets (SYN with data and every later
/// one) makes it time out a third time in a row; client Fast Open then
/// pauses for the blackhole timeout (plain SYNs, `Blackholed`), and a
/// connection after the pause uses Fast Open again.
#[test]
fn a_blackholed_fast_open_connection_pauses_fast_open() {
    let mut n = with_cookie_and(Some(Duration::from_secs(60)));
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    let (c, taken) = connect_with_data(&mut n);
    assert_eq!(taken, 5);
    // SYN at 0, retransmissions at 1 s and 3 s: the third timeout is at 7 s.
    n.run_for(Duration::from_millis(6_900));
    let (probe, taken) = connect_with_data(&mut n);
    assert_eq!(taken, 5, "not paused before the third timeout");
    let now = n.now;
    n.c().abort(now, probe).unwrap();
    n.run_for(Duration::from_millis(200));
    let now = n.now;
    n.c().abort(now, c).unwrap();
    n.drop = None;
    n.run_for(Duration::from_secs(1));
    n.take_log();
    let (paused, taken) = connect_with_data(&mut n);
    assert_eq!(taken, 0, "paused: no data on the SYN");
    n.run_for(Duration::from_millis(100));
    let syn = n
        .take_log()
        .into_iter()
        .find(|l| l.starts_with("C>S SYN"))
        .unwrap_or_default();
    assert!(syn.ends_with("len=0"), "{syn}");
    assert_eq!(
        n.c().status(paused).unwrap().fast_open,
        FastOpenStatus::NotUsed(FastOpenMiss::Blackholed)
    );
    n.run_for(Duration::from_secs(60));
    let (after, taken) = connect_with_data(&mut n);
    assert_eq!(taken, 5, "the pause is over");
    n.run_for(Duration::from_millis(100));
    assert_eq!(n.c().status(after).unwrap().fast_open, FastOpenStatus::Used);
}

/// Without a blackhole timeout (Linux's default 0) nothing pauses.
#[test]
fn without_a_blackhole_timeout_nothing_pauses() {
    let mut n = with_cookie();
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    let (c, _) = connect_with_data(&mut n);
    n.run_for(Duration::from_secs(20));
    let now = n.now;
    n.c().abort(now, c).unwrap();
    n.drop = None;
    let (_, taken) = connect_with_data(&mut n);
    assert_eq!(taken, 5);
}

/// `ConnStatus::delivered` counts as Linux's `tcpi_delivered`: the SYN
/// whose data the SYN,ACK acknowledged is one segment with its data
/// (`tcp_rcv_fastopen_synack` takes back the second one `tcp_ack` counted),
/// later data one per full segment; a cookie request's SYN is one.
#[test]
fn delivered_counts_the_syn_with_its_data_as_one() {
    let mut n = with_cookie();
    let (c, taken) = connect_with_data(&mut n);
    assert_eq!(taken, 5);
    assert_eq!(n.c().status(c).unwrap().delivered, 0, "nothing acked yet");
    n.run_for(Duration::from_millis(100));
    let s = n.c().status(c).unwrap();
    assert_eq!(s.fast_open, FastOpenStatus::Used);
    assert_eq!(s.delivered, 1);
    let now = n.now;
    assert_eq!(n.c().send(now, c, &[9u8; 3000]).unwrap(), 3000);
    n.run_for(Duration::from_millis(300));
    let s = n.c().status(c).unwrap();
    assert_eq!((s.bytes_acked, s.snd_mss), (3005, 1448));
    assert_eq!(s.delivered, 4, "the SYN, then 1448 + 1448 + 104");
}
