//! Typed errors of reading a capture.

use core::fmt;

/// Why a capture could not be read (to the end).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureError {
    /// Reading the input failed.
    Io(String),
    /// The input is empty.
    Empty,
    /// The input starts with neither a pcap nor a pcapng header.
    NotACapture {
        /// The first bytes, as read.
        magic: [u8; 4],
    },
    /// A block or record header is inconsistent, at this byte offset of
    /// the input; the packets before it were read.
    Corrupt {
        /// Offset of the bad block.
        offset: u64,
    },
    /// A block is larger than the reader will buffer (a corrupt length field).
    BlockTooLarge {
        /// Offset of the block.
        offset: u64,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Io(e) => write!(f, "cannot read the capture: {e}"),
            CaptureError::Empty => f.write_str("the capture is empty"),
            CaptureError::NotACapture { magic } => write!(
                f,
                "not a pcap or pcapng capture (it starts with {:02x} {:02x} {:02x} {:02x})",
                magic[0], magic[1], magic[2], magic[3]
            ),
            CaptureError::Corrupt { offset } => {
                write!(f, "the capture is corrupt at byte {offset}")
            }
            CaptureError::BlockTooLarge { offset } => write!(
                f,
                "a block at byte {offset} is larger than 16 MiB: the capture is corrupt"
            ),
        }
    }
}

impl std::error::Error for CaptureError {}
