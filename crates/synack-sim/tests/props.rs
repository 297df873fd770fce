//! Properties over many generated configurations.

mod common;

use common::*;
use proptest::prelude::*;
use synack_proto::{Duration, Instant};
use synack_sim::peek::{self, Flags};
use synack_sim::{FaultRule, LinkConfig, RunOutcome, Sim};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Without loss, faults, jitter or reordering, every packet arrives
    /// exactly once, in the order sent, and never before it could.
    #[test]
    fn lossless_fifo_links_deliver_everything_once_in_order(
        seed in any::<u64>(),
        delay_us in 0u64..50_000,
        bandwidth in prop_oneof![Just(0u64), 1_000_000u64..1_000_000_000],
        gaps_us in proptest::collection::vec(0u64..3_000, 1..60),
        payloads in proptest::collection::vec(0usize..1400, 60),
    ) {
        let mut t = Instant::ZERO;
        let mut script = Vec::new();
        for (i, gap) in gaps_us.iter().enumerate() {
            t += Duration::from_micros(*gap);
            script.push((t, tcp4(A, B, i as u32, Flags::ACK, payloads[i])));
        }
        let sent_at: Vec<u64> = script.iter().map(|(t, _)| t.micros()).collect();
        let mut sim = Sim::new(seed);
        let a = sim.add_host("a", A, TestNode::scripted(script));
        let b = sim.add_host("b", B, TestNode::default());
        let config = LinkConfig::default()
            .with_delay(Duration::from_micros(delay_us))
            .with_bandwidth(bandwidth);
        sim.link(a, b, config);
        prop_assert_eq!(sim.run_until_idle(Instant::from_millis(3_600_000)), Ok(RunOutcome::Idle));
        let n = gaps_us.len() as u32;
        prop_assert_eq!(sim.node(b).received_seqs(), (0..n).collect::<Vec<_>>());
        for ((at, _), sent) in sim.node(b).received.iter().zip(&sent_at) {
            prop_assert!(at.micros() >= sent + delay_us);
        }
        let stats = *sim.link_stats(a, b).expect("link");
        prop_assert_eq!(stats.delivered_packets, u64::from(n));
        prop_assert_eq!(stats.dropped(), 0);
        prop_assert_eq!(stats.delivered_bytes, stats.sent_bytes);
    }

    /// Any bytes at all, as a packet: peeking and simulating never panic.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..120),
        v4 in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut packet = bytes;
        if v4 && packet.len() >= 20 {
            // Make it routable half of the time so it reaches the link.
            packet[0] = (packet[0] & 0x0f) | 0x40;
            packet[16..20].copy_from_slice(&B);
        }
        let _ = peek::peek(&packet);
        let _ = peek::tcp(&packet);
        let _ = peek::dst_addr(&packet);
        let mut sim = Sim::new(seed);
        let a = sim.add_host("a", A, TestNode::default());
        let b = sim.add_host("b", B, TestNode::echo());
        sim.link(a, b, LinkConfig::default().with_corrupt(0.5).with_duplicate(0.3).with_mtu(100));
        sim.add_fault(FaultRule::drop_nth(a, b, 2, Flags::SYN).excluding(Flags::ACK).on_port(80));
        sim.inject(a, packet.clone());
        sim.inject(a, packet);
        prop_assert!(sim.run_until_idle(Instant::from_millis(10)).is_ok());
    }
}
