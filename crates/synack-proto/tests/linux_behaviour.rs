//! Where the RFCs leave a choice and synack does as Linux, pinned by what a user sees.
#![allow(clippy::unwrap_used)]

mod util;

use synack_proto::wire::TcpFlags;
use synack_proto::{Duration, Profile, StackConfig};
use util::*;

/// Linux's choices: the Linux profile (synack's defaults).
fn linux() -> StackConfig {
    StackConfig::with_profile(Profile::Linux, false)
}

fn open(n: &mut Net) -> (synack_proto::ConnId, synack_proto::ConnId) {
    let l = n.hosts[1].listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.hosts[1].accept(l).unwrap();
    n.take_log();
    (c, s)
}

/// Time (ms) of the first log line containing `needle`.
fn at(log: &[String], needle: &str) -> u64 {
    let l = log
        .iter()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle:?} in {log:#?}"));
    l.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn quick_acks_at_start_then_delayed_acks_and_again_after_idle() {
    let mut n = Net::new(linux());
    n.with_time = true;
    let (c, s) = open(&mut n);
    // 64 KiB window, MSS 1448: min(65535 / 2896, 16) = 16 quick ACKs.
    for i in 0..18u32 {
        let now = n.now;
        n.hosts[0].send(now, c, b"ping").unwrap();
        n.run_for(Duration::from_millis(100));
        let now = n.now;
        let mut buf = [0u8; 16];
        n.hosts[1].recv(now, s, &mut buf).unwrap();
        let log = n.take_log();
        let sent = at(&log, "C>S PSH,ACK");
        let acked = at(&log, "S>C ACK");
        let expect = if i < 16 { 10 } else { 50 };
        assert_eq!(acked - sent, expect, "segment {i}: {log:#?}");
    }
    // Idle for longer than the RTO: quick ACKs again.
    n.run_for(Duration::from_secs(2));
    n.take_log();
    let now = n.now;
    n.hosts[0].send(now, c, b"ping").unwrap();
    n.run_for(Duration::from_millis(100));
    let log = n.take_log();
    assert_eq!(
        at(&log, "S>C ACK") - at(&log, "C>S PSH,ACK"),
        10,
        "{log:#?}"
    );
}

#[test]
fn the_last_data_received_counts_from_the_handshake_then_from_each_data_segment() {
    let mut n = Net::new(linux());
    let (c, s) = open(&mut n);
    // Linux's lrcvtime: the handshake's end on both sides before any data.
    let established = n.hosts[1].status(s).unwrap().last_data_received.unwrap();
    assert!(n.hosts[0].status(c).unwrap().last_data_received.is_some());
    n.run_for(Duration::from_secs(1));
    assert_eq!(
        n.hosts[1].status(s).unwrap().last_data_received,
        Some(established)
    );
    let now = n.now;
    n.hosts[0].send(now, c, b"ping").unwrap();
    n.run_for(Duration::from_millis(100));
    let got = n.hosts[1].status(s).unwrap().last_data_received.unwrap();
    assert!(got.saturating_since(established) >= Duration::from_secs(1));
    assert!(n.now.saturating_since(got) <= Duration::from_millis(100));
    // A pure ACK is no data: the client's time stays its handshake's.
    let client = n.hosts[0].status(c).unwrap().last_data_received.unwrap();
    assert!(client <= established);
}

#[test]
fn fin_after_data_is_acked_with_delay_fin_alone_at_once() {
    for data_first in [false, true] {
        let mut n = Net::new(linux());
        n.with_time = true;
        let (c, _s) = open(&mut n);
        if data_first {
            let now = n.now;
            n.hosts[0].send(now, c, b"request").unwrap();
            n.run_for(Duration::from_millis(100));
        }
        n.take_log();
        let now = n.now;
        n.hosts[0].close(now, c).unwrap();
        n.run_for(Duration::from_millis(100));
        let log = n.take_log();
        // Linux's `tcp_fin`: in ESTABLISHED the FIN's ACK waits for the delayed-ACK
        // timer once data has arrived; before any data, it goes at once.
        let gap = at(&log, "S>C ACK") - at(&log, "C>S FIN,ACK");
        assert_eq!(gap, if data_first { 50 } else { 10 }, "{log:#?}");
    }
}

#[test]
fn abort_sends_rst_ack_with_rcv_nxt() {
    // Linux's `tcp_send_active_reset`: RST,ACK at SND.NXT acknowledging RCV.NXT.
    let mut n = Net::new(linux());
    let (c, s) = open(&mut n);
    let now = n.now;
    n.hosts[1].send(now, s, b"12345").unwrap();
    n.run_for(Duration::from_millis(100));
    n.take_log();
    let now = n.now;
    n.hosts[0].abort(now, c).unwrap();
    n.run_for(Duration::from_millis(100));
    let log = n.take_log();
    assert!(
        log.iter().any(|l| l == "C>S RST,ACK seq=1 ack=6 len=0"),
        "{log:#?}"
    );
}

#[test]
fn limited_transmit_sends_new_data_on_the_first_two_duplicate_acks() {
    let mut cfg = linux();
    // No SACK: duplicate ACKs are all the sender learns (RFC 3042 without RFC 6675).
    cfg.conn.sack = false;
    let mut n = Net::new(cfg);
    let (c, _s) = open(&mut n);
    // The first data segment is lost once.
    let mut lost = false;
    n.drop = Some(Box::new(move |from, _, _, payload| {
        if from == 0 && !payload.is_empty() && !lost {
            lost = true;
            return true;
        }
        false
    }));
    let now = n.now;
    n.hosts[0].send(now, c, &[7u8; 20 * 1448]).unwrap();
    n.run_for(Duration::from_millis(100));
    let log = n.take_log();
    let pos = |needle: &str| {
        log.iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {log:#?}"))
    };
    // The initial window is 10 segments (1..14481). The first and second duplicate
    // ACKs each release one new segment beyond it, before the third brings the fast
    // retransmission (without limited transmit nothing new could go before it).
    let first_dup = pos("S>C ACK seq=1 ack=1 len=0");
    let eleventh = pos("C>S ACK seq=14481 ack=1 len=1448");
    let twelfth = pos("C>S ACK seq=15929 ack=1 len=1448");
    let retransmit = log
        .iter()
        .rposition(|l| l.starts_with("C>S ACK seq=1 ack=1 len=1448"))
        .unwrap();
    assert!(
        first_dup < eleventh && eleventh < twelfth && twelfth < retransmit,
        "{log:#?}"
    );
}

/// An ACK of data never sent, in ESTABLISHED: Linux drops it without a word
/// (`tcp_rcv_established`), RFC 9293 3.10.7.4 answers it with an ACK; the
/// connection is untouched either way.
#[test]
fn an_ack_of_unsent_data_is_dropped_silently_in_established() {
    for (profile, answered) in [(Profile::Linux, false), (Profile::Rfc, true)] {
        let mut cfg = StackConfig::with_profile(profile, false);
        // Plain segments: the injected one carries no timestamps.
        cfg.conn.timestamps = false;
        let mut n = Net::new(cfg);
        let (_c, s) = open(&mut n);
        let st = n.hosts[1].status(s).unwrap();
        let (seq, ack) = (st.rcv_nxt.0, (st.snd_nxt + 5000).0);
        let pkt = raw_packet(
            c_addr(40000),
            s_addr(80),
            seq,
            ack,
            TcpFlags::ACK,
            1000,
            b"",
        );
        let now = n.now;
        n.hosts[1].handle_packet(now, &pkt);
        let mut buf = Vec::new();
        assert_eq!(
            n.hosts[1].poll_transmit(now, &mut buf),
            answered,
            "{profile:?}"
        );
        let after = n.hosts[1].status(s).unwrap();
        assert_eq!(
            (after.state, after.snd_una, after.rcv_nxt),
            (st.state, st.snd_una, st.rcv_nxt)
        );
    }
}

/// Client and server whose connections restart the window after idle time
/// (RFC 5681 4.1) when `restart` is set.
fn idle_pair(restart: bool) -> (Net, synack_proto::ConnId, synack_proto::ConnId) {
    let mut cfg = linux();
    cfg.conn.restart_after_idle = restart;
    let mut n = Net::new(cfg);
    let (c, s) = open(&mut n);
    // Grow the window well past the initial one.
    let data = vec![7u8; 60_000];
    let mut buf = vec![0u8; 65_536];
    for _ in 0..4 {
        let now = n.now;
        n.hosts[0].send(now, c, &data).unwrap();
        n.run_for(Duration::from_millis(300));
        let now = n.now;
        while n.hosts[1].recv(now, s, &mut buf).unwrap_or(0) > 0 {}
        n.run_for(Duration::from_millis(100));
    }
    (n, c, s)
}

#[test]
fn data_after_an_idle_rto_starts_from_the_restart_window() {
    let (mut n, c, _) = idle_pair(true);
    let mss = u32::from(n.hosts[0].status(c).unwrap().snd_mss);
    let now = n.now;
    n.hosts[0].send(now, c, b"x").unwrap();
    n.run_for(Duration::from_millis(50));
    let grown = n.hosts[0].status(c).unwrap().cwnd;
    assert!(grown > 20 * mss, "cwnd {grown}");
    // Idle for less than an RTO (200 ms at least) since data went out: the
    // window stays.
    let now = n.now;
    n.hosts[0].send(now, c, b"x").unwrap();
    assert_eq!(n.hosts[0].status(c).unwrap().cwnd, grown);
    n.run_for(Duration::from_millis(50));
    // Idle for seconds: halved once per RTO, down to IW = 10 segments.
    n.run_for(Duration::from_secs(3));
    let now = n.now;
    n.hosts[0].send(now, c, b"x").unwrap();
    let st = n.hosts[0].status(c).unwrap();
    assert_eq!(st.cwnd, 10 * mss);
    assert!(st.ssthresh >= grown / 4 * 3, "ssthresh {}", st.ssthresh);
    // Off (the default): the window survives the idle time.
    let (mut n, c, _) = idle_pair(false);
    let grown = n.hosts[0].status(c).unwrap().cwnd;
    n.run_for(Duration::from_secs(3));
    let now = n.now;
    n.hosts[0].send(now, c, b"x").unwrap();
    assert_eq!(n.hosts[0].status(c).unwrap().cwnd, grown);
}
