//! Captures built in the test, byte by byte: every link type synack
//! decodes, pcap with microsecond and nanosecond timestamps in both byte
//! orders, pcapng with several interfaces, and broken input (truncated
//! files, snapped packets, unknown link types, non-TCP, fragments, bad
//! checksums) that is counted and reported, never a panic.

mod common;

use common::*;
use synack_capture::{explain_bytes, CaptureError, Config, Run};
use synack_proto::rules::Seen;
use synack_proto::{EventKind, SendReason, State};
use synack_sim::TraceKind;

const CLIENT_STATES: [State; 6] = [
    State::Closed,
    State::SynSent,
    State::Established,
    State::FinWait1,
    State::FinWait2,
    State::TimeWait,
];
const SERVER_STATES: [State; 6] = [
    State::Listen,
    State::SynReceived,
    State::Established,
    State::CloseWait,
    State::LastAck,
    State::Closed,
];

fn frames(link: impl Fn(&[u8]) -> Vec<u8>, v6: bool) -> Vec<(u64, Vec<u8>)> {
    let (c, s) = if v6 { ip_v6_pair() } else { ip_v4_pair() };
    conversation(c, s)
        .into_iter()
        .map(|(t, seg)| (t, link(&ip(&seg))))
        .collect()
}

fn assert_textbook(run: &Run, what: &str) {
    assert!(run.error.is_none(), "{what}: {:?}", run.error);
    assert_eq!(run.connections.len(), 1, "{what}: one connection");
    let s = &run.connections[0].summary;
    let want = |v: &[State]| v.iter().map(|x| Some(*x)).collect::<Vec<_>>();
    assert_eq!(s.states[0], want(&CLIENT_STATES), "{what}: client");
    assert_eq!(s.states[1], want(&SERVER_STATES), "{what}: server");
    assert_eq!(s.closed_first, Some((0, false)), "{what}");
    assert_eq!(s.time_wait, Some(0), "{what}");
    assert_eq!(s.bytes, [18, 24], "{what}");
    assert_eq!(s.handshake_us, Some(20_000), "{what}");
    assert_eq!(run.totals.bad_checksums, 0, "{what}");
}

#[test]
fn every_link_type_in_pcap() {
    type Framing = fn(&[u8]) -> Vec<u8>;
    let cases: [(&str, u32, Framing); 7] = [
        ("raw", 101, |b| b.to_vec()),
        ("ethernet", 1, |b| ethernet(b, &[])),
        ("ethernet, 802.1Q in 802.1Q", 1, |b| ethernet(b, &[10, 20])),
        ("linux sll", 113, sll),
        ("linux sll2", 276, sll2),
        ("bsd null", 0, null),
        ("openbsd loop", 108, looped),
    ];
    for (what, link, f) in cases {
        for v6 in [false, true] {
            let file = pcap(link, false, false, 65535, &frames(f, v6));
            let run = explain_bytes(&file, Config::default()).expect("reads");
            assert_textbook(&run, &format!("{what} v6={v6}"));
        }
    }
}

#[test]
fn nanosecond_and_big_endian_pcap() {
    let fr = frames(|b| b.to_vec(), false);
    for (nano, be) in [(true, false), (true, true), (false, true)] {
        let run =
            explain_bytes(&pcap(101, nano, be, 65535, &fr), Config::default()).expect("reads");
        assert_textbook(&run, &format!("nano={nano} be={be}"));
        assert_eq!(run.totals.reader.nanosecond, nano);
    }
    // The data segment 1 ns after the ACK: only a nanosecond capture keeps them apart.
    let run = explain_bytes(&pcap(101, true, false, 65535, &fr), Config::default()).expect("reads");
    let tr = run.connections[0].trace.as_ref().expect("recorded");
    assert!(tr.entries.iter().all(|e| e.at.micros() <= 70_001));
}

#[test]
fn pcapng_with_two_interfaces_and_resolutions() {
    // Interface 0 Ethernet in microseconds, interface 1 raw IP in nanoseconds:
    // the client's segments on one, the server's on the other.
    let (c, s) = ip_v4_pair();
    let pkts: Vec<(u32, u64, Vec<u8>)> = conversation(c, s)
        .into_iter()
        .map(|(t, seg)| {
            if seg.src == c {
                (0, t / 1000, ethernet(&ip(&seg), &[]))
            } else {
                (1, t, ip(&seg))
            }
        })
        .collect();
    let file = pcapng(&[(1, 6), (101, 9)], &pkts);
    let run = explain_bytes(&file, Config::default()).expect("reads");
    assert_textbook(&run, "pcapng");
    assert_eq!(run.totals.reader.format, synack_capture::Format::PcapNg);
    // A second section starts its own interface list.
    let mut two = file.clone();
    two.extend_from_slice(&file);
    let run = explain_bytes(&two, Config::default()).expect("reads");
    assert_eq!(run.totals.tcp_segments, 18);
}

#[test]
fn truncated_and_broken_files() {
    let file = pcap(101, false, false, 65535, &frames(|b| b.to_vec(), false));
    // Cut inside the last record: everything before is explained, the cut reported.
    let cut = &file[..file.len() - 5];
    let run = explain_bytes(cut, Config::default()).expect("reads");
    assert!(run.totals.reader.truncated);
    assert_eq!(run.totals.frames, 8);
    assert!(run.error.is_none());
    // Cut inside the file header.
    assert!(explain_bytes(&file[..10], Config::default()).is_err());
    assert_eq!(
        explain_bytes(&[], Config::default()).err(),
        Some(CaptureError::Empty)
    );
    assert!(matches!(
        explain_bytes(b"GET / HTTP/1.1\r\n\r\n", Config::default()),
        Err(CaptureError::NotACapture { .. })
    ));
    // pcapng cut in the middle of a block.
    let (c, s) = ip_v4_pair();
    let pkts: Vec<_> = conversation(c, s)
        .into_iter()
        .map(|(t, g)| (0, t / 1000, ip(&g)))
        .collect();
    let ng = pcapng(&[(101, 6)], &pkts);
    let run = explain_bytes(&ng[..ng.len() - 7], Config::default()).expect("reads");
    assert!(run.totals.reader.truncated);
    // Every prefix of both files: never a panic.
    for n in 0..file.len() {
        let _ = explain_bytes(&file[..n], Config::default());
    }
    for n in 0..ng.len() {
        let _ = explain_bytes(&ng[..n], Config::default());
    }
}

#[test]
fn odd_packets_are_counted() {
    let (c, s) = ip_v4_pair();
    let good = ip(&common::s(c, s, SYN, 1, 0, b""));
    let mut udp = good.clone();
    udp[9] = 17;
    let mut frag = good.clone();
    frag[6] = 0x20; // More Fragments
    let mut bad_sum = ip(&common::s(c, s, ACK | PSH, 2, 0, b"data"));
    let last = bad_sum.len() - 1;
    bad_sum[last] ^= 0xff;
    let big = ip(&common::s(c, s, ACK | PSH, 6, 0, &[7u8; 400]));
    let arp = {
        let mut f = ethernet(&good, &[]);
        f[12] = 0x08;
        f[13] = 0x06;
        f
    };
    let mut fr = vec![
        (1_000, ethernet(&good, &[])),
        (2_000, ethernet(&udp, &[])),
        (3_000, ethernet(&frag, &[])),
        (4_000, ethernet(&bad_sum, &[])),
        (5_000, arp),
        (6_000, ethernet(&good[..30], &[])),
        (7_000, ethernet(&big, &[])),
    ];
    let file = pcap(1, false, false, 200, &fr);
    let run = explain_bytes(&file, Config::default()).expect("reads");
    let t = run.totals;
    assert_eq!((t.frames, t.tcp_segments), (7, 3));
    assert_eq!(
        (t.not_tcp, t.fragments, t.not_ip, t.truncated),
        (1, 1, 1, 1)
    );
    assert_eq!((t.bad_checksums, t.snapped), (1, 1));
    // The bad checksum is said on the segment itself.
    let tr = run.connections[0].trace.as_ref().expect("recorded");
    let flagged = tr.entries.iter().any(|e| match &e.kind {
        TraceKind::Stack(ev) => matches!(
            ev.kind,
            EventKind::SegmentSent { reason: SendReason::Observed(o), .. } if o.bad_checksum
        ),
        TraceKind::Link(_) => false,
    });
    assert!(flagged);
    // An unknown link type is counted, not fatal.
    fr.truncate(1);
    let run =
        explain_bytes(&pcap(147, false, false, 65535, &fr), Config::default()).expect("reads");
    assert_eq!(
        (run.totals.unknown_link, run.totals.last_unknown_link),
        (1, Some(147))
    );
}

#[test]
fn a_connection_without_its_opening_starts_unknown() {
    let (c, s) = ip_v4_pair();
    let conv = conversation(c, s);
    let fr: Vec<_> = conv[3..].iter().map(|(t, g)| (*t, ip(g))).collect();
    let run =
        explain_bytes(&pcap(101, false, false, 65535, &fr), Config::default()).expect("reads");
    let sm = &run.connections[0].summary;
    assert!(!sm.opened);
    assert_eq!(sm.states[0].first(), Some(&None), "client starts UNKNOWN");
    assert_eq!(sm.states[1].first(), Some(&None), "server starts UNKNOWN");
    assert_eq!(sm.last, [Some(State::TimeWait), Some(State::Closed)]);
    let tr = run.connections[0].trace.as_ref().expect("recorded");
    let first_reason = tr.entries.iter().find_map(|e| match &e.kind {
        TraceKind::Stack(ev) => match ev.kind {
            EventKind::SegmentSent { reason, .. } => Some(reason),
            _ => None,
        },
        TraceKind::Link(_) => None,
    });
    assert!(matches!(first_reason, Some(SendReason::Observed(o)) if o.seen == Seen::MidStream));
}

#[test]
fn mutated_captures_never_panic() {
    let (c, s) = ip_v4_pair();
    let pcap_file = pcap(
        1,
        false,
        false,
        65535,
        &frames(|b| ethernet(b, &[7]), false),
    );
    let pkts: Vec<_> = conversation(c, s)
        .into_iter()
        .map(|(t, g)| (0, t / 1000, sll2(&ip(&g))))
        .collect();
    let ng = pcapng(&[(276, 6)], &pkts);
    // A fixed linear congruential sequence: the same mutations every run.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize
    };
    for base in [&pcap_file, &ng] {
        for _ in 0..3000 {
            let mut m = base.clone();
            for _ in 0..1 + next() % 6 {
                let at = next() % m.len();
                m[at] = (next() & 0xff) as u8;
            }
            let cut = m.len() - next() % 64;
            let _ = explain_bytes(&m[..cut], Config::default());
        }
    }
}

#[test]
fn reused_ports_and_a_full_table() {
    // The same four numbers twice, with new ISNs: two connections.
    let (c, s) = ip_v4_pair();
    let mut fr: Vec<(u64, Vec<u8>)> = conversation(c, s)
        .into_iter()
        .map(|(t, g)| (t, ip(&g)))
        .collect();
    let again: Vec<(u64, Vec<u8>)> = conversation(c, s)
        .into_iter()
        .map(|(t, mut g)| {
            g.seq = g.seq.wrapping_add(1_000_000);
            if g.flags & ACK != 0 {
                g.ack = g.ack.wrapping_add(1_000_000);
            }
            (t + 5_000_000_000, ip(&g))
        })
        .collect();
    fr.extend(again);
    let run =
        explain_bytes(&pcap(101, false, false, 65535, &fr), Config::default()).expect("reads");
    assert_eq!(run.connections.len(), 2);
    assert!(run.connections[0].summary.reused);
    assert_eq!(
        run.connections[1].summary.states[0].last(),
        Some(&Some(State::TimeWait))
    );
    // Twenty connections open at once through a table of four: the idlest are
    // finished early and counted, every segment is still reported.
    let mut fr = Vec::new();
    for n in 0..20u16 {
        let c = sa(&format!("10.0.0.1:{}", 30000 + n));
        for (k, (t, g)) in conversation(c, s).into_iter().take(4).enumerate() {
            fr.push((t + u64::from(n) * 1000 + k as u64 * 100_000, ip(&g)));
        }
    }
    fr.sort_by_key(|x| x.0);
    let cfg = Config {
        max_conns: 4,
        ..Config::default()
    };
    let run = explain_bytes(&pcap(101, false, false, 65535, &fr), cfg).expect("reads");
    // An evicted connection whose segments keep coming starts again, UNKNOWN.
    assert!(run.connections.len() >= 20);
    assert!(run.totals.evicted >= 16, "{:?}", run.totals);
    assert!(run.connections.iter().filter(|f| f.summary.evicted).count() >= 16);
    let segs: u64 = run
        .connections
        .iter()
        .map(|f| f.summary.segments.iter().sum::<u64>())
        .sum();
    assert_eq!(segs, 80, "every segment is in some connection");
}

#[test]
fn the_recording_budget_is_shared() {
    let (_, s) = ip_v4_pair();
    let mut fr = Vec::new();
    for n in 0..10u16 {
        let c = sa(&format!("10.0.0.1:{}", 30000 + n));
        for (t, g) in conversation(c, s) {
            fr.push((t + u64::from(n), ip(&g)));
        }
    }
    fr.sort_by_key(|x| x.0);
    let cfg = Config {
        max_recorded: 20,
        ..Config::default()
    };
    let run = explain_bytes(&pcap(101, false, false, 65535, &fr), cfg).expect("reads");
    assert_eq!(run.connections.len(), 10);
    let kept: usize = run
        .connections
        .iter()
        .filter_map(|f| f.trace.as_ref())
        .map(|t| t.entries.len())
        .sum();
    let left: u64 = run
        .connections
        .iter()
        .filter_map(|f| f.trace.as_ref())
        .map(|t| t.dropped)
        .sum();
    assert!(kept < 20 + 10 * 8, "{kept}");
    assert!(left > 0);
    // Summaries are whole all the same.
    assert!(run
        .connections
        .iter()
        .all(|f| f.summary.time_wait == Some(0)));
}

/// A segment as the sending host's capture sees it under checksum offload:
/// its checksum field holds only the pseudo-header's sum.
fn offloaded(seg: &common::S) -> Vec<u8> {
    use synack_proto::wire::checksum::{fold, pseudo_header};
    let mut p = ip(seg);
    let hl = if seg.src.is_ipv4() { 20 } else { 40 };
    let len = u32::try_from(p.len() - hl).expect("small");
    let partial = fold(pseudo_header(seg.src.ip(), seg.dst.ip(), 6, len));
    p[hl + 16..hl + 18].copy_from_slice(&partial.to_be_bytes());
    p
}

#[test]
fn checksums_left_to_offload_are_not_errors() {
    for (c, s) in [ip_v4_pair(), ip_v6_pair()] {
        let segs = [
            common::s(c, s, SYN, 1, 0, b""),
            common::s(s, c, SYN | ACK, 9, 2, b""),
            common::s(c, s, ACK | PSH, 2, 10, b"data"),
        ];
        let mut fr: Vec<(u64, Vec<u8>)> = segs
            .iter()
            .enumerate()
            .map(|(n, g)| (1_000 * (n as u64 + 1), ethernet(&offloaded(g), &[])))
            .collect();
        // One really corrupted segment beside them is still bad.
        let mut bad = ip(&common::s(s, c, ACK, 10, 6, b""));
        let last = bad.len() - 1;
        bad[last] ^= 0x5a;
        fr.push((4_000, ethernet(&bad, &[])));
        let run =
            explain_bytes(&pcap(1, false, false, 65535, &fr), Config::default()).expect("reads");
        let t = run.totals;
        assert_eq!((t.offload_checksums, t.bad_checksums), (3, 1), "{c}");
        let tr = run.connections[0].trace.as_ref().expect("recorded");
        let flagged = tr
            .entries
            .iter()
            .filter(|e| match &e.kind {
                TraceKind::Stack(ev) => matches!(
                    ev.kind,
                    EventKind::SegmentSent { reason: SendReason::Observed(o), .. } if o.bad_checksum
                ),
                TraceKind::Link(_) => false,
            })
            .count();
        assert_eq!(flagged, 1, "only the corrupted segment is said to be bad");
    }
}
