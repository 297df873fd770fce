//! Executes one parsed script against a fresh synack [`Stack`] on a virtual
//! clock. The script plays the remote host: inbound packets are built and
//! injected, outbound packets are matched in order, syscalls map onto the
//! stack's socket calls.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use synack_proto::{
    ConnConfig, ConnError, ConnId, Duration, EcnMode, Error, Keepalive, Shutdown, Stack,
    StackConfig, State, SynCookies,
};

use crate::ast::{Direction, Event, EventKind, Expr, PacketEvent, Script, SyscallEvent, TimeSpec};
use crate::tcpinfo::{self, CodeError, Subject};

mod clock;
mod compare;
mod expr;
mod format;
mod icmp;
mod inject;
mod sniff;
mod socket;

use expr::{fmt_expr, has_symbol, int_of, struct_field, symbol_of, tos_of};
use format::secs;
use sniff::Captured;
use socket::{KeepParams, SockKind, Socket};

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

const O_RDWR: i64 = 0x2;
const O_NONBLOCK_FREEBSD: i64 = 0x4;
const O_NONBLOCK_LINUX: i64 = 0x800;

/// A syscall's return: a value or an errno name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SysRet {
    Value(i64),
    Errno(&'static str),
}

impl std::fmt::Display for SysRet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SysRet::Value(v) => write!(f, "{v}"),
            SysRet::Errno(e) => write!(f, "-1 {e}"),
        }
    }
}

enum Attempt {
    Done(SysRet),
    Block,
}

fn errno_of(e: Error) -> &'static str {
    match e {
        Error::InvalidHandle => "EBADF",
        Error::InvalidState | Error::InvalidArgument => "EINVAL",
        Error::WouldBlock => "EAGAIN",
        Error::BrokenPipe => "EPIPE",
        Error::NotConnected => "ENOTCONN",
        Error::Connection(c) => conn_errno(c),
        Error::AddrInUse => "EADDRINUSE",
        Error::AddrNotAvailable => "EADDRNOTAVAIL",
        Error::NoPortsAvailable => "EAGAIN",
        Error::TooManyConnections => "ENOBUFS",
        Error::AddressFamilyMismatch => "EAFNOSUPPORT",
        _ => "EIO",
    }
}

fn conn_errno(c: ConnError) -> &'static str {
    match c {
        ConnError::Refused => "ECONNREFUSED",
        ConnError::Reset => "ECONNRESET",
        ConnError::TimedOut => "ETIMEDOUT",
        ConnError::Aborted => "ECONNABORTED",
        ConnError::HostUnreachable => "EHOSTUNREACH",
        ConnError::NetworkUnreachable => "ENETUNREACH",
        ConnError::ProtocolError => "EPROTO",
        _ => "EIO",
    }
}

/// A blocking syscall that has not returned yet.
struct Pending {
    event: usize,
    start: u64,
    end: u64,
    progress: usize,
}

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

    fn retry_pending(&mut self) -> Res<()> {
        let Some(mut p) = self.pending.take() else {
            return Ok(());
        };
        let script = self.script;
        let ev = &script.events[p.event];
        let EventKind::Syscall(call) = &ev.kind else {
            return Ok(());
        };
        match self.attempt(ev.line, call, &mut p.progress, true)? {
            Attempt::Block => {
                self.pending = Some(p);
                Ok(())
            }
            Attempt::Done(ret) => {
                self.check_return_time(ev.line, p.start, p.end)?;
                self.check_result(ev.line, call, &ret)?;
                // Output caused by the call (e.g. an ACK after a read).
                self.settle()
            }
        }
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

    // ----- packets ---------------------------------------------------------

    // ----- syscalls --------------------------------------------------------

    fn syscall(
        &mut self,
        index: usize,
        line: u32,
        call: &SyscallEvent,
        start: u64,
        end: u64,
    ) -> Res<()> {
        let mut progress = 0usize;
        match self.attempt(line, call, &mut progress, false)? {
            Attempt::Done(ret) => {
                self.check_return_time(line, start, end)?;
                self.check_result(line, call, &ret)?;
                self.settle()
            }
            Attempt::Block => {
                if self.pending.is_some() {
                    return not_run("two blocking calls at once");
                }
                self.pending = Some(Pending {
                    event: index,
                    start,
                    end,
                    progress,
                });
                self.settle()
            }
        }
    }

    fn check_result(&self, line: u32, call: &SyscallEvent, ret: &SysRet) -> Res<()> {
        let expected = match (&call.result.value, &call.result.errno) {
            (v, Some(e)) => format!("{} {e}", fmt_expr(v)),
            (v, None) => fmt_expr(v),
        };
        let ok =
            match (&call.result.value, ret) {
                (Expr::Ellipsis, _) => true,
                (v, SysRet::Value(got)) => {
                    if call.result.errno.is_some() {
                        false
                    } else if matches!(call.name.as_str(), "socket" | "accept") {
                        *got >= 0 && int_of(v).is_some_and(|n| n >= 0)
                    } else {
                        int_of(v) == Some(*got)
                    }
                }
                (v, SysRet::Errno(e)) => {
                    int_of(v) == Some(-1)
                        && call.result.errno.as_deref().is_some_and(|want| {
                            want == *e || (want == "EWOULDBLOCK" && *e == "EAGAIN")
                        })
                }
            };
        if ok {
            Ok(())
        } else {
            fail(
                line,
                format!("{}(...) = {expected}", call.name),
                format!("{}(...) = {ret}", call.name),
            )
        }
    }

    fn fd_arg(&self, call: &SyscallEvent) -> Res<i64> {
        call.args.first().and_then(int_of).map_or_else(
            || not_run(format!("{} without a file descriptor", call.name)),
            Ok,
        )
    }

    fn attempt(
        &mut self,
        line: u32,
        call: &SyscallEvent,
        progress: &mut usize,
        retry: bool,
    ) -> Res<Attempt> {
        let _ = line;
        let args = &call.args;
        let done = |v: i64| Ok(Attempt::Done(SysRet::Value(v)));
        let errno = |e: &'static str| Ok(Attempt::Done(SysRet::Errno(e)));
        match call.name.as_str() {
            "socket" => {
                let Some(fd) = int_of(&call.result.value) else {
                    return not_run("socket() without a descriptor number");
                };
                let s = self.new_socket();
                self.sockets.insert(fd, s);
                done(fd)
            }
            "bind" => {
                let fd = self.fd_arg(call)?;
                let addr = SocketAddr::new(self.local_ip, self.bind_port);
                if args.get(1).is_some_and(|a| *a != Expr::Ellipsis) {
                    return not_run("bind() to an explicit address");
                }
                let Some(s) = self.sockets.get(&fd) else {
                    return errno("EBADF");
                };
                if s.bound.is_some() || !matches!(s.kind, SockKind::Fresh) {
                    return errno("EINVAL");
                }
                // The stack answers segments to the address from the socket now
                // (its RSTs carry the socket's TTL and DSCP).
                let cfg = Self::sock_cfg(s);
                let bind_id = match self.stack().bind(addr, cfg) {
                    Ok(b) => Some(b),
                    // SO_REUSEADDR/SO_REUSEPORT sharing is not modelled: the address
                    // stays the other socket's for unmatched segments.
                    Err(Error::AddrInUse) => None,
                    Err(e) => return errno(errno_of(e)),
                };
                if let Some(s) = self.sockets.get_mut(&fd) {
                    s.bound = Some(addr);
                    s.bind_id = bind_id;
                }
                done(0)
            }
            "listen" => {
                let fd = self.fd_arg(call)?;
                let backlog = args.get(1).and_then(int_of).unwrap_or(1).max(1) as usize;
                let Some(s) = self.sockets.get(&fd) else {
                    return errno("EBADF");
                };
                if let SockKind::Listener(_) = s.kind {
                    return done(0);
                }
                let addr = s
                    .bound
                    .unwrap_or(SocketAddr::new(self.local_ip, self.bind_port));
                let cfg = Self::sock_cfg(s);
                let now = self.at();
                let _ = now;
                match self.stack().listen_with(addr, backlog, backlog, cfg) {
                    Ok(l) => {
                        // The listener took the binding over.
                        if let Some(s) = self.sockets.get_mut(&fd) {
                            s.kind = SockKind::Listener(l);
                            s.bind_id = None;
                        }
                        self.subject_fd = Some(fd);
                        done(0)
                    }
                    Err(e) => errno(errno_of(e)),
                }
            }
            "accept" | "accept4" => {
                let fd = self.fd_arg(call)?;
                let Some(s) = self.sockets.get(&fd).cloned() else {
                    return errno("EBADF");
                };
                let SockKind::Listener(l) = s.kind else {
                    return errno("EINVAL");
                };
                match self.stack().accept(l) {
                    Ok(id) => {
                        let Some(newfd) = int_of(&call.result.value) else {
                            return not_run("accept() without a descriptor number");
                        };
                        let mut ns = s.clone();
                        ns.kind = SockKind::Conn(id);
                        ns.bound = None;
                        ns.bind_id = None;
                        ns.err_reported = false;
                        // FreeBSD's accepted sockets inherit O_NONBLOCK; Linux's do not.
                        ns.nonblocking = self.freebsd && s.nonblocking;
                        self.sockets.insert(newfd, ns);
                        self.current = Some(id);
                        if let Some(st) = self.stack.as_ref().and_then(|st| st.tuple(id).ok()) {
                            self.current_tuple = Some((st.remote.port(), st.local.port()));
                        }
                        self.subject_fd = Some(newfd);
                        done(newfd)
                    }
                    Err(Error::WouldBlock) if !s.nonblocking => Ok(Attempt::Block),
                    Err(e) => errno(errno_of(e)),
                }
            }
            "connect" => {
                let fd = self.fd_arg(call)?;
                if args.get(1).is_some_and(|a| *a != Expr::Ellipsis) {
                    return not_run("connect() to an explicit address");
                }
                let Some(s) = self.sockets.get(&fd).cloned() else {
                    return errno("EBADF");
                };
                match s.kind {
                    SockKind::Conn(id) => {
                        let stack = self.stack();
                        let state = stack.state(id).unwrap_or(State::Closed);
                        if let Ok(Some(e)) = stack.conn_error(id) {
                            if let Some(s) = self.sockets.get_mut(&fd) {
                                s.err_reported = true;
                            }
                            return errno(conn_errno(e));
                        }
                        if state.is_synchronized() {
                            return if retry { done(0) } else { errno("EISCONN") };
                        }
                        if s.nonblocking {
                            errno("EALREADY")
                        } else {
                            Ok(Attempt::Block)
                        }
                    }
                    SockKind::Listener(_) => errno("EINVAL"),
                    SockKind::Fresh => {
                        let remote = SocketAddr::new(self.remote_ip, self.connect_port);
                        let cfg = Self::sock_cfg(&s);
                        let now = self.at();
                        match self.stack().connect_with(now, s.bound, remote, cfg) {
                            Ok(id) => {
                                // The connection took any binding over.
                                if let Some(sm) = self.sockets.get_mut(&fd) {
                                    sm.kind = SockKind::Conn(id);
                                    sm.bind_id = None;
                                }
                                self.current = Some(id);
                                if let Some(t) =
                                    self.stack.as_ref().and_then(|st| st.tuple(id).ok())
                                {
                                    self.current_tuple = Some((t.remote.port(), t.local.port()));
                                }
                                self.subject_fd = Some(fd);
                                *progress = 1;
                                if s.nonblocking {
                                    errno("EINPROGRESS")
                                } else {
                                    Ok(Attempt::Block)
                                }
                            }
                            Err(e) => errno(errno_of(e)),
                        }
                    }
                }
            }
            "read" | "recv" | "recvfrom" => {
                let fd = self.fd_arg(call)?;
                let n = args.get(2).and_then(int_of).unwrap_or(0).max(0) as usize;
                let peek =
                    call.name != "read" && args.get(3).is_some_and(|f| has_symbol(f, "MSG_PEEK"));
                if call.name != "read" {
                    if let Some(f) = args.get(3) {
                        if !matches!(f, Expr::Int(0))
                            && !matches!(f, Expr::Symbol(s) if s == "MSG_PEEK")
                        {
                            return not_run(format!("recv flags {}", fmt_expr(f)));
                        }
                    }
                }
                let Some(s) = self.sockets.get(&fd).cloned() else {
                    return errno("EBADF");
                };
                let SockKind::Conn(id) = s.kind else {
                    return errno("ENOTCONN");
                };
                let now = self.at();
                let stack = self.stack();
                // The script's count is input: allocate no more than can be read
                // now (at least one byte, so an empty buffer still blocks).
                let ready = stack.recv_ready(id).unwrap_or(0).max(1);
                let mut buf = vec![0u8; n.min(ready)];
                let r = if peek {
                    stack.peek(now, id, &mut buf)
                } else {
                    stack.recv(now, id, &mut buf)
                };
                match r {
                    Ok(k) => done(k as i64),
                    Err(Error::WouldBlock) if !s.nonblocking => Ok(Attempt::Block),
                    Err(Error::Connection(c)) => {
                        let sm = self.sockets.get_mut(&fd);
                        match sm {
                            Some(sm) if !sm.err_reported => {
                                sm.err_reported = true;
                                errno(conn_errno(c))
                            }
                            _ => done(0),
                        }
                    }
                    Err(e) => errno(errno_of(e)),
                }
            }
            "write" | "send" | "sendto" => {
                let fd = self.fd_arg(call)?;
                let n = args.get(2).and_then(int_of).unwrap_or(0).max(0) as usize;
                if call.name != "write" {
                    if let Some(f) = args.get(3) {
                        if !matches!(f, Expr::Int(0)) {
                            return not_run(format!("send flags {}", fmt_expr(f)));
                        }
                    }
                }
                let Some(s) = self.sockets.get(&fd).cloned() else {
                    return errno("EBADF");
                };
                let SockKind::Conn(id) = s.kind else {
                    return errno("ENOTCONN");
                };
                if let Some(e) = self.take_error(fd) {
                    return errno(e);
                }
                let now = self.at();
                // The script's count is input: allocate no more than the send
                // buffer takes now (at least one byte, so a full buffer blocks).
                let room = self.stack().send_room(id).unwrap_or(0).max(1);
                let want = n.saturating_sub(*progress).min(room);
                let buf = vec![0u8; want];
                match self.stack().send(now, id, &buf) {
                    Ok(k) => {
                        *progress += k;
                        if *progress >= n || s.nonblocking {
                            done(*progress as i64)
                        } else {
                            Ok(Attempt::Block)
                        }
                    }
                    Err(Error::WouldBlock) if s.nonblocking => {
                        if *progress > 0 {
                            done(*progress as i64)
                        } else {
                            errno("EAGAIN")
                        }
                    }
                    Err(Error::WouldBlock) => Ok(Attempt::Block),
                    Err(e) => errno(errno_of(e)),
                }
            }
            "close" => {
                let fd = self.fd_arg(call)?;
                let Some(s) = self.sockets.remove(&fd) else {
                    return errno("EBADF");
                };
                let now = self.at();
                match s.kind {
                    SockKind::Fresh => {
                        if let Some(b) = s.bind_id {
                            let _ = self.stack().unbind(b);
                        }
                    }
                    SockKind::Listener(l) => {
                        let _ = self.stack().close_listener(now, l);
                    }
                    SockKind::Conn(id) => {
                        if s.linger_zero {
                            let _ = self.stack().abort(now, id);
                        } else {
                            let _ = self.stack().close(now, id);
                        }
                    }
                }
                done(0)
            }
            "shutdown" => {
                let fd = self.fd_arg(call)?;
                let how = match args.get(1) {
                    Some(Expr::Symbol(s)) if s == "SHUT_RD" => Shutdown::Read,
                    Some(Expr::Symbol(s)) if s == "SHUT_WR" => Shutdown::Write,
                    Some(Expr::Symbol(s)) if s == "SHUT_RDWR" => Shutdown::Both,
                    Some(Expr::Int(0)) => Shutdown::Read,
                    Some(Expr::Int(1)) => Shutdown::Write,
                    Some(Expr::Int(2)) => Shutdown::Both,
                    other => return not_run(format!("shutdown how {other:?}")),
                };
                let Some(id) = self.conn_of(fd) else {
                    return errno("ENOTCONN");
                };
                let now = self.at();
                match self.stack().shutdown(now, id, how) {
                    Ok(()) => done(0),
                    Err(e) => errno(errno_of(e)),
                }
            }
            "fcntl" => {
                let fd = self.fd_arg(call)?;
                let cmd = args.get(1).and_then(symbol_of).unwrap_or("");
                let Some(s) = self.sockets.get_mut(&fd) else {
                    return errno("EBADF");
                };
                match cmd {
                    "F_GETFL" => {
                        let nb = if s.nonblocking {
                            if self.freebsd {
                                O_NONBLOCK_FREEBSD
                            } else {
                                O_NONBLOCK_LINUX
                            }
                        } else {
                            0
                        };
                        // The script's own dialect decides the numbers.
                        match int_of(&call.result.value) {
                            Some(v) if v & !(O_NONBLOCK_FREEBSD | O_NONBLOCK_LINUX) == O_RDWR => {
                                let want_nb = v & (O_NONBLOCK_FREEBSD | O_NONBLOCK_LINUX) != 0;
                                if want_nb == s.nonblocking {
                                    done(v)
                                } else {
                                    done(O_RDWR | nb)
                                }
                            }
                            _ => done(O_RDWR | nb),
                        }
                    }
                    "F_SETFL" => {
                        s.nonblocking = args.get(2).is_some_and(|a| has_symbol(a, "O_NONBLOCK"));
                        done(0)
                    }
                    other => not_run(format!("fcntl {other}")),
                }
            }
            "ioctl" => {
                let fd = self.fd_arg(call)?;
                let cmd = args.get(1).and_then(symbol_of).unwrap_or("");
                if !matches!(cmd, "SIOCINQ" | "FIONREAD") {
                    return not_run(format!("ioctl {cmd}"));
                }
                let Some(id) = self.conn_of(fd) else {
                    return errno("ENOTCONN");
                };
                let ready = self.stack().recv_ready(id).unwrap_or(0) as i64;
                match args.get(2).and_then(int_of) {
                    Some(want) if want != ready => fail(
                        line,
                        format!("ioctl {cmd} = [{want}]"),
                        format!("ioctl {cmd} = [{ready}]"),
                    ),
                    _ => done(0),
                }
            }
            "setsockopt" => self.setsockopt(call),
            "getsockopt" => self.getsockopt(line, call),
            other => not_run(format!("syscall {other}")),
        }
    }

    fn setsockopt(&mut self, call: &SyscallEvent) -> Res<Attempt> {
        let fd = self.fd_arg(call)?;
        let level = call
            .args
            .get(1)
            .and_then(symbol_of)
            .unwrap_or("")
            .to_string();
        let name = call
            .args
            .get(2)
            .and_then(symbol_of)
            .unwrap_or("")
            .to_string();
        let val = call.args.get(3);
        let int = val.and_then(int_of);
        let now = self.at();
        let Some(s) = self.sockets.get(&fd).cloned() else {
            return Ok(Attempt::Done(SysRet::Errno("EBADF")));
        };
        let conn = match s.kind {
            SockKind::Conn(id) => Some(id),
            _ => None,
        };
        let live = !matches!(s.kind, SockKind::Fresh);
        let mut ns = s.clone();
        let need =
            |v: Option<i64>| v.map_or_else(|| not_run(format!("setsockopt {name} value")), Ok);
        match name.as_str() {
            "SO_REUSEADDR" | "SO_REUSEPORT" => {}
            "SO_RCVBUF" | "SO_SNDBUF" => {
                if live {
                    return not_run(format!("{name} on a connected or listening socket"));
                }
                let v = need(int)?.max(0) as usize;
                if name == "SO_RCVBUF" {
                    ns.cfg.recv_buffer = v;
                } else {
                    ns.cfg.send_buffer = v;
                }
            }
            "SO_LINGER" => {
                let Some(v) = val else {
                    return not_run("SO_LINGER value");
                };
                let on = struct_field(v, &["l_onoff", "onoff"]).unwrap_or(0);
                let secs = struct_field(v, &["l_linger", "linger"]).unwrap_or(0);
                if on != 0 && secs != 0 {
                    return not_run("SO_LINGER with a non-zero timeout");
                }
                ns.linger_zero = on != 0;
            }
            "SO_KEEPALIVE" => ns.keep_on = need(int)? != 0,
            "TCP_NODELAY" => {
                ns.cfg.nagle = need(int)? == 0;
                if let Some(id) = conn {
                    let _ = self.stack().set_nodelay(id, !ns.cfg.nagle);
                }
            }
            "TCP_MAXSEG" => {
                if live {
                    return not_run("TCP_MAXSEG on a connected or listening socket");
                }
                let v = need(int)?;
                ns.cfg.mss =
                    Some(u16::try_from(v).or_else(|_| not_run(format!("TCP_MAXSEG {v}")))?);
            }
            "TCP_KEEPIDLE" => ns.keep.idle = Duration::from_secs(need(int)?.max(0) as u64),
            "TCP_KEEPINTVL" => ns.keep.interval = Duration::from_secs(need(int)?.max(0) as u64),
            "TCP_KEEPCNT" => ns.keep.count = need(int)?.max(0) as u32,
            "TCP_KEEPINIT" => {
                // FreeBSD: seconds; 0 falls back to net.inet.tcp.keepinit. On a
                // connection still in its handshake the timer restarts now.
                let secs = need(int)?;
                let Ok(secs) = u64::try_from(secs) else {
                    return Ok(Attempt::Done(SysRet::Errno("EINVAL")));
                };
                let t = match secs {
                    0 => self.stack_cfg.conn.establish_timeout,
                    s => Some(Duration::from_secs(s)),
                };
                ns.cfg.establish_timeout = t;
                if let Some(id) = conn {
                    let _ = self.stack().set_establish_timeout(now, id, t);
                }
            }
            "TCP_USER_TIMEOUT" => {
                let ms = need(int)?.max(0) as u64;
                let t = (ms > 0).then(|| Duration::from_millis(ms));
                ns.cfg.user_timeout = t;
                if let Some(id) = conn {
                    let _ = self.stack().set_user_timeout(id, t);
                }
            }
            "TCP_NOOPT" => {
                if live {
                    return not_run("TCP_NOOPT on a connected or listening socket");
                }
                let off = need(int)? != 0;
                ns.cfg.window_scaling = !off && self.stack_cfg.conn.window_scaling;
                ns.cfg.timestamps = !off && self.stack_cfg.conn.timestamps;
                ns.cfg.sack = !off && self.stack_cfg.conn.sack;
                ns.cfg.mss_option = !off;
            }
            "IP_TTL" | "IPV6_UNICAST_HOPS" => {
                // RFC 791 3.1 TTL / RFC 8200 3 hop limit; -1 is the default (RFC 3493 5.1).
                let v = need(int)?;
                ns.cfg.ttl = match v {
                    -1 => None,
                    _ => match u8::try_from(v) {
                        Ok(t) => Some(t),
                        Err(_) => return Ok(Attempt::Done(SysRet::Errno("EINVAL"))),
                    },
                };
            }
            "IP_TOS" | "IPV6_TCLASS" => {
                let v = val.and_then(tos_of);
                let v = v.map_or_else(|| not_run(format!("setsockopt {name} value")), Ok)?;
                // RFC 2474 3: the DSCP is the upper six bits; the ECN bits stay
                // TCP's (RFC 3168 5; Linux masks them off too). -1 is the default.
                ns.cfg.dscp = match v {
                    -1 => 0,
                    _ => match u8::try_from(v) {
                        Ok(t) => t >> 2,
                        Err(_) => return Ok(Attempt::Done(SysRet::Errno("EINVAL"))),
                    },
                };
            }
            other => return not_run(format!("setsockopt {level} {other}")),
        }
        if matches!(
            name.as_str(),
            "IP_TTL" | "IPV6_UNICAST_HOPS" | "IP_TOS" | "IPV6_TCLASS"
        ) {
            match ns.kind {
                SockKind::Conn(id) => {
                    let _ = self.stack().set_ip_options(id, ns.cfg.ttl, ns.cfg.dscp);
                }
                SockKind::Listener(_) => {
                    return not_run(format!("{name} on a listening socket"));
                }
                SockKind::Fresh => {
                    // A bound socket's RSTs carry the new values: bind again.
                    if let (Some(b), Some(addr)) = (ns.bind_id, ns.bound) {
                        let cfg = Self::sock_cfg(&ns);
                        let stack = self.stack();
                        let _ = stack.unbind(b);
                        ns.bind_id = stack.bind(addr, cfg).ok();
                    }
                }
            }
        }
        if matches!(
            name.as_str(),
            "SO_KEEPALIVE" | "TCP_KEEPIDLE" | "TCP_KEEPINTVL" | "TCP_KEEPCNT"
        ) {
            if let (Some(id), true) = (conn, ns.keep_on) {
                let k = Self::sock_cfg(&ns).keepalive;
                let _ = self.stack().set_keepalive(now, id, k);
            } else if let (Some(id), false) = (conn, ns.keep_on) {
                let _ = self.stack().set_keepalive(now, id, None);
            }
        }
        self.sockets.insert(fd, ns);
        Ok(Attempt::Done(SysRet::Value(0)))
    }

    fn getsockopt(&mut self, line: u32, call: &SyscallEvent) -> Res<Attempt> {
        let fd = self.fd_arg(call)?;
        let name = call
            .args
            .get(2)
            .and_then(symbol_of)
            .unwrap_or("")
            .to_string();
        let want = call.args.get(3);
        let Some(s) = self.sockets.get(&fd).cloned() else {
            return Ok(Attempt::Done(SysRet::Errno("EBADF")));
        };
        let conn = match s.kind {
            SockKind::Conn(id) => Some(id),
            _ => None,
        };
        let semantic = self.mode == Mode::Semantic;
        // The value synack has, as a number or an errno name.
        let (value, wildcard): (Result<i64, &'static str>, bool) = match name.as_str() {
            "SO_RCVBUF" => (Ok(s.cfg.recv_buffer as i64), semantic),
            "SO_SNDBUF" => (Ok(s.cfg.send_buffer as i64), semantic),
            "SO_ERROR" => match self.take_error(fd) {
                Some(e) => (Err(e), false),
                None => (Ok(0), false),
            },
            "SO_KEEPALIVE" => (Ok(i64::from(s.keep_on)), false),
            "TCP_NODELAY" => (Ok(i64::from(!s.cfg.nagle)), false),
            "IP_TTL" | "IPV6_UNICAST_HOPS" => (
                Ok(i64::from(s.cfg.ttl.unwrap_or(synack_proto::DEFAULT_TTL))),
                false,
            ),
            "IP_TOS" | "IPV6_TCLASS" => (Ok(i64::from(s.cfg.dscp) << 2), false),
            "TCP_KEEPIDLE" => (Ok(s.keep.idle.as_secs() as i64), false),
            "TCP_KEEPINTVL" => (Ok(s.keep.interval.as_secs() as i64), false),
            "TCP_KEEPCNT" => (Ok(i64::from(s.keep.count)), false),
            "TCP_KEEPINIT" => {
                let t = s.cfg.establish_timeout.unwrap_or_default();
                (Ok(i64::try_from(t.as_secs()).unwrap_or(i64::MAX)), false)
            }
            "TCP_MAXSEG" => {
                let mss = match conn.and_then(|id| self.stack.as_ref()?.status(id).ok()) {
                    Some(st) if st.state != State::SynSent => i64::from(st.snd_mss),
                    _ => i64::from(s.cfg.mss.unwrap_or(536)),
                };
                (Ok(mss), false)
            }
            other => return not_run(format!("getsockopt {other}")),
        };
        let Some(want) = want else {
            return Ok(Attempt::Done(SysRet::Value(0)));
        };
        let shown = match value {
            Ok(v) => v.to_string(),
            Err(e) => e.to_string(),
        };
        let ok = wildcard
            || *want == Expr::Ellipsis
            || match (value, want) {
                (Ok(v), w) => int_of(w) == Some(v),
                (Err(e), w) => symbol_of(w) == Some(e),
            };
        if !ok {
            return fail(
                line,
                format!("getsockopt {name} = {}", fmt_expr(want)),
                format!("getsockopt {name} = [{shown}]"),
            );
        }
        Ok(Attempt::Done(SysRet::Value(0)))
    }

    // ----- shell commands and code blocks ---------------------------------

    fn set_conn(&mut self, f: impl FnOnce(&mut ConnConfig)) {
        f(&mut self.stack_cfg.conn);
        let c = self.stack_cfg.conn;
        if let Some(s) = self.stack.as_mut() {
            s.set_conn_config(c);
        }
    }

    fn set_stack(&mut self, what: &str, f: impl FnOnce(&mut StackConfig)) -> Res<()> {
        if self.stack.is_some() {
            return not_run(format!("{what} changed after the stack started"));
        }
        f(&mut self.stack_cfg);
        Ok(())
    }

    fn command(&mut self, line: u32, text: &str) -> Res<()> {
        for part in text.split(['\n', ';']).flat_map(|p| p.split("&&")) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            self.one_command(line, part)?;
        }
        Ok(())
    }

    fn one_command(&mut self, line: u32, cmd: &str) -> Res<()> {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let first = words.first().copied().unwrap_or("");
        if first.ends_with("common/defaults.sh") {
            // Linux's production defaults that matter to synack.
            // defaults.sh turns ECN off (tcp_ecn=0); retransmitted SYNs would drop
            // ECE and CWR (tcp_ecn_fallback=1).
            self.set_conn(|c| {
                c.timestamps = true;
                c.sack = true;
                c.window_scaling = true;
                c.ecn = EcnMode::Off;
                c.ecn_syn_retries = 0;
            });
            return Ok(());
        }
        if first.starts_with("/tmp/sysctl_restore") {
            return Ok(());
        }
        if first == "sysctl" {
            for w in &words[1..] {
                if w.starts_with('-') {
                    continue;
                }
                let Some((k, v)) = w.split_once('=') else {
                    return not_run(format!("command `{cmd}`"));
                };
                self.sysctl(k, v.trim_matches('"'))?;
            }
            return Ok(());
        }
        if first.ends_with("set_sysctls.py") {
            for w in &words[1..] {
                let Some((k, v)) = w.split_once('=') else {
                    return not_run(format!("command `{cmd}`"));
                };
                let key = k.trim_start_matches("/proc/sys/").replace('/', ".");
                self.sysctl(&key, v.trim_matches('"'))?;
            }
            return Ok(());
        }
        if first == "sockstat" {
            return self.sockstat(line, cmd);
        }
        if first == "ip" && words.get(1) == Some(&"tcp_metrics") {
            return Ok(());
        }
        not_run(format!("command `{cmd}`"))
    }

    fn sysctl(&mut self, key: &str, value: &str) -> Res<()> {
        let num = || -> Res<i64> {
            value
                .trim()
                .parse::<i64>()
                .or_else(|_| not_run(format!("sysctl {key}={value}")))
        };
        let unsupported = || not_run(format!("sysctl {key}={value}"));
        let key = key.trim_start_matches("net.ipv4.");
        match key {
            // FreeBSD.
            "net.inet.tcp.rfc1323" => {
                let on = num()? != 0;
                self.set_conn(|c| {
                    c.window_scaling = on;
                    c.timestamps = on;
                });
            }
            "net.inet.tcp.sack.enable" | "tcp_sack" => {
                let on = num()? != 0;
                self.set_conn(|c| c.sack = on);
            }
            "net.inet.tcp.blackhole" => {
                if num()? != 0 {
                    return unsupported();
                }
            }
            "net.inet.tcp.insecure_rst" => {
                let on = num()? != 0;
                self.set_conn(|c| c.rst_challenge = !on);
            }
            "net.inet.tcp.insecure_syn" => {
                let on = num()? != 0;
                self.set_conn(|c| c.syn_challenge = !on);
            }
            // FreeBSD's net.inet.tcp.ecn.enable and Linux's tcp_ecn: 0 off, 1 ask
            // and accept, 2 accept only; 3 and 4 are accurate ECN.
            "net.inet.tcp.ecn.enable" | "tcp_ecn" => {
                let mode = match num()? {
                    0 => EcnMode::Off,
                    1 => EcnMode::Request,
                    2 => EcnMode::Accept,
                    _ => return not_run(format!("accurate ECN (sysctl {key}={value})")),
                };
                self.set_conn(|c| c.ecn = mode);
            }
            "net.inet.tcp.ecn.maxretries" => {
                let v = u32::try_from(num()?.max(0)).unwrap_or(u32::MAX);
                self.set_conn(|c| c.ecn_syn_retries = v);
            }
            "net.inet.tcp.recvspace" => {
                let v = num()?.max(0) as usize;
                self.set_conn(|c| c.recv_buffer = v);
            }
            "net.inet.tcp.sendspace" => {
                let v = num()?.max(0) as usize;
                self.set_conn(|c| c.send_buffer = v);
            }
            "net.inet.tcp.rexmit_initial" => {
                let v = num()?.max(1) as u64;
                self.set_conn(|c| c.initial_rto = Duration::from_millis(v));
            }
            "net.inet.tcp.rexmit_min" => {
                let v = num()?.max(1) as u64;
                self.set_conn(|c| c.min_rto = Duration::from_millis(v));
            }
            "net.inet.tcp.rexmit_slop" => {
                let v = num()?.max(0) as u64;
                self.set_conn(|c| c.rto_slop = Duration::from_millis(v));
            }
            "net.inet.tcp.delacktime" => {
                let v = num()?.max(0) as u64;
                self.set_conn(|c| c.delayed_ack = (v > 0).then(|| Duration::from_millis(v)));
            }
            "net.inet.tcp.keepidle" => {
                self.keep_defaults.idle = Duration::from_millis(num()?.max(0) as u64)
            }
            "net.inet.tcp.keepintvl" => {
                self.keep_defaults.interval = Duration::from_millis(num()?.max(0) as u64)
            }
            "net.inet.tcp.keepcnt" => self.keep_defaults.count = num()?.max(0) as u32,
            "net.inet.tcp.keepinit" => {
                // Milliseconds; 0 stops the timer.
                let v = num()?.max(0) as u64;
                self.set_conn(|c| c.establish_timeout = (v > 0).then(|| Duration::from_millis(v)));
            }
            "net.inet.tcp.syncookies" | "tcp_syncookies" => {
                let mode = match num()? {
                    0 => SynCookies::Off,
                    2 if key == "tcp_syncookies" => SynCookies::Always,
                    _ => SynCookies::WhenFull,
                };
                self.set_stack("syncookies", |s| s.syn_cookies = mode)?;
            }
            "net.inet.tcp.syncookies_only" => {
                if num()? != 0 {
                    self.set_stack("syncookies_only", |s| s.syn_cookies = SynCookies::Always)?;
                }
            }
            // Settings of mechanisms synack does not have, at values that
            // leave the tested behaviour alone.
            "net.inet.tcp.icmp_may_rst" => {
                let on = num()? != 0;
                self.set_conn(|c| c.icmp_may_rst = on);
            }
            "kern.ipc.maxsockbuf"
            | "net.inet.tcp.hostcache.purgenow"
            | "net.inet.tcp.tolerate_missing_ts"
            | "tcp_min_tso_segs"
            | "tcp_fack"
            | "tcp_frto"
            | "tcp_reordering"
            | "tcp_congestion_control"
            | "tcp_slow_start_after_idle"
            | "tcp_recovery" => {}
            // Linux: 3 and 4 enable the tail loss probe (RFC 8985 7), every
            // other value leaves it off (`tcp_schedule_loss_probe`).
            "tcp_early_retrans" => {
                let on = matches!(num()?, 3 | 4);
                self.set_conn(|c| c.tail_loss_probe = on);
            }
            "net.inet.tcp.rexmit_drop_options" => {
                let on = num()? != 0;
                self.set_conn(|c| c.syn_rexmit_drop_options = on);
            }
            "tcp_dsack" => {
                let on = num()? != 0;
                self.set_conn(|c| c.dsack = on);
            }
            "tcp_timestamps" => {
                let on = num()? != 0;
                self.set_conn(|c| c.timestamps = on);
            }
            "tcp_window_scaling" => {
                let on = num()? != 0;
                self.set_conn(|c| c.window_scaling = on);
            }
            "tcp_syn_retries" => {
                let v = num()?.max(0) as u32;
                self.set_conn(|c| c.syn_retries = v);
            }
            "tcp_synack_retries" => {
                let v = num()?.max(0) as u32;
                self.set_conn(|c| c.synack_retries = v);
            }
            "tcp_fin_timeout" => {
                let v = num()?.max(0) as u64;
                self.set_conn(|c| c.fin_wait_2_timeout = Duration::from_secs(v));
            }
            "tcp_rmem" | "tcp_wmem" => {
                let parts: Vec<usize> = value
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect();
                let Some(&def) = parts.get(1) else {
                    return unsupported();
                };
                if key == "tcp_rmem" {
                    self.set_conn(|c| c.recv_buffer = def);
                } else {
                    self.set_conn(|c| c.send_buffer = def);
                }
            }
            _ => return unsupported(),
        }
        Ok(())
    }

    /// `sockstat ... | grep -c STATE | grep N`: counts connections in a state.
    fn sockstat(&mut self, line: u32, cmd: &str) -> Res<()> {
        let stages: Vec<Vec<&str>> = cmd
            .split('|')
            .map(|s| s.split_whitespace().collect())
            .collect();
        let mut port: Option<u16> = None;
        if let Some(first) = stages.first() {
            if let Some(i) = first.iter().position(|w| *w == "-p") {
                port = first.get(i + 1).and_then(|p| p.parse().ok());
            }
        }
        let mut state_name: Option<&str> = None;
        let mut count: Option<usize> = None;
        for st in &stages[1..] {
            match st.as_slice() {
                ["grep", "packetdril"] => {}
                ["grep", "-c", s] => state_name = Some(s),
                ["grep", n] if state_name.is_some() => count = n.parse().ok(),
                _ => return not_run(format!("command `{cmd}`")),
            }
        }
        let (Some(name), Some(n)) = (state_name, count) else {
            return not_run(format!("command `{cmd}`"));
        };
        let Some(state) = State::from_name(name) else {
            return not_run(format!("sockstat state {name}"));
        };
        let actual = self.stack.as_ref().map_or(0, |s| {
            s.connections()
                .iter()
                .filter(|(_, st)| st.state == state)
                .filter(|(_, st)| port.is_none() || port == Some(st.tuple.local.port()))
                .count()
        });
        if actual != n {
            return fail(
                line,
                format!("{n} connection(s) in {}", state.name()),
                format!("{actual} connection(s) in {}", state.name()),
            );
        }
        Ok(())
    }

    fn code(&mut self, line: u32, text: &str) -> Res<()> {
        let subject = match self
            .subject_fd
            .and_then(|fd| self.sockets.get(&fd))
            .map(|s| s.kind)
        {
            Some(SockKind::Listener(_)) => Subject::Listener,
            Some(SockKind::Conn(id)) => Subject::Conn(
                self.stack
                    .as_ref()
                    .and_then(|s| s.status(id).ok())
                    .map(Box::new),
            ),
            _ => {
                // The socket was closed: find its connection in the table.
                let st = self.current.and_then(|id| {
                    self.stack
                        .as_ref()?
                        .connections()
                        .into_iter()
                        .find(|(cid, _)| *cid == Some(id))
                        .map(|(_, s)| s)
                });
                Subject::Conn(st.map(Box::new))
            }
        };
        match tcpinfo::evaluate(text, &subject) {
            Ok(()) => Ok(()),
            Err(CodeError::Unsupported(what)) => not_run(what),
            Err(CodeError::Failed { assertion, values }) => fail(line, assertion, values),
        }
    }
}
