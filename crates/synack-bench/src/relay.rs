//! Memory per idle relayed connection: a transparent proxy built on an
//! any-destination listener, with both legs on synack.
//!
//! Three stacks share one virtual clock: clients dial addresses of a test
//! prefix; the proxy stack takes every such SYN with
//! [`Stack::listen_any`], opens its own connection to the dialled address
//! and port, and relays one request and one response; the server stack
//! holds the prefix's addresses. Once every delayed ACK has gone out, the
//! client and server stacks are dropped and what remains on the heap is the
//! proxy's: both legs of every relay, its tables, timers and the relay
//! table itself. The kernel forwarder (`synack tun forward`) needs a file
//! descriptor per upstream leg, so the number of relays it can hold is
//! bounded by the descriptor limit; here both legs are synack connections
//! and the count is bounded by memory only.

use crate::{alloc, synack_pair};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_proto::{AnyDestination, ConnId, Duration, Error, Instant, IpPrefix, ListenerId, Stack};

/// Connections per client or proxy source address (the ephemeral range
/// holds 28 232 ports).
const PER_ADDRESS: usize = 20_000;
/// Distinct destinations (address, port) the clients dial.
const DESTINATIONS: usize = 20;

/// What `n` idle relays cost the proxy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RelayFootprint {
    /// Relays held (each has a client leg and an upstream leg).
    pub(crate) relays: usize,
    /// Proxy heap bytes per idle relay, both legs and the relay table.
    pub(crate) per_relay: f64,
    /// Allocation calls per relay on the proxy and its peers, up to idle.
    pub(crate) allocs_per_relay: f64,
}

fn client_ip(i: usize) -> Ipv4Addr {
    let k = (i / PER_ADDRESS) as u16 + 1;
    Ipv4Addr::new(10, 1, (k >> 8) as u8, k as u8)
}

fn proxy_ip(i: usize) -> Ipv4Addr {
    let k = (i / PER_ADDRESS) as u16 + 1;
    Ipv4Addr::new(10, 9, (k >> 8) as u8, k as u8)
}

/// The `j`th destination: an address of 198.18.0.0/15 and a port.
fn destination(j: usize) -> SocketAddr {
    let j = j % DESTINATIONS;
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1 + j as u8)),
        8000 + (j % 5) as u16,
    )
}

/// The three stacks and the links between them.
struct World {
    client: Stack,
    proxy: Stack,
    server: Stack,
    now: Instant,
    buf: Vec<u8>,
}

impl World {
    /// Move packets until no stack has anything to send. The proxy's
    /// packets go to the server when addressed to the test prefix, else to
    /// the clients.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while self.client.poll_transmit(self.now, &mut self.buf) {
                self.proxy.handle_packet(self.now, &self.buf);
                moved = true;
            }
            while self.server.poll_transmit(self.now, &mut self.buf) {
                self.proxy.handle_packet(self.now, &self.buf);
                moved = true;
            }
            while self.proxy.poll_transmit(self.now, &mut self.buf) {
                // IPv4 destination address: bytes 16..20.
                if self.buf.get(16..18) == Some(&[198, 18][..]) {
                    self.server.handle_packet(self.now, &self.buf);
                } else {
                    self.client.handle_packet(self.now, &self.buf);
                }
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    fn tick(&mut self, d: Duration) {
        self.now += d;
        self.client.handle_timeout(self.now);
        self.proxy.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.pump();
    }
}

/// Copy what is readable on `from` into `to` (both on `stack`); the bytes
/// relayed. `buf` is the relay's one shared copy buffer.
fn relay(
    stack: &mut Stack,
    now: Instant,
    from: ConnId,
    to: ConnId,
    buf: &mut [u8],
) -> Result<usize, Error> {
    let n = stack.recv(now, from, buf)?;
    let sent = stack.send(now, to, &buf[..n])?;
    if sent != n {
        return Err(Error::WouldBlock);
    }
    Ok(n)
}

/// Open `n` relays, exchange one request and response through each, let
/// them go idle, and measure the proxy's heap.
pub(crate) fn synack(n: usize) -> Result<RelayFootprint, String> {
    let e = |what: &'static str| move |err: Error| format!("relay memory: {what}: {err}");
    let cfg = synack_pair::config(1500);
    let mut w = World {
        client: Stack::new_deterministic(cfg, 0x5eed_0011),
        proxy: Stack::new_deterministic(cfg, 0x5eed_0012),
        server: Stack::new_deterministic(cfg, 0x5eed_0013),
        now: Instant::from_millis(1),
        buf: Vec::with_capacity(65536),
    };
    for i in (0..n.max(1)).step_by(PER_ADDRESS) {
        w.client.add_address(IpAddr::V4(client_ip(i)));
        w.proxy.add_address(IpAddr::V4(proxy_ip(i)));
    }
    let mut listeners: Vec<ListenerId> = Vec::with_capacity(DESTINATIONS);
    for j in 0..DESTINATIONS {
        let d = destination(j);
        w.server.add_address(d.ip());
        listeners.push(w.server.listen(d, 1024).map_err(e("server listen"))?);
    }
    let prefix =
        IpPrefix::new(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 0)), 15).map_err(e("prefix"))?;
    let any = w
        .proxy
        .listen_any(AnyDestination::prefixes(vec![prefix]), 1024, 1024, cfg.conn)
        .map_err(e("listen_any"))?;
    let base = alloc::live_bytes();
    let calls0 = alloc::calls();
    // The relay table: the two legs of every relay, as a proxy keeps them.
    let mut relays: Vec<(ConnId, ConnId)> = Vec::with_capacity(n);
    let mut ends: Vec<(ConnId, ConnId)> = Vec::with_capacity(n);
    let mut buf = [0u8; 64];
    for i in 0..n {
        let dest = destination(i);
        let local = SocketAddr::new(IpAddr::V4(client_ip(i)), 0);
        let c = w
            .client
            .connect(w.now, Some(local), dest)
            .map_err(e("client connect"))?;
        w.pump();
        let down = w.proxy.accept(any).map_err(e("proxy accept"))?;
        let dialled = w.proxy.tuple(down).map_err(e("tuple"))?.local;
        if dialled != dest {
            return Err(format!(
                "relay memory: the proxy saw {dialled}, the client dialled {dest}"
            ));
        }
        let from = SocketAddr::new(IpAddr::V4(proxy_ip(i)), 0);
        let up = w
            .proxy
            .connect(w.now, Some(from), dialled)
            .map_err(e("proxy connect"))?;
        w.pump();
        let s = w
            .server
            .accept(listeners[i % DESTINATIONS])
            .map_err(e("server accept"))?;
        relays.push((down, up));
        ends.push((c, s));
    }
    for (&(down, up), &(c, s)) in relays.iter().zip(&ends) {
        w.client.send(w.now, c, b"q").map_err(e("request"))?;
        w.pump();
        relay(&mut w.proxy, w.now, down, up, &mut buf).map_err(e("relay request"))?;
        w.pump();
        let got = w
            .server
            .recv(w.now, s, &mut buf)
            .map_err(e("server recv"))?;
        if buf.get(..got) != Some(&b"q"[..]) {
            return Err("relay memory: request lost".into());
        }
        w.server.send(w.now, s, b"r").map_err(e("response"))?;
        w.pump();
        relay(&mut w.proxy, w.now, up, down, &mut buf).map_err(e("relay response"))?;
        w.pump();
        let got = w
            .client
            .recv(w.now, c, &mut buf)
            .map_err(e("client recv"))?;
        if buf.get(..got) != Some(&b"r"[..]) {
            return Err("relay memory: response lost".into());
        }
    }
    // Let every delayed ACK go out: the relays are idle.
    w.tick(Duration::from_secs(1));
    let calls = alloc::calls() - calls0;
    if w.proxy.connection_count() != 2 * n
        || w.client.connection_count() != n
        || w.server.connection_count() != n
    {
        return Err("relay memory: connections lost".into());
    }
    // What remains once the clients and servers are gone is the proxy's.
    drop(ends);
    let World { client, server, .. } = w;
    drop(client);
    drop(server);
    let proxy_bytes = alloc::live_bytes().saturating_sub(base);
    Ok(RelayFootprint {
        relays: n,
        per_relay: proxy_bytes as f64 / n.max(1) as f64,
        allocs_per_relay: calls as f64 / n.max(1) as f64,
    })
}
