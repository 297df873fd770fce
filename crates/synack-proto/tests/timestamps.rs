//! RFC 7323 timestamps: negotiation, TSecr and TS.Recent, PAWS, RTT
//! measurement through TSecr, and the 32-bit wrap of both clocks.
#![allow(clippy::unwrap_used)]

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use synack_proto::wire::{
    emit_packet, parse_packet, ChecksumMode, IpRepr, SeqNum, TcpFlags, TcpOptions, TcpRepr,
    Timestamps,
};
use synack_proto::{ConnId, DropReason, Duration, Instant, StackConfig, SynCookies};
use util::*;

/// One packet as the link saw it.
#[derive(Debug, Clone, Copy)]
struct Seen {
    from: usize,
    flags: TcpFlags,
    seq: SeqNum,
    ack: SeqNum,
    len: usize,
    ts: Option<Timestamps>,
    bytes: usize,
}

type Tap = Rc<RefCell<Vec<Seen>>>;

/// Record every packet on the link (and drop those `drop` picks).
fn tap_with(n: &mut Net, mut drop: impl FnMut(&Seen) -> bool + 'static) -> Tap {
    let tap: Tap = Rc::default();
    let t = Rc::clone(&tap);
    n.drop = Some(Box::new(move |from, _, _, buf| {
        let (_, seg) = parse_packet(buf, ChecksumMode::Verify).unwrap();
        let s = Seen {
            from,
            flags: seg.flags,
            seq: seg.seq,
            ack: seg.ack,
            len: seg.payload.len(),
            ts: seg.options.timestamps,
            bytes: buf.len(),
        };
        t.borrow_mut().push(s);
        drop(&s)
    }));
    tap
}

fn tap(n: &mut Net) -> Tap {
    tap_with(n, |_| false)
}

fn cfg(timestamps: bool) -> StackConfig {
    let mut c = StackConfig::default();
    c.conn.timestamps = timestamps;
    c
}

/// Connect C:40000 to S:80 and accept.
fn open(n: &mut Net) -> (ConnId, ConnId) {
    let l = n.hosts[1].listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.hosts[1].accept(l).unwrap();
    n.take_log();
    (c, s)
}

/// A segment from C's address to S, as C would send it, with timestamps `ts`.
fn from_c(seq: SeqNum, ack: SeqNum, payload: &[u8], ts: Option<Timestamps>, rst: bool) -> Vec<u8> {
    let (src, dst) = (c_addr(40000), s_addr(80));
    let ip = IpRepr::new(src.ip(), dst.ip()).unwrap();
    let tcp = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq,
        ack,
        flags: if rst {
            TcpFlags::RST
        } else {
            TcpFlags::ACK | TcpFlags::PSH
        },
        window: 1000,
        urgent: 0,
        options: TcpOptions {
            timestamps: ts,
            ..Default::default()
        },
        payload,
    };
    let mut buf = Vec::new();
    emit_packet(&ip, &tcp, &mut buf);
    buf
}

/// Drop every `k`th data segment C sends (retransmissions included).
fn every_nth_data_segment(k: usize) -> impl FnMut(&Seen) -> bool {
    let mut i = 0;
    move |p| {
        if p.from == 0 && p.len > 0 {
            i += 1;
            i % k == 0
        } else {
            false
        }
    }
}

fn ts(tsval: u32, tsecr: u32) -> Option<Timestamps> {
    Some(Timestamps { tsval, tsecr })
}

fn paws_drops(n: &Net) -> u64 {
    n.hosts[1]
        .stats()
        .drops
        .get(&DropReason::PawsRejected)
        .copied()
        .unwrap_or(0)
}

#[test]
fn negotiated_by_default_and_carried_on_every_segment() {
    let mut n = Net::new(StackConfig::default());
    let t = tap(&mut n);
    let (c, s) = open(&mut n);
    n.hosts[0].send(n.now, c, &[7u8; 5000]).unwrap();
    n.run_for(Duration::from_secs(1));
    let seen = t.borrow();
    let syn = seen[0];
    assert!(syn.flags.syn() && !syn.flags.ack());
    // RFC 7323 3.2: the SYN offers TS with TSecr 0; the SYN,ACK echoes its TSval.
    assert_eq!(syn.ts.unwrap().tsecr, 0);
    let synack = seen[1];
    assert!(synack.flags.syn() && synack.flags.ack());
    assert_eq!(synack.ts.unwrap().tsecr, syn.ts.unwrap().tsval);
    for p in seen.iter() {
        assert!(p.ts.is_some(), "segment without timestamps: {p:?}");
        assert!(p.bytes <= 1500, "{p:?}");
        assert!(p.len <= 1448, "{p:?}");
    }
    assert!(seen.iter().any(|p| p.len == 1448));
    // TSvals do not reveal uptime: the clock starts near zero here, the TSvals do not.
    assert!(syn.ts.unwrap().tsval > 1000 && synack.ts.unwrap().tsval > 1000);
    let sc = n.hosts[0].status(c).unwrap();
    assert!(sc.timestamps);
    // RFC 7323 3.2: 12 option bytes in every segment come out of the MSS.
    assert_eq!(sc.snd_mss, 1448);
    let ss = n.hosts[1].status(s).unwrap();
    assert!(ss.timestamps);
    assert_eq!(ss.snd_mss, 1448);
}

#[test]
fn off_when_the_client_does_not_offer() {
    let mut n = Net::with_configs(cfg(false), cfg(true));
    let t = tap(&mut n);
    let (c, s) = open(&mut n);
    n.hosts[0].send(n.now, c, b"hello").unwrap();
    n.run_for(Duration::from_secs(1));
    assert!(t.borrow().iter().all(|p| p.ts.is_none()));
    assert!(!n.hosts[0].status(c).unwrap().timestamps);
    assert!(!n.hosts[1].status(s).unwrap().timestamps);
    assert_eq!(n.hosts[1].status(s).unwrap().snd_mss, 1460);
}

#[test]
fn off_when_the_server_does_not_offer() {
    let mut n = Net::with_configs(cfg(true), cfg(false));
    let t = tap(&mut n);
    let (c, s) = open(&mut n);
    n.hosts[0].send(n.now, c, b"hello").unwrap();
    n.run_for(Duration::from_secs(1));
    let seen = t.borrow();
    assert!(seen[0].ts.is_some(), "the SYN offers");
    assert!(seen[1..].iter().all(|p| p.ts.is_none()), "{seen:?}");
    assert!(!n.hosts[0].status(c).unwrap().timestamps);
    assert!(!n.hosts[1].status(s).unwrap().timestamps);
    assert_eq!(n.hosts[0].status(c).unwrap().snd_mss, 1460);
}

#[test]
fn syn_cookie_connections_run_without_timestamps() {
    let s_cfg = StackConfig {
        syn_cookies: SynCookies::Always,
        ..StackConfig::default()
    };
    let mut n = Net::with_configs(StackConfig::default(), s_cfg);
    let t = tap(&mut n);
    let (c, s) = open(&mut n);
    n.hosts[0].send(n.now, c, b"hello").unwrap();
    n.run_for(Duration::from_secs(1));
    let seen = t.borrow();
    assert!(seen[0].ts.is_some());
    assert!(
        seen[1].flags.syn() && seen[1].ts.is_none(),
        "cookie SYN,ACK"
    );
    assert!(seen[1..].iter().all(|p| p.ts.is_none()), "{seen:?}");
    assert!(!n.hosts[0].status(c).unwrap().timestamps);
    assert!(!n.hosts[1].status(s).unwrap().timestamps);
}

#[test]
fn tsecr_echoes_the_peers_latest_tsval() {
    let mut n = Net::new(StackConfig::default());
    let t = tap(&mut n);
    let (c, _s) = open(&mut n);
    for _ in 0..5 {
        n.hosts[0].send(n.now, c, b"ping").unwrap();
        n.run_for(Duration::from_millis(300));
    }
    let seen = t.borrow();
    for h in 0..2 {
        // Each side's TSvals never go backwards.
        let vals: Vec<u32> = seen
            .iter()
            .filter(|p| p.from == h)
            .map(|p| p.ts.unwrap().tsval)
            .collect();
        assert!(
            vals.windows(2).all(|w| w[1].wrapping_sub(w[0]) as i32 >= 0),
            "{vals:?}"
        );
    }
    // Every ACK of a data segment echoes that segment's TSval.
    for (i, d) in seen
        .iter()
        .enumerate()
        .filter(|(_, p)| p.from == 0 && p.len > 0)
    {
        let end = d.seq + d.len as u32;
        let reply = seen[i..]
            .iter()
            .find(|p| p.from == 1 && p.ack == end)
            .unwrap();
        assert_eq!(reply.ts.unwrap().tsecr, d.ts.unwrap().tsval);
    }
}

/// Establish (S acknowledging every segment at once, so each injection is
/// answered), send one segment from C, and return the net, S's connection, the
/// tap, C's next seq, S's next seq and the TS.Recent S now holds.
fn established_with_recent() -> (Net, ConnId, Tap, SeqNum, SeqNum, u32) {
    let mut cfg = StackConfig::default();
    cfg.conn.delayed_ack = None;
    let mut n = Net::new(cfg);
    let t = tap(&mut n);
    let (c, s) = open(&mut n);
    n.hosts[0].send(n.now, c, b"first").unwrap();
    n.run_for(Duration::from_millis(300));
    let sc = n.hosts[0].status(c).unwrap();
    let recent = t
        .borrow()
        .iter()
        .rev()
        .find(|p| p.from == 0)
        .unwrap()
        .ts
        .unwrap()
        .tsval;
    (n, s, t, sc.snd_nxt, sc.rcv_nxt, recent)
}

fn last_from_s(t: &Tap) -> Seen {
    *t.borrow().iter().rev().find(|p| p.from == 1).unwrap()
}

#[test]
fn ts_recent_is_not_taken_from_a_segment_beyond_last_ack_sent() {
    let (mut n, s, t, seq, ack, recent) = established_with_recent();
    // Out of order (above Last.ACK.sent): the duplicate ACK still echoes the old TS.Recent.
    let now = n.now;
    n.hosts[1].handle_packet(
        now,
        &from_c(seq + 4, ack, b"late", ts(recent + 500, 0), false),
    );
    n.flush();
    let dup = last_from_s(&t);
    assert_eq!(dup.ack, seq);
    assert_eq!(
        dup.ts.unwrap().tsecr,
        recent,
        "RFC 7323 4.3: TS.Recent unchanged"
    );
    // The segment filling the hole (at Last.ACK.sent) updates TS.Recent and is echoed.
    n.hosts[1].handle_packet(now, &from_c(seq, ack, b"fill", ts(recent + 10, 0), false));
    n.flush();
    let full = last_from_s(&t);
    assert_eq!(full.ack, seq + 8);
    assert_eq!(full.ts.unwrap().tsecr, recent + 10);
    let mut b = [0u8; 64];
    let got = n.hosts[1].recv(n.now, s, &mut b).unwrap();
    assert_eq!(&b[..got], b"firstfilllate");
}

#[test]
fn paws_drops_an_old_timestamp_and_acknowledges() {
    let (mut n, s, t, seq, ack, recent) = established_with_recent();
    let before = t.borrow().len();
    let now = n.now;
    // In window and in order, but its TSval is older than TS.Recent: an old duplicate.
    n.hosts[1].handle_packet(
        now,
        &from_c(seq, ack, b"stale", ts(recent.wrapping_sub(1), 0), false),
    );
    n.flush();
    assert_eq!(paws_drops(&n), 1);
    let reply = last_from_s(&t);
    assert_eq!(t.borrow().len(), before + 1, "one ACK in reply");
    assert!(reply.flags.ack() && reply.len == 0);
    assert_eq!(reply.ack, seq, "nothing accepted");
    assert_eq!(reply.ts.unwrap().tsecr, recent);
    let mut b = [0u8; 64];
    assert_eq!(
        n.hosts[1].recv(n.now, s, &mut b).unwrap(),
        5,
        "only \"first\""
    );
    // The same TSval as TS.Recent is not older: accepted.
    n.hosts[1].handle_packet(now, &from_c(seq, ack, b"fresh", ts(recent, 0), false));
    n.flush();
    assert_eq!(paws_drops(&n), 1);
    assert_eq!(n.hosts[1].recv(n.now, s, &mut b).unwrap(), 5);
    assert_eq!(&b[..5], b"fresh");
    // A RST is not subject to PAWS (RFC 7323 5.3 R1): an exact one resets.
    n.hosts[1].handle_packet(
        now,
        &from_c(
            seq + 5,
            SeqNum(0),
            b"",
            ts(recent.wrapping_sub(100), 0),
            true,
        ),
    );
    n.flush();
    assert_eq!(paws_drops(&n), 1);
    assert!(n.hosts[1].status(s).unwrap().error.is_some());
}

#[test]
fn paws_forgets_ts_recent_after_24_days_idle() {
    let (mut n, s, _t, seq, ack, recent) = established_with_recent();
    // RFC 7323 5.5: TS.Recent older than 24 days is invalid; an old TSval passes.
    n.now += Duration::from_secs(25 * 24 * 3600);
    let now = n.now;
    n.hosts[1].handle_packet(
        now,
        &from_c(seq, ack, b"later", ts(recent.wrapping_sub(7), 0), false),
    );
    n.flush();
    assert_eq!(paws_drops(&n), 0);
    let mut b = [0u8; 64];
    assert_eq!(n.hosts[1].recv(n.now, s, &mut b).unwrap(), 10);
}

#[test]
fn peer_timestamps_survive_the_32_bit_wrap() {
    let (mut n, s, t, mut seq, ack, recent) = established_with_recent();
    let mut val = recent;
    // Steps of 2^30 are newer in modular order; four of them wrap the clock.
    for i in 0..8u32 {
        val = val.wrapping_add(1 << 30);
        let now = n.now;
        n.hosts[1].handle_packet(now, &from_c(seq, ack, b"w", ts(val, 0), false));
        n.flush();
        seq += 1;
        assert_eq!(paws_drops(&n), 0, "step {i}");
        assert_eq!(last_from_s(&t).ts.unwrap().tsecr, val);
    }
    // Past the wrap, something 2^31 - 1 behind is still older.
    let now = n.now;
    n.hosts[1].handle_packet(
        now,
        &from_c(seq, ack, b"x", ts(val.wrapping_sub(0x7fff_ffff), 0), false),
    );
    n.flush();
    assert_eq!(paws_drops(&n), 1);
    let mut b = [0u8; 64];
    assert_eq!(n.hosts[1].recv(n.now, s, &mut b).unwrap(), 5 + 8);
}

#[test]
fn own_clock_wraps_without_harm() {
    // The TSval offset is a keyed hash of the 4-tuple: learn it from one run,
    // then start a second identical stack pair just before the clock wraps.
    let offset = {
        let mut n = Net::new(StackConfig::default());
        let t = tap(&mut n);
        open(&mut n);
        // The SYN went out at time 0.
        let syn = t.borrow()[0];
        syn.ts.unwrap().tsval
    };
    // C's TSval wraps 200 ms after the SYN.
    let start_ms = u64::from(0u32.wrapping_sub(offset).wrapping_sub(200));
    let mut n = Net::new(StackConfig::default());
    n.now = Instant::from_millis(start_ms);
    let t = tap_with(&mut n, every_nth_data_segment(7));
    let (c, s) = open(&mut n);
    let data = vec![3u8; 200_000];
    let mut sent = 0;
    let mut got = 0;
    let mut b = vec![0u8; 65536];
    for _ in 0..2000 {
        if sent < data.len() {
            sent += n.hosts[0].send(n.now, c, &data[sent..]).unwrap_or(0);
        }
        n.run_for(Duration::from_millis(10));
        while let Ok(k) = n.hosts[1].recv(n.now, s, &mut b) {
            if k == 0 {
                break;
            }
            got += k;
        }
        if got == data.len() {
            break;
        }
    }
    assert_eq!(got, data.len());
    assert_eq!(paws_drops(&n), 0);
    let seen = t.borrow();
    let c_vals: Vec<u32> = seen
        .iter()
        .filter(|p| p.from == 0)
        .map(|p| p.ts.unwrap().tsval)
        .collect();
    assert!(
        c_vals.windows(2).any(|w| w[1] < w[0]),
        "C's clock wrapped: {c_vals:?}"
    );
    assert!(n.hosts[0].status(c).unwrap().srtt.is_some());
}

#[test]
fn lost_syn_is_timed_through_tsecr() {
    // Karn's rule forbids timing the retransmitted SYN by sequence numbers; the
    // SYN,ACK's TSecr names the retransmission it answers (RFC 7323 4.1).
    for on in [true, false] {
        let mut n = Net::new(cfg(on));
        let mut first = true;
        tap_with(&mut n, move |p| {
            let d = p.from == 0 && p.flags.syn() && first;
            first &= !d;
            d
        });
        let (c, _s) = open_slow(&mut n);
        let st = n.hosts[0].status(c).unwrap();
        if on {
            assert_eq!(st.srtt, Some(Duration::from_millis(20)));
            // SRTT + max(4 RTTVAR, 200 ms), as Linux.
            assert_eq!(st.rto, Duration::from_millis(220));
        } else {
            // RFC 6298 5.7: no sample after a retransmitted SYN, RTO = 3 s.
            assert_eq!(st.srtt, None);
            assert_eq!(st.rto, Duration::from_secs(3));
        }
    }
}

fn open_slow(n: &mut Net) -> (ConnId, ConnId) {
    let l = n.hosts[1].listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_secs(2));
    let s = n.hosts[1].accept(l).unwrap();
    (c, s)
}

#[test]
fn retransmitted_data_is_timed_through_tsecr() {
    for on in [true, false] {
        let mut c = cfg(on);
        c.conn.delayed_ack = None;
        let mut n = Net::new(c);
        let mut dropped = false;
        tap_with(&mut n, move |p| {
            let d = p.from == 0 && p.len > 0 && !dropped;
            dropped |= d;
            d
        });
        let (c, _s) = open(&mut n);
        assert_eq!(
            n.hosts[0].status(c).unwrap().srtt,
            Some(Duration::from_millis(20))
        );
        // A slower path from now on: the retransmission's round trip is 100 ms.
        n.delay = Duration::from_millis(50);
        n.hosts[0].send(n.now, c, b"lost once").unwrap();
        n.run_for(Duration::from_secs(2));
        let st = n.hosts[0].status(c).unwrap();
        assert_eq!(st.retransmits, 1);
        assert_eq!(st.bytes_acked, 9);
        if on {
            // RFC 6298 2.3: SRTT = 7/8 * 20 + 1/8 * 100.
            assert_eq!(st.srtt, Some(Duration::from_millis(30)));
        } else {
            assert_eq!(st.srtt, Some(Duration::from_millis(20)));
        }
    }
}

#[test]
fn segments_fit_the_mtu_with_sack_and_timestamps() {
    let mut n = Net::new(StackConfig::default());
    let t = tap_with(&mut n, every_nth_data_segment(5));
    let (c, s) = open(&mut n);
    let data = vec![9u8; 300_000];
    let (mut sent, mut got) = (0, 0);
    let mut b = vec![0u8; 65536];
    for _ in 0..3000 {
        if sent < data.len() {
            sent += n.hosts[0].send(n.now, c, &data[sent..]).unwrap_or(0);
        }
        n.run_for(Duration::from_millis(10));
        while let Ok(k) = n.hosts[1].recv(n.now, s, &mut b) {
            if k == 0 {
                break;
            }
            got += k;
        }
        if got == data.len() {
            break;
        }
    }
    assert_eq!(got, data.len());
    let seen = t.borrow();
    assert!(seen.iter().all(|p| p.bytes <= 1500 && p.ts.is_some()));
    assert!(seen.iter().filter(|p| p.from == 0).all(|p| p.len <= 1448));
}

#[test]
fn lost_syn_ack_is_timed_through_the_echo_of_the_retransmitted_syn() {
    // S got the first SYN; its SYN,ACK is lost. The retransmitted SYN refreshes
    // TS.Recent (RFC 7323 4.3), so the next SYN,ACK's TSecr times that SYN.
    let mut n = Net::new(StackConfig::default());
    let mut first = true;
    let t = tap_with(&mut n, move |p| {
        let d = p.from == 1 && p.flags.syn() && first;
        first &= !d;
        d
    });
    let (c, _s) = open_slow(&mut n);
    let seen = t.borrow();
    let syns: Vec<&Seen> = seen
        .iter()
        .filter(|p| p.from == 0 && p.flags.syn())
        .collect();
    let synacks: Vec<&Seen> = seen
        .iter()
        .filter(|p| p.from == 1 && p.flags.syn())
        .collect();
    assert_eq!(syns.len(), 2);
    assert_eq!(
        synacks.last().unwrap().ts.unwrap().tsecr,
        syns[1].ts.unwrap().tsval
    );
    assert_eq!(
        n.hosts[0].status(c).unwrap().srtt,
        Some(Duration::from_millis(20))
    );
}

#[test]
fn a_stale_echo_does_not_time_a_retransmission() {
    // The data arrives but S's ACK is lost. The retransmission is a duplicate below
    // S's window: S's ACK echoes the original's TSval, older than the retransmission,
    // so it times nothing (it would include the whole RTO).
    let mut cfg = StackConfig::default();
    cfg.conn.delayed_ack = None;
    let mut n = Net::new(cfg);
    // Drop S's first ACK after C's first data segment, once.
    let (mut armed, mut done) = (false, false);
    let t = tap_with(&mut n, move |p| {
        if p.from == 0 && p.len > 0 {
            armed = !done;
            return false;
        }
        let d = armed && p.from == 1 && p.len == 0;
        if d {
            (armed, done) = (false, true);
        }
        d
    });
    let (c, _s) = open(&mut n);
    n.hosts[0].send(n.now, c, b"ack lost").unwrap();
    n.run_for(Duration::from_secs(2));
    let st = n.hosts[0].status(c).unwrap();
    assert_eq!(st.retransmits, 1);
    assert_eq!(st.bytes_acked, 8);
    assert_eq!(st.srtt, Some(Duration::from_millis(20)), "no sample taken");
    let seen = t.borrow();
    let data: Vec<&Seen> = seen.iter().filter(|p| p.from == 0 && p.len > 0).collect();
    assert_eq!(data.len(), 2);
    let last_ack = seen.iter().rev().find(|p| p.from == 1).unwrap();
    assert_eq!(last_ack.ts.unwrap().tsecr, data[0].ts.unwrap().tsval);
}

#[test]
fn a_segment_with_an_invalid_ack_does_not_move_ts_recent() {
    let (mut n, s, t, seq, ack, recent) = established_with_recent();
    let now = n.now;
    // Its ACK is for data S never sent: dropped, and its huge TSval is not recorded.
    n.hosts[1].handle_packet(
        now,
        &from_c(
            seq,
            ack + 100_000,
            b"",
            ts(recent.wrapping_add(1 << 20), 0),
            false,
        ),
    );
    n.flush();
    n.hosts[1].handle_packet(now, &from_c(seq, ack, b"real", ts(recent + 1, 0), false));
    n.flush();
    assert_eq!(paws_drops(&n), 0, "the real segment passes PAWS");
    let reply = last_from_s(&t);
    assert_eq!(reply.ack, seq + 4);
    assert_eq!(reply.ts.unwrap().tsecr, recent + 1);
    let mut b = [0u8; 64];
    assert_eq!(n.hosts[1].recv(n.now, s, &mut b).unwrap(), 9);
}

/// A SYN,ACK from S to C:40000 with timestamps `ts`.
fn syn_ack_to_c(seq: u32, ack: SeqNum, ts: Option<Timestamps>) -> Vec<u8> {
    let (src, dst) = (s_addr(80), c_addr(40000));
    let ip = IpRepr::new(src.ip(), dst.ip()).unwrap();
    let tcp = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: SeqNum(seq),
        ack,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 5840,
        urgent: 0,
        options: TcpOptions {
            mss: Some(1460),
            timestamps: ts,
            ..Default::default()
        },
        payload: &[],
    };
    let mut buf = Vec::new();
    emit_packet(&ip, &tcp, &mut buf);
    buf
}

/// In SYN-SENT a SYN,ACK whose TSecr echoes no TSval of ours (one from the
/// future here) answers another SYN: C resets it (`seq` = its ACK, Linux's
/// PAWSActiveRejected in `tcp_rcv_synsent_state_process`) and keeps
/// waiting; the SYN,ACK echoing our SYN's TSval then completes the
/// handshake.
#[test]
fn a_syn_ack_echoing_a_foreign_timestamp_is_reset() {
    let mut c = synack_proto::Stack::new_deterministic(cfg(true), 1);
    c.add_address(C_IP.parse().unwrap());
    let now = Instant::ZERO;
    let conn = c.connect(now, Some(c_addr(40000)), s_addr(80)).unwrap();
    let mut buf = Vec::new();
    assert!(c.poll_transmit(now, &mut buf));
    let (_, syn) = parse_packet(&buf, ChecksumMode::Verify).unwrap();
    let (iss, tsval) = (syn.seq, syn.options.timestamps.unwrap().tsval);
    let now = now + Duration::from_millis(10);
    c.handle_packet(
        now,
        &syn_ack_to_c(7000, iss + 1, ts(500, tsval.wrapping_add(9999))),
    );
    assert!(c.poll_transmit(now, &mut buf));
    let (_, rst) = parse_packet(&buf, ChecksumMode::Verify).unwrap();
    assert_eq!((rst.flags, rst.seq), (TcpFlags::RST, iss + 1));
    assert_eq!(c.state(conn).unwrap(), synack_proto::State::SynSent);
    assert_eq!(
        c.stats().drops.get(&DropReason::ForeignEchoSynSent),
        Some(&1)
    );
    c.handle_packet(now, &syn_ack_to_c(7000, iss + 1, ts(500, tsval)));
    assert_eq!(c.state(conn).unwrap(), synack_proto::State::Established);
}
