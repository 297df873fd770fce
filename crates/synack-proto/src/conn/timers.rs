//! The connection's timers as deadlines: one table indexed by [`Timer`],
//! arming, the earliest deadline, and what each one does when it fires
//! (RFC 6298 5 for the retransmission timer).

use super::{Disposition, Origin, SegCtx, Tcb};
use crate::cc::{Congestion, CongestionControl};
use crate::error::ConnError;
use crate::event::{Cause, EventKind, TimerKind};
use crate::probe::Probes;
use crate::state::State;
use crate::time::Instant;

/// A connection's timers. The user timeout (RFC 9293 3.8.4) is not among
/// them: its deadline follows from when the oldest unacknowledged data went
/// out and the setting, which the application may change at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Retransmission, the RTO (RFC 6298).
    Retransmit,
    /// Tail loss probe timeout, PTO (RFC 8985 7.2).
    LossProbe,
    /// RACK's reordering timer (RFC 8985 6.2 step 5).
    Reorder,
    /// Delayed ACK (RFC 1122 4.2.3.2).
    DelayedAck,
    /// Persist: zero-window probes (RFC 9293 3.8.6.1).
    Persist,
    /// Keepalive (RFC 1122 4.2.3.6).
    Keepalive,
    /// Connection establishment in SYN-SENT and SYN-RECEIVED
    /// (`ConnConfig::establish_timeout`, FreeBSD's TCP_KEEPINIT).
    Establish,
    /// An orphaned connection's FIN-WAIT-2 (`ConnConfig::fin_wait_2_timeout`).
    FinWait2,
    /// TIME-WAIT's 2*MSL (RFC 9293 3.10.7.4).
    TimeWait,
}

/// Deadline slots: timers that never run at the same time share one.
const SLOTS: usize = 5;

impl Timer {
    /// The table slot this timer uses. The RTO, the PTO and RACK's
    /// reordering timer share one: the other two stand in for the RTO while
    /// armed and never fire later than it would (RFC 8985 7.2, 8; Linux's
    /// single retransmit slot holds any of them). The
    /// three stage timers share another: each belongs to states the others
    /// never see.
    const fn slot(self) -> usize {
        match self {
            Timer::Retransmit | Timer::LossProbe | Timer::Reorder => 0,
            Timer::DelayedAck => 1,
            Timer::Persist => 2,
            Timer::Keepalive => 3,
            Timer::Establish | Timer::FinWait2 | Timer::TimeWait => 4,
        }
    }

    /// Whether another timer shares this one's slot.
    const fn shares_slot(self) -> bool {
        !matches!(self, Timer::DelayedAck | Timer::Persist | Timer::Keepalive)
    }

    /// The timer's name in the event stream.
    pub(crate) const fn kind(self) -> TimerKind {
        match self {
            Timer::Retransmit => TimerKind::Retransmit,
            Timer::LossProbe => TimerKind::LossProbe,
            Timer::Reorder => TimerKind::Reorder,
            Timer::DelayedAck => TimerKind::DelayedAck,
            Timer::Persist => TimerKind::Persist,
            Timer::Keepalive => TimerKind::Keepalive,
            Timer::Establish => TimerKind::Establish,
            Timer::FinWait2 => TimerKind::FinWait2,
            Timer::TimeWait => TimerKind::TimeWait,
        }
    }
}

/// The connection's timers: one deadline table indexed by [`Timer`], and the
/// timers' backoff and probe counts. A slot shared by timers that never run
/// together records which one holds it, so a deadline never changes meaning:
/// asking for a timer that does not hold its slot answers `None`, and arming
/// one displaces the other.
#[derive(Debug)]
pub(super) struct Timers {
    at: [Option<Instant>; SLOTS],
    holder: [Timer; SLOTS],
    /// Retransmissions since the last ACK of new data.
    pub(super) rtx_count: u32,
    /// Doublings of the persist timer.
    pub(super) persist_backoff: u8,
    /// Keepalive probes sent without answer (at most 65,535 count: Linux
    /// caps `TCP_KEEPCNT` at 127).
    pub(super) keepalive_probes: u16,
    /// When the oldest unacknowledged data was first sent (user timeout).
    pub(super) unacked_since: Option<Instant>,
    /// When data last went out, or the handshake ended before any did, in
    /// wrapping milliseconds (Linux's `lsndtime`): the idle restart's clock
    /// (RFC 5681 4.1).
    pub(super) last_sent_ms: u32,
}

impl Timers {
    /// No timer armed.
    pub(super) const fn new() -> Timers {
        Timers {
            at: [None; SLOTS],
            holder: [
                Timer::Retransmit,
                Timer::DelayedAck,
                Timer::Persist,
                Timer::Keepalive,
                Timer::Establish,
            ],
            rtx_count: 0,
            persist_backoff: 0,
            keepalive_probes: 0,
            last_sent_ms: 0,
            unacked_since: None,
        }
    }

    /// The deadline of `t`, if armed.
    #[inline]
    pub(super) fn get(&self, t: Timer) -> Option<Instant> {
        let s = t.slot();
        if t.shares_slot() && self.holder[s] != t {
            None
        } else {
            self.at[s]
        }
    }

    /// Whether `t` is armed.
    #[inline]
    pub(super) fn is_armed(&self, t: Timer) -> bool {
        self.get(t).is_some()
    }

    /// Arm `t` for `at` (a timer sharing its slot is stopped).
    #[inline]
    pub(super) fn set(&mut self, t: Timer, at: Instant) {
        let s = t.slot();
        self.holder[s] = t;
        self.at[s] = Some(at);
    }

    /// Arm `t` for `at`, or stop it.
    #[inline]
    pub(super) fn set_opt(&mut self, t: Timer, at: Option<Instant>) {
        match at {
            Some(at) => self.set(t, at),
            None => self.stop(t),
        }
    }

    /// Stop `t`.
    #[inline]
    pub(super) fn stop(&mut self, t: Timer) {
        let s = t.slot();
        if !t.shares_slot() || self.holder[s] == t {
            self.at[s] = None;
        }
    }

    /// Stop `t`, returning its deadline if it was armed.
    #[inline]
    pub(super) fn take(&mut self, t: Timer) -> Option<Instant> {
        let at = self.get(t);
        self.stop(t);
        at
    }

    /// Whether `t` was due at `now`; a timer that fired is stopped.
    #[inline]
    pub(super) fn expire(&mut self, t: Timer, now: Instant) -> bool {
        match self.get(t) {
            Some(d) if d <= now => {
                self.stop(t);
                true
            }
            _ => false,
        }
    }

    /// Stop every timer.
    pub(super) fn stop_all(&mut self) {
        self.at = [None; SLOTS];
    }

    /// The earliest armed deadline.
    #[inline]
    pub(super) fn earliest(&self) -> Option<Instant> {
        self.at.iter().copied().fold(None, Instant::earliest)
    }
}

impl Tcb {
    // ----- timers --------------------------------------------------------

    pub(super) fn stop_timers(&mut self) {
        self.timers.stop_all();
        self.probes.set(Probes::TLP_DUE, false);
        self.timers.unacked_since = None;
    }

    /// Start the connection-establishment timer at the OPEN (FreeBSD arms TCP_KEEPINIT
    /// in `tcp_connect` and for the syncache's SYN; a later segment does not restart it).
    pub(super) fn arm_establish(&mut self, now: Instant) {
        let at = self.cfg.establish_timeout.map(|t| now + t);
        self.timers.set_opt(Timer::Establish, at);
    }

    pub(super) fn arm_keepalive(&mut self, now: Instant) {
        let at = self.cfg.keepalive.map(|k| now + k.idle);
        self.timers.set_opt(Timer::Keepalive, at);
        self.timers.keepalive_probes = 0;
    }

    pub(super) fn arm_persist(&mut self, now: Instant) {
        let mut t = self.rtt.rto(self.rto_bounds()).max(self.cfg.min_rto);
        for _ in 0..self.timers.persist_backoff {
            t = (t * 2).min(self.cfg.max_rto);
        }
        self.timers
            .set(Timer::Persist, now + t.min(self.cfg.max_rto));
    }

    /// The retransmission timer runs: the RTO, or the PTO or RACK's
    /// reordering timer standing in for it.
    pub(super) fn rtx_running(&self) -> bool {
        self.timers.is_armed(Timer::Retransmit)
            || self.timers.is_armed(Timer::LossProbe)
            || self.timers.is_armed(Timer::Reorder)
    }

    pub(super) fn on_sent_something(&mut self, now: Instant) {
        // RFC 6298 5.1: start the timer if it is not running.
        if !self.rtx_running() {
            self.set_rtx(Some(now + self.rtt.rto(self.rto_bounds())));
        }
        if self.timers.unacked_since.is_none() {
            self.timers.unacked_since = Some(now);
        }
    }

    /// Set the retransmission timer to the RTO `deadline` (or stop it): any
    /// PTO standing in for it gives way.
    pub(super) fn set_rtx(&mut self, deadline: Option<Instant>) {
        match deadline {
            Some(at) => self.timers.set(Timer::Retransmit, at),
            None => {
                self.timers.stop(Timer::Retransmit);
                self.timers.stop(Timer::LossProbe);
                self.timers.stop(Timer::Reorder);
            }
        }
    }

    /// The earliest deadline of this connection.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let user = self
            .timers
            .unacked_since
            .and_then(|t| self.cfg.user_timeout.map(|u| t + u));
        Instant::earliest(self.timers.earliest(), user)
    }

    pub(super) fn timer_event(&self, ctx: &mut SegCtx<'_>, timer: TimerKind) {
        ctx.sink.push(
            ctx.now,
            EventKind::TimerFired {
                conn: self.id,
                timer,
            },
        );
    }

    /// Fire every expired timer. Returns `BackToListen` when a half-open entry gives up.
    pub(crate) fn on_timeout(&mut self, ctx: &mut SegCtx<'_>) -> Disposition {
        let now = ctx.now;
        if self.timers.expire(Timer::TimeWait, now) {
            self.timer_event(ctx, Timer::TimeWait.kind());
            self.set_state(State::Closed, Cause::TimeWaitExpired, ctx);
            return Disposition::Done;
        }
        if self.timers.expire(Timer::FinWait2, now) {
            self.timer_event(ctx, Timer::FinWait2.kind());
            self.set_state(State::Closed, Cause::FinWait2Timeout, ctx);
            return Disposition::Done;
        }
        if self.timers.expire(Timer::Establish, now) {
            // RFC 1122 4.2.3.5 lets the application give up an open attempt before
            // the SYN retransmissions run out; `establish_timeout` (FreeBSD's
            // TCP_KEEPINIT, `tcp_timer_keep` below ESTABLISHED) does so with ETIMEDOUT.
            self.timer_event(ctx, Timer::Establish.kind());
            if let (State::SynReceived, Origin::Passive(_)) = (self.state, self.origin) {
                // A listener's half-open entry has no application to tell: it goes quietly.
                self.set_state(State::Closed, Cause::EstablishTimeout, ctx);
                return Disposition::BackToListen;
            }
            self.fail(ConnError::TimedOut, Cause::EstablishTimeout, ctx);
            return Disposition::Done;
        }
        if let (Some(since), Some(limit)) = (self.timers.unacked_since, self.cfg.user_timeout) {
            if since + limit <= now && self.snd.max.gt(self.snd.una) {
                // RFC 9293 3.8.4: the user timeout aborts the connection.
                self.timer_event(ctx, TimerKind::UserTimeout);
                self.fail(ConnError::TimedOut, Cause::UserTimeout, ctx);
                return Disposition::Done;
            }
        }
        if self.timers.expire(Timer::LossProbe, now) {
            // RFC 8985 7.3: the PTO stood in for the RTO: a loss probe, not an RTO.
            self.timer_event(ctx, Timer::LossProbe.kind());
            self.on_pto(now);
        } else if self.timers.expire(Timer::Reorder, now) {
            // RFC 8985 6.2 step 5: judge the segments RACK left waiting.
            self.timer_event(ctx, Timer::Reorder.kind());
            self.on_reorder_timeout(now);
        } else if self.timers.expire(Timer::Retransmit, now) {
            // RFC 6298 5.4: the RTO.
            self.timer_event(ctx, Timer::Retransmit.kind());
            if let Some(d) = self.on_rto(ctx) {
                return d;
            }
        }
        if self.timers.expire(Timer::DelayedAck, now) {
            self.timer_event(ctx, Timer::DelayedAck.kind());
            if self.acks.unacked_bytes > 0 {
                self.acks.due.get_or_insert(super::Queued::DelayedAck);
            }
        }
        if self.timers.expire(Timer::Persist, now) {
            self.timer_event(ctx, Timer::Persist.kind());
            if self.snd.wnd == 0 && !self.snd.buf.is_empty() {
                // RFC 9293 3.8.6.1: probe the zero window with one octet of new data.
                self.probes.set(Probes::WINDOW, true);
                self.timers.persist_backoff = self.timers.persist_backoff.saturating_add(1).min(16);
            }
        }
        if self.timers.expire(Timer::Keepalive, now) {
            self.timer_event(ctx, Timer::Keepalive.kind());
            if let Some(k) = self.cfg.keepalive {
                if self.snd.max != self.snd.una || !self.state.is_synchronized() {
                    // Data in flight: the retransmission timer watches the peer instead.
                    self.timers.set(Timer::Keepalive, now + k.idle);
                } else if u32::from(self.timers.keepalive_probes) >= k.count {
                    // RFC 1122 4.2.3.6: only the configured count of unanswered probes kills.
                    self.fail(ConnError::TimedOut, Cause::KeepaliveTimeout, ctx);
                    return Disposition::Done;
                } else {
                    self.timers.keepalive_probes = self.timers.keepalive_probes.saturating_add(1);
                    self.keepalive_probe_pending = true;
                    self.timers.set(Timer::Keepalive, now + k.interval);
                }
            }
        }
        Disposition::Done
    }

    /// Retransmission timeouts since the last acknowledgment of new data.
    pub(crate) fn consecutive_timeouts(&self) -> u32 {
        self.timers.rtx_count
    }

    pub(super) fn on_rto(&mut self, ctx: &mut SegCtx<'_>) -> Option<Disposition> {
        // What goes again now goes because the timer expired.
        self.probes.set(Probes::PMTU_RESEND, false);
        if self.snd.max == self.snd.una {
            return None;
        }
        self.counters.rto_expirations += 1;
        self.timers.rtx_count += 1;
        // RFC 8985 7.3: the RTO is the last resort after a loss probe; the
        // timeout ends any TLP episode (as Linux's `tcp_enter_loss`).
        self.probes.set(Probes::EPISODE | Probes::TLP_DUE, false);
        let limit = match self.state {
            State::SynSent => self.cfg.syn_retries,
            State::SynReceived => self.cfg.synack_retries,
            _ => self.cfg.data_retries,
        };
        if self.timers.rtx_count > limit {
            if self.state == State::SynReceived {
                if let Origin::Passive(_) = self.origin {
                    // The half-open entry gives up silently (Linux: request sock expires).
                    self.set_state(State::Closed, Cause::RetransmitLimit, ctx);
                    return Some(Disposition::BackToListen);
                }
            }
            self.fail(ConnError::TimedOut, Cause::RetransmitLimit, ctx);
            return Some(Disposition::Done);
        }
        if !self.syn_acked() {
            self.snd.syn_retransmitted = true;
        }
        if self.state == State::SynSent
            && self.cfg.syn_rexmit_drop_options
            && self.timers.rtx_count >= 3
        {
            // FreeBSD `tcp_timer_rexmt` (rexmit_drop_options): no answer to three SYNs
            // may mean a middlebox that drops unknown options, so the third and later
            // retransmissions carry only the MSS option (which RFC 9293 3.7.1 wants on
            // every SYN).
            self.snd.syn_options_dropped = true;
        }
        // RFC 5681 3.1 (4): after a timeout, ssthresh = max(FlightSize/2, 2*SMSS), cwnd = 1 MSS.
        if self.syn_acked() {
            let mss = u32::from(self.opts.snd_mss);
            let flight = self.snd.max.since(self.snd.una);
            let cc_before = self.cc_view();
            self.cc
                .on_congestion(Congestion::Timeout, flight, mss, ctx.now);
            // RFC 6675 5.1: an RTO ends the SACK recovery; RecoveryPoint = HighData
            // (`recover`) keeps a new recovery from starting before it is ACKed.
            // RFC 2018 8: the receiver may have reneged, so the SACKed marks go
            // (later ACKs rebuild them, RFC 6675 5.1: Update() goes on).
            self.recovery.on_timeout(self.snd.max);
            if let Some(log) = self.records.sent_if_any() {
                log.on_timeout();
            }
            self.report_cc(cc_before, ctx);
            self.opts.ecn.set_recover_by_ece(false);
            // RFC 3168 6.1.2: any window reduction is announced with CWR.
            self.opts.ecn.window_reduced();
        }
        // RFC 6298 5.4-5.6: retransmit the earliest segment, back off, restart the timer.
        self.rtt.back_off();
        // Karn's rule.
        self.rtt.clear_probe();
        // RFC 7323 4.1: the ACK's TSecr may still time the retransmission (also of a
        // SYN that offered timestamps: the SYN,ACK's echo).
        if self.opts.ts || (self.cfg.timestamps && !self.syn_acked()) {
            self.ts.rtt_from = Some(self.ts_now(ctx.now));
        }
        self.snd.nxt = self.snd.una;
        self.set_rtx(Some(ctx.now + self.rtt.rto(self.rto_bounds())));
        None
    }
}
