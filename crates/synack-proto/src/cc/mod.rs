//! Congestion control: how much a connection may have in flight.
//!
//! A controller answers a handful of events (the handshake completed, new
//! data was acknowledged, the network signalled congestion, loss recovery
//! ended, the MSS changed) and keeps `cwnd` and `ssthresh`. It knows nothing
//! of loss recovery: duplicate ACK counting, NewReno's window inflation and
//! the SACK pipe live in `recovery`, which asks the controller for the
//! window and tells it when recovery begins and ends. [`Cc`] dispatches to
//! the algorithm a connection uses without allocating or calling through a
//! pointer.

mod cubic;
mod hystart;
mod new_reno;
mod small;
mod validation;

use cubic::Cubic;
use new_reno::NewReno;
use small::Small;
pub(crate) use validation::SendSample;

use crate::config::CongestionAlgorithm;
use crate::event::{CcPhase, CcReason};
use crate::time::{Duration, Instant};
use synack_wire::SeqNum;

/// A congestion signal, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Congestion {
    /// Loss found by duplicate ACKs or SACK information: fast retransmit and
    /// fast recovery begin (RFC 5681 3.2, RFC 6582 3.2, RFC 6675 5).
    /// `reduced`: an ECN-Echo already reduced the window for this window of
    /// data (RFC 3168 6.1.2: at most one reduction per window).
    Loss {
        /// The window was already reduced for this window of data.
        reduced: bool,
    },
    /// An ECN-Echo (RFC 3168 6.1.2), outside loss recovery.
    Ecn,
    /// A tail loss probe alone repaired the loss of the last segment
    /// (RFC 8985 7.4.2): the window is reduced once, as for a loss.
    ProbeRepair,
    /// The retransmission timer expired (RFC 5681 3.1, RFC 6298 5).
    Timeout,
}

/// A congestion control algorithm. Every method is called from the TCB's
/// input and timer paths, so implementations keep to arithmetic: no I/O,
/// and no allocation but [`Cc`]'s one box when CUBIC outgrows its compact
/// first slow start.
pub(crate) trait CongestionControl {
    /// The handshake completed: the initial window, for SMSS `mss` and
    /// `initial_segments` segments (RFC 5681 3.1, RFC 6928); `syn_lost` when
    /// our SYN or SYN,ACK had to be sent again.
    fn on_established(&mut self, mss: u32, initial_segments: u32, syn_lost: bool);

    /// New octets were acknowledged outside loss recovery, by an ACK without
    /// ECN-Echo. Returns why the window moved ([`CcReason::Ack`] unless a
    /// slow-start heuristic decided something, RFC 9406 4.2).
    fn on_ack(&mut self, a: &AckSample) -> CcReason;

    /// New data went out, or data waits while the flight fills cwnd: the
    /// record of the window's use (RFC 7661, `validation.rs`). Only called
    /// when the connection validates its window.
    fn on_sent(&mut self, _s: &SendSample) {}

    /// A congestion signal. `flight` is FlightSize, the octets sent and not
    /// yet acknowledged.
    fn on_congestion(&mut self, signal: Congestion, flight: u32, mss: u32, now: Instant);

    /// Fast recovery ended with a full acknowledgment; `flight` is what is
    /// still outstanding after it.
    fn on_recovery_end(&mut self, flight: u32, mss: u32);

    /// The send MSS went from `old` to `new` octets (a Packet Too Big).
    fn on_mss_change(&mut self, old: u32, new: u32);

    /// The sender was idle longer than the RTO (RFC 5681 4.1): cwnd and
    /// ssthresh become the restart values the connection computed; the
    /// window grows afresh from there (`mss`: SMSS).
    fn restart_after_idle(&mut self, cwnd: u32, ssthresh: u32, mss: u32);

    /// The congestion window, in octets.
    fn cwnd(&self) -> u32;

    /// The slow-start threshold, in octets (`u32::MAX` until a reduction).
    fn ssthresh(&self) -> u32;

    /// How the window grows now (slow start, congestion avoidance, CUBIC's
    /// regions), outside any reduction.
    fn phase(&self) -> CcPhase;
}

/// RFC 6928 2: IW = min(10*MSS, max(2*MSS, 14600)) with the default of 10
/// segments, `segments` * MSS otherwise (RFC 5681 3.1's choice).
pub(crate) fn initial_window(mss: u32, segments: u32) -> u32 {
    match segments.max(1) {
        10 => (10 * mss).min((2 * mss).max(14600)),
        n => n.saturating_mul(mss),
    }
}

/// What an ACK of new data tells a controller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckSample {
    /// New octets acknowledged.
    pub(crate) acked: u32,
    /// SMSS.
    pub(crate) mss: u32,
    /// When the ACK arrived.
    pub(crate) now: Instant,
    /// The smoothed round-trip time, once measured.
    pub(crate) srtt: Option<Duration>,
    /// The round-trip time this ACK measured, if it measured one (a
    /// timestamp echo or the timed segment): HyStart++'s samples (RFC 9406 4.2).
    pub(crate) rtt: Option<Duration>,
    /// The ACK's acknowledgment number (SND.UNA after it).
    pub(crate) ack: SeqNum,
    /// SND.NXT: where the next round of HyStart++ ends (RFC 9406 4.2, windowEnd).
    pub(crate) nxt: SeqNum,
    /// RFC 7661: grow cwnd only while the flow uses it (`validation.rs`;
    /// CUBIC only: NewReno is FreeBSD's, which grows on every ACK).
    pub(crate) validate: bool,
    /// RFC 9406 4.2's L: an ACK adds at most `L_SEGMENTS` in slow start
    /// (`ConnConfig::slow_start_ack_limit`); without it, every octet it
    /// delivered (RFC 5681 3.1's min(N, SMSS) per ACK is Linux's per segment).
    pub(crate) ack_limit: bool,
}

impl AckSample {
    /// The most octets this ACK may add in slow start: L * SMSS (RFC 9406
    /// 4.2), or no limit.
    pub(crate) fn slow_start_limit(&self) -> u32 {
        if self.ack_limit {
            hystart::L_SEGMENTS.saturating_mul(self.mss)
        } else {
            u32::MAX
        }
    }
}

/// Whether the window is being reduced, and why: the phases that belong to
/// no algorithm (Linux's `ca_state` Recovery and CWR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reduction {
    /// No reduction under way.
    None,
    /// Fast recovery after a loss.
    Recovery,
    /// An ECN-Echo or a repairing loss probe cut the window.
    Reduced,
}

/// An algorithm with what the event stream needs of it: the reduction under
/// way and the reason of the last change.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tracked<C> {
    c: C,
    reduction: Reduction,
    reason: Option<CcReason>,
}

impl<C> Tracked<C> {
    const fn new(c: C) -> Tracked<C> {
        Tracked {
            c,
            reduction: Reduction::None,
            reason: None,
        }
    }
}

/// The congestion controller of a connection: one variant per
/// [`CongestionAlgorithm`], dispatched without calling through a pointer.
/// CUBIC's first slow start is kept compact in the TCB (see `small.rs`);
/// its full state (its epoch, HyStart++'s CSS) is boxed on first use, so
/// the TCB grows by no more than a pointer and an idle connection allocates
/// nothing for it.
#[derive(Debug, Clone)]
pub(crate) enum Cc {
    /// NewReno (RFC 5681, RFC 6582).
    NewReno(Tracked<NewReno>),
    /// CUBIC (RFC 9438) in its first slow start, before anything its
    /// compact state cannot hold.
    CubicFirst(Small),
    /// CUBIC (RFC 9438) with HyStart++ (RFC 9406).
    Cubic(Box<Tracked<Cubic>>),
}

/// What the event stream shows of a controller: cwnd, ssthresh, phase.
pub(crate) type CcView = (u32, u32, CcPhase);

impl Cc {
    /// A controller running `algorithm`, before the handshake completes.
    pub(crate) fn new(algorithm: CongestionAlgorithm) -> Cc {
        match algorithm {
            CongestionAlgorithm::Cubic => Cc::CubicFirst(Small::new()),
            _ => Cc::NewReno(Tracked::new(NewReno::new())),
        }
    }

    /// The algorithm this controller runs.
    pub(crate) fn algorithm(&self) -> CongestionAlgorithm {
        match self {
            Cc::NewReno(_) => CongestionAlgorithm::NewReno,
            Cc::CubicFirst(_) | Cc::Cubic(_) => CongestionAlgorithm::Cubic,
        }
    }

    /// The reason of the last change, for the event stream, taken.
    fn take_last_reason(&mut self) -> Option<CcReason> {
        match self {
            Cc::NewReno(t) => t.reason.take(),
            Cc::CubicFirst(s) => s.take_reason(),
            Cc::Cubic(t) => t.reason.take(),
        }
    }

    /// CUBIC's compact state becomes the full one, boxed (`mss`: the SMSS
    /// the calls since the handshake carried).
    #[cold]
    fn expand(&mut self, mut small: Small, mss: u32) {
        *self = Cc::Cubic(Box::new(Tracked {
            c: small.expand(mss),
            reduction: Reduction::None,
            reason: small.take_reason(),
        }));
    }

    /// The first ACK after a timeout's retransmission told (RFC 3522, by
    /// its timestamp echo) whether the timeout was `spurious`: undo it
    /// (RFC 9438 4.9; CUBIC only, the compact state has had no timeout and
    /// NewReno keeps no record), or forget what an undo would restore.
    /// Returns whether it undid the timeout.
    pub(crate) fn timeout_verdict(&mut self, spurious: bool) -> bool {
        if let Cc::Cubic(t) = self {
            if !spurious {
                t.c.confirm_timeout();
            } else if t.c.timeout_pending() && t.c.undo() {
                t.reduction = Reduction::None;
                t.reason = Some(CcReason::SpuriousUndo);
                return true;
            }
        }
        false
    }

    /// RFC 3708 2: fast recovery began at SND.UNA `marker`, after
    /// `retransmits` retransmitted segments in the connection's life: watch
    /// for D-SACKs of what it retransmits (CUBIC only: NewReno keeps no
    /// record, as for timeouts).
    pub(crate) fn watch_recovery(&mut self, marker: SeqNum, retransmits: u32) {
        if let Cc::Cubic(t) = self {
            t.c.watch_recovery(marker, retransmits);
        }
    }

    /// RFC 3708 2, RFC 9438 4.9 (Linux `tcp_try_undo_dsack`): an ACK arrived,
    /// with a D-SACK block of `segments` segments ending at `end` if
    /// `dsack`, the connection having retransmitted `retransmits` segments
    /// so far. Once every retransmission of the watched fast recovery is
    /// reported, and only when `may_undo` (the recovery is over: its window
    /// is no longer the one loss recovery lets the sender use), the
    /// reduction is undone. Returns whether it was.
    pub(crate) fn dsack_verdict(
        &mut self,
        dsack: Option<(SeqNum, u32)>,
        retransmits: u32,
        may_undo: bool,
    ) -> bool {
        if let Cc::Cubic(t) = self {
            if t.c.on_dsack(dsack, retransmits) && may_undo && t.c.undo() {
                t.reduction = Reduction::None;
                t.reason = Some(CcReason::SpuriousUndo);
                return true;
            }
        }
        false
    }

    /// The phase, a reduction under way first.
    pub(crate) fn current_phase(&self) -> CcPhase {
        let reduction = match self {
            Cc::NewReno(t) => t.reduction,
            // Any reduction expands the compact state first.
            Cc::CubicFirst(_) => Reduction::None,
            Cc::Cubic(t) => t.reduction,
        };
        match reduction {
            Reduction::Recovery => CcPhase::Recovery,
            Reduction::Reduced => CcPhase::Reduced,
            Reduction::None => self.phase(),
        }
    }

    /// What the event stream shows, with `cwnd` the window the sender uses
    /// (loss recovery's while it runs).
    #[inline]
    pub(crate) fn view(&self, cwnd: u32) -> CcView {
        (cwnd, self.ssthresh(), self.current_phase())
    }

    /// The reason of the change from `before` to `now`, or `None` if nothing
    /// changed; `in_recovery` when loss recovery owns the window.
    #[inline]
    pub(crate) fn take_reason(
        &mut self,
        before: CcView,
        now: CcView,
        in_recovery: bool,
    ) -> Option<CcReason> {
        let reason = self.take_last_reason();
        if before == now {
            return None;
        }
        Some(reason.unwrap_or(if in_recovery {
            // RFC 6582 3.2 (inflation and deflation), RFC 9937 5 (PRR): the
            // recovery moved the window it lets the sender use.
            CcReason::RecoveryProgress
        } else {
            CcReason::Ack
        }))
    }
}

/// Dispatch one call to the algorithm and its tracking: `$first` runs for
/// CUBIC's compact state (reads answer from it; changes expand it first,
/// then dispatch again).
macro_rules! algo {
    ($self:expr, $small:pat => $first:expr, $t:ident => $e:expr) => {
        match $self {
            Cc::NewReno($t) => $e,
            Cc::CubicFirst($small) => $first,
            Cc::Cubic($t) => $e,
        }
    };
}

impl CongestionControl for Cc {
    #[inline]
    fn on_established(&mut self, mss: u32, initial_segments: u32, syn_lost: bool) {
        algo!(self, s => {
            if s.on_established(mss, initial_segments, syn_lost) {
                return;
            }
            let s = *s;
            self.expand(s, mss);
            self.on_established(mss, initial_segments, syn_lost)
        }, t => {
            t.reason = Some(CcReason::InitialWindow);
            t.c.on_established(mss, initial_segments, syn_lost)
        })
    }

    #[inline]
    fn on_ack(&mut self, a: &AckSample) -> CcReason {
        // RFC 3168 6.1.2, RFC 8985 7.4.2: the reduction (Linux's CWR) ends
        // when the window grows again.
        algo!(self, s => {
            if s.on_ack(a) {
                return CcReason::Ack;
            }
            let s = *s;
            self.expand(s, a.mss);
            self.on_ack(a)
        }, t => {
            let r = t.c.on_ack(a);
            t.reduction = Reduction::None;
            // An undo on this ACK is what the event reports.
            if t.reason != Some(CcReason::SpuriousUndo) {
                t.reason = Some(r);
            }
            r
        })
    }

    #[inline]
    fn on_sent(&mut self, x: &SendSample) {
        algo!(self, s => {
            if s.on_sent(x) {
                return;
            }
            let s = *s;
            self.expand(s, x.mss);
            self.on_sent(x)
        }, t => t.c.on_sent(x))
    }

    #[inline]
    fn on_congestion(&mut self, signal: Congestion, flight: u32, mss: u32, now: Instant) {
        let (reduction, reason) = match signal {
            Congestion::Loss { .. } => (Reduction::Recovery, CcReason::Loss),
            Congestion::Ecn => (Reduction::Reduced, CcReason::Ecn),
            Congestion::ProbeRepair => (Reduction::Reduced, CcReason::ProbeRepair),
            Congestion::Timeout => (Reduction::None, CcReason::Timeout),
        };
        algo!(self, s => {
            let s = *s;
            self.expand(s, mss);
            self.on_congestion(signal, flight, mss, now)
        }, t => {
            t.reduction = reduction;
            t.reason = Some(reason);
            t.c.on_congestion(signal, flight, mss, now)
        })
    }

    #[inline]
    fn on_recovery_end(&mut self, flight: u32, mss: u32) {
        algo!(self, s => {
            let s = *s;
            self.expand(s, mss);
            self.on_recovery_end(flight, mss)
        }, t => {
            t.reduction = Reduction::None;
            t.reason = Some(CcReason::RecoveryEnd);
            t.c.on_recovery_end(flight, mss)
        })
    }

    #[inline]
    fn on_mss_change(&mut self, old: u32, new: u32) {
        algo!(self, s => {
            let s = *s;
            self.expand(s, old);
            self.on_mss_change(old, new)
        }, t => {
            t.reason = Some(CcReason::MssChange);
            t.c.on_mss_change(old, new)
        })
    }

    fn restart_after_idle(&mut self, cwnd: u32, ssthresh: u32, mss: u32) {
        algo!(self, s => {
            let s = *s;
            self.expand(s, mss);
            self.restart_after_idle(cwnd, ssthresh, mss)
        }, t => {
            t.reduction = Reduction::None;
            t.reason = Some(CcReason::IdleRestart);
            t.c.restart_after_idle(cwnd, ssthresh, mss)
        })
    }

    #[inline]
    fn cwnd(&self) -> u32 {
        algo!(self, s => s.cwnd(), t => t.c.cwnd())
    }

    #[inline]
    fn ssthresh(&self) -> u32 {
        // The compact state is a first slow start: no threshold yet.
        algo!(self, _s => u32::MAX, t => t.c.ssthresh())
    }

    #[inline]
    fn phase(&self) -> CcPhase {
        algo!(self, _s => CcPhase::SlowStart, t => t.c.phase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    /// A CUBIC controller out of its compact state at `cwnd` octets, its
    /// last reason taken.
    fn cubic_at(cwnd: u32) -> Cc {
        let mut cc = Cc::new(CongestionAlgorithm::Cubic);
        cc.on_established(MSS, 10, false);
        // A reduction-free way to the full state: an MSS change to the same size.
        cc.on_mss_change(MSS, MSS);
        let mut una = 1u32;
        while cc.cwnd() < cwnd {
            una += MSS;
            cc.on_ack(&AckSample {
                acked: MSS,
                mss: MSS,
                now: Instant::ZERO,
                srtt: None,
                rtt: None,
                ack: SeqNum(una),
                nxt: SeqNum(una),
                validate: false,
                ack_limit: true,
            });
        }
        let _ = cc.take_last_reason();
        cc
    }

    #[test]
    fn a_spurious_timeout_is_undone_and_says_so() {
        let mut cc = cubic_at(40 * MSS);
        let before = cc.view(cc.cwnd());
        cc.on_congestion(Congestion::Timeout, 40 * MSS, MSS, Instant::ZERO);
        let after_rto = cc.view(cc.cwnd());
        assert_eq!((after_rto.0, after_rto.1), (MSS, 28 * MSS));
        let _ = cc.take_last_reason();
        // RFC 3522: the first ACK echoes the original transmission's TSval.
        cc.timeout_verdict(true);
        let now = cc.view(cc.cwnd());
        assert_eq!(
            now, before,
            "cwnd, ssthresh and phase as before the timeout"
        );
        assert_eq!(
            cc.take_reason(after_rto, now, false),
            Some(CcReason::SpuriousUndo)
        );
        // Nothing is undone twice.
        cc.timeout_verdict(true);
        assert_eq!(cc.view(cc.cwnd()), before);
    }

    #[test]
    fn a_recovery_whose_retransmissions_are_all_dsacked_is_undone() {
        let mut cc = cubic_at(40 * MSS);
        let before = cc.view(cc.cwnd());
        cc.on_congestion(
            Congestion::Loss { reduced: false },
            40 * MSS,
            MSS,
            Instant::ZERO,
        );
        // RFC 9438 4.6: cwnd = ssthresh = 0.7 * 40 segments.
        assert_eq!((cc.cwnd(), cc.ssthresh()), (28 * MSS, 28 * MSS));
        // Recovery began at SND.UNA 5000 with 3 retransmissions before it;
        // it retransmits two segments (5 in all).
        cc.watch_recovery(SeqNum(5000), 3);
        cc.on_recovery_end(28 * MSS, MSS);
        let after = cc.view(cc.cwnd());
        let _ = cc.take_last_reason();
        // A D-SACK of an older episode's octets counts for nothing.
        assert!(!cc.dsack_verdict(Some((SeqNum(4000), 1)), 5, true));
        // The first of the two: not yet.
        assert!(!cc.dsack_verdict(Some((SeqNum(6000), 1)), 5, true));
        // The second, while recovery still ran: counted, not yet undone.
        assert!(!cc.dsack_verdict(Some((SeqNum(7000), 1)), 5, false));
        assert_eq!((cc.cwnd(), cc.ssthresh()), (28 * MSS, 28 * MSS));
        // The next ACK after recovery ended undoes it: RFC 9438 4.9.
        assert!(cc.dsack_verdict(None, 5, true));
        let now = cc.view(cc.cwnd());
        assert_eq!(now, before, "cwnd, ssthresh and phase as before the loss");
        assert_eq!(
            cc.take_reason(after, now, false),
            Some(CcReason::SpuriousUndo)
        );
        // Nothing is undone twice, and timestamps do not judge a recovery.
        assert!(!cc.dsack_verdict(Some((SeqNum(7000), 1)), 5, true));
        assert!(!cc.timeout_verdict(true));
    }

    /// CUBIC at 40 segments after a loss's reduction, its recovery begun at
    /// SND.UNA 5000 with `retransmitted` retransmissions before it.
    fn cubic_recovering(retransmitted: u32) -> Cc {
        let mut cc = cubic_at(40 * MSS);
        cc.on_congestion(
            Congestion::Loss { reduced: false },
            40 * MSS,
            MSS,
            Instant::ZERO,
        );
        cc.watch_recovery(SeqNum(5000), retransmitted);
        cc
    }

    #[test]
    fn a_recovery_with_a_retransmission_not_dsacked_stays() {
        let mut cc = cubic_recovering(0);
        cc.on_recovery_end(28 * MSS, MSS);
        // Three retransmissions, two reported: a real loss among them.
        assert!(!cc.dsack_verdict(Some((SeqNum(6000), 2)), 3, true));
        assert!(!cc.dsack_verdict(None, 3, true));
        assert_eq!((cc.cwnd(), cc.ssthresh()), (28 * MSS, 28 * MSS));
    }

    #[test]
    fn a_recovery_without_retransmissions_is_not_undone_by_a_dsack() {
        // No retransmission at all: a D-SACK proves nothing.
        let mut cc = cubic_recovering(7);
        assert!(!cc.dsack_verdict(Some((SeqNum(6000), 1)), 7, true));
    }

    #[test]
    fn a_timeout_after_a_recovery_replaces_its_undo_record() {
        let mut cc = cubic_recovering(0);
        cc.on_congestion(Congestion::Timeout, 28 * MSS, MSS, Instant::ZERO);
        assert!(!cc.dsack_verdict(Some((SeqNum(6000), 1)), 1, true));
        assert_eq!(cc.cwnd(), MSS);
    }

    #[test]
    fn a_confirmed_or_repeated_timeout_stays() {
        // Confirmed by an echo of the retransmission: no undo later.
        let mut cc = cubic_at(40 * MSS);
        cc.on_congestion(Congestion::Timeout, 40 * MSS, MSS, Instant::ZERO);
        cc.timeout_verdict(false);
        cc.timeout_verdict(true);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (MSS, 28 * MSS));
        // A backed-off second timeout: the first one's record is gone too.
        let mut cc = cubic_at(40 * MSS);
        cc.on_congestion(Congestion::Timeout, 40 * MSS, MSS, Instant::ZERO);
        cc.on_congestion(Congestion::Timeout, MSS, MSS, Instant::ZERO);
        cc.timeout_verdict(true);
        assert_eq!(cc.cwnd(), MSS);
        // A loss after the timeout: its reduction is not undone by timestamps.
        let mut cc = cubic_at(40 * MSS);
        cc.on_congestion(Congestion::Timeout, 40 * MSS, MSS, Instant::ZERO);
        cc.on_congestion(Congestion::Loss { reduced: false }, MSS, MSS, Instant::ZERO);
        cc.timeout_verdict(true);
        assert!(cc.cwnd() < 40 * MSS);
    }
}
