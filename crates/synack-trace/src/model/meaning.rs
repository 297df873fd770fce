//! What each segment means in its connection (a SYN, the handshake's ACK,
//! data, the ACK of a FIN...), for its explanation.

use super::{Isns, Meaning};
use std::collections::HashMap;
use std::net::SocketAddr;
use synack_proto::{SegmentSummary, SeqNum};

/// Per-direction memory used to give each segment its meaning.
#[derive(Default)]
pub(super) struct Flow {
    fin_num: Option<SeqNum>,
    last_ack: Option<SeqNum>,
    handshake_acked: bool,
}

pub(super) fn meaning(
    flows: &mut HashMap<(SocketAddr, SocketAddr), Flow>,
    isns: &Isns,
    s: &SegmentSummary,
) -> Meaning {
    let peer_isn = isns.get(s.dst, s.src);
    let peer_fin = flows.get(&(s.dst, s.src)).and_then(|f| f.fin_num);
    let flow = flows.entry((s.src, s.dst)).or_default();
    let prev_ack = flow.last_ack;
    if s.flags.ack() {
        flow.last_ack = Some(s.ack);
    }
    if s.flags.fin() {
        flow.fin_num = Some(s.seq + s.len);
    }
    if s.flags.rst() {
        return Meaning::Rst;
    }
    if s.flags.syn() {
        if s.flags.ack() {
            return Meaning::SynAck {
                acks_isn: peer_isn.is_some_and(|i| i + 1 == s.ack),
            };
        }
        return Meaning::Syn;
    }
    if s.flags.fin() {
        return Meaning::Fin { len: s.len };
    }
    if s.len > 0 {
        return Meaning::Data { len: s.len };
    }
    if s.flags.ack() {
        if peer_fin.is_some_and(|f| f + 1 == s.ack) {
            return Meaning::AckOfFin;
        }
        if !flow.handshake_acked && peer_isn.is_some_and(|i| i + 1 == s.ack) {
            flow.handshake_acked = true;
            return Meaning::HandshakeAck;
        }
        let newly = match prev_ack {
            Some(p) if s.ack.gt(p) => s.ack.since(p),
            _ => 0,
        };
        return Meaning::Ack { newly };
    }
    Meaning::Ack { newly: 0 }
}
