//! Proportional Rate Reduction (RFC 6937) as the send budget of a SACK
//! recovery: during recovery the sender sends in proportion to what the
//! receiver reports delivered, so the data in flight falls smoothly from
//! RecoverFS to ssthresh over one round trip (instead of RFC 6675's
//! cwnd - pipe, which sends nothing for half a round trip and then bursts),
//! and the slow-start reduction bound (PRR-SSRB) lets it climb back to
//! ssthresh when losses took the flight below it.

use synack_wire::SeqNum;

/// RFC 6937 3: the state of one recovery episode, kept with the scoreboard
/// (a SACK recovery always has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prr {
    /// RecoverFS: FlightSize when recovery began.
    recover_fs: u32,
    /// prr_delivered: octets delivered to the receiver since then.
    delivered: u64,
    /// prr_out: octets sent since then.
    out: u64,
    /// SND.UNA at the last ACK, for DeliveredData.
    last_una: SeqNum,
    /// Octets SACKed above SND.UNA at the last ACK, for DeliveredData.
    last_sacked: u32,
}

impl Prr {
    /// RFC 6937 3.1, at the start of recovery: prr_delivered = prr_out = 0,
    /// RecoverFS = snd.nxt - snd.una (`flight`).
    pub(crate) fn start(flight: u32, una: SeqNum, sacked: u32) -> Prr {
        Prr {
            recover_fs: flight.max(1),
            delivered: 0,
            out: 0,
            last_una: una,
            last_sacked: sacked,
        }
    }

    /// RFC 6937 3.1, "on any data transmission or retransmission":
    /// prr_out += data sent.
    pub(crate) fn on_sent(&mut self, len: u32) {
        self.out += u64::from(len);
    }

    /// RFC 6937 3.1, on every ACK during recovery: with SND.UNA `una`,
    /// `sacked` octets SACKed above it, `pipe` (RFC 6675) and `ssthresh`,
    /// sndcnt: how many octets may be sent now.
    pub(crate) fn on_ack(
        &mut self,
        una: SeqNum,
        sacked: u32,
        pipe: u32,
        ssthresh: u32,
        mss: u32,
    ) -> u32 {
        // DeliveredData = change_in(snd.una) + change_in(SACKd).
        let advanced = if una.gt(self.last_una) {
            una.since(self.last_una)
        } else {
            0
        };
        let delivered =
            (i64::from(advanced) + i64::from(sacked) - i64::from(self.last_sacked)).max(0) as u64;
        self.last_una = self.last_una.max(una);
        self.last_sacked = sacked;
        self.delivered += delivered;
        let out = self.out;
        let sndcnt = if pipe > ssthresh {
            // Proportional Rate Reduction:
            // sndcnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
            let fs = u64::from(self.recover_fs);
            let due = (self.delivered * u64::from(ssthresh)).div_ceil(fs);
            due.saturating_sub(out)
        } else {
            // PRR-SSRB: limit = MAX(prr_delivered - prr_out, DeliveredData) + MSS;
            // sndcnt = MIN(ssthresh - pipe, limit).
            let limit = self.delivered.saturating_sub(out).max(delivered) + u64::from(mss);
            u64::from(ssthresh - pipe).min(limit)
        };
        u32::try_from(sndcnt).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    #[test]
    fn the_flight_falls_to_ssthresh_in_proportion_to_deliveries() {
        // RFC 6937 3: 20 segments in flight, one lost, ssthresh 14 (0.7).
        let mut p = Prr::start(20 * MSS, SeqNum(0), MSS);
        let mut sent = 0;
        let mut pipe = 19 * MSS;
        for i in 2..=19 {
            let snd = p.on_ack(SeqNum(0), i * MSS, pipe, 14 * MSS, MSS);
            // Send what is allowed, whole segments only.
            let n = snd / MSS * MSS;
            p.on_sent(n);
            sent += n;
            pipe = pipe - MSS + n;
        }
        // 18 more segments delivered of 20: 18 * 14 / 20 = 12.6, sent in whole
        // segments as the deliveries earn them: 12 (the 13th is not yet earned).
        assert_eq!(sent, 12 * MSS);
        assert!(pipe <= 14 * MSS);
    }

    #[test]
    fn below_ssthresh_the_slow_start_bound_climbs_back() {
        let mut p = Prr::start(20 * MSS, SeqNum(0), 0);
        // Many losses: pipe 4 segments, ssthresh 14: at most delivered + 1 MSS.
        let snd = p.on_ack(SeqNum(2 * MSS), 0, 4 * MSS, 14 * MSS, MSS);
        assert_eq!(snd, 3 * MSS);
        p.on_sent(snd);
        let snd = p.on_ack(SeqNum(3 * MSS), 0, 6 * MSS, 14 * MSS, MSS);
        assert_eq!(snd, 2 * MSS, "DeliveredData (1 segment) + 1 MSS");
    }
}
