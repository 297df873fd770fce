//! Targeted faults, as data: rules that drop or delay chosen packets.
//!
//! A [`FaultRule`] matches packets by sending host, optionally receiving
//! host, TCP flags that must be present and flags that must be absent, an
//! optional port and an optional time window; it then acts on every match or
//! only on the Nth match.
//!
//! # Evaluation order
//!
//! Rules are evaluated before the link's own random faults, in the order
//! they were added to the simulation. **Every** rule sees every packet and
//! counts its own matches, so "the 2nd SYN from client" means the 2nd SYN
//! the client put on the wire, whatever other rules did to the first. Of the
//! rules that fire for a packet, **the first one wins**: its action (drop or
//! delay) is applied and the others are ignored for that packet.
//!
//! # Spec grammar
//!
//! [`FaultRule::parse`] reads the compact form used on the command line:
//!
//! ```text
//! spec    = from [ ">" to ] ":" count ":" flags [ "@" window ] [ "+" delay | "=ce" ]
//! from    = host name            the sender
//! to      = host name            the receiver (default: any receiver)
//! count   = N | "*"              the Nth matching packet (N >= 1), or every one
//! flags   = "*" | flag { "," flag }
//! flag    = [ "!" ] NAME         NAME is SYN ACK FIN RST PSH URG ECE CWR (any
//!                                case); plain names must all be present,
//!                                "!" names must all be absent
//! window  = time "-" time        only packets sent at start <= t < end; a
//!                                start without unit takes the end's unit
//! delay   = time                 delay the packet by this instead of dropping it
//! "=ce"                          set Congestion Experienced instead of dropping
//!                                (RFC 3168 5: an ECN-capable packet is marked;
//!                                one that is not ECN-capable passes unchanged and
//!                                is counted in `FaultStatus::not_ect`)
//! time    = digits unit          unit is "us", "ms" or "s"
//! ```
//!
//! The `@window`, `+delay` and `=ce` suffixes may come in any order. Host names
//! are matched exactly against the names given to the simulation.
//!
//! Examples, with hosts `client` and `server`:
//!
//! | spec | meaning |
//! | --- | --- |
//! | `client:3:FIN` | drop the 3rd packet from client carrying FIN |
//! | `server:1:SYN,ACK` | drop the first SYN,ACK from server |
//! | `client:*:ACK,!SYN` | drop every packet from client with ACK and without SYN |
//! | `client>server:*:*@1000-2000ms` | partition client->server from 1 s to 2 s |
//! | `client:2:SYN+3s` | delay the 2nd SYN from client by 3 s |
//! | `client:3:ACK,!SYN=ce` | CE-mark the 3rd non-SYN packet from client |
//!
//! A flag or port matcher only matches packets with a readable TCP header;
//! a rule with no flags and no port matches any packet, garbage included.

use crate::peek::{self, Flags};
use crate::trace::HostId;
use core::fmt;
use synack_proto::{Duration, Instant};

/// What a rule does to the packets it fires on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Drop the packet ([`crate::DropCause::Rule`] with the description).
    Drop,
    /// Delay the packet by this much on top of the link's delay.
    Delay(Duration),
    /// Set Congestion Experienced on an ECN-capable packet; drop one that is
    /// not (what a congested ECN-capable queue does, RFC 3168 5).
    MarkCe,
}

/// A targeted fault. See the [module documentation](self) for how rules
/// combine and for the spec grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// The sending host.
    pub from: HostId,
    /// The receiving host; `None` for any.
    pub to: Option<HostId>,
    /// TCP flags that must all be set.
    pub include: Flags,
    /// TCP flags that must all be clear.
    pub exclude: Flags,
    /// A port that must be the source or destination port.
    pub port: Option<u16>,
    /// Fire only on the Nth match (counting from 1); `None` fires on every
    /// match. `Some(0)` never fires.
    pub nth: Option<u64>,
    /// Only packets sent at `start <= t < end` match.
    pub window: Option<(Instant, Instant)>,
    /// What to do.
    pub action: FaultAction,
    /// A description to use instead of the generated one.
    pub label: Option<String>,
}

impl FaultRule {
    fn base(from: HostId, action: FaultAction) -> FaultRule {
        FaultRule {
            from,
            to: None,
            include: Flags::EMPTY,
            exclude: Flags::EMPTY,
            port: None,
            nth: None,
            window: None,
            action,
            label: None,
        }
    }

    /// Drop the `n`th packet from `from` to `to` whose flags include `flags`.
    pub fn drop_nth(from: HostId, to: HostId, n: u64, flags: Flags) -> FaultRule {
        FaultRule {
            to: Some(to),
            include: flags,
            nth: Some(n),
            ..FaultRule::base(from, FaultAction::Drop)
        }
    }

    /// Drop everything from `from` to `to` sent at `start <= t < end`: a
    /// one-way partition. Add the reverse rule for a full partition.
    pub fn partition(from: HostId, to: HostId, start: Instant, end: Instant) -> FaultRule {
        FaultRule {
            to: Some(to),
            window: Some((start, end)),
            ..FaultRule::base(from, FaultAction::Drop)
        }
    }

    /// Delay the `n`th packet from `from` to `to` whose flags include `flags`
    /// by `delay`.
    pub fn delay_nth(from: HostId, to: HostId, n: u64, flags: Flags, delay: Duration) -> FaultRule {
        FaultRule {
            to: Some(to),
            include: flags,
            nth: Some(n),
            ..FaultRule::base(from, FaultAction::Delay(delay))
        }
    }

    /// Drop every packet from `from` (to anyone) whose flags include `flags`.
    pub fn drop_matching(from: HostId, flags: Flags) -> FaultRule {
        FaultRule {
            include: flags,
            ..FaultRule::base(from, FaultAction::Drop)
        }
    }

    /// Also require these flags to be clear.
    pub fn excluding(mut self, flags: Flags) -> FaultRule {
        self.exclude = self.exclude | flags;
        self
    }

    /// Only packets to `to`.
    pub fn to(mut self, to: HostId) -> FaultRule {
        self.to = Some(to);
        self
    }

    /// Only packets sent at `start <= t < end`.
    pub fn during(mut self, start: Instant, end: Instant) -> FaultRule {
        self.window = Some((start, end));
        self
    }

    /// Only TCP segments with `port` as source or destination port.
    pub fn on_port(mut self, port: u16) -> FaultRule {
        self.port = Some(port);
        self
    }

    /// Use `label` as the description.
    pub fn labelled(mut self, label: impl Into<String>) -> FaultRule {
        self.label = Some(label.into());
        self
    }

    /// Whether a packet sent by `from` to `to` at `now` matches this rule's
    /// criteria (everything but the count).
    pub fn matches(&self, from: HostId, to: HostId, now: Instant, packet: &[u8]) -> bool {
        if from != self.from || self.to.is_some_and(|t| t != to) {
            return false;
        }
        if let Some((start, end)) = self.window {
            if now < start || now >= end {
                return false;
            }
        }
        if self.include.is_empty() && self.exclude.is_empty() && self.port.is_none() {
            return true;
        }
        let Some(tcp) = peek::tcp(packet) else {
            return false;
        };
        tcp.flags.contains(self.include)
            && !tcp.flags.intersects(self.exclude)
            && match self.port {
                Some(p) => tcp.src_port == p || tcp.dst_port == p,
                None => true,
            }
    }

    /// The human-readable description, with host names taken from `names`
    /// (indexed by [`HostId`]; `host N` for a missing one). The label, if set,
    /// wins.
    pub fn describe<S: AsRef<str>>(&self, names: &[S]) -> String {
        if let Some(label) = &self.label {
            return label.clone();
        }
        let name = |id: HostId| {
            names
                .get(id)
                .map_or_else(|| format!("host {id}"), |n| n.as_ref().to_string())
        };
        let mut s = match self.action {
            FaultAction::Drop => "drop ".to_string(),
            FaultAction::Delay(d) => format!("delay by {d:?} "),
            FaultAction::MarkCe => "CE-mark ".to_string(),
        };
        match self.nth {
            Some(n) => s.push_str(&format!("the {} packet ", ordinal(n))),
            None => s.push_str("every packet "),
        }
        s.push_str(&name(self.from));
        s.push_str("->");
        match self.to {
            Some(to) => s.push_str(&name(to)),
            None => s.push('*'),
        }
        if !self.include.is_empty() {
            s.push_str(&format!(" with {}", self.include));
        }
        if !self.exclude.is_empty() {
            s.push_str(&format!(" without {}", self.exclude));
        }
        if let Some(p) = self.port {
            s.push_str(&format!(" on port {p}"));
        }
        if let Some((a, b)) = self.window {
            s.push_str(&format!(" sent in [{a}, {b})"));
        }
        s
    }

    /// Parse the compact spec form; `host_names[i]` is the name of host `i`.
    /// See the [module documentation](self) for the grammar.
    ///
    /// ```
    /// use synack_sim::{FaultRule, FaultAction, peek::Flags};
    /// let r = FaultRule::parse("client:3:FIN", &["client", "server"]).unwrap();
    /// assert_eq!((r.from, r.nth, r.include), (0, Some(3), Flags::FIN));
    /// assert_eq!(r.action, FaultAction::Drop);
    /// ```
    pub fn parse<S: AsRef<str>>(spec: &str, host_names: &[S]) -> Result<FaultRule, FaultSpecError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(FaultSpecError::Empty);
        }
        let head_end = spec.find(['@', '+', '=']).unwrap_or(spec.len());
        let (head, mut rest) = spec.split_at(head_end);
        let mut window_text = None;
        let mut delay_text = None;
        let mut mark_text = None;
        while let Some(marker) = rest.chars().next() {
            let body = &rest[1..];
            let end = body.find(['@', '+', '=']).unwrap_or(body.len());
            let slot = match marker {
                '@' => &mut window_text,
                '+' => &mut delay_text,
                _ => &mut mark_text,
            };
            if slot.is_some() {
                return Err(FaultSpecError::Repeated { marker });
            }
            *slot = Some(&body[..end]);
            rest = &body[end..];
        }

        let fields: Vec<&str> = head.split(':').collect();
        let [hosts, count, flags] = fields[..] else {
            return Err(FaultSpecError::FieldCount {
                found: fields.len(),
            });
        };
        let lookup = |name: &str| {
            let name = name.trim();
            host_names
                .iter()
                .position(|n| n.as_ref() == name)
                .ok_or_else(|| FaultSpecError::UnknownHost {
                    name: name.to_string(),
                    known: host_names.iter().map(|n| n.as_ref().to_string()).collect(),
                })
        };
        let (from, to) = match hosts.split_once('>') {
            Some((f, t)) => (lookup(f)?, Some(lookup(t)?)),
            None => (lookup(hosts)?, None),
        };
        let count = count.trim();
        let nth = if count == "*" {
            None
        } else {
            match count.parse::<u64>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    return Err(FaultSpecError::BadCount {
                        text: count.to_string(),
                    })
                }
            }
        };
        let (include, exclude) = parse_flags(flags)?;
        let window = window_text.map(parse_window).transpose()?;
        let action = match (delay_text, mark_text) {
            (Some(_), Some(_)) => return Err(FaultSpecError::DelayAndMark),
            (Some(t), None) => FaultAction::Delay(parse_time(t, None)?),
            (None, Some(m)) if m.trim().eq_ignore_ascii_case("ce") => FaultAction::MarkCe,
            (None, Some(m)) => {
                return Err(FaultSpecError::UnknownMark {
                    text: m.trim().to_string(),
                })
            }
            (None, None) => FaultAction::Drop,
        };
        Ok(FaultRule {
            from,
            to,
            include,
            exclude,
            port: None,
            nth,
            window,
            action,
            label: None,
        })
    }
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn parse_flags(text: &str) -> Result<(Flags, Flags), FaultSpecError> {
    let text = text.trim();
    if text == "*" {
        return Ok((Flags::EMPTY, Flags::EMPTY));
    }
    let mut include = Flags::EMPTY;
    let mut exclude = Flags::EMPTY;
    for item in text.split(',') {
        let item = item.trim();
        let (negated, name) = match item.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, item),
        };
        let flag = Flags::from_name(name).ok_or_else(|| FaultSpecError::UnknownFlag {
            text: item.to_string(),
        })?;
        if negated {
            exclude = exclude | flag;
        } else {
            include = include | flag;
        }
    }
    if include.intersects(exclude) {
        return Err(FaultSpecError::ContradictoryFlags {
            flags: Flags(include.0 & exclude.0),
        });
    }
    Ok((include, exclude))
}

fn split_unit(text: &str) -> (&str, &str) {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(digits)
}

fn parse_time(text: &str, default_unit: Option<&str>) -> Result<Duration, FaultSpecError> {
    let text = text.trim();
    let bad = || FaultSpecError::BadTime {
        text: text.to_string(),
    };
    let (digits, unit) = split_unit(text);
    let unit = if unit.is_empty() {
        default_unit.ok_or_else(bad)?
    } else {
        unit
    };
    let value: u64 = digits.parse().map_err(|_| bad())?;
    let micros = match unit {
        "us" => Some(value),
        "ms" => value.checked_mul(1_000),
        "s" => value.checked_mul(1_000_000),
        _ => None,
    };
    micros.map(Duration::from_micros).ok_or_else(bad)
}

fn parse_window(text: &str) -> Result<(Instant, Instant), FaultSpecError> {
    let Some((a, b)) = text.split_once('-') else {
        return Err(FaultSpecError::BadWindow {
            text: text.to_string(),
        });
    };
    let end = parse_time(b, None)?;
    let (_, end_unit) = split_unit(b.trim());
    let start = parse_time(a, Some(end_unit))?;
    let to_instant = |d: Duration| Instant::ZERO + d;
    if end <= start {
        return Err(FaultSpecError::EmptyWindow {
            text: text.to_string(),
        });
    }
    Ok((to_instant(start), to_instant(end)))
}

/// What was wrong with a fault spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultSpecError {
    /// The spec was empty.
    Empty,
    /// The part before `@`/`+` did not have the three fields
    /// `HOST:COUNT:FLAGS`.
    FieldCount {
        /// How many `:`-separated fields there were.
        found: usize,
    },
    /// A host name is not one of the simulation's.
    UnknownHost {
        /// The name given.
        name: String,
        /// The names known.
        known: Vec<String>,
    },
    /// The count is neither `*` nor a positive integer.
    BadCount {
        /// The text given.
        text: String,
    },
    /// A flag name is not a TCP flag.
    UnknownFlag {
        /// The text given.
        text: String,
    },
    /// The same flag is both required and excluded.
    ContradictoryFlags {
        /// The flags in both lists.
        flags: Flags,
    },
    /// A time is not digits followed by `us`, `ms` or `s`.
    BadTime {
        /// The text given.
        text: String,
    },
    /// A window is not `START-END`.
    BadWindow {
        /// The text given.
        text: String,
    },
    /// A window ends at or before its start.
    EmptyWindow {
        /// The text given.
        text: String,
    },
    /// `@window`, `+delay` or `=mark` was given twice.
    Repeated {
        /// The marker repeated.
        marker: char,
    },
    /// Both `+delay` and `=ce`: a rule does one thing to a packet.
    DelayAndMark,
    /// A `=` mark other than `ce`.
    UnknownMark {
        /// The text given.
        text: String,
    },
}

impl fmt::Display for FaultSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultSpecError::Empty => f.write_str("empty fault spec"),
            FaultSpecError::FieldCount { found } => write!(
                f,
                "expected HOST:COUNT:FLAGS (3 fields separated by ':'), found {found} field(s)"
            ),
            FaultSpecError::UnknownHost { name, known } => {
                write!(f, "unknown host {name:?}; known hosts: {}", known.join(", "))
            }
            FaultSpecError::BadCount { text } => write!(
                f,
                "bad count {text:?}: expected '*' or a positive integer"
            ),
            FaultSpecError::UnknownFlag { text } => write!(
                f,
                "unknown TCP flag {text:?}: expected SYN, ACK, FIN, RST, PSH, URG, ECE or CWR, optionally prefixed by '!'"
            ),
            FaultSpecError::ContradictoryFlags { flags } => {
                write!(f, "flags {flags} are both required and excluded")
            }
            FaultSpecError::BadTime { text } => write!(
                f,
                "bad time {text:?}: expected digits followed by us, ms or s"
            ),
            FaultSpecError::BadWindow { text } => {
                write!(f, "bad window {text:?}: expected START-END, e.g. 1000-2000ms")
            }
            FaultSpecError::EmptyWindow { text } => {
                write!(f, "window {text:?} ends at or before its start")
            }
            FaultSpecError::Repeated { marker } => write!(f, "'{marker}' given more than once"),
            FaultSpecError::DelayAndMark => {
                write!(f, "a rule either delays (+time) or marks (=ce), not both")
            }
            FaultSpecError::UnknownMark { text } => {
                write!(f, "unknown mark '={text}' (the only mark is '=ce')")
            }
        }
    }
}

impl std::error::Error for FaultSpecError {}
