//! The scale figure: how the cost of one connection grows with the number of
//! idle established connections beside it.
//!
//! For each stack and each N, one measured connection carries a bulk
//! transfer (the bulk figure's pump, buffers and byte checks) and then a
//! 1-byte request/response loop, while N idle established connections sit in
//! the same two stacks. synack is also measured with keepalive live on every
//! idle connection end (a deadline in the timer heap each), followed by a
//! keepalive sweep. Every measurement is capped in wall time; each repetition
//! measures every N in turn, so that cost(N)/cost(0) is a ratio of figures
//! taken moments apart.

mod report;
mod smol;
mod synack;

use crate::figures::Plan;
use crate::pattern::Pattern;
use crate::progress;
use crate::report::{Report, Samples};
use std::time::{Duration, Instant};

/// What setting up the idle connections cost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setup {
    /// Idle connections established (fewer than asked when the set-up was capped).
    pub(crate) reached: usize,
    /// Wall time.
    pub(crate) elapsed: Duration,
    /// CPU time of this thread, where the system tells it.
    pub(crate) cpu: Option<Duration>,
    /// Heap bytes held afterwards for the idle connections (both ends).
    pub(crate) bytes: usize,
    /// Allocation calls during the set-up.
    pub(crate) allocs: u64,
    /// Whether a stack had a timer pending right after the set-up.
    pub(crate) timers_after: bool,
}

/// A timed loop of round trips.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loop {
    /// Round trips completed.
    pub(crate) count: u64,
    /// Wall time.
    pub(crate) elapsed: Duration,
    /// CPU time of this thread, where the system tells it.
    pub(crate) cpu: Option<Duration>,
    /// Packets on the link.
    pub(crate) packets: u64,
    /// Allocation calls.
    pub(crate) allocs: u64,
}

/// A keepalive sweep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sweep {
    /// Keepalive probes sent (and answered).
    pub(crate) probes: u64,
    /// Wall time of the whole sweep.
    pub(crate) elapsed: Duration,
}

/// Run `one` up to `max` times or until `cap` has passed (checked between
/// batches of about 1/64 of the cap); returns the count and the wall time.
pub(crate) fn timed_loop(
    max: u64,
    cap: Duration,
    mut one: impl FnMut() -> Result<(), String>,
) -> Result<(u64, Duration), String> {
    let t0 = Instant::now();
    let (mut done, mut batch) = (0u64, 1u64);
    loop {
        let k = batch.min(max - done);
        for _ in 0..k {
            one()?;
        }
        done += k;
        let elapsed = t0.elapsed();
        if done >= max || elapsed >= cap {
            return Ok((done, elapsed));
        }
        let each = elapsed.as_secs_f64() / done as f64;
        batch = ((cap.as_secs_f64() / 64.0 / each) as u64).clamp(1, 1 << 14);
    }
}

/// Which stack, and whether the idle connections hold live timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// synack, keepalive off: idle connections hold no timer.
    Synack,
    /// synack, keepalive on every idle connection end.
    SynackLive,
    /// smoltcp 0.14.
    Smoltcp,
}

/// How much work the figure does.
#[derive(Debug, Clone)]
pub(crate) struct ScalePlan {
    /// Idle connection counts for synack.
    pub(crate) ns: Vec<usize>,
    /// Idle connection counts for smoltcp (its set-up is O(N^2)).
    pub(crate) smol_ns: Vec<usize>,
    /// The largest count, for synack only (None: not run).
    pub(crate) big: Option<usize>,
    /// Repetitions at the largest count (its set-up takes seconds).
    pub(crate) big_reps: usize,
    /// Bytes per bulk transfer (unless capped).
    pub(crate) bulk_bytes: u64,
    /// Round trips per loop (unless capped).
    pub(crate) round_trips: u64,
    /// Wall-time cap of each bulk transfer and each round-trip loop; long
    /// enough that the CPU time, exact to a scheduler tick, is exact to 1 or 2%.
    pub(crate) cap: Duration,
    /// Wall-time cap of smoltcp's set-up at each N.
    pub(crate) smol_setup_cap: Duration,
}

impl ScalePlan {
    /// The plan for a quick or a full run.
    pub(crate) fn new(quick: bool) -> ScalePlan {
        if quick {
            ScalePlan {
                ns: vec![0, 1_000, 10_000, 100_000],
                smol_ns: vec![0, 1_000, 10_000],
                big: None,
                big_reps: 0,
                bulk_bytes: 1 << 30,
                round_trips: 1_000_000,
                cap: Duration::from_millis(250),
                smol_setup_cap: Duration::from_secs(5),
            }
        } else {
            ScalePlan {
                ns: vec![0, 1_000, 10_000, 100_000],
                smol_ns: vec![0, 1_000, 10_000, 100_000],
                big: Some(1_000_000),
                big_reps: 3,
                bulk_bytes: 1 << 30,
                round_trips: 600_000,
                cap: Duration::from_millis(1500),
                smol_setup_cap: Duration::from_secs(300),
            }
        }
    }
}

/// Everything measured for one stack variant at one N.
#[derive(Debug, Clone)]
pub(crate) struct Point {
    /// Stack and timers.
    pub(crate) variant: Variant,
    /// Idle connections asked for.
    pub(crate) n: usize,
    /// Idle connections set up (the last set-up).
    pub(crate) reached: usize,
    /// Bulk Gbit/s, one sample per repetition.
    pub(crate) bulk: Samples,
    /// Bulk wall time per packet on the link, ns.
    pub(crate) bulk_ns: Samples,
    /// Bulk runs that hit the cap.
    pub(crate) bulk_capped: usize,
    /// Bulk CPU seconds per byte (wall seconds where CPU time is unknown).
    pub(crate) bulk_cost: Samples,
    /// Round trips per second.
    pub(crate) rr: Samples,
    /// Round-trip wall time per packet, ns.
    pub(crate) rr_ns: Samples,
    /// Round-trip loops that hit the cap.
    pub(crate) rr_capped: usize,
    /// CPU seconds per round trip (wall seconds where CPU time is unknown).
    pub(crate) rr_cost: Samples,
    /// Set-up wall time, s.
    pub(crate) setup: Samples,
    /// Set-up CPU time of the thread, s.
    pub(crate) setup_cpu: Samples,
    /// Heap bytes per idle connection (both ends).
    pub(crate) bytes_per_conn: Samples,
    /// Allocation calls per idle connection set up (both ends).
    pub(crate) allocs_per_conn: f64,
    /// Allocation calls per packet in the bulk and round-trip phases (last repetition).
    pub(crate) allocs_per_packet: (f64, f64),
    /// Keepalive sweep, ns per probe (live variant only).
    pub(crate) sweep_ns: Samples,
    /// A timer was pending right after some set-up.
    pub(crate) timers_after: bool,
}

impl Point {
    fn new(variant: Variant, n: usize) -> Point {
        Point {
            variant,
            n,
            reached: n,
            bulk: Samples::default(),
            bulk_ns: Samples::default(),
            bulk_capped: 0,
            bulk_cost: Samples::default(),
            rr: Samples::default(),
            rr_ns: Samples::default(),
            rr_capped: 0,
            rr_cost: Samples::default(),
            setup: Samples::default(),
            setup_cpu: Samples::default(),
            bytes_per_conn: Samples::default(),
            allocs_per_conn: f64::NAN,
            allocs_per_packet: (f64::NAN, f64::NAN),
            sweep_ns: Samples::default(),
            timers_after: false,
        }
    }

    fn record_setup(&mut self, s: &Setup) {
        self.reached = s.reached;
        self.setup.0.push(s.elapsed.as_secs_f64());
        self.setup_cpu.0.extend(s.cpu.map(|c| c.as_secs_f64()));
        if s.reached > 0 {
            self.bytes_per_conn
                .0
                .push(s.bytes as f64 / s.reached as f64);
            self.allocs_per_conn = s.allocs as f64 / s.reached as f64;
        }
        self.timers_after |= s.timers_after;
    }

    fn record(&mut self, plan: &ScalePlan, b: &crate::bulk::Run, r: &Loop) {
        self.bulk.0.push(b.gbps());
        self.bulk_ns.0.push(ns_per(b.elapsed, b.packets));
        self.bulk_capped += usize::from(b.bytes < plan.bulk_bytes);
        let bulk_cpu = b.cpu.unwrap_or(b.elapsed).as_secs_f64();
        self.bulk_cost.0.push(bulk_cpu / b.bytes.max(1) as f64);
        self.rr.0.push(r.count as f64 / r.elapsed.as_secs_f64());
        self.rr_ns.0.push(ns_per(r.elapsed, r.packets));
        self.rr_capped += usize::from(r.count < plan.round_trips);
        let rr_cpu = r.cpu.unwrap_or(r.elapsed).as_secs_f64();
        self.rr_cost.0.push(rr_cpu / r.count.max(1) as f64);
        self.allocs_per_packet = (
            b.allocs as f64 / b.packets.max(1) as f64,
            r.allocs as f64 / r.packets.max(1) as f64,
        );
    }
}

/// Nanoseconds per item.
fn ns_per(elapsed: Duration, count: u64) -> f64 {
    elapsed.as_secs_f64() * 1e9 / count.max(1) as f64
}

/// The scale figure: set up, measure every point `plan.reps` times, report.
pub(crate) fn run(plan: &Plan, out: &mut Report) -> Result<(), String> {
    let sp = ScalePlan::new(plan.quick);
    let pat = Pattern::new(0x5ca1e);
    let mut points = Vec::new();
    for variant in [Variant::Synack, Variant::SynackLive] {
        for &n in sp.ns.iter().chain(sp.big.iter()) {
            points.push(Point::new(variant, n));
        }
    }
    let mut beds = Vec::new();
    if !plan.synack_only {
        for &n in &sp.smol_ns {
            let msg = format!(
                "scale: smoltcp set-up, {n} idle (O(N^2): minutes at 100000; capped at {} s)",
                sp.smol_setup_cap.as_secs()
            );
            progress(plan.json, &msg);
            let (bed, setup) = smol::setup(n, sp.smol_setup_cap)?;
            let mut pt = Point::new(Variant::Smoltcp, n);
            pt.record_setup(&setup);
            points.push(pt);
            beds.push(bed);
        }
    }
    for rep in 0..plan.reps {
        let mut smol_beds = beds.iter_mut();
        for pt in &mut points {
            let msg = format!(
                "scale: {}, timers {}, {} idle, run {}/{}",
                pt.variant.stack(),
                pt.variant.timers(),
                pt.n,
                rep + 1,
                plan.reps
            );
            match pt.variant {
                Variant::Synack | Variant::SynackLive => {
                    if Some(pt.n) == sp.big && rep >= sp.big_reps {
                        continue;
                    }
                    progress(plan.json, &msg);
                    let live = pt.variant == Variant::SynackLive;
                    let (mut bed, setup) = synack::setup(pt.n, live)?;
                    pt.record_setup(&setup);
                    let b = synack::bulk(&mut bed, sp.bulk_bytes, sp.cap, &pat)?;
                    let r = synack::round_trips(&mut bed, sp.round_trips, sp.cap)?;
                    pt.record(&sp, &b, &r);
                    if live && pt.n > 0 {
                        let s = synack::sweep(&mut bed)?;
                        pt.sweep_ns.0.push(ns_per(s.elapsed, s.probes));
                    }
                }
                Variant::Smoltcp => {
                    progress(plan.json, &msg);
                    let bed = smol_beds.next().ok_or("scale: a smoltcp bed missing")?;
                    let b = smol::bulk(bed, sp.bulk_bytes, sp.cap, &pat)?;
                    let r = smol::round_trips(bed, sp.round_trips, sp.cap)?;
                    pt.record(&sp, &b, &r);
                }
            }
        }
    }
    report::add(&sp, &points, plan.reps, out);
    Ok(())
}
