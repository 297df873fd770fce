//! Loss recovery: duplicate ACKs, fast recovery (RFC 5681 3.2, RFC 6582)
//! and SACK-based recovery (RFC 6675) with its scoreboard.

pub(crate) mod scoreboard;

use scoreboard::Scoreboard;
use synack_wire::SeqNum;

/// A connection's loss recovery state.
#[derive(Debug)]
pub(crate) struct Recovery {
    /// Duplicate ACKs in a row (saturating; only small counts matter).
    pub(crate) dup_acks: u8,
    /// The recovery point (RFC 6582 `recover`, RFC 6675 RecoveryPoint).
    pub(crate) recover: SeqNum,
    /// The SACK scoreboard (RFC 6675 3), allocated only while the peer's SACK
    /// blocks report data above SND.UNA or a SACK-driven recovery runs.
    pub(crate) board: Option<Box<Scoreboard>>,
    /// Fast recovery runs.
    pub(crate) active: bool,
    /// The next output is a fast retransmission of SND.UNA.
    pub(crate) fast_rtx_pending: bool,
}
