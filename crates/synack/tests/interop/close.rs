//! Every closing order, refused and reset connections.

use super::*;

// ----- (5) closing ------------------------------------------------------------------

#[test]
fn kernel_closes_first_fin_wait_2_then_time_wait() {
    let Some(lab) = lab() else { return };
    let l = TcpListener::bind(&lab.rt, sa(S, 6001)).expect("bind");
    let py = "import socket\ns = socket.create_connection(('10.77.0.2', 6001), timeout=10)\ns.sendall(b'bye')\ns.close()\nprint('closed')";
    assert_eq!(lab.py(py, &[], 20), "closed");
    let (mut s, _) = l.accept().expect("accept");
    let mut got = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.read_to_end(&mut got).expect("read to FIN");
    assert_eq!(got, b"bye");
    assert!(
        lab.wait_ss("FIN-WAIT-2", "10.77.0.2:6001", 20),
        "kernel not in FIN-WAIT-2:\n{}",
        lab.ss()
    );
    assert_eq!(s.status().expect("status").state, State::CloseWait);
    drop(s);
    assert!(
        lab.wait_ss("TIME-WAIT", "10.77.0.2:6001", 20),
        "kernel not in TIME-WAIT:\n{}",
        lab.ss()
    );
}

#[test]
fn synack_closes_first_close_wait_then_last_ack() {
    let Some(mut lab) = lab() else { return };
    let l = TcpListener::bind(&lab.rt, sa(S, 6002)).expect("bind");
    let py = r#"
import socket, sys
s = socket.create_connection(('10.77.0.2', 6002), timeout=30)
got = b''
while True:
    b = s.recv(100)
    if not b:
        break
    got += b
print(got.decode(), flush=True)
sys.stdin.readline()
s.close()
print('closed', flush=True)
"#;
    let idx = lab.py_bg(py, &[], true);
    let (mut s, peer) = l.accept().expect("accept");
    s.write_all(b"hello").expect("write");
    drop(s);
    let port = format!("{}:{}", K, peer.port());
    assert!(
        lab.wait_ss("CLOSE-WAIT", &port, 20),
        "kernel not in CLOSE-WAIT:\n{}",
        lab.ss()
    );
    let end = Instant::now() + Duration::from_secs(20);
    while !lab
        .rt
        .connections()
        .iter()
        .any(|c| c.tuple.remote == peer && c.state == State::FinWait2)
    {
        assert!(
            Instant::now() < end,
            "synack not in FIN_WAIT_2: {:?}",
            lab.rt.connections()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Hold the kernel's FIN back so LAST-ACK can be seen.
    lab.link(false);
    let child = lab.ns.child(idx).expect("child");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("signal python");
    assert!(
        lab.wait_ss("LAST-ACK", &port, 20),
        "kernel not in LAST-ACK:\n{}",
        lab.ss()
    );
    lab.link(true);
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let tw = lab
            .rt
            .connections()
            .iter()
            .any(|c| c.tuple.remote == peer && c.state == State::TimeWait);
        let gone = !lab.ss().lines().any(|l| l.contains(&port));
        if tw && gone {
            break;
        }
        assert!(
            Instant::now() < end,
            "no TIME_WAIT on synack / kernel socket left:\n{}",
            lab.ss()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = lab.ns.child(idx).expect("child").wait_with_output_ref();
    assert!(
        out.contains("hello") && out.contains("closed"),
        "python said {out:?}"
    );
}

trait WaitOut {
    fn wait_with_output_ref(&mut self) -> String;
}

impl WaitOut for std::process::Child {
    fn wait_with_output_ref(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut o) = self.stdout.take() {
            let _ = o.read_to_string(&mut s);
        }
        let _ = self.wait();
        s
    }
}

#[test]
fn half_close_kernel_side() {
    let Some(lab) = lab() else { return };
    let l = TcpListener::bind(&lab.rt, sa(S, 6003)).expect("bind");
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut q = Vec::new();
        s.read_to_end(&mut q).expect("read to FIN");
        // The kernel can still read after its FIN.
        let mut reply = b"answer: ".to_vec();
        reply.extend_from_slice(&q);
        s.write_all(&reply).expect("write after peer FIN");
    });
    let py = r#"
import socket
s = socket.create_connection(('10.77.0.2', 6003), timeout=10)
s.sendall(b'question')
s.shutdown(socket.SHUT_WR)
got = b''
while True:
    b = s.recv(100)
    if not b:
        break
    got += b
print(got.decode())
"#;
    assert_eq!(lab.py(py, &[], 20), "answer: question");
    server.join().expect("server");
}

#[test]
fn half_close_synack_side() {
    let Some(mut lab) = lab() else { return };
    let py = r#"
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('10.77.0.1', 6004)); l.listen()
c, _ = l.accept()
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    n += len(b)
c.sendall(b'got %d bytes' % n)
c.close()
"#;
    lab.py_bg(py, &[], false);
    lab.wait_listen(6004);
    let mut c = TcpStream::connect_timeout(&lab.rt, &sa(K, 6004), Duration::from_secs(20))
        .expect("connect");
    c.write_all(&pattern(100_000, 5)).expect("write");
    c.shutdown(Shutdown::Write).expect("shutdown write");
    assert_eq!(
        c.write(b"late").expect_err("write after shutdown").kind(),
        std::io::ErrorKind::BrokenPipe
    );
    let mut got = String::new();
    c.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    c.read_to_string(&mut got).expect("read reply");
    assert_eq!(got, "got 100000 bytes");
}

#[test]
fn kernel_connect_to_closed_synack_port_is_refused() {
    let Some(lab) = lab() else { return };
    let py = r#"
import socket
try:
    socket.create_connection(('10.77.0.2', 6999), timeout=10)
    print('connected')
except Exception as e:
    print(type(e).__name__)
"#;
    assert_eq!(lab.py(py, &[], 20), "ConnectionRefusedError");
}

#[test]
fn synack_abort_resets_the_kernel() {
    let Some(lab) = lab() else { return };
    let l = TcpListener::bind(&lab.rt, sa(S, 6005)).expect("bind");
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut b = [0u8; 1];
        s.read_exact(&mut b).expect("read");
        s.abort().expect("abort");
    });
    let py = r#"
import socket
s = socket.create_connection(('10.77.0.2', 6005), timeout=10)
s.sendall(b'x')
try:
    print('data', s.recv(10))
except Exception as e:
    print(type(e).__name__)
"#;
    assert_eq!(lab.py(py, &[], 20), "ConnectionResetError");
    server.join().expect("server");
}

#[test]
fn synack_connect_to_closed_kernel_port_is_refused() {
    let Some(lab) = lab() else { return };
    let e = TcpStream::connect_timeout(&lab.rt, &sa(K, 6998), Duration::from_secs(20))
        .expect_err("nothing listens");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn synack_connect_through_a_prohibit_route_fails_at_once() {
    let Some(lab) = lab() else { return };
    // The kernel forwards synack's SYN; a `prohibit` route makes it answer with an
    // ICMP "communication administratively prohibited" (code 13) quoting the SYN,
    // which ends the attempt (RFC 1122 4.2.3.9, as Linux and FreeBSD do) with
    // ConnectionRefused. Had synack ignored it, or kept it as a soft error, the
    // attempt would have run into the connect timeout and failed with TimedOut:
    // the error kind tells which, with no wall-clock bound.
    lab.ns
        .run("sysctl", &["-qw", "net.ipv4.ip_forward=1"])
        .expect("enable forwarding");
    lab.ns
        .ip(&["route", "add", "prohibit", "10.78.0.0/24"])
        .expect("ip route add prohibit");
    let e = TcpStream::connect_timeout(
        &lab.rt,
        &sa(Ipv4Addr::new(10, 78, 0, 1), 80),
        Duration::from_secs(20),
    )
    .expect_err("the route prohibits it");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    let stats = lab.rt.stats();
    assert!(stats.icmp_in >= 1, "{stats:?}");
    let drops = stats.drops;
    assert!(
        !drops.keys().any(|r| format!("{r:?}").starts_with("Icmp")),
        "ICMP ignored: {drops:?}"
    );
}
