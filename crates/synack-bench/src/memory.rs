//! Memory per idle established connection, measured with the counting
//! allocator: everything the stacks allocate for `n` connections (both ends
//! in this process), buffers, tables and timer entries included, divided by
//! the number of connection ends.

use crate::{alloc, synack_pair};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_proto::{ConnId, Duration, Error};

/// Connections per client address (the ephemeral range holds 28 232 ports).
const PER_ADDRESS: usize = 20_000;

/// What `n` idle established connections cost.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Footprint {
    /// Connections (each has a client end and a server end).
    pub(crate) connections: usize,
    /// Heap bytes per connection end right after the handshake.
    pub(crate) per_end_fresh: f64,
    /// Heap bytes per connection end after a 1-byte request and response,
    /// once every delayed ACK has gone out (an idle keep-alive connection).
    pub(crate) per_end_used: f64,
    /// Allocation calls per connection end, up to the used state.
    pub(crate) allocs_per_end: f64,
}

fn client_ip(i: usize) -> Ipv4Addr {
    let k = (i / PER_ADDRESS) as u16 + 1;
    Ipv4Addr::new(10, 1, (k >> 8) as u8, k as u8)
}

/// Open `n` connections between two synack stacks and measure.
pub(crate) fn synack(n: usize) -> Result<Footprint, String> {
    let e = |e: Error| format!("synack memory: {e}");
    let mut ids: Vec<(ConnId, ConnId)> = Vec::with_capacity(n);
    let mut p = synack_pair::Pair::new(synack_pair::config(1500));
    for i in (0..n).step_by(PER_ADDRESS) {
        p.client.add_address(IpAddr::V4(client_ip(i)));
    }
    let server = synack_pair::server_addr(80);
    let l = p.server.listen(server, 1024).map_err(e)?;
    let base = alloc::live_bytes();
    let calls0 = alloc::calls();
    for i in 0..n {
        let local = SocketAddr::new(IpAddr::V4(client_ip(i)), 0);
        let c = p.client.connect(p.now, Some(local), server).map_err(e)?;
        p.pump();
        let s = p.server.accept(l).map_err(e)?;
        ids.push((c, s));
    }
    while p.client.poll_ready().is_some() {}
    while p.server.poll_ready().is_some() {}
    let fresh = alloc::live_bytes().saturating_sub(base);
    let mut b = [0u8; 1];
    for &(c, s) in &ids {
        p.client.send(p.now, c, b"q").map_err(e)?;
        p.pump();
        if p.server.recv(p.now, s, &mut b).map_err(e)? != 1 || b[0] != b'q' {
            return Err("synack memory: request lost".into());
        }
        p.server.send(p.now, s, b"r").map_err(e)?;
        p.pump();
        if p.client.recv(p.now, c, &mut b).map_err(e)? != 1 || b[0] != b'r' {
            return Err("synack memory: response lost".into());
        }
    }
    // Let every delayed ACK go out: the connections are idle.
    p.now += Duration::from_secs(1);
    p.client.handle_timeout(p.now);
    p.server.handle_timeout(p.now);
    p.pump();
    // Take the readiness reports, as a driver does after every call.
    while p.client.poll_ready().is_some() {}
    while p.server.poll_ready().is_some() {}
    let used = alloc::live_bytes().saturating_sub(base);
    let calls = alloc::calls() - calls0;
    let ends = (2 * n) as f64;
    if p.client.connection_count() != n || p.server.connection_count() != n {
        return Err("synack memory: connections lost".into());
    }
    Ok(Footprint {
        connections: n,
        per_end_fresh: fresh as f64 / ends,
        per_end_used: used as f64 / ends,
        allocs_per_end: calls as f64 / ends,
    })
}

/// smoltcp's TCP socket: its own size, and the same with the two buffers
/// it needs at the benchmark's 64 KiB each (allocated up front).
pub(crate) fn smoltcp_socket() -> (usize, usize) {
    let state = std::mem::size_of::<smoltcp::socket::tcp::Socket<'static>>();
    (state, state + 2 * synack_pair::SOCKET_BUFFER)
}
