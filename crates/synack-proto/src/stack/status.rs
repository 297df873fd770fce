//! What the stack reports about itself: a TCP_INFO-like snapshot per
//! connection, a listener's counters and the stack-wide counters.

use super::Stack;
use crate::config::CongestionAlgorithm;
use crate::conn::Owner;
use crate::error::{ConnError, Error};
use crate::event::CcPhase;
use crate::event::{ConnId, DropReason, FourTuple};
use crate::state::State;
use crate::time::{Duration, Instant};
use std::collections::BTreeMap;
use synack_wire::SeqNum;

/// A status snapshot of one connection, like Linux's TCP_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnStatus {
    /// State.
    pub state: State,
    /// Addresses.
    pub tuple: FourTuple,
    /// Our initial sequence number.
    pub iss: SeqNum,
    /// The peer's initial sequence number (zero before it is known).
    pub irs: SeqNum,
    /// Oldest unacknowledged sequence number.
    pub snd_una: SeqNum,
    /// Next sequence number to send.
    pub snd_nxt: SeqNum,
    /// Next sequence number expected.
    pub rcv_nxt: SeqNum,
    /// The peer's window (scaled).
    pub snd_wnd: u32,
    /// Our advertised window.
    pub rcv_wnd: u32,
    /// The peer's window shift.
    pub snd_wscale: u8,
    /// Our window shift.
    pub rcv_wscale: u8,
    /// Effective send MSS.
    pub snd_mss: u16,
    /// The MSS this end advertised in its SYN (Linux's `tcpi_advmss`).
    pub adv_mss: u16,
    /// Smoothed RTT, once measured.
    pub srtt: Option<Duration>,
    /// RTT variance.
    pub rttvar: Duration,
    /// Current retransmission timeout (with backoff).
    pub rto: Duration,
    /// Congestion window in bytes.
    pub cwnd: u32,
    /// Slow-start threshold in bytes (`u32::MAX` when unset).
    pub ssthresh: u32,
    /// The congestion control algorithm.
    pub congestion: CongestionAlgorithm,
    /// Where the congestion controller stands: slow start, conservative
    /// slow start, congestion avoidance (CUBIC's concave, convex or
    /// Reno-friendly region), recovery or a reduction.
    pub cc_phase: CcPhase,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// Bytes sent and not yet acknowledged.
    pub bytes_in_flight: u32,
    /// New payload bytes sent.
    pub bytes_sent: u64,
    /// Payload bytes acknowledged by the peer.
    pub bytes_acked: u64,
    /// Payload bytes received in order.
    pub bytes_received: u64,
    /// Segments sent.
    pub segs_out: u64,
    /// Segments received.
    pub segs_in: u64,
    /// Segments the peer acknowledged or selectively acknowledged, as
    /// Linux's `tcpi_delivered`: our SYN counts one (with the data a Fast
    /// Open SYN carried, RFC 7413 4.2.1), the payload after it one per full
    /// segment of the send MSS, rounded up (synack keeps octets, not
    /// packets, where Linux counts its send buffers' segments).
    pub delivered: u64,
    /// Bytes waiting to be read.
    pub unread: usize,
    /// Bytes in the send buffer (unsent or unacknowledged).
    pub send_queued: usize,
    /// Keepalive probes sent without answer.
    pub keepalive_probes: u32,
    /// Zero-window probes sent without answer (RFC 9293 3.8.6.1), the
    /// persist timer's backoff.
    pub window_probes: u8,
    /// Retransmission timeouts since the last ACK of new data: how often the
    /// RTO has doubled (RFC 6298 5.5), Linux's `icsk_backoff`.
    pub rto_backoff: u32,
    /// Octets above `snd_una` the peer has selectively acknowledged (RFC 2018),
    /// as the SACK scoreboard holds them.
    pub sacked: u32,
    /// When in-order data last arrived, or the handshake completed if none
    /// has since (Linux's `lrcvtime`, read as `tcpi_last_data_recv`); `None`
    /// during the handshake.
    pub last_data_received: Option<Instant>,
    /// Segments RACK has marked lost (RFC 8985 6.2) and no SACK has covered
    /// since, retransmitted or not; 0 without RACK's per-segment records.
    pub lost: u32,
    /// Segments retransmitted that no ACK or SACK has covered since; 0
    /// without RACK's per-segment records.
    pub retrans_out: u32,
    /// Window scaling is in use (both SYNs carried the option, RFC 7323 2.2).
    pub window_scaling: bool,
    /// SACK is in use (both SYNs carried SACK-permitted, RFC 2018).
    pub sack: bool,
    /// Timestamps are in use (both SYNs carried them, RFC 7323 3.2).
    pub timestamps: bool,
    /// ECN is in use (RFC 3168 6.1.1: both sides sent only ECN-setup SYNs and
    /// SYN,ACKs): new data goes out ECT(0) and ECE halves the window.
    pub ecn: bool,
    /// The error the connection failed with, if any.
    pub error: Option<ConnError>,
    /// Whether and how the connection used TCP Fast Open (RFC 7413), and
    /// why not when it did not.
    pub fast_open: crate::fastopen::FastOpenStatus,
}

/// A listener's counters: what an operator needs to recognise a SYN flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ListenerStatus {
    /// Half-open (SYN_RCVD) entries now.
    pub syn_queue: usize,
    /// Limit of half-open entries.
    pub syn_queue_limit: usize,
    /// Completed connections waiting for accept.
    pub accept_queue: usize,
    /// Limit of the accept queue (the backlog).
    pub accept_queue_limit: usize,
    /// Distinct source addresses among the half-open entries now.
    pub distinct_sources: usize,
    /// SYNs received.
    pub syns_received: u64,
    /// SYN,ACKs retransmitted by half-open entries.
    pub synack_retransmits: u64,
    /// SYN,ACKs sent with a cookie.
    pub cookies_sent: u64,
    /// ACKs whose cookie was valid (connections recreated).
    pub cookies_validated: u64,
    /// ACKs whose cookie was invalid.
    pub cookies_rejected: u64,
    /// SYNs dropped because a queue was full and cookies were off.
    pub syns_dropped: u64,
    /// Completed handshakes dropped because the accept queue was full.
    pub accept_overflows: u64,
    /// Handshakes completed.
    pub established: u64,
    /// Half-open entries that gave up or were reset.
    pub half_open_expired: u64,
    /// SYNs waiting for the application's decision now (a listener that
    /// decides before the handshake).
    pub pending: usize,
    /// Pending connections the application refused (answered with RST).
    pub pending_refused: u64,
    /// Pending connections the application ignored.
    pub pending_ignored: u64,
    /// Pending connections that expired before a decision (or, ignored, ran out).
    pub pending_expired: u64,
}

/// Stack-wide counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StackStats {
    /// Packets handed to `handle_packet`.
    pub packets_in: u64,
    /// Packets produced by `poll_transmit`.
    pub packets_out: u64,
    /// RSTs sent for segments that matched no connection.
    pub resets_sent: u64,
    /// Connections opened actively.
    pub active_opens: u64,
    /// Connections opened passively (handshakes completed).
    pub passive_opens: u64,
    /// ICMP and ICMPv6 messages that parsed, whatever came of them (those
    /// ignored are also counted in `drops`).
    pub icmp_in: u64,
    /// Segments header prediction took (`StackConfig::fast_path`): ACKs and
    /// in-order data on established connections, processed without the
    /// checks that cannot fire for them.
    pub predicted: u64,
    /// Every drop, by reason.
    pub drops: BTreeMap<DropReason, u64>,
}

impl Stack {
    /// A TCP_INFO-like snapshot.
    pub fn status(&self, id: ConnId) -> Result<ConnStatus, Error> {
        let t = self.tcb(id)?;
        let mut s = t.status();
        self.fo_fill_status(id, &mut s);
        Ok(s)
    }

    /// Every live connection (orphans in TIME_WAIT included), like `ss -tan`.
    pub fn connections(&self) -> Vec<(Option<ConnId>, ConnStatus)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.tcb.as_deref().map(|t| {
                    let id = ConnId {
                        index: i as u32,
                        generation: s.generation,
                    };
                    let mut st = t.status();
                    self.fo_fill_status(id, &mut st);
                    ((t.owner != Owner::Orphan).then_some(id), st)
                })
            })
            .collect()
    }

    /// Number of live connection entries (half-open and TIME_WAIT included).
    pub fn connection_count(&self) -> usize {
        self.live
    }

    /// Stack-wide counters.
    pub fn stats(&self) -> StackStats {
        let mut s = self.stats.clone();
        s.drops = self.sink.drops().clone();
        s
    }
}
