//! Any-destination listeners in both socket APIs, over an in-memory link
//! between two runtimes (no privileges): the client dials addresses the
//! server's stack does not own; the server's streams report them as their
//! local address.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr};
use synack::{
    AnyDestination, AnyListenOptions, AnyListener, IpPrefix, MemDevice, Runtime, RuntimeConfig,
    TcpStream,
};

fn pair() -> (Runtime, Runtime) {
    let (da, db) = MemDevice::pair().expect("socketpair");
    let mut ca = RuntimeConfig::new(vec!["10.99.0.1".parse::<IpAddr>().expect("addr")]);
    ca.deterministic_seed = Some(1);
    // The server owns no address at all: the listener takes what it routes.
    let mut cb = RuntimeConfig::new(Vec::new());
    cb.deterministic_seed = Some(2);
    (
        Runtime::new(da, ca).expect("rt a"),
        Runtime::new(db, cb).expect("rt b"),
    )
}

fn dest() -> AnyDestination {
    AnyDestination::prefixes(vec!["10.200.0.0/16".parse::<IpPrefix>().expect("prefix")])
}

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

#[test]
fn a_blocking_any_listener_accepts_with_the_dialled_destination() {
    let (client, server) = pair();
    let l = AnyListener::bind(&server, dest()).expect("listen");
    let t = std::thread::spawn(move || {
        let (mut s, peer) = l.accept().expect("accept");
        let mut b = [0u8; 5];
        s.read_exact(&mut b).expect("read");
        s.write_all(format!("{}", s.local_addr().expect("local")).as_bytes())
            .expect("write");
        (peer, b)
    });
    let mut c = TcpStream::connect(&client, "10.200.7.9:8443").expect("connect");
    c.write_all(b"hello").expect("write");
    let mut got = [0u8; 15];
    c.read_exact(&mut got).expect("read");
    assert_eq!(&got, b"10.200.7.9:8443");
    let (peer, b) = t.join().expect("server thread");
    assert_eq!(&b, b"hello");
    assert_eq!(peer, c.local_addr().expect("client address"));
}

#[test]
fn a_deciding_blocking_listener_refuses_and_accepts() {
    let (client, server) = pair();
    let opts = AnyListenOptions {
        decide: true,
        ..AnyListenOptions::default()
    };
    let l = AnyListener::bind_with(&server, dest(), opts).expect("listen");
    assert_eq!(
        l.accept().map(|_| ()).map_err(|e| e.kind()),
        Err(ErrorKind::InvalidInput)
    );
    let t = std::thread::spawn(move || {
        let first = l.next_pending().expect("pending");
        let dialled = first.local_addr();
        first.refuse().expect("refuse");
        let second = l.next_pending().expect("pending");
        let mut s = second.accept().expect("handshake");
        s.write_all(b"ok").expect("write");
        (
            dialled,
            s.local_addr().expect("local"),
            l.status().expect("status"),
        )
    });
    let refused = TcpStream::connect(&client, "10.200.0.1:22").map(|_| ());
    assert_eq!(
        refused.map_err(|e| e.kind()),
        Err(ErrorKind::ConnectionRefused)
    );
    let mut c = TcpStream::connect(&client, "10.200.0.2:80").expect("connect");
    let mut b = [0u8; 2];
    c.read_exact(&mut b).expect("read");
    assert_eq!(&b, b"ok");
    let (dialled, local, st) = t.join().expect("server thread");
    assert_eq!((dialled, local), (sa("10.200.0.1:22"), sa("10.200.0.2:80")));
    assert_eq!(
        (st.pending_refused, st.established, st.accept_queue),
        (1, 1, 0)
    );
}

#[test]
fn a_deciding_tokio_listener_accepts() {
    let (client, server) = pair();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio");
    let opts = AnyListenOptions {
        decide: true,
        ..AnyListenOptions::default()
    };
    let l = synack::tokio::AnyListener::bind_with(&server, dest(), opts).expect("listen");
    let c = std::thread::spawn(move || {
        let mut c = TcpStream::connect(&client, "10.200.3.3:9").expect("connect");
        let mut b = [0u8; 3];
        c.read_exact(&mut b).expect("read");
        b
    });
    let local = rt.block_on(async {
        use tokio::io::AsyncWriteExt;
        let p = l.next_pending().await.expect("pending");
        let mut s = p.accept().await.expect("handshake");
        s.write_all(b"yes").await.expect("write");
        s.local_addr().expect("local")
    });
    assert_eq!(local, sa("10.200.3.3:9"));
    assert_eq!(&c.join().expect("client"), b"yes");
}
