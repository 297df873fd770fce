//! Targeted fault rules and the spec parser.

mod common;

use common::*;
use synack_proto::{Duration, Instant};
use synack_sim::peek::Flags;
use synack_sim::{
    DropCause, FaultAction, FaultRule, FaultSpecError, LinkConfig, LinkFate, RunOutcome, Sim,
};

const NAMES: [&str; 3] = ["client", "server", "other"];

/// client (0) -> server (1) and other (2), links of 10 ms; client sends
/// `script` as (ms, destination, flags), packet i with sequence number i.
fn sim_with(script: &[(u64, [u8; 4], Flags)], rules: Vec<FaultRule>) -> Sim<TestNode> {
    let packets = script
        .iter()
        .enumerate()
        .map(|(i, &(t, dst, f))| (at_ms(t), tcp4(A, dst, i as u32, f, 0)))
        .collect();
    let mut sim = Sim::new(1);
    let c = sim.add_host("client", A, TestNode::scripted(packets));
    let s = sim.add_host("server", B, TestNode::default());
    let o = sim.add_host("other", C, TestNode::default());
    sim.link(c, s, LinkConfig::default().with_delay(ms(10)));
    sim.link(c, o, LinkConfig::default().with_delay(ms(10)));
    for r in rules {
        sim.add_fault(r);
    }
    assert_eq!(sim.run_until_idle(at_ms(60_000)), Ok(RunOutcome::Idle));
    sim
}

fn rule_drops(sim: &Sim<TestNode>) -> Vec<String> {
    link_fates(sim.trace())
        .into_iter()
        .filter_map(|f| match f.3 {
            LinkFate::Dropped(DropCause::Rule(d)) => Some(d),
            _ => None,
        })
        .collect()
}

const FA: Flags = Flags(0x11); // FIN,ACK

fn handshake_and_close() -> Vec<(u64, [u8; 4], Flags)> {
    vec![
        (0, B, Flags::SYN),
        (1, B, Flags::ACK),
        (2, B, FA),
        (3, B, Flags::ACK),
        (4, B, FA),
        (5, B, Flags::FIN),
    ]
}

#[test]
fn drop_nth_with_flags() {
    let sim = sim_with(
        &handshake_and_close(),
        vec![FaultRule::drop_nth(0, 1, 2, Flags::FIN)],
    );
    assert_eq!(sim.node(1).received_seqs(), [0, 1, 2, 3, 5]);
    assert_eq!(
        rule_drops(&sim),
        ["drop the 2nd packet client->server with FIN"]
    );
    let st = sim.faults();
    assert_eq!((st[0].matched, st[0].fired), (3, 1));
    assert_eq!(sim.link_stats(0, 1).expect("link").dropped_rule, 1);
}

#[test]
fn drop_nth_excluding_flags() {
    let rule = FaultRule::drop_nth(0, 1, 1, Flags::FIN).excluding(Flags::ACK);
    let sim = sim_with(&handshake_and_close(), vec![rule]);
    assert_eq!(sim.node(1).received_seqs(), [0, 1, 2, 3, 4]);
    assert_eq!(
        rule_drops(&sim),
        ["drop the 1st packet client->server with FIN without ACK"]
    );
}

#[test]
fn partition_drops_a_window_one_way() {
    let script: Vec<_> = (0..10).map(|t| (t, B, Flags::ACK)).collect();
    let sim = {
        let packets = script
            .iter()
            .enumerate()
            .map(|(i, &(t, dst, f))| (at_ms(t), tcp4(A, dst, i as u32, f, 0)))
            .collect();
        let mut sim = Sim::new(1);
        let c = sim.add_host("client", A, TestNode::scripted(packets));
        let s = sim.add_host("server", B, TestNode::echo());
        sim.link(c, s, LinkConfig::default().with_delay(ms(1)));
        sim.add_fault(FaultRule::partition(c, s, at_ms(3), at_ms(6)));
        // The reverse direction is partitioned later, when nothing flows back.
        sim.add_fault(FaultRule::partition(s, c, at_ms(100), at_ms(200)));
        assert_eq!(sim.run_until_idle(at_ms(1000)), Ok(RunOutcome::Idle));
        sim
    };
    assert_eq!(sim.node(1).received_seqs(), [0, 1, 2, 6, 7, 8, 9]);
    // Echoes came back: the reverse direction was not cut.
    assert_eq!(sim.node(0).received_seqs(), [0, 1, 2, 6, 7, 8, 9]);
    assert_eq!(
        rule_drops(&sim),
        vec!["drop every packet client->server sent in [0.003000s, 0.006000s)"; 3]
    );
}

#[test]
fn delay_nth_holds_one_packet_back() {
    let script: Vec<_> = (0..5).map(|t| (t, B, Flags::ACK)).collect();
    let sim = sim_with(
        &script,
        vec![FaultRule::delay_nth(0, 1, 3, Flags::ACK, ms(50))],
    );
    assert_eq!(sim.node(1).received_seqs(), [0, 1, 3, 4, 2]);
    assert_eq!(
        sim.node(1).arrival_times(),
        [10_000, 11_000, 13_000, 14_000, 62_000]
    );
    assert!(rule_drops(&sim).is_empty());
    assert_eq!(sim.link_stats(0, 1).expect("link").delayed_by_rule, 1);
}

#[test]
fn drop_matching_from_a_host_to_anyone() {
    let script = vec![
        (0, B, Flags::SYN),
        (0, C, Flags::SYN),
        (1, B, Flags::ACK),
        (2, C, Flags::SYN),
        (3, C, Flags::ACK),
    ];
    let sim = sim_with(&script, vec![FaultRule::drop_matching(0, Flags::SYN)]);
    assert_eq!(sim.node(1).received_seqs(), [2]);
    assert_eq!(sim.node(2).received_seqs(), [4]);
    assert_eq!(
        rule_drops(&sim),
        vec!["drop every packet client->* with SYN"; 3]
    );
}

#[test]
fn first_rule_wins_and_every_rule_counts() {
    let script = vec![(0, B, Flags::SYN), (1, B, Flags::SYN), (2, B, Flags::SYN)];
    let rules = vec![
        FaultRule::drop_nth(0, 1, 1, Flags::SYN).labelled("first SYN"),
        FaultRule::drop_matching(0, Flags::SYN)
            .during(at_ms(0), at_ms(2))
            .labelled("early SYNs"),
        FaultRule::drop_nth(0, 1, 2, Flags::SYN).labelled("second SYN"),
    ];
    let sim = sim_with(&script, rules);
    // Packet 0: rules 1 and 2 fire, rule 1 wins. Packet 1: rules 2 and 3
    // fire (rule 3 counted packet 0 too), rule 2 wins. Packet 2 passes.
    assert_eq!(rule_drops(&sim), ["first SYN", "early SYNs"]);
    assert_eq!(sim.node(1).received_seqs(), [2]);
    let fired: Vec<u64> = sim.faults().iter().map(|f| f.fired).collect();
    assert_eq!(fired, [1, 2, 1]);
}

#[test]
fn rules_come_before_random_faults() {
    let mut sim = Sim::new(1);
    let c = sim.add_host("client", A, TestNode::default());
    let s = sim.add_host("server", B, TestNode::default());
    sim.link(c, s, LinkConfig::default().with_loss(1.0));
    sim.add_fault(FaultRule::drop_nth(c, s, 1, Flags::SYN));
    sim.inject(c, tcp4(A, B, 0, Flags::SYN, 0));
    sim.inject(c, tcp4(A, B, 1, Flags::SYN, 0));
    let causes: Vec<_> = link_fates(sim.trace()).into_iter().map(|f| f.3).collect();
    assert_eq!(
        causes,
        [
            LinkFate::Dropped(DropCause::Rule(
                "drop the 1st packet client->server with SYN".into()
            )),
            LinkFate::Dropped(DropCause::Loss),
        ]
    );
}

#[test]
fn port_and_flag_rules_need_tcp_but_partitions_do_not() {
    let mut sim = Sim::new(1);
    let c = sim.add_host("client", A, TestNode::default());
    let s = sim.add_host("server", B, TestNode::default());
    sim.link(c, s, LinkConfig::default());
    sim.add_fault(FaultRule::drop_matching(c, Flags::EMPTY).on_port(80));
    let mut garbage = tcp4(A, B, 0, Flags::ACK, 0);
    garbage.truncate(30); // IP header fine, TCP header cut
    sim.inject(c, garbage.clone());
    sim.inject(c, tcp4(A, B, 1, Flags::ACK, 0));
    sim.run_until_idle(at_ms(10)).expect("runs");
    assert_eq!(
        sim.node(s).received.len(),
        1,
        "only the truncated one passes"
    );
    sim.add_fault(FaultRule::partition(c, s, Instant::ZERO, at_ms(100)));
    sim.inject(c, garbage);
    sim.run_until_idle(at_ms(10)).expect("runs");
    assert_eq!(sim.node(s).received.len(), 1, "partition drops garbage too");
}

#[test]
fn parse_examples() {
    let r = FaultRule::parse("client:3:FIN", &NAMES).expect("valid");
    assert_eq!(
        r,
        FaultRule {
            nth: Some(3),
            ..FaultRule::drop_matching(0, Flags::FIN)
        }
    );
    let r = FaultRule::parse("server:1:SYN,ACK", &NAMES).expect("valid");
    assert_eq!((r.from, r.to, r.nth), (1, None, Some(1)));
    assert_eq!(r.include, Flags::SYN | Flags::ACK);
    let r = FaultRule::parse("client:*:ACK@1000-2000ms", &NAMES).expect("valid");
    assert_eq!(r.nth, None);
    assert_eq!(r.window, Some((at_ms(1000), at_ms(2000))));
    let r = FaultRule::parse("client>server:*:*@1s-3s", &NAMES).expect("valid");
    assert_eq!(r, FaultRule::partition(0, 1, at_ms(1000), at_ms(3000)));
    let r = FaultRule::parse(" client:2:syn,!ack+250ms ", &NAMES).expect("valid");
    assert_eq!(r.action, FaultAction::Delay(ms(250)));
    assert_eq!((r.include, r.exclude), (Flags::SYN, Flags::ACK));
    let r = FaultRule::parse("other:1:RST+5us@10-20us", &NAMES).expect("valid");
    assert_eq!(r.action, FaultAction::Delay(Duration::from_micros(5)));
    assert_eq!(
        r.window,
        Some((Instant::from_micros(10), Instant::from_micros(20)))
    );
    assert_eq!(
        r.describe(&NAMES),
        "delay by 5µs the 1st packet other->* with RST sent in [0.000010s, 0.000020s)"
    );
}

#[test]
fn parse_errors_name_the_problem() {
    let err = |s: &str| FaultRule::parse(s, &NAMES).expect_err(s);
    assert_eq!(err("  "), FaultSpecError::Empty);
    assert_eq!(err("client:3"), FaultSpecError::FieldCount { found: 2 });
    assert_eq!(
        err("client:3:FIN:x"),
        FaultSpecError::FieldCount { found: 4 }
    );
    assert!(matches!(
        err("clinet:3:FIN"),
        FaultSpecError::UnknownHost { ref name, ref known } if name == "clinet" && known.len() == 3
    ));
    assert!(
        matches!(err("client>nobody:3:FIN"), FaultSpecError::UnknownHost { ref name, .. } if name == "nobody")
    );
    assert_eq!(
        err("client:0:FIN"),
        FaultSpecError::BadCount { text: "0".into() }
    );
    assert_eq!(
        err("client:x:FIN"),
        FaultSpecError::BadCount { text: "x".into() }
    );
    assert_eq!(
        err("client:1:FIN,BOGUS"),
        FaultSpecError::UnknownFlag {
            text: "BOGUS".into()
        }
    );
    assert_eq!(
        err("client:1:"),
        FaultSpecError::UnknownFlag { text: "".into() }
    );
    assert_eq!(
        err("client:1:SYN,!SYN"),
        FaultSpecError::ContradictoryFlags { flags: Flags::SYN }
    );
    assert_eq!(
        err("client:1:SYN@1000-2000"),
        FaultSpecError::BadTime {
            text: "2000".into()
        }
    );
    assert_eq!(
        err("client:1:SYN@5s"),
        FaultSpecError::BadWindow { text: "5s".into() }
    );
    assert_eq!(
        err("client:1:SYN@2s-1s"),
        FaultSpecError::EmptyWindow {
            text: "2s-1s".into()
        }
    );
    assert_eq!(
        err("client:1:SYN+3h"),
        FaultSpecError::BadTime { text: "3h".into() }
    );
    assert_eq!(
        err("client:1:SYN+1s+2s"),
        FaultSpecError::Repeated { marker: '+' }
    );
    // Every error explains itself.
    let msg = err("clinet:3:FIN").to_string();
    assert!(
        msg.contains("clinet") && msg.contains("client, server, other"),
        "{msg}"
    );
    assert!(err("client:1:XYZ").to_string().contains("XYZ"));
}

#[test]
fn specs_drive_a_simulation() {
    let packets = handshake_and_close()
        .iter()
        .enumerate()
        .map(|(i, &(t, dst, f))| (at_ms(t), tcp4(A, dst, i as u32, f, 0)))
        .collect();
    let mut sim = Sim::new(1);
    let c = sim.add_host("client", A, TestNode::scripted(packets));
    let s = sim.add_host("server", B, TestNode::default());
    sim.link(c, s, LinkConfig::default());
    sim.add_fault_spec("client:3:FIN").expect("valid");
    sim.add_fault_spec("client>server:1:SYN+100ms")
        .expect("valid");
    assert!(sim.add_fault_spec("client:1:NOPE").is_err());
    assert_eq!(sim.run_until_idle(at_ms(1000)), Ok(RunOutcome::Idle));
    assert_eq!(sim.node(s).received_seqs(), [1, 2, 3, 4, 0]);
    assert_eq!(sim.faults().len(), 2);
    assert_eq!(
        sim.faults()[0].description,
        "drop the 3rd packet client->* with FIN"
    );
}

#[test]
fn a_ce_rule_marks_ect_packets_and_passes_and_counts_the_others() {
    use synack_proto::wire::Ecn;
    use synack_sim::{peek, FaultAction, FaultSpecError};
    let names = ["a", "b"];
    let r = FaultRule::parse("a:*:ACK=ce", &names).expect("parses");
    assert_eq!(r.action, FaultAction::MarkCe);
    assert_eq!(
        FaultRule::parse("a:1:ACK=ce+1s", &names),
        Err(FaultSpecError::DelayAndMark)
    );
    assert_eq!(
        FaultRule::parse("a:1:ACK=ect1", &names),
        Err(FaultSpecError::UnknownMark {
            text: "ect1".to_string()
        })
    );
    // An ECT(0) packet is marked; a not-ECT one passes unchanged, counted
    // apart so the run can say why nothing was marked (RFC 3168 5).
    let mut ect = tcp4(A, B, 0, Flags::ACK, 10);
    ect[1] |= 0b10;
    let plain = tcp4(A, B, 1, Flags::ACK, 10);
    let mut sim = Sim::new(1);
    let x = sim.add_host(
        "a",
        A,
        TestNode::scripted(vec![(Instant::ZERO, ect), (Instant::ZERO, plain)]),
    );
    let y = sim.add_host("b", B, TestNode::default());
    sim.link(x, y, LinkConfig::default());
    sim.add_fault(r);
    assert!(sim.run_until_idle(Instant::from_millis(1000)).is_ok());
    let got: Vec<Option<Ecn>> = sim
        .node(1)
        .received
        .iter()
        .map(|(_, p)| peek::ecn(p))
        .collect();
    assert_eq!(got, [Some(Ecn::Ce), Some(Ecn::NotEct)]);
    let status = &sim.faults()[0];
    assert_eq!((status.matched, status.fired, status.not_ect), (2, 1, 1));
}
