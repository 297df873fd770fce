//! Where packets come from and go to: a TUN device, or an in-memory pair.

use crate::sys;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::path::Path;

/// A packet device the driver reads IP packets from and writes IP packets to.
///
/// `recv` and `send` never block: `recv` returns
/// [`io::ErrorKind::WouldBlock`] when no packet waits, and the driver then
/// waits for [`Device::fd`] to become readable. `send` may be called from any
/// thread (application threads flush the stack's output themselves).
pub trait Device: Send + Sync + 'static {
    /// A descriptor that polls readable when a packet waits.
    fn fd(&self) -> RawFd;
    /// Read one packet into `buf`; returns its length.
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Write one packet.
    fn send(&self, packet: &[u8]) -> io::Result<()>;
    /// The link MTU.
    fn mtu(&self) -> u16 {
        1500
    }
}

/// A layer-3 TUN device (`/dev/net/tun`, IFF_TUN | IFF_NO_PI).
///
/// Opening creates the interface if it does not exist; it disappears when
/// the device is dropped. Configuring it (addresses, MTU, up) is the job of
/// `ip`, as `Netns::tun` in `test_util::netns` (feature `test-util`) does.
#[derive(Debug)]
pub struct TunDevice {
    file: File,
    name: String,
    mtu: u16,
}

impl TunDevice {
    /// Open (or create) the TUN interface `name` in the caller's network namespace.
    pub fn open(name: &str) -> io::Result<TunDevice> {
        let (file, name) = sys::open_tun(name)?;
        Ok(TunDevice {
            file,
            name,
            mtu: 1500,
        })
    }

    /// Open (or create) the TUN interface `name` inside the network namespace
    /// named by `ns_path` (e.g. `/run/netns/NAME`). A short-lived thread
    /// enters the namespace, so the caller's threads stay where they are.
    pub fn open_in_netns(name: &str, ns_path: &Path) -> io::Result<TunDevice> {
        let ns = File::open(ns_path)?;
        let name = name.to_owned();
        std::thread::spawn(move || {
            sys::enter_netns(&ns)?;
            TunDevice::open(&name)
        })
        .join()
        .map_err(|_| io::Error::other("thread opening the TUN device panicked"))?
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Tell the runtime the MTU configured on the interface (default 1500).
    pub fn with_mtu(mut self, mtu: u16) -> TunDevice {
        self.mtu = mtu;
        self
    }
}

impl Device for TunDevice {
    fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    fn send(&self, packet: &[u8]) -> io::Result<()> {
        (&self.file).write(packet).map(|_| ())
    }

    fn mtu(&self) -> u16 {
        self.mtu
    }
}

/// One end of an in-memory link: packets sent on one end are received on
/// the other, in order, without loss (unless the peer's queue is full).
/// Two runtimes joined by a pair talk TCP to each other without privileges.
#[derive(Debug)]
pub struct MemDevice {
    sock: UnixDatagram,
    mtu: u16,
}

impl MemDevice {
    /// Two joined ends.
    pub fn pair() -> io::Result<(MemDevice, MemDevice)> {
        let (a, b) = UnixDatagram::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        Ok((
            MemDevice { sock: a, mtu: 1500 },
            MemDevice { sock: b, mtu: 1500 },
        ))
    }
}

impl Device for MemDevice {
    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.recv(buf)
    }

    fn send(&self, packet: &[u8]) -> io::Result<()> {
        self.sock.send(packet).map(|_| ())
    }

    fn mtu(&self) -> u16 {
        self.mtu
    }
}
