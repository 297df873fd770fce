//! Regression tests for core behaviour found by running packetdrill scripts
//! written for other stacks (the synack-drill runner).

mod util;

use synack_proto::wire::{parse_packet, ChecksumMode, SeqNum, TcpFlags};
use synack_proto::{ConnConfig, ConnError, ConnId, Instant, Profile, Stack, StackConfig, State};
use util::{c_addr, raw_packet, s_addr};

/// A server stack with one accepted ESTABLISHED connection from C:1000
/// (peer ISN 1000). Returns the stack, the connection and its ISS.
fn established(conn: ConnConfig) -> (Stack, ConnId, u32) {
    let mut st = Stack::new_deterministic(
        StackConfig {
            conn,
            ..StackConfig::default()
        },
        7,
    );
    st.add_address(s_addr(80).ip());
    let l = st.listen(s_addr(80), 4).expect("listen");
    let now = Instant::from_millis(1);
    st.handle_packet(
        now,
        &raw_packet(c_addr(1000), s_addr(80), 1000, 0, TcpFlags::SYN, 65535, &[]),
    );
    let out = drain(&mut st, now);
    let iss = out.first().map(|(_, seq, _)| *seq).expect("SYN,ACK");
    st.handle_packet(
        now,
        &raw_packet(
            c_addr(1000),
            s_addr(80),
            1001,
            iss + 1,
            TcpFlags::ACK,
            65535,
            &[],
        ),
    );
    let _ = drain(&mut st, now);
    let id = st.accept(l).expect("accepted");
    assert_eq!(st.state(id), Ok(State::Established));
    (st, id, iss)
}

/// Every packet the stack sends now, as (flags, seq, ack).
fn drain(st: &mut Stack, now: Instant) -> Vec<(TcpFlags, u32, u32)> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while st.poll_transmit(now, &mut buf) {
        let (_, t) = parse_packet(&buf, ChecksumMode::Verify).expect("valid packet");
        out.push((t.flags, t.seq.0, t.ack.0));
    }
    out
}

const T: Instant = Instant::from_millis(100);

#[test]
fn in_window_rst_gets_a_challenge_ack_by_default() {
    let (mut st, id, iss) = established(ConnConfig::default());
    st.handle_packet(
        T,
        &raw_packet(c_addr(1000), s_addr(80), 1011, 0, TcpFlags::RST, 0, &[]),
    );
    assert_eq!(drain(&mut st, T), vec![(TcpFlags::ACK, iss + 1, 1001)]);
    assert_eq!(st.state(id), Ok(State::Established));
}

#[test]
fn rst_challenge_off_accepts_any_in_window_rst() {
    // RFC 793 3.9 (FreeBSD insecure_rst=1): an in-window RST resets.
    let cfg = ConnConfig {
        rst_challenge: false,
        ..ConnConfig::default()
    };
    let (mut st, id, _) = established(cfg);
    st.handle_packet(
        T,
        &raw_packet(c_addr(1000), s_addr(80), 1011, 0, TcpFlags::RST, 0, &[]),
    );
    assert_eq!(drain(&mut st, T), vec![]);
    assert_eq!(st.state(id), Ok(State::Closed));
    assert_eq!(st.conn_error(id), Ok(Some(ConnError::Reset)));
    // Outside the window a RST is still ignored.
    let (mut st, id, _) = established(cfg);
    st.handle_packet(
        T,
        &raw_packet(
            c_addr(1000),
            s_addr(80),
            1000 + 1 + 70_000,
            0,
            TcpFlags::RST,
            0,
            &[],
        ),
    );
    assert_eq!(st.state(id), Ok(State::Established));
}

#[test]
fn in_window_syn_gets_a_challenge_ack_by_default() {
    let (mut st, id, iss) = established(ConnConfig::default());
    st.handle_packet(
        T,
        &raw_packet(c_addr(1000), s_addr(80), 1001, 0, TcpFlags::SYN, 65535, &[]),
    );
    assert_eq!(drain(&mut st, T), vec![(TcpFlags::ACK, iss + 1, 1001)]);
    assert_eq!(st.state(id), Ok(State::Established));
}

#[test]
fn syn_challenge_off_resets_on_an_in_window_syn() {
    // RFC 793 3.9 (FreeBSD insecure_syn=1): an in-window SYN is an error.
    let cfg = ConnConfig {
        syn_challenge: false,
        ..ConnConfig::default()
    };
    let (mut st, id, iss) = established(cfg);
    st.handle_packet(
        T,
        &raw_packet(c_addr(1000), s_addr(80), 1001, 0, TcpFlags::SYN, 65535, &[]),
    );
    assert_eq!(
        drain(&mut st, T),
        vec![(TcpFlags::RST | TcpFlags::ACK, iss + 1, 1001)]
    );
    assert_eq!(st.state(id), Ok(State::Closed));
    assert_eq!(st.conn_error(id), Ok(Some(ConnError::Reset)));
}

#[test]
fn text_on_a_simultaneous_open_syn_is_delivered_after_established() {
    // RFC 9293 3.10.7.3: text on a SYN received in SYN-SENT is queued for
    // processing once ESTABLISHED is reached, not dropped.
    let mut st = Stack::new_deterministic(StackConfig::default(), 7);
    st.add_address(s_addr(80).ip());
    let t0 = Instant::from_millis(1);
    let id = st
        .connect(t0, Some(s_addr(5000)), c_addr(1000))
        .expect("connect");
    let syn = drain(&mut st, t0);
    let iss = syn.first().map(|(_, seq, _)| *seq).expect("SYN");
    st.handle_packet(
        T,
        &raw_packet(
            c_addr(1000),
            s_addr(5000),
            0,
            0,
            TcpFlags::SYN,
            32767,
            b"abc",
        ),
    );
    // The SYN,ACK acknowledges the SYN only; the data waits.
    assert_eq!(
        drain(&mut st, T),
        vec![(TcpFlags::SYN | TcpFlags::ACK, iss, 1)]
    );
    assert_eq!(st.state(id), Ok(State::SynReceived));
    let t2 = Instant::from_millis(200);
    st.handle_packet(
        t2,
        &raw_packet(
            c_addr(1000),
            s_addr(5000),
            4,
            iss + 1,
            TcpFlags::ACK,
            32767,
            &[],
        ),
    );
    assert_eq!(st.state(id), Ok(State::Established));
    let mut buf = [0u8; 100];
    assert_eq!(st.recv(t2, id, &mut buf), Ok(3));
    assert_eq!(&buf[..3], b"abc");
}

/// An IPv4 segment from C:1000 to S:80, with SACK-permitted on a SYN when `sack_ok`.
fn seg_from_client(seq: u32, ack: u32, flags: TcpFlags, payload: &[u8], sack_ok: bool) -> Vec<u8> {
    use synack_proto::wire::{emit_packet, IpRepr, TcpOptions, TcpRepr};
    let (src, dst) = (c_addr(1000), s_addr(80));
    let ip = IpRepr::new(src.ip(), dst.ip()).expect("IPv4 pair");
    let tcp = TcpRepr {
        src_port: src.port(),
        dst_port: dst.port(),
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        window: 65535,
        urgent: 0,
        options: TcpOptions {
            mss: flags.syn().then_some(1460),
            sack_permitted: flags.syn() && sack_ok,
            ..Default::default()
        },
        payload,
    };
    let mut buf = Vec::new();
    emit_packet(&ip, &tcp, &mut buf);
    buf
}

/// A sent segment as (flags, ack, SACK-permitted, SACK blocks).
type SackView = (TcpFlags, u32, bool, Vec<(u32, u32)>);

/// Every packet the stack sends now.
fn drain_sack(st: &mut Stack, now: Instant) -> Vec<SackView> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while st.poll_transmit(now, &mut buf) {
        let (_, t) = parse_packet(&buf, ChecksumMode::Verify).expect("valid packet");
        let blocks = t
            .options
            .sack
            .as_slice()
            .iter()
            .map(|(l, r)| (l.0, r.0))
            .collect();
        out.push((t.flags, t.ack.0, t.options.sack_permitted, blocks));
    }
    out
}

/// A server connection from C:1000 (peer ISN 1000) whose SYN offered SACK when
/// `sack_ok`. Returns the stack, the connection, the SYN,ACK's SACK-permitted flag
/// and the ISS.
fn established_sack(cfg: ConnConfig, sack_ok: bool) -> (Stack, ConnId, bool, u32) {
    let mut st = Stack::new_deterministic(
        StackConfig {
            conn: cfg,
            ..StackConfig::default()
        },
        7,
    );
    st.add_address(s_addr(80).ip());
    let l = st.listen(s_addr(80), 4).expect("listen");
    let now = Instant::from_millis(1);
    st.handle_packet(now, &seg_from_client(1000, 0, TcpFlags::SYN, &[], sack_ok));
    let mut buf = Vec::new();
    assert!(st.poll_transmit(now, &mut buf));
    let (_, synack) = parse_packet(&buf, ChecksumMode::Verify).expect("SYN,ACK");
    let (offered, iss) = (synack.options.sack_permitted, synack.seq.0);
    st.handle_packet(
        now,
        &seg_from_client(1001, iss + 1, TcpFlags::ACK, &[], false),
    );
    let _ = drain_sack(&mut st, now);
    let id = st.accept(l).expect("accepted");
    (st, id, offered, iss)
}

#[test]
fn sack_blocks_describe_the_reassembly_queue_most_recent_first() {
    // RFC 2018 4: the first block holds the most recently received segment, the
    // others follow by recency; contiguous blocks merge; none once the hole fills.
    let (mut st, _, offered, iss) = established_sack(ConnConfig::default(), true);
    assert!(offered, "SACK-permitted answered on the SYN,ACK");
    let a = iss + 1;
    let data = |st: &mut Stack, seq: u32, len: usize| {
        st.handle_packet(
            T,
            &seg_from_client(seq, a, TcpFlags::ACK, &vec![7u8; len], false),
        );
        drain_sack(st, T)
    };
    let ack = TcpFlags::ACK;
    assert_eq!(
        data(&mut st, 1021, 10),
        vec![(ack, 1001, false, vec![(1021, 1031)])]
    );
    assert_eq!(
        data(&mut st, 1041, 10),
        vec![(ack, 1001, false, vec![(1041, 1051), (1021, 1031)])]
    );
    assert_eq!(
        data(&mut st, 1061, 10),
        vec![(
            ack,
            1001,
            false,
            vec![(1061, 1071), (1041, 1051), (1021, 1031)]
        )]
    );
    assert_eq!(
        data(&mut st, 1031, 10),
        vec![(ack, 1001, false, vec![(1021, 1051), (1061, 1071)])]
    );
    assert_eq!(
        data(&mut st, 1001, 20),
        vec![(ack, 1051, false, vec![(1061, 1071)])]
    );
    assert_eq!(data(&mut st, 1051, 10), vec![(ack, 1071, false, vec![])]);
}

#[test]
fn duplicate_data_is_reported_in_a_first_dsack_block() {
    // RFC 2883 4: the duplicate range first, then the block containing it, then the rest.
    let (mut st, _, _, iss) = established_sack(ConnConfig::default(), true);
    let a = iss + 1;
    let data = |st: &mut Stack, seq: u32, len: usize| {
        st.handle_packet(
            T,
            &seg_from_client(seq, a, TcpFlags::ACK, &vec![7u8; len], false),
        );
        drain_sack(st, T)
    };
    let ack = TcpFlags::ACK;
    let _ = data(&mut st, 1001, 10);
    let _ = data(&mut st, 1021, 10);
    let _ = data(&mut st, 1041, 10);
    // Entirely below RCV.NXT.
    assert_eq!(
        data(&mut st, 1001, 5),
        vec![(
            ack,
            1011,
            false,
            vec![(1001, 1006), (1041, 1051), (1021, 1031)]
        )]
    );
    // A duplicate inside a queued block moves that block to the front.
    assert_eq!(
        data(&mut st, 1025, 6),
        vec![(
            ack,
            1011,
            false,
            vec![(1025, 1031), (1021, 1031), (1041, 1051)]
        )]
    );
    // Reported once: the next ACK has only the queue.
    assert_eq!(
        data(&mut st, 1061, 10)[0].3,
        vec![(1061, 1071), (1021, 1031), (1041, 1051)]
    );
    // Partly old data is acknowledged at once with its duplicate part.
    let _ = data(&mut st, 1011, 10);
    let _ = data(&mut st, 1031, 10);
    assert_eq!(data(&mut st, 1051, 10), vec![(ack, 1071, false, vec![])]);
    assert_eq!(
        data(&mut st, 1066, 15),
        vec![(ack, 1081, false, vec![(1066, 1071)])]
    );
}

#[test]
fn no_sack_without_the_peers_sack_permitted() {
    // RFC 2018 2: SACK-permitted is answered only if the SYN carried it, and blocks
    // are sent only when both sides offered it.
    let (mut st, _, offered, iss) = established_sack(ConnConfig::default(), false);
    assert!(!offered);
    st.handle_packet(
        T,
        &seg_from_client(1021, iss + 1, TcpFlags::ACK, &[7; 10], false),
    );
    assert_eq!(
        drain_sack(&mut st, T),
        vec![(TcpFlags::ACK, 1001, false, vec![])]
    );
}

#[test]
fn delayed_ack_by_segments_acknowledges_every_second_small_segment() {
    // FreeBSD's mode: every second data segment, and no quick ACKs at connection start.
    let cfg = Profile::FreeBsd.conn_config(false);
    assert!(cfg.delayed_ack_by_segments && cfg.quick_ack_segments == 0);
    let (mut st, _, _, iss) = established_sack(cfg, true);
    st.handle_packet(
        T,
        &seg_from_client(1001, iss + 1, TcpFlags::ACK, &[7; 1], false),
    );
    assert_eq!(drain_sack(&mut st, T), vec![]);
    st.handle_packet(
        T,
        &seg_from_client(1002, iss + 1, TcpFlags::ACK, &[7; 2], false),
    );
    assert_eq!(
        drain_sack(&mut st, T),
        vec![(TcpFlags::ACK, 1004, false, vec![])]
    );
    // The default counts bytes: two small segments wait for the delayed-ACK timer
    // (once past quick-ACK mode, here switched off).
    let cfg = ConnConfig {
        quick_ack_segments: 0,
        ..ConnConfig::default()
    };
    let (mut st, _, _, iss) = established_sack(cfg, true);
    st.handle_packet(
        T,
        &seg_from_client(1001, iss + 1, TcpFlags::ACK, &[7; 1], false),
    );
    st.handle_packet(
        T,
        &seg_from_client(1002, iss + 1, TcpFlags::ACK, &[7; 2], false),
    );
    assert_eq!(drain_sack(&mut st, T), vec![]);
}

#[test]
fn sack_blocks_on_a_data_segment_shorten_its_payload() {
    // RFC 6691: the MSS counts data only; options other than the fixed ones come
    // out of the payload, so the packet stays within the MTU.
    let (mut st, id, _, iss) = established_sack(ConnConfig::default(), true);
    st.handle_packet(
        T,
        &seg_from_client(1021, iss + 1, TcpFlags::ACK, &[7; 10], false),
    );
    let _ = drain_sack(&mut st, T);
    st.send(T, id, &[1u8; 3000]).expect("send");
    let mut buf = Vec::new();
    assert!(st.poll_transmit(T, &mut buf));
    let (_, t) = parse_packet(&buf, ChecksumMode::Verify).expect("valid packet");
    assert_eq!(t.options.sack.as_slice(), &[(SeqNum(1021), SeqNum(1031))]);
    assert_eq!(t.payload.len(), 1460 - 12);
}

#[test]
fn syn_ack_window_field_bounds_the_half_open_window() {
    // RFC 7323 2.2 / RFC 9293 3.10.7.4: the SYN,ACK advertises 65535 (unscaled), so
    // RCV.NXT + 65535 lies outside the window: a RST there is dropped unanswered
    // instead of drawing a challenge ACK.
    let mut st = Stack::new_deterministic(StackConfig::default(), 7);
    st.add_address(s_addr(80).ip());
    st.listen(s_addr(80), 4).expect("listen");
    let now = Instant::from_millis(1);
    st.handle_packet(
        now,
        &raw_packet(c_addr(1000), s_addr(80), 1000, 0, TcpFlags::SYN, 65535, &[]),
    );
    let _ = drain(&mut st, now);
    let rst = |seq| raw_packet(c_addr(1000), s_addr(80), seq, 0, TcpFlags::RST, 0, &[]);
    st.handle_packet(T, &rst(1001 + 65535));
    assert_eq!(drain(&mut st, T), vec![]);
    st.handle_packet(T, &rst(1001 + 65534));
    assert_eq!(drain(&mut st, T).len(), 1, "in window: challenged");
}

#[test]
fn freebsd_receive_buffer_knobs_widen_the_acceptable_window() {
    // round_recv_buffer_to_mss: 65536 becomes 45 * 1460 = 65700 on ESTABLISHED;
    // accept_up_to_buffer_space: segments up to that space are acceptable although
    // the unscaled window field says 65535. The FreeBSD profile sets both.
    let cfg = Profile::FreeBsd.conn_config(false);
    assert!(cfg.round_recv_buffer_to_mss && cfg.accept_up_to_buffer_space);
    let (mut st, id, iss) = established(cfg);
    let rst = |seq| raw_packet(c_addr(1000), s_addr(80), seq, 0, TcpFlags::RST, 0, &[]);
    st.handle_packet(T, &rst(1001 + 65700));
    assert_eq!(drain(&mut st, T), vec![]);
    st.handle_packet(T, &rst(1001 + 65699));
    assert_eq!(drain(&mut st, T), vec![(TcpFlags::ACK, iss + 1, 1001)]);
    assert_eq!(st.state(id), Ok(State::Established));
    // Without them the advertised 65535 is the limit.
    let (mut st, _, _) = established(ConnConfig::default());
    st.handle_packet(T, &rst(1001 + 65535));
    assert_eq!(drain(&mut st, T), vec![]);
}

/// Server in CLOSING: it sent its FIN (seq ISS+1), the peer's FIN (seq 1001) crossed
/// it without acknowledging it. Returns what the server sent for the peer's FIN.
fn closing(conn: ConnConfig) -> (Stack, ConnId, u32, Vec<(TcpFlags, u32, u32)>) {
    let (mut st, id, iss) = established(conn);
    st.shutdown(T, id, synack_proto::Shutdown::Write)
        .expect("shutdown");
    assert_eq!(
        drain(&mut st, T),
        vec![(TcpFlags::FIN | TcpFlags::ACK, iss + 1, 1001)]
    );
    st.handle_packet(
        T,
        &raw_packet(
            c_addr(1000),
            s_addr(80),
            1001,
            iss + 1,
            TcpFlags::FIN | TcpFlags::ACK,
            65535,
            &[],
        ),
    );
    assert_eq!(st.state(id), Ok(State::Closing));
    let out = drain(&mut st, T);
    (st, id, iss, out)
}

#[test]
fn closing_acknowledges_the_peer_fin_with_a_plain_ack_by_default() {
    // RFC 9293 3.10.7.4 eighth: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    let (_, _, iss, out) = closing(ConnConfig::default());
    assert_eq!(out, vec![(TcpFlags::ACK, iss + 2, 1002)]);
}

#[test]
fn fin_on_every_ack_resends_the_unacknowledged_fin() {
    // BSD: the ACK of the peer's FIN carries our FIN again, at its own sequence number
    // (the FreeBSD profile's `fin_on_every_ack`).
    let cfg = Profile::FreeBsd.conn_config(false);
    assert!(cfg.fin_on_every_ack);
    let (mut st, id, iss, out) = closing(cfg);
    assert_eq!(out, vec![(TcpFlags::FIN | TcpFlags::ACK, iss + 1, 1002)]);
    // An RFC 5961 challenge ACK stays a plain ACK at SND.NXT.
    let later = Instant::from_millis(300);
    st.handle_packet(
        later,
        &raw_packet(c_addr(1000), s_addr(80), 5000, 0, TcpFlags::SYN, 65535, &[]),
    );
    assert_eq!(drain(&mut st, later), vec![(TcpFlags::ACK, iss + 2, 1002)]);
    assert_eq!(st.state(id), Ok(State::Closing));
}

#[test]
fn a_retransmitted_fin_that_acknowledges_ours_ends_closing() {
    // The peer's FIN again (seq RCV.NXT-1), now acknowledging our FIN: the text is
    // old but the ACK is new; CLOSING moves to TIME_WAIT and re-acknowledges the FIN.
    let (mut st, id, iss, _) = closing(ConnConfig::default());
    let later = Instant::from_millis(300);
    st.handle_packet(
        later,
        &raw_packet(
            c_addr(1000),
            s_addr(80),
            1001,
            iss + 2,
            TcpFlags::FIN | TcpFlags::ACK,
            65535,
            &[],
        ),
    );
    assert_eq!(st.state(id), Ok(State::TimeWait));
    assert_eq!(drain(&mut st, later), vec![(TcpFlags::ACK, iss + 2, 1002)]);
}

#[test]
fn an_old_segment_with_an_old_ack_is_still_dropped() {
    // The same retransmitted FIN without news in its ACK field changes nothing.
    let (mut st, id, iss, _) = closing(ConnConfig::default());
    let later = Instant::from_millis(300);
    st.handle_packet(
        later,
        &raw_packet(
            c_addr(1000),
            s_addr(80),
            1001,
            iss + 1,
            TcpFlags::FIN | TcpFlags::ACK,
            65535,
            &[],
        ),
    );
    assert_eq!(st.state(id), Ok(State::Closing));
    assert_eq!(drain(&mut st, later), vec![(TcpFlags::ACK, iss + 2, 1002)]);
}

#[test]
fn time_wait_answers_acceptable_segments_other_than_the_exact_bare_ack() {
    let (mut st, id, iss, _) = closing(ConnConfig::default());
    let t = Instant::from_millis(300);
    let seg = |seq: u32, flags: TcpFlags| {
        raw_packet(c_addr(1000), s_addr(80), seq, iss + 2, flags, 65535, &[])
    };
    st.handle_packet(t, &seg(1002, TcpFlags::ACK));
    assert_eq!(st.state(id), Ok(State::TimeWait));
    assert_eq!(drain(&mut st, t), vec![]);
    // A bare ACK at exactly RCV.NXT: nothing to say.
    st.handle_packet(t, &seg(1002, TcpFlags::ACK));
    assert_eq!(drain(&mut st, t), vec![]);
    // An in-window ACK elsewhere: acknowledge where we stand.
    st.handle_packet(t, &seg(1003, TcpFlags::ACK));
    assert_eq!(drain(&mut st, t), vec![(TcpFlags::ACK, iss + 2, 1002)]);
    // No ACK bit: RFC 9293 3.10.7.4 fifth drops it silently.
    st.handle_packet(t, &seg(1003, TcpFlags::FIN));
    assert_eq!(drain(&mut st, t), vec![]);
    assert_eq!(st.state(id), Ok(State::TimeWait));
}

#[test]
fn data_after_close_is_reset_at_the_peers_ack() {
    // Linux's "abort on data": the reset has the form of one for no connection,
    // <SEQ=SEG.ACK><CTL=RST>, so it is acceptable to the peer although our FIN
    // (which SND.NXT counts) has not reached it.
    let (mut st, id, iss) = established(ConnConfig::default());
    st.close(T, id).expect("close");
    assert_eq!(
        drain(&mut st, T),
        vec![(TcpFlags::FIN | TcpFlags::ACK, iss + 1, 1001)]
    );
    st.handle_packet(
        T,
        &raw_packet(
            c_addr(1000),
            s_addr(80),
            1001,
            iss + 1,
            TcpFlags::ACK | TcpFlags::PSH,
            65535,
            b"late",
        ),
    );
    assert_eq!(drain(&mut st, T), vec![(TcpFlags::RST, iss + 1, 0)]);
}

#[test]
fn out_of_window_pure_acks_are_answered_at_most_every_500_ms() {
    // Linux `tcp_invalid_ratelimit`: two ends that disagree about the sequence
    // space must not ACK each other's ACKs for ever.
    let (mut st, _, iss) = established(ConnConfig::default());
    let old_ack = |seq: u32| {
        raw_packet(
            c_addr(1000),
            s_addr(80),
            seq,
            iss + 1,
            TcpFlags::ACK,
            65535,
            &[],
        )
    };
    let t0 = Instant::from_millis(1000);
    st.handle_packet(t0, &old_ack(900));
    assert_eq!(drain(&mut st, t0), vec![(TcpFlags::ACK, iss + 1, 1001)]);
    let t1 = Instant::from_millis(1100);
    st.handle_packet(t1, &old_ack(900));
    assert_eq!(drain(&mut st, t1), vec![], "a second one within 500 ms");
    // Data below RCV.NXT is always answered: the peer may need that ACK.
    st.handle_packet(
        t1,
        &raw_packet(
            c_addr(1000),
            s_addr(80),
            990,
            iss + 1,
            TcpFlags::ACK,
            65535,
            b"0123456789",
        ),
    );
    assert_eq!(drain(&mut st, t1), vec![(TcpFlags::ACK, iss + 1, 1001)]);
    let t2 = Instant::from_millis(1500);
    st.handle_packet(t2, &old_ack(900));
    assert_eq!(drain(&mut st, t2), vec![(TcpFlags::ACK, iss + 1, 1001)]);
    let stats = st.stats();
    assert_eq!(
        stats.drops.get(&synack_proto::DropReason::OowAckLimited),
        Some(&1)
    );
}

#[test]
fn more_than_one_full_segment_unacknowledged_is_acked_at_once() {
    // Linux's "more than one full frame received": small segments adding up to
    // more than one full-sized segment are ACKed at once, as two full-sized
    // segments would be; up to one is left to the delayed-ACK timer.
    let cfg = ConnConfig {
        quick_ack_segments: 0,
        timestamps: false,
        ..ConnConfig::default()
    };
    let (mut st, _, iss) = established(cfg);
    let data = |seq: u32, len: usize| {
        raw_packet(
            c_addr(1000),
            s_addr(80),
            seq,
            iss + 1,
            TcpFlags::ACK,
            65535,
            &vec![7u8; len],
        )
    };
    st.handle_packet(T, &data(1001, 1000));
    assert_eq!(drain(&mut st, T), vec![], "1000 bytes: delayed");
    st.handle_packet(T, &data(2001, 1000));
    assert_eq!(drain(&mut st, T), vec![(TcpFlags::ACK, iss + 1, 3001)]);
    // One oversized (coalesced) segment of 2000 bytes: at once as well.
    st.handle_packet(T, &data(3001, 2000));
    assert_eq!(drain(&mut st, T), vec![(TcpFlags::ACK, iss + 1, 5001)]);
}
