//! Measures the transparent forwarder (`synack::forward`) between two
//! namespaces of its own, as the tests set them up (client namespace routing
//! 10.88.0.0/24 into synack's TUN device, server namespace holding twenty
//! addresses of it), plus a veth pair between the two for the same transfer
//! without the relay:
//!
//! 1. throughput of one connection, relayed and direct, in the same run
//!    (Python sockets at both ends, each direction, median of the runs),
//!    and the CPU time this process (the relay) spent per GiB relayed;
//! 2. heap bytes per idle relay with N relays open (every heap byte of
//!    this process: the synack stack, the relay tasks and the upstream
//!    sockets' runtime state; the kernel's sockets are not on this heap),
//!    measured first, and the relays held through the transfers.
//!
//! ```text
//! # as root
//! cargo run --release -p synack --features forward,test-util --example forward_bench -- 100000 256
//! ```
//!
//! Arguments: idle relays (default 100000), MiB per transfer (default 256),
//! runs per transfer (default 3). Everything is removed at the end, also on failure.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, BufRead, BufReader};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use synack::forward::{forward_from, forward_listener, ForwardOptions};
use synack::test_util::netns::{cannot_run, enter, unique_name, Netns};
use synack::{AnyDestination, IpPrefix, Runtime, RuntimeConfig, TunDevice};

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes unchanged to the system allocator; the counter
// never influences the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            LIVE.fetch_add(l.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            LIVE.fetch_add(l.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let q = System.realloc(p, l, n);
        if !q.is_null() {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            LIVE.fetch_add(n, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Servers in the server namespace: port 9000 sends MiB (argv[1]) then
/// closes; 9001 reads to the end.
const PY_SERVERS: &str = r#"
import socket, sys, threading
mib = int(sys.argv[1])
def listen(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(4096); return s
def source(l):
    block = bytes(1 << 20)
    while True:
        c, _ = l.accept()
        for _ in range(mib): c.sendall(block)
        c.close()
def sink(l):
    while True:
        c, _ = l.accept()
        while c.recv(1 << 20): pass
        c.close()
threading.Thread(target=source, args=(listen(9000),), daemon=True).start()
threading.Thread(target=sink, args=(listen(9001),), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"#;

/// `PORT`: answers each connection's byte with one byte and keeps the
/// connection (the far end of the idle relays).
const PY_HOLD: &str = r#"
import resource, selectors, socket, sys
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", int(sys.argv[1]))); l.listen(4096)
sel = selectors.DefaultSelector(); l.setblocking(False)
sel.register(l, selectors.EVENT_READ, None)
held = []
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        if key.data is None:
            try:
                c, _ = l.accept()
            except BlockingIOError:
                continue
            c.setblocking(False); sel.register(c, selectors.EVENT_READ, 1)
        else:
            try:
                b = key.fileobj.recv(1)
            except (BlockingIOError, ConnectionError):
                continue
            if b:
                key.fileobj.send(b)
            sel.unregister(key.fileobj); held.append(key.fileobj)
"#;

/// `HOST PORT up|down MIB`: one transfer; prints its seconds.
const PY_TRANSFER: &str = r#"
import socket, sys, time
host, port, way, mib = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.create_connection((host, port), timeout=120)
t = time.monotonic(); n = 0
if way == "down":
    while True:
        b = s.recv(1 << 20)
        if not b: break
        n += len(b)
else:
    block = bytes(1 << 20)
    for _ in range(mib): s.sendall(block)
    s.shutdown(socket.SHUT_WR); s.recv(1); n = mib << 20
print(time.monotonic() - t, n)
"#;

/// `N PORT`: N connections to 10.88.0.1-20:PORT, 1000 at a time, each
/// sending a byte and reading the answer; prints "held N", then waits.
const PY_IDLE: &str = r#"
import resource, selectors, socket, sys
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
n, port = int(sys.argv[1]), int(sys.argv[2]); held = []; sel = selectors.DefaultSelector()
for start in range(0, n, 1000):
    batch = []
    for i in range(start, min(n, start + 1000)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.setblocking(False)
        s.connect_ex(("10.88.0.%d" % (1 + i % 20), port)); batch.append(s)
        sel.register(s, selectors.EVENT_WRITE)
    left = len(batch)
    while left:
        for key, ev in sel.select(60):
            s = key.fileobj
            if ev & selectors.EVENT_WRITE:
                s.send(b"x"); sel.modify(s, selectors.EVENT_READ)
            else:
                if s.recv(1) != b"x": raise SystemExit("no answer")
                sel.unregister(s); left -= 1
    held += batch
print("held", len(held), flush=True)
sys.stdin.read()
"#;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let idle: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let mib: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(256);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    if let Some(why) = cannot_run(&["ip", "python3", "sysctl"]) {
        return Err(io::Error::other(why));
    }
    let fds = raise_fd_limit();
    // Each relay holds one descriptor here (its upstream socket).
    let idle = if idle + 1000 > fds {
        let n = fds.saturating_sub(1000);
        println!("descriptor limit {fds}: {n} idle relays instead of {idle}");
        n
    } else {
        idle
    };
    let mut lab = Lab::new(mib)?;
    // Idle relays first: memory the transfers' connections free later
    // (closing, TIME-WAIT) would otherwise count against them.
    let per = lab.idle_relays(idle)?;
    println!("forward bench: {mib} MiB per transfer, {runs} runs each, medians");
    for (way, port) in [("down", "9000"), ("up", "9001")] {
        let cpu = cpu_seconds();
        let relayed = lab.transfer("10.88.0.1", port, way, mib, runs)?;
        // The relay's own cost (driver and relay threads, their system
        // calls included), which a busy machine does not distort as it
        // does the throughput.
        let cpu = (cpu_seconds() - cpu) / (runs as f64 * f64::from(mib) / 1024.0);
        let direct = lab.transfer("10.89.0.2", port, way, mib, runs)?;
        let gbit = |s: f64| f64::from(mib) * 8.0 * 1.048_576e6 / s / 1e9;
        println!(
            "  {way:<4} relayed {:>6.2} Gbit/s   direct (veth) {:>6.2} Gbit/s   relayed/direct {:.3}   relay CPU {:.2} s/GiB",
            gbit(relayed),
            gbit(direct),
            direct / relayed,
            cpu
        );
    }
    println!("  {idle} idle relays: {per:.0} B of heap per relay (synack stack, relay task, upstream socket state)");
    Ok(())
}

/// CPU time (user and system) of this process so far, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes one live rusage.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF counts every thread of this process.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}

/// Connections held per client or server process.
const PER_PROCESS: usize = 15_000;

/// Raise the soft descriptor limit to the hard one; the limit now.
fn raise_fd_limit() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write a live rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        lim.rlim_cur = lim.rlim_max;
        let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
    }
    usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
}

struct Lab {
    rt: Option<Runtime>,
    forwarder: Option<std::thread::JoinHandle<()>>,
    client: Netns,
    _server: Netns,
}

impl Drop for Lab {
    fn drop(&mut self) {
        drop(self.rt.take());
        if let Some(t) = self.forwarder.take() {
            let _ = t.join();
        }
    }
}

impl Lab {
    fn new(mib: u32) -> io::Result<Lab> {
        let client = Netns::create_unique()?;
        let mut server = Netns::create_unique()?;
        for ns in [&client, &server] {
            ns.run(
                "sysctl",
                &["-qw", "net.ipv4.ip_local_port_range=1024 65535"],
            )?;
        }
        for i in 1..=20 {
            server.ip(&["addr", "add", &format!("10.88.0.{i}/32"), "dev", "lo"])?;
        }
        let (va, vb) = (unique_name("vfa"), unique_name("vfb"));
        client.ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb])?;
        client.ip(&["link", "set", &vb, "netns", server.name()])?;
        client.ip(&["addr", "add", "10.89.0.1/24", "dev", &va])?;
        client.ip(&["link", "set", &va, "up"])?;
        server.ip(&["addr", "add", "10.89.0.2/24", "dev", &vb])?;
        server.ip(&["link", "set", &vb, "up"])?;
        let mut cmd = server.command("python3");
        cmd.args(["-c", PY_SERVERS, &mib.to_string()])
            .stdout(Stdio::piped());
        let i = server.spawn(&mut cmd)?;
        let out = server.child(i).and_then(|c| c.stdout.take());
        let mut line = String::new();
        BufReader::new(out.ok_or_else(|| io::Error::other("no stdout"))?).read_line(&mut line)?;
        if line.trim() != "ready" {
            return Err(io::Error::other("the servers did not start"));
        }
        let tun = TunDevice::open_in_netns(&unique_name("skb"), &client.path())?;
        let name = tun.name().to_owned();
        client.ip(&["addr", "add", "10.66.0.1/32", "dev", &name])?;
        client.ip(&["link", "set", "dev", &name, "up"])?;
        client.ip(&["route", "add", "10.88.0.0/24", "dev", &name])?;
        let rt = Runtime::new(tun, RuntimeConfig::new(Vec::new()))?;
        let opts = ForwardOptions::default();
        let listener = forward_listener(
            &rt,
            AnyDestination::prefixes(vec!["10.88.0.0/24"
                .parse::<IpPrefix>()
                .map_err(io::Error::other)?]),
            opts,
        )?;
        let path = server.path();
        let forwarder = std::thread::spawn(move || {
            if enter(&path).is_err() {
                return;
            }
            if let Ok(t) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = t.block_on(forward_from(&listener, opts));
            }
        });
        Ok(Lab {
            rt: Some(rt),
            forwarder: Some(forwarder),
            client,
            _server: server,
        })
    }

    /// Median seconds of `runs` transfers.
    fn transfer(
        &self,
        host: &str,
        port: &str,
        way: &str,
        mib: u32,
        runs: usize,
    ) -> io::Result<f64> {
        let mut secs = Vec::new();
        for _ in 0..runs {
            let out = self.client.run(
                "python3",
                &["-c", PY_TRANSFER, host, port, way, &mib.to_string()],
            )?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut w = text.split_whitespace();
            let s: f64 = w
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| io::Error::other(format!("transfer: {text}")))?;
            let n: u64 = w.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            if n != u64::from(mib) << 20 {
                return Err(io::Error::other(format!("transfer moved {n} bytes")));
            }
            secs.push(s);
        }
        secs.sort_by(f64::total_cmp);
        Ok(secs[secs.len() / 2])
    }

    /// Heap bytes per relay with `n` idle relays open: the far ends held by
    /// server processes and the near ends by client processes, at most
    /// `PER_PROCESS` each (a process's descriptor limit).
    fn idle_relays(&mut self, n: usize) -> io::Result<f64> {
        let procs = n.div_ceil(PER_PROCESS);
        for k in 0..procs {
            let port = (7001 + k).to_string();
            let mut cmd = self._server.command("python3");
            cmd.args(["-c", PY_HOLD, &port]).stdout(Stdio::piped());
            let i = self._server.spawn(&mut cmd)?;
            let out = self._server.child(i).and_then(|c| c.stdout.take());
            let mut line = String::new();
            BufReader::new(out.ok_or_else(|| io::Error::other("no stdout"))?)
                .read_line(&mut line)?;
            if line.trim() != "ready" {
                return Err(io::Error::other("a holding server did not start"));
            }
        }
        std::thread::sleep(Duration::from_secs(1));
        let before = LIVE.load(Ordering::Relaxed);
        let mut clients = Vec::new();
        for k in 0..procs {
            let count = PER_PROCESS.min(n - k * PER_PROCESS).to_string();
            let port = (7001 + k).to_string();
            let mut cmd = self.client.command("python3");
            cmd.args(["-c", PY_IDLE, &count, &port])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            let i = self.client.spawn(&mut cmd)?;
            clients.push((i, count));
        }
        for (i, count) in &clients {
            let out = self.client.child(*i).and_then(|c| c.stdout.take());
            let mut line = String::new();
            BufReader::new(out.ok_or_else(|| io::Error::other("no stdout"))?)
                .read_line(&mut line)?;
            if line.trim() != format!("held {count}") {
                return Err(io::Error::other(format!("idle clients: {line:?}")));
            }
        }
        // Let the delayed ACKs go out: every relay is idle.
        std::thread::sleep(Duration::from_secs(2));
        let after = LIVE.load(Ordering::Relaxed);
        let live = self
            .rt
            .as_ref()
            .map_or(0, |r| r.with_stack(|s, _| s.connection_count()));
        if live < n {
            return Err(io::Error::other(format!(
                "only {live} synack connections for {n} relays"
            )));
        }
        Ok(after.saturating_sub(before) as f64 / n as f64)
    }
}
