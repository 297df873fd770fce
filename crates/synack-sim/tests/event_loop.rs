//! The event loop: clock jumps, guards, apps, calls into nodes, the trace.

mod common;

use common::*;
use std::cell::RefCell;
use std::rc::Rc;
use synack_proto::event::EventKind;
use synack_proto::Instant;
use synack_sim::peek::Flags;
use synack_sim::{
    LinkConfig, LinkFate, Node, RunOutcome, Sim, SimConfig, SimError, TraceKind, Wake,
};

const TWO_HOURS: u64 = 2 * 3600 * 1000;

#[test]
fn clock_jumps_over_two_idle_hours_in_one_step() {
    let mut sim = Sim::new(1);
    let a = sim.add_host(
        "a",
        A,
        TestNode::scripted(vec![(at_ms(TWO_HOURS), tcp4(A, B, 1, Flags::ACK, 0))]),
    );
    let b = sim.add_host("b", B, TestNode::default());
    sim.link(a, b, LinkConfig::default().with_delay(ms(10)));
    assert_eq!(
        sim.next_wake(),
        Some((at_ms(TWO_HOURS), Wake::Timeout { host: a }))
    );
    // One step for the deadline, one for the delivery, one finding nothing.
    assert_eq!(sim.step(), Ok(Some(at_ms(TWO_HOURS))));
    assert_eq!(sim.step(), Ok(Some(at_ms(TWO_HOURS + 10))));
    assert_eq!(sim.step(), Ok(None));
    assert_eq!(sim.node(b).arrival_times(), [(TWO_HOURS + 10) * 1000]);
    assert_eq!(sim.node(a).timeouts, [at_ms(TWO_HOURS)]);
}

#[test]
fn run_until_idle_stops_at_the_limit() {
    let mut sim = Sim::new(1);
    sim.add_host(
        "a",
        A,
        TestNode::scripted(vec![
            (at_ms(5), tcp4(A, B, 1, Flags::ACK, 0)),
            (at_ms(TWO_HOURS), tcp4(A, B, 2, Flags::ACK, 0)),
        ]),
    );
    assert_eq!(
        sim.run_until_idle(at_ms(1000)),
        Ok(RunOutcome::Limit {
            next: at_ms(TWO_HOURS)
        })
    );
    assert_eq!(
        sim.now(),
        at_ms(5),
        "the clock stays at the last thing done"
    );
    assert_eq!(sim.run_until_idle(at_ms(TWO_HOURS)), Ok(RunOutcome::Idle));
    assert_eq!(sim.now(), at_ms(TWO_HOURS));
}

#[test]
fn run_until_moves_the_clock_even_when_idle() {
    let mut sim: Sim<TestNode> = Sim::new(1);
    sim.run_until(at_ms(1234)).expect("nothing to do");
    assert_eq!(sim.now(), at_ms(1234));
    sim.run_for(ms(6)).expect("nothing to do");
    assert_eq!(sim.now(), at_ms(1240));
}

#[test]
fn a_deadline_stuck_in_the_past_is_a_livelock() {
    let mut sim = Sim::with_config(SimConfig {
        max_steps_per_instant: 1000,
        ..SimConfig::default()
    });
    sim.add_host("fine", A, TestNode::default());
    let stuck = sim.add_host(
        "stuck",
        B,
        TestNode {
            stuck: true,
            ..TestNode::default()
        },
    );
    let err = sim.run_until_idle(at_ms(1000)).expect_err("livelock");
    assert_eq!(
        err,
        SimError::Livelock {
            at: Instant::ZERO,
            steps: 1000,
            wake: Wake::Timeout { host: stuck },
            name: "stuck".into(),
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("livelock") && msg.contains("\"stuck\""),
        "{msg}"
    );
    assert_eq!(sim.node(stuck).timeouts.len(), 1000);
}

#[test]
fn an_app_asking_for_now_forever_is_a_livelock() {
    let mut sim = Sim::with_config(SimConfig {
        max_steps_per_instant: 50,
        ..SimConfig::default()
    });
    let a = sim.add_host("a", A, TestNode::default());
    sim.run_until(at_ms(7)).expect("idle");
    sim.set_app(a, |now: Instant, _: &mut TestNode| Some(now));
    let err = step_until_error(&mut sim);
    assert!(matches!(
        err,
        SimError::Livelock { at, wake: Wake::App { host: 0 }, .. } if at == at_ms(7)
    ));
}

fn step_until_error<N: Node>(sim: &mut Sim<N>) -> SimError {
    loop {
        match sim.step() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("went idle"),
            Err(e) => return e,
        }
    }
}

#[test]
fn a_flooding_node_is_stopped() {
    let mut sim = Sim::with_config(SimConfig {
        max_polls: 100,
        ..SimConfig::default()
    });
    let a = sim.add_host(
        "loud",
        A,
        TestNode {
            flood: true,
            ..TestNode::default()
        },
    );
    let err = sim.step().expect_err("flood");
    assert!(matches!(err, SimError::Flood { host, what: "packets", limit: 100, .. } if host == a));
    assert!(err.to_string().contains("loud"));
}

#[test]
fn many_packets_at_one_instant_are_not_a_livelock() {
    let mut sim = Sim::with_config(SimConfig {
        max_steps_per_instant: 600,
        ..SimConfig::default()
    });
    let a = sim.add_host("a", A, TestNode::default());
    let b = sim.add_host("b", B, TestNode::default());
    sim.link(a, b, LinkConfig::default());
    for i in 0..500 {
        sim.inject(a, tcp4(A, B, i, Flags::ACK, 0));
    }
    assert_eq!(sim.run_until_idle(at_ms(1)), Ok(RunOutcome::Idle));
    assert_eq!(sim.node(b).received.len(), 500);
}

#[test]
fn trace_is_capped_and_counts_the_rest() {
    let mut sim = Sim::with_config(SimConfig {
        trace_cap: 5,
        ..SimConfig::default()
    });
    let a = sim.add_host("a", A, TestNode::default());
    let b = sim.add_host("b", B, TestNode::default());
    sim.link(a, b, LinkConfig::default());
    for i in 0..4 {
        sim.inject(a, tcp4(A, B, i, Flags::ACK, 0));
    }
    // 4 link entries, then 4 deliveries each draining one marker event.
    sim.run_until_idle(at_ms(1)).expect("runs");
    assert_eq!(sim.trace().len(), 5);
    assert_eq!(sim.trace_overflow(), 3);
    let taken = sim.take_trace();
    assert_eq!(taken.len(), 5);
    assert!(sim.trace().is_empty());
    sim.inject(a, tcp4(A, B, 9, Flags::ACK, 0));
    assert_eq!(sim.trace().len(), 1, "room again after take_trace");
    assert_eq!(sim.trace_overflow(), 3);
}

#[test]
fn with_node_sends_at_the_current_instant() {
    let mut sim = Sim::new(1);
    let a = sim.add_host("a", A, TestNode::default());
    let b = sim.add_host("b", B, TestNode::default());
    sim.link(a, b, LinkConfig::default().with_delay(ms(10)));
    sim.run_until(at_ms(5)).expect("idle");
    let queued = sim
        .with_node(a, |now, node| {
            node.outbox.push_back(tcp4(A, B, 42, Flags::PSH, 3));
            now
        })
        .expect("no flood");
    assert_eq!(queued, at_ms(5));
    assert_eq!(
        link_fates(sim.trace()),
        [(5000, a, b, LinkFate::Delivered { at: at_ms(15) })]
    );
    assert_eq!(sim.run_until_idle(at_ms(100)), Ok(RunOutcome::Idle));
    assert_eq!(sim.node(b).arrival_times(), [15_000]);
}

#[test]
fn node_mut_is_picked_up_at_the_current_instant_by_the_next_step() {
    let mut sim = Sim::new(1);
    let a = sim.add_host("a", A, TestNode::default());
    let b = sim.add_host("b", B, TestNode::default());
    sim.link(a, b, LinkConfig::default().with_delay(ms(10)));
    sim.run_until(at_ms(5)).expect("idle");
    sim.node_mut(a)
        .outbox
        .push_back(tcp4(A, B, 1, Flags::ACK, 0));
    assert_eq!(sim.step(), Ok(Some(at_ms(15))));
    assert_eq!(link_fates(sim.trace())[0].0, 5000);
    assert_eq!(sim.node(b).arrival_times(), [15_000]);
}

#[test]
fn apps_wake_at_install_on_deliveries_and_at_their_deadlines() {
    let mut sim = Sim::new(1);
    let a = sim.add_host("a", A, TestNode::default());
    let b = sim.add_host("b", B, TestNode::default());
    sim.link(a, b, LinkConfig::default().with_delay(ms(10)));
    // Sender: one packet per wake, 3 packets, every 2 ms.
    let sender_wakes = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&sender_wakes);
    let mut sent = 0u32;
    sim.set_app(a, move |now: Instant, node: &mut TestNode| {
        log.borrow_mut().push(now.micros());
        if sent < 3 {
            node.outbox.push_back(tcp4(A, B, sent, Flags::ACK, 0));
            sent += 1;
            return Some(now + ms(2));
        }
        None
    });
    // Receiver: sees each packet already handled by its node.
    let receiver_wakes = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&receiver_wakes);
    sim.set_app(b, move |now: Instant, node: &mut TestNode| {
        log.borrow_mut().push((now.micros(), node.received.len()));
        None
    });
    assert_eq!(sim.run_until_idle(at_ms(100)), Ok(RunOutcome::Idle));
    assert_eq!(*sender_wakes.borrow(), [0, 2000, 4000, 6000]);
    assert_eq!(
        *receiver_wakes.borrow(),
        [(0, 0), (10_000, 1), (12_000, 2), (14_000, 3)]
    );
    // What the app queued left at the instant it ran.
    let sent_at: Vec<u64> = link_fates(sim.trace()).iter().map(|f| f.0).collect();
    assert_eq!(sent_at, [0, 2000, 4000]);
}

#[test]
fn stack_events_are_traced_in_order_with_their_host() {
    let mut sim = Sim::new(1);
    let a = sim.add_host(
        "a",
        A,
        TestNode::scripted(vec![(at_ms(1), tcp4(A, B, 0, Flags::SYN, 0))]),
    );
    let b = sim.add_host("b", B, TestNode::echo());
    sim.link(a, b, LinkConfig::default().with_delay(ms(10)));
    assert_eq!(sim.run_until_idle(at_ms(100)), Ok(RunOutcome::Idle));
    let summary: Vec<(u64, usize, &str)> = sim
        .trace()
        .iter()
        .map(|e| {
            let what = match &e.kind {
                TraceKind::Stack(ev) => match ev.kind {
                    EventKind::TimerFired { .. } => "timer",
                    EventKind::EventsLost { .. } => "received",
                    _ => "other",
                },
                TraceKind::Link(_) => "link",
            };
            (e.at.micros(), e.host, what)
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1000, a, "timer"),
            (1000, a, "link"),
            (11_000, b, "received"),
            (11_000, b, "link"),
            (21_000, a, "received"),
        ]
    );
    assert!(sim.trace().windows(2).all(|w| w[0].at <= w[1].at));
}

#[test]
fn deliveries_come_before_deadlines_at_the_same_instant() {
    let mut sim = Sim::new(1);
    let a = sim.add_host("a", A, TestNode::default());
    let b = sim.add_host(
        "b",
        B,
        TestNode::scripted(vec![(at_ms(10), tcp4(B, A, 0, Flags::ACK, 0))]),
    );
    sim.link(a, b, LinkConfig::default().with_delay(ms(10)));
    sim.inject(a, tcp4(A, B, 0, Flags::ACK, 0));
    assert_eq!(
        sim.next_wake(),
        Some((at_ms(10), Wake::Delivery { from: a, to: b }))
    );
    sim.step().expect("delivery");
    assert_eq!(sim.node(b).received.len(), 1);
    assert!(sim.node(b).timeouts.is_empty());
    assert_eq!(
        sim.next_wake(),
        Some((at_ms(10), Wake::Timeout { host: b }))
    );
}

#[test]
fn host_configuration_errors() {
    let mut sim = Sim::new(1);
    let a = sim.add_host("a", A, TestNode::default());
    assert_eq!(
        sim.try_add_host("a", B, TestNode::default()),
        Err(SimError::DuplicateName { name: "a".into() })
    );
    assert_eq!(
        sim.try_add_host("b", A, TestNode::default()),
        Err(SimError::DuplicateAddress {
            addr: A.into(),
            owner: a
        })
    );
    assert_eq!(
        sim.add_address(a, std::net::Ipv4Addr::from(A)),
        Err(SimError::DuplicateAddress {
            addr: A.into(),
            owner: a
        })
    );
    assert_eq!(sim.host_names(), ["a"]);
    assert_eq!(sim.host_id("a"), Some(a));
    assert_eq!(sim.host_id("zz"), None);
    assert_eq!(sim.addresses(a), [std::net::IpAddr::from(A)]);
}
