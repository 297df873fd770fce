//! `synack tun demo`: curl fetches a page from synack over a TUN device in
//! a namespace of its own; then the ladder diagram of that real connection.

use super::{check_privileges, check_tools, http, netns, pcap_file, DemoArgs};
use netns::{unique_name, Netns};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};
use synack::{Direction, Runtime, RuntimeConfig, TcpListener};
use synack_proto::{Event, Instant, State};
use synack_sim::{LinkEvent, LinkFate, TraceEntry, TraceKind};
use synack_trace::{render_text, HostInfo, TextOptions};

/// Everything the demo records: the stack's events and the packets, on the
/// stack's clock, as the trace views expect them (host 0 is synack, host 1
/// the kernel).
type Recorded = Arc<Mutex<Vec<TraceEntry>>>;

const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const SYNACK: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// A runtime configuration that records into `rec`.
fn recording_config(rec: &Recorded) -> RuntimeConfig {
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V4(SYNACK)]);
    let events = Arc::clone(rec);
    cfg.on_event = Some(Box::new(move |ev: &Event| {
        if let Ok(mut v) = events.lock() {
            v.push(TraceEntry {
                at: ev.at,
                host: 0,
                kind: TraceKind::Stack(ev.clone()),
            });
        }
    }));
    let packets = Arc::clone(rec);
    cfg.on_packet = Some(Box::new(move |at: Instant, dir: Direction, p: &[u8]| {
        let (from, to) = if dir == Direction::Out {
            (0, 1)
        } else {
            (1, 0)
        };
        if let Ok(mut v) = packets.lock() {
            v.push(TraceEntry {
                at,
                host: from,
                kind: TraceKind::Link(LinkEvent {
                    from,
                    to,
                    packet: p.to_vec(),
                    fate: LinkFate::Delivered { at },
                }),
            });
        }
    }));
    cfg
}

pub(super) fn demo(a: &DemoArgs) -> io::Result<()> {
    if netns::missing_privileges().is_some() && synack::euid() != 0 {
        return demo_unprivileged();
    }
    check_privileges()?;
    check_tools("the demo", &["ip", "curl"])?;
    let ns = Netns::create_unique()?;
    let dev = ns.tun(&unique_name("skd"), KERNEL, 24, 1500)?;
    println!(
        "namespace {} with TUN device {}: kernel {KERNEL}/24, synack {SYNACK}",
        ns.name(),
        dev.name()
    );
    let rec: Recorded = Arc::new(Mutex::new(Vec::new()));
    let mut cfg = recording_config(&rec);
    if let Some(p) = &a.pcap {
        cfg.pcap = Some(pcap_file(p)?);
    }
    let rt = Runtime::new(dev, cfg)?;
    let l = TcpListener::bind(&rt, SocketAddr::new(IpAddr::V4(SYNACK), 80))?;
    let server = std::thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = l.accept()?;
        http::serve_conn(&mut s).map(|_| ())
    });
    println!(
        "$ ip netns exec {} curl -sS http://{SYNACK}/demo",
        ns.name()
    );
    let out = ns.run(
        "curl",
        &["-sS", "--max-time", "10", &format!("http://{SYNACK}/demo")],
    )?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    server
        .join()
        .map_err(|_| io::Error::other("server thread panicked"))??;
    settle(&rt);
    let entries = rec.lock().map(|v| v.clone()).unwrap_or_default();
    let hosts = [
        HostInfo {
            name: "synack",
            addr: IpAddr::V4(SYNACK),
        },
        HostInfo {
            name: "linux",
            addr: IpAddr::V4(KERNEL),
        },
    ];
    println!();
    print!("{}", render_text(&entries, &hosts, &TextOptions::default()));
    drop(rt);
    drop(ns);
    println!("namespace removed");
    Ok(())
}

/// Not root: the demo again inside an unprivileged user + network
/// namespace, where the kernel allows one; said loudly either way.
fn demo_unprivileged() -> io::Result<()> {
    if !netns::user_namespace_available() {
        eprintln!(
            "**********\nSKIPPED: synack tun demo: not root, and this kernel (or a missing \
             `unshare`) allows no unprivileged user namespace\n**********"
        );
        return check_privileges();
    }
    eprintln!(
        "synack tun demo: not root, so running inside an unprivileged user + network namespace \
         (unshare -Urnm)"
    );
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    match netns::rerun_in_user_namespace(&args) {
        Some(Ok(status)) if status.success() => Ok(()),
        Some(Ok(status)) => Err(io::Error::other(format!(
            "inside the user namespace: {status}"
        ))),
        Some(Err(e)) => Err(e),
        None => check_privileges(),
    }
}

/// Let the closing handshake and its ACKs finish before drawing.
fn settle(rt: &Runtime) {
    let end = StdInstant::now() + Duration::from_secs(2);
    while StdInstant::now() < end
        && rt
            .connections()
            .iter()
            .any(|c| !matches!(c.state, State::TimeWait))
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
}
