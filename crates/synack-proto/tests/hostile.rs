//! Hostile input: random bytes, and random well-formed but hostile segments
//! (any flags, sequence and acknowledgment numbers, window, payload) fed to an
//! endpoint in each of the eleven states. No panic, bounded memory, and each
//! answer is what RFC 9293 3.10.7 and RFC 5961 prescribe for its class.
#![allow(clippy::unwrap_used)]

mod util;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use std::net::SocketAddr;
use synack_proto::wire::{parse_packet, ChecksumMode, SeqNum, TcpFlags};
use synack_proto::{ConnId, Duration, Instant, Stack, StackConfig, State};
use util::*;

/// An endpoint frozen in a state, with the peer it talks to.
struct Fixture {
    net: Net,
    host: usize,
    conn: Option<ConnId>,
    local: SocketAddr,
    peer: SocketAddr,
}

fn drain(st: &mut Stack, now: Instant) -> Vec<(TcpFlags, u32, u32, usize)> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while st.poll_transmit(now, &mut buf) {
        let (_, seg) = parse_packet(&buf, ChecksumMode::Verify).unwrap();
        out.push((seg.flags, seg.seq.get(), seg.ack.get(), seg.payload.len()));
    }
    while st.poll_event().is_some() {}
    out
}

fn established() -> (Net, ConnId, ConnId) {
    let mut n = Net::new(StackConfig::default());
    let l = n.hosts[1].listen(s_addr(80), 8).unwrap();
    let c = n.hosts[0]
        .connect(n.now, Some(c_addr(40000)), s_addr(80))
        .unwrap();
    n.run_for(Duration::from_millis(100));
    let s = n.hosts[1].accept(l).unwrap();
    (n, c, s)
}

fn fixture(state: State) -> Fixture {
    let client = |net, conn| Fixture {
        net,
        host: 0,
        conn: Some(conn),
        local: c_addr(40000),
        peer: s_addr(80),
    };
    let server = |net, conn| Fixture {
        net,
        host: 1,
        conn: Some(conn),
        local: s_addr(80),
        peer: c_addr(40000),
    };
    match state {
        State::Closed => Fixture {
            net: Net::new(StackConfig::default()),
            host: 1,
            conn: None,
            local: s_addr(80),
            peer: c_addr(40000),
        },
        State::Listen => {
            let mut net = Net::new(StackConfig::default());
            net.hosts[1].listen(s_addr(80), 8).unwrap();
            Fixture {
                net,
                host: 1,
                conn: None,
                local: s_addr(80),
                peer: c_addr(40000),
            }
        }
        State::SynSent => {
            let mut net = Net::new(StackConfig::default());
            let c = net.hosts[0]
                .connect(Instant::ZERO, Some(c_addr(40000)), s_addr(80))
                .unwrap();
            drain(&mut net.hosts[0], Instant::ZERO);
            client(net, c)
        }
        State::SynReceived => {
            let mut net = Net::new(StackConfig::default());
            net.hosts[1].listen(s_addr(80), 8).unwrap();
            let syn = raw_packet(
                c_addr(40000),
                s_addr(80),
                1000,
                0,
                TcpFlags::SYN,
                65535,
                &[],
            );
            net.hosts[1].handle_packet(Instant::ZERO, &syn);
            drain(&mut net.hosts[1], Instant::ZERO);
            Fixture {
                net,
                host: 1,
                conn: None,
                local: s_addr(80),
                peer: c_addr(40000),
            }
        }
        State::Established => {
            let (n, c, _) = established();
            client(n, c)
        }
        State::FinWait1 => {
            let (mut n, c, _) = established();
            n.hosts[0].close(n.now, c).unwrap();
            let now = n.now;
            drain(&mut n.hosts[0], now);
            // `close` orphans the handle; address the connection through its segments only.
            Fixture {
                net: n,
                host: 0,
                conn: None,
                local: c_addr(40000),
                peer: s_addr(80),
            }
        }
        State::FinWait2 | State::CloseWait => {
            let (mut n, c, s) = established();
            n.hosts[0]
                .shutdown(n.now, c, synack_proto::Shutdown::Write)
                .unwrap();
            n.run_for(Duration::from_millis(100));
            if state == State::FinWait2 {
                client(n, c)
            } else {
                server(n, s)
            }
        }
        State::LastAck => {
            let (mut n, c, s) = established();
            n.hosts[0]
                .shutdown(n.now, c, synack_proto::Shutdown::Write)
                .unwrap();
            n.run_for(Duration::from_millis(100));
            n.hosts[1]
                .shutdown(n.now, s, synack_proto::Shutdown::Write)
                .unwrap();
            let now = n.now;
            drain(&mut n.hosts[1], now);
            server(n, s)
        }
        State::Closing => {
            let (mut n, c, s) = established();
            // Both FINs cross; the ACKs are lost.
            n.drop = Some(Box::new(|_, flags, _, _| flags == TcpFlags::ACK));
            n.hosts[0]
                .shutdown(n.now, c, synack_proto::Shutdown::Write)
                .unwrap();
            n.hosts[1]
                .shutdown(n.now, s, synack_proto::Shutdown::Write)
                .unwrap();
            n.run_for(Duration::from_millis(50));
            client(n, c)
        }
        State::TimeWait => {
            let (mut n, c, s) = established();
            n.hosts[0]
                .shutdown(n.now, c, synack_proto::Shutdown::Write)
                .unwrap();
            n.run_for(Duration::from_millis(100));
            n.hosts[1].close(n.now, s).unwrap();
            n.run_for(Duration::from_millis(100));
            client(n, c)
        }
    }
}

/// The fixture's connection as the stack reports it, if it exists.
fn status_of(f: &Fixture) -> Option<synack_proto::ConnStatus> {
    f.net.hosts[f.host]
        .connections()
        .into_iter()
        .find(|(_, st)| st.tuple.remote == f.peer)
        .map(|(_, st)| st)
}

fn state_of(f: &Fixture) -> Option<State> {
    status_of(f).map(|st| st.state)
}

#[derive(Debug, Clone)]
struct Hostile {
    flags: u8,
    seq_kind: u8,
    seq_off: u32,
    ack_kind: u8,
    ack_off: u32,
    window: u16,
    len: usize,
}

fn hostile() -> impl Strategy<Value = Hostile> {
    (
        any::<u8>(),
        0u8..4,
        any::<u32>(),
        0u8..4,
        any::<u32>(),
        any::<u16>(),
        0usize..64,
    )
        .prop_map(
            |(flags, seq_kind, seq_off, ack_kind, ack_off, window, len)| Hostile {
                flags,
                seq_kind,
                seq_off,
                ack_kind,
                ack_off,
                window,
                len,
            },
        )
}

/// Check one hostile segment against the RFC's answer for its class.
fn check(state: State, h: &Hostile) -> Result<(), TestCaseError> {
    let mut f = fixture(state);
    prop_assert_eq!(
        state_of(&f).unwrap_or(if state == State::Listen {
            State::Listen
        } else {
            State::Closed
        }),
        if state == State::Listen {
            State::Listen
        } else {
            state
        }
    );
    let now = f.net.now;
    let status = status_of(&f);
    let (rcv_nxt, snd_nxt, rcv_wnd) = status.map_or((SeqNum(0), SeqNum(0), 0), |s| {
        (s.rcv_nxt, s.snd_nxt, s.rcv_wnd)
    });
    let (snd_una, snd_wnd, unread_before) =
        status.map_or((SeqNum(0), 0, 0), |s| (s.snd_una, s.snd_wnd, s.unread));
    let seq = match h.seq_kind {
        0 => rcv_nxt,
        1 => rcv_nxt + (h.seq_off % rcv_wnd.max(1)),
        2 => rcv_nxt - (1 + h.seq_off % 100_000),
        _ => SeqNum(h.seq_off),
    };
    let ack = match h.ack_kind {
        0 => snd_nxt,
        1 => snd_nxt + (1 + h.ack_off % 100_000),
        2 => snd_nxt - (1 + h.ack_off % 100_000),
        _ => SeqNum(h.ack_off),
    };
    let flags = TcpFlags(h.flags);
    let payload = vec![0x5a; h.len];
    let pkt = raw_packet(
        f.peer,
        f.local,
        seq.get(),
        ack.get(),
        flags,
        h.window,
        &payload,
    );
    let before = state_of(&f);
    f.net.hosts[f.host].handle_packet(now, &pkt);
    let out = drain(&mut f.net.hosts[f.host], now);
    let after = state_of(&f);
    let seg_len = h.len as u32 + flags.syn() as u32 + flags.fin() as u32;

    // Bounded: one connection at most, and never more than a few segments per input.
    prop_assert!(f.net.hosts[f.host].connection_count() <= 1);
    prop_assert!(out.len() <= 3, "{out:?}");
    // Never answer a RST with a RST (RFC 9293 3.10.7.1 and every state).
    if flags.rst() {
        prop_assert!(out.iter().all(|o| !o.0.rst()), "RST answered with {out:?}");
    }
    match state {
        State::Closed => {
            // RFC 9293 3.10.7.1.
            if flags.rst() {
                prop_assert!(out.is_empty());
            } else if flags.ack() {
                prop_assert_eq!(out, vec![(TcpFlags::RST, ack.get(), 0, 0)]);
            } else {
                prop_assert_eq!(
                    out,
                    vec![(TcpFlags::RST | TcpFlags::ACK, 0, (seq + seg_len).get(), 0)]
                );
            }
        }
        State::Listen => {
            // RFC 9293 3.10.7.2: RST ignored; ACK -> RST seq=SEG.ACK; SYN -> SYN,ACK; else drop.
            if flags.rst() {
                prop_assert!(out.is_empty());
            } else if flags.ack() {
                prop_assert_eq!(out, vec![(TcpFlags::RST, ack.get(), 0, 0)]);
            } else if flags.syn() {
                prop_assert_eq!(out.len(), 1);
                // RFC 3168 6.1.1: an ECN-setup SYN (ECE and CWR) is answered with an
                // ECN-setup SYN,ACK (ECE alone), as ECN is accepted by default.
                let ecn = if flags.contains(TcpFlags::ECE | TcpFlags::CWR) {
                    TcpFlags::ECE
                } else {
                    TcpFlags::NONE
                };
                prop_assert_eq!(out[0].0, TcpFlags::SYN | TcpFlags::ACK | ecn);
                prop_assert_eq!(out[0].2, (seq + 1).get());
                prop_assert_eq!(after, Some(State::SynReceived));
            } else {
                prop_assert!(out.is_empty());
                prop_assert_eq!(after, None);
            }
        }
        State::SynSent => {
            // RFC 9293 3.10.7.3.
            let ack_ok = flags.ack() && ack == snd_nxt;
            if flags.ack() && !ack_ok {
                if flags.rst() {
                    prop_assert!(out.is_empty());
                } else {
                    prop_assert_eq!(out, vec![(TcpFlags::RST, ack.get(), 0, 0)]);
                }
                prop_assert_eq!(after, Some(State::SynSent));
            } else if flags.rst() {
                prop_assert!(out.is_empty());
                if ack_ok {
                    // Refused: CLOSED, kept while the application holds the handle.
                    prop_assert!(matches!(after, None | Some(State::Closed)));
                } else {
                    prop_assert_eq!(after, Some(State::SynSent));
                }
            } else if !flags.syn() {
                prop_assert!(out.is_empty());
                prop_assert_eq!(after, Some(State::SynSent));
            } else if ack_ok {
                prop_assert!(matches!(
                    after,
                    Some(State::Established) | Some(State::CloseWait)
                ));
            } else {
                prop_assert_eq!(after, Some(State::SynReceived), "simultaneous open");
            }
        }
        _ => {
            let wnd = rcv_wnd;
            let acceptable = match (seg_len, wnd) {
                (0, 0) => seq == rcv_nxt,
                (0, _) => seq.in_window(rcv_nxt, wnd),
                (_, 0) => false,
                (_, _) => {
                    seq.in_window(rcv_nxt, wnd) || (seq + (seg_len - 1)).in_window(rcv_nxt, wnd)
                }
            };
            if flags.rst() {
                if !acceptable {
                    prop_assert!(out.is_empty());
                    prop_assert_eq!(after, before);
                } else if seq != rcv_nxt {
                    // RFC 5961 3.2: in window but not exact: a challenge ACK, no reset.
                    prop_assert_eq!(after, before);
                    prop_assert!(out.len() == 1 && out[0].0 == TcpFlags::ACK, "{out:?}");
                } else if state == State::TimeWait {
                    // RFC 1337: TIME_WAIT ignores RSTs.
                    prop_assert_eq!(after, Some(State::TimeWait));
                } else {
                    prop_assert!(
                        matches!(after, None | Some(State::Closed)),
                        "an exact RST closes the connection"
                    );
                }
            } else if flags.syn() && state != State::SynReceived {
                // RFC 5961 4.2: SYN in a synchronized state: challenge ACK, nothing else.
                prop_assert_eq!(after, before);
                prop_assert!(out.len() == 1 && out[0].0 == TcpFlags::ACK, "{out:?}");
                prop_assert_eq!(out[0].2, rcv_nxt.get());
            } else if !acceptable {
                // RFC 9293 3.10.7.4 first step: an ACK (or, in SYN_RCVD, the SYN,ACK again).
                prop_assert_eq!(after, before);
                prop_assert_eq!(out.len(), 1, "{:?}", out);
                prop_assert!(
                    out[0].0 == TcpFlags::ACK || out[0].0 == TcpFlags::SYN | TcpFlags::ACK
                );
            } else if !flags.ack() && !flags.syn() {
                // Fifth step: no ACK bit, dropped.
                prop_assert_eq!(after, before);
                prop_assert!(out.is_empty(), "{out:?}");
            } else if flags.ack() && !flags.syn() {
                let seg = Arrival {
                    state,
                    flags,
                    seq,
                    ack,
                    len: h.len,
                    rcv_nxt,
                    snd_una,
                    snd_nxt,
                    snd_wnd,
                    unread_before,
                };
                check_acceptable_ack(&f, &seg, &out, after)?;
            }
        }
    }
    Ok(())
}

/// An acceptable segment with ACK and without SYN or RST, and the
/// connection's variables before it arrived.
struct Arrival {
    state: State,
    flags: TcpFlags,
    seq: SeqNum,
    ack: SeqNum,
    len: usize,
    rcv_nxt: SeqNum,
    snd_una: SeqNum,
    snd_nxt: SeqNum,
    snd_wnd: u32,
    unread_before: usize,
}

/// RFC 9293 3.10.7.4, fifth to eighth steps, and RFC 5961 5.2, for an
/// acceptable segment carrying an ACK: the answer to an ACK of unsent data,
/// to an ACK far below SND.UNA, and what in-order text and FIN do to the
/// receive queue and the state.
fn check_acceptable_ack(
    f: &Fixture,
    a: &Arrival,
    out: &[(TcpFlags, u32, u32, usize)],
    after: Option<State>,
) -> Result<(), TestCaseError> {
    let (state, flags) = (a.state, a.flags);
    let unread = || status_of(f).map_or(0, |s| s.unread);
    let full_ack_processing = matches!(
        state,
        State::Established | State::FinWait1 | State::FinWait2 | State::CloseWait | State::Closing
    );
    if state == State::SynReceived {
        // RFC 9293 3.10.7.4 fifth step, SYN-RECEIVED: SND.UNA < SEG.ACK =< SND.NXT
        // completes the handshake, any other ACK is answered <SEQ=SEG.ACK><CTL=RST>.
        if a.snd_una.lt(a.ack) && a.ack.le(a.snd_nxt) {
            prop_assert!(
                matches!(after, Some(State::Established | State::CloseWait)),
                "{after:?}"
            );
        } else {
            prop_assert_eq!(out.to_vec(), vec![(TcpFlags::RST, a.ack.get(), 0, 0)]);
            prop_assert_eq!(after, Some(State::SynReceived));
        }
        return Ok(());
    }
    if full_ack_processing && a.ack.gt(a.snd_nxt) {
        // "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send
        // an ACK, drop the segment, and return": nothing delivered, no transition.
        // The fixtures run the defaults, Linux's choice: no answer in ESTABLISHED
        // (`ConnConfig::answer_ack_of_unsent`).
        if state == State::Established {
            prop_assert!(out.is_empty(), "{:?}", out);
        } else {
            prop_assert_eq!(out.len(), 1, "{:?}", out);
            prop_assert_eq!(out[0].0, TcpFlags::ACK);
            prop_assert_eq!(out[0].2, a.rcv_nxt.get());
        }
        prop_assert_eq!(after, Some(state));
        prop_assert_eq!(unread(), a.unread_before);
        return Ok(());
    }
    if full_ack_processing
        && a.ack.lt(a.snd_una - a.snd_wnd.max(1))
        && a.snd_una.since(a.ack) > 1 << 20
    {
        // RFC 5961 5.2: far below SND.UNA - MAX.SND.WND: a challenge ACK, dropped.
        prop_assert_eq!(out.len(), 1, "{:?}", out);
        prop_assert_eq!(out[0].0, TcpFlags::ACK);
        prop_assert_eq!(after, Some(state));
        prop_assert_eq!(unread(), a.unread_before);
        return Ok(());
    }
    if a.seq != a.rcv_nxt || a.ack != a.snd_nxt {
        return Ok(());
    }
    // An in-order segment acknowledging everything we sent.
    match state {
        // Seventh step: text is queued for the application (window permitting:
        // these fixtures have at least 64 bytes of window open).
        State::Established | State::FinWait2 => {
            prop_assert_eq!(unread(), a.unread_before + a.len);
        }
        // "This should not occur, since a FIN has been received from the remote
        // side. Ignore the segment text."
        State::CloseWait | State::Closing | State::TimeWait => {
            prop_assert_eq!(unread(), a.unread_before);
        }
        _ => {}
    }
    // Eighth step: the FIN, and our FIN acknowledged by this ACK.
    let expect = match (state, flags.fin()) {
        (State::Established, true) => Some(State::CloseWait),
        (State::Established, false) => Some(State::Established),
        (State::FinWait2, true) => Some(State::TimeWait),
        (State::FinWait2, false) => Some(State::FinWait2),
        (State::CloseWait, _) => Some(State::CloseWait),
        // Our FIN is acknowledged: FIN_WAIT_1 moves on, CLOSING waits out 2*MSL.
        (State::Closing, _) | (State::TimeWait, _) => Some(State::TimeWait),
        // LAST_ACK: "If our FIN is now acknowledged, delete the TCB."
        (State::LastAck, _) => None,
        _ => return Ok(()),
    };
    prop_assert!(
        after == expect || (expect.is_none() && after == Some(State::Closed)),
        "{state:?} + {flags}: {after:?}, expected {expect:?}"
    );
    Ok(())
}

fn cfg() -> Config {
    Config {
        cases: 256,
        rng_seed: RngSeed::Fixed(0xbad),
        failure_persistence: None,
        ..Config::default()
    }
}

macro_rules! per_state {
    ($($name:ident => $state:expr),* $(,)?) => {
        proptest! {
            #![proptest_config(cfg())]
            $(
                #[test]
                fn $name(h in hostile()) {
                    check($state, &h)?;
                }
            )*
        }
    };
}

per_state! {
    hostile_closed => State::Closed,
    hostile_listen => State::Listen,
    hostile_syn_sent => State::SynSent,
    hostile_syn_received => State::SynReceived,
    hostile_established => State::Established,
    hostile_fin_wait_1 => State::FinWait1,
    hostile_fin_wait_2 => State::FinWait2,
    hostile_close_wait => State::CloseWait,
    hostile_closing => State::Closing,
    hostile_last_ack => State::LastAck,
    hostile_time_wait => State::TimeWait,
}

proptest! {
    #![proptest_config(Config { cases: 2048, ..cfg() })]

    /// Random bytes never panic and are counted as malformed.
    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut f = fixture(State::Established);
        let before = f.net.hosts[0].stats().drops.values().sum::<u64>();
        f.net.hosts[0].handle_packet(f.net.now, &bytes);
        let now = f.net.now;
        drain(&mut f.net.hosts[0], now);
        let after = f.net.hosts[0].stats().drops.values().sum::<u64>();
        // Either counted as dropped, or (vanishingly rarely) a valid packet.
        prop_assert!(after == before + 1 || parse_packet(&bytes, ChecksumMode::Verify).is_ok());
    }
}

/// A long hostile stream into one connection keeps memory bounded: every
/// third segment is in order (so data does become readable, and the
/// application never reads it), the rest land anywhere in the window.
#[test]
fn hostile_stream_keeps_memory_bounded() {
    let mut f = fixture(State::Established);
    let mut rng = 0x1234_5678_u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let id = f.conn.unwrap();
    let limit = StackConfig::default().conn.recv_buffer;
    let mut offered_in_order = 0usize;
    for i in 0..20_000u32 {
        let st = f.net.hosts[0].status(id).unwrap();
        let r = next();
        let seq = if i % 3 == 0 {
            offered_in_order += 200;
            st.rcv_nxt
        } else {
            // Out-of-order data all over the window.
            st.rcv_nxt + 1 + (r as u32 % st.rcv_wnd.max(2))
        };
        // Random flags minus RST, SYN and FIN.
        let flags = TcpFlags((r >> 32) as u8 & !(0x04 | 0x02 | 0x01)) | TcpFlags::ACK;
        let pkt = raw_packet(
            f.peer,
            f.local,
            seq.get(),
            st.snd_nxt.get(),
            flags,
            1000,
            &[i as u8; 200],
        );
        f.net.hosts[0].handle_packet(f.net.now, &pkt);
        let now = f.net.now;
        drain(&mut f.net.hosts[0], now);
    }
    let st = f.net.hosts[0].status(id).unwrap();
    assert_eq!(st.state, State::Established);
    // Far more was offered in order than fits: the receive buffer bounds it,
    // and it is full (the window closed, later data was refused).
    assert!(offered_in_order > 10 * limit);
    assert!(
        st.unread <= limit,
        "{} bytes unread, limit {limit}",
        st.unread
    );
    assert!(
        st.unread >= limit / 2,
        "only {} bytes became readable",
        st.unread
    );
    assert_eq!(st.rcv_wnd, 0, "the window closed");
    let drops = f.net.hosts[0].stats().drops;
    let reassembly_full = drops
        .get(&synack_proto::DropReason::ReassemblyFull)
        .copied()
        .unwrap_or(0);
    assert!(
        reassembly_full > 0,
        "the reassembly bound was reached and counted: {drops:?}"
    );
}
