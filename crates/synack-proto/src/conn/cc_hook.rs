//! Where the connection meets congestion control beyond the ACK path: the
//! per-ACK RTT samples HyStart++ needs (RFC 9406 4.2), the record of the
//! window's use the output path keeps (RFC 7661) and the report of each
//! change of cwnd, ssthresh or phase as a
//! [`EventKind::CongestionChanged`] event.

use super::{SegCtx, Tcb};
use crate::cc::{CcView, CongestionControl, SendSample};
use crate::event::EventKind;
use crate::time::{Duration, Instant};
use synack_wire::TcpRepr;

impl Tcb {
    /// What the event stream shows of congestion control now.
    #[inline]
    pub(super) fn cc_view(&self) -> CcView {
        self.cc.view(self.recovery.cwnd(&self.cc))
    }

    /// Report a change since `before` (taken when the segment or timer began
    /// to be handled), with the reason of the last change.
    #[inline]
    pub(super) fn report_cc(&mut self, before: CcView, ctx: &mut SegCtx<'_>) {
        let now = self.cc_view();
        let Some(reason) = self.cc.take_reason(before, now, self.recovery.active) else {
            return;
        };
        ctx.sink.push(
            ctx.now,
            EventKind::CongestionChanged {
                conn: self.id,
                algorithm: self.cc.algorithm(),
                cwnd: now.0,
                ssthresh: now.1,
                phase: now.2,
                reason,
            },
        );
    }

    /// RFC 5681 4.1 (`ConnConfig::restart_after_idle`; Linux's
    /// `tcp_slow_start_after_idle_check` and `tcp_cwnd_restart`, run when
    /// the application queues data): with nothing in flight and no data sent
    /// for longer than the RTO, cwnd halves once per RTO of idle time down to
    /// the restart window min(IW, cwnd), and ssthresh keeps three quarters
    /// of the old cwnd (Linux's `tcp_current_ssthresh`).
    pub(crate) fn restart_after_idle(&mut self, ctx: &mut SegCtx<'_>) {
        if !self.cfg.restart_after_idle
            || !self.state.is_synchronized()
            || self.snd.max != self.snd.una
        {
            return;
        }
        let rto = self.rtt.rto(self.rto_bounds());
        let idle_ms = super::ms_of(ctx.now).wrapping_sub(self.timers.last_sent_ms);
        let mut idle = Duration::from_millis(u64::from(idle_ms));
        if idle <= rto {
            return;
        }
        let mss = u32::from(self.opts.snd_mss).max(1);
        let cwnd = self.cc.cwnd();
        let restart = crate::cc::initial_window(mss, self.cfg.initial_cwnd_segments).min(cwnd);
        let mut w = cwnd;
        loop {
            idle = idle.saturating_sub(rto);
            if idle.is_zero() || w <= restart {
                break;
            }
            w /= 2;
        }
        let w = w.max(restart);
        let ssthresh = self.cc.ssthresh().max((cwnd >> 1) + (cwnd >> 2));
        if (w, ssthresh) == (cwnd, self.cc.ssthresh()) {
            return;
        }
        let before = self.cc_view();
        self.cc.restart_after_idle(w, ssthresh, mss);
        self.report_cc(before, ctx);
    }

    /// RFC 7661 4.3 (Linux `tcp_cwnd_validate`): after new data went out
    /// (`sent`), or when data waits and nothing went, record whether the
    /// flight fills cwnd and how many segments are out. Without a
    /// transmission only a full window is recorded, as Linux validates after
    /// `tcp_write_xmit` only when it sent or was cwnd-limited.
    pub(super) fn note_cwnd_use(&mut self, sent: bool) {
        if !self.cfg.cwnd_validation {
            return;
        }
        let mss = u32::from(self.opts.snd_mss).max(1);
        let cwnd = self.recovery.cwnd(&self.cc);
        // Segments, as Linux counts `packets_out` and cwnd: a short segment
        // counts as one.
        let out = self.snd.max.since(self.snd.una).div_ceil(mss);
        let limited = self.flight().div_ceil(mss) >= cwnd / mss;
        if !sent && !limited {
            return;
        }
        self.cc.on_sent(&SendSample {
            una: self.snd.una,
            nxt: self.snd.nxt,
            out,
            limited,
            mss,
        });
    }

    /// RFC 3522 (Eifel detection): the first ACK of new data after a
    /// timeout's retransmission echoes a TSval older than the
    /// retransmission's when it answers the original transmission: the
    /// timeout was spurious and congestion control undoes it (RFC 9438
    /// 4.9); an echo of the retransmission confirms it. Called before the
    /// echo times the retransmission (`ts_rtt_sample`), which ends the wait.
    pub(super) fn eifel_check(&mut self, seg: &TcpRepr<'_>) {
        let Some(from) = self.ts.rtt_from else {
            return;
        };
        if !seg.flags.ack() || !seg.ack.gt(self.snd.una) || seg.ack.gt(self.snd.max) {
            return;
        }
        let Some(ts) = seg.options.timestamps.filter(|_| self.opts.ts) else {
            return;
        };
        // RFC 7323 3.2: a TSecr of 0 is an unset echo and tells nothing.
        if ts.tsecr == 0 {
            return;
        }
        let spurious = (ts.tsecr.wrapping_sub(from) as i32) < 0;
        if self.cc.timeout_verdict(spurious) && self.snd.nxt.lt(self.snd.max) {
            // RFC 4015 3.2: the original transmissions arrived: resume with
            // new data instead of sending the flight again (go-back-N).
            self.snd.nxt = self.snd.max;
            // Nor are RACK's segments lost (RFC 8985 6.3 marked them).
            if let Some(log) = self.records.sent_if_any() {
                log.undo_timeout();
            }
            // RFC 6582 4.1 kept fast retransmit off for the data the timeout
            // sent again; none was sent again in vain, so losses among it may
            // start a fast recovery.
            self.recovery.recover = self.snd.una;
        }
    }

    /// RFC 3708 2 (Linux `tcp_try_undo_dsack`): D-SACK blocks (RFC 2883)
    /// count against the retransmissions of the last fast recovery; once
    /// all of them came back as duplicates, after the recovery ended, the
    /// original transmissions had arrived and congestion control undoes
    /// the reduction (RFC 9438 4.9).
    pub(super) fn dsack_undo_check(&mut self, seg: &TcpRepr<'_>) {
        if !self.opts.sack {
            return;
        }
        let blocks = seg.options.sack.as_slice();
        let mss = u32::from(self.opts.snd_mss).max(1);
        let dsack = crate::recovery::rack::is_dsack(blocks, seg.ack)
            .then(|| blocks.first())
            .flatten()
            .map(|&(l, r)| (r, r.since(l).div_ceil(mss).max(1)));
        let may_undo = !self.recovery.active;
        self.cc
            .dsack_verdict(dsack, self.counters.retransmits, may_undo);
    }

    /// RFC 9406 4.2: an RTT sample for this ACK of new data, from its
    /// timestamp echo (RFC 7323 4.1; millisecond clock) or from the timed
    /// segment (RFC 6298 3) when it acknowledges it.
    pub(super) fn cc_rtt_sample(&self, seg: &TcpRepr<'_>, now: Instant) -> Option<Duration> {
        if !seg.ack.gt(self.snd.una) {
            return None;
        }
        if let Some(ts) = seg.options.timestamps.filter(|_| self.opts.ts) {
            // RFC 7323 3.2: TSecr 0 is an unset echo; one from the future is not ours.
            let elapsed = self.ts_now(now).wrapping_sub(ts.tsecr) as i32;
            if ts.tsecr != 0 && elapsed >= 0 {
                return Some(Duration::from_millis(u64::from(elapsed.max(1) as u32)));
            }
        }
        self.rtt
            .probe()
            .filter(|(end, _)| seg.ack.ge(*end))
            .map(|(_, sent)| now.saturating_since(sent))
    }
}
