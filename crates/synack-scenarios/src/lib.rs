//! The connection lifecycle scenarios of synack (`/work/shared/SCENARIOS.md`),
//! each runnable in the simulator with two hosts, `client` (10.0.0.1) and
//! `server` (10.0.0.2), applications written against the [`Stack`](synack_proto::Stack) socket
//! calls, and optional link faults.
//!
//! A scenario returns its [`Outcome`]: the simulator's trace (for the ladder
//! diagram, JSON lines, Mermaid, SVG, HTML and pcap views), the hosts, the
//! listeners' counters as the stack reports them, every connection still
//! alive at the end, the checks and their [`Verdict`], each sender's
//! numbers over time (for the plots) and the applications' socket calls.
//!
//! The checks are of three kinds ([`CheckKind`]): RFC rules that hold on any
//! link (every state change is one RFC 9293's diagram allows, with a cause
//! the trace bears out; bytes arrive exactly and in order; TIME_WAIT lasts
//! 2*MSL; retransmission timeouts back off; keepalive probes keep their
//! schedule; nothing is left stuck), the scenario's story (its end result),
//! and the path expected on a clean link. A broken rule, or on a clean link
//! any failed check, is [`Verdict::Violation`] and comes back as
//! [`ScenarioError::Misbehaved`] (which keeps the outcome so it can still be
//! shown). With faults injected, another legal path is
//! [`Verdict::LegalPath`] and a story the faults kept from finishing is
//! [`Verdict::Incomplete`]: neither is the stack's fault.
//!
//! ```
//! use synack_scenarios::{find, Options, Verdict};
//! let refused = find("refused").expect("in the catalog");
//! let outcome = (refused.run)(&Options::default()).expect("the stack behaves");
//! assert!(outcome.checks.iter().all(|c| c.passed));
//! assert_eq!(outcome.verdict, Verdict::AsExpected);
//!
//! // Under 30 % loss the story may take another path, or not finish; the
//! // stack still breaks no rule.
//! let lossy = Options { loss: 0.3, seed: 7, ..Options::default() };
//! let outcome = (refused.run)(&lossy).expect("no rule broken");
//! assert!(!outcome.verdict.is_violation());
//! ```
#![forbid(unsafe_code)]

mod catalog;
mod peer;
mod props;
mod verdict;
mod world;

use core::fmt;
use std::net::IpAddr;
use synack_proto::{ConnStatus, Duration, Keepalive, SynCookies};
use synack_sim::{FaultSpecError, SimError, TraceEntry};
use synack_trace::{HostInfo, ListenerView, Series, SocketCall};

pub use catalog::{demo, SCENARIOS};
pub use verdict::{CheckKind, LinkTally, RuleReport, Verdict};

/// One entry of the catalog.
#[derive(Clone, Copy)]
pub struct ScenarioInfo {
    /// The name used on the command line (`handshake`, `lost-syn`...).
    pub name: &'static str,
    /// One line saying what it shows.
    pub description: &'static str,
    /// Run it.
    pub run: fn(&Options) -> Result<Outcome, ScenarioError>,
}

impl fmt::Debug for ScenarioInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScenarioInfo")
            .field("name", &self.name)
            .field("description", &self.description)
            .finish()
    }
}

/// The scenario called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static ScenarioInfo> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// The names of every scenario, in catalog order.
pub fn names() -> Vec<&'static str> {
    SCENARIOS.iter().map(|s| s.name).collect()
}

/// How to run a scenario: the seed, the link and the stacks' settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Seed of every random decision (ISNs, ports, link faults).
    pub seed: u64,
    /// One-way delay of the link (default 10 ms).
    pub delay: Duration,
    /// Extra random delay, up to this much, per packet.
    pub jitter: Duration,
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Probability that a packet is held back so later ones overtake it.
    pub reorder: f64,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
    /// Probability that a packet arrives with bytes flipped.
    pub corrupt: f64,
    /// Link and stack MTU (default 1500).
    pub mtu: Option<u16>,
    /// Targeted drops in the simulator's fault spec grammar
    /// (e.g. `client:2:ACK,!SYN,!FIN`). When given, they replace the
    /// scenario's own targeted drop.
    pub drops: Vec<String>,
    /// Maximum segment lifetime: TIME_WAIT lasts 2*MSL (default 30 s).
    pub msl: Option<Duration>,
    /// Keepalive settings for the keepalive scenario (default: 2 h, 75 s, 9).
    pub keepalive: Option<Keepalive>,
    /// SYN cookie policy of the server (default: when the SYN queue is full).
    pub syn_cookies: Option<SynCookies>,
    /// The server's listen backlog (accept and SYN queue limits).
    pub backlog: Option<usize>,
    /// A deliberately broken stack, for tests that prove the checks can
    /// fail. `None` (the default) runs synack as built.
    #[doc(hidden)]
    pub mutation: Option<Mutation>,
}

/// A deliberate defect planted in the run, so a test can prove the RFC
/// rule checks catch a stack that breaks them. Not for users: the
/// scenarios and the command never set it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// The stacks hold TIME_WAIT for one MSL instead of two.
    ShortTimeWait,
    /// The stacks never back off their retransmission timeout (their RTO
    /// ceiling is the initial RTO).
    NoBackoff,
    /// The stacks report FIN_WAIT_2 -> CLOSED where they went to TIME_WAIT.
    SkipTimeWait,
    /// The applications read their first received byte twice.
    RepeatByte,
}

impl Mutation {
    /// Every mutation.
    pub const ALL: [Mutation; 4] = [
        Mutation::ShortTimeWait,
        Mutation::NoBackoff,
        Mutation::SkipTimeWait,
        Mutation::RepeatByte,
    ];
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            reorder: 0.0,
            duplicate: 0.0,
            corrupt: 0.0,
            mtu: None,
            drops: Vec::new(),
            msl: None,
            keepalive: None,
            syn_cookies: None,
            backlog: None,
            mutation: None,
        }
    }
}

/// The smallest MTU accepted (an IPv4 header, a TCP header and room for data).
pub const MIN_MTU: u16 = 128;

impl Options {
    /// Check the values: probabilities in `[0, 1]`, a usable MTU, a backlog
    /// of at least one, a keepalive count of at least one.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        for (name, p) in [
            ("--loss", self.loss),
            ("--reorder", self.reorder),
            ("--duplicate", self.duplicate),
            ("--corrupt", self.corrupt),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(ScenarioError::BadOption {
                    option: name,
                    problem: format!("{p} is not a probability between 0 and 1"),
                });
            }
        }
        if let Some(m) = self.mtu {
            if m < MIN_MTU {
                return Err(ScenarioError::BadOption {
                    option: "--mtu",
                    problem: format!("{m} is below the minimum of {MIN_MTU} bytes"),
                });
            }
        }
        if self.backlog == Some(0) {
            return Err(ScenarioError::BadOption {
                option: "--backlog",
                problem: "the backlog must be at least 1".into(),
            });
        }
        if let Some(k) = self.keepalive {
            if k.count == 0 || k.idle.is_zero() || k.interval.is_zero() {
                return Err(ScenarioError::BadOption {
                    option: "--keepalive",
                    problem: "idle and interval must be positive and count at least 1".into(),
                });
            }
        }
        if self.msl.is_some_and(|m| m.is_zero()) {
            return Err(ScenarioError::BadOption {
                option: "--msl",
                problem: "the MSL must be positive".into(),
            });
        }
        Ok(())
    }

    /// No random link fault and no targeted drop from the user: the run
    /// follows the textbook path exactly, so the path itself is checked.
    pub fn is_clean(&self) -> bool {
        self.jitter.is_zero()
            && self.loss == 0.0
            && self.reorder == 0.0
            && self.duplicate == 0.0
            && self.corrupt == 0.0
            && self.drops.is_empty()
    }
}

/// A host of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Its name (`client`, `server`).
    pub name: String,
    /// Its address.
    pub addr: IpAddr,
}

/// One check of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What should hold, in words (and, for a broken rule, where it broke).
    pub what: String,
    /// Whether it held.
    pub passed: bool,
    /// What it judges: an RFC rule, the story, or the clean-link path.
    pub kind: CheckKind,
}

/// A connection still alive at the end of the run, as its stack reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostConn {
    /// The host's name.
    pub host: String,
    /// The stack's snapshot.
    pub status: ConnStatus,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The simulator's trace: every stack event and every packet on the link.
    pub trace: Vec<TraceEntry>,
    /// The hosts, in host id order.
    pub hosts: Vec<Host>,
    /// Each listener's counters as its stack reports them at the end.
    pub listeners: Vec<ListenerView>,
    /// Connections still alive at the end (TIME_WAIT included).
    pub connections: Vec<HostConn>,
    /// The scenario's own checks, in its order.
    pub checks: Vec<Check>,
    /// Each connection's sender numbers (cwnd, ssthresh, bytes in flight,
    /// SRTT, RTO) after every step of the run that changed them.
    pub series: Series,
    /// The applications' socket calls, in the order they were made.
    pub calls: Vec<SocketCall>,
    /// The RFC rules every run is held to, whatever the scenario: the state
    /// diagram, timers, nothing left stuck (all of kind [`CheckKind::Rule`]).
    pub rule_checks: Vec<Check>,
    /// What the checks add up to.
    pub verdict: Verdict,
    /// Whether faults were injected (random link faults or `--drop` rules):
    /// when not, the run must follow the textbook path exactly.
    pub faulty: bool,
    /// What the link's faults did to the packets.
    pub tally: LinkTally,
    /// Each targeted fault rule and what it did.
    pub rules: Vec<RuleReport>,
}

impl Outcome {
    /// The hosts as the trace renderers take them.
    pub fn host_infos(&self) -> Vec<HostInfo<'_>> {
        self.hosts
            .iter()
            .map(|h| HostInfo {
                name: &h.name,
                addr: h.addr,
            })
            .collect()
    }

    /// Every check: the general RFC rules, then the scenario's own.
    pub fn all_checks(&self) -> impl Iterator<Item = &Check> {
        self.rule_checks.iter().chain(&self.checks)
    }

    /// The checks that failed, whatever their kind.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.all_checks().filter(|c| !c.passed)
    }

    /// The failed checks that make the run a violation: a broken rule, or
    /// on a clean link any failed check.
    pub fn violations(&self) -> impl Iterator<Item = &Check> {
        let faulty = self.faulty;
        self.all_checks()
            .filter(move |c| !c.passed && (c.kind == CheckKind::Rule || !faulty))
    }

    /// The targeted fault rules that never acted on a packet, each with why.
    pub fn idle_rules(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter_map(RuleReport::idle_reason)
            .collect()
    }
}

/// Why a scenario could not run, or what it found wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ScenarioError {
    /// An option has a value out of range.
    BadOption {
        /// The option, as written on the command line.
        option: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A `--drop` spec does not parse.
    BadDrop {
        /// The spec given.
        spec: String,
        /// Why it does not parse.
        error: FaultSpecError,
    },
    /// The simulation could not go on (livelock, flood).
    Sim(SimError),
    /// A socket call failed where it must not.
    Stack {
        /// The call.
        call: &'static str,
        /// Its error.
        error: synack_proto::Error,
    },
    /// The stack did not behave as the scenario requires: some checks
    /// failed. The outcome is kept so the run can still be shown.
    Misbehaved(Box<Outcome>),
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::BadOption { option, problem } => write!(f, "invalid {option}: {problem}"),
            ScenarioError::BadDrop { spec, error } => write!(
                f,
                "invalid --drop {spec:?}: {error} (format HOST[>HOST]:N|*:FLAGS[@START-END][+DELAY], e.g. client:2:ACK,!SYN,!FIN)"
            ),
            ScenarioError::Sim(e) => write!(f, "simulation failed: {e}"),
            ScenarioError::Stack { call, error } => write!(f, "{call} failed: {error}"),
            ScenarioError::Misbehaved(o) => {
                let failed: Vec<&str> = o.violations().map(|c| c.what.as_str()).collect();
                write!(f, "the stack misbehaved: {}", failed.join("; "))
            }
        }
    }
}

impl std::error::Error for ScenarioError {}

impl From<SimError> for ScenarioError {
    fn from(e: SimError) -> Self {
        ScenarioError::Sim(e)
    }
}

/// A stack as the scenarios build them (for tools that want the same settings).
pub fn stack_config(opts: &Options) -> synack_proto::StackConfig {
    world::stack_config(opts)
}
