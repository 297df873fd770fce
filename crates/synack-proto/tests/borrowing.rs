//! `send_with` and `recv_with` work on the buffers in place and are
//! otherwise `send` and `recv`: the same bytes arrive, the same packets
//! cross, the same errors come back.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use synack_proto::{ConnConfig, ConnId, Error, Instant, Stack, StackConfig};

struct Pair {
    c: Stack,
    s: Stack,
    cid: ConnId,
    sid: ConnId,
    now: Instant,
    wire: Vec<Vec<u8>>,
}

impl Pair {
    fn new() -> Pair {
        let cfg = StackConfig {
            conn: ConnConfig {
                send_buffer: 5000,
                recv_buffer: 7000,
                ..ConnConfig::default()
            },
            ..StackConfig::default()
        };
        let mut c = Stack::new_deterministic(cfg, 1);
        c.add_address("10.0.0.1".parse::<IpAddr>().unwrap());
        let mut s = Stack::new_deterministic(cfg, 2);
        s.add_address("10.0.0.2".parse::<IpAddr>().unwrap());
        let now = Instant::from_millis(1);
        let sa = SocketAddr::new("10.0.0.2".parse().unwrap(), 80);
        let l = s.listen(sa, 4).unwrap();
        let cid = c.connect(now, None, sa).unwrap();
        let mut p = Pair {
            c,
            s,
            cid,
            sid: cid,
            now,
            wire: Vec::new(),
        };
        p.pump();
        p.sid = p.s.accept(l).unwrap();
        p
    }

    fn pump(&mut self) {
        let mut buf = Vec::new();
        loop {
            let mut moved = false;
            while self.c.poll_transmit(self.now, &mut buf) {
                self.wire.push(buf.clone());
                self.s.handle_packet(self.now, &buf);
                moved = true;
            }
            while self.s.poll_transmit(self.now, &mut buf) {
                self.wire.push(buf.clone());
                self.c.handle_packet(self.now, &buf);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }
}

fn byte(i: u64) -> u8 {
    (i * 31 + 7) as u8
}

/// Move `total` bytes with the copying or the borrowing calls; returns
/// what arrived and every packet.
fn transfer(borrow: bool, total: u64) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut p = Pair::new();
    let (mut sent, mut got) = (0u64, Vec::new());
    while (got.len() as u64) < total {
        while sent < total {
            let want = (total - sent).min(3000) as usize;
            let r = if borrow {
                p.c.send_with(p.now, p.cid, |free| {
                    let n = free.len().min(want);
                    for (k, b) in free[..n].iter_mut().enumerate() {
                        *b = byte(sent + k as u64);
                    }
                    (n, n)
                })
            } else {
                let data: Vec<u8> = (0..want as u64).map(|k| byte(sent + k)).collect();
                p.c.send(p.now, p.cid, &data)
            };
            match r {
                Ok(n) => sent += n as u64,
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        p.pump();
        loop {
            let r = if borrow {
                p.s.recv_with(p.now, p.sid, |data| {
                    let n = data.len().min(2500);
                    got.extend_from_slice(&data[..n]);
                    (n, n)
                })
            } else {
                let mut b = [0u8; 2500];
                p.s.recv(p.now, p.sid, &mut b)
                    .inspect(|&n| got.extend_from_slice(&b[..n]))
            };
            match r {
                Ok(0) => panic!("early end of stream"),
                Ok(_) => {}
                Err(Error::WouldBlock) => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
        p.pump();
    }
    // The end of the stream reaches the borrowing reader as the empty slice.
    p.c.close(p.now, p.cid).unwrap();
    p.pump();
    let eof = p.s.recv_with(p.now, p.sid, |data| (0, data.is_empty()));
    assert_eq!(eof, Ok(true));
    (got, p.wire)
}

#[test]
fn borrowing_calls_move_the_same_bytes_in_the_same_packets() {
    let total = 100_000;
    let (copied, copied_wire) = transfer(false, total);
    let (borrowed, borrowed_wire) = transfer(true, total);
    let want: Vec<u8> = (0..total).map(byte).collect();
    assert_eq!(copied, want);
    assert_eq!(borrowed, want);
    assert_eq!(copied_wire, borrowed_wire);
}

#[test]
fn borrowing_calls_report_the_same_errors() {
    let mut p = Pair::new();
    // Nothing to read yet: WouldBlock, and the closure is not called.
    let r =
        p.s.recv_with(p.now, p.sid, |_| -> (usize, ()) { panic!("called") });
    assert_eq!(r, Err(Error::WouldBlock));
    // A full send buffer: WouldBlock, the closure not called.
    let r = p.c.send_with(p.now, p.cid, |free| (free.len(), ()));
    assert_eq!(r, Ok(()));
    let full = p.c.send_with(p.now, p.cid, |free| (free.len(), ()));
    if full.is_ok() {
        // The first call got the run up to the ring's end; the rest now.
        let r =
            p.c.send_with(p.now, p.cid, |_| -> (usize, ()) { panic!("called") });
        assert_eq!(r, Err(Error::WouldBlock));
    }
    assert_eq!(p.c.send_room(p.cid), Ok(0));
    // After close, sending is a broken pipe.
    p.c.shutdown(p.now, p.cid, synack_proto::Shutdown::Write)
        .unwrap();
    let r =
        p.c.send_with(p.now, p.cid, |_| -> (usize, ()) { panic!("called") });
    assert_eq!(r, Err(Error::BrokenPipe));
}
