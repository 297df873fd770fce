//! What the device can do for the stack: cut super-segments (TSO, GSO) and
//! compute checksums. A driver passes [`DeviceCaps`] to a [`Transmitter`],
//! which joins the stack's consecutive segments of one flow into bursts of
//! up to [`DeviceCaps::max_burst_segments`] segments with one header; the
//! device cuts them again at [`Burst::segment_size`]. The stack itself is
//! unchanged: it decides every segment as before, the transmitter only
//! packs them, so what reaches the wire after cutting is what the stack
//! would have sent segment by segment (`synack_wire::gso` says which fields
//! cutting sets). On the way in, [`Stack::handle_packet_checked`] takes a
//! super-segment the device joined (GRO) as one segment, and skips the
//! checksum when the device vouches for it.

use crate::time::Instant;
use crate::Stack;
use synack_wire::gso::{Layout, Super};
use synack_wire::ChecksumMode;

/// The offloads a device offers the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceCaps {
    /// Most segments one burst may carry; 1: every segment goes alone (no
    /// segmentation offload). Bursts never exceed 64 KiB either way.
    pub max_burst_segments: u16,
    /// The device computes TCP checksums: bursts carry only the
    /// pseudo-header sum in their checksum field ([`Burst::checksum_partial`]).
    pub tx_checksum: bool,
}

impl DeviceCaps {
    /// A device without offloads: one packet per segment, checksums done by
    /// the stack.
    pub const NONE: DeviceCaps = DeviceCaps {
        max_burst_segments: 1,
        tx_checksum: false,
    };

    /// A device that cuts up to 64 KiB bursts and computes checksums (a
    /// Linux TUN device with `IFF_VNET_HDR` and TSO).
    pub const TSO: DeviceCaps = DeviceCaps {
        max_burst_segments: 64,
        tx_checksum: true,
    };
}

impl Default for DeviceCaps {
    fn default() -> Self {
        DeviceCaps::NONE
    }
}

/// One packet from a [`Transmitter`]: a single segment, or a burst of
/// segments with one header that the device cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// Segments in the packet (1: a plain packet, send as it is).
    pub segments: u16,
    /// Payload octets of every segment but the last (the GSO size).
    pub segment_size: u16,
    /// IP plus TCP header length.
    pub header_len: u16,
    /// Where the TCP header starts (the checksum covers from here on).
    pub csum_start: u16,
    /// IPv6 (else IPv4).
    pub ipv6: bool,
    /// The TCP checksum field holds the pseudo-header sum only; the device
    /// must finish it (at `csum_start + 16`) for every segment it cuts.
    pub checksum_partial: bool,
}

impl Burst {
    fn single(buf: &[u8]) -> Burst {
        let l = Layout::of(buf).ok();
        Burst {
            segments: 1,
            segment_size: l.map_or(0, |l| l.payload as u16),
            header_len: l.map_or(0, |l| l.header_len() as u16),
            csum_start: l.map_or(0, |l| l.ip_len as u16),
            ipv6: buf.first().is_some_and(|b| b >> 4 == 6),
            checksum_partial: false,
        }
    }
}

/// Packs the stack's output into bursts for a device with [`DeviceCaps`].
/// Holds at most one segment that did not fit the last burst; drain it by
/// calling [`Transmitter::poll`] until it returns `None`, as a driver
/// drains [`Stack::poll_transmit`].
#[derive(Debug, Default)]
pub struct Transmitter {
    caps: DeviceCaps,
    pending: Vec<u8>,
    has_pending: bool,
    bursts: u64,
    joined: u64,
}

impl Transmitter {
    /// A transmitter for a device with `caps`.
    pub fn new(caps: DeviceCaps) -> Transmitter {
        Transmitter {
            caps,
            pending: Vec::with_capacity(2048),
            has_pending: false,
            bursts: 0,
            joined: 0,
        }
    }

    /// The device's capabilities.
    pub fn caps(&self) -> DeviceCaps {
        self.caps
    }

    /// Bursts of more than one segment made so far, and the segments in them.
    pub fn bursts(&self) -> (u64, u64) {
        (self.bursts, self.joined)
    }

    /// Write the next packet into `buf`: the stack's next segment, joined
    /// with as many following segments of the same flow as the device may
    /// cut. `each` sees every segment the stack emitted, one by one, before
    /// it is joined (for captures and traces). `None` when the stack has
    /// nothing more to send.
    pub fn poll(
        &mut self,
        stack: &mut Stack,
        now: Instant,
        buf: &mut Vec<u8>,
        mut each: impl FnMut(&[u8]),
    ) -> Option<Burst> {
        if self.has_pending {
            std::mem::swap(buf, &mut self.pending);
            self.has_pending = false;
        } else if stack.poll_transmit(now, buf) {
            each(buf);
        } else {
            return None;
        }
        if self.caps.max_burst_segments <= 1 {
            return Some(Burst::single(buf));
        }
        let Ok(mut sup) = Super::start(buf) else {
            return Some(Burst::single(buf));
        };
        while sup.segments() < self.caps.max_burst_segments && !sup.is_closed() {
            if !stack.poll_transmit(now, &mut self.pending) {
                break;
            }
            each(&self.pending);
            if sup.append(buf, &self.pending).is_err() {
                self.has_pending = true;
                break;
            }
        }
        if sup.segments() == 1 {
            return Some(Burst::single(buf));
        }
        sup.finish(buf);
        self.bursts += 1;
        self.joined += u64::from(sup.segments());
        let l = sup.layout();
        Some(Burst {
            segments: sup.segments(),
            segment_size: sup.segment_size(),
            header_len: l.header_len() as u16,
            csum_start: l.ip_len as u16,
            ipv6: l.ipv6,
            checksum_partial: true,
        })
    }
}

impl Stack {
    /// [`Stack::handle_packet`] for a packet whose checksums the device has
    /// verified, or that the local host built and leaves for the device to
    /// finish (`checksum_valid`: DATA_VALID or NEEDS_CSUM in a virtio
    /// header); it may be a super-segment the device joined (GRO), taken as
    /// one segment. Other packets are verified as always.
    pub fn handle_packet_checked(&mut self, now: Instant, packet: &[u8], checksum_valid: bool) {
        let mode = if checksum_valid {
            ChecksumMode::Ignore
        } else {
            ChecksumMode::Verify
        };
        self.handle_packet_mode(now, packet, mode);
    }
}
