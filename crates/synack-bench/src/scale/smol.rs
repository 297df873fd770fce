//! smoltcp 0.14 at scale: one measured connection beside `n` idle
//! established connections, both ends in this process.
//!
//! smoltcp has no listen backlog: a server needs one listening socket per
//! connection it expects, and each listening socket becomes that connection.
//! Every `SocketSet::add` scans the set for a free slot, every arriving packet
//! is matched by a scan of the sockets, and every poll walks them all, so
//! opening `n` connections in one socket set costs O(n^2) socket visits, and
//! more than a minute for 100,000. To keep the set-up within minutes, the
//! idle connections are opened in batches of `BATCH` between two staging
//! interfaces (same addresses), then each socket is moved, established, into
//! the measured socket sets (a socket keeps its state when it moves; the
//! interfaces hold no per-connection state): what remains O(n^2) is the free
//! slot scan of each `add`. The set-up stops after the batch in which `cap`
//! passes; the figures then hold for the connections reached.

use super::{timed_loop, Loop, Setup};
use crate::pattern::Pattern;
use crate::smol_pair::{self, Pair};
use crate::{alloc, bulk, cpu, synack_pair};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use std::time::{Duration, Instant};

/// Connections set up between two pumps of the link.
const BATCH: usize = 1024;

/// Client ports used per server port (1024..61024), so that more than 64 K
/// connections fit between the two addresses.
const PORTS: usize = 60_000;

/// Two interfaces holding the idle connections and the measured one.
pub(crate) struct Bed {
    p: Pair,
    client: SocketHandle,
    server: SocketHandle,
}

/// An idle socket: the smallest buffers smoltcp's API allows (empty ones).
fn idle_socket() -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(Vec::new()),
        tcp::SocketBuffer::new(Vec::new()),
    )
}

/// Set up to `n` idle connections (stopping after the batch in which `cap`
/// passes), then the measured connection with the bulk figure's buffers.
pub(crate) fn setup(n: usize, cap: Duration) -> Result<(Bed, Setup), String> {
    let mut p = Pair::new(1500);
    let (bytes0, calls0) = (alloc::live_bytes(), alloc::calls());
    let cpu0 = cpu::now();
    let t0 = Instant::now();
    let mut reached = 0;
    let mut batch = Vec::with_capacity(BATCH);
    let mut staging = Pair::new(1500);
    while reached < n && t0.elapsed() < cap {
        let k = BATCH.min(n - reached);
        for i in reached..reached + k {
            let port = 80 + (i / PORTS) as u16;
            let mut s = idle_socket();
            s.listen(port).map_err(|e| format!("smoltcp listen: {e}"))?;
            let sh = staging.ss.add(s);
            let ch = staging.cs.add(idle_socket());
            let cx = staging.ci.context();
            staging
                .cs
                .get_mut::<tcp::Socket>(ch)
                .connect(cx, (smol_pair::SERVER, port), 1024 + (i % PORTS) as u16)
                .map_err(|e| format!("smoltcp connect: {e}"))?;
            batch.push((ch, sh));
        }
        staging.pump();
        for (ch, sh) in batch.drain(..) {
            if staging.csock(ch).state() != tcp::State::Established
                || staging.ssock(sh).state() != tcp::State::Established
            {
                return Err(format!(
                    "smoltcp scale set-up: connection {reached} not established"
                ));
            }
            p.cs.add(staging.cs.remove(ch));
            p.ss.add(staging.ss.remove(sh));
            reached += 1;
        }
    }
    drop(staging);
    let elapsed = t0.elapsed();
    let cpu = cpu::since(cpu0);
    let bytes = alloc::live_bytes().saturating_sub(bytes0);
    let allocs = alloc::calls() - calls0;
    let server = {
        let mut s = smol_pair::socket(synack_pair::SOCKET_BUFFER);
        s.listen(5001).map_err(|e| format!("smoltcp listen: {e}"))?;
        p.ss.add(s)
    };
    let client = p.cs.add(smol_pair::socket(synack_pair::SOCKET_BUFFER));
    let cx = p.ci.context();
    p.cs.get_mut::<tcp::Socket>(client)
        .connect(cx, (smol_pair::SERVER, 5001), 65000)
        .map_err(|e| format!("smoltcp connect: {e}"))?;
    p.settle("measured handshake", |p| {
        p.csock(client).state() == tcp::State::Established
            && p.ssock(server).state() == tcp::State::Established
    })?;
    let setup = Setup {
        reached,
        elapsed,
        cpu,
        bytes,
        allocs,
        timers_after: false,
    };
    Ok((Bed { p, client, server }, setup))
}

/// Bulk transfer on the measured connection, as the bulk figure's.
pub(crate) fn bulk(
    bed: &mut Bed,
    total: u64,
    cap: Duration,
    pat: &Pattern,
) -> Result<bulk::Run, String> {
    let run = bulk::smoltcp_transfer(
        &mut bed.p,
        bed.client,
        bed.server,
        total,
        Some(cap),
        pat,
        bulk::Api::Copy,
    )?;
    // Everything acknowledged, so that the round trips start from a quiet connection.
    let client = bed.client;
    bed.p
        .settle("bulk acknowledged", |p| p.csock(client).send_queue() == 0)?;
    Ok(run)
}

/// 1-byte request, 1-byte response round trips on the measured connection.
pub(crate) fn round_trips(bed: &mut Bed, max: u64, cap: Duration) -> Result<Loop, String> {
    let (client, server) = (bed.client, bed.server);
    let p = &mut bed.p;
    let (packets0, calls0, cpu0) = (p.packets, alloc::calls(), cpu::now());
    let mut b = [0u8; 1];
    let err = |e: tcp::SendError| format!("smoltcp send: {e}");
    let rerr = |e: tcp::RecvError| format!("smoltcp recv: {e}");
    let (count, elapsed) = timed_loop(max, cap, || {
        if p.csock(client).send_slice(b"q").map_err(err)? != 1 {
            return Err("smoltcp round trip: request refused".into());
        }
        p.pump();
        if p.ssock(server).recv_slice(&mut b).map_err(rerr)? != 1 || b[0] != b'q' {
            return Err("smoltcp round trip: request lost".into());
        }
        if p.ssock(server).send_slice(b"r").map_err(err)? != 1 {
            return Err("smoltcp round trip: response refused".into());
        }
        p.pump();
        if p.csock(client).recv_slice(&mut b).map_err(rerr)? != 1 || b[0] != b'r' {
            return Err("smoltcp round trip: response lost".into());
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
