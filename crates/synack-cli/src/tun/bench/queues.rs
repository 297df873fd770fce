//! One stack per queue: synack on a TUN device with one queue against the
//! same with two (`RuntimeConfig::queues`), with several flows at once
//! (aggregate bulk both ways) and several clients opening connections at
//! once. Each row's peer is synack with one queue, measured in the same
//! round.

use super::{netns, py_figures, Load, Netns, Row, BUFFER};
use netns::unique_name;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack::{Runtime, RuntimeConfig, TcpListener, TunOptions};

/// Flows (and connecting clients) at once.
pub(super) const PARALLEL: usize = 4;
const SINK: u16 = 5301;
const SOURCE: u16 = 5302;
const CLOSE: u16 = 5304;

/// `P` processes at once, each doing `what` against `host:port` with its
/// share of `n` (bytes or connections); prints the seconds from the first
/// start to the last end.
const PY_PARALLEL: &str = r#"
import os, socket, sys, time
host, port, what, n, p = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
r, w = os.pipe()
t = time.monotonic(); kids = []
for i in range(p):
    pid = os.fork()
    if pid == 0:
        os.close(w); os.read(r, 1)
        share = n // p
        if what == "send":
            s = socket.create_connection((host, port), timeout=60)
            chunk = b'\x5a' * (1 << 20)
            while share:
                k = min(len(chunk), share); s.sendall(chunk[:k]); share -= k
            s.shutdown(socket.SHUT_WR); s.recv(1)
        elif what == "recv":
            s = socket.create_connection((host, port), timeout=60)
            buf = bytearray(1 << 20)
            while s.recv_into(buf):
                pass
        else:
            for j in range(share):
                s = socket.create_connection((host, port), timeout=10)
                s.recv(1); s.close()
        os._exit(0)
    kids.append(pid)
t = time.monotonic()
os.close(r); os.close(w)
bad = 0
for pid in kids:
    _, st = os.waitpid(pid, 0)
    bad += st != 0
if bad:
    raise SystemExit("%d clients failed" % bad)
print(time.monotonic() - t)
"#;

/// Aggregate figures of one setup: MiB/s both ways, connections per second.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Parallel {
    pub(super) k2s: f64,
    pub(super) s2k: f64,
    pub(super) conns: f64,
}

/// Serve sink, source (each byte count `per_flow`) and close on synack, a
/// thread per connection, until the runtime goes away.
fn services(rt: &Runtime, ours: Ipv4Addr, per_flow: usize) -> io::Result<()> {
    let bind = |port| TcpListener::bind(rt, SocketAddr::new(IpAddr::V4(ours), port));
    let (sink, source, close) = (bind(SINK)?, bind(SOURCE)?, bind(CLOSE)?);
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = sink.accept() {
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 18];
                while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
            });
        }
    });
    std::thread::spawn(move || {
        while let Ok((mut s, _)) = source.accept() {
            std::thread::spawn(move || {
                let chunk = vec![0xa5u8; 1 << 20];
                let mut left = per_flow;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if s.write_all(&chunk[..n]).is_err() {
                        break;
                    }
                    left -= n;
                }
            });
        }
    });
    std::thread::spawn(move || while close.accept().is_ok() {});
    Ok(())
}

/// synack on a multi-queue TUN device (offloads on) driving `queues`
/// queues, `PARALLEL` kernel clients at once.
pub(super) fn synack_queues(load: Load, queues: usize) -> io::Result<Parallel> {
    let ns = Netns::create_unique()?;
    let kernel = Ipv4Addr::new(10, 76, 0, 1);
    let ours = Ipv4Addr::new(10, 76, 0, 2);
    let opts = TunOptions {
        multi_queue: true,
        ..TunOptions::default()
    };
    let dev = ns.tun_with(&unique_name("skq"), opts, 1500, &[(IpAddr::V4(kernel), 24)])?;
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V4(ours)]);
    cfg.stack.conn.send_buffer = BUFFER;
    cfg.stack.conn.recv_buffer = BUFFER;
    cfg.queues = queues;
    let rt = Runtime::new(dev, cfg)?;
    let per_flow = load.size / PARALLEL;
    services(&rt, ours, per_flow)?;
    let host = "10.76.0.2";
    let p = PARALLEL.to_string();
    let run = |port: u16, what: &str, n: usize| -> io::Result<f64> {
        let v = py_figures(
            &ns,
            PY_PARALLEL,
            &[host, &port.to_string(), what, &n.to_string(), &p],
        )?;
        Ok(v[0].max(1e-9))
    };
    let mib = (per_flow * PARALLEL) as f64 / f64::from(1 << 20);
    let conns = (load.conns as usize / PARALLEL).max(1) * PARALLEL;
    let f = Parallel {
        k2s: mib / run(SINK, "send", load.size)?,
        s2k: mib / run(SOURCE, "recv", load.size)?,
        conns: conns as f64 / run(CLOSE, "conn", conns)?,
    };
    let opens: Vec<u64> = rt.stack_stats().iter().map(|s| s.passive_opens).collect();
    eprintln!("note: {queues} queue(s): connections per stack {opens:?}");
    drop(rt);
    drop(ns);
    Ok(f)
}

/// The rows: two queues against one.
pub(super) fn rows(one: &Parallel, two: &Parallel) -> Vec<Row> {
    const ONE: &str = "synack TUN, 1 queue";
    vec![
        super::row("k2s_4flows_2_queues", "MiB/s", two.k2s, ONE, one.k2s),
        super::row("s2k_4flows_2_queues", "MiB/s", two.s2k, ONE, one.s2k),
        super::row("conn_per_sec_2_queues", "1/s", two.conns, ONE, one.conns),
    ]
}
