//! ICMP and ICMPv6 errors about our segments (RFC 1122 4.2.3.9, RFC 5927,
//! RFC 1191, RFC 4443, RFC 8201): a client stack, the test playing both the
//! peer and the routers on the path.

mod util;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use synack_proto::wire::{
    emit_icmp_packet, emit_packet, parse_packet, ChecksumMode, IcmpMessage, IcmpRepr,
    Icmpv4Message, Icmpv4Unreachable, Icmpv6Message, Icmpv6ParamProblem, IpRepr, SeqNum, TcpFlags,
    TcpOptions, TcpRepr, TimeExceeded, WireError,
};
use synack_proto::{
    Cause, ConnConfig, ConnError, ConnId, DropReason, Duration, EventKind, Instant, Stack,
    StackConfig, State,
};
use util::{c_addr, raw_packet, s_addr};

/// A router between C and S.
const ROUTER: &str = "10.0.1.254";

fn cfg(conn: ConnConfig) -> StackConfig {
    StackConfig {
        conn: ConnConfig {
            timestamps: false,
            sack: false,
            ..conn
        },
        ..StackConfig::default()
    }
}

/// One packet the stack sent: flags, seq, payload length, MSS option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Out {
    flags: TcpFlags,
    seq: u32,
    len: usize,
    mss: Option<u16>,
}

fn drain(st: &mut Stack, now: Instant) -> Vec<Out> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while st.poll_transmit(now, &mut buf) {
        let (_, t) = parse_packet(&buf, ChecksumMode::Verify).expect("valid packet");
        out.push(Out {
            flags: t.flags,
            seq: t.seq.0,
            len: t.payload.len(),
            mss: t.options.mss,
        });
    }
    out
}

/// A client stack in SYN_SENT toward `remote`: the stack, the connection,
/// its local address, and its SYN.
fn syn_sent(
    conf: StackConfig,
    local: IpAddr,
    remote: SocketAddr,
) -> (Stack, ConnId, SocketAddr, Out) {
    let mut st = Stack::new_deterministic(conf, 11);
    st.add_address(local);
    let id = st.connect(Instant::ZERO, None, remote).expect("connect");
    let syn = drain(&mut st, Instant::ZERO);
    assert_eq!(syn.len(), 1);
    let local = st.tuple(id).expect("tuple").local;
    (st, id, local, syn[0])
}

/// A client in ESTABLISHED with S:80 (peer ISN 5000, MSS 1460, window 65535).
fn established(conf: StackConfig) -> (Stack, ConnId, SocketAddr, u32) {
    let (mut st, id, local, syn) = syn_sent(conf, c_addr(0).ip(), s_addr(80));
    st.handle_packet(
        T0,
        &raw_packet(
            s_addr(80),
            local,
            5000,
            syn.seq + 1,
            TcpFlags::SYN | TcpFlags::ACK,
            65535,
            &[],
        ),
    );
    let ack = drain(&mut st, T0);
    assert_eq!(ack.len(), 1);
    assert_eq!(st.state(id), Ok(State::Established));
    (st, id, local, syn.seq)
}

const T0: Instant = Instant::from_millis(10);
const T1: Instant = Instant::from_millis(20);

/// An ICMP (or ICMPv6) packet from `router` to `local` carrying `message`
/// and quoting the first 64 bits of our segment `local -> remote` with
/// sequence number `seq` and `len` payload bytes.
fn icmp(
    router: IpAddr,
    local: SocketAddr,
    remote: SocketAddr,
    seq: u32,
    len: usize,
    message: IcmpMessage,
) -> Vec<u8> {
    let fwd = IpRepr::new(local.ip(), remote.ip()).expect("one family");
    let payload = vec![0u8; len];
    let seg = TcpRepr {
        src_port: local.port(),
        dst_port: remote.port(),
        seq: SeqNum(seq),
        ack: SeqNum(0),
        flags: TcpFlags::ACK,
        window: 0,
        urgent: 0,
        options: TcpOptions::default(),
        payload: &payload,
    };
    let mut quoted = Vec::new();
    emit_packet(&fwd, &seg, &mut quoted);
    quoted.truncate(fwd.header_len() + 8);
    let back = IpRepr::new(router, local.ip()).expect("one family");
    let mut out = Vec::new();
    emit_icmp_packet(
        &back,
        &IcmpRepr {
            message,
            quote: &quoted,
        },
        &mut out,
    )
    .expect("emits");
    out
}

fn router() -> IpAddr {
    ROUTER.parse().expect("address")
}

fn unreach4(code: u8) -> IcmpMessage {
    IcmpMessage::V4(Icmpv4Message::DestUnreachable {
        code: Icmpv4Unreachable::from_code(code),
        next_hop_mtu: 0,
    })
}

fn frag_needed(mtu: u16) -> IcmpMessage {
    IcmpMessage::V4(Icmpv4Message::DestUnreachable {
        code: Icmpv4Unreachable::FragNeeded,
        next_hop_mtu: mtu,
    })
}

fn drops(st: &Stack, r: DropReason) -> u64 {
    st.stats().drops.get(&r).copied().unwrap_or(0)
}

fn events(st: &mut Stack) -> Vec<EventKind> {
    std::iter::from_fn(|| st.poll_event())
        .map(|e| e.kind)
        .collect()
}

#[test]
fn port_unreachable_aborts_syn_sent_with_refused() {
    let (mut st, id, local, syn) = syn_sent(cfg(ConnConfig::default()), c_addr(0).ip(), s_addr(80));
    let _ = events(&mut st);
    st.handle_packet(
        T0,
        &icmp(router(), local, s_addr(80), syn.seq, 0, unreach4(3)),
    );
    assert_eq!(st.state(id), Ok(State::Closed));
    assert_eq!(st.conn_error(id), Ok(Some(ConnError::Refused)));
    // Nothing is sent: no RST for an ICMP error, no more SYNs.
    assert_eq!(drain(&mut st, T0), vec![]);
    assert_eq!(st.poll_timeout(), None);
    assert_eq!(st.stats().icmp_in, 1);
    let ev = events(&mut st);
    assert!(matches!(
        ev.first(),
        Some(EventKind::IcmpReceived { conn: Some(c), seq: Some(s), .. }) if *c == id && s.0 == syn.seq
    ));
    assert!(ev.contains(&EventKind::ConnectionError {
        conn: id,
        error: ConnError::Refused
    }));
    assert!(ev.iter().any(|e| matches!(
        e,
        EventKind::StateChanged {
            from: State::SynSent,
            to: State::Closed,
            cause: Cause::IcmpError,
            ..
        }
    )));
}

#[test]
fn hard_errors_and_their_errno() {
    // (message, error) per RFC 1122 4.2.3.9 and what Linux and FreeBSD report.
    let cases = [
        (unreach4(2), ConnError::Refused),
        (unreach4(9), ConnError::Refused),
        (unreach4(10), ConnError::Refused),
        (unreach4(13), ConnError::Refused),
        (
            IcmpMessage::V4(Icmpv4Message::TimeExceeded {
                code: TimeExceeded::InTransit,
            }),
            ConnError::HostUnreachable,
        ),
    ];
    for (m, want) in cases {
        let (mut st, id, local, syn) =
            syn_sent(cfg(ConnConfig::default()), c_addr(0).ip(), s_addr(80));
        st.handle_packet(T0, &icmp(router(), local, s_addr(80), syn.seq, 0, m));
        assert_eq!(st.conn_error(id), Ok(Some(want)), "{m:?}");
        assert_eq!(st.state(id), Ok(State::Closed));
    }
}

#[test]
fn quoted_sequence_number_outside_the_flight_is_ignored_and_counted() {
    // RFC 5927 4.1: SND.UNA =< SEG.SEQ < SND.NXT; in SYN_SENT only the ISS.
    let (mut st, id, local, syn) = syn_sent(cfg(ConnConfig::default()), c_addr(0).ip(), s_addr(80));
    for seq in [syn.seq.wrapping_sub(1), syn.seq + 1, syn.seq + 100_000] {
        st.handle_packet(T0, &icmp(router(), local, s_addr(80), seq, 0, unreach4(3)));
    }
    assert_eq!(st.state(id), Ok(State::SynSent));
    assert_eq!(st.conn_error(id), Ok(None));
    assert_eq!(drops(&st, DropReason::IcmpSeqOutOfWindow), 3);
    assert_eq!(st.stats().icmp_in, 3);
    // The right one still works.
    st.handle_packet(
        T0,
        &icmp(router(), local, s_addr(80), syn.seq, 0, unreach4(3)),
    );
    assert_eq!(st.conn_error(id), Ok(Some(ConnError::Refused)));
}

#[test]
fn icmp_may_rst_off_keeps_hard_errors_soft_until_the_timeout() {
    let conf = cfg(ConnConfig {
        icmp_may_rst: false,
        syn_retries: 1,
        ..ConnConfig::default()
    });
    let (mut st, id, local, syn) = syn_sent(conf, c_addr(0).ip(), s_addr(80));
    st.handle_packet(
        T0,
        &icmp(router(), local, s_addr(80), syn.seq, 0, unreach4(3)),
    );
    assert_eq!(st.state(id), Ok(State::SynSent));
    assert_eq!(st.conn_error(id), Ok(None));
    assert!(events(&mut st).contains(&EventKind::SoftError {
        conn: id,
        error: ConnError::Refused
    }));
    // The SYN is retransmitted as usual at 1 s, then the attempt gives up at 3 s
    // with the recorded error instead of ETIMEDOUT.
    let mut sent = Vec::new();
    while let Some(t) = st.poll_timeout() {
        st.handle_timeout(t);
        sent.extend(drain(&mut st, t).into_iter().map(|o| (t.millis(), o.flags)));
    }
    assert_eq!(sent, vec![(1000, TcpFlags::SYN)]);
    assert_eq!(st.state(id), Ok(State::Closed));
    assert_eq!(st.conn_error(id), Ok(Some(ConnError::Refused)));
}

#[test]
fn soft_error_is_reported_when_the_connection_times_out() {
    let conf = cfg(ConnConfig {
        syn_retries: 2,
        ..ConnConfig::default()
    });
    let (mut st, id, local, syn) = syn_sent(conf, c_addr(0).ip(), s_addr(80));
    // RFC 1122 4.2.3.9: host unreachable is soft: the attempt goes on.
    st.handle_packet(
        T0,
        &icmp(router(), local, s_addr(80), syn.seq, 0, unreach4(1)),
    );
    assert_eq!(st.state(id), Ok(State::SynSent));
    assert_eq!(st.conn_error(id), Ok(None));
    let mut syns = 0;
    while let Some(t) = st.poll_timeout() {
        st.handle_timeout(t);
        syns += drain(&mut st, t).len();
    }
    assert_eq!(syns, 2);
    // Linux reports EHOSTUNREACH rather than ETIMEDOUT.
    assert_eq!(st.conn_error(id), Ok(Some(ConnError::HostUnreachable)));
}

#[test]
fn established_port_unreachable_does_not_abort() {
    let (mut st, id, local, iss) = established(cfg(ConnConfig::default()));
    assert_eq!(st.send(T0, id, &[7u8; 100]), Ok(100));
    let out = drain(&mut st, T0);
    assert_eq!(out.len(), 1);
    let _ = events(&mut st);
    // RFC 5927 5.2: once synchronized, hard errors are soft.
    st.handle_packet(
        T1,
        &icmp(router(), local, s_addr(80), iss + 1, 100, unreach4(3)),
    );
    assert_eq!(st.state(id), Ok(State::Established));
    assert_eq!(st.conn_error(id), Ok(None));
    assert_eq!(drain(&mut st, T1), vec![]);
    assert!(events(&mut st).contains(&EventKind::SoftError {
        conn: id,
        error: ConnError::Refused
    }));
    // The peer acknowledges: the soft error is forgotten, and a later timeout is
    // ETIMEDOUT again.
    st.handle_packet(
        T1,
        &raw_packet(
            s_addr(80),
            local,
            5001,
            iss + 101,
            TcpFlags::ACK,
            65535,
            &[],
        ),
    );
    assert_eq!(st.send(T1, id, &[7u8; 10]), Ok(10));
    let _ = drain(&mut st, T1);
    st.set_user_timeout(id, Some(Duration::from_secs(2)))
        .expect("user timeout");
    while let Some(t) = st.poll_timeout() {
        st.handle_timeout(t);
        let _ = drain(&mut st, t);
    }
    assert_eq!(st.conn_error(id), Ok(Some(ConnError::TimedOut)));
}

#[test]
fn soft_error_in_established_is_reported_on_user_timeout() {
    let (mut st, id, local, iss) = established(cfg(ConnConfig::default()));
    st.set_user_timeout(id, Some(Duration::from_secs(2)))
        .expect("user timeout");
    assert_eq!(st.send(T0, id, &[7u8; 100]), Ok(100));
    let _ = drain(&mut st, T0);
    st.handle_packet(
        T1,
        &icmp(router(), local, s_addr(80), iss + 1, 100, unreach4(0)),
    );
    assert_eq!(st.state(id), Ok(State::Established));
    while let Some(t) = st.poll_timeout() {
        st.handle_timeout(t);
        let _ = drain(&mut st, t);
    }
    assert_eq!(st.conn_error(id), Ok(Some(ConnError::NetworkUnreachable)));
}

#[test]
fn packet_too_big_lowers_the_mss_and_retransmits_smaller_segments() {
    let (mut st, id, local, iss) = established(cfg(ConnConfig {
        nagle: false,
        ..ConnConfig::default()
    }));
    assert_eq!(st.status(id).expect("status").snd_mss, 1460);
    assert_eq!(st.send(T0, id, &[7u8; 3000]), Ok(3000));
    let out = drain(&mut st, T0);
    let lens: Vec<(u32, usize)> = out.iter().map(|o| (o.seq - iss, o.len)).collect();
    assert_eq!(lens, vec![(1, 1460), (1461, 1460), (2921, 80)]);
    let before = st.status(id).expect("status");
    let _ = events(&mut st);
    // RFC 1191: a router on the path says 1000 bytes fit.
    st.handle_packet(
        T1,
        &icmp(
            router(),
            local,
            s_addr(80),
            iss + 1,
            1460,
            frag_needed(1000),
        ),
    );
    let out = drain(&mut st, T1);
    let lens: Vec<(u32, usize)> = out.iter().map(|o| (o.seq - iss, o.len)).collect();
    // Everything in flight goes again at once, in segments that fit.
    assert_eq!(lens, vec![(1, 960), (961, 960), (1921, 960), (2881, 120)]);
    let after = st.status(id).expect("status");
    assert_eq!(after.snd_mss, 960);
    // Not congestion: the window and the RTO stay.
    assert_eq!(after.cwnd, before.cwnd);
    assert_eq!(after.ssthresh, before.ssthresh);
    assert_eq!(after.rto, before.rto);
    assert_eq!(after.retransmits, 4);
    assert!(events(&mut st).contains(&EventKind::PathMtuReduced {
        conn: id,
        mtu: 1000,
        mss: 960
    }));
    // A second message about the same burst changes nothing (RFC 1191 6.4).
    st.handle_packet(
        T1,
        &icmp(
            router(),
            local,
            s_addr(80),
            iss + 1461,
            1460,
            frag_needed(1000),
        ),
    );
    assert_eq!(drain(&mut st, T1), vec![]);
    assert_eq!(drops(&st, DropReason::IcmpMtuNotLower), 1);
    // Nor does one claiming a larger MTU (RFC 1191 3: never increase).
    st.handle_packet(
        T1,
        &icmp(router(), local, s_addr(80), iss + 1, 960, frag_needed(1400)),
    );
    assert_eq!(drain(&mut st, T1), vec![]);
    assert_eq!(drops(&st, DropReason::IcmpMtuNotLower), 2);
    assert_eq!(st.status(id).expect("status").snd_mss, 960);
}

#[test]
fn packet_too_big_has_a_floor_and_old_routers_get_a_plateau() {
    // Linux's min_pmtu: 552 bytes, so an MSS of 512 however small the claim.
    let (mut st, id, local, iss) = established(cfg(ConnConfig::default()));
    assert_eq!(st.send(T0, id, &[7u8; 100]), Ok(100));
    let _ = drain(&mut st, T0);
    st.handle_packet(
        T1,
        &icmp(router(), local, s_addr(80), iss + 1, 100, frag_needed(68)),
    );
    assert_eq!(st.status(id).expect("status").snd_mss, 512);
    // RFC 1191 5: no next-hop MTU; the quoted datagram was 1500 bytes long, so the
    // next plateau down, 1492.
    let (mut st, id, local, iss) = established(cfg(ConnConfig::default()));
    assert_eq!(st.send(T0, id, &[7u8; 1460]), Ok(1460));
    let _ = drain(&mut st, T0);
    st.handle_packet(
        T1,
        &icmp(router(), local, s_addr(80), iss + 1, 1460, frag_needed(0)),
    );
    assert_eq!(st.status(id).expect("status").snd_mss, 1452);
}

#[test]
fn packet_too_big_in_syn_sent_lowers_the_next_syn_mss() {
    let local: IpAddr = "2001:db8::1".parse().expect("address");
    let remote = SocketAddr::new("2001:db8::2".parse().expect("address"), 80);
    let router: IpAddr = "2001:db8::fe".parse().expect("address");
    let ptb = IcmpMessage::V6(Icmpv6Message::PacketTooBig { mtu: 1300 });
    for follow in [true, false] {
        let conf = cfg(ConnConfig {
            syn_mss_follows_path_mtu: follow,
            ..ConnConfig::default()
        });
        let (mut st, id, me, syn) = syn_sent(conf, local, remote);
        assert_eq!(syn.mss, Some(1440));
        st.handle_packet(T0, &icmp(router, me, remote, syn.seq, 0, ptb));
        // Not an error: the handshake goes on, and nothing is sent at once.
        assert_eq!(st.state(id), Ok(State::SynSent));
        assert_eq!(drain(&mut st, T0), vec![]);
        let t = st.poll_timeout().expect("SYN timer");
        st.handle_timeout(t);
        let again = drain(&mut st, t);
        let want = if follow { 1240 } else { 1440 };
        assert_eq!(again.first().and_then(|o| o.mss), Some(want));
        // Whatever the SYN said, the segments we send fit the path.
        let mut synack = Vec::new();
        let seg = TcpRepr {
            src_port: 80,
            dst_port: me.port(),
            seq: SeqNum(9),
            ack: SeqNum(syn.seq + 1),
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: 65535,
            urgent: 0,
            options: TcpOptions {
                mss: Some(1440),
                ..TcpOptions::default()
            },
            payload: &[],
        };
        emit_packet(
            &IpRepr::new(remote.ip(), me.ip()).expect("v6"),
            &seg,
            &mut synack,
        );
        st.handle_packet(t, &synack);
        assert_eq!(st.state(id), Ok(State::Established));
        assert_eq!(st.status(id).expect("status").snd_mss, 1240);
    }
}

#[test]
fn icmpv6_hard_errors() {
    let local: IpAddr = "2001:db8::1".parse().expect("address");
    let remote = SocketAddr::new("2001:db8::2".parse().expect("address"), 80);
    let router = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xfe));
    let cases = [
        (
            IcmpMessage::V6(Icmpv6Message::ParameterProblem {
                code: Icmpv6ParamProblem::NextHeader,
                pointer: 6,
            }),
            Some(ConnError::Refused),
        ),
        (
            IcmpMessage::V6(Icmpv6Message::TimeExceeded {
                code: TimeExceeded::InTransit,
            }),
            Some(ConnError::HostUnreachable),
        ),
        (
            IcmpMessage::V6(Icmpv6Message::ParameterProblem {
                code: Icmpv6ParamProblem::HeaderField,
                pointer: 6,
            }),
            None,
        ),
    ];
    for (m, want) in cases {
        let (mut st, id, me, syn) = syn_sent(cfg(ConnConfig::default()), local, remote);
        st.handle_packet(T0, &icmp(router, me, remote, syn.seq, 0, m));
        assert_eq!(st.conn_error(id), Ok(want), "{m:?}");
    }
}

#[test]
fn half_open_entry_goes_quietly_on_a_hard_error() {
    let mut st = Stack::new_deterministic(cfg(ConnConfig::default()), 3);
    st.add_address(s_addr(80).ip());
    let l = st.listen(s_addr(80), 4).expect("listen");
    st.handle_packet(
        T0,
        &raw_packet(c_addr(999), s_addr(80), 100, 0, TcpFlags::SYN, 65535, &[]),
    );
    let synack = drain(&mut st, T0);
    assert_eq!(synack.len(), 1);
    st.handle_packet(
        T1,
        &icmp(
            router(),
            s_addr(80),
            c_addr(999),
            synack[0].seq,
            0,
            unreach4(3),
        ),
    );
    let ls = st.listener_status(l).expect("listener");
    assert_eq!((ls.syn_queue, ls.half_open_expired), (0, 1));
    assert_eq!(st.connection_count(), 0);
    assert_eq!(drain(&mut st, T1), vec![]);
}

#[test]
fn every_ignored_message_is_counted() {
    let (mut st, id, local, syn) = syn_sent(cfg(ConnConfig::default()), c_addr(0).ip(), s_addr(80));
    let q = |m| icmp(router(), local, s_addr(80), syn.seq, 0, m);
    st.handle_packet(T0, &q(IcmpMessage::V4(Icmpv4Message::SourceQuench)));
    st.handle_packet(
        T0,
        &q(IcmpMessage::V4(Icmpv4Message::Redirect {
            code: 1,
            gateway: "10.0.1.1".parse().expect("address"),
        })),
    );
    st.handle_packet(
        T0,
        &q(IcmpMessage::V4(Icmpv4Message::Other {
            msg_type: 8,
            code: 0,
            rest: [0; 4],
        })),
    );
    st.handle_packet(T0, &q(unreach4(16)));
    // A segment of no connection (another port).
    let other = SocketAddr::new(local.ip(), local.port().wrapping_add(1));
    st.handle_packet(
        T0,
        &icmp(router(), other, s_addr(80), syn.seq, 0, unreach4(3)),
    );
    // A corrupted message.
    let mut bad = q(unreach4(3));
    let last = bad.len() - 1;
    bad[last] ^= 1;
    st.handle_packet(T0, &bad);
    // A quote too short to name the connection.
    let mut short = Vec::new();
    let back = IpRepr::new(router(), local.ip()).expect("v4");
    emit_icmp_packet(
        &back,
        &IcmpRepr {
            message: unreach4(3),
            quote: &[0x45, 0, 0, 40],
        },
        &mut short,
    )
    .expect("emits");
    st.handle_packet(T0, &short);
    assert_eq!(st.state(id), Ok(State::SynSent));
    for r in [
        DropReason::IcmpSourceQuench,
        DropReason::IcmpRedirect,
        DropReason::IcmpNotError,
        DropReason::IcmpUnknownCode,
        DropReason::IcmpNoConnection,
        DropReason::IcmpMalformed(WireError::BadIcmpChecksum),
        DropReason::IcmpMalformed(WireError::Truncated),
    ] {
        assert_eq!(drops(&st, r), 1, "{r:?}");
    }
    assert_eq!(st.stats().icmp_in, 6);
    assert_eq!(drain(&mut st, T0), vec![]);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever ICMP message arrives about whatever sequence number, an
        /// established connection stays established (RFC 5927 5.2), keeps an
        /// MSS the floor allows, and the stack does not panic.
        #[test]
        fn no_icmp_message_ends_a_synchronized_connection(
            t in any::<u8>(),
            code in any::<u8>(),
            rest in any::<[u8; 4]>(),
            off in 0u32..3000,
            junk in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let (mut st, id, local, iss) = established(cfg(ConnConfig::default()));
            assert_eq!(st.send(T0, id, &[7u8; 2000]), Ok(2000));
            let _ = drain(&mut st, T0);
            let mut raw = vec![t, code, 0, 0];
            raw.extend_from_slice(&rest);
            let back = IpRepr::new(router(), local.ip()).expect("v4");
            let parsed = IcmpRepr::parse(&raw, &back, ChecksumMode::Ignore).expect("8 bytes");
            st.handle_packet(T1, &icmp(router(), local, s_addr(80), iss + off, 100, parsed.message));
            // Also with a quote of random bytes.
            let mut pkt = Vec::new();
            emit_icmp_packet(&back, &IcmpRepr { message: parsed.message, quote: &junk }, &mut pkt)
                .expect("emits");
            st.handle_packet(T1, &pkt);
            let _ = drain(&mut st, T1);
            prop_assert_eq!(st.state(id), Ok(State::Established));
            prop_assert!(st.status(id).expect("status").snd_mss >= 512);
        }
    }
}
