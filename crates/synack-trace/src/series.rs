//! What a connection's sender knew over time: congestion window, slow-start
//! threshold, bytes in flight, smoothed RTT and retransmission timeout.
//!
//! The event stream does not carry these numbers, so a driver that holds the
//! stacks (the scenarios' world) samples each connection's status after
//! every step of the simulation with [`Series::push_status`]; a congestion
//! event carrying the window and threshold can be fed with
//! [`Series::push_window`] as it is read. Either way the plots and the HTML
//! view read one [`Series`].

use synack_proto::{ConnStatus, FourTuple, Instant};
use synack_sim::HostId;

/// The most samples a [`Series`] keeps; later ones are only counted.
pub const MAX_SAMPLES: usize = 50_000;

/// One connection's sender numbers at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When.
    pub at: Instant,
    /// Whose connection.
    pub host: HostId,
    /// Which connection, seen from `host`.
    pub tuple: FourTuple,
    /// Congestion window, bytes (RFC 5681 2).
    pub cwnd: u32,
    /// Slow-start threshold, bytes; `None` while unset (infinite).
    pub ssthresh: Option<u32>,
    /// Bytes sent and not yet acknowledged.
    pub in_flight: u32,
    /// The peer's receive window, scaled, bytes.
    pub snd_wnd: u32,
    /// Smoothed round-trip time, microseconds, once measured (RFC 6298 2).
    pub srtt_us: Option<u64>,
    /// Retransmission timeout with backoff, microseconds (RFC 6298 2).
    pub rto_us: u64,
}

impl Sample {
    /// The numbers are those of `other` (whatever the instant).
    fn same_numbers(&self, other: &Sample) -> bool {
        Sample {
            at: other.at,
            ..*self
        } == *other
    }
}

/// Samples of every connection of a run, in time order, bounded by
/// [`MAX_SAMPLES`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series {
    /// The samples kept.
    pub samples: Vec<Sample>,
    /// Samples not kept: the series was full.
    pub dropped: u64,
}

impl Series {
    /// An empty series.
    pub fn new() -> Series {
        Series::default()
    }

    /// Add a sample, unless the connection's numbers are those of its last
    /// sample (so sampling after every step keeps only the changes).
    pub fn push(&mut self, s: Sample) {
        let last = self
            .samples
            .iter()
            .rev()
            .find(|p| p.host == s.host && p.tuple == s.tuple);
        if last.is_some_and(|p| p.same_numbers(&s)) {
            return;
        }
        if self.samples.len() >= MAX_SAMPLES {
            self.dropped += 1;
            return;
        }
        self.samples.push(s);
    }

    /// Sample a connection's status as its stack reports it at `at`.
    pub fn push_status(&mut self, at: Instant, host: HostId, st: &ConnStatus) {
        self.push(Sample {
            at,
            host,
            tuple: st.tuple,
            cwnd: st.cwnd,
            ssthresh: (st.ssthresh != u32::MAX).then_some(st.ssthresh),
            in_flight: st.bytes_in_flight,
            snd_wnd: st.snd_wnd,
            srtt_us: st
                .srtt
                .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            rto_us: u64::try_from(st.rto.as_micros()).unwrap_or(u64::MAX),
        });
    }

    /// A new congestion window and threshold for a connection, as a
    /// congestion-control event reports them: the other numbers are carried
    /// over from the connection's last sample (zero before the first).
    pub fn push_window(
        &mut self,
        at: Instant,
        host: HostId,
        tuple: FourTuple,
        cwnd: u32,
        ssthresh: Option<u32>,
    ) {
        let base = self
            .samples
            .iter()
            .rev()
            .find(|p| p.host == host && p.tuple == tuple)
            .copied()
            .unwrap_or(Sample {
                at,
                host,
                tuple,
                cwnd,
                ssthresh,
                in_flight: 0,
                snd_wnd: 0,
                srtt_us: None,
                rto_us: 0,
            });
        self.push(Sample {
            at,
            cwnd,
            ssthresh,
            ..base
        });
    }

    /// The samples of one connection, in time order.
    pub fn of(&self, host: HostId, tuple: FourTuple) -> impl Iterator<Item = &Sample> + '_ {
        self.samples
            .iter()
            .filter(move |s| s.host == host && s.tuple == tuple)
    }

    /// The connection that had the most bytes in flight at any one time
    /// (the data sender of a transfer), among those of the hosts `hosts`.
    pub fn busiest(&self, hosts: &[HostId]) -> Option<(HostId, FourTuple)> {
        let mut best: Option<(u32, HostId, FourTuple)> = None;
        for s in &self.samples {
            if !hosts.contains(&s.host) {
                continue;
            }
            if best.is_none_or(|(b, _, _)| s.in_flight > b) {
                best = Some((s.in_flight, s.host, s.tuple));
            }
        }
        best.map(|(_, h, t)| (h, t))
    }
}
