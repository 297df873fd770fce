//! Round trip: the pcap file a scenario writes (`synack scenario NAME
//! --pcap FILE`), explained, gives back the state changes the stacks
//! themselves reported, on both sides; and every state change the stacks
//! report in any scenario is one that RFC 9293's table in
//! `synack_proto::rules` allows.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use synack_capture::{explain_bytes, Config};
use synack_proto::rules::explains;
use synack_proto::{Cause, EventKind, State};
use synack_scenarios::{Options, SCENARIOS};
use synack_sim::{TraceEntry, TraceKind};
use synack_trace::{write_pcap, PcapOptions};

type Changes = BTreeMap<SocketAddr, Vec<(State, State)>>;

/// Causes a capture cannot see: timers and the application's own
/// bookkeeping with no segment on the wire.
fn visible(cause: Cause) -> bool {
    !matches!(
        cause,
        Cause::TimeWaitExpired
            | Cause::FinWait2Timeout
            | Cause::RetransmitLimit
            | Cause::KeepaliveTimeout
            | Cause::UserTimeout
            | Cause::EstablishTimeout
            | Cause::StackClosed
            | Cause::Listen
    )
}

fn changes(entries: &[TraceEntry]) -> Changes {
    let mut m = Changes::new();
    for e in entries {
        let TraceKind::Stack(ev) = &e.kind else {
            continue;
        };
        if let EventKind::StateChanged {
            conn: Some(_),
            tuple,
            from,
            to,
            cause,
            ..
        } = &ev.kind
        {
            if visible(*cause) {
                m.entry(tuple.local).or_default().push((*from, *to));
            }
        }
    }
    m
}

fn run(name: &str) -> (Changes, Changes) {
    let info = synack_scenarios::find(name).expect("scenario exists");
    let outcome = match (info.run)(&Options::default()) {
        Ok(o) => o,
        Err(e) => panic!("scenario {name} failed: {e}"),
    };
    let mut pcap = Vec::new();
    write_pcap(&outcome.trace, &mut pcap, &PcapOptions::default()).expect("pcap");
    let run = explain_bytes(&pcap, Config::default()).expect("the scenario's pcap reads");
    assert!(run.error.is_none(), "{name}: {:?}", run.error);
    let mut ours = Changes::new();
    for f in &run.connections {
        let tr = f.trace.as_ref().expect("recorded");
        for (k, v) in changes(&tr.entries) {
            ours.entry(k).or_default().extend(v);
        }
    }
    (changes(&outcome.trace), ours)
}

#[test]
fn explained_scenario_captures_give_back_the_stacks_state_changes() {
    for name in [
        "handshake",
        "teardown",
        "server-closes-first",
        "three-segment-close",
        "half-close",
        "simultaneous-close",
        "simultaneous-open",
        "lost-final-ack",
        "lost-third-ack",
        "refused",
        "abort",
        "bulk-transfer",
    ] {
        let (want, got) = run(name);
        assert_eq!(got, want, "scenario {name}: explained state changes differ");
    }
    // The demo is the `demo` command's scenario.
    let outcome = synack_scenarios::demo(&Options::default()).expect("demo runs");
    let mut pcap = Vec::new();
    write_pcap(&outcome.trace, &mut pcap, &PcapOptions::default()).expect("pcap");
    let run = explain_bytes(&pcap, Config::default()).expect("reads");
    let tr = run.connections[0].trace.as_ref().expect("recorded");
    assert_eq!(changes(&tr.entries), changes(&outcome.trace), "demo");
}

#[test]
fn every_state_change_of_the_stack_is_allowed_by_the_rules() {
    let mut checked = 0;
    for s in SCENARIOS {
        let outcome = match (s.run)(&Options::default()) {
            Ok(o) => o,
            Err(synack_scenarios::ScenarioError::Misbehaved(o)) => *o,
            Err(e) => panic!("scenario {} failed: {e}", s.name),
        };
        for e in &outcome.trace {
            let TraceKind::Stack(ev) = &e.kind else {
                continue;
            };
            if let EventKind::StateChanged {
                from, to, cause, ..
            } = &ev.kind
            {
                assert!(
                    explains(*from, *to, *cause).is_some(),
                    "scenario {}: {from} -> {to} ({cause:?}) is not in RFC 9293's table",
                    s.name
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} state changes checked");
}
