//! Two smoltcp interfaces joined by an in-memory link equivalent to the synack
//! one: IP medium (no Ethernet), the same MTU, checksums computed on transmit
//! and verified on receive (the device's default capabilities), and packet
//! buffers recycled so that the link allocates nothing in the steady state.

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use std::collections::VecDeque;

/// The client interface's address.
pub(crate) const CLIENT: IpAddress = IpAddress::v4(10, 0, 0, 1);
/// The server interface's address.
pub(crate) const SERVER: IpAddress = IpAddress::v4(10, 0, 0, 2);

/// One end of the link: packets waiting to be received, packets transmitted,
/// and spare buffers.
pub(crate) struct End {
    mtu: usize,
    rx: VecDeque<(Vec<u8>, usize)>,
    tx: VecDeque<(Vec<u8>, usize)>,
    pool: Vec<Vec<u8>>,
    spent: Vec<Vec<u8>>,
}

impl End {
    fn new(mtu: usize) -> End {
        End {
            mtu,
            rx: VecDeque::new(),
            tx: VecDeque::new(),
            pool: Vec::new(),
            spent: Vec::new(),
        }
    }

    /// Take the oldest packet this end transmitted off the link.
    pub(crate) fn pop_tx(&mut self) -> Option<Vec<u8>> {
        let (buf, len) = self.tx.pop_front()?;
        let pkt = buf[..len].to_vec();
        self.pool.push(buf);
        Some(pkt)
    }

    /// The packets this end transmitted and the link has not moved yet.
    pub(crate) fn tx_packets(&self) -> impl Iterator<Item = &[u8]> {
        self.tx.iter().map(|(b, len)| &b[..*len])
    }

    /// Put `pkt` on this end's receive queue, as if the link had delivered it.
    pub(crate) fn inject(&mut self, pkt: Vec<u8>) {
        let len = pkt.len();
        self.rx.push_back((pkt, len));
    }
}

/// Receive token: a packet and where its buffer goes afterwards.
pub(crate) struct Rx<'a> {
    buf: Vec<u8>,
    len: usize,
    spent: &'a mut Vec<Vec<u8>>,
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let r = f(&self.buf[..self.len]);
        self.spent.push(self.buf);
        r
    }
}

/// Transmit token: a recycled buffer and the queue it joins.
pub(crate) struct Tx<'a> {
    mtu: usize,
    tx: &'a mut VecDeque<(Vec<u8>, usize)>,
    pool: &'a mut Vec<Vec<u8>>,
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut buf = self
            .pool
            .pop()
            .unwrap_or_else(|| vec![0; self.mtu.max(len)]);
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let r = f(&mut buf[..len]);
        self.tx.push_back((buf, len));
        r
    }
}

impl Device for End {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let (buf, len) = self.rx.pop_front()?;
        Some((
            Rx {
                buf,
                len,
                spent: &mut self.spent,
            },
            Tx {
                mtu: self.mtu,
                tx: &mut self.tx,
                pool: &mut self.pool,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Tx<'_>> {
        Some(Tx {
            mtu: self.mtu,
            tx: &mut self.tx,
            pool: &mut self.pool,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        // The default checksum capabilities: compute on transmit, verify on receive.
        caps
    }
}

/// Move `from`'s transmitted packets to `to`'s receive queue, and the buffers
/// each end has consumed back to the end that sent them. Returns the packets moved.
fn transfer(from: &mut End, to: &mut End) -> usize {
    let n = from.tx.len();
    to.rx.extend(from.tx.drain(..));
    from.pool.append(&mut to.spent);
    to.pool.append(&mut from.spent);
    n
}

/// A client and a server interface, their sockets and the link between them.
pub(crate) struct Pair {
    /// The client interface.
    pub(crate) ci: Interface,
    /// The server interface.
    pub(crate) si: Interface,
    /// The client's link end.
    pub(crate) cd: End,
    /// The server's link end.
    pub(crate) sd: End,
    /// The client's sockets.
    pub(crate) cs: SocketSet<'static>,
    /// The server's sockets.
    pub(crate) ss: SocketSet<'static>,
    /// The virtual clock.
    pub(crate) now: Instant,
    /// Packets that crossed the link.
    pub(crate) packets: u64,
    /// Times the link went quiet and the clock had to jump to a deadline.
    pub(crate) timer_jumps: u64,
}

fn iface(addr: IpAddress, dev: &mut End, seed: u64, now: Instant) -> Interface {
    let mut cfg = Config::new(HardwareAddress::Ip);
    cfg.random_seed = seed;
    let mut i = Interface::new(cfg, dev, now);
    i.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::new(addr, 24));
    });
    i
}

/// A TCP socket with two `size`-byte buffers.
pub(crate) fn socket(size: usize) -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; size]),
        tcp::SocketBuffer::new(vec![0; size]),
    );
    // The paths figure turns on smoltcp's Cubic and Reno features, which make
    // Cubic the default; these figures keep smoltcp's default without them.
    s.set_congestion_control(tcp::CongestionControl::None);
    s
}

impl Pair {
    /// Two interfaces on a link with the given MTU.
    pub(crate) fn new(mtu: usize) -> Pair {
        let now = Instant::from_millis(1);
        let mut cd = End::new(mtu);
        let mut sd = End::new(mtu);
        let ci = iface(CLIENT, &mut cd, 0x5eed_0001, now);
        let si = iface(SERVER, &mut sd, 0x5eed_0002, now);
        Pair {
            ci,
            si,
            cd,
            sd,
            cs: SocketSet::new(vec![]),
            ss: SocketSet::new(vec![]),
            now,
            packets: 0,
            timer_jumps: 0,
        }
    }

    /// Poll both interfaces and move packets until the link is quiet.
    pub(crate) fn pump(&mut self) {
        loop {
            self.ci.poll(self.now, &mut self.cd, &mut self.cs);
            let a = transfer(&mut self.cd, &mut self.sd);
            self.si.poll(self.now, &mut self.sd, &mut self.ss);
            let b = transfer(&mut self.sd, &mut self.cd);
            if a + b == 0 {
                return;
            }
            self.packets += (a + b) as u64;
        }
    }

    /// Jump the clock to the earliest deadline of either interface.
    pub(crate) fn advance(&mut self) -> bool {
        let next = [
            self.ci.poll_at(self.now, &self.cs),
            self.si.poll_at(self.now, &self.ss),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(t) = next else { return false };
        if t > self.now {
            self.now = t;
        }
        self.timer_jumps += 1;
        true
    }

    /// Pump, then jump to deadlines and pump again until `done` holds.
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
            Err(format!("smoltcp: {what} did not happen"))
        }
    }

    /// The client socket `h`.
    pub(crate) fn csock(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.cs.get_mut::<tcp::Socket>(h)
    }

    /// The server socket `h`.
    pub(crate) fn ssock(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.ss.get_mut::<tcp::Socket>(h)
    }
}
