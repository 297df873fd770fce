//! TCP Fast Open (RFC 7413) between two synack stacks: the cookie request,
//! data on a later SYN delivered before the handshake completes, and the
//! fallbacks (an invalid cookie, a full Fast Open queue, Fast Open off).
#![allow(clippy::unwrap_used)]

mod util;

use synack_proto::{FastOpenKey, FastOpenMiss, FastOpenStatus, State};
use util::{assert_log, connect_fast_open, fast_open_listener, fast_open_net, without_seq_ack};

/// The first connection asks for a cookie and carries no data; the second
/// carries its request on the SYN, and the server's application reads it
/// before the client's ACK of the SYN,ACK arrives.
#[test]
fn cookie_then_data_on_the_syn() {
    let mut n = fast_open_net(None);
    let l = fast_open_listener(&mut n);
    let (c1, taken) = connect_fast_open(&mut n, Some(b"hello"));
    assert_eq!(taken, 0, "no cookie yet: nothing rides on the SYN");
    n.run_for(synack_proto::Duration::from_millis(100));
    assert_eq!(n.c().state(c1).unwrap(), State::Established);
    assert_eq!(
        n.c().status(c1).unwrap().fast_open,
        FastOpenStatus::NotUsed(FastOpenMiss::CookieRequested)
    );
    let cookie = n.c().fast_open_cookie(util::S_IP.parse().unwrap());
    assert_eq!(cookie.map(|c| c.as_bytes().len()), Some(8));
    n.take_log();

    let (c2, taken) = connect_fast_open(&mut n, Some(b"GET /"));
    assert_eq!(taken, 5);
    let iss = n.c().status(c2).unwrap().iss;
    // The SYN with its data reaches the server: the child is acceptable and
    // readable while still in SYN_RCVD.
    n.step();
    n.step();
    let _ = n.s().accept(l).unwrap();
    let s2 = n.s().accept(l).unwrap();
    assert_eq!(n.s().state(s2).unwrap(), State::SynReceived);
    let mut buf = [0u8; 16];
    let now = n.now;
    let got = n.s().recv(now, s2, &mut buf).unwrap();
    assert_eq!(&buf[..got], b"GET /");
    assert_eq!(n.s().status(s2).unwrap().fast_open, FastOpenStatus::Used);
    n.run_for(synack_proto::Duration::from_millis(100));
    let st = n.c().status(c2).unwrap();
    assert_eq!(st.fast_open, FastOpenStatus::Used);
    assert_eq!(
        st.snd_una,
        iss + 6,
        "the SYN,ACK acknowledged the SYN and its 5 bytes"
    );
    assert_eq!(n.s().state(s2).unwrap(), State::Established);
    // The second connection's sequence numbers are not the log's relative
    // ones: compare the rest.
    let log: Vec<String> = without_seq_ack(n.take_log());
    assert_log(
        &log,
        &[
            "C CLOSED->SYN_SENT",
            "C>S SYN len=5",
            "S LISTEN->SYN_RCVD",
            "S>C SYN,ACK len=0",
            "C SYN_SENT->ESTABLISHED",
            "C>S ACK len=0",
            "S SYN_RCVD->ESTABLISHED",
        ],
    );
}

/// A cookie the server's keys did not make: a normal handshake, the SYN's
/// data unacknowledged and sent again after it, a fresh cookie cached.
#[test]
fn an_invalid_cookie_falls_back_and_the_data_goes_again() {
    let mut n = fast_open_net(None);
    let l = fast_open_listener(&mut n);
    let server: std::net::IpAddr = util::S_IP.parse().unwrap();
    let bogus = synack_proto::FastOpenCookie::new(&[1, 2, 3, 4, 5, 6, 7, 8]);
    n.c().set_fast_open_cookie(server, bogus);
    let (c, taken) = connect_fast_open(&mut n, Some(b"abc"));
    assert_eq!(taken, 3);
    n.run_for(synack_proto::Duration::from_millis(100));
    let s = n.s().accept(l).unwrap();
    let mut buf = [0u8; 8];
    let now = n.now;
    let got = n.s().recv(now, s, &mut buf).unwrap();
    assert_eq!(&buf[..got], b"abc");
    assert_eq!(
        n.c().status(c).unwrap().fast_open,
        FastOpenStatus::NotUsed(FastOpenMiss::DataNotAcked)
    );
    assert_eq!(
        n.s().status(s).unwrap().fast_open,
        FastOpenStatus::NotUsed(FastOpenMiss::InvalidCookie)
    );
    assert_ne!(
        n.c().fast_open_cookie(server),
        bogus,
        "the server's cookie replaced it"
    );
}

/// Rotating the key keeps cookies of the previous key valid; a second
/// rotation forgets them.
#[test]
fn rotation_keeps_the_previous_key() {
    let mut n = fast_open_net(None);
    fast_open_listener(&mut n);
    connect_fast_open(&mut n, None);
    n.run_for(synack_proto::Duration::from_millis(100));
    n.s().rotate_fast_open_key(FastOpenKey([7; 16]));
    let (c, _) = connect_fast_open(&mut n, Some(b"x"));
    n.run_for(synack_proto::Duration::from_millis(100));
    assert_eq!(n.c().status(c).unwrap().fast_open, FastOpenStatus::Used);
    n.s().rotate_fast_open_key(FastOpenKey([8; 16]));
    n.s().rotate_fast_open_key(FastOpenKey([9; 16]));
    let (c, _) = connect_fast_open(&mut n, Some(b"y"));
    n.run_for(synack_proto::Duration::from_millis(100));
    assert_eq!(
        n.c().status(c).unwrap().fast_open,
        FastOpenStatus::NotUsed(FastOpenMiss::DataNotAcked)
    );
}

/// A Fast Open child the application accepted, answered and closed while
/// still in SYN_RCVD is its own: closing the listener before the client's
/// ACK arrives does not reset it, and the client gets the response and the
/// FIN.
#[test]
fn closing_the_listener_spares_an_accepted_fast_open_child() {
    let mut n = fast_open_net(None);
    let l = fast_open_listener(&mut n);
    connect_fast_open(&mut n, None);
    n.run_for(synack_proto::Duration::from_millis(100));
    let _ = n.s().accept(l).unwrap();
    let (c, taken) = connect_fast_open(&mut n, Some(b"GET /"));
    assert_eq!(taken, 5);
    n.step();
    n.step();
    let s = n.s().accept(l).unwrap();
    assert_eq!(n.s().state(s).unwrap(), State::SynReceived);
    let now = n.now;
    let mut buf = [0u8; 16];
    assert_eq!(n.s().recv(now, s, &mut buf).unwrap(), 5);
    assert_eq!(n.s().send(now, s, b"re:GET /").unwrap(), 8);
    n.s().close(now, s).unwrap();
    n.s().close_listener(now, l).unwrap();
    n.take_log();
    n.run_for(synack_proto::Duration::from_millis(100));
    let log = n.take_log();
    assert!(!log.iter().any(|e| e.contains("RST")), "{log:#?}");
    let now = n.now;
    let got = n.c().recv(now, c, &mut buf).unwrap();
    assert_eq!(&buf[..got], b"re:GET /");
    assert_eq!(n.c().state(c).unwrap(), State::CloseWait);
}
