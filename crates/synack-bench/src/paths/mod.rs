//! The `paths` figure: goodput over simulated bottlenecks, synack (CUBIC,
//! NewReno) beside smoltcp 0.14 (Cubic, Reno) driven through the same
//! simulated link, and the analytic references: the link capacity, the
//! Mathis formula for Reno-like flows and RFC 9438's response function for
//! CUBIC under random loss. Then four flows sharing a bottleneck (Jain's
//! index, utilisation, the queue's drop rate), and smoltcp's own published
//! case (200 Mbit/s, 100 ms, a 64 KiB queue, 256 KiB buffers).

pub(crate) mod engine;

use crate::figures::Plan;
use crate::report::{jnum, jstr, Report};
use engine::{Contender, PathCase, PathResult};
use std::fmt::Write as _;
use synack_proto::Duration;

/// 100 Mbit/s, the grid's bottleneck.
const RATE: u64 = 100_000_000;
/// Delayed ACKs: segments per ACK in the Reno references.
const B: f64 = 2.0;

/// One row of the single-flow grid.
struct GridRow {
    label: String,
    case: PathCase,
    /// From the flow's start to the measurement window.
    warmup: Duration,
    results: Vec<(Contender, PathResult)>,
}

fn mbit(bytes_per_s: f64) -> f64 {
    bytes_per_s * 8.0 / 1e6
}

/// Loss events a random-loss cell's warm-up and measurement hold.
const WARMUP_LOSSES: f64 = 20.0;
/// See [`WARMUP_LOSSES`].
const MEASURED_LOSSES: f64 = 200.0;

/// The single-flow cases: drop-tail queues of 0.25, 1 and 4 BDP, then
/// random loss with a 1 BDP queue, at each RTT; each with its warm-up.
fn grid(quick: bool) -> Vec<(String, PathCase, Duration)> {
    let rtts: &[u64] = if quick {
        &[10, 50]
    } else {
        &[10, 50, 100, 200]
    };
    let mut out = Vec::new();
    for &ms in rtts {
        let rtt = Duration::from_millis(ms);
        // Long enough for many loss events at the lowest loss rate: 300 round
        // trips, at least 30 s (quick: a tenth).
        let secs = (ms * 300 / 1000).max(30);
        let measure = Duration::from_secs(if quick { secs / 10 + 3 } else { secs });
        let base = PathCase {
            rate: RATE,
            rtt,
            queue: 1,
            loss: 0.0,
            flows: 1,
            stagger: Duration::ZERO,
            measure,
            buffer: 0,
        };
        let bdp = base.bdp_packets();
        // Buffers hold the path and the largest queue: the window never limits.
        let buffer = (((bdp * 6.0) as usize) * engine::MTU).clamp(256 * 1024, 16 << 20);
        for (q, name) in [(0.25, "0.25"), (1.0, "1"), (4.0, "4")] {
            let case = PathCase {
                queue: ((bdp * q).round() as usize).max(2),
                buffer,
                ..base
            };
            out.push((format!("{ms} ms, queue {name} BDP"), case, rtt * 10));
        }
        for (p, name) in [(1e-4, "1e-4"), (1e-3, "1e-3"), (1e-2, "1e-2")] {
            let mut case = PathCase {
                queue: (bdp.round() as usize).max(2),
                loss: p,
                buffer,
                ..base
            };
            // The response functions are averages over many loss events, and
            // the first slow start ends far above the loss-limited window (at
            // the BDP and its queue): 30 s holds only 5 to 10 losses at 1e-4,
            // and their average still carries that start. So the warm-up
            // holds 20 loss events and the window 200, at the slower (Reno)
            // reference's packet rate (quick: a tenth).
            let mss = engine::smss(true);
            let per_loss = 1.0 / (p * engine::mathis(&case, mss, B) / mss);
            let scale = if quick { 0.1 } else { 1.0 };
            let secs = |n: f64| Duration::from_micros((n * per_loss * scale * 1e6) as u64);
            let warmup = (rtt * 10).max(secs(WARMUP_LOSSES));
            let window = secs(MEASURED_LOSSES).max(measure);
            case.measure = warmup + window;
            out.push((format!("{ms} ms, loss {name}"), case, warmup));
        }
    }
    out
}

/// Run the figure and print it into `out`.
pub(crate) fn figure(plan: &Plan, out: &mut Report) -> Result<(), String> {
    let mut rows = Vec::new();
    for (label, case, warmup) in grid(plan.quick) {
        if !plan.wants_case(&label) {
            continue;
        }
        crate::progress(plan.json, &format!("paths: {label}"));
        let mut results = Vec::new();
        for &c in contenders(plan) {
            results.push((c, engine::run(c, &case, warmup, 7)?));
        }
        rows.push(GridRow {
            label,
            case,
            warmup,
            results,
        });
    }
    let shared = shared_bottleneck(plan)?;
    let published = published_case(plan)?;
    out.sections.push(text(&rows, &shared, &published));
    out.json
        .push(("paths".into(), json(&rows, &shared, &published)));
    Ok(())
}

/// The stacks to run: all four, or synack's two (`--synack-only`).
fn contenders(plan: &Plan) -> &'static [Contender] {
    if plan.synack_only {
        &Contender::ALL[..2]
    } else {
        &Contender::ALL
    }
}

/// Four flows started 5 s apart over 100 Mbit/s, 50 ms, a 1 BDP queue.
fn shared_bottleneck(plan: &Plan) -> Result<Vec<(Contender, PathResult)>, String> {
    if !plan.wants_case("four flows") {
        return Ok(Vec::new());
    }
    let rtt = Duration::from_millis(50);
    let mut case = PathCase {
        rate: RATE,
        rtt,
        queue: 0,
        loss: 0.0,
        flows: 4,
        stagger: Duration::from_secs(5),
        measure: Duration::from_secs(if plan.quick { 20 } else { 60 }),
        buffer: 4 << 20,
    };
    case.queue = case.bdp_packets().round() as usize;
    crate::progress(plan.json, "paths: four flows");
    contenders(plan)
        .iter()
        .map(|&c| Ok((c, engine::run(c, &case, Duration::from_secs(10), 11)?)))
        .collect()
}

/// smoltcp's published case: 200 Mbit/s, 100 ms, a 64 KiB drop-tail queue
/// (43 packets of 1500 bytes), 256 KiB buffers, one flow.
fn published_case(plan: &Plan) -> Result<Vec<(Contender, PathResult)>, String> {
    if !plan.wants_case("published") {
        return Ok(Vec::new());
    }
    let case = PathCase {
        rate: 200_000_000,
        rtt: Duration::from_millis(100),
        queue: 64 * 1024 / engine::MTU,
        loss: 0.0,
        flows: 1,
        stagger: Duration::ZERO,
        measure: Duration::from_secs(if plan.quick { 10 } else { 30 }),
        buffer: 256 * 1024,
    };
    crate::progress(plan.json, "paths: smoltcp's published case");
    contenders(plan)
        .iter()
        .map(|&c| Ok((c, engine::run(c, &case, Duration::from_secs(1), 13)?)))
        .collect()
}

/// The analytic reference of a grid row for contender `c`, bytes/s.
fn reference(case: &PathCase, c: Contender) -> f64 {
    // synack sends timestamps; smoltcp 0.14 does not by default.
    let ts = matches!(c, Contender::SynackCubic | Contender::SynackNewReno);
    let mss = engine::smss(ts);
    if case.loss == 0.0 {
        engine::capacity(case, mss)
    } else if c.is_cubic() {
        engine::cubic_response(case, mss)
    } else {
        engine::mathis(case, mss, B)
    }
}

fn text(
    rows: &[GridRow],
    shared: &[(Contender, PathResult)],
    published: &[(Contender, PathResult)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "paths: one flow over 100 Mbit/s, goodput in Mbit/s (measured / reference; queues: after 10 RTTs; random loss: after 20 loss events, over 200)"
    );
    let _ = write!(s, "  {:<24}", "case");
    for (c, _) in rows.first().map_or(&[][..], |r| &r.results[..]) {
        let _ = write!(s, " {:>22}", c.name());
    }
    let _ = writeln!(s, " {:>9} {:>9} {:>9}", "capacity", "mathis", "cubic-rf");
    for r in rows {
        let _ = write!(s, "  {:<24}", r.label);
        for (c, res) in &r.results {
            let m = mbit(res.total());
            let refr = mbit(reference(&r.case, *c));
            let _ = write!(s, " {:>12.2} ({:>5.0} %)", m, 100.0 * m / refr.max(1e-9));
        }
        let mss = engine::smss(true);
        let _ = writeln!(
            s,
            " {:>9.2} {:>9} {:>9}",
            mbit(engine::capacity(&r.case, mss)),
            if r.case.loss > 0.0 {
                format!("{:.2}", mbit(engine::mathis(&r.case, mss, B)))
            } else {
                "-".into()
            },
            if r.case.loss > 0.0 {
                format!("{:.2}", mbit(engine::cubic_response(&r.case, mss)))
            } else {
                "-".into()
            }
        );
    }
    let _ = writeln!(
        s,
        "\npaths: four flows started 5 s apart, 100 Mbit/s, 50 ms, 1 BDP queue, from 10 s after the last start"
    );
    for (c, res) in shared {
        let per: Vec<String> = res
            .goodput
            .iter()
            .map(|g| format!("{:.1}", mbit(*g)))
            .collect();
        let _ = writeln!(
            s,
            "  {:<16} Jain {:.3}  utilisation {:>5.1} %  queue drops {:.3} %  flows [{}] Mbit/s",
            c.name(),
            engine::jain(&res.goodput),
            100.0 * res.utilisation,
            100.0 * res.queue_drop_rate,
            per.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "\npaths: smoltcp's published case, one flow, 200 Mbit/s, 100 ms, 64 KiB queue, 256 KiB buffers"
    );
    for (c, res) in published {
        let _ = writeln!(
            s,
            "  {:<16} goodput {:>12.0} B/s  queue drops {:.2} %",
            c.name(),
            res.total(),
            100.0 * res.queue_drop_rate
        );
    }
    s
}

fn json_result(c: Contender, r: &PathResult) -> String {
    let flows: Vec<String> = r.goodput.iter().map(|g| jnum(*g)).collect();
    format!(
        "{{\"stack\": {}, \"goodput_bytes_per_s\": [{}], \"jain\": {}, \"utilisation\": {}, \"queue_drop_rate\": {}}}",
        jstr(c.name()),
        flows.join(", "),
        jnum(engine::jain(&r.goodput)),
        jnum(r.utilisation),
        jnum(r.queue_drop_rate)
    )
}

fn json(
    rows: &[GridRow],
    shared: &[(Contender, PathResult)],
    published: &[(Contender, PathResult)],
) -> String {
    let grid: Vec<String> = rows
        .iter()
        .map(|r| {
            let res: Vec<String> = r
                .results
                .iter()
                .map(|(c, x)| {
                    let j = json_result(*c, x);
                    format!(
                        "{}, \"reference_bytes_per_s\": {}}}",
                        &j[..j.len() - 1],
                        jnum(reference(&r.case, *c))
                    )
                })
                .collect();
            format!(
                "{{\"case\": {}, \"rtt_ms\": {}, \"warmup_s\": {}, \"window_s\": {}, \"queue_packets\": {}, \"loss\": {}, \"results\": [{}]}}",
                jstr(&r.label),
                r.case.rtt.as_millis(),
                jnum(r.warmup.as_secs_f64()),
                jnum(r.case.measure.saturating_sub(r.warmup).as_secs_f64()),
                r.case.queue,
                jnum(r.case.loss),
                res.join(", ")
            )
        })
        .collect();
    let list = |v: &[(Contender, PathResult)]| {
        v.iter()
            .map(|(c, r)| json_result(*c, r))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{{\"grid\": [{}], \"four_flows\": [{}], \"published\": [{}]}}",
        grid.join(", "),
        list(shared),
        list(published)
    )
}
