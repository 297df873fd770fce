//! The virtual clock: time only moves when the script says so, firing the
//! stack's timers on the way and capturing what it sends; times are checked
//! against the script's tolerance.

use synack_proto::Instant;

use super::format::secs;
use super::sniff::Captured;
use super::{fail, Res, Runner};

impl Runner<'_> {
    /// The virtual time now.
    pub(super) fn at(&self) -> Instant {
        Instant::from_micros(self.now)
    }

    pub(super) fn tolerance(&self, expected: u64, base: u64) -> u64 {
        let pct = (expected.saturating_sub(base) as f64 * self.tol_pct / 100.0) as u64;
        self.tol_us.max(pct)
    }

    /// Drains the stack's output into the capture queue and retries a
    /// blocked call.
    pub(super) fn settle(&mut self) -> Res<()> {
        if let Some(stack) = self.stack.as_mut() {
            let now = Instant::from_micros(self.now);
            let mut buf = Vec::new();
            while stack.poll_transmit(now, &mut buf) {
                self.out.push_back(Captured {
                    at: self.now,
                    bytes: std::mem::take(&mut buf),
                });
            }
            stack.drain_events();
        }
        self.retry_pending()
    }

    pub(super) fn check_return_time(&self, line: u32, start: u64, end: u64) -> Res<()> {
        let tol = self.tolerance(end, start);
        if self.now + tol < end || self.now > end + tol {
            return fail(
                line,
                format!("the call to return at {}", secs(end)),
                format!("it returned at {}", secs(self.now)),
            );
        }
        Ok(())
    }

    /// Advances the virtual clock to `t`, firing every timer due on the way.
    pub(super) fn advance_to(&mut self, t: u64) -> Res<()> {
        loop {
            let next = self.stack.as_ref().and_then(|s| s.poll_timeout());
            match next {
                Some(d) if d.micros() <= t => {
                    self.now = self.now.max(d.micros());
                    let now = self.at();
                    if let Some(s) = self.stack.as_mut() {
                        s.handle_timeout(now);
                    }
                    self.settle()?;
                }
                _ => break,
            }
        }
        self.now = self.now.max(t);
        self.settle()
    }
}
