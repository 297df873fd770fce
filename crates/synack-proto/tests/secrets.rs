//! The stack's secrets (RFC 6528 ISNs, RFC 4987 SYN cookies): two stacks
//! made for real traffic at the same instant choose different ISNs and
//! cookies for the same 4-tuple; only the explicitly deterministic
//! constructor repeats them; a rotated cookie key still accepts the cookies
//! made just before the rotation, and the key before that no longer does.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use synack_proto::wire::{
    emit_packet, parse_packet, ChecksumMode, IpRepr, SeqNum, TcpFlags, TcpOptions, TcpRepr,
};
use synack_proto::{Instant, SecretKey, Stack, StackConfig, State, SynCookies};

const US: &str = "10.0.0.2";
const PEER: &str = "10.0.0.1";

fn us() -> SocketAddr {
    SocketAddr::new(US.parse().unwrap(), 80)
}

fn peer() -> SocketAddr {
    SocketAddr::new(PEER.parse().unwrap(), 40000)
}

/// The sequence number of the first segment `stack` sends.
fn first_seq(stack: &mut Stack, now: Instant) -> (TcpFlags, SeqNum) {
    let mut buf = Vec::new();
    assert!(stack.poll_transmit(now, &mut buf), "nothing sent");
    let (_, tcp) = parse_packet(&buf, ChecksumMode::Verify).unwrap();
    (tcp.flags, tcp.seq)
}

/// Our ISN for an active open from `us:40000` to `peer:80` at time zero.
fn isn_of(mut stack: Stack) -> SeqNum {
    stack.add_address(US.parse().unwrap());
    let local = SocketAddr::new(US.parse().unwrap(), 40000);
    let remote = SocketAddr::new(PEER.parse().unwrap(), 80);
    stack.connect(Instant::ZERO, Some(local), remote).unwrap();
    let (flags, seq) = first_seq(&mut stack, Instant::ZERO);
    assert_eq!(flags, TcpFlags::SYN);
    seq
}

fn segment(seq: u32, ack: u32, flags: TcpFlags) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: peer().port(),
        dst_port: us().port(),
        seq: SeqNum(seq),
        ack: SeqNum(ack),
        flags,
        window: 65535,
        urgent: 0,
        options: TcpOptions {
            mss: flags.syn().then_some(1460),
            ..TcpOptions::default()
        },
        payload: &[],
    };
    let ip = IpRepr::new(peer().ip(), us().ip()).unwrap();
    let mut buf = Vec::new();
    emit_packet(&ip, &tcp, &mut buf);
    buf
}

fn cookie_stack(stack: Stack) -> Stack {
    let mut stack = stack;
    stack.add_address(US.parse().unwrap());
    stack.listen(us(), 8).unwrap();
    stack
}

fn cookie_cfg() -> StackConfig {
    StackConfig {
        syn_cookies: SynCookies::Always,
        ..StackConfig::default()
    }
}

/// The cookie (the SYN,ACK's ISN) `stack` answers a SYN with ISN 1000.
fn cookie_of(stack: &mut Stack, now: Instant) -> SeqNum {
    stack.handle_packet(now, &segment(1000, 0, TcpFlags::SYN));
    let (flags, seq) = first_seq(stack, now);
    assert_eq!(flags, TcpFlags::SYN | TcpFlags::ACK);
    seq
}

/// Whether the ACK of `cookie` opens a connection.
fn cookie_accepted(stack: &mut Stack, now: Instant, cookie: SeqNum) -> bool {
    stack.handle_packet(
        now,
        &segment(1001, cookie.get().wrapping_add(1), TcpFlags::ACK),
    );
    stack
        .connections()
        .iter()
        .any(|(_, c)| c.state == State::Established)
}

#[test]
fn two_stacks_started_together_choose_different_isns() {
    let a = isn_of(Stack::new(StackConfig::default()).unwrap());
    let b = isn_of(Stack::new(StackConfig::default()).unwrap());
    assert_ne!(
        a, b,
        "ISNs of two OS-keyed stacks for the same tuple and time"
    );
}

#[test]
fn only_the_deterministic_constructor_repeats_isns() {
    let cfg = StackConfig::default;
    assert_eq!(
        isn_of(Stack::new_deterministic(cfg(), 42)),
        isn_of(Stack::new_deterministic(cfg(), 42))
    );
    assert_ne!(
        isn_of(Stack::new_deterministic(cfg(), 42)),
        isn_of(Stack::new_deterministic(cfg(), 43))
    );
}

#[test]
fn two_stacks_started_together_make_different_cookies() {
    let now = Instant::from_micros(5_000_000);
    let mut a = cookie_stack(Stack::new(cookie_cfg()).unwrap());
    let mut b = cookie_stack(Stack::new(cookie_cfg()).unwrap());
    let ca = cookie_of(&mut a, now);
    let cb = cookie_of(&mut b, now);
    assert_ne!(ca, cb);
    // Each stack accepts its own cookie and not the other's.
    assert!(!cookie_accepted(&mut a, now, cb));
    assert!(cookie_accepted(&mut a, now, ca));
    let mut d1 = cookie_stack(Stack::new_deterministic(cookie_cfg(), 9));
    let mut d2 = cookie_stack(Stack::new_deterministic(cookie_cfg(), 9));
    assert_eq!(cookie_of(&mut d1, now), cookie_of(&mut d2, now));
}

#[test]
fn rotated_cookie_key_keeps_the_previous_one_only() {
    let now = Instant::from_micros(5_000_000);
    let mut s = cookie_stack(Stack::new_deterministic(cookie_cfg(), 1));
    let before = cookie_of(&mut s, now);
    s.rotate_cookie_secret(SecretKey::from_bytes([7; 16]));
    let after = cookie_of(&mut s, now);
    assert_ne!(before, after, "the new key makes new cookies");
    // A handshake in flight across one rotation completes.
    assert!(cookie_accepted(&mut s, now, before));

    let mut s = cookie_stack(Stack::new_deterministic(cookie_cfg(), 1));
    let before = cookie_of(&mut s, now);
    s.rotate_cookie_secret(SecretKey::from_bytes([7; 16]));
    s.rotate_cookie_secret(SecretKey::from_bytes([8; 16]));
    // Two rotations later the first key is gone: the ACK is refused (RST).
    assert!(!cookie_accepted(&mut s, now, before));
    let (flags, _) = first_seq(&mut s, now);
    assert_eq!(flags, TcpFlags::RST);
}

#[test]
fn rotated_isn_key_changes_new_isns_only() {
    let mut s = Stack::new_deterministic(StackConfig::default(), 42);
    s.add_address(US.parse().unwrap());
    let remote = SocketAddr::new(PEER.parse().unwrap(), 80);
    let open = s
        .connect(
            Instant::ZERO,
            Some(SocketAddr::new(US.parse().unwrap(), 40000)),
            remote,
        )
        .unwrap();
    let (_, old) = first_seq(&mut s, Instant::ZERO);
    s.rotate_isn_secret(SecretKey::from_bytes([3; 16]));
    // The open connection keeps its sequence space.
    let st = s
        .connections()
        .into_iter()
        .find(|(id, _)| *id == Some(open))
        .unwrap()
        .1;
    assert_eq!(st.iss, old);
    // The same tuple would now get another ISN.
    assert_ne!(
        isn_of(Stack::new_deterministic(StackConfig::default(), 42)),
        {
            let mut t = Stack::new_deterministic(StackConfig::default(), 42);
            t.rotate_isn_secret(SecretKey::from_bytes([3; 16]));
            isn_of(t)
        }
    );
}
