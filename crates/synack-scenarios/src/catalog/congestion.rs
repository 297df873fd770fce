//! Congestion control at work: a bulk transfer through a narrow bottleneck
//! with a short drop-tail queue. The client's CUBIC (RFC 9438, synack's
//! default as Linux's) runs slow start, overflows the queue, cuts its
//! window to 0.7 of the flight in fast recovery (sending by RFC 9937's
//! PRR), then grows it back: concave up to the window of the loss, convex
//! beyond it. The checks tell the story in numbers from the trace's
//! `CongestionChanged` events.

use super::{pattern, LIMIT, THINK};
use crate::peer::{Action, Peer, Role, Trigger};
use crate::world::World;
use crate::{Options, Outcome, ScenarioError};
use synack_proto::{CcPhase, CcReason, Duration, EventKind, Instant};
use synack_sim::{HostId, TraceKind};

/// What the client sends.
const BYTES: usize = 400_000;

/// One change of the client's congestion controller.
#[derive(Debug, Clone, Copy)]
struct Change {
    at: Instant,
    cwnd: u32,
    ssthresh: u32,
    phase: CcPhase,
    reason: CcReason,
}

/// The congestion controller's changes on host `h`, in order.
fn changes(w: &World, h: HostId) -> Vec<Change> {
    w.sim
        .trace()
        .iter()
        .filter(|e| e.host == h)
        .filter_map(|e| match &e.kind {
            TraceKind::Stack(ev) => match ev.kind {
                EventKind::CongestionChanged {
                    cwnd,
                    ssthresh,
                    phase,
                    reason,
                    ..
                } => Some(Change {
                    at: e.at,
                    cwnd,
                    ssthresh,
                    phase,
                    reason,
                }),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn secs(t: Instant) -> f64 {
    t.micros() as f64 / 1e6
}

/// The `congestion` scenario.
pub(super) fn congestion(o: &Options) -> Result<Outcome, ScenarioError> {
    let mut w = World::new(o)?;
    // 400 kbit/s and 250 ms each way: a bandwidth-delay product of about 17
    // full segments; the queue holds 8.
    w.relink(|l| {
        l.with_delay(Duration::from_millis(250))
            .with_bandwidth(400_000)
            .with_queue_limit(8)
    });
    let l = w.listen(None)?;
    let data = pattern(BYTES);
    let cp = Peer::new(w.connect_role())
        .send_on(Trigger::Established, data.clone())
        .then(Trigger::Sent, Duration::ZERO, Action::Close);
    let sp = Peer::new(Role::Accept(l)).then(Trigger::Eof, THINK, Action::Close);
    let sr = sp.record();
    w.sim.set_app(w.client, cp);
    w.sim.set_app(w.server, sp);
    w.run(LIMIT)?;
    let r = sr.borrow().clone();
    w.check_bytes("server", &data, &r);
    let ch = changes(&w, w.client);
    story(&mut w, &ch);
    w.check(w.all_closed(), "no connection is left on either side");
    w.finish()
}

/// The checks: slow start, the loss and the cut, the concave then convex
/// growth, each with its numbers.
fn story(w: &mut World, ch: &[Change]) {
    let iw = ch.first().filter(|c| c.reason == CcReason::InitialWindow);
    let loss = ch.iter().position(|c| c.reason == CcReason::Loss);
    let peak = loss
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| ch.get(i))
        .map_or(0, |c| c.cwnd);
    w.check_path(
        iw.is_some_and(|c| c.phase == CcPhase::SlowStart) && peak > iw.map_or(u32::MAX, |c| c.cwnd),
        format!(
            "slow start: cwnd {} octets at {:.2} s, {peak} when the queue overflowed (RFC 5681 3.1)",
            iw.map_or(0, |c| c.cwnd),
            iw.map_or(0.0, |c| secs(c.at))
        ),
    );
    let cut = loss.and_then(|i| ch.get(i));
    w.check_path(
        cut.is_some_and(|c| c.phase == CcPhase::Recovery && c.ssthresh < peak),
        format!(
            "the loss at {:.2} s: fast recovery, ssthresh = 0.7 x flight = {} octets (RFC 9438 4.6)",
            cut.map_or(0.0, |c| secs(c.at)),
            cut.map_or(0, |c| c.ssthresh)
        ),
    );
    let after = loss.map_or(&[][..], |i| &ch[i..]);
    let end = after.iter().find(|c| c.reason == CcReason::RecoveryEnd);
    w.check_path(
        end.is_some_and(|e| cut.is_some_and(|c| e.cwnd == c.ssthresh)),
        format!(
            "recovery ended at {:.2} s with cwnd = ssthresh, the flight brought down by PRR (RFC 9937)",
            end.map_or(0.0, |c| secs(c.at))
        ),
    );
    let concave = after.iter().find(|c| c.phase == CcPhase::CubicConcave);
    let convex = after.iter().find(|c| c.phase == CcPhase::CubicConvex);
    w.check_path(
        concave.is_some() && convex.is_some_and(|v| concave.is_some_and(|c| v.at > c.at)),
        format!(
            "CUBIC's growth: concave from {:.2} s, convex past W_max from {:.2} s (RFC 9438 4.4, 4.5)",
            concave.map_or(0.0, |c| secs(c.at)),
            convex.map_or(0.0, |c| secs(c.at))
        ),
    );
    // cwnd every half second, as a plot would read it.
    let mut line = String::new();
    let mut next = Instant::ZERO;
    let mut shown = 0;
    for (i, c) in ch.iter().enumerate() {
        let last = ch.get(i + 1).is_none_or(|n| n.at >= next);
        if c.at >= next && last && shown < 24 {
            line.push_str(&format!(" {}", c.cwnd / 1000));
            next = c.at + Duration::from_millis(500);
            shown += 1;
        }
    }
    w.check_path(
        shown >= 8,
        format!("cwnd over time, kB every 0.5 s or more:{line}"),
    );
}
