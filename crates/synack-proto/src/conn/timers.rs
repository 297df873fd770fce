//! The connection's timers as deadlines: arming, the earliest deadline, and
//! what each one does when it fires (RFC 6298 5 for the retransmission timer).

use super::{Disposition, Origin, SegCtx, Tcb};
use crate::error::ConnError;
use crate::event::{Cause, EventKind, SendReason, TimerKind};
use crate::probe::Probes;
use crate::state::State;
use crate::time::Instant;

/// The connection's timers as deadlines, and their backoff and probe counts.
#[derive(Debug)]
pub(super) struct Timers {
    /// The retransmission timer: the RTO (RFC 6298), or while `Probes::PTO` is
    /// set the tail loss probe timeout (RFC 8985 7.2), which never fires later
    /// than the RTO would, so the two share the slot. Set through `set_rtx`.
    pub(super) rtx: Option<Instant>,
    /// Retransmissions since the last ACK of new data.
    pub(super) rtx_count: u32,
    /// The delayed-ACK timer.
    pub(super) delack: Option<Instant>,
    /// The persist timer (zero-window probes).
    pub(super) persist: Option<Instant>,
    /// Doublings of the persist timer.
    pub(super) persist_backoff: u8,
    /// The keepalive timer.
    pub(super) keepalive: Option<Instant>,
    /// Keepalive probes sent without answer.
    pub(super) keepalive_probes: u32,
    /// The deadline of the current stage, whose meaning the state gives (the three
    /// never overlap, so they share one field): in SYN_SENT/SYN_RCVD the attempt
    /// gives up (`establish_timeout`), in FIN_WAIT_2 an orphan goes
    /// (`fin_wait_2_timeout`), in TIME_WAIT 2*MSL ends.
    pub(super) stage: Option<Instant>,
    /// When the oldest unacknowledged data was first sent (user timeout).
    pub(super) unacked_since: Option<Instant>,
}

impl Tcb {
    // ----- timers --------------------------------------------------------

    pub(super) fn stop_timers(&mut self) {
        self.set_rtx(None);
        self.probes.set(Probes::TLP_DUE, false);
        self.timers.delack = None;
        self.timers.persist = None;
        self.timers.keepalive = None;
        self.timers.stage = None;
        self.timers.unacked_since = None;
    }

    /// Start the connection-establishment timer at the OPEN (FreeBSD arms TCP_KEEPINIT
    /// in `tcp_connect` and for the syncache's SYN; a later segment does not restart it).
    pub(super) fn arm_establish(&mut self, now: Instant) {
        self.timers.stage = self.cfg.establish_timeout.map(|t| now + t);
    }

    pub(super) fn arm_keepalive(&mut self, now: Instant) {
        self.timers.keepalive = self.cfg.keepalive.map(|k| now + k.idle);
        self.timers.keepalive_probes = 0;
    }

    pub(super) fn arm_persist(&mut self, now: Instant) {
        let mut t = self.rtt.rto(self.rto_bounds()).max(self.cfg.min_rto);
        for _ in 0..self.timers.persist_backoff {
            t = (t * 2).min(self.cfg.max_rto);
        }
        self.timers.persist = Some(now + t.min(self.cfg.max_rto));
    }

    pub(super) fn on_sent_something(&mut self, now: Instant) {
        // RFC 6298 5.1: start the timer if it is not running.
        if self.timers.rtx.is_none() {
            self.set_rtx(Some(now + self.rtt.rto(self.rto_bounds())));
        }
        if self.timers.unacked_since.is_none() {
            self.timers.unacked_since = Some(now);
        }
    }

    /// Set the retransmission timer to the RTO `deadline` (or stop it): any
    /// PTO in the slot gives way.
    pub(super) fn set_rtx(&mut self, deadline: Option<Instant>) {
        self.timers.rtx = deadline;
        self.probes.set(Probes::PTO, false);
    }

    /// The earliest deadline of this connection.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        [
            self.timers.rtx,
            self.timers.delack,
            self.timers.persist,
            self.timers.keepalive,
            self.timers.stage,
            self.timers
                .unacked_since
                .and_then(|t| self.cfg.user_timeout.map(|u| t + u)),
        ]
        .into_iter()
        .fold(None, Instant::earliest)
    }

    pub(super) fn fired(deadline: &mut Option<Instant>, now: Instant) -> bool {
        match *deadline {
            Some(d) if d <= now => {
                *deadline = None;
                true
            }
            _ => false,
        }
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
        let stage_fired = Tcb::fired(&mut self.timers.stage, now);
        if stage_fired && self.state == State::TimeWait {
            self.timer_event(ctx, TimerKind::TimeWait);
            self.set_state(State::Closed, Cause::TimeWaitExpired, ctx);
            return Disposition::Done;
        }
        if stage_fired && self.state == State::FinWait2 {
            self.timer_event(ctx, TimerKind::FinWait2);
            self.set_state(State::Closed, Cause::FinWait2Timeout, ctx);
            return Disposition::Done;
        }
        if stage_fired && matches!(self.state, State::SynSent | State::SynReceived) {
            // RFC 1122 4.2.3.5 lets the application give up an open attempt before
            // the SYN retransmissions run out; `establish_timeout` (FreeBSD's
            // TCP_KEEPINIT, `tcp_timer_keep` below ESTABLISHED) does so with ETIMEDOUT.
            self.timer_event(ctx, TimerKind::Establish);
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
        if Tcb::fired(&mut self.timers.rtx, now) {
            if self.probes.take(Probes::PTO) {
                // RFC 8985 7.3: the slot held the PTO: a loss probe, not an RTO.
                self.timer_event(ctx, TimerKind::LossProbe);
                self.on_pto(now);
            } else {
                // RFC 6298 5.4: the RTO.
                self.timer_event(ctx, TimerKind::Retransmit);
                if let Some(d) = self.on_rto(ctx) {
                    return d;
                }
            }
        }
        if Tcb::fired(&mut self.timers.delack, now) {
            self.timer_event(ctx, TimerKind::DelayedAck);
            if self.acks.unacked_bytes > 0 {
                self.acks.due.get_or_insert(SendReason::DelayedAck);
            }
        }
        if Tcb::fired(&mut self.timers.persist, now) {
            self.timer_event(ctx, TimerKind::Persist);
            if self.snd.wnd == 0 && !self.snd.buf.is_empty() {
                // RFC 9293 3.8.6.1: probe the zero window with one octet of new data.
                self.probes.set(Probes::WINDOW, true);
                self.timers.persist_backoff = self.timers.persist_backoff.saturating_add(1).min(16);
            }
        }
        if Tcb::fired(&mut self.timers.keepalive, now) {
            self.timer_event(ctx, TimerKind::Keepalive);
            if let Some(k) = self.cfg.keepalive {
                if self.snd.max != self.snd.una || !self.state.is_synchronized() {
                    // Data in flight: the retransmission timer watches the peer instead.
                    self.timers.keepalive = Some(now + k.idle);
                } else if self.timers.keepalive_probes >= k.count {
                    // RFC 1122 4.2.3.6: only the configured count of unanswered probes kills.
                    self.fail(ConnError::TimedOut, Cause::KeepaliveTimeout, ctx);
                    return Disposition::Done;
                } else {
                    self.timers.keepalive_probes += 1;
                    self.keepalive_probe_pending = true;
                    self.timers.keepalive = Some(now + k.interval);
                }
            }
        }
        Disposition::Done
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
            self.ssthresh = (flight / 2).max(2 * mss);
            self.cwnd = mss;
            self.recovery.active = false;
            // RFC 6675 5.1: an RTO ends the SACK recovery; RecoveryPoint = HighData
            // (`recover`) keeps a new recovery from starting before it is ACKed.
            // RFC 2018 8: the receiver may have reneged, so the SACKed marks go
            // (later ACKs rebuild them, RFC 6675 5.1: Update() goes on).
            self.recovery.board = None;
            self.recovery.recover = self.snd.max;
            self.opts.ecn.set_recover_by_ece(false);
            self.recovery.dup_acks = 0;
            // RFC 3168 6.1.2: any window reduction is announced with CWR.
            self.opts.ecn.window_reduced();
        }
        // RFC 6298 5.4-5.6: retransmit the earliest segment, back off, restart the timer.
        self.rtt.back_off();
        self.rtt_probe = None; // Karn's rule
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
