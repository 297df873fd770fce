//! Packets and events out: control segments no connection owns (RSTs,
//! cookie SYN,ACKs), the connections' segments, and the event stream.

use super::{summary, IpOpts, Stack};
use crate::conn::OutSegment;
use crate::event::{ConnId, Event, EventKind, FourTuple, SendReason};
use crate::time::Instant;
use synack_wire::{Ecn, IpRepr, SeqNum, TcpFlags, TcpOptions, TcpRepr};

/// A control segment owned by no connection (RST replies, cookie SYN,ACKs).
#[derive(Debug, Clone, Copy)]
pub(super) struct CtlSeg {
    pub(super) tuple: FourTuple,
    pub(super) ip: IpOpts,
    pub(super) seq: SeqNum,
    pub(super) ack: SeqNum,
    pub(super) flags: TcpFlags,
    pub(super) window: u16,
    pub(super) options: TcpOptions,
    pub(super) reason: SendReason,
}

/// Most control segments queued before further ones are dropped (bounded memory under flood).
pub(super) const MAX_CTL_QUEUE: usize = 4096;

impl Stack {
    // ----- packets out, timers, events ----------------------------------------

    /// The IP options of segments no socket owns: the stack's connection defaults.
    pub(super) fn default_ip(&self) -> IpOpts {
        IpOpts::of(&self.conn_cfg)
    }

    pub(super) fn queue_rst(
        &mut self,
        tuple: FourTuple,
        seq: SeqNum,
        ack: Option<SeqNum>,
        ip: IpOpts,
    ) {
        let flags = if ack.is_some() {
            TcpFlags::RST | TcpFlags::ACK
        } else {
            TcpFlags::RST
        };
        self.push_ctl(CtlSeg {
            tuple,
            ip,
            seq,
            ack: ack.unwrap_or(SeqNum(0)),
            flags,
            window: 0,
            options: TcpOptions::default(),
            reason: SendReason::Reset,
        });
    }

    pub(super) fn push_ctl(&mut self, c: CtlSeg) {
        if self.ctl.len() < MAX_CTL_QUEUE {
            self.ctl.push_back(c);
        }
    }

    /// Write the next outgoing IP packet into `buf`. Returns `false` when
    /// nothing is waiting.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut Vec<u8>) -> bool {
        if let Some(c) = self.ctl.pop_front() {
            if c.flags.rst() {
                self.stats.resets_sent += 1;
            }
            self.emit(
                now,
                None,
                c.tuple,
                c.seq,
                c.ack,
                c.flags,
                c.window,
                c.options,
                c.reason,
                Ecn::NotEct,
                c.ip,
                buf,
                0,
                |_| 0,
            );
            return true;
        }
        while let Some(id) = self.dirty.pop_front() {
            let Some(slot) = self.slots.get_mut(id.index as usize) else {
                continue;
            };
            if slot.generation != id.generation {
                continue;
            }
            slot.set_dirty(false);
            if slot.tcb.is_some() && self.fo_deferred(id) {
                // TCP_FASTOPEN_CONNECT: the SYN waits for the first send.
                continue;
            }
            let Some(mut tcb) = self.slots[id.index as usize].tcb.take() else {
                continue;
            };
            let mut payload = 0..0;
            let before = tcb.state;
            let mut out: Option<OutSegment> = tcb.poll_segment(now, &mut payload);
            if let Some(o) = out.as_mut().filter(|o| o.flags.syn()) {
                self.fo_dress(id, &mut tcb, o, &mut payload);
            }
            let tuple = tcb.tuple();
            let after = tcb.state;
            let lowat = tcb.cfg.notsent_lowat.is_some();
            if let Some(o) = out {
                // The payload goes from the send buffer straight into the packet.
                let t = &*tcb;
                self.emit(
                    now,
                    Some(id),
                    tuple,
                    o.seq,
                    o.ack,
                    o.flags,
                    o.window,
                    o.options,
                    o.reason,
                    if o.ect { Ecn::Ect0 } else { Ecn::NotEct },
                    IpOpts::of(&t.cfg),
                    buf,
                    payload.len(),
                    |b| t.copy_payload(payload, b),
                );
            }
            self.slots[id.index as usize].tcb = Some(tcb);
            // Only a connection that produced a segment may have more to say now; one that
            // produced nothing waits for its next input (ACK, window, timer, user call).
            self.after_output(id, (before, after), out.is_some(), lowat);
            if out.is_some() {
                return true;
            }
        }
        false
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit(
        &mut self,
        now: Instant,
        conn: Option<ConnId>,
        tuple: FourTuple,
        seq: SeqNum,
        ack: SeqNum,
        flags: TcpFlags,
        window: u16,
        options: TcpOptions,
        reason: SendReason,
        ecn: Ecn,
        ip_opts: IpOpts,
        buf: &mut Vec<u8>,
        payload_len: usize,
        fill: impl FnOnce(&mut [u8]) -> u32,
    ) {
        let repr = TcpRepr {
            src_port: tuple.local.port(),
            dst_port: tuple.remote.port(),
            seq,
            ack,
            flags,
            window,
            urgent: 0,
            options,
            payload: &[],
        };
        let Some(ip) = IpRepr::new(tuple.local.ip(), tuple.remote.ip()) else {
            buf.clear();
            return;
        };
        // RFC 791 3.1 TTL, RFC 2474 3 DSCP: the socket's; RFC 3168 5: ECN, the TCP's.
        let ip = ip
            .with_ecn(ecn)
            .with_ttl(ip_opts.ttl)
            .with_dscp(ip_opts.dscp);
        synack_wire::emit_packet_summed(&ip, &repr, payload_len, buf, fill);
        self.stats.packets_out += 1;
        let mut seg = summary(tuple.local, tuple.remote, &repr);
        seg.len = payload_len as u32;
        self.sink
            .push(now, EventKind::SegmentSent { conn, seg, reason });
    }

    /// The earliest deadline at which `handle_timeout` must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|(t, _)| t)
    }

    /// The next event of the stream.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.sink.pop()
    }
}
