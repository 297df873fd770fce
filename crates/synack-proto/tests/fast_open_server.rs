//! TCP Fast Open's server side when the handshake does not complete: a
//! child holds its SYN's data, acknowledged by the SYN,ACK, from the start
//! (RFC 7413 4.2.2), so closing it unread resets the client and a reset
//! leaves the data readable, as Linux's child socket does.
#![allow(clippy::unwrap_used)]

mod util;

use synack_proto::wire::TcpFlags;
use synack_proto::{ConnError, ConnId, Duration, Error, ListenerId, State};
use util::{connect_fast_open, fast_open_listener, fast_open_net, Net};

/// A Fast Open server on port 80, a client holding its cookie, and a second
/// connection whose SYN carried `b"hello"`; the client's ACK of the SYN,ACK
/// is lost, so the server's child stays in SYN_RCVD. Returns the client's
/// connection and the listener.
fn child_in_syn_rcvd() -> (Net, ConnId, ListenerId) {
    let mut n = fast_open_net(None);
    let l = fast_open_listener(&mut n);
    connect_fast_open(&mut n, None);
    n.run_for(Duration::from_millis(100));
    let first = n.s().accept(l).unwrap();
    let now = n.now;
    n.s().abort(now, first).unwrap();
    n.run_for(Duration::from_millis(100));
    n.drop = Some(Box::new(|from, flags, _, _| {
        from == 0 && flags == TcpFlags::ACK
    }));
    let (c, taken) = connect_fast_open(&mut n, Some(b"hello"));
    assert_eq!(taken, 5);
    n.run_for(Duration::from_millis(50));
    assert_eq!(n.c().state(c).unwrap(), State::Established);
    n.take_log();
    (n, c, l)
}

/// RFC 2525 2.17 (Linux's tcp_close with data unread): closing a child whose
/// SYN data was never read resets the client rather than ending with a FIN.
#[test]
fn closing_a_child_with_its_syn_data_unread_resets() {
    let (mut n, c, l) = child_in_syn_rcvd();
    let s = n.s().accept(l).unwrap();
    assert_eq!(n.s().state(s).unwrap(), State::SynReceived);
    let now = n.now;
    n.s().close(now, s).unwrap();
    n.run_for(Duration::from_millis(50));
    let log = n.take_log();
    assert!(
        log.iter().any(|l| l.starts_with("S>C RST")),
        "a RST, not a FIN: {log:?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("S>C FIN")), "{log:?}");
    assert_eq!(
        n.c().conn_error(c).unwrap(),
        Some(ConnError::Reset),
        "the client learns its data was not consumed"
    );
}

/// A RST to an accepted child still in SYN_RCVD: the SYN's data stays
/// readable, then the reset is reported (Linux: read 10, then ECONNRESET).
#[test]
fn a_reset_child_keeps_its_data_for_reading() {
    let (mut n, c, l) = child_in_syn_rcvd();
    let s = n.s().accept(l).unwrap();
    let now = n.now;
    n.c().abort(now, c).unwrap();
    n.run_for(Duration::from_millis(50));
    let mut buf = [0u8; 16];
    let now = n.now;
    let got = n.s().recv(now, s, &mut buf).unwrap();
    assert_eq!(&buf[..got], b"hello");
    assert_eq!(
        n.s().recv(now, s, &mut buf),
        Err(Error::Connection(ConnError::Reset))
    );
}

/// Reset before accept: a connection holding acknowledged data stays in the
/// accept queue (the client was told it arrived), so accept returns it with
/// its data and then its error, as Linux's accept queue keeps it.
#[test]
fn a_child_reset_before_accept_is_still_accepted_with_its_data() {
    let (mut n, c, l) = child_in_syn_rcvd();
    let now = n.now;
    n.c().abort(now, c).unwrap();
    n.run_for(Duration::from_millis(50));
    let s = n.s().accept(l).unwrap();
    assert_eq!(n.s().conn_error(s).unwrap(), Some(ConnError::Reset));
    let mut buf = [0u8; 16];
    let now = n.now;
    let got = n.s().recv(now, s, &mut buf).unwrap();
    assert_eq!(&buf[..got], b"hello");
    assert!(n.s().recv(now, s, &mut buf).is_err());
    let now = n.now;
    n.s().close(now, s).unwrap();
    assert_eq!(n.s().accept(l), Err(Error::WouldBlock));
}

/// A child sends before its SYN,ACK is acknowledged with the whole initial
/// window (10 segments of 1448 bytes with timestamps): the SYN's sequence number takes no room in it, as
/// Linux's SYN,ACK is not in `packets_out`.
#[test]
fn a_child_sends_a_full_initial_window_before_the_handshake_completes() {
    let (mut n, _c, l) = child_in_syn_rcvd();
    let s = n.s().accept(l).unwrap();
    let now = n.now;
    assert_eq!(n.s().send(now, s, &[5u8; 30_000]).unwrap(), 30_000);
    n.run_for(Duration::from_millis(10));
    let sent: Vec<String> = n
        .take_log()
        .into_iter()
        .filter(|l| l.starts_with("S>C") && !l.ends_with("len=0"))
        .collect();
    assert_eq!(sent.len(), 10, "{sent:?}");
    assert!(sent.iter().all(|l| l.ends_with("len=1448")), "{sent:?}");
}
