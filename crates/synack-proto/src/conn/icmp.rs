//! ICMP and ICMPv6 errors about the connection's segments (RFC 5927, RFC
//! 1122 4.2.3.9) and Packet Too Big (RFC 1191, RFC 8201).

use super::{Disposition, Origin, SegCtx, Tcb};
use crate::cc::CongestionControl;
use crate::event::{Cause, DropReason, EventKind};
use crate::icmp::IcmpAction;
use crate::probe::Probes;
use crate::state::State;
use synack_wire::SeqNum;

impl Tcb {
    // ----- ICMP ----------------------------------------------------------

    /// An ICMP or ICMPv6 error quoting this connection's segment with
    /// sequence number `seq` (the stack classified it and found the connection).
    pub(crate) fn on_icmp(
        &mut self,
        action: IcmpAction,
        seq: SeqNum,
        ctx: &mut SegCtx<'_>,
    ) -> Disposition {
        match self.state {
            State::Closed | State::Listen => {
                self.drop_seg(ctx, DropReason::Closed);
                return Disposition::Done;
            }
            State::TimeWait => {
                // Nothing is in flight; FreeBSD skips TIME_WAIT connections too.
                self.drop_seg(ctx, DropReason::IcmpNoConnection);
                return Disposition::Done;
            }
            _ => {}
        }
        // RFC 5927 4.1: act only on an error about a segment in flight,
        // SND.UNA =< SEG.SEQ < SND.NXT (SND.MAX here: SND.NXT goes back on a
        // retransmission timeout), which a blind attacker has to guess.
        if !(seq.ge(self.snd.una) && seq.lt(self.snd.max)) {
            self.drop_seg(ctx, DropReason::IcmpSeqOutOfWindow);
            return Disposition::Done;
        }
        match action {
            IcmpAction::Fatal(err) if !self.state.is_synchronized() && self.cfg.icmp_may_rst => {
                // RFC 1122 4.2.3.9: a hard error SHOULD abort the connection; RFC 5927
                // 5.2: only one that is not yet synchronized.
                if let (State::SynReceived, Origin::Passive(_)) = (self.state, self.origin) {
                    // A listener's half-open entry has no application to tell: it goes
                    // quietly (Linux drops the request socket).
                    self.set_state(State::Closed, Cause::IcmpError, ctx);
                    return Disposition::BackToListen;
                }
                self.fail(err, Cause::IcmpError, ctx);
            }
            IcmpAction::Fatal(err) | IcmpAction::Soft(err) => {
                // RFC 1122 4.2.3.9: soft errors MUST NOT abort the connection, and
                // RFC 5927 5.2 treats hard ones as soft once synchronized: recorded,
                // reported if the connection times out.
                self.soft_error = Some(err);
                ctx.sink.push(
                    ctx.now,
                    EventKind::SoftError {
                        conn: self.id,
                        error: err,
                    },
                );
            }
            IcmpAction::PathMtu(mtu) => self.path_mtu_reduced(mtu, ctx),
        }
        Disposition::Done
    }

    /// RFC 1191 6.4, RFC 8201 5: the path MTU is now `mtu`.
    pub(super) fn path_mtu_reduced(&mut self, mtu: u16, ctx: &mut SegCtx<'_>) {
        let overhead = if self.tuple().remote.is_ipv4() {
            40
        } else {
            60
        };
        let path_mss = mtu.saturating_sub(overhead).max(1);
        if path_mss >= self.opts.path_mss {
            // RFC 1191 3, RFC 8201 4: a Packet Too Big never raises the estimate, and
            // one that does not lower it changes nothing (RFC 1191 6.4: not one
            // retransmission per message about the same burst).
            self.drop_seg(ctx, DropReason::IcmpMtuNotLower);
            return;
        }
        self.opts.path_mss = path_mss;
        if self.cfg.syn_mss_follows_path_mtu
            && matches!(self.state, State::SynSent | State::SynReceived)
        {
            // The SYN (SYN,ACK) sent again advertises what the path carries.
            self.opts.our_mss = self.opts.our_mss.min(path_mss);
        }
        if self.state != State::SynSent {
            // RFC 6691: timestamps take their 12 octets from the payload.
            let mss = path_mss
                .saturating_sub(if self.opts.ts { 12 } else { 0 })
                .max(1);
            if mss < self.opts.snd_mss {
                self.cc
                    .on_mss_change(u32::from(self.opts.snd_mss), u32::from(mss));
                self.opts.snd_mss = mss;
                if self.syn_acked() && self.snd.max.gt(self.snd.una) {
                    // RFC 1191 6.4: the segment was dropped; retransmit at once in
                    // segments that fit, without counting it as congestion: cwnd and
                    // the RTO stay (Linux `tcp_simple_retransmit`). Karn's rule
                    // applies to what is sent again.
                    self.snd.nxt = self.snd.una;
                    self.probes.set(Probes::PMTU_RESEND, true);
                    // A SACK recovery's pipe accounting does not hold for a
                    // go-back-N resend: end the episode as an RTO does (RFC 6675
                    // 5.1) but keep cwnd (no congestion response), so the resend
                    // runs under cwnd from SND.UNA.
                    self.recovery.abandon_sack_episode(self.snd.max);
                    self.time_after_retransmission(ctx.now);
                }
            }
        }
        ctx.sink.push(
            ctx.now,
            EventKind::PathMtuReduced {
                conn: self.id,
                mtu,
                mss: path_mss,
            },
        );
    }
}
