//! The RFC rules every run is held to, whatever the scenario and whatever
//! faults were injected: properties of the trace, not of one path.
//!
//! * every state change is one RFC 9293's diagram allows
//!   ([`synack_proto::rules::explains`]), follows from the state before it,
//!   and a cause that names a segment has that segment arriving then;
//! * TIME_WAIT lasts 2*MSL from its start or its last restart;
//! * retransmission timeouts back off (RFC 6298 5.5) and stay under the
//!   ceiling;
//! * keepalive probes wait the idle time, then keep their interval, and the
//!   connection gives up only after its probe count (RFC 1122 4.2.3.6);
//! * when the run ends with nothing pending, no connection is left with
//!   something to resend and no timer to resend it (RFC 6298 5.1).

use crate::verdict::CheckKind;
use crate::{Check, Host, HostConn};
use std::collections::HashMap;
use synack_proto::rules::explains;
use synack_proto::{
    Cause, ConnId, Duration, EventKind, Instant, Keepalive, ListenerId, SendReason, State,
    TimerKind,
};
use synack_sim::{TraceEntry, TraceKind};

/// The bounds the rules hold the stacks to: the settings the user asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Maximum segment lifetime.
    pub(crate) msl: Duration,
    /// The RTO ceiling.
    pub(crate) max_rto: Duration,
    /// The keepalive schedule, where the scenario turned keepalive on.
    pub(crate) keepalive: Option<Keepalive>,
}

/// What a connection or listener is known by in the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Conn(usize, ConnId),
    Listener(usize, ListenerId),
}

/// The first broken instance of a rule, or how many times it held.
struct Tally {
    seen: usize,
    broken: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            seen: 0,
            broken: None,
        }
    }

    fn judge(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.seen += 1;
        if !ok && self.broken.is_none() {
            self.broken = Some(what());
        }
    }

    fn check(self, rule: &str) -> Check {
        match self.broken {
            None => Check {
                what: format!("{rule} ({} checked)", self.seen),
                passed: true,
                kind: CheckKind::Rule,
            },
            Some(b) => Check {
                what: format!("{rule}: broken: {b}"),
                passed: false,
                kind: CheckKind::Rule,
            },
        }
    }
}

fn ms(t: Instant) -> String {
    format!("{:.3} ms", t.micros() as f64 / 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// Every rule check of a run.
pub(crate) fn check(
    trace: &[TraceEntry],
    hosts: &[Host],
    left: &[HostConn],
    idle: bool,
    limits: &Limits,
) -> Vec<Check> {
    let name = |h: usize| hosts.get(h).map_or("?", |x| x.name.as_str()).to_string();
    let mut out = vec![
        transitions(trace, &name),
        time_wait(trace, &name, limits),
        backoff(trace, &name, limits),
    ];
    if let Some(k) = limits.keepalive {
        out.push(keepalive(trace, &name, k));
    }
    if idle {
        out.push(nothing_stuck(left));
    }
    out
}

/// The segments a host received at each instant, by their flags.
fn received_flags(
    trace: &[TraceEntry],
) -> HashMap<(usize, Instant), Vec<synack_proto::wire::TcpFlags>> {
    let mut m: HashMap<(usize, Instant), Vec<_>> = HashMap::new();
    for e in trace {
        if let TraceKind::Stack(ev) = &e.kind {
            if let EventKind::SegmentReceived { seg, .. } = &ev.kind {
                m.entry((e.host, e.at)).or_default().push(seg.flags);
            }
        }
    }
    m
}

/// RFC 9293 3.3.2 and 3.10: each change is in the diagram with its cause,
/// starts where the last one ended, and a segment named as its cause arrived.
fn transitions(trace: &[TraceEntry], name: &dyn Fn(usize) -> String) -> Check {
    let mut t = Tally::new();
    let mut at: HashMap<Key, State> = HashMap::new();
    let rx = received_flags(trace);
    // The connections a FIN has reached so far.
    let mut fins: std::collections::HashSet<(usize, ConnId)> = Default::default();
    for e in trace {
        let TraceKind::Stack(ev) = &e.kind else {
            continue;
        };
        if let EventKind::SegmentReceived { conn: Some(c), seg } = ev.kind {
            if seg.flags.fin() {
                fins.insert((e.host, c));
            }
        }
        let EventKind::StateChanged {
            conn,
            listener,
            from,
            to,
            cause,
            ..
        } = ev.kind
        else {
            continue;
        };
        let key = match (conn, listener) {
            (Some(c), _) => Key::Conn(e.host, c),
            (None, Some(l)) => Key::Listener(e.host, l),
            (None, None) => continue,
        };
        let said = || {
            format!(
                "{} {from} -> {to} ({}) at {}",
                name(e.host),
                synack_trace::cause_name(cause),
                ms(e.at)
            )
        };
        t.judge(explains(from, to, cause).is_some(), || {
            format!("{} is not in RFC 9293's state diagram", said())
        });
        if let Some(&before) = at.get(&key) {
            t.judge(before == from, || {
                format!("{} but the connection was in {before}", said())
            });
        }
        if let Some(flag) = segment_named(cause) {
            // A FIN that arrived out of order waits in the reassembly queue
            // until the gap before it fills (RFC 9293 3.10.7.4, seventh and
            // eighth steps): it acts when the segment filling the gap arrives.
            let fin = matches!(cause, Cause::RecvFin | Cause::RecvFinAck);
            let arrived = rx
                .get(&(e.host, e.at))
                .is_some_and(|fs| fs.iter().any(|f| flag(*f)))
                || (fin && conn.is_some_and(|c| fins.contains(&(e.host, c))));
            t.judge(arrived, || {
                format!("{}, yet no such segment arrived then", said())
            });
        }
        at.insert(key, to);
    }
    t.check("RFC 9293 3.3.2: every state change is in the state diagram, from the state before it, with a cause that happened")
}

/// The flag a segment must carry to be the cause named.
fn segment_named(cause: Cause) -> Option<fn(synack_proto::wire::TcpFlags) -> bool> {
    Some(match cause {
        Cause::RecvSyn | Cause::RecvSynSimultaneous => |f| f.syn(),
        Cause::RecvSynAck => |f| f.syn() && f.ack(),
        Cause::RecvAckOfSyn | Cause::RecvAckOfFin | Cause::SynCookie => |f| f.ack(),
        Cause::RecvFin => |f| f.fin(),
        Cause::RecvFinAck => |f| f.fin() && f.ack(),
        // An in-window SYN resets a connection as a RST does.
        Cause::RecvRst => |f| f.rst() || f.syn(),
        _ => return None,
    })
}

/// RFC 9293 3.10.7.4 (TIME-WAIT) and 3.10.8: TIME_WAIT lasts 2*MSL from
/// its start, or from the last time it answered a retransmitted FIN.
fn time_wait(trace: &[TraceEntry], name: &dyn Fn(usize) -> String, l: &Limits) -> Check {
    let mut t = Tally::new();
    let two_msl = l.msl * 2;
    // Per connection in TIME_WAIT: when it began, and when it sent since.
    let mut open: HashMap<(usize, ConnId), (Instant, Vec<Instant>)> = HashMap::new();
    for e in trace {
        let TraceKind::Stack(ev) = &e.kind else {
            continue;
        };
        match ev.kind {
            EventKind::StateChanged {
                conn: Some(c),
                from,
                to,
                cause,
                ..
            } => {
                if to == State::TimeWait {
                    open.insert((e.host, c), (e.at, Vec::new()));
                } else if from == State::TimeWait {
                    let Some((start, sent)) = open.remove(&(e.host, c)) else {
                        continue;
                    };
                    if cause != Cause::TimeWaitExpired {
                        continue;
                    }
                    let ok = e.at - start >= two_msl
                        && std::iter::once(start)
                            .chain(sent.iter().copied())
                            .any(|r| e.at - r == two_msl);
                    t.judge(ok, || {
                        format!(
                            "{} left TIME_WAIT at {}, {} after entering it at {}: not 2*MSL = {} from its start or a restart",
                            name(e.host),
                            ms(e.at),
                            secs(e.at - start),
                            ms(start),
                            secs(two_msl)
                        )
                    });
                }
            }
            EventKind::SegmentSent { conn: Some(c), .. } => {
                if let Some((_, sent)) = open.get_mut(&(e.host, c)) {
                    sent.push(e.at);
                }
            }
            _ => {}
        }
    }
    t.check(&format!(
        "RFC 9293 3.10.8: TIME_WAIT lasts 2*MSL = {}",
        secs(two_msl)
    ))
}

/// RFC 6298 5.5, 5.6 and 2.5: with no segment arriving, each retransmission
/// timeout is at least double the one before (until the ceiling), and none
/// is longer than the ceiling.
fn backoff(trace: &[TraceEntry], name: &dyn Fn(usize) -> String, l: &Limits) -> Check {
    let mut t = Tally::new();
    // Per connection: the firings since the last segment arrived.
    let mut fired: HashMap<(usize, ConnId), Vec<Instant>> = HashMap::new();
    for e in trace {
        let TraceKind::Stack(ev) = &e.kind else {
            continue;
        };
        match ev.kind {
            EventKind::SegmentReceived { conn: Some(c), .. } => {
                fired.remove(&(e.host, c));
            }
            EventKind::TimerFired {
                conn: c,
                timer: TimerKind::Retransmit,
            } => {
                let f = fired.entry((e.host, c)).or_default();
                f.push(e.at);
                if let [.., a, b, c] = f.as_slice() {
                    let (before, now) = (*b - *a, *c - *b);
                    let floor = (before * 2).min(l.max_rto);
                    t.judge(now >= floor && now <= l.max_rto.max(before), || {
                        format!(
                            "{}'s retransmission timer fired at {} after {}; the timeout before was {}, so RFC 6298 5.5 wants at least {} (and at most {})",
                            name(e.host),
                            ms(*c),
                            secs(now),
                            secs(before),
                            secs(floor),
                            secs(l.max_rto)
                        )
                    });
                }
            }
            _ => {}
        }
    }
    t.check("RFC 6298 5.5: each retransmission timeout doubles the one before, up to the ceiling")
}

/// RFC 1122 4.2.3.6: a probe only after the idle time, then one per
/// interval while unanswered; the connection gives up only after the count.
///
/// A duplicate arriving does not always count as an answer (the stack may
/// discard it), so a probe after an arrival may keep the interval too.
fn keepalive(trace: &[TraceEntry], name: &dyn Fn(usize) -> String, k: Keepalive) -> Check {
    #[derive(Default)]
    struct Conn {
        /// Established, or the last probe.
        last: Option<Instant>,
        /// Whether a segment arrived since `last`.
        arrived: bool,
        /// Probes since the last arrival.
        unanswered: usize,
    }
    let mut t = Tally::new();
    let mut seen: HashMap<(usize, ConnId), Conn> = HashMap::new();
    for e in trace {
        let TraceKind::Stack(ev) = &e.kind else {
            continue;
        };
        match ev.kind {
            EventKind::StateChanged {
                conn: Some(c),
                to: State::Established,
                ..
            } => {
                seen.insert(
                    (e.host, c),
                    Conn {
                        last: Some(e.at),
                        ..Conn::default()
                    },
                );
            }
            EventKind::SegmentReceived { conn: Some(c), .. } => {
                let s = seen.entry((e.host, c)).or_default();
                s.arrived = true;
                s.unanswered = 0;
            }
            EventKind::SegmentSent {
                conn: Some(c),
                reason: SendReason::KeepaliveProbe,
                ..
            } => {
                let s = seen.entry((e.host, c)).or_default();
                let ok = match s.last {
                    None => true,
                    Some(l) if s.arrived => e.at - l >= k.idle || e.at - l == k.interval,
                    Some(l) => e.at - l == k.interval || (s.unanswered == 0 && e.at - l >= k.idle),
                };
                t.judge(ok, || {
                    format!(
                        "{} sent a keepalive probe at {}: neither {} idle nor {} after an unanswered probe",
                        name(e.host),
                        ms(e.at),
                        secs(k.idle),
                        secs(k.interval)
                    )
                });
                s.last = Some(e.at);
                s.arrived = false;
                s.unanswered += 1;
            }
            EventKind::StateChanged {
                conn: Some(c),
                cause: Cause::KeepaliveTimeout,
                ..
            } => {
                let probes = seen.get(&(e.host, c)).map_or(0, |s| s.unanswered);
                t.judge(probes >= k.count as usize, || {
                    format!(
                        "{} gave up at {} after {probes} unanswered probes, fewer than {}",
                        name(e.host),
                        ms(e.at),
                        k.count
                    )
                });
            }
            _ => {}
        }
    }
    t.check("RFC 1122 4.2.3.6: keepalive probes after the idle time, then one per interval, giving up after the count")
}

/// RFC 6298 5.1 and RFC 9293 3.10.8: with nothing pending at the end, no
/// connection waits for an acknowledgment or a timer that will never come.
fn nothing_stuck(left: &[HostConn]) -> Check {
    let mut t = Tally::new();
    for c in left {
        let s = &c.status;
        let waits_for_timer = matches!(
            s.state,
            State::SynSent
                | State::SynReceived
                | State::FinWait1
                | State::Closing
                | State::LastAck
                | State::TimeWait
        );
        t.judge(!waits_for_timer && s.snd_una == s.snd_nxt, || {
            format!(
                "{} {} -> {} was left in {} with {} byte(s) unacknowledged and no timer to resend them",
                c.host,
                s.tuple.local,
                s.tuple.remote,
                s.state,
                s.snd_nxt.since(s.snd_una)
            )
        });
    }
    t.check("RFC 6298 5.1: at the end no connection waits with something unacknowledged and no timer running")
}
