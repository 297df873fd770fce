//! Tail Loss Probe (RFC 8985 7), pinned by exact segments and times on the
//! virtual clock: C and S 150 ms apart one way, so the handshake measures an
//! RTT of 300 ms (SRTT 300 ms, RTTVAR 150 ms, RTO 900 ms) and a probe timeout
//! of 2*SRTT = 600 ms (+2 ms for a flight of several segments, +200 ms for a
//! lone segment whose ACK may be delayed) lies well before the RTO.
#![allow(clippy::unwrap_used)]

mod util;

use std::cell::Cell;
use std::rc::Rc;
use synack_proto::wire::TcpFlags;
use synack_proto::{CongestionAlgorithm, ConnId, Duration, StackConfig};
use util::*;

/// These scripts pin RFC 6675's cwnd - pipe budget after NewReno's halving
/// (the FreeBSD profile's pair); CUBIC and PRR have tests of their own.
fn net_with(mut cfg: StackConfig) -> Net {
    cfg.conn.congestion = CongestionAlgorithm::NewReno;
    cfg.conn.prr = false;
    let mut n = Net::new(cfg);
    n.delay = Duration::from_millis(150);
    n.with_time = true;
    n.with_reasons = true;
    n
}

fn net() -> Net {
    net_with(StackConfig::default())
}

/// Connect C to S (the handshake takes 0..450 ms) and stand still until 1 s.
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

/// Drop C's `nth` segment carrying exactly `flags`.
fn drop_client(flags: TcpFlags, nth: usize) -> DropFn {
    Box::new(move |from, f, k, _| from == 0 && f == flags && k == nth)
}

const PSH_ACK: TcpFlags = TcpFlags(TcpFlags::PSH.0 | TcpFlags::ACK.0);

#[test]
fn a_lost_lone_segment_is_probed_after_two_srtt_and_the_delayed_ack_allowance() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    let before = n.hosts[0].status(c).unwrap();
    assert_eq!(before.srtt, Some(Duration::from_millis(300)));
    assert_eq!(before.rto, Duration::from_millis(900));
    n.drop = Some(drop_client(PSH_ACK, 1));
    n.hosts[0].send(n.now, c, &[1u8; 100]).unwrap();
    n.run_for(Duration::from_secs(3));
    // RFC 8985 7.2: one segment in flight, PTO = 2*SRTT + WCDelAckT = 800 ms,
    // before the RTO (900 ms). The probe retransmits the last segment (7.3) and
    // its ACK repairs the loss: no RTO.
    assert_log(
        &n.take_log(),
        &[
            "   1000 C>S PSH,ACK seq=1 ack=1 len=100",
            "   1000 C X dropped",
            "   1800 C timer loss-probe",
            "   1800 C>S PSH,ACK seq=1 ack=1 len=100 (LossProbe)",
            "   1950 S>C ACK seq=1 ack=101 len=0",
        ],
    );
    let after = n.hosts[0].status(c).unwrap();
    assert_eq!(after.retransmits, 1);
    assert_eq!(after.bytes_in_flight, 0);
    // No timeout's collapse to one segment, no reduction: the ACK of the probe
    // alone does not tell a repaired loss from a spurious probe (7.4.2).
    assert_eq!(after.ssthresh, u32::MAX);
    assert_eq!(after.cwnd, before.cwnd + 100);
}

#[test]
fn a_lost_tail_is_repaired_by_the_probe_and_the_window_reduced_once() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    // The fourth and last segment of the flight is lost.
    n.drop = Some(drop_client(PSH_ACK, 1));
    n.hosts[0].send(n.now, c, &[1u8; 4 * 1448]).unwrap();
    n.run_for(Duration::from_secs(3));
    // The ACK of the first three (at 1300) restarts the PTO: one segment left in
    // flight, 2*SRTT + 200 ms = 800 ms, but capped at the RTO the same ACK
    // restarted (750 ms after its sample): the probe goes at 2050 (RFC 8985 7.2).
    assert_log(
        &n.take_log(),
        &[
            "   1000 C>S ACK seq=1 ack=1 len=1448",
            "   1000 C>S ACK seq=1449 ack=1 len=1448",
            "   1000 C>S ACK seq=2897 ack=1 len=1448",
            "   1000 C>S PSH,ACK seq=4345 ack=1 len=1448",
            "   1000 C X dropped",
            "   1150 S>C ACK seq=1 ack=1449 len=0",
            "   1150 S>C ACK seq=1 ack=2897 len=0",
            "   1150 S>C ACK seq=1 ack=4345 len=0",
            "   2050 C timer loss-probe",
            "   2050 C>S PSH,ACK seq=4345 ack=1 len=1448 (LossProbe)",
            "   2200 S>C ACK seq=1 ack=5793 len=0",
        ],
    );
    let repaired = n.hosts[0].status(c).unwrap();
    assert_eq!(repaired.bytes_in_flight, 0);
    assert_eq!(repaired.ssthresh, u32::MAX, "no reduction yet");
    // The next ACK beyond TLP.end_seq without a D-SACK of the probe shows that
    // the probe alone delivered the last segment: one loss, one reduction
    // (RFC 8985 7.4.2): ssthresh = cwnd / 2, cwnd = ssthresh (then one
    // congestion-avoidance step for this ACK).
    n.hosts[0].send(n.now, c, &[2u8; 1000]).unwrap();
    n.run_for(Duration::from_secs(3));
    let reduced = n.hosts[0].status(c).unwrap();
    assert_eq!(reduced.ssthresh, repaired.cwnd / 2);
    let mss = u32::from(reduced.snd_mss);
    assert_eq!(
        reduced.cwnd,
        reduced.ssthresh + mss * mss / reduced.ssthresh
    );
    // Once: the episode is over, the next ACK only grows the window.
    n.hosts[0].send(n.now, c, &[3u8; 1000]).unwrap();
    n.run_for(Duration::from_secs(3));
    let later = n.hosts[0].status(c).unwrap();
    assert_eq!(later.ssthresh, reduced.ssthresh);
    assert!(later.cwnd > reduced.cwnd);
    assert_eq!(later.retransmits, 1);
}

#[test]
fn a_spurious_probe_is_told_by_its_dsack_and_reduces_nothing() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    // The segment arrives; its ACK is lost.
    n.drop = Some(Box::new(|from, f, k, _| {
        from == 1 && f == TcpFlags::ACK && k == 1
    }));
    n.hosts[0].send(n.now, c, &[1u8; 1000]).unwrap();
    n.run_for(Duration::from_secs(3));
    // PTO 2*SRTT + 200 ms = 800 ms. S already has the probe's octets: its ACK
    // reports them in a D-SACK block (RFC 2883) ending at TLP.end_seq, so both
    // copies arrived and nothing was lost (RFC 8985 7.4.2): the episode ends
    // without a reduction, even when later data is acknowledged beyond it.
    assert_log(
        &n.take_log(),
        &[
            "   1000 C>S PSH,ACK seq=1 ack=1 len=1000",
            "   1150 S>C ACK seq=1 ack=1001 len=0",
            "   1150 S X dropped",
            "   1800 C timer loss-probe",
            "   1800 C>S PSH,ACK seq=1 ack=1 len=1000 (LossProbe)",
            "   1950 S>C ACK seq=1 ack=1001 len=0 (UnacceptableAck)",
        ],
    );
    n.hosts[0].send(n.now, c, &[2u8; 1000]).unwrap();
    n.run_for(Duration::from_secs(3));
    let st = n.hosts[0].status(c).unwrap();
    assert_eq!(st.ssthresh, u32::MAX);
    assert_eq!(st.bytes_in_flight, 0);
}

#[test]
fn the_probe_is_new_data_when_the_peers_window_allows() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    // S's ACKs of the initial window are all lost; the rest of the data waits
    // for congestion window.
    let blackout = Rc::new(Cell::new(true));
    let b = blackout.clone();
    n.drop = Some(Box::new(move |from, _, _, _| from == 1 && b.get()));
    n.hosts[0].send(n.now, c, &[1u8; 15 * 1448]).unwrap();
    n.run_for(Duration::from_millis(400));
    blackout.set(false);
    n.run_for(Duration::from_secs(3));
    let log = n.take_log();
    // RFC 8985 7.3: at 2*SRTT + 2 ms the probe is the next unsent segment, sent
    // beyond the congestion window (the peer's window allows it); its ACK
    // covers the whole flight, and a probe of new data ends its episode
    // without a reduction (7.4.2).
    let probe = log.iter().position(|l| l.contains("loss-probe")).unwrap();
    assert_eq!(
        log[..probe]
            .iter()
            .filter(|l| l.starts_with("   1000 C>S ACK"))
            .count(),
        10,
        "the initial window: {log:#?}"
    );
    let tail: Vec<&str> = log[probe..probe + 4].iter().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "   1602 C timer loss-probe",
            "   1602 C>S ACK seq=14481 ack=1 len=1448 (LossProbe)",
            "   1752 S>C ACK seq=1 ack=15929 len=0",
            "   1902 C>S ACK seq=15929 ack=1 len=1448",
        ],
        "{log:#?}"
    );
    let st = n.hosts[0].status(c).unwrap();
    assert_eq!(st.retransmits, 0, "new data, not a retransmission");
    assert_eq!(st.ssthresh, u32::MAX);
    assert_eq!(st.bytes_in_flight, 0);
}

#[test]
fn one_probe_then_the_rto() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    n.hosts[0].send(n.now, c, &[1u8; 3000]).unwrap();
    n.run_for(Duration::from_secs(8));
    // Nagle holds the 104-byte tail back; the probe sends it (the probe is not
    // held by Nagle or cwnd, as Linux's). Then the RTO is re-armed from the
    // probe (RFC 8985 7.3) and backs off as usual: one probe per episode.
    assert_log(
        &n.take_log(),
        &[
            "   1000 C>S ACK seq=1 ack=1 len=1448",
            "   1000 C X dropped",
            "   1000 C>S ACK seq=1449 ack=1 len=1448",
            "   1000 C X dropped",
            "   1602 C timer loss-probe",
            "   1602 C>S PSH,ACK seq=2897 ack=1 len=104 (LossProbe)",
            "   1602 C X dropped",
            "   2502 C timer retransmit",
            "   2502 C>S ACK seq=1 ack=1 len=1448 (Retransmit)",
            "   2502 C X dropped",
            "   4302 C timer retransmit",
            "   4302 C>S ACK seq=1 ack=1 len=1448 (Retransmit)",
            "   4302 C X dropped",
            "   7902 C timer retransmit",
            "   7902 C>S ACK seq=1 ack=1 len=1448 (Retransmit)",
            "   7902 C X dropped",
        ],
    );
}

#[test]
fn a_fin_sent_alone_is_probed_alone() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    n.hosts[0].send(n.now, c, &[1u8; 100]).unwrap();
    n.run_for(Duration::from_secs(1));
    n.drop = Some(Box::new(|from, _, _, _| from == 0));
    n.hosts[0].close(n.now, c).unwrap();
    n.run_for(Duration::from_secs(2));
    // The FIN alone in flight: PTO = min(2*SRTT + 200 ms, RTO) = 750 ms.
    assert_log(
        &n.take_log(),
        &[
            "   1000 C>S PSH,ACK seq=1 ack=1 len=100",
            "   1150 S>C ACK seq=1 ack=101 len=0",
            "   2000 C ESTABLISHED->FIN_WAIT_1",
            "   2000 C>S FIN,ACK seq=101 ack=1 len=0",
            "   2000 C X dropped",
            "   2750 C timer loss-probe",
            "   2750 C>S FIN,ACK seq=101 ack=1 len=0 (LossProbe)",
            "   2750 C X dropped",
            "   3500 C timer retransmit",
            "   3500 C>S FIN,ACK seq=101 ack=1 len=0 (Retransmit)",
            "   3500 C X dropped",
        ],
    );
}

#[test]
fn no_probe_without_an_rtt_sample() {
    // Without timestamps a retransmitted SYN leaves no RTT sample (Karn): no
    // 2*SRTT to wait for, so the RTO (3 s after the SYN's retransmission, RFC
    // 6298 5.7) alone watches the data.
    let mut cfg = StackConfig::default();
    cfg.conn.timestamps = false;
    let mut n = net_with(cfg);
    n.drop = Some(Box::new(|from, f, k, _| {
        from == 0 && (f == TcpFlags::SYN && k == 1 || f == PSH_ACK)
    }));
    let l = n.hosts[1].listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(2));
    n.hosts[1].accept(l).unwrap();
    assert_eq!(n.hosts[0].status(c).unwrap().srtt, None);
    n.take_log();
    n.hosts[0].send(n.now, c, &[1u8; 100]).unwrap();
    n.run_for(Duration::from_secs(4));
    assert_log(
        &n.take_log(),
        &[
            "   2000 C>S PSH,ACK seq=1 ack=1 len=100",
            "   2000 C X dropped",
            "   5000 C timer retransmit",
            "   5000 C>S PSH,ACK seq=1 ack=1 len=100 (Retransmit)",
            "   5000 C X dropped",
        ],
    );
}

#[test]
fn no_probe_without_sack_or_when_turned_off() {
    let mut no_sack = StackConfig::default();
    no_sack.conn.sack = false;
    let mut off = StackConfig::default();
    off.conn.tail_loss_probe = false;
    for cfg in [no_sack, off] {
        let mut n = net_with(cfg);
        let (c, _s) = open(&mut n);
        n.drop = Some(drop_client(PSH_ACK, 1));
        n.hosts[0].send(n.now, c, &[1u8; 100]).unwrap();
        n.run_for(Duration::from_secs(2));
        // The RTO (900 ms) repairs the loss, and cuts the window to one segment.
        assert_log(
            &n.take_log(),
            &[
                "   1000 C>S PSH,ACK seq=1 ack=1 len=100",
                "   1000 C X dropped",
                "   1900 C timer retransmit",
                "   1900 C>S PSH,ACK seq=1 ack=1 len=100 (Retransmit)",
                "   2050 S>C ACK seq=1 ack=101 len=0",
            ],
        );
        assert_eq!(
            n.hosts[0].status(c).unwrap().cwnd,
            u32::from(n.hosts[0].status(c).unwrap().snd_mss) + 100
        );
    }
}

#[test]
fn a_probe_sacked_beyond_a_lost_tail_starts_fast_recovery() {
    let mut n = net();
    let (c, _s) = open(&mut n);
    // The last two of six segments are lost (C's first ACK-only segment was the
    // handshake's).
    n.drop = Some(Box::new(|from, f, k, _| {
        from == 0 && (f == TcpFlags::ACK && k == 6 || f == PSH_ACK && k == 1)
    }));
    n.hosts[0].send(n.now, c, &[1u8; 6 * 1448]).unwrap();
    n.run_for(Duration::from_secs(3));
    // The ACK of the first four (at 1300) leaves two segments in flight: PTO =
    // 2*SRTT + 2 ms. The probe retransmits the last segment; S holds it beyond
    // the hole and SACKs it. The data sent before the probe, a PTO earlier, is
    // lost (RFC 8985 7.4.1): fast recovery retransmits it at once, one round
    // trip before the RTO (2050) would have fired, and the ACK covers all.
    assert_log(
        &n.take_log(),
        &[
            "   1000 C>S ACK seq=1 ack=1 len=1448",
            "   1000 C>S ACK seq=1449 ack=1 len=1448",
            "   1000 C>S ACK seq=2897 ack=1 len=1448",
            "   1000 C>S ACK seq=4345 ack=1 len=1448",
            "   1000 C>S ACK seq=5793 ack=1 len=1448",
            "   1000 C X dropped",
            "   1000 C>S PSH,ACK seq=7241 ack=1 len=1448",
            "   1000 C X dropped",
            "   1150 S>C ACK seq=1 ack=1449 len=0",
            "   1150 S>C ACK seq=1 ack=2897 len=0",
            "   1150 S>C ACK seq=1 ack=4345 len=0",
            "   1150 S>C ACK seq=1 ack=5793 len=0",
            "   1902 C timer loss-probe",
            "   1902 C>S PSH,ACK seq=7241 ack=1 len=1448 (LossProbe)",
            "   2052 S>C ACK seq=1 ack=5793 len=0 (DuplicateAck)",
            "   2202 C>S ACK seq=5793 ack=1 len=1448 (FastRetransmit)",
            "   2352 S>C ACK seq=1 ack=8689 len=0",
        ],
    );
    let st = n.hosts[0].status(c).unwrap();
    assert_eq!(st.bytes_in_flight, 0);
    // One reduction, fast recovery's: ssthresh = max(FlightSize / 2, 2*SMSS).
    assert_eq!(st.ssthresh, 2 * u32::from(st.snd_mss));
}
