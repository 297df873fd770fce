//! Where packets come from and go to: a TUN device, or an in-memory pair.

use crate::sys;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use synack_proto::wire::gso;
use synack_proto::{Burst, DeviceCaps};

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
    /// What the device does for the stack: cutting bursts of segments,
    /// checksums ([`DeviceCaps::NONE`] unless it says otherwise).
    fn caps(&self) -> DeviceCaps {
        DeviceCaps::NONE
    }
    /// Read one packet into `buf`, and whether the device vouches for its
    /// checksums (it verified them, or the local host made the packet and
    /// leaves the checksum to the device). It may be a super-segment the
    /// device joined, of up to 64 KiB. By default: [`Device::recv`], not
    /// vouched for.
    fn recv_checked(&self, buf: &mut [u8]) -> io::Result<Received> {
        Ok(Received {
            len: self.recv(buf)?,
            checksum_valid: false,
        })
    }
    /// Write one packet from a [`synack_proto::Transmitter`]: a burst of
    /// `burst.segments` segments the device cuts. By default the burst is
    /// cut here and each segment written with [`Device::send`].
    fn send_burst(&self, packet: &[u8], burst: &Burst) -> io::Result<()> {
        send_cut(packet, burst, |p| self.send(p))
    }
    /// Open another queue of the same device, for a runtime with one stack
    /// per queue ([`crate::RuntimeConfig::queues`]). By default: the device
    /// has one queue (`Unsupported`).
    fn open_queue(&self) -> io::Result<Box<dyn Device>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this device has a single queue",
        ))
    }
}

/// Write a burst with `send`: as it is when it holds one segment, else cut
/// into its segments (software segmentation).
fn send_cut(
    packet: &[u8],
    burst: &Burst,
    mut send: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    if burst.segments <= 1 {
        return send(packet);
    }
    let mut result = Ok(());
    gso::segment(packet, usize::from(burst.segment_size), |seg| {
        if result.is_ok() {
            result = send(seg);
        }
    })
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e:?}")))?;
    result
}

/// A packet read by [`Device::recv_checked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Its length.
    pub len: usize,
    /// The device vouches for its checksums.
    pub checksum_valid: bool,
}

/// How to open a [`TunDevice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunOptions {
    /// Exchange segmentation and checksum offloads with the kernel
    /// (`IFF_VNET_HDR` and `TUNSETOFFLOAD` with checksums, TSO4 and TSO6):
    /// the kernel hands over super-segments of up to 64 KiB and takes
    /// bursts it cuts itself. On by default; where the kernel refuses, the
    /// device runs without.
    pub offload: bool,
    /// Open one queue of a multi-queue device (`IFF_MULTI_QUEUE`); every
    /// queue opened with the same name joins it. A runtime with
    /// [`crate::RuntimeConfig::queues`] above one opens the others itself
    /// ([`Device::open_queue`]) and runs a stack on each.
    pub multi_queue: bool,
}

impl Default for TunOptions {
    fn default() -> Self {
        TunOptions {
            offload: true,
            multi_queue: false,
        }
    }
}

/// virtio-net header flags and GSO types (`linux/virtio_net.h`).
const VNET_F_NEEDS_CSUM: u8 = 1;
const VNET_F_DATA_VALID: u8 = 2;
const VNET_GSO_TCPV4: u8 = 1;
const VNET_GSO_TCPV6: u8 = 4;
/// Where the TCP checksum sits in the TCP header.
const TCP_CSUM_OFFSET: u16 = 16;

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
    offload: bool,
    opts: TunOptions,
    /// The namespace the device was opened in, if not the caller's.
    netns: Option<PathBuf>,
}

impl TunDevice {
    /// Open (or create) the TUN interface `name` in the caller's network
    /// namespace, with offloads ([`TunOptions::default`]).
    pub fn open(name: &str) -> io::Result<TunDevice> {
        TunDevice::open_with(name, TunOptions::default())
    }

    /// Open (or create) the TUN interface `name` as `opts` say.
    pub fn open_with(name: &str, opts: TunOptions) -> io::Result<TunDevice> {
        if opts.offload {
            let (file, name) = sys::open_tun(name, true, opts.multi_queue)?;
            let all = sys::TUN_F_CSUM | sys::TUN_F_TSO4 | sys::TUN_F_TSO6;
            if sys::tun_offload(&file, all).is_ok() {
                return Ok(TunDevice {
                    file,
                    name,
                    mtu: 1500,
                    offload: true,
                    opts,
                    netns: None,
                });
            }
            // The kernel refuses: fall through to a device without offloads
            // (after this one is gone, so the name is free again).
            drop(file);
        }
        let (file, name) = sys::open_tun(name, false, opts.multi_queue)?;
        Ok(TunDevice {
            file,
            name,
            mtu: 1500,
            offload: false,
            opts,
            netns: None,
        })
    }

    /// Whether the device exchanges offloads with the kernel.
    pub fn offload(&self) -> bool {
        self.offload
    }

    /// Open (or create) the TUN interface `name` inside the network namespace
    /// named by `ns_path` (e.g. `/run/netns/NAME`). A short-lived thread
    /// enters the namespace, so the caller's threads stay where they are.
    pub fn open_in_netns(name: &str, ns_path: &Path) -> io::Result<TunDevice> {
        TunDevice::open_in_netns_with(name, ns_path, TunOptions::default())
    }

    /// [`TunDevice::open_in_netns`] as `opts` say.
    pub fn open_in_netns_with(
        name: &str,
        ns_path: &Path,
        opts: TunOptions,
    ) -> io::Result<TunDevice> {
        let ns = File::open(ns_path)?;
        let name = name.to_owned();
        let mut dev = std::thread::spawn(move || {
            sys::enter_netns(&ns)?;
            TunDevice::open_with(&name, opts)
        })
        .join()
        .map_err(|_| io::Error::other("thread opening the TUN device panicked"))??;
        dev.netns = Some(ns_path.to_owned());
        Ok(dev)
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
        if !self.offload {
            return (&self.file).read(buf);
        }
        let r = self.recv_checked(buf)?;
        // Whoever reads plain packets gets whole checksums.
        if r.checksum_valid {
            if let Some(p) = buf.get_mut(..r.len) {
                let _ = gso::complete_checksum(p);
            }
        }
        Ok(r.len)
    }

    fn send(&self, packet: &[u8]) -> io::Result<()> {
        if !self.offload {
            return (&self.file).write(packet).map(|_| ());
        }
        sys::write2(&self.file, &[0; sys::VNET_HDR_LEN], packet).map(|_| ())
    }

    fn mtu(&self) -> u16 {
        self.mtu
    }

    fn caps(&self) -> DeviceCaps {
        if self.offload {
            DeviceCaps::TSO
        } else {
            DeviceCaps::NONE
        }
    }

    fn recv_checked(&self, buf: &mut [u8]) -> io::Result<Received> {
        if !self.offload {
            return Ok(Received {
                len: (&self.file).read(buf)?,
                checksum_valid: false,
            });
        }
        let mut hdr = [0u8; sys::VNET_HDR_LEN];
        let n = sys::read2(&self.file, &mut hdr, buf)?;
        Ok(Received {
            len: n.saturating_sub(sys::VNET_HDR_LEN),
            checksum_valid: hdr[0] & (VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID) != 0,
        })
    }

    /// Another queue of a device opened with [`TunOptions::multi_queue`]
    /// (in the same namespace, with the same options and MTU).
    fn open_queue(&self) -> io::Result<Box<dyn Device>> {
        if !self.opts.multi_queue {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "more than one queue needs a TUN device opened with TunOptions::multi_queue",
            ));
        }
        let dev = match &self.netns {
            Some(ns) => TunDevice::open_in_netns_with(&self.name, ns, self.opts)?,
            None => TunDevice::open_with(&self.name, self.opts)?,
        };
        Ok(Box::new(dev.with_mtu(self.mtu)))
    }

    fn send_burst(&self, packet: &[u8], b: &Burst) -> io::Result<()> {
        if !self.offload {
            // Without offloads the bursts are single segments; cut anyway.
            return send_cut(packet, b, |p| self.send(p));
        }
        let mut hdr = [0u8; sys::VNET_HDR_LEN];
        if b.checksum_partial {
            hdr[0] = VNET_F_NEEDS_CSUM;
            hdr[6..8].copy_from_slice(&b.csum_start.to_le_bytes());
            hdr[8..10].copy_from_slice(&TCP_CSUM_OFFSET.to_le_bytes());
        }
        if b.segments > 1 {
            hdr[1] = if b.ipv6 {
                VNET_GSO_TCPV6
            } else {
                VNET_GSO_TCPV4
            };
            hdr[2..4].copy_from_slice(&b.header_len.to_le_bytes());
            hdr[4..6].copy_from_slice(&b.segment_size.to_le_bytes());
        }
        sys::write2(&self.file, &hdr, packet).map(|_| ())
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
