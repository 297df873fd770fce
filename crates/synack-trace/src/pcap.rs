//! A classic pcap file of the packets on the links.
//!
//! Format: the 24-byte global header (magic `0xa1b2c3d4` written in the
//! machine's byte order as libpcap does, here little-endian explicitly,
//! version 2.4, snaplen 65535, link type `LINKTYPE_RAW` so each record is a
//! bare IPv4 or IPv6 packet), then per packet a 16-byte record header
//! (seconds, microseconds, captured length, original length) and the bytes.
//!
//! [`PcapWriter`] writes that format packet by packet (the synack runtime
//! captures live traffic with it); [`write_pcap`] writes a whole simulator
//! trace, timestamped with the virtual send times, as seconds and
//! microseconds since the epoch 0.

use std::io::{self, Write};
use std::time::Duration;
use synack_sim::{LinkFate, TraceEntry, TraceKind};

/// The pcap magic number (microsecond timestamps).
pub const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
/// The link type of bare IP packets.
pub const LINKTYPE_RAW: u32 = 101;
const SNAPLEN: u32 = 65535;

/// Writes a pcap stream: the global header when made, then one record per
/// [`PcapWriter::write_packet`].
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    rec: Vec<u8>,
}

impl<W: Write> PcapWriter<W> {
    /// Write the global header to `out`.
    pub fn new(mut out: W) -> io::Result<PcapWriter<W>> {
        let mut head = Vec::with_capacity(24);
        head.extend_from_slice(&PCAP_MAGIC.to_le_bytes());
        head.extend_from_slice(&2u16.to_le_bytes());
        head.extend_from_slice(&4u16.to_le_bytes());
        head.extend_from_slice(&0i32.to_le_bytes());
        head.extend_from_slice(&0u32.to_le_bytes());
        head.extend_from_slice(&SNAPLEN.to_le_bytes());
        head.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
        out.write_all(&head)?;
        Ok(PcapWriter {
            out,
            rec: Vec::new(),
        })
    }

    /// Write one packet, taken `at` after the epoch, as one record (a single
    /// write). A packet longer than the snap length is truncated to it; the
    /// record keeps its original length.
    pub fn write_packet(&mut self, at: Duration, packet: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(at.as_secs()).unwrap_or(u32::MAX);
        let orig = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let cap = orig.min(SNAPLEN);
        self.rec.clear();
        self.rec.extend_from_slice(&secs.to_le_bytes());
        self.rec
            .extend_from_slice(&at.subsec_micros().to_le_bytes());
        self.rec.extend_from_slice(&cap.to_le_bytes());
        self.rec.extend_from_slice(&orig.to_le_bytes());
        self.rec
            .extend_from_slice(packet.get(..cap as usize).unwrap_or(packet));
        self.out.write_all(&self.rec)
    }

    /// Flush the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The output.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Options of [`write_pcap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PcapOptions {
    /// Also write the packets the link dropped (they were sent, so a
    /// capture at the sender would see them).
    pub include_dropped: bool,
}

/// Write the packets of the trace's link entries as a pcap file; returns
/// the number of packets written. Packets longer than the snap length are
/// truncated to it (their original length is kept in the record).
pub fn write_pcap<W: Write>(
    entries: &[TraceEntry],
    out: &mut W,
    opts: &PcapOptions,
) -> io::Result<usize> {
    let mut w = PcapWriter::new(out)?;
    let mut n = 0;
    for e in entries {
        let TraceKind::Link(link) = &e.kind else {
            continue;
        };
        if matches!(link.fate, LinkFate::Dropped(_)) && !opts.include_dropped {
            continue;
        }
        w.write_packet(Duration::from_micros(e.at.micros()), &link.packet)?;
        n += 1;
    }
    Ok(n)
}
