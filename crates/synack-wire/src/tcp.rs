//! The TCP header and its options (RFC 9293 3.1, RFC 7323, RFC 2018).

use crate::checksum;
use crate::fastopen::FastOpenOption;
use crate::field::{set_u16, set_u32, u16_at, u32_at, u8_at};
use crate::ip::{IpRepr, PROTO_TCP};
use crate::seq::SeqNum;
use crate::{ChecksumMode, WireError};
use core::fmt;
use std::net::IpAddr;

/// Length of a TCP header without options.
pub const TCP_HEADER_LEN: usize = 20;
/// Most option bytes a header can carry (data offset 15 words).
pub const MAX_OPTIONS_LEN: usize = 40;

/// TCP option kinds (RFC 9293 3.2, RFC 7323, RFC 2018).
pub mod option_kind {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No operation (padding).
    pub const NOP: u8 = 1;
    /// Maximum segment size, length 4.
    pub const MSS: u8 = 2;
    /// Window scale, length 3 (RFC 7323 2.2).
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted, length 2 (RFC 2018 2).
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK, length 2 + 8n (RFC 2018 3).
    pub const SACK: u8 = 5;
    /// Timestamps, length 10 (RFC 7323 3.2).
    pub const TIMESTAMPS: u8 = 8;
    /// TCP Fast Open cookie, length 2 (a request) or 6 to 18 (RFC 7413 4.1.1).
    pub const FAST_OPEN: u8 = 34;
    /// Shared experimental kind (RFC 6994); Fast Open's magic is 0xF989.
    pub const EXPERIMENTAL: u8 = 254;
}

/// The TCP control bits. Any combination can be parsed and emitted (hostile
/// input included); the connection decides what each combination means.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// Acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// Urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x80);
    /// No flags.
    pub const NONE: TcpFlags = TcpFlags(0);

    /// All bits of `other` are set in `self`.
    #[inline]
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Any bit of `other` is set.
    #[inline]
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Shorthands for single bits.
    #[inline]
    pub const fn syn(self) -> bool {
        self.contains(Self::SYN)
    }
    /// ACK bit.
    #[inline]
    pub const fn ack(self) -> bool {
        self.contains(Self::ACK)
    }
    /// FIN bit.
    #[inline]
    pub const fn fin(self) -> bool {
        self.contains(Self::FIN)
    }
    /// RST bit.
    #[inline]
    pub const fn rst(self) -> bool {
        self.contains(Self::RST)
    }
    /// PSH bit.
    #[inline]
    pub const fn psh(self) -> bool {
        self.contains(Self::PSH)
    }
    /// ECE bit (RFC 3168 6.1).
    #[inline]
    pub const fn ece(self) -> bool {
        self.contains(Self::ECE)
    }
    /// CWR bit (RFC 3168 6.1).
    #[inline]
    pub const fn cwr(self) -> bool {
        self.contains(Self::CWR)
    }

    /// The names of the set bits, in the order tcpdump prints them.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        const NAMES: [(TcpFlags, &str); 8] = [
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::ACK, "ACK"),
            (TcpFlags::URG, "URG"),
            (TcpFlags::ECE, "ECE"),
            (TcpFlags::CWR, "CWR"),
        ];
        NAMES
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl core::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for TcpFlags {
    /// `SYN,ACK`; `none` when no bit is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for n in self.names() {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(n)?;
            first = false;
        }
        if first {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// The timestamps option (RFC 7323 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timestamps {
    /// TSval: the sender's timestamp clock.
    pub tsval: u32,
    /// TSecr: the echoed timestamp.
    pub tsecr: u32,
}

/// Up to four SACK blocks (RFC 2018 3), each `[left, right)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SackBlocks {
    blocks: [(SeqNum, SeqNum); 4],
    len: u8,
}

impl SackBlocks {
    /// Most blocks a header can carry.
    pub const MAX: usize = 4;

    /// Append a block; returns false (and drops it) when four are present.
    pub fn push(&mut self, left: SeqNum, right: SeqNum) -> bool {
        if (self.len as usize) < Self::MAX {
            self.blocks[self.len as usize] = (left, right);
            self.len += 1;
            true
        } else {
            false
        }
    }

    /// The blocks present.
    pub fn as_slice(&self) -> &[(SeqNum, SeqNum)] {
        &self.blocks[..self.len as usize]
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// No blocks.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The TCP options synack understands. Unknown options are skipped on parse
/// (counted in `unknown`) and never emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2), only meaningful on SYN segments.
    pub mss: Option<u16>,
    /// Window scale shift (kind 3) as received; values above 14 are kept
    /// as sent (RFC 7323 2.3 says the receiver clamps them to 14).
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4).
    pub sack_permitted: bool,
    /// SACK blocks (kind 5).
    pub sack: SackBlocks,
    /// Timestamps (kind 8).
    pub timestamps: Option<Timestamps>,
    /// Fast Open (kind 34, or kind 254 with magic 0xF989; RFC 7413 4.1.1):
    /// a cookie request or a cookie.
    pub fast_open: Option<FastOpenOption>,
    /// Number of unknown options skipped while parsing.
    pub unknown: u8,
}

impl TcpOptions {
    /// Length in bytes these options take on the wire, padded to a multiple of 4.
    ///
    /// Agrees exactly with [`TcpOptions::emit`]; see there for the layout.
    pub fn wire_len(&self) -> usize {
        let fixed = self.fixed_len();
        let n = self.sack_blocks_emitted();
        let sack = if n == 0 { 0 } else { 4 + 8 * n };
        fixed + sack + self.fast_open.map_or(0, |f| f.wire_len())
    }

    /// Bytes taken by everything but the SACK blocks (at most 20).
    fn fixed_len(&self) -> usize {
        let mut len = 0;
        if self.mss.is_some() {
            len += 4;
        }
        if self.timestamps.is_some() {
            // SACK-permitted rides in the two bytes before TS that would
            // otherwise be NOP, NOP.
            len += 12;
        } else if self.sack_permitted {
            len += 4;
        }
        if self.window_scale.is_some() {
            len += 4;
        }
        len
    }

    /// How many of `self.sack` blocks [`TcpOptions::emit`] writes: as many
    /// as fit in the 40 option bytes left after the other options, first
    /// blocks first (RFC 2018 4: the first block must report the most
    /// recently received segment, so the ones at the end are dropped).
    /// With timestamps that is 3 blocks, with every SYN option 2.
    pub fn sack_blocks_emitted(&self) -> usize {
        let fo = self.fast_open.map_or(0, |f| f.wire_len());
        let room = MAX_OPTIONS_LEN.saturating_sub(self.fixed_len() + fo);
        // NOP, NOP, kind, length, then 8 bytes per block.
        let fit = room.saturating_sub(4) / 8;
        self.sack.len().min(fit)
    }

    /// The options as they read back after [`TcpOptions::emit`]: SACK
    /// blocks that do not fit are dropped and `unknown` is zero (unknown
    /// options are never emitted).
    pub fn normalized(&self) -> TcpOptions {
        let mut out = *self;
        out.unknown = 0;
        out.sack = SackBlocks::default();
        for &(l, r) in self.sack.as_slice().iter().take(self.sack_blocks_emitted()) {
            out.sack.push(l, r);
        }
        out
    }

    /// Parse the option bytes of a TCP header (after the fixed 20 bytes).
    ///
    /// * EOL ends parsing; whatever follows is ignored (RFC 9293 3.2).
    /// * NOP is skipped.
    /// * MSS (len 4), window scale (len 3), SACK-permitted (len 2), SACK
    ///   (len 2 + 8n, n in 1..=4) and timestamps (len 10) are decoded; a
    ///   known kind with any other length is [`WireError::BadOption`].
    /// * Unknown kinds are skipped by their length byte and counted in
    ///   `unknown` (saturating) (RFC 9293 3.2: "must be prepared to handle
    ///   an illegal option length ... without crashing").
    /// * A length byte below 2, missing, or running past the header is
    ///   [`WireError::BadOption`].
    /// * Duplicated known options: the last one wins (a duplicate SACK
    ///   option replaces the earlier blocks). Rejecting them would make
    ///   synack stricter than the peers it talks to, which accept them.
    pub fn parse(bytes: &[u8]) -> Result<TcpOptions, WireError> {
        use option_kind as k;
        // The options of nearly every segment after the handshake when
        // timestamps are on (RFC 7323 Appendix A's layout, which Linux and
        // the BSDs send): NOP, NOP, TS. Read at once; the loop below decodes
        // them to the same value.
        if let [k::NOP, k::NOP, k::TIMESTAMPS, 10, ts @ ..] = bytes {
            if ts.len() == 8 {
                return Ok(TcpOptions {
                    timestamps: Some(Timestamps {
                        tsval: u32_at(ts, 0),
                        tsecr: u32_at(ts, 4),
                    }),
                    ..TcpOptions::default()
                });
            }
        }
        Self::parse_each(bytes)
    }

    /// [`TcpOptions::parse`] one option at a time, for any layout.
    fn parse_each(mut bytes: &[u8]) -> Result<TcpOptions, WireError> {
        use option_kind as k;
        let mut o = TcpOptions::default();
        loop {
            let (kind, rest) = match bytes {
                [] => break,
                [kind, rest @ ..] => (*kind, rest),
            };
            match kind {
                k::EOL => break,
                k::NOP => {
                    bytes = rest;
                    continue;
                }
                _ => {}
            }
            let len = usize::from(*rest.first().ok_or(WireError::BadOption)?);
            if len < 2 {
                return Err(WireError::BadOption);
            }
            let opt = bytes.get(..len).ok_or(WireError::BadOption)?;
            let body = opt.get(2..).unwrap_or(&[]);
            match (kind, body) {
                (k::MSS, &[a, b]) => o.mss = Some(u16::from_be_bytes([a, b])),
                // RFC 7323 2.2: shift.cnt is kept as sent; clamping to 14 is
                // the connection's job (2.3).
                (k::WINDOW_SCALE, &[s]) => o.window_scale = Some(s),
                (k::SACK_PERMITTED, &[]) => o.sack_permitted = true,
                (k::SACK, body) if !body.is_empty() && body.len() % 8 == 0 && body.len() <= 32 => {
                    // RFC 2018 3: 8 bytes per block, left edge then right edge.
                    let mut sack = SackBlocks::default();
                    for blk in body.chunks_exact(8) {
                        let left = SeqNum(u32_at(blk, 0));
                        let right = SeqNum(u32_at(blk, 4));
                        sack.push(left, right);
                    }
                    o.sack = sack;
                }
                (k::TIMESTAMPS, body) if body.len() == 8 => {
                    // RFC 7323 3.2: TSval then TSecr.
                    o.timestamps = Some(Timestamps {
                        tsval: u32_at(body, 0),
                        tsecr: u32_at(body, 4),
                    });
                }
                (k::MSS | k::WINDOW_SCALE | k::SACK_PERMITTED | k::SACK | k::TIMESTAMPS, _) => {
                    return Err(WireError::BadOption);
                }
                // RFC 7413 4.1.1; a cookie over 16 bytes is no Fast Open
                // option and is skipped as unknown.
                (k::FAST_OPEN, body) if FastOpenOption::parse_rfc(body).is_some() => {
                    o.fast_open = FastOpenOption::parse_rfc(body);
                }
                (k::EXPERIMENTAL, body) if FastOpenOption::parse_experimental(body).is_some() => {
                    o.fast_open = FastOpenOption::parse_experimental(body);
                }
                _ => o.unknown = o.unknown.saturating_add(1),
            }
            bytes = bytes.get(len..).unwrap_or(&[]);
        }
        Ok(o)
    }

    /// Write the options into `buf[..self.wire_len()]`, returning that length.
    ///
    /// The layout is the one Linux uses, each piece already 4-byte aligned:
    ///
    /// 1. `MSS` (4 bytes);
    /// 2. with timestamps: `SACK_PERM, TS` when SACK is permitted, else
    ///    `NOP, NOP, TS` (12 bytes); without timestamps but with SACK
    ///    permitted: `NOP, NOP, SACK_PERM` (4 bytes);
    /// 3. `NOP, WSCALE` (4 bytes);
    /// 4. `NOP, NOP, SACK` with as many blocks as fit (see
    ///    [`TcpOptions::sack_blocks_emitted`]);
    /// 5. Fast Open, then NOPs to a multiple of 4 bytes
    ///    ([`FastOpenOption::emit`]).
    ///
    /// So a SYN with everything is `MSS, SACK_PERM, TS, NOP, WSCALE`
    /// (20 bytes). Every option that is set is written whatever the
    /// segment's flags; which options belong on which segment is the
    /// connection's decision.
    ///
    /// # Panics
    /// If `buf` is shorter than [`TcpOptions::wire_len`].
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        use option_kind as k;
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            buf[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        if let Some(mss) = self.mss {
            let [a, b] = mss.to_be_bytes();
            put(&[k::MSS, 4, a, b]);
        }
        if let Some(ts) = self.timestamps {
            if self.sack_permitted {
                put(&[k::SACK_PERMITTED, 2]);
            } else {
                put(&[k::NOP, k::NOP]);
            }
            put(&[k::TIMESTAMPS, 10]);
            put(&ts.tsval.to_be_bytes());
            put(&ts.tsecr.to_be_bytes());
        } else if self.sack_permitted {
            put(&[k::NOP, k::NOP, k::SACK_PERMITTED, 2]);
        }
        if let Some(ws) = self.window_scale {
            put(&[k::NOP, k::WINDOW_SCALE, 3, ws]);
        }
        let n = self.sack_blocks_emitted();
        if n > 0 {
            put(&[k::NOP, k::NOP, k::SACK, (2 + 8 * n) as u8]);
            for &(l, r) in self.sack.as_slice().iter().take(n) {
                put(&l.0.to_be_bytes());
                put(&r.0.to_be_bytes());
            }
        }
        if let Some(fo) = self.fast_open {
            at += fo.emit(&mut buf[at..]);
        }
        debug_assert_eq!(at, self.wire_len());
        at
    }
}

mod field {
    pub(super) const SRC_PORT: usize = 0;
    pub(super) const DST_PORT: usize = 2;
    pub(super) const SEQ: usize = 4;
    pub(super) const ACK: usize = 8;
    pub(super) const DATA_OFFSET: usize = 12;
    pub(super) const FLAGS: usize = 13;
    pub(super) const WINDOW: usize = 14;
    pub(super) const CHECKSUM: usize = 16;
    pub(super) const URGENT: usize = 18;
}

/// A zero-copy view of a TCP segment.
///
/// After [`TcpPacket::new_checked`] succeeds, no accessor panics and the
/// data offset lies inside the buffer. Readers on a view built with
/// [`TcpPacket::new_unchecked`] never panic either; fields outside the
/// buffer read as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wrap `buffer` without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wrap `buffer` (the whole segment, header and payload), checking that
    /// the fixed header fits ([`WireError::Truncated`]) and that the data
    /// offset is at least 5 and inside the buffer ([`WireError::BadDataOffset`],
    /// RFC 9293 3.1).
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let p = TcpPacket { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// The length checks of [`TcpPacket::new_checked`].
    pub fn check_len(&self) -> Result<(), WireError> {
        let len = self.b().len();
        if len < TCP_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let hlen = self.header_len();
        if hlen < TCP_HEADER_LEN || hlen > len {
            return Err(WireError::BadDataOffset);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        u16_at(self.b(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        u16_at(self.b(), field::DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> SeqNum {
        SeqNum(u32_at(self.b(), field::SEQ))
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> SeqNum {
        SeqNum(u32_at(self.b(), field::ACK))
    }

    /// Data offset in 32-bit words.
    pub fn data_offset(&self) -> u8 {
        u8_at(self.b(), field::DATA_OFFSET) >> 4
    }

    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    /// The control bits (all eight).
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(u8_at(self.b(), field::FLAGS))
    }

    /// The window field (unscaled).
    pub fn window_len(&self) -> u16 {
        u16_at(self.b(), field::WINDOW)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        u16_at(self.b(), field::CHECKSUM)
    }

    /// The urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        u16_at(self.b(), field::URGENT)
    }

    /// The option bytes (between the fixed header and the data offset).
    pub fn options(&self) -> &[u8] {
        self.b()
            .get(TCP_HEADER_LEN..self.header_len())
            .unwrap_or(&[])
    }

    /// The payload (after the data offset).
    pub fn payload(&self) -> &[u8] {
        self.b().get(self.header_len()..).unwrap_or(&[])
    }

    /// The checksum is correct for the pseudo-header of `src` and `dst`
    /// (RFC 9293 3.1; RFC 8200 8.1 for IPv6).
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        let b = self.b();
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        checksum::verify(checksum::pseudo_header(src, dst, PROTO_TCP, len), b)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Set the source port.
    ///
    /// # Panics
    /// All setters panic if the buffer is shorter than 20 bytes.
    pub fn set_src_port(&mut self, v: u16) {
        set_u16(self.bm(), field::SRC_PORT, v);
    }

    /// Set the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        set_u16(self.bm(), field::DST_PORT, v);
    }

    /// Set the sequence number.
    pub fn set_seq_number(&mut self, v: SeqNum) {
        set_u32(self.bm(), field::SEQ, v.0);
    }

    /// Set the acknowledgment number.
    pub fn set_ack_number(&mut self, v: SeqNum) {
        set_u32(self.bm(), field::ACK, v.0);
    }

    /// Set the header length in bytes (a multiple of 4, 20..=60); the
    /// reserved bits are cleared.
    pub fn set_header_len(&mut self, len: usize) {
        self.bm()[field::DATA_OFFSET] = ((len / 4) as u8) << 4;
    }

    /// Set the control bits.
    pub fn set_flags(&mut self, f: TcpFlags) {
        self.bm()[field::FLAGS] = f.0;
    }

    /// Set the window field.
    pub fn set_window_len(&mut self, v: u16) {
        set_u16(self.bm(), field::WINDOW, v);
    }

    /// Set the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.bm(), field::CHECKSUM, v);
    }

    /// Set the urgent pointer.
    pub fn set_urgent_at(&mut self, v: u16) {
        set_u16(self.bm(), field::URGENT, v);
    }

    /// Compute and store the checksum over the whole buffer with the
    /// pseudo-header of `src` and `dst`.
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) {
        self.set_checksum(0);
        let b = self.b();
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        let c = checksum::checksum(checksum::pseudo_header(src, dst, PROTO_TCP, len), b);
        self.set_checksum(c);
    }
}

/// A parsed TCP segment: header fields plus a payload borrowed from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: SeqNum,
    /// Acknowledgment number (meaningful only with ACK set; kept as sent).
    pub ack: SeqNum,
    /// Control bits.
    pub flags: TcpFlags,
    /// The raw 16-bit window field (unscaled).
    pub window: u16,
    /// The urgent pointer.
    pub urgent: u16,
    /// Options.
    pub options: TcpOptions,
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Parse a TCP segment (header, options, payload) from `bytes`, the IP
    /// payload, verifying the checksum with `ip`'s pseudo-header unless `mode`
    /// says not to.
    ///
    /// Checks, in order: lengths and data offset (see
    /// [`TcpPacket::new_checked`]), the checksum when `mode` is
    /// [`ChecksumMode::Verify`] ([`WireError::BadTcpChecksum`]), then the
    /// options (see [`TcpOptions::parse`]). Any combination of flags is
    /// accepted; the reserved bits are ignored.
    pub fn parse(
        bytes: &'a [u8],
        ip: &IpRepr,
        mode: ChecksumMode,
    ) -> Result<TcpRepr<'a>, WireError> {
        let p = TcpPacket::new_checked(bytes)?;
        if mode == ChecksumMode::Verify && !p.verify_checksum(ip.src(), ip.dst()) {
            return Err(WireError::BadTcpChecksum);
        }
        let options = TcpOptions::parse(p.options())?;
        Ok(TcpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq_number(),
            ack: p.ack_number(),
            flags: p.flags(),
            window: p.window_len(),
            urgent: p.urgent_at(),
            options,
            payload: p.into_inner().get(p.header_len()..).unwrap_or(&[]),
        })
    }

    /// [`TcpRepr::parse`] with the checksum left half done, for a receiver
    /// that sums the payload while copying it (see
    /// [`crate::checksum::copy_and_sum`]): returns the segment and the
    /// partial sum of the pseudo-header and the TCP header (checksum field
    /// included). The segment is intact exactly when
    /// [`TcpRepr::checksum_ok`]`(head_sum, sum(0, payload))` holds; until the
    /// caller has checked that, nothing in it may be acted on.
    ///
    /// The errors are [`TcpRepr::parse`]'s in the same order: a segment
    /// whose options are malformed has its checksum verified here first, so
    /// a corrupted one is still [`WireError::BadTcpChecksum`].
    pub fn parse_deferred(bytes: &'a [u8], ip: &IpRepr) -> Result<(TcpRepr<'a>, u32), WireError> {
        let p = TcpPacket::new_checked(bytes)?;
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let hlen = p.header_len();
        let (head, payload) = bytes.split_at(hlen.min(bytes.len()));
        let head_sum = checksum::sum(
            checksum::pseudo_header(ip.src(), ip.dst(), PROTO_TCP, len),
            head,
        );
        let options = match TcpOptions::parse(p.options()) {
            Ok(o) => o,
            Err(e) => {
                if !TcpRepr::checksum_ok(head_sum, checksum::sum(0, payload)) {
                    return Err(WireError::BadTcpChecksum);
                }
                return Err(e);
            }
        };
        let repr = TcpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            seq: p.seq_number(),
            ack: p.ack_number(),
            flags: p.flags(),
            window: p.window_len(),
            urgent: p.urgent_at(),
            options,
            payload,
        };
        Ok((repr, head_sum))
    }

    /// Whether a segment whose header (with the pseudo-header) sums to
    /// `head_sum` and whose payload sums to `payload_sum` carries a correct
    /// checksum (RFC 1071 1: the whole sums to all ones). The header is a
    /// multiple of 4 octets, so the payload's sum adds as it is.
    pub fn checksum_ok(head_sum: u32, payload_sum: u32) -> bool {
        checksum::fold(u32::from(checksum::fold(head_sum)) + u32::from(checksum::fold(payload_sum)))
            == 0xffff
    }

    /// Header length including options.
    pub fn header_len(&self) -> usize {
        20 + self.options.wire_len()
    }

    /// Header plus payload length.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Write the segment into `buf[..self.buffer_len()]`, computing the checksum
    /// with `ip`'s pseudo-header.
    ///
    /// # Panics
    /// If `buf` is shorter than [`TcpRepr::buffer_len`].
    pub fn emit(&self, buf: &mut [u8], ip: &IpRepr) {
        let hlen = self.header_len();
        let total = hlen + self.payload.len();
        let buf = &mut buf[..total];
        let (head, data) = buf.split_at_mut(hlen);
        data.copy_from_slice(self.payload);
        self.emit_header(head);
        // RFC 9293 3.1: the checksum covers pseudo-header, header and data.
        let mut p = TcpPacket::new_unchecked(buf);
        p.fill_checksum(ip.src(), ip.dst());
    }

    /// Write the header and options into `head[..self.header_len()]` with a
    /// zero checksum field; `self.payload` is not written (nor read).
    ///
    /// # Panics
    /// If `head` is shorter than [`TcpRepr::header_len`].
    pub fn emit_header(&self, head: &mut [u8]) {
        let hlen = self.header_len();
        let head = &mut head[..hlen];
        let (fixed, opts) = head.split_at_mut(TCP_HEADER_LEN);
        self.options.emit(opts);
        let mut p = TcpPacket::new_unchecked(fixed);
        p.set_src_port(self.src_port);
        p.set_dst_port(self.dst_port);
        p.set_seq_number(self.seq);
        p.set_ack_number(self.ack);
        p.set_header_len(hlen);
        p.set_flags(self.flags);
        p.set_window_len(self.window);
        p.set_checksum(0);
        p.set_urgent_at(self.urgent);
    }

    /// SEG.LEN of RFC 9293 3.4: payload octets plus one for SYN and one for FIN.
    pub fn seg_len(&self) -> u32 {
        self.payload.len() as u32 + self.flags.syn() as u32 + self.flags.fin() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timestamp_layout_reads_as_the_general_parser_reads_it() {
        let mut x = 0x9e37_79b9u32;
        for _ in 0..1000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let (tsval, tsecr) = (x, x.rotate_left(13) ^ 0x5a5a_5a5a);
            let mut b = vec![1, 1, 8, 10];
            b.extend_from_slice(&tsval.to_be_bytes());
            b.extend_from_slice(&tsecr.to_be_bytes());
            let o = TcpOptions::parse(&b);
            assert_eq!(o, TcpOptions::parse_each(&b));
            let ts = o.ok().and_then(|o| o.timestamps);
            assert_eq!(ts, Some(Timestamps { tsval, tsecr }));
            // Near misses take the general parser and agree with it too.
            for cut in [11, 13] {
                let mut c = b.clone();
                c.resize(cut, 0);
                assert_eq!(TcpOptions::parse(&c), TcpOptions::parse_each(&c));
            }
        }
    }

    #[test]
    fn unchecked_view_never_panics_on_short_buffers() {
        for len in 0..64 {
            let buf = vec![0xffu8; len];
            let p = TcpPacket::new_unchecked(&buf[..]);
            let _ = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number());
            let _ = (p.data_offset(), p.header_len(), p.flags(), p.window_len());
            let _ = (
                p.checksum(),
                p.urgent_at(),
                p.options(),
                p.payload(),
                p.check_len(),
            );
            let a = IpAddr::from([10, 0, 0, 1]);
            let _ = p.verify_checksum(a, a);
        }
    }

    #[test]
    fn checked_view() {
        let mut b = [0u8; 24];
        assert_eq!(
            TcpPacket::new_checked(&b[..19]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            TcpPacket::new_checked(&b[..]).err(),
            Some(WireError::BadDataOffset)
        );
        b[12] = 0x60;
        let p = TcpPacket::new_checked(&b[..]).expect("offset 6");
        assert_eq!((p.options().len(), p.payload().len()), (4, 0));
        b[12] = 0x70;
        assert_eq!(
            TcpPacket::new_checked(&b[..]).err(),
            Some(WireError::BadDataOffset)
        );
    }

    #[test]
    fn all_flag_bits_survive() {
        let a = IpAddr::from([10, 0, 0, 1]);
        let ip = IpRepr::new(a, IpAddr::from([10, 0, 0, 2])).expect("v4 pair");
        for f in 0..=255u8 {
            let r = TcpRepr {
                src_port: 1,
                dst_port: 2,
                seq: SeqNum(3),
                ack: SeqNum(4),
                flags: TcpFlags(f),
                window: 5,
                urgent: 6,
                options: TcpOptions::default(),
                payload: b"",
            };
            let mut buf = [0u8; 20];
            r.emit(&mut buf, &ip);
            assert_eq!(TcpRepr::parse(&buf, &ip, ChecksumMode::Verify), Ok(r));
        }
    }

    #[test]
    fn seg_len_counts_syn_and_fin() {
        let r = TcpRepr {
            src_port: 1,
            dst_port: 2,
            seq: SeqNum(0),
            ack: SeqNum(0),
            flags: TcpFlags::SYN | TcpFlags::FIN,
            window: 0,
            urgent: 0,
            options: TcpOptions::default(),
            payload: b"abc",
        };
        assert_eq!(r.seg_len(), 5);
    }
}
