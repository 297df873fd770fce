//! Header prediction is observably the full path: two worlds, one with
//! `StackConfig::fast_path` on and one with it off, get the same random
//! traffic (sends, reads, losses, duplicates, reordering, corrupted bytes,
//! timers, closes) and must emit the same packets byte for byte, record the
//! same events and end in the same states with the same counters.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use std::net::{IpAddr, SocketAddr};
use synack_proto::{ConnConfig, ConnId, Duration, Instant, Stack, StackConfig};

const C_IP: &str = "10.0.0.1";
const S_IP: &str = "10.0.0.2";

/// One step of the traffic.
#[derive(Debug, Clone)]
enum Step {
    /// The application of side `.0` writes `.1` bytes.
    Send(usize, usize),
    /// The application of side `.0` reads up to `.1` bytes.
    Recv(usize, usize),
    /// The packet at this position (modulo the queue) is delivered.
    Deliver(usize),
    /// The oldest packets, up to this many, are delivered in order.
    Flush(usize),
    /// The packet at this position is lost.
    Lose(usize),
    /// The packet at this position is delivered and stays queued (a duplicate).
    Duplicate(usize),
    /// The packet at this position gets one byte changed.
    Corrupt(usize, usize, u8),
    /// The clock moves on by this many milliseconds and timers fire.
    Wait(u64),
    /// Side `.0` closes.
    Close(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..2usize, 1..6000usize).prop_map(|(s, n)| Step::Send(s, n)),
        4 => (0..2usize, 1..8000usize).prop_map(|(s, n)| Step::Recv(s, n)),
        3 => any::<usize>().prop_map(Step::Deliver),
        8 => (1..40usize).prop_map(Step::Flush),
        1 => any::<usize>().prop_map(Step::Lose),
        1 => any::<usize>().prop_map(Step::Duplicate),
        1 => (any::<usize>(), any::<usize>(), 1..=255u8).prop_map(|(p, b, x)| Step::Corrupt(p, b, x)),
        2 => (1..400u64).prop_map(Step::Wait),
        1 => (0..2usize).prop_map(Step::Close),
    ]
}

/// Two stacks, the packets between them, and everything observable.
struct World {
    hosts: [Stack; 2],
    conns: [Option<ConnId>; 2],
    queue: Vec<(usize, Vec<u8>)>,
    now: Instant,
    log: Vec<String>,
    written: [u64; 2],
}

impl World {
    fn new(fast_path: bool, buffer: usize, sack: bool, ts: bool) -> World {
        let cfg = StackConfig {
            fast_path,
            conn: ConnConfig {
                send_buffer: buffer,
                recv_buffer: buffer,
                sack,
                timestamps: ts,
                ..ConnConfig::default()
            },
            ..StackConfig::default()
        };
        let mut c = Stack::new_deterministic(cfg, 1);
        c.add_address(C_IP.parse::<IpAddr>().unwrap());
        let mut s = Stack::new_deterministic(cfg, 2);
        s.add_address(S_IP.parse::<IpAddr>().unwrap());
        let now = Instant::from_millis(1);
        let server = SocketAddr::new(S_IP.parse().unwrap(), 80);
        let l = s.listen(server, 8).unwrap();
        let cid = c.connect(now, None, server).unwrap();
        let mut w = World {
            hosts: [c, s],
            conns: [Some(cid), None],
            queue: Vec::new(),
            now,
            log: Vec::new(),
            written: [0; 2],
        };
        w.collect();
        for _ in 0..4 {
            w.flush(usize::MAX);
        }
        w.conns[1] = w.hosts[1].accept(l).ok();
        w.log.push(format!("accepted {:?}", w.conns[1]));
        w
    }

    /// Every packet and event both stacks have to give.
    fn collect(&mut self) {
        let mut buf = Vec::new();
        for (h, host) in self.hosts.iter_mut().enumerate() {
            while host.poll_transmit(self.now, &mut buf) {
                self.log.push(format!("{h} sends {buf:02x?}"));
                self.queue.push((1 - h, buf.clone()));
            }
            while let Some(e) = host.poll_event() {
                self.log.push(format!("{h} {e:?}"));
            }
        }
    }

    fn deliver(&mut self, at: usize, keep: bool) {
        if self.queue.is_empty() {
            return;
        }
        let at = at % self.queue.len();
        let (to, pkt) = if keep {
            self.queue[at].clone()
        } else {
            self.queue.remove(at)
        };
        self.hosts[to].handle_packet(self.now, &pkt);
        self.collect();
    }

    fn flush(&mut self, n: usize) {
        for _ in 0..n {
            if self.queue.is_empty() {
                return;
            }
            self.deliver(0, false);
        }
    }

    fn run(&mut self, s: &Step) {
        match *s {
            Step::Send(h, n) => {
                if let Some(c) = self.conns[h] {
                    let data: Vec<u8> = (0..n as u64)
                        .map(|i| ((self.written[h] + i) * 7 + h as u64) as u8)
                        .collect();
                    let r = self.hosts[h].send(self.now, c, &data);
                    if let Ok(k) = r {
                        self.written[h] += k as u64;
                    }
                    self.log.push(format!("{h} send {n}: {r:?}"));
                }
            }
            Step::Recv(h, n) => {
                if let Some(c) = self.conns[h] {
                    let mut b = vec![0u8; n];
                    let r = self.hosts[h].recv(self.now, c, &mut b);
                    let got = r.as_ref().map_or(&[][..], |&k| &b[..k]);
                    self.log.push(format!("{h} recv {n}: {r:?} {got:02x?}"));
                }
            }
            Step::Deliver(p) => self.deliver(p, false),
            Step::Flush(n) => self.flush(n),
            Step::Lose(p) => {
                if !self.queue.is_empty() {
                    let p = p % self.queue.len();
                    self.queue.remove(p);
                }
            }
            Step::Duplicate(p) => self.deliver(p, true),
            Step::Corrupt(p, b, x) => {
                if !self.queue.is_empty() {
                    let p = p % self.queue.len();
                    let pkt = &mut self.queue[p].1;
                    let b = b % pkt.len();
                    pkt[b] ^= x;
                }
            }
            Step::Wait(ms) => {
                self.now += Duration::from_millis(ms);
                for h in &mut self.hosts {
                    h.handle_timeout(self.now);
                }
            }
            Step::Close(h) => {
                if let Some(c) = self.conns[h] {
                    let r = self.hosts[h].close(self.now, c);
                    self.log.push(format!("{h} close: {r:?}"));
                    self.conns[h] = None;
                }
            }
        }
        self.collect();
        for (h, c) in self.conns.iter().enumerate() {
            if let Some(c) = c {
                self.log
                    .push(format!("{h} status {:?}", self.hosts[h].status(*c)));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn fast_path_is_the_full_path(
        steps in proptest::collection::vec(step(), 1..120),
        buffer in prop_oneof![Just(2048usize), Just(8192), Just(65536)],
        sack in any::<bool>(),
        ts in any::<bool>(),
    ) {
        let mut fast = World::new(true, buffer, sack, ts);
        let mut full = World::new(false, buffer, sack, ts);
        for s in &steps {
            fast.run(s);
            full.run(s);
        }
        for h in 0..2 {
            let (mut a, b) = (fast.hosts[h].stats(), full.hosts[h].stats());
            prop_assert_eq!(b.predicted, 0);
            a.predicted = 0;
            prop_assert_eq!(a, b);
        }
        prop_assert_eq!(fast.log.len(), full.log.len());
        for (i, (a, b)) in fast.log.iter().zip(&full.log).enumerate() {
            prop_assert_eq!(a, b, "first difference at log line {}", i);
        }
    }
}

/// The comparison above is not vacuous: in-order data and ACKs take the
/// fast path (counted), a corrupted segment that would have taken it is
/// still dropped by its checksum, and the bytes arrive.
#[test]
fn in_order_data_takes_the_fast_path_and_corruption_is_still_dropped() {
    let mut w = World::new(true, 65536, true, true);
    // The first data sizes the receive buffer (full path); the rest is predicted.
    for _ in 0..3 {
        w.run(&Step::Send(0, 3000));
        w.run(&Step::Flush(100));
        w.run(&Step::Recv(1, 8000));
    }
    let st = w.hosts[1].stats();
    assert!(st.predicted >= 3, "{st:?}");
    assert!(
        w.hosts[0].stats().predicted >= 1,
        "ACKs of new data are predicted"
    );
    // A corrupted in-order segment: dropped and counted, not taken.
    w.run(&Step::Send(0, 1000));
    assert_eq!(w.queue.len(), 1);
    let last = w.queue[0].1.len() - 1;
    w.queue[0].1[last] ^= 0x40;
    w.run(&Step::Deliver(0));
    let after = w.hosts[1].stats();
    assert_eq!(
        after.predicted, st.predicted,
        "a corrupted segment is not taken"
    );
    let bad = synack_proto::DropReason::Malformed(synack_proto::wire::WireError::BadTcpChecksum);
    assert_eq!(after.drops.get(&bad), Some(&1));
    // The retransmission arrives intact, in order, predicted.
    w.run(&Step::Wait(1000));
    w.run(&Step::Flush(100));
    w.run(&Step::Recv(1, 8000));
    assert!(w.log.iter().any(|l| l.starts_with("1 recv 8000: Ok(1000)")));
    assert_eq!(w.hosts[1].stats().predicted, st.predicted + 1);
}
