//! The scale figure's table, its JSON and its goal rows.

use super::synack::{CLIENT_KEEPALIVE, KEEPALIVE};
use super::{Point, ScalePlan, Variant};
use crate::report::{jnum, jsamples, jstr, with_spread, Better, Report, Row, Samples};
use std::fmt::Write as _;

/// The N the goals are about.
const GOAL_N: usize = 100_000;

impl Variant {
    /// The stack's name.
    pub(super) fn stack(self) -> &'static str {
        match self {
            Variant::Synack | Variant::SynackLive => "synack",
            Variant::Smoltcp => "smoltcp",
        }
    }

    /// The timers on the idle connections.
    pub(super) fn timers(self) -> &'static str {
        match self {
            Variant::SynackLive => "keepalive",
            Variant::Synack | Variant::Smoltcp => "none",
        }
    }
}

/// cost(N)/cost(0) per repetition from two costs (CPU time per unit of work)
/// measured in the same repetition.
fn cost_ratio(base: &Samples, at: &Samples) -> Samples {
    Samples(base.0.iter().zip(&at.0).map(|(b, a)| a / b).collect())
}

/// The same from two rates: the rate at N = 0 over the rate at N.
fn rate_ratio(base: &Samples, at: &Samples) -> Samples {
    Samples(base.0.iter().zip(&at.0).map(|(b, a)| b / a).collect())
}

/// Thousands separated, as the figure's N are written.
fn count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Seconds as ms below one second.
fn secs(s: &Samples) -> String {
    if s.0.is_empty() {
        return "-".into();
    }
    let m = s.median();
    let v = if m < 1.0 {
        format!("{:.1} ms", m * 1e3)
    } else {
        format!("{m:.2} s")
    };
    if s.0.len() < 2 {
        v
    } else {
        format!("{v} ±{:.0}%", s.spread() * 50.0)
    }
}

/// The point at N = 0 of the same variant.
fn base<'a>(points: &'a [Point], p: &Point) -> Option<&'a Point> {
    points.iter().find(|b| b.variant == p.variant && b.n == 0)
}

/// Both cost ratios (bulk, round trips) of `p`, from CPU time per unit of work.
fn ratios(points: &[Point], p: &Point) -> (Samples, Samples) {
    base(points, p).map_or_else(Default::default, |b| {
        (
            cost_ratio(&b.bulk_cost, &p.bulk_cost),
            cost_ratio(&b.rr_cost, &p.rr_cost),
        )
    })
}

/// Both ratios from the wall-time rates instead.
fn wall_ratios(points: &[Point], p: &Point) -> (Samples, Samples) {
    base(points, p).map_or_else(Default::default, |b| {
        (rate_ratio(&b.bulk, &p.bulk), rate_ratio(&b.rr, &p.rr))
    })
}

/// The table's cells, one row per point.
fn cells(points: &[Point]) -> Vec<[String; 13]> {
    points
        .iter()
        .map(|p| {
            let (cb, cr) = ratios(points, p);
            let idle = if p.reached < p.n {
                format!("{}*", count(p.reached))
            } else {
                count(p.n)
            };
            [
                p.variant.stack().into(),
                p.variant.timers().into(),
                idle,
                with_spread(&p.bulk),
                with_spread(&cb),
                with_spread(&p.bulk_ns),
                with_spread(&p.rr),
                with_spread(&cr),
                with_spread(&p.rr_ns),
                if p.n == 0 { "-".into() } else { secs(&p.setup) },
                // Below 0.1 s a scheduler tick is too coarse a unit.
                if p.n == 0 || p.setup.median() < 0.1 {
                    "-".into()
                } else {
                    secs(&p.setup_cpu)
                },
                if p.n == 0 {
                    "-".into()
                } else {
                    with_spread(&p.bytes_per_conn)
                },
                with_spread(&p.sweep_ns),
            ]
        })
        .collect()
}

/// The table with its header.
fn table(points: &[Point]) -> String {
    let head = [
        "stack",
        "timers",
        "idle conns",
        "bulk Gbit/s",
        "cost(N)/cost(0)",
        "ns/packet",
        "round trips/s",
        "cost(N)/cost(0)",
        "ns/packet",
        "set-up wall",
        "set-up cpu",
        "heap B/conn",
        "sweep ns/probe",
    ];
    let rows = cells(points);
    let mut width = head.map(str::len);
    for c in &rows {
        for (w, s) in width.iter_mut().zip(c.iter()) {
            *w = (*w).max(s.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, c: &[String]| {
        for (i, (s, w)) in c.iter().zip(width.iter()).enumerate() {
            let pad = " ".repeat(w - s.chars().count());
            let _ = if i < 2 {
                write!(out, "{s}{pad}  ")
            } else {
                write!(out, "{pad}{s}  ")
            };
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(&mut out, &head.map(String::from));
    out.push_str(&"-".repeat(width.iter().sum::<usize>() + 2 * (width.len() - 1)));
    out.push('\n');
    for c in &rows {
        line(&mut out, c);
    }
    out
}

/// What the table means, and what was capped.
fn notes(sp: &ScalePlan, points: &[Point], reps: usize) -> Vec<String> {
    let mut n = vec![
        format!(
            "one measured connection (64 KiB buffers, MTU 1500) beside N idle established connections, both ends of every connection in this process, one thread; the measured connection is opened after the idle ones (smoltcp's match scan passes all of them first; its poll walks all of them wherever it sits). synack's idle connections come from 10.1.x.y (20,000 per address) to one listener; smoltcp's go to one listening socket each (empty buffers, the smallest its API allows) on port 80 + i / 60,000"
        ),
        format!(
            "bulk: the bulk figure's pump, buffers and byte checks, {} MiB or {:.2} s of wall time, whichever comes first; round trips: 1-byte request, 1-byte response, {} of them or {:.2} s; a capped rate is over what completed within the cap (bytes still in flight are received and checked afterwards); {reps} repetitions, each measuring every N in turn",
            sp.bulk_bytes >> 20,
            sp.cap.as_secs_f64(),
            count(sp.round_trips as usize),
            sp.cap.as_secs_f64()
        ),
        "cost(N)/cost(0): cost = the CPU time the measuring thread got per byte (bulk) or per round trip, the median of the ratios of the two measured in the same repetition; the machine is shared, and a ratio of wall-time rates also holds the waits for a core (those ratios are in the JSON as *_wall_ratio; on a quiet machine the two agree). ns/packet = wall time of the phase / packets on the link (both directions)".into(),
        "set-up: time to open the N idle connections, both ends, on one thread: wall time, and the CPU time the thread got (shown from 0.1 s on: it is exact to a scheduler tick of a few ms; on a shared machine the wall time also holds the thread's waits for a core); heap B/conn: heap bytes the stacks hold for them afterwards, per connection (both ends), counted by the global allocator".into(),
        format!(
            "timers \"keepalive\" (live): every idle connection end has keepalive on, the server ends with idle {} s, interval {} s, {} probes (Linux's defaults), the client ends with idle {} s, so every end holds a pending deadline in its stack's timer heap (2N entries over the two stacks) during the whole measured phase, which the virtual clock never reaches (deadlines 1 µs apart, as connections arrive over time). sweep: afterwards the clock jumps past the server ends' deadlines, each idle server end sends a keepalive probe and the client end answers it; ns/probe = wall time of the whole sweep (timers, N probes, N answers) / N; checked: every probe answered, every connection still established, no probe pending",
            KEEPALIVE.idle.as_secs(),
            KEEPALIVE.interval.as_secs(),
            KEEPALIVE.count,
            CLIENT_KEEPALIVE.idle.as_secs()
        ),
    ];
    let quiet = points
        .iter()
        .filter(|p| p.variant == Variant::Synack)
        .all(|p| !p.timers_after);
    n.push(format!(
        "timers pending in synack right after setting up idle connections without keepalive: {}",
        if quiet { "none" } else { "SOME" }
    ));
    for p in points.iter().filter(|p| p.reached < p.n) {
        n.push(format!(
            "* {} set-up capped at {:.0} s of wall time: {} of {} idle connections reached in {}; its row holds for {}",
            p.variant.stack(),
            sp.smol_setup_cap.as_secs_f64(),
            count(p.reached),
            count(p.n),
            secs(&p.setup),
            count(p.reached)
        ));
    }
    let capped: Vec<String> = points
        .iter()
        .filter(|p| p.bulk_capped + p.rr_capped > 0)
        .map(|p| {
            format!(
                "{} {} idle: bulk {} of {}, round trips {} of {}",
                p.variant.stack(),
                count(p.reached),
                p.bulk_capped,
                p.bulk.0.len(),
                p.rr_capped,
                p.rr.0.len()
            )
        })
        .collect();
    if !capped.is_empty() {
        n.push(format!(
            "runs that hit the wall-time cap: {}",
            capped.join("; ")
        ));
    }
    let big: Vec<String> = points
        .iter()
        .filter(|p| p.n > *sp.ns.iter().max().unwrap_or(&0))
        .map(|p| {
            format!(
                "{} idle, timers {}: {} repetitions",
                count(p.n),
                p.variant.timers(),
                p.setup.0.len()
            )
        })
        .collect();
    if !big.is_empty() {
        n.push(format!("synack only, {}", big.join("; ")));
    }
    n
}

/// The figure as JSON: its plan and every point.
fn json(sp: &ScalePlan, points: &[Point]) -> String {
    let items: Vec<String> = points
        .iter()
        .map(|p| {
            let (cb, cr) = ratios(points, p);
            let (wb, wr) = wall_ratios(points, p);
            format!(
                "{{\"stack\":{},\"timers\":{},\"n\":{},\"reached\":{},\"bulk_gbps\":{},\"bulk_cost_ratio\":{},\"bulk_wall_ratio\":{},\"bulk_ns_per_packet\":{},\"bulk_capped_runs\":{},\"round_trips_per_s\":{},\"round_trip_cost_ratio\":{},\"round_trip_wall_ratio\":{},\"round_trip_ns_per_packet\":{},\"round_trip_capped_runs\":{},\"setup_s\":{},\"setup_cpu_s\":{},\"heap_bytes_per_conn\":{},\"allocs_per_conn\":{},\"allocs_per_packet_bulk\":{},\"allocs_per_packet_round_trip\":{},\"sweep_ns_per_probe\":{},\"timers_after_setup\":{}}}",
                jstr(p.variant.stack()),
                jstr(p.variant.timers()),
                p.n,
                p.reached,
                jsamples(&p.bulk),
                jsamples(&cb),
                jsamples(&wb),
                jsamples(&p.bulk_ns),
                p.bulk_capped,
                jsamples(&p.rr),
                jsamples(&cr),
                jsamples(&wr),
                jsamples(&p.rr_ns),
                p.rr_capped,
                jsamples(&p.setup),
                jsamples(&p.setup_cpu),
                jsamples(&p.bytes_per_conn),
                jnum(p.allocs_per_conn),
                jnum(p.allocs_per_packet.0),
                jnum(p.allocs_per_packet.1),
                jsamples(&p.sweep_ns),
                p.timers_after
            )
        })
        .collect();
    format!(
        "{{\"cap_s\":{},\"bulk_bytes\":{},\"round_trips\":{},\"smoltcp_setup_cap_s\":{},\"points\":[\n    {}\n  ]}}",
        jnum(sp.cap.as_secs_f64()),
        sp.bulk_bytes,
        sp.round_trips,
        jnum(sp.smol_setup_cap.as_secs_f64()),
        items.join(",\n    ")
    )
}

/// A goal row: synack's figure at most `goal`, smoltcp's beside it.
fn goal_row(
    key: &str,
    what: String,
    unit: &str,
    goal: f64,
    synack: Samples,
    smol: Option<(String, Samples)>,
) -> Row {
    let (peer, peer_samples) = smol.unwrap_or_else(|| ("-".into(), Samples::default()));
    Row {
        key: key.into(),
        what,
        unit: unit.into(),
        synack,
        peer,
        peer_samples,
        goal: Some(goal),
        goal_on_ratio: false,
        better: Better::Lower,
        note: None,
    }
}

/// The goal rows for the main table.
fn goal_rows(sp: &ScalePlan, points: &[Point]) -> Vec<Row> {
    let mut rows = Vec::new();
    let find = |v: Variant, n: usize| points.iter().find(|p| p.variant == v && p.n == n);
    let smol = find(Variant::Smoltcp, GOAL_N).map(|p| {
        let label = if p.reached < p.n {
            format!("smoltcp at {}", count(p.reached))
        } else {
            "smoltcp".into()
        };
        (label, ratios(points, p))
    });
    for (v, label, key) in [
        (Variant::Synack, "", ""),
        (Variant::SynackLive, ", keepalive live", "_keepalive"),
    ] {
        let Some(p) = find(v, GOAL_N) else { continue };
        let (cb, cr) = ratios(points, p);
        let n = count(GOAL_N);
        let peer = |bulk: bool| {
            smol.as_ref()
                .filter(|_| key.is_empty())
                .map(|(l, (b, r))| (l.clone(), if bulk { b.clone() } else { r.clone() }))
        };
        rows.push(goal_row(
            &format!("scale_bulk_cost_{GOAL_N}{key}"),
            format!("scale: bulk cost({n} idle)/cost(0){label}"),
            "x",
            1.1,
            cb,
            peer(true),
        ));
        rows.push(goal_row(
            &format!("scale_rr_cost_{GOAL_N}{key}"),
            format!("scale: round-trip cost({n} idle)/cost(0){label}"),
            "x",
            1.1,
            cr,
            peer(false),
        ));
    }
    if let Some(big) = sp.big {
        let (mut wall, mut cpu) = (Samples::default(), Samples::default());
        for v in [Variant::Synack, Variant::SynackLive] {
            if let Some(p) = find(v, big) {
                wall.0.extend(&p.setup.0);
                cpu.0.extend(&p.setup_cpu.0);
            }
        }
        let n = count(big);
        let mut r = goal_row(
            &format!("scale_setup_{big}"),
            format!("scale: {n} idle conns set up, wall time"),
            "s",
            10.0,
            wall,
            None,
        );
        r.note = Some(format!(
            "{n} idle conns set up: both ends (client and server stacks) on one thread, with and without keepalive, all repetitions; the CPU time is the time the thread ran on a core"
        ));
        rows.push(r);
        if !cpu.0.is_empty() {
            rows.push(goal_row(
                &format!("scale_setup_{big}_cpu"),
                format!("scale: {n} idle conns set up, CPU time"),
                "s",
                10.0,
                cpu,
                None,
            ));
        }
    }
    rows
}

/// Add the figure to the report: its table and notes, its JSON, its goal rows.
pub(super) fn add(sp: &ScalePlan, points: &[Point], reps: usize, out: &mut Report) {
    let mut text =
        String::from("scale: the cost of one connection beside N idle established connections\n\n");
    text.push_str(&table(points));
    text.push('\n');
    for n in notes(sp, points, reps) {
        let _ = writeln!(text, "  * {n}");
    }
    out.sections.push(text);
    out.json.push(("scale".into(), json(sp, points)));
    out.rows.extend(goal_rows(sp, points));
}
