//! The pieces the smoltcp backend stands on: a queue device (IP packets in,
//! IP packets out, no link layer), the conversions between smoltcp's time,
//! addresses and states and synack's, and the timestamp clock.

use std::cell::Cell;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp::State as SmolState;
use smoltcp::time::{Duration as SmolDuration, Instant as SmolInstant};
use smoltcp::wire::{
    IpAddress, IpEndpoint, IpProtocol, Ipv4Packet, Ipv6Packet, TcpOption, TcpPacket,
};
use synack_proto::{Duration, Instant, State};

/// A device that is two queues: packets the runner injects wait in `rx`
/// until the interface polls; packets the interface sends collect in `tx`
/// until the runner takes them.
pub(super) struct Queue {
    mtu: usize,
    pub(super) rx: VecDeque<Vec<u8>>,
    pub(super) tx: VecDeque<Vec<u8>>,
}

impl Queue {
    pub(super) fn new(mtu: usize) -> Queue {
        Queue {
            mtu,
            rx: VecDeque::new(),
            tx: VecDeque::new(),
        }
    }
}

/// A received packet.
pub(super) struct RxTok(Vec<u8>);

impl phy::RxToken for RxTok {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(&self.0)
    }
}

/// Room for one packet on the transmit queue.
pub(super) struct TxTok<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.0.push_back(buf);
        r
    }
}

impl Device for Queue {
    type RxToken<'a> = RxTok;
    type TxToken<'a> = TxTok<'a>;

    fn receive(&mut self, _timestamp: SmolInstant) -> Option<(RxTok, TxTok<'_>)> {
        let p = self.rx.pop_front()?;
        Some((RxTok(p), TxTok(&mut self.tx)))
    }

    fn transmit(&mut self, _timestamp: SmolInstant) -> Option<TxTok<'_>> {
        Some(TxTok(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        // The default checksum capabilities: computed on transmit, verified
        // on receive, so a script's bad checksum is dropped as on the wire.
        caps
    }
}

thread_local! {
    /// The virtual clock in milliseconds, for smoltcp's timestamp generator
    /// (a plain function, so it reads the time of the stack this thread
    /// last polled: each script runs on one thread).
    static NOW_MS: Cell<u32> = const { Cell::new(0) };
}

/// Sets the clock the timestamp generator reads.
pub(super) fn set_ts_clock(now: SmolInstant) {
    // The low 32 bits of a millisecond clock, as Linux's TS clock.
    NOW_MS.with(|c| c.set(now.total_millis() as u32));
}

/// smoltcp's TSval generator: the virtual clock in milliseconds (RFC 7323
/// 5.4: a clock tick between 1 ms and 1 s), never 0.
pub(super) fn tsval() -> u32 {
    NOW_MS.with(Cell::get).wrapping_add(1).max(1)
}

pub(super) fn smol_instant(t: Instant) -> SmolInstant {
    SmolInstant::from_micros(i64::try_from(t.micros()).unwrap_or(i64::MAX))
}

pub(super) fn synack_instant(t: SmolInstant) -> Instant {
    Instant::from_micros(u64::try_from(t.total_micros()).unwrap_or(0))
}

pub(super) fn smol_duration(d: Duration) -> SmolDuration {
    SmolDuration::from_micros(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

pub(super) fn socket_addr(e: IpEndpoint) -> SocketAddr {
    SocketAddr::new(ip_addr(e.addr), e.port)
}

pub(super) fn ip_addr(a: IpAddress) -> IpAddr {
    match a {
        IpAddress::Ipv4(v4) => IpAddr::V4(v4),
        IpAddress::Ipv6(v6) => IpAddr::V6(v6),
    }
}

pub(super) fn smol_addr(a: IpAddr) -> IpAddress {
    match a {
        IpAddr::V4(v4) => IpAddress::Ipv4(v4),
        IpAddr::V6(v6) => IpAddress::Ipv6(v6),
    }
}

/// smoltcp's state as synack names it (the same RFC 9293 states).
pub(super) fn state(s: SmolState) -> State {
    match s {
        SmolState::Closed => State::Closed,
        SmolState::Listen => State::Listen,
        SmolState::SynSent => State::SynSent,
        SmolState::SynReceived => State::SynReceived,
        SmolState::Established => State::Established,
        SmolState::FinWait1 => State::FinWait1,
        SmolState::FinWait2 => State::FinWait2,
        SmolState::CloseWait => State::CloseWait,
        SmolState::Closing => State::Closing,
        SmolState::LastAck => State::LastAck,
        SmolState::TimeWait => State::TimeWait,
    }
}

/// The TCP segment an IP packet carries, if it carries a whole one.
fn tcp_segment(p: &[u8]) -> Option<TcpPacket<&[u8]>> {
    let payload = match p.first()? >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(p).ok()?;
            (ip.next_header() == IpProtocol::Tcp).then(|| ip.payload())?
        }
        6 => {
            let ip = Ipv6Packet::new_checked(p).ok()?;
            (ip.next_header() == IpProtocol::Tcp).then(|| ip.payload())?
        }
        _ => return None,
    };
    TcpPacket::new_checked(payload).ok()
}

/// Whether an IP packet carries a TCP segment with RST set.
pub(super) fn is_tcp_rst(p: &[u8]) -> bool {
    tcp_segment(p).is_some_and(|t| t.rst())
}

/// What a SYN brings that only a Fast Open server answers: a Fast Open
/// option (a peer asking for or presenting a cookie) and data.
pub(super) struct FastOpenSyn {
    /// The SYN carries a Fast Open option.
    pub(super) option: bool,
    /// The SYN carries data.
    pub(super) data: bool,
}

/// What a TCP SYN brings for Fast Open; `None` when the packet is not one.
pub(super) fn fast_open_syn(p: &[u8]) -> Option<FastOpenSyn> {
    let tcp = tcp_segment(p).filter(|t| t.syn())?;
    let mut opts = tcp.options();
    let mut option = false;
    // An option list that does not parse ends the search where it breaks.
    while let Ok((rest, opt)) = TcpOption::parse(opts) {
        match opt {
            TcpOption::EndOfList => break,
            // RFC 7413 4.1.1: kind 34, or the experimental kind 254 whose
            // data opens with the magic 0xF989.
            TcpOption::Unknown { kind: 34, .. } => option = true,
            TcpOption::Unknown { kind: 254, data } => option |= data.starts_with(&[0xf9, 0x89]),
            _ => {}
        }
        opts = rest;
    }
    Some(FastOpenSyn {
        option,
        data: !tcp.payload().is_empty(),
    })
}
