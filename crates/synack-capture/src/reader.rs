//! Streaming pcap and pcapng reading with `pcap-parser`: one frame at a
//! time, in constant memory, from a file or a pipe (`tcpdump -w - | ...`).
//!
//! Legacy pcap with microsecond or nanosecond timestamps, either byte
//! order; pcapng with any number of sections and interfaces, each with its
//! own link type and timestamp resolution and offset. A file cut short in
//! the middle of a record (a capture still being written, a copy
//! interrupted) ends the reading with [`ReadStats::truncated`] set; a
//! block whose header makes no sense is [`CaptureError::Corrupt`].

use crate::error::CaptureError;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};
use std::io::{self, Read};

/// The reader's starting buffer; it grows for larger blocks, up to [`MAX_BLOCK`].
const BUFFER: usize = 256 * 1024;
/// The largest block the reader buffers.
pub const MAX_BLOCK: usize = 16 * 1024 * 1024;

/// One captured frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Capture time in nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// The link type (`LINKTYPE_*` of the tcpdump.org list).
    pub link: u32,
    /// The captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// The packet's length on the wire.
    pub orig_len: u32,
    /// The pcapng interface (0 in pcap files).
    pub iface: u32,
}

/// The container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Classic pcap.
    #[default]
    Pcap,
    /// pcapng.
    PcapNg,
}

/// What the reader saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadStats {
    /// The container format.
    pub format: Format,
    /// Frames handed on.
    pub frames: u64,
    /// Bytes of input consumed.
    pub bytes: u64,
    /// The input ended in the middle of a record.
    pub truncated: bool,
    /// pcapng packets naming an interface that was never described.
    pub unknown_interface: u64,
    /// pcapng blocks that carry no packet (statistics, name resolution ...).
    pub other_blocks: u64,
    /// Nanosecond timestamps were seen (pcap magic or pcapng `if_tsresol`).
    pub nanosecond: bool,
}

/// A pcapng interface: link type and timestamp units.
#[derive(Debug, Clone, Copy)]
struct Iface {
    link: u32,
    /// Units per second.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset: i64,
}

/// Read every frame of a pcap or pcapng stream and hand it to `f`.
///
/// The stream is read as it comes: a pipe is processed while it is being
/// written. Frames before an error were handed on before it is returned.
pub fn read_frames<R: Read>(
    mut input: R,
    mut f: impl FnMut(&Frame<'_>),
) -> Result<ReadStats, CaptureError> {
    let head = read_header(&mut input)?;
    let mut stats = ReadStats::default();
    let chained = io::Cursor::new(head.clone()).chain(input);
    if head.get(..4) == Some(&[0x0a, 0x0d, 0x0d, 0x0a][..]) {
        stats.format = Format::PcapNg;
        let reader = PcapNGReader::new(BUFFER, chained).map_err(|e| start_error(&e, &head))?;
        drive(Box::new(reader), &mut stats, &mut f)?;
    } else {
        let reader = LegacyPcapReader::new(BUFFER, chained).map_err(|e| start_error(&e, &head))?;
        drive(Box::new(reader), &mut stats, &mut f)?;
    }
    Ok(stats)
}

/// The file header: 24 bytes of pcap, or pcapng's whole Section Header
/// Block, read fully even from a pipe that delivers a few bytes at a time.
fn read_header<R: Read>(input: &mut R) -> Result<Vec<u8>, CaptureError> {
    let mut head = vec![0u8; 8];
    let n = read_full(input, &mut head)?;
    if n == 0 {
        return Err(CaptureError::Empty);
    }
    head.truncate(n);
    let magic = [
        head.first().copied().unwrap_or(0),
        head.get(1).copied().unwrap_or(0),
        head.get(2).copied().unwrap_or(0),
        head.get(3).copied().unwrap_or(0),
    ];
    let want = match magic {
        [0x0a, 0x0d, 0x0d, 0x0a] if n == 8 => {
            // The SHB's length, in the section's byte order (its magic follows).
            let mut len = [0u8; 4];
            len.copy_from_slice(head.get(4..8).unwrap_or(&[0; 4]));
            let le = u32::from_le_bytes(len) as usize;
            let be = u32::from_be_bytes(len) as usize;
            le.min(be).clamp(28, 1 << 20)
        }
        [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0xc3, 0xd4]
        | [0x4d, 0x3c, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d]
        | [0x34, 0xcd, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0xcd, 0x34] => 24,
        _ => return Err(CaptureError::NotACapture { magic }),
    };
    let have = head.len();
    head.resize(want.max(have), 0);
    let more = read_full(input, head.get_mut(have..).unwrap_or(&mut []))?;
    head.truncate(have + more);
    Ok(head)
}

/// Read until `buf` is full or the input ends; the bytes read.
fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> Result<usize, CaptureError> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(buf.get_mut(n..).unwrap_or(&mut [])) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CaptureError::Io(e.to_string())),
        }
    }
    Ok(n)
}

fn start_error(e: &PcapError<&[u8]>, head: &[u8]) -> CaptureError {
    let mut magic = [0u8; 4];
    for (m, b) in magic.iter_mut().zip(head) {
        *m = *b;
    }
    match e {
        PcapError::ReadError => CaptureError::Io("read error".into()),
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
            CaptureError::Corrupt { offset: 0 }
        }
        _ => CaptureError::NotACapture { magic },
    }
}

/// What the loop does after a block.
enum Next {
    Consume(usize),
    Refill,
    Grow,
    End,
    Fail(CaptureError),
}

/// The read loop shared by both formats.
fn drive(
    mut reader: Box<dyn PcapReaderIterator + '_>,
    stats: &mut ReadStats,
    f: &mut dyn FnMut(&Frame<'_>),
) -> Result<(), CaptureError> {
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut legacy: Option<(u32, bool)> = None;
    let mut size = BUFFER;
    loop {
        let offset = stats.bytes;
        let step = match reader.next() {
            Ok((n, block)) => {
                handle_block(block, &mut ifaces, &mut legacy, stats, f);
                Next::Consume(n)
            }
            Err(PcapError::Eof) => Next::End,
            Err(PcapError::Incomplete(_)) => Next::Refill,
            Err(PcapError::UnexpectedEof) => {
                stats.truncated = true;
                Next::End
            }
            Err(PcapError::BufferTooSmall) => Next::Grow,
            Err(PcapError::ReadError) => Next::Fail(CaptureError::Io("read error".into())),
            Err(_) => Next::Fail(CaptureError::Corrupt { offset }),
        };
        match step {
            Next::Consume(n) => {
                stats.bytes += n as u64;
                reader.consume(n);
            }
            Next::Refill => {
                if reader.refill().is_err() {
                    return Err(CaptureError::Io("read error".into()));
                }
                if reader.reader_exhausted() && reader.data().is_empty() {
                    return Ok(());
                }
            }
            Next::Grow => {
                if size >= MAX_BLOCK {
                    return Err(CaptureError::BlockTooLarge { offset });
                }
                size = (size * 2).min(MAX_BLOCK);
                if !reader.grow(size) {
                    return Err(CaptureError::BlockTooLarge { offset });
                }
                if reader.refill().is_err() {
                    return Err(CaptureError::Io("read error".into()));
                }
            }
            Next::End => return Ok(()),
            Next::Fail(e) => return Err(e),
        }
    }
}

fn handle_block(
    block: PcapBlockOwned<'_>,
    ifaces: &mut Vec<Iface>,
    legacy: &mut Option<(u32, bool)>,
    stats: &mut ReadStats,
    f: &mut dyn FnMut(&Frame<'_>),
) {
    match block {
        PcapBlockOwned::LegacyHeader(h) => {
            let nano = h.is_nanosecond_precision();
            stats.nanosecond |= nano;
            *legacy = Some((h.network.0 as u32, nano));
        }
        PcapBlockOwned::Legacy(b) => {
            let (link, nano) = legacy.unwrap_or((1, false));
            let frac = if nano {
                u64::from(b.ts_usec)
            } else {
                u64::from(b.ts_usec) * 1000
            };
            let ts_ns = u64::from(b.ts_sec) * 1_000_000_000 + frac;
            stats.frames += 1;
            f(&Frame {
                ts_ns,
                link,
                data: b.data,
                orig_len: b.origlen,
                iface: 0,
            });
        }
        PcapBlockOwned::NG(block) => ng_block(&block, ifaces, stats, f),
    }
}

fn ng_block(
    block: &Block<'_>,
    ifaces: &mut Vec<Iface>,
    stats: &mut ReadStats,
    f: &mut dyn FnMut(&Frame<'_>),
) {
    match block {
        // RFC-to-be pcapng 4.1: a new section starts its own interface list.
        Block::SectionHeader(_) => ifaces.clear(),
        Block::InterfaceDescription(idb) => {
            let resolution = idb.ts_resolution().unwrap_or(1_000_000).max(1);
            stats.nanosecond |= resolution >= 1_000_000_000;
            ifaces.push(Iface {
                link: idb.linktype.0 as u32,
                resolution,
                offset: idb.ts_offset(),
            });
        }
        Block::EnhancedPacket(epb) => {
            let Some(iface) = ifaces.get(epb.if_id as usize).copied() else {
                stats.unknown_interface += 1;
                return;
            };
            let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            let ns = u128::from(units) * 1_000_000_000 / u128::from(iface.resolution);
            let ns = u64::try_from(ns).unwrap_or(u64::MAX);
            let ts_ns = ns.saturating_add_signed(iface.offset.saturating_mul(1_000_000_000));
            stats.frames += 1;
            f(&Frame {
                ts_ns,
                link: iface.link,
                data: epb.packet_data(),
                orig_len: epb.orig_len(),
                iface: epb.if_id,
            });
        }
        Block::SimplePacket(spb) => {
            // A Simple Packet Block belongs to the first interface and has no timestamp.
            let Some(iface) = ifaces.first().copied() else {
                stats.unknown_interface += 1;
                return;
            };
            stats.frames += 1;
            f(&Frame {
                ts_ns: 0,
                link: iface.link,
                data: spb.packet_data(),
                orig_len: spb.orig_len(),
                iface: 0,
            });
        }
        _ => stats.other_blocks += 1,
    }
}
