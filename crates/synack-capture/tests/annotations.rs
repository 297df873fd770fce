//! What each captured segment did: retransmissions of every kind,
//! reordering, duplicate ACKs with SACK, window events, probes, TIME_WAIT's
//! re-ACK, and the causes of RSTs; with their words in both languages.

mod common;

use common::*;
use synack_capture::{explain_bytes, Config, Run};
use synack_proto::rules::Seen;
use synack_proto::{EventKind, SendReason};
use synack_sim::TraceKind;
use synack_trace::{render_text, Lang, TextOptions};

fn explain(segs: &[S]) -> Run {
    let fr: Vec<_> = segs
        .iter()
        .enumerate()
        .map(|(n, g)| (1_000_000_000 + n as u64 * 1_000_000, ip(g)))
        .collect();
    explain_bytes(&pcap(101, true, false, 65535, &fr), Config::default()).expect("reads")
}

/// What each segment was seen as, in order.
fn seen(run: &Run) -> Vec<Seen> {
    let mut v = Vec::new();
    for f in &run.connections {
        for e in &f.trace.as_ref().expect("recorded").entries {
            if let TraceKind::Stack(ev) = &e.kind {
                if let EventKind::SegmentSent { reason, .. } = ev.kind {
                    v.push(match reason {
                        SendReason::Observed(o) => o.seen,
                        _ => Seen::Normal,
                    });
                }
            }
        }
    }
    v
}

fn text(run: &Run, lang: Lang) -> String {
    let tr = run.connections[0].trace.as_ref().expect("recorded");
    render_text(
        &tr.entries,
        &tr.hosts(),
        &TextOptions {
            lang,
            summary: false,
            ..TextOptions::default()
        },
    )
}

fn handshake(c: std::net::SocketAddr, sv: std::net::SocketAddr) -> Vec<S> {
    vec![
        s(c, sv, SYN, 100, 0, b""),
        s(sv, c, SYN | ACK, 900, 101, b""),
        s(c, sv, ACK, 101, 901, b""),
    ]
}

#[test]
fn loss_and_recovery() {
    let (c, sv) = ip_v4_pair();
    let k = [1u8; 1000];
    let mut g = handshake(c, sv);
    let dup = |n: u32| {
        let mut a = s(sv, c, ACK, 901, 1101, b"");
        a.sack = vec![(1101 + 1000 * n, 2101 + 1000 * n)];
        a.sack.truncate(1);
        a
    };
    g.extend([
        s(c, sv, ACK, 101, 901, &k),   // 101..1100
        s(sv, c, ACK, 901, 1101, b""), // acked
        s(c, sv, ACK, 2101, 901, &k),  // 1101..2100 missing: a gap
        dup(1),
        s(c, sv, ACK, 3101, 901, &k),
        dup(2),
        s(c, sv, ACK, 4101, 901, &k),
        dup(3),
        s(c, sv, ACK, 1101, 901, &k), // fast retransmit of the hole (never captured before)
        s(sv, c, ACK, 901, 5101, b""),
        s(c, sv, ACK, 4101, 901, &k),  // already acknowledged: spurious
        s(sv, c, ACK, 901, 5101, b""), // a duplicate ACK again (nothing outstanding: no)
    ]);
    let run = explain(&g);
    let v = seen(&run);
    assert_eq!(
        v[3..],
        [
            Seen::Normal,
            Seen::Normal,
            Seen::Gap { missing: 1000 },
            Seen::DuplicateAck { n: 1 },
            Seen::Normal,
            Seen::DuplicateAck { n: 2 },
            Seen::Normal,
            Seen::DuplicateAck { n: 3 },
            Seen::FastRetransmit,
            Seen::Normal,
            Seen::SpuriousRetransmit,
            Seen::Normal,
        ]
    );
    let en = text(&run, Lang::En);
    assert!(en.contains("duplicate ACK #3"), "{en}");
    assert!(en.contains("SACK (RFC 2018): it already holds"), "{en}");
    assert!(en.contains("spurious retransmission"), "{en}");
    let zh = text(&run, Lang::Zh);
    assert!(zh.contains("第 3 个重复 ACK"), "{zh}");
    assert!(zh.contains("虚假重传"), "{zh}");
}

#[test]
fn timeout_and_fast_retransmissions() {
    let (c, sv) = ip_v4_pair();
    let k = [1u8; 100];
    let mut g = handshake(c, sv);
    g.extend([
        s(c, sv, ACK, 101, 901, &k),
        s(c, sv, ACK, 201, 901, &k),
        s(sv, c, ACK, 901, 101, b""),
        s(sv, c, ACK, 901, 101, b""),
        s(sv, c, ACK, 901, 101, b""),
        s(c, sv, ACK, 101, 901, &k), // after three duplicates: fast retransmit
        s(c, sv, ACK, 101, 901, &k), // and again: the timer
    ]);
    let v = seen(&explain(&g));
    assert_eq!(
        v[5..],
        [
            // The SYN,ACK carried ack=101 already: RFC 5681 2 counts from there.
            Seen::DuplicateAck { n: 1 },
            Seen::DuplicateAck { n: 2 },
            Seen::DuplicateAck { n: 3 },
            Seen::FastRetransmit,
            Seen::Retransmit,
        ],
        "{v:?}"
    );
}

#[test]
fn windows_and_probes() {
    let (c, sv) = ip_v4_pair();
    let mut g = handshake(c, sv);
    let mut zero = s(sv, c, ACK, 901, 201, b"");
    zero.win = 0;
    g.extend([
        s(c, sv, ACK | PSH, 101, 901, &[2u8; 100]),
        zero.clone(),
        s(c, sv, ACK, 200, 901, b""), // window probe: seq = SND.NXT - 1
        zero,
        s(sv, c, ACK, 901, 201, b""), // the window opens: same ack
        s(c, sv, ACK, 200, 901, b""), // keepalive probe
        s(sv, c, ACK, 901, 201, b""), // its answer
    ]);
    let run = explain(&g);
    assert_eq!(
        seen(&run)[3..],
        [
            Seen::Normal,
            Seen::ZeroWindow,
            Seen::WindowProbe,
            Seen::ZeroWindow,
            Seen::WindowUpdate,
            Seen::KeepaliveProbe,
            Seen::KeepaliveAck,
        ]
    );
    assert!(text(&run, Lang::En).contains("keepalive probe"));
}

#[test]
fn time_wait_acks_a_repeated_fin() {
    let (c, sv) = ip_v4_pair();
    let mut g = handshake(c, sv);
    g.extend([
        s(c, sv, FIN | ACK, 101, 901, b""),
        s(sv, c, FIN | ACK, 901, 102, b""),
        // The client's ACK of the FIN is lost before the capture point; the server repeats.
        s(sv, c, FIN | ACK, 901, 102, b""),
        s(c, sv, ACK, 102, 902, b""),
    ]);
    let run = explain(&g);
    assert_eq!(
        seen(&run)[3..],
        [
            Seen::Normal,
            Seen::Normal,
            Seen::Retransmit,
            Seen::TimeWaitAck
        ]
    );
    let sm = &run.connections[0].summary;
    assert_eq!(sm.time_wait, Some(0));
    assert_eq!(
        sm.last,
        [
            Some(synack_proto::State::TimeWait),
            Some(synack_proto::State::Closed)
        ]
    );
}

#[test]
fn causes_of_resets() {
    let (c, sv) = ip_v4_pair();
    // Refused: a SYN to a closed port.
    let run = explain(&[s(c, sv, SYN, 100, 0, b""), s(sv, c, RST | ACK, 0, 101, b"")]);
    assert_eq!(seen(&run), [Seen::Normal, Seen::RstRefused]);
    assert_eq!(run.listeners[0].refused, 1);
    // An old duplicate SYN: its SYN,ACK is answered with RST at exactly its ack.
    let run = explain(&[
        s(c, sv, SYN, 100, 0, b""),
        s(sv, c, SYN | ACK, 900, 101, b""),
        s(c, sv, RST, 101, 0, b""),
    ]);
    assert_eq!(seen(&run), [Seen::Normal, Seen::Normal, Seen::RstBadAck]);
    assert_eq!(
        run.connections[0].summary.last[1],
        Some(synack_proto::State::Closed)
    );
    // Abort with unread data: the server's request arrived after its last data.
    let mut g = handshake(c, sv);
    g.extend([
        s(c, sv, ACK | PSH, 101, 901, b"more request"),
        s(sv, c, RST | ACK, 901, 113, b""),
    ]);
    assert_eq!(seen(&explain(&g))[4], Seen::RstUnreadData);
    // A half-open connection: the server lost its state and answers data with a bare RST.
    let mut g = handshake(c, sv);
    g.extend([
        s(c, sv, ACK | PSH, 101, 901, b"hello"),
        s(sv, c, RST, 901, 0, b""),
    ]);
    let run = explain(&g);
    assert_eq!(seen(&run)[4], Seen::RstHalfOpen);
    assert_eq!(
        run.connections[0].summary.last[0],
        Some(synack_proto::State::Closed)
    );
    // A rebooted client reconnects from the same port: the server, still
    // ESTABLISHED, answers with a challenge ACK, the client with an exact RST.
    let mut g = handshake(c, sv);
    g.extend([
        s(c, sv, SYN, 7777, 0, b""),
        s(sv, c, ACK, 901, 101, b""),
        s(c, sv, RST, 101, 0, b""),
    ]);
    let v = seen(&explain(&g));
    assert_eq!(
        v[3..],
        [Seen::Normal, Seen::ChallengeAck, Seen::RstChallengeAnswer],
        "{v:?}"
    );
}

#[test]
fn out_of_order_within_a_few_milliseconds() {
    let (c, sv) = ip_v4_pair();
    let mut g = handshake(c, sv);
    g.extend([
        s(c, sv, ACK, 201, 901, &[3u8; 100]),
        s(c, sv, ACK, 101, 901, &[3u8; 100]),
    ]);
    // One millisecond apart (see `explain`): reordering, not a retransmission.
    assert_eq!(
        seen(&explain(&g))[3..],
        [Seen::Gap { missing: 100 }, Seen::OutOfOrder]
    );
}

#[test]
fn syn_flood_signature() {
    let sv = sa("10.0.0.2:80");
    let mut g = Vec::new();
    for n in 0..40u32 {
        let c = sa(&format!("192.0.2.{}:{}", n + 1, 20000 + n));
        g.push(s(c, sv, SYN, n * 1000, 0, b""));
        g.push(s(sv, c, SYN | ACK, 777 + n, n * 1000 + 1, b""));
    }
    let run = explain(&g);
    let l = run
        .listeners
        .iter()
        .find(|l| l.addr == Some(sv))
        .expect("the port");
    assert_eq!((l.syns, l.connections, l.handshakes), (40, 40, 0));
    assert_eq!((l.half_open, l.half_open_sources), (40, 40));
    let text = synack_capture::listeners_text(&run.listeners, Lang::En);
    assert!(text.contains("the signature of a SYN flood"), "{text}");
    let zh = synack_capture::listeners_text(&run.listeners, Lang::Zh);
    assert!(zh.contains("SYN 洪泛"), "{zh}");
}

#[test]
fn repeated_window_probes() {
    let (c, sv) = ip_v4_pair();
    let mut g = handshake(c, sv);
    let mut zero = s(sv, c, ACK, 901, 201, b"");
    zero.win = 0;
    g.extend([
        s(c, sv, ACK | PSH, 101, 901, &[2u8; 100]),
        zero.clone(),
        s(c, sv, ACK, 201, 901, &[2u8; 1]),
        zero.clone(),
        s(c, sv, ACK, 201, 901, &[2u8; 1]),
        zero,
    ]);
    assert_eq!(
        seen(&explain(&g))[4..],
        [
            Seen::ZeroWindow,
            Seen::WindowProbe,
            Seen::ZeroWindow,
            Seen::WindowProbe,
            Seen::ZeroWindow
        ]
    );
}
