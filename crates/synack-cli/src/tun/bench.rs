//! `synack tun bench`: synack against the kernel's TCP over TUN, next to
//! the kernel against itself over veth and smoltcp over the same kind of
//! TUN device, each setup in namespaces of its own. Every row compares
//! synack with one peer measured in the same run: bulk throughput both
//! ways (TUN offloads off against veth offloads off, TUN offloads on
//! against veth offloads on, synack against smoltcp), request/response
//! round trips, and connections per second from kernel clients. And one
//! stack per queue: two TUN queues against one, several flows at once
//! ([`queues`]).

mod queues;

use super::{check_privileges, check_tools, netns, smol, BenchArgs};
use netns::{unique_name, Netns};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};
use synack::{Runtime, RuntimeConfig, TcpListener, TunOptions};

/// Socket buffers of synack and smoltcp in the bench (the kernel tunes its own).
const BUFFER: usize = 1 << 20;
const SINK: u16 = 5201;
const SOURCE: u16 = 5202;
const ECHO: u16 = 5203;
const CLOSE: u16 = 5204;

const PY_SOURCE_TIMED: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
left = int(sys.argv[3]); chunk = b'\x5a' * (1 << 20)
t = time.monotonic()
while left:
    n = min(len(chunk), left)
    s.sendall(chunk[:n]); left -= n
s.shutdown(socket.SHUT_WR)
s.recv(1)
print(time.monotonic() - t)
"#;

const PY_SINK_TIMED: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
t = time.monotonic(); n = 0
buf = bytearray(1 << 20)
while True:
    k = s.recv_into(buf)
    if not k:
        break
    n += k
print(time.monotonic() - t)
"#;

/// Round trips of 64 bytes: rate, median and 99th percentile in µs.
const PY_RR: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
n = int(sys.argv[3]); msg = b'x' * 64; lat = []
def rt():
    s.sendall(msg); got = 0
    while got < 64:
        b = s.recv(64 - got)
        if not b:
            raise SystemExit("closed")
        got += len(b)
for i in range(100):
    rt()
t0 = time.monotonic()
for i in range(n):
    t = time.perf_counter_ns(); rt(); lat.append(time.perf_counter_ns() - t)
el = time.monotonic() - t0
lat.sort()
print(n / el, lat[len(lat) // 2] / 1000, lat[int(len(lat) * 0.99)] / 1000)
"#;

/// Connections opened one after the other; the server closes each first.
const PY_CONNS: &str = r#"
import socket, sys, time
n = int(sys.argv[3]); t = time.monotonic()
for i in range(n):
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    s.recv(1)
    s.close()
print(n / (time.monotonic() - t))
"#;

/// The kernel's server for the veth runs: the four services on threads.
const PY_SERVER: &str = r#"
import socket, sys, threading
host = sys.argv[1]; size = int(sys.argv[2])
def serve(port, fn):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, port)); l.listen(128)
    while True:
        c, _ = l.accept()
        threading.Thread(target=fn, args=(c,), daemon=True).start()
def sink(c):
    buf = bytearray(1 << 20)
    while c.recv_into(buf):
        pass
    c.close()
def source(c):
    chunk = b'\xa5' * (1 << 20); left = size
    while left:
        n = min(len(chunk), left); c.sendall(chunk[:n]); left -= n
    c.close()
def echo(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
    c.close()
for p, f in ((5201, sink), (5202, source), (5203, echo)):
    threading.Thread(target=serve, args=(p, f), daemon=True).start()
serve(5204, lambda c: c.close())
"#;

/// What one setup measured. Throughputs in MiB/s.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    k2s: f64,
    s2k: f64,
    rr: Option<Rr>,
    conns: Option<f64>,
}

/// Request/response: round trips per second, median and p99 in µs.
#[derive(Debug, Clone, Copy)]
struct Rr {
    rate: f64,
    median: f64,
    p99: f64,
}

/// How much of each the bench does.
#[derive(Debug, Clone, Copy)]
struct Load {
    size: usize,
    rounds: u32,
    conns: u32,
}

/// One row: synack's figure, the peer's, and synack / peer.
struct Row {
    key: &'static str,
    unit: &'static str,
    synack: f64,
    peer: &'static str,
    peer_figure: f64,
}

fn py_figures(ns: &Netns, script: &str, args: &[&str]) -> io::Result<Vec<f64>> {
    let out = netns::run(
        ns.command("timeout")
            .args(["300", "python3", "-c", script])
            .args(args),
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .map(|w| w.parse::<f64>())
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| io::Error::other(format!("python said {text:?}")))
}

/// The kernel clients against a server at `host`: everything `load` asks.
fn clients(ns: &Netns, host: &str, load: Load, rr: bool) -> io::Result<Figures> {
    let mib = load.size as f64 / f64::from(1 << 20);
    let sz = load.size.to_string();
    let k2s = py_figures(ns, PY_SOURCE_TIMED, &[host, &SINK.to_string(), &sz])?;
    let s2k = py_figures(ns, PY_SINK_TIMED, &[host, &SOURCE.to_string()])?;
    let mut f = Figures {
        k2s: mib / k2s[0].max(1e-9),
        s2k: mib / s2k[0].max(1e-9),
        ..Figures::default()
    };
    if rr {
        let v = py_figures(
            ns,
            PY_RR,
            &[host, &ECHO.to_string(), &load.rounds.to_string()],
        )?;
        if let [rate, median, p99] = v[..] {
            f.rr = Some(Rr { rate, median, p99 });
        }
        let c = py_figures(
            ns,
            PY_CONNS,
            &[host, &CLOSE.to_string(), &load.conns.to_string()],
        )?;
        f.conns = c.first().copied();
    }
    Ok(f)
}

fn wait_listen(ns: &Netns, needle: &str) -> io::Result<()> {
    let end = StdInstant::now() + Duration::from_secs(10);
    while StdInstant::now() < end {
        let out = ns.run("ss", &["-tln"])?;
        if String::from_utf8_lossy(&out.stdout).contains(needle) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(io::Error::other(format!("nothing listens on {needle}")))
}

pub(super) fn bench(a: &BenchArgs) -> io::Result<()> {
    check_privileges()?;
    check_tools("bench", &["ip", "python3", "ethtool", "ss", "timeout"])?;
    let load = Load {
        size: (a.size as usize) << 20,
        rounds: a.rounds,
        conns: a.conns,
    };
    if !a.json {
        println!(
            "{} MiB per bulk transfer, {} round trips of 64 bytes, {} connections, median of {} \
             rounds; MTU 1500, python3 sockets on the kernel side, socket buffers of synack and \
             smoltcp {} KiB",
            a.size,
            a.rounds,
            a.conns,
            a.repeat,
            BUFFER >> 10
        );
    }
    // Each round runs every setup back to back, so a busy machine slows
    // synack and its peers alike; each figure is the median of the rounds.
    let mut runs: [Vec<Figures>; 5] = Default::default();
    let mut by_queues: [Vec<queues::Parallel>; 2] = Default::default();
    for _ in 0..a.repeat {
        by_queues[0].push(queues::synack_queues(load, 1)?);
        by_queues[1].push(queues::synack_queues(load, 2)?);
        runs[0].push(kernel_veth(load, false)?);
        runs[1].push(synack_tun(load, false, false)?);
        runs[2].push(smoltcp_tun(load)?);
        runs[3].push(kernel_veth(load, true)?);
        runs[4].push(synack_tun(load, true, true)?);
    }
    let [veth_off, tun_off, smol, veth_on, tun_on] = runs.map(|r| median(&r));
    let mut rows = rows(&tun_off, &tun_on, &veth_off, &veth_on, &smol);
    let [one, two] = by_queues.map(|r| median_parallel(&r));
    rows.extend(queues::rows(&one, &two));
    if a.json {
        print_json(&rows);
    } else {
        print_table(&rows);
    }
    Ok(())
}

/// The median of each figure over the rounds.
fn median(runs: &[Figures]) -> Figures {
    fn mid(mut v: Vec<f64>) -> Option<f64> {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    }
    let of = |f: fn(&Figures) -> Option<f64>| mid(runs.iter().filter_map(f).collect());
    let rr = match (
        of(|f| f.rr.map(|r| r.rate)),
        of(|f| f.rr.map(|r| r.median)),
        of(|f| f.rr.map(|r| r.p99)),
    ) {
        (Some(rate), Some(median), Some(p99)) => Some(Rr { rate, median, p99 }),
        _ => None,
    };
    Figures {
        k2s: of(|f| Some(f.k2s)).unwrap_or(0.0),
        s2k: of(|f| Some(f.s2k)).unwrap_or(0.0),
        rr,
        conns: of(|f| f.conns),
    }
}

/// The median of each figure of the parallel runs.
fn median_parallel(runs: &[queues::Parallel]) -> queues::Parallel {
    let mid = |f: fn(&queues::Parallel) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    queues::Parallel {
        k2s: mid(|p| p.k2s),
        s2k: mid(|p| p.s2k),
        conns: mid(|p| p.conns),
    }
}

fn rows(
    tun_off: &Figures,
    tun_on: &Figures,
    veth_off: &Figures,
    veth_on: &Figures,
    smol: &Figures,
) -> Vec<Row> {
    const OFF: &str = "kernel veth, offloads off";
    const ON: &str = "kernel veth, offloads on";
    const SMOL: &str = "smoltcp 0.14 TUN";
    let mut v = vec![
        row(
            "k2s_tun_offloads_off",
            "MiB/s",
            tun_off.k2s,
            OFF,
            veth_off.k2s,
        ),
        row(
            "s2k_tun_offloads_off",
            "MiB/s",
            tun_off.s2k,
            OFF,
            veth_off.s2k,
        ),
        row("k2s_tun_offloads_on", "MiB/s", tun_on.k2s, ON, veth_on.k2s),
        row("s2k_tun_offloads_on", "MiB/s", tun_on.s2k, ON, veth_on.s2k),
        row("k2s_vs_smoltcp", "MiB/s", tun_off.k2s, SMOL, smol.k2s),
        row("s2k_vs_smoltcp", "MiB/s", tun_off.s2k, SMOL, smol.s2k),
    ];
    if let (Some(s), Some(k)) = (tun_on.rr, veth_on.rr) {
        v.push(row("rr_per_sec", "1/s", s.rate, ON, k.rate));
        v.push(row("rr_median", "us", s.median, ON, k.median));
        v.push(row("rr_p99", "us", s.p99, ON, k.p99));
    }
    if let (Some(s), Some(k)) = (tun_on.conns, veth_on.conns) {
        v.push(row("conn_per_sec", "1/s", s, ON, k));
    }
    v
}

fn row(key: &'static str, unit: &'static str, synack: f64, peer: &'static str, p: f64) -> Row {
    Row {
        key,
        unit,
        synack,
        peer,
        peer_figure: p,
    }
}

impl Row {
    fn ratio(&self) -> f64 {
        self.synack / self.peer_figure.max(1e-9)
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<22} {:>12} {:>12}  {:<26} {:>6}",
        "key", "synack", "peer", "peer is", "ratio"
    );
    for r in rows {
        println!(
            "{:<22} {:>12.1} {:>12.1}  {:<26} {:>6.2}  {}",
            r.key,
            r.synack,
            r.peer_figure,
            r.peer,
            r.ratio(),
            r.unit
        );
    }
    println!("ratio = synack / peer (for rr_median and rr_p99, lower is better)");
}

fn print_json(rows: &[Row]) {
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"key\":\"{}\",\"unit\":\"{}\",\"synack\":{:.3},\"peer\":\"{}\",\"peer_figure\":{:.3},\"ratio\":{:.4}}}",
                r.key,
                r.unit,
                r.synack,
                r.peer,
                r.peer_figure,
                r.ratio()
            )
        })
        .collect();
    println!("[{}]", items.join(",\n "));
}

/// Serve the four services on synack until the runtime goes away.
fn synack_services(rt: &Runtime, ours: Ipv4Addr, size: usize) -> io::Result<()> {
    let bind = |port| TcpListener::bind(rt, SocketAddr::new(IpAddr::V4(ours), port));
    let (sink, source, echo, close) = (bind(SINK)?, bind(SOURCE)?, bind(ECHO)?, bind(CLOSE)?);
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = sink.accept() {
            let _ = io::copy(&mut s, &mut io::sink());
        }
    });
    std::thread::spawn(move || {
        let chunk = vec![0xa5u8; 1 << 20];
        while let Ok((mut s, _)) = source.accept() {
            let mut left = size;
            while left > 0 {
                let n = left.min(chunk.len());
                if s.write_all(&chunk[..n]).is_err() {
                    break;
                }
                left -= n;
            }
        }
    });
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = echo.accept() {
            let _ = s.set_nodelay(true);
            let mut buf = vec![0u8; 65536];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    std::thread::spawn(move || while close.accept().is_ok() {});
    Ok(())
}

/// synack on a TUN device with or without offloads, kernel clients.
fn synack_tun(load: Load, offload: bool, rr: bool) -> io::Result<Figures> {
    let ns = Netns::create_unique()?;
    let kernel = Ipv4Addr::new(10, 77, 0, 1);
    let ours = Ipv4Addr::new(10, 77, 0, 2);
    let opts = TunOptions {
        offload,
        ..TunOptions::default()
    };
    let dev = ns.tun_with(&unique_name("skb"), opts, 1500, &[(IpAddr::V4(kernel), 24)])?;
    if dev.offload() != offload {
        return Err(io::Error::other("the kernel refused TUN offloads"));
    }
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V4(ours)]);
    cfg.stack.conn.send_buffer = BUFFER;
    cfg.stack.conn.recv_buffer = BUFFER;
    let rt = Runtime::new(dev, cfg)?;
    synack_services(&rt, ours, load.size)?;
    let f = clients(&ns, "10.77.0.2", load, rr)?;
    let (bursts, segs) = rt.bursts();
    if offload {
        eprintln!("note: synack wrote {bursts} bursts carrying {segs} segments to the TUN device");
    }
    drop(rt);
    drop(ns);
    Ok(f)
}

/// smoltcp on a TUN device, kernel clients (bulk both ways only).
fn smoltcp_tun(load: Load) -> io::Result<Figures> {
    let ns = Netns::create_unique()?;
    let name = unique_name("sms");
    let stop = Arc::new(AtomicBool::new(false));
    let server = smol::serve(
        &ns,
        &name,
        [10, 79, 0, 2],
        BUFFER,
        load.size,
        Arc::clone(&stop),
    )?;
    let _ = ns.run(
        "sysctl",
        &["-qw", &format!("net.ipv6.conf.{name}.disable_ipv6=1")],
    );
    ns.ip(&["link", "set", "dev", &name, "mtu", "1500"])?;
    ns.ip(&["addr", "add", "10.79.0.1/24", "dev", &name])?;
    ns.ip(&["link", "set", "dev", &name, "up"])?;
    let f = clients(&ns, "10.79.0.2", load, false);
    stop.store(true, Ordering::Relaxed);
    server
        .join()
        .map_err(|_| io::Error::other("smoltcp thread panicked"))??;
    drop(ns);
    f
}

/// The kernel against itself over veth, offloads on or off.
fn kernel_veth(load: Load, offload: bool) -> io::Result<Figures> {
    let a = Netns::create_unique()?;
    let mut b = Netns::create_unique()?;
    let (va, vb) = (unique_name("vba"), unique_name("vbb"));
    netns::ip(&[
        "link",
        "add",
        &va,
        "netns",
        a.name(),
        "type",
        "veth",
        "peer",
        "name",
        &vb,
        "netns",
        b.name(),
    ])?;
    let onoff = if offload { "on" } else { "off" };
    for (ns, v, addr) in [(&a, &va, "10.78.0.1/24"), (&b, &vb, "10.78.0.2/24")] {
        ns.ip(&["link", "set", "dev", v, "mtu", "1500"])?;
        ns.ip(&["addr", "add", addr, "dev", v])?;
        ns.ip(&["link", "set", "dev", v, "up"])?;
        let k = ["tso", "gso", "gro", "tx", "rx"]
            .iter()
            .flat_map(|f| [*f, onoff])
            .collect::<Vec<_>>();
        let mut args = vec!["-K", v.as_str()];
        args.extend(k);
        if let Err(e) = ns.run("ethtool", &args) {
            eprintln!("note: ethtool -K {v} ... {onoff}: {e}");
        }
    }
    let sz = load.size.to_string();
    let mut cmd = b.command("python3");
    cmd.args(["-c", PY_SERVER, "10.78.0.2", &sz]);
    b.spawn(&mut cmd)?;
    wait_listen(&b, "10.78.0.2:5204")?;
    clients(&a, "10.78.0.2", load, offload)
}
