//! SACK-based loss recovery (RFC 6675), pinned by exact segments on the
//! virtual clock: C and S 50 ms apart one way (RTT 100 ms, RTO 300 ms after
//! the handshake), S a synack receiver reporting SACK blocks (RFC 2018).
#![allow(clippy::unwrap_used)]

mod util;

use synack_proto::wire::TcpFlags;
use synack_proto::{CongestionAlgorithm, ConnId, Duration, StackConfig};
use util::*;

/// These scripts pin RFC 6675's cwnd - pipe budget after NewReno's halving
/// and its loss detection by DupThresh and IsLost (the FreeBSD profile's);
/// CUBIC, PRR and RACK (`tests/rack.rs`) have tests of their own.
fn net_with(mut cfg: StackConfig) -> Net {
    cfg.conn.congestion = CongestionAlgorithm::NewReno;
    cfg.conn.prr = false;
    cfg.conn.rack = false;
    let mut n = Net::new(cfg);
    n.delay = Duration::from_millis(50);
    n.with_time = true;
    n.with_reasons = true;
    n
}

/// Connect C to S and stand still until 1 s.
fn open(n: &mut Net) -> (ConnId, ConnId) {
    let l = n.hosts[1].listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(1));
    let s = n.hosts[1].accept(l).unwrap();
    n.take_log();
    (c, s)
}

/// Drop C's plain-ACK data segments number `a` and `b` (first transmissions).
fn drop_two(a: usize, b: usize) -> DropFn {
    Box::new(move |from, f, k, _| from == 0 && f == TcpFlags::ACK && (k == a || k == b))
}

fn received(n: &mut Net, s: ConnId) -> Vec<u8> {
    let now = n.now;
    let mut got = Vec::new();
    let mut b = [0u8; 65536];
    while let Ok(k) = n.hosts[1].recv(now, s, &mut b) {
        if k == 0 {
            break;
        }
        got.extend_from_slice(&b[..k]);
    }
    got
}

fn client_lines(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|l| l.contains(" C>S ") || l.contains(" C timer") || l.contains(" C X"))
        .cloned()
        .collect()
}

#[test]
fn two_holes_in_one_window_are_repaired_in_one_round_trip() {
    let mut n = net_with(StackConfig::default());
    let (c, s) = open(&mut n);
    n.drop = Some(drop_two(2, 4));
    let data: Vec<u8> = (0..10 * 1448).map(|i| i as u8).collect();
    n.hosts[0].send(n.now, c, &data).unwrap();
    n.run_for(Duration::from_secs(2));
    let log = n.take_log();
    // The third duplicate ACK (sent at 1050, arriving at 1100) starts the
    // recovery (RFC 6675 5): SND.UNA's segment goes at once; the second hole
    // follows within the same round trip as soon as three segments above it
    // are SACKed (IsLost) and cwnd - pipe allows (NextSeg rule 1). No rescue
    // retransmission (rule 4) follows: RescueRxt was set to the end of the first
    // retransmission (RFC 6675 5 step 4.3) and the cumulative ACK that would
    // pass it already covers everything. No RTO.
    assert_log(
        &retransmissions(&log),
        &[
            "   1100 C>S ACK seq=1 ack=1 len=1448 (FastRetransmit)",
            "   1100 C>S ACK seq=2897 ack=1 len=1448 (FastRetransmit)",
        ],
    );
    assert_eq!(received(&mut n, s), data);
    let st = n.hosts[0].status(c).unwrap();
    assert_eq!(st.retransmits, 2);
    assert_eq!(st.ssthresh, 5 * 1448);
}

/// The client's segments after the data went out: sequence numbers relative to its ISS.
fn retransmissions(log: &[String]) -> Vec<String> {
    client_lines(log)
        .into_iter()
        .filter(|l| l.contains("Retransmit") || l.contains("timer") || l.contains("LossProbe"))
        .collect()
}

#[test]
fn newreno_needs_a_round_trip_per_hole_where_sack_needs_one() {
    let mut cfg = StackConfig::default();
    cfg.conn.sack_recovery = false;
    let mut n = net_with(cfg);
    let (c, s) = open(&mut n);
    n.drop = Some(drop_two(2, 4));
    let data: Vec<u8> = (0..10 * 1448).map(|i| i as u8).collect();
    n.hosts[0].send(n.now, c, &data).unwrap();
    n.run_for(Duration::from_secs(2));
    let log = n.take_log();
    // RFC 6582: the second hole waits for the partial ACK of the first repair.
    assert_log(
        &retransmissions(&log),
        &[
            "   1100 C>S ACK seq=1 ack=1 len=1448 (FastRetransmit)",
            "   1200 C>S ACK seq=2897 ack=1 len=1448 (FastRetransmit)",
        ],
    );
    assert_eq!(received(&mut n, s), data);
}

/// A stack pair without timestamps or window scaling (so hand-made ACKs are
/// plain), C's data to S all lost: the test plays S's ACKs itself.
fn raw_open(sack_recovery: bool) -> (Net, ConnId, u32, u32, u16) {
    let mut cfg = StackConfig::default();
    cfg.conn.timestamps = false;
    cfg.conn.window_scaling = false;
    cfg.conn.tail_loss_probe = false;
    cfg.conn.sack_recovery = sack_recovery;
    let mut n = net_with(cfg);
    let (c, _s) = open(&mut n);
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    let st = n.hosts[0].status(c).unwrap();
    let wnd = u16::try_from(st.snd_wnd).unwrap();
    (n, c, st.iss.get().wrapping_add(1), st.rcv_nxt.get(), wnd)
}

/// Hand C a packet; return C's data segments as `(relative seq, len)`.
fn inject(n: &mut Net, base: u32, pkt: &[u8]) -> Vec<(u32, usize)> {
    n.hosts[0].handle_packet(n.now, pkt);
    data_sent(n, base)
}

#[test]
fn islost_enters_recovery_before_three_duplicate_acks() {
    for sack in [true, false] {
        let (mut n, c, base, rcv, wnd) = raw_open(sack);
        n.hosts[0].send(n.now, c, &[5u8; 5 * 1460]).unwrap();
        n.flush();
        // One duplicate ACK SACKing three segments above the first: RFC 6675 5
        // (step B) enters recovery at once, IsLost(HighACK + 1) being true.
        let out = inject(&mut n, base, &sack_ack(base, rcv, wnd, 0, &[(1460, 5840)]));
        if sack {
            assert_eq!(out, vec![(0, 1460)]);
            let st = n.hosts[0].status(c).unwrap();
            assert_eq!(st.ssthresh, 5 * 1460 / 2);
            assert_eq!(st.cwnd, st.ssthresh, "RFC 6675 5 (4.2): no inflation");
        } else {
            assert_eq!(out, vec![], "NewReno waits for three duplicate ACKs");
        }
    }
}

#[test]
fn sacked_data_is_skipped_and_recovery_ends_at_the_recovery_point() {
    let (mut n, c, base, rcv, wnd) = raw_open(true);
    n.hosts[0].send(n.now, c, &[5u8; 8 * 1460]).unwrap();
    n.flush();
    let p = 1460;
    // Segments 0 and 2 lost, 1 and 3..8 SACKed, reported one at a time.
    assert_eq!(
        inject(&mut n, base, &sack_ack(base, rcv, wnd, 0, &[(p, 2 * p)])),
        vec![]
    );
    assert_eq!(
        inject(
            &mut n,
            base,
            &sack_ack(base, rcv, wnd, 0, &[(3 * p, 4 * p), (p, 2 * p)])
        ),
        vec![]
    );
    // Third duplicate: recovery; SND.UNA's segment is retransmitted, and with
    // cwnd = 4 segments and pipe = 1 (hole 2, not yet lost) + 1 (the
    // retransmission) + 2 (the tail), nothing more.
    assert_eq!(
        inject(
            &mut n,
            base,
            &sack_ack(base, rcv, wnd, 0, &[(3 * p, 5 * p), (p, 2 * p)])
        ),
        vec![(0, p as usize)]
    );
    // Three segments SACKed above hole 2: lost (NextSeg rule 1), never the
    // SACKed segment 1 in between.
    assert_eq!(
        inject(
            &mut n,
            base,
            &sack_ack(base, rcv, wnd, 0, &[(3 * p, 6 * p), (p, 2 * p)])
        ),
        vec![(2 * p, p as usize)]
    );
    // A partial ACK: nothing is lost above it and no new data waits, so
    // NextSeg rule 4 sends the rescue retransmission, the last unSACKed
    // segment, once per recovery; cwnd is unchanged.
    let before = n.hosts[0].status(c).unwrap();
    assert_eq!(
        inject(
            &mut n,
            base,
            &sack_ack(base, rcv, wnd, 2 * p, &[(3 * p, 7 * p)])
        ),
        vec![(7 * p, p as usize)]
    );
    assert_eq!(
        inject(
            &mut n,
            base,
            &sack_ack(base, rcv, wnd, 3 * p, &[(4 * p, 7 * p)])
        ),
        vec![]
    );
    assert_eq!(n.hosts[0].status(c).unwrap().cwnd, before.cwnd);
    // The ACK of everything (RecoveryPoint) ends the recovery.
    assert_eq!(
        inject(&mut n, base, &sack_ack(base, rcv, wnd, 8 * p, &[])),
        vec![]
    );
    let st = n.hosts[0].status(c).unwrap();
    assert_eq!(st.bytes_in_flight, 0);
    assert_eq!(st.retransmits, 3);
    assert_eq!(st.ssthresh, 4 * p);
}

#[test]
fn an_rto_ends_recovery_and_go_back_n_skips_sacked_data() {
    let (mut n, c, base, rcv, wnd) = raw_open(true);
    n.hosts[0].send(n.now, c, &[5u8; 6 * 1460]).unwrap();
    n.flush();
    let p = 1460;
    let out = inject(&mut n, base, &sack_ack(base, rcv, wnd, 0, &[(p, 4 * p)]));
    assert_eq!(out, vec![(0, p as usize)]);
    // The retransmission is lost too: the RTO fires (RFC 6675 5.1) and
    // retransmits SND.UNA's segment with cwnd = 1 SMSS.
    let t = n.hosts[0].poll_timeout().unwrap();
    n.now = t;
    n.hosts[0].handle_timeout(t);
    let mut buf = Vec::new();
    let mut segs = Vec::new();
    while n.hosts[0].poll_transmit(n.now, &mut buf) {
        segs.push(buf.len());
    }
    while n.hosts[0].poll_event().is_some() {}
    assert_eq!(segs.len(), 1);
    let st = n.hosts[0].status(c).unwrap();
    assert_eq!(st.cwnd, p);
    // Its ACK SACKs 2..4 again (Update() goes on after the RTO): go-back-N
    // sends segment 1, stopping short of the SACKed octets (cwnd 2 segments,
    // the skipped octets still count as outstanding).
    let out = inject(
        &mut n,
        base,
        &sack_ack(base, rcv, wnd, p, &[(2 * p, 4 * p)]),
    );
    assert_eq!(out, vec![(p, p as usize)]);
    // The next ACK: segment 4 follows, never the SACKed 2..4.
    let out = inject(
        &mut n,
        base,
        &sack_ack(base, rcv, wnd, 2 * p, &[(2 * p, 4 * p)]),
    );
    assert_eq!(out, vec![(4 * p, p as usize)]);
}

#[test]
fn hostile_sack_blocks_are_ignored_and_bounded() {
    let (mut n, c, base, rcv, wnd) = raw_open(true);
    n.hosts[0].send(n.now, c, &[5u8; 10 * 1460]).unwrap();
    n.flush();
    let p = 1460;
    let max = 10 * p;
    // Outside SND.UNA..SND.MAX, inverted, empty, D-SACK below the ACK: no
    // loss signal, nothing sent, no recovery.
    for (i, blocks) in [
        vec![(max, max + 5 * p)],
        vec![(0u32.wrapping_sub(9 * p), 0u32.wrapping_sub(p))],
        vec![(5 * p, 2 * p)],
        vec![(3 * p, 3 * p)],
        vec![(p, 2 * p + 1), (2 * p, max + 1)],
    ]
    .into_iter()
    .enumerate()
    {
        // Each ACK changes the window, so none is a RFC 5681 duplicate ACK:
        // only valid SACK information could make it one.
        let w = wnd - 1 - i as u16;
        let out = inject(&mut n, base, &sack_ack(base, rcv, w, 0, &blocks));
        assert_eq!(out, vec![], "{blocks:?}");
    }
    assert_eq!(n.hosts[0].status(c).unwrap().retransmits, 0);
    // Thousands of distinct one-octet blocks: whatever is retransmitted stays
    // below SND.MAX; memory stays bounded (the
    // scoreboard keeps at most 8 ranges, checked by its unit tests).
    let mut x: u32 = 12345;
    for _ in 0..3000 {
        let mut blocks = Vec::new();
        for _ in 0..4 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let l = 1 + (x >> 8) % (max - 2);
            blocks.push((l, l + 1));
        }
        for (seq, len) in inject(&mut n, base, &sack_ack(base, rcv, wnd, 0, &blocks)) {
            assert!(seq + len as u32 <= max);
        }
    }
    // The connection still works: everything ACKed, nothing outstanding.
    inject(&mut n, base, &sack_ack(base, rcv, wnd, max, &[]));
    assert_eq!(n.hosts[0].status(c).unwrap().bytes_in_flight, 0);
}
