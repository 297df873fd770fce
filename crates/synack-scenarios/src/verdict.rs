//! What a run's checks add up to: the three honest verdicts, the kinds of
//! check behind them, and what the injected faults did.
//!
//! A scenario tells a story on a clean link (this path, these segments).
//! Under injected faults the stack may lawfully take another path, or the
//! story may not be able to finish (every SYN lost). So the checks come in
//! three kinds ([`CheckKind`]): RFC rules that hold on any link, the
//! scenario's story (its end result), and the path expected on a clean link.
//! [`Verdict`] says which of them decided the run.

use core::fmt;

/// What a check judges, and so what its failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// A property RFC 9293 (or the RFC named in the check) requires on any
    /// link, under any fault: a failure is a broken rule.
    Rule,
    /// The scenario's end result (the connection was refused, every byte
    /// arrived, both sides closed). On a clean link a failure is a bug; with
    /// faults injected, the faults may have kept the story from finishing.
    Story,
    /// The exact path expected on a clean link (these states, these
    /// segments). Compared on a clean link; with faults injected a
    /// difference is another legal path, shown but not a failure.
    Path,
}

impl CheckKind {
    /// `rule`, `story`, `path`: the name in the JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            CheckKind::Rule => "rule",
            CheckKind::Story => "story",
            CheckKind::Path => "path",
        }
    }
}

/// What a run's checks add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No fault was injected and every check held: the textbook path.
    AsExpected,
    /// Faults were injected; every RFC rule held and the story finished.
    /// `differed` path checks (expected on a clean link) came out another
    /// way: the faults led the run along another path RFC 9293 allows.
    LegalPath {
        /// How many clean-link expectations differed (0: same path).
        differed: usize,
    },
    /// Faults were injected; every RFC rule held, but the faults kept the
    /// scenario from finishing its story (for example: the RST that was to
    /// reset the peer was lost, and RFC 9293 never resends a RST).
    Incomplete {
        /// The story checks that did not come true, in words.
        unmet: Vec<String>,
    },
    /// The stack broke an RFC rule, or on a clean link did not do what the
    /// scenario requires: the failed checks say which and where.
    Violation,
}

impl Verdict {
    /// `as-expected`, `legal-path`, `incomplete`, `violation`: the name in
    /// the JSON output.
    pub const fn name(&self) -> &'static str {
        match self {
            Verdict::AsExpected => "as-expected",
            Verdict::LegalPath { .. } => "legal-path",
            Verdict::Incomplete { .. } => "incomplete",
            Verdict::Violation => "violation",
        }
    }

    /// Whether the stack broke a rule (the command exits 1).
    pub const fn is_violation(&self) -> bool {
        matches!(self, Verdict::Violation)
    }
}

/// What the link's random faults did to the packets of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkTally {
    /// Packets lost at random.
    pub lost: u64,
    /// Packets delivered twice.
    pub duplicated: u64,
    /// Packets held back so later ones overtook them.
    pub reordered: u64,
    /// Packets delivered with bytes flipped.
    pub corrupted: u64,
    /// Packets a fault rule dropped.
    pub dropped_by_rule: u64,
    /// Packets a fault rule delayed.
    pub delayed_by_rule: u64,
    /// Packets marked Congestion Experienced.
    pub ce_marked: u64,
}

impl fmt::Display for LinkTally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [
            (self.lost, "lost"),
            (self.dropped_by_rule, "dropped by a rule"),
            (self.delayed_by_rule, "delayed by a rule"),
            (self.duplicated, "duplicated"),
            (self.reordered, "reordered"),
            (self.corrupted, "corrupted"),
            (self.ce_marked, "CE-marked"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() {
            f.write_str("no packet was touched")
        } else {
            write!(f, "packets: {}", parts.join(", "))
        }
    }
}

/// A targeted fault rule (`--drop` or the scenario's own) and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleReport {
    /// The spec as given (`client:3:FIN`), or the rule's own label.
    pub spec: String,
    /// What the rule does, in words (`drop the 3rd FIN from client`).
    pub description: String,
    /// Whether the user gave it (`--drop`) rather than the scenario.
    pub user: bool,
    /// Packets that matched its criteria.
    pub matched: u64,
    /// Packets it acted on (dropped, delayed or marked).
    pub fired: u64,
    /// Packets a CE rule was due to mark but left alone because they were
    /// not ECN-capable (RFC 3168 5: only ECT packets are marked).
    pub not_ect: u64,
}

impl RuleReport {
    /// Why the rule did nothing, if it did nothing: never matched enough
    /// packets, or only packets that cannot carry CE.
    pub fn idle_reason(&self) -> Option<String> {
        if self.fired > 0 {
            return None;
        }
        Some(if self.not_ect > 0 {
            format!(
                "rule {:?} ({}) never fired: the packet it chose was not ECN-capable, so it was left unmarked (RFC 3168 5 marks only ECT packets)",
                self.spec, self.description
            )
        } else {
            format!(
                "rule {:?} ({}) never fired: {} packet(s) matched its flags, fewer than it counts to",
                self.spec, self.description, self.matched
            )
        })
    }
}
