//! The CPU time of the measuring thread. On a shared machine the wall time
//! of a phase also holds the time the thread waited for a core; the CPU time
//! does not, so ratios of CPU times are steadier than ratios of rates.

use std::time::Duration;

/// Time this thread has spent on a CPU (Linux's schedstat, exact to within a
/// scheduler tick of a few ms; `None` where the system does not tell).
pub(crate) fn now() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = s.split_whitespace().next()?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(ns))
}

/// CPU time since a reading of [`now`].
pub(crate) fn since(start: Option<Duration>) -> Option<Duration> {
    Some(now()?.saturating_sub(start?))
}
