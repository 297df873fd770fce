//! RACK loss detection by time (RFC 8985 6), pinned by exact segments on the
//! virtual clock: C and S 50 ms apart one way (RTT 100 ms, so a minimum RTT
//! of 100 ms and a reordering window of 25 ms), every segment C sends lost
//! on the way, and the test playing S's ACKs with the SACK blocks it
//! chooses (RFC 2018).
#![allow(clippy::unwrap_used)]

mod util;

use synack_proto::{ConnId, Duration, StackConfig};
use util::*;

const P: u32 = 1460;

/// The raw pair: no timestamps or window scaling (so hand-made ACKs are
/// plain), C's segments all lost. Returns C's connection, its first data
/// sequence number, S's sequence number and the window S offers.
fn raw_open(rack: bool) -> (Net, ConnId, u32, u32, u16) {
    let mut cfg = StackConfig::default();
    cfg.conn.timestamps = false;
    cfg.conn.window_scaling = false;
    cfg.conn.tail_loss_probe = false;
    cfg.conn.rack = rack;
    let mut n = Net::new(cfg);
    n.delay = Duration::from_millis(50);
    n.with_time = true;
    n.with_reasons = true;
    let l = n.hosts[1].listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(1));
    n.hosts[1].accept(l).unwrap();
    n.take_log();
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    let st = n.hosts[0].status(c).unwrap();
    let wnd = u16::try_from(st.snd_wnd).unwrap();
    (n, c, st.iss.get().wrapping_add(1), st.rcv_nxt.get(), wnd)
}

/// Hand C `pkt` at `at` ms after the data went out (at `t0`); C's answer.
fn ack_at(
    n: &mut Net,
    t0: synack_proto::Instant,
    at: u64,
    base: u32,
    pkt: &[u8],
) -> Vec<(u32, usize)> {
    n.now = t0 + Duration::from_millis(at);
    n.hosts[0].handle_packet(n.now, pkt);
    data_sent(n, base)
}

/// C's retransmissions and timers in the log.
fn repairs(log: &[String]) -> Vec<String> {
    log.iter()
        .filter(|l| l.contains(" C>S ") && l.contains("Retransmit") || l.contains(" C timer"))
        .cloned()
        .collect()
}

#[test]
fn reordering_within_the_window_is_tolerated() {
    let (mut n, c, base, rcv, wnd) = raw_open(true);
    let t0 = n.now;
    n.hosts[0].send(n.now, c, &[7u8; 4 * P as usize]).unwrap();
    n.flush();
    // Segment 2 arrives first: RACK waits a reordering window (25 ms) for 1.
    assert_eq!(
        ack_at(
            &mut n,
            t0,
            100,
            base,
            &sack_ack(base, rcv, wnd, 0, &[(P, 2 * P)])
        ),
        []
    );
    // Segment 1 arrives 20 ms later, within the window: no loss, no repair.
    assert_eq!(
        ack_at(&mut n, t0, 120, base, &sack_ack(base, rcv, wnd, 2 * P, &[])),
        []
    );
    assert_eq!(
        ack_at(&mut n, t0, 125, base, &sack_ack(base, rcv, wnd, 4 * P, &[])),
        []
    );
    n.run_for(Duration::from_secs(1));
    assert_eq!(repairs(&n.take_log()), Vec::<String>::new());
    let st = n.hosts[0].status(c).unwrap();
    assert_eq!(
        (st.retransmits, st.ssthresh),
        (0, u32::MAX),
        "no loss was declared"
    );
}

#[test]
fn a_segment_missing_past_the_reordering_window_is_lost_when_the_timer_fires() {
    let (mut n, c, base, rcv, wnd) = raw_open(true);
    let t0 = n.now;
    n.hosts[0].send(n.now, c, &[7u8; 4 * P as usize]).unwrap();
    n.flush();
    // Only the last segment arrives (the first three are lost): one SACKed
    // segment is below DupThresh, so RACK waits for the window to pass.
    assert_eq!(
        ack_at(
            &mut n,
            t0,
            100,
            base,
            &sack_ack(base, rcv, wnd, 0, &[(3 * P, 4 * P)])
        ),
        []
    );
    n.run_for(Duration::from_millis(100));
    // RFC 8985 6.2: sent at 1000 ms + RACK.rtt 100 ms + reo_wnd 25 ms: the
    // reordering timer fires at 1125 ms, the three are lost, fast recovery
    // repairs the first, and the rest as the budget allows.
    let log = n.take_log();
    assert_eq!(
        repairs(&log)[..2],
        [
            "   1125 C timer reorder".to_string(),
            "   1125 C>S ACK seq=1 ack=1 len=1460 (FastRetransmit)".to_string(),
        ]
    );
    assert_eq!(
        n.hosts[0].status(c).unwrap().cc_phase,
        synack_proto::CcPhase::Recovery
    );
    // With RACK off, the same ACK leaves the repair to the RTO (1 s later).
    let (mut n, c, base, rcv, wnd) = raw_open(false);
    let t0 = n.now;
    n.hosts[0].send(n.now, c, &[7u8; 4 * P as usize]).unwrap();
    n.flush();
    assert_eq!(
        ack_at(
            &mut n,
            t0,
            100,
            base,
            &sack_ack(base, rcv, wnd, 0, &[(3 * P, 4 * P)])
        ),
        []
    );
    n.run_for(Duration::from_millis(100));
    assert_eq!(repairs(&n.take_log()), Vec::<String>::new());
    let _ = c;
}

#[test]
fn a_lost_retransmission_is_found_without_the_rto() {
    let (mut n, c, base, rcv, wnd) = raw_open(true);
    let t0 = n.now;
    n.hosts[0].send(n.now, c, &[7u8; 4 * P as usize]).unwrap();
    n.flush();
    // Three segments SACKed above the first: DupThresh, so no reordering
    // window; the first is lost at once and retransmitted.
    let out = ack_at(
        &mut n,
        t0,
        100,
        base,
        &sack_ack(base, rcv, wnd, 0, &[(P, 4 * P)]),
    );
    assert_eq!(out, [(0, P as usize)]);
    // New data goes out after the retransmission.
    n.hosts[0].send(n.now, c, &[8u8; P as usize]).unwrap();
    assert_eq!(data_sent(&mut n, base), [(4 * P, P as usize)]);
    // It arrives, the retransmission does not: sent before a segment that
    // was delivered, it is lost again (RFC 8985 6.2 step 5), and goes again
    // a round trip after the first retransmission, not at the RTO.
    let out = ack_at(
        &mut n,
        t0,
        200,
        base,
        &sack_ack(base, rcv, wnd, 0, &[(P, 5 * P)]),
    );
    assert_eq!(out, [(0, P as usize)]);
    assert_eq!(n.hosts[0].status(c).unwrap().retransmits, 2);
}
