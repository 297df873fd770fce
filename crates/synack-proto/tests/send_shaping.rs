//! How the application shapes segments beyond Nagle: the cork (TCP_CORK),
//! an explicit push, and record ends (MSG_EOR), pinned by the segments a
//! peer sees.
#![allow(clippy::unwrap_used)]

mod util;

use synack_proto::{ConnId, Duration, Error, Profile, StackConfig};
use util::*;

fn open(n: &mut Net) -> (ConnId, ConnId) {
    let l = n.hosts[1].listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.hosts[1].accept(l).unwrap();
    n.take_log();
    (c, s)
}

/// The payload lengths of the client's data segments in `log`, in order.
fn data_lens(log: &[String]) -> Vec<u32> {
    log.iter()
        .filter(|l| l.starts_with("C>S"))
        .filter_map(|l| l.rsplit("len=").next()?.split(' ').next()?.parse().ok())
        .filter(|&len| len > 0)
        .collect()
}

fn net() -> Net {
    Net::new(StackConfig::with_profile(Profile::Linux, false))
}

#[test]
fn a_cork_holds_short_writes_until_it_comes_out() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    n.hosts[0].set_cork(c, true).unwrap();
    for _ in 0..2 {
        let now = n.now;
        assert_eq!(n.hosts[0].send(now, c, &[1u8; 40]), Ok(40));
        n.run_for(Duration::from_millis(50));
    }
    // Nothing in flight, Nagle would have sent the first 40 octets at once.
    assert_eq!(data_lens(&n.take_log()), Vec::<u32>::new());
    n.hosts[0].set_cork(c, false).unwrap();
    n.run_for(Duration::from_millis(50));
    assert_eq!(data_lens(&n.take_log()), vec![80]);
}

#[test]
fn a_full_segment_goes_through_the_cork_and_the_short_rest_waits() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    n.hosts[0].set_cork(c, true).unwrap();
    let now = n.now;
    n.hosts[0].send(now, c, &[1u8; 1448 + 100]).unwrap();
    n.run_for(Duration::from_millis(100));
    assert_eq!(data_lens(&n.take_log()), vec![1448]);
}

#[test]
fn a_push_sends_what_waits_behind_the_cork_and_the_cork_stays() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    n.hosts[0].set_cork(c, true).unwrap();
    let now = n.now;
    n.hosts[0].send(now, c, &[1u8; 80]).unwrap();
    n.run_for(Duration::from_millis(50));
    n.hosts[0].push(c).unwrap();
    n.run_for(Duration::from_millis(100));
    assert_eq!(data_lens(&n.take_log()), vec![80]);
    // Still corked: the next short write waits.
    let now = n.now;
    n.hosts[0].send(now, c, &[1u8; 80]).unwrap();
    n.run_for(Duration::from_millis(100));
    assert_eq!(data_lens(&n.take_log()), Vec::<u32>::new());
    assert!(n.hosts[0].conn_config(c).unwrap().cork);
}

#[test]
fn no_segment_carries_octets_of_two_records() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    n.hosts[0].set_nodelay(c, true).unwrap();
    let now = n.now;
    // Queued together before anything goes: 2000 plain, a 300-octet record
    // end, 500 more.
    n.hosts[0].send(now, c, &[1u8; 2000]).unwrap();
    assert_eq!(n.hosts[0].send_record(now, c, &[2u8; 300]), Ok(300));
    n.hosts[0].send(now, c, &[3u8; 500]).unwrap();
    n.run_for(Duration::from_millis(100));
    // Without the record end: 1448 and 1352.
    assert_eq!(data_lens(&n.take_log()), vec![1448, 852, 500]);
}

#[test]
fn a_segment_a_record_end_cut_short_is_not_held_by_nagle() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    let now = n.now;
    n.hosts[0].send(now, c, &[1u8; 1000]).unwrap();
    n.hosts[0].send_record(now, c, &[2u8; 1000]).unwrap();
    n.hosts[0].send(now, c, &[3u8; 300]).unwrap();
    n.run_for(Duration::from_millis(5));
    // 1448, then the record's last 552 octets: more data follows them, so
    // they go at once (Linux's tcp_write_xmit holds only the last buffer);
    // the last 300 wait for an ACK (Nagle, RFC 9293 3.7.4).
    assert_eq!(data_lens(&n.take_log()), vec![1448, 552]);
    n.run_for(Duration::from_millis(200));
    assert_eq!(data_lens(&n.take_log()), vec![300]);
}

#[test]
fn record_ends_are_bounded() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    // Nothing goes out between the sends: every record waits unsent.
    let now = n.now;
    let mut refused = None;
    for i in 0..2000 {
        match n.hosts[0].send_record(now, c, &[1u8]) {
            Ok(1) => {}
            Err(e) => {
                refused = Some((i, e));
                break;
            }
            Ok(k) => panic!("queued {k}"),
        }
    }
    let (i, e) = refused.expect("a limit");
    assert_eq!(e, Error::WouldBlock);
    assert_eq!(i, 1024, "refused after {i} records");
    // A plain send still queues.
    assert_eq!(n.hosts[0].send(now, c, &[1u8]), Ok(1));
}

/// TCP_NOTSENT_LOWAT: a send takes no more than brings the unsent octets to
/// the mark, and what has gone out (even unacknowledged) no longer counts.
#[test]
fn the_unsent_mark_limits_what_waits_behind_the_window() {
    let mut n = net();
    let (c, s) = open(&mut n);
    n.hosts[0].set_notsent_lowat(c, Some(3000)).unwrap();
    // The short last segment goes too: no octet waits on Nagle.
    n.hosts[0].set_nodelay(c, true).unwrap();
    let now = n.now;
    assert_eq!(n.hosts[0].send(now, c, &[7; 10_000]), Ok(3000));
    assert_eq!(
        n.hosts[0].send(now, c, &[7; 10_000]),
        Err(Error::WouldBlock)
    );
    // Sent, not yet acknowledged: room for the mark again.
    let mut buf = Vec::new();
    while n.hosts[0].poll_transmit(now, &mut buf) {}
    assert_eq!(n.hosts[0].status(c).unwrap().send_queued, 3000);
    assert_eq!(n.hosts[0].send(now, c, &[7; 10_000]), Ok(3000));
    // No mark: the send buffer alone limits.
    n.hosts[0].set_notsent_lowat(c, None).unwrap();
    assert!(n.hosts[0].send(now, c, &[7; 10_000]).unwrap() > 3000);
    let _ = s;
}
