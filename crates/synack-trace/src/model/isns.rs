//! Each direction's initial sequence number, so the views can show numbers
//! relative to it.

use super::parse_packet;
use std::collections::HashMap;
use std::net::SocketAddr;
use synack_proto::wire::TcpFlags;
use synack_proto::{EventKind, SegmentSummary, SeqNum};
use synack_sim::{TraceEntry, TraceKind};

/// Each direction's initial sequence number, learned from its first SYN.
#[derive(Debug, Default, Clone)]
pub(crate) struct Isns {
    map: HashMap<(SocketAddr, SocketAddr), SeqNum>,
}

impl Isns {
    /// Learn from every SYN in the trace (first one per direction wins).
    pub(crate) fn learn(entries: &[TraceEntry]) -> Isns {
        let mut isns = Isns::default();
        for e in entries {
            match &e.kind {
                TraceKind::Stack(ev) => match &ev.kind {
                    EventKind::SegmentSent { seg, .. } | EventKind::SegmentReceived { seg, .. } => {
                        isns.note(seg.src, seg.dst, seg.flags, seg.seq)
                    }
                    _ => {}
                },
                TraceKind::Link(link) => {
                    if let Some(p) = parse_packet(&link.packet) {
                        isns.note(p.src, p.dst, p.flags, p.seq);
                    }
                }
            }
        }
        isns
    }

    fn note(&mut self, src: SocketAddr, dst: SocketAddr, flags: TcpFlags, seq: SeqNum) {
        if flags.syn() {
            self.map.entry((src, dst)).or_insert(seq);
        }
    }

    /// The ISN of the direction `src -> dst`, if its SYN was seen.
    pub(crate) fn get(&self, src: SocketAddr, dst: SocketAddr) -> Option<SeqNum> {
        self.map.get(&(src, dst)).copied()
    }

    /// The numbers to show for a segment: `(seq, ack)`.
    pub(crate) fn display(&self, seg: &SegmentSummary, absolute: bool) -> (u32, u32) {
        if absolute {
            return (seg.seq.get(), seg.ack.get());
        }
        let seq = match self.get(seg.src, seg.dst) {
            Some(isn) => seg.seq.since(isn),
            None => seg.seq.get(),
        };
        let ack = match self.get(seg.dst, seg.src) {
            Some(isn) => seg.ack.since(isn),
            None => seg.ack.get(),
        };
        (seq, ack)
    }
}
