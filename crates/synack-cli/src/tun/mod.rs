//! `synack tun`: synack on a Linux TUN device, against real hosts.
//!
//! `serve`, `connect` and `get` open a TUN device (`--dev`, default
//! `synack0`) in the current namespace or in `--netns NAME`, give the
//! kernel's side of it the first other address of the prefix (synack's own
//! address is `--addr`, default 10.77.0.2/24) and bring it up. `demo` and
//! `bench` make namespaces of their own and remove them. `forward` routes
//! prefixes into a TUN device and relays every connection to them. All need root, or
//! a user namespace (CAP_NET_ADMIN, and CAP_SYS_ADMIN for namespaces).

mod bench;
mod cookies;
mod demo;
mod forward;
mod smol;
mod talk;

use clap::{Args, Subcommand, ValueEnum};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use synack::test_util::{http, netns};
use synack::{Runtime, RuntimeConfig, TunDevice};
use synack_proto::{Event, EventKind, SegmentSummary};

/// The arguments of `synack tun`.
#[derive(Debug, Args)]
pub(crate) struct TunArgs {
    #[command(subcommand)]
    command: TunCommand,
}

#[derive(Debug, Subcommand)]
enum TunCommand {
    /// Serve echo, discard or a small HTTP page on synack's address.
    Serve(ServeArgs),
    /// Connect to IP:PORT like nc: standard input to the peer, what it
    /// sends to standard output.
    ///
    /// Ends once the peer has closed its side and everything received has
    /// been written out, even while standard input is still open; the end
    /// of standard input closes synack's side.
    Connect(ConnectArgs),
    /// Fetch a page with HTTP/1.0: the response head to stderr, the body
    /// to stdout.
    Get(GetArgs),
    /// Fetch a page from synack with curl, then draw that connection.
    ///
    /// Makes a namespace with a TUN device, serves HTTP on synack, fetches
    /// a page with curl, prints the ladder diagram of that connection and
    /// removes everything.
    Demo(DemoArgs),
    /// synack against the kernel over TUN, next to kernel<->kernel over
    /// veth and smoltcp over TUN.
    ///
    /// Rows: bulk both ways with TUN offloads off (against veth offloads
    /// off) and on (against veth offloads on), against smoltcp 0.14 on the
    /// same kind of TUN device, 64-byte round trips (rate, median, p99) and
    /// connections per second. MTU 1500, python3 sockets on the kernel
    /// side; each setup in namespaces of its own.
    Bench(BenchArgs),
    /// Forward every TCP connection to PREFIX to its real destination.
    ///
    /// Creates the TUN device (in --netns NAME when given), brings it up
    /// and routes each --route PREFIX into it; synack accepts every TCP
    /// connection to those addresses on any port, dials the same
    /// destination with this namespace's sockets first (a refused upstream
    /// is refused to the client), and relays both ways, half-closes and
    /// resets included. Runs until interrupted.
    Forward(forward::ForwardArgs),
}

/// The device synack runs on, and what it records.
#[derive(Debug, Args)]
struct DeviceArgs {
    /// synack's address and the link's prefix (8 to 30); the kernel's side
    /// of the device gets the first other address of the prefix.
    #[arg(long, value_name = "ADDR/PREFIX", default_value = "10.77.0.2/24", value_parser = parse_addr)]
    addr: AddrPrefix,
    /// Open the device in this network namespace (/run/netns/NAME).
    #[arg(long, value_name = "NAME")]
    netns: Option<String>,
    /// Name of the TUN device.
    #[arg(long, value_name = "NAME", default_value = "synack0")]
    dev: String,
    /// Print every event of the stack to stderr as it happens.
    #[arg(long)]
    trace: bool,
    /// Write every packet in and out to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
}

/// An IPv4 address with a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AddrPrefix {
    addr: Ipv4Addr,
    prefix: u8,
}

/// What `serve` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ServeKind {
    /// Send back what arrives (default port 7).
    Echo,
    /// Read and forget what arrives (default port 9).
    Discard,
    /// Answer one HTTP/1.0 request per connection (default port 80).
    Http,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// What to serve.
    #[arg(value_enum)]
    kind: ServeKind,
    /// Port to listen on (default: 7, 9 or 80 by kind).
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    /// Serve this many connections, one after the other, then end
    /// (default: serve forever, each connection on its own thread).
    #[arg(long, value_name = "N")]
    count: Option<usize>,
    /// Be a TCP Fast Open server (RFC 7413): hand out cookies, and take a
    /// request that comes on the SYN with a valid one, so the answer leaves
    /// a round trip sooner. QLEN: most such connections waiting for the
    /// end of their handshake at once (default 16).
    #[arg(long, value_name = "QLEN", num_args = 0..=1, require_equals = true,
          value_parser = clap::value_parser!(u32).range(1..=65535))]
    fastopen: Option<Option<u32>>,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(Debug, Args)]
struct ConnectArgs {
    /// The peer's address.
    #[arg(value_name = "IP:PORT")]
    target: SocketAddr,
    /// Open with TCP Fast Open (RFC 7413): what standard input has ready at
    /// once (within 50 ms) rides on the SYN when a cookie for the peer is
    /// known, else the SYN asks for one (the data then follows the
    /// handshake); the SYN never waits for input.
    #[arg(long)]
    fastopen: bool,
    /// Keep Fast Open cookies in FILE between runs: read before
    /// connecting, the peer's written back after (lines `IP COOKIE-HEX`).
    #[arg(long, value_name = "FILE", requires = "fastopen")]
    fastopen_cache: Option<PathBuf>,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(Debug, Args)]
struct GetArgs {
    /// What to fetch (the host is an IP address).
    #[arg(value_name = "http://IP[:PORT]/PATH", value_parser = parse_get_url)]
    url: String,
    #[command(flatten)]
    device: DeviceArgs,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Also write every packet in and out to this pcap file.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// MiB sent in each direction.
    #[arg(long, value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65536))]
    size: u32,
    /// Request/response round trips.
    #[arg(long, value_name = "N", default_value_t = 5000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rounds: u32,
    /// Connections opened one after the other.
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    conns: u32,
    /// Rounds of every setup; each figure is the median.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=99))]
    repeat: u32,
    /// Print the rows as JSON: {key, unit, synack, peer, peer_figure, ratio}.
    #[arg(long)]
    json: bool,
}

fn parse_addr(s: &str) -> Result<AddrPrefix, String> {
    let (ip, prefix) = s.split_once('/').unwrap_or((s, "24"));
    let addr = ip
        .parse()
        .map_err(|_| format!("expected an IPv4 address, e.g. 10.77.0.2/24, not {ip:?}"))?;
    let prefix = prefix
        .parse()
        .ok()
        .filter(|p| (8..=30).contains(p))
        .ok_or("expected a prefix length from 8 to 30, e.g. 10.77.0.2/24")?;
    Ok(AddrPrefix { addr, prefix })
}

fn parse_get_url(s: &str) -> Result<String, String> {
    http::parse_url(s)
        .map(|_| s.to_owned())
        .map_err(|e| e.to_string())
}

/// Run `synack tun`; the process's exit code.
pub(crate) fn run(args: TunArgs) -> ExitCode {
    let (name, r) = match &args.command {
        TunCommand::Serve(a) => ("serve", talk::serve(a)),
        TunCommand::Connect(a) => ("connect", talk::connect(a)),
        TunCommand::Get(a) => ("get", talk::get(a)),
        TunCommand::Demo(a) => ("demo", demo::demo(a)),
        TunCommand::Bench(a) => ("bench", bench::bench(a)),
        TunCommand::Forward(a) => ("forward", forward::forward_cmd(a)),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synack tun {name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// An error unless this process may make namespaces and TUN devices.
fn check_privileges() -> io::Result<()> {
    match netns::missing_privileges() {
        Some(why) => Err(io::Error::new(io::ErrorKind::PermissionDenied, why)),
        None => Ok(()),
    }
}

/// An error unless every program of `tools` is on PATH.
fn check_tools(what: &str, tools: &[&str]) -> io::Result<()> {
    match tools.iter().find(|t| !netns::have(t)) {
        Some(t) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{what} needs `{t}` on PATH"),
        )),
        None => Ok(()),
    }
}

/// The kernel's address on the link: the first host of the prefix that is
/// not synack's.
fn kernel_side(a: AddrPrefix) -> Ipv4Addr {
    let mask = u32::MAX << (32 - u32::from(a.prefix));
    let net = u32::from(a.addr) & mask;
    let first = Ipv4Addr::from(net + 1);
    if first == a.addr {
        Ipv4Addr::from(net + 2)
    } else {
        first
    }
}

/// A pcap capture file for [`RuntimeConfig::pcap`], unbuffered: the pcap
/// writer hands over its header and each record in one write, so Ctrl-C
/// (SIGINT), SIGTERM or any other end of the process leaves every packet
/// recorded so far in the file, whole. (Through a buffer, a stopped
/// `tun serve` left an empty file: the runtime flushes only when dropped.)
fn pcap_file(path: &Path) -> io::Result<Box<dyn io::Write + Send>> {
    let f = std::fs::File::create(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(Box::new(f))
}

/// Open and configure the TUN device and start a runtime on it.
fn open_runtime(d: &DeviceArgs) -> io::Result<Runtime> {
    check_privileges()?;
    let dev = match &d.netns {
        Some(n) => TunDevice::open_in_netns(&d.dev, &Path::new("/run/netns").join(n))?,
        None => TunDevice::open(&d.dev)?,
    };
    let name = dev.name().to_owned();
    let kernel = kernel_side(d.addr);
    let ip = |args: &[&str]| {
        let mut v: Vec<&str> = Vec::new();
        if let Some(n) = &d.netns {
            v.extend(["-n", n.as_str()]);
        }
        v.extend_from_slice(args);
        netns::ip(&v)
    };
    let prefix = d.addr.prefix;
    ip(&["addr", "add", &format!("{kernel}/{prefix}"), "dev", &name])?;
    ip(&["link", "set", "dev", &name, "up"])?;
    eprintln!(
        "synack tun: device {name}: kernel {kernel}/{prefix}, synack {}",
        d.addr.addr
    );
    let mut cfg = RuntimeConfig::new(vec![IpAddr::V4(d.addr.addr)]);
    if d.trace {
        cfg.on_event = Some(Box::new(|ev: &Event| {
            if !matches!(ev.kind, EventKind::EventsLost { .. }) {
                eprintln!("{}", event_line(ev));
            }
        }));
    }
    if let Some(p) = &d.pcap {
        cfg.pcap = Some(pcap_file(p)?);
    }
    Runtime::new(dev, cfg)
}

fn segment(s: &SegmentSummary) -> String {
    format!(
        "{} seq={} ack={} win={} len={}",
        s.flags, s.seq.0, s.ack.0, s.window, s.len
    )
}

/// One line per event, as it happens (`--trace`).
fn event_line(ev: &Event) -> String {
    let t = format!(
        "{:>10}.{:03} ms",
        ev.at.micros() / 1000,
        ev.at.micros() % 1000
    );
    let body = match &ev.kind {
        EventKind::SegmentSent { seg: s, reason, .. } => format!(
            "{} → {}  {}  ({})",
            s.src,
            s.dst,
            segment(s),
            synack_trace::send_reason_name(*reason)
        ),
        EventKind::SegmentReceived { seg: s, .. } => {
            format!("{} ← {}  {}", s.dst, s.src, segment(s))
        }
        EventKind::Dropped { reason, .. } => {
            format!("dropped: {}", synack_trace::drop_reason_name(*reason))
        }
        EventKind::StateChanged {
            tuple,
            from,
            to,
            cause,
            ..
        } => format!(
            "{} ⇄ {}  {from} → {to}  ({})",
            tuple.local,
            tuple.remote,
            synack_trace::cause_name(*cause)
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ap(addr: [u8; 4], prefix: u8) -> AddrPrefix {
        AddrPrefix {
            addr: Ipv4Addr::from(addr),
            prefix,
        }
    }

    #[test]
    fn kernel_side_address_is_another_host_of_the_prefix() {
        assert_eq!(
            kernel_side(ap([10, 77, 0, 2], 24)),
            Ipv4Addr::new(10, 77, 0, 1)
        );
        assert_eq!(
            kernel_side(ap([10, 77, 0, 1], 24)),
            Ipv4Addr::new(10, 77, 0, 2)
        );
    }

    #[test]
    fn addresses_parse_with_an_optional_prefix() {
        assert_eq!(parse_addr("10.1.2.3/16"), Ok(ap([10, 1, 2, 3], 16)));
        assert_eq!(parse_addr("10.1.2.3"), Ok(ap([10, 1, 2, 3], 24)));
        assert!(parse_addr("10.1.2.3/31").is_err());
        assert!(parse_addr("10.1.2/24").is_err());
    }
}
