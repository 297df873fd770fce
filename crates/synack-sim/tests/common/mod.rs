//! Test nodes and hand-made packets for the simulator's tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use synack_proto::event::{ConnId, EventKind, TimerKind};
use synack_proto::{Duration, Event, Instant};
use synack_sim::peek::{self, Flags};
use synack_sim::{LinkFate, TraceEntry, TraceKind};

pub const A: [u8; 4] = [10, 0, 0, 1];
pub const B: [u8; 4] = [10, 0, 0, 2];
pub const C: [u8; 4] = [10, 0, 0, 3];

/// An IPv4 packet with a 20-byte TCP header; checksums left zero.
pub fn tcp4(src: [u8; 4], dst: [u8; 4], seq: u32, flags: Flags, payload: usize) -> Vec<u8> {
    let total = 40 + payload;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&src);
    p[16..20].copy_from_slice(&dst);
    p[20..22].copy_from_slice(&40000u16.to_be_bytes());
    p[22..24].copy_from_slice(&80u16.to_be_bytes());
    p[24..28].copy_from_slice(&seq.to_be_bytes());
    p[32] = 5 << 4;
    p[33] = flags.0;
    for (i, b) in p[40..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

/// An IPv6 packet with a 20-byte TCP header.
pub fn tcp6(src: [u8; 16], dst: [u8; 16], seq: u32, flags: Flags, payload: usize) -> Vec<u8> {
    let plen = 20 + payload;
    let mut p = vec![0u8; 40 + plen];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(plen as u16).to_be_bytes());
    p[6] = 6;
    p[7] = 64;
    p[8..24].copy_from_slice(&src);
    p[24..40].copy_from_slice(&dst);
    p[40..42].copy_from_slice(&40000u16.to_be_bytes());
    p[42..44].copy_from_slice(&80u16.to_be_bytes());
    p[44..48].copy_from_slice(&seq.to_be_bytes());
    p[52] = 5 << 4;
    p[53] = flags.0;
    p
}

/// The sequence number of a hand-made packet.
pub fn seq_of(p: &[u8]) -> Option<u32> {
    peek::tcp(p).map(|t| t.seq)
}

/// A simple node: sends scheduled packets when their time comes, optionally
/// echoes what it receives back to the sender, records what it receives.
/// Emits a `TimerFired` event per timeout and an `EventsLost { count: n }`
/// marker event per received packet (n = packets received so far).
#[derive(Default)]
pub struct TestNode {
    pub received: Vec<(Instant, Vec<u8>)>,
    pub outbox: VecDeque<Vec<u8>>,
    pub schedule: VecDeque<(Instant, Vec<u8>)>,
    pub echo: bool,
    pub events: VecDeque<Event>,
    pub timeouts: Vec<Instant>,
    /// A deadline stuck at zero: a livelocking node.
    pub stuck: bool,
    /// Always has a packet to send: a flooding node.
    pub flood: bool,
}

impl TestNode {
    /// A node sending `n` packets `from` -> `to`, the i-th (from 0) at
    /// `start + i * every`, with sequence number i and the given flags.
    pub fn sender(
        n: u32,
        start: Instant,
        every: Duration,
        from: [u8; 4],
        to: [u8; 4],
        flags: Flags,
        payload: usize,
    ) -> TestNode {
        let mut node = TestNode::default();
        for i in 0..n {
            node.schedule
                .push_back((start + every * i, tcp4(from, to, i, flags, payload)));
        }
        node
    }

    /// A node sending the given packets at the given times.
    pub fn scripted(script: Vec<(Instant, Vec<u8>)>) -> TestNode {
        TestNode {
            schedule: script.into(),
            ..TestNode::default()
        }
    }

    pub fn echo() -> TestNode {
        TestNode {
            echo: true,
            ..TestNode::default()
        }
    }

    pub fn received_seqs(&self) -> Vec<u32> {
        self.received
            .iter()
            .filter_map(|(_, p)| seq_of(p))
            .collect()
    }

    pub fn arrival_times(&self) -> Vec<u64> {
        self.received.iter().map(|(t, _)| t.micros()).collect()
    }
}

impl synack_sim::Node for TestNode {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.received.push((now, packet.to_vec()));
        self.events.push_back(Event {
            at: now,
            kind: EventKind::EventsLost {
                count: self.received.len() as u64,
            },
        });
        if self.echo && packet.len() >= 20 && packet[0] >> 4 == 4 {
            let mut reply = packet.to_vec();
            reply[12..16].copy_from_slice(&packet[16..20]);
            reply[16..20].copy_from_slice(&packet[12..16]);
            self.outbox.push_back(reply);
        }
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut Vec<u8>) -> bool {
        if self.flood {
            buf.clear();
            buf.extend_from_slice(&tcp4(A, B, 0, Flags::ACK, 0));
            return true;
        }
        match self.outbox.pop_front() {
            Some(p) => {
                *buf = p;
                true
            }
            None => false,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.stuck {
            return Some(Instant::ZERO);
        }
        self.schedule.front().map(|(t, _)| *t)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.timeouts.push(now);
        while self.schedule.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, p)) = self.schedule.pop_front() {
                self.outbox.push_back(p);
            }
        }
        self.events.push_back(Event {
            at: now,
            kind: EventKind::TimerFired {
                conn: ConnId {
                    index: 0,
                    generation: 0,
                },
                timer: TimerKind::Retransmit,
            },
        });
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

/// The link entries of a trace, in order.
pub fn link_fates(trace: &[TraceEntry]) -> Vec<(u64, usize, usize, LinkFate)> {
    trace
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Link(l) => Some((e.at.micros(), l.from, l.to, l.fate.clone())),
            TraceKind::Stack(_) => None,
        })
        .collect()
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn at_ms(n: u64) -> Instant {
    Instant::from_millis(n)
}
