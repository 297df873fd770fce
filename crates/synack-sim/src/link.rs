//! One direction of a link: its configuration, its statistics, and the
//! model that decides when (and whether) each packet arrives.

use crate::peek;
use crate::rng::Rng;
use crate::trace::{DropCause, LinkFate};
use std::collections::VecDeque;
use synack_proto::{Duration, Instant};

/// The behaviour of one direction of a link.
///
/// The defaults make an ideal link: no delay, infinite bandwidth, no queue
/// limit, an MTU of 1500 bytes and no random faults. Build others with the
/// `with_*` methods:
///
/// ```
/// use synack_sim::LinkConfig;
/// use synack_proto::Duration;
/// let wan = LinkConfig::default()
///     .with_delay(Duration::from_millis(40))
///     .with_bandwidth(10_000_000)
///     .with_queue_limit(64)
///     .with_loss(0.01);
/// assert_eq!(wan.bandwidth, 10_000_000);
/// ```
///
/// A packet accepted by the link leaves the transmitter when it has been
/// serialized (`bytes * 8 / bandwidth` after the previous packet left, in
/// FIFO order) and arrives `delay` (+ random jitter, + the reordering delay
/// when it is picked for reordering, + any delay of a fault rule) later.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` for every packet.
    /// Jitter can reorder packets; keep it zero for a FIFO link.
    pub jitter: Duration,
    /// Bandwidth in bits per second; 0 means infinite (no serialization
    /// delay and no queueing).
    pub bandwidth: u64,
    /// The most packets waiting for or in serialization; a packet that finds
    /// the queue full is dropped with [`DropCause::QueueFull`]. `None` means
    /// unbounded. Meaningless with infinite bandwidth (nothing ever waits).
    pub queue_limit: Option<usize>,
    /// Largest IP packet carried, in bytes; larger ones are dropped with
    /// [`DropCause::TooBig`].
    pub mtu: usize,
    /// Probability that a packet is lost ([`DropCause::Loss`]).
    pub loss: f64,
    /// Probability that a packet is delivered twice.
    pub duplicate: f64,
    /// Probability that a packet is held back by `reorder_delay` so that
    /// packets sent after it can overtake it.
    pub reorder: f64,
    /// The extra delay of a reordered packet.
    pub reorder_delay: Duration,
    /// Probability that the delivered copy has one to `corrupt_max_bytes` bytes
    /// flipped, always so that the IP or TCP checksum detects it.
    pub corrupt: f64,
    /// The most bytes one corruption changes (default 3). With 1 every corruption is
    /// caught by the Internet checksum; with more, two changes can cancel in the
    /// one's-complement sum and a corrupted segment is accepted, as on real links.
    pub corrupt_max_bytes: u8,
    /// ECN marking threshold (RFC 3168 5): an ECT packet that finds at least
    /// this many packets queued is delivered with Congestion Experienced
    /// instead of waiting for the queue to overflow (step marking, as a
    /// DCTCP-style or RED-in-instantaneous-mode queue does). Not-ECT packets
    /// are unaffected. `None` (the default) never marks. Meaningless with
    /// infinite bandwidth (nothing ever waits).
    pub ecn_mark_threshold: Option<usize>,
    /// Answer a packet dropped for exceeding the MTU with the ICMP error a
    /// router sends (RFC 1191: IPv4 "fragmentation needed" with the next-hop
    /// MTU; RFC 8201: ICMPv6 Packet Too Big), from the far end's address, back
    /// to the sender after the link's delay. Off by default: a silent drop is
    /// an ICMP black hole.
    pub too_big_icmp: bool,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            bandwidth: 0,
            queue_limit: None,
            mtu: 1500,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(10),
            corrupt: 0.0,
            corrupt_max_bytes: 3,
            ecn_mark_threshold: None,
            too_big_icmp: false,
        }
    }
}

impl LinkConfig {
    /// An ideal link with the given one-way delay.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
    /// Set the jitter.
    pub fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }
    /// Set the bandwidth in bit/s (0 = infinite).
    pub fn with_bandwidth(mut self, bits_per_second: u64) -> Self {
        self.bandwidth = bits_per_second;
        self
    }
    /// Bound the queue to `packets`.
    pub fn with_queue_limit(mut self, packets: usize) -> Self {
        self.queue_limit = Some(packets);
        self
    }
    /// Set the MTU in bytes.
    pub fn with_mtu(mut self, mtu: usize) -> Self {
        self.mtu = mtu;
        self
    }
    /// Set the loss probability.
    pub fn with_loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }
    /// Set the duplication probability.
    pub fn with_duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }
    /// Set the reordering probability and the extra delay of a reordered packet.
    pub fn with_reorder(mut self, p: f64, extra: Duration) -> Self {
        self.reorder = p;
        self.reorder_delay = extra;
        self
    }
    /// Set the most bytes one corruption changes (at least 1).
    pub fn with_corrupt_max_bytes(mut self, n: u8) -> Self {
        self.corrupt_max_bytes = n.max(1);
        self
    }

    /// Set the corruption probability.
    pub fn with_corrupt(mut self, p: f64) -> Self {
        self.corrupt = p;
        self
    }

    /// Serialization time of `bytes` at this link's bandwidth, rounded up to
    /// the microsecond; zero at infinite bandwidth.
    pub fn serialization(&self, bytes: usize) -> Duration {
        if self.bandwidth == 0 {
            return Duration::ZERO;
        }
        let bits = (bytes as u128) * 8 * 1_000_000;
        let bw = u128::from(self.bandwidth);
        let micros = bits.div_ceil(bw);
        Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }
}

/// Counters of one direction of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Packets offered to the link by the sender.
    pub sent_packets: u64,
    /// Bytes offered to the link by the sender.
    pub sent_bytes: u64,
    /// Copies handed to the receiver (duplicates count twice).
    pub delivered_packets: u64,
    /// Bytes handed to the receiver.
    pub delivered_bytes: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
    /// Packets whose delivered copy was corrupted.
    pub corrupted: u64,
    /// Packets held back for reordering.
    pub reordered: u64,
    /// Packets delayed by a fault rule.
    pub delayed_by_rule: u64,
    /// Packets dropped by random loss.
    pub dropped_loss: u64,
    /// Packets dropped by a fault rule.
    pub dropped_rule: u64,
    /// Packets dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Packets dropped because they exceeded the MTU.
    pub dropped_too_big: u64,
    /// ECT packets delivered with Congestion Experienced set (by the marking
    /// threshold or a fault rule).
    pub ce_marked: u64,
}

impl LinkStats {
    /// All drops, whatever the cause.
    pub fn dropped(&self) -> u64 {
        self.dropped_loss + self.dropped_rule + self.dropped_queue_full + self.dropped_too_big
    }
}

/// What a fault rule decided for a packet, before the link sees it.
#[derive(Debug, Clone)]
pub(crate) enum RuleVerdict {
    Pass,
    Drop(String),
    Delay(Duration),
    /// Mark CE (the packet is ECT: the simulator checked before firing).
    MarkCe,
}

/// What the link did with a packet: the fate for the trace and the copies
/// to deliver.
pub(crate) struct Outcome {
    pub(crate) fate: LinkFate,
    pub(crate) copies: Vec<(Instant, Vec<u8>)>,
}

/// One direction of a link with its state.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) config: LinkConfig,
    pub(crate) stats: LinkStats,
    rng: Rng,
    /// Serialization completion times of accepted packets, non-decreasing.
    queue: VecDeque<Instant>,
}

impl Link {
    pub(crate) fn new(config: LinkConfig, rng: Rng) -> Link {
        Link {
            config,
            stats: LinkStats::default(),
            rng,
            queue: VecDeque::new(),
        }
    }

    fn drop(&mut self, cause: DropCause) -> Outcome {
        match cause {
            DropCause::Loss => self.stats.dropped_loss += 1,
            DropCause::Rule(_) => self.stats.dropped_rule += 1,
            DropCause::QueueFull => self.stats.dropped_queue_full += 1,
            DropCause::TooBig => self.stats.dropped_too_big += 1,
            DropCause::NoRoute => {}
        }
        Outcome {
            fate: LinkFate::Dropped(cause),
            copies: Vec::new(),
        }
    }

    /// Offer `packet` at `now`. The order of decisions is: fault rule, MTU,
    /// queue limit, serialization, random loss, then jitter, reordering,
    /// corruption and duplication of what is delivered.
    pub(crate) fn offer(&mut self, now: Instant, packet: &[u8], rule: RuleVerdict) -> Outcome {
        self.stats.sent_packets += 1;
        self.stats.sent_bytes += packet.len() as u64;
        let mut mark = false;
        let rule_delay = match rule {
            RuleVerdict::Drop(description) => return self.drop(DropCause::Rule(description)),
            RuleVerdict::Delay(d) => {
                self.stats.delayed_by_rule += 1;
                d
            }
            RuleVerdict::MarkCe => {
                // The simulator passes not-ECT packets by before a CE rule
                // fires (RFC 3168 5 marks only ECT packets); `mark_ce` below
                // leaves any other unreadable packet alone.
                mark = true;
                Duration::ZERO
            }
            RuleVerdict::Pass => Duration::ZERO,
        };
        if packet.len() > self.config.mtu {
            return self.drop(DropCause::TooBig);
        }
        while self.queue.front().is_some_and(|&done| done <= now) {
            self.queue.pop_front();
        }
        if self
            .config
            .queue_limit
            .is_some_and(|limit| self.queue.len() >= limit)
        {
            return self.drop(DropCause::QueueFull);
        }
        // RFC 3168 5: a queue past its marking threshold sets CE on ECT packets.
        if self
            .config
            .ecn_mark_threshold
            .is_some_and(|k| self.queue.len() >= k)
            && peek::is_ect(packet)
        {
            mark = true;
        }
        let serialization = self.config.serialization(packet.len());
        let sent = if serialization.is_zero() {
            now
        } else {
            let start = self.queue.back().map_or(now, |&b| b.max(now));
            let done = start + serialization;
            self.queue.push_back(done);
            done
        };
        if self.rng.chance(self.config.loss) {
            return self.drop(DropCause::Loss);
        }
        let mut at = sent + self.config.delay + rule_delay + self.jitter();
        if self.rng.chance(self.config.reorder) {
            self.stats.reordered += 1;
            at += self.config.reorder_delay;
        }
        let mut copy = packet.to_vec();
        if mark && peek::mark_ce(&mut copy) {
            self.stats.ce_marked += 1;
        } else {
            mark = false;
        }
        let corrupted = !copy.is_empty() && self.rng.chance(self.config.corrupt);
        if corrupted {
            self.stats.corrupted += 1;
            self.corrupt_detectably(&mut copy);
        }
        if self.rng.chance(self.config.duplicate) {
            self.stats.duplicated += 1;
            let again = at + self.jitter();
            return Outcome {
                fate: LinkFate::Duplicated { at, again },
                copies: vec![(at, copy.clone()), (again, copy)],
            };
        }
        let fate = if corrupted {
            LinkFate::Corrupted { at }
        } else if mark {
            LinkFate::Marked { at }
        } else {
            LinkFate::Delivered { at }
        };
        Outcome {
            fate,
            copies: vec![(at, copy)],
        }
    }

    fn jitter(&mut self) -> Duration {
        let max = u64::try_from(self.config.jitter.as_micros()).unwrap_or(u64::MAX);
        if max == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(self.rng.up_to(max))
    }

    /// Corrupt a copy so the receiver's checksums can tell: a TCP packet
    /// whose flips cancel out in the 16-bit ones' complement sums (RFC 1071;
    /// flipping +d in one word and -d in another) would reach the
    /// application as good data, a fault no TCP can see. Such a draw is
    /// drawn again (a few times at most), so `corrupt` exercises checksum
    /// verification and a corrupted stream always means the stack failed.
    fn corrupt_detectably(&mut self, bytes: &mut [u8]) {
        use synack_proto::wire::{parse_packet, ChecksumMode};
        let original = bytes.to_vec();
        let tcp = parse_packet(&original, ChecksumMode::Verify).is_ok();
        for _ in 0..8 {
            self.corrupt(bytes);
            if !tcp || parse_packet(bytes, ChecksumMode::Verify).is_err() {
                return;
            }
            bytes.copy_from_slice(&original);
        }
        // Eight cancelling draws in a row: flip one byte, which no checksum misses.
        if let Some(b) = bytes.last_mut() {
            *b ^= 0x01;
        }
    }

    /// Flip one to `corrupt_max_bytes` distinct bytes of a non-empty packet, each
    /// XORed with a non-zero value, so the copy always differs from the original.
    fn corrupt(&mut self, bytes: &mut [u8]) {
        let len = bytes.len() as u64;
        let count = 1 + self
            .rng
            .below(len.min(u64::from(self.config.corrupt_max_bytes.max(1))));
        let mut chosen: Vec<u64> = Vec::with_capacity(3);
        let mut attempts = 0;
        while (chosen.len() as u64) < count && attempts < 64 {
            attempts += 1;
            let pos = self.rng.below(len);
            if !chosen.contains(&pos) {
                chosen.push(pos);
            }
        }
        for pos in chosen {
            let mask = 1 + self.rng.below(255) as u8;
            if let Some(b) = usize::try_from(pos).ok().and_then(|p| bytes.get_mut(p)) {
                *b ^= mask;
            }
        }
    }
}
