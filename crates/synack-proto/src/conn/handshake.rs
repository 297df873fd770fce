//! Opening a connection: OPEN (RFC 9293 3.10.1), a SYN at a listener
//! (3.10.7.2), a valid SYN cookie (RFC 4987 3.6), the options SYNs
//! negotiate (RFC 7323, RFC 2018, RFC 6691) and SEGMENT ARRIVES in SYN-SENT
//! (3.10.7.3).

use super::{Disposition, Origin, SegCtx, Tcb, MIN_SND_MSS};
use crate::cc::CongestionControl;
use crate::config::ConnConfig;
use crate::ecn::EcnState;
use crate::error::ConnError;
use crate::event::{Cause, ConnId, DropReason, FourTuple, ListenerId};
use crate::state::State;
use crate::time::Instant;
use std::sync::Arc;
use synack_wire::{SeqNum, TcpFlags, TcpOptions, TcpRepr};

/// What the SYNs negotiated (RFC 9293 3.7.1, RFC 7323, RFC 2018, RFC 3168
/// 6.1.1), and the MSS the path allows.
#[derive(Debug)]
pub(crate) struct Negotiated {
    /// Effective send MSS (payload bytes per segment).
    pub(crate) snd_mss: u16,
    /// MSS we advertised.
    pub(crate) our_mss: u16,
    /// The largest payload the path carries, from the link MTU and ICMP
    /// Packet Too Big messages (RFC 1191, RFC 8201); caps `snd_mss`.
    pub(super) path_mss: u16,
    /// Both sides sent the window scale option (RFC 7323 2.2).
    pub(crate) ws: bool,
    /// Both sides sent timestamps (RFC 7323 3.2).
    pub(crate) ts: bool,
    /// Both sides sent SACK-permitted (RFC 2018 2).
    pub(crate) sack: bool,
    /// ECN negotiation and signals (RFC 3168 6.1).
    pub(crate) ecn: EcnState,
}

pub(super) fn rcv_wscale_for(buffer: usize) -> u8 {
    // RFC 7323 2.3: the smallest shift that lets the 16-bit field cover the buffer, at most 14.
    let mut shift = 0u8;
    while shift < 14 && (buffer >> shift) > 0xffff {
        shift += 1;
    }
    shift
}

impl Tcb {
    /// OPEN, active (RFC 9293 3.10.1): CLOSED -> SYN_SENT; the SYN goes out on the next poll.
    pub(crate) fn new_active(
        id: ConnId,
        tuple: FourTuple,
        cfg: Arc<ConnConfig>,
        iss: SeqNum,
        our_mss: u16,
        ctx: &mut SegCtx<'_>,
    ) -> Tcb {
        let mut t = Tcb::blank(id, tuple, cfg, iss, our_mss, ctx.now, Origin::Active);
        t.set_state(State::SynSent, Cause::Connect, ctx);
        t.arm_establish(ctx.now);
        t
    }

    /// A listener's TCB before its first transition: LISTEN, with the
    /// peer's ISN `irs` recorded and RCV.NXT = IRS + 1 (the SYN's sequence
    /// number), as both a SYN entry and a cookie connection start.
    #[allow(clippy::too_many_arguments)]
    fn passive(
        id: ConnId,
        tuple: FourTuple,
        cfg: Arc<ConnConfig>,
        iss: SeqNum,
        our_mss: u16,
        listener: ListenerId,
        irs: SeqNum,
        now: Instant,
    ) -> Tcb {
        let mut t = Tcb::blank(id, tuple, cfg, iss, our_mss, now, Origin::Passive(listener));
        t.state = State::Listen;
        t.rcv.irs = irs;
        t.rcv.nxt = irs + 1;
        t
    }

    /// A SYN arrived at a listener (RFC 9293 3.10.7.2): LISTEN -> SYN_RCVD for a new entry.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new_passive(
        id: ConnId,
        tuple: FourTuple,
        cfg: Arc<ConnConfig>,
        iss: SeqNum,
        our_mss: u16,
        listener: ListenerId,
        syn: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
    ) -> Tcb {
        let mut t = Tcb::passive(id, tuple, cfg, iss, our_mss, listener, syn.seq, ctx.now);
        t.rcv.adv = t.rcv.nxt;
        t.apply_syn_options(&syn.options);
        // RFC 3168 6.1.1: whether the SYN is ECN-setup decides the SYN,ACK.
        t.opts.ecn.syn_received(syn.flags);
        // RFC 9293 3.10.7.2: SND.WND from the SYN (never scaled on a SYN, RFC 7323 2.2).
        t.snd.wnd = u32::from(syn.window);
        t.snd.max_wnd = t.snd.wnd;
        t.snd.wl1 = syn.seq;
        t.snd.wl2 = iss;
        t.set_state(State::SynReceived, Cause::RecvSyn, ctx);
        t.arm_establish(ctx.now);
        t
    }

    /// A connection recreated from a valid SYN cookie (RFC 4987 3.6): straight to ESTABLISHED.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_cookie(
        id: ConnId,
        tuple: FourTuple,
        cfg: Arc<ConnConfig>,
        iss: SeqNum,
        irs: SeqNum,
        peer_mss: u16,
        our_mss: u16,
        listener: ListenerId,
        ack: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
    ) -> Tcb {
        let mut t = Tcb::passive(id, tuple, cfg, iss, our_mss, listener, irs, ctx.now);
        // The cookie cannot carry window scaling, SACK or timestamps (see cookie.rs):
        // the connection runs without them.
        t.rcv.wscale = 0;
        // The cookie SYN,ACK advertised min(buffer, 65535) unscaled (see Stack::listener_segment).
        t.rcv.adv = t.rcv.nxt + t.cfg.recv_buffer.min(0xffff) as u32;
        t.snd.una = iss + 1;
        t.snd.nxt = iss + 1;
        t.snd.max = iss + 1;
        t.opts.snd_mss = peer_mss.max(MIN_SND_MSS).min(our_mss);
        t.snd.wnd = u32::from(ack.window);
        t.snd.max_wnd = t.snd.wnd;
        t.snd.wl1 = ack.seq;
        t.snd.wl2 = ack.ack;
        t.init_cwnd();
        t.set_state(State::Established, Cause::SynCookie, ctx);
        t.arm_keepalive(ctx.now);
        t
    }

    pub(super) fn apply_syn_options(&mut self, o: &TcpOptions) {
        // RFC 9293 3.7.1 / RFC 6691: without the option assume 536 (IPv4) or 1220 (IPv6).
        let default_mss = if self.tuple().remote.is_ipv4() {
            536
        } else {
            1220
        };
        // The floor applies to what the peer claims, never beyond what our link carries.
        let peer_mss = o.mss.unwrap_or(default_mss).max(MIN_SND_MSS);
        self.opts.snd_mss = peer_mss.min(self.opts.our_mss).min(self.opts.path_mss);
        // RFC 7323 2.2: scaling only if both sides sent the option; shift at most 14 (2.3).
        // A SYN,ACK carrying an option answers one of our SYNs that offered it, even
        // after `syn_rexmit_drop_options` struck it from later ones (the peer may only
        // send these options in reply to ours: RFC 7323 2.2, 3.2; RFC 2018 2), so
        // both sides did send it and the connection uses it. FreeBSD ignores them
        // then, and disagrees with the peer about window scaling.
        match (o.window_scale, self.cfg.window_scaling) {
            (Some(ws), true) => {
                self.snd.wscale = ws.min(14);
                self.opts.ws = true;
            }
            _ => {
                self.snd.wscale = 0;
                self.rcv.wscale = 0;
            }
        }
        // RFC 7323 3.2: timestamps only if both sides sent them; the SYN's TSval is
        // the first TS.Recent, and every later segment gives up 12 bytes to the option.
        self.ts.last_ack_sent = self.rcv.nxt;
        if let (Some(ts), true) = (o.timestamps, self.cfg.timestamps) {
            self.opts.ts = true;
            self.ts.recent = ts.tsval;
            // TS.Recent's stamp (RFC 7323 5.5) keeps the time the TCB was created:
            // nothing moves it before the SYN's options are applied.
            // RFC 6691: the option's 12 octets come out of the payload; the floor
            // again only as far as our own link carries it.
            let link = self.opts.our_mss.saturating_sub(12);
            self.opts.snd_mss = self
                .opts
                .snd_mss
                .saturating_sub(12)
                .max(MIN_SND_MSS.min(link));
        } else {
            self.opts.ts = false;
        }
        self.opts.sack = o.sack_permitted && self.cfg.sack;
        if self.origin == Origin::Active {
            self.round_recv_buffer();
        }
    }

    /// Window scaling is configured and was not dropped from our SYN.
    pub(super) fn offers_ws(&self) -> bool {
        self.cfg.window_scaling && !self.snd.syn_options_dropped
    }

    /// Timestamps are configured and were not dropped from our SYN.
    pub(super) fn offers_ts(&self) -> bool {
        self.cfg.timestamps && !self.snd.syn_options_dropped
    }

    /// SACK is configured and was not dropped from our SYN.
    pub(super) fn offers_sack(&self) -> bool {
        self.cfg.sack && !self.snd.syn_options_dropped
    }

    /// `round_recv_buffer_to_mss`: once the MSS is known and the connection has its
    /// own buffer (at once for an active open, on ESTABLISHED for a passive one, as
    /// FreeBSD sizes the socket the syncache creates).
    pub(super) fn round_recv_buffer(&mut self) {
        if self.cfg.round_recv_buffer_to_mss {
            let mss = usize::from(self.opts.snd_mss);
            if self.cfg.recv_buffer > mss {
                // Only the connections using this FreeBSD knob pay for their own copy.
                let rounded = self.cfg.recv_buffer.div_ceil(mss) * mss;
                Arc::make_mut(&mut self.cfg).recv_buffer = rounded;
            }
        }
    }

    /// The handshake completed: the controller sets the initial window (RFC
    /// 5681 3.1, RFC 6928).
    pub(super) fn init_cwnd(&mut self) {
        self.cc.on_established(
            u32::from(self.opts.snd_mss),
            self.cfg.initial_cwnd_segments,
            self.snd.syn_retransmitted,
        );
    }

    /// RFC 9293 3.10.7.3: SYN-SENT.
    pub(super) fn on_segment_syn_sent(
        &mut self,
        seg: &TcpRepr<'_>,
        ctx: &mut SegCtx<'_>,
    ) -> Disposition {
        let f = seg.flags;
        // First, check the ACK bit.
        if f.ack() {
            // If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset (unless the RST bit is set).
            if seg.ack.le(self.snd.iss) || seg.ack.gt(self.snd.max) {
                self.drop_seg(ctx, DropReason::BadAckSynSent);
                if f.rst() {
                    return Disposition::Done;
                }
                return Disposition::Reset {
                    seq: seg.ack,
                    ack: None,
                };
            }
            // Linux's `tcp_rcv_synsent_state_process` (PAWSActiveRejected):
            // an acceptable ACK whose TSecr echoes no TSval of ours, sent
            // since our first SYN, answers another SYN (a stale or forged
            // SYN,ACK): a RST, and the connection keeps waiting.
            if self.tsecr_not_ours(seg, ctx.now) {
                self.drop_seg(ctx, DropReason::ForeignEchoSynSent);
                if f.rst() {
                    return Disposition::Done;
                }
                return Disposition::Reset {
                    seq: seg.ack,
                    ack: None,
                };
            }
        }
        // Second, check the RST bit.
        if f.rst() {
            if f.ack() {
                // RFC 5961 3.2 / RFC 9293: the RST is acceptable if it acknowledges our SYN.
                self.fail(ConnError::Refused, Cause::RecvRst, ctx);
            } else {
                self.drop_seg(ctx, DropReason::BadAckSynSent);
            }
            return Disposition::Done;
        }
        // Fourth, check the SYN bit.
        if !f.syn() {
            // Fifth: neither SYN nor RST: drop.
            self.drop_seg(ctx, DropReason::SynSentNoSyn);
            return Disposition::Done;
        }
        self.rcv.irs = seg.seq;
        self.rcv.nxt = seg.seq + 1;
        self.apply_syn_options(&seg.options);
        if f.ack() {
            // RFC 3168 6.1.1: an ECN-setup SYN,ACK (ECE without CWR) completes the
            // negotiation our ECN-setup SYN began; any other SYN,ACK means no ECN.
            self.opts.ecn.syn_ack_received(f);
            // Our SYN is acknowledged: ESTABLISHED.
            self.ts_rtt_sample(seg, ctx.now);
            self.process_new_ack(seg, ctx);
            self.snd.wnd = u32::from(seg.window); // RFC 7323 2.2: not scaled on a SYN.
            self.snd.max_wnd = self.snd.wnd;
            self.snd.wl1 = seg.seq;
            self.snd.wl2 = seg.ack;
            self.rcv.adv = self.rcv.nxt + self.rcv_space().min(0xffff << self.rcv.wscale);
            self.init_cwnd();
            if self.snd.syn_retransmitted {
                self.rtt.reset_after_syn_retransmit(self.rto_bounds());
            }
            self.set_state(State::Established, Cause::RecvSynAck, ctx);
            self.arm_keepalive(ctx.now);
            self.acks.due.get_or_insert(super::Queued::Normal);
            // Data or a FIN on the SYN,ACK continue at the sixth step.
            if !seg.payload.is_empty() || f.fin() {
                let trimmed = TcpRepr {
                    seq: seg.seq + 1,
                    flags: TcpFlags(f.0 & !TcpFlags::SYN.0),
                    ..*seg
                };
                self.process_text_and_fin(&trimmed, ctx);
            }
        } else {
            // RFC 3168 6.1.1: in a simultaneous open the peer's SYN is answered as a
            // listener would; our SYN,ACK says whether we agree.
            self.opts.ecn.syn_received(f);
            // Simultaneous open: SYN_RCVD, send SYN,ACK with the original ISS (RFC 9293 3.10.7.3).
            self.snd.wnd = u32::from(seg.window);
            self.snd.max_wnd = self.snd.wnd;
            self.snd.wl1 = seg.seq;
            self.snd.wl2 = self.snd.iss;
            self.rcv.adv = self.rcv.nxt + self.rcv_space().min(0xffff);
            self.snd.nxt = self.snd.iss; // the SYN,ACK re-sends our SYN's sequence number
            self.set_state(State::SynReceived, Cause::RecvSynSimultaneous, ctx);
            // "If there are other controls or text in the segment, queue them for
            // processing after the ESTABLISHED state has been reached."
            if !seg.payload.is_empty() || f.fin() {
                let _ = self.insert_ooo(seg.seq + 1, seg.payload, f.fin());
            }
        }
        Disposition::Done
    }
}
