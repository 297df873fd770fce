//! Keepalive both ways.

use super::*;

// ----- (6) keepalive ------------------------------------------------------------

#[test]
fn synack_keepalive_detects_a_vanished_kernel_peer() {
    let Some(mut lab) = lab() else { return };
    let py = r#"
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('10.77.0.1', 6006)); l.listen()
c, _ = l.accept()
time.sleep(60)
"#;
    lab.py_bg(py, &[], false);
    lab.wait_listen(6006);
    let cfg = ConnConfig {
        keepalive: Some(Keepalive {
            idle: Duration::from_secs(1),
            interval: Duration::from_secs(1),
            count: 3,
        }),
        ..ConnConfig::default()
    };
    let opts = ConnectOptions {
        timeout: Some(Duration::from_secs(20)),
        local: None,
        config: Some(cfg),
    };
    let mut c = TcpStream::connect_with(&lab.rt, sa(K, 6006), opts).expect("connect");
    // The peer vanishes: its link goes down, nothing comes back.
    lab.link(false);
    // Keepalive fails the connection after about 4 s with TimedOut; the read
    // timeout, the only wall-clock bound, ends a read that waits in vain with
    // WouldBlock instead, so the error kind tells which ended it.
    c.set_read_timeout(Some(Duration::from_secs(40)))
        .expect("timeout");
    let e = c
        .read(&mut [0u8; 8])
        .expect_err("keepalive must fail the connection");
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    assert!(c.status().expect("status").keepalive_probes >= 3);
}

#[test]
fn synack_answers_kernel_keepalive_probes() {
    let Some(lab) = lab() else { return };
    echo_server(&lab.rt, 7);
    let py = r#"
import socket, time
s = socket.create_connection(('10.77.0.2', 7), timeout=20)
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
time.sleep(6)
s.sendall(b'ping')
print(s.recv(4).decode())
"#;
    let before = lab.rt.stats().packets_in;
    // Without answers the kernel drops the connection after 1 + 2 * 1 s.
    assert_eq!(lab.py(py, &[], 30), "ping");
    let probes = lab.rt.stats().packets_in - before;
    assert!(
        probes >= 7,
        "expected keepalive probes, saw {probes} packets in"
    );
}
