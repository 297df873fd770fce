//! Regression tests for core behaviour found by running packetdrill scripts
//! written for other stacks (the synack-drill runner).

mod util;

use synack_proto::wire::{parse_packet, ChecksumMode, TcpFlags};
use synack_proto::{ConnConfig, ConnError, ConnId, Instant, Stack, StackConfig, State};
use util::{c_addr, raw_packet, s_addr};

/// A server stack with one accepted ESTABLISHED connection from C:1000
/// (peer ISN 1000). Returns the stack, the connection and its ISS.
fn established(conn: ConnConfig) -> (Stack, ConnId, u32) {
    let mut st = Stack::new(
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
    let mut st = Stack::new(StackConfig::default(), 7);
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
