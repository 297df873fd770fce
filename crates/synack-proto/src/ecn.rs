//! Explicit Congestion Notification (RFC 3168 6.1) for one connection, in
//! one byte: what the handshake said in each direction, and the two signals
//! that outlive a segment (ECE owed to the peer, CWR owed to the peer).
//!
//! The TCB asks this state which flags a SYN, SYN,ACK or ACK carries and
//! whether new data goes out ECN-capable; congestion control itself (the
//! window reduction) stays in the TCB.

use crate::config::EcnMode;
use synack_wire::TcpFlags;

/// The ECN bits of a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EcnState(u8);

impl EcnState {
    /// We sent an ECN-setup SYN (ECE and CWR) or SYN,ACK (ECE only).
    const SETUP_SENT: u8 = 1 << 0;
    /// We sent a SYN or SYN,ACK that was not ECN-setup.
    const PLAIN_SENT: u8 = 1 << 1;
    /// The peer sent an ECN-setup SYN or SYN,ACK.
    const SETUP_RCVD: u8 = 1 << 2;
    /// The peer sent a SYN or SYN,ACK that was not ECN-setup.
    const PLAIN_RCVD: u8 = 1 << 3;
    /// A CE mark arrived: ACKs carry ECE until a CWR arrives.
    const ECHO: u8 = 1 << 4;
    /// The window was reduced: the next new data segment carries CWR.
    const CWR_PENDING: u8 = 1 << 5;
    /// The segment being processed arrived CE-marked (valid during one input).
    const CE_IN: u8 = 1 << 6;
    /// The sender's `recover` point was set by an ECE reduction, not by loss
    /// recovery: it limits further ECE reductions, not fast retransmit.
    const RECOVER_BY_ECE: u8 = 1 << 7;

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }

    /// RFC 3168 6.1.1: a SYN with both ECE and CWR is an "ECN-setup SYN";
    /// any other SYN is not.
    pub(crate) fn syn_received(&mut self, flags: TcpFlags) {
        let setup = flags.ece() && flags.cwr();
        self.set(Self::SETUP_RCVD, self.has(Self::SETUP_RCVD) || setup);
        self.set(Self::PLAIN_RCVD, self.has(Self::PLAIN_RCVD) || !setup);
    }

    /// RFC 3168 6.1.1: a SYN,ACK with ECE but not CWR is an "ECN-setup
    /// SYN-ACK"; every other combination is a non-ECN-setup SYN,ACK, which
    /// means no ECN.
    pub(crate) fn syn_ack_received(&mut self, flags: TcpFlags) {
        let setup = flags.ece() && !flags.cwr();
        self.set(Self::SETUP_RCVD, self.has(Self::SETUP_RCVD) || setup);
        self.set(Self::PLAIN_RCVD, self.has(Self::PLAIN_RCVD) || !setup);
    }

    /// The ECN flags of our SYN, sent after `retransmissions` earlier
    /// copies, and the record that it was sent.
    pub(crate) fn syn_flags(
        &mut self,
        mode: EcnMode,
        retransmissions: u32,
        max_setup_retries: u32,
    ) -> TcpFlags {
        // RFC 3168 6.1.1: an ECN-setup SYN sets ECE and CWR. RFC 3168 6.1.1.1:
        // after `max_setup_retries` unanswered retransmissions the SYN goes
        // out without them, in case a middlebox drops ECN-setup SYNs
        // (FreeBSD's `ecn.maxretries`).
        let setup = mode == EcnMode::Request && retransmissions <= max_setup_retries;
        self.record_sent(setup);
        if setup {
            TcpFlags::ECE | TcpFlags::CWR
        } else {
            TcpFlags::NONE
        }
    }

    /// The ECN flags of our SYN,ACK (passive or simultaneous open) and the
    /// record that it was sent.
    pub(crate) fn syn_ack_flags(&mut self, mode: EcnMode) -> TcpFlags {
        // RFC 3168 6.1.1: "If a host has received an ECN-setup SYN packet,
        // then it MAY send an ECN-setup SYN-ACK packet. Otherwise, it MUST
        // NOT": ECE only, never CWR. A later plain SYN (the peer gave up on
        // ECN, 6.1.1.1) is answered with a plain SYN,ACK.
        let setup =
            mode != EcnMode::Off && self.has(Self::SETUP_RCVD) && !self.has(Self::PLAIN_RCVD);
        self.record_sent(setup);
        if setup {
            TcpFlags::ECE
        } else {
            TcpFlags::NONE
        }
    }

    fn record_sent(&mut self, setup: bool) {
        let bit = if setup {
            Self::SETUP_SENT
        } else {
            Self::PLAIN_SENT
        };
        self.0 |= bit;
    }

    /// Whether new data goes out ECT(0), and ECE and CWR are honoured.
    ///
    /// RFC 3168 6.1.1: a host "MUST NOT set ECT on data packets unless it has
    /// sent at least one ECN-setup SYN or ECN-setup SYN-ACK packet, and has
    /// received at least one ECN-setup SYN or ECN-setup SYN-ACK packet, and
    /// has sent no non-ECN-setup SYN or non-ECN-setup SYN-ACK packet", and
    /// SHOULD NOT after receiving a non-ECN-setup one.
    pub(crate) fn sender(self) -> bool {
        self.has(Self::SETUP_SENT)
            && self.has(Self::SETUP_RCVD)
            && !self.has(Self::PLAIN_SENT)
            && !self.has(Self::PLAIN_RCVD)
    }

    /// Whether CE marks on arriving data are echoed with ECE.
    ///
    /// RFC 3168 6.1.1: a host that "has sent at least one ECN-setup SYN or
    /// ECN-setup SYN-ACK packet, and has received no non-ECN-setup SYN or
    /// non-ECN-setup SYN-ACK packet" MUST process CE marks; the commitment
    /// stays even after it fell back to plain SYNs itself.
    pub(crate) fn receiver(self) -> bool {
        self.has(Self::SETUP_SENT) && self.has(Self::SETUP_RCVD) && !self.has(Self::PLAIN_RCVD)
    }

    /// Note the IP ECN field of the segment about to be processed.
    pub(crate) fn set_ce_in(&mut self, ce: bool) {
        self.set(Self::CE_IN, ce);
    }

    /// An acceptable segment arrived (in a synchronized state). Returns
    /// whether it should be acknowledged at once.
    pub(crate) fn on_segment(&mut self, flags: TcpFlags, has_data: bool) -> bool {
        if !self.receiver() {
            return false;
        }
        let mut ack_now = false;
        if flags.cwr() {
            // RFC 3168 6.1.3: the sender reduced its window; stop echoing.
            // Acknowledging CWR data at once helps a sender whose window
            // may now be one or two segments (as Linux and FreeBSD do).
            self.set(Self::ECHO, false);
            ack_now = has_data;
        }
        // RFC 3168 6.1.3: a CE data packet makes the receiver set ECE on its
        // ACKs until a CWR arrives (a CWR and CE on the same segment: a new
        // mark after the reduction, so echo again). RFC 3168 6.1.4: pure
        // ACKs are sent not-ECT, so a mark on one carries no meaning here.
        if has_data && self.has(Self::CE_IN) {
            // The first ACK after a new mark goes out at once, so the sender
            // hears of the congestion within a round trip (Linux's quick ACK).
            ack_now |= !self.has(Self::ECHO);
            self.set(Self::ECHO, true);
        }
        ack_now
    }

    /// RFC 3168 6.1.6: a window probe arriving CE-marked "SHOULD" be
    /// answered with ECE (its exact sequence number makes it hard to spoof),
    /// although a zero window makes it unacceptable.
    pub(crate) fn on_window_probe(&mut self) {
        if self.receiver() && self.has(Self::CE_IN) {
            self.set(Self::ECHO, true);
        }
    }

    /// ECE for a non-SYN segment we send (RFC 3168 6.1.3).
    pub(crate) fn ack_flags(self) -> TcpFlags {
        if self.has(Self::ECHO) {
            TcpFlags::ECE
        } else {
            TcpFlags::NONE
        }
    }

    /// The congestion window was reduced (ECE, fast retransmit or timeout):
    /// RFC 3168 6.1.2, "the TCP sender sets the CWR flag in the TCP header of
    /// the first new data packet sent after the window reduction".
    pub(crate) fn window_reduced(&mut self) {
        if self.sender() {
            self.set(Self::CWR_PENDING, true);
        }
    }

    /// Record whether the sender's `recover` point now marks an ECE reduction
    /// (`true`) or a loss recovery or timeout (`false`).
    pub(crate) fn set_recover_by_ece(&mut self, by_ece: bool) {
        self.set(Self::RECOVER_BY_ECE, by_ece);
    }

    /// Whether the sender's `recover` point marks an ECE reduction.
    pub(crate) fn recover_by_ece(self) -> bool {
        self.has(Self::RECOVER_BY_ECE)
    }

    /// A segment of new data (not a retransmission, not a window probe) is
    /// going out: whether it is sent ECT(0), and CWR if a reduction is
    /// unannounced (RFC 3168 6.1.2; 6.1.5 keeps retransmissions not-ECT and
    /// 6.1.6 window probes).
    pub(crate) fn new_data(&mut self, flags: &mut TcpFlags) -> bool {
        if !self.sender() {
            return false;
        }
        if self.has(Self::CWR_PENDING) {
            *flags |= TcpFlags::CWR;
            self.set(Self::CWR_PENDING, false);
        }
        true
    }

    /// RFC 3168 6.1.1: "When a TCP host enters TIME-WAIT or CLOSED state, it
    /// should ignore any previous state about the negotiation of ECN".
    pub(crate) fn forget(&mut self) {
        *self = EcnState::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEW: TcpFlags = TcpFlags(TcpFlags::SYN.0 | TcpFlags::ECE.0 | TcpFlags::CWR.0);
    const SE_ACK: TcpFlags = TcpFlags(TcpFlags::SYN.0 | TcpFlags::ACK.0 | TcpFlags::ECE.0);

    #[test]
    fn active_open_negotiates_with_an_ece_only_syn_ack() {
        let mut e = EcnState::default();
        assert_eq!(
            e.syn_flags(EcnMode::Request, 0, 1),
            TcpFlags::ECE | TcpFlags::CWR
        );
        e.syn_ack_received(SE_ACK);
        assert!(e.sender() && e.receiver());
        // A SYN,ACK that merely reflects ECE and CWR is not ECN-setup.
        let mut e = EcnState::default();
        let _ = e.syn_flags(EcnMode::Request, 0, 1);
        e.syn_ack_received(TcpFlags(SE_ACK.0 | TcpFlags::CWR.0));
        assert!(!e.sender() && !e.receiver());
    }

    #[test]
    fn fallback_syn_keeps_the_receiver_commitment() {
        let mut e = EcnState::default();
        let _ = e.syn_flags(EcnMode::Request, 0, 0);
        assert_eq!(e.syn_flags(EcnMode::Request, 1, 0), TcpFlags::NONE);
        e.syn_ack_received(SE_ACK);
        assert!(!e.sender());
        assert!(e.receiver());
    }

    #[test]
    fn passive_open_answers_only_an_ecn_setup_syn() {
        for (mode, syn, want) in [
            (EcnMode::Accept, SEW, TcpFlags::ECE),
            (EcnMode::Request, SEW, TcpFlags::ECE),
            (EcnMode::Off, SEW, TcpFlags::NONE),
            (EcnMode::Accept, TcpFlags::SYN, TcpFlags::NONE),
            (
                EcnMode::Accept,
                TcpFlags(SEW.0 & !TcpFlags::CWR.0),
                TcpFlags::NONE,
            ),
        ] {
            let mut e = EcnState::default();
            e.syn_received(syn);
            assert_eq!(e.syn_ack_flags(mode), want, "{mode:?} {syn}");
            assert_eq!(e.sender(), want == TcpFlags::ECE);
        }
    }

    #[test]
    fn ce_is_echoed_until_cwr() {
        let mut e = EcnState::default();
        e.syn_received(SEW);
        let _ = e.syn_ack_flags(EcnMode::Accept);
        e.set_ce_in(true);
        assert!(e.on_segment(TcpFlags::ACK, true));
        assert!(!e.on_segment(TcpFlags::ACK, true));
        assert_eq!(e.ack_flags(), TcpFlags::ECE);
        e.set_ce_in(false);
        assert!(!e.on_segment(TcpFlags::ACK, true));
        assert_eq!(e.ack_flags(), TcpFlags::ECE);
        assert!(e.on_segment(TcpFlags(TcpFlags::ACK.0 | TcpFlags::CWR.0), true));
        assert_eq!(e.ack_flags(), TcpFlags::NONE);
        // A mark on a pure ACK means nothing.
        e.set_ce_in(true);
        assert!(!e.on_segment(TcpFlags::ACK, false));
        assert_eq!(e.ack_flags(), TcpFlags::NONE);
    }

    #[test]
    fn cwr_goes_on_the_first_new_data_segment_only() {
        let mut e = EcnState::default();
        let _ = e.syn_flags(EcnMode::Request, 0, 1);
        e.syn_ack_received(SE_ACK);
        e.window_reduced();
        let mut f = TcpFlags::ACK;
        assert!(e.new_data(&mut f));
        assert_eq!(f, TcpFlags(TcpFlags::ACK.0 | TcpFlags::CWR.0));
        let mut f = TcpFlags::ACK;
        assert!(e.new_data(&mut f));
        assert_eq!(f, TcpFlags::ACK);
    }
}
