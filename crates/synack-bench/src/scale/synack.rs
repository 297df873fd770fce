//! synack at scale: one measured connection beside `n` idle established
//! connections, both ends of every connection in this process.

use super::{timed_loop, Loop, Setup, Sweep};
use crate::pattern::Pattern;
use crate::synack_pair::{self, Pair};
use crate::{alloc, bulk, cpu};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use synack_proto::{ConnConfig, ConnId, Duration as VDuration, Error, Keepalive, State};

/// Idle connections per client address (the ephemeral range holds 28 232 ports).
const PER_ADDRESS: usize = 20_000;

/// Connections opened before the link is pumped and the listener drained.
const BATCH: usize = 256;

/// The keepalive every idle server end has in the "live" variant: Linux's
/// defaults (2 h idle, 75 s between probes, 9 probes).
pub(crate) const KEEPALIVE: Keepalive = Keepalive {
    idle: VDuration::from_secs(2 * 60 * 60),
    interval: VDuration::from_secs(75),
    count: 9,
};

/// The keepalive of every idle client end in the "live" variant: an hour
/// longer idle, so that its deadline sits in the client's timer heap too but
/// the sweep (which answers the server's probes) does not reach it; two ends
/// probing each other at the same instant would each take the other's probe
/// for an old segment.
pub(crate) const CLIENT_KEEPALIVE: Keepalive = Keepalive {
    idle: VDuration::from_secs(3 * 60 * 60),
    ..KEEPALIVE
};

/// The idle connections' address: 10.1.x.y, a new one every `PER_ADDRESS`.
fn client_ip(i: usize) -> Ipv4Addr {
    let k = (i / PER_ADDRESS) as u16 + 1;
    Ipv4Addr::new(10, 1, (k >> 8) as u8, k as u8)
}

/// Two stacks holding `n` idle connections and the measured one.
pub(crate) struct Bed {
    p: Pair,
    idle: Vec<(ConnId, ConnId)>,
    c: ConnId,
    s: ConnId,
    live: bool,
}

/// Set up `n` idle connections (with keepalive on every end when `live`),
/// then the measured connection (keepalive off), and say what it cost.
pub(crate) fn setup(n: usize, live: bool) -> Result<(Bed, Setup), String> {
    let e = |e: Error| format!("synack scale set-up: {e}");
    let mut cfg = synack_pair::config(1500);
    let plain = cfg.conn;
    if live {
        cfg.conn.keepalive = Some(KEEPALIVE);
    }
    let mut p = Pair::new(cfg);
    if live {
        p.client.set_conn_config(ConnConfig {
            keepalive: Some(CLIENT_KEEPALIVE),
            ..plain
        });
    }
    for i in (0..n).step_by(PER_ADDRESS) {
        p.client.add_address(IpAddr::V4(client_ip(i)));
    }
    let mut idle = Vec::with_capacity(n);
    let mut open = Vec::with_capacity(BATCH);
    let server = synack_pair::server_addr(80);
    let (bytes0, calls0) = (alloc::live_bytes(), alloc::calls());
    let cpu0 = cpu::now();
    let t0 = Instant::now();
    let l = p
        .server
        .listen_with(server, BATCH, BATCH, cfg.conn)
        .map_err(e)?;
    for i in 0..n {
        // Connections arrive over time, so their deadlines differ.
        p.now += VDuration::from_micros(1);
        let local = SocketAddr::new(IpAddr::V4(client_ip(i)), 0);
        open.push(p.client.connect(p.now, Some(local), server).map_err(e)?);
        if open.len() == BATCH || i + 1 == n {
            p.pump();
            for c in open.drain(..) {
                idle.push((c, p.server.accept(l).map_err(e)?));
            }
        }
    }
    let elapsed = t0.elapsed();
    let cpu = cpu::since(cpu0);
    let bytes = alloc::live_bytes().saturating_sub(bytes0);
    let allocs = alloc::calls() - calls0;
    let quiet = p.client.poll_timeout().is_none() && p.server.poll_timeout().is_none();
    let (c, s) = measured(&mut p, plain)?;
    if p.client.connection_count() != n + 1 || p.server.connection_count() != n + 1 {
        return Err(format!(
            "synack scale: {} client and {} server connections for {n} idle and 1 measured",
            p.client.connection_count(),
            p.server.connection_count()
        ));
    }
    let setup = Setup {
        reached: n,
        elapsed,
        cpu,
        bytes,
        allocs,
        timers_after: !quiet,
    };
    Ok((
        Bed {
            p,
            idle,
            c,
            s,
            live,
        },
        setup,
    ))
}

/// The measured connection, from the client's main address to port 5001.
fn measured(p: &mut Pair, cfg: ConnConfig) -> Result<(ConnId, ConnId), String> {
    let e = |e: Error| format!("synack scale measured connection: {e}");
    let addr = synack_pair::server_addr(5001);
    let l = p.server.listen_with(addr, 4, 4, cfg).map_err(e)?;
    let c = p.client.connect_with(p.now, None, addr, cfg).map_err(e)?;
    p.pump();
    let s = p.server.accept(l).map_err(e)?;
    if p.client.state(c) != Ok(State::Established) {
        return Err("synack scale: measured connection not established".into());
    }
    Ok((c, s))
}

/// Bulk transfer on the measured connection: the bulk figure's pump,
/// buffers and byte checks, for `total` bytes or `cap`.
pub(crate) fn bulk(
    bed: &mut Bed,
    total: u64,
    cap: Duration,
    pat: &Pattern,
) -> Result<bulk::Run, String> {
    let run = bulk::synack_transfer(
        &mut bed.p,
        bed.c,
        bed.s,
        total,
        Some(cap),
        pat,
        bulk::Api::Copy,
    )?;
    // Everything acknowledged, so that the round trips start from a quiet connection.
    let c = bed.c;
    bed.p.settle("bulk acknowledged", |p| {
        p.client.status(c).is_ok_and(|st| st.bytes_in_flight == 0)
    })?;
    Ok(run)
}

/// 1-byte request, 1-byte response round trips on the measured connection,
/// `max` of them or as many as fit in `cap`.
pub(crate) fn round_trips(bed: &mut Bed, max: u64, cap: Duration) -> Result<Loop, String> {
    let e = |e: Error| format!("synack round trip: {e}");
    let (c, s) = (bed.c, bed.s);
    let p = &mut bed.p;
    let (packets0, calls0, cpu0) = (p.packets, alloc::calls(), cpu::now());
    let mut b = [0u8; 1];
    let (count, elapsed) = timed_loop(max, cap, || {
        if p.client.send(p.now, c, b"q").map_err(e)? != 1 {
            return Err("synack round trip: request refused".into());
        }
        p.pump();
        if p.server.recv(p.now, s, &mut b).map_err(e)? != 1 || b[0] != b'q' {
            return Err("synack round trip: request lost".into());
        }
        if p.server.send(p.now, s, b"r").map_err(e)? != 1 {
            return Err("synack round trip: response refused".into());
        }
        p.pump();
        if p.client.recv(p.now, c, &mut b).map_err(e)? != 1 || b[0] != b'r' {
            return Err("synack round trip: response lost".into());
        }
        Ok(())
    })?;
    Ok(Loop {
        count,
        elapsed,
        cpu: cpu::since(cpu0),
        packets: p.packets - packets0,
        allocs: alloc::calls() - calls0,
    })
}

/// The keepalive sweep of a live bed: the clock jumps past every idle server
/// end's deadline (not the client ends' later ones), every idle server end
/// sends its probe and the client end answers it.
pub(crate) fn sweep(bed: &mut Bed) -> Result<Sweep, String> {
    if !bed.live {
        return Err("synack scale: a sweep without keepalive".into());
    }
    let p = &mut bed.p;
    let n = bed.idle.len() as u64;
    // Every deadline lies within 1 µs per connection of the set-up, plus the
    // little the measured phase moved the clock; one more second covers both.
    p.now += KEEPALIVE.idle + VDuration::from_secs(1) + VDuration::from_micros(n);
    let (probes0, packets0) = (p.server.stats().packets_out, p.packets);
    let t0 = Instant::now();
    p.client.handle_timeout(p.now);
    p.server.handle_timeout(p.now);
    p.pump();
    let elapsed = t0.elapsed();
    let (probes, packets) = (p.server.stats().packets_out - probes0, p.packets - packets0);
    // Every idle server end probed once and every probe was answered.
    if probes < n || packets < 2 * n {
        return Err(format!(
            "synack keepalive sweep: {probes} probes and {packets} packets for {n} connections"
        ));
    }
    let rearmed = p.now + KEEPALIVE.interval;
    for (stack, side) in [(&p.client, "client"), (&p.server, "server")] {
        if stack.poll_timeout().is_some_and(|t| t <= rearmed) {
            return Err(format!(
                "synack keepalive sweep: a {side} deadline within the probe interval (a probe unanswered)"
            ));
        }
    }
    for &(c, s) in &bed.idle {
        for (stack, id) in [(&p.client, c), (&p.server, s)] {
            let st = stack.status(id).map_err(|e| format!("synack sweep: {e}"))?;
            if st.state != State::Established || st.keepalive_probes != 0 {
                return Err(format!(
                    "synack keepalive sweep: a connection in {:?} with {} unanswered probes",
                    st.state, st.keepalive_probes
                ));
            }
        }
    }
    Ok(Sweep { probes: n, elapsed })
}
