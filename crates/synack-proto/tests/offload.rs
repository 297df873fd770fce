//! Segmentation offload: bursts cut by the device are the segments the
//! stack would have sent one by one, and a receiver takes the device's
//! super-segments (GRO) as single segments. Two deterministic stacks talk
//! over a lossless link on a virtual clock, once without offloads and once
//! with them, and the segments on the wire are compared byte for byte.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use synack_proto::wire::gso;
use synack_proto::{
    ConnId, DeviceCaps, Duration, Instant, Shutdown, Stack, StackConfig, Transmitter,
};

/// One end: a stack and its transmitter.
struct End {
    stack: Stack,
    tx: Transmitter,
}

/// Everything put on the link, each packet as the device sent it: cut into
/// segments (the device does TSO) or whole (GRO on the far side).
#[derive(Default)]
struct Wire {
    /// Segments on the wire, with the IPv4 identification and header
    /// checksum zeroed (the fields cutting may set differently).
    segments: Vec<Vec<u8>>,
    /// Packets the devices were handed (bursts count once).
    packets: usize,
}

fn normalized(seg: &[u8]) -> Vec<u8> {
    let mut s = seg.to_vec();
    if s[0] >> 4 == 4 {
        s[4..6].fill(0);
        s[10..12].fill(0);
    }
    s
}

fn end(addr: IpAddr, seed: u64, caps: DeviceCaps) -> End {
    let mut stack = Stack::new_deterministic(StackConfig::default(), seed);
    stack.add_address(addr);
    End {
        stack,
        tx: Transmitter::new(caps),
    }
}

/// Move every packet `from` has to `to`: cut at the segment size when
/// `gro` is off, whole when it is on. Returns whether anything moved.
fn flush(from: &mut End, to: &mut End, now: Instant, gro: bool, wire: &mut Wire) -> bool {
    let mut buf = Vec::new();
    let mut moved = false;
    let mut bursts = Vec::new();
    while let Some(b) = from.tx.poll(&mut from.stack, now, &mut buf, |_| {}) {
        bursts.push((buf.clone(), b));
    }
    for (pkt, b) in bursts {
        moved = true;
        wire.packets += 1;
        if b.segments > 1 {
            // The partial checksum finishes into the right one.
            let mut whole = pkt.clone();
            gso::complete_checksum(&mut whole).unwrap();
            assert!(synack_proto::wire::parse_packet(
                &whole,
                synack_proto::wire::ChecksumMode::Verify
            )
            .is_ok());
        }
        let n = gso::segment(&pkt, usize::from(b.segment_size.max(1)), |s| {
            wire.segments.push(normalized(s));
            if !gro {
                to.stack.handle_packet(now, s);
            }
        })
        .unwrap();
        assert_eq!(n, usize::from(b.segments));
        if gro {
            to.stack
                .handle_packet_checked(now, &pkt, b.checksum_partial);
        }
    }
    moved
}

/// `size` bytes from a client at `a` to a server at `b`, then both close;
/// what went over the wire and the bytes the server read.
fn transfer(a: IpAddr, b: IpAddr, size: usize, caps: DeviceCaps, gro: bool) -> (Wire, Vec<u8>) {
    let mut client = end(a, 1, caps);
    let mut server = end(b, 2, caps);
    let mut now = Instant::ZERO;
    let l = server.stack.listen(SocketAddr::new(b, 5001), 8).unwrap();
    let c: ConnId = client
        .stack
        .connect(now, None, SocketAddr::new(b, 5001))
        .unwrap();
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut srv: Option<ConnId> = None;
    let mut wire = Wire::default();
    let mut buf = vec![0u8; 1 << 16];
    for _ in 0..20_000 {
        if sent < size {
            sent += client.stack.send(now, c, &data[sent..]).unwrap_or(0);
            if sent == size {
                client.stack.shutdown(now, c, Shutdown::Write).unwrap();
            }
        }
        let mut moved = flush(&mut client, &mut server, now, gro, &mut wire);
        if srv.is_none() {
            srv = server.stack.accept(l).ok();
        }
        if let Some(s) = srv {
            while let Ok(n) = server.stack.recv(now, s, &mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            if got.len() == size {
                let _ = server.stack.shutdown(now, s, Shutdown::Write);
            }
        }
        moved |= flush(&mut server, &mut client, now, gro, &mut wire);
        if !moved {
            let next = [client.stack.poll_timeout(), server.stack.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= now + Duration::from_secs(5) => {
                    now = t.max(now);
                    client.stack.handle_timeout(now);
                    server.stack.handle_timeout(now);
                }
                _ => break,
            }
        }
        now += Duration::from_micros(100);
    }
    (wire, got)
}

const V4: (&str, &str) = ("10.0.0.1", "10.0.0.2");
const V6: (&str, &str) = ("fd00::1", "fd00::2");

fn both_ways(addrs: (&str, &str)) {
    let (a, b) = (addrs.0.parse().unwrap(), addrs.1.parse().unwrap());
    let size = 1 << 20;
    let (plain, got_plain) = transfer(a, b, size, DeviceCaps::NONE, false);
    let (tso, got_tso) = transfer(a, b, size, DeviceCaps::TSO, false);
    assert_eq!(got_plain.len(), size);
    assert_eq!(got_plain, got_tso);
    // The device sent far fewer packets, and after cutting every segment is
    // the one the stack sends without offloads.
    assert_eq!(plain.packets, plain.segments.len());
    assert!(
        tso.packets * 4 < tso.segments.len(),
        "{} packets for {} segments",
        tso.packets,
        tso.segments.len()
    );
    assert_eq!(plain.segments.len(), tso.segments.len());
    for (i, (p, t)) in plain.segments.iter().zip(&tso.segments).enumerate() {
        assert_eq!(p, t, "segment {i} differs");
    }
}

#[test]
fn tso_bursts_cut_into_the_segments_sent_without_offload_ipv4() {
    both_ways(V4);
}

#[test]
fn tso_bursts_cut_into_the_segments_sent_without_offload_ipv6() {
    both_ways(V6);
}

#[test]
fn a_receiver_takes_super_segments_as_one_segment_each() {
    let (a, b) = (V4.0.parse().unwrap(), V4.1.parse().unwrap());
    let size = 1 << 20;
    let (wire, got) = transfer(a, b, size, DeviceCaps::TSO, true);
    let want: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(got, want);
    assert!(wire.packets * 4 < wire.segments.len());
}

#[test]
fn bursts_never_exceed_the_segment_limit() {
    let (a, b) = (V4.0.parse().unwrap(), V4.1.parse().unwrap());
    let caps = DeviceCaps {
        max_burst_segments: 3,
        tx_checksum: true,
    };
    let mut client = end(a, 1, caps);
    let mut server = end(b, 2, DeviceCaps::NONE);
    let now = Instant::ZERO;
    server.stack.listen(SocketAddr::new(b, 9), 1).unwrap();
    let c = client
        .stack
        .connect(now, None, SocketAddr::new(b, 9))
        .unwrap();
    let mut wire = Wire::default();
    flush(&mut client, &mut server, now, false, &mut wire);
    flush(&mut server, &mut client, now, false, &mut wire);
    flush(&mut client, &mut server, now, false, &mut wire);
    client.stack.send(now, c, &[1u8; 14_600]).unwrap();
    let mut buf = Vec::new();
    let mut sizes = Vec::new();
    while let Some(b) = client.tx.poll(&mut client.stack, now, &mut buf, |_| {}) {
        sizes.push(b.segments);
    }
    // The initial window is ten segments: 3 + 3 + 3 + 1.
    assert_eq!(sizes, vec![3, 3, 3, 1]);
}
