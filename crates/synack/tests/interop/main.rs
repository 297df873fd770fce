//! Interop against the Linux kernel's TCP.
//!
//! Each test creates its own network namespace (`snk{pid}x{n}`) with a TUN
//! device (`skt{pid}x{n}`): the kernel's side is 10.77.0.1/24, synack is
//! 10.77.0.2. Real programs (curl, python3's socket module, ss, ip) run
//! inside the namespace; all traffic stays in it. Everything is removed on
//! drop, also when a test fails: children are killed by PID, then the
//! namespace is deleted.
//!
//! Needs root, `/dev/net/tun` and the programs in `TOOLS` (`.ci/run`
//! installs them). A test that cannot set up FAILS with the reason under CI
//! (`CI` set); elsewhere it prints a loud `SKIPPED: <test>: <reason>` line
//! on stderr and returns.
//!
//! The tests, by file: [`basic`] (kernel client to synack server and back),
//! [`bulk`] (bulk both ways), [`faults`] (bulk under faults), [`close`] (every
//! closing order, refused and reset connections), [`keepalive`], [`many`]
//! (many connections, tokio and hyper), [`multiqueue`] (two queues, two
//! stacks), [`ecn`], [`offload`] (TUN offloads on and off, IPv4 and IPv6),
//! [`gso_capture`] (the segments the kernel cuts from synack's bursts,
//! captured beyond a forwarding hop), [`ptb`] (ICMPv6 Packet Too Big from a
//! kernel router), [`fastopen`] (TCP Fast Open both ways, with a `tcpdump`
//! capture on the kernel's side) and [`forward`] (the transparent forwarder between two
//! namespaces of its own).

mod basic;
mod bulk;
mod close;
mod ecn;
mod fastopen;
mod faults;
mod forward;
mod gso_capture;
mod keepalive;
mod many;
mod multiqueue;
mod offload;
mod ptb;

use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use synack::proto::wire::{parse_packet, ChecksumMode, Ecn, TcpFlags};
use synack::proto::EcnMode;
use synack::test_util::http;
use synack::test_util::netns::{
    cannot_run, cannot_set_up, rerun_test_in_user_namespace, unique_name, Netns,
};
use synack::{
    ConnConfig, ConnectOptions, Device, Impairment, Keepalive, Runtime, RuntimeConfig, State,
    TcpListener, TcpStream, TunDevice,
};

const K: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const S: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const TOOLS: [&str; 6] = ["ip", "curl", "python3", "ss", "sysctl", "timeout"];

struct Lab {
    // Dropped first: the runtime closes its connections while the device exists.
    rt: Runtime,
    dev: String,
    ns: Netns,
}

fn lab() -> Option<Lab> {
    lab_with(|_| {})
}

/// A lab, or `None` when it cannot be set up here (after a SKIPPED line;
/// under CI it fails instead).
fn lab_with(f: impl FnOnce(&mut RuntimeConfig)) -> Option<Lab> {
    lab_on(|dev| dev, f)
}

/// [`lab_with`], the runtime reading and writing the TUN device through
/// what `wrap` makes of it.
fn lab_on<D: Device>(
    wrap: impl FnOnce(TunDevice) -> D,
    f: impl FnOnce(&mut RuntimeConfig),
) -> Option<Lab> {
    if !can_set_up(&TOOLS) {
        return None;
    }
    let ns = Netns::create_unique().expect("create namespace");
    let dev = ns
        .tun(&unique_name("skt"), K, 24, 1500)
        .expect("TUN device in the namespace");
    let dev_name = dev.name().to_owned();
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V4(S)]);
    f(&mut cfg);
    let rt = Runtime::new(wrap(dev), cfg).expect("runtime");
    Some(Lab {
        rt,
        dev: dev_name,
        ns,
    })
}

/// Whether the test can set up here. Not root, it runs again inside an
/// unprivileged user + network namespace where the kernel allows one (and
/// this run ends); otherwise a SKIPPED line, or a failure under CI.
fn can_set_up(tools: &[&str]) -> bool {
    let Some(why) = cannot_run(tools) else {
        return true;
    };
    if !rerun_test_in_user_namespace() {
        cannot_set_up(&why);
    }
    false
}

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

/// Run a Python script in namespace `ns`, bounded by `secs`; its stdout
/// (the test fails if the script does).
fn py_in(ns: &Netns, script: &str, args: &[&str], secs: u32) -> String {
    let out = ns
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

impl Lab {
    /// Run a Python script in the namespace, bounded by `secs`; its stdout.
    fn py(&self, script: &str, args: &[&str], secs: u32) -> String {
        py_in(&self.ns, script, args, secs)
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
            self.wait_ss("LISTEN", &needle, 30),
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

/// Run a future to completion on a throwaway current-thread runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio")
        .block_on(f)
}
