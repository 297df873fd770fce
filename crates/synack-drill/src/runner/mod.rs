//! Executes one parsed script against a fresh synack [`Stack`] on a virtual
//! clock. The script plays the remote host: inbound packets are built and
//! injected, outbound packets are matched in order, syscalls map onto the
//! stack's socket calls.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use synack_proto::{ConnId, Duration, Keepalive, Stack, StackConfig};

use crate::ast::{Direction, Event, EventKind, PacketEvent, Script, TimeSpec};

mod clock;
mod code;
mod command;
mod compare;
mod expr;
mod format;
mod icmp;
mod inject;
mod sniff;
mod socket;
mod syscall;
mod sysctl;

use format::secs;
use sniff::Captured;
use socket::{KeepParams, Socket};
use syscall::Pending;

/// How strictly outbound packets and syscall results are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Exactly as packetdrill compares: options in order with their padding,
    /// window values, PSH, buffer sizes.
    Strict,
    /// Options as a set (NOP/EOL padding and order ignored, the window scale
    /// shift and timestamp values not compared), window values other than
    /// zero not compared, PSH not compared, buffer sizes returned by
    /// getsockopt taken as wildcards.
    #[default]
    Semantic,
}

impl Mode {
    /// The mode's name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Strict => "strict",
            Mode::Semantic => "semantic",
        }
    }
}

/// Where synack first differed from a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Line of the script (1-based) where the difference showed.
    pub line: u32,
    /// What the script expected (a segment, a return value, a condition).
    pub expected: String,
    /// What synack did.
    pub actual: String,
}

/// The result of running one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every line held.
    Passed,
    /// synack differed from the script; the first difference.
    Failed(Difference),
    /// The script needs something synack (or the runner) does not model;
    /// the missing feature.
    NotRun(String),
}

impl Outcome {
    /// `passed`, `failed` or `not_run`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed(_) => "failed",
            Outcome::NotRun(_) => "not_run",
        }
    }
}

/// Why execution stopped early.
#[derive(Debug)]
enum Stop {
    Fail(Difference),
    NotRun(String),
}

type Res<T> = Result<T, Stop>;

fn not_run<T>(reason: impl Into<String>) -> Res<T> {
    Err(Stop::NotRun(reason.into()))
}

fn fail<T>(line: u32, expected: impl Into<String>, actual: impl Into<String>) -> Res<T> {
    Err(Stop::Fail(Difference {
        line,
        expected: expected.into(),
        actual: actual.into(),
    }))
}

/// How long the runner waits past an outbound packet's expected time
/// before declaring it missing (packetdrill: 2 s).
const SNIFF_SLACK_US: u64 = 2_000_000;
/// The remote port the runner uses when the script opens passively.
const REMOTE_PASSIVE_PORT: u16 = 40_000;
/// Seed of every stack: runs are reproducible.
const SEED: u64 = 0x5eed;
/// Runs `script` in `mode` and reports the outcome.
pub fn run_script(script: &Script, mode: Mode) -> Outcome {
    let mut r = match Runner::new(script, mode) {
        Ok(r) => r,
        Err(Stop::NotRun(s)) => return Outcome::NotRun(s),
        Err(Stop::Fail(d)) => return Outcome::Failed(d),
    };
    match r.run() {
        Ok(()) => Outcome::Passed,
        Err(Stop::NotRun(s)) => Outcome::NotRun(s),
        Err(Stop::Fail(d)) => Outcome::Failed(d),
    }
}

struct Runner<'a> {
    script: &'a Script,
    mode: Mode,
    stack_cfg: StackConfig,
    stack: Option<Stack>,
    keep_defaults: KeepParams,
    now: u64,
    last_event: u64,
    local_ip: IpAddr,
    remote_ip: IpAddr,
    bind_port: u16,
    connect_port: u16,
    sockets: BTreeMap<i64, Socket>,
    out: VecDeque<Captured>,
    isn_offset: Option<u32>,
    ts_base: Option<(u32, u32)>,
    pending: Option<Pending>,
    tol_us: u64,
    tol_pct: f64,
    freebsd: bool,
    strict_segments: bool,
    /// The connection packets belong to (connect() or the last accepted or
    /// half-open one); `None` before any.
    current: Option<ConnId>,
    current_tuple: Option<(u16, u16)>,
    /// The fd of the socket under test, for `%{ }%` blocks.
    subject_fd: Option<i64>,
    scratch: Vec<u8>,
}

impl<'a> Runner<'a> {
    fn new(script: &'a Script, mode: Mode) -> Res<Runner<'a>> {
        let ipv = script.ip_version().unwrap_or("ipv4");
        let ipv6 = match ipv {
            "ipv4" | "ipv4-mapped-ipv6" => false,
            "ipv6" => true,
            other => return not_run(format!("--ip_version={other}")),
        };
        for o in &script.options {
            match o.name.as_str() {
                "ip_version" | "tolerance_usecs" | "tolerance_percent" | "mtu" | "bind_port"
                | "connect_port" | "local_ip" | "remote_ip" | "strict_segments"
                | "tcp_ts_tick_usecs" | "gateway_ip" | "netmask_ip" | "non_fatal" => {}
                "udp_encapsulation" => return not_run("TCP over UDP encapsulation"),
                other => return not_run(format!("script option --{other}")),
            }
        }
        let parse_ip = |name: &str, default: IpAddr| -> Res<IpAddr> {
            match script.option(name).flatten() {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .or_else(|_| not_run(format!("--{name}={v} (not an address)"))),
            }
        };
        let (local_default, remote_default) = if ipv6 {
            (
                IpAddr::V6(Ipv6Addr::new(0xfd3d, 0xfa7b, 0xd17d, 0, 0, 0, 0, 1)),
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            )
        } else {
            (
                IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)),
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            )
        };
        let local_ip = parse_ip("local_ip", local_default)?;
        let remote_ip = parse_ip("remote_ip", remote_default)?;
        let num = |name: &str| -> Res<Option<u64>> {
            match script.option(name).flatten() {
                None => Ok(None),
                Some(v) => v
                    .parse::<u64>()
                    .map(Some)
                    .or_else(|_| not_run(format!("--{name}={v}"))),
            }
        };
        let mut stack_cfg = StackConfig {
            trace: false,
            ..StackConfig::default()
        };
        // The systems these scripts were written for offer timestamps and
        // SACK by default (FreeBSD rfc1323=1, sack.enable=1; Linux
        // tcp_timestamps=1, tcp_sack=1); scripts turn them off explicitly.
        stack_cfg.conn.timestamps = true;
        stack_cfg.conn.sack = true;
        if let Some(mtu) = num("mtu")? {
            stack_cfg.mtu = u16::try_from(mtu).or_else(|_| not_run(format!("--mtu={mtu}")))?;
        }
        let tol_pct = match script.option("tolerance_percent").flatten() {
            None => 0.0,
            Some(v) => v
                .parse::<f64>()
                .or_else(|_| not_run(format!("--tolerance_percent={v}")))?,
        };
        let port = |name: &str| -> Res<u16> {
            Ok(num(name)?
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(8080))
        };
        let freebsd = script.name.contains("freebsd")
            || script.name.contains("/bsd/")
            || script.events.iter().any(|e| {
                matches!(&e.kind, EventKind::Command(c) if c.contains("net.inet.") || c.contains("sockstat"))
            });
        // FreeBSD acknowledges every second data segment, whatever its size.
        stack_cfg.conn.delayed_ack_by_segments = freebsd;
        // FreeBSD has no quick-ACK mode: data is delayed-ACKed from the first segment.
        if freebsd {
            stack_cfg.conn.quick_ack_segments = 0;
            stack_cfg.conn.delayed_fin_ack = false;
            // FreeBSD's delayed-ACK timeout, `net.inet.tcp.delacktime`: 100 ms.
            stack_cfg.conn.delayed_ack = Some(Duration::from_millis(100));
            // FreeBSD's retransmission timing and connection-setup limits, as its
            // defaults have them until a script's sysctls change them: RTO at least
            // net.inet.tcp.rexmit_min (30 ms) and at most TCPTV_REXMTMAX (64 s), with
            // net.inet.tcp.rexmit_slop (200 ms) on every RTO after the first;
            // TCP_MAXRXTSHIFT (12) SYN retransmissions; and the connection-establishment
            // timer TCP_KEEPINIT (net.inet.tcp.keepinit, 75 s).
            stack_cfg.conn.min_rto = Duration::from_millis(30);
            stack_cfg.conn.max_rto = Duration::from_secs(64);
            stack_cfg.conn.rto_slop = Duration::from_millis(200);
            stack_cfg.conn.syn_retries = 12;
            stack_cfg.conn.establish_timeout = Some(Duration::from_secs(75));
        }
        // FreeBSD rounds the receive buffer to whole segments and accepts what the
        // buffer holds even beyond the 16-bit window field (the scripts'
        // `getsockopt(SO_RCVBUF) = [65700]`).
        stack_cfg.conn.round_recv_buffer_to_mss = freebsd;
        stack_cfg.conn.accept_up_to_buffer_space = freebsd;
        // FreeBSD's `tcp_output` re-sends an unacknowledged FIN on every ACK.
        stack_cfg.conn.fin_on_every_ack = freebsd;
        // FreeBSD's SYN advertises its route's MTU: an ICMPv6 Packet Too Big lowers
        // it, an IPv4 fragmentation-needed (kept in the host cache) does not.
        stack_cfg.conn.syn_mss_follows_path_mtu = !freebsd || ipv6;
        // FreeBSD has no tail loss probe (RFC 8985); Linux probes by default
        // (`tcp_early_retrans=3`).
        stack_cfg.conn.tail_loss_probe = !freebsd;
        let def = Keepalive::default();
        Ok(Runner {
            script,
            mode,
            stack_cfg,
            stack: None,
            keep_defaults: KeepParams {
                idle: def.idle,
                interval: def.interval,
                count: if freebsd { 8 } else { def.count },
            },
            now: 0,
            last_event: 0,
            local_ip,
            remote_ip,
            bind_port: port("bind_port")?,
            connect_port: port("connect_port")?,
            sockets: BTreeMap::new(),
            out: VecDeque::new(),
            isn_offset: None,
            ts_base: None,
            pending: None,
            tol_us: num("tolerance_usecs")?.unwrap_or(4000),
            tol_pct,
            freebsd,
            strict_segments: script.option("strict_segments").is_some(),
            current: None,
            current_tuple: None,
            subject_fd: None,
            scratch: Vec::new(),
        })
    }

    fn stack(&mut self) -> &mut Stack {
        let cfg = self.stack_cfg;
        let local = self.local_ip;
        self.stack.get_or_insert_with(|| {
            let mut s = Stack::new(cfg, SEED);
            s.add_address(local);
            s
        })
    }

    fn run(&mut self) -> Res<()> {
        if let Some(c) = &self.script.init_command {
            self.command(c.line, &c.text)?;
        }
        let script = self.script;
        for (i, ev) in script.events.iter().enumerate() {
            self.event(i, ev)?;
        }
        if let Some(c) = &self.script.cleanup_command {
            self.command(c.line, &c.text)?;
        }
        // A call still blocked at the end must return within its window.
        if let Some(p) = &self.pending {
            let limit = p.end + self.tolerance(p.end, p.start) + SNIFF_SLACK_US;
            self.advance_to(limit)?;
            if let Some(p) = self.pending.take() {
                let ev = &script.events[p.event];
                return fail(
                    ev.line,
                    format!("the call to return by {}", secs(p.end)),
                    "still blocked at the end of the script",
                );
            }
        }
        Ok(())
    }

    fn event(&mut self, index: usize, ev: &Event) -> Res<()> {
        let base = self.last_event;
        match (&ev.kind, ev.time) {
            (EventKind::Packet(PacketEvent::Tcp(p)), _) if p.direction == Direction::Outbound => {
                let (lo, hi, exact) = match ev.time {
                    TimeSpec::Absolute(t) => (t, t, true),
                    TimeSpec::Relative(d) => (base + d, base + d, true),
                    TimeSpec::Any => (0, u64::MAX, false),
                    TimeSpec::Range {
                        relative,
                        start,
                        end,
                    } => {
                        let b = if relative { base } else { 0 };
                        (b + start, b + end, false)
                    }
                    TimeSpec::Blocking { .. } => return not_run("a blocking time on a packet"),
                };
                self.outbound(ev.line, p, lo, hi, exact, base)
            }
            (
                EventKind::Syscall(call),
                TimeSpec::Blocking {
                    relative,
                    start,
                    end,
                },
            ) => {
                let b = if relative { base } else { 0 };
                let (s, e) = (b + start, b + end);
                self.advance_to(s)?;
                self.last_event = s;
                self.syscall(index, ev.line, call, s, e)
            }
            (kind, time) => {
                let t = match time {
                    TimeSpec::Absolute(t) => t,
                    TimeSpec::Relative(d) => base + d,
                    _ => return not_run("a time range on a line other than an outbound packet"),
                };
                self.advance_to(t)?;
                self.last_event = t.max(self.last_event);
                match kind {
                    EventKind::Packet(PacketEvent::Tcp(p)) => self.inbound(ev.line, p),
                    EventKind::Packet(PacketEvent::Icmp(p)) => self.inbound_icmp(ev.line, p),
                    EventKind::Packet(PacketEvent::Udp(_)) => not_run("UDP packets"),
                    EventKind::Syscall(call) => self.syscall(index, ev.line, call, t, t),
                    EventKind::Command(c) => self.command(ev.action_line, c),
                    EventKind::Code(c) => self.code(ev.action_line, c),
                }
            }
        }
    }
}
