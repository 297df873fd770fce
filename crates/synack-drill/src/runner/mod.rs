//! Executes one parsed script against a fresh synack [`Stack`] on a virtual
//! clock. The script plays the remote host: inbound packets are built and
//! injected, outbound packets are matched in order, syscalls map onto the
//! stack's socket calls.
//!
//! This file holds the run itself (the [`Runner`] state and the dispatch of
//! each script line); the rest is by concern:
//!
//! * `setup`: the script's `--` options and its system's defaults;
//! * `clock`: the virtual clock, timers and tolerances;
//! * `inject`, `icmp`: inbound TCP and ICMP packets;
//! * `sniff`, `compare`, `format`: outbound packets captured, compared
//!   (strict or semantic) and written in differences;
//! * `syscall`: syscall lines, by family, on the sockets of `socket`, their
//!   arguments read by `expr`;
//! * `command`, `sysctl`, `code`: backtick commands, the sysctl table and
//!   `%{ }%` blocks.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use synack_proto::{ConnId, StackConfig};

use crate::ast::{Direction, Event, EventKind, PacketEvent, Script, TimeSpec};

mod clock;
mod code;
mod command;
mod compare;
mod expr;
mod format;
mod icmp;
mod inject;
mod nstat;
mod setup;
mod shell;
mod sniff;
mod socket;
mod sut;
mod syscall;
mod sysctl;

use format::secs;
use sniff::Captured;
use socket::{KeepParams, Socket};
pub use sut::StackKind;
use sut::StackUnderTest;
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

/// Runs `script` in `mode` against synack and reports the outcome.
pub fn run_script(script: &Script, mode: Mode) -> Outcome {
    run_script_on(script, mode, StackKind::Synack)
}

/// Runs `script` in `mode` against the stack `kind` and reports the
/// outcome: "not run" if the stack lacks an API the script needs.
pub fn run_script_on(script: &Script, mode: Mode, kind: StackKind) -> Outcome {
    if !kind.available() {
        return Outcome::NotRun(format!(
            "{} (built without the `{}` feature)",
            kind.name(),
            kind.name()
        ));
    }
    let mut r = match Runner::new(script, mode, kind) {
        Ok(r) => r,
        Err(Stop::NotRun(s)) => return Outcome::NotRun(s),
        Err(Stop::Fail(d)) => return Outcome::Failed(d),
    };
    let result = r.run();
    if let Some(api) = r.stack.as_ref().and_then(|s| s.missing()) {
        return Outcome::NotRun(format!("{} lacks {api}", kind.name()));
    }
    match result {
        Ok(()) => Outcome::Passed,
        Err(Stop::NotRun(s)) => Outcome::NotRun(s),
        Err(Stop::Fail(d)) => Outcome::Failed(d),
    }
}

struct Runner<'a> {
    script: &'a Script,
    mode: Mode,
    stack_cfg: StackConfig,
    /// Which stack runs the script.
    kind: StackKind,
    stack: Option<Box<dyn StackUnderTest>>,
    keep_defaults: KeepParams,
    now: u64,
    last_event: u64,
    local_ip: IpAddr,
    remote_ip: IpAddr,
    bind_port: u16,
    connect_port: u16,
    sockets: BTreeMap<i64, Socket>,
    /// epoll instances by descriptor.
    epolls: BTreeMap<i64, syscall::epoll::Epoll>,
    out: VecDeque<Captured>,
    isn_offset: Option<u32>,
    ts_base: Option<(u32, u32)>,
    /// The ports of the connection `ts_base` was learned on.
    ts_ports: (u16, u16),
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
    /// Linux's `tcp_fastopen` bits (0x400: every listener a Fast Open server).
    fastopen_bits: u32,
    /// The `tcp_fastopen_key` sysctl's keys, given to every listener.
    fastopen_keys: Option<synack_proto::FastOpenKeys>,
    /// The counters at the last `nstat`.
    nstat_base: Option<synack_proto::StackStats>,
    /// The sequence number of the script's last SYN (Linux scripts): the
    /// remote's later sequence numbers, and synack's acknowledgments of
    /// them, are written relative to it.
    remote_isn: u32,
    /// Passive connections the script opened so far (each from its own
    /// remote port, as packetdrill gives every SYN to a listener).
    passive_opens: u16,
    /// A SYN reached the listener under test since its `listen`.
    listener_got_syn: bool,
}

impl<'a> Runner<'a> {
    fn stack(&mut self) -> &mut dyn StackUnderTest {
        let (kind, cfg, local) = (self.kind, self.stack_cfg, self.local_ip);
        self.stack
            .get_or_insert_with(|| sut::make(kind, cfg, local, SEED))
            .as_mut()
    }

    fn run(&mut self) -> Res<()> {
        if let Some(c) = &self.script.init_command {
            self.command(c.line, &c.text)?;
        }
        let script = self.script;
        for (i, ev) in script.events.iter().enumerate() {
            self.event(i, ev)?;
            self.epoll_observe();
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
