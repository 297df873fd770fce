//! `synack-bench`: synack side by side with smoltcp and the Linux kernel.
//!
//! Four figures, each measured in one run and printed as a table with the
//! ratio synack / peer:
//!
//! 1. bulk throughput of one connection in memory (MTU 1500 and 9000), beside
//!    smoltcp over an equivalent link and beside the physical bound (the copies
//!    and checksums any stack must do for the same bytes);
//! 2. connection lifecycles per second (handshake, 1-byte request and response,
//!    teardown, TIME_WAIT run out), beside smoltcp and the kernel on 127.0.0.1;
//! 3. heap bytes per idle established connection and the connections that fit
//!    in 4 GiB, beside smoltcp's socket;
//! 4. spoofed SYNs per second absorbed with SYN cookies while interleaved
//!    legitimate handshakes complete.
//!
//! Every measurement is repeated and the median reported with its spread.
//! `--quick` runs in a few seconds; `--json` prints the results as JSON.

mod alloc;
mod bulk;
mod flood;
mod lifecycle;
mod memory;
mod pattern;
mod report;
mod smol_pair;
mod synack_pair;

use report::{Better, Row, Samples};
use std::time::Duration;
use synack_proto::SynCookies;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

const USAGE: &str = "\
usage: synack-bench [--quick] [--json] [--only LIST] [--reps N]

  --quick      a few seconds in all (smaller counts, one repetition)
  --json       print the results as JSON instead of a table
  --only LIST  comma-separated subset of: bulk,lifecycle,memory,flood
  --reps N     repetitions of each timed measurement (default 5, quick 1)
  --synack-only  skip the peers and the bound (to profile synack alone)
";

/// How much work each figure does.
#[derive(Debug, Clone, Copy)]
struct Plan {
    quick: bool,
    synack_only: bool,
    reps: usize,
    bulk_bytes: u64,
    lifecycles: u64,
    kernel_time: Duration,
    memory_conns: usize,
    flood_syns: u64,
    flood_every: u64,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                quick,
                synack_only: false,
                reps: 1,
                bulk_bytes: 64 << 20,
                lifecycles: 20_000,
                kernel_time: Duration::from_millis(300),
                memory_conns: 10_000,
                flood_syns: 200_000,
                flood_every: 1000,
            }
        } else {
            Plan {
                quick,
                synack_only: false,
                reps: 5,
                bulk_bytes: 1 << 30,
                lifecycles: 300_000,
                kernel_time: Duration::from_secs(2),
                memory_conns: 100_000,
                flood_syns: 2_000_000,
                flood_every: 1000,
            }
        }
    }
}

fn row(
    key: &str,
    what: &str,
    unit: &str,
    synack: Samples,
    peer: &str,
    peer_samples: Samples,
) -> Row {
    Row {
        key: key.into(),
        what: what.into(),
        unit: unit.into(),
        synack,
        peer: peer.into(),
        peer_samples,
        goal: None,
        goal_on_ratio: true,
        better: Better::Higher,
        note: None,
    }
}

fn progress(json: bool, msg: &str) {
    if !json {
        eprintln!("  {msg}");
    }
}

fn bench_bulk(plan: &Plan, json: bool, rows: &mut Vec<Row>) -> Result<(), String> {
    let pat = pattern::Pattern::new(0xb01c);
    for mtu in [1500u16, 9000] {
        let mss = usize::from(mtu) - 40;
        let (mut s, mut m, mut b) = (Samples::default(), Samples::default(), Samples::default());
        let mut pkts = (0u64, 0u64, 0u64);
        for rep in 0..plan.reps {
            progress(
                json,
                &format!("bulk MTU {mtu}: run {}/{}", rep + 1, plan.reps),
            );
            let rs = bulk::synack(mtu, plan.bulk_bytes, &pat)?;
            s.0.push(bulk::gbps(plan.bulk_bytes, rs.elapsed));
            pkts = (rs.packets, 0, rs.timer_jumps);
            if !plan.synack_only {
                let rm = bulk::smoltcp(mtu, plan.bulk_bytes, &pat)?;
                let rb = bulk::bound(mss, plan.bulk_bytes, &pat)?;
                m.0.push(bulk::gbps(plan.bulk_bytes, rm.elapsed));
                b.0.push(bulk::gbps(plan.bulk_bytes, rb.elapsed));
                pkts = (rs.packets, rm.packets, rs.timer_jumps + rm.timer_jumps);
            }
        }
        let mib = plan.bulk_bytes >> 20;
        let mut r = row(
            &format!("bulk_mtu{mtu}_vs_smoltcp"),
            &format!("bulk, MTU {mtu}, {mib} MiB"),
            "Gbit/s",
            s.clone(),
            "smoltcp",
            m,
        );
        if mtu == 1500 {
            r.goal = Some(2.0);
        }
        r.note = Some(format!(
            "bulk MTU {mtu}: packets on the link per run: synack {}, smoltcp {}; timer jumps {} (64 KiB buffers, checksums on, bytes verified)",
            pkts.0, pkts.1, pkts.2
        ));
        rows.push(r);
        let mut r = row(
            &format!("bulk_mtu{mtu}_vs_bound"),
            &format!("bulk, MTU {mtu}, fraction of bound"),
            "Gbit/s",
            s,
            "bound",
            b,
        );
        if mtu == 1500 {
            r.goal = Some(0.6);
        }
        rows.push(r);
    }
    let last = rows.pop().ok_or("no rows")?;
    rows.push(Row {
        note: Some(
            "bound = per 64 KiB: app -> send buffer copy; per segment: copy into segment, checksum on send, checksum on receive, copy out to the app; plus the app's compare (as both stacks' runs do)".into(),
        ),
        ..last
    });
    Ok(())
}

fn bench_lifecycle(plan: &Plan, json: bool, rows: &mut Vec<Row>) -> Result<(), String> {
    let (mut s, mut m, mut k) = (Samples::default(), Samples::default(), Samples::default());
    let kreps = plan.reps.min(3);
    let mut kcount = 0;
    let mut per = (0.0, 0.0);
    for rep in 0..plan.reps {
        progress(json, &format!("lifecycle: run {}/{}", rep + 1, plan.reps));
        let rs = lifecycle::synack(plan.lifecycles)?;
        s.0.push(rs.rate());
        per.0 = rs.packets as f64 / rs.count as f64;
        if plan.synack_only {
            continue;
        }
        let rm = lifecycle::smoltcp(plan.lifecycles)?;
        m.0.push(rm.rate());
        per.1 = rm.packets as f64 / rm.count as f64;
        if rep < kreps {
            let r = lifecycle::kernel(plan.kernel_time)?;
            kcount = r.count;
            k.0.push(r.rate());
        }
    }
    let mut r = row(
        "lifecycle_vs_smoltcp",
        "lifecycles",
        "conn/s",
        s.clone(),
        "smoltcp",
        m,
    );
    r.goal = Some(2.0);
    r.note = Some(format!(
        "lifecycle: connect, handshake, 1-byte request, 1-byte response, close, teardown, TIME_WAIT expired on the virtual clock; {} per in-memory run; packets per lifecycle: synack {:.1}, smoltcp {:.1}",
        plan.lifecycles, per.0, per.1
    ));
    rows.push(r);
    let mut r = row(
        "lifecycle_vs_kernel",
        "lifecycles",
        "conn/s",
        s,
        "kernel 127.0.0.1",
        k,
    );
    r.goal = Some(30.0);
    r.note = Some(format!(
        "kernel: std::net, client and server thread, normal close (no SO_LINGER), {:.1} s per run ({kcount} in the last), {kreps} runs",
        plan.kernel_time.as_secs_f64()
    ));
    rows.push(r);
    Ok(())
}

fn bench_memory(plan: &Plan, json: bool, rows: &mut Vec<Row>) -> Result<(), String> {
    progress(json, &format!("memory: {} connections", plan.memory_conns));
    let f = memory::synack(plan.memory_conns)?;
    let (smol_state, smol_total) = memory::smoltcp_socket();
    let mut r = row(
        "idle_conn_bytes",
        "bytes per idle established conn end",
        "B",
        Samples(vec![f.per_end_used]),
        "smoltcp socket",
        Samples(vec![smol_state as f64]),
    );
    r.goal = Some(512.0);
    r.goal_on_ratio = false;
    r.better = Better::Lower;
    r.note = Some(format!(
        "memory: {} connections, both ends in one process, every heap byte of both stacks counted; right after the handshake {:.0} B per end, after a 1-byte exchange {:.0} B ({:.1} allocations per end); smoltcp: {smol_state} B state + 2 x 64 KiB buffers allocated up front = {smol_total} B",
        f.connections, f.per_end_fresh, f.per_end_used, f.allocs_per_end
    ));
    rows.push(r);
    let four_gib = 4.0 * (1u64 << 30) as f64;
    let mut r = row(
        "conns_in_4gib",
        "established conns in 4 GiB (extrapolated)",
        "conns",
        Samples(vec![four_gib / (2.0 * f.per_end_used)]),
        "smoltcp 64K bufs",
        Samples(vec![four_gib / (2.0 * smol_total as f64)]),
    );
    r.goal = Some(1e6);
    r.goal_on_ratio = false;
    r.note = Some(format!(
        "connections in 4 GiB: extrapolated from {} measured connections (two ends each, both in one process)",
        f.connections
    ));
    rows.push(r);
    Ok(())
}

fn bench_flood(plan: &Plan, json: bool, rows: &mut Vec<Row>) -> Result<(), String> {
    for (key, label, policy, backlog) in [
        (
            "syn_flood_always",
            "SYN flood, cookies always",
            SynCookies::Always,
            128usize,
        ),
        (
            "syn_flood_whenfull",
            "SYN flood, cookies when full (backlog 64)",
            SynCookies::WhenFull,
            64,
        ),
    ] {
        let mut s = Samples::default();
        let (mut att, mut done) = (0u64, 0u64);
        for rep in 0..plan.reps.min(3) {
            progress(json, &format!("{label}: run {}", rep + 1));
            let r = flood::synack(policy, backlog, plan.flood_syns, plan.flood_every)?;
            if r.synacks < r.spoofed {
                return Err(format!(
                    "{label}: {} SYN,ACKs for {} SYNs",
                    r.synacks, r.spoofed
                ));
            }
            s.0.push(r.rate());
            att += r.attempted;
            done += r.completed;
        }
        let mut r = row(key, label, "SYN/s", s, "-", Samples::default());
        r.goal = Some(2e6);
        r.goal_on_ratio = false;
        r.note = Some(format!(
            "{label}: {} spoofed SYNs per run, 1 legitimate handshake per {}: {done} of {att} completed",
            plan.flood_syns, plan.flood_every
        ));
        rows.push(r);
        let mut r = row(
            &format!("{key}_legit_pct"),
            "  legitimate handshakes completed",
            "%",
            Samples(vec![100.0 * done as f64 / att.max(1) as f64]),
            "-",
            Samples::default(),
        );
        r.goal = Some(100.0);
        r.goal_on_ratio = false;
        rows.push(r);
    }
    Ok(())
}

fn run() -> Result<(), String> {
    let mut json = false;
    let mut quick = false;
    let mut synack_only = false;
    let mut only: Option<Vec<String>> = None;
    let mut reps = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--quick" => quick = true,
            "--synack-only" => synack_only = true,
            "--only" => {
                only = Some(
                    args.next()
                        .ok_or("--only needs a list")?
                        .split(',')
                        .map(str::to_owned)
                        .collect(),
                )
            }
            "--reps" => {
                reps = Some(
                    args.next()
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|n| *n > 0)
                        .ok_or("--reps needs a positive number")?,
                )
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let mut plan = Plan::new(quick);
    if let Some(n) = reps {
        plan.reps = n;
    }
    plan.synack_only = synack_only;
    let wants = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == name));
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful figures");
    }
    let t0 = std::time::Instant::now();
    let mut rows = Vec::new();
    if wants("bulk") {
        bench_bulk(&plan, json, &mut rows)?;
    }
    if wants("lifecycle") {
        bench_lifecycle(&plan, json, &mut rows)?;
    }
    if wants("memory") {
        bench_memory(&plan, json, &mut rows)?;
    }
    if wants("flood") {
        bench_flood(&plan, json, &mut rows)?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    if json {
        println!(
            "{{\n  \"quick\": {},\n  \"reps\": {},\n  \"cpus\": {cpus},\n  \"seconds\": {},\n  \"rows\": {}\n}}",
            plan.quick,
            plan.reps,
            report::jnum(secs),
            report::json_rows(&rows)
        );
    } else {
        println!(
            "synack-bench: {} run, {} repetitions, medians (± half the max-min spread), {cpus} CPUs, {secs:.1} s\n",
            if plan.quick { "quick" } else { "full" },
            plan.reps
        );
        print!("{}", report::table(&rows));
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("synack-bench: {e}");
        std::process::exit(1);
    }
}
