//! Packets and timers in: demultiplexing an arriving segment to its
//! connection or listener, ICMP errors, segments for no connection
//! (RFC 9293 3.10.7.1), and expired deadlines.

use super::{summary, IpOpts, Stack};
use crate::conn::{Disposition, Owner};
use crate::event::{Cause, ConnId, DropReason, EventKind, FourTuple, SegmentSummary};
use crate::icmp::{self, IcmpAction, IcmpEffect};
use crate::state::State;
use crate::time::{Duration, Instant};
use std::net::SocketAddr;
use synack_wire::{checksum, ChecksumMode, Ecn, IpRepr, TcpRepr, WireError};

impl Stack {
    // ----- packets in ---------------------------------------------------------

    pub(super) fn drop_pkt(
        &mut self,
        now: Instant,
        conn: Option<ConnId>,
        seg: Option<SegmentSummary>,
        reason: DropReason,
    ) {
        self.sink.count_drop(reason);
        self.sink
            .push(now, EventKind::Dropped { conn, seg, reason });
    }

    /// An IP packet arrived.
    pub fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.handle_packet_mode(now, packet, ChecksumMode::Verify);
    }

    /// An IP packet arrived, its checksums checked as `mode` says.
    pub(crate) fn handle_packet_mode(&mut self, now: Instant, packet: &[u8], mode: ChecksumMode) {
        self.last_now = self.last_now.max(now);
        self.stats.packets_in += 1;
        self.refill_challenge(now);
        // The device may have checked the checksums already (offload).
        let trusted = mode == ChecksumMode::Ignore;
        let (ip, seg, head_sum) = match synack_wire::parse_packet_deferred_with(packet, mode) {
            Ok(x) => x,
            Err(WireError::NotTcp) => {
                self.handle_icmp(now, packet);
                return;
            }
            Err(e) => {
                self.drop_pkt(now, None, None, DropReason::Malformed(e));
                return;
            }
        };
        let remote = SocketAddr::new(ip.src(), seg.src_port);
        let local = SocketAddr::new(ip.dst(), seg.dst_port);
        let tuple = FourTuple { local, remote };
        // One demux lookup: a connection an any-destination listener accepted
        // has a local address that is not one of the stack's.
        let conn = self.demux_get(&tuple);
        let ours = conn.is_some()
            || self.addrs.contains(&local.ip())
            || (!self.any_listeners.is_empty() && self.find_any_listener(&local).is_some());
        if let Some(id) = conn.filter(|_| self.cfg.fast_path) {
            if self.fast_path(now, id, &ip, &seg, (head_sum, trusted), tuple) {
                return;
            }
        }
        // RFC 9293 3.1 / RFC 1071: the checksum, before anything else looks at the segment.
        if !trusted && !TcpRepr::checksum_ok(head_sum, checksum::sum(0, seg.payload)) {
            let e = WireError::BadTcpChecksum;
            self.drop_pkt(now, None, None, DropReason::Malformed(e));
            return;
        }
        let sum = summary(remote, local, &seg);
        if !ours {
            self.drop_pkt(now, None, Some(sum), DropReason::NotOurAddress);
            return;
        }
        if let Some(id) = conn {
            self.sink.push(
                now,
                EventKind::SegmentReceived {
                    conn: Some(id),
                    seg: sum,
                },
            );
            // RFC 6191 / RFC 1122 4.2.2.13: a new SYN may reopen a TIME_WAIT connection
            // when its sequence number is above the old RCV.NXT and a listener exists.
            let reuse = self.tcb_any(id).is_some_and(|t| {
                t.state == State::TimeWait
                    && seg.flags.syn()
                    && !seg.flags.ack()
                    && !seg.flags.rst()
                    && seg.seq.gt(t.rcv.nxt)
            }) && self.find_listener(&local).is_some();
            if reuse {
                self.with_tcb(id, now, |t, ctx| {
                    let _ = ctx;
                    t.owner = Owner::Orphan;
                });
                self.force_close(id, now, Cause::TimeWaitReuse);
            } else {
                // RFC 3168 6.1.3: the TCB decides whether a CE mark counts.
                let ce = ip.ecn() == Ecn::Ce;
                // RFC 7413: a Fast Open connection's handshake has its own steps.
                let mut fo = self.fo_take(id);
                let was = self.tcb_any(id).map_or(State::Closed, |t| t.state);
                let disp = self.with_tcb(id, now, |t, ctx| {
                    let d = t.on_packet(&seg, ce, ctx);
                    if let Some(f) = fo.as_mut() {
                        t.fo_after_syn_sent(f, was);
                    }
                    (d, IpOpts::of(&t.cfg))
                });
                if let Some(f) = fo {
                    self.fo_put(id, f, &seg, was);
                }
                let (disp, ip) = disp.unwrap_or((Disposition::Done, self.default_ip()));
                self.dispose(id, &tuple, disp, ip);
                return;
            }
        } else {
            self.sink.push(
                now,
                EventKind::SegmentReceived {
                    conn: None,
                    seg: sum,
                },
            );
        }
        match self.find_listener(&local) {
            Some(l) => self.listener_segment(now, l, tuple, &seg, sum),
            None => {
                // RFC 9293 3.10.7.1: CLOSED.
                match crate::conn::closed_reply(&seg) {
                    Disposition::Reset { seq, ack } => {
                        self.drop_pkt(now, None, Some(sum), DropReason::NoConnection);
                        // A bound socket answers with its own TTL and DSCP.
                        let ip = match self.find_bound(&local) {
                            Some(b) => IpOpts::of(&b.cfg),
                            None => self.default_ip(),
                        };
                        self.queue_rst(tuple, seq, ack, ip);
                    }
                    _ => self.drop_pkt(now, None, Some(sum), DropReason::RstNoConnection),
                }
            }
        }
    }

    /// Header prediction ([`StackConfig::fast_path`](crate::StackConfig)):
    /// a segment for connection `id` that `Tcb::predicts` has its payload
    /// staged in the receive buffer while the checksum is summed, then is
    /// dropped as corrupt or processed by `Tcb::on_packet_fast`. Returns
    /// `false`, having changed nothing, for every other segment.
    fn fast_path(
        &mut self,
        now: Instant,
        id: ConnId,
        ip: &IpRepr,
        seg: &TcpRepr<'_>,
        (head_sum, trusted): (u32, bool),
        tuple: FourTuple,
    ) -> bool {
        let Some(tcb) = self.tcb_any_mut(id) else {
            return false;
        };
        if !tcb.predicts(seg, now) {
            return false;
        }
        let Some(tcb) = self.tcb_any_mut(id) else {
            return false;
        };
        let Some(payload_sum) = tcb.stage_payload(seg) else {
            return false;
        };
        if !trusted && !TcpRepr::checksum_ok(head_sum, payload_sum) {
            // The staged bytes stay outside the buffer: nothing was taken in.
            let e = WireError::BadTcpChecksum;
            self.drop_pkt(now, None, None, DropReason::Malformed(e));
            return true;
        }
        self.stats.predicted += 1;
        let seg_sum = summary(tuple.remote, tuple.local, seg);
        self.sink.push(
            now,
            EventKind::SegmentReceived {
                conn: Some(id),
                seg: seg_sum,
            },
        );
        // RFC 3168 6.1.3: the TCB decides whether a CE mark counts.
        let ce = ip.ecn() == Ecn::Ce;
        self.with_tcb(id, now, |t, ctx| t.on_packet_fast(seg, ce, ctx));
        true
    }

    /// A packet that is not TCP: an ICMP or ICMPv6 error about one of our
    /// segments (RFC 1122 4.2.3.9, RFC 4443 2.4), or something for no one.
    pub(super) fn handle_icmp(&mut self, now: Instant, packet: &[u8]) {
        let (ip, msg) = match synack_wire::parse_icmp_packet(packet, ChecksumMode::Verify) {
            Ok(x) => x,
            Err(WireError::NotIcmp) => {
                // Neither TCP nor ICMP (UDP, ...): counted as before, not TCP.
                self.drop_pkt(now, None, None, DropReason::Malformed(WireError::NotTcp));
                return;
            }
            Err(e) => {
                self.drop_pkt(now, None, None, DropReason::IcmpMalformed(e));
                return;
            }
        };
        self.stats.icmp_in += 1;
        if !self.addrs.contains(&ip.dst()) {
            self.drop_pkt(now, None, None, DropReason::NotOurAddress);
            return;
        }
        // The quoted segment went from us to the peer: its source is our end.
        let quote = msg.quoted_tcp();
        let tuple = quote.ok().map(|q| FourTuple {
            local: q.src,
            remote: q.dst,
        });
        let conn = tuple.and_then(|t| self.demux_get(&t));
        self.sink.push(
            now,
            EventKind::IcmpReceived {
                conn,
                from: ip.src(),
                message: msg.message,
                tuple,
                seq: quote.ok().map(|q| q.seq),
            },
        );
        let effect = match icmp::classify(&msg.message) {
            Ok(e) => e,
            Err(reason) => {
                self.drop_pkt(now, conn, None, reason);
                return;
            }
        };
        let q = match quote {
            Ok(q) => q,
            Err(e) => {
                self.drop_pkt(now, None, None, DropReason::IcmpMalformed(e));
                return;
            }
        };
        let (Some(id), Some(tuple)) = (conn, tuple) else {
            self.drop_pkt(now, None, None, DropReason::IcmpNoConnection);
            return;
        };
        let action = match effect {
            IcmpEffect::Fatal(e) => IcmpAction::Fatal(e),
            IcmpEffect::Soft(e) => IcmpAction::Soft(e),
            IcmpEffect::TooBig(reported) => IcmpAction::PathMtu(icmp::path_mtu(
                tuple.remote.is_ipv4(),
                reported,
                q.ip_len,
                self.cfg.min_path_mtu,
            )),
        };
        let disp = self.with_tcb(id, now, |t, ctx| {
            (t.on_icmp(action, q.seq, ctx), IpOpts::of(&t.cfg))
        });
        let (disp, ip) = disp.unwrap_or((Disposition::Done, self.default_ip()));
        self.dispose(id, &tuple, disp, ip);
    }

    /// What a connection's `on_packet` asked for; a RST it sends carries its
    /// IP options `ip`.
    pub(super) fn dispose(&mut self, id: ConnId, tuple: &FourTuple, d: Disposition, ip: IpOpts) {
        match d {
            Disposition::Done => {}
            Disposition::Reset { seq, ack } => self.queue_rst(*tuple, seq, ack, ip),
            Disposition::BackToListen => {
                // The half-open entry is forgotten; the listener stays in LISTEN.
                self.release(id);
            }
        }
    }

    pub(super) fn refill_challenge(&mut self, now: Instant) {
        // RFC 5961 7: at most `challenge_ack_limit` challenge ACKs per second.
        if now.saturating_since(self.challenge_refill) >= Duration::from_secs(1) {
            self.challenge_refill = now;
            self.challenge_tokens = self.cfg.challenge_ack_limit;
        }
    }

    /// Fire every timer due at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        self.refill_challenge(now);
        while let Some((t, index)) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.set(&mut self.slots, index, None);
            let slot = &self.slots[index as usize];
            let id = ConnId {
                index,
                generation: slot.generation,
            };
            let tuple = match slot.tcb.as_deref() {
                Some(tcb) => tcb.tuple(),
                None => continue,
            };
            let half_open_listener = slot.tcb.as_deref().and_then(|t| match (t.state, t.origin) {
                (State::SynReceived, crate::conn::Origin::Passive(l)) => Some(l),
                _ => None,
            });
            let d = self.with_tcb(id, now, |t, ctx| (t.on_timeout(ctx), IpOpts::of(&t.cfg)));
            self.fo_after_timeout(id, now);
            if let Some(l) = half_open_listener {
                if self
                    .tcb_any(id)
                    .is_some_and(|t| t.state == State::SynReceived && t.wants_output())
                {
                    if let Some(lst) = self.listener_mut(l) {
                        lst.status.synack_retransmits += 1;
                    }
                }
            }
            let (d, ip) = d.unwrap_or((Disposition::Done, self.default_ip()));
            self.dispose(id, &tuple, d, ip);
        }
    }
}
