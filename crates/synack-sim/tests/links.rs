//! Link behaviour: timing, queueing, MTU, routing and random faults.

mod common;

use common::*;
use synack_proto::Instant;
use synack_sim::peek::Flags;
use synack_sim::{DropCause, LinkConfig, LinkFate, RunOutcome, Sim, TraceKind};

fn pair(seed: u64, a: common::TestNode, config: LinkConfig) -> Sim<TestNode> {
    let mut sim = Sim::new(seed);
    let x = sim.add_host("a", A, a);
    let y = sim.add_host("b", B, TestNode::default());
    sim.link(x, y, config);
    sim
}

fn run(sim: &mut Sim<TestNode>) {
    let out = sim.run_until_idle(at_ms(3_600_000));
    assert_eq!(out, Ok(RunOutcome::Idle));
}

#[test]
fn delay_is_exact() {
    let node = TestNode::sender(3, Instant::ZERO, ms(1), A, B, Flags::ACK, 100);
    let mut sim = pair(1, node, LinkConfig::default().with_delay(ms(10)));
    run(&mut sim);
    assert_eq!(sim.node(1).arrival_times(), [10_000, 11_000, 12_000]);
    assert_eq!(sim.node(1).received_seqs(), [0, 1, 2]);
    let fates = link_fates(sim.trace());
    assert_eq!(
        fates,
        [
            (0, 0, 1, LinkFate::Delivered { at: at_ms(10) }),
            (1000, 0, 1, LinkFate::Delivered { at: at_ms(11) }),
            (2000, 0, 1, LinkFate::Delivered { at: at_ms(12) }),
        ]
    );
}

#[test]
fn bandwidth_serializes_in_fifo_order() {
    // 1000-byte packets at 8 Mbit/s take exactly 1 ms each to serialize.
    let mut script: Vec<_> = (0..3)
        .map(|i| (Instant::ZERO, tcp4(A, B, i, Flags::ACK, 960)))
        .collect();
    // Sent after the queue drained: no waiting, just its own serialization.
    script.push((at_ms(5), tcp4(A, B, 3, Flags::ACK, 960)));
    let config = LinkConfig::default()
        .with_delay(ms(10))
        .with_bandwidth(8_000_000);
    let mut sim = pair(1, TestNode::scripted(script), config);
    run(&mut sim);
    assert_eq!(
        sim.node(1).arrival_times(),
        [11_000, 12_000, 13_000, 16_000]
    );
}

#[test]
fn serialization_rounds_up_to_the_microsecond() {
    let config = LinkConfig::default().with_bandwidth(3_000_000);
    // 41 bytes = 328 bits at 3 Mbit/s = 109.33 us -> 110 us.
    assert_eq!(
        config.serialization(41),
        synack_proto::Duration::from_micros(110)
    );
    assert_eq!(LinkConfig::default().serialization(1500), ms(0));
}

#[test]
fn queue_limit_drops_when_full() {
    let script: Vec<_> = (0..5)
        .map(|i| (Instant::ZERO, tcp4(A, B, i, Flags::ACK, 960)))
        .collect();
    let config = LinkConfig::default()
        .with_bandwidth(8_000_000)
        .with_queue_limit(2);
    let mut sim = pair(1, TestNode::scripted(script), config);
    run(&mut sim);
    assert_eq!(sim.node(1).received_seqs(), [0, 1]);
    let stats = *sim.link_stats(0, 1).expect("link");
    assert_eq!(stats.sent_packets, 5);
    assert_eq!(stats.dropped_queue_full, 3);
    assert_eq!(stats.delivered_packets, 2);
    assert_eq!(stats.delivered_bytes, 2000);
    assert_eq!(stats.sent_bytes, 5000);
    let drops = link_fates(sim.trace())
        .into_iter()
        .filter(|f| f.3 == LinkFate::Dropped(DropCause::QueueFull))
        .count();
    assert_eq!(drops, 3);
}

#[test]
fn jitter_stays_within_bounds() {
    let node = TestNode::sender(200, Instant::ZERO, ms(20), A, B, Flags::ACK, 0);
    let config = LinkConfig::default().with_delay(ms(10)).with_jitter(ms(2));
    let mut sim = pair(5, node, config);
    run(&mut sim);
    let received = &sim.node(1).received;
    assert_eq!(received.len(), 200);
    let mut distinct = std::collections::BTreeSet::new();
    for (at, p) in received {
        let sent = u64::from(seq_of(p).expect("seq")) * 20_000;
        let d = at.micros() - sent;
        assert!((10_000..=12_000).contains(&d), "{d}");
        distinct.insert(d);
    }
    assert!(distinct.len() > 50, "jitter should vary");
}

#[test]
fn mtu_drops_too_big() {
    let script = vec![
        (Instant::ZERO, tcp4(A, B, 0, Flags::ACK, 460)),
        (Instant::ZERO, tcp4(A, B, 1, Flags::ACK, 461)),
    ];
    let mut sim = pair(
        1,
        TestNode::scripted(script),
        LinkConfig::default().with_mtu(500),
    );
    run(&mut sim);
    assert_eq!(sim.node(1).received_seqs(), [0]);
    let fates = link_fates(sim.trace());
    assert_eq!(fates[1].3, LinkFate::Dropped(DropCause::TooBig));
    assert_eq!(sim.link_stats(0, 1).expect("link").dropped_too_big, 1);
}

#[test]
fn unknown_destination_is_no_route() {
    let script = vec![
        (Instant::ZERO, tcp4(A, [192, 168, 1, 1], 0, Flags::SYN, 0)),
        (Instant::ZERO, vec![0xde, 0xad]),
    ];
    let mut sim = pair(1, TestNode::scripted(script), LinkConfig::default());
    run(&mut sim);
    let fates = link_fates(sim.trace());
    assert_eq!(fates.len(), 2);
    for f in &fates {
        assert_eq!((f.1, f.2), (0, 0), "no receiver: the sender is named");
        assert_eq!(f.3, LinkFate::Dropped(DropCause::NoRoute));
    }
    assert_eq!(sim.no_route_drops(0), 2);
}

#[test]
fn missing_link_is_no_route() {
    let mut sim = Sim::new(1);
    let a = sim.add_host(
        "a",
        A,
        TestNode::scripted(vec![(Instant::ZERO, tcp4(A, C, 0, Flags::SYN, 0))]),
    );
    let b = sim.add_host("b", B, TestNode::default());
    let c = sim.add_host("c", C, TestNode::default());
    sim.link(a, b, LinkConfig::default());
    run(&mut sim);
    let fates = link_fates(sim.trace());
    assert_eq!(fates, [(0, a, c, LinkFate::Dropped(DropCause::NoRoute))]);
    assert!(sim.node(c).received.is_empty());
    assert!(sim.link_stats(a, c).is_none());
}

#[test]
fn ipv6_is_routed() {
    let a6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let b6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    let mut sim = Sim::new(1);
    let a = sim.add_host(
        "a",
        std::net::Ipv6Addr::from(a6),
        TestNode::scripted(vec![(Instant::ZERO, tcp6(a6, b6, 7, Flags::SYN, 0))]),
    );
    let b = sim.add_host("b", B, TestNode::default());
    sim.add_address(b, std::net::Ipv6Addr::from(b6))
        .expect("free");
    sim.link(a, b, LinkConfig::default().with_delay(ms(3)));
    run(&mut sim);
    assert_eq!(sim.node(b).received_seqs(), [7]);
    assert_eq!(sim.node(b).arrival_times(), [3000]);
    assert_eq!(sim.route(std::net::Ipv6Addr::from(b6).into()), Some(b));
}

#[test]
fn loss_rate_is_close_to_configured() {
    let mut sim = pair(
        2024,
        TestNode::default(),
        LinkConfig::default().with_loss(0.2),
    );
    for i in 0..10_000 {
        sim.inject(0, tcp4(A, B, i, Flags::ACK, 0));
    }
    run(&mut sim);
    let stats = *sim.link_stats(0, 1).expect("link");
    assert_eq!(stats.sent_packets, 10_000);
    assert_eq!(stats.dropped_loss + stats.delivered_packets, 10_000);
    assert!(
        (1_850..=2_150).contains(&stats.dropped_loss),
        "lost {}",
        stats.dropped_loss
    );
    assert_eq!(sim.node(1).received.len() as u64, stats.delivered_packets);
}

#[test]
fn duplication_happens_and_is_recorded() {
    let mut sim = pair(
        9,
        TestNode::default(),
        LinkConfig::default().with_delay(ms(1)).with_duplicate(0.5),
    );
    for i in 0..1000 {
        sim.inject(0, tcp4(A, B, i, Flags::ACK, 0));
    }
    run(&mut sim);
    let stats = *sim.link_stats(0, 1).expect("link");
    assert!(
        (400..=600).contains(&stats.duplicated),
        "{}",
        stats.duplicated
    );
    assert_eq!(stats.delivered_packets, 1000 + stats.duplicated);
    assert_eq!(sim.node(1).received.len() as u64, 1000 + stats.duplicated);
    let dup_fates = link_fates(sim.trace())
        .into_iter()
        .filter(|f| matches!(f.3, LinkFate::Duplicated { .. }))
        .count() as u64;
    assert_eq!(dup_fates, stats.duplicated);
    // Every duplicated sequence number arrives twice.
    let mut counts = std::collections::BTreeMap::new();
    for s in sim.node(1).received_seqs() {
        *counts.entry(s).or_insert(0u32) += 1;
    }
    assert_eq!(
        counts.values().filter(|&&c| c == 2).count() as u64,
        stats.duplicated
    );
}

#[test]
fn reordering_happens_and_is_recorded() {
    let node = TestNode::sender(200, Instant::ZERO, ms(1), A, B, Flags::ACK, 0);
    let config = LinkConfig::default()
        .with_delay(ms(10))
        .with_reorder(0.2, ms(5));
    let mut sim = pair(3, node, config);
    run(&mut sim);
    let seqs = sim.node(1).received_seqs();
    assert_eq!(seqs.len(), 200);
    let inversions = seqs.windows(2).filter(|w| w[0] > w[1]).count();
    assert!(inversions > 10, "{inversions}");
    let stats = sim.link_stats(0, 1).expect("link");
    assert!((20..=60).contains(&stats.reordered), "{}", stats.reordered);
    // The trace shows the overtaking: a packet sent later arrives earlier.
    let arrivals: Vec<u64> = link_fates(sim.trace())
        .into_iter()
        .map(|f| match f.3 {
            LinkFate::Delivered { at } => at.micros(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(arrivals.windows(2).any(|w| w[0] > w[1]));
    // A held-back packet arrives exactly delay + reorder_delay after it left.
    let late = arrivals
        .iter()
        .enumerate()
        .filter(|(i, &t)| t == *i as u64 * 1000 + 15_000)
        .count() as u64;
    assert_eq!(late, stats.reordered);
}

#[test]
fn corruption_flips_bytes() {
    let mut sim = pair(
        11,
        TestNode::default(),
        LinkConfig::default().with_corrupt(1.0),
    );
    let sent: Vec<Vec<u8>> = (0..100).map(|i| tcp4(A, B, i, Flags::ACK, 20)).collect();
    for p in &sent {
        sim.inject(0, p.clone());
    }
    run(&mut sim);
    let received = &sim.node(1).received;
    assert_eq!(received.len(), 100);
    for ((_, got), want) in received.iter().zip(&sent) {
        assert_eq!(got.len(), want.len());
        let diff = got.iter().zip(want).filter(|(x, y)| x != y).count();
        assert!((1..=3).contains(&diff), "{diff} bytes differ");
    }
    // The trace keeps the original bytes and says the copy was corrupted.
    for (entry, want) in sim.trace().iter().zip(&sent) {
        match &entry.kind {
            TraceKind::Link(l) => {
                assert_eq!(&l.packet, want);
                assert!(matches!(l.fate, LinkFate::Corrupted { .. }));
            }
            TraceKind::Stack(_) => {}
        }
    }
    assert_eq!(sim.link_stats(0, 1).expect("link").corrupted, 100);
}

fn faulty_run(seed: u64) -> Vec<synack_sim::TraceEntry> {
    let mut sim = Sim::new(seed);
    let a = sim.add_host(
        "a",
        A,
        TestNode::sender(300, Instant::ZERO, ms(1), A, B, Flags::ACK, 50),
    );
    let b = sim.add_host("b", B, TestNode::echo());
    let config = LinkConfig::default()
        .with_delay(ms(5))
        .with_jitter(ms(1))
        .with_bandwidth(10_000_000)
        .with_loss(0.1)
        .with_duplicate(0.05)
        .with_reorder(0.05, ms(3))
        .with_corrupt(0.05);
    sim.link(a, b, config);
    assert_eq!(sim.run_until_idle(at_ms(10_000)), Ok(RunOutcome::Idle));
    sim.take_trace()
}

#[test]
fn same_seed_same_trace_different_seed_different_trace() {
    let one = faulty_run(77);
    let two = faulty_run(77);
    let other = faulty_run(78);
    assert!(one.len() > 600);
    assert_eq!(one, two);
    assert_ne!(one, other);
}

#[test]
fn directions_have_independent_randomness() {
    // Adding traffic in the reverse direction must not change the forward
    // direction's random decisions.
    let forward = |with_reverse: bool| {
        let mut sim = Sim::new(5);
        let a = sim.add_host("a", A, TestNode::default());
        let b = sim.add_host("b", B, TestNode::default());
        sim.link(a, b, LinkConfig::default().with_loss(0.5));
        for i in 0..200 {
            sim.inject(a, tcp4(A, B, i, Flags::ACK, 0));
            if with_reverse {
                sim.inject(b, tcp4(B, A, i, Flags::ACK, 0));
            }
        }
        run(&mut sim);
        sim.node(b).received_seqs()
    };
    assert_eq!(forward(false), forward(true));
}

/// `p` with its IP ECN field set to ECT(0).
fn ect0(mut p: Vec<u8>) -> Vec<u8> {
    if p[0] >> 4 == 4 {
        p[1] |= 0b10;
    } else {
        p[1] |= 0b10 << 4;
    }
    p
}

#[test]
fn a_queue_past_its_threshold_marks_ect_packets_ce() {
    use synack_proto::wire::{ChecksumMode, Ecn, Ipv4Repr};
    use synack_sim::peek;
    // 1000-byte packets at 8 Mbit/s: each waits for those before it. The third and
    // fourth ECT packets find two and three queued and are marked; a not-ECT one
    // deep in the queue is left alone (RFC 3168 5).
    let mut script: Vec<_> = (0..4)
        .map(|i| (Instant::ZERO, ect0(tcp4(A, B, i, Flags::ACK, 960))))
        .collect();
    script.push((Instant::ZERO, tcp4(A, B, 4, Flags::ACK, 960)));
    let mut config = LinkConfig::default()
        .with_delay(ms(10))
        .with_bandwidth(8_000_000);
    config.ecn_mark_threshold = Some(2);
    let mut sim = pair(1, TestNode::scripted(script), config);
    run(&mut sim);
    let got: Vec<Option<Ecn>> = sim
        .node(1)
        .received
        .iter()
        .map(|(_, p)| peek::ecn(p))
        .collect();
    assert_eq!(
        got,
        [Ecn::Ect0, Ecn::Ect0, Ecn::Ce, Ecn::Ce, Ecn::NotEct].map(Some)
    );
    for (_, p) in &sim.node(1).received[2..4] {
        // The header checksum was recomputed after the TOS byte changed.
        assert!(Ipv4Repr::parse(p, ChecksumMode::Verify).is_ok());
    }
    let fates: Vec<LinkFate> = link_fates(sim.trace()).into_iter().map(|f| f.3).collect();
    assert!(matches!(fates[2], LinkFate::Marked { .. }));
    assert!(matches!(fates[4], LinkFate::Delivered { .. }));
    assert_eq!(sim.link_stats(0, 1).map(|s| s.ce_marked), Some(2));
}

#[test]
fn ipv6_packets_are_marked_in_the_traffic_class() {
    use synack_proto::wire::Ecn;
    use synack_sim::peek;
    let mut p = ect0(tcp6([0; 16], [1; 16], 0, Flags::ACK, 10));
    assert_eq!(peek::ecn(&p), Some(Ecn::Ect0));
    assert!(peek::mark_ce(&mut p));
    assert_eq!(peek::ecn(&p), Some(Ecn::Ce));
    // The version nibble and the rest of the traffic class are untouched.
    assert_eq!(p[0], 0x60);
    let mut plain = tcp6([0; 16], [1; 16], 0, Flags::ACK, 10);
    assert!(!peek::mark_ce(&mut plain));
    assert_eq!(peek::ecn(&plain), Some(Ecn::NotEct));
}

#[test]
fn a_too_big_packet_draws_an_icmp_error_when_the_link_says_so() {
    use synack_proto::wire::{parse_icmp_packet, ChecksumMode, IcmpMessage, Icmpv4Message};
    // 1000-byte packet over a 576-byte link whose router reports it (RFC 1191).
    let script = vec![(Instant::ZERO, tcp4(A, B, 7, Flags::ACK, 960))];
    let mut config = LinkConfig::default().with_delay(ms(10)).with_mtu(576);
    config.too_big_icmp = true;
    let mut sim = pair(1, TestNode::scripted(script), config);
    run(&mut sim);
    assert!(sim.node(1).received.is_empty());
    let back = &sim.node(0).received;
    assert_eq!(back.len(), 1, "the sender got the router's error");
    let (at, packet) = &back[0];
    assert_eq!(at.micros(), 10_000);
    let (_, icmp) = parse_icmp_packet(packet, ChecksumMode::Verify).expect("valid ICMP");
    assert!(matches!(
        icmp.message,
        IcmpMessage::V4(Icmpv4Message::DestUnreachable {
            next_hop_mtu: 576,
            ..
        })
    ));
    let quoted = icmp.quoted_tcp().expect("quotes the TCP header");
    assert_eq!(quoted.seq.get(), 7);
    // Without the flag the drop is silent (an ICMP black hole).
    let script = vec![(Instant::ZERO, tcp4(A, B, 7, Flags::ACK, 960))];
    let mut sim = pair(
        1,
        TestNode::scripted(script),
        LinkConfig::default().with_mtu(576),
    );
    run(&mut sim);
    assert!(sim.node(0).received.is_empty());
}
