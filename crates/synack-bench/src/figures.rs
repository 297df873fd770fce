//! The figures: each runs its measurements and appends its rows.

use crate::report::{Better, Report, Row, Samples};
use crate::{bulk, flood, lifecycle, memory, pattern, progress, relay};
use std::time::Duration;
use synack_proto::SynCookies;

/// How much work each figure does.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) quick: bool,
    /// Print JSON (and no progress lines).
    pub(crate) json: bool,
    pub(crate) synack_only: bool,
    /// The paths figure's cases to run, by label substring (`None`: all).
    pub(crate) cases: Option<Vec<String>>,
    pub(crate) reps: usize,
    pub(crate) bulk_bytes: u64,
    pub(crate) lifecycles: u64,
    pub(crate) kernel_time: Duration,
    pub(crate) memory_conns: usize,
    pub(crate) flood_syns: u64,
    pub(crate) flood_every: u64,
}

impl Plan {
    /// Whether the paths case labelled `label` is to be run.
    pub(crate) fn wants_case(&self, label: &str) -> bool {
        self.cases
            .as_ref()
            .is_none_or(|c| c.iter().any(|s| label.contains(s.as_str())))
    }

    pub(crate) fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                quick,
                json: false,
                synack_only: false,
                cases: None,
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
                json: false,
                synack_only: false,
                cases: None,
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

/// A row with a peer, no goal yet, higher is better.
pub(crate) fn row(
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

/// A row of allocation calls per unit (packet, connection): fewer is better, no goal.
fn alloc_row(key: &str, what: &str, unit: &str, synack: f64, peer: Option<f64>) -> Row {
    let mut r = row(
        key,
        what,
        unit,
        Samples(vec![synack]),
        if peer.is_some() { "smoltcp" } else { "-" },
        Samples(peer.into_iter().collect()),
    );
    r.better = Better::Lower;
    r
}

/// Bulk throughput at MTU 1500 and 9000, beside smoltcp and the bound.
pub(crate) fn bulk(plan: &Plan, out: &mut Report) -> Result<(), String> {
    let pat = pattern::Pattern::new(0xb01c);
    let mut dropped = (0u32, 0u32, 0u32);
    for mtu in [1500u16, 9000] {
        let mss = usize::from(mtu) - 40;
        let (mut s, mut m, mut b) = (Samples::default(), Samples::default(), Samples::default());
        let (mut rs_last, mut rm_last) = (None, None);
        for rep in 0..plan.reps {
            let msg = format!("bulk MTU {mtu}: run {}/{}", rep + 1, plan.reps);
            progress(plan.json, &msg);
            let rs = bulk::synack(mtu, plan.bulk_bytes, &pat, bulk::Api::Copy)?;
            s.0.push(rs.gbps());
            dropped.0 += bulk::CORRUPTED;
            dropped.1 += rs.corrupt_dropped;
            rs_last = Some(rs);
            if !plan.synack_only {
                let rm = bulk::smoltcp(mtu, plan.bulk_bytes, &pat, bulk::Api::Copy)?;
                let rb = bulk::bound(mss, plan.bulk_bytes, &pat)?;
                m.0.push(rm.gbps());
                b.0.push(rb.gbps());
                dropped.2 += rm.corrupt_dropped;
                rm_last = Some(rm);
            }
        }
        let rs = rs_last.ok_or("bulk: no run")?;
        let mib = plan.bulk_bytes >> 20;
        let mut r = row(
            &format!("bulk_mtu{mtu}_vs_smoltcp"),
            &format!("bulk, MTU {mtu}, {mib} MiB"),
            "Gbit/s",
            s.clone(),
            "smoltcp",
            m,
        );
        r.goal = Some(1.3);
        r.note = Some(format!(
            "bulk MTU {mtu}: packets on the link per run: synack {}, smoltcp {}; timer jumps {} (64 KiB buffers, bytes verified); allocation calls in the last run: synack {}, smoltcp {}",
            rs.packets,
            rm_last.map_or(0, |r| r.packets),
            rs.timer_jumps + rm_last.map_or(0, |r| r.timer_jumps),
            rs.allocs,
            rm_last.map_or(0, |r| r.allocs),
        ));
        out.rows.push(r);
        let mut r = row(
            &format!("bulk_mtu{mtu}_vs_bound"),
            &format!("bulk, MTU {mtu}, fraction of bound"),
            "Gbit/s",
            s,
            "bound",
            b,
        );
        if mtu == 1500 {
            r.goal = Some(0.75);
        }
        out.rows.push(r);
        let per = |r: &bulk::Run| r.allocs as f64 / r.packets.max(1) as f64;
        out.rows.push(alloc_row(
            &format!("bulk_mtu{mtu}_allocs_per_packet"),
            "  allocations per packet",
            "allocs",
            per(&rs),
            rm_last.as_ref().map(per),
        ));
    }
    if let Some(r) = out.rows.iter_mut().rev().find(|r| r.peer == "bound") {
        r.note = Some(
            "bound = per 64 KiB: app -> send buffer copy; per segment: copy into segment, checksum on send, checksum on receive, copy out to the app; plus the app's compare (as both stacks' runs do); all three rates are per second of the measuring thread's CPU time (one thread each; waiting for a shared core does not count)".into(),
        );
    }
    checksum_verdict(plan, dropped, out);
    bulk_in_place(plan, out, &pat)
}

/// Bulk at MTU 1500 with the application working in the stacks' buffers:
/// synack's `send_with` / `recv_with` beside smoltcp's closure `send` /
/// `recv` (the same pattern written and checked, one copy fewer each way).
fn bulk_in_place(plan: &Plan, out: &mut Report, pat: &pattern::Pattern) -> Result<(), String> {
    let (mut s, mut m) = (Samples::default(), Samples::default());
    for rep in 0..plan.reps {
        let msg = format!("bulk MTU 1500 in place: run {}/{}", rep + 1, plan.reps);
        progress(plan.json, &msg);
        s.0.push(bulk::synack(1500, plan.bulk_bytes, pat, bulk::Api::InPlace)?.gbps());
        if !plan.synack_only {
            m.0.push(bulk::smoltcp(1500, plan.bulk_bytes, pat, bulk::Api::InPlace)?.gbps());
        }
    }
    let mut r = row(
        "bulk_mtu1500_in_place_vs_smoltcp",
        "bulk, MTU 1500, in place",
        "Gbit/s",
        s,
        "smoltcp",
        m,
    );
    r.note = Some(
        "in place: the sender writes the pattern straight into the send buffer, the receiver checks the bytes where they lie (synack send_with / recv_with, smoltcp's send / recv with a closure); checksums verified, bytes checked, CPU time as above".into(),
    );
    out.rows.push(r);
    Ok(())
}

/// The note (and failure) for the corrupted segments of the bulk runs:
/// `(handed to each stack, dropped by synack, refused by smoltcp)`.
fn checksum_verdict(plan: &Plan, (sent, synack, smol): (u32, u32, u32), out: &mut Report) {
    if synack != sent {
        out.fail(format!(
            "synack dropped {synack} of {sent} segments with a flipped payload bit as bad checksums"
        ));
    }
    if !plan.synack_only && smol != sent {
        out.fail(format!(
            "smoltcp refused {smol} of {sent} segments with a flipped payload bit"
        ));
    }
    let smol = if plan.synack_only {
        "smoltcp not run".to_string()
    } else {
        format!("smoltcp neither delivered nor acknowledged {smol}")
    };
    let note = format!(
        "checksums verified on receive, shown: before each bulk run {} data segments with one payload bit flipped went to the receiver ahead of the intact ones; of {sent} in all, synack dropped {synack} (its bad-TCP-checksum drop counter), {smol}",
        bulk::CORRUPTED
    );
    if let Some(r) = out.rows.last_mut() {
        r.note = Some(note);
    }
}

/// Lifecycles per second beside smoltcp and the kernel, with allocations.
pub(crate) fn lifecycle(plan: &Plan, out: &mut Report) -> Result<(), String> {
    let json = plan.json;
    let (mut s, mut m, mut k) = (Samples::default(), Samples::default(), Samples::default());
    // Beside the kernel (wall time), synack's wall-time rate.
    let mut s_wall = Samples::default();
    let kreps = plan.reps.min(3);
    let mut kcount = 0;
    let (mut last_s, mut last_m) = (None, None);
    for rep in 0..plan.reps {
        progress(json, &format!("lifecycle: run {}/{}", rep + 1, plan.reps));
        let rs = lifecycle::synack(plan.lifecycles)?;
        s.0.push(rs.rate());
        s_wall.0.push(rs.wall_rate());
        last_s = Some(rs);
        if plan.synack_only {
            continue;
        }
        let rm = lifecycle::smoltcp(plan.lifecycles)?;
        m.0.push(rm.rate());
        last_m = Some(rm);
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
    r.goal = Some(1.5);
    let rs = last_s.ok_or("lifecycle: no run")?;
    let per_pkt = |r: &lifecycle::Run| r.packets as f64 / r.count as f64;
    r.note = Some(format!(
        "lifecycle: connect, handshake, 1-byte request, 1-byte response, close, teardown, TIME_WAIT expired on the virtual clock; {} per in-memory run; packets per lifecycle: synack {:.1}, smoltcp {:.1}",
        plan.lifecycles,
        per_pkt(&rs),
        last_m.as_ref().map_or(f64::NAN, per_pkt)
    ));
    out.rows.push(r);
    let mut r = row(
        "lifecycle_vs_kernel",
        "lifecycles (wall time)",
        "conn/s",
        s_wall,
        "kernel 127.0.0.1",
        k,
    );
    r.goal = Some(30.0);
    r.note = Some(format!(
        "kernel: std::net, client and server thread, normal close (no SO_LINGER), {:.1} s per run ({kcount} in the last), {kreps} runs, both rates over wall time (the kernel's spans two threads and its own work); the in-memory rates beside smoltcp are over the measuring thread's CPU time",
        plan.kernel_time.as_secs_f64()
    ));
    out.rows.push(r);
    let per_conn = |r: &lifecycle::Run| r.allocs as f64 / r.count as f64;
    let per_packet = |r: &lifecycle::Run| r.allocs as f64 / r.packets.max(1) as f64;
    out.rows.push(alloc_row(
        "lifecycle_allocs_per_conn",
        "  allocations per connection",
        "allocs",
        per_conn(&rs),
        last_m.as_ref().map(per_conn),
    ));
    let mut r = alloc_row(
        "lifecycle_allocs_per_packet",
        "  allocations per packet",
        "allocs",
        per_packet(&rs),
        last_m.as_ref().map(per_packet),
    );
    r.note = Some(
        "lifecycle allocations: every heap allocation call in the timed runs (both stacks, the link, the application); synack keeps a freed connection's box and small buffers for the next one (a bounded spare pool), smoltcp's run reuses one socket per side whose buffers were allocated before".into(),
    );
    out.rows.push(r);
    Ok(())
}

/// Heap bytes per idle connection end, and what fits in 4 GiB.
pub(crate) fn memory(plan: &Plan, out: &mut Report) -> Result<(), String> {
    let json = plan.json;
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
        "memory: {} connections, both ends in one process, every heap byte of both stacks counted, readiness reports taken as a driver does; right after the handshake {:.0} B per end, after a 1-byte exchange {:.0} B ({:.1} allocations per end); smoltcp: {smol_state} B state + 2 x 64 KiB buffers allocated up front = {smol_total} B",
        f.connections, f.per_end_fresh, f.per_end_used, f.allocs_per_end
    ));
    out.rows.push(r);
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
    out.rows.push(r);
    Ok(())
}

/// Heap per idle relay of a transparent proxy (any-destination listener,
/// both legs on synack), beside two smoltcp sockets with their buffers.
pub(crate) fn relays(plan: &Plan, out: &mut Report) -> Result<(), String> {
    let json = plan.json;
    progress(json, &format!("relays: {} idle relays", plan.memory_conns));
    let f = relay::synack(plan.memory_conns)?;
    let (_, smol_total) = memory::smoltcp_socket();
    let mut r = row(
        "idle_relay_bytes",
        "proxy heap bytes per idle relay",
        "B",
        Samples(vec![f.per_relay]),
        "2 smoltcp sockets",
        Samples(vec![2.0 * smol_total as f64]),
    );
    r.goal = Some(2048.0);
    r.goal_on_ratio = false;
    r.better = Better::Lower;
    r.note = Some(format!(
        "relays: {} idle relays held by one proxy stack (any-destination listener, a client leg and an upstream leg each, both on synack), every heap byte of the proxy counted once the clients and servers are dropped, the relay table included; {:.1} allocations per relay on all three stacks; smoltcp: two sockets with 2 x 64 KiB buffers each",
        f.relays, f.allocs_per_relay
    ));
    out.rows.push(r);
    Ok(())
}

/// SYN cookies under a flood, with legitimate handshakes interleaved.
pub(crate) fn flood(plan: &Plan, out: &mut Report) -> Result<(), String> {
    let json = plan.json;
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
        if done < att {
            out.fail(format!(
                "{label}: {} of {att} legitimate handshakes did not complete",
                att - done
            ));
        }
        let mut r = row(key, label, "SYN/s", s, "-", Samples::default());
        r.goal = Some(2e6);
        r.goal_on_ratio = false;
        r.note = Some(format!(
            "{label}: {} spoofed SYNs per run, 1 legitimate handshake per {}: {done} of {att} completed; SYNs per second of the thread's CPU time",
            plan.flood_syns, plan.flood_every
        ));
        out.rows.push(r);
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
        out.rows.push(r);
    }
    Ok(())
}
