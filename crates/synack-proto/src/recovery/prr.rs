//! Proportional Rate Reduction (RFC 9937, which obsoletes RFC 6937) as the
//! send budget of a SACK recovery: during recovery the sender sends in
//! proportion to what the receiver reports delivered, so the data in flight
//! falls smoothly from RecoverFS to ssthresh over one round trip (instead of
//! RFC 6675's cwnd - pipe, which sends nothing for half a round trip and then
//! bursts). Once the flight is at or below ssthresh, the conservative
//! reduction bound (PRR-CRB) sends no more than was delivered, and only an ACK
//! that advances SND.UNA without revealing a further loss (a "safe ACK") adds
//! one MSS (PRR-SSRB) to climb back to ssthresh. Everything is counted in
//! octets.

/// RFC 9937 5: the state of one recovery episode, kept with the scoreboard
/// (a SACK recovery always has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prr {
    /// RecoverFS: the octets in flight, and not SACKed, when recovery began.
    recover_fs: u32,
    /// prr_delivered: octets delivered to the receiver since then.
    delivered: u64,
    /// prr_out: octets sent since then.
    out: u64,
}

/// What one ACK tells PRR (RFC 9937 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrrAck {
    /// DeliveredData: octets newly acknowledged cumulatively plus octets newly
    /// SACKed.
    pub(crate) delivered: u32,
    /// safeACK: SND.UNA advanced and no further loss was indicated.
    pub(crate) safe: bool,
    /// pipe (RFC 6675) after the ACK.
    pub(crate) pipe: u32,
    /// ssthresh after the reduction.
    pub(crate) ssthresh: u32,
    /// SMSS.
    pub(crate) mss: u32,
}

impl Prr {
    /// RFC 9937 5, at the start of recovery: prr_delivered = prr_out = 0,
    /// RecoverFS = snd.nxt - snd.una less the octets SACKed before the ACK
    /// that starts recovery (they are never delivered during it). The caller
    /// passes that difference as `recover_fs`.
    pub(crate) fn start(recover_fs: u32) -> Prr {
        Prr {
            recover_fs: recover_fs.max(1),
            delivered: 0,
            out: 0,
        }
    }

    /// RFC 9937 5, "on any data transmission or retransmission":
    /// prr_out += data sent.
    pub(crate) fn on_sent(&mut self, len: u32) {
        self.out += u64::from(len);
    }

    /// RFC 9937 5, on every ACK starting or during recovery: SndCnt, the
    /// octets that may be sent beyond pipe until the next ACK; `None` when
    /// the ACK delivered nothing ("if (DeliveredData is 0) Return": the
    /// window stays as it was).
    pub(crate) fn on_ack(&mut self, a: PrrAck) -> Option<u32> {
        if a.delivered == 0 {
            return None;
        }
        self.delivered += u64::from(a.delivered);
        let out = self.out;
        let sndcnt = if a.pipe > a.ssthresh {
            // RFC 9937 5, Proportional Rate Reduction:
            // SndCnt = CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out.
            let fs = u64::from(self.recover_fs);
            let due = (self.delivered * u64::from(a.ssthresh)).div_ceil(fs);
            due.saturating_sub(out)
        } else {
            // RFC 9937 5, PRR-CRB by default:
            // SndCnt = MAX(prr_delivered - prr_out, DeliveredData).
            let mut n = self
                .delivered
                .saturating_sub(out)
                .max(u64::from(a.delivered));
            if a.safe {
                // RFC 9937 5: PRR-SSRB "when recovery is in good progress".
                n += u64::from(a.mss);
            }
            // RFC 9937 5: "Attempt to catch up, as permitted".
            u64::from(a.ssthresh - a.pipe).min(n)
        };
        let mut sndcnt = u32::try_from(sndcnt).unwrap_or(u32::MAX);
        if out == 0 && sndcnt == 0 {
            // RFC 9937 5: "Force a fast retransmit upon entering recovery".
            sndcnt = a.mss;
        }
        Some(sndcnt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    fn ack(delivered: u32, safe: bool, pipe: u32) -> PrrAck {
        PrrAck {
            delivered,
            safe,
            pipe,
            ssthresh: 14 * MSS,
            mss: MSS,
        }
    }

    #[test]
    fn the_flight_falls_to_ssthresh_in_proportion_to_deliveries() {
        // RFC 9937 5: 20 segments in flight, one lost, ssthresh 14 (0.7).
        let mut p = Prr::start(20 * MSS);
        let mut sent = 0;
        let mut pipe = 19 * MSS;
        for _ in 2..=19 {
            let snd = p.on_ack(ack(MSS, false, pipe)).unwrap_or(0);
            // Send what is allowed, whole segments only.
            let n = snd / MSS * MSS;
            p.on_sent(n);
            sent += n;
            pipe = pipe - MSS + n;
        }
        // 18 segments delivered of 20: 18 * 14 / 20 = 12.6, sent in whole
        // segments as the deliveries earn them: 12 (the 13th is not yet earned).
        assert_eq!(sent, 12 * MSS);
        assert!(pipe <= 14 * MSS);
    }

    #[test]
    fn below_ssthresh_only_a_safe_ack_adds_a_segment() {
        let mut p = Prr::start(20 * MSS);
        // Many losses: pipe 4 segments, ssthresh 14. A duplicate ACK (SND.UNA
        // did not move): PRR-CRB, as much as was delivered.
        assert_eq!(p.on_ack(ack(2 * MSS, false, 4 * MSS)), Some(2 * MSS));
        p.on_sent(2 * MSS);
        // A safe ACK: PRR-SSRB, DeliveredData + 1 MSS.
        assert_eq!(p.on_ack(ack(MSS, true, 5 * MSS)), Some(2 * MSS));
        p.on_sent(2 * MSS);
        // Never beyond ssthresh - pipe.
        assert_eq!(p.on_ack(ack(5 * MSS, true, 13 * MSS)), Some(MSS));
    }

    #[test]
    fn an_ack_that_delivers_nothing_changes_nothing() {
        let mut p = Prr::start(10 * MSS);
        assert_eq!(p.on_ack(ack(0, true, 5 * MSS)), None);
    }

    #[test]
    fn the_first_ack_of_recovery_always_lets_the_fast_retransmit_go() {
        // pipe far above ssthresh: the proportional share of one octet
        // delivered rounds up to one octet; the send quantum makes it a
        // segment only when nothing at all was due.
        let mut p = Prr::start(100 * MSS);
        let a = PrrAck {
            delivered: 1,
            safe: false,
            pipe: 99 * MSS,
            ssthresh: 0,
            mss: MSS,
        };
        assert_eq!(p.on_ack(a), Some(MSS));
    }
}
