//! Which packet on the link carries which `SegmentSent`.

use super::parse_packet;
use std::collections::HashMap;
use synack_proto::EventKind;
use synack_sim::{HostId, TraceEntry, TraceKind};

/// Pair each link entry with the `SegmentSent` of the same host at the same
/// instant, in order (preferring one with the packet's seq and flags).
/// Returns, per entry index, the link entry index for each matched send.
pub(crate) fn pair_links(entries: &[TraceEntry]) -> (HashMap<usize, usize>, Vec<bool>) {
    let mut sends: HashMap<(HostId, u64), Vec<usize>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if let TraceKind::Stack(ev) = &e.kind {
            if let EventKind::SegmentSent { .. } = ev.kind {
                sends.entry((e.host, e.at.micros())).or_default().push(i);
            }
        }
    }
    let mut send_to_link = HashMap::new();
    let mut link_matched = vec![false; entries.len()];
    for (i, e) in entries.iter().enumerate() {
        let TraceKind::Link(link) = &e.kind else {
            continue;
        };
        let Some(cands) = sends.get_mut(&(link.from, e.at.micros())) else {
            continue;
        };
        // Only TCP segments pair with SegmentSent events (a router's ICMP error
        // is the link's own packet; the stack reports it on arrival).
        if synack_sim::peek::peek(&link.packet).is_some_and(|p| p.protocol != 6) {
            continue;
        }
        let raw = parse_packet(&link.packet);
        let same = |j: &usize| -> bool {
            match (&entries.get(*j).map(|x| &x.kind), raw) {
                (Some(TraceKind::Stack(ev)), Some(r)) => match &ev.kind {
                    EventKind::SegmentSent { seg, .. } => seg.seq == r.seq && seg.flags == r.flags,
                    _ => false,
                },
                _ => false,
            }
        };
        let pos = cands
            .iter()
            .position(same)
            .or((!cands.is_empty()).then_some(0));
        if let Some(pos) = pos {
            let j = cands.remove(pos);
            send_to_link.insert(j, i);
            if let Some(m) = link_matched.get_mut(i) {
                *m = true;
            }
        }
    }
    (send_to_link, link_matched)
}
