//! Two synack stacks joined by an in-memory link.
//!
//! The link works as the smoltcp one (`smol_pair`): one side transmits all it
//! has, each packet into a buffer of the link's own, then the other side
//! receives them all, and back. The buffers are reused from run to run, so the
//! link adds no copy and, in the steady state, no allocation.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use synack_proto::{ConnConfig, Instant, Stack, StackConfig};

/// The client stack's address.
pub(crate) const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The server stack's address.
pub(crate) const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Send and receive buffer size of every benchmark connection.
pub(crate) const SOCKET_BUFFER: usize = 64 * 1024;

/// Benchmark settings: event recording off, 64 KiB buffers, everything else default.
pub(crate) fn config(mtu: u16) -> StackConfig {
    StackConfig {
        mtu,
        trace: false,
        conn: ConnConfig {
            send_buffer: SOCKET_BUFFER,
            recv_buffer: SOCKET_BUFFER,
            ..ConnConfig::default()
        },
        ..StackConfig::default()
    }
}

/// A socket address on the server stack.
pub(crate) fn server_addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(SERVER_IP), port)
}

/// A client and a server stack, a shared virtual clock and the link between them.
pub(crate) struct Pair {
    /// The client (active opener).
    pub(crate) client: Stack,
    /// The server (listener).
    pub(crate) server: Stack,
    /// The virtual clock both stacks are driven with.
    pub(crate) now: Instant,
    bufs: Vec<Vec<u8>>,
    /// Packets that crossed the link.
    pub(crate) packets: u64,
    /// Times the link went quiet and the clock had to jump to a deadline.
    pub(crate) timer_jumps: u64,
}

impl Pair {
    /// Two stacks with the same settings.
    pub(crate) fn new(cfg: StackConfig) -> Pair {
        let mut client = Stack::new_deterministic(cfg, 0x5eed_0001);
        client.add_address(IpAddr::V4(CLIENT_IP));
        let mut server = Stack::new_deterministic(cfg, 0x5eed_0002);
        server.add_address(IpAddr::V4(SERVER_IP));
        Pair {
            client,
            server,
            now: Instant::from_millis(1),
            bufs: Vec::new(),
            packets: 0,
            timer_jumps: 0,
        }
    }

    /// Move packets both ways until neither stack has anything to send.
    pub(crate) fn pump(&mut self) {
        loop {
            let a = self.burst(true);
            let b = self.burst(false);
            if a + b == 0 {
                return;
            }
            self.packets += (a + b) as u64;
        }
    }

    /// One side transmits all it has into the link's buffers, then the other receives them all.
    fn burst(&mut self, from_client: bool) -> usize {
        let (tx, rx) = if from_client {
            (&mut self.client, &mut self.server)
        } else {
            (&mut self.server, &mut self.client)
        };
        let mut n = 0;
        loop {
            if n == self.bufs.len() {
                self.bufs.push(Vec::new());
            }
            if !tx.poll_transmit(self.now, &mut self.bufs[n]) {
                break;
            }
            n += 1;
        }
        for b in &self.bufs[..n] {
            rx.handle_packet(self.now, b);
        }
        n
    }

    /// Jump the clock to the earliest deadline of either stack and fire the
    /// timers due. Returns `false` when neither stack has a deadline.
    pub(crate) fn advance(&mut self) -> bool {
        let next = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(t) = next else { return false };
        if t > self.now {
            self.now = t;
        }
        self.timer_jumps += 1;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        true
    }

    /// Pump, then fire timers and pump again until `done` holds (a bounded number of times).
    pub(crate) fn settle(
        &mut self,
        what: &str,
        mut done: impl FnMut(&mut Pair) -> bool,
    ) -> Result<(), String> {
        self.pump();
        for _ in 0..32 {
            if done(self) {
                return Ok(());
            }
            if !self.advance() {
                break;
            }
            self.pump();
        }
        if done(self) {
            Ok(())
        } else {
            Err(format!("synack: {what} did not happen"))
        }
    }
}
