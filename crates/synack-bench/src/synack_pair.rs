//! Two synack stacks joined by an in-memory link.
//!
//! The link is one packet buffer: each packet the client's `poll_transmit`
//! writes is handed to the server's `handle_packet` at once (and back), so the
//! link adds no copy, no queue and no allocation of its own.

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
    buf: Vec<u8>,
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
            buf: Vec::with_capacity(65536),
            packets: 0,
            timer_jumps: 0,
        }
    }

    /// Move packets both ways until neither stack has anything to send.
    pub(crate) fn pump(&mut self) {
        loop {
            let mut moved = 0u64;
            while self.client.poll_transmit(self.now, &mut self.buf) {
                self.server.handle_packet(self.now, &self.buf);
                moved += 1;
            }
            while self.server.poll_transmit(self.now, &mut self.buf) {
                self.client.handle_packet(self.now, &self.buf);
                moved += 1;
            }
            if moved == 0 {
                return;
            }
            self.packets += moved;
        }
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
