//! smoltcp 0.14 over the simulator: an interface whose device is a pair of
//! packet queues the simulator fills and drains, its TCP sockets, and the
//! application loop of a bulk sender or receiver.

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::collections::VecDeque;
use synack_proto::Instant;

/// The device: what the simulator delivered, what the interface sent.
#[derive(Default)]
struct Queues {
    mtu: usize,
    rx: VecDeque<Vec<u8>>,
    tx: VecDeque<Vec<u8>>,
}

/// Receive token.
struct Rx(Vec<u8>);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

/// Transmit token.
struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.0.push_back(buf);
        r
    }
}

impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: SmolInstant) -> Option<(Rx, Tx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((Rx(p), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _: SmolInstant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

/// Which congestion control smoltcp runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SmolCc {
    /// `tcp::CongestionControl::Cubic`.
    Cubic,
    /// `tcp::CongestionControl::Reno`.
    Reno,
}

/// One smoltcp host on the simulator.
pub(crate) struct SmolHost {
    iface: Interface,
    dev: Queues,
    pub(crate) sockets: SocketSet<'static>,
    pub(crate) handles: Vec<SocketHandle>,
    deadline: Option<Instant>,
    cc: SmolCc,
    buffer: usize,
}

fn smol_now(t: Instant) -> SmolInstant {
    SmolInstant::from_micros(t.micros() as i64)
}

impl SmolHost {
    /// An interface at `addr` (a /24) with `mtu`.
    pub(crate) fn new(addr: [u8; 4], mtu: usize, cc: SmolCc, buffer: usize, seed: u64) -> SmolHost {
        let mut dev = Queues {
            mtu,
            ..Queues::default()
        };
        let mut cfg = Config::new(HardwareAddress::Ip);
        cfg.random_seed = seed;
        let mut iface = Interface::new(cfg, &mut dev, SmolInstant::from_micros(0));
        let [a, b, c, d] = addr;
        iface.update_ip_addrs(|x| {
            let _ = x.push(IpCidr::new(IpAddress::v4(a, b, c, d), 24));
        });
        SmolHost {
            iface,
            dev,
            sockets: SocketSet::new(vec![]),
            handles: Vec::new(),
            deadline: None,
            cc,
            buffer,
        }
    }

    /// A new socket with the host's buffers and congestion control.
    pub(crate) fn add_socket(&mut self) -> SocketHandle {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; self.buffer]),
            tcp::SocketBuffer::new(vec![0; self.buffer]),
        );
        s.set_congestion_control(match self.cc {
            SmolCc::Cubic => tcp::CongestionControl::Cubic,
            SmolCc::Reno => tcp::CongestionControl::Reno,
        });
        let h = self.sockets.add(s);
        self.handles.push(h);
        h
    }

    /// The socket `h`.
    pub(crate) fn socket(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    /// Connect socket `h` from `port` to `to`.
    pub(crate) fn connect(
        &mut self,
        h: SocketHandle,
        to: ([u8; 4], u16),
        port: u16,
    ) -> Result<(), String> {
        let [a, b, c, d] = to.0;
        let cx = self.iface.context();
        self.sockets
            .get_mut::<tcp::Socket>(h)
            .connect(cx, (IpAddress::v4(a, b, c, d), to.1), port)
            .map_err(|e| format!("smoltcp connect: {e}"))
    }

    /// Run the interface at `now` and remember its next deadline.
    pub(crate) fn poll(&mut self, now: Instant) {
        let t = smol_now(now);
        self.iface.poll(t, &mut self.dev, &mut self.sockets);
        self.deadline = self
            .iface
            .poll_at(t, &self.sockets)
            .map(|d| Instant::from_micros(d.total_micros().max(0) as u64).max(now));
    }

    /// A packet from the simulator.
    pub(crate) fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.dev.rx.push_back(packet.to_vec());
        self.poll(now);
    }

    /// The next packet for the simulator.
    pub(crate) fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        if self.dev.tx.is_empty() {
            self.poll(now);
        }
        match self.dev.tx.pop_front() {
            Some(p) => {
                buf.clear();
                buf.extend_from_slice(&p);
                true
            }
            None => false,
        }
    }

    /// The interface's next deadline.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
}
