//! Interop against the Linux kernel's TCP.
//!
//! Each test creates its own network namespace (`snk{pid}x{n}`) with a TUN
//! device (`skt{pid}x{n}`): the kernel's side is 10.77.0.1/24, synack is
//! 10.77.0.2. Real programs (curl, python3's socket module, ss, ip) run
//! inside the namespace; all traffic stays in it. Everything is removed on
//! drop, also when a test fails: children are killed by PID, then the
//! namespace is deleted.
//!
//! Needs root. Not root: each test prints a loud SKIPPED line and returns.
//! Root with a tool missing: the test fails. `.ci/run` installs
//! `curl iproute2 iperf3 python3`.

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use synack::proto::wire::{parse_packet, ChecksumMode, Ecn, TcpFlags};
use synack::proto::EcnMode;
use synack::test_util::http;
use synack::test_util::netns::{have, missing_privileges, unique_name, Netns};
use synack::{
    ConnConfig, ConnectOptions, Impairment, Keepalive, Runtime, RuntimeConfig, State, TcpListener,
    TcpStream,
};

const K: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const S: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const TOOLS: [&str; 5] = ["ip", "curl", "python3", "ss", "timeout"];

struct Lab {
    // Dropped first: the runtime closes its connections while the device exists.
    rt: Runtime,
    dev: String,
    ns: Netns,
}

fn lab() -> Option<Lab> {
    lab_with(|_| {})
}

fn lab_with(f: impl FnOnce(&mut RuntimeConfig)) -> Option<Lab> {
    if let Some(why) = missing_privileges() {
        eprintln!("\n**********\nSKIPPED interop test: {why}\n**********\n");
        return None;
    }
    for t in TOOLS {
        assert!(
            have(t),
            "interop tests need `{t}` on PATH (.ci/run installs curl iproute2 iperf3 python3)"
        );
    }
    let ns = Netns::create_unique().expect("create namespace");
    let dev = ns
        .tun(&unique_name("skt"), K, 24, 1500)
        .expect("TUN device in the namespace");
    let dev_name = dev.name().to_owned();
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V4(S)]);
    f(&mut cfg);
    let rt = Runtime::new(dev, cfg).expect("runtime");
    Some(Lab {
        rt,
        dev: dev_name,
        ns,
    })
}

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

impl Lab {
    /// Run a Python script in the namespace, bounded by `secs`; its stdout.
    fn py(&self, script: &str, args: &[&str], secs: u32) -> String {
        let out = self
            .ns
            .command("timeout")
            .arg(secs.to_string())
            .args(["python3", "-c", script])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "python3 failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Start a Python script in the background (killed on drop).
    fn py_bg(&mut self, script: &str, args: &[&str], stdin: bool) -> usize {
        let mut cmd = self.ns.command("python3");
        cmd.args(["-c", script])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() });
        self.ns.spawn(&mut cmd).expect("start python3")
    }

    fn ss(&self) -> String {
        let out = self.ns.run("ss", &["-tan"]).expect("ss");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until `ss -tan` shows a line with `state` mentioning `needle`.
    fn wait_ss(&self, state: &str, needle: &str, secs: u64) -> bool {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if self
                .ss()
                .lines()
                .any(|l| l.starts_with(state) && l.contains(needle))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    fn wait_listen(&self, port: u16) {
        let needle = format!("{K}:{port}");
        assert!(
            self.wait_ss("LISTEN", &needle, 10),
            "kernel server on {needle} never listened:\n{}",
            self.ss()
        );
    }

    fn link(&self, up: bool) {
        self.ns
            .ip(&[
                "link",
                "set",
                "dev",
                &self.dev,
                if up { "up" } else { "down" },
            ])
            .expect("ip link set");
    }
}

/// Serve echo on `port` with one thread per connection until the runtime stops.
fn echo_server(rt: &Runtime, port: u16) {
    let l = TcpListener::bind(rt, sa(S, port)).expect("bind");
    std::thread::spawn(move || {
        while let Ok((s, _)) = l.accept() {
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                loop {
                    match (&s).read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if (&s).write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
}

fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

const PY_ECHO_CLIENT: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
msg = bytes(i * 31 % 251 for i in range(int(sys.argv[3])))
s.sendall(msg)
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    got += b
print("ok" if got == msg else "mismatch %d %d" % (len(got), len(msg)))
"#;

const PY_ECHO_SERVER: &str = r#"
import socketserver, sys
class H(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            b = self.request.recv(65536)
            if not b:
                break
            self.request.sendall(b)
socketserver.ThreadingTCPServer.allow_reuse_address = True
with socketserver.ThreadingTCPServer((sys.argv[1], int(sys.argv[2])), H) as srv:
    srv.serve_forever()
"#;

const PY_SINK: &str = r#"
import socket, sys, hashlib
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
h = hashlib.sha256(); n = 0
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    h.update(b); n += len(b)
print(n, h.hexdigest())
"#;

const PY_SOURCE: &str = r#"
import socket, sys, hashlib, os
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
left = int(sys.argv[3]); h = hashlib.sha256(); n = left
while left:
    b = os.urandom(min(1 << 20, left))
    s.sendall(b); h.update(b); left -= len(b)
s.shutdown(socket.SHUT_WR)
s.recv(1)
print(n, h.hexdigest())
"#;

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

// ----- (1) kernel client, synack server ---------------------------------------

#[test]
fn curl_fetches_a_page_from_synack() {
    let Some(lab) = lab() else { return };
    let l = TcpListener::bind(&lab.rt, sa(S, 80)).expect("bind");
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        http::serve_conn(&mut s).expect("serve")
    });
    let out = lab
        .ns
        .run(
            "curl",
            &["-sS", "--max-time", "10", "http://10.77.0.2/hello"],
        )
        .expect("curl");
    assert_eq!(out.stdout, http::page("/hello"));
    assert_eq!(server.join().expect("server"), "/hello");
}

#[test]
fn python_client_talks_to_synack_echo() {
    let Some(lab) = lab() else { return };
    echo_server(&lab.rt, 7);
    assert_eq!(
        lab.py(PY_ECHO_CLIENT, &["10.77.0.2", "7", "200000"], 30),
        "ok"
    );
}

// ----- (2) synack client, kernel server ---------------------------------------

#[test]
fn synack_client_to_python_echo_server() {
    let Some(mut lab) = lab() else { return };
    lab.py_bg(PY_ECHO_SERVER, &["10.77.0.1", "9000"], false);
    lab.wait_listen(9000);
    let c =
        TcpStream::connect_timeout(&lab.rt, &sa(K, 9000), Duration::from_secs(5)).expect("connect");
    let data = pattern(500_000, 3);
    let mut back = Vec::new();
    std::thread::scope(|sc| {
        sc.spawn(|| {
            (&c).write_all(&data).expect("write");
            c.shutdown(Shutdown::Write).expect("shutdown");
        });
        (&c).read_to_end(&mut back).expect("read");
    });
    assert_eq!(back, data);
}

#[test]
fn synack_gets_from_python_http_server() {
    let Some(mut lab) = lab() else { return };
    let dir = std::env::temp_dir().join(unique_name("skw"));
    std::fs::create_dir_all(&dir).expect("dir");
    let body = pattern(100_000, 9);
    std::fs::write(dir.join("blob.bin"), &body).expect("file");
    let d = dir.to_string_lossy().into_owned();
    let mut cmd = lab.ns.command("python3");
    cmd.args([
        "-m",
        "http.server",
        "8000",
        "--bind",
        "10.77.0.1",
        "--directory",
        &d,
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .stdin(Stdio::null());
    lab.ns.spawn(&mut cmd).expect("http.server");
    lab.wait_listen(8000);
    let r = http::get(
        &lab.rt,
        "http://10.77.0.1:8000/blob.bin",
        Duration::from_secs(10),
    )
    .expect("get");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.status, 200, "{}", r.head);
    assert_eq!(r.body, body);
}

// ----- (3) bulk ------------------------------------------------------------------

fn bulk_both_ways(lab: &Lab, size: usize, secs: u32) {
    // Kernel to synack.
    let l = TcpListener::bind(&lab.rt, sa(S, 5001)).expect("bind");
    let rx = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut h = Sha256::new();
        let mut n = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let k = s.read(&mut buf).expect("read");
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            n += k;
        }
        (n, hex(&h.finalize()))
    });
    let t = Instant::now();
    let out = lab.py(PY_SOURCE, &["10.77.0.2", "5001", &size.to_string()], secs);
    let up = t.elapsed();
    let (n, sha) = rx.join().expect("receiver");
    assert_eq!(
        out,
        format!("{n} {sha}"),
        "kernel->synack bytes or SHA-256 differ"
    );
    assert_eq!(n, size);

    // Synack to kernel.
    let l = TcpListener::bind(&lab.rt, sa(S, 5002)).expect("bind");
    let data = pattern(size, 77);
    let sha = hex(&Sha256::digest(&data));
    let tx = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.write_all(&data).expect("write");
    });
    let t = Instant::now();
    let out = lab.py(PY_SINK, &["10.77.0.2", "5002"], secs);
    let down = t.elapsed();
    tx.join().expect("sender");
    assert_eq!(
        out,
        format!("{size} {sha}"),
        "synack->kernel bytes or SHA-256 differ"
    );
    let mib = size as f64 / (1 << 20) as f64;
    eprintln!(
        "bulk {mib} MiB: kernel->synack {:.1} MiB/s, synack->kernel {:.1} MiB/s",
        mib / up.as_secs_f64(),
        mib / down.as_secs_f64()
    );
}

#[test]
fn bulk_64_mib_each_way_sha256_equal() {
    let Some(lab) = lab() else { return };
    bulk_both_ways(&lab, 64 << 20, 240);
}

/// netem on the TUN device when the kernel has it (`sch_netem`); otherwise
/// the same faults applied by synack's runtime on both directions of the link.
#[test]
fn bulk_under_loss_delay_duplication_reordering() {
    let probe = Netns::create_unique().ok();
    let netem = probe.as_ref().is_some_and(|ns| {
        ns.run(
            "tc",
            &["qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
        )
        .is_ok()
    });
    drop(probe);
    let impair = Impairment {
        loss: 0.02,
        delay: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        duplicate: 0.01,
        reorder: 0.05,
        seed: 42,
    };
    let Some(lab) = lab_with(|c| {
        if !netem {
            c.impairment = Some(impair);
        }
    }) else {
        return;
    };
    if netem {
        lab.ns
            .run(
                "tc",
                &[
                    "qdisc",
                    "add",
                    "dev",
                    &lab.dev,
                    "root",
                    "netem",
                    "loss",
                    "2%",
                    "delay",
                    "10ms",
                    "5ms",
                    "duplicate",
                    "1%",
                    "reorder",
                    "5%",
                ],
            )
            .expect("netem");
    } else {
        eprintln!("note: this kernel has no netem qdisc; synack's runtime applies the same faults to both directions");
    }
    // 4 MiB each way keeps the run short at a 20-30 ms RTT with 2 % loss.
    bulk_both_ways(&lab, 4 << 20, 120);
}

// ----- (5) closing ------------------------------------------------------------------

#[test]
fn kernel_closes_first_fin_wait_2_then_time_wait() {
    let Some(lab) = lab() else { return };
    let l = TcpListener::bind(&lab.rt, sa(S, 6001)).expect("bind");
    let py = "import socket\ns = socket.create_connection(('10.77.0.2', 6001), timeout=10)\ns.sendall(b'bye')\ns.close()\nprint('closed')";
    assert_eq!(lab.py(py, &[], 20), "closed");
    let (mut s, _) = l.accept().expect("accept");
    let mut got = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.read_to_end(&mut got).expect("read to FIN");
    assert_eq!(got, b"bye");
    assert!(
        lab.wait_ss("FIN-WAIT-2", "10.77.0.2:6001", 5),
        "kernel not in FIN-WAIT-2:\n{}",
        lab.ss()
    );
    assert_eq!(s.status().expect("status").state, State::CloseWait);
    drop(s);
    assert!(
        lab.wait_ss("TIME-WAIT", "10.77.0.2:6001", 5),
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
        lab.wait_ss("CLOSE-WAIT", &port, 5),
        "kernel not in CLOSE-WAIT:\n{}",
        lab.ss()
    );
    let end = Instant::now() + Duration::from_secs(3);
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
        lab.wait_ss("LAST-ACK", &port, 5),
        "kernel not in LAST-ACK:\n{}",
        lab.ss()
    );
    lab.link(true);
    let end = Instant::now() + Duration::from_secs(10);
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
    let mut c =
        TcpStream::connect_timeout(&lab.rt, &sa(K, 6004), Duration::from_secs(5)).expect("connect");
    c.write_all(&pattern(100_000, 5)).expect("write");
    c.shutdown(Shutdown::Write).expect("shutdown write");
    assert_eq!(
        c.write(b"late").expect_err("write after shutdown").kind(),
        std::io::ErrorKind::BrokenPipe
    );
    let mut got = String::new();
    c.set_read_timeout(Some(Duration::from_secs(10)))
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
    let e = TcpStream::connect_timeout(&lab.rt, &sa(K, 6998), Duration::from_secs(5))
        .expect_err("nothing listens");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn synack_connect_through_a_prohibit_route_fails_at_once() {
    let Some(lab) = lab() else { return };
    // The kernel forwards synack's SYN; a `prohibit` route makes it answer with an
    // ICMP "communication administratively prohibited" (code 13) quoting the SYN,
    // which ends the attempt (RFC 1122 4.2.3.9, as Linux and FreeBSD do) long
    // before the 5 s limit.
    lab.ns
        .run("sysctl", &["-qw", "net.ipv4.ip_forward=1"])
        .expect("enable forwarding");
    lab.ns
        .ip(&["route", "add", "prohibit", "10.78.0.0/24"])
        .expect("ip route add prohibit");
    let t = Instant::now();
    let e = TcpStream::connect_timeout(
        &lab.rt,
        &sa(Ipv4Addr::new(10, 78, 0, 1), 80),
        Duration::from_secs(5),
    )
    .expect_err("the route prohibits it");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    let stats = lab.rt.stats();
    assert!(stats.icmp_in >= 1, "{stats:?}");
    let drops = stats.drops;
    assert!(
        !drops.keys().any(|r| format!("{r:?}").starts_with("Icmp")),
        "ICMP ignored: {drops:?}"
    );
}

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
        timeout: Some(Duration::from_secs(5)),
        local: None,
        config: Some(cfg),
    };
    let mut c = TcpStream::connect_with(&lab.rt, sa(K, 6006), opts).expect("connect");
    // The peer vanishes: its link goes down, nothing comes back.
    lab.link(false);
    c.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let t = Instant::now();
    let e = c
        .read(&mut [0u8; 8])
        .expect_err("keepalive must fail the connection");
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
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

/// Run a future to completion on a throwaway current-thread runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio")
        .block_on(f)
}

// ----- (7) many connections -------------------------------------------------------

#[test]
fn thousand_concurrent_kernel_clients_all_served() {
    let Some(lab) = lab() else { return };
    let opts = synack::ListenOptions {
        backlog: 2048,
        config: None,
    };
    let l = block_on(synack::tokio::TcpListener::bind_with(
        &lab.rt,
        sa(S, 7),
        opts,
    ))
    .expect("bind");
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio");
        rt.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
    });
    let py = r#"
import asyncio, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
N = int(sys.argv[1])
async def one(i):
    r, w = await asyncio.wait_for(asyncio.open_connection('10.77.0.2', 7), 60)
    msg = ('connection %d ' % i).encode() * 8
    w.write(msg); await w.drain(); w.write_eof()
    data = await asyncio.wait_for(r.read(), 60)
    w.close()
    return data == msg
async def main():
    res = await asyncio.gather(*[one(i) for i in range(N)], return_exceptions=True)
    ok = sum(1 for x in res if x is True)
    print(ok, [repr(x) for x in res if x is not True][:3])
asyncio.run(main())
"#;
    let t = Instant::now();
    let out = lab.py(py, &["1000"], 120);
    assert!(out.starts_with("1000 "), "not all served: {out}");
    eprintln!("1000 concurrent connections served in {:?}", t.elapsed());
    drop(lab);
    server.join().expect("server");
}

// ----- tokio and hyper -------------------------------------------------------------

#[test]
fn curl_fetches_from_hyper_on_synack() {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let Some(lab) = lab() else { return };
    let l = block_on(synack::tokio::TcpListener::bind(&lab.rt, sa(S, 8080))).expect("bind");
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio");
        rt.block_on(async move {
            for _ in 0..3 {
                let (s, _) = l.accept().await.expect("accept");
                let svc = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        let body = format!("hyper on synack: {}\n", req.uri().path());
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from(body),
                        )))
                    },
                );
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                    .await
                    .expect("serve");
            }
        });
    });
    for i in 0..3 {
        let url = format!("http://10.77.0.2:8080/page{i}");
        let out = lab
            .ns
            .run("curl", &["-sS", "--max-time", "10", &url])
            .expect("curl");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("hyper on synack: /page{i}\n")
        );
    }
    server.join().expect("server");
}

// ----- ECN (RFC 3168) against the kernel's --------------------------------------

/// One packet through the device: direction, TCP flags, IP ECN field, payload length.
type Seen = (synack::Direction, TcpFlags, Ecn, usize);

fn recording(log: &Arc<Mutex<Vec<Seen>>>) -> synack::PacketHook {
    let log = Arc::clone(log);
    Box::new(move |_, dir, bytes| {
        if let Ok((ip, tcp)) = parse_packet(bytes, ChecksumMode::Ignore) {
            if let Ok(mut l) = log.lock() {
                l.push((dir, tcp.flags, ip.ecn(), tcp.payload.len()));
            }
        }
    })
}

fn sysctl(lab: &Lab, setting: &str) {
    let out = lab.ns.run("sysctl", &["-w", setting]).expect("sysctl");
    assert!(out.status.success(), "sysctl -w {setting} failed");
}

/// RFC 3168 6.1: `asker` sent the ECN-setup SYN (ECE and CWR), the other
/// side answered with ECE alone; both sent their data ECT(0) and everything
/// else not-ECT.
fn assert_ecn_used(seen: &[Seen], asker: synack::Direction) {
    use synack::Direction::{In, Out};
    let answerer = if asker == In { Out } else { In };
    let first = |dir, f: &dyn Fn(TcpFlags) -> bool| {
        seen.iter()
            .find(|s| s.0 == dir && f(s.1))
            .unwrap_or_else(|| panic!("no such packet {dir:?} in {seen:?}"))
            .1
    };
    let syn = first(asker, &|f| f.syn() && !f.ack());
    assert!(syn.ece() && syn.cwr(), "SYN {syn}");
    let syn_ack = first(answerer, &|f| f.syn() && f.ack());
    assert!(syn_ack.ece() && !syn_ack.cwr(), "SYN,ACK {syn_ack}");
    for dir in [In, Out] {
        let data_ect0 = seen
            .iter()
            .filter(|s| s.0 == dir && s.3 > 0 && s.2 == Ecn::Ect0)
            .count();
        assert!(data_ect0 > 0, "no ECT(0) data {dir:?}");
        // SYNs, SYN,ACKs and pure ACKs are not-ECT (6.1.1, 6.1.4); nothing
        // on this link marks CE.
        assert!(
            seen.iter()
                .filter(|s| s.0 == dir && (s.3 == 0 || s.1.syn()))
                .all(|s| s.2 == Ecn::NotEct),
            "ECT on a control packet {dir:?}"
        );
    }
}

#[test]
fn kernel_ecn_client_to_synack_server() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let hook = recording(&log);
    let Some(lab) = lab_with(|cfg| cfg.on_packet = Some(hook)) else {
        return;
    };
    // Linux asks for ECN on its SYNs with tcp_ecn=1; synack accepts by default.
    sysctl(&lab, "net.ipv4.tcp_ecn=1");
    echo_server(&lab.rt, 7);
    assert_eq!(
        lab.py(PY_ECHO_CLIENT, &["10.77.0.2", "7", "200000"], 30),
        "ok"
    );
    let seen = log.lock().expect("log").clone();
    assert_ecn_used(&seen, synack::Direction::In);
}

#[test]
fn synack_ecn_client_to_kernel_server() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let hook = recording(&log);
    let Some(mut lab) = lab_with(|cfg| cfg.on_packet = Some(hook)) else {
        return;
    };
    // tcp_ecn=2 (Linux's default): the kernel answers an ECN-setup SYN.
    sysctl(&lab, "net.ipv4.tcp_ecn=2");
    lab.py_bg(PY_ECHO_SERVER, &["10.77.0.1", "9001"], false);
    lab.wait_listen(9001);
    let opts = ConnectOptions {
        timeout: Some(Duration::from_secs(5)),
        local: None,
        config: Some(ConnConfig {
            ecn: EcnMode::Request,
            ..ConnConfig::default()
        }),
    };
    let c = TcpStream::connect_with(&lab.rt, sa(K, 9001), opts).expect("connect");
    assert!(c.status().expect("status").ecn);
    let data = pattern(200_000, 4);
    (&c).write_all(&data).expect("write");
    let mut back = vec![0u8; data.len()];
    (&c).read_exact(&mut back).expect("read");
    assert_eq!(back, data);
    drop(c);
    // The kernel's side shows in its packets: an ECN-setup SYN,ACK, ECT(0) data.
    let seen = log.lock().expect("log").clone();
    assert_ecn_used(&seen, synack::Direction::Out);
}
