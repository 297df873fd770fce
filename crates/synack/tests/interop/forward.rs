//! The transparent forwarder (`synack::forward`) between two namespaces.
//!
//! The client namespace routes the test prefixes (10.88.0.0/24 and
//! fd88::/64) into synack's TUN device; the server namespace holds twenty
//! addresses of them on its loopback, with Python servers on several ports.
//! The forwarder runs in this process: synack on the TUN device, and its
//! upstream connections opened by a thread inside the server namespace, so
//! they reach the servers as a proxy's host sockets would.

use super::*;
use std::io::{BufRead, BufReader};
use std::process::ChildStdout;
use synack::forward::{forward_from, forward_listener, ForwardOptions};
use synack::proto::ListenerId;
use synack::test_util::netns::enter;
use synack::{AnyDestination, IpPrefix};

const FORWARD_TOOLS: [&str; 3] = ["ip", "python3", "timeout"];

/// Servers on every address of the server namespace: 7001 and 7002 echo
/// after a line naming the address and port the connection reached; 7100
/// sends 50 000 bytes and its FIN first, then reads to the end and prints
/// what it got; 7200 resets the connection after its first byte; 7300 reads
/// to the end, then answers with the count and SHA-256 of what it got.
const PY_SERVERS: &str = r#"
import asyncio, hashlib, socket, struct, sys

async def drain_all(r):
    h = hashlib.sha256(); n = 0
    while True:
        b = await r.read(65536)
        if not b:
            return n, h.hexdigest()
        h.update(b); n += len(b)

async def echo(r, w):
    host, port = w.get_extra_info('sockname')[:2]
    w.write(f"{host} {port}\n".encode())
    while True:
        b = await r.read(65536)
        if not b:
            break
        w.write(b); await w.drain()
    w.close()

async def fin_first(r, w):
    w.write(bytes(i % 251 for i in range(50000))); await w.drain()
    w.write_eof()
    n, d = await drain_all(r)
    print(f"fin_first {n} {d}", flush=True)
    w.close()

async def reset(r, w):
    await r.read(1)
    w.get_extra_info('socket').setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    w.transport.abort()

async def reply_after_eof(r, w):
    n, d = await drain_all(r)
    w.write(f"{n} {d}\n".encode()); await w.drain()
    w.close()

async def main():
    servers = []
    for port, h in [(7001, echo), (7002, echo), (7100, fin_first), (7200, reset), (7300, reply_after_eof)]:
        servers.append(await asyncio.start_server(h, host=['0.0.0.0', '::'], port=port, backlog=4096, reuse_address=True))
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"#;

/// `N DESTS`: N connections at once, connection i to DESTS[i % len] (a
/// comma-separated list of `host port`), each sending a pattern of its own
/// length, half-closing, and checking the echo and the destination line.
/// Prints the number that passed, then the first failures.
const PY_MANY: &str = r#"
import asyncio, sys
n = int(sys.argv[1])
dests = [(d.split()[0], int(d.split()[1])) for d in sys.argv[2].split(',')]

async def one(i):
    host, port = dests[i % len(dests)]
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 60)
    payload = bytes((i * 7 + k * 13) & 0xff for k in range(1 + (i * 977) % 20000))
    w.write(payload); await w.drain()
    w.write_eof()
    got = await asyncio.wait_for(r.read(), 60)
    w.close()
    head, _, echo = got.partition(b"\n")
    if head.decode() != f"{host} {port}":
        return f"conn {i}: reached {head!r}, dialled {host} {port}"
    if echo != payload:
        return f"conn {i}: echo of {len(echo)} bytes differs from the {len(payload)} sent"
    return True

async def main():
    res = await asyncio.gather(*[one(i) for i in range(n)], return_exceptions=True)
    bad = [repr(r) for r in res if r is not True]
    print(len(res) - len(bad), bad[:5])

asyncio.run(main())
"#;

/// `HOST PORT WHAT`: one connection, reporting what the client saw.
const PY_ONE: &str = r#"
import hashlib, socket, sys
host, port, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(30)
try:
    s.connect((host, port))
except ConnectionRefusedError:
    print("refused"); sys.exit(0)
if what == "reply_after_eof":
    data = bytes(i * 31 % 253 for i in range(100000))
    s.sendall(data); s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    print("sent", len(data), hashlib.sha256(data).hexdigest(), "got", got.decode().strip())
elif what == "fin_first":
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    ok = got == bytes(i % 251 for i in range(50000))
    data = bytes(i * 17 % 249 for i in range(80000))
    s.sendall(data); s.shutdown(socket.SHUT_WR)
    print("eof_after", len(got), ok, "then sent", len(data), hashlib.sha256(data).hexdigest())
    s.recv(1)
elif what == "reset":
    s.sendall(b"x")
    try:
        b = s.recv(10)
        print("no reset, got", b)
    except ConnectionResetError:
        print("reset")
"#;

/// Raw SYNs from spoofed sources to closed ports of 10.88.0.1: `COUNT`.
const PY_FLOOD: &str = r#"
import socket, struct, random, sys
count = int(sys.argv[1])
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
dst = socket.inet_aton("10.88.0.1")
rng = random.Random(7)
for i in range(count):
    src = bytes([10, 99, rng.randrange(256), rng.randrange(1, 255)])
    sport, dport = rng.randrange(1024, 65535), rng.randrange(20000, 60000)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xffff, 0, 64, 6, 0, src, dst)
    raw.sendto(ip + tcp, ("10.88.0.1", 0))
print("sent", count)
"#;

struct ForwardLab {
    // Dropped first (see Drop): stopping it ends the forwarder's thread.
    rt: Option<Runtime>,
    forwarder: Option<std::thread::JoinHandle<()>>,
    listener: ListenerId,
    servers_out: BufReader<ChildStdout>,
    client: Netns,
    _server: Netns,
}

impl Drop for ForwardLab {
    fn drop(&mut self) {
        drop(self.rt.take());
        if let Some(t) = self.forwarder.take() {
            let _ = t.join();
        }
        // Then the namespaces (children killed by PID, devices with them).
    }
}

fn v4(last: u8) -> String {
    format!("10.88.0.{last}")
}

fn v6(last: u8) -> String {
    format!("fd88::{last}")
}

/// Both namespaces, the servers, synack on the TUN device and the
/// forwarder; `None` (after a SKIPPED line) when this host cannot, and a
/// failure under CI.
fn forward_lab() -> Option<ForwardLab> {
    if let Some(why) = cannot_run(&FORWARD_TOOLS) {
        cannot_set_up(&why);
        return None;
    }
    let client = Netns::create_unique().expect("client namespace");
    let mut server = Netns::create_unique().expect("server namespace");
    for i in 1..=20 {
        server
            .ip(&["addr", "add", &format!("{}/32", v4(i)), "dev", "lo"])
            .expect("server address");
    }
    for i in 1..=5 {
        server
            .ip(&["-6", "addr", "add", &format!("{}/128", v6(i)), "dev", "lo"])
            .expect("server IPv6 address");
    }
    let mut cmd = server.command("python3");
    cmd.args(["-c", PY_SERVERS])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let idx = server.spawn(&mut cmd).expect("start the servers");
    let out = server
        .child(idx)
        .and_then(|c| c.stdout.take())
        .expect("servers' stdout");
    let mut servers_out = BufReader::new(out);
    let mut line = String::new();
    servers_out.read_line(&mut line).expect("servers start");
    assert_eq!(line.trim(), "ready", "the servers did not start");

    let tun = TunDevice::open_in_netns(&unique_name("skf"), &client.path()).expect("TUN device");
    let name = tun.name().to_owned();
    for args in [
        vec!["addr", "add", "10.66.0.1/32", "dev", &name],
        vec!["-6", "addr", "add", "fd66::1/128", "dev", &name, "nodad"],
        vec!["link", "set", "dev", &name, "up"],
        vec!["route", "add", "10.88.0.0/24", "dev", &name],
        vec!["-6", "route", "add", "fd88::/64", "dev", &name],
    ] {
        client.ip(&args).expect("client side of the TUN device");
    }
    let rt = Runtime::new(tun, RuntimeConfig::new(Vec::new())).expect("runtime");
    let dest = AnyDestination::prefixes(vec![
        "10.88.0.0/24".parse::<IpPrefix>().expect("prefix"),
        "fd88::/64".parse::<IpPrefix>().expect("prefix"),
    ]);
    let opts = ForwardOptions::default();
    let listener = forward_listener(&rt, dest, opts).expect("any-destination listener");
    let id = listener.id();
    let ns_file = server.path();
    let forwarder = std::thread::spawn(move || {
        enter(&ns_file).expect("enter the server namespace");
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio");
        tokio.block_on(async move {
            // Ends with an error once the runtime stops.
            let _ = forward_from(&listener, opts).await;
        });
    });
    Some(ForwardLab {
        rt: Some(rt),
        forwarder: Some(forwarder),
        listener: id,
        servers_out,
        client,
        _server: server,
    })
}

impl ForwardLab {
    /// Run a Python client in the client namespace, bounded by `secs`; its stdout.
    fn client_py(&self, script: &str, args: &[&str], secs: u32) -> String {
        super::py_in(&self.client, script, args, secs)
    }

    fn status(&self) -> synack::proto::ListenerStatus {
        let l = self.listener;
        self.rt
            .as_ref()
            .expect("runtime")
            .with_stack(|s, _| s.listener_status(l))
            .expect("listener status")
    }

    /// The next line the servers print.
    fn server_line(&mut self) -> String {
        let mut line = String::new();
        self.servers_out
            .read_line(&mut line)
            .expect("servers' output");
        line.trim().to_owned()
    }
}

fn dests(list: impl Iterator<Item = (String, u16)>) -> String {
    list.map(|(h, p)| format!("{h} {p}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn forward_relays_a_thousand_connections_to_twenty_destinations() {
    let Some(lab) = forward_lab() else { return };
    // Ten addresses, two ports each: twenty destinations.
    let d = dests((1..=10).flat_map(|i| [(v4(i), 7001), (v4(i), 7002)]));
    let out = lab.client_py(PY_MANY, &["1000", &d], 120);
    assert_eq!(
        out, "1000 []",
        "every connection reaches its destination, every byte back"
    );
    let st = lab.status();
    assert!(st.established >= 1000, "{st:?}");
}

#[test]
fn forward_relays_ipv6() {
    let Some(lab) = forward_lab() else { return };
    let d = dests((1..=5).flat_map(|i| [(v6(i), 7001), (v6(i), 7002)]));
    assert_eq!(lab.client_py(PY_MANY, &["100", &d], 60), "100 []");
    assert_eq!(
        lab.client_py(PY_ONE, &[&v6(1), "7999", "connect"], 30),
        "refused"
    );
}

#[test]
fn forward_refuses_when_upstream_refuses() {
    let Some(lab) = forward_lab() else { return };
    assert_eq!(
        lab.client_py(PY_ONE, &[&v4(3), "7999", "connect"], 30),
        "refused"
    );
    assert_eq!(lab.status().pending_refused, 1);
}

#[test]
fn forward_passes_half_closes_both_ways() {
    let Some(mut lab) = forward_lab() else { return };
    // The client's FIN reaches the server as end of stream; the answer still flows.
    let out = lab.client_py(PY_ONE, &[&v4(4), "7300", "reply_after_eof"], 30);
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words.len(), 6, "{out}");
    assert_eq!((words[0], words[3]), ("sent", "got"), "{out}");
    assert_eq!((words[1], words[2]), (words[4], words[5]), "{out}");
    // The server's FIN reaches the client as end of stream; the client still sends.
    let out = lab.client_py(PY_ONE, &[&v4(5), "7100", "fin_first"], 30);
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(&words[..3], &["eof_after", "50000", "True"], "{out}");
    let server = lab.server_line();
    assert_eq!(server, format!("fin_first {} {}", words[5], words[6]));
}

#[test]
fn forward_passes_an_upstream_reset_to_the_client() {
    let Some(lab) = forward_lab() else { return };
    assert_eq!(
        lab.client_py(PY_ONE, &[&v4(6), "7200", "reset"], 30),
        "reset"
    );
}

#[test]
fn forward_keeps_relaying_under_a_syn_flood() {
    let Some(mut lab) = forward_lab() else { return };
    // Relays under way while 20 000 spoofed SYNs to closed ports arrive.
    let d = dests((11..=20).map(|i| (v4(i), 7001)));
    let mut cmd = lab.client.command("timeout");
    cmd.args(["120", "python3", "-c", PY_MANY, "200", &d])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let idx = lab.client.spawn(&mut cmd).expect("start the clients");
    let flood = lab.client_py(PY_FLOOD, &["20000"], 60);
    assert_eq!(flood, "sent 20000");
    let child = lab.client.child(idx).expect("clients");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("clients' stdout")
        .read_to_string(&mut out)
        .expect("clients' output");
    assert_eq!(out.trim(), "200 []");
    let st = lab.status();
    // Most of the flood reached synack (the kernel's TUN queue may drop some
    // while the driver is busy), and each SYN that did was refused (nothing
    // listens upstream) or dropped at the bound of the pending queue.
    assert!(st.syns_received >= 10_000, "{st:?}");
    assert!(st.pending_refused >= 1_000, "{st:?}");
    let legit = 200 * 7; // each legitimate SYN and its retransmissions at most
    assert!(
        st.pending_refused + st.syns_dropped + legit >= st.syns_received,
        "{st:?}"
    );
    assert_eq!(st.pending, 0, "{st:?}");
}
