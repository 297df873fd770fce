//! The `synack-tun` command, as library functions the main `synack` CLI can
//! delegate to: `synack::cli::tun_main(&args)`.
//!
//! ```text
//! synack-tun serve echo|discard|http [--addr ADDR/PREFIX] [--port N] [--netns NAME] [--dev NAME] [--trace] [--pcap FILE]
//! synack-tun connect HOST:PORT       [--addr ...] [--netns NAME] [--dev NAME] [--trace] [--pcap FILE]
//! synack-tun get http://HOST:PORT/PATH [--addr ...] [--netns NAME] [--dev NAME] [--trace] [--pcap FILE]
//! synack-tun demo [--pcap FILE]
//! synack-tun bench [--size MIB]
//! ```
//!
//! `serve`, `connect` and `get` open a TUN device (`--dev`, default
//! `synack0`) in the current namespace or in `--netns NAME`, give the
//! kernel's side of it the first other address of the prefix (synack's own
//! address is `--addr`, default 10.77.0.2/24) and bring it up. They need
//! root (CAP_NET_ADMIN).

use crate::netns::{self, unique_name, Netns};
use crate::{Direction, Runtime, RuntimeConfig, TcpListener, TcpStream, TunDevice};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};
use synack_proto::{Event, EventKind, Instant};

const USAGE: &str = "usage:
  synack-tun serve echo|discard|http [--addr ADDR/PREFIX] [--port N] [--netns NAME] [--dev NAME] [--trace] [--pcap FILE] [--count N]
  synack-tun connect HOST:PORT [--addr ADDR/PREFIX] [--netns NAME] [--dev NAME] [--trace] [--pcap FILE]
  synack-tun get http://HOST:PORT/PATH [--addr ADDR/PREFIX] [--netns NAME] [--dev NAME] [--trace] [--pcap FILE]
  synack-tun demo [--pcap FILE]
  synack-tun bench [--size MIB]";

/// Options shared by the subcommands.
#[derive(Debug, Clone)]
struct Opts {
    positional: Vec<String>,
    addr: Ipv4Addr,
    prefix: u8,
    port: Option<u16>,
    netns: Option<String>,
    dev: String,
    trace: bool,
    pcap: Option<String>,
    count: Option<usize>,
    size_mib: usize,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        positional: Vec::new(),
        addr: Ipv4Addr::new(10, 77, 0, 2),
        prefix: 24,
        port: None,
        netns: None,
        dev: "synack0".into(),
        trace: false,
        pcap: None,
        count: None,
        size_mib: 256,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--addr" => {
                let v = val("--addr")?;
                let (ip, pre) = v.split_once('/').unwrap_or((v.as_str(), "24"));
                o.addr = ip.parse().map_err(|_| format!("bad IPv4 address: {ip}"))?;
                o.prefix = pre
                    .parse()
                    .ok()
                    .filter(|p| (8..=30).contains(p))
                    .ok_or("prefix must be 8..=30")?;
            }
            "--port" => o.port = Some(val("--port")?.parse().map_err(|_| "bad port")?),
            "--netns" => o.netns = Some(val("--netns")?),
            "--dev" => o.dev = val("--dev")?,
            "--pcap" => o.pcap = Some(val("--pcap")?),
            "--count" => o.count = Some(val("--count")?.parse().map_err(|_| "bad count")?),
            "--size" => o.size_mib = val("--size")?.parse().map_err(|_| "bad size")?,
            "--trace" => o.trace = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            _ => o.positional.push(a.clone()),
        }
    }
    Ok(o)
}

/// Run `synack-tun` with `args` (without the program name); returns the exit code.
pub fn tun_main(args: &[String]) -> i32 {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("synack-tun: {e}");
            }
            eprintln!("{USAGE}");
            return 2;
        }
    };
    let cmd = o.positional.first().map(String::as_str).unwrap_or("");
    let r = match cmd {
        "serve" => serve(&o),
        "connect" => connect(&o),
        "get" => get(&o),
        "demo" => demo(&o),
        "bench" => bench(&o),
        _ => {
            eprintln!("{USAGE}");
            return 2;
        }
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("synack-tun {cmd}: {e}");
            1
        }
    }
}

/// One line per event, as it happens.
pub fn event_line(ev: &Event) -> String {
    let t = format!(
        "{:>10}.{:03} ms",
        ev.at.micros() / 1000,
        ev.at.micros() % 1000
    );
    let seg = |s: &synack_proto::SegmentSummary| {
        format!(
            "{} seq={} ack={} win={} len={}",
            s.flags, s.seq.0, s.ack.0, s.window, s.len
        )
    };
    let body = match &ev.kind {
        EventKind::SegmentSent { seg: s, reason, .. } => {
            format!(
                "{} → {}  {}  ({})",
                s.src,
                s.dst,
                seg(s),
                synack_trace::send_reason_name(*reason)
            )
        }
        EventKind::SegmentReceived { seg: s, .. } => format!("{} ← {}  {}", s.dst, s.src, seg(s)),
        EventKind::Dropped { reason, .. } => {
            format!("dropped: {}", synack_trace::drop_reason_name(*reason))
        }
        EventKind::StateChanged {
            tuple,
            from,
            to,
            cause,
            ..
        } => {
            format!(
                "{} ⇄ {}  {from} → {to}  ({})",
                tuple.local,
                tuple.remote,
                synack_trace::cause_name(*cause)
            )
        }
        EventKind::TimerFired { timer, .. } => format!("timer fired: {}", timer.name()),
        EventKind::ConnectionError { error, .. } => format!("connection error: {error}"),
        EventKind::EventsLost { count } => format!("{count} events lost"),
        EventKind::IcmpReceived {
            from,
            message,
            tuple,
            seq,
            ..
        } => match (tuple, seq) {
            (Some(t), Some(q)) => format!(
                "{} ← {from}  ICMP {message:?} about {} → {} seq={}",
                t.local, t.local, t.remote, q.0
            ),
            _ => format!("ICMP from {from}: {message:?}"),
        },
        EventKind::SoftError { error, .. } => format!("soft error recorded: {error}"),
        EventKind::PathMtuReduced { mtu, mss, .. } => format!("path MTU now {mtu} (MSS {mss})"),
        _ => format!("{:?}", ev.kind),
    };
    format!("{t}  {body}")
}

fn kernel_side(addr: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let mask = u32::MAX << (32 - u32::from(prefix));
    let net = u32::from(addr) & mask;
    let first = Ipv4Addr::from(net + 1);
    if first == addr {
        Ipv4Addr::from(net + 2)
    } else {
        first
    }
}

/// Open and configure the TUN device and start a runtime on it.
fn runtime(o: &Opts) -> io::Result<Runtime> {
    if let Some(why) = netns::missing_privileges() {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    }
    let dev = match &o.netns {
        Some(n) => {
            TunDevice::open_in_netns(&o.dev, &std::path::PathBuf::from("/run/netns").join(n))?
        }
        None => TunDevice::open(&o.dev)?,
    };
    let name = dev.name().to_owned();
    let kernel = kernel_side(o.addr, o.prefix);
    let ipn = |a: &[&str]| {
        let mut v: Vec<&str> = Vec::new();
        if let Some(n) = &o.netns {
            v.extend(["-n", n.as_str()]);
        }
        v.extend_from_slice(a);
        netns::ip(&v)
    };
    ipn(&[
        "addr",
        "add",
        &format!("{kernel}/{}", o.prefix),
        "dev",
        &name,
    ])?;
    ipn(&["link", "set", "dev", &name, "up"])?;
    eprintln!(
        "synack-tun: device {name}: kernel {kernel}/{}, synack {}",
        o.prefix, o.addr
    );
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V4(o.addr)]);
    if o.trace {
        cfg.on_event = Some(Box::new(|ev: &Event| {
            if !matches!(ev.kind, EventKind::EventsLost { .. }) {
                eprintln!("{}", event_line(ev));
            }
        }));
    }
    if let Some(p) = &o.pcap {
        cfg.pcap = Some(Box::new(io::BufWriter::new(std::fs::File::create(p)?)));
    }
    Runtime::new(dev, cfg)
}

fn serve(o: &Opts) -> io::Result<()> {
    let kind = o.positional.get(1).map(String::as_str).unwrap_or("");
    if !matches!(kind, "echo" | "discard" | "http") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "serve echo|discard|http",
        ));
    }
    let port = o.port.unwrap_or(match kind {
        "echo" => 7,
        "discard" => 9,
        _ => 80,
    });
    let rt = runtime(o)?;
    let l = TcpListener::bind(&rt, SocketAddr::new(IpAddr::V4(o.addr), port))?;
    eprintln!("synack-tun: serving {kind} on {}:{port}", o.addr);
    let mut served = 0usize;
    while o.count.is_none_or(|c| served < c) {
        let (mut s, peer) = l.accept()?;
        served += 1;
        eprintln!("synack-tun: connection from {peer}");
        let kind = kind.to_owned();
        let h = std::thread::spawn(move || -> io::Result<()> {
            match kind.as_str() {
                "http" => synack_http(&mut s),
                "echo" => {
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let n = s.read(&mut buf)?;
                        if n == 0 {
                            return Ok(());
                        }
                        s.write_all(&buf[..n])?;
                    }
                }
                _ => {
                    io::copy(&mut s, &mut io::sink())?;
                    Ok(())
                }
            }
        });
        if o.count.is_some() {
            let _ = h.join();
        }
    }
    Ok(())
}

fn synack_http(s: &mut TcpStream) -> io::Result<()> {
    crate::http::serve_conn(s).map(|_| ())
}

fn connect(o: &Opts) -> io::Result<()> {
    let target: SocketAddr = o
        .positional
        .get(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "connect IP:PORT"))?;
    let rt = runtime(o)?;
    let s = TcpStream::connect_timeout(&rt, target, Duration::from_secs(10))?;
    eprintln!("synack-tun: connected to {target} from {}", s.local_addr()?);
    std::thread::scope(|sc| {
        sc.spawn(|| {
            let mut stdin = io::stdin().lock();
            let mut buf = vec![0u8; 16384];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if (&s).write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = s.shutdown(std::net::Shutdown::Write);
        });
        let mut out = io::stdout().lock();
        let r = io::copy(&mut &s, &mut out);
        let _ = out.flush();
        r.map(|_| ())
    })
}

fn get(o: &Opts) -> io::Result<()> {
    let url = o
        .positional
        .get(1)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "get URL"))?;
    let rt = runtime(o)?;
    let r = crate::http::get(&rt, url, Duration::from_secs(10))?;
    eprintln!("{}", r.head);
    io::stdout().write_all(&r.body)?;
    Ok(())
}

/// Everything the demo records: the stack's events and the packets, on the
/// stack's clock, as the trace views expect them.
type Recorded = Arc<Mutex<Vec<synack_sim::TraceEntry>>>;

fn demo(o: &Opts) -> io::Result<()> {
    if let Some(why) = netns::missing_privileges() {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    }
    if !netns::have("curl") {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the demo needs `curl` (apt-get install curl)",
        ));
    }
    let ns = Netns::create_unique()?;
    let kernel = Ipv4Addr::new(10, 77, 0, 1);
    let ours = Ipv4Addr::new(10, 77, 0, 2);
    let dev = ns.tun(&unique_name("skd"), kernel, 24, 1500)?;
    println!(
        "namespace {} with TUN device {}: kernel {kernel}/24, synack {ours}",
        ns.name(),
        dev.name()
    );
    let rec: Recorded = Arc::new(Mutex::new(Vec::new()));
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V4(ours)]);
    let r1 = Arc::clone(&rec);
    cfg.on_event = Some(Box::new(move |ev: &Event| {
        if let Ok(mut v) = r1.lock() {
            v.push(synack_sim::TraceEntry {
                at: ev.at,
                host: 0,
                kind: synack_sim::TraceKind::Stack(ev.clone()),
            });
        }
    }));
    let r2 = Arc::clone(&rec);
    cfg.on_packet = Some(Box::new(move |at: Instant, dir: Direction, p: &[u8]| {
        let (from, to) = if dir == Direction::Out {
            (0, 1)
        } else {
            (1, 0)
        };
        if let Ok(mut v) = r2.lock() {
            v.push(synack_sim::TraceEntry {
                at,
                host: from,
                kind: synack_sim::TraceKind::Link(synack_sim::LinkEvent {
                    from,
                    to,
                    packet: p.to_vec(),
                    fate: synack_sim::LinkFate::Delivered { at },
                }),
            });
        }
    }));
    if let Some(p) = &o.pcap {
        cfg.pcap = Some(Box::new(io::BufWriter::new(std::fs::File::create(p)?)));
    }
    let rt = Runtime::new(dev, cfg)?;
    let l = TcpListener::bind(&rt, SocketAddr::new(IpAddr::V4(ours), 80))?;
    let server = std::thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = l.accept()?;
        synack_http(&mut s)
    });
    println!("$ ip netns exec {} curl -sS http://{ours}/demo", ns.name());
    let out = ns.run(
        "curl",
        &["-sS", "--max-time", "10", &format!("http://{ours}/demo")],
    )?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    server
        .join()
        .map_err(|_| io::Error::other("server thread panicked"))??;
    // Let the closing handshake and its ACKs finish before drawing.
    let end = StdInstant::now() + Duration::from_secs(2);
    while StdInstant::now() < end
        && rt
            .connections()
            .iter()
            .any(|c| !matches!(c.state, synack_proto::State::TimeWait))
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    let entries = rec.lock().map(|v| v.clone()).unwrap_or_default();
    let hosts = [
        synack_trace::HostInfo {
            name: "synack",
            addr: IpAddr::V4(ours),
        },
        synack_trace::HostInfo {
            name: "linux",
            addr: IpAddr::V4(kernel),
        },
    ];
    println!();
    print!(
        "{}",
        synack_trace::render_text(&entries, &hosts, &synack_trace::TextOptions::default())
    );
    drop(rt);
    drop(ns);
    println!("namespace removed");
    Ok(())
}

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

const PY_SERVER: &str = r#"
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2]))); l.listen()
mode = sys.argv[3]; size = int(sys.argv[4])
for i in range(2):
    c, peer = l.accept()
    if mode == 'sink' or i == 0:
        buf = bytearray(1 << 20)
        while c.recv_into(buf):
            pass
        c.close()
    else:
        chunk = b'\xa5' * (1 << 20); left = size
        while left:
            n = min(len(chunk), left); c.sendall(chunk[:n]); left -= n
        c.close()
"#;

fn py_secs(ns: &Netns, script: &str, args: &[&str]) -> io::Result<f64> {
    let out = netns::run(
        ns.command("timeout")
            .args(["300", "python3", "-c", script])
            .args(args),
    )?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| {
            io::Error::other(format!(
                "python said {:?}",
                String::from_utf8_lossy(&out.stdout)
            ))
        })
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

fn bench(o: &Opts) -> io::Result<()> {
    if let Some(why) = netns::missing_privileges() {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    }
    for t in ["ip", "python3", "ethtool", "ss", "timeout"] {
        if !netns::have(t) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("bench needs `{t}`"),
            ));
        }
    }
    let size = o.size_mib << 20;
    let mib = o.size_mib as f64;
    println!(
        "bulk transfer of {} MiB per direction, MTU 1500, python3 sockets on the kernel side",
        o.size_mib
    );

    // synack <-> kernel over TUN.
    let ns = Netns::create_unique()?;
    let kernel = Ipv4Addr::new(10, 77, 0, 1);
    let ours = Ipv4Addr::new(10, 77, 0, 2);
    let dev = ns.tun(&unique_name("skb"), kernel, 24, 1500)?;
    let rt = Runtime::new(dev, RuntimeConfig::new(vec![IpAddr::V4(ours)]))?;
    let l = TcpListener::bind(&rt, SocketAddr::new(IpAddr::V4(ours), 5201))?;
    let srv = std::thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = l.accept()?;
        io::copy(&mut s, &mut io::sink())?;
        drop(s);
        let (mut s, _) = l.accept()?;
        let chunk = vec![0xa5u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len());
            s.write_all(&chunk[..n])?;
            left -= n;
        }
        Ok(())
    });
    let sz = size.to_string();
    let k2s = py_secs(&ns, PY_SOURCE_TIMED, &["10.77.0.2", "5201", &sz])?;
    let s2k = py_secs(&ns, PY_SINK_TIMED, &["10.77.0.2", "5201"])?;
    srv.join()
        .map_err(|_| io::Error::other("server panicked"))??;
    drop(rt);
    drop(ns);

    // kernel <-> kernel over veth, offloads off.
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
    for (ns, v, addr) in [(&a, &va, "10.78.0.1/24"), (&b, &vb, "10.78.0.2/24")] {
        ns.ip(&["link", "set", "dev", v, "mtu", "1500"])?;
        ns.ip(&["addr", "add", addr, "dev", v])?;
        ns.ip(&["link", "set", "dev", v, "up"])?;
        let off = ns.run(
            "ethtool",
            &[
                "-K", v, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off",
            ],
        );
        if let Err(e) = off {
            eprintln!("note: ethtool -K on {v}: {e}");
        }
    }
    let mut cmd = b.command("python3");
    cmd.args(["-c", PY_SERVER, "10.78.0.2", "5201", "both", &sz]);
    b.spawn(&mut cmd)?;
    wait_listen(&b, "10.78.0.2:5201")?;
    let kk_up = py_secs(&a, PY_SOURCE_TIMED, &["10.78.0.2", "5201", &sz])?;
    let kk_down = py_secs(&a, PY_SINK_TIMED, &["10.78.0.2", "5201"])?;
    drop(a);
    drop(b);

    let rate = |secs: f64| mib / secs.max(1e-9);
    println!("kernel -> synack (TUN): {:>9.1} MiB/s", rate(k2s));
    println!("synack -> kernel (TUN): {:>9.1} MiB/s", rate(s2k));
    println!(
        "kernel -> kernel (veth, offloads off): {:>9.1} MiB/s up, {:>9.1} MiB/s down",
        rate(kk_up),
        rate(kk_down)
    );
    println!(
        "ratio synack/kernel: receive {:.2}, send {:.2}",
        rate(k2s) / rate(kk_up),
        rate(s2k) / rate(kk_down)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_side_address_is_another_host_of_the_prefix() {
        assert_eq!(
            kernel_side(Ipv4Addr::new(10, 77, 0, 2), 24),
            Ipv4Addr::new(10, 77, 0, 1)
        );
        assert_eq!(
            kernel_side(Ipv4Addr::new(10, 77, 0, 1), 24),
            Ipv4Addr::new(10, 77, 0, 2)
        );
    }

    #[test]
    fn options_parse() {
        let a: Vec<String> = [
            "serve",
            "http",
            "--addr",
            "10.1.2.3/16",
            "--port",
            "8080",
            "--trace",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = parse(&a).expect("parse");
        assert_eq!(o.addr, Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(o.prefix, 16);
        assert_eq!(o.port, Some(8080));
        assert!(o.trace);
        assert!(parse(&["--bogus".to_string()]).is_err());
    }
}
